"""The one-home refactoring changed where rules live, not what they compute: the demo at two
seeds builds marts equal, row for row, to those built before it (tests/golden/marts.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.golden.fingerprints import GOLDEN, SEEDS, build_demo, fingerprint


@pytest.mark.parametrize("seed", SEEDS)
def test_marts_are_what_they_were_before_the_refactoring(tmp_path: Path, seed: int) -> None:
    golden = json.loads(GOLDEN.read_text())[str(seed)]
    columns = {table: spec["columns"] for table, spec in golden.items()}
    now = fingerprint(build_demo(tmp_path, seed), columns)
    for table, expected in golden.items():
        assert now[table]["rows"] == expected["rows"], table
        assert now[table]["digest"] == expected["digest"], table
