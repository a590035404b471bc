"""The wire format of sync: changes, push batches and their receipts, pull pages.

Bodies are JSON compressed with zstd: under protocol 2 as a media type of their own
(`Content-Type: application/zstd`), under protocol 1 as `Content-Encoding: zstd`
(docs/PROTOCOL.md, "Versions and framing"). Every change carries its
station id and the station's sequence number, so the hub applies it exactly once however often
a batch is resent. Decoding checks the shape of everything and refuses a malformed body with a
message that names the place (`changes[3].hlc`) and the rule; what a change *means* (its
fields, its scope) is checked per change by the hub, so one bad change is rejected alone and
never blocks the ones behind it.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import zstandard

from sync import clock as hlc
from sync.audit_chain import AuditEntry, from_wire, to_wire
from sync.errors import ValidationError
from sync.validate import check_station_name
from sync.version import DICTIONARIES_HEADER

# Limits per push batch. Chosen so a batch is a few hundred KiB compressed: small enough to go
# through on a poor link before a timeout, large enough that per-request overhead stays small
# (see docs/BENCHMARKS.md for the measurement once sync is benchmarked).
MAX_CHANGES = 1_000
MAX_BODY_BYTES = 4 * 1024 * 1024  # decompressed
OPS = frozenset({"add", "update", "delete", "undelete"})
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class WireChange:
    station: str
    seq: int
    record: str
    entity: str
    op: str
    grid: str | None
    fields: dict[str, Any]
    hlc: str
    base: dict[str, str]
    schema_version: int
    was: dict[str, Any] = field(default_factory=dict)  # values the author saw (updates only)
    # The causal context (sync.merge): what the author had received of the record (of the
    # case, for a step event), node -> newest clock, without the change's own clock. None
    # for a change from a release before contexts (protocol 1): read as sync.merge's legacy.
    seen: dict[str, str] | None = None
    # The scope version (county IT's changes to the station's grids) it was written under;
    # None from a release before scope versions.
    scope: int | None = None
    by: str | None = None  # the clerk who wrote it (shown with a conflict); None: not sent


@dataclass(frozen=True)
class PushBatch:
    station: str
    changes: tuple[WireChange, ...]
    # The station's name as its clerks set it (`station init --name`), so a rename reaches
    # the county's pages; None from a release that does not send it.
    name: str | None = None


@dataclass(frozen=True)
class BackupReport:
    """Where a station's backup stood when it pulled, for the county's fleet view: when the
    newest transaction its replica holds arrived there (ms since the epoch; 0: the replica
    holds nothing, or no backup is set up) and how many transactions the replica lacks."""

    replicated_ms: int
    behind: int


@dataclass(frozen=True)
class Result:
    seq: int
    receipt: int | None = None  # the hub's sequence number when accepted
    rejected: str | None = None  # why not, in words a clerk can act on


@dataclass(frozen=True)
class Entering:
    """The whole merge state of a record that enters the station's scope in this page (moved
    into its grid or township): the change that moves it carries only what it changed, and
    the station never saw the rest. Field -> versions, each [clock, base, value, was, seen,
    by] (seen as the change's `seen`, null or left off where the clock and base imply it;
    by, the clerk, left off when not known)."""

    entity: str
    grid: str | None
    state: dict[str, list[list[Any]]]


@dataclass(frozen=True)
class PullPage:
    changes: tuple[WireChange, ...]
    cursor: int
    more: bool
    extra: dict[str, Any] = field(default_factory=dict)
    entering: dict[str, Entering] = field(default_factory=dict)  # record id -> its state


# One compressor per thread: python-zstandard's are not thread-safe (two threads compressing
# with one crashed a process of 500 simulated stations: bench/bench_load.py). So with a
# dictionary too: each thread digests its own, by the dictionary's id.
_local = threading.local()


def compress(value: Any) -> bytes:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=3)
    return bytes(compressor.compress(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()))


def _with_dictionary(raw: bytes) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    """This thread's compressor and decompressor of a dictionary (its bytes, sync.dictionary)."""
    cache: dict[bytes, tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]] = \
        _local.__dict__.setdefault("dictionaries", {})
    if raw not in cache:
        digested = zstandard.ZstdCompressionDict(raw, dict_type=zstandard.DICT_TYPE_FULLDICT)
        cache[raw] = (zstandard.ZstdCompressor(level=3, dict_data=digested),
                      zstandard.ZstdDecompressor(dict_data=digested))
    return cache[raw]


