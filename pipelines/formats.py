"""Vendor exports, recognised by their headers and mapped to the canonical columns.

A file's columns arrive normalised (`callId` → `callid`, `Currency code` →
`currency_code`, `segments.date` → `segments_date`). If they hold a vendor's signature,
that vendor's SQL expressions build the entity's canonical columns, still as text, so
the staging models type and validate every source alike and duplicates across formats
are found on the canonical form. Otherwise columns are taken by their canonical names.
What each mapping assumes is written beside it and in README "Vendor exports".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipelines.entities import Entity
from pipelines.readers import FileReport
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
    extra: dict[str, str] = field(default_factory=dict)


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
)


def header_signatures(entity: Entity) -> tuple[frozenset[str], ...]:
    """Header sets that mark a header line for this entity: its key, and each vendor's."""
    own = frozenset(c for c in entity.key if c in entity.columns) or frozenset(entity.columns[:1])
    return (own, *(f.signature for f in FORMATS if f.entity == entity.name))


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
    absent = [c for c in vendor.optional if c not in headers]
    padded = table
    if absent:
        nulls = ", ".join(f'null::varchar as "{c}"' for c in absent)
        padded = f"(select *, {nulls} from {table})"
    columns = ", ".join(f'({expressions.get(c, "null")})::varchar as "{c}"' for c in entity.columns)
    select = f"select {columns}, {meta} from {padded}"
    if vendor.keep is None:
        return select, None
    kept = f"_parse_error is not null or ({vendor.keep})"
    return f"{select} where {kept}", f"select count(*) from {padded} where not ({kept})"
