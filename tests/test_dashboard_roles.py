"""Roles, login throttling and the audit trail of the county dashboard, over the hub's real
HTTPS on both engines: a viewer reads and exports and is refused (403) every admin action
however it is posted; wrong passwords lock an account from every address, and an address for
every account, until the wait is over; every action leaves an audit row that only admins see;
`county user add --role / remove / passwd`."""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from requests.adapters import HTTPAdapter

from sync.hub import county
from sync.hub.access import Access
from sync.hub.audit import Actor
from sync.hub.cli import main as county_main

from .conftest import NOON, FakeTime
from .hubserver import HubServer

ADMIN_PW = "county it password"
VIEWER_PW = "viewer password 1"
BEIJING = timezone(timedelta(hours=8))
BUNDLES = Path(__file__).resolve().parent.parent / "examples" / "bundles"
# The refusal a viewer gets, Chinese first.
ADMIN_ONLY = "需要管理员权限：查看员账号只能查看和导出"


class FromAddress(HTTPAdapter):
    """Connects from another loopback address (all of 127/8 is this machine), as a second
    computer in the county office would."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def browser(hub: HubServer, source: str = "127.0.0.1") -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(hub.home / "tls.crt")
    session.mount("https://", FromAddress(source))
    return session


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page)
    assert found, f"no {name} in the page"
    return found.group(1)


def log_in(hub: HubServer, session: requests.Session, name: str, password: str) -> requests.Response:
    form = session.get(hub.url + "/login")
    return session.post(hub.url + "/login", allow_redirects=False, data={
        "login_csrf": hidden(form.text, "login_csrf"), "name": name, "password": password})


def signed_in(hub: HubServer, name: str, password: str,
              source: str = "127.0.0.1") -> tuple[requests.Session, str]:
    session = browser(hub, source)
    assert log_in(hub, session, name, password).status_code == 303
    return session, hidden(session.get(hub.url + "/stations").text, "csrf")


def beijing(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime(NOON)


def _hub(database: str, tmp_path: Path, fake: FakeTime) -> Iterator[HubServer]:
    home = tmp_path / "county"
    county.init(home, database)
    access = Access(county.open_hub(home), fake.wall_ms)
    assert access.add_account("it", ADMIN_PW)  # the first account: an admin
    assert access.add_account("guest", VIEWER_PW)  # after it: a viewer
    server = HubServer(home, wall_ms=fake.wall_ms).start()
    yield server
    server.stop()


@pytest.fixture
def roles_hub(hub_database: str, tmp_path: Path, fake: FakeTime) -> Iterator[HubServer]:
    """A real hub on each engine, its clock the test's, with an admin `it` and a viewer `guest`."""
    yield from _hub(hub_database, tmp_path, fake)


@pytest.fixture
def roles_sqlite_hub(tmp_path: Path, fake: FakeTime) -> Iterator[HubServer]:
    yield from _hub(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path, fake)


def rows(hub: HubServer, sql: str) -> list[tuple[Any, ...]]:
    with county.open_hub(hub.home).storage.transaction() as tx:
        return tx.rows(sql)


def enrolled_station(hub: HubServer, name: str) -> None:
    h = county.open_hub(hub.home)
    key = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes_raw()).decode()
    h.enroll(h.add_enrollment("440524001", []), name, key)


