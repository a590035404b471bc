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


def case_group(workflow: str, subject_help: str, first_help: str,
               parts: dict[str, str] | None = None) -> click.Group:
    """The commands of one workflow's cases (`incident` or `dispute`); `parts`: a command
    name for each entity whose records belong to a case (a dispute's `party`)."""
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
    @click.option("--fields", "fields_json",
                  help='more fields of the step as JSON (disputes: {"agreement": "yes", …})')
    @click.option("--role", default="clerk", show_default=True, help="event_role code")
    @at_option(AT_HELP)
    @click.pass_obj
    def advance(obj: Context, case_id: str, step: str, note: str | None, department: str | None,
                method: str | None, attachments: tuple[str, ...], fields_json: str | None,
                role: str, at: str | None) -> None:
        """Move a case to STEP, if the workflow allows it from where the case stands."""
        extra: dict[str, object] = dict(json_object(fields_json)) if fields_json else {}
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

    for command, entity in (parts or {}).items():
        group.add_command(part_command(workflow, command, entity))
    return group


def part_command(workflow: str, command: str, entity: str) -> click.Command:
    """`station dispute party CASE_ID --json '{…}'`: a record that belongs to the case."""
    @click.command(command)
    @click.argument("case_id")
    @json_option(f"the {entity} record's fields as JSON (the case and grid are filled in)")
    @click.pass_obj
    def add_part(obj: Context, case_id: str, json_text: str) -> None:
        click.echo(Cases(obj.unlocked(), workflow).add_part(entity, case_id, json_object(json_text)))

    add_part.help = f"Add a {entity} record to a case; prints its id."
    return add_part


incident = case_group(
    "incident", "Incidents through the five-step loop: discover → report → dispose → feedback → verify.",
    "Log a new incident (it starts at discover); prints its id.")
dispute = case_group(
    "dispute", "Disputes through mediation: register → mediate → resolved | failed.",
    "Register a new dispute (it starts at register); prints its id.",
    parts={"party": "dispute_party"})
