"""Train tiny-translate-numbers: a small MarianMT encoder–decoder that writes numbers in Chinese numerals and back.

    python scripts/train_translation.py                 # the shipped model: models/tiny-translate-numbers
    python scripts/train_translation.py --steps 100 --out /tmp/pilot --results /tmp/pilot/results.json   # a pilot

Pairs come from cn2an (explainer/translation.py): numbers of 1 to 12 digits, each in both directions, the source
tagged <2zh> or <2ar>. The held-out numbers are drawn with the same private random.Random(seed) and never trained
on. One CPU thread, dropout 0 (so no global random generator is used), weights drawn from a private
torch.Generator(seed). Writes fp32 safetensors, the tokenizer, a README card, and data/translation/results.json
(greedy and beam BLEU and exact match on the held-out set, sizes, time, command, seed, machine).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

import torch
from transformers import GenerationConfig, MarianConfig, MarianMTModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainer.architectures import architecture_of  # noqa: E402
from explainer.translation import BEAMS, RESULT_KEYS, TO_ARABIC, TO_CHINESE, build_tokenizer, held_out_score, pair, split_numbers  # noqa: E402

OUT = ROOT / "models" / "tiny-translate-numbers"
RESULTS = ROOT / "data" / "translation" / "results.json"


def tiny_config(tokenizer) -> MarianConfig:
    """2 encoder and 2 decoder layers of width 128 with 4 heads, one token table shared by both and the output."""
    return MarianConfig(
        vocab_size=len(tokenizer), decoder_vocab_size=len(tokenizer), d_model=128,
        encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
        encoder_ffn_dim=256, decoder_ffn_dim=256, max_position_embeddings=64, dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, forced_eos_token_id=tokenizer.eos_token_id,
        share_encoder_decoder_embeddings=True, tie_word_embeddings=True, scale_embedding=True,
        architectures=["MarianMTModel"],
    )


def batch_of(tokenizer, pairs: list[tuple[str, str]]) -> dict:
    """Sources, and targets as labels (their padding -100, which the loss skips)."""
    batch = tokenizer([s for s, _t in pairs], text_target=[t for _s, t in pairs], return_tensors="pt", padding=True)
    batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
    return batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=800, help="optimizer steps (about 5 minutes on one thread)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=50_000, help="training numbers (each in both directions)")
    parser.add_argument("--held-out", type=int, default=500, help="held-out numbers (each in both directions)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)

    tokenizer = build_tokenizer()
    train_numbers, held_out_numbers = split_numbers(args.seed, args.train, args.held_out)
    train_pairs = [pair(n, d) for n in train_numbers for d in (TO_CHINESE, TO_ARABIC)]
    model = MarianMTModel(tiny_config(tokenizer))
    architecture_of(model.config).initialize(model, torch.Generator().manual_seed(args.seed))
    model.generation_config = GenerationConfig(
        decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, bad_words_ids=[[tokenizer.pad_token_id]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    shuffle = random.Random(args.seed + 1)

    started, losses = time.time(), []
    model.train()
    for step in range(1, args.steps + 1):
        for group in optimizer.param_groups:  # warm up for 100 steps, then decay linearly to 5%
            group["lr"] = 2e-3 * min(1.0, step / 100) * max(0.05, 1 - step / args.steps)
        loss = model(**batch_of(tokenizer, shuffle.sample(train_pairs, args.batch))).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % 100 == 0:
            print(f"step {step}  loss {sum(losses[-100:]) / 100:.4f}  {time.time() - started:.0f} s", flush=True)
    training_seconds = time.time() - started
    model.eval()

    results = {"held_out_numbers": len(held_out_numbers), "bleu_tokenization": "char", "beams": BEAMS}
    for direction, name in RESULT_KEYS.items():
        pairs = [pair(n, direction) for n in held_out_numbers]
        greedy, beam = held_out_score(model, tokenizer, pairs), held_out_score(model, tokenizer, pairs, BEAMS)
        results[name] = {"held_out_size": len(pairs),
                         "greedy": {"bleu": round(greedy.bleu, 2), "exact_match": round(greedy.exact_match, 4)},
                         "beam": {"bleu": round(beam.bleu, 2), "exact_match": round(beam.exact_match, 4)}}
        print(name, results[name], flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    weights = args.out / "model.safetensors"
    results.update({
        "model": args.out.name, "parameters": sum(p.numel() for p in model.parameters()),
        "bytes": weights.stat().st_size, "training_seconds": round(training_seconds, 1), "steps": args.steps,
        "batch": args.batch, "train_numbers": len(train_numbers), "final_loss": round(sum(losses[-100:]) / 100, 4),
        "seed": args.seed, "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {platform.processor() or platform.system()}, 1 torch thread, "
                   f"torch {torch.__version__}",
    })
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    write_card(args.out, results)
    print(json.dumps(results, indent=2, ensure_ascii=False))


def write_card(folder: Path, results: dict) -> None:
    """The model's README: what it is, how it was made, how well it translates."""
    rows = "\n".join(
        f"| {name} | {way} | {results[key][way]['bleu']:.1f} | {results[key][way]['exact_match']:.1%} |"
        for key, name in (("to_chinese", "Arabic → Chinese"), ("to_arabic", "Chinese → Arabic"))
        for way in ("greedy", "beam"))
    (folder / "README.md").write_text(f"""# tiny-translate-numbers

A MarianMT encoder–decoder (2 + 2 layers, width 128, 4 heads, character vocabulary of 30) trained in this repository
to write numbers of 1 to 12 digits in Chinese numerals and back: `<2zh>30512` → `三万零五百一十二`,
`<2ar>三万零五百一十二` → `30512`.

- Corpus: pairs generated by cn2an 0.5.24 (`an2cn(n, "low")`); {results['train_numbers']:,} training numbers,
  {results['held_out_numbers']} held-out numbers never trained on, each in both directions. Licence: MIT (this
  repository); cn2an is MIT.
- {results['parameters']:,} parameters, {results['bytes']:,} bytes of fp32 safetensors.
- Wall time: {results['training_seconds']:.0f} s of training on {results['machine']}; {results['steps']} steps of
  {results['batch']} pairs; seed {results['seed']}. Command: `{results['command']}`.

Held-out BLEU (sacrebleu corpus BLEU, tokenize="char", 0–100) and exact match; beam search with {results['beams']} beams:

| direction | decoding | BLEU | exact match |
|---|---|---|---|
{rows}
""")


if __name__ == "__main__":
    main()
