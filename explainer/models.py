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

import json
import os
import re
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import torch
from huggingface_hub import hf_hub_download, snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
)
from transformers.models.auto.configuration_auto import CONFIG_MAPPING

from explainer.architectures import Architecture, ModelKind, UnknownArchitecture, architecture_of
from explainer.i18n import N_, _
from explainer.runtime import device

EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "models"
EMBEDDED_GPT = "tiny-gpt-austen"
EMBEDDED_BERT = "tiny-bert-austen"
EMBEDDED_ZH = "tiny-gpt-zh"  # bilingual: Chinese news and reviews, and some Austen
EMBEDDED_TRANSLATOR = "tiny-translate-numbers"  # encoder–decoder: Arabic numerals ↔ Chinese numerals
HUB_TRANSLATOR = "Helsinki-NLP/opus-mt-en-zh"
LANGUAGE_MODELS: tuple[ModelKind, ...] = ("causal", "masked")  # what the sidebar's pages explain
TRANSLATORS: tuple[ModelKind, ...] = ("seq2seq",)  # what the translation page explains
MODEL_CLASSES = {"causal": AutoModelForCausalLM, "masked": AutoModelForMaskedLM, "seq2seq": AutoModelForSeq2SeqLM}
DEFAULT_MODEL = EMBEDDED_GPT
ALLOWLIST_VARIABLE = "EXPLAINER_ALLOWED_MODELS"
HUB_PROBE_SECONDS = 3.0
MAX_PARAMETERS_VARIABLE = "EXPLAINER_MAX_MODEL_PARAMETERS"
CPU_MAX_PARAMETERS = 1_000_000_000  # 4 GB of fp32 weights: Qwen2.5-0.5B fits, a 7B model does not
GPU_MAX_PARAMETERS = 4_000_000_000
HUB_FILES = ["config.json", "generation_config.json", "*.safetensors", "*.safetensors.index.json",
             "tokenizer*", "vocab*", "merges.txt", "special_tokens_map.json", "*.model", "*.spm"]  # never *.bin

@dataclass(frozen=True)
class ModelSpec:
    """One entry of the registry."""

    name: str  # what the picker shows; the hub id for hub models
    kind: ModelKind
    description: str  # English, marked with ``N_``: the picker shows ``_(description)``
    embedded: bool = False

    @property
    def source(self) -> str:
        """The folder (embedded) or hub id that ``from_pretrained`` loads."""
        return str(EMBEDDED_DIR / self.name) if self.embedded else self.name


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(EMBEDDED_GPT, "causal", N_("4-layer GPT-2 trained here on Jane Austen (embedded, default)"), True),
        ModelSpec(EMBEDDED_BERT, "masked", N_("4-layer BERT trained here on Jane Austen (embedded)"), True),
        ModelSpec(EMBEDDED_ZH, "causal",
                  N_("4-layer GPT-2 trained here on Chinese news and reviews, and some Austen (embedded, bilingual)"), True),
        ModelSpec("gpt2", "causal", N_("OpenAI GPT-2 small, 124M parameters (hub)")),
        ModelSpec("distilgpt2", "causal", N_("Distilled GPT-2, 82M parameters (hub)")),
        ModelSpec("bert-base-uncased", "masked", N_("Google BERT base, 110M parameters (hub)")),
        ModelSpec("HuggingFaceTB/SmolLM2-135M", "causal", N_("SmolLM2, a current small LM, 135M parameters (hub)")),
        ModelSpec("Qwen/Qwen2.5-0.5B", "causal", N_("Qwen2.5, reads Chinese and English, 494M parameters (hub)")),
        ModelSpec("HuggingFaceTB/SmolLM2-360M-Instruct", "causal",
                  N_("SmolLM2 tuned to follow instructions (chat), 362M parameters (hub)")),
        ModelSpec("Qwen/Qwen2.5-0.5B-Instruct", "causal",
                  N_("Qwen2.5 tuned to follow instructions (chat), Chinese and English, 494M parameters (hub)")),
        ModelSpec(EMBEDDED_TRANSLATOR, "seq2seq",
                  N_("2+2-layer MarianMT trained here: Arabic numerals ↔ Chinese numerals (embedded)"), True),
        ModelSpec(HUB_TRANSLATOR, "seq2seq", N_("MarianMT English → Chinese by Helsinki-NLP, 77M parameters (hub)")),
    )
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,95})?$")


class ModelUnavailable(ValueError):
    """A model that cannot be used here; the message is meant for the user."""


