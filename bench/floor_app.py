"""The framework's floor: a Streamlit page that redraws one Plotly chart when the text changes, and runs no model.

bench/page_updates.py times it exactly as it times the app's pages.
"""

import plotly.graph_objects as go
import streamlit as st

text = st.sidebar.text_area("Your text", "Once upon a time", key="prompt")
st.query_params["text"] = text
words = text.split() or [""]
st.plotly_chart(go.Figure(go.Bar(x=list(range(len(words))), y=[len(w) for w in words])))
