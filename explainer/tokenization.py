"""Stage 1: text → tokens.

Turns a tokenizer's output into things a learner can read: each token's
bytes, a display string with spaces and newlines made visible, and the pieces
of a multi-byte character (Chinese, emoji) shown as bytes such as ``<E5 A4>``
instead of mojibake; groups the byte tokens that together make one character
(猫 = <E7 8C AB>). Also compares several tokenizers on the same text, and what
the same sentence costs in Chinese and in English.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from explainer.i18n import N_, _

VISIBLE_WHITESPACE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
MAX_TEXT_CHARACTERS = 20_000  # longer pastes are cut before tokenizing (the context is far shorter)
SAME_MEANING = {  # one sentence, two languages: what each costs in tokens (language code -> sentence)
    "zh": "猫坐在垫子上，它看着窗外的鸟。",
    "en": "The cat sat on the mat and watched the birds outside the window.",
}


@dataclass
class TokenizedText:
    """A text cut into tokens by one tokenizer. All lists have one entry per token (T)."""

    text: str  # the text that was tokenized
    ids: list[int]  # (T,) vocabulary ids
    raw: list[str]  # (T,) the tokenizer's own strings, e.g. "Ġthe" or "##ing"
    display: list[str]  # (T,) readable strings, e.g. "␣the", "<E5 A4>"
    token_bytes: list[bytes]  # (T,) the bytes each token stands for
    offsets: list[tuple[int, int]]  # (T, 2) [start, end) character span in ``text``
    special: list[bool]  # (T,) True for added tokens such as [CLS] or <|endoftext|>

    def __len__(self) -> int:
        return len(self.ids)


def visible(text: str) -> str:
    """Return ``text`` with whitespace, control and invisible characters made visible."""
    shown = []
    for char in text:
        category = unicodedata.category(char)
        if char in VISIBLE_WHITESPACE:
            shown.append(VISIBLE_WHITESPACE[char])
        elif category == "Cc":
            shown.append(f"<{ord(char):02X}>")
        elif category in ("Cf", "Cs", "Zl", "Zp"):  # zero-width joiners, bidi overrides, lone surrogates
            shown.append(f"<U+{ord(char):04X}>")
        else:
            shown.append(char)
    return "".join(shown)


def readable_bytes(data: bytes) -> str:
    """Return ``data`` as readable text: valid UTF-8 shown visibly, broken pieces as hex bytes.

    >>> readable_bytes(" 大".encode()[:3])
    '␣<E5 A4>'
    """
    decoded = data.decode("utf-8", errors="surrogateescape")  # invalid bytes → U+DC80..U+DCFF
    pieces, broken = [], []
    for char in decoded:
        if 0xDC80 <= ord(char) <= 0xDCFF:
            broken.append(ord(char) - 0xDC00)
            continue
        if broken:
            pieces.append(_hex(broken))
            broken = []
        pieces.append(visible(char))
    if broken:
        pieces.append(_hex(broken))
    return "".join(pieces)


def _hex(values: list[int]) -> str:
    return "<" + " ".join(f"{b:02X}" for b in values) + ">"


@lru_cache(maxsize=1)
def _byte_level_decoder() -> dict[str, int]:
    """GPT-2's table from its printable stand-in characters back to bytes (e.g. 'Ġ' → 0x20)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {chr(code): byte for byte, code in zip(printable, codes)}


def decoder_type(tokenizer) -> str:
    """Return the type of the tokenizer's decoder: 'ByteLevel', 'WordPiece', 'Metaspace', ..."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.decoder is None:
        return ""
    decoder = json.loads(backend.decoder.__getstate__())  # the decoder alone, not the whole vocabulary
    if decoder.get("type") == "Sequence":  # e.g. Llama: Replace ▁, ByteFallback, Fuse, Strip
        return "ByteFallback" if any(d.get("type") == "ByteFallback" for d in decoder["decoders"]) else "Sequence"
    return decoder.get("type", "")


def token_to_bytes(raw: str, scheme: str) -> bytes:
    """Return the bytes one raw token stands for, under the tokenizer's ``scheme`` (decoder type)."""
    if scheme == "ByteLevel":
        table = _byte_level_decoder()
        if all(char in table for char in raw):
            return bytes(table[char] for char in raw)
    if scheme == "WordPiece" and raw.startswith("##"):
        return raw[2:].encode()
    if scheme in ("Metaspace", "ByteFallback", "Sequence"):
        if len(raw) == 6 and raw.startswith("<0x") and raw.endswith(">"):
            return bytes([int(raw[3:5], 16)])
        return raw.replace("▁", " ").encode()
    return raw.encode()


