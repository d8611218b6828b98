"""The demo clinic: a realistic, deterministic input folder with every messy case.

Two branches, two years: paid and free channels, missed calls and call-backs,
administrators of different skill, families, walk-ins, cancelled and repeat visits,
surveys, and files written the ways real exports write them. The cast is in `cast`, the
simulation in `simulation`, the canonical files in `canonical`, and the same facts as
vendor exports (Calltouch, CallRail, Google Ads, Yandex Direct, Open Dental) in `vendor`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from pipelines.demo.canonical import write_canonical
from pipelines.demo.cast import END, START
from pipelines.demo.folders import empty_entity_folders
from pipelines.demo.simulation import simulate
from pipelines.demo.vendor import write_vendor_forms
from pipelines.settings import Settings

__all__ = ["write_demo"]

FORMS = ("canonical", "vendor")


def write_demo(
    out: Path, *, seed: int = 7, scale: float = 1.0, settings: Settings, form: str = "canonical"
) -> str:
    """Write the demo input folder; returns a one-line summary of what it holds.

    `form="vendor"` writes the same facts as Calltouch, CallRail, Google Ads, Yandex
    Direct and Open Dental exports (pipelines/demo/vendor.py), converted from the
    canonical files so that both forms must build the same marts.
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}")
    if form == "vendor":
        with tempfile.TemporaryDirectory(prefix="clinic-demo-") as tmp:
            summary = write_demo(Path(tmp), seed=seed, scale=scale, settings=settings)
            write_vendor_forms(Path(tmp), out, settings)
        return summary.replace(tmp, str(out)) + ", in vendor export forms"
    rng = np.random.default_rng(seed)
    sim = simulate(rng, scale)
    empty_entity_folders(out)
    written = write_canonical(sim, rng, out, settings)
    return (
        f"demo data in {out}: {written.calls} calls, {written.patients} patients, "
        f"{written.visits} visits, {written.spend_rows} spend rows ({START} to {END}, "
        f"seed {seed}, scale {scale:g})"
    )