def frame_dictionary(body: bytes) -> int:
    """The id of the dictionary a zstd frame names (0: none, or not a zstd frame)."""
    if not body.startswith(ZSTD_MAGIC):
        return 0
    try:
        return int(zstandard.get_frame_parameters(body).dict_id)
    except zstandard.ZstdError:
        return 0  # a broken header: decompressing it refuses it


# A body at most this large (compressed) goes with a dictionary when the other side holds
# one: a dictionary saves a few hundred bytes, which is most of a small round's body and
# nothing to a page of a first sync, which is then not worth opening again to re-frame.
REFRAME_MAX = 64 * 1024


def reframe(body: bytes, dictionary: bytes | None) -> bytes:
    """A zstd body compressed anew with `dictionary`, for a receiver that holds it; as it is
    when there is none, the body is large, or it is not a plain zstd frame. At the edges
    (sync.client, sync.hub.http), so every body is framed alike and no encoder need know."""
    if dictionary is None or len(body) > REFRAME_MAX or not body.startswith(ZSTD_MAGIC) \
            or frame_dictionary(body):
        return body
    compressor, _ = _with_dictionary(dictionary)
    return bytes(compressor.compress(_bounded_decompress(body, MAX_BODY_BYTES)))


def decompress(body: bytes, limit: int = MAX_BODY_BYTES,
               dictionaries: Mapping[int, bytes] | None = None) -> Any:
    """JSON out of a zstd body, refusing bombs and garbage with a clear message, and a frame
    naming a dictionary not in `dictionaries` (id -> its bytes: those this side holds)."""
    try:
        raw = _bounded_decompress(body, limit, _dictionary_of(body, dictionaries))
    except zstandard.ZstdError:
        raise ValidationError("body", "zstd", "请求体不是有效的 zstd 压缩数据或过大",
                              f"body is not valid zstd data or exceeds {limit} bytes") from None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested past reason
        raise ValidationError("body", "json", "请求体不是有效的 JSON", "body is not valid JSON") from None


def _dictionary_of(body: bytes, dictionaries: Mapping[int, bytes] | None) -> bytes | None:
    named = frame_dictionary(body)
    if not named:
        return None
    if named not in (dictionaries or {}):
        raise ValidationError(
            "body", "dictionary",
            f"数据用本方没有的压缩字典 {named} 压缩：只能用对方声明持有的字典（{DICTIONARIES_HEADER}）",
            f"the body is compressed with dictionary {named}, which this side does not hold: a body"
            f" may use only a dictionary its receiver said it holds ({DICTIONARIES_HEADER})")
    return (dictionaries or {})[named]


# Every zstd frame starts with these bytes (RFC 8878, 3.1.1).
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def unpack(body: bytes, limit: int = MAX_BODY_BYTES,
           dictionaries: Mapping[int, bytes] | None = None) -> Any:
    """JSON out of a reply, zstd or already decoded on the way: a protocol-1 hub answers with
    `Content-Encoding: zstd`, which an HTTP library able to decode zstd decodes by itself.
    Only for replies: the hub takes a request body as zstd and nothing else."""
    if body.startswith(ZSTD_MAGIC):
        return decompress(body, limit, dictionaries)
    if len(body) > limit:
        raise ValidationError("body", "max_bytes", "回复过大", f"the reply is over {limit} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ValidationError("body", "json", "回复不是有效的 JSON 或 zstd 数据",
                              "the reply is neither valid JSON nor zstd data") from None


def opened(body: bytes, dictionaries: Mapping[int, bytes], limit: int = MAX_BODY_BYTES) -> bytes:
    """A reply framed with a dictionary, as the JSON it holds (what the decoders take as a
    reply decoded on the way); any other reply as it is."""
    dictionary = _dictionary_of(body, dictionaries)
    if dictionary is None:
        return body
    try:
        return _bounded_decompress(body, limit, dictionary)
    except zstandard.ZstdError:
        raise ValidationError("body", "zstd", "回复不是有效的 zstd 压缩数据或过大",
                              f"the reply is not valid zstd data or exceeds {limit} bytes") from None


def _bounded_decompress(body: bytes, limit: int, dictionary: bytes | None = None) -> bytes:
    """Decompress at most `limit` bytes. Streaming, because a frame that declares its size
    makes one-shot decompression allocate whatever the sender declared (a bomb)."""
    out = bytearray()
    decompressor = _with_dictionary(dictionary)[1] if dictionary else zstandard.ZstdDecompressor()
    with decompressor.stream_reader(io.BytesIO(body)) as reader:
        while chunk := reader.read(65_536):
            out += chunk
            if len(out) > limit:
                raise zstandard.ZstdError("decompressed body exceeds the limit")
    if not out and body:
        raise zstandard.ZstdError("empty frame")
    return bytes(out)


