"""Shared fixtures: the two embedded models, loaded once per test session."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, load_model  # noqa: E402


@pytest.fixture(scope="session")
def gpt():
    return load_model(EMBEDDED_GPT)


@pytest.fixture(scope="session")
def bert():
    return load_model(EMBEDDED_BERT)
