"""What every page shares: the sidebar (model, prompt, examples), the caches,
the error handling, and the chart + CSV export widget.

Pages call ``page_analysis()`` to get the current text's ``Analysis`` and
``chart()`` to show a figure with its numbers; they never load models or catch
errors themselves.
"""

from __future__ import annotations

import logging
import os

import pandas as pd
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from explainer.analysis import Analysis, analyze
from explainer.models import (
    DEFAULT_MODEL, REGISTRY, LoadedModel, ModelUnavailable, available_models, load_model, trained_model_names,
)
from explainer.plots import PLOTLY_CONFIG
from pages.live_training import sidebar_heartbeat

EXAMPLE_PROMPTS = (
    "The cat is on the",
    "Once upon a time",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a",
    "Emma Woodhouse, handsome, clever, and rich,",
    "She was the [MASK] of the family.",
    "大语言模型是如何工作的？",
)
OTHER_MODEL = "Other Hugging Face model…"
URL_TEXT_LIMIT = 1500  # characters of the prompt written into the shareable URL
MAX_LOADED_MODELS = int(os.environ.get("EXPLAINER_MAX_MODELS", "3"))

log = logging.getLogger("explainer")


ENTERED_THROUGH_APP = "entered_through_app"  # session-state flag, set by app.py's sidebar() on every run


def _require_app_entry() -> None:
    """Make a deep link such as ``/attention`` on a fresh server go through app.py.

    Because a ``pages/`` folder exists, Streamlit starts in its legacy
    multipage mode and runs a requested page alone, without app.py's sidebar,
    until app.py has run once in the process. A page that finds itself run
    that way switches the process to ``st.navigation`` mode and reruns, so
    app.py opens the requested page. Called by ``page_header`` on every page.
    """
    if not st.session_state.get(ENTERED_THROUGH_APP):
        PagesManager.uses_pages_directory = False
        st.rerun()


# ------------------------------------------------------------------ caches


@st.cache_resource(max_entries=MAX_LOADED_MODELS, show_spinner="Loading the model…")
def cached_model(name: str) -> LoadedModel:
    """One loaded model per name per server process (read-only: never mutate it)."""
    return load_model(name)


@st.cache_data(ttl=120, show_spinner="Looking for the model…")
def model_problem(name: str) -> str | None:
    """Return why ``name`` can't be loaded (remembered for two minutes), or None when it can."""
    try:
        cached_model(name)
        return None
    except ModelUnavailable as error:
        return str(error)
    except Exception:  # noqa: BLE001 - any loading failure must become a message, not a traceback
        log.exception("loading %s failed", name)
        return f"'{name}' could not be loaded."


@st.cache_data(max_entries=64, show_spinner="Running the model…")
def cached_analysis(model_name: str, text: str) -> Analysis:
    """The analysis of ``text`` under ``model_name``, computed once per (model, text)."""
    return analyze(cached_model(model_name), text)


# ----------------------------------------------------------------- sidebar


def _set_prompt(text: str) -> None:
    st.session_state["prompt"] = text


def use_model(name: str) -> None:
    """Button callback: make ``name`` the sidebar's model."""
    st.session_state["model_choice"] = name
    st.toast(f"Every page now explains {name}.", icon=":material/check:")


def _model_names() -> list[str]:
    """The sidebar's choices: the registry's models, then those trained live on this server."""
    return [spec.name for spec in available_models()] + trained_model_names()


def _initialise_from_url() -> None:
    """On a session's first run, take the model and text from the URL (a shared link)."""
    if "prompt" in st.session_state:
        return
    params = st.query_params
    st.session_state["prompt"] = params.get("text", EXAMPLE_PROMPTS[0])
    requested = params.get("model", DEFAULT_MODEL)
    if requested in _model_names():
        st.session_state["model_choice"] = requested
    else:
        st.session_state["model_choice"] = OTHER_MODEL
        st.session_state["custom_model"] = requested


def sidebar() -> None:
    """Draw the shared sidebar and keep the URL in step with it."""
    st.session_state[ENTERED_THROUGH_APP] = True
    _initialise_from_url()
    names = _model_names()
    if st.session_state.get("model_choice") not in names + [OTHER_MODEL]:  # a trained model that was forgotten
        st.session_state["model_choice"] = DEFAULT_MODEL
    with st.sidebar:
        st.selectbox(
            "Model",
            names + [OTHER_MODEL],
            key="model_choice",
            format_func=lambda name: f"{name} — {REGISTRY[name].description}" if name in REGISTRY else name,
            help="The embedded models work offline. Hub models need the internet the first time.",
        )
        if st.session_state["model_choice"] == OTHER_MODEL:
            st.text_input("Hugging Face model id", key="custom_model", placeholder="owner/model")
        st.text_area("Your text", key="prompt", height=130, help="Every page explains this text. It is kept in the URL.")
        st.caption("Examples")
        for index, example in enumerate(EXAMPLE_PROMPTS):
            st.button(example if len(example) < 40 else example[:38] + "…", key=f"example_{index}",
                      on_click=_set_prompt, args=(example,), width="stretch")
    sidebar_heartbeat()
    st.query_params["text"] = st.session_state["prompt"][:URL_TEXT_LIMIT]
    st.query_params["model"] = requested_model_name()


def requested_model_name() -> str:
    choice = st.session_state.get("model_choice", DEFAULT_MODEL)
    return (st.session_state.get("custom_model") or "").strip() if choice == OTHER_MODEL else choice


def active_model() -> LoadedModel:
    """The model the user asked for, or the embedded default (with a message) when it can't be had."""
    name = requested_model_name() or DEFAULT_MODEL
    problem = model_problem(name)
    if problem:
        st.error(f"{problem} Showing **{DEFAULT_MODEL}** instead.", icon=":material/cloud_off:")
        name = DEFAULT_MODEL
    return cached_model(name)


def page_analysis() -> Analysis:
    """The current text's analysis under the active model; stops the page with a hint when there is none."""
    model = active_model()
    try:
        analysis = cached_analysis(model.spec.name, st.session_state.get("prompt", ""))
    except ValueError as hint:
        st.info(str(hint), icon=":material/edit:")
        st.stop()
    except Exception:  # noqa: BLE001 - the user sees a message, the log gets the traceback
        log.exception("analysis failed")
        st.error("Sorry, the model could not process this text. Try a shorter or different text.")
        st.stop()
    if analysis.truncated:
        st.warning(
            f"Your text is {analysis.original_token_count:,} tokens long, but **{analysis.model_name}** reads "
            f"at most {analysis.context_length:,}. Only the first {len(analysis.tokens):,} tokens are shown.",
            icon=":material/content_cut:",
        )
    return analysis


# ---------------------------------------------------------------- widgets


def chart(figure, data: pd.DataFrame, name: str) -> None:
    """Show a Plotly figure (its camera button saves a PNG) and a CSV download of its numbers."""
    st.plotly_chart(figure, config=PLOTLY_CONFIG, key=f"chart_{name}")
    csv_download(data, name)


def csv_download(data: pd.DataFrame, name: str) -> None:
    st.download_button(
        "Download the numbers (CSV)",
        data.to_csv(index=False).encode("utf-8"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv_{name}",
        icon=":material/download:",
        on_click="ignore",
    )


def page_header(title: str, question: str) -> None:
    """The page title and the question the page answers."""
    _require_app_entry()
    st.title(title)
    st.caption(question)
