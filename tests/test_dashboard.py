"""The county dashboard over the hub's real HTTPS: no page without a login, CSRF on every
form, log in, enroll a station and see it, revoke it, log out; accounts hashed with Argon2id."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.errors import ValidationError
from sync.hub import county
from sync.hub.dashboard import Dashboard
from sync.hub.storage import StationRow

from .conftest import GRID, Cli
from .hubserver import HubServer

COUNTY = str(Path(sys.executable).with_name("county"))
PASSWORD = "county it password"


def browser(hub: HubServer) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would override the pinned certificate
    session.verify = str(hub.home / "tls.crt")
    return session


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} in the page"
    return found.group(1)


def log_in(hub: HubServer, session: requests.Session, password: str = PASSWORD) -> requests.Response:
    form = session.get(hub.url + "/login")
    return session.post(hub.url + "/login", allow_redirects=False, data={
        "login_csrf": hidden(form.text, "login_csrf"), "name": "it", "password": password})


def test_no_page_or_action_without_a_login(sqlite_hub: HubServer) -> None:
    session = browser(sqlite_hub)
    for path in ("/", "/stations", "/schema", "/work", "/export/stations.csv", "/export/work.xlsx"):
        reply = session.get(sqlite_hub.url + path, allow_redirects=False)
        assert (reply.status_code, reply.headers["location"]) == (303, "/login")
    for path in ("/stations/enroll", "/stations/anything/revoke", "/logout", "/schema/preview",
                 "/schema/publish"):
        reply = session.post(sqlite_hub.url + path, data={"township": "440524001"}, allow_redirects=False)
        assert reply.status_code == 403 and "Log in first" in reply.text
    forged = session.get(sqlite_hub.url + "/stations", cookies={"ts_session": "made-up"},
                         allow_redirects=False)
    assert forged.status_code == 303
    with county.open_hub(sqlite_hub.home).storage.transaction() as tx:
        assert tx.rows("SELECT count(*) FROM enrollments")[0][0] == 0  # nothing was made


def test_log_in_enroll_see_revoke_and_log_out(hub: HubServer) -> None:
    Dashboard(county.open_hub(hub.home)).add_account("it", PASSWORD)
    session = browser(hub)
    wrong = log_in(hub, session, "not the password")
    assert wrong.status_code == 401 and "Wrong account or password" in wrong.text
    assert "ts_session" not in session.cookies
    ok = log_in(hub, session)
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    page = session.get(hub.url + "/stations")
    assert "还没有站点" in page.text and "No stations yet" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    csrf = hidden(page.text, "csrf")
    no_token = session.post(hub.url + "/stations/enroll", data={"township": "440524001"})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    bad = session.post(hub.url + "/stations/enroll", data={"csrf": csrf, "township": "4405"})
    assert bad.status_code == 400 and "9 digits" in bad.text
    made = session.post(hub.url + "/stations/enroll", data={"csrf": csrf, "township": "440524001",
                                                             "grids": "440524001001"})
    code = re.search(r'id="enroll-code">([^<]+)<', made.text)
    assert code, made.text
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    station = county.open_hub(hub.home).enroll(code.group(1), "dashst1", base64.b64encode(key).decode())
    assert station.grids == ("440524001001",)  # the scope chosen on the page
    listed = session.get(hub.url + "/stations").text
    assert 'id="station-dashst1"' in listed and "440524001001" in listed and "正常" in listed
    revoked = session.post(hub.url + "/stations/dashst1/revoke", data={"csrf": csrf})
    assert revoked.status_code == 200 and "已吊销" in revoked.text
    with county.open_hub(hub.home).storage.transaction() as tx:
        assert tx.station("dashst1").revoked_at is not None  # type: ignore[union-attr]
    out = session.post(hub.url + "/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status_code == 303
    stolen = requests.get(hub.url + "/stations", verify=str(hub.home / "tls.crt"), allow_redirects=False,
                          cookies={"ts_session": ok.cookies["ts_session"]})
    assert stolen.status_code == 303  # the old session is over on the hub, not just in the browser


def test_accounts_follow_the_rules_and_keep_only_a_hash(sqlite_hub: HubServer) -> None:
    board = Dashboard(county.open_hub(sqlite_hub.home))
    with pytest.raises(ValidationError, match="at least 10"):
        board.add_account("it", "short")
    with pytest.raises(ValidationError, match="account name"):
        board.add_account("it; DROP", PASSWORD)
    run = subprocess.run([COUNTY, "--home", str(sqlite_hub.home), "user", "add", "it"], capture_output=True,
                         text=True, env={"COUNTY_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert run.returncode == 0, run.stderr
    again = subprocess.run([COUNTY, "--home", str(sqlite_hub.home), "user", "add", "it"], capture_output=True,
                           text=True, env={"COUNTY_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert again.returncode != 0 and "exists already" in again.stderr
    listed = subprocess.run([COUNTY, "--home", str(sqlite_hub.home), "user", "list"], capture_output=True,
                            text=True, timeout=60).stdout
    assert '"name":"it"' in listed and "argon2" not in listed
    with county.open_hub(sqlite_hub.home).storage.transaction() as tx:
        (stored,), = tx.rows("SELECT password FROM accounts")
    assert stored.startswith("argon2id$v=19$m=65536,t=3,p=1$") and PASSWORD not in stored
    assert board.log_in("it", PASSWORD) is not None and board.log_in("it", "wrong password") is None
    assert board.log_in("nobody", PASSWORD) is None


def logged_in(hub: HubServer) -> tuple[requests.Session, str]:
    Dashboard(county.open_hub(hub.home)).add_account("it", PASSWORD)
    session = browser(hub)
    assert log_in(hub, session).status_code == 303
    return session, hidden(session.get(hub.url + "/stations").text, "csrf")


class Page(HTMLParser):
    """The stdlib's HTML parser, as a browser reads the page: the tags and each cell's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self.cells.append("")

    def handle_data(self, data: str) -> None:
        if self.cells and self.tags[-1][0] == "td":
            self.cells[-1] += data


