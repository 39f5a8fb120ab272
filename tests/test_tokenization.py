"""Readable tokens: visible whitespace, broken characters as bytes, several tokenizers."""

import pytest

from explainer.tokenization import (
    byte_tokens,
    character_tokens,
    clean_text,
    compare,
    readable_bytes,
    token_rows,
    tokenize,
    visible,
)


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
    assert rows[1]["text"] == "␣cat" or rows[1]["text"].startswith("␣")
    assert all(set(row) == {"position", "id", "token", "bytes", "text"} for row in rows)


@pytest.mark.parametrize("blank", ["", " ", "\n\n", None])
def test_blank_text_is_refused_with_a_hint(blank):
    with pytest.raises(ValueError):
        clean_text(blank)


def test_lone_surrogates_and_huge_pastes_are_cleaned():
    assert clean_text("a\ud800b") == "a?b"
    assert len(clean_text("x" * 100_000)) == 20_000
