"""Vendor exports, recognised by their headers and mapped to the canonical columns.

A file's columns arrive normalised (`callId` → `callid`, `Currency code` →
`currency_code`, `segments.date` → `segments_date`). If they hold a vendor's signature,
that vendor's SQL expressions build the entity's canonical columns, still as text, so
the staging models type and validate every source alike and duplicates across formats
are found on the canonical form. Otherwise columns are taken by their canonical names.
What each mapping assumes is written beside it and in README "Vendor exports".
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from pipelines.ingest.entities import Entity
from pipelines.ingest.readers import FileReport, InputError, normalise_header
from pipelines.settings import Settings

Expressions = Callable[[Settings], dict[str, str]]


@dataclass(frozen=True)
class VendorFormat:
    name: str
    entity: str
    signature: frozenset[str]
    columns: Expressions
    optional: tuple[str, ...] = ()
    """Columns the expressions read that an export may leave out (NULL when absent)."""
    keep: str | None = None
    """SQL predicate: records of the file that are records of the entity."""
    skip_reason: str = ""
    joins: str = ""
    """SQL joined after the file (a lookup built from a sibling file)."""
    requires_lookup: str = ""
    """The lookup file this format cannot do without (its name, for the error)."""


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _utm(column: str, fallback: str) -> str:
    """A UTM value unless it is a tracker's placeholder, else the tracker's own field."""
    return f"coalesce(utm_value({column}), {fallback})"


def _tag_names(column: str) -> str:
    """Tag names, `;`-joined, from a JSON list of Calltouch tag objects (`names`) or of
    CallRail strings; any other text is kept as it is."""
    each = (
        "lambda t: case when json_type(t) = 'OBJECT' "
        "then from_json(json_extract(t, '$.names'), '[\"VARCHAR\"]') "
        "else [json_extract_string(t, '$')] end"
    )
    return (
        f"case when trim({column}) like '[%' then nullif(array_to_string(flatten("
        f"list_transform(json_extract({column}, '$[*]')::json[], {each})), ';'), '') "
        f"else {column} end"
    )


def _spend(
    platform: str,
    date: str,
    campaign: str,
    cost: str,
    currency: str | None,
    clicks: str,
    impressions: str,
    *,
    micros: bool,
) -> Expressions:
    """An ad platform's report: it carries no UTM, so the platform's source/medium come
    from the settings, and its VAT rate (if any) is stripped from cost."""

    def columns(settings: Settings) -> dict[str, str]:
        source, medium = settings.ad_platform_utm[platform]
        divisor = (1_000_000 if micros else 1) * (1 + settings.vat_rate_to_strip.get(platform, 0))
        return {
            "date": date,
            "source": _literal(source),
            "medium": _literal(medium),
            "campaign": campaign,
            "cost": f"coalesce(round(parse_money({cost}) / {divisor!r}, 2)::varchar, {cost})",
            "currency": currency or "null",
            "clicks": clicks,
            "impressions": impressions,
        }

    return columns


def _yandex(settings: Settings) -> dict[str, str]:
    return _spend(
        "yandex_direct",
        "date",
        "campaignname",
        "cost",
        None,
        "clicks",
        "impressions",
        micros=settings.yandex_cost_in_micros,
    )(settings)


FORMATS: tuple[VendorFormat, ...] = (
    VendorFormat(
        name="calltouch",
        entity="calls",
        signature=frozenset({"callid", "date", "callernumber"}),
        columns=lambda s: {
            "call_id": "callid",
            "started_at": "date",  # dd/mm/yyyy HH:MM:SS, clinic-local (assumed, see README)
            "caller_phone": "callernumber",
            "tracking_phone": "phonenumber",
            "source": _utm("utmsource", "lower(source)"),
            "medium": _utm("utmmedium", "lower(medium)"),
            "campaign": _utm("utmcampaign", "null"),
            "answered": "successful",
            "duration_s": "duration",
            "wait_s": "waitingconnect",
            "admin_id": "manager",
            "branch_id": "sitename",  # one Calltouch site per branch (assumption)
            "tags": _tag_names("calltags"),
            "vendor_lead_flag": "uniqtargetcall",
        },
        optional=(
            "phonenumber",
            "source",
            "medium",
            "utmsource",
            "utmmedium",
            "utmcampaign",
            "successful",
            "duration",
            "waitingconnect",
            "manager",
            "sitename",
            "calltags",
            "uniqtargetcall",
        ),
    ),
    VendorFormat(
        name="callrail",
        entity="calls",
        signature=frozenset({"id", "start_time", "customer_phone_number"}),
        columns=lambda s: {
            "call_id": "id",
            "started_at": "start_time",
            "caller_phone": "customer_phone_number",
            "tracking_phone": "tracking_phone_number",
            "source": _utm("utm_source", "lower(source)"),
            "medium": _utm("utm_medium", "lower(medium)"),
            "campaign": _utm("utm_campaign", "campaign"),
            "answered": "answered",
            "duration_s": "duration",
            "wait_s": "null",
            "admin_id": "agent_email",
            "branch_id": "company_name",
            "tags": _tag_names("tags"),
            "vendor_lead_flag": "first_call",
        },
        optional=(
            "tracking_phone_number",
            "source",
            "medium",
            "campaign",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "answered",
            "duration",
            "agent_email",
            "company_name",
            "tags",
            "first_call",
            "direction",
        ),
        keep="coalesce(lower(direction), 'inbound') = 'inbound'",
        skip_reason="outbound calls (only inbound calls are calls to the clinic)",
    ),
    VendorFormat(
        name="google_ads_api",
        entity="ad_spend",
        signature=frozenset({"segments_date", "campaign_name", "metrics_cost_micros"}),
        columns=_spend(
            "google_ads",
            "segments_date",
            "campaign_name",
            "metrics_cost_micros",
            "customer_currency_code",
            "metrics_clicks",
            "metrics_impressions",
            micros=True,
        ),
        optional=("customer_currency_code", "metrics_clicks", "metrics_impressions"),
    ),
    VendorFormat(
        name="google_ads",
        entity="ad_spend",
        signature=frozenset({"day", "campaign", "cost"}),
        columns=_spend(
            "google_ads", "day", "campaign", "cost", "currency_code", "clicks", "impr", micros=False
        ),
        optional=("currency_code", "clicks", "impr"),
    ),
    VendorFormat(
        name="yandex_direct",
        entity="ad_spend",
        signature=frozenset({"date", "campaignname", "cost"}),
        columns=_yandex,
        optional=("clicks", "impressions"),
    ),
    VendorFormat(
        name="meta_ads",
        entity="ad_spend",
        signature=frozenset({"date_start", "campaign_name", "spend"}),
        columns=_spend(
            "meta_ads",
            "date_start",
            "campaign_name",
            "spend",
            "account_currency",
            "clicks",
            "impressions",
            micros=False,
        ),
        optional=("account_currency", "clicks", "impressions"),
    ),
    # Open Dental dump tables (OpenDentBusiness/TableTypes), one CSV per table.
    VendorFormat(
        name="opendental_patient",
        entity="patients",
        signature=frozenset({"patnum", "wirelessphone", "hmphone"}),
        columns=lambda s: {
            "patient_id": "patnum",
            "phone": "concat_ws(';', nullif(trim(wirelessphone), ''), nullif(trim(hmphone), ''), "
            "nullif(trim(wkphone), ''))",
            "sex": "case gender when '0' then 'M' when '1' then 'F' end",
            "birth_date": "nullif(birthdate, '0001-01-01')",
            "registered_at": "nullif(datefirstvisit, '0001-01-01')",
            # TxtMsgOk: 0 unknown, 1 yes, 2 no; only an explicit yes is consent
            "contact_consent": "case txtmsgok when '1' then 'true' else 'false' end",
        },
        optional=("wkphone", "gender", "birthdate", "datefirstvisit", "txtmsgok"),
    ),
    VendorFormat(
        name="opendental_appointment",
        entity="visits",
        signature=frozenset({"aptnum", "patnum", "aptstatus", "aptdatetime"}),
        columns=lambda s: {
            "visit_id": "aptnum",
            "patient_id": "patnum",
            "doctor_id": "provnum",
            "branch_id": "nullif(clinicnum, '0')",
            "visit_at": "aptdatetime",
            "service": "procdescript",
            # AptStatus 1 Scheduled, 2 Complete, 3 UnschedList, 4 ASAP, 5 Broken
            "status": "case aptstatus when '1' then 'scheduled' when '2' then 'completed' "
            "when '3' then 'cancelled' when '4' then 'scheduled' when '5' then 'no_show' "
            "else 'AptStatus ' || aptstatus end",
            # the fees of its completed procedures (procedurelog.csv beside it); ProcFee is
            # what was charged: Open Dental's payments are split by provider, not visit
            "amount": "coalesce(_od_fees.fee, 0)",
        },
        optional=("provnum", "clinicnum", "procdescript"),
        # 0001-01-01 is Open Dental's "no date": an unscheduled appointment is not a visit
        keep="aptstatus <> '6' and not starts_with(coalesce(aptdatetime, ''), '0001-01-01')",
        skip_reason="planned appointments (AptStatus 6: a treatment plan, not a booking) and "
        "appointments without a date (0001-01-01)",
        joins="left join _od_fees on _od_fees.apt = aptnum",
        requires_lookup="procedurelog.csv",
    ),
    VendorFormat(
        name="opendental_provider",
        entity="doctors",
        signature=frozenset({"provnum", "lname", "fname"}),
        columns=lambda s: {
            "doctor_id": "provnum",
            "name": "trim(concat_ws(' ', fname, lname))",
            "specialty": "specialty",
            "branch_id": "null",
            # IsSecondary marks a hygienist (a secondary provider) in Open Dental
            "provider_kind": "case issecondary when '1' then 'hygienist' "
            "when '0' then 'dentist' end",
        },
        optional=("specialty", "issecondary"),
    ),
)

LOOKUPS = {
    # procedurelog.csv is not a record of any entity: it prices the appointments
    "visits": (
        "_od_fees",
        frozenset({"procnum", "aptnum", "procfee", "procstatus"}),
        "select aptnum as apt, sum(parse_money(procfee)) as fee from {table} "
        "where procstatus in ('2', 'C') and aptnum not in ('', '0') group by aptnum",
        "create or replace temp table _od_fees (apt varchar, fee decimal(18, 2))",
    ),
}


@functools.cache
def vocabulary(entity: Entity, mapping: Path | None = None) -> frozenset[str]:
    """Every normalised column name an export of this entity may carry: canonical,
    each vendor's, the lookup files' and, with a mapping file, the headers it names.
    The reader finds a file's header line by these names."""
    lookup = LOOKUPS.get(entity.name)
    names = set(entity.columns)
    for vendor in FORMATS:
        if vendor.entity == entity.name:
            names |= vendor.signature | set(vendor.optional)
    if lookup:
        names |= lookup[1]
    if mapping is not None:
        headers = (_mapping_spec(mapping, "").get("columns") or {}).values()
        names |= {normalise_header(str(h)) for h in headers}
    return frozenset(names)