def tokenize(tokenizer, text: str, add_special_tokens: bool = True, max_tokens: int | None = None) -> TokenizedText:
    """Tokenize ``text``; return ids, raw and readable strings, bytes and character offsets."""
    encoding = tokenizer(
        text,
        add_special_tokens=add_special_tokens,
        return_offsets_mapping=True,
        truncation=max_tokens is not None,
        max_length=max_tokens,
    )
    ids = list(encoding["input_ids"])
    raw = tokenizer.convert_ids_to_tokens(ids)
    special_ids = set(tokenizer.all_special_ids)
    scheme = decoder_type(tokenizer)
    special = [i in special_ids for i in ids]
    readings = [(r.encode(), r) if s else _reading(r, scheme) for r, s in zip(raw, special)]
    token_bytes = [data for data, _ in readings]
    display = [shown for _, shown in readings]
    offsets = [tuple(map(int, span)) for span in encoding["offset_mapping"]]
    return TokenizedText(text, ids, raw, display, token_bytes, offsets, special)


@lru_cache(maxsize=65_536)
def _reading(raw: str, scheme: str) -> tuple[bytes, str]:
    """An ordinary token's (bytes, display string); cached, as a text repeats its tokens."""
    data = token_to_bytes(raw, scheme)
    if scheme == "WordPiece":
        return data, visible(raw)  # keep the "##" that marks a word's continuation
    return data, readable_bytes(data)


def character_tokens(text: str) -> TokenizedText:
    """The simplest tokenizer: one token per Unicode character, its id the code point."""
    ids = [ord(c) for c in text]
    data = [c.encode("utf-8", errors="surrogatepass") for c in text]
    return TokenizedText(
        text, ids, list(text), [visible(c) for c in text], data, [(i, i + 1) for i in range(len(text))], [False] * len(text)
    )


def byte_tokens(text: str) -> TokenizedText:
    """One token per UTF-8 byte, its id the byte value (0–255): the base alphabet of byte-level BPE."""
    ids, raw, display, data, offsets = [], [], [], [], []
    for index, char in enumerate(text):
        encoded = char.encode("utf-8", errors="surrogatepass")
        for byte in encoded:
            ids.append(byte)
            raw.append(f"<{byte:02X}>")
            display.append(visible(char) if len(encoded) == 1 else f"<{byte:02X}>")
            data.append(bytes([byte]))
            offsets.append((index, index + 1))
    return TokenizedText(text, ids, raw, display, data, offsets, [False] * len(ids))


def clean_text(text: str) -> str:
    """Return user text made safe to tokenize: lone surrogates replaced, length capped.

    Raises ``ValueError`` with a message for the user when nothing is left to tokenize.
    """
    if text is None or not text.strip():
        raise ValueError(_("Type some text to see how the model reads it."))
    text = text.encode("utf-8", errors="replace").decode("utf-8")  # lone surrogates → "?"
    return text[:MAX_TEXT_CHARACTERS]


def compare(text: str, tokenizers: dict[str, object]) -> dict[str, TokenizedText]:
    """Tokenize the same text with every named tokenizer, then as characters and as UTF-8 bytes.

    Returns name -> TokenizedText, in the order given, characters and bytes last.
    """
    results = {name: tokenize(tokenizer, text, add_special_tokens=False) for name, tokenizer in tokenizers.items()}
    results[N_("characters")] = character_tokens(text)  # names shown with ``_()``
    results[N_("UTF-8 bytes")] = byte_tokens(text)
    return results


def token_rows(tokens: TokenizedText) -> list[dict]:
    """One row per token for a table: position, id, readable token, its bytes in hex, and the text it covers."""
    pieces = text_pieces(tokens)
    return [
        {
            "position": index,
            "id": tokens.ids[index],
            "token": tokens.display[index],
            "bytes": tokens.token_bytes[index].hex(" ").upper(),
            "text": visible(pieces[index]),
        }
        for index in range(len(tokens))
    ]


def text_pieces(tokens: TokenizedText) -> list[str]:
    """Return the text behind each token from its offsets; a span shared by a
    character's byte pieces is given to the first of them only."""
    pieces, previous = [], None
    for start, end in tokens.offsets:
        pieces.append("" if (start, end) == previous or start == end else tokens.text[start:end])
        previous = (start, end)
    return pieces


