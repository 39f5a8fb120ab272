"""Kept models: private to their trainer, shared by link, bounded per learner and in total, saved atomically."""

import os
import time

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from explainer.models import ModelUnavailable
from explainer.training.kept_models import PARTIAL, PARTIAL_TIMEOUT, KeptModels, folder_bytes
from tests.app_harness import open_page


def tiny_model(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=4096, n_positions=32, n_embd=16, n_layer=1, n_head=2,
                                      bos_token_id=0, eos_token_id=0))


def test_each_learner_sees_only_their_own_kept_models(tmp_path, gpt):
    store = KeptModels(tmp_path)
    mine = store.keep("A", "mine", gpt.tokenizer, tiny_model(), {}).spec.name
    theirs = store.keep("B", "theirs", gpt.tokenizer, tiny_model(), {}).spec.name
    assert store.names_of("A") == [mine] and store.names_of("B") == [theirs]


def test_one_learner_cannot_push_out_the_others(tmp_path, gpt):
    store = KeptModels(tmp_path, max_total=8, max_per_owner=3)
    others = [store.keep(owner, owner, gpt.tokenizer, tiny_model(), {}).spec.name for owner in ("B", "C")]
    mine = [store.keep("A", f"run {i}", gpt.tokenizer, tiny_model(), {}).spec.name for i in range(8)]
    assert store.names_of("A") == mine[-3:]  # their own oldest went first
    assert [name for owner in ("B", "C") for name in store.names_of(owner)] == others
    with pytest.raises(ModelUnavailable, match="is gone"):
        store.load(mine[0])


def test_the_total_is_bounded_too(tmp_path, gpt):
    store = KeptModels(tmp_path, max_total=4, max_per_owner=3)
    names = [store.keep(f"owner {i}", "x", gpt.tokenizer, tiny_model(), {}).spec.name for i in range(6)]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(n.removeprefix("trained:") for n in names[-4:])


def test_a_crash_mid_save_loses_nothing_saved_before(tmp_path, gpt, monkeypatch):
    store = KeptModels(tmp_path)
    saved = store.keep("A", "saved", gpt.tokenizer, tiny_model(), {}).spec.name
    monkeypatch.setattr(type(gpt.tokenizer), "save_pretrained", lambda *args, **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        store.keep("A", "crashes", gpt.tokenizer, tiny_model(1), {})
    monkeypatch.undo()
    partial = next(path for path in tmp_path.iterdir() if path.name.startswith(PARTIAL))
    restarted = KeptModels(tmp_path)  # a young partial folder may be another replica's save in progress: it stays,
    assert restarted.names_of("A") == [saved]  # but is never listed
    assert restarted.load(saved).spec.description == "saved"
    old = time.time() - PARTIAL_TIMEOUT - 1
    os.utime(partial, (old, old))
    KeptModels(tmp_path)  # one left from a crash long ago is removed
    assert [p.name for p in tmp_path.iterdir()] == [saved.removeprefix("trained:")]


def test_the_bytes_on_disk_are_bounded_oldest_first(tmp_path, gpt):
    one_model = folder_bytes(KeptModels(tmp_path / "probe")._path(
        KeptModels(tmp_path / "probe").keep("A", "probe", gpt.tokenizer, tiny_model(), {}).spec.name))
    store = KeptModels(tmp_path / "kept", max_bytes=int(2.5 * one_model))
    names = [store.keep(f"owner {i}", "x", gpt.tokenizer, tiny_model(), {}).spec.name for i in range(4)]
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == sorted(n.removeprefix("trained:") for n in names[-2:])
    assert folder_bytes(tmp_path / "kept") <= 2.5 * one_model
    lone = KeptModels(tmp_path / "small", max_bytes=1)  # a bound below one model still keeps the newest
    newest = lone.keep("A", "x", gpt.tokenizer, tiny_model(), {}).spec.name
    assert lone.names_of("A") == [newest]


@pytest.mark.parametrize("name", ["trained:0123456789abcdef", "trained:../../models/tiny-gpt-austen", "trained:"])
def test_a_link_to_a_gone_model_says_so_plainly(tmp_path, name):
    with pytest.raises(ModelUnavailable, match="is gone"):
        KeptModels(tmp_path).load(name)


@pytest.mark.slow
def test_a_shared_link_opens_the_model_in_another_session_and_a_gone_one_says_so(gpt):
    from pages.shared import kept_models  # the server's own store, in the test's data directory

    name = kept_models().keep("someone else", "shared", gpt.tokenizer, tiny_model(), {}).spec.name
    stranger = open_page("pages/loss.py", prompt=None, text="Once upon a time")
    label = "shared — trained here"  # how the sidebar lists it
    assert label not in stranger.sidebar.selectbox(key="model_choice").options
    friend = open_page("pages/loss.py", prompt=None, text="Once upon a time", model=name)
    assert friend.sidebar.selectbox(key="model_choice").value == name
    assert label in friend.sidebar.selectbox(key="model_choice").options
    assert not friend.error
    gone = open_page("pages/loss.py", prompt=None, text="Once upon a time", model="trained:00000000deadbeef")
    assert any("is gone" in error.value for error in gone.error)
