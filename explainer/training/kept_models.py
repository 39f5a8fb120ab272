"""Models trained live in the app and kept: private to their trainer, shared by link, saved across restarts.

A kept model is called ``trained:<id>``, with 16 random hex characters for the id. That name is its link:
the sidebar of a session lists only the models that session trained (and any it opened by link), so a
model trained on one student's pasted text is seen by others only when its trainer shares the page's URL.

Each kept model is saved, with its training record, in its own folder of the data directory
(``EXPLAINER_DATA_DIR``, default ``.cache/data`` in the repository), so a link still opens it after the
server restarts. A folder is written under a temporary name and renamed when complete, so a crash
mid-save leaves no half-written model behind (a half-written folder older than ``PARTIAL_TIMEOUT`` is removed;
a younger one may be another replica's save in progress, when replicas share the directory). At most
``max_total`` models are kept, at most ``max_per_owner`` per trainer, so one student cannot push out everybody
else's, and at most ``max_bytes`` on disk (``EXPLAINER_DATA_DIR_MB``); the oldest go first.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedModel

from explainer.i18n import _
from explainer.models import LoadedModel, ModelSpec, ModelUnavailable, from_folder

KEPT_PREFIX = "trained:"
DATA_DIR_VARIABLE = "EXPLAINER_DATA_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / ".cache" / "data"
MAX_KEPT = 8
MAX_KEPT_PER_OWNER = 3
DATA_DIR_MB_VARIABLE = "EXPLAINER_DATA_DIR_MB"
DEFAULT_DATA_DIR_MB = 200  # the largest live model (Large) takes about 12 MB with its tokenizer
PARTIAL_TIMEOUT = 600  # seconds: a save takes a few; a partial folder older than this was left by a crash
LOADED_AT_ONCE = 4  # kept models held in memory; the others wait on disk
PARTIAL = ".partial-"  # the prefix of a folder still being written


def data_dir() -> Path:
    """The server's data directory: ``EXPLAINER_DATA_DIR``, else ``.cache/data`` in the repository."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR)


def max_kept_bytes() -> int:
    """``EXPLAINER_DATA_DIR_MB`` (default ``DEFAULT_DATA_DIR_MB``) in bytes: what the kept models may take on disk."""
    return int(float(os.environ.get(DATA_DIR_MB_VARIABLE) or DEFAULT_DATA_DIR_MB) * 2**20)


def folder_bytes(folder: Path) -> int:
    """The size of the files under ``folder``, in bytes."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def is_kept_name(name: str) -> bool:
    return name.startswith(KEPT_PREFIX)


@dataclass(frozen=True)
class KeptRecord:
    """What is saved beside a kept model's weights (``record.json``)."""

    name: str  # trained:<id>
    title: str  # what the sidebar shows, e.g. "Small on Austen, 400 steps"
    owner: str  # the session that trained it
    created: float  # seconds since the epoch
    training: dict  # the run's figures: corpus, size, steps, tokens seen, final losses


class KeptModels:
    """The kept models of one server, in memory and in ``folder``. Thread-safe."""

    def __init__(self, folder: Path, max_total: int = MAX_KEPT, max_per_owner: int = MAX_KEPT_PER_OWNER,
                 max_bytes: int | None = None):
        self.folder = folder
        self.max_total = max_total
        self.max_per_owner = max_per_owner
        self.max_bytes = max_kept_bytes() if max_bytes is None else max_bytes
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()  # name -> model, least recently used first
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)
        for partial in folder.glob(PARTIAL + "*"):  # left by a crash mid-save: never complete, never loaded
            if time.time() - partial.stat().st_mtime > PARTIAL_TIMEOUT:
                shutil.rmtree(partial, ignore_errors=True)

    def keep(self, owner: str, title: str, tokenizer, model: PreTrainedModel, training: dict) -> LoadedModel:
        """Save ``model`` for ``owner`` and return it as a loaded model named ``trained:<id>``.

        The model is put in eval mode and must not be trained further.
        """
        model.eval()
        record = KeptRecord(f"{KEPT_PREFIX}{secrets.token_hex(8)}", title, owner, time.time(), training)
        self._save(record, tokenizer, model)
        loaded = LoadedModel(ModelSpec(record.name, "causal", title), tokenizer, model)
        with self._lock:
            self._remember(loaded)
            self._forget_beyond_the_bounds(owner)
        return loaded

    def load(self, name: str) -> LoadedModel:
        """Return the kept model ``name``, from memory or from disk; raise ``ModelUnavailable`` when it is gone."""
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return self._loaded[name]
        record = self.record(name)
        if record is None:
            raise ModelUnavailable(_("The trained model `{name}` is gone: this server keeps the last {total} trained "
                                     "models ({per_learner} per learner), and it was not among them.").format(
                name=name, total=self.max_total, per_learner=self.max_per_owner))
        tokenizer, model, __ = from_folder(ModelSpec(name, "causal", record.title), self._path(name))
        loaded = LoadedModel(ModelSpec(name, "causal", record.title), tokenizer, model)
        with self._lock:
            self._remember(loaded)
        return loaded

    def record(self, name: str) -> KeptRecord | None:
        """The saved record of ``name``, or None when there is no such kept model."""
        path = self._path(name) / "record.json" if is_kept_name(name) else None
        if path is None or not path.is_file():
            return None
        return KeptRecord(**json.loads(path.read_text()))

    def names_of(self, owner: str) -> list[str]:
        """The names of ``owner``'s kept models, oldest first."""
        return [record.name for record in self._records() if record.owner == owner]

    # ------------------------------------------------------------ storage

    def _path(self, name: str) -> Path:
        identifier = name.removeprefix(KEPT_PREFIX)
        if not identifier.isalnum():  # a name from a URL: never a path
            return self.folder / "-"
        return self.folder / identifier

    def _save(self, record: KeptRecord, tokenizer, model: PreTrainedModel) -> None:
        """Write the model, its tokenizer and its record under a temporary name, then rename: all or nothing."""
        partial = self.folder / f"{PARTIAL}{secrets.token_hex(4)}"
        model.save_pretrained(partial, safe_serialization=True)
        tokenizer.save_pretrained(partial)
        (partial / "record.json").write_text(json.dumps(vars(record), indent=1))
        os.replace(partial, self._path(record.name))

    def _records(self) -> list[KeptRecord]:
        """Every saved record, oldest first."""
        records = [self.record(KEPT_PREFIX + path.name) for path in self.folder.iterdir()
                   if path.is_dir() and not path.name.startswith(PARTIAL)]
        return sorted((r for r in records if r is not None), key=lambda r: r.created)

    def _remember(self, loaded: LoadedModel) -> None:
        self._loaded[loaded.spec.name] = loaded
        self._loaded.move_to_end(loaded.spec.name)
        while len(self._loaded) > LOADED_AT_ONCE:
            self._loaded.popitem(last=False)

    def _forget_beyond_the_bounds(self, owner: str) -> None:
        records = self._records()
        mine = [r for r in records if r.owner == owner]
        doomed = mine[: max(0, len(mine) - self.max_per_owner)]
        rest = [r for r in records if r not in doomed]
        doomed += rest[: max(0, len(rest) - self.max_total)]
        kept = [r for r in records if r not in doomed]
        sizes = {r.name: folder_bytes(self._path(r.name)) for r in kept}
        while len(kept) > 1 and sum(sizes[r.name] for r in kept) > self.max_bytes:  # the newest always stays
            doomed.append(kept.pop(0))
        for record in doomed:
            self._loaded.pop(record.name, None)
            shutil.rmtree(self._path(record.name), ignore_errors=True)
