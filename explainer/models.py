"""All model access: the registry of named models, the allowlist, and loading.

Every model, embedded or from the Hugging Face hub, goes through
``load_model``: ``AutoTokenizer`` / ``AutoModelFor*`` with
``attn_implementation="eager"`` (so attention weights are real),
safetensors only (never pickle), ``trust_remote_code=False``, and
``model.eval()``.

A classroom server restricts what may be loaded with the environment variable
``EXPLAINER_ALLOWED_MODELS``: a comma-separated list of registry names or hub
ids. ``*`` in the list allows any hub id. Unset, the registry's models and any
well-formed hub id are allowed.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer, PreTrainedModel

EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "models"
EMBEDDED_GPT = "tiny-gpt-austen"
EMBEDDED_BERT = "tiny-bert-austen"
DEFAULT_MODEL = EMBEDDED_GPT
ALLOWLIST_VARIABLE = "EXPLAINER_ALLOWED_MODELS"
MAX_TRAINED_MODELS = 8  # models trained live and kept in memory, oldest dropped first
HUB_PROBE_SECONDS = 3.0

ModelKind = Literal["causal", "masked"]


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the registry."""

    name: str  # what the picker shows; the hub id for hub models
    kind: ModelKind
    description: str
    embedded: bool = False

    @property
    def source(self) -> str:
        """The folder (embedded) or hub id that ``from_pretrained`` loads."""
        return str(EMBEDDED_DIR / self.name) if self.embedded else self.name


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(EMBEDDED_GPT, "causal", "4-layer GPT-2 trained here on Jane Austen (embedded, default)", True),
        ModelSpec(EMBEDDED_BERT, "masked", "4-layer BERT trained here on Jane Austen (embedded)", True),
        ModelSpec("gpt2", "causal", "OpenAI GPT-2 small, 124M parameters (hub)"),
        ModelSpec("distilgpt2", "causal", "Distilled GPT-2, 82M parameters (hub)"),
        ModelSpec("bert-base-uncased", "masked", "Google BERT base, 110M parameters (hub)"),
        ModelSpec("HuggingFaceTB/SmolLM2-135M", "causal", "SmolLM2, a current small LM, 135M parameters (hub)"),
    )
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?$")


class ModelUnavailable(ValueError):
    """A model that cannot be used here; the message is meant for the user."""


@dataclass
class LoadedModel:
    """A tokenizer and model ready for analysis (eval mode, fp32, eager attention)."""

    spec: ModelSpec
    tokenizer: object  # a transformers PreTrainedTokenizerFast
    model: PreTrainedModel
    load_seconds: float

    @property
    def context_length(self) -> int:
        """The most tokens the model reads at once."""
        config = self.model.config
        for attribute in ("n_positions", "max_position_embeddings"):
            if getattr(config, attribute, None):
                return int(getattr(config, attribute))
        return int(self.tokenizer.model_max_length)


# ------------------------------------------------- models trained in the app

_trained: OrderedDict[str, LoadedModel] = OrderedDict()  # name -> model, oldest first
_trained_lock = threading.Lock()
_trained_numbers = itertools.count(1)


def keep_trained_model(title: str, tokenizer, model: PreTrainedModel) -> LoadedModel:
    """Offer a model trained live in this server process on every page, as "trained #n: title".

    At most ``MAX_TRAINED_MODELS`` are kept; the oldest is forgotten first.
    The model is put in eval mode and must not be trained further.
    """
    model.eval()
    with _trained_lock:
        name = f"trained #{next(_trained_numbers)}: {title}"
        loaded = LoadedModel(ModelSpec(name, "causal", "trained in this app, live"), tokenizer, model, 0.0)
        _trained[name] = loaded
        while len(_trained) > MAX_TRAINED_MODELS:
            _trained.popitem(last=False)
    return loaded


def trained_model_names() -> list[str]:
    """The names of the live-trained models still kept, oldest first."""
    return list(_trained)


def trained_model(name: str) -> LoadedModel | None:
    """The live-trained model called ``name``, or None when there is none (or it was forgotten)."""
    return _trained.get(name)


