"""Hostile input: the hub's endpoints fuzzed over real HTTPS with properly signed requests
(hypothesis mutating valid batches), the batch and bundle parsers fuzzed with arbitrary
bytes, and records whose text is long, hidden, SQL-looking, markup-looking, mixed-script or
emoji, stored and shown safely. Never a 5xx, never a partial write, never a crash.
Quick: 150 requests a test; `--full`: 2,000."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from station import synthetic
from station.ids import IdMaker
from sync.bundle import parse_bundle
from sync.clock import Stamp
from sync.errors import TownshipError
from sync.hub import county
from sync.protocol import decode_push
from sync.signing import sign
from sync.version import PROTOCOL_VERSION, ZSTD_MEDIA_TYPE

from ..conftest import GRID, TOWNSHIP
from ..hubserver import HubServer

CURRENT = (str(PROTOCOL_VERSION), "0.2.0-fuzz")  # what the fuzzer's requests say they speak


class Fuzzer:
    """An enrolled station that signs whatever body it is given."""

    def __init__(self, hub: HubServer) -> None:
        self.hub, self.key, self.id = hub, Ed25519PrivateKey.generate(), f"fuzz{uuid.uuid4().hex[:8]}"
        code = county.open_hub(hub.home).add_enrollment(TOWNSHIP, [])
        public = base64.b64encode(self.key.public_key().public_bytes_raw()).decode()
        county.open_hub(hub.home).enroll(code, self.id, public)
        self.session = requests.Session()
        self.statuses: dict[int, int] = {}
        self.reconnects = 0

    def send(self, method: str, path: str, body: bytes = b"", signed: bool = True,
             versions: tuple[str, str] | None = CURRENT) -> requests.Response:
        def attempt() -> requests.Response:
            now = time.time_ns() // 1_000_000
            headers = sign(self.key, method, path, body, self.id, now, versions=versions) if signed else {}
            return self.session.request(method, self.hub.url + path, data=body or None,
                                        headers=headers, verify=str(self.hub.home / "tls.crt"), timeout=30)
        try:
            reply = attempt()
        except requests.ConnectionError:
            # The hub closed the kept connection after an error reply just as we reused it:
            # a station's next round would open a new one, so do we (a crashed hub fails again).
            self.session = requests.Session()
            self.reconnects += 1
            reply = attempt()
        self.statuses[reply.status_code] = self.statuses.get(reply.status_code, 0) + 1
        return reply

    def stored(self) -> int:
        with county.open_hub(self.hub.home).storage.transaction() as tx:
            return int(tx.rows("SELECT count(*) FROM changes")[0][0])


@pytest.fixture(scope="module")
def fuzz_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    home = tmp_path_factory.mktemp("fuzz") / "county"
    county.init(home)
    hub = HubServer(home).start()
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def fuzzer(fuzz_hub: HubServer) -> Fuzzer:
    return Fuzzer(fuzz_hub)


def examples(request: pytest.FixtureRequest) -> int:
    return 2000 if request.config.getoption("--full") else 150


_people = synthetic.people(10**6, [GRID], seed=77)
_ids = IdMaker()
_seq = iter(range(1, 10**9))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12)
odd_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from([
    "'); DROP TABLE changes; --", "\x00", "\u202e", "[bold]x[/]", "A" * 5000, "😀" * 80, "",
    "2026-02-30", "44052419520120120X", "../../etc/passwd"])


def valid_change(station: str) -> dict[str, Any]:
    now = time.time_ns() // 1_000_000
    seq = next(_seq)
    return {"station": station, "seq": seq, "record": _ids.make(now), "entity": "person", "op": "add",
            "grid": GRID, "fields": next(_people), "hlc": str(Stamp(now, 0, station)), "base": {},
            "schema_version": 1, "was": None}


@st.composite
def mutated_batches(draw: st.DrawFn, station: str) -> dict[str, Any]:
    changes = [valid_change(station) for _ in range(draw(st.integers(1, 4)))]
    for change in changes:
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # many batches stay whole
            key = draw(st.sampled_from([*change, "extra"]))
            what = draw(st.sampled_from(["drop", "value", "field", "text"]))
            if what == "drop":
                change.pop(key, None)
            elif what == "value":
                change[key] = draw(json_values)
            elif what == "field" and isinstance(change.get("fields"), dict):
                change["fields"][draw(st.sampled_from([*change["fields"], "x", "_deleted", ""]))] = \
                    draw(json_values | odd_text)
            else:
                change[key] = draw(odd_text)
    batch: dict[str, Any] = {"station": station, "changes": changes}
    if draw(st.booleans()) and draw(st.booleans()):
        batch[draw(st.sampled_from(["station", "changes"]))] = draw(json_values)
    return batch


@pytest.mark.timeout(1800)  # --full: 2,000 requests
def test_fuzzed_push_batches_never_5xx_and_never_write_half(
        fuzzer: Fuzzer, request: pytest.FixtureRequest, figures: Callable[..., None]) -> None:
    accepted: set[int] = set()
    sent = [0]

    @settings(max_examples=examples(request), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated_batches(fuzzer.id))
    def one(batch: dict[str, Any]) -> None:
        body = zstandard.ZstdCompressor().compress(json.dumps(batch, ensure_ascii=False).encode())
        before = fuzzer.stored()
        reply = fuzzer.send("POST", "/v1/push", body)
        sent[0] += 1
        assert reply.status_code < 500, reply.text
        after = fuzzer.stored()
        if reply.status_code != 200:
            assert after == before, "a refused batch wrote something"
            assert "message" in reply.json()
            return
        results = json.loads(zstandard.ZstdDecompressor().decompress(reply.content))["results"]
        assert len(results) == len(batch["changes"])
        new = {r["seq"] for r in results if r["receipt"]} - accepted
        assert after - before == len(new)  # exactly the accepted ones, each once
        accepted.update(new)
        for r in results:
            assert (r["receipt"] is None) != (r["rejected"] is None)

    one()
    figures(runs=1, requests=sent[0], statuses=fuzzer.statuses, accepted=len(accepted),
            reconnects=fuzzer.reconnects,
            server_errors=sum(n for s, n in fuzzer.statuses.items() if s >= 500))


@pytest.mark.timeout(1800)
def test_fuzzed_raw_bodies_queries_and_unsigned_calls_never_5xx(
        fuzzer: Fuzzer, request: pytest.FixtureRequest) -> None:
    before = fuzzer.stored()

    @settings(max_examples=examples(request), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=2000), st.dictionaries(
        st.sampled_from(["cursor", "limit", "schema", "own", "after"]),
        st.text(max_size=12) | st.integers(-(2**64), 2**64).map(str), max_size=4),
        st.sampled_from(["push-raw", "push-zstd", "pull", "schema", "enroll", "unsigned"]))
    def one(raw: bytes, query: dict[str, str], kind: str) -> None:
        q = "&".join(f"{k}={requests.utils.quote(v)}" for k, v in query.items())
        if kind == "push-raw":
            reply = fuzzer.send("POST", "/v1/push", raw)
        elif kind == "push-zstd":
            reply = fuzzer.send("POST", "/v1/push", zstandard.ZstdCompressor().compress(raw)[:-1])
        elif kind == "pull":
            reply = fuzzer.send("GET", f"/v1/pull?{q}")
        elif kind == "schema":
            reply = fuzzer.send("GET", f"/v1/schema?{q}")
        elif kind == "enroll":
            reply = fuzzer.send("POST", "/v1/enroll", raw, signed=False)
        else:
            reply = fuzzer.send("POST", "/v1/push", raw, signed=False)
            assert reply.status_code == 401
        assert reply.status_code < 500, reply.text

    one()
    assert fuzzer.stored() == before


@pytest.mark.timeout(1800)
def test_fuzzed_version_headers_are_answered_or_refused_never_5xx(
        fuzzer: Fuzzer, request: pytest.FixtureRequest) -> None:
    printable = st.characters(min_codepoint=0x21, max_codepoint=0x7E)

    @settings(max_examples=examples(request), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.text(printable, max_size=12), st.integers(-5, 10**12).map(str)),
           st.text(printable, max_size=80))
    @example("1", "0.1.9")
    @example("2", "0.2.0")
    @example("0", "0.2.0")
    @example("2", "x" * 65)
    def one(protocol: str, software: str) -> None:
        reply = fuzzer.send("GET", "/v1/pull?cursor=0", versions=(protocol, software))
        assert reply.status_code in (200, 400, 426), reply.text
        if reply.status_code == 426:
            assert reply.json()["error"] == "protocol" and "upgrade" in reply.json()["message"]
        elif reply.status_code == 200:
            answered[int(protocol)] = answered.get(int(protocol), 0) + 1
            # Protocol 2 on: zstd as a media type of its own; protocol 1 the old way.
            framing = (reply.headers["Content-Type"], reply.headers.get("Content-Encoding"))
            old = ("application/json", "zstd")
            assert framing == ((ZSTD_MEDIA_TYPE, None) if int(protocol) >= 2 else old)

    answered: dict[int, int] = {}
    one()
    assert set(answered) == {1, 2}  # both accepted protocols were answered

    one()


@pytest.mark.timeout(1800)
def test_fuzzed_file_requests_never_5xx_and_never_keep_a_wrong_file(
        fuzzer: Fuzzer, request: pytest.FixtureRequest) -> None:
    """The attachment endpoints: odd hashes, sizes, chunk numbers and bodies, lists of files;
    whatever comes, no 5xx, and no file the hub calls whole unless its bytes match."""
    real = b"%PDF-1.4 " * 5000  # 45,000 bytes: two chunks
    real_sha = hashlib.sha256(real).hexdigest()
    shas = st.sampled_from([real_sha, "0" * 64, "A" * 64, "../" * 20, "", "x" * 65])

    @settings(max_examples=examples(request), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(shas, st.integers(-3, 5) | st.integers(-(2**64), 2**64), st.binary(max_size=40_000),
           st.integers(-(2**64), 2**64).map(str) | st.text(max_size=8), st.sampled_from(
               ["put", "put-real", "missing", "missing-raw", "get", "unsigned"]))
    def one(sha: str, idx: int, raw: bytes, size: str, kind: str) -> None:
        if kind == "put":
            reply = fuzzer.send("PUT", f"/v1/files/{requests.utils.quote(sha)}/{idx}?size="
                                f"{requests.utils.quote(size)}", raw)
        elif kind == "put-real":  # the right file's size, a chunk of the wrong bytes
            body = raw[:len(real) - 32768] if idx == 1 else (raw * 2)[:32768]
            reply = fuzzer.send("PUT", f"/v1/files/{real_sha}/{idx}?size={len(real)}", body)
        elif kind == "missing":
            body = json.dumps({"files": [{"sha256": sha, "size": idx}] * (idx % 3)}).encode()
            reply = fuzzer.send("POST", "/v1/files/missing", body)
        elif kind == "missing-raw":
            reply = fuzzer.send("POST", "/v1/files/missing", raw)
        elif kind == "get":
            reply = fuzzer.send("GET", f"/v1/attachments/{requests.utils.quote(sha)}/{idx}")
        else:
            reply = fuzzer.send("PUT", f"/v1/files/{real_sha}/0?size={len(real)}", raw, signed=False)
            assert reply.status_code == 401
        assert reply.status_code < 500, reply.text

    one()
    with county.open_hub(fuzzer.hub.home).storage.transaction() as tx:
        whole = tx.rows("SELECT sha256 FROM blobs WHERE complete = 1")
    assert whole == []  # never the right bytes, so never whole


@settings(max_examples=500, deadline=None, database=None)
@given(st.binary(max_size=3000) | json_values.map(lambda v: json.dumps(v).encode()))
def test_the_batch_and_bundle_parsers_refuse_garbage_with_our_errors_only(raw: bytes) -> None:
    for parse in (decode_push, parse_bundle):
        try:
            parse(raw)
        except TownshipError as exc:
            assert str(exc)  # a message, not a bare exception


@pytest.mark.parametrize("name", [
    "'); DROP TABLE records; --", "Robert'); DELETE FROM changes;--", "[bold red]假[/]名[/]",
    "张三👨‍👩‍👧‍👦", "Ωmega Ἀθῆναι", "ئۇيغۇر تىلى", "Кириллица", "김철수", "ᠮᠣᠩᠭᠣᠯ", "阿" * 50,
    "%s %d {0} ${x}", "\\x1b[31m", "null", "<script>alert(1)</script>"])
def test_odd_but_allowed_text_is_stored_and_read_back_exactly(store: Any, name: str) -> None:
    person = {**next(synthetic.people(1, [GRID], seed=5)), "name": name, "address": name * 2}
    record = store.add("person", person)
    got = store.get("person", record)
    assert (got["fields"]["name"], got["fields"]["address"]) == (name, name * 2)
    assert [r["id"] for r in store.export("person")] == [record]


@pytest.mark.parametrize(("value", "rule"), [
    ("张\x1b[31m三", "control_chars"), ("a\x00b", "control_chars"), ("\u202eevil", "control_chars"),
    ("长" * 10_000, "max_length")])
def test_hidden_or_huge_text_is_refused_naming_the_field_and_rule(store: Any, value: str, rule: str) -> None:
    from sync.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        store.add("person", {**next(synthetic.people(1, [GRID], seed=6)), "name": value})
    assert (refused.value.field, refused.value.rule) == ("name", rule)
    assert store.status()["records"] == {}


def test_the_kiosk_lists_markup_and_sql_looking_names_as_plain_text(store: Any, tmp_path: Path) -> None:
    from textual.widgets import DataTable

    from tui.app import make_app
    from tui.screens.home import HomeScreen
    from tui.screens.records import RecordsScreen

    from ..test_tui import run, unlock, until

    odd = ["[bold red]假[/]名[/]", "'); DROP TABLE records; --", "张三👨‍👩‍👧‍👦", "[link=x]y"]
    for n, name in enumerate(odd):
        store.add("person", {**next(synthetic.people(1, [GRID], seed=10 + n)), "name": name})
    with store.atomic() as writes:  # names whole on the list (mask_names 0), to see them as typed
        writes.put_settings(mask_names="0")
    store.lock()

    async def scenario(pilot: Any) -> None:
        await unlock(pilot)
        await until(pilot, lambda: isinstance(pilot.app.screen, HomeScreen))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(pilot.app.screen, RecordsScreen))
        table = pilot.app.screen.query_one("#records", DataTable)
        cells = {str(table.get_cell_at((row, col))) for row in range(table.row_count)
                 for col in range(len(table.columns))}
        for name in odd:
            assert any(name in c for c in cells), (name, cells)

    run(make_app(store), scenario)
