"""Benchmark of spreadsheets in: `station import` of a township's register, .xlsx and .csv.

    .venv/bin/python bench/bench_import.py [--people 20000] [--out bench/out]

Measures, on the same synthetic people (names, valid ID numbers, mobiles, addresses, the
population type by its label, as a clerk types it):
  * reading the sheet alone (openpyxl's read-only mode for .xlsx; csv for GB18030 .csv);
  * `import_file` with --dry-run (read + every cell and row checked) and for real (read, check,
    one transaction through the write path), through the Python API;
  * `station import` as a CLI process, for the .xlsx (includes process start and unlock);
  * `station add --file` of the same people as JSON lines, for the comparison.
Prints one JSON object; docs/BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from station import keys, synthetic  # noqa: E402
from station.imports import import_file  # noqa: E402
from station.spreadsheet import read_sheet  # noqa: E402
from station.store import Store  # noqa: E402

BIN = Path(sys.executable).parent
GRIDS = [f"440524001{n:03d}" for n in range(1, 41)]
PASSPHRASE = "benchmark passphrase"
HEADERS = ["姓名", "公民身份号码", "联系方式", "现住地详址", "所属网格", "人口类型"]
KEYS = ["name", "id_number", "phone", "address", "grid", "population_type"]
LABELS = {"01": "户籍人口", "02": "流动人口"}


def people(count: int) -> list[dict[str, Any]]:
    return list(synthetic.people(count, GRIDS, seed=2026))


def rows_of(found: list[dict[str, Any]]) -> list[list[str]]:
    return [[LABELS.get(p[k], p[k]) if k == "population_type" else p[k] for k in KEYS]
            for p in found]


def write_files(out: Path, found: list[dict[str, Any]]) -> dict[str, Path]:
    from openpyxl import Workbook

    rows = rows_of(found)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("实有人口")
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    xlsx = out / "people.xlsx"
    book.save(xlsx)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    gb = out / "people.csv"
    gb.write_bytes(text.getvalue().encode("gb18030"))
    lines = out / "people.jsonl"
    lines.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in found),
                     encoding="utf-8")
    return {"xlsx": xlsx, "csv": gb, "jsonl": lines}


def fresh_store(home: Path) -> Store:
    shutil.rmtree(home, ignore_errors=True)
    return Store.create(home, township="440524001", name="基准站", clerk="张三",
                        passphrase=PASSPHRASE, kdf=keys.FAST_KDF)


def timed(run: Any) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def cli(home: Path, *args: str) -> float:
    env = {**os.environ, "STATION_HOME": str(home), "STATION_PASSPHRASE": PASSPHRASE,
           "STATION_KDF": "fast"}
    start = time.perf_counter()
    subprocess.run([str(BIN / "station"), *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    out = args.out / "import"
    out.mkdir(parents=True, exist_ok=True)
    n = args.people
    files = write_files(out, people(n))
    figures: dict[str, Any] = {"people": n, "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
                               f" Python {platform.python_version()}",
                               "xlsx_bytes": files["xlsx"].stat().st_size}
    for kind in ("xlsx", "csv"):
        figures[f"read_{kind}_s"] = round(timed(lambda k=kind: read_sheet(files[k])), 2)
        store = fresh_store(out / "home")
        figures[f"dry_run_{kind}_s"] = round(timed(
            lambda k=kind, s=store: import_file(s, "person", files[k], dry_run=True)), 2)
        seconds = timed(lambda k=kind, s=store: import_file(s, "person", files[k]))
        assert store.count("person") == n
        store.close()
        figures[f"import_{kind}_s"] = round(seconds, 2)
        figures[f"import_{kind}_per_s"] = round(n / seconds)
    for what, argv in (("cli_import_xlsx", ("import", "person", str(files["xlsx"]))),
                       ("cli_add_file", ("add", "person", "--file", str(files["jsonl"])))):
        fresh_store(out / "home").close()
        seconds = cli(out / "home", *argv)
        figures[f"{what}_s"] = round(seconds, 2)
        figures[f"{what}_per_s"] = round(n / seconds)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