def _wire(c: WireChange) -> dict[str, Any]:
    # Built by hand: dataclasses.asdict deep-copies every value, and was a third of encoding.
    out = {"station": c.station, "seq": c.seq, "record": c.record, "entity": c.entity, "op": c.op,
           "grid": c.grid, "fields": c.fields, "hlc": c.hlc, "base": c.base,
           "schema_version": c.schema_version}
    if c.was:  # most changes are adds: leave the empty object off the wire
        out["was"] = c.was
    if c.seen is not None:
        out["seen"] = c.seen
    if c.scope is not None:
        out["scope"] = c.scope
    if c.by:
        out["by"] = c.by
    return out


def encode_push(batch: PushBatch) -> bytes:
    return compress(_push_body(batch))


def _push_body(batch: PushBatch) -> dict[str, Any]:
    body: dict[str, Any] = {"station": batch.station, "changes": [_wire(c) for c in batch.changes]}
    if batch.name is not None:
        body["name"] = batch.name
    return body


def decode_push(body: bytes, dictionaries: Mapping[int, bytes] | None = None) -> PushBatch:
    return _push_from(decompress(body, dictionaries=dictionaries), "")


def _push_from(data: Any, at: str) -> PushBatch:
    """A push batch out of its JSON; `at`: where it sits in the body ("" or "push.")."""
    _require(isinstance(data, dict), at.rstrip(".") or "body", "object", "应为 JSON 对象",
             "must be a JSON object")
    station = data.get("station")
    _require(isinstance(station, str) and 0 < len(station) <= 64, f"{at}station", "text",
             "缺少站点编号", "must be the station id")
    changes = data.get("changes")
    _require(isinstance(changes, list), f"{at}changes", "list", "应为列表", "must be a list")
    _require(len(changes) <= MAX_CHANGES, f"{at}changes", "max_changes",
             f"一批最多 {MAX_CHANGES} 条", f"at most {MAX_CHANGES} changes per batch")
    name = data.get("name")
    if name is not None:  # left off by a release before names travelled
        _require(isinstance(name, str), f"{at}name", "text", "站点名称应为文本",
                 "the station name must be text")
        check_station_name(name)
    return PushBatch(station, tuple(decode_change(c, f"{at}changes[{i}]") for i, c in enumerate(changes)),
                     name)


def decode_change(data: Any, where: str) -> WireChange:
    """One change, its shape checked field by field."""
    _require(isinstance(data, dict), where, "object", "应为 JSON 对象", "must be a JSON object")
    get = data.get
    checks: list[tuple[str, bool, str, str]] = [
        ("station", isinstance(get("station"), str) and bool(get("station")), "站点编号", "the station id"),
        ("seq", _is_int(get("seq")) and 0 < get("seq") < 2**63, "正整数", "a positive whole number"),
        ("record", isinstance(get("record"), str) and bool(_ID.fullmatch(get("record"))),
         "记录编号（UUID）", "a record id (UUID)"),
        ("entity", isinstance(get("entity"), str) and bool(_NAME.fullmatch(get("entity"))),
         "实体名", "an entity name"),
        ("op", isinstance(get("op"), str) and get("op") in OPS, "add、update、delete 或 undelete",
         "add, update, delete or undelete"),
        ("grid", get("grid") is None or isinstance(get("grid"), str), "网格代码", "a grid code or null"),
        ("fields", isinstance(get("fields"), dict) and all(_NAME.fullmatch(k) for k in get("fields")),
         "字段对象", "an object of field names"),
        ("hlc", isinstance(get("hlc"), str) and _is_stamp(get("hlc")), "时钟戳", "a clock stamp"),
        ("base", isinstance(get("base"), dict) and all(
            isinstance(v, str) and (v == "" or _is_stamp(v)) for v in get("base").values()),
         "字段到时钟戳的对象", "an object of field clocks"),
        ("schema_version", _is_int(get("schema_version")) and 1 <= get("schema_version") < 2**31,
         "数据版本号", "a schema version"),
        ("was", get("was") is None or (isinstance(get("was"), dict) and isinstance(get("fields"), dict)
                                        and set(get("was")) <= set(get("fields"))),
         "所改字段原值的对象", "an object of the changed fields' previous values"),
        ("seen", get("seen") is None or _is_context(get("seen")),
         "站点到时钟戳的对象", "an object of station ids to clock stamps"),
        ("scope", get("scope") is None or (_is_int(get("scope")) and 0 <= get("scope") < 2**31),
         "范围版本号", "a scope version"),
        ("by", get("by") is None or (isinstance(get("by"), str) and len(get("by")) <= 100),
         "办事员姓名", "a clerk's name of at most 100 characters"),
    ]
    for name, ok, zh, en in checks:
        if not ok:  # the messages are built only for a refusal: this runs for every change
            raise ValidationError(f"{where}.{name}", "shape", f"应为{zh}", f"must be {en}")
    return WireChange(get("station"), get("seq"), get("record"), get("entity"), get("op"),
                      get("grid"), get("fields"), get("hlc"), get("base"), get("schema_version"),
                      get("was") or {}, get("seen"), get("scope"), get("by"))