def test_a_viewer_reads_and_exports_but_is_refused_every_admin_action(roles_hub: HubServer) -> None:
    enrolled_station(roles_hub, "st1")
    viewer, csrf = signed_in(roles_hub, "guest", VIEWER_PW)
    for path in ("/stations", "/schema", "/work", "/export/stations.csv", "/export/work.xlsx"):
        assert viewer.get(roles_hub.url + path).status_code == 200, path
    stations = viewer.get(roles_hub.url + "/stations").text
    schema = viewer.get(roles_hub.url + "/schema").text
    assert "查看员" in stations  # the role beside the account
    for button in ('id="enroll"', 'class="revoke"', 'id="nav-audit"'):
        assert button not in stations, button
    assert 'id="preview"' not in schema
    bundle = (BUNDLES / "0002-person-living-alone.json").read_bytes()
    posts = [("/stations/enroll", {"township": "440524001"}, None),
             ("/stations/st1/revoke", {}, None),
             ("/schema/preview", {}, {"bundle": ("b.json", bundle)}),
             ("/schema/publish", {"raw": base64.b64encode(bundle).decode()}, None)]
    for path, data, files in posts:
        refused = viewer.post(roles_hub.url + path, data={"csrf": csrf, **data}, files=files)
        assert refused.status_code == 403, path
        assert ADMIN_ONLY in refused.text and "admins only" in refused.text
        assert refused.text.index(ADMIN_ONLY) < refused.text.index("admins only")  # Chinese first
    audit = viewer.get(roles_hub.url + "/audit", allow_redirects=False)
    assert audit.status_code == 403 and ADMIN_ONLY in audit.text
    # Nothing changed: no code made, the station active, still schema version 1.
    assert rows(roles_hub, "SELECT count(*) FROM enrollments WHERE used_by IS NULL") == [(0,)]
    assert rows(roles_hub, "SELECT revoked_at FROM stations") == [(None,)]
    assert rows(roles_hub, "SELECT count(*) FROM bundles") == [(0,)]

    admin, csrf = signed_in(roles_hub, "it", ADMIN_PW)
    page = admin.get(roles_hub.url + "/stations").text
    assert 'id="enroll"' in page and 'class="revoke"' in page and 'id="nav-audit"' in page
    made = admin.post(roles_hub.url + "/stations/enroll", data={"csrf": csrf, "township": "440524001"})
    assert made.status_code == 200 and 'id="enroll-code"' in made.text
    assert admin.post(roles_hub.url + "/stations/st1/revoke", data={"csrf": csrf}).status_code == 200
    preview = admin.post(roles_hub.url + "/schema/preview", data={"csrf": csrf},
                         files={"bundle": ("b.json", bundle)})
    assert preview.status_code == 200
    published = admin.post(roles_hub.url + "/schema/publish",
                           data={"csrf": csrf, "raw": hidden(preview.text, "raw")})
    assert published.status_code == 200 and 'id="version-2"' in published.text
    assert admin.get(roles_hub.url + "/audit").status_code == 200
    assert rows(roles_hub, "SELECT count(*) FROM enrollments WHERE used_by IS NULL") == [(1,)]
    assert rows(roles_hub, "SELECT count(*) FROM stations WHERE revoked_at IS NOT NULL") == [(1,)]
    assert rows(roles_hub, "SELECT version FROM bundles") == [(2,)]


def _lock_message(ms: int) -> str:
    return f"尝试次数过多，请于 {beijing(ms)}（北京时间）后再试"


def test_wrong_passwords_lock_the_account_from_every_address_until_the_wait_is_over(
        roles_hub: HubServer, fake: FakeTime) -> None:
    guesser = browser(roles_hub, "127.0.0.2")
    for n in range(1, 5):
        wrong = log_in(roles_hub, guesser, "it", f"guess number {n}")
        assert wrong.status_code == 401 and "账号或密码不对" in wrong.text
        fake.ms += 1000
    fifth = log_in(roles_hub, guesser, "it", "guess number 5")
    opens = fake.ms + 5 * 60_000  # five wrong within 15 minutes: locked 5 minutes after the fifth
    assert fifth.status_code == 429 and _lock_message(opens) in fifth.text
    # The right password, from another computer, to another worker on the same database:
    # refused too, and no session made.
    owner = browser(roles_hub, "127.0.0.3")
    fake.ms += 60_000
    second = HubServer(roles_hub.home, wall_ms=fake.wall_ms).start()
    try:
        locked = log_in(second, owner, "it", ADMIN_PW)
    finally:
        owner.close()  # else the worker waits for its keep-alive connection to stop
        second.stop()
    assert locked.status_code == 429 and _lock_message(opens) in locked.text
    assert "ts_session" not in owner.cookies
    # A name that is no account locks the same way, with the same words: a lock tells nothing.
    elsewhere = browser(roles_hub, "127.0.0.9")  # (a tenth wrong one would lock 127.0.0.2)
    for n in range(5):
        last = log_in(roles_hub, elsewhere, "nobody", f"guess {n}")
    assert last.status_code == 429
    assert _lock_message(fake.ms + 5 * 60_000) in last.text
    fake.ms = opens - 1
    assert log_in(roles_hub, owner, "it", ADMIN_PW).status_code == 429
    fake.ms = opens
    assert log_in(roles_hub, owner, "it", ADMIN_PW).status_code == 303  # the wait is over
    # The right password forgot the account's failures: one more wrong one is just wrong.
    assert log_in(roles_hub, guesser, "it", "one more guess").status_code == 401


