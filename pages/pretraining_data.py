"""The data the training pages share, read once per server: the embedded tokenizer and Austen's tokens."""

import streamlit as st

from explainer.corpus import shipped_prose
from explainer.i18n import N_, lazy
from explainer.models import EMBEDDED_GPT
from explainer.pretraining import join_token_ids
from pages.shared import cached_model


def embedded_tokenizer():
    """The embedded GPT's byte-level BPE, which every live-trained model reads with."""
    return cached_model(EMBEDDED_GPT).tokenizer


@st.cache_resource(show_spinner=lazy(N_("Reading Austen's novels into tokens…")))
def austen_ids():
    """(train ids (N,), validation ids (M,)) of the shipped novels, with the embedded tokenizer."""
    train_texts, val_texts = shipped_prose()
    return join_token_ids(embedded_tokenizer(), train_texts), join_token_ids(embedded_tokenizer(), val_texts)
