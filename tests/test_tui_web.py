"""`station tui --web`: the kiosk app served by textual-serve on 127.0.0.1, loaded in Debian's
headless Chromium (driven by Selenium and chromium-driver), typed into like a clerk would.

The terminal is drawn on a canvas, so what the app did is read back from the store: a wrong
passphrase typed in the browser is counted there, the right one clears the count. The
screenshot goes to docs/screenshots/ when UPDATE_DOC_SCREENSHOTS=1."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import GRID, PASSPHRASE, STATION, Cli
from .hubserver import _die_with_parent, free_port

DOCS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def chromium(width: int = 760, height: int = 660, *extra: str, downloads: Path | None = None) -> WebDriver:
    """Debian's chromium and its driver (install.sh --dev installs both); files it downloads
    go to `downloads`."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, "chromium and chromium-driver are installed by install.sh --dev"
    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--window-size={width},{height}", *extra):
        options.add_argument(arg)
    options.binary_location = binary
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    return webdriver.Chrome(options=options, service=Service(driver))


@pytest.fixture
def web(cli: Cli) -> Iterator[str]:
    """`station tui --web` on a free port; its URL. Stopped with the test."""
    port = free_port()
    env = {k: v for k, v in cli.env.items() if k != "STATION_PASSPHRASE"}  # typed, not given
    server = subprocess.Popen([STATION, "tui", "--web", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait(lambda: _answers(url), 30, "the web server never answered")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait(condition: Callable[[], bool], seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(why)


def unlock_failures(cli: Cli) -> str:
    db = Path(cli.env["STATION_HOME"]) / "station.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return str(conn.execute("SELECT value FROM settings WHERE key = 'unlock_failures'").fetchone()[0])


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp* writes them) with a socket listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_page_fetches_nothing_from_the_internet_and_listens_on_loopback_only(web: str) -> None:
    page = requests.get(web, timeout=10).text
    assert "乡镇工作站" in page and "textual.js" in page
    assert "googleapis" not in page and "https://" not in page  # county networks are closed
    port = int(web.rsplit(":", 1)[1].strip("/"))
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_chromium_loads_the_app_and_a_clerk_unlocks_it_from_the_keyboard(
        web: str, cli: Cli, tmp_path: Path) -> None:
    cli("add", "person", "--json", json.dumps({"name": "李四", "id_number": "11010519491231002X",
                                               "grid": GRID}, ensure_ascii=False))
    browser = chromium()
    try:
        browser.get(web)
        WebDriverWait(browser, 30).until(
            lambda b: "-first-byte" in (b.find_element(By.TAG_NAME, "body").get_attribute("class") or ""))
        keys = browser.find_element(By.CSS_SELECTOR, ".textual-terminal textarea")
        assert unlock_failures(cli) == "0"
        keys.send_keys("not the passphrase\n")
        wait(lambda: unlock_failures(cli) == "1", 30, "the wrong passphrase never reached the app")
        time.sleep(0.5)  # the error line is drawn; the next keys go to the cleared input
        keys.send_keys(PASSPHRASE + "\n")
        wait(lambda: unlock_failures(cli) == "0", 30, "the right passphrase never unlocked the store")
        time.sleep(2)  # the home screen is drawn
        shot = tmp_path / "tui-web.png"
        assert browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, DOCS / "tui-web.png")
    finally:
        browser.quit()
