"""Guess the next token: a classroom game, the learner (or a class, aloud) against the model, over ten rounds."""

import html

import streamlit as st

from explainer import guessing, plots
from explainer.i18n import _, labelled, set_language
from explainer.numbers import plain_number
from pages.shared import LANGUAGE_KEY, cached_model, chart, csv_download, literal, page_header

GUESSES = "guess_game_guesses"  # session state: this game's guesses, one per round played
PASSAGE = "guess_game_passage"  # session state (the passage picker): the passage played
PROBLEM = "guess_game_problem"  # session state: why the last guess was refused, shown once
GUESS_INPUT = "guess_game_input"  # the guess box
PASSAGE_STYLE = "font-size:1.6rem;line-height:1.5;white-space:pre-wrap"  # read from the back of a classroom
HIT, MISS = ":green[:material/check_circle:]", ":red[:material/cancel:]"  # icons, not emoji: every font has them


@st.cache_data(max_entries=256, show_spinner=False)
def cached_round(passage_key: str, number: int, guess: str) -> guessing.RoundResult:
    passage = guessing.BY_KEY[passage_key]
    return guessing.play(cached_model(passage.model), passage.rounds[number - 1], guess)


def _new_game() -> None:
    st.session_state[GUESSES] = []


def _submit_guess() -> None:
    """The Guess button's callback: keep a guess the game can score, or say why not."""
    set_language(st.session_state.get(LANGUAGE_KEY))  # a callback runs before app.py sets the language
    try:
        guess = guessing.check_guess(st.session_state.get(GUESS_INPUT), quote=literal)
    except ValueError as problem:
        st.session_state[PROBLEM] = str(problem)
    else:
        st.session_state[GUESSES] = [*st.session_state.get(GUESSES, []), guess]


def probability_text(p: float) -> str:
    """A probability for a sentence: 4.2% above one in a thousand, else 3.85 × 10⁻⁶."""
    return f"{p:.1%}" if p >= 1e-3 else plain_number(p)


page_header(_("Guess the next token"), _("Can you guess the next word better than a language model?"))
st.markdown(_("Each round, you and the model guess the next word: a point to whoever names the real word (both may "
              "score). Bits measure the model's surprise, −log₂ p: 0 bits means it was certain, each extra bit half as "
              "likely."))

passages = guessing.passages_in(st.session_state.get(LANGUAGE_KEY, "en"))
keys = [p.key for p in passages]
if st.session_state.get(PASSAGE) not in keys:  # a new session, or the language changed
    st.session_state[PASSAGE] = keys[0]
    _new_game()
passage = guessing.BY_KEY[st.session_state[PASSAGE]]
st.caption((_("Played by {model}. Every answer is one of its tokens: a whole word.") if passage.language == "en" else
            _("Played by {model}. Every answer is one of its tokens, a word as its tokenizer cuts the text (one to "
              "three characters).")).format(model=literal(passage.model)))

guesses = st.session_state.setdefault(GUESSES, [])
results = [cached_round(passage.key, number, guess) for number, guess in enumerate(guesses, start=1)]
score = guessing.score(results)

pick, round_box, yours, model_box, answer_bits, guess_bits = st.columns([2, 1, 1, 1, 1, 1])
pick.selectbox(_("Passage"), keys, key=PASSAGE, on_change=_new_game,
               format_func=labelled(keys, lambda key: _(guessing.BY_KEY[key].title)))
round_box.metric(_("Round"), f"{min(score.rounds + 1, guessing.ROUNDS)} / {guessing.ROUNDS}")
yours.metric(_("Your points"), score.your_points)
model_box.metric(_("Model's points"), score.model_points)
answer_bits.metric(_("Bits (real)"), "–" if not results else f"{score.answer_bits:.1f}",
                   help=_("The mean surprisal of the real words under the model, in bits (−log₂ p)."))
guess_bits.metric(_("Bits (yours)"), "–" if not results else f"{score.guess_bits:.1f}",
                  help=_("The mean surprisal of your guesses under the model, in bits (−log₂ p). Fewer bits than "
                         "the real words: you guessed the way the model expects."))