def allowed_names() -> list[str] | None:
    """Return the allowlist from the environment, or None when it is unset (anything allowed)."""
    raw = os.environ.get(ALLOWLIST_VARIABLE, "").strip()
    return [name.strip() for name in raw.split(",") if name.strip()] if raw else None


def available_models() -> list[ModelSpec]:
    """Return the registry entries the allowlist permits, embedded ones first."""
    allowed = allowed_names()
    return [spec for spec in REGISTRY.values() if allowed is None or spec.name in allowed or spec.embedded]


def resolve(name: str) -> ModelSpec:
    """Return the spec for a registry name or hub id, or raise ``ModelUnavailable``.

    The embedded models are always allowed. A hub id must be well formed (no
    paths, no URLs) and permitted by the allowlist.
    """
    name = (name or "").strip()
    allowed = allowed_names()
    if name in _trained:
        return _trained[name].spec
    if name in REGISTRY:
        spec = REGISTRY[name]
        if spec.embedded or allowed is None or name in allowed or "*" in allowed:
            return spec
        raise ModelUnavailable(f"The model '{name}' is not allowed on this server.")
    if not _HUB_ID.match(name) or ".." in name:
        raise ModelUnavailable("That is not a Hugging Face model id (expected something like 'owner/model').")
    if allowed is not None and name not in allowed and "*" not in allowed:
        raise ModelUnavailable(f"The model '{name}' is not allowed on this server.")
    return ModelSpec(name, "causal", "custom hub model")  # kind is read from its config on load


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Return whether a TCP connection to the Hugging Face hub opens within ``timeout`` seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def load_model(name: str) -> LoadedModel:
    """Load a registry model or hub id; return it ready for analysis.

    Raises ``ModelUnavailable`` with a message for the user when the model is
    not allowed, cannot be reached (no hub within a few seconds), or is not a
    causal or masked language model.
    """
    spec = resolve(name)
    if trained_model(spec.name):
        return trained_model(spec.name)
    started = time.perf_counter()
    if spec.embedded:
        tokenizer, model, kind = _from_pretrained(spec, local_files_only=True)
    else:
        try:  # already in the local Hugging Face cache?
            tokenizer, model, kind = _from_pretrained(spec, local_files_only=True)
        except (OSError, ValueError):
            if not hub_reachable():
                raise ModelUnavailable(
                    f"'{spec.name}' is not on this machine and the Hugging Face hub cannot be reached. "
                    f"The embedded models ({EMBEDDED_GPT}, {EMBEDDED_BERT}) work offline."
                ) from None
            try:
                tokenizer, model, kind = _from_pretrained(spec, local_files_only=False)
            except (OSError, ValueError) as error:
                raise ModelUnavailable(f"'{spec.name}' could not be loaded: {error}") from None
    return LoadedModel(replace(spec, kind=kind), tokenizer, model, time.perf_counter() - started)


def load_tokenizer(name: str):
    """Return just the tokenizer of a hub model when it is in the local cache, else None (never downloads)."""
    try:
        return AutoTokenizer.from_pretrained(resolve(name).source, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError):
        return None


def _from_pretrained(spec: ModelSpec, local_files_only: bool) -> tuple[object, PreTrainedModel, ModelKind]:
    """The one place that calls ``from_pretrained``: safetensors only, no remote code."""
    common = {"local_files_only": local_files_only, "trust_remote_code": False}
    kind = spec.kind if spec.name in REGISTRY else _kind_from_config(AutoConfig.from_pretrained(spec.source, **common))
    model_class = AutoModelForCausalLM if kind == "causal" else AutoModelForMaskedLM
    model = model_class.from_pretrained(
        spec.source, dtype=torch.float32, attn_implementation="eager", use_safetensors=True, **common
    )
    tokenizer = AutoTokenizer.from_pretrained(spec.source, use_fast=True, **common)
    model.eval()
    return tokenizer, model, kind


def _kind_from_config(config) -> ModelKind:
    architectures = " ".join(config.architectures or [])
    if "MaskedLM" in architectures:
        return "masked"
    if "CausalLM" in architectures or "LMHeadModel" in architectures:
        return "causal"
    raise ModelUnavailable(f"This app explains language models; '{architectures or 'unknown'}' is not one.")
