"""The R serialisation reader and the prose clean-up, on hand-made data."""

import gzip
import struct
import zlib

from explainer.corpus import _XdrReader, read_lazyload_database, to_prose


def _int(value: int) -> bytes:
    return struct.pack(">i", value)


def _header() -> bytes:
    return b"X\n" + _int(2) + _int(0x040000) + _int(0x020300)


def _char(text: str | None) -> bytes:
    if text is None:
        return _int(9) + _int(-1)
    data = text.encode()
    return _int(9 | (1 << 3 << 12)) + _int(len(data)) + data  # CHARSXP, UTF-8 flag


def _strings(values: list[str | None]) -> bytes:
    return _int(16) + _int(len(values)) + b"".join(_char(v) for v in values)


def _named_list(items: dict[str, bytes]) -> bytes:
    names_attribute = (
        _int(2 | (1 << 10)) + _int(1) + _char("names") + _strings(list(items)) + _int(254)  # pairlist(names=...)
    )
    return _int(19 | (1 << 9)) + _int(len(items)) + b"".join(items.values()) + names_attribute


def test_reads_character_vectors_with_missing_values():
    assert _XdrReader(_header() + _strings(["It is a truth", None, "大"])).read() == ["It is a truth", None, "大"]


def test_reads_a_lazy_load_database(tmp_path):
    blob = _header() + _strings(["line one", "line two"])
    record = _int(len(blob)) + zlib.compress(blob)
    (tmp_path / "Rdata.rdb").write_bytes(record)
    position = _int(13) + _int(2) + _int(0) + _int(len(record))  # INTSXP [offset, length]
    index = _header() + _named_list({"variables": _named_list({"emma": position})})
    (tmp_path / "Rdata.rdx").write_bytes(gzip.compress(index))
    assert read_lazyload_database(tmp_path / "Rdata.rdx") == {"emma": ["line one", "line two"]}


def test_prose_unwraps_lines_and_keeps_paragraphs():
    text = "It is a truth universally\nacknowledged, that a man\n\n\nHowever  little known"
    assert to_prose(text) == "It is a truth universally acknowledged, that a man\nHowever little known\n"
