"""The county dashboard in Debian's headless Chromium: log in, enroll a station from the page,
see it appear after it syncs, download an export, upload and publish a schema bundle and see
the station take it, the work figures, log out; the work page's figures read off the screen
against known stations' cases, every cell of its tables and every bar of its charts.

Screenshots: UPDATE_DOC_SCREENSHOTS=1 copies the login, enrollment code and bundle preview
pages to docs/screenshots/; the pages that show tables (stations, fleet, schema, work) are shot from
a county at the seed's scale, given as SEED_COUNTY_HOME (a county home on SQLite holding the
seed data: bench/bench_workpage.py leaves one in OUT/workpage-TREE/county), copied first (its
database too) and joined by two small demo stations of other townships so that every table has
rows."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from sync.hub import county
from sync.hub.dashboard import Dashboard

from .conftest import GRID, Cli
from .hubserver import HubServer
from .test_tui_web import DOCS, chromium

PASSWORD = "county it password"
BUNDLES = Path(__file__).resolve().parent.parent / "examples" / "bundles"


def shoot(browser: object, name: str, tmp_path: Path, doc: bool = True) -> None:
    """A screenshot; with UPDATE_DOC_SCREENSHOTS=1 and `doc`, copied to docs/screenshots/."""
    shot = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if doc and os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
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
        shoot(browser, "dashboard-stations", tmp_path, doc=False)  # one row: the seed county's is shown

        # The fleet view: the station just seen, nothing waiting, no backup set up (which
        # stands out, with a word).
        browser.get(sqlite_hub.url + "/fleet")
        row = WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, f"fleet-{station}"))
        fleet = {td.get_attribute("class"): td.text for td in row.find_elements(By.TAG_NAME, "td")}
        assert fleet["station"] == f"测试镇综治中心\n{station}" and fleet["last-seen"] == "刚刚\njust now"
        assert fleet["pending"] == "0" and fleet["behind"] == "0"
        assert fleet["backup"] == "从未备份\nnever" and fleet["attention"] == "备份过期\nbackup stale"
        assert row.get_attribute("class") == "attention stale-backup"
        shoot(browser, "dashboard-fleet", tmp_path, doc=False)  # one row: the seed county's is shown
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
        shoot(browser, "dashboard-schema", tmp_path, doc=False)
        browser.get(sqlite_hub.url + "/work")
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "work-county"))
        shoot(browser, "dashboard-work", tmp_path, doc=False)

        browser.find_element(By.ID, "logout").click()
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/login"))
        browser.get(sqlite_hub.url + "/stations")
        WebDriverWait(browser, 20).until(lambda b: b.current_url.endswith("/login"))
    finally:
        browser.quit()


def log_in(browser: Any, url: str) -> None:
    browser.get(url + "/login")
    browser.find_element(By.ID, "name").send_keys("it")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    WebDriverWait(browser, 60).until(lambda b: b.current_url.endswith("/stations"))


def first_line(element: Any) -> str:
    """A cell as read on the screen, Chinese first: the line above its English."""
    return str(element.text).split("\n")[0]


def work_cells(browser: Any) -> dict[str, dict[str, str]]:
    """The work table as shown: row (county or township code) -> column key -> cell."""
    table = browser.find_element(By.ID, "work")
    keys = [th.get_attribute("data-key") for th in table.find_elements(By.TAG_NAME, "th")]
    return {str(tr.get_attribute("id")).removeprefix("work-"):
            dict(zip(keys, map(first_line, tr.find_elements(By.TAG_NAME, "td")), strict=True))
            for tr in table.find_elements(By.CSS_SELECTOR, "tr[id]")}


def chart_texts(browser: Any, index: int) -> list[str]:
    """The labels and figures of one chart on the page (label, figure, label, figure, ...)."""
    chart = browser.find_elements(By.CSS_SELECTOR, "svg.chart")[index]
    return [str(t.get_attribute("textContent")) for t in chart.find_elements(By.TAG_NAME, "text")]


def rows_of(browser: Any, table_id: str) -> list[list[str]]:
    table = browser.find_element(By.ID, table_id)
    return [[first_line(td) for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in table.find_elements(By.TAG_NAME, "tr")[1:]]


def pick_period(browser: Any, **days: str) -> None:
    """The work page's period picker: its month or from/to fields filled (set as a date
    picker sets them, whatever the browser's locale), the others emptied, then 统计."""
    for field in ("month", "from", "to"):
        browser.execute_script("document.getElementById(arguments[0]).value = arguments[1]",
                               field, days.get(field, ""))
    old = browser.find_element(By.ID, "work")
    browser.find_element(By.ID, "show-period").click()
    WebDriverWait(browser, 30).until(lambda b: not _attached(old) and b.find_elements(By.ID, "work-county"))


