"""What every page shares: the sidebar (model, prompt, examples), the caches,
the error handling, and the chart + CSV export widget.

Pages call ``page_analysis()`` to get the current text's ``Analysis`` and
``chart()`` to show a figure with its numbers; they never load models or catch
errors themselves.
"""

from __future__ import annotations

import logging
import os

import pandas as pd
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from explainer import plots
from explainer.analysis import Analysis, analyze
from explainer.analysis_cache import AnalysisCache
from explainer.architectures import ModelKind
from explainer.i18n import LANGUAGES, N_, _, choose_language, labelled, lazy, set_language
from explainer.models import (
    DEFAULT_MODEL,
    EMBEDDED_BERT,
    EMBEDDED_ZH,
    LANGUAGE_MODELS,
    REGISTRY,
    LoadedModel,
    ModelUnavailable,
    available_models,
    load_model,
)
from explainer.plots import PLOTLY_CONFIG
from explainer.runtime import device, device_description, use_torch_threads
from explainer.tokenization import MAX_TEXT_CHARACTERS, window_bounds
from explainer.training.kept_models import KeptModels, data_dir, is_kept_name
from pages.live_training import session_owner, sidebar_heartbeat
from pages.untrusted import literal

EXAMPLE_PROMPTS = {  # the sidebar's examples in each language; the first is a new session's text
    "en": (
        "The cat is on the",
        "Once upon a time",
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a",
        "Emma Woodhouse, handsome, clever, and rich,",
        "She was the [MASK] of the family.",
        "大语言模型是如何工作的？",
    ),
    "zh": (
        "猫坐在垫子上，",
        "从前，",
        "大语言模型是如何工作的？",
        "让我们一步一步地思考。",
        "床前明月光，疑是地上霜。",
        "她是家里最[MASK]的孩子。",
    ),
}
OTHER_MODEL = "Other Hugging Face model…"  # the choice's value; shown as _(OTHER_MODEL_LABEL)
OTHER_MODEL_LABEL = N_("Other Hugging Face model…")
LANGUAGE_KEY = "lang"  # session-state key of the language switch, and the URL parameter
URL_TEXT_LIMIT = 1500  # characters of the prompt written into the shareable URL
MAX_LOADED_MODELS = int(os.environ.get("EXPLAINER_MAX_MODELS", "3"))
REGISTRY_ONLY_VARIABLE = "EXPLAINER_REGISTRY_ONLY"
LOOPBACK_ADDRESSES = ("localhost", "127.0.0.1", "::1")
# Analyses kept for reuse, in MB of arrays: one long GPT-2-small text weighs ~800 MB, an embedded-model text ~10 MB.
ANALYSIS_CACHE_MB = int(os.environ.get("EXPLAINER_ANALYSIS_CACHE_MB", "3072"))

log = logging.getLogger("explainer")


CHART_SOURCE = "chart_source"  # session-state key: the subtitle of this run's charts, set by ``page_analysis``
ENTERED_THROUGH_APP = "entered_through_app"  # session-state flag, set by app.py's sidebar() on every run


def require_app_entry() -> None:
    """Make a deep link such as ``/attention`` on a fresh server go through app.py.

    Because a ``pages/`` folder exists, Streamlit starts in its legacy
    multipage mode and runs a requested page alone, without app.py's sidebar,
    until app.py has run once in the process. A page that finds itself run
    that way switches the process to ``st.navigation`` mode and reruns, so
    app.py opens the requested page. Called by ``page_header`` on every page.
    """
    if not st.session_state.get(ENTERED_THROUGH_APP):
        PagesManager.uses_pages_directory = False
        st.rerun()


# ------------------------------------------------------------------ caches


def registry_only() -> bool:
    """Whether this server offers only its registry's models (no hub id typed by a learner).

    ``EXPLAINER_REGISTRY_ONLY=1`` or ``0`` decides; unset, a server bound to the network (any
    ``server.address`` but this computer's own) is a classroom server and offers only the registry.
    """
    setting = os.environ.get(REGISTRY_ONLY_VARIABLE, "").strip().lower()
    if setting:
        return setting in ("1", "true", "yes")
    return st.get_option("server.address") not in LOOPBACK_ADDRESSES


