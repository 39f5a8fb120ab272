"""End-to-end tests: the real app in headless Chromium.

Every page is opened, a new prompt is typed into the shared sidebar, and the
test waits until the page has re-run and drawn its Plotly charts (and, on the
attention page, BertViz inside its iframe). Screenshots of every page go to
``test-output/screenshots/`` for a human to look at; the seconds from
committing a prompt to the charts being drawn are printed (run with ``-s``) and
summed up at the end of the run.

    python -m pytest tests/browser -q -s
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tools.browser_driver import (
    PLOT,
    PROJECTOR,
    RUN_TIMEOUT,
    TEXTAREA,
    VIEWPORT,
    commit_prompt,
    main_text_contains,
    screenshot,
    url_text,
    wait_for_charts,
    wait_for_rerun,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

PROMPT = "The little dog ran into the garden"
PROMPT_MARKER = "garden"  # one whole token of PROMPT for the embedded GPT: the page shows it once it has re-run
SHARED_TEXT = "Once upon a time"
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)> javascript:alert(3)"
HOSTILE_MARKER = "cri"  # a token of HOSTILE ("s", "cri", "pt"); the attention heatmap labels only every other token of it
MARKDOWN_PAYLOAD = ("[sign in again](https://evil.example/login) ![](http://evil.example/pixel.png) "
                    "$\\href{https://evil.example/x}{click}$ <img src=http://evil.example/i.png> www.evil.example **bold**")
HEAD_VIEW, MODEL_VIEW = "BertViz: head view", "BertViz: model view"  # the attention page's tabs


@dataclass(frozen=True)
class AppPage:
    name: str  # screenshot name
    path: str  # URL path: st.Page's url path is the file stem
    has_charts: bool = True


PAGES = [
    AppPage("home", "/", has_charts=False),
    AppPage("tokenization", "/tokenization"),
    AppPage("attention", "/attention"),
    AppPage("next_token", "/next_token"),
    AppPage("loss", "/loss"),
    AppPage("embeddings", "/embeddings"),
    AppPage("attention_steps", "/attention_steps"),
    AppPage("gpt_vs_bert", "/gpt_vs_bert"),
    AppPage("generation", "/generation"),
    AppPage("logit_lens", "/logit_lens"),
]
BY_NAME = {p.name: p for p in PAGES}
LONG_TEXT = "It was a fine morning, and Emma walked with Harriet to the village of Highbury. " * 60  # ~1,000 tokens


# ----------------------------------------------------------------- helpers


@dataclass
class Watch:
    """What the app did while a test ran: dialogs opened, server log written."""

    log: Path
    log_start: int
    dialogs: list[str] = field(default_factory=list)

    def new_server_log(self) -> str:
        with self.log.open(errors="replace") as handle:
            handle.seek(self.log_start)
            return handle.read()


@pytest.fixture
def watch(page, server_log) -> Watch:
    watched = Watch(server_log, server_log.stat().st_size)

    def on_dialog(dialog):
        watched.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return watched


def open_page(page, app_page: AppPage, query: str = "") -> None:
    """Open a page and wait until it has drawn; on the generation page, run its steps so that there are charts."""
    page.goto(app_page.path + query, timeout=RUN_TIMEOUT)
    wait_until_idle(page)
    if app_page.name == "generation":
        page.get_by_role("button", name=re.compile(r"^Run \d+ steps$")).click()
    if app_page.has_charts:
        wait_for_charts(page)


def wait_for_bertviz(page, view_tab: str, marker: str):
    """Open a BertViz tab and wait until its iframe has drawn its SVG; return the frame.

    The head view draws the tokens as SVG text, so it waits for ``marker``;
    the model view draws only thumbnails (lines) under a "Heads" title.
    """
    page.get_by_role("tab", name=view_tab).click()
    frame = page.locator('[data-testid="stIFrame"] >> visible=true').first.content_frame
    text = marker if view_tab == HEAD_VIEW else "Heads"
    frame.locator("svg text", has_text=text).first.wait_for(timeout=RUN_TIMEOUT)
    if view_tab == MODEL_VIEW:
        frame.locator("svg line").first.wait_for(state="attached", timeout=RUN_TIMEOUT)
    return frame


def assert_healthy(page, watch: Watch) -> None:
    """No exception box, no error box, no traceback in the server log, no dialog."""
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, f"stException shown: {exceptions.all_inner_texts()}"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"st.error shown: {errors.all_inner_texts()}"
    log = watch.new_server_log()
    assert "Traceback" not in log, f"the server logged a traceback:\n{log[-3000:]}"
    assert not watch.dialogs, f"dialogs opened: {watch.dialogs}"


def report(timings, name: str, seconds: float) -> None:
    timings[name] = seconds
    print(f"  {name}: {seconds:.2f} s from commit to drawn")


# ------------------------------------------------------------------- tests


@pytest.mark.parametrize("app_page", PAGES, ids=lambda p: p.name)
def test_page_follows_a_new_prompt(page, watch, app_page, screenshots, timings):
    open_page(page, app_page)
    assert page.title() == "Inside a language model"
    committed = commit_prompt(page, PROMPT)
    wait_for_rerun(page, PROMPT)
    assert url_text(page) == PROMPT, f"the prompt is not in the URL: {page.url}"
    if app_page.has_charts:
        main_text_contains(page, PROMPT_MARKER)
        charts = wait_for_charts(page)
        report(timings, app_page.name, time.perf_counter() - committed)
        assert charts >= 1
    else:
        page.get_by_role("heading", name="Inside a language model").wait_for()
        report(timings, app_page.name, time.perf_counter() - committed)
    assert page.locator(TEXTAREA).input_value() == PROMPT
    assert_healthy(page, watch)
    screenshot(page, screenshots / f"{app_page.name}.png")

    if app_page.name == "attention":
        page.get_by_role("tab", name="All heads of the layer").click()
        wait_for_charts(page)
        screenshot(page, screenshots / "attention-all-heads.png")
        started = time.perf_counter()
        frame = wait_for_bertviz(page, HEAD_VIEW, PROMPT_MARKER)
        report(timings, "attention BertViz head view (tab click)", time.perf_counter() - started)
        assert frame.locator("svg text").count() >= 2 * len(PROMPT.split())
        screenshot(page, screenshots / "attention-bertviz-head.png")
        wait_for_bertviz(page, MODEL_VIEW, PROMPT_MARKER)
        screenshot(page, screenshots / "attention-bertviz-model.png")
        assert_healthy(page, watch)


@pytest.mark.parametrize("app_page", [BY_NAME["home"], BY_NAME["attention"], BY_NAME["loss"]], ids=lambda p: p.name)
def test_shared_link_fills_the_textarea(page, watch, app_page):
    open_page(page, app_page, "?text=Once%20upon%20a%20time")
    assert page.locator(TEXTAREA).input_value() == SHARED_TEXT
    assert url_text(page) == SHARED_TEXT
    if app_page.has_charts:
        main_text_contains(page, "time")  # the last token: every page with charts shows it
    assert_healthy(page, watch)


@pytest.mark.parametrize("name", ["attention", "loss", "tokenization"])
def test_hostile_prompt_is_shown_as_text(page, watch, name, screenshots, timings):
    app_page = BY_NAME[name]
    open_page(page, app_page)
    title = page.title()
    committed = commit_prompt(page, HOSTILE)
    wait_for_rerun(page, HOSTILE)
    main_text_contains(page, HOSTILE_MARKER)
    wait_for_charts(page)
    report(timings, f"{name} (hostile prompt)", time.perf_counter() - committed)
    if name == "attention":
        screenshot(page, screenshots / "attention-hostile-heatmap.png")  # 50 tokens: are all of them labelled?
        for tab in (HEAD_VIEW, MODEL_VIEW):
            frame = wait_for_bertviz(page, tab, HOSTILE_MARKER)
            assert frame.locator('img[src="x"]').count() == 0, f"an <img> from the prompt got into the {tab} iframe"
        page.get_by_role("tab", name=HEAD_VIEW).click()
    page.wait_for_timeout(500)  # give an injected script a moment to fire
    assert page.locator('img[src="x"]').count() == 0, "an <img> from the prompt got into the page"
    assert page.title() == title
    assert url_text(page) == HOSTILE
    assert_healthy(page, watch)
    screenshot(page, screenshots / f"{name}-hostile.png")


@pytest.mark.parametrize("app_page", PAGES, ids=lambda p: p.name)
def test_markdown_in_a_prompt_makes_no_link_image_or_formula(page, watch, app_page, screenshots):
    """A prompt with a Markdown link and image, a LaTeX \\href, an <img> and a bare domain: the browser shows it
    as text, draws no link, image or formula from it, and never asks the other site for anything."""
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_page(page, app_page)
    commit_prompt(page, MARKDOWN_PAYLOAD)
    wait_for_rerun(page, MARKDOWN_PAYLOAD)
    if app_page.name == "generation":
        page.get_by_role("button", name=re.compile(r"^Run \d+ steps$")).click()
        main_text_contains(page, "evil.example")  # the text so far shows the prompt, as text
    if app_page.has_charts:
        wait_for_charts(page)
    page.wait_for_timeout(500)  # give an image a moment to be requested
    assert page.locator('a[href*="evil"]').count() == 0, "a live link came out of the prompt"
    assert page.locator('img[src*="evil"]').count() == 0, "an image came out of the prompt"
    assert page.locator(".katex", has_text="click").count() == 0, "a formula came out of the prompt"
    assert page.locator("strong", has_text=re.compile(r"^bold$")).count() == 0, "formatting came out of the prompt"
    assert not [url for url in requests if "evil" in url], "the browser fetched something from the other site"
    assert_healthy(page, watch)
    screenshot(page, screenshots / f"{app_page.name}-markdown-payload.png")


@pytest.mark.parametrize("name", ["attention", "loss"])
def test_empty_prompt_shows_a_hint(page, watch, name, screenshots):
    open_page(page, BY_NAME[name])
    commit_prompt(page, "")
    wait_for_rerun(page, "")
    hint = page.locator('[data-testid="stAlertContentInfo"]')
    hint.first.wait_for(timeout=RUN_TIMEOUT)
    assert "text" in hint.first.inner_text().lower(), hint.first.inner_text()
    assert page.locator(f"{PLOT} >> visible=true").count() == 0, "a chart of the old text is still shown"
    assert_healthy(page, watch)
    if name == "attention":
        screenshot(page, screenshots / "attention-empty.png")


@pytest.mark.parametrize("name", ["attention", "embeddings", "attention_steps", "logit_lens", "loss"])
def test_a_long_text_still_renders(page, watch, name, screenshots, timings):
    """About 1,000 tokens: cut to the model's context, with a notice, and the views windowed."""
    open_page(page, BY_NAME[name])
    committed = commit_prompt(page, LONG_TEXT)
    wait_for_rerun(page, LONG_TEXT[:1500])  # the URL keeps the first 1,500 characters
    page.locator('[data-testid="stAlertContentWarning"]', has_text="Only the first").first.wait_for(timeout=RUN_TIMEOUT)
    wait_for_charts(page)
    report(timings, f"{name} (1,000-token text)", time.perf_counter() - committed)
    assert_healthy(page, watch)
    screenshot(page, screenshots / f"{name}-long.png")