def _attached(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return False
    return True


def test_the_work_page_shows_known_cases_figures_in_every_cell(sqlite_hub: HubServer, tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    from sync.validate import CHINA_TZ

    from .test_work_figures import A, B, known_cases

    world = known_cases(sqlite_hub, tmp_path)
    for store in world.stations.values():
        store.close()
    Dashboard(county.open_hub(sqlite_hub.home)).add_account("it", PASSWORD)
    browser = chromium(1400, 1800, "--ignore-certificate-errors")
    try:
        log_in(browser, sqlite_hub.url)
        browser.get(sqlite_hub.url + "/work")
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "work-county"))
        # Worked out by hand from the cases (tests/test_work_figures.py says how): townships
        # without a name in the schema or the grid records are shown by their code, and one
        # where no volunteer earned anything shows a dash.
        columns = ["disputes_reported", "disputes_closed", "disputes_closure_rate", "disputes_overdue",
                   "incidents_reported", "incidents_closed", "incidents_closure_rate", "incidents_overdue",
                   "incidents_missed_report", "incidents_missed_dispose", "incidents_missed_feedback",
                   "base_records", "volunteer_checkins", "volunteer_points"]
        expected = {
            "county": ["全县", "2", "1", "50.0 %", "0", "7", "5", "71.4 %", "2", "2", "2", "2", "2",
                       "0", "0"],
            A: [A, "0", "0", "0.0 %", "0", "5", "4", "80.0 %", "1", "2", "1", "1", "2", "—", "—"],
            B: [B, "2", "1", "50.0 %", "0", "2", "1", "50.0 %", "1", "0", "1", "1", "0", "—", "—"]}
        cells = work_cells(browser)
        shown = {place: [row["township"], *[row[c] for c in columns]] for place, row in cells.items()}
        assert shown == expected
        assert list(next(iter(cells.values()))) == ["township", *columns]  # every column, in order
        # Each heading by the schema's labels, Chinese first: the kind of case, the step's deadline.
        headings = [first_line(th) for th in browser.find_elements(By.CSS_SELECTOR, "#work th")]
        assert headings == [
            "乡镇（街道）", "矛盾纠纷上报", "矛盾纠纷办结", "矛盾纠纷办结率", "矛盾纠纷超时未办",
            "事件上报", "事件办结", "事件办结率", "事件超时未办", "事件超时（1 分钟响应）",
            "事件超时（3 分钟到场）", "事件超时（5 分钟处置）", "基础数据条数", "志愿者签到", "志愿者积分"]
        assert chart_texts(browser, 0) == ["全县", "71.4 %", A, "80.0 %", B, "50.0 %"]
        # The last 14 days: every case was reported and closed before them (7 and 5).
        today = datetime.now(CHINA_TZ).date()
        history = chart_texts(browser, 1)
        assert history == [t for n in range(13, -1, -1)
                           for t in (f"{today - timedelta(days=n):%m-%d}（5/7）", "71.4 %")]
        assert rows_of(browser, "departments") == [
            ["全县", "事件", "市场监管", "1"], ["全县", "事件", "公安", "3"],
            [A, "事件", "公安", "3"], [B, "事件", "市场监管", "1"]]
        assert rows_of(browser, "base-data") == [["全县", "2"], [A, "2"], [B, "0"]]
        assert rows_of(browser, "volunteers") == []
        assert browser.find_element(By.ID, "open-conflicts").text.endswith(": 1")
        assert browser.find_element(By.ID, "open-duplicates").text.endswith(": 1")
        # November 10th alone, asked for with the period picker: A closed 3 of the 4 it found
        # that day, 75 % wherever it shows.
        pick_period(browser, **{"from": "2026-11-10", "to": "2026-11-10"})
        assert browser.current_url.endswith("/work?month=&from=2026-11-10&to=2026-11-10")
        assert first_line(browser.find_element(By.ID, "period-shown")).startswith(
            "统计期间：2026-11-10 至 2026-11-10")
        day = work_cells(browser)
        assert [day[A][c] for c in columns] == ["0", "0", "0.0 %", "0", "4", "3", "75.0 %", "1",
                                                "2", "1", "1", "2", "—", "—"]
        assert chart_texts(browser, 0)[2:4] == [A, "75.0 %"]
        # November: the late-night case too (closed in time), 4 of 5.
        pick_period(browser, month="2026-11")
        assert [work_cells(browser)[A][c] for c in columns[4:7]] == ["5", "4", "80.0 %"]
    finally:
        browser.quit()


