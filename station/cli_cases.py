"""`station incident …` and `station dispute …`: cases moving through their workflow."""

from __future__ import annotations

from datetime import datetime

import click

from station.cases import Cases
from station.cli import _Context, _emit, _json_object, main
from sync.errors import ValidationError


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("--as-of", "datetime", "不是有效时间（ISO 8601）",
                              "not a valid ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValidationError("--as-of", "datetime", "需要带时区，如 +08:00",
                              "needs a UTC offset, e.g. +08:00")
    return moment


def _case_group(workflow: str, subject_help: str, first_help: str) -> click.Group:
    @click.group(name=workflow, help=subject_help)
    def group() -> None:
        pass

    @group.command("new")
    @click.option("--json", "json_text", required=True, help="the case's fields as JSON")
    @click.option("--note", help="what was found")
    @click.option("--role", default="clerk", show_default=True, help="event_role code")
    @click.option("--at", "at", help="when it happened (ISO 8601; default now)")
    @click.pass_obj
    def new(obj: _Context, json_text: str, note: str | None, role: str, at: str | None) -> None:
        cases = Cases(obj.unlocked(), workflow)
        click.echo(cases.open(_json_object(json_text), note=note, role=role, at=at))

    new.help = first_help

    @group.command("advance")
    @click.argument("case_id")
    @click.argument("step")
    @click.option("--note", help="what was done; required when going back")
    @click.option("--department", help="department code (公安 police, 司法 justice …)")
    @click.option("--method", help="mediation method code (disputes: 01 调解 …)")
    @click.option("--attachment", "attachments", multiple=True, help="attachment id (repeatable)")
    @click.option("--role", default="clerk", show_default=True, help="event_role code")
    @click.option("--at", "at", help="when it happened (ISO 8601; default now)")
    @click.pass_obj
    def advance(obj: _Context, case_id: str, step: str, note: str | None, department: str | None,
                method: str | None, attachments: tuple[str, ...], role: str,
                at: str | None) -> None:
        """Move a case to STEP, if the workflow allows it from where the case stands."""
        extra: dict[str, object] = {}
        if method:
            extra["method"] = method
        if attachments:
            extra["attachments"] = list(attachments)
        state = Cases(obj.unlocked(), workflow).advance(
            case_id, step, note=note, department=department, role=role, at=at, extra=extra)
        _emit({"id": case_id, "step": state.step, "closed": state.closed})

    @group.command("show")
    @click.argument("case_id")
    @click.option("--as-of", "as_of", help="judge deadlines at this time (ISO 8601)")
    @click.pass_obj
    def show(obj: _Context, case_id: str, as_of: str | None) -> None:
        """The case with its step, timeline and deadlines, as JSON."""
        _emit(Cases(obj.unlocked(), workflow).show(case_id, _as_of(as_of)))

    @group.command("list")
    @click.option("--open", "open_only", is_flag=True, help="only cases not closed")
    @click.option("--overdue", "overdue_only", is_flag=True, help="only cases past a deadline")
    @click.option("--as-of", "as_of", help="judge deadlines at this time (ISO 8601)")
    @click.pass_obj
    def list_cases(obj: _Context, open_only: bool, overdue_only: bool, as_of: str | None) -> None:
        """Cases as JSON lines: id, step, closed, overdue, next deadline."""
        cases = Cases(obj.store(), workflow)
        for case in cases.summaries(_as_of(as_of), open_only=open_only or overdue_only):
            if (open_only and case["closed"]) or (overdue_only and not case["overdue"]):
                continue
            _emit(case)

    @group.command("attention")
    @click.option("--as-of", "as_of", help="judge deadlines at this time (ISO 8601)")
    @click.pass_obj
    def attention(obj: _Context, as_of: str | None) -> None:
        """Open cases with a deadline to meet, nearest (or most overdue) first."""
        for case in Cases(obj.store(), workflow).attention(_as_of(as_of)):
            _emit(case)

    return group


main.add_command(_case_group(
    "incident", "Incidents through the five-step loop: discover → report → dispose → feedback → verify.",
    "Log a new incident (it starts at discover); prints its id."))
main.add_command(_case_group(
    "dispute", "Disputes through mediation: register → mediate → resolved | failed.",
    "Register a new dispute (it starts at register); prints its id."))
