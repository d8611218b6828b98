"""A year of one clinic's calls and ad spend pulled from local servers that follow each
vendor's contract (tests/vendors.py), then built: how long a full pull takes, and that the
landed files carry the demo's own figures.

The demo clinic's last 365 days of calls are served as Calltouch's calls diary, and its
Yandex Direct, Google Ads and VK Ads spend as those platforms' APIs serve it; each source
is pulled in full (`pull_source` from the first day), timed alone. Then a copy of the demo's
input folder without those calls and that spend, with the pulled files in their place, is
built, and its calls and spend over the year are set against the demo's own CSV.

The servers run in this process (threads), so a pull's time includes the server's side:
an upper bound of our client's cost, not the vendors' latency (which the real APIs add).

    .venv/bin/python benchmarks/pull_benchmark.py [--data DEMO_INPUT] [--scale 1]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pipelines.pull.run import pull_source
from pipelines.settings import load_settings
from tests.test_pull import TOKEN, Calltouch
from tests.test_pull_ads import (
    GOOGLE_ACCESS_TOKEN,
    GoogleAds,
    VkAds,
    YandexDirect,
    google_source,
    vk_source,
    yandex_source,
)
from tests.vendors import VendorServer

CLI = str(Path(sys.executable).with_name("clinic-analytics"))
SECRET = "benchmark-secret"
PULLED = {"yandex": "yandex_direct", "google": "google_ads", "vk": "vk_ads"}
"""Demo spend sources served by an API, and the pull source of each."""


def read_csv(folder: Path) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            out += list(csv.DictReader(handle))
    return out


def serve(server: VendorServer, demo: Path, first: date, last: date, zone: str) -> dict:
    """Every vendor loaded with the demo's rows of the year; what was served, counted."""
    calltouch = Calltouch(server)
    local = ZoneInfo(zone)
    for row in read_csv(demo / "calls"):
        try:  # the demo plants broken rows (31.02.2025): a tracker's API has none
            at = datetime.fromisoformat(row["started_at"]).astimezone(local)
            number = int("".join(c for c in row["call_id"] if c.isdigit()))
            duration, wait = int(row["duration_s"] or 0), int(row["wait_s"] or 0)
        except ValueError:
            continue
        if not first <= at.date() <= last or not 0 <= duration <= 86_400:
            continue
        calltouch.calls[number] = {
            "callId": number,
            "date": f"{at:%d/%m/%Y %H:%M:%S}",
            "callerNumber": "".join(c for c in row["caller_phone"] if c.isdigit()),
            "phoneNumber": "".join(c for c in row["tracking_phone"] if c.isdigit()),
            "duration": duration,
            "waitingConnect": wait,
            "successful": row["answered"] == "true",
            "utmSource": row["source"],
            "utmMedium": row["medium"],
            "utmCampaign": row["campaign"],
            "manager": row["admin_id"],
            "siteName": row["branch_id"],
            "callTags": [{"category": "demo", "type": "tag", "names": [row["tags"]]}]
            if row["tags"]
            else [],
        }
    yandex, google, vk = YandexDirect(server), GoogleAds(server), VkAds(server)
    spend = {k: 0.0 for k in PULLED}
    plans: dict[str, int] = {}
    campaigns: dict[str, int] = {}
    for row in read_csv(demo / "ad_spend"):
        day = date.fromisoformat(row["date"])
        if row["source"] not in PULLED or not first <= day <= last:
            continue
        cost, clicks, shows = row["cost"], int(row["clicks"] or 0), int(row["impressions"] or 0)
        spend[row["source"]] += float(cost)
        if row["source"] == "yandex":
            campaign_id = campaigns.setdefault(row["campaign"], 100 + len(campaigns))
            yandex.rows.append((day, campaign_id, row["campaign"], shows, clicks, cost))
        elif row["source"] == "google":
            google.add(day, row["campaign"], round(float(cost) * 1_000_000), clicks, shows)
        else:
            plan = plans.setdefault(row["campaign"], 1000 + len(plans))
            vk.spend.setdefault(plan, {})[day] = (shows, clicks, cost)
    google.login = "1234567890"
    return {"calls": len(calltouch.calls), "spend": spend}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="a demo input folder (else one is generated)")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clinic-pull-bench-") as tmp:
        root = Path(tmp)
        demo = args.data
        if demo is None:
            demo = root / "demo"
            subprocess.run(
                [CLI, "demo-data", "--out", str(demo), "--scale", str(args.scale)],
                check=True,
                capture_output=True,
                env=dict(os.environ, CLINIC_HASH_SECRET=SECRET),
            )
        target = root / "in"
        shutil.copytree(demo, target, ignore=shutil.ignore_patterns("calls"))
        # the spend the APIs serve leaves the CSV: the pulled files stand in for it
        for path in (target / "ad_spend").glob("*.csv"):
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.reader(handle))
            kept = [r for r in rows[1:] if r[1] not in PULLED]
            with path.open("w", encoding="utf-8", newline="") as handle:
                csv.writer(handle, lineterminator="\n").writerows([rows[0], *kept])
        settings_zone = load_settings(None, hash_secret=SECRET).timezone
        days = [date.fromisoformat(r["date"]) for r in read_csv(demo / "ad_spend")]
        last = max(days)
        first = last - timedelta(days=364)
        with VendorServer() as server:
            served = serve(server, demo, first, last, settings_zone)
            settings = load_settings(
                None,
                input_dir=target,
                hash_secret=SECRET,
                ad_platform_currency={"yandex_direct": "RUB", "vk_ads": "RUB"},
                pull={
                    "calltouch": {"base_url": server.url, "site_id": "777", "token": TOKEN},
                    "yandex_direct": yandex_source(server),
                    "google_ads": google_source(server, access_token=GOOGLE_ACCESS_TOKEN),
                    "vk_ads": vk_source(server),
                },
            )
            print(
                f"one year, {first}..{last}: {served['calls']:,} calls; spend "
                + ", ".join(f"{k} {v:,.2f}" for k, v in served["spend"].items())
            )
            print(f"{'source':<14}{'requests':>9}{'files':>7}{'MiB':>8}{'seconds':>9}")
            total = 0.0
            for name in ("calltouch", "yandex_direct", "google_ads", "vk_ads"):
                before = len(server.requests)
                started = time.perf_counter()
                result = pull_source(settings, name, since=first, until=last)
                seconds = time.perf_counter() - started
                total += seconds
                if result.error:
                    print(f"{name}: {result.error}")
                    return 1
                size = sum(p.stat().st_size for p in result.files) / 2**20
                print(
                    f"{name:<14}{len(server.requests) - before:>9}{len(result.files):>7}"
                    f"{size:>8.2f}{seconds:>9.2f}"
                )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"all four: {total:.2f} s, peak RSS {peak:,.0f} MiB (servers included)")
        warehouse = root / "warehouse.duckdb"
        started = time.perf_counter()
        subprocess.run(
            [CLI, "build", "--input", str(target), "--warehouse", str(warehouse)],
            check=True,
            capture_output=True,
            env=dict(
                os.environ,
                CLINIC_HASH_SECRET=SECRET,
                CLINIC_AD_PLATFORM_CURRENCY__YANDEX_DIRECT="RUB",
                CLINIC_AD_PLATFORM_CURRENCY__VK_ADS="RUB",
            ),
        )
        print(f"built from the pulled files in {time.perf_counter() - started:.1f} s")
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            calls = conn.execute("select count(*) from stg_calltracking__calls").fetchall()[0][0]
            spend = dict(
                conn.execute(
                    "select source, sum(cost)::double from stg_ads__ad_spend "
                    f"where date between '{first}' and '{last}' group by 1"
                ).fetchall()
            )
        print(f"calls in the warehouse {calls:,} (served {served['calls']:,})")
        for source, amount in served["spend"].items():
            print(f"{source} spend {spend.get(source, 0):,.2f} (served {amount:,.2f})")
        agree = calls == served["calls"] and all(
            abs(spend.get(s, 0) - a) < 0.01 for s, a in served["spend"].items()
        )
        print("the warehouse holds what the APIs served:", agree)
        return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
