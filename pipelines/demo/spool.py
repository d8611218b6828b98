"""The simulated rows, parked on disk between the cohorts that draw them and the writers.

A cohort's visits and service calls reach far beyond its weeks, and call and visit ids
follow time across all cohorts, so no export can be written until every cohort is drawn.
The rows wait here, one numpy file per entity and cohort, grouped by part: calls, visits
and surveys by month (a survey by its visit's month), patients by cohort. A writer
then reads one part at a time, a slice of each cohort's file, so memory holds one cohort
while drawing and one month while writing, whatever the scale.

Ids are global: a cohort's patients are numbered after the earlier cohorts' ones, and each
call and visit gets a sequence number in the order drawn (`seq`), which breaks ties in time
exactly as one stable sort of a single cohort's arrays would.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.demo.simulation import CallBatch, Cohort, Patients, Surveys, Visits

CALL_ROWS, PATIENT_ROWS, VISIT_ROWS, SURVEY_ROWS = "calls", "patients", "visits", "surveys"
"""The spool's entities: the rows parked, not the export folders they end in."""
Columns = dict[str, np.ndarray]
"""Named columns of equal length, one row per call, patient, visit or survey."""
CALL_FIELDS = ("phone", "channel", "branch", "answered", "duration", "wait", "admin")
"""What the writer needs of a call besides its time (not the caller: calls stand alone)."""


class Spool:
    """Rows by entity and part in numpy files under `root`; where each part lies, in memory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cohorts = 0
        self.rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.files: dict[str, list[tuple[Path, dict[str, slice]]]] = defaultdict(list)

    def add_cohort(self, cohort: Cohort) -> None:
        """Park one cohort's rows, numbered after those of the cohorts before it."""
        patient, visit_seq = self.total(PATIENT_ROWS), self.total(VISIT_ROWS)
        self._add(CALL_ROWS, *_calls(cohort.calls, self.total(CALL_ROWS)))
        self._add(PATIENT_ROWS, _patients(cohort.patients))
        self._add(VISIT_ROWS, *_visits(cohort.visits, patient, visit_seq))
        self._add(SURVEY_ROWS, *_surveys(cohort.surveys, cohort.visits, visit_seq))
        self.cohorts += 1

    def total(self, entity: str) -> int:
        return sum(self.rows[entity].values())

    def parts(self, entity: str) -> dict[str, int]:
        """Part → rows, in part order (months, or cohorts for patients)."""
        return dict(sorted(self.rows[entity].items()))

    def read(self, entity: str, part: str) -> pl.DataFrame:
        """A part's rows, cohort after cohort; calls and visits in time order, ties in the
        order drawn."""
        frames = [
            _frame(np.load(path, mmap_mode="r")[parts[part]])
            for path, parts in self.files[entity]
            if part in parts
        ]
        frame = pl.concat(frames)
        return frame.sort("t", "seq") if entity in (CALL_ROWS, VISIT_ROWS) else frame

    def _add(self, entity: str, columns: Columns, months: np.ndarray | None = None) -> None:
        """Save `columns` as one table grouped by month, order kept within one; without
        `months`, as one part named after the cohort."""
        n = len(next(iter(columns.values())))
        if months is None:
            order, parts = slice(None), {f"cohort-{self.cohorts:05d}": slice(0, n)}
        else:
            order = np.argsort(months, kind="stable")
            keys, starts, counts = np.unique(months[order], return_index=True, return_counts=True)
            names = [str(m) for m in keys.astype("datetime64[M]")]  # 2025-03, as files name it
            parts = {k: slice(s, s + c) for k, s, c in zip(names, starts, counts, strict=True)}
        rows = np.empty(n, dtype=[(name, values.dtype) for name, values in columns.items()])
        for name, values in columns.items():  # column by column: one reordered copy at a time
            rows[name] = values[order]
        path = self.root / f"{entity}-{self.cohorts:05d}.npy"
        np.save(path, rows)
        self.files[entity].append((path, parts))
        for name, where in parts.items():
            self.rows[entity][name] += where.stop - where.start


def _months(t: np.ndarray) -> np.ndarray:
    """Each time's month, as a number (months since 1970)."""
    return t.astype("datetime64[M]").astype(np.int64)


def _frame(rows: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({name: np.ascontiguousarray(rows[name]) for name in rows.dtype.names})


def _calls(batches: tuple[CallBatch, ...], first_seq: int) -> tuple[Columns, np.ndarray]:
    t = np.concatenate([batch.t for batch in batches]).astype("datetime64[ms]")
    columns = {
        "t": t,
        "seq": np.arange(first_seq, first_seq + len(t)),
        **{f: np.concatenate([getattr(batch, f) for batch in batches]) for f in CALL_FIELDS},
    }
    return columns, _months(t)


def _patients(patients: Patients) -> Columns:
    return {
        "phone": patients.phone,
        "registered": patients.registered.astype("datetime64[ms]"),
        "child": patients.child,
        "landline": patients.landline,
        "consent": patients.consent,
    }


def _visits(visits: Visits, first_patient: int, first_seq: int) -> tuple[Columns, np.ndarray]:
    columns = {
        "patient": visits.patient + first_patient,
        "doctor": visits.doctor,
        "t": visits.t.astype("datetime64[ms]"),
        "status": visits.status,
        "amount": visits.amount,
        "seq": np.arange(first_seq, first_seq + visits.n),
    }
    return columns, _months(visits.t)


def _surveys(surveys: Surveys, visits: Visits, first_visit_seq: int) -> tuple[Columns, np.ndarray]:
    """Surveys, grouped by the month of the visit answered (where its id is known)."""
    columns = {
        "visit": surveys.visit + first_visit_seq,
        "score": surveys.score,
        "t": surveys.t.astype("datetime64[ms]"),
    }
    return columns, _months(visits.t[surveys.visit])
