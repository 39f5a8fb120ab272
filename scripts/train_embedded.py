"""Build the two embedded models from scratch, on CPU, with a fixed seed.

    python scripts/train_embedded.py                 # both models (about 90 minutes on 2 cores)
    python scripts/train_embedded.py --only gpt --gpt-minutes 5   # a quick, weaker rebuild

Steps: fetch Jane Austen's novels from Debian (see explainer/corpus.py), hold
out the last 5% of every novel for validation, train a byte-level BPE and a
WordPiece tokenizer, train a GPT-2 (causal) and a BERT (masked) model with the
loop in explainer/training/loop.py, and write each with ``save_pretrained``
(safetensors, fp16) and a model card into ``models/``. The novels' prose is
also written to ``data/austen/`` for the live-training pages.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

from explainer.corpus import CORPUS_LICENCE, Corpus, fetch_austen
from explainer.models import EMBEDDED_BERT, EMBEDDED_DIR, EMBEDDED_GPT
from explainer.training.loop import (
    TrainingResult,
    TrainingSettings,
    causal_batches,
    causal_loss_on,
    masked_batches,
    train,
)
from explainer.training.tokenizer_training import END_OF_TEXT, train_byte_level_bpe, train_wordpiece

ROOT = Path(__file__).resolve().parent.parent

SEED = 1337
VOCAB_SIZE = 4096
SAMPLE_PROMPTS = ("Once upon a time", "It is a truth universally acknowledged", "The cat is on the")
FILL_IN_PROMPTS = (
    "She was the [MASK] of the family.",
    "It is a truth universally [MASK], that a single man must be in want of a wife.",
    "Mr. Darcy walked into the [MASK].",
)


def encode_all(tokenizer, texts: list[str], separator_id: int | None) -> torch.Tensor:
    """Return one long (N,) tensor of token ids, texts joined by ``separator_id``."""
    ids: list[int] = []
    for text in texts:
        ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        if separator_id is not None:
            ids.append(separator_id)
    return torch.tensor(ids, dtype=torch.long)


def log_progress(name: str):
    def report(evaluation) -> None:
        print(
            f"[{name}] step {evaluation.step:5d}  {evaluation.seconds / 60:5.1f} min  "
            f"train {evaluation.train_loss:.3f}  val {evaluation.val_loss:.3f}  "
            f"(ppl {evaluation.val_perplexity:.1f})",
            flush=True,
        )

    return report


def build_gpt(corpus: Corpus, train_texts, val_texts, minutes: float, steps: int) -> None:
    torch.manual_seed(SEED)
    tokenizer = train_byte_level_bpe(train_texts, VOCAB_SIZE)
    eot = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    train_ids, val_ids = encode_all(tokenizer, train_texts, eot), encode_all(tokenizer, val_texts, eot)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
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
        warmup_steps=200,
        eval_every=250,
        eval_batches=10,
        max_seconds=minutes * 60,
    )
    generator = torch.Generator().manual_seed(SEED)
    batches = causal_batches(train_ids, val_ids, settings.batch_size, config.n_positions, generator)
    torch.manual_seed(SEED)  # dropout draws from the global generator: this script is its only user
    result = train(model, batches, settings, on_evaluation=log_progress("gpt"))
    # The card reports the loss over the whole held-out text, not a random sample of it.
    result.evaluations[-1].val_loss = causal_loss_on(model, val_ids, config.n_positions)
    result.evaluations[-1].train_loss = causal_loss_on(model, train_ids[: len(val_ids)], config.n_positions)
    samples = []
    for prompt in SAMPLE_PROMPTS:
        torch.manual_seed(SEED)
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        out = model.generate(ids, max_new_tokens=40, do_sample=True, top_k=40, temperature=0.8, pad_token_id=eot)
        samples.append(tokenizer.decode(out[0]))
    save(model, tokenizer, EMBEDDED_DIR / EMBEDDED_GPT, corpus, result, settings, train_ids, val_ids, samples)


def build_bert(corpus: Corpus, train_texts, val_texts, minutes: float, steps: int) -> None:
    torch.manual_seed(SEED)
    tokenizer = train_wordpiece(train_texts, VOCAB_SIZE)
    train_ids, val_ids = encode_all(tokenizer, train_texts, None), encode_all(tokenizer, val_texts, None)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForMaskedLM(config)
    settings = TrainingSettings(
        max_steps=steps, batch_size=32, learning_rate=1e-3, min_learning_rate=1e-4, max_seconds=minutes * 60
    )
    generator = torch.Generator().manual_seed(SEED)
    batches = masked_batches(
        train_ids,
        val_ids,
        settings.batch_size,
        config.max_position_embeddings,
        generator,
        mask_token_id=tokenizer.mask_token_id,
        vocab_size=len(tokenizer),
        special_ids=(tokenizer.cls_token_id, tokenizer.sep_token_id),
    )
    torch.manual_seed(SEED)  # dropout draws from the global generator: this script is its only user
    result = train(model, batches, settings, on_evaluation=log_progress("bert"))
    samples = []
    for sentence in FILL_IN_PROMPTS:
        encoded = tokenizer(sentence, return_tensors="pt")
        with torch.no_grad():
            logits = model(**encoded).logits[0]  # (T, V)
        position = int((encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0])
        top = logits[position].softmax(-1).topk(5)
        guesses = ", ".join(f"{tokenizer.convert_ids_to_tokens(int(i))} ({p:.2f})" for p, i in zip(*top))
        samples.append(f"{sentence} → {guesses}")
    save(model, tokenizer, EMBEDDED_DIR / EMBEDDED_BERT, corpus, result, settings, train_ids, val_ids, samples)


def save(model, tokenizer, folder: Path, corpus, result: TrainingResult, settings, train_ids, val_ids, samples):
    """Write fp16 safetensors, the tokenizer, training metrics and a model card."""
    folder.mkdir(parents=True, exist_ok=True)
    parameters = sum(p.numel() for p in model.parameters())
    model.half().save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    final = result.evaluations[-1]
    metrics = {
        "parameters": parameters,
        "corpus_source": corpus.source,
        "corpus_sha256": corpus.sha256,
        "train_tokens": len(train_ids),
        "validation_tokens": len(val_ids),
        "steps": result.steps,
        "batch_size": settings.batch_size,
        "tokens_seen": final.tokens_seen,
        "wall_time_minutes": round(result.seconds / 60, 1),
        "stopped_because": result.stopped_because,
        "train_loss": round(final.train_loss, 4),
        "validation_loss": round(final.val_loss, 4),
        "train_perplexity": round(math.exp(final.train_loss), 2),
        "validation_perplexity": round(final.val_perplexity, 2),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "seed": SEED,
        "history": [vars(e) for e in result.evaluations],
    }
    (folder / "training_metrics.json").write_text(json.dumps(metrics, indent=1))
    config = {k: v for k, v in model.config.to_dict().items() if not isinstance(v, (dict, list))}
    config_lines = "\n".join(f"| `{k}` | {v} |" for k, v in sorted(config.items()) if k.startswith(("n_", "num_", "hidden_size", "vocab", "max_position", "intermediate")))
    card = f"""# {folder.name}

