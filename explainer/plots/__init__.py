"""Every Plotly figure of the app (moved here whole; split by stage in the next commit)."""

from explainer.plots.attention import *  # noqa: F401,F403