def printed(browser: Any) -> tuple[int, list[float]]:
    """The page shown, printed to PDF as the browser's print dialog does it (on the paper the
    stylesheet asks for): its number of pages and the first page's size in points."""
    pdf = base64.b64decode(browser.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})["data"])
    box = re.search(rb"/MediaBox\s*\[\s*([0-9.\s]+)\]", pdf)
    assert box, "a PDF without pages"
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)), [float(x) for x in box.group(1).split()]


# Twenty townships, as many as a county has; their names come from a code table county IT
# published, and a grid's from its grid record.
TOWNSHIPS = {f"4405240{n:02d}": name + "镇" for n, name in enumerate(
    ("城关", "大坪", "石门", "河西", "新圩", "白沙", "龙潭", "东山", "西岭", "南湖", "北岗", "金鸡",
     "凤凰", "青云", "黄岭", "马安", "长岗", "桥头", "水口", "上洞"), start=1)}
TOWNSHIP_TABLE = {"format": 1, "version": 2, "name": "townships", "summary_zh": "乡镇名称",
                  "summary_en": "Township names", "operations": [{
                      "op": "add_code_table",
                      "code_table": {"name": "township", "label_zh": "乡镇", "label_en": "Township"},
                      "values": [{"code": code, "label_zh": name, "label_en": code}
                                 for code, name in TOWNSHIPS.items()]}]}


def test_a_county_of_20_townships_prints_its_work_report_on_one_a4_page_by_their_names(
        sqlite_hub: HubServer, tmp_path: Path) -> None:
    from station.cases import Cases
    from station.syncer import client_for, push

    from .test_work_figures import LOOP, at, incident, station

    hub = county.open_hub(sqlite_hub.home)
    hub.publish(json.dumps(TOWNSHIP_TABLE).encode(), Ed25519PrivateKey.from_private_bytes(
        (sqlite_hub.home / "signing.key").read_bytes()))
    first = next(iter(TOWNSHIPS))
    grid = first + "001"
    for n, township in enumerate(TOWNSHIPS):
        store = station(sqlite_hub, tmp_path / township, township,
                        grids=[grid] if township == first else [])
        if township == first:
            store.add("grid", {"code": grid, "name": "城关第一网格", "township": first})
            narrow = store.station_id
        cases = Cases(store, "incident")
        for k in range(n % 4 + 1):  # some closed, some not
            case = cases.open(incident(township + "001", k), at=at(0))
            if k % 2:
                for t, step in enumerate(LOOP, start=1):
                    cases.advance(case, step, at=at(10 * t))
        push(store, client_for(store))
        store.close()
    Dashboard(hub).add_account("it", PASSWORD)
    browser = chromium(1400, 1000, "--ignore-certificate-errors")
    try:
        log_in(browser, sqlite_hub.url)
        row = browser.find_element(By.ID, f"station-{narrow}")
        cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
        assert cells[1:3] == [f"城关镇\n{first}", f"城关第一网格\n{grid}"]
        # A month's report (the since-start page differs only in the line naming the period).
        browser.get(sqlite_hub.url + "/work?month=2026-11")
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.ID, "work-county"))
        shown = {code: row["township"] for code, row in work_cells(browser).items()}
        assert shown == {"county": "全县", **TOWNSHIPS}
        # On screen the page runs to several pages' worth (charts, departments, ...).
        assert browser.execute_script("return document.body.scrollHeight") > 2000
        pages, (_, _, width, height) = printed(browser)
        assert pages == 1
        assert (round(width), round(height)) == (842, 595)  # A4 landscape, in points
    finally:
        browser.quit()


