"""Torch's threads per operation: half the cores by default, or what the server's operator says."""

import os

import torch

from explainer.runtime import THREADS_VARIABLE, torch_threads, use_torch_threads


def test_half_the_cores_by_default_and_the_variable_otherwise(monkeypatch):
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert torch_threads() == max(1, (os.cpu_count() or 2) // 2)
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert torch_threads() == 3
    monkeypatch.setenv(THREADS_VARIABLE, "0")
    assert torch_threads() == 1  # at least one


def test_the_setting_applies_to_the_whole_process(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv(THREADS_VARIABLE, "1")
    try:
        assert use_torch_threads() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
