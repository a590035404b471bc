"""The hub's rules on both storage engines: enrollment, signed requests, push and pull."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.errors import ValidationError
from sync.hub.rules import Hub, HubClock, code_hash
from sync.hub.storage import StationRow, open_storage
from sync.protocol import PushBatch, WireChange
from sync.schema import v1_schema
from sync.signing import AuthError, sign

from .conftest import NOON

SCHEMA = v1_schema()
KEY = Ed25519PrivateKey.generate()
PUBLIC = base64.b64encode(KEY.public_key().public_bytes_raw()).decode()
GRID = "440524001001"


class Time:
    ms = NOON


@pytest.fixture
def hub(hub_database: str) -> Iterator[Hub]:
    storage = open_storage(hub_database)
    storage.migrate()
    Time.ms = NOON
    yield Hub(storage, os.urandom(32), SCHEMA, HubClock(lambda: Time.ms))
    storage.close()


def enrolled(hub: Hub, station_id: str = "sta", grids: list[str] | None = None,
             township: str = "440524001") -> StationRow:
    code = hub.add_enrollment(township, grids or [])
    return hub.enroll(code, station_id, PUBLIC)


def person(seq: int, record: str, station: str = "sta", op: str = "add",
           fields: dict[str, object] | None = None, base: dict[str, str] | None = None,
           grid: str = GRID, wall: int = NOON) -> WireChange:
    return WireChange(station, seq, record, "person", op, grid,
                      fields if fields is not None else
                      {"name": "李四", "id_number": "11010519491231002X", "grid": grid},
                      f"{wall + seq:015d}.000000.{station.replace('-', '')}", base or {}, 1)


R1 = "01a224be-898f-709d-9d8d-22528afa74a2"
R2 = "01a224be-898f-709d-9d8d-22528afa74a3"


def test_an_enrollment_code_enrolls_one_station_once(hub: Hub) -> None:
    code = hub.add_enrollment("440524001", [])
    assert len(code) == 19 and code.count("-") == 3
    hub.enroll(code.lower(), "sta", PUBLIC)
    with pytest.raises(ValidationError, match="lower-case letters or digits"):
        hub.enroll(hub.add_enrollment("440524001", []), "Station-1", PUBLIC)  # cannot be a clock node
    with pytest.raises(AuthError, match="already used"):
        hub.enroll(code, "stb", PUBLIC)
    assert code_hash(code) == code_hash(code.replace("-", "").lower())


def signed_headers(body: bytes, station: str = "sta", at: int = NOON) -> dict[str, str]:
    return sign(KEY, "POST", "/v1/push", body, station, at)


def test_signed_requests_are_checked_for_every_way_to_cheat(hub: Hub) -> None:
    enrolled(hub)
    body = b"batch"
    headers = signed_headers(body)
    assert hub.authenticate(headers, "POST", "/v1/push", body).id == "sta"
    cases = {
        "replayed": (headers, body),
        "bad_signature": (signed_headers(body), b"tampered"),
        "unsigned": ({}, body),
        "expired": (signed_headers(body, at=NOON - 10 * 60_000), body),
        "unknown_station": (signed_headers(body, station="stx"), body),
    }
    for reason, (h, b) in cases.items():
        with pytest.raises(AuthError) as err:
            hub.authenticate(h, "POST", "/v1/push", b)
        assert err.value.reason == reason
    hub.revoke("sta")
    with pytest.raises(AuthError) as err:
        hub.authenticate(signed_headers(body), "POST", "/v1/push", body)
    assert err.value.reason == "revoked"


def test_a_resent_batch_gets_the_same_receipts_and_stores_nothing_twice(hub: Hub) -> None:
    station = enrolled(hub)
    batch = PushBatch("sta", (person(1, R1), person(2, R2)))
    first = hub.push(station, batch)
    assert [r.rejected for r in first] == [None, None]
    assert hub.push(station, batch) == first
    assert len(list(hub.export())) == 2


def test_a_bad_change_is_rejected_alone_with_its_reason(hub: Hub) -> None:
    station = enrolled(hub)
    bad_phone = person(2, R2, fields={"name": "王五", "id_number": "34052419800101001X",
                                       "grid": GRID, "phone": "12345"})
    out_of_scope = person(3, "01a224be-898f-709d-9d8d-22528afa74a4", grid="440524002001",
                          fields={"name": "赵六", "id_number": "440524188001010014",
                                  "grid": "440524002001"})
    ahead = person(4, "01a224be-898f-709d-9d8d-22528afa74a5", wall=NOON + 3_600_000)
    results = hub.push(station, PushBatch("sta", (person(1, R1), bad_phone, out_of_scope, ahead,
                                                   person(5, "01a224be-898f-709d-9d8d-22528afa74a6"))))
    assert results[0].receipt and results[4].receipt
    assert "field phone" in (results[1].rejected or "")
    assert "outside this station's scope" in (results[2].rejected or "")
    assert "ahead" in (results[3].rejected or "")
    assert [r["id"] for r in hub.export()] == [R1, "01a224be-898f-709d-9d8d-22528afa74a6"]


def test_a_station_cannot_push_another_stations_changes(hub: Hub) -> None:
    station = enrolled(hub)
    (result,) = hub.push(station, PushBatch("sta", (person(1, R1, station="stb"),)))
    assert result.rejected and "own changes" in result.rejected


def test_pull_gives_other_stations_changes_in_scope_and_moves_the_cursor(hub: Hub) -> None:
    a = enrolled(hub, "sta")
    b = enrolled(hub, "stb")
    c = enrolled(hub, "stc", grids=["440524001002"])
    hub.push(a, PushBatch("sta", (person(1, R1), person(2, R2))))
    page = hub.pull(b, 0, limit=1)
    assert [ch.record for ch in page.changes] == [R1] and page.more
    assert page.changes[0].fields["name"] == "李四"
    rest = hub.pull(b, page.cursor)
    assert [ch.record for ch in rest.changes] == [R2] and not rest.more
    assert hub.pull(a, 0).changes == ()             # its own changes do not come back
    other = hub.pull(c, 0)
    assert other.changes == () and other.cursor == rest.cursor  # nothing in its grid


def test_concurrent_edits_converge_on_the_later_one_and_keep_the_loser(hub: Hub) -> None:
    a, b = enrolled(hub, "sta"), enrolled(hub, "stb")
    hub.push(a, PushBatch("sta", (person(1, R1),)))
    base = {"name": person(1, R1).hlc}
    hub.push(a, PushBatch("sta", (person(2, R1, op="update", fields={"name": "李四甲"}, base=base),)))
    hub.push(b, PushBatch("stb", (person(3, R1, station="stb", op="update",
                                          fields={"name": "李四乙"}, base=base),)))
    (record,) = hub.export()
    assert record["fields"]["name"] == "李四乙"   # the later clock wins everywhere
    state = hub.state(R1)
    assert [v.value for v in state["name"].losers] == ['"李四甲"']
    (conflict,) = hub.conflicts()
    assert (conflict["record"], conflict["field"]) == (R1, "name")
    assert conflict["winner"]["value"] == "李四乙" and conflict["winner"]["station"] == "stb"
    assert [v["value"] for v in conflict["losers"]] == ["李四甲"]


def test_no_personal_value_is_in_clear_in_the_hubs_database(hub: Hub, tmp_path: Path) -> None:
    station = enrolled(hub)
    hub.push(station, PushBatch("sta", (person(1, R1),)))
    with hub.storage.transaction() as tx:
        dump = repr(tx.rows("SELECT * FROM changes")) + repr(tx.rows("SELECT * FROM records"))
    assert "李四" not in dump and "11010519491231002X" not in dump
    assert GRID in dump  # the scan can see what is clear on purpose


def test_one_batch_may_add_then_edit_a_record_and_repeat_a_change(hub: Hub) -> None:
    """A batch is applied in order as if its changes came one by one: a later change of a
    record sees the earlier one's state, and a change repeated inside the batch is stored once."""
    a = enrolled(hub, "sta")
    add = person(1, R1)
    edit = person(2, R1, op="update", fields={"name": "李四改"}, base={"name": add.hlc})
    bad = person(3, R2, fields={"name": "王五", "id_number": "123"})
    results = hub.push(a, PushBatch("sta", (add, edit, bad, edit)))
    assert [r.seq for r in results] == [1, 2, 3, 2]
    assert results[0].receipt and results[1].receipt and results[3].receipt == results[1].receipt
    assert results[2].rejected and "id_number" in results[2].rejected
    (record,) = hub.export()
    assert record["fields"]["name"] == "李四改"
    assert hub.conflicts() == []  # the edit saw the add: no conflict
    with hub.storage.transaction() as tx:
        assert len(tx.changes_since(0, StationRow("x", "440524001", (), "k", None), 100)) == 2


