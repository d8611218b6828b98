"""The `clinic-analytics` command: demo data, vendor API pulls, build, dashboard, and the
demo's three at once."""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

from pipelines.chain.clinics import clinic_warehouse
from pipelines.chain.outcome import Outcome
from pipelines.ingest.readers import InputError
from pipelines.settings import Settings, SettingsError, ensure_secret_file, load_settings

DASHBOARD_APP = Path(__file__).resolve().parent.parent / "dashboards" / "streamlit_app.py"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinic-analytics", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write a realistic, deterministic demo input folder")
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.add_argument("--settings", type=Path)
    demo.add_argument(
        "--format",
        choices=("canonical", "vendor"),
        default="canonical",
        dest="form",
        help="canonical CSV, or the vendors' own export forms (Calltouch, CallRail, ...)",
    )

    build = sub.add_parser("build", help="build the warehouse from an input folder")
    build.add_argument("--input", type=Path)
    build.add_argument("--warehouse", type=Path)
    build.add_argument("--settings", type=Path)
    build.add_argument(
        "--full",
        action="store_true",
        help="read every export file again (by default files the last build read, "
        "unchanged, keep their rows)",
    )
    build.add_argument(
        "--timings", action="store_true", help="print the seconds each model took, slowest first"
    )

    pull = sub.add_parser(
        "pull", help="pull the vendors' APIs (calls, spend) into the input folder as files"
    )
    pull.add_argument("--input", type=Path)
    pull.add_argument("--settings", type=Path)
    pull.add_argument(
        "--source",
        action="append",
        help="one source (repeatable): calltouch, callrail, yandex_direct, google_ads, "
        "meta_ads, vk_ads; by default every configured one",
    )
    pull.add_argument(
        "--since",
        type=date.fromisoformat,
        help="first day (YYYY-MM-DD); by default the last day pulled less pull.overlap_days",
    )

    digest = sub.add_parser(
        "digest", help="the week's digest: send it to the recipients, or write it to a folder"
    )
    digest.add_argument(
        "--week",
        type=date.fromisoformat,
        help="any day of the ISO week (YYYY-MM-DD); by default the week before this one",
    )
    digest.add_argument(
        "--dry-run",
        type=Path,
        metavar="DIR",
        help="write the e-mail, its PDF, the Telegram text and the charts here; send nothing",
    )
    digest.add_argument(
        "--alerts", action="store_true", help="send only the alerts the warehouse shows now"
    )
    digest.add_argument(
        "--resend-unconfirmed",
        action="store_true",
        help="also send the parts a stopped run left unconfirmed (once you checked that "
        "they did not arrive)",
    )
    digest.add_argument("--warehouse", type=Path)
    digest.add_argument("--settings", type=Path)

    dash = sub.add_parser("dashboard", help="serve the dashboard on the published warehouse")
    dash.add_argument("--warehouse", type=Path)
    dash.add_argument("--settings", type=Path)
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8501)

    chain = sub.add_parser(
        "chain", help="build every clinic folder of a chain, then the chain-level view"
    )
    chain.add_argument("--root", type=Path, help="one sub-folder per clinic (input folders)")
    chain.add_argument("--out", type=Path, help="<clinic>/warehouse.duckdb and chain.duckdb")
    chain.add_argument("--parallel", type=int, help="clinics built at once (chain_parallel)")
    chain.add_argument("--settings", type=Path)

    run = sub.add_parser("demo", help="demo data → build → dashboard, in one go")
    run.add_argument("--out", type=Path, default=Path("data/demo"))
    run.add_argument("--scale", type=float, default=1.0)
    run.add_argument("--no-dashboard", action="store_true")
    run.add_argument("--port", type=int, default=8501)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (InputError, SettingsError) as exc:
        print(f"clinic-analytics: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # what read our output has gone (`| head -1`): nothing to say
        _silence_stdout()
        return 1
    except Exception as exc:  # a bug: one line here, the trace in a file, never on screen
        trace = _crash_log(exc)
        print(
            f"clinic-analytics: internal error: {type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''} "
            f"(trace: {trace})",
            file=sys.stderr,
        )
        return 1


def _run(args: argparse.Namespace) -> int:
    commands = {
        "demo-data": lambda: _demo_data(
            args.out, args.seed, args.scale, _settings(args.settings), args.form
        ),
        "build": lambda: _build(
            args.settings, args.input, args.warehouse, full=args.full, timings=args.timings
        ),
        "pull": lambda: _pull(args.settings, args.input, args.source, args.since),
        "digest": lambda: _digest(
            _settings(args.settings, warehouse=args.warehouse),
            args.week,
            args.dry_run,
            alerts=args.alerts,
            resend_unconfirmed=args.resend_unconfirmed,
        ),
        "dashboard": lambda: _dashboard(
            _settings(args.settings, warehouse=args.warehouse), args.settings, args.host, args.port
        ),
        "chain": lambda: _chain(args.settings, args.root, args.out, args.parallel),
        "demo": lambda: _demo(args.out, args.scale, args.port, dashboard=not args.no_dashboard),
    }
    return commands[args.command]()


def _demo(out: Path, scale: float, port: int, dashboard: bool) -> int:
    settings = _settings(None)
    _demo_data(out, 7, scale, settings)
    status = _build(None, out, None)
    if status or not dashboard:
        return status
    return _dashboard(settings, None, "127.0.0.1", port)


def _crash_log(exc: Exception) -> Path:
    """The full trace of an unexpected error, in a file of the system's temp folder."""
    handle, name = tempfile.mkstemp(prefix="clinic-analytics-crash-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("".join(traceback.format_exception(exc)))
    return Path(name)


def _settings(path: Path | None, warehouse: Path | None = None) -> Settings:
    overrides = {"warehouse_path": warehouse} if warehouse else {}
    return load_settings(path, **overrides)


def _demo_data(
    out: Path, seed: int, scale: float, settings: Settings, form: str = "canonical"
) -> int:
    from pipelines.demo import write_demo  # noqa: PLC0415  (numpy only when asked)

    summary = write_demo(out, seed=seed, scale=scale, settings=settings, form=form)
    print(summary)
    if form == "vendor" and settings.ad_platform_currency.get("yandex_direct") is None:
        print(
            "note: Yandex Direct's reports name no currency; build with "
            "CLINIC_AD_PLATFORM_CURRENCY__YANDEX_DIRECT=RUB (or ad_platform_currency in the "
            "settings file), else their rows are quarantined as of unknown currency"
        )
    if ensure_secret_file(settings.hash_secret_file):
        print(
            f"phone hash secret written to {settings.hash_secret_file} (mode 600); keep it: "
            "a new secret changes every phone hash"
        )
    return 0


def _build(
    settings_file: Path | None,
    input_dir: Path | None,
    warehouse: Path | None,
    *,
    full: bool = False,
    timings: bool = False,
) -> int:
    from pipelines.build import BuildError, load_defs, run_build  # noqa: PLC0415  (slow import)

    overrides: dict[str, Path | bool] = {"incremental": False} if full else {}
    if input_dir:
        overrides["input_dir"] = input_dir
    if warehouse:
        overrides["warehouse_path"] = warehouse
    settings = load_settings(settings_file, **overrides)
    started = time.perf_counter()
    defs = load_defs()
    # Dagster, the libraries and the definitions live until the process ends: frozen out
    # of the collector's sight, a full collection during the run does not walk them all
    # again (0.25 s of a 5.5 s build at scale 1; the thresholds `run` sets, 0.3 s more)
    gc.freeze()
    try:
        result = run_build(settings, defs)
    except BuildError as exc:
        print(f"clinic-analytics: build failed: {exc}", file=sys.stderr)
        return 1
    took = time.perf_counter() - started  # the definitions' loading included
    for warning in result.warnings:
        print(f"clinic-analytics: warning: {warning}", file=sys.stderr)
    print(
        f"warehouse {result.warehouse} published in {took:.1f} s"
        + (f" with {len(result.warnings)} warning(s)" if result.warnings else "")
        + f" (log: {result.log})"
    )
    if timings:
        spent = sum(result.seconds_by_asset.values())
        print(
            f"  {result.models_seconds:8.2f} s  the models and their checks, up to "
            f"{settings.cores} at once (the models' own seconds add up to {spent:.2f} s); "
            f"the other {took - result.models_seconds:.2f} s loading the "
            "definitions, Dagster's run and publishing"
        )
        for name, seconds in sorted(result.seconds_by_asset.items(), key=lambda i: -i[1]):
            print(f"  {seconds:8.2f} s  {name}")
    if settings.digest.configured:  # what this build found, to the recipients, once a week
        from pipelines.digest.ledger import LedgerError  # noqa: PLC0415
        from pipelines.digest.run import send_alerts  # noqa: PLC0415

        try:
            _print_report(send_alerts(settings).lines, "alerts: ")
        except LedgerError as exc:  # the build itself succeeded: said, not failed
            print(f"clinic-analytics: warning: alerts not sent: {exc}", file=sys.stderr)
    return 0


def _print_report(lines: list[tuple[str, bool]], prefix: str = "") -> None:
    """A send's lines: the failed ones on stderr, each on its own line."""
    for line, failed in lines:
        if failed:
            print(f"clinic-analytics: {prefix}{line}", file=sys.stderr)
        else:
            print(f"{prefix}{line}")


def _pull(
    settings_file: Path | None,
    input_dir: Path | None,
    sources: list[str] | None,
    since: date | None,
) -> int:
    """One line per source: what landed, or why not; exit 1 when any source failed."""
    from pipelines.pull.run import SOURCES, enabled, pull_all, unfinished  # noqa: PLC0415

    settings = load_settings(settings_file, **({"input_dir": input_dir} if input_dir else {}))
    unknown = sorted(set(sources or ()) - set(SOURCES))
    if unknown:
        raise InputError(f"unknown source {', '.join(unknown)}: one of {', '.join(SOURCES)}")
    if not sources and not enabled(settings):
        half = "; ".join(f"{name} lacks {what}" for name, what in unfinished(settings).items())
        raise InputError(
            "no source is configured"
            + (f" ({half})" if half else "")
            + ": set [pull.<source>] in the settings file and its secret in the environment "
            "(README, 'Pulls from the vendors' APIs')"
        )
    failed = False
    for result in pull_all(settings, sources, since):
        failed |= result.error is not None
        print(
            ("clinic-analytics: " if result.error else "") + result.line(),
            file=sys.stderr if result.error else sys.stdout,
        )
    return 1 if failed else 0


def _digest(
    settings: Settings,
    week: date | None,
    dry_run: Path | None,
    *,
    alerts: bool,
    resend_unconfirmed: bool,
) -> int:
    """One line per send; exit 1 when any send failed (it is retried on the next run),
    2 when there is no warehouse for the week."""
    from pipelines.digest import run  # noqa: PLC0415  (matplotlib, fpdf only when asked)
    from pipelines.digest.content import DigestError  # noqa: PLC0415
    from pipelines.digest.ledger import LedgerError  # noqa: PLC0415
    from pipelines.digest.week import last_full_week  # noqa: PLC0415

    try:
        if dry_run is not None:
            for path in run.write_digest(settings, week or last_full_week(settings), dry_run):
                print(path)
            return 0
        if alerts:
            if week is not None:
                raise InputError("--alerts sends what the warehouse shows now: no --week")
            report = run.send_alerts(settings)
        else:
            week = week or last_full_week(settings)
            report = run.send_digest(settings, week, resend_unconfirmed=resend_unconfirmed)
    except (DigestError, LedgerError) as exc:
        raise InputError(str(exc)) from None
    _print_report(report.lines)
    return 1 if report.failed else 0


def _chain(
    settings_file: Path | None, root: Path | None, out: Path | None, parallel: int | None
) -> int:
    """Every clinic as a partition of the chain's Dagster asset, then chain.duckdb: one
    line per clinic as it finishes; exit 1 when any clinic (or the view) failed."""
    from pipelines.chain.run import build_chain  # noqa: PLC0415  (dagster import is slow)

    overrides = {"chain_root": root, "chain_out": out, "chain_parallel": parallel}
    settings = load_settings(settings_file, **{k: v for k, v in overrides.items() if v is not None})

    def report(outcome: Outcome) -> None:
        if outcome.ok:
            print(f"clinic {outcome.clinic}: {outcome.message}")
            return
        kept = clinic_warehouse(settings.chain_out, outcome.clinic)  # type: ignore[arg-type]
        print(
            f"clinic-analytics: clinic {outcome.clinic}: build failed: {outcome.message}; "
            + (
                f"its last good warehouse {kept} (published "
                f"{datetime.fromtimestamp(kept.stat().st_mtime, UTC):%Y-%m-%d %H:%M} UTC) "
                "is kept"
                if kept.is_file()
                else "it has no warehouse yet"
            ),
            file=sys.stderr,
        )

    run = build_chain(settings, report)
    for name, reason in run.refused.items():
        print(f"clinic-analytics: warning: folder {name!r} left out: {reason}", file=sys.stderr)
    if run.view is None:
        print(f"clinic-analytics: chain view failed: {run.view_error}", file=sys.stderr)
        return 1
    statuses = list(run.view.status.values())
    print(
        f"chain view {run.view.path}: {len(statuses)} clinic(s), "
        + ", ".join(f"{statuses.count(s)} {s}" for s in ("built", "failed", "missing"))
    )
    return 1 if run.failed else 0


def _dashboard(settings: Settings, settings_file: Path | None, host: str, port: int) -> int:
    env = dict(os.environ, CLINIC_WAREHOUSE_PATH=str(settings.warehouse_path.resolve()))
    if settings_file:
        env["CLINIC_SETTINGS_FILE"] = str(settings_file.resolve())
    server = subprocess.Popen(streamlit_command(host, port), env=env)
    try:
        if _listening(server, host, port):  # said once a browser (or a script) can connect
            print(f"dashboard on http://{host}:{port} (Ctrl+C stops it)", flush=True)
        return server.wait()
    except KeyboardInterrupt:  # Ctrl+C, or SIGTERM (Dagster's run leaves it raising this)
        server.terminate()
        server.wait()
        return 0


def _listening(server: subprocess.Popen, host: str, port: int) -> bool:
    """Wait until the server accepts connections on its port: True; False when it exited
    first (its own message says why)."""
    address = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    while server.poll() is None:
        try:
            with socket.create_connection((address, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


# Streamlit's own options for every server this project starts (the CLI, the browser tests)
# and for AppTest (tests/conftest.py). Magic is off: no page relies on it, and it makes
# every first run of a page `ast.parse` its file, which on CPython 3.11 can fail with
# "AST constructor recursion depth mismatch" when another thread parses at the same time.
STREAMLIT_OPTIONS: dict[str, bool] = {
    "server.headless": True,
    "browser.gatherUsageStats": False,
    "runner.magicEnabled": False,
}


def streamlit_command(host: str, port: int) -> list[str]:
    """`streamlit run` of the dashboard with STREAMLIT_OPTIONS, bound to `host`."""
    options = [f"--{name}={str(value).lower()}" for name, value in STREAMLIT_OPTIONS.items()]
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        *options,
    ]


def _silence_stdout() -> None:
    """Standard output to /dev/null: its reader has gone, and Python would otherwise fail
    again flushing it at exit (the recipe of Python's own signal documentation)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def run() -> NoReturn:
    """The console script: `main`, then out of the process without the interpreter's
    teardown of every module and object one by one. After a build that teardown takes
    0.4 s (Dagster's and Pydantic's objects; measured at scale 1, a 5.4 s build) and
    does nothing a finished command needs: the streams are flushed and the exit handlers
    (log handlers, temporary folders, file locks) run first. An exception, or an exit
    from within (a usage error), leaves by the ordinary way.

    A command builds up a few million long-lived objects (Dagster's, Pydantic's) and,
    while it runs, makes many short-lived ones (an event per model and check): the
    collector's default thresholds (700, 10, 10) would walk the young ones every 700
    allocations and the old ones often. A young generation of 50,000 and rarer older
    collections still free every cycle, in far fewer passes (0.3 s of a 5.5 s build at
    scale 1)."""
    gc.set_threshold(50_000, 20, 20)
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = code or 1
    atexit._run_exitfuncs()  # what the interpreter itself runs at exit
    os._exit(code)


if __name__ == "__main__":
    run()
