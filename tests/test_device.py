"""EXPLAINER_DEVICE: which device the models run on, and the CPU path that every machine has."""

import pytest
import torch

from explainer import runtime
from explainer.analysis import analyze
from explainer.runtime import DEVICE_VARIABLE, choose_device, device_description
from tests.app_harness import open_page


@pytest.mark.parametrize(("cuda", "mps", "expected"), [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_picks_cuda_then_mps_then_the_cpu(cuda, mps, expected):
    assert choose_device("auto", cuda, mps) == torch.device(expected)
    assert choose_device("", cuda, mps) == torch.device(expected)


@pytest.mark.parametrize("name", ["cpu", "CPU ", "cuda", "mps"])
def test_a_named_device_that_exists_is_taken(name):
    assert choose_device(name, cuda_available=True, mps_available=True) == torch.device(name.strip().lower())


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_a_named_device_that_is_missing_is_refused_not_replaced_by_the_cpu(name):
    with pytest.raises(ValueError, match=f"{DEVICE_VARIABLE}={name}, but torch sees no {name} device"):
        choose_device(name, cuda_available=False, mps_available=False)


def test_a_name_that_is_no_device_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of auto, cpu, cuda, mps"):
        choose_device("gpu", cuda_available=True, mps_available=True)


@pytest.fixture
def fresh_device(monkeypatch):
    """``runtime.device()`` chosen again from the environment this test sets, and again after it."""
    runtime.device.cache_clear()
    yield monkeypatch
    runtime.device.cache_clear()


def test_the_process_device_follows_the_variable(fresh_device):
    fresh_device.setenv(DEVICE_VARIABLE, "cpu")
    assert runtime.device() == torch.device("cpu")
    fresh_device.delenv(DEVICE_VARIABLE)
    runtime.device.cache_clear()
    assert runtime.device() == choose_device("auto", torch.cuda.is_available(), torch.backends.mps.is_available())


def test_the_embedded_models_load_on_the_process_device_and_their_results_come_back_to_the_cpu(gpt, bert):
    for loaded in (gpt, bert):
        assert loaded.model.device == runtime.device()
        analysis = analyze(loaded, "The cat sat on the [MASK].")
        assert analysis.hidden_states.dtype == "float32" and analysis.attentions[0].dtype == "float32"


def test_the_cpu_is_named_with_its_threads():
    assert device_description(torch.device("cpu")) == f"CPU · threads: {torch.get_num_threads()}"


@pytest.mark.slow
def test_the_sidebar_names_the_device():
    app = open_page("pages/loss.py")
    assert f"Computed on: {device_description(runtime.device())}" in [c.value for c in app.sidebar.caption]


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, so EXPLAINER_DEVICE=cuda is valid here")
def test_a_server_told_to_use_a_missing_gpu_says_so_instead_of_failing(fresh_device):
    fresh_device.setenv(DEVICE_VARIABLE, "cuda")
    app = open_page("pages/loss.py")
    assert not app.exception
    assert [e.value for e in app.sidebar.error] == [f"{DEVICE_VARIABLE}=cuda, but torch sees no cuda device on this machine"]