A {model.config.model_type.upper()} model trained from scratch in this repository by
`python scripts/train_embedded.py`. It is the embedded {"default causal" if "gpt" in folder.name else "masked"} model of the LLM explainer.

## Corpus
- Jane Austen's six novels from {corpus.source} (sha256 of the text `{corpus.sha256[:16]}…`).
- Licence: {CORPUS_LICENCE}
- Validation: the last 5% of every novel, held out. {len(train_ids):,} training tokens, {len(val_ids):,} validation tokens.

## Model
- {parameters:,} parameters; weights stored as fp16 safetensors, upcast to fp32 on load.
- Tokenizer: {"byte-level BPE" if "gpt" in folder.name else "lower-casing WordPiece"}, {len(tokenizer):,} entries.

| setting | value |
|---|---|
{config_lines}

## Training
- {result.steps:,} steps of {settings.batch_size} sequences ({final.tokens_seen:,} tokens), AdamW, seed {SEED}.
- Wall time: {result.seconds / 60:.1f} minutes on {metrics["machine"]} (stopped: {result.stopped_because}).

| | loss (nats/token) | perplexity |
|---|---|---|
| train | {final.train_loss:.3f} | {math.exp(final.train_loss):.1f} |
| validation | {final.val_loss:.3f} | {final.val_perplexity:.1f} |

{"Loss is over the masked positions only (15% of tokens)." if "bert" in folder.name else ""}

## Samples
""" + "\n".join(f"{i + 1}. {s!r}" for i, s in enumerate(samples)) + "\n"
    (folder / "README.md").write_text(card)
    print(f"wrote {folder}: {parameters:,} parameters, val ppl {final.val_perplexity:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["gpt", "bert"], help="build one model only")
    parser.add_argument("--gpt-minutes", type=float, default=70.0, help="wall-clock cap for the GPT run")
    parser.add_argument("--gpt-steps", type=int, default=8000)
    parser.add_argument("--bert-minutes", type=float, default=15.0, help="wall-clock cap for the BERT run")
    parser.add_argument("--bert-steps", type=int, default=1500)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "austen", help="where the .deb is unpacked")
    args = parser.parse_args()

    started = time.time()
    corpus = fetch_austen(args.workdir)
    train_texts, val_texts = corpus.split()
    corpus.save_prose()  # the offline copy the live-training pages read
    print(f"corpus: {corpus.source}, sha256 {corpus.sha256}", flush=True)
    if args.only in (None, "gpt"):
        build_gpt(corpus, train_texts, val_texts, args.gpt_minutes, args.gpt_steps)
    if args.only in (None, "bert"):
        build_bert(corpus, train_texts, val_texts, args.bert_minutes, args.bert_steps)
    print(f"done in {(time.time() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