def test_markup_in_a_station_s_name_or_township_is_shown_as_text(sqlite_hub: HubServer) -> None:
    session, _ = logged_in(sqlite_hub)
    name, township = 'x"><script>alert(1)</script>', '<script>alert("t")</script>'
    # Straight into the hub's database: the hub's own rules would refuse both, but a page
    # must not trust what it shows to have passed them.
    with county.open_hub(sqlite_hub.home).storage.transaction() as tx:
        tx.add_station(StationRow(name, township, (), "key", None), "2026-12-01T00:00:00+00:00")
    page = session.get(sqlite_hub.url + "/stations")
    assert page.status_code == 200 and "<script>" not in page.text and 'id="station-x">' not in page.text
    parsed = Page()
    parsed.feed(page.text)
    assert "script" not in [tag for tag, _ in parsed.tags]
    rows = [attrs for tag, attrs in parsed.tags if tag == "tr" and attrs.get("id")]
    assert [r["id"] for r in rows] == [f"station-{name}"]  # one row, its id attribute intact
    assert parsed.cells[:2] == [name, township]


def test_a_bundle_is_previewed_refused_or_published_and_the_rollout_shown(hub: HubServer) -> None:
    session, csrf = logged_in(hub)
    bundles = Path(__file__).resolve().parent.parent / "examples" / "bundles"
    second = {"bundle": ("b.json", (bundles / "0002-person-living-alone.json").read_bytes())}
    third = {"bundle": ("b.json", (bundles / "0003-house-floor-area.json").read_bytes())}
    too_new = session.post(hub.url + "/schema/preview", data={"csrf": csrf}, files=third)
    assert too_new.status_code == 400 and "Would be refused" in too_new.text and "follow" in too_new.text
    no_token = session.post(hub.url + "/schema/preview", files=second)
    assert no_token.status_code == 403
    preview = session.post(hub.url + "/schema/preview", data={"csrf": csrf}, files=second)
    assert preview.status_code == 200 and 'id="bundle-operations"' in preview.text
    assert county.open_hub(hub.home).schema.version == 1  # a preview publishes nothing
    published = session.post(hub.url + "/schema/publish",
                             data={"csrf": csrf, "raw": hidden(preview.text, "raw")})
    assert published.status_code == 200 and 'id="version-2"' in published.text
    assert county.open_hub(hub.home).schema.version == 2
    assert "<svg" in published.text  # stations per version, drawn on the server


