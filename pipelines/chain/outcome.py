"""Each clinic's last build attempt, beside its warehouse: what the chain view and the
command report for a clinic whose build failed while its last good warehouse stays.

A file rather than Dagster's event log because the same builds run under the Dagster
daemon and from `clinic-analytics chain`, whose in-process runs keep no instance."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

OUTCOME_FILE = "last_build.json"


@dataclass(frozen=True)
class Outcome:
    clinic: str
    ok: bool
    finished_at: datetime
    seconds: float
    message: str
    """One line: what was published (and how many warnings), or why nothing was."""
    warnings: int = 0


def outcome_path(out: Path, clinic: str) -> Path:
    return out / clinic / OUTCOME_FILE


def write_outcome(out: Path, outcome: Outcome) -> None:
    """Written whole or not at all (a rename), so a reader never sees half a record."""
    path = outcome_path(out, outcome.clinic)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = asdict(outcome) | {"finished_at": outcome.finished_at.isoformat()}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_outcome(out: Path, clinic: str) -> Outcome | None:
    """The clinic's last attempt, or None when it was never attempted (or its record is
    unreadable: then nothing is claimed about it)."""
    try:
        record = json.loads(outcome_path(out, clinic).read_text(encoding="utf-8"))
        return Outcome(**record | {"finished_at": datetime.fromisoformat(record["finished_at"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def now() -> datetime:
    return datetime.now(UTC)