@st.cache_resource(max_entries=MAX_LOADED_MODELS, show_spinner=lazy(N_("Loading the model…")))
def _cached_registry_or_hub_model(name: str, kinds: tuple[ModelKind, ...]) -> LoadedModel:
    return load_model(name, registry_only=registry_only(), kinds=kinds)


@st.cache_resource
def kept_models() -> KeptModels:
    """The models trained live on this server and kept (see explainer/training/kept_models.py)."""
    return KeptModels(data_dir() / "kept-models")


def cached_model(name: str, kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS) -> LoadedModel:
    """The model called ``name``, loaded once per server process (read-only: never mutate it); ``kinds`` are the
    kinds of model the page explains (the translation page's are ``TRANSLATORS``)."""
    return kept_models().load(name) if is_kept_name(name) else _cached_registry_or_hub_model(name, kinds)


@st.cache_data(ttl=120, show_spinner=lazy(N_("Looking for the model…")))
def model_problem(name: str, language: str, kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS) -> str | None:
    """Return why ``name`` can't be loaded, in ``language`` (remembered for two minutes), or None when it can."""
    try:
        cached_model(name, kinds)
        return None
    except ModelUnavailable as error:
        return str(error)
    except Exception:  # noqa: BLE001 - any loading failure must become a message, not a traceback
        log.exception("loading %s failed", name)
        return _("{model} could not be loaded.").format(model=literal(name))


@st.cache_resource
def analysis_cache() -> AnalysisCache:
    """The server's one cache of analyses, bounded by ``EXPLAINER_ANALYSIS_CACHE_MB``."""
    return AnalysisCache(ANALYSIS_CACHE_MB * 2**20)


def cached_analysis(model_name: str, text: str) -> Analysis:
    """The analysis of ``text`` under ``model_name``, computed once per (model, text) while it stays cached.

    Every session gets the same read-only object: nothing is copied on a rerun.
    """
    return analysis_cache().get_or_compute((model_name, text), lambda: analyze(cached_model(model_name), text))


# ---------------------------------------------------------------- language


def warm_up() -> None:
    """Before the first visitor: set torch's threads, check ``EXPLAINER_DEVICE``, load each language's default
    model and analyse its first example text, so the first page of each language draws without waiting."""
    use_torch_threads()
    device()  # a device this machine lacks stops the server here, with the reason
    for language, model in (("en", DEFAULT_MODEL), ("zh", EMBEDDED_ZH)):
        cached_analysis(model, EXAMPLE_PROMPTS[language][0])


def start_language() -> str:
    """Set this run's language; app.py calls it first on every run, before any text is made.

    A new session takes it from the URL (``?lang=zh``), else from the browser
    (``st.context.locale``), else English; afterwards the sidebar's switch
    (session state ``lang``) decides. Fragments rerun without app.py, so
    their bodies call ``set_language(st.session_state.get("lang"))`` again.
    """
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = choose_language(st.query_params.get(LANGUAGE_KEY), st.context.locale)
    return set_language(st.session_state[LANGUAGE_KEY])


def example_prompts() -> tuple[str, ...]:
    return EXAMPLE_PROMPTS.get(st.session_state.get(LANGUAGE_KEY), EXAMPLE_PROMPTS["en"])


# ----------------------------------------------------------------- sidebar


def _set_prompt(text: str) -> None:
    st.session_state["prompt"] = text


def use_model(name: str) -> None:
    """Button callback: make ``name`` the sidebar's model."""
    set_language(st.session_state.get(LANGUAGE_KEY))  # a callback runs before app.py sets the language
    st.session_state["model_choice"] = name
    st.toast(_("Every page now explains {model}.").format(model=literal(name)), icon=":material/check:")


