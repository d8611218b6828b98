"""Data quality: what was read, loaded, repeated and rejected, per entity."""

import streamlit as st

from dashboards import data

st.title("Data quality")
version = data.warehouse_version()
if version is None:
    st.info(
        "No warehouse yet. Build one with "
        "`clinic-analytics build --input data/demo --warehouse data/warehouse.duckdb`."
    )
    st.stop()

st.subheader("Rows per entity")
st.caption("Rows read = loaded + quarantined + verbatim duplicates (repeats across exports).")
st.dataframe(data.load_reconciliation(version), hide_index=True, width="stretch")

st.subheader("Quarantined rows by reason")
summary = data.quarantine_summary(version)
if summary.is_empty():
    st.success("No rows were quarantined.")
else:
    st.dataframe(summary, hide_index=True, width="stretch")
