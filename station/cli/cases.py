"""`station incident …` and `station dispute …`: cases moving through their workflow."""

from __future__ import annotations

import click

from station.cases import Cases
from station.cli.common import (
    Context,
    as_of_option,
    as_of_time,
    at_option,
    emit,
    json_object,
    json_option,
)

AS_OF_HELP = "judge deadlines at this time (ISO 8601)"
AT_HELP = "when it happened (ISO 8601; default now)"


def case_group(workflow: str, subject_help: str, first_help: str) -> click.Group:
    """The commands of one workflow's cases (`incident` or `dispute`)."""
    @click.group(name=workflow, help=subject_help)
    def group() -> None:
        pass

    @group.command("new")
    @json_option("the case's fields as JSON")
    @click.option("--note", help="what was found")
    @click.option("--role", default="clerk", show_default=True, help="event_role code")
    @at_option(AT_HELP)
    @click.pass_obj
    def new(obj: Context, json_text: str, note: str | None, role: str, at: str | None) -> None:
        cases = Cases(obj.unlocked(), workflow)
        click.echo(cases.open(json_object(json_text), note=note, role=role, at=at))

    new.help = first_help

    @group.command("advance")
    @click.argument("case_id")
    @click.argument("step")
    @click.option("--note", help="what was done; required when going back")
    @click.option("--department", help="department code (公安 police, 司法 justice …)")
    @click.option("--method", help="mediation method code (disputes: 01 调解 …)")
    @click.option("--attachment", "attachments", multiple=True, help="attachment id (repeatable)")
    @click.option("--role", default="clerk", show_default=True, help="event_role code")
    @at_option(AT_HELP)
    @click.pass_obj
    def advance(obj: Context, case_id: str, step: str, note: str | None, department: str | None,
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
        emit({"id": case_id, "step": state.step, "closed": state.closed})

    @group.command("show")
    @click.argument("case_id")
    @as_of_option(AS_OF_HELP)
    @click.pass_obj
    def show(obj: Context, case_id: str, as_of: str | None) -> None:
        """The case with its step, timeline and deadlines, as JSON."""
        emit(Cases(obj.unlocked(), workflow).show(case_id, as_of_time(as_of)))

    @group.command("list")
    @click.option("--open", "open_only", is_flag=True, help="only cases not closed")
    @click.option("--overdue", "overdue_only", is_flag=True, help="only cases past a deadline")
    @as_of_option(AS_OF_HELP)
    @click.pass_obj
    def list_cases(obj: Context, open_only: bool, overdue_only: bool, as_of: str | None) -> None:
        """Cases as JSON lines: id, step, closed, overdue, next deadline."""
        cases = Cases(obj.store(), workflow)
        for case in cases.summaries(as_of_time(as_of), open_only=open_only or overdue_only):
            if (open_only and case["closed"]) or (overdue_only and not case["overdue"]):
                continue
            emit(case)

    @group.command("attention")
    @as_of_option(AS_OF_HELP)
    @click.pass_obj
    def attention(obj: Context, as_of: str | None) -> None:
        """Open cases with a deadline to meet, nearest (or most overdue) first."""
        for case in Cases(obj.store(), workflow).attention(as_of_time(as_of)):
            emit(case)

    return group


incident = case_group(
    "incident", "Incidents through the five-step loop: discover → report → dispose → feedback → verify.",
    "Log a new incident (it starts at discover); prints its id.")
dispute = case_group(
    "dispute", "Disputes through mediation: register → mediate → resolved | failed.",
    "Register a new dispute (it starts at register); prints its id.")