def _model_names() -> list[str]:
    """The sidebar's choices: the registry's models, then the models this session trained or opened by link."""
    own = kept_models().names_of(session_owner())
    opened = [name for name in st.session_state.get("opened_kept_models", []) if name not in own]
    return [spec.name for spec in available_models()] + own + opened


def _model_label(name: str) -> str:
    """A model choice as the picker shows it: its name and what it is, in the current language."""
    if name == OTHER_MODEL:
        return _(OTHER_MODEL_LABEL)
    if name in REGISTRY:
        return f"{name} — {_(REGISTRY[name].description)}"
    record = kept_models().record(name) if is_kept_name(name) else None
    return _("{title} — trained here").format(title=record.title) if record else name


def _initialise_from_url() -> None:
    """On a session's first run, take the model and text from the URL (a shared link)."""
    if "prompt" in st.session_state:
        return
    params = st.query_params
    st.session_state["prompt"] = params.get("text", example_prompts()[0])
    requested = params.get("model", default_model())
    if is_kept_name(requested) and kept_models().record(requested):  # a trained model shared by its link
        st.session_state["opened_kept_models"] = [requested]
    if requested in _model_names():
        st.session_state["model_choice"] = requested
    elif registry_only():
        st.session_state["model_choice"] = default_model()
        st.session_state["model_refused"] = requested
    else:
        st.session_state["model_choice"] = OTHER_MODEL
        st.session_state["custom_model"] = requested


PAGE_STYLE = """<style>
/* A projector shows 1280×720: start the page just under the header bar, not 6rem below it. */
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem; padding-bottom: 3rem; }
h1 { font-size: 2.4rem !important; }
/* A formula wider than its column scrolls instead of being cut off. */
.katex-display { overflow-x: auto; overflow-y: hidden; padding-bottom: 2px; }
/* On a narrow screen, columns wrap rather than squeeze words apart ("Embeddin gs") or cut buttons ("Ap…"). */
@media (max-width: 1100px) {
  [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
  [data-testid="stColumn"] { min-width: min(190px, 100%); }
}
[data-testid="stMarkdownContainer"] p, [data-testid="stCaptionContainer"] { overflow-wrap: normal; word-break: normal; }
</style>"""


def sidebar() -> None:
    """Draw the shared sidebar and keep the URL in step with it."""
    st.html(PAGE_STYLE)
    st.session_state[ENTERED_THROUGH_APP] = True
    st.session_state[CHART_SOURCE] = ""  # until this run's page analyses the text
    _initialise_from_url()
    choices = _model_names() + ([] if registry_only() else [OTHER_MODEL])
    if st.session_state.get("model_choice") not in choices:  # a trained model that was forgotten
        st.session_state["model_choice"] = default_model()
    with st.sidebar:
        st.segmented_control("Language · 语言", list(LANGUAGES), key=LANGUAGE_KEY, format_func=LANGUAGES.get,
                             required=True, width="stretch")
        st.text_area(_("Your text"), key="prompt", height=110,
                     help=_("Every page explains this text. It is kept in the URL."))
        with st.expander(_("Examples")):
            for index, example in enumerate(example_prompts()):
                st.button(example if len(example) < 40 else example[:38] + "…", key=f"example_{index}",
                          on_click=_set_prompt, args=(example,), width="stretch")
        st.selectbox(
            _("Model"),
            choices,
            key="model_choice",
            format_func=labelled(choices, _model_label),
            help=_("The embedded models work offline. Hub models need the internet the first time."),
        )
        refused = st.session_state.get("model_refused")
        if refused and st.session_state["model_choice"] == default_model():  # until the learner picks another
            st.warning(_("This classroom server offers only the models in its list, not {model}.").format(
                model=literal(refused)), icon=":material/block:")
        if st.session_state["model_choice"] == OTHER_MODEL:
            st.text_input(_("Hugging Face model id"), key="custom_model", placeholder="owner/model")
        try:
            st.caption(_("Computed on: {device}").format(device=device_description(device())))
        except ValueError as misconfigured:  # EXPLAINER_DEVICE names a device this server does not have
            st.error(str(misconfigured), icon=":material/memory:")
            st.stop()
    sidebar_heartbeat()
    st.query_params["text"] = st.session_state["prompt"][:URL_TEXT_LIMIT]
    st.query_params["model"] = requested_model_name()
    st.query_params[LANGUAGE_KEY] = st.session_state[LANGUAGE_KEY]