def test_wrong_passwords_from_one_address_lock_it_for_every_account(
        roles_sqlite_hub: HubServer, fake: FakeTime) -> None:
    hub = roles_sqlite_hub
    sprayer = browser(hub, "127.0.0.4")
    for n in range(9):  # one guess at each of nine names: no account reaches its five
        assert log_in(hub, sprayer, f"user{n}", "password1234").status_code == 401
    tenth = log_in(hub, sprayer, "guest", "password1234")
    assert tenth.status_code == 429 and _lock_message(fake.ms + 5 * 60_000) in tenth.text
    assert log_in(hub, sprayer, "it", ADMIN_PW).status_code == 429  # from that address, even right
    assert log_in(hub, browser(hub, "127.0.0.5"), "guest", VIEWER_PW).status_code == 303  # elsewhere
    fake.ms += 5 * 60_000
    assert log_in(hub, sprayer, "it", ADMIN_PW).status_code == 303
    # Kept as keyed hashes: neither the names typed nor the address are in the table.
    keys = " ".join(k for (k,) in rows(hub, "SELECT key FROM login_failures"))
    assert "user1" not in keys and "127.0.0.4" not in keys and len(keys.split()[0]) == 64


def test_every_action_leaves_an_audit_row_that_the_audit_page_shows_newest_first(
        roles_hub: HubServer, fake: FakeTime) -> None:
    enrolled_station(roles_hub, "st1")
    stranger = browser(roles_hub, "127.0.0.6")
    # A password typed in the name box:
    assert log_in(roles_hub, stranger, "my secret pw", "x" * 12).status_code == 401
    fake.ms += 1000
    assert log_in(roles_hub, stranger, "it", "wrong password").status_code == 401
    fake.ms += 1000
    viewer, vcsrf = signed_in(roles_hub, "guest", VIEWER_PW, "127.0.0.7")
    assert viewer.get(roles_hub.url + "/export/work.csv?month=2026-11").status_code == 200
    assert viewer.post(roles_hub.url + "/stations/st1/revoke", data={"csrf": vcsrf}).status_code == 403
    admin, csrf = signed_in(roles_hub, "it", ADMIN_PW)
    typo = admin.post(roles_hub.url + "/stations/enroll", data={"csrf": csrf, "township": "张三 13800138000"})
    assert typo.status_code == 400
    admin.post(roles_hub.url + "/stations/enroll", data={"csrf": csrf, "township": "440524001",
                                                          "grids": "440524001001"})
    admin.post(roles_hub.url + "/stations/st1/revoke", data={"csrf": csrf})
    bundle = (BUNDLES / "0002-person-living-alone.json").read_bytes()
    admin.post(roles_hub.url + "/schema/publish",
               data={"csrf": csrf, "raw": base64.b64encode(bundle).decode()})
    assert admin.get(roles_hub.url + "/export/stations.xlsx").status_code == 200
    fake.ms += 1000
    admin.post(roles_hub.url + "/logout", data={"csrf": csrf})
    expected = [
        ("", "", "127.0.0.6", "login", "", "failed"),  # the name typed is not kept
        ("it", "admin", "127.0.0.6", "login", "", "failed"),
        ("guest", "viewer", "127.0.0.7", "login", "", "ok"),
        ("guest", "viewer", "127.0.0.7", "export", "work.csv?month=2026-11", "ok"),
        ("guest", "viewer", "127.0.0.7", "revoke", "st1", "forbidden"),
        ("it", "admin", "127.0.0.1", "login", "", "ok"),
        ("it", "admin", "127.0.0.1", "enroll", "", "refused"),  # what was typed is not kept
        ("it", "admin", "127.0.0.1", "enroll", "440524001 440524001001", "ok"),
        ("it", "admin", "127.0.0.1", "revoke", "st1", "ok"),
        ("it", "admin", "127.0.0.1", "publish", "v2", "ok"),
        ("it", "admin", "127.0.0.1", "export", "stations.xlsx", "ok"),
        ("it", "admin", "127.0.0.1", "logout", "", "ok"),
    ]
    found = rows(roles_hub, "SELECT at, account, role, address, action, target, outcome FROM audit"
                            " ORDER BY id")
    assert [r[1:] for r in found] == expected
    # Stored in UTC: the fake clock's noon in Beijing is 04:00 UTC.
    assert found[0][0] == "2026-11-27T04:00:00.000+00:00"
    assert found[-1][0] == "2026-11-27T04:00:03.000+00:00"
    every = " ".join(str(v) for r in found for v in r)
    for secret in ("my secret pw", ADMIN_PW, "wrong password", "张三", "13800138000"):
        assert secret not in every

    admin, _ = signed_in(roles_hub, "it", ADMIN_PW)  # a 13th row: this login
    page = admin.get(roles_hub.url + "/audit").text
    table = page[page.index('id="audit"'):]
    cells = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td>", table)
    assert cells[0] == ("2026-11-27 12:00:03", "it")  # newest first, in Beijing time
    assert cells[-1] == ("2026-11-27 12:00:00", "—")
    assert "吊销站点" in table and "revoke station" in table and "无权限" in table
    assert table.index("登录") < table.index("log in")


