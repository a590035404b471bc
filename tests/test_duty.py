"""School-gate guard duty: roster, sign-in and sign-out, and who is missing from a gate."""

from __future__ import annotations

import json

from .conftest import GRID, Cli

DAY = "2026-11-28"


def t(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00+08:00"


def roster_with_two_shifts(cli: Cli) -> tuple[str, str]:
    post = cli("duty", "post", "--json", json.dumps(
        {"school": "第一小学", "name": "东门", "grid": GRID})).stdout.strip()
    shifts = []
    for start, end, kind in (("07:20", "08:10", "parent"), ("16:20", "17:10", "police")):
        shifts.append(cli("duty", "shift", "--json", json.dumps(
            {"post": post, "day": DAY, "start_time": start, "end_time": end, "kind": kind,
             "person_name": "赵六", "grid": GRID})).stdout.strip())
    return shifts[0], shifts[1]


def uncovered(cli: Cli, when: str) -> list[str]:
    return [json.loads(x)["id"] for x in cli("duty", "uncovered", "--as-of", when).stdout.splitlines()]


def test_a_shift_is_uncovered_until_someone_signs_in_and_after_they_sign_out(cli: Cli) -> None:
    morning, afternoon = roster_with_two_shifts(cli)
    assert uncovered(cli, t("07:00")) == []          # before the shift
    assert uncovered(cli, t("07:25")) == [morning]
    cli("duty", "signin", morning, "--at", t("07:26"))
    assert uncovered(cli, t("07:30")) == []
    cli("duty", "signout", morning, "--at", t("07:50"))
    assert uncovered(cli, t("07:55")) == [morning]   # left early
    assert uncovered(cli, t("16:30")) == [afternoon]
    roster = [json.loads(x) for x in cli("duty", "roster", "--day", DAY).stdout.splitlines()]
    assert [(r["start_time"], r["kind"], r["school"], r["post_name"]) for r in roster] == [
        ("07:20", "parent", "第一小学", "东门"), ("16:20", "police", "第一小学", "东门")]
    assert roster[0]["signed_in_at"] == t("07:26")


def test_signing_out_before_signing_in_is_refused(cli: Cli) -> None:
    _, afternoon = roster_with_two_shifts(cli)
    err = cli("duty", "signout", afternoon, ok=False).stderr
    assert "signed_out_at" in err and "before signing in" in err


def test_a_bad_shift_time_names_the_field(cli: Cli) -> None:
    post = cli("duty", "post", "--json", json.dumps(
        {"school": "第一小学", "name": "东门", "grid": GRID})).stdout.strip()
    err = cli("duty", "shift", "--json", json.dumps(
        {"post": post, "day": DAY, "start_time": "7:20", "end_time": "08:10", "kind": "parent",
         "grid": GRID}), ok=False).stderr
    assert "field start_time" in err and "time_of_day" in err
