"""Benchmark how fast, and at what memory cost, the server turns away a model too big and an upload too big.

    python bench/refusals.py     # writes bench/results/refusals.json, about half a minute

* Model size: a hub id in the local Hugging Face cache whose 16 kB checkpoint declares 20 billion
  parameters (GPT-2's architecture, 44 layers × 6,144 dims). The app counts the parameters from the config
  on PyTorch's meta device and refuses; the figures are the seconds to the refusal and the growth of the
  process's memory (allocating it would take 80 GB).
* Upload: a 150 MB file chosen in the Pretraining page's uploader, in Chromium, against the 15 MB limit
  (``.streamlit/config.toml`` and the widget): what the page answers, how fast, and the server's memory
  before and after (before the limit, such a file grew the server by 1 GB).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

from transformers import GPT2Config

from explainer import models
from tools.bench_results import save
from tools.browser_driver import CHROMIUM, CHROMIUM_ARGS, RUN_TIMEOUT, rss_mb, streamlit_server, wait_until_idle

ROOT = Path(__file__).resolve().parent.parent

UPLOAD_MB = 150


def model_size_refusal() -> dict:
    import huggingface_hub.constants

    cache = Path(tempfile.mkdtemp())
    huggingface_hub.constants.HF_HUB_CACHE = str(cache)
    snapshot = cache / "models--someone--huge" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (cache / "models--someone--huge" / "refs").mkdir()
    (cache / "models--someone--huge" / "refs" / "main").write_text("0" * 40)
    huge = GPT2Config(n_embd=6144, n_layer=44, n_head=48, architectures=["GPT2LMHeadModel"])
    (snapshot / "config.json").write_text(huge.to_json_string())
    (snapshot / "model.safetensors").write_bytes(b"\0" * 16_384)
    os.environ["HF_HUB_OFFLINE"] = "1"
    before = rss_mb(os.getpid())
    started = time.perf_counter()
    try:
        models.load_model("someone/huge")
        message = "loaded (not refused!)"
    except models.ModelUnavailable as refusal:
        message = str(refusal)
    return {"seconds_to_refuse": round(time.perf_counter() - started, 3),
            "memory_growth_mb": round(rss_mb(os.getpid()) - before, 1), "message": message}


def upload_refusal() -> dict:
    """Choose a 150 MB file in the Pretraining page's uploader, in Chromium, as a learner would."""
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp())
    big_file = folder / "corpus.txt"
    big_file.write_bytes(b"Emma walked to Hartfield. " * (UPLOAD_MB * 2**20 // 26))
    with streamlit_server(folder / "server.log") as (url, process), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(base_url=url)
        page.goto("/pretraining", timeout=RUN_TIMEOUT)
        wait_until_idle(page)
        page.get_by_text("Your own text (paste or upload)").click()
        wait_until_idle(page)
        before = rss_mb(process.pid)
        started = time.perf_counter()
        page.locator('input[type="file"]').set_input_files(big_file)
        refusal = page.get_by_text(re.compile(r"File must be .* or smaller"))
        refusal.wait_for(timeout=RUN_TIMEOUT)
        seconds = time.perf_counter() - started
        page.wait_for_timeout(1000)
        after = rss_mb(process.pid)
        answer = refusal.inner_text()
        browser.close()
    return {"upload_mb": UPLOAD_MB, "answer": answer, "seconds_to_refuse": round(seconds, 2),
            "server_rss_before_mb": round(before, 1), "server_rss_after_mb": round(after, 1)}


def main() -> None:
    save("refusals", {"model_size": model_size_refusal(), "upload": upload_refusal()})


if __name__ == "__main__":
    main()