def test_the_audit_page_is_paged(roles_sqlite_hub: HubServer, fake: FakeTime) -> None:
    hub = roles_sqlite_hub
    anonymous = browser(hub).get(hub.url + "/audit", allow_redirects=False)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login")
    access = Access(county.open_hub(hub.home), fake.wall_ms)
    for n in range(60):
        access.record(Actor("it", "admin", "10.0.0.1"), "export", f"t{n}.csv")
    admin, _ = signed_in(hub, "it", ADMIN_PW)  # row 61
    first = admin.get(hub.url + "/audit").text
    second = admin.get(hub.url + "/audit?page=2").text
    assert first.count("<tr><td>") == 50 and second.count("<tr><td>") == 11
    assert "第 1 页，共 2 页" in first and 'id="audit-older"' in first and 'id="audit-newer"' not in first
    assert "t59.csv" in first and "t10.csv" not in first and "t9.csv" in second and "t0.csv" in second
    for bad in ("0", "x", "-1"):
        wrong = admin.get(hub.url + f"/audit?page={bad}")
        assert wrong.status_code == 400 and "field page" in wrong.text


def county_cli(home: Path, *args: str, password: str | None = None, ok: bool = True) -> Any:
    """`county` in this process (click's runner): the password as typed at its prompt, twice."""
    result = CliRunner().invoke(county_main, ["--home", str(home), *args],
                                input=None if password is None else f"{password}\n{password}\n",
                                env={"COUNTY_PASSWORD": ""})
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_county_user_add_remove_passwd_with_roles_and_every_change_audited(sqlite_hub: HubServer) -> None:
    home = sqlite_hub.home
    first = county_cli(home, "user", "add", "guest", "--role", "viewer", password=VIEWER_PW, ok=False)
    assert "first account must be an admin" in first.output and "first_admin" in first.output
    county_cli(home, "user", "add", "it", password=ADMIN_PW)  # the first: admin by default
    county_cli(home, "user", "add", "guest", password=VIEWER_PW)  # later ones: viewer by default
    county_cli(home, "user", "add", "boss", "--role", "admin", password=ADMIN_PW)
    bad = county_cli(home, "user", "add", "x", "--role", "owner", password=ADMIN_PW, ok=False)
    assert "owner" in bad.output
    listed = county_cli(home, "user", "list").output
    assert '"name":"guest","role":"viewer"' in listed and '"name":"it","role":"admin"' in listed
    assert "argon2" not in listed

    viewer, _ = signed_in(sqlite_hub, "guest", VIEWER_PW)
    county_cli(home, "user", "passwd", "guest", password="a new viewer password")
    assert viewer.get(sqlite_hub.url + "/stations", allow_redirects=False).status_code == 303  # session over
    assert log_in(sqlite_hub, browser(sqlite_hub), "guest", VIEWER_PW).status_code == 401
    viewer, _ = signed_in(sqlite_hub, "guest", "a new viewer password")
    short = county_cli(home, "user", "passwd", "guest", password="short", ok=False)
    assert "at least 10" in short.output
    county_cli(home, "user", "remove", "guest")
    assert viewer.get(sqlite_hub.url + "/stations", allow_redirects=False).status_code == 303
    assert "no account nobody" in county_cli(home, "user", "remove", "nobody", ok=False).output
    county_cli(home, "user", "remove", "boss")
    last = county_cli(home, "user", "remove", "it", ok=False)
    assert "last admin cannot be removed" in last.output and "last_admin" in last.output
    assert '"name":"it","role":"admin"' in county_cli(home, "user", "list").output

    # The station and schema commands of county IT are audited too.
    county_cli(home, "station", "add", "--township", "440524001", "--grid", "440524001001")
    enrolled_station(sqlite_hub, "st9")
    county_cli(home, "station", "grids", "st9", "--grid", "440524001002")
    county_cli(home, "station", "revoke", "st9")
    county_cli(home, "station", "revoke", "st9", ok=False)  # already revoked
    county_cli(home, "schema", "push", str(BUNDLES / "0003-house-floor-area.json"), ok=False)  # too new
    county_cli(home, "schema", "push", str(BUNDLES / "0002-person-living-alone.json"))
    with sqlite3.connect(home / "hub.db") as conn:
        audit = conn.execute("SELECT account, address, action, target, outcome FROM audit"
                             " WHERE address = 'cli' ORDER BY id").fetchall()
    assert all(account.startswith("os:") for account, *_ in audit)
    assert [tuple(r[2:]) for r in audit] == [
        ("user_add", "guest (viewer)", "refused"),  # the viewer asked for first: refused, not added
        ("user_add", "it (admin)", "ok"), ("user_add", "guest (viewer)", "ok"),
        ("user_add", "boss (admin)", "ok"), ("user_passwd", "guest", "ok"),
        ("user_remove", "guest", "ok"), ("user_remove", "nobody", "refused"),
        ("user_remove", "boss", "ok"), ("user_remove", "it", "refused"),
        ("enroll", "440524001 440524001001", "ok"), ("grids", "st9: 440524001002", "ok"),
        ("revoke", "st9", "ok"), ("revoke", "st9", "refused"),
        ("publish", "0003-house-floor-area.json", "refused"), ("publish", "v2", "ok")]


