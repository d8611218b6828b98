"""clinic-analytics dashboard: navigation and what every page shares."""

import streamlit as st

from dashboards import data

st.set_page_config(page_title="clinic-analytics", page_icon="🦷", layout="wide")

page = st.navigation(
    [
        st.Page("app_pages/data_quality.py", title="Data quality", icon="🧹", default=True),
    ]
)
st.sidebar.caption(f"Warehouse: `{data.warehouse_path()}`")
page.run()
