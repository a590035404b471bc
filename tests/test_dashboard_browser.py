"""The county dashboard in Debian's headless Chromium: log in, enroll a station from the page,
see it appear after it syncs, download an export, upload and publish a schema bundle and see
the station take it, the work figures, log out. Screenshots of each page go to docs/screenshots/ with
UPDATE_DOC_SCREENSHOTS=1."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sync.hub import county
from sync.hub.dashboard import Dashboard

from .conftest import GRID, Cli
from .hubserver import HubServer
from .test_tui_web import DOCS, chromium

PASSWORD = "county it password"
BUNDLES = Path(__file__).resolve().parent.parent / "examples" / "bundles"


def shoot(browser: object, name: str, tmp_path: Path) -> None:
    shot = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, DOCS / f"{name}.png")


def test_county_it_logs_in_enrolls_a_station_and_sees_it_sync(
        cli: Cli, sqlite_hub: HubServer, tmp_path: Path) -> None:
    Dashboard(county.open_hub(sqlite_hub.home)).add_account("it", PASSWORD)
    # The hub's certificate is self-signed (stations pin it); the test browser is told to
    # accept it, on 127.0.0.1 only.
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser = chromium(1100, 700, "--ignore-certificate-errors", downloads=downloads)
    try:
        browser.get(sqlite_hub.url + "/stations")
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/login"))
        shoot(browser, "dashboard-login", tmp_path)
        browser.find_element(By.ID, "name").send_keys("it")
        browser.find_element(By.ID, "password").send_keys("wrong password")
        browser.find_element(By.ID, "login").click()
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "login-error"))
        browser.find_element(By.ID, "name").send_keys("it")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "no-stations"))

        browser.find_element(By.ID, "township").send_keys("440524001")
        browser.find_element(By.ID, "enroll").click()
        code = WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "enroll-code")).text
        shoot(browser, "dashboard-code", tmp_path)

        cli("enroll", "--hub", sqlite_hub.url, "--code", code, "--fingerprint", sqlite_hub.fingerprint)
        cli("add", "person", "--json", json.dumps({"name": "李四", "id_number": "11010519491231002X",
                                                   "grid": GRID}, ensure_ascii=False))
        cli("sync")
        station = cli.json("status", "--json")["station_id"]
        browser.get(sqlite_hub.url + "/stations")
        row = WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, f"station-{station}"))
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        # By the name it was given at init, its id beneath.
        assert cells[0] == f"测试镇综治中心\n{station}" and cells[1] == "440524001" and cells[5] == "1"
        assert cells[3] != "—" and cells[4] != "—"  # seen, and pushed
        assert cells[6:9] == ["0", "0", "0"]  # it says nothing pending or refused, and is not behind
        shoot(browser, "dashboard-stations", tmp_path)

        # The fleet view: the station just seen, nothing waiting, no backup set up (which
        # stands out, with a word).
        browser.get(sqlite_hub.url + "/fleet")
        row = WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, f"fleet-{station}"))
        fleet = {td.get_attribute("class"): td.text for td in row.find_elements(By.TAG_NAME, "td")}
        assert fleet["station"] == f"测试镇综治中心\n{station}" and fleet["last-seen"] == "刚刚\njust now"
        assert fleet["pending"] == "0" and fleet["behind"] == "0"
        assert fleet["backup"] == "从未备份\nnever" and fleet["attention"] == "备份过期\nbackup stale"
        assert row.get_attribute("class") == "attention stale-backup"
        shoot(browser, "dashboard-fleet", tmp_path)
        browser.get(sqlite_hub.url + "/stations")

        browser.find_element(By.ID, "export-stations-csv").click()
        WebDriverWait(browser, 20).until(lambda b: (downloads / "stations.csv").exists())
        exported = (downloads / "stations.csv").read_text(encoding="utf-8-sig")
        assert station in exported and exported.startswith("station,name,township")

        browser.get(sqlite_hub.url + "/schema")
        browser.find_element(By.ID, "bundle").send_keys(str(BUNDLES / "0002-person-living-alone.json"))
        browser.find_element(By.ID, "preview").click()
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "bundle-operations"))
        shoot(browser, "dashboard-bundle-preview", tmp_path)
        browser.find_element(By.ID, "publish").click()
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "version-2"))
        cli("sync")  # the station takes the new version; the rollout shows it
        browser.get(sqlite_hub.url + "/schema")
        row = browser.find_element(By.ID, "version-2")
        assert row.find_elements(By.TAG_NAME, "td")[-1].text == "1"
        shoot(browser, "dashboard-schema", tmp_path)
        browser.get(sqlite_hub.url + "/work")
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "work-county"))
        shoot(browser, "dashboard-work", tmp_path)

        browser.find_element(By.ID, "logout").click()
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/login"))
        browser.get(sqlite_hub.url + "/stations")
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/login"))
    finally:
        browser.quit()
