"""Benchmark `clinic-analytics build` against the physical floor, full and incremental.

For each demo scale: generate the data (`demo-data`), then, in fresh child processes
measured by their own rusage (wall seconds, peak RSS):

* **floor**: DuckDB reading every input file once (`read_csv` of each entity's files,
  all columns as text, `count(*)`): no build can be faster than reading its input;
* **store floor**: DuckDB copying every input file once into a new database file
  (`create table` of each entity's `read_csv`, its types sniffed, then a checkpoint): no
  phone hashed, no row checked, no model built. A build that keeps its data in DuckDB
  cannot be faster than this, so it says what part of the ratio to the floor is the
  price of storing the rows at all;
* **full build**: `clinic-analytics build --full`, alternated with both floors (A/B) so
  a busy machine slows them alike; medians of `--repeat` runs; the per-model seconds of
  the last one (`--timings`) say where the time went;
* **weekly incremental load**: last week's folder built in full, then this week's exports
  added (calls, visits and new patients of the last 7 days, each new file overlapping the
  previous export by 3 days, as real exports do; older files untouched) and built
  incrementally; the same week as a month's end finds it (the forecast's data version
  withdrawn from last week's warehouse, so it is refitted: pipelines/models/versions.py);
  then a full build of the same folder, and the warehouses' marts compared row for row,
  the forecast's tables to the last digit (tests/golden/fingerprints.py).

    .venv/bin/python benchmarks/build_benchmark.py --scales 1 10 100 [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.golden import fingerprints

CLI = str(Path(sys.executable).with_name("clinic-analytics"))
ENV = dict(os.environ, CLINIC_HASH_SECRET="benchmark-secret")
WEEKLY = {"calls": "started_at", "visits": "visit_at", "patients": "registered_at"}
"""The entities a weekly export brings new rows of, by the column that dates a row."""
OVERLAP_DAYS = 3
FLOOR = """
import duckdb, sys
from pathlib import Path
root, target = Path(sys.argv[1]), sys.argv[2:]  # a database file: the store floor
conn = duckdb.connect(*target)
conn.execute("set enable_progress_bar = false")
for folder in sorted(p for p in root.iterdir() if p.is_dir()):
    files = sorted(str(p) for p in folder.iterdir() if p.suffix in (".csv", ".tsv"))
    if not files:
        continue
    if not target:
        conn.execute(
            "select count(*) from read_csv(?, all_varchar = true, union_by_name = true)",
            [files],
        ).fetchall()
        continue
    try:  # typed, as a warehouse keeps them: DuckDB writes numbers and times cheaper
        conn.execute(
            f'create table "{folder.name}" as select * from read_csv(?, union_by_name = true)',
            [files],
        )
    except duckdb.Error:  # a folder whose types the sniffer cannot agree on: as text
        conn.execute(
            f'create table "{folder.name}" as select * '
            "from read_csv(?, all_varchar = true, union_by_name = true)",
            [files],
        )
if target:
    conn.execute("checkpoint")
conn.close()
"""


def run(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and standard output of one child process. The disk is
    flushed first: the gigabyte the last step wrote (a build, a copy of its warehouse)
    would otherwise be written out during this one, which a weekly run a week after the
    last build never pays for (at scale 100 the weekly load took 15.2 s straight after
    last week's build and its copy, and 10–12 s by hand)."""
    os.sync()
    started = time.perf_counter()
    child = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024, out


def build(input_dir: Path, warehouse: Path, *, full: bool) -> tuple[float, float, str]:
    command = [CLI, "build", "--input", str(input_dir), "--warehouse", str(warehouse)]
    return run([*command, "--timings"] + (["--full"] if full else []))


def floor(input_dir: Path) -> tuple[float, float]:
    seconds, peak, _ = run([sys.executable, "-c", FLOOR, str(input_dir)])
    return seconds, peak


def store_floor(input_dir: Path, target: Path) -> float:
    target.unlink(missing_ok=True)
    seconds, _, _ = run([sys.executable, "-c", FLOOR, str(input_dir), str(target)])
    target.unlink()
    return seconds


def mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def rows(folder: Path) -> int:
    return sum(sum(1 for _ in p.open("rb")) - 1 for p in folder.glob("*.csv"))


def split_last_week(source: Path, base: Path, week: Path) -> date:
    """`base`: the folder as it stood a week ago (rows of the last 7 days cut from the
    newest files); `week`: this week's files, each from 3 days before the cut on. Files
    are streamed row by row: only this week's rows are held."""
    shutil.copytree(source, base)
    files = {e: sorted((source / e).glob("*.csv")) for e in WEEKLY if (source / e).is_dir()}
    # the week is the calls' last week: visits run ahead of it (appointments booked for
    # the coming weeks), and a cut there would leave this week with no calls at all
    last = max(day for path in files["calls"] for day in _days(path, "calls"))
    cut = last - timedelta(days=6)
    for entity, paths in files.items():
        fresh: dict[tuple[str, ...], None] = {}
        header: list[str] = []
        for path in paths:
            if max(_days(path, entity), default=cut - timedelta(days=1)) < cut - timedelta(
                days=OVERLAP_DAYS
            ):
                continue
            with path.open(encoding="utf-8", newline="") as src:
                reader = csv.reader(src)
                header = next(reader)
                column = header.index(WEEKLY[entity])
                with (base / entity / path.name).open("w", encoding="utf-8", newline="") as dst:
                    writer = csv.writer(dst, lineterminator="\n")
                    writer.writerow(header)
                    for row in reader:
                        day = _day(row, column)
                        if day and day >= cut - timedelta(days=OVERLAP_DAYS):
                            fresh[tuple(row)] = None
                        if not (day and day >= cut):
                            writer.writerow(row)
        if not fresh:
            continue  # nothing new this week: no file, as an export of nothing would be
        (week / entity).mkdir(parents=True, exist_ok=True)
        with (week / entity / f"{entity}_week_{cut}.csv").open(
            "w", encoding="utf-8", newline=""
        ) as out:
            csv.writer(out, lineterminator="\n").writerows([header, *fresh])
    return cut


