"""The training corpus: Jane Austen's six novels, read offline from Debian.

Debian's ``r-cran-janeaustenr`` package (MIT; the novels are public domain)
stores each novel as an R character vector, one element per line, in R's
lazy-load database (``data/Rdata.rdb`` + ``data/Rdata.rdx``). This module
fetches the package with ``apt-get download``, unpacks it with ``dpkg-deb``
and decodes the R serialisation with a small reader, so no R is needed.

The app itself needs no network: ``scripts/train_embedded.py`` also writes the
novels' prose, already split into train and validation, to ``SHIPPED_PROSE``
(gzipped JSON, 1.5 MB), which the live-training pages read.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

DEBIAN_PACKAGE = "r-cran-janeaustenr"
NOVELS = (
    "sensesensibility",
    "prideprejudice",
    "mansfieldpark",
    "emma",
    "northangerabbey",
    "persuasion",
)
CORPUS_LICENCE = "Public-domain novels by Jane Austen; packaged by janeaustenr (MIT) in Debian."
SHIPPED_PROSE = Path(__file__).resolve().parent.parent / "data" / "austen" / "prose.json.gz"


@dataclass
class Corpus:
    """The novels as plain text, with where they came from."""

    texts: dict[str, str]  # novel name -> full text, lines joined with "\n"
    source: str  # e.g. "Debian r-cran-janeaustenr_1.0.0-2_all.deb"
    sha256: str  # checksum of the concatenated text

    def split(self, validation_fraction: float = 0.05) -> tuple[list[str], list[str]]:
        """Return (train, validation) prose: the last part of every novel is held out."""
        train, validation = [], []
        for name in NOVELS:
            prose = to_prose(self.texts[name])
            cut = int(len(prose) * (1 - validation_fraction))
            cut = prose.rfind("\n", 0, cut) + 1 or cut  # cut at a paragraph boundary
            train.append(prose[:cut])
            validation.append(prose[cut:])
        return train, validation


    def save_prose(self, path: Path = SHIPPED_PROSE) -> None:
        """Write the train/validation prose, with source and licence, as gzipped JSON."""
        train, validation = self.split()
        record = {"source": self.source, "sha256": self.sha256, "licence": CORPUS_LICENCE,
                  "novels": list(NOVELS), "train": train, "validation": validation}
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as file:  # mtime 0: the same bytes every time
            file.write(json.dumps(record, ensure_ascii=False).encode("utf-8"))


def shipped_prose(path: Path = SHIPPED_PROSE) -> tuple[list[str], list[str]]:
    """Return the repo's copy of the novels as (train, validation) prose, one text per novel."""
    with gzip.open(path, "rt", encoding="utf-8") as file:
        record = json.load(file)
    return record["train"], record["validation"]


def to_prose(text: str) -> str:
    """Undo the hard line wrapping: one paragraph per line, single spaces.

    The novels are wrapped at about 70 characters; a model trained on that
    would break lines mid-sentence in everything it writes.
    """
    paragraphs = re.split(r"\n\s*\n", text)
    unwrapped = (" ".join(p.split()) for p in paragraphs)
    return "\n".join(p for p in unwrapped if p) + "\n"


# ---------------------------------------------------------------- R reader


class _XdrReader:
    """Reads R's XDR ("X\\n") serialisation format, enough for data vectors."""

    NILVALUE, REFSXP = 254, 255
    SYMSXP, LISTSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP = 1, 2, 9, 10, 13, 14, 16, 19

    def __init__(self, data: bytes):
        self.data, self.pos, self.refs = data, 0, []

    def _int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def _bytes(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def read(self):
        if self._bytes(2) != b"X\n":
            raise ValueError("not an XDR R serialisation")
        version = self._int()
        self._int(), self._int()  # writer's R version, minimal reader version
        if version == 3:
            self._bytes(self._int())  # native encoding name
        return self._item()

    def _item(self):
        flags = self._int()
        sexptype, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if sexptype == self.NILVALUE:
            return None
        if sexptype == self.REFSXP:
            return self.refs[(flags >> 8) - 1]
        if sexptype == self.SYMSXP:
            symbol = self._item()
            self.refs.append(symbol)
            return symbol
        if sexptype == self.LISTSXP:  # pairlist: (attributes), (tag), car, cdr
            if has_attr:
                self._item()
            tag = self._item() if has_tag else None
            head = (tag, self._item())
            rest = self._item()
            return [head] + (rest or [])
        if sexptype == self.CHARSXP:
            length = self._int()
            return None if length == -1 else self._bytes(length).decode("utf-8", "replace")
        if sexptype in (self.LGLSXP, self.INTSXP):
            value = list(struct.unpack_from(f">{self._int()}i", self.data, self.pos))
            self.pos += 4 * len(value)
        elif sexptype == self.REALSXP:
            value = list(struct.unpack_from(f">{self._int()}d", self.data, self.pos))
            self.pos += 8 * len(value)
        elif sexptype in (self.STRSXP, self.VECSXP):
            value = [self._item() for _ in range(self._int())]
        else:
            raise ValueError(f"unsupported R type {sexptype}")
        if has_attr:
            attributes = dict(self._item())
            if sexptype == self.VECSXP and "names" in attributes:
                return dict(zip(attributes["names"], value))
        return value


def read_lazyload_database(rdx_path: Path) -> dict[str, object]:
    """Return every variable of an R lazy-load database (``.rdx`` index + ``.rdb`` data)."""
    index = _XdrReader(gzip.decompress(rdx_path.read_bytes())).read()
    # index["variables"]: name -> [offset, length] of its compressed blob in the .rdb
    rdb = rdx_path.with_suffix(".rdb").read_bytes()
    variables = {}
    for name, (offset, length) in index["variables"].items():
        blob = rdb[int(offset) : int(offset) + int(length)]
        variables[name] = _XdrReader(zlib.decompress(blob[4:])).read()  # 4 bytes: raw length
    return variables


# ---------------------------------------------------------------- fetching


def fetch_austen(workdir: Path | None = None) -> Corpus:
    """Download and unpack Debian's janeaustenr package; return the six novels.

    Needs ``apt-get`` and ``dpkg-deb`` (Debian/Ubuntu) and access to the
    Debian package archive. Raises ``RuntimeError`` with the command's output
    when the package cannot be fetched.
    """
    workdir = Path(workdir or tempfile.mkdtemp(prefix="austen-"))
    workdir.mkdir(parents=True, exist_ok=True)
    debs = sorted(workdir.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    if not debs:
        _run(["apt-get", "download", DEBIAN_PACKAGE], cwd=workdir)
        debs = sorted(workdir.glob(f"{DEBIAN_PACKAGE}_*.deb"))
    deb = debs[-1]
    unpacked = workdir / "unpacked"
    _run(["dpkg-deb", "-x", str(deb), str(unpacked)], cwd=workdir)
    rdx = next(unpacked.rglob("janeaustenr/data/Rdata.rdx"))
    variables = read_lazyload_database(rdx)
    texts = {name: "\n".join(line or "" for line in variables[name]) for name in NOVELS}
    digest = hashlib.sha256("\n\n".join(texts[n] for n in NOVELS).encode()).hexdigest()
    return Corpus(texts=texts, source=f"Debian {deb.name}", sha256=digest)


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