@dataclass(frozen=True)
class CharacterGroup:
    """One multi-byte character whose UTF-8 bytes are spread over several consecutive tokens."""

    character: str  # the character the bytes make, e.g. "猫"
    data: bytes  # its UTF-8 bytes, e.g. b"\xe7\x8c\xab" (2–4 bytes)
    tokens: tuple[int, ...]  # (k,) k ≥ 2 consecutive token indices that hold those bytes, in order

    @property
    def hex(self) -> str:
        """The bytes as the chips show them, e.g. "E7 8C AB"."""
        return self.data.hex(" ").upper()


def character_groups(tokens: TokenizedText) -> list[CharacterGroup]:
    """Return the characters that no single token holds whole, in text order.

    Walks the tokens' bytes as one UTF-8 stream and, for every multi-byte
    character, notes which tokens its bytes came from; a character held by
    two or more tokens (猫 = <E7> <8C> <AB> under a byte-level BPE that never
    learned it) makes a group. A token may hold the end of one character and
    the start of the next, so two groups can share a token. Special tokens
    are skipped and break the stream; bytes that make no valid character (a
    text cut in the middle of one) make no group.

    >>> [(g.character, g.hex, g.tokens) for g in character_groups(byte_tokens("a猫"))]
    [('猫', 'E7 8C AB', (1, 2, 3))]
    """
    groups: list[CharacterGroup] = []
    pending: list[tuple[int, int]] = []  # (token index, byte) of the character being read
    needed = 0  # how many bytes that character has
    for index, data in enumerate(tokens.token_bytes):
        if tokens.special[index]:
            pending, needed = [], 0
            continue
        for byte in data:
            if pending and 0x80 <= byte <= 0xBF:  # a continuation byte
                pending.append((index, byte))
            else:
                pending, needed = [(index, byte)], _utf8_length(byte)
            if pending and len(pending) == needed:
                owners = tuple(sorted({owner for owner, _ in pending}))
                character_bytes = bytes(b for _, b in pending)
                if len(owners) > 1 and needed > 1:
                    try:
                        character = character_bytes.decode("utf-8")
                    except UnicodeDecodeError:  # overlong or surrogate encodings
                        character = ""
                    if character:
                        groups.append(CharacterGroup(character, character_bytes, owners))
                pending, needed = [], 0
    return groups


def _utf8_length(lead: int) -> int:
    """How many bytes a UTF-8 character starting with ``lead`` has (0 for a byte no character starts with)."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def tokens_per_character(sentences: dict[str, str], tokenizers: dict[str, object]) -> list[dict]:
    """What each sentence costs under each tokenizer, without special tokens.

    ``sentences`` maps a language code to a sentence (e.g. ``SAME_MEANING``);
    ``tokenizers`` is what ``compare`` takes (characters and UTF-8 bytes are
    added last). Returns one row per (tokenizer, sentence), tokenizer by
    tokenizer in ``compare``'s order, each a dict:

    - ``tokenizer``: its name (``compare``'s key);
    - ``language``: the sentence's language code;
    - ``characters``: ``len(sentence)``, Unicode characters;
    - ``tokens``: ``len(tokenizer(sentence, add_special_tokens=False)["input_ids"])``;
    - ``unknown``: how many of those are the tokenizer's unknown token ([UNK]);
    - ``tokens_per_character``: ``tokens / characters``.
    """
    compared = {language: compare(sentence, tokenizers) for language, sentence in sentences.items()}
    names = list(next(iter(compared.values()))) if compared else []
    rows = []
    for name in names:
        unknown_id = getattr(tokenizers.get(name), "unk_token_id", None)
        for language, sentence in sentences.items():
            result = compared[language][name]
            rows.append({
                "tokenizer": name,
                "language": language,
                "characters": len(sentence),
                "tokens": len(result),
                "unknown": sum(i == unknown_id for i in result.ids) if unknown_id is not None else 0,
                "tokens_per_character": len(result) / max(1, len(sentence)),
            })
    return rows


def token_label(tokenizer, token_id: int) -> str:
    """Return one vocabulary entry as readable text (spaces visible, broken bytes as hex)."""
    raw = tokenizer.convert_ids_to_tokens(token_id)
    if token_id in tokenizer.all_special_ids:
        return raw
    scheme = decoder_type(tokenizer)
    if scheme == "WordPiece":
        return raw
    return readable_bytes(token_to_bytes(raw, scheme))


def window_bounds(token_count: int, start: int, size: int) -> tuple[int, int]:
    """Return a valid [start, end) window of at most ``size`` tokens."""
    start = max(0, min(start, max(0, token_count - size)))
    return start, min(token_count, start + size)