def encode_results(results: list[Result]) -> bytes:
    return compress(_results_body(results))


def _results_body(results: list[Result]) -> dict[str, Any]:
    # By hand, as for changes: asdict's deep copy was a tenth of answering a push under load.
    return {"results": [{"seq": r.seq, "receipt": r.receipt, "rejected": r.rejected} for r in results]}


def decode_results(body: bytes) -> list[Result]:
    return _results_from(unpack(body))


def _results_from(data: Any) -> list[Result]:
    _require(isinstance(data, dict) and isinstance(data.get("results"), list), "results", "list",
             "应为结果列表", "must be a list of results")
    out = []
    for i, r in enumerate(data["results"]):
        _require(isinstance(r, dict) and _is_int(r.get("seq")), f"results[{i}].seq", "shape",
                 "应为序号", "must be a sequence number")
        out.append(Result(r["seq"], r.get("receipt"), r.get("rejected")))
    return out


def encode_page(page: PullPage) -> bytes:
    return compress(_page_body(page))


def _page_body(page: PullPage) -> dict[str, Any]:
    body = {"changes": [_wire(c) for c in page.changes], "cursor": page.cursor,
            "more": page.more, **page.extra}
    if page.entering:
        body["entering"] = {rid: asdict(e) for rid, e in page.entering.items()}
    return body


def decode_page(body: bytes) -> PullPage:
    return _page_from(unpack(body), "")


def _page_from(data: Any, at: str) -> PullPage:
    _require(isinstance(data, dict), at.rstrip(".") or "body", "object", "应为 JSON 对象",
             "must be a JSON object")
    _require(_is_int(data.get("cursor")), f"{at}cursor", "shape", "应为整数", "must be a whole number")
    changes = data.get("changes")
    _require(isinstance(changes, list), f"{at}changes", "list", "应为列表", "must be a list")
    extra = {k: v for k, v in data.items() if k not in ("changes", "cursor", "more", "entering")}
    entering = data.get("entering", {})
    _require(isinstance(entering, dict), f"{at}entering", "object", "应为对象", "must be an object")
    return PullPage(tuple(decode_change(c, f"{at}changes[{i}]") for i, c in enumerate(changes)),
                    data["cursor"], bool(data.get("more")), extra,
                    {rid: _decode_entering(e, f"{at}entering.{rid}") for rid, e in entering.items()})


# ---------------------------------------------------------------- one round in one request

# The most pull changes a round's first page carries (as GET /v1/pull's `limit`).
MAX_PAGE = 5000
# A round's answer carries receipts, bundles and a page: it may be larger than any one of them.
MAX_ANSWER_BYTES = 2 * MAX_BODY_BYTES


@dataclass(frozen=True)
class RoundAsk:
    """A sync round's first request (POST /v1/sync): the schema check (the station's schema
    version: bundles after it come back), a push batch (None: nothing to push) and the pull
    cursor, with what a pull tells of the station (its outbox, name and backup)."""

    schema_version: int
    batch: PushBatch | None
    cursor: int
    limit: int
    outbox: tuple[int | None, int | None] = (None, None)  # (pending, rejected)
    name: str | None = None
    backup: BackupReport | None = None
    # The station's audit entries the hub does not hold yet, oldest first (at most MAX_AUDIT).
    audit: tuple[AuditEntry, ...] = ()


# Audit entries in one round's request: a clerk's busy day is a few hundred.
MAX_AUDIT = 500


@dataclass(frozen=True)
class RoundAnswer:
    """Its answer: the signed bundles after the station's version (checked by the station),
    the batch's receipts and rejections, and the first pull page, made after the push."""

    bundles: list[dict[str, Any]]
    results: list[Result]
    page: PullPage
    # The newest audit entry of the station the hub now holds (None: the round carried none).
    audit_through: int | None = None


def encode_round(ask: RoundAsk) -> bytes:
    body: dict[str, Any] = {"schema": ask.schema_version, "cursor": ask.cursor, "limit": ask.limit}
    if ask.batch is not None:
        body["push"] = _push_body(ask.batch)
    if ask.outbox != (None, None):
        body["pending"], body["rejected"] = ask.outbox
    if ask.name is not None:
        body["name"] = ask.name
    if ask.backup is not None:
        body["backup"], body["backup_behind"] = ask.backup.replicated_ms, ask.backup.behind
    if ask.audit:
        body["audit"] = [to_wire(e) for e in ask.audit]
    return compress(body)


