"""The server: app.py's pages, with the default models loaded before the first visitor arrives.

    streamlit run serve.py        # takes the same options as app.py, e.g. --server.address 0.0.0.0

Streamlit runs app.py for each visitor; this file wraps it in an ``st.App`` whose start-up (its ASGI lifespan)
loads the embedded default models and analyses the first example text with each, so the first page a class
opens draws at once. The server answers its health check only once that is done.
"""

from contextlib import asynccontextmanager

import anyio
import streamlit as st


@asynccontextmanager
async def load_the_default_models(app):
    from pages.shared import warm_up  # imported once Streamlit's runtime is up, so the caches are the sessions' own

    await anyio.to_thread.run_sync(warm_up)
    yield


app = st.App("app.py", lifespan=load_the_default_models)
