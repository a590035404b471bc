"""The benchmark scripts still run (at a tiny scale): their figures live in docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_store_benchmark_runs_and_reports_every_figure(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_store.py"), "--people", "300", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    assert figures["people"] == 300
    assert figures["cli"]["station_add_file_rps"] > 0 and figures["cli"]["ratio"] > 0
    assert figures["lookup_by_id_number"]["lookups"] == 1000
    assert figures["bytes_per_person"]["store"] > figures["bytes_per_person"]["plain"]


def test_kiosk_app_benchmark_runs_in_a_real_terminal(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_tui.py"), "--people", "400", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    assert figures["people"] == 400 and figures["page_position"] > 200
    for name in ("start_to_unlock_screen_s", "next_page_s", "previous_page_s", "search_phone_s",
                 "next_page_handler_s", "store_page_s"):
        assert 0 < figures[name] < 30, name


def test_backup_benchmark_runs_with_the_real_litestream(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_backup.py"), "--trials", "1", "--seconds", "1",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    (run,) = figures["runs"]
    assert run["written"] > 0 and run["restored"] + run["lost"] == run["written"]
    assert 0 <= figures["recovery_point_max_s"] < 5