def test_work_figures_and_every_table_exports_to_csv_and_xlsx(sqlite_hub: HubServer) -> None:
    import io

    from openpyxl import load_workbook

    session, _ = logged_in(sqlite_hub)
    work = session.get(sqlite_hub.url + "/work")
    assert work.status_code == 200 and 'id="work-county"' in work.text
    assert "incidents_closure_rate" in work.text and "incidents_overdue" in work.text
    assert 'id="open-conflicts"' in work.text and 'id="departments"' in work.text
    assert 'id="closure-over-time"' in work.text and work.text.count("<svg") == 2
    for table in ("stations", "schema", "work", "departments", "base_data", "volunteers"):
        as_csv = session.get(f"{sqlite_hub.url}/export/{table}.csv")
        assert as_csv.status_code == 200 and as_csv.content.startswith(b"\xef\xbb\xbf")
        assert "attachment" in as_csv.headers["content-disposition"]
        as_xlsx = session.get(f"{sqlite_hub.url}/export/{table}.xlsx")
        sheet = load_workbook(io.BytesIO(as_xlsx.content), read_only=True).worksheets[0]
        first_row = next(sheet.iter_rows(values_only=True))
        header = as_csv.content.decode("utf-8-sig").splitlines()[0].split(",")
        assert list(first_row) == header  # the same columns in both
    assert requests.get(f"{sqlite_hub.url}/export/work.csv", verify=str(sqlite_hub.home / "tls.crt"),
                        allow_redirects=False).status_code == 303  # not without a login
    assert session.get(f"{sqlite_hub.url}/export/secrets.csv").status_code == 404


def test_the_stations_page_shows_what_a_station_reported_of_its_outbox(
        cli: Cli, sqlite_hub: HubServer) -> None:
    import json

    from station import synthetic

    from .test_sync_e2e import believe_in_grids, enroll

    session, _ = logged_in(sqlite_hub)
    enroll(cli, sqlite_hub)
    people = list(synthetic.people(3, [GRID], seed=8))
    people[1]["grid"] = "440524002001"  # another township's grid: the hub refuses it
    believe_in_grids(cli, GRID, "440524002001")  # the station itself would refuse it at entry
    for p in people:
        cli("add", "person", "--json", json.dumps(p, ensure_ascii=False))
    cli("sync")
    station = cli.json("status", "--json")["station_id"]
    row = re.search(rf'<tr id="station-{station}">(.*?)</tr>', session.get(sqlite_hub.url + "/stations").text)
    assert row, "the station is not listed"
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[5:9] == ["2", "0", "1", "0"]  # 2 changes in, 0 pending, 1 refused, not behind
    # The release the station runs, as its signed requests named it (pyproject's version).
    import tomllib

    from sync.version import PROTOCOL_VERSION

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert cells[12:14] == [pyproject["project"]["version"], str(PROTOCOL_VERSION)], cells
    exported = session.get(sqlite_hub.url + "/export/stations.csv").content.decode("utf-8-sig")
    assert f"{station}," in exported and ",2,0,1,0," in exported

    # A scanned agreement attached and sent: one file received from this station.
    case = cli("dispute", "new", "--json", json.dumps(
        {"kind": "02", "parties": ["甲", "乙"], "description": "邻里纠纷", "grid": GRID},
        ensure_ascii=False)).stdout.strip()
    scan = cli_home_file(cli, "协议.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 400)
    cli("attach", "dispute", case, str(scan))
    assert cli.json("sync")["files_sent"] == 1
    row = re.search(rf'<tr id="station-{station}">(.*?)</tr>', session.get(sqlite_hub.url + "/stations").text)
    assert row and re.findall(r"<td>(.*?)</td>", row.group(1))[9:11] == ["1", "0"]


def cli_home_file(cli: Cli, name: str, data: bytes) -> Path:
    """A file beside the station's home (where a clerk's USB stick would be mounted)."""
    path = Path(cli.env["STATION_HOME"]).parent / name
    path.write_bytes(data)
    return path


def test_the_work_page_counts_a_station_s_incidents(cli: Cli, sqlite_hub: HubServer) -> None:
    from station.cases import Cases
    from station.store import Store

    from .conftest import PASSPHRASE
    from .test_sync_e2e import enroll

    session, _ = logged_in(sqlite_hub)
    enroll(cli, sqlite_hub)
    store = Store.open(cli.env["STATION_HOME"])
    store.unlock(PASSPHRASE)
    category = store.schema.code_table("incident_category").values[0].code
    for n in range(3):
        Cases(store, "incident").open({"category": category, "title": f"路灯损坏 {n}", "grid": GRID,
                                       "description": "村道路灯不亮", "location": "示例村",
                                       "reporter": "张三", "reporter_phone": "13800000000"})
    store.close()
    cli("sync")
    page = session.get(sqlite_hub.url + "/work").text
    headers = re.findall(r'<th data-key="(.*?)">', page)
    rows = re.findall(r'<tr id="work-(\d+|county)">(.*?)</tr>', page)
    cells = {place: dict(zip(headers, re.findall(r"<td>(.*?)</td>", row), strict=True))
             for place, row in rows}
    for place in ("county", "440524001"):
        assert (cells[place]["incidents_reported"], cells[place]["incidents_closed"]) == ("3", "0")
        assert cells[place]["incidents_overdue"] == "0"  # just opened: the first deadline is ahead
    assert "（0/3）" in page.split('id="closure-over-time"')[1]  # today: 3 reported, none closed


def test_volunteer_points_at_the_county_match_the_station_s_ledger(
        cli: Cli, sqlite_hub: HubServer) -> None:
    import json
    from datetime import datetime, timedelta

    from sync.validate import CHINA_TZ

    from .test_sync_e2e import enroll
    from .test_volunteers import add_volunteer

    session, _ = logged_in(sqlite_hub)
    enroll(cli, sqlite_hub)
    now = datetime.now(CHINA_TZ)
    today, month = now.date().isoformat(), now.strftime("%Y-%m")
    busy = add_volunteer(cli, "王小明", "13912345678")
    quiet = add_volunteer(cli, "李小红", "13812345678")
    cli("volunteer", "checkin", quiet, "--day", today)
    cli("volunteer", "checkin", busy, "--day", today)
    case = cli("incident", "new", "--json", json.dumps(
        {"category": "03", "title": "井盖缺失", "grid": GRID, "source": "02", "volunteer": busy}),
        "--at", now.isoformat(timespec="seconds")).stdout.strip()
    accepted_at = (now + timedelta(seconds=30)).isoformat(timespec="seconds")
    cli("incident", "advance", case, "report", "--at", accepted_at)
    cli("sync")
    station = [(r["name"], r["points"]) for r in map(
        json.loads, cli("volunteer", "ranking", "--month", month).stdout.splitlines())]
    table = re.search(r'<table id="volunteers">(.*?)</table>', session.get(sqlite_hub.url + "/work").text)
    assert table
    county = [(cells[1], int(cells[4])) for cells in
              (re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table.group(1)))
              if cells]
    # By name, masked as a station's list masks it (a passer-by may see the county's screen),
    # and never the volunteer's record id.
    assert county == [(name[0] + "*" * (len(name) - 1), points) for name, points in station]
    assert county[0][0] == "王**" and county[0][1] > county[1][1]
    assert busy not in table.group(1) and quiet not in table.group(1)