class HubUnreachable(ModelUnavailable):
    """A hub model that is not in the local cache, while the hub cannot be reached (no internet)."""


@dataclass
class LoadedModel:
    """A tokenizer and model ready for analysis (eval mode, fp32, eager attention)."""

    spec: ModelSpec  # its kind is the architecture's
    tokenizer: object  # a transformers PreTrainedTokenizerFast
    model: PreTrainedModel

    @property
    def architecture(self) -> Architecture:
        """What the stages need to know about the model's family (tables, q/k/v, W_O, final norm, head)."""
        return architecture_of(self.model.config)

    @property
    def context_length(self) -> int:
        """The most tokens the model reads at once."""
        config = self.model.config
        for attribute in ("n_positions", "max_position_embeddings"):
            if getattr(config, attribute, None):
                return int(getattr(config, attribute))
        return int(self.tokenizer.model_max_length)


def allowed_names() -> list[str] | None:
    """Return the allowlist from the environment, or None when it is unset (anything allowed)."""
    raw = os.environ.get(ALLOWLIST_VARIABLE, "").strip()
    return [name.strip() for name in raw.split(",") if name.strip()] if raw else None


def available_models(kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS) -> list[ModelSpec]:
    """Return the registry entries of ``kinds`` that the allowlist permits, embedded ones first."""
    allowed = allowed_names()
    return [spec for spec in REGISTRY.values()
            if spec.kind in kinds and (allowed is None or spec.name in allowed or spec.embedded)]


def resolve(name: str, registry_only: bool = False) -> ModelSpec:
    """Return the spec for a registry name or hub id, or raise ``ModelUnavailable``.

    The embedded models are always allowed. A hub id must be well formed (no
    URLs), must not name anything on this server's disk (a hub id is looked up
    only on the hub and in its cache), and must be permitted by the allowlist;
    with ``registry_only`` (a classroom server), only the registry's models are.
    """
    name = (name or "").strip()
    allowed = allowed_names()
    if name in REGISTRY:
        spec = REGISTRY[name]
        if spec.embedded or allowed is None or name in allowed or "*" in allowed:
            return spec
        raise ModelUnavailable(_("The model `{name}` is not allowed on this server.").format(name=name))
    if registry_only:
        raise ModelUnavailable(_("This server offers only the models in its list."))
    if not _HUB_ID.match(name) or ".." in name:
        raise ModelUnavailable(_("That is not a Hugging Face model id (expected something like 'owner/model')."))
    if Path(name).exists():
        raise ModelUnavailable(_("That name is a file or folder on this server; models are chosen by hub id only."))
    if allowed is not None and name not in allowed and "*" not in allowed:
        raise ModelUnavailable(_("The model `{name}` is not allowed on this server.").format(name=name))
    return ModelSpec(name, "causal", N_("custom hub model"))  # kind is read from its config on load


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


def max_parameters() -> int:
    """The largest model this server loads: ``EXPLAINER_MAX_MODEL_PARAMETERS``, else 1B on a CPU, 4B with a GPU."""
    default = GPU_MAX_PARAMETERS if torch.cuda.is_available() else CPU_MAX_PARAMETERS
    return int(float(os.environ.get(MAX_PARAMETERS_VARIABLE, default)))


def load_model(name: str, registry_only: bool = False, kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS) -> LoadedModel:
    """Load a registry model or hub id; return it ready for analysis.

    Raises ``ModelUnavailable`` with a message for the user when the model is
    not allowed, cannot be reached (no hub within a few seconds), needs remote
    code, has no safetensors weights, is larger than ``max_parameters()``, or
    is not of ``kinds`` (by default a causal or masked language model; the
    translation page asks for ``TRANSLATORS``).
    """
    spec = resolve(name, registry_only)
    if spec.name in REGISTRY and spec.kind not in kinds:
        raise ModelUnavailable(_wrong_kind(spec.name, spec.kind))
    if spec.embedded:
        folder = Path(spec.source)
    else:
        try:  # already in the local Hugging Face cache?
            folder = _hub_snapshot(spec.name, local_files_only=True, kinds=kinds)
        except LocalEntryNotFoundError:
            if not hub_reachable():
                raise HubUnreachable(_offline_message(spec.name, kinds)) from None
            try:
                folder = _hub_snapshot(spec.name, local_files_only=False, kinds=kinds)
            except OSError:
                raise ModelUnavailable(
                    _("`{name}` could not be downloaded from the Hugging Face hub.").format(name=spec.name)) from None
    tokenizer, model, kind = from_folder(spec, folder, kinds)
    return LoadedModel(replace(spec, kind=kind), tokenizer, model)


