"""Fingerprints of the marts: row counts and a digest of every row, per table.

A refactoring must not change a single figure: `tests/test_one_home.py` rebuilds the demo at
two seeds and compares these fingerprints with the ones stored in `marts.json` before the
refactoring. Doubles are compared to 9 significant digits (DuckDB's parallel sums may
differ in the last bits from run to run); everything else exactly.

    .venv/bin/python -m tests.golden.fingerprints   # rewrites marts.json from this code
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import duckdb

GOLDEN = Path(__file__).with_name("marts.json")
SEEDS = (3, 11)
SCALE = 0.3
TABLES = (
    "fct_leads",
    "fct_primary_patients",
    "fct_channel_daily",
    "mart_channel_weekly",
    "mart_admin_conversion",
    "mart_doctor_clv",
    "mart_missed_calls",
    "mart_reactivation",
    "mart_channel_attribution",
    "mart_orphan_references",
    "mart_vendor_lead_agreement",
    "quarantine",
    "load_reconciliation",
)
MODEL_OUTPUTS = {"mart_reactivation": ("p_alive", "expected_value")}
"""Columns an optimiser computes (the BG/NBD fit behind each patient's chance of being
alive): left out, since their ninth digit moved with a fresh install of the numeric
libraries while no rule changed (seen 2026-12-02: the same code, a new digest).
tests/test_forecast.py checks them against published tables and by simulation."""


def fingerprint(
    warehouse: Path, columns: dict[str, list[str]] | None = None
) -> dict[str, dict[str, object]]:
    """table → {columns, rows, digest}; with `columns`, only those columns of each table
    (so a column added later does not change an old fingerprint)."""
    out: dict[str, dict[str, object]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        for table in TABLES:
            described = conn.execute(f"describe {table}").fetchall()
            types = {name: kind for name, kind, *_ in described}
            left_out = MODEL_OUTPUTS.get(table, ())
            names = columns[table] if columns else [c for c in types if c not in left_out]
            shown = ", ".join(
                f"printf('%.9g', \"{c}\")"
                if types[c] in ("DOUBLE", "FLOAT")
                else f"coalesce(\"{c}\"::varchar, '∅')"
                for c in names
            )
            rows, digest = conn.execute(
                f"select count(*), md5(coalesce(string_agg(r, chr(10) order by r), '')) "
                f"from (select concat_ws(chr(31), {shown}) as r from {table})"
            ).fetchall()[0]
            out[table] = {"columns": names, "rows": rows, "digest": digest}
    return out


FORECAST_TABLES = (
    "mart_clv_forecast",
    "fct_patient_forecast",
    "int_forecast_fits",
    "mart_clv_holdout",
    "model_versions",
)
"""The forecast and its test, computed in Python: an incremental build carries them whole
from the last warehouse (pipelines/models/versions.py), so `rows` compares them to the
last digit (no parallel sum of DuckDB's in them to move a last bit)."""


def rows(warehouse: Path, tables: tuple[str, ...] = FORECAST_TABLES) -> dict[str, list[tuple]]:
    """Every row of `tables`, in one order: equal only when equal to the last digit."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {t: sorted(conn.execute(f"select * from {t}").fetchall(), key=repr) for t in tables}


def build_demo(root: Path, seed: int) -> Path:
    from pipelines.build import run_build  # noqa: PLC0415
    from pipelines.settings import Settings  # noqa: PLC0415

    settings = Settings(
        input_dir=root / f"in-{seed}",
        warehouse_path=root / f"w-{seed}.duckdb",
        hash_secret="golden-secret",
        as_of=None,
    )
    _write_demo(settings, seed)
    run_build(settings)
    return settings.warehouse_path


def _write_demo(settings: object, seed: int) -> None:
    from pipelines.demo import write_demo  # noqa: PLC0415

    write_demo(settings.input_dir, seed=seed, scale=SCALE, settings=settings)


def main() -> int:
    golden = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SEEDS:
            golden[str(seed)] = fingerprint(build_demo(Path(tmp), seed))
    GOLDEN.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