def test_shared_link_on_a_freshly_started_server(browser, fresh_server):
    """A class opens a shared link to a page (not to home) as the very first requests after the server starts."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    contexts = [browser.new_context(viewport=VIEWPORT) for _ in range(3)]
    try:
        tabs = [context.new_page() for context in contexts]
        for tab in tabs:  # all three arrive before any has been drawn
            tab.goto(f"{fresh_server}/attention?text=Once%20upon%20a%20time", timeout=RUN_TIMEOUT)
        for tab in tabs:
            tab.get_by_role("heading", name="2 · Attention").wait_for(timeout=RUN_TIMEOUT)
            try:
                tab.locator(TEXTAREA).wait_for(timeout=20_000)
            except PlaywrightTimeout:
                pytest.fail("no sidebar: the page ran without app.py")
            assert tab.locator(TEXTAREA).input_value() == SHARED_TEXT
            wait_for_charts(tab)
            assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        for context in contexts:
            context.close()


def test_the_server_loads_the_default_models_before_its_first_visitor(browser, fresh_server, fresh_server_log):
    """serve.py's start-up loads each language's default model: once it answers, a visitor in either language
    gets them without loading anything again."""
    loaded_at_start = fresh_server_log.read_text().count("Loading weights: 100%")  # once per model loaded
    assert loaded_at_start == 2  # tiny-gpt-austen and tiny-gpt-zh, before the health check said "ok"
    context = browser.new_context(viewport=VIEWPORT)
    try:
        tab = context.new_page()
        for language in ("en", "zh"):
            tab.goto(f"{fresh_server}/loss?lang={language}", timeout=RUN_TIMEOUT)
            wait_until_idle(tab)
            wait_for_charts(tab)
    finally:
        context.close()
    assert fresh_server_log.read_text().count("Loading weights: 100%") == loaded_at_start


def test_two_sessions_at_once_never_see_each_others_prompt(browser, app_url):
    """Two students type at the same moment: each sees only their own text and its results."""
    prompts = {"first": ("Marianne played the pianoforte", "pianoforte"), "second": ("Catherine read a horrid novel", "horrid")}
    contexts = {name: browser.new_context(viewport=VIEWPORT, base_url=app_url) for name in prompts}
    try:
        tabs = {name: context.new_page() for name, context in contexts.items()}
        for tab in tabs.values():
            open_page(tab, BY_NAME["loss"])
        for name, tab in tabs.items():
            commit_prompt(tab, prompts[name][0])  # both runs are under way together
        for name, tab in tabs.items():
            text, marker = prompts[name]
            wait_for_rerun(tab, text)
            main_text_contains(tab, marker)
            wait_for_charts(tab)
        for name, tab in tabs.items():
            other = next(p for p in prompts if p != name)
            main = tab.locator('[data-testid="stMain"]').inner_text()
            assert tab.locator(TEXTAREA).input_value() == prompts[name][0]
            assert url_text(tab) == prompts[name][0]
            assert prompts[other][1] not in main, f"the {name} session shows the {other} session's text"
    finally:
        for context in contexts.values():
            context.close()


CHINESE_PROMPT = "猫坐在垫子上，"
CHINESE_PAGES = PAGES + [AppPage("pretraining", "/pretraining", has_charts=False),
                         AppPage("scaling_law", "/scaling_law"), AppPage("fine_tuning", "/fine_tuning", has_charts=False),
                         AppPage("compression", "/compression"), AppPage("ablation", "/ablation")]


@pytest.mark.parametrize("app_page", CHINESE_PAGES, ids=lambda p: p.name)
def test_every_page_in_chinese_at_projector_size(browser, app_url, server_log, app_page, screenshots):
    """Each page in Chinese at 1280×720, with a Chinese prompt: it draws, on the bilingual model, without errors."""
    context = browser.new_context(viewport=PROJECTOR, base_url=app_url, locale="zh-CN")
    try:
        page = context.new_page()
        watched = Watch(server_log, server_log.stat().st_size)
        page.on("dialog", lambda dialog: (watched.dialogs.append(dialog.message), dialog.dismiss()))
        query = "?lang=zh&text=" + CHINESE_PROMPT  # Chromium encodes the URL
        page.goto(app_page.path + query, timeout=RUN_TIMEOUT)
        wait_until_idle(page)
        page.get_by_text("语言").first.wait_for()  # the sidebar's switch, in Chinese
        if app_page.name == "generation":
            page.get_by_role("button", name=re.compile(r"^运行 \d+ 步$")).click()
        if app_page.has_charts:
            wait_for_charts(page)
        assert page.locator(TEXTAREA).input_value() == CHINESE_PROMPT
        assert_healthy(page, watched)
        screenshot(page, screenshots / f"zh-1280x720-{app_page.name}.png")
    finally:
        context.close()


NARROW = {"width": 800, "height": 900}
MAIN_FITS = """() => { const main = document.querySelector('[data-testid="stMain"]');
    return main.scrollWidth <= main.clientWidth + 1; }"""


@pytest.mark.parametrize("viewport", [PROJECTOR, NARROW], ids=["1280x720", "800px"])
@pytest.mark.parametrize("app_page", CHINESE_PAGES, ids=lambda p: p.name)
def test_every_page_fits_a_projector_and_a_narrow_laptop(browser, app_url, server_log, app_page, viewport, screenshots):
    """At 1280×720 the text box and the page title are on the first screen; at 800 px nothing spills sideways."""
    context = browser.new_context(viewport=viewport, base_url=app_url)
    try:
        page = context.new_page()
        watched = Watch(server_log, server_log.stat().st_size)
        open_page(page, app_page, "?lang=en")
        assert_healthy(page, watched)
        prompt = page.locator(TEXTAREA).bounding_box()
        title = page.locator('[data-testid="stMain"] h1').first.bounding_box()
        assert prompt["y"] + prompt["height"] <= viewport["height"], "the text box is below the fold"
        assert title["y"] < 160, f"the title starts {title['y']:.0f} px down"
        assert page.evaluate(MAIN_FITS), "the page is wider than the window"
        screenshot(page, screenshots / f"{viewport['width']}x{viewport['height']}-{app_page.name}.png")
    finally:
        context.close()