def _days(path: Path, entity: str) -> Iterator[date]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        column = next(reader).index(WEEKLY[entity])
        for row in reader:
            if day := _day(row, column):
                yield day


def _day(row: list[str], column: int) -> date | None:
    try:
        return date.fromisoformat(row[column][:10])
    except (IndexError, ValueError):
        return None


def bench(scale: float, root: Path, repeat: int, seed: int, weekly_up_to: float) -> None:
    data = root / f"scale-{scale:g}"
    demo_s = demo_mb = float("nan")
    if not (data / "in").is_dir():
        demo_s, demo_mb, _ = run(
            [
                CLI,
                "demo-data",
                "--out",
                str(data / "in"),
                "--scale",
                str(scale),
                "--seed",
                str(seed),
            ]
        )
    size = mib(data / "in")
    floors, stores, builds, peaks, out = [], [], [], [], ""
    for _ in range(repeat):
        floors.append(floor(data / "in")[0])
        stores.append(store_floor(data / "in", data / "store.duckdb"))
        seconds, peak, out = build(data / "in", data / "full.duckdb", full=True)
        builds.append(seconds)
        peaks.append(peak)
    fl, store, full = (statistics.median(v) for v in (floors, stores, builds))
    print(
        f"\nscale {scale:g}: {rows(data / 'in' / 'calls'):,} call rows, "
        f"{rows(data / 'in' / 'visits'):,} visit rows, input {size:,.0f} MiB "
        f"(demo-data {demo_s:.1f} s, peak {demo_mb:,.0f} MiB)"
    )
    print(f"  floor (DuckDB reads the input once) {fl:7.1f} s   runs {_runs(floors)}")
    print(
        f"  store floor (DuckDB copies it once) {store:7.1f} s   runs {_runs(stores)}  "
        f"ratio {store / fl:4.1f}x"
    )
    print(
        f"  full build                          {full:7.1f} s   runs {_runs(builds)}  "
        f"ratio {full / fl:4.1f}x ({full / store:.1f}x the store floor)  "
        f"peak RSS {max(peaks):,.0f} MiB"
    )
    print("  where the time went (last full build, slowest models):")
    for line in out.splitlines()[1:14]:
        print("    " + line.strip())

    if scale > weekly_up_to:
        return
    weekly = data / "weekly"
    shutil.rmtree(weekly, ignore_errors=True)
    cut = split_last_week(data / "in", weekly / "in", weekly / "new")
    build(weekly / "in", weekly / "incremental.duckdb", full=True)  # last week's build
    withdraw_forecast(weekly / "incremental.duckdb", weekly / "month_end.duckdb")
    shutil.copytree(weekly / "new", weekly / "in", dirs_exist_ok=True)
    incremental, inc_peak, _ = build(weekly / "in", weekly / "incremental.duckdb", full=False)
    month_end, _, _ = build(weekly / "in", weekly / "month_end.duckdb", full=False)
    full_same, _, _ = build(weekly / "in", weekly / "full.duckdb", full=True)
    same = all(
        compare(weekly / name) == compare(weekly / "full.duckdb")
        for compare in (fingerprints.fingerprint, fingerprints.rows)
        for name in ("incremental.duckdb", "month_end.duckdb")
    )
    print(
        f"  weekly load (week from {cut}, {mib(weekly / 'new') * 1024:,.0f} KiB new): incremental "
        f"{incremental:.1f} s vs full {full_same:.1f} s = {incremental / full_same:.0%}, "
        f"peak {inc_peak:,.0f} MiB; the week a month ends (forecast refitted) {month_end:.1f} s "
        f"= {month_end / full_same:.0%}; marts identical to the full build: {same}"
    )


def withdraw_forecast(warehouse: Path, copy: Path) -> None:
    """A copy of `warehouse` as the week a month ends finds it: the forecast's data
    version no longer matches (its cut-off moved), so the next build refits it while
    carrying every unchanged file's rows as any other week."""
    shutil.copy(warehouse, copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute("delete from model_versions")


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, help="keep generated data here (reused if present)")
    parser.add_argument(
        "--weekly-up-to", type=float, default=100, help="the weekly load up to this scale"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clinic-bench-") as tmp:
        root = args.data or Path(tmp)
        for scale in sorted(args.scales):
            bench(scale, root, args.repeat, args.seed, args.weekly_up_to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
