"""The cost of national cryptography (GM, issue 25 point 3) against the default, in one run.

    .venv/bin/python bench/bench_crypto.py [--ops 2000] [--people 300] [--out bench/out]

For each suite (intl: AES-256-GCM, HMAC-SHA256, SHA-256, Ed25519; gm: SM4-GCM, HMAC-SM3, SM3,
SM2) the median of five timed loops of `--ops` each (signatures: a tenth of that) of:
  * seal and open one typical field (an address, about 30 characters of Chinese);
  * seal the four personal fields of one person (the import path, `Sealer.seal_fields`);
  * one blind-index bucket of an ID number;
  * sign and verify one request (a 4 KiB body, as `sync.signing` does it);
  * one audit chain link (`audit_chain.following`);
then one sync round: `--people` people pushed from a fresh station to a hub over HTTPS on
127.0.0.1 (SQLite), both of the suite. The machine is shared and noisy: compare the ratios
(gm / intl) of this one run, not figures across runs. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.blind_index import BlindIndex  # noqa: E402
from station.store import Store  # noqa: E402
from station.syncer import client_for, enroll, push  # noqa: E402
from sync import audit_chain  # noqa: E402
from sync.crypto_suite import SUITES, CryptoSuite  # noqa: E402
from sync.hub import county  # noqa: E402
from sync.seal import Sealer, field_ad  # noqa: E402
from sync.signing import sign, verify  # noqa: E402
from tests.hubserver import HubServer  # noqa: E402

PASSPHRASE = "benchmark passphrase"
TOWNSHIP = "440524001"
GRID = TOWNSHIP + "001"
ADDRESS = "广东省汕头市潮阳区城关镇东山路十八号三单元402室"


def per_op(fn: Callable[[], object], ops: int, loops: int = 5) -> float:
    """Median microseconds of one call of `fn` over `loops` timed loops of `ops` calls."""
    times = []
    for _ in range(loops):
        began = time.perf_counter()
        for _ in range(ops):
            fn()
        times.append((time.perf_counter() - began) / ops * 1e6)
    return round(statistics.median(times), 2)


def operations(suite: CryptoSuite, ops: int) -> dict[str, float]:
    key = os.urandom(32)
    sealer = Sealer(key, suite)
    index = BlindIndex(key, 16, suite)
    ad = field_ad("0193c3a0-0000-7000-8000-000000000001", "person", "address")
    person = next(iter(synthetic.people(1, [GRID], seed=25)))
    fields = [(k, person[k]) for k in ("name", "id_number", "phone", "address") if k in person]
    signer = suite.generate_signing_key()
    public = signer.public_key()
    body = os.urandom(4096)

    def seal_open() -> object:
        return sealer.open_value(sealer.seal_value(ADDRESS, ad), ad)

    def request() -> object:
        headers = sign(signer, "POST", "/v1/push", body, "st1", 1_000, versions=("2", "bench"))
        return verify(public, headers, "POST", "/v1/push", body, 1_000)

    last = audit_chain.following(None, "2026-12-08T00:00:00Z", "张三", "clerk", "add", suite=suite)
    return {
        "seal_open_field_us": per_op(seal_open, ops),
        "seal_person_us": per_op(lambda: sealer.seal_fields("r1", "person", fields), ops),
        "blind_index_us": per_op(lambda: index.bucket("person.id_number", person["id_number"]), ops),
        "sign_verify_request_us": per_op(request, max(ops // 10, 1)),
        "chain_link_us": per_op(lambda: audit_chain.following(
            last, "2026-12-08T00:00:01Z", "张三", "clerk", "update", "person/r1",
            {"fields": ["phone"]}, suite=suite), ops),
    }


def sync_round(suite: CryptoSuite, people: int, work: Path) -> dict[str, float]:
    """Seconds of one push of `people` new people to a hub of the same suite."""
    home = county.init(work / f"county-{suite.name}", crypto=suite.name)
    hub = HubServer(home).start()
    try:
        store = Store.create(work / f"station-{suite.name}", township=TOWNSHIP, name="基准测试站",
                             clerk="张三", passphrase=PASSPHRASE, kdf=keys.FAST_KDF, crypto=suite.name)
        code = county.open_hub(home).add_enrollment(TOWNSHIP, [])
        enroll(store, hub.url, code, hub.fingerprint)
        with store.atomic() as writes:
            for person in synthetic.people(people, [GRID], seed=2026):
                writes.add("person", person)
        client = client_for(store)
        began = time.perf_counter()
        result = push(store, client)
        took = time.perf_counter() - began
        assert result.pushed == people, result
        store.close()
    finally:
        hub.stop()
    return {"push_round_s": round(took, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--people", type=int, default=300, help="people in the sync round (0: none)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    work = args.out / "crypto"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    found: dict[str, dict[str, float]] = {}
    for name, suite in SUITES.items():
        found[name] = operations(suite, args.ops)
        if args.people:
            found[name] |= sync_round(suite, args.people, work)
    ratios = {k: round(found["gm"][k] / found["intl"][k], 2) for k in found["intl"]}
    shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                              f"{platform.python_version()}", "ops": args.ops,
                              "people": args.people, **found, "gm_over_intl": ratios}
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