def _offline_message(name: str, kinds: tuple[ModelKind, ...]) -> str:
    """Why a hub model cannot be had offline, and which embedded models of ``kinds`` can."""
    embedded = ", ".join(spec.name for spec in REGISTRY.values() if spec.embedded and spec.kind in kinds)
    return _("`{name}` is not on this machine and the Hugging Face hub cannot be reached. "
             "These models, trained here, work offline: {embedded}.").format(name=name, embedded=embedded)


def load_tokenizer(name: str):
    """Return just the tokenizer of a hub model when it is in the local cache, else None (never downloads)."""
    try:
        folder = Path(snapshot_download(resolve(name).name, allow_patterns=HUB_FILES, local_files_only=True))
        return AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError):
        return None


def _hub_snapshot(repo_id: str, local_files_only: bool, kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS) -> Path:
    """Return the folder, inside the Hugging Face cache, that holds ``repo_id``'s config, safetensors and tokenizer.

    The config comes first and is checked (remote code, size, kind) before any weights are fetched.
    Raises ``LocalEntryNotFoundError`` when ``local_files_only`` and the model is not (wholly) in the cache.
    """
    config_file = Path(hf_hub_download(repo_id, "config.json", local_files_only=local_files_only))
    _checked_config(repo_id, config_file.parent, kinds)
    folder = Path(snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=local_files_only))
    if not any(folder.glob("*.safetensors")):
        if any(folder.glob("*.bin")) or any(folder.glob("*.pt*")) or not local_files_only:
            raise ModelUnavailable(_("`{name}` has no safetensors weights, only pickle files, which this app "
                                     "never loads: unpickling can run any code.").format(name=repo_id))
        raise LocalEntryNotFoundError(f"{repo_id}: no weights in the cache")
    return folder


def _checked_config(repo_id: str, folder: Path, kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS):
    """Return the model's config, or refuse it: remote code, too many parameters, or not of ``kinds``."""
    declared = json.loads((folder / "config.json").read_text())
    if "auto_map" in declared or declared.get("model_type") not in CONFIG_MAPPING:
        raise ModelUnavailable(_("`{name}` needs its own code from the hub (trust_remote_code), which this app "
                                 "never runs. Choose a model that transformers supports as it is.").format(name=repo_id))
    config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    kind = _kind_of(config, kinds)
    with torch.device("meta"):  # builds the model's shape without allocating a single weight
        shape = MODEL_CLASSES[kind].from_config(config)
    parameters = sum(p.numel() for p in shape.parameters())
    if parameters > max_parameters():
        raise ModelUnavailable(
            _("`{name}` has {billions:.1f} billion parameters; this server loads models of up to "
              "{limit:.1f} billion ({variable}).").format(
                name=repo_id, billions=parameters / 1e9, limit=max_parameters() / 1e9, variable=MAX_PARAMETERS_VARIABLE)
        )
    return config


def from_folder(spec: ModelSpec, folder: Path,
                kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS) -> tuple[object, PreTrainedModel, ModelKind]:
    """The one place that calls ``from_pretrained``, on a folder: safetensors only, no remote code; the model is
    put on ``runtime.device()``."""
    common = {"local_files_only": True, "trust_remote_code": False}
    kind = _kind_of(AutoConfig.from_pretrained(folder, **common), kinds)
    model = MODEL_CLASSES[kind].from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager", use_safetensors=True, **common
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True, **common)
    model.to(device()).eval()  # EXPLAINER_DEVICE: a GPU when there is one
    return tokenizer, model, kind


def _kind_of(config, kinds: tuple[ModelKind, ...] = LANGUAGE_MODELS) -> ModelKind:
    """'causal', 'masked' or 'seq2seq', as the model's architecture says; ``ModelUnavailable`` when it is not one
    of ``kinds``."""
    try:
        kind = architecture_of(config).kind
    except UnknownArchitecture as error:
        raise ModelUnavailable(str(error)) from None
    if kind not in kinds:
        raise ModelUnavailable(_wrong_kind(" ".join(config.architectures or [config.model_type]), kind))
    return kind


def _wrong_kind(name: str, kind: ModelKind) -> str:
    """Why a model of ``kind`` is refused where it was asked for: a message for the user."""
    if kind == "seq2seq":
        return _("`{name}` is a translation model (an encoder–decoder): open it on the page "
                 "“Translation: encoder and decoder”.").format(name=name)
    return _("`{name}` is a language model, not a translation model (an encoder–decoder).").format(name=name)
