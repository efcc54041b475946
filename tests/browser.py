"""Headless Chromium (Debian's, driven by Playwright) for the tests that use a browser:
skipped, saying why, where either is missing."""

import contextlib
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def headless_chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM:
        pytest.skip("no chromium on PATH (make test installs Debian's chromium when run as root)")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: chromium refuses to sandbox as root, which is how tests run here.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