def default_model() -> str:
    """The model a new session starts with: the bilingual embedded GPT in Chinese, the Austen GPT in English."""
    return EMBEDDED_ZH if st.session_state.get(LANGUAGE_KEY) == "zh" else DEFAULT_MODEL


def requested_model_name() -> str:
    choice = st.session_state.get("model_choice", default_model())
    return (st.session_state.get("custom_model") or "").strip() if choice == OTHER_MODEL else choice


def active_model() -> LoadedModel:
    """The model the user asked for, or the embedded default (with a message) when it can't be had."""
    name = requested_model_name() or default_model()
    problem = model_problem(name, st.session_state.get(LANGUAGE_KEY, "en"))
    if problem:
        st.error(_("{problem} Showing **{model}** instead.").format(problem=problem, model=default_model()),
                 icon=":material/cloud_off:")
        name = default_model()
    return cached_model(name)


def page_analysis() -> Analysis:
    """The current text's analysis under the active model; stops the page with a hint when there is none."""
    model = active_model()
    try:
        with st.spinner(_("Running the model…")):
            analysis = cached_analysis(model.spec.name, st.session_state.get("prompt", ""))
    except ValueError as hint:
        st.info(str(hint), icon=":material/edit:")
        st.stop()
    except Exception:  # noqa: BLE001 - the user sees a message, the log gets the traceback
        log.exception("analysis failed")
        st.error(_("Sorry, the model could not process this text. Try a shorter or different text."))
        st.stop()
    st.session_state[CHART_SOURCE] = plots.source_line(model.spec.name, st.session_state.get("prompt", ""))
    if analysis.truncated:
        st.warning(truncation_notice(analysis, len(st.session_state.get("prompt", ""))), icon=":material/content_cut:")
    if reads_chinese_as_bytes(analysis):
        hint, switch = st.columns([5, 1], vertical_alignment="center")
        hint.info(_("{model} never saw Chinese while it learned: it reads each Chinese character as 3 byte tokens "
                    "it rarely met, so its guesses and losses here mean little. {zh} reads Chinese.").format(
                      model=literal(analysis.model_name), zh=literal(EMBEDDED_ZH)), icon=":material/translate:")
        switch.button(_("Use {model}").format(model=EMBEDDED_ZH), on_click=use_model, args=(EMBEDDED_ZH,),
                      key="use_chinese_model", width="stretch")
    return analysis


def reads_chinese_as_bytes(analysis: Analysis) -> bool:
    """Whether the text has Chinese and the model is an embedded one trained on English only."""
    has_chinese = any("\u4e00" <= character <= "\u9fff" for character in analysis.tokens.text)
    return has_chinese and analysis.model_name in (DEFAULT_MODEL, EMBEDDED_BERT)


def truncation_notice(analysis: Analysis, pasted_characters: int) -> str:
    """What was cut from a long text, and which text the token count is of."""
    model = literal(analysis.model_name)
    if pasted_characters > MAX_TEXT_CHARACTERS:
        return _("Your text is {characters:,} characters long; the app keeps its first {kept:,} characters, which "
                 "are {length:,} tokens. {model} reads at most {context:,}: only the first {shown:,} tokens are "
                 "shown.").format(characters=pasted_characters, kept=MAX_TEXT_CHARACTERS,
                                  length=analysis.original_token_count, model=model, context=analysis.context_length,
                                  shown=len(analysis.tokens))
    return _("Your text is {length:,} tokens long, but {model} reads at most {context:,}. Only the first {shown:,} "
             "tokens are shown.").format(length=analysis.original_token_count, model=model,
                                         context=analysis.context_length, shown=len(analysis.tokens))


