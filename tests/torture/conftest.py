"""The torture suite's switches: quick sizes by default (part of the README's test command),
`--full` for the long run whose figures docs/RELIABILITY.md quotes. Each scenario records its
figures (runs, faults injected, records written, lost, duplicated) in
tests/torture/out/figures-quick.json or figures-full.json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

OUT = Path(__file__).resolve().parent / "out"


@pytest.fixture
def full(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--full"))


@pytest.fixture
def figures(request: pytest.FixtureRequest, full: bool) -> Iterator[Callable[..., None]]:
    """`figures(runs=…, faults=…, written=…, lost=…, duplicates=…)` for this scenario."""
    found: dict[str, Any] = {}
    yield found.update
    OUT.mkdir(exist_ok=True)
    path = OUT / f"figures-{'full' if full else 'quick'}.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[request.node.name] = found
    path.write_text(json.dumps(known, indent=2, ensure_ascii=False) + "\n")