def test_two_admins_removed_at_once_on_postgresql_leave_one(postgres_url: str, tmp_path: Path) -> None:
    import threading

    import psycopg

    from sync.errors import ValidationError

    home = tmp_path / "county"
    county.init(home, postgres_url)
    access = Access(county.open_hub(home), lambda: NOON)
    for name in ("a", "b"):
        access.add_account(name, ADMIN_PW, "admin")
    outcomes: dict[str, str] = {}

    def remove(name: str) -> None:
        other = Access(county.open_hub(home), lambda: NOON)  # its own connections, as a second worker
        try:
            other.remove_account(name, Actor("os:test", "", "cli"))
            outcomes[name] = "removed"
        except ValidationError as exc:
            outcomes[name] = exc.rule

    with psycopg.connect(postgres_url) as holder:  # as a third removal, midway
        holder.execute("SELECT name FROM accounts WHERE role = 'admin' FOR UPDATE")
        threads = [threading.Thread(target=remove, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for _ in range(600):  # both wait on the admins' rows before either has looked
            waiting = holder.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
            if waiting and waiting[0] >= 2:
                break
            threading.Event().wait(0.05)
        holder.rollback()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["last_admin", "removed"]
    with county.open_hub(home).storage.transaction() as tx:
        assert len(tx.admins()) == 1


def test_in_a_browser_a_viewer_sees_no_admin_button_and_an_admin_reads_the_audit(
        roles_sqlite_hub: HubServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from .test_dashboard_browser import shoot
    from .test_tui_web import chromium

    hub = roles_sqlite_hub
    enrolled_station(hub, "st1")
    browser = chromium(1100, 700, "--ignore-certificate-errors")

    def log_in_as(name: str, password: str) -> None:
        browser.get(hub.url + "/login")
        browser.find_element(By.ID, "name").send_keys(name)
        browser.find_element(By.ID, "password").send_keys(password)
        browser.find_element(By.ID, "login").click()
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.ID, "stations"))

    try:
        log_in_as("guest", VIEWER_PW)
        assert "查看员" in browser.find_element(By.ID, "role").text
        for absent in ((By.ID, "enroll"), (By.CLASS_NAME, "revoke"), (By.ID, "nav-audit")):
            assert browser.find_elements(*absent) == [], absent
        browser.get(hub.url + "/audit")  # typed in the address bar
        assert ADMIN_ONLY in browser.find_element(By.TAG_NAME, "h1").text
        browser.find_element(By.ID, "logout").click()
        log_in_as("it", ADMIN_PW)
        assert browser.find_elements(By.CLASS_NAME, "revoke") and browser.find_elements(By.ID, "enroll")
        browser.find_element(By.ID, "nav-audit").click()
        table = WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "audit"))
        lines = table.text.splitlines()
        assert "无权限" in table.text and "查看审计" in table.text  # the viewer's try, refused
        assert lines[0].startswith("时间（北京时间）")
        shoot(browser, "dashboard-audit", tmp_path)
    finally:
        browser.quit()


def test_guesses_sent_at_once_to_several_workers_get_five_password_checks(
        hub_database: str, tmp_path: Path) -> None:
    import threading

    from sync.errors import LoginThrottled

    home = tmp_path / "county"
    county.init(home, hub_database)
    Access(county.open_hub(home), lambda: NOON).add_account("it", ADMIN_PW)
    workers = [Access(county.open_hub(home), lambda: NOON) for _ in range(12)]  # a connection each
    start = threading.Barrier(len(workers))
    answers: list[str] = []

    def guess(worker: Access, n: int) -> None:
        start.wait()
        try:
            answers.append("wrong" if worker.log_in("it", f"guess {n}", f"10.0.0.{n}") is None else "in")
        except LoginThrottled:
            answers.append("locked")

    threads = [threading.Thread(target=guess, args=(w, n)) for n, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # A check that ends after the fifth try was counted answers with the lock as well.
    assert len(answers) == 12 and set(answers) <= {"wrong", "locked"} and answers.count("wrong") <= 4
    with county.open_hub(home).storage.transaction() as tx:
        outcomes = dict(tx.rows("SELECT outcome, count(*) FROM audit GROUP BY outcome"))
    assert outcomes == {"failed": 5, "locked": 7}  # five passwords checked, seven never were