def prepare_lookups(conn: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    """Empty lookup tables, so a format's join works when the sibling file is absent."""
    if entity.name in LOOKUPS:
        conn.execute(LOOKUPS[entity.name][3])


def check_lookups(conn: duckdb.DuckDBPyConnection, entity: Entity, files: list[FileReport]) -> None:
    """A format that prices its records from a lookup file cannot load without it: every
    amount would be 0, a confident zero that is really unknown."""
    if any(f.format == "lookup" for f in files):
        return
    for f in files:
        vendor = next((v for v in FORMATS if v.name == f.format), None)
        if vendor is not None and vendor.requires_lookup:
            raise InputError(
                f"{f.source_file} is an Open Dental appointment export but "
                f"{vendor.requires_lookup} is not beside it in {entity.name}/: without the "
                "procedures' fees every amount would be 0; add it from the same dump"
            )


def is_lookup(entity: Entity, headers: list[str]) -> bool:
    """A file that prices its sibling's records (procedurelog), not a file of records."""
    lookup = LOOKUPS.get(entity.name)
    names = set(headers)
    return lookup is not None and lookup[1] <= names and not set(entity.key) <= names


def load_lookup(conn: duckdb.DuckDBPyConnection, entity: Entity, table: str) -> None:
    """Add a lookup file's rows to the entity's lookup table."""
    name, _, sql, _ = LOOKUPS[entity.name]
    conn.execute(f"insert into {name} {sql.format(table=table)}")


def detect(entity: Entity, headers: list[str]) -> VendorFormat | None:
    names = set(headers)
    if set(entity.key) <= names and entity.key[0] in entity.columns:
        return None  # canonical form wins when it is there
    return next((f for f in FORMATS if f.entity == entity.name and f.signature <= names), None)


def canonical_select(
    entity: Entity, table: str, headers: list[str], settings: Settings, report: FileReport
) -> tuple[str, str | None]:
    """(select of canonical columns + meta, predicate of skipped records or None)."""
    meta = "_source_file, _line, _parse_error, _raw"
    vendor = detect(entity, headers)
    if vendor is None:
        present = set(headers)
        report.missing_columns = [c for c in entity.columns if c not in present]
        report.ignored_columns = [h for h in headers if h not in entity.columns]
        columns = ", ".join(
            f'"{c}"' if c in present else f'null::varchar as "{c}"' for c in entity.columns
        )
        return f"select {columns}, {meta} from {table}", None
    report.format = vendor.name
    expressions = vendor.columns(settings)
    used = referenced_columns(expressions.values())
    report.ignored_columns = [h for h in headers if h not in used]
    absent = [c for c in vendor.optional if c not in headers]
    padded = table
    if absent:
        nulls = ", ".join(f'null::varchar as "{c}"' for c in absent)
        padded = f"(select *, {nulls} from {table})"
    padded = f"{padded} {vendor.joins}".strip()
    columns = ", ".join(f'({expressions.get(c, "null")})::varchar as "{c}"' for c in entity.columns)
    select = f"select {columns}, {meta} from {padded}"
    if vendor.keep is None:
        return select, None
    kept = f"_parse_error is not null or ({vendor.keep})"
    report.skip_reason = vendor.skip_reason
    skipped = f"select _source_file, count(*) from {padded} where not ({kept}) group by 1"
    return f"{select} where {kept}", skipped


def referenced_columns(expressions: Iterable[str]) -> set[str]:
    """The column names SQL expressions read, from DuckDB's own parser (no guessing)."""
    select = ", ".join(f"({e})" for e in expressions) or "1"
    tree = json.loads(
        duckdb.execute("select json_serialize_sql(?)", [f"select {select}"]).fetchall()[0][0]
    )
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("class") == "COLUMN_REF":
                found.add(node["column_names"][-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def find_mapping(path: Path) -> Path | None:
    """`<export>.mapping.yaml` beside an export, else `_mapping.yaml` in its folder."""
    for candidate in (path.with_name(path.stem + ".mapping.yaml"), path.parent / "_mapping.yaml"):
        if candidate.is_file():
            return candidate
    return None


def mapping_select(
    entity: Entity,
    table: str,
    headers: list[str],
    mapping_file: Path,
    report: FileReport,
) -> str:
    """Canonical columns from an analyst's declarative mapping, for any other MIS.

    ```yaml
    columns:            # canonical column: the export's header (case and spacing ignored)
      visit_id: Номер приёма
      visit_at: Дата и время
      status: Статус
    values:             # optional: the export's codes → canonical values
      status: {Завершён: completed, Отменён: cancelled, Неявка: no_show, Записан: scheduled}
    formats:            # optional: strptime formats of date and date-time columns
      visit_at: "%d.%m.%Y %H:%M"
    ```
    """
    where = f"{mapping_file.name} (for {report.source_file})"
    spec = _mapping_spec(mapping_file, where)
    columns = spec.get("columns") or {}
    unknown = sorted(set(columns) - set(entity.columns))
    if unknown:
        raise InputError(f"{where}: {', '.join(unknown)} are not columns of {entity.name}")
    sources: dict[str, str] = {}
    for canonical, header in columns.items():
        key = normalise_header(str(header))
        if key not in headers:
            raise InputError(f"{where}: the export has no column {header!r} (for {canonical})")
        sources[canonical] = f'"{key}"'
    for canonical, codes in (spec.get("values") or {}).items():
        cases = " ".join(
            f"when {_literal(str(code).strip().lower())} then {_literal(value)}"
            for code, value in codes.items()
        )
        sources[canonical] = (
            f"case lower(trim({sources[canonical]})) {cases} else {sources[canonical]} end"
        )
    for canonical, fmt in (spec.get("formats") or {}).items():
        source = sources[canonical]
        sources[canonical] = (
            f"coalesce(strftime(try_strptime(trim({source}), {_literal(fmt)}), "
            f"'%Y-%m-%d %H:%M:%S'), {source})"
        )
    report.format = f"mapping:{mapping_file.name}"
    report.missing_columns = [c for c in entity.columns if c not in sources]
    mapped = {normalise_header(str(h)) for h in columns.values()}
    report.ignored_columns = [h for h in headers if h not in mapped]
    select = ", ".join(f'({sources.get(c, "null")})::varchar as "{c}"' for c in entity.columns)
    return f"select {select}, _source_file, _line, _parse_error, _raw from {table}"


def _mapping_spec(mapping_file: Path, where: str) -> dict:
    """The mapping file's YAML; an unreadable one stops the run naming it."""
    where = where or mapping_file.name
    try:
        spec = yaml.safe_load(mapping_file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("columns") or {}, dict):
        raise InputError(f"{where}: expected a mapping with a 'columns:' section")
    return spec