def test_xlsx_export_keeps_numbers_as_numbers_and_formulas_as_text() -> None:
    import io

    from openpyxl import load_workbook

    from sync.hub.tables import to_xlsx

    rows = [["示例镇综治中心", 11302, 0.992, None], ["=HYPERLINK(\"http://x\")", 0, 1.0, True]]
    book = load_workbook(io.BytesIO(to_xlsx("work: 县[1]", ["站点", "事件", "结案率", "备注"], rows)))
    sheet = book.worksheets[0]
    assert sheet.title == "work_ 县_1_"  # Excel's forbidden characters replaced
    got = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert got == [["示例镇综治中心", 11302, 0.992, None], ["=HYPERLINK(\"http://x\")", 0, 1.0, "True"]]
    assert sheet["B2"].data_type == "n" and sheet["A3"].data_type == "s"  # summable; not run


@pytest.mark.parametrize("text", ["=1+1", "+86 138", "-2+3", "@SUM(A1:A2)"])
def test_a_cell_that_begins_like_a_formula_is_exported_as_text(text: str) -> None:
    """Excel and WPS start a formula at = + - or @ (OWASP's CSV injection list): the CSV
    prefixes such a cell with an apostrophe, which both read as text and do not show; the
    XLSX stores it as a string. A negative figure stays a number in both."""
    import csv
    import io

    from openpyxl import load_workbook

    from sync.hub.tables import Label, to_csv, to_xlsx

    rows = [[text, Label(text, "", "x"), -3]]
    read = list(csv.reader(io.StringIO(to_csv(["a", "b", "n"], rows).decode("utf-8-sig"))))
    assert read[1] == ["'" + text, "'" + text, "-3"]
    sheet = load_workbook(io.BytesIO(to_xlsx("t", ["a", "b", "n"], rows))).worksheets[0]
    a, b, n = sheet[2]
    assert (a.value, a.data_type, b.value, b.data_type) == (text, "s", text, "s")
    assert (n.value, n.data_type) == (-3, "n")
