"""The input entities of METRICS.md: where their files live, their columns and keys.

One declaration drives the loaders, the staging gate (dedup and quarantine), the
asset graph and the checks, so adding a column or an entity is a change in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entity:
    name: str
    """Entity name as in quarantine.entity and the input folder (or file stem)."""
    columns: tuple[str, ...]
    key: tuple[str, ...]
    staging_model: str
    required: bool = True
    single_file: str | None = None
    """Set for entities that are one file at the input root (channels.csv)."""
    personal_phone_columns: tuple[str, ...] = ()
    """Patient phones: replaced by keyed hashes before anything is written."""
    clinic_phone_columns: tuple[str, ...] = ()
    """The clinic's own numbers (tracking lines): normalised, kept in clear."""
    money_columns: tuple[str, ...] = field(default=())
    part_column: str | None = None
    """A column naming a part of a total (an ad, an hour, a device): rows of one file with
    the same key and different parts are summed by the staging gate."""
    summed_columns: tuple[str, ...] = ()
    identifier_columns: tuple[str, ...] = ()
    """Keys and references to other records, kept as written when they look like
    identifiers (letters, digits, `-_.:/@`); every other text column of the raw layer, and
    an identifier holding anything else (spaces, brackets, a JSON object), has its
    phone-like digit runs masked: a phone typed into a comment, a date field or an odd
    key must not survive there."""
    attribution_columns: tuple[str, ...] = ()
    """Where a call or a rouble came from (source, medium, campaign, an ad's part), as ad
    platforms and trackers write it: kept as written. A Google Ads campaign id or a Yandex
    Direct ad id has 10 or 11 digits, and a campaign name may carry a date range
    (`sale_250301_250331`): masked like phones, two campaigns would become one key, their
    spend summed as repeats and their calls sent to one channel rule."""

    @property
    def raw_table(self) -> str:
        return f"raw_{self.name}"

    @property
    def location(self) -> str:
        return self.single_file or f"{self.name}/"


CALLS = Entity(
    name="calls",
    columns=(
        "call_id",
        "started_at",
        "caller_phone",
        "tracking_phone",
        "source",
        "medium",
        "campaign",
        "answered",
        "duration_s",
        "wait_s",
        "admin_id",
        "branch_id",
        "tags",
        "vendor_lead_flag",
    ),
    key=("call_id",),
    staging_model="stg_calltracking__calls",
    personal_phone_columns=("caller_phone",),
    clinic_phone_columns=("tracking_phone",),
    identifier_columns=("call_id", "branch_id"),
    attribution_columns=("source", "medium", "campaign"),
)
AD_SPEND = Entity(
    name="ad_spend",
    columns=(
        "date",
        "source",
        "medium",
        "campaign",
        "cost",
        "currency",
        "clicks",
        "impressions",
        "grain",
    ),
    key=("date", "source", "medium", "campaign"),
    staging_model="stg_ads__ad_spend",
    money_columns=("cost",),
    attribution_columns=("source", "medium", "campaign", "grain"),
    part_column="grain",
    summed_columns=("cost", "clicks", "impressions"),
)
PATIENTS = Entity(
    name="patients",
    columns=("patient_id", "phone", "sex", "birth_date", "registered_at", "contact_consent"),
    key=("patient_id",),
    staging_model="stg_mis__patients",
    identifier_columns=("patient_id",),
    personal_phone_columns=("phone",),
)
VISITS = Entity(
    name="visits",
    columns=(
        "visit_id",
        "patient_id",
        "doctor_id",
        "branch_id",
        "visit_at",
        "service",
        "status",
        "amount",
    ),
    key=("visit_id",),
    staging_model="stg_mis__visits",
    money_columns=("amount",),
    identifier_columns=("visit_id", "patient_id", "doctor_id", "branch_id"),
)
DOCTORS = Entity(
    name="doctors",
    columns=("doctor_id", "name", "specialty", "branch_id", "provider_kind"),
    key=("doctor_id",),
    staging_model="stg_mis__doctors",
    identifier_columns=("doctor_id", "branch_id"),
)
ADMINISTRATORS = Entity(
    name="administrators",
    columns=("admin_id", "name", "branch_id", "aliases"),
    key=("admin_id",),
    staging_model="stg_clinic__administrators",
    identifier_columns=("admin_id", "branch_id"),
)
SURVEYS = Entity(
    name="surveys",
    columns=("visit_id", "score", "answered_at"),
    key=("visit_id",),
    staging_model="stg_surveys__surveys",
    identifier_columns=("visit_id",),
    required=False,
)
CHANNEL_RULES = Entity(
    name="channel_rules",
    columns=("source", "medium", "campaign", "channel", "free"),
    key=("rule_order",),
    staging_model="stg_clinic__channel_rules",
    attribution_columns=("source", "medium", "campaign"),
    single_file="channels.csv",
)

ENTITIES: tuple[Entity, ...] = (
    CALLS,
    AD_SPEND,
    PATIENTS,
    VISITS,
    DOCTORS,
    ADMINISTRATORS,
    SURVEYS,
    CHANNEL_RULES,
)
BY_NAME = {entity.name: entity for entity in ENTITIES}