# ---------------------------------------------------------------- widgets

WINDOW_WORDING = {  # a token window's slider label, its help and the notice under it, marked with ``N_``
    "tokens": (N_("First token shown"), N_("Long texts are shown {n} tokens at a time."),
               N_("Showing tokens {first}–{last} of {n}. Move the slider to see others.")),
    "positions": (N_("First position shown"), N_("Long texts are shown {n} positions at a time."),
                  N_("Showing positions {first}–{last} of {n}. Move the slider to see others.")),
}


def layer_picker(layers: int, place=st, key: str | None = None) -> int:
    """A choice of one of ``layers`` layers ("layer 0" …), in ``place`` (e.g. a column); returns its index."""
    options = range(layers)
    return place.selectbox(_("Layer"), options, key=key, format_func=labelled(options, lambda i: _("layer {i}").format(i=i)))


def head_picker(heads: int, place=st, key: str | None = None, with_mean: bool = False) -> int | None:
    """A choice of one of ``heads`` heads ("head 0" …), led by "mean of the heads" (None) ``with_mean``."""
    options = [None, *range(heads)] if with_mean else list(range(heads))
    return place.selectbox(_("Head"), options, key=key, format_func=labelled(
        options, lambda h: _("mean of the heads") if h is None else _("head {h}").format(h=h)))


def token_window(count: int, size: int, unit: str = "tokens", start_at_end: bool = False, place=st) -> tuple[int, int]:
    """The [begin, end) window of at most ``size`` of ``count`` tokens that a chart shows.

    Longer texts get a slider (in ``place``, e.g. a column) and a notice of which ``unit`` ("tokens" or
    "positions") are shown; the window starts at the first token, or at the last ones with ``start_at_end``.
    """
    if count <= size:
        return 0, count
    label, help_text, notice = WINDOW_WORDING[unit]
    start = place.slider(_(label), 0, count - size, count - size if start_at_end else 0, help=_(help_text).format(n=size))
    st.info(_(notice).format(first=start, last=start + size - 1, n=count))
    return window_bounds(count, start, size)



def chart(figure, data: pd.DataFrame, name: str, title: str = "", source: str | None = None) -> None:
    """Show a Plotly figure under ``title`` (the figure's own title, if it has one, wins) with the text and model it
    was computed for as its subtitle (``source``, by default the page's text: see ``page_analysis``), so the PNG
    its camera button saves says what it shows; and a CSV download of its numbers."""
    figure = plots.captioned(figure, title, st.session_state.get(CHART_SOURCE, "") if source is None else source)
    st.plotly_chart(figure, config=PLOTLY_CONFIG, key=f"chart_{name}")
    csv_download(data, name)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell that starts so as a formula


def csv_bytes(data: pd.DataFrame) -> bytes:
    """``data`` as CSV in UTF-8 with a byte-order mark, so Excel opens Chinese tokens as Chinese, not mojibake.

    Text cells are untrusted (tokens of anyone's prompt): one that a spreadsheet would run as a formula gets a
    leading apostrophe, which shows it as text. Numbers are left as they are.
    """
    text_columns = data.select_dtypes(include=["object", "string"]).columns
    safe = data.assign(**{column: [f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell
                                   for cell in data[column]] for column in text_columns})
    return safe.to_csv(index=False).encode("utf-8-sig")


def csv_download(data: pd.DataFrame, name: str) -> None:
    """A download of ``data`` as CSV. Its column names stay English in every language (the label says so in
    Chinese), so a script reads the file the same way whatever the page's language."""
    st.download_button(
        _("Download the numbers (CSV)"),
        csv_bytes(data),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv_{name}",
        icon=":material/download:",
        on_click="ignore",
    )


def page_header(title: str, question: str) -> None:
    """The page title and the question the page answers."""
    require_app_entry()
    st.title(title)
    st.caption(question)
