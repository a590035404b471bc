"""The station report, on demo data whose figures are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Cli


def test_small_demo_data_reports_its_own_figures(cli: Cli) -> None:
    added = cli.json("demo-data", "--scale", "small", "--seed", "3")
    report = cli.json("report", "--json")
    assert report["incidents"]["reported"] == 113 == added["incident"]
    assert report["incidents"]["closed"] == 112
    assert report["incidents"]["closure_rate"] == 99.1
    assert (report["disputes"]["reported"], report["disputes"]["closed"]) == (45, 44)
    assert sum(report["incidents"]["by_department"].values()) == 112  # each closed case had one
    base = report["base_data"]
    assert base["person"] + base["building"] + base["house"] + base["organization"] + \
        base["special_care"] == 1_600
    assert report["volunteers"]["checkins"] == added["checkin"]
    assert report["volunteers"]["points"] == report["volunteers"]["checkins"] + \
        5 * report["volunteers"]["accepted_reports"]


def test_demo_data_is_deterministic_for_a_seed(cli: Cli, tmp_path: Path) -> None:
    other = Cli(tmp_path / "other")
    other("init", "--township", "440524001", "--name", "另一站", "--clerk", "李四")
    for run in (cli, other):
        run("demo-data", "--scale", "small", "--seed", "7")

    def content(run: Cli) -> list[str]:
        rows = [json.loads(x) for x in run("export", "person").stdout.splitlines()]
        return sorted(json.dumps(r["fields"], ensure_ascii=False, sort_keys=True) for r in rows)

    assert content(cli) == content(other)


def test_seed_scale_reports_the_county_figures(cli: Cli) -> None:
    """The county's own scale: 160,000 base records, 11,302 incidents (99.2 % closed)."""
    cli("demo-data", "--scale", "seed", timeout=900)
    report = cli.json("report", "--json")
    assert (report["incidents"]["reported"], report["incidents"]["closed"]) == (11_302, 11_208)
    assert report["incidents"]["closure_rate"] == 99.2
    assert (report["disputes"]["reported"], report["disputes"]["closed"]) == (4_527, 4_403)
    assert report["disputes"]["closure_rate"] == 97.3
    base = report["base_data"]
    assert sum(base[e] for e in ("person", "building", "house", "organization",
                                 "special_care")) == 160_000
    assert base["grid"] == 500 and report["volunteers"]["registered"] == 230
    assert report["duty"]["posts"] == 106
