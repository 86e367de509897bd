"""Issue 15: the dashboard in a real headless Chromium (Debian's, driven by playwright).

Against a real daemon on the embedded exchange (rig.py): the page shows the scanner's
opportunities; "Open…" asks for a size and an execution mode, Cancel sends nothing, Confirm opens
the pair; the position appears without a reload (the SSE feed); "Close…" with confirmation closes
it; the venue's own order list holds the pair's orders on both markets, filled, and its perp
position is flat again; the page logged no console error. The screenshot (the position open) is
written to the test's tmp dir, and copied to $BASISD_DASHBOARD_SCREENSHOT when set.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.dashboard.rig import Rig
from tests.daemon.legging.test_legging_crash import admin

CHROMIUM = Path("/usr/bin/chromium")
KEY = "reverse_basis|BTCUSDT|perp=sim-a|spot=sim-a"
UI_TIMEOUT_MS = 20_000


def _browser_or_skip() -> Any:
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        why = f"playwright is not installed ({exc}); pip install -r requirements-test.lock"
    if why is None and not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing; .ci/run installs Debian's chromium (apt-get install chromium)"
    if why is not None:
        print(f"SKIP dashboard browser test: {why}")
        pytest.skip(why)
    return sync_playwright


def test_open_and_close_a_pair_through_the_dashboard(short_dir: Path, tmp_path: Path) -> None:
    sync_playwright = _browser_or_skip()
    t0 = time.monotonic()
    rig = Rig(short_dir)
    try:
        url = rig.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            try:
                _drive(browser, url, rig, tmp_path)
            finally:
                browser.close()
    finally:
        rig.stop()
    print(f"dashboard browser test: {time.monotonic() - t0:.1f} s")


def _drive(browser: Any, url: str, rig: Rig, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(UI_TIMEOUT_MS)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url)
    page.evaluate("window.__sameDocument = true")   # gone if the page ever reloads
    row = page.locator(f'#opportunities tbody tr[data-key="{KEY}"]')
    row.wait_for()
    assert page.locator("#opportunities tbody tr").count() >= 2
    assert "reverse_basis" in row.inner_text() and "%" in row.inner_text()

    # Cancel sends nothing.
    row.locator("button.open").click()
    page.locator("#confirm-dialog[open]").wait_for()
    page.locator("#dlg-cancel").click()
    page.locator("#confirm-dialog").wait_for(state="hidden")
    assert admin(rig.sock, "GET", "/v1/positions")[1]["positions"] == []

    # Open through the dialog: size and execution mode.
    row.locator("button.open").click()
    page.locator("#dlg-notional_usd").fill("10000")
    page.locator("#dlg-execution").select_option("taker")
    page.locator("#dlg-ok").click()
    page.locator("#confirm-dialog").wait_for(state="hidden")
    pos = page.locator('#positions tbody tr[data-state="open"]')
    pos.wait_for(timeout=30_000)
    pid = pos.get_attribute("data-pid")
    assert pid and "sim-a spot_margin SELL" in pos.inner_text() and "hedged" in pos.inner_text()
    page.locator(f'#pnl tbody tr[data-pid="{pid}"]').wait_for()
    # the watchdog's ladder level of both legs arrives with a later snapshot, still no reload
    pos.locator(".level-ok").nth(1).wait_for()
    page.wait_for_function("Number(document.body.dataset.snapshots) > 3")
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"dashboard screenshot: {shot}")
    if os.environ.get("BASISD_DASHBOARD_SCREENSHOT"):
        shutil.copy(shot, os.environ["BASISD_DASHBOARD_SCREENSHOT"])

    # Close with confirmation.
    pos.locator('button[data-op="close"]').click()
    page.locator("#dlg-execution").select_option("taker")
    page.locator("#dlg-ok").click()
    page.locator(f'#positions tbody tr[data-pid="{pid}"][data-state="closed"]').wait_for(
        timeout=30_000)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"

    # The venue's truth: the pair's orders on both markets, filled; the perp flat again.
    mine = f"bd-{pid}-"
    for path in ("/sapi/v1/margin/allOrders", "/fapi/v1/allOrders"):
        orders = [o for o in rig.venue.get(path, symbol="BTCUSDT")
                  if o["clientOrderId"].startswith(mine)]
        filled = {o["side"] for o in orders if o["status"] == "FILLED"}
        assert filled == {"BUY", "SELL"}, (path, orders)      # opened, then closed
    assert abs(rig.venue.perp_amt()) < 1e-9
    log = rig.log()
    assert '"path":"/v1/positions"' in log and f'"/v1/positions/{pid}/close"' in log, \
        "the actions did not go through the admin API"
    assert problems == [], problems
