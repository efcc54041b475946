"""The web UI in a real headless browser (Debian's chromium, driven by Playwright): start
a load against a running architecture, see requests/s and percentiles, stop it."""

import contextlib
import re

import pytest

from browser import headless_chromium
from conftest import wait_until
from loadgen_lab import get_json, loadgen, network, server_on, url

pytestmark = pytest.mark.integration
ARCH = "single-thread"
@contextlib.contextmanager
def browser_page():
    with headless_chromium() as browser:
        yield browser.new_page()


def stats_rows(page):
    """The statistics table as {name: {column: text}}."""
    headers = [h.strip() for h in page.locator("table thead th").all_inner_texts()]
    rows = {}
    for row in page.locator("table tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) == len(headers):
            rows[cells[1]] = dict(zip(headers, cells))
    return rows


def header_value(page, label):
    """A figure from the header bar (RPS, Failures, Status...)."""
    text = page.locator("header").inner_text()
    found = re.search(rf"{label}\s+([^\s]+)", text)
    return found and found[1]


def test_web_ui_starts_shows_and_stops_a_load(docker_client):
    with network() as net, server_on(net, ARCH), browser_page() as page:
        locust = loadgen(net, LOCUST_HOST=f"tcp://{ARCH}:7000", LOADGEN_ROLE="master").with_exposed_ports(8089)
        with locust:
            ui = url(locust, 8089)
            wait_until(lambda: get_json(f"{ui}/stats/requests"), 60, "the Locust web UI")
            page.goto(ui)
            assert page.locator('input[name="host"]').input_value() == f"tcp://{ARCH}:7000"
            page.fill('input[name="userCount"]', "4")
            page.fill('input[name="spawnRate"]', "4")
            page.get_by_text("Custom parameters").click()
            # The protocol is a choice, defaulting to the stack's PROTOCOL (none here: resp).
            assert page.locator('[name="protocol"]').input_value() == "resp"
            page.fill('input[name="mix"]', "PING:3,ECHO:1")
            page.fill('input[name="rate"]', "200")  # open loop: 200 requests/s over all users
            page.get_by_role("button", name="Start").click()

            def load_visible():
                rows = stats_rows(page)
                rps = header_value(page, "RPS")
                return {"PING", "ECHO 16B"} <= rows.keys() and rps and float(rps) > 0 and rows

            rows = wait_until(load_visible, 60, "requests/s and the PING row in the web UI")
            ping = rows["PING"]
            assert int(ping["# Requests"]) > 0 and ping["# Fails"] == "0"
            for column in ("Median (ms)", "95%ile (ms)", "99%ile (ms)"):
                assert float(ping[column]) > 0, (column, ping)  # sub-ms stays > 0, not rounded away

            page.get_by_role("tab", name="Load generator").click()

            def paced_sends():
                table = page.locator("table").inner_text()
                found = re.search(r"paced sends[^\t\n]*\t(\d+)", table)
                return found and int(found[1]) > 0

            wait_until(paced_sends, 30, "the Load generator tab to count paced sends")
            # 200 requests/s are far from saturating a core: no banner.
            assert not page.locator("#connlab-saturation").is_visible()
            page.get_by_role("button", name="Stop").click()
            wait_until(lambda: get_json(f"{ui}/stats/requests")["state"] == "stopped", 30, "the load to stop")
            try:
                wait_until(lambda: header_value(page, "Status") == "STOPPED", 20, "the UI to show STOPPED")
            except TimeoutError:
                # Locust's UI can stay on CLEANUP when it polled while users were being
                # stopped (seen on this busy machine); a fresh page must show STOPPED.
                shown = page.locator("header").inner_text()
                page.reload()
                wait_until(lambda: header_value(page, "Status") == "STOPPED", 20,
                           f"a reloaded UI to show STOPPED (before reload: {shown!r})")


def test_saturated_load_generator_shows_a_banner(docker_client):
    """A load generator process at its CPU threshold measures itself: every tab says
    so. (The threshold is lowered to 1% so that any load crosses it.)"""
    with network() as net, server_on(net, ARCH), browser_page() as page:
        locust = loadgen(net, LOCUST_HOST=f"tcp://{ARCH}:7000", LOADGEN_ROLE="master",
                         LOADGEN_CPU_SATURATED_PERCENT=1).with_exposed_ports(8089)
        with locust:
            ui = url(locust, 8089)
            wait_until(lambda: get_json(f"{ui}/stats/requests"), 60, "the Locust web UI")
            page.goto(ui)
            banner = page.locator("#connlab-saturation")
            assert not banner.is_visible()
            page.fill('input[name="userCount"]', "4")
            page.fill('input[name="spawnRate"]', "4")
            page.get_by_role("button", name="Start").click()
            wait_until(banner.is_visible, 60, "the saturation banner")
            assert "Load generator CPU-saturated" in banner.inner_text()
            assert "measure the load generator, not the server" in banner.inner_text()
            page.get_by_role("tab", name="Load generator").click()
            assert banner.is_visible(), "the banner stays on every tab"
            wait_until(lambda: "SATURATED" in page.locator("table").inner_text(), 30, "the tab to mark the process")
            page.get_by_role("button", name="Stop").click()