def test_a_push_committing_during_a_pull_is_not_skipped_by_its_cursor(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two hub processes on PostgreSQL: a push commits while another station's pull is
    between reading its page and choosing its cursor. The change comes with the next pull.

    (PostgreSQL's READ COMMITTED gives each statement its own snapshot; SQLite's pull holds
    the write lock for its whole transaction, so only PostgreSQL can interleave here.)"""
    import threading

    from sync.hub.storage import base

    storage = open_storage(postgres_url)
    storage.migrate()
    hub = Hub(storage, os.urandom(32), SCHEMA, HubClock(lambda: Time.ms))
    a, b = enrolled(hub, "sta"), enrolled(hub, "stb")
    page_of = base.Tx.changes_since
    pushed: list[bool] = []

    def page_then_a_push_commits(tx: base.Tx, *args: object, **kw: object) -> object:
        found = page_of(tx, *args, **kw)  # type: ignore[arg-type]
        if not pushed:
            pushed.append(True)
            other = threading.Thread(target=hub.push, args=(a, PushBatch("sta", (person(1, R1),))))
            other.start()
            other.join(30)
            assert not other.is_alive()
        return found

    monkeypatch.setattr(base.Tx, "changes_since", page_then_a_push_commits)
    first = hub.pull(b, 0)
    assert first.changes == ()
    assert [c.record for c in hub.pull(b, first.cursor).changes] == [R1]
    storage.close()
