"""The demo data set rewritten as clinics download it: Calltouch, CallRail, Google Ads,
Yandex Direct and an Open Dental dump.

It converts the canonical demo files, so both forms hold the same facts and must build
identical marts (tests/test_formats.py checks that). Branch B1 tracks calls with
Calltouch, branch B2 with CallRail. Rows the canonical demo plants to be quarantined stay
broken here too where the vendor's shape can carry the fault, and are left out where it
cannot (a visit's amount is the sum of its procedures' fees, so a text amount has no
place in an Open Dental dump).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from pipelines.demo.folders import empty_entity_folders
from pipelines.settings import Settings


def write_vendor_forms(canonical: Path, out: Path, settings: Settings) -> None:
    empty_entity_folders(out)
    _calls(canonical, out / "calls", settings.timezone)
    _spend(canonical, out / "ad_spend")
    _patients(canonical, out / "patients")
    _visits(canonical, out / "visits")
    _doctors(canonical, out / "doctors")
    shutil.copy(canonical / "channels.csv", out / "channels.csv")
    for sub in ("administrators", "surveys"):
        for path in (canonical / sub).iterdir():
            shutil.copy(path, out / sub / path.name)


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _local_time(column: str, timezone: str) -> pl.Expr:
    """Canonical text (naive local, or ISO with an offset) → naive clinic-local datetime."""
    text = pl.col(column)
    with_offset = text.str.strptime(
        pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%:z", strict=False
    ).dt.convert_time_zone(timezone)
    naive = text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
    return pl.coalesce(with_offset.dt.replace_time_zone(None), naive)


TRACKER_TARGET_S = 20
"""The tracker account's own target-call threshold: trackers set it per account, and it
need not be ours, which is why its flags and our leads differ."""


def _tracker_flags(paths: list[Path], timezone: str) -> dict[str, bool]:
    """call_id → the tracker's 'unique target call' flag: the first call ever from the
    number (by its last ten digits), answered and at least TRACKER_TARGET_S long."""
    calls = (
        pl.concat([_read(p) for p in paths])
        .unique(subset="call_id", keep="first")
        .with_columns(
            local=_local_time("started_at", timezone),
            number=pl.col("caller_phone").str.replace_all(r"\D", "").str.slice(-10),
        )
        .filter(pl.col("local").is_not_null() & (pl.col("number").str.len_chars() == 10))
        .sort(["local", "call_id"])  # ties (a planted broken copy of a call) by id
    )
    first = calls.unique(subset="number", keep="first")
    flagged = first.filter(
        (pl.col("answered") == "true")
        & (pl.col("duration_s").cast(pl.Int64, strict=False) >= TRACKER_TARGET_S)
    )
    flags = dict.fromkeys(calls["call_id"].to_list(), False)
    flags.update(dict.fromkeys(flagged["call_id"].to_list(), True))
    return flags


def _calls(canonical: Path, folder: Path, timezone: str) -> None:
    paths = sorted((canonical / "calls").glob("*.csv"))
    flags = _tracker_flags(paths, timezone)
    for path in paths:
        frame = _read(path).with_columns(local=_local_time("started_at", timezone))
        frame = frame.with_columns(
            iso=pl.col("local")
            .dt.replace_time_zone(timezone)
            .dt.strftime("%Y-%m-%dT%H:%M:%S.000%:z")
        )
        month = path.stem.removeprefix("calls_")
        records_b1 = frame.filter(pl.col("branch_id") == "B1")
        records_b2 = frame.filter(pl.col("branch_id") != "B1")
        calltouch = [
            {
                "callId": r["call_id"],
                # dd/MM/yyyy HH:mm:ss, clinic-local; a broken date stays as it was written
                "date": r["local"].strftime("%d/%m/%Y %H:%M:%S") if r["local"] else r["started_at"],
                "callerNumber": r["caller_phone"],
                "phoneNumber": r["tracking_phone"],
                "duration": r["duration_s"],
                "waitingConnect": r["wait_s"],
                "successful": r["answered"],
                "source": r["source"],
                "medium": r["medium"],
                "utmSource": r["source"],
                "utmMedium": r["medium"],
                "utmCampaign": r["campaign"] or "<не указано>",
                "manager": r["admin_id"],
                "siteName": r["branch_id"],
                "uniqTargetCall": flags.get(r["call_id"]),
                "callTags": [{"category": "demo", "type": "auto", "names": [r["tags"]]}]
                if r["tags"]
                else [],
            }
            for r in records_b1.iter_rows(named=True)
        ]
        if month.endswith(("-01", "-07")):  # twice a year as the CSV journal, Windows-1251
            rows = pl.DataFrame(calltouch, infer_schema_length=None).with_columns(
                successful=pl.when(pl.col("successful") == "true")
                .then(pl.lit("Да"))
                .otherwise(pl.lit("Нет")),
                callTags=pl.col("callTags").map_elements(
                    lambda tags: json.dumps(list(tags), ensure_ascii=False), return_dtype=pl.String
                ),
            )
            (folder / f"calltouch_{month}.csv").write_bytes(
                rows.write_csv(separator=";").encode("cp1251")
            )
        else:
            page = {
                "page": 1,
                "pageTotal": 1,
                "pageSize": len(calltouch),
                "recordsTotal": len(calltouch),
                "records": calltouch,
            }
            (folder / f"calltouch_{month}.json").write_text(
                json.dumps(page, ensure_ascii=False), encoding="utf-8"
            )
        callrail = [
            {
                "id": r["call_id"],
                "start_time": r["iso"] or r["started_at"],
                "customer_phone_number": r["caller_phone"],
                "tracking_phone_number": r["tracking_phone"],
                "answered": r["answered"],
                "duration": r["duration_s"],
                "direction": "inbound",
                "source": r["source"],
                "medium": r["medium"],
                "campaign": r["campaign"],
                "utm_source": r["source"],
                "utm_medium": r["medium"],
                "utm_campaign": r["campaign"] or "(not set)",
                "agent_email": r["admin_id"],
                "company_name": r["branch_id"],
                "first_call": flags.get(r["call_id"]),
                "tags": [r["tags"]] if r["tags"] else [],
            }
            for r in records_b2.iter_rows(named=True)
        ]
        # CallRail also logs the clinic's own outbound calls: not calls for us
        callrail.append(
            {
                "id": f"OUT-{month}",
                "start_time": f"{month}-15T10:00:00.000+03:00",
                "customer_phone_number": "+79990000000",
                "answered": True,
                "duration": 60,
                "direction": "outbound",
            }
        )
        (folder / f"callrail_{month}.json").write_text(
            json.dumps({"page": 1, "total_pages": 1, "calls": callrail}, ensure_ascii=False),
            encoding="utf-8",
        )


def _spend(canonical: Path, folder: Path) -> None:
    for path in sorted((canonical / "ad_spend").glob("*.csv")):
        frame = _read(path)
        quarter = path.stem.removeprefix("spend_")
        valid = pl.col("cost").str.contains(r"^\d+(\.\d+)?$") & (pl.col("currency") == "RUB")
        clean = frame.filter(valid)
        broken = frame.filter(~valid)
        is_yandex = (pl.col("source") == "yandex") & (pl.col("medium") == "cpc")
        is_google = (pl.col("source") == "google") & (pl.col("medium") == "cpc")
        yandex = clean.filter(is_yandex)
        google = clean.filter(is_google)
        rest = pl.concat([clean.filter(~is_yandex & ~is_google), broken])
        if yandex.height:
            body = yandex.select(
                pl.col("date").alias("Date"),
                pl.col("campaign").alias("CampaignName"),
                pl.col("impressions").alias("Impressions"),
                pl.col("clicks").alias("Clicks"),
                (pl.col("cost").cast(pl.Float64) * 1_000_000).round(0).cast(pl.Int64).alias("Cost"),
            ).write_csv(separator="\t")
            (folder / f"yandex_direct_{quarter}.tsv").write_text(
                f'"Campaign performance {quarter}"\n{body}Total rows: {yandex.height}\n',
                encoding="utf-8",
            )
        if google.height:
            body = google.select(
                pl.col("date").alias("Day"),
                pl.col("campaign").alias("Campaign"),
                pl.lit("Enabled").alias("Campaign state"),
                pl.col("currency").alias("Currency code"),
                pl.col("cost")
                .cast(pl.Float64)
                .map_elements(lambda c: f"{c:,.2f}", return_dtype=pl.String)
                .alias("Cost"),
                pl.col("impressions")
                .cast(pl.Int64)
                .map_elements(lambda n: f"{n:,}", return_dtype=pl.String)
                .alias("Impr."),
                pl.col("clicks").alias("Clicks"),
            ).write_csv(separator="\t")
            total = google["cost"].cast(pl.Float64).sum()
            text = (
                f"Campaign report\n{quarter}\n{body}"
                f"Total: Account\t--\t--\tRUB\t{total:,.2f}\t--\t--\n"
            )
            (folder / f"google_ads_{quarter}.csv").write_bytes(
                "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
            )
        if rest.height:
            rest.write_csv(folder / f"spend_{quarter}.csv")


def _patients(canonical: Path, folder: Path) -> None:
    frame = _read(canonical / "patients" / "patients.csv")
    phones = pl.col("phone").str.split(";")
    frame.select(
        pl.col("patient_id").alias("PatNum"),
        pl.lit("").alias("LName"),
        pl.lit("").alias("FName"),
        pl.when(pl.col("sex").is_in(["F", "ж"]))
        .then(pl.lit("1"))
        .otherwise(pl.lit("0"))
        .alias("Gender"),
        pl.col("birth_date")
        .str.strptime(pl.Date, "%d.%m.%Y")
        .dt.strftime("%Y-%m-%d")
        .alias("Birthdate"),
        phones.list.get(1, null_on_oob=True).str.strip_chars().alias("HmPhone"),
        pl.lit("").alias("WkPhone"),
        phones.list.get(0).str.strip_chars().alias("WirelessPhone"),
        pl.when(pl.col("contact_consent") == "да")
        .then(pl.lit("1"))
        .otherwise(pl.lit("2"))
        .alias("TxtMsgOk"),
        pl.col("registered_at").str.slice(0, 10).alias("DateFirstVisit"),
    ).write_csv(folder / "patient.csv")


APT_STATUS = {"completed": "2", "scheduled": "1", "cancelled": "3", "no_show": "5"}


def _visits(canonical: Path, folder: Path) -> None:
    """The dump is a snapshot: each visit once, in its latest exported state."""
    parts = []
    for order, path in enumerate(sorted((canonical / "visits").glob("*.csv"))):
        parts.append(_read(path).with_row_index("line").with_columns(file=pl.lit(order)))
    visits = (
        pl.concat(parts)
        .filter(pl.col("status").is_in(list(APT_STATUS)) & pl.col("amount").str.contains(r"^\d+$"))
        .sort(["file", "line"])
        .unique(subset="visit_id", keep="last", maintain_order=True)
        .with_columns(
            at=pl.coalesce(
                pl.col("visit_at").str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S", strict=False),
                pl.col("visit_at").str.strptime(pl.Datetime, "%d.%m.%Y %H:%M:%S", strict=False),
            )
        )
        .sort("visit_id")
    )
    appointments = visits.select(
        pl.col("visit_id").alias("AptNum"),
        pl.col("patient_id").alias("PatNum"),
        pl.col("status").replace_strict(APT_STATUS).alias("AptStatus"),
        pl.col("at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("AptDateTime"),
        pl.col("doctor_id").alias("ProvNum"),
        pl.col("branch_id").alias("ClinicNum"),
        pl.col("service").alias("ProcDescript"),
    )
    broken = pl.DataFrame(
        {
            "AptNum": ["VBAD1"],
            "PatNum": ["P0000001"],
            "AptStatus": ["9"],
            "AptDateTime": ["2025-03-31 09:00:00"],
            "ProvNum": ["D01"],
            "ClinicNum": ["B1"],
            "ProcDescript": [""],
        }
    )
    pl.concat([appointments, broken]).write_csv(folder / "appointment.csv")
    amount = pl.col("amount").cast(pl.Int64)
    done = visits.filter(pl.col("status") == "completed")
    first_share = (amount * 6 // 100) * 10  # 60% rounded to tens; the rest on a second line
    procedures = pl.concat(
        [
            done.select("visit_id", "patient_id", fee=first_share, status=pl.lit("2")),
            done.select("visit_id", "patient_id", fee=amount - first_share, status=pl.lit("C")),
            visits.filter(pl.col("status") != "completed").select(
                "visit_id", "patient_id", fee=pl.lit(1000, pl.Int64), status=pl.lit("1")
            ),
        ]
    )
    procedures.with_row_index("ProcNum", offset=1).select(
        "ProcNum",
        pl.col("patient_id").alias("PatNum"),
        pl.col("visit_id").alias("AptNum"),
        pl.col("status").alias("ProcStatus"),
        pl.format("{}.00", pl.col("fee")).alias("ProcFee"),
    ).write_csv(folder / "procedurelog.csv")


def _doctors(canonical: Path, folder: Path) -> None:
    frame = pl.read_excel(canonical / "doctors" / "doctors.xlsx", infer_schema_length=0)
    names = pl.col("name").str.split_exact(" ", 1)
    frame.select(
        pl.col("doctor_id").alias("ProvNum"),
        pl.col("doctor_id").alias("Abbr"),
        names.struct.field("field_1").alias("LName"),
        names.struct.field("field_0").alias("FName"),
        pl.col("specialty").alias("Specialty"),
    ).write_csv(folder / "provider.csv")
