"""Build the two embedded models from scratch, on CPU, with a fixed seed.

    python scripts/train_embedded.py                 # both models (about 2 hours 15 minutes: GPT 70, BERT 60)
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
    """Train the embedded BERT; write it with its masked-token accuracy on the whole validation text.

    What gets a small post-LN BERT off the unigram plateau (answering "," for
    every blank) on a CPU budget: a peak learning rate of 1e-3 after a 7%
    linear warm-up, 25% of tokens masked (more signal per step), no dropout,
    position embeddings initialised to small sinusoids (so attention can find
    the neighbours from step one), and a training forward pass in bfloat16
    autocast that runs the vocabulary head only on the masked positions
    (same loss, about 2.4x faster on one core). The saved model is a plain
    BertForMaskedLM; the weights are fp32 during training and fp16 on disk.
    """
    from types import SimpleNamespace

    import torch.nn.functional as F

    ignore_index = -100  # labels that cross-entropy skips (IGNORE_INDEX of the training loop)
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
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = BertForMaskedLM(config)
    T, D = config.max_position_embeddings, config.hidden_size
    angles = torch.arange(T)[:, None] / 10000 ** (torch.arange(0, D, 2)[None] / D)  # (T, D/2)
    sinusoids = torch.stack([angles.sin(), angles.cos()], dim=-1).view(T, D)  # (T, D), sin/cos interleaved
    with torch.no_grad():  # scaled so a position vector is about as long as a token vector (0.03 * sqrt(D/2) ~ 0.02 * sqrt(D))
        model.bert.embeddings.position_embeddings.weight.copy_(0.03 * sinusoids)

    class MaskedOnlyLoss(torch.nn.Module):
        """The same masked-LM loss, with the vocabulary head on the masked positions only, in bf16 autocast."""

        def __init__(self, mlm: BertForMaskedLM):
            super().__init__()
            self.mlm = mlm

        def forward(self, input_ids, labels):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                hidden = self.mlm.bert(input_ids=input_ids).last_hidden_state  # (B, T, D)
                chosen = labels != ignore_index  # (B, T)
                logits = self.mlm.cls(hidden[chosen])  # (M, V)
            return SimpleNamespace(loss=F.cross_entropy(logits.float(), labels[chosen]))

    settings = TrainingSettings(
        max_steps=steps,
        batch_size=32,
        learning_rate=1e-3,
        min_learning_rate=1e-4,
        warmup_steps=max(1, steps * 7 // 100),
        eval_every=250,
        eval_batches=10,
        max_seconds=minutes * 60,
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
        mask_probability=0.25,
    )
    torch.manual_seed(SEED)  # dropout draws from the global generator: this script is its only user
    result = train(MaskedOnlyLoss(model), batches, settings, on_evaluation=log_progress("bert"))
    model.half().float()  # evaluate the weights exactly as they are stored (fp16) and loaded (fp32)

    @torch.no_grad()
    def masked_evaluation(ids: torch.Tensor) -> tuple[float, float, int]:
        """Loss (nats), top-1 accuracy and count over BERT-style masks (15%: 80% [MASK], 10% random, 10% kept)
        on all of ``ids``, cut into non-overlapping [CLS] ... [SEP] windows; fixed seed, so every run masks alike."""
        model.eval()
        g = torch.Generator().manual_seed(SEED)
        inner = T - 2
        body = ids[: len(ids) // inner * inner].view(-1, inner)  # (W, T-2)
        W = body.shape[0]
        inputs = torch.cat([torch.full((W, 1), tokenizer.cls_token_id), body, torch.full((W, 1), tokenizer.sep_token_id)], 1)
        chosen = torch.rand(inputs.shape, generator=g) < 0.15
        chosen[:, 0] = chosen[:, -1] = False
        roll = torch.rand(inputs.shape, generator=g)
        targets = inputs[chosen]  # (M,)
        inputs[chosen & (roll < 0.8)] = tokenizer.mask_token_id
        randomised = chosen & (roll >= 0.8) & (roll < 0.9)
        inputs[randomised] = torch.randint(0, len(tokenizer), (int(randomised.sum()),), generator=g)
        logits = torch.cat([model(input_ids=x).logits[m] for x, m in zip(inputs.split(32), chosen.split(32))])  # (M, V)
        loss = F.cross_entropy(logits, targets).item()
        accuracy = (logits.argmax(-1) == targets).float().mean().item()
        return loss, accuracy, len(targets)

    val_loss, val_accuracy, val_masked = masked_evaluation(val_ids)
    train_loss, train_accuracy, _ = masked_evaluation(train_ids[: len(val_ids)])
    result.evaluations[-1].val_loss, result.evaluations[-1].train_loss = val_loss, train_loss
    print(f"[bert] whole validation text: loss {val_loss:.3f}, masked-token accuracy {val_accuracy:.1%} ({val_masked:,} masks)")
    samples = []
    for sentence in FILL_IN_PROMPTS:
        encoded = tokenizer(sentence, return_tensors="pt")
        with torch.no_grad():
            logits = model(**encoded).logits[0]  # (T, V)
        position = int((encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0])
        top = logits[position].softmax(-1).topk(5)
        guesses = ", ".join(f"{tokenizer.convert_ids_to_tokens(int(i))} ({p:.2f})" for p, i in zip(*top))
        samples.append(f"{sentence} → {guesses}")
    folder = EMBEDDED_DIR / EMBEDDED_BERT
    save(model, tokenizer, folder, corpus, result, settings, train_ids, val_ids, samples)

    evaluation = {
        "validation_masked_accuracy": round(val_accuracy, 4),
        "train_masked_accuracy": round(train_accuracy, 4),
        "validation_masked_positions": val_masked,
        "evaluation": "final train/validation loss and accuracy: fp16 weights, every masked position of the whole "
        "validation text (train: its first as many tokens) in non-overlapping 128-token windows, 15% masked "
        f"(80% [MASK], 10% random, 10% kept), seed {SEED}; the history's losses are 10 random training-style "
        "batches (25% masked, bf16)",
        "mask_probability_in_training": 0.25,
        "warmup_steps": settings.warmup_steps,
        "learning_rate": settings.learning_rate,
        "command": "python scripts/train_embedded.py --only bert"
        + ("" if (steps, minutes) == (3000, 60) else f" --bert-steps {steps} --bert-minutes {minutes:g}"),
    }
    metrics_file = folder / "training_metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics = {**{k: v for k, v in metrics.items() if k != "history"}, **evaluation, "history": metrics["history"]}
    metrics_file.write_text(json.dumps(metrics, indent=1))
    card = (folder / "README.md").read_text()
    section = f"""## Masked-token accuracy
