"""Laws of the per-field merge (sync/merge.py): a join-semilattice, so order never matters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync.merge import (
    DELETED,
    FieldState,
    Version,
    apply,
    conflicts,
    field_state,
    is_deleted,
    merge_field,
    merge_record,
    values,
)


def clock(n: int, node: str = "a") -> str:
    return f"{n:015d}.000000.{node}"


def v(n: int, base: int | None, value: str, node: str = "a") -> Version:
    return Version(clock(n, node), "" if base is None else clock(base, "z"), value)


versions = st.builds(
    lambda n, node, base, value: Version(clock(n, node), "" if base is None or base >= n
                                         else clock(base, "z"), value),
    st.integers(1, 30), st.sampled_from("abc"), st.none() | st.integers(0, 30),
    st.sampled_from(['"x"', '"y"', '"z"']))
states = st.lists(versions, min_size=1, max_size=6).map(field_state)


@given(states, states)
def test_merging_is_commutative(a: FieldState, b: FieldState) -> None:
    assert merge_field(a, b) == merge_field(b, a)


@given(states, states, states)
def test_merging_is_associative(a: FieldState, b: FieldState, c: FieldState) -> None:
    assert merge_field(merge_field(a, b), c) == merge_field(a, merge_field(b, c))


@given(states)
def test_merging_is_idempotent(a: FieldState) -> None:
    assert merge_field(a, a) == a


@given(st.lists(versions, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_the_order_versions_arrive_in_does_not_matter(vs: list[Version], rnd: object) -> None:
    shuffled = list(vs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    state: dict[str, FieldState] = {}
    for version in shuffled:
        state = apply(state, "name", version)
    assert state["name"] == field_state(vs)
    assert state["name"].winner == max(state["name"].versions)


def test_a_later_edit_that_saw_the_earlier_one_replaces_it_without_conflict() -> None:
    state = field_state([v(1, None, '"李四"'), Version(clock(2), clock(1), '"李四四"')])
    assert state.winner.value == '"李四四"' and not state.conflicted


def test_concurrent_edits_keep_the_loser_as_a_conflict() -> None:
    here, there = v(2, 1, '"张三"', "a"), v(3, 1, '"张叁"', "b")
    state = field_state([v(1, None, '"张"'), here, there])
    assert state.winner == there and state.losers == (here,)
    assert [c.field for c in conflicts({"name": state})] == ["name"]


def test_concurrent_edits_to_the_same_value_are_no_conflict() -> None:
    state = field_state([v(2, 1, '"同"', "a"), v(3, 1, '"同"', "b")])
    assert not state.conflicted


def test_a_resolution_that_saw_both_closes_the_conflict() -> None:
    state = field_state([v(2, 1, '"A"', "a"), v(3, 1, '"B"', "b")])
    resolved = merge_field(state, FieldState((Version(clock(4), clock(3, "b"), '"A"'),)))
    assert resolved.versions == (Version(clock(4), clock(3, "b"), '"A"'),)


def test_a_delete_against_a_concurrent_edit_is_a_conflict_not_a_loss() -> None:
    record = {"name": field_state([v(1, None, '"李四"')])}
    deleted_here = apply(record, DELETED, Version(clock(5, "a"), clock(1), "true"))
    edited_there = apply(record, "name", Version(clock(4, "b"), clock(1), '"李肆"'))
    merged = merge_record(deleted_here, edited_there)
    assert merged == merge_record(edited_there, deleted_here)
    assert is_deleted(merged)
    (conflict,) = conflicts(merged)
    assert conflict.field == DELETED and [x.value for x in conflict.losers] == ['"李肆"']
    assert values(merged)["name"] == '"李肆"'  # the edit is kept, not lost
    kept = apply(merged, DELETED, Version(clock(6), clock(5, "a"), "false"))
    assert not is_deleted(kept) and conflicts(kept) == []


def test_a_delete_after_seeing_every_edit_is_no_conflict() -> None:
    record = {"name": field_state([v(1, None, '"李四"'), Version(clock(2), clock(1), '"李肆"')])}
    deleted = apply(record, DELETED, Version(clock(3), clock(2), "true"))
    assert is_deleted(deleted) and conflicts(deleted) == []
