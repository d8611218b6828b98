"""One clinic of the chain: the single-clinic build (`pipelines.build.run_build`, with its
lock, log, blocking checks and atomic publish) on the clinic's folder and settings, its
outcome recorded whatever happens."""

from __future__ import annotations

import time

from pipelines.build import BuildError, BuildResult, run_build
from pipelines.chain.clinics import chain_paths, clinic_settings
from pipelines.chain.outcome import Outcome, now, write_outcome
from pipelines.ingest.readers import InputError
from pipelines.settings import Settings, SettingsError


def build_clinic(chain: Settings, clinic: str) -> BuildResult:
    """Build one clinic as `clinic-analytics build` would; a failure leaves its last good
    warehouse as it was, and is recorded (one line) for the chain view."""
    _, out = chain_paths(chain)
    started = time.perf_counter()
    try:
        result = run_build(clinic_settings(chain, clinic))
    except Exception as exc:
        seconds = time.perf_counter() - started
        write_outcome(out, Outcome(clinic, False, now(), seconds, failure_line(exc)))
        raise
    count = len(result.warnings)
    message = f"published in {result.seconds:.1f} s" + (
        f" with {count} warning(s)" if count else ""
    )
    write_outcome(out, Outcome(clinic, True, now(), result.seconds, message, count))
    return result


def failure_line(exc: BaseException) -> str:
    """The build's own one-line reason, or the type and first line of an unexpected error."""
    if isinstance(exc, BuildError | InputError | SettingsError):
        return str(exc)
    text = str(exc).strip()
    return f"internal error: {type(exc).__name__}: {text.splitlines()[0] if text else ''}"
