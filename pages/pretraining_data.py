"""The data the training pages share, read once per server: the embedded tokenizers, Austen's and the Chinese corpus's tokens."""

import streamlit as st

from explainer.corpus import shipped_prose
from explainer.corpus_zh import shipped_chinese
from explainer.i18n import N_, lazy
from explainer.models import EMBEDDED_GPT, EMBEDDED_ZH
from explainer.training.pretraining import join_token_ids
from pages.shared import cached_model


def embedded_tokenizer():
    """The embedded GPT's byte-level BPE, which every live-trained model reads with."""
    return cached_model(EMBEDDED_GPT).tokenizer


def tokenizer_of(name: str):
    """The tokenizer of the embedded model ``name`` (``EMBEDDED_GPT`` or ``EMBEDDED_ZH``): what a live run reads with."""
    return cached_model(name).tokenizer


@st.cache_resource(show_spinner=lazy(N_("Reading Austen's novels into tokens…")))
def austen_ids():
    """(train ids (N,), validation ids (M,)) of the shipped novels, with the embedded tokenizer."""
    train_texts, val_texts = shipped_prose()
    return join_token_ids(embedded_tokenizer(), train_texts), join_token_ids(embedded_tokenizer(), val_texts)


@st.cache_resource(show_spinner=lazy(N_("Reading the Chinese news and reviews into tokens…")))
def chinese_ids():
    """(train ids (N,), validation ids (M,)) of the shipped Chinese corpus, with tiny-gpt-zh's tokenizer."""
    train_texts, val_texts = shipped_chinese()
    tokenizer = tokenizer_of(EMBEDDED_ZH)
    return join_token_ids(tokenizer, train_texts), join_token_ids(tokenizer, val_texts)
