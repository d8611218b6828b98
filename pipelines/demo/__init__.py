"""The demo clinic: a realistic, deterministic input folder with every messy case.

Two branches, two years: paid and free channels, missed calls and call-backs,
administrators of different skill, families, walk-ins, cancelled and repeat visits,
surveys, and files written the ways real exports write them. The cast is in `cast`, the
simulation in `simulation` (in cohorts of weeks, so a national chain's year fits in
memory), the rows between simulation and files in `spool`, the canonical files in
`canonical` (month by month, with `draws`), and the same facts as vendor exports
(Calltouch, CallRail, Google Ads, Yandex Direct, Open Dental) in `vendor`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pipelines.demo.canonical import write_canonical
from pipelines.demo.cast import END, START
from pipelines.demo.folders import empty_entity_folders
from pipelines.demo.simulation import COHORT_SCALE, Cohort, simulate
from pipelines.demo.spool import Spool
from pipelines.demo.vendor import write_vendor_forms
from pipelines.settings import Settings

__all__ = ["write_demo"]

FORMS = ("canonical", "vendor")


def write_demo(
    out: Path,
    *,
    seed: int = 7,
    scale: float = 1.0,
    settings: Settings,
    form: str = "canonical",
    cohort_scale: float = COHORT_SCALE,
) -> str:
    """Write the demo input folder; returns a one-line summary of what it holds.

    `form="vendor"` writes the same facts as Calltouch, CallRail, Google Ads, Yandex
    Direct and Open Dental exports (pipelines/demo/vendor.py), converted from the
    canonical files so that both forms must build the same marts; the conversion reads
    whole files, so it is meant for small scales.

    Memory is bounded whatever the scale: the simulation holds one cohort of at most
    `cohort_scale`'s callers, and the files are written a month at a time from a spool in
    the temporary directory (about 0.2 GB on disk per 100 of scale).
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}")
    if form == "vendor":
        with tempfile.TemporaryDirectory(prefix="clinic-demo-") as tmp:
            summary = write_demo(
                Path(tmp), seed=seed, scale=scale, settings=settings, cohort_scale=cohort_scale
            )
            write_vendor_forms(Path(tmp), out, settings)
        return summary.replace(tmp, str(out)) + ", in vendor export forms"
    rng = np.random.default_rng(seed)
    sim = simulate(rng, scale, cohort_scale)
    empty_entity_folders(out)
    with tempfile.TemporaryDirectory(prefix="clinic-demo-spool-") as tmp:
        spool = _spooled(sim.cohorts, Path(tmp))
        written = write_canonical(sim.spend, spool, rng, out, settings)
    return (
        f"demo data in {out}: {written.calls} calls, {written.patients} patients, "
        f"{written.visits} visits, {written.spend_rows} spend rows ({START} to {END}, "
        f"seed {seed}, scale {scale:g})"
    )


def _spooled(cohorts: Iterator[Cohort], root: Path) -> Spool:
    """Every cohort drawn and parked under `root`; none is left in memory for the writers."""
    spool = Spool(root)
    for cohort in cohorts:
        spool.add_cohort(cohort)
    return spool