def screenshots_of_a_county_at_the_seed_s_scale(tmp_path: Path) -> None:
    """docs/screenshots/ made anew from a county at the seed's scale: collected as a test only
    when SEED_COUNTY_HOME names a county home holding the seed data (a refresh of the docs
    someone asks for, not a check that could skip itself)."""
    from station import keys
    from station.demo import SCALES, DemoData
    from station.store import Store
    from station.syncer import client_for, enroll, sync_once

    from .conftest import PASSPHRASE
    from .hubserver import HubProcess

    home = tmp_path / "county"
    shutil.copytree(Path(os.environ["SEED_COUNTY_HOME"]), home)
    # The copy's own database (the home names its database by an absolute URL): never the seed's.
    (home / county.CONFIG).write_text(f'database = "sqlite:///{(home / "hub.db").resolve()}"\n',
                                      encoding="utf-8")
    # County IT names its townships with a code table, as a county does (a bundle of its own).
    names = {"440524001": "城关镇", "440524002": "东山镇", "440524003": "西岭镇"}
    table = TOWNSHIP_TABLE | {"operations": [TOWNSHIP_TABLE["operations"][0] | {
        "values": [{"code": c, "label_zh": n, "label_en": c} for c, n in names.items()]}]}
    county.open_hub(home).publish(json.dumps(table).encode(), Ed25519PrivateKey.from_private_bytes(
        (home / "signing.key").read_bytes()))
    hub = HubProcess(home).start()
    try:
        for n, township in enumerate(("440524002", "440524003"), start=1):
            store = Store.create(tmp_path / township, township=township, name=f"第{n}演示站",
                                 clerk="张三", passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
            DemoData(store, SCALES["small"], seed=n).fill()
            enroll(store, hub.url, county.open_hub(home).add_enrollment(township, []), hub.fingerprint)
            sync_once(store, client_for(store))  # a whole round: seen, its outbox and backup told
            store.close()
        Dashboard(county.open_hub(home)).add_account("it", PASSWORD)
        browser = chromium(1400, 1000, "--ignore-certificate-errors")
        try:
            log_in(browser, hub.url)
            assert len(browser.find_elements(By.CSS_SELECTOR, "tr[id^=station-]")) >= 3
            shoot(browser, "dashboard-stations", tmp_path)
            browser.get(hub.url + "/fleet")
            assert len(browser.find_elements(By.CSS_SELECTOR, "tr[id^=fleet-]")) >= 3
            shoot(browser, "dashboard-fleet", tmp_path)
            browser.get(hub.url + "/schema")
            shoot(browser, "dashboard-schema", tmp_path)
            browser.set_window_size(1400, 2600)
            browser.get(hub.url + "/work")
            WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "work-county"))
            assert int(work_cells(browser)["county"]["incidents_reported"]) > 11_000  # the seed's
            shoot(browser, "dashboard-work", tmp_path)
        finally:
            browser.quit()
    finally:
        hub.stop()


if os.environ.get("SEED_COUNTY_HOME"):
    test_screenshots_of_a_county_at_the_seed_s_scale = screenshots_of_a_county_at_the_seed_s_scale
