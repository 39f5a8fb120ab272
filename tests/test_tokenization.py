"""Readable tokens: visible whitespace, broken characters as bytes grouped by character, several tokenizers."""

import re

import pytest
from transformers import AutoTokenizer

from explainer.models import EMBEDDED_DIR, EMBEDDED_ZH
from explainer.token_html import token_chips
from explainer.tokenization import (
    SAME_MEANING,
    TokenizedText,
    byte_tokens,
    character_groups,
    character_tokens,
    clean_text,
    compare,
    readable_bytes,
    text_pieces,
    token_rows,
    tokenize,
    tokens_per_character,
    visible,
)
from tests.test_app import HARD_TEXTS

MIXED = "Hello 世界! 猫 café 😀 👩‍👩‍👧 🏳️‍🌈 ok\n大家好"


@pytest.fixture(scope="module")
def zh_tokenizer():
    return AutoTokenizer.from_pretrained(EMBEDDED_DIR / EMBEDDED_ZH)


def test_partial_characters_show_as_bytes_not_mojibake():
    assert readable_bytes(" 大".encode()[:3]) == "␣<E5 A4>"
    assert readable_bytes("大".encode()) == "大"
    assert readable_bytes("😀".encode()[2:]) == "<98 80>"


def test_whitespace_and_invisible_characters_are_visible():
    assert visible("a b\nc\td") == "a␣b↵c⇥d"
    assert visible("\x00") == "<00>"
    assert visible("\u202e") == "<U+202E>"  # right-to-left override cannot reorder the page
    assert visible("\u200d") == "<U+200D>"  # zero-width joiner


def test_byte_level_tokens_of_chinese_read_as_bytes_or_characters(gpt):
    tokens = tokenize(gpt.tokenizer, "我爱猫")
    assert b"".join(tokens.token_bytes) == "我爱猫".encode()
    assert not any(ch in "".join(tokens.display) for ch in "åæçèé")  # no Latin-1 mojibake


def test_wordpiece_tokens_keep_their_continuation_marks(bert):
    tokens = tokenize(bert.tokenizer, "unbelievable")
    assert tokens.display[0] == "[CLS]" and tokens.special[0]
    assert any(d.startswith("##") for d in tokens.display)


def test_characters_and_bytes():
    assert character_tokens("a大").display == ["a", "大"]
    assert byte_tokens("a大").ids == [0x61, 0xE5, 0xA4, 0xA7]


def test_compare_has_every_tokenizer_and_the_two_extremes(gpt, bert):
    results = compare("Hello 世界", {"bpe": gpt.tokenizer, "wordpiece": bert.tokenizer})
    assert list(results) == ["bpe", "wordpiece", "characters", "UTF-8 bytes"]
    assert len(results["characters"]) == 8 and len(results["UTF-8 bytes"]) == 12


def test_token_rows_give_ids_bytes_and_text(gpt):
    rows = token_rows(tokenize(gpt.tokenizer, "The cat"))
    assert [row["text"] for row in rows] == ["The", "␣c", "at"]  # "cat" is two tokens in the Austen BPE
    assert all(set(row) == {"position", "id", "token", "bytes", "text"} for row in rows)


@pytest.mark.parametrize("blank", ["", " ", "\n\n", None])
def test_blank_text_is_refused_with_a_hint(blank):
    with pytest.raises(ValueError):
        clean_text(blank)


def test_lone_surrogates_and_huge_pastes_are_cleaned():
    assert clean_text("a\ud800b") == "a?b"
    assert len(clean_text("x" * 100_000)) == 20_000


# ------------------------------------------------------------- bytes grouped by the character they make


def expected_groups(tokens: TokenizedText) -> list[tuple[str, bytes, tuple[int, ...]]]:
    """An independent computation for a text with no special tokens: lay the tokens' bytes end to end,
    find each character's byte span from the text itself, and list the tokens that overlap it."""
    ends, total = [], 0
    for data in tokens.token_bytes:
        total += len(data)
        ends.append(total)
    assert b"".join(tokens.token_bytes) == tokens.text.encode()
    found, start = [], 0
    for character in tokens.text:
        size = len(character.encode())
        owners = tuple(i for i, end in enumerate(ends)
                       if end > start and end - len(tokens.token_bytes[i]) < start + size)  # spans overlap
        if size > 1 and len(owners) > 1:
            found.append((character, character.encode(), owners))
        start += size
    return found


def as_tuples(groups):
    return [(g.character, g.data, g.tokens) for g in groups]


def test_austen_gpt_spells_cat_in_byte_tokens(gpt):
    tokens = tokenize(gpt.tokenizer, "猫", add_special_tokens=False)
    assert len(tokens) > 1  # the Austen tokenizer never learned 猫
    [group] = character_groups(tokens)
    assert group.character == "猫" and group.data == b"\xe7\x8c\xab" and group.hex == "E7 8C AB"
    assert group.tokens == tuple(range(len(tokens)))
    assert b"".join(tokens.token_bytes[i] for i in group.tokens) == b"\xe7\x8c\xab"


def test_the_bilingual_tokenizer_reads_cat_as_one_token(zh_tokenizer):
    tokens = tokenize(zh_tokenizer, "猫", add_special_tokens=False)
    assert tokens.display == ["猫"] and tokens.token_bytes == ["猫".encode()]
    assert character_groups(tokens) == []


