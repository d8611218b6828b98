"""Benchmark `clinic-analytics build` on the demo data: size, time, peak memory, row counts.

Each build runs in a fresh child process, so its peak resident memory (ru_maxrss of the
child) is the build's own, Dagster and imports included.

    .venv/bin/python benchmarks/build_benchmark.py --scales 1 10
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process, from its own rusage."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[1]} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("clinic-analytics"))
    for scale in sorted(args.scales):
        with tempfile.TemporaryDirectory(prefix="clinic-bench-") as tmp:
            root = Path(tmp)
            env = dict(os.environ, CLINIC_HASH_SECRET="benchmark-secret")
            gen_s, gen_mb = run(
                [
                    cli,
                    "demo-data",
                    "--out",
                    str(root / "in"),
                    "--scale",
                    str(scale),
                    "--seed",
                    str(args.seed),
                ],
                env,
            )
            size_mb = sum(p.stat().st_size for p in (root / "in").rglob("*") if p.is_file()) / 2**20
            warehouse = root / "warehouse.duckdb"
            build_s, build_mb = run(
                [cli, "build", "--input", str(root / "in"), "--warehouse", str(warehouse)], env
            )
            with duckdb.connect(str(warehouse), read_only=True) as conn:
                rows = conn.execute("select * from load_reconciliation order by entity").fetchall()
            print(
                f"\nscale {scale:g}: input {size_mb:.1f} MiB, warehouse "
                f"{warehouse.stat().st_size / 2**20:.1f} MiB"
            )
            print(f"  demo-data  {gen_s:6.1f} s  peak {gen_mb:7.0f} MiB")
            print(f"  build      {build_s:6.1f} s  peak {build_mb:7.0f} MiB")
            print(f"  {'entity':<16}{'read':>10}{'loaded':>10}{'quarant.':>10}{'dupl.':>10}")
            for entity, read, loaded, quarantined, duplicate in rows:
                print(f"  {entity:<16}{read:>10}{loaded:>10}{quarantined:>10}{duplicate:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
