"""Per-file overhead: the same calls as many one-row files and as a few files.

A clinic that exports a file per day (or per call, from a webhook) must not pay for it:
the build over N one-row call files should stay within 2x of the build over the same rows
in a few files. Each build runs in a fresh process; time and peak RSS are its own.

    .venv/bin/python benchmarks/many_files_benchmark.py --files 10000 --few 25
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.ingest.entities import CALLS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.clinic import minimal_input  # noqa: E402

HEADER = ",".join(c for c in CALLS.columns if c != "vendor_lead_flag")


def call_row(i: int) -> str:
    day = 1 + i % 28
    return (
        f"C{i:06d},2025-03-{day:02d} {8 + i % 12:02d}:{i % 60:02d}:00,"
        f"+7 916 {i % 1000:03d}-{i // 1000 % 100:02d}-{i % 97:02d},,yandex,cpc,brand,"
        f"true,{30 + i % 200},5,A1,B1,\n"
    )


def write_input(root: Path, rows: int, files: int) -> Path:
    folder = minimal_input(root)
    calls = folder / "calls"
    for old in calls.iterdir():
        old.unlink()
    per_file = -(-rows // files)
    for f in range(files):
        chunk = range(f * per_file, min(rows, (f + 1) * per_file))
        (calls / f"calls_{f:05d}.csv").write_text(
            HEADER + "\n" + "".join(call_row(i) for i in chunk), encoding="utf-8"
        )
    return folder


def build(input_dir: Path, warehouse: Path) -> tuple[float, float]:
    env = dict(os.environ, CLINIC_HASH_SECRET="benchmark-secret")
    cli = str(Path(sys.executable).with_name("clinic-analytics"))
    started = time.perf_counter()
    child = subprocess.Popen(
        [cli, "build", "--input", str(input_dir), "--warehouse", str(warehouse)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("build failed")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--few", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    rows = args.files
    with tempfile.TemporaryDirectory(prefix="clinic-files-") as tmp:
        root = Path(tmp)
        many = write_input(root / "many", rows, args.files)
        few = write_input(root / "few", rows, args.few)
        results: dict[str, list[tuple[float, float]]] = {"many": [], "few": []}
        for _ in range(args.repeat):  # alternate, so a busy moment hits both alike
            for name, folder in (("few", few), ("many", many)):
                results[name].append(build(folder, root / f"{name}.duckdb"))
        print(f"{rows:,} calls; build time is the best of {args.repeat}, fresh process each")
        for name, files in (("few", args.few), ("many", args.files)):
            seconds = min(r[0] for r in results[name])
            peak = max(r[1] for r in results[name])
            print(f"  {files:>6,} files  {seconds:6.1f} s  peak {peak:6.0f} MiB")
        ratio = min(r[0] for r in results["many"]) / min(r[0] for r in results["few"])
        print(f"  ratio many/few: {ratio:.2f} (target: at most 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