def decode_round(body: bytes, dictionaries: Mapping[int, bytes] | None = None) -> RoundAsk:
    data = decompress(body, dictionaries=dictionaries)
    _require(isinstance(data, dict), "body", "object", "应为 JSON 对象", "must be a JSON object")

    def whole(name: str, low: int, high: int, required: bool = False) -> int | None:
        value = data.get(name)
        if value is None and not required:
            return None
        _require(_is_int(value) and low <= value <= high, name, "integer",
                 f"应为 {low} 到 {high} 的整数", f"must be a whole number from {low} to {high}")
        return int(value)

    name = data.get("name")
    if name is not None:
        _require(isinstance(name, str), "name", "text", "站点名称应为文本", "the station name must be text")
        check_station_name(name)
    backup, behind = whole("backup", 0, 2**63 - 1), whole("backup_behind", 0, 2**63 - 1)
    audit = data.get("audit", [])
    _require(isinstance(audit, list) and len(audit) <= MAX_AUDIT, "audit", "list",
             f"应为至多 {MAX_AUDIT} 条审计记录的列表", f"must be a list of at most {MAX_AUDIT} audit entries")
    return RoundAsk(
        schema_version=int(whole("schema", 1, 2**31 - 1, required=True) or 1),
        batch=_push_from(data["push"], "push.") if data.get("push") is not None else None,
        cursor=int(whole("cursor", 0, 2**63 - 1, required=True) or 0),
        limit=int(whole("limit", 1, MAX_PAGE, required=True) or 1),
        outbox=(whole("pending", 0, 2**63 - 1), whole("rejected", 0, 2**63 - 1)), name=name,
        backup=None if backup is None else BackupReport(backup, behind or 0),
        audit=tuple(from_wire(e, f"audit[{i}]") for i, e in enumerate(audit)))


def encode_answer(answer: RoundAnswer) -> bytes:
    through = {} if answer.audit_through is None else {"audit_through": answer.audit_through}
    return compress({"bundles": answer.bundles, **_results_body(answer.results),
                     "page": _page_body(answer.page), **through})


def decode_answer(body: bytes) -> RoundAnswer:
    data = unpack(body, MAX_ANSWER_BYTES)
    _require(isinstance(data, dict), "body", "object", "应为 JSON 对象", "must be a JSON object")
    bundles = data.get("bundles")
    _require(isinstance(bundles, list) and all(
        isinstance(b, dict) and isinstance(b.get("bundle"), str) and isinstance(b.get("signature"), str)
        for b in bundles), "bundles", "list", "应为签名数据包的列表", "must be a list of signed bundles")
    through = data.get("audit_through")
    _require(through is None or (_is_int(through) and through >= 0), "audit_through", "integer",
             "应为非负整数", "must be a whole number of at least 0")
    return RoundAnswer(bundles, _results_from(data), _page_from(data.get("page"), "page."), through)


def _decode_entering(data: Any, where: str) -> Entering:
    ok = (isinstance(data, dict) and isinstance(data.get("entity"), str)
          and (data.get("grid") is None or isinstance(data.get("grid"), str))
          and isinstance(data.get("state"), dict)
          and all(isinstance(vs, list) and vs and all(
              isinstance(v, list) and 3 <= len(v) <= 6 and all(isinstance(x, str) for x in v[:4])
              and (len(v) < 5 or v[4] is None or _is_context(v[4]))
              and (len(v) < 6 or (isinstance(v[5], str) and len(v[5]) <= 100))
              for v in vs) for vs in data["state"].values()))
    _require(ok, where, "shape", "应为记录的合并状态", "must be a record's merge state")
    return Entering(data["entity"], data.get("grid"), data["state"])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# A context names each station that wrote the record once: far fewer than this.
MAX_CONTEXT = 256


def _is_context(value: Any) -> bool:
    return (isinstance(value, dict) and len(value) <= MAX_CONTEXT
            and all(isinstance(k, str) and hlc.is_node(k) and isinstance(v, str) and _is_stamp(v)
                    and v.endswith("." + k) for k, v in value.items()))


def _is_stamp(text: str) -> bool:
    try:
        hlc.parse(text)
    except ValueError:
        return False
    return True


def _require(ok: bool, where: str, rule: str, zh: str, en: str) -> None:
    if not ok:
        raise ValidationError(where, rule, zh, en)
