"""Training the two embedded tokenizers from a corpus.

* Byte-level BPE (GPT-2's scheme) for the causal model: every text, in any
  script, can be encoded, because the base alphabet is the 256 bytes.
* WordPiece (BERT's scheme) for the masked model: lower-cased words split
  into ``##`` pieces, with ``[UNK]`` for characters it never saw.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertTokenizerFast, GPT2TokenizerFast

END_OF_TEXT = "<|endoftext|>"
BERT_SPECIALS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}


def train_byte_level_bpe(texts: Iterable[str], vocab_size: int) -> GPT2TokenizerFast:
    """Return a GPT-2-style byte-level BPE tokenizer with ``vocab_size`` entries."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)  # offsets keep the leading space
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(texts, trainer)
    return GPT2TokenizerFast(
        tokenizer_object=tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT, unk_token=END_OF_TEXT
    )


def train_wordpiece(texts: Iterable[str], vocab_size: int) -> BertTokenizerFast:
    """Return a BERT-style lower-casing WordPiece tokenizer with ``vocab_size`` entries."""
    tokenizer = Tokenizer(models.WordPiece(unk_token=BERT_SPECIALS["unk_token"]))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(BERT_SPECIALS.values()))
    tokenizer.train_from_iterator(texts, trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return BertTokenizerFast(tokenizer_object=tokenizer, do_lower_case=True, **BERT_SPECIALS)