- Top-1 accuracy on the masked positions of the whole validation text: **{val_accuracy:.1%}** ({val_masked:,} masks;
  train text {train_accuracy:.1%}); validation loss {val_loss:.3f} nats per masked token.
- Measured on the fp16 weights over every masked position of the whole validation text, cut into non-overlapping
  128-token windows with 15% of tokens masked BERT-style (80% [MASK], 10% random, 10% kept) by a generator seeded
  {SEED}. The loss table above is this same evaluation; the losses in `training_metrics.json`'s history are 10
  random training batches each (25% masked).
- Training: peak learning rate {settings.learning_rate:g} after {settings.warmup_steps} warm-up steps, cosine decay to
  {settings.min_learning_rate:g}; 25% of tokens masked; no dropout; sinusoid-initialised position embeddings; bf16
  autocast with the vocabulary head on the masked positions only.
- Command: `{evaluation["command"]}`, {result.seconds / 60:.1f} minutes of training on a shared 2-core
  machine with one thread.

## Samples"""
    (folder / "README.md").write_text(card.replace("## Samples", section, 1))


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
    shown = ("n_", "num_", "hidden_size", "vocab", "max_position", "intermediate")  # the shape's settings
    config_lines = "\n".join(f"| `{k}` | {v} |" for k, v in sorted(config.items()) if k.startswith(shown))
    card = f"""# {folder.name}

A {model.config.model_type.upper()} model trained from scratch in this repository by
`python scripts/train_embedded.py`. It is the embedded {"default causal" if "gpt" in folder.name else "masked"} model \
of the LLM explainer.

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
    parser.add_argument("--bert-minutes", type=float, default=60.0, help="wall-clock cap for the BERT run")
    parser.add_argument("--bert-steps", type=int, default=3000)
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