if results:
    last = results[-1]
    st.subheader(_("Round {n}: the word was “{answer}”").format(n=last.round.number, answer=last.round.answer))
    st.markdown(_("{mark} You guessed {guess}: the model gave it p = {p} ({bits:.1f} bits).").format(
        mark=HIT if last.your_point else MISS, guess=literal(last.guess), p=probability_text(last.yours.probability),
        bits=last.yours.surprisal))
    st.markdown(_("{mark} The model guessed {guess}, p = {p}. It gave the real word p = {answer_p} ({bits:.1f} bits)."
                  ).format(mark=HIT if last.model_point else MISS,
                           guess=literal(last.model_guess or last.top["token"].iloc[0]),
                           p=probability_text(float(last.top["probability"].iloc[0])),
                           answer_p=probability_text(last.answer.probability), bits=last.answer.surprisal))
    if len(last.yours.tokens) > 1:
        factors = " × ".join(f"{literal(token)} {probability_text(p)}"
                             for token, p in zip(last.yours.tokens, last.yours.token_probabilities))
        st.caption(_("Your guess is {n} tokens; its probability is the product of each token's probability after the "
                     "ones before it (the chain rule): {factors} = {p}.").format(
                         n=len(last.yours.tokens), factors=factors, p=probability_text(last.yours.probability)))

if score.rounds == guessing.ROUNDS:
    verdict = (_("You win, {you} to {model}!") if score.your_points > score.model_points else
               _("The model wins, {model} to {you}.") if score.model_points > score.your_points else
               _("A draw: {you} to {model}."))
    st.success(verdict.format(you=score.your_points, model=score.model_points), icon=":material/emoji_events:")
    st.button(_("Play again"), on_click=_new_game, type="primary", icon=":material/replay:")
else:
    current = passage.rounds[score.rounds]
    with st.container(border=True):  # the passage is the game's own text; the words already played in bold
        st.html(f"<div style='{PASSAGE_STYLE}'>"
                + "".join(f"<b>{html.escape(text)}</b>" if answer else html.escape(text)
                          for text, answer in passage.segments(current.number))
                + " <span style='color:#e4572e'>＿＿＿</span></div>")
    with st.form("guess_form", clear_on_submit=True, border=False):
        box, send, restart = st.columns([4, 1, 1], vertical_alignment="bottom")
        box.text_input(_("Round {n} of {rounds}: your guess for the next word").format(n=current.number,
                                                                                    rounds=guessing.ROUNDS),
                       key=GUESS_INPUT, placeholder=_("Type the next word and press Enter"))
        send.form_submit_button(_("Guess"), on_click=_submit_guess, type="primary", icon=":material/send:",
                                width="stretch")
        restart.form_submit_button(_("New game"), on_click=_new_game, icon=":material/restart_alt:", width="stretch")
    problem = st.session_state.pop(PROBLEM, None)
    if problem:
        st.warning(problem, icon=":material/edit:")

if results:
    st.subheader(_("What the model expected in round {n}").format(n=last.round.number))
    figure_box, numbers_box = st.columns([3, 2])
    with figure_box:
        guess_id = last.yours.token_ids[0] if len(last.yours.token_ids) == 1 else None
        chart(plots.guess_bars(last.top, last.answer.token_ids[0], guess_id), last.top, "guess_game_top_next",
              _("Round {n}: the model's top 10").format(n=last.round.number),
              source=plots.source_line(passage.model, "…" + last.round.context[-30:]))
    with numbers_box:
        st.caption(_("Red: the real word. Blue: your guess, when it is one of these tokens."))
        st.dataframe(
            last.top[["rank", "token", "probability", "surprisal"]],
            hide_index=True,
            column_config={
                "rank": st.column_config.NumberColumn(_("rank")),
                "token": _("token"),
                "probability": st.column_config.NumberColumn(_("probability"), format="%.4f"),
                "surprisal": st.column_config.NumberColumn(_("bits"), format="%.2f"),
            },
        )

if score.rounds == guessing.ROUNDS:
    st.subheader(_("All ten rounds"))
    table = guessing.rounds_table(results)
    st.dataframe(table, hide_index=True, column_config={
        "round": st.column_config.NumberColumn(_("round")),
        "answer": _("real word"),
        "your_guess": _("your guess"),
        "your_point": st.column_config.CheckboxColumn(_("your point")),
        "your_guess_probability": st.column_config.NumberColumn(_("p (your guess)"), format="%.2e"),
        "your_guess_bits": st.column_config.NumberColumn(_("bits (your guess)"), format="%.1f"),
        "model_guess": _("model's guess"),
        "model_point": st.column_config.CheckboxColumn(_("model's point")),
        "answer_probability": st.column_config.NumberColumn(_("p (real word)"), format="%.2e"),
        "answer_bits": st.column_config.NumberColumn(_("bits (real word)"), format="%.1f"),
    })
    csv_download(table, "guess_game_rounds")

with st.expander(_("How is the probability of a guess computed?")):
    st.markdown(_("The model reads the passage so far and gives every token of its vocabulary a probability. A guess "
                  "that is one token gets that probability. A longer guess is cut into tokens the same way, and its "
                  "probability is the product of each token's probability given the text and the tokens before it "
                  "(the chain rule). Surprisal is −log₂ p: p = 1/2 is 1 bit, p = 1/8 is 3 bits."))