@pytest.mark.parametrize("text", [MIXED, SAME_MEANING["zh"], "👩‍👩‍👧", "🏳️‍🌈 是", *HARD_TEXTS.values()],
                         ids=["mixed", "same meaning", "family", "flag", *HARD_TEXTS])
def test_groups_match_an_independent_computation(gpt, zh_tokenizer, text):
    text = text[:2000]
    for tokens in (tokenize(gpt.tokenizer, text, add_special_tokens=False),
                   tokenize(zh_tokenizer, text, add_special_tokens=False), byte_tokens(text)):
        if any(tokens.special):  # "<|endoftext|>" typed in the text is a special token: checked below
            continue
        assert as_tuples(character_groups(tokens)) == expected_groups(tokens)


@pytest.mark.parametrize("text", [MIXED, *HARD_TEXTS.values()], ids=["mixed", *HARD_TEXTS])
def test_offsets_still_reproduce_the_text(gpt, zh_tokenizer, text):
    text = text[:5000]
    for tokenizer in (gpt.tokenizer, zh_tokenizer):
        assert "".join(text_pieces(tokenize(tokenizer, text, add_special_tokens=False))) == text
    assert "".join(text_pieces(byte_tokens(text))) == text


def test_zero_width_joiner_sequences_and_bytes_as_tokens():
    family = "👩\u200d👧"
    groups = character_groups(byte_tokens(family))
    assert [g.character for g in groups] == ["👩", "\u200d", "👧"]  # the joiner is a 3-byte character too
    assert [g.tokens for g in groups] == [(0, 1, 2, 3), (4, 5, 6), (7, 8, 9, 10)]
    assert character_groups(byte_tokens("plain ASCII")) == []
    flag = byte_tokens("🏳️")  # a white flag, then the emoji variation selector U+FE0F, a combining mark
    assert "&lt;U+FE0F&gt; = EF B8 8F" in token_chips(flag, groups=character_groups(flag))


def test_special_tokens_break_the_byte_stream(bert):
    assert character_groups(tokenize(bert.tokenizer, "猫")) == []  # [CLS] [UNK] [SEP]
    broken = TokenizedText("?", [1, 2, 3], ["a", "b", "c"], ["<E7>", "[SEP]", "<8C AB>"],
                           [b"\xe7", b"[SEP]", b"\x8c\xab"], [(0, 1)] * 3, [False, True, False])
    assert character_groups(broken) == []


def test_a_token_holding_the_end_of_one_character_and_the_start_of_the_next():
    tokens = TokenizedText("猫猫", [1, 2, 3], ["a", "b", "c"], ["<E7>", "<8C AB E7>", "<8C AB>"],
                           [b"\xe7", b"\x8c\xab\xe7", b"\x8c\xab"], [(0, 1), (0, 2), (1, 2)], [False] * 3)
    groups = character_groups(tokens)
    assert [g.tokens for g in groups] == [(0, 1), (1, 2)]
    chips = token_chips(tokens, groups=groups)
    assert chips.count("猫 = E7 8C AB") == 2 and chips.count("flex-direction:column") == 1  # one shared frame


def test_grouped_chips_are_escaped_and_labelled():
    text = "</script><b onmouseover=alert(1)>猫</b> 😀"
    tokens = byte_tokens(text)
    chips = token_chips(tokens, groups=character_groups(tokens))
    assert "<b " not in chips and "<script" not in chips and "</script>" not in chips
    assert "猫 = E7 8C AB" in chips and "😀 = F0 9F 98 80" in chips
    assert chips.count("flex-direction:column") == 2
    assert len(re.findall(r'title="id \d+ · position \d+"', chips)) == len(tokens)  # every token still a chip
    assert token_chips(tokens) == token_chips(tokens, groups=[])  # the loss page's chips are unchanged


# ------------------------------------------------------------- the same sentence in Chinese and English


def test_tokens_per_character_is_the_tokenizers_own_count(gpt, bert, zh_tokenizer):
    tokenizers = {"gpt": gpt.tokenizer, "bert": bert.tokenizer, "zh": zh_tokenizer}
    rows = tokens_per_character(SAME_MEANING, tokenizers)
    assert [(r["tokenizer"], r["language"]) for r in rows] == [
        (name, language) for name in [*tokenizers, "characters", "UTF-8 bytes"] for language in ("zh", "en")]
    for row in rows:
        text = SAME_MEANING[row["language"]]
        if row["tokenizer"] in tokenizers:
            tokens = len(tokenizers[row["tokenizer"]](text, add_special_tokens=False)["input_ids"])
        else:
            tokens = len(text) if row["tokenizer"] == "characters" else len(text.encode())
        assert row["characters"] == len(text)
        assert row["tokens"] == tokens
        assert row["tokens_per_character"] == tokens / len(text)
    table = {(r["tokenizer"], r["language"]): r for r in rows}
    assert table[("gpt", "zh")]["tokens_per_character"] > 2 * table[("gpt", "en")]["tokens_per_character"]
    assert table[("zh", "zh")]["tokens_per_character"] < table[("gpt", "zh")]["tokens_per_character"] / 2
    assert table[("bert", "zh")]["unknown"] > 0 and table[("gpt", "zh")]["unknown"] == 0
