"""Incidents through the five-step loop, and disputes through mediation, from the CLI."""

from __future__ import annotations

import json
import random
from datetime import date

from station import synthetic

from .conftest import GRID, Cli

INCIDENT = json.dumps({"category": "03", "title": "路灯损坏", "grid": GRID, "location": "人民路"})


def at(minute: int, second: int = 0) -> str:
    return f"2026-11-28T09:{minute:02d}:{second:02d}+08:00"


def new_incident(cli: Cli) -> str:
    return cli("incident", "new", "--json", INCIDENT, "--at", at(0)).stdout.strip()


def test_an_incident_walks_all_five_steps_and_shows_them(cli: Cli) -> None:
    rid = new_incident(cli)
    for minute, step in enumerate(["report", "dispose", "feedback", "verify"], start=1):
        moved = cli.json("incident", "advance", rid, step, "--at", at(minute),
                         "--department", "police", "--note", f"{step} done",
                         "--attachment", f"photo-{minute}")
        assert moved["step"] == step
    shown = cli.json("incident", "show", rid)
    assert shown["step"] == "verify" and shown["closed"] is True
    assert [e["step"] for e in shown["events"]] == ["discover", "report", "dispose", "feedback",
                                                     "verify"]
    assert shown["events"][2]["note"] == "dispose done"  # sealed notes are opened for show
    assert shown["events"][2]["attachments"] == ["photo-2"]
    assert shown["departments"] == ["police"]
    assert shown["fields"]["title"] == "路灯损坏"


def test_a_skipped_step_is_refused_with_a_clear_message(cli: Cli) -> None:
    rid = new_incident(cli)
    err = cli("incident", "advance", rid, "dispose", ok=False).stderr
    assert "cannot move from discover to dispose; allowed next: report" in err
    assert "不能从「发现」到「处置」" in err
    assert cli.json("incident", "show", rid)["step"] == "discover"
    assert len(cli.json("incident", "show", rid)["events"]) == 1


def test_a_failed_verification_goes_back_to_dispose_with_its_reason(cli: Cli) -> None:
    rid = new_incident(cli)
    for step in ("report", "dispose", "feedback"):
        cli("incident", "advance", rid, step)
    assert "needs a reason" in cli("incident", "advance", rid, "dispose", ok=False).stderr
    cli("incident", "advance", rid, "dispose", "--note", "现场仍有隐患")
    shown = cli.json("incident", "show", rid)
    assert (shown["step"], shown["closed"]) == ("dispose", False)
    assert shown["events"][-1]["note"] == "现场仍有隐患"


def test_overdue_flags_follow_the_clock(cli: Cli) -> None:
    rid = new_incident(cli)
    cli("incident", "advance", rid, "report", "--at", at(0, 40))

    def listed(*flags: str, when: str) -> list[str]:
        out = cli("incident", "list", *flags, "--as-of", when).stdout
        return [json.loads(line)["id"] for line in out.splitlines()]

    assert listed("--overdue", when=at(2, 59)) == []      # dispose due at 09:03
    assert listed("--overdue", when=at(3, 1)) == [rid]
    assert listed("--open", when=at(3, 1)) == [rid]
    cli("incident", "advance", rid, "dispose", "--at", at(3, 30))
    assert listed("--overdue", when=at(4, 0)) == []       # late, but no longer waiting
    deadlines = {d["step"]: d["status"] for d in cli.json("incident", "show", rid, "--as-of",
                                                           at(4))["deadlines"]}
    assert deadlines == {"report": "met", "dispose": "late", "feedback": "pending"}


def test_the_attention_list_puts_the_nearest_deadline_first(cli: Cli) -> None:
    early = new_incident(cli)
    later = cli("incident", "new", "--json", INCIDENT, "--at", at(2)).stdout.strip()
    done = new_incident(cli)
    for step in ("report", "dispose", "feedback", "verify"):
        cli("incident", "advance", done, step, "--at", at(0, 30))
    out = cli("incident", "attention", "--as-of", at(1, 30)).stdout.splitlines()
    order = [json.loads(line)["id"] for line in out]
    assert order == [early, later]  # early is overdue for report; the closed one is absent


def test_a_dispute_is_mediated_and_closed(cli: Cli) -> None:
    rid = cli("dispute", "new", "--json", json.dumps(
        {"kind": "02", "parties": ["张三", "李四"], "grid": GRID, "description": "噪音"})).stdout.strip()
    cli("dispute", "advance", rid, "mediate", "--note", "第一次调解")
    assert "needs a reason" in cli("dispute", "advance", rid, "failed", ok=False).stderr
    cli("dispute", "advance", rid, "mediate", "--note", "第二次调解", "--method", "01")
    assert "field department" in cli("dispute", "advance", rid, "resolved", "--department",
                                     "police", ok=False).stderr
    cli("dispute", "advance", rid, "resolved")
    shown = cli.json("dispute", "show", rid)
    assert (shown["step"], shown["closed"]) == ("resolved", True)
    assert shown["fields"]["parties"] == ["张三", "李四"]
    assert [e["step"] for e in shown["events"]] == ["register", "mediate", "mediate", "resolved"]
    assert shown["events"][2]["method"] == "01"


def test_a_disputes_parties_and_agreement_go_in_from_the_cli_and_bad_ones_name_the_field(
        cli: Cli) -> None:
    rng = random.Random(4)
    applicant = synthetic.id_number(rng, date(1980, 6, 1), male=True)
    rid = cli("dispute", "new", "--json", json.dumps(
        {"kind": "04", "parties": ["陈志强", "周丽"], "grid": GRID})).stdout.strip()
    first = cli("dispute", "party", rid, "--json", json.dumps(
        {"name": "陈志强", "role": "01", "id_number": applicant})).stdout.strip()
    cli("dispute", "party", rid, "--json", json.dumps({"name": "周丽", "role": "02"}))
    refused = cli("dispute", "party", rid, "--json", json.dumps({"name": "周丽", "role": "77"}),
                  ok=False).stderr
    assert "字段 role：不是“当事人角色”中的代码（规则 code_table）" in refused
    assert "field role: not a code of the table 'Party role'" in refused
    refused = cli("dispute", "party", rid, "--json", json.dumps({"role": "02"}), ok=False).stderr
    assert "字段 name" in refused and "请填写姓名" in refused
    cli("dispute", "advance", rid, "mediate", "--method", "06", "--fields", json.dumps(
        {"agreement": "yes", "agreement_text": "周丽归还借款一万元"}))
    refused = cli("dispute", "advance", rid, "mediate", "--fields", json.dumps(
        {"agreement": "maybe"}), ok=False).stderr
    assert "字段 agreement：不是“是否达成协议”中的代码（规则 code_table）" in refused
    shown = cli.json("dispute", "show", rid)
    parties = shown["parts"]["dispute_party"]
    assert (parties[0]["id"], parties[0]["role"], parties[0]["grid"]) == (first, "01", GRID)
    assert [p["name"] for p in parties] == ["陈志强", "周丽"] and parties[0]["id_number"] == applicant
    mediation = shown["events"][-1]
    assert (mediation["method"], mediation["agreement"], mediation["agreement_text"]) == (
        "06", "yes", "周丽归还借款一万元")
    assert [e["step"] for e in shown["events"]] == ["register", "mediate"]  # the refused one: none
    exported = [json.loads(line) for line in cli("export", "dispute_party").stdout.splitlines()]
    assert sorted(r["fields"]["name"] for r in exported) == ["周丽", "陈志强"]
