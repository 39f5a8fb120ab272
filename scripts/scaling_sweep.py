"""Measure the scaling law: train GPTs of six sizes on the same Austen tokens, fit L(N).

    python scripts/scaling_sweep.py                      # about 15 to 20 minutes on 2 cores
    python scripts/scaling_sweep.py --tokens 200000      # a quicker, noisier sweep

Every size sees the same ``--tokens`` training tokens (random windows of the
shipped Austen prose, context 64, batch 16) with the loop the app and the
embedded models use. The final loss is measured on the whole validation text.
The result, with the fitted power law, the machine and the time taken, is
written to data/scaling/sweep.json, which the Scaling law page shows.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from transformers import AutoTokenizer

from explainer.corpus import shipped_prose
from explainer.models import EMBEDDED_DIR, EMBEDDED_GPT
from explainer.training.jobs import JobBoard
from explainer.training.pretraining import join_token_ids
from explainer.training.scaling import SWEEP_FILE, SWEEP_SIZES, ScalingSweepRun, save_sweep

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=2_000_000, help="training tokens per model")
    parser.add_argument("--out", type=Path, default=SWEEP_FILE)
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(EMBEDDED_DIR / EMBEDDED_GPT, local_files_only=True)
    train_texts, val_texts = shipped_prose()
    run = ScalingSweepRun(SWEEP_SIZES, args.tokens, join_token_ids(tokenizer, train_texts),
                          join_token_ids(tokenizer, val_texts), tokenizer)
    job = JobBoard(abandon_after=math.inf).start("scaling_sweep.py", run, max_seconds=math.inf)
    reported = 0
    while job.thread.is_alive():
        time.sleep(2)
        for point in run.points[reported:]:
            print(f"{point.name:>10}  {point.non_embedding_parameters:>9,} non-embedding parameters  "
                  f"loss {point.final_loss:.3f}  {point.seconds:.0f} s", flush=True)
        reported = len(run.points)
    if job.state != "finished":
        sys.exit(f"the sweep {job.state}: {job.error or job.stop_reason}")
    command = "python scripts/scaling_sweep.py" + (f" --tokens {args.tokens}" if args.tokens != 2_000_000 else "")
    record = save_sweep(run, args.out, command, corpus="Jane Austen's novels (data/austen), embedded GPT tokenizer")
    fit = record["fit"]
    print(f"L(N) = ({fit['x_c']:.3g} / N)^{fit['alpha']:.3f} + {fit['l_inf']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
