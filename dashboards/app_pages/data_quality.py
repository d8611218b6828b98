"""Data quality: what was read, loaded, repeated and rejected, per entity."""

import streamlit as st

from dashboards import data

version = data.warehouse_version()
st.title("Data quality")

st.subheader("Rows per entity")
st.caption("Rows read = loaded + quarantined + verbatim duplicates (repeats across exports).")
st.dataframe(data.load_reconciliation(version), hide_index=True, width="stretch")

st.subheader("Quarantined rows by reason")
summary = data.quarantine_summary(version)
if summary.is_empty():
    st.success("No rows were quarantined.")
else:
    st.dataframe(summary, hide_index=True, width="stretch")
    rows = data.quarantine_rows(version)
    with st.expander("Examples (first 50 rows)"):
        st.dataframe(rows.head(50), hide_index=True, width="stretch")
    st.download_button(
        "Download all quarantined rows (CSV)",
        rows.write_csv(),
        file_name="quarantine.csv",
        mime="text/csv",
    )

st.subheader("Files read")
st.caption(
    "How each export was recognised (canonical, a vendor's format, a mapping file or a "
    "lookup), lines around the table that are not records (titles, totals), and records "
    "that are not the entity's (e.g. outbound calls)."
)
st.dataframe(data.ingest_files(version), hide_index=True, width="stretch")

agreement = data.vendor_lead_agreement(version)
if not agreement.is_empty():
    st.subheader("Our leads against the call tracker's")
    st.caption(
        "Trackers flag their own 'unique target' calls (Calltouch `uniqTargetCall`, CallRail "
        "`first_call`); we compute leads ourselves (METRICS.md). Where they differ, and why."
    )
    st.dataframe(agreement, hide_index=True, width="stretch")
