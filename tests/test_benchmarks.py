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


def test_crypto_benchmark_measures_both_suites_in_one_run(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_crypto.py"), "--ops", "20", "--people", "10",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)  # the script asserts every person of the round landed
    for suite in ("intl", "gm"):
        assert all(v > 0 for v in figures[suite].values()) and "push_round_s" in figures[suite]
    assert set(figures["gm_over_intl"]) == set(figures["intl"])


def test_rekey_benchmark_runs_on_the_small_demo_store() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_rekey.py"), "--scale", "small", "--batch", "50"],
        capture_output=True, text=True, timeout=300, check=True, cwd=ROOT)
    figures = json.loads(result.stdout)
    assert figures["rows"]["records"] > 2000 and figures["rekey_s"] > 0 and figures["rows_per_s"] > 0


def test_import_benchmark_runs_and_imports_every_person(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_import.py"), "--people", "60", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)  # the script itself asserts each import is whole
    assert figures["people"] == 60 and figures["xlsx_bytes"] > 0
    for kind in ("xlsx", "csv"):
        assert figures[f"import_{kind}_per_s"] > 0
    assert figures["cli_import_xlsx_per_s"] > 0 and figures["cli_add_file_per_s"] > 0


def test_kiosk_app_benchmark_runs_in_a_real_terminal(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_tui.py"), "--people", "400", "--out",
         str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    assert figures["people"] == 400 and figures["page_position"] > 200
    for name in ("start_to_unlock_screen_s", "next_page_s", "previous_page_s", "search_phone_s",
                 "next_page_handler_s", "store_page_s", "search_surname_s", "search_id_last6_s",
                 "search_id_last4_s", "search_phone_last4_s", "search_initials_s",
                 "store_search_surname_s", "store_search_initials_s",
                 "index_build_at_first_unlock_s"):
        assert 0 < figures[name] < 30, name


def test_backup_benchmark_runs_with_the_real_litestream(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_backup.py"), "--trials", "1", "--seconds", "1",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    (run,) = figures["runs"]
    assert run["written"] > 0 and run["restored"] + run["lost"] == run["written"]
    assert 0 <= figures["recovery_point_max_s"] < 5


def test_bench_run_completes_at_a_tiny_scale_and_reports_every_row(tmp_path: Path) -> None:
    """The side-by-side run (PouchDB, bad links, load, memory) at the small scale."""
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "run"), "--quick", "--out",
                             str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    for row in ("initial sync, seconds", "initial sync, bytes", "incremental sync after 1 %",
                "GPRS: push 50", "EDGE: push 50", "GPRS: the next 50 incidents on the connection",
                "EDGE: the next 50 incidents on the connection",
                "2G: push 50", "rural-4G: push 50", "2G: the next 50 incidents on the connection",
                "2G: push 300", "10 stations at once, postgresql",
                "10 stations at once, sqlite", "RSS: the kiosk app", "RSS: a sync round",
                "a 1-change round", "a 10-change round"):
        assert row in table, row
    figures = json.loads(result.stderr.strip().splitlines()[-1])
    assert figures["peer"]["pouchdb"]["initial"]["docs"] == figures["peer"]["records"]
    assert all(load["errors"] == 0 for load in figures["loads"])


def test_the_hub_profiler_reports_its_stages(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "profile_hub.py"), "--stations", "4", "--batches", "1",
         "--backend", "sqlite", "--top", "5", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True)
    assert "80 changes accepted" in result.stdout
    for stage in ("authenticate", "validate each change", "store (SQL)", "the whole push handler"):
        assert stage in result.stdout, stage


def test_the_dashboard_benchmark_runs_on_a_county_home(tmp_path: Path) -> None:
    from sync.hub import county

    county.init(tmp_path / "county")
    script = str(ROOT / "bench" / "bench_dashboard.py")
    result = subprocess.run([sys.executable, script, "--county-home", str(tmp_path / "county")],
                            capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    assert figures["records"] == 0
    for name in ("work_page_first_s", "work_page_again_s", "work_page_this_month_s", "stations_page_s"):
        assert figures[name] >= 0, name


def test_the_work_page_benchmark_pushes_a_seed_and_loads_the_page(tmp_path: Path) -> None:
    from bench.bench_peer import PASSPHRASE
    from station import keys
    from station.store import Store

    seed = Store.create(tmp_path / "seed", township="440524001", name="基准站", clerk="bench",
                        passphrase=PASSPHRASE, kdf=keys.FAST_KDF)
    seed.add("person", {"name": "李四", "id_number": "11010519491231002X", "grid": "440524001001"})
    seed.close()
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_workpage.py"), "--tree", str(ROOT),
                             "--seed-home", str(tmp_path / "seed"), "--out", str(tmp_path / "out"),
                             "--loads", "1"], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    assert figures["records"] == 1 and figures["seed_push"]["seconds"] > 0
    assert figures["fill_figures_s"] >= 0  # this tree keeps the figures
    page = figures["work_page"]
    assert page["first_s"] > 0 and len(page["later_s"]) == 1 and page["month_again_s"] > 0


def test_attachment_benchmark_runs_through_a_bad_link(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_attach.py"), "--profile", "rural-4G",
         "--photo-mb", "0.2", "--records", "10", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(result.stdout)
    alone, behind = figures["alone"], figures["behind"]
    assert alone["photo_bytes"] > 150_000 and alone["chunk_requests"] >= alone["chunks"]
    assert alone["seconds"] > alone["floor_seconds"] > 0
    assert 0 < figures["clean"]["wire_overhead"] < 0.1
    assert behind["queued_before_photo"] == 10
    assert behind["queued_last_at_s"] < behind["photo_done_at_s"]
