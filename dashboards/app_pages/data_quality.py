"""Data quality: what was read, loaded, repeated and rejected, per entity."""

import streamlit as st

from dashboards import data, downloads, tables

EXAMPLES = 50
"""Quarantined rows shown on the page; the download holds every one."""

version = data.warehouse_version()
info = data.build_info(version)
st.title("Data quality")

warnings = data.build_warnings(version)
for message in warnings["message"].to_list():
    st.warning(message, icon=":material/warning:")

st.subheader("Rows per entity")
st.caption(
    "Rows read = loaded + quarantined + verbatim duplicates (repeats across exports) + "
    "parts combined (an ad's or an hour's spend summed into its day and campaign)."
)
tables.show(data.load_reconciliation(version), info)

st.subheader("Quarantined rows by reason")
summary = data.quarantine_summary(version)
if summary.is_empty():
    st.success("No rows were quarantined.")
else:
    tables.show(summary, info)
    with st.expander(f"Examples (first {EXAMPLES} rows)"):
        tables.show(data.quarantine_rows(version, limit=EXAMPLES), info)
    downloads.button(
        "Download all quarantined rows (CSV)",
        lambda: data.quarantine_rows(version),
        "quarantine.csv",
    )

freshness = data.source_freshness(version)
if not freshness.is_empty():
    st.subheader("Vendor APIs")
    st.caption(
        "What `clinic-analytics pull` last brought from each API: the last day pulled and "
        "the last day with data. A source older than its limit is stale (and a warning "
        "above): its figures stop at that day."
    )
    tables.show(freshness, info)

st.subheader("Files read")
st.caption(
    "How each export was recognised (canonical, a vendor's format, a mapping file or a "
    "lookup), lines around the table that are not records (titles, totals), and records "
    "that are not the entity's (e.g. outbound calls)."
)
tables.show(data.ingest_files(version), info)

st.subheader("References to records the exports lack")
orphans = data.orphan_references(version)
if orphans.is_empty():
    st.success("Every visit names a known patient and doctor; every survey a known visit.")
else:
    st.caption(
        "These rows load (a visit still counts), but the exports do not line up: a patient "
        "or doctor export is older than the visits, or from another branch."
    )
    tables.show(orphans, info)

st.subheader("Sources no channel rule maps")
unmapped = data.unmapped_sources(version)
if unmapped.is_empty():
    st.success("Every call's and every spend row's source/medium matches a rule of channels.csv.")
else:
    st.caption(
        "Their calls and spend fall to the channel 'Other'. Add a rule to channels.csv "
        "(source, medium, campaign → channel) for each pair that belongs to a channel."
    )
    tables.show(unmapped, info)

kept = data.values_kept_unknown(version)
if not kept.is_empty():
    st.subheader("Values kept as unknown")
    st.caption(
        "Records that stay in the figures with one value unknown instead of being lost: "
        "a call whose tracker wrote an impossible duration is still a call, never a target "
        "call."
    )
    tables.show(kept, info)

st.subheader("Phone numbers")
st.caption(
    "How the phones written in the exports were read: valid (with the number's country), "
    "invalid for the clinic's default region, hidden or missing. A foreign dump read with "
    "the wrong `default_region` shows here as invalid or foreign numbers."
)
tables.show(data.phone_quality(version), info)

agreement = data.vendor_lead_agreement(version)
if not agreement.is_empty():
    st.subheader("Our leads against the call tracker's")
    st.caption(
        "Trackers flag their own 'unique target' calls (Calltouch `uniqTargetCall`, CallRail "
        "`first_call`); we compute leads ourselves (METRICS.md). Where they differ, and why."
    )
    tables.show(agreement, info)
