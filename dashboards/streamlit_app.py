"""clinic-analytics dashboard: login gate, navigation, and what every page shares."""

import hmac
import math
import uuid

import duckdb
import streamlit as st

from dashboards import auth, data

st.set_page_config(page_title="clinic-analytics", page_icon=":material/dentistry:", layout="wide")


def client() -> tuple[str, str]:
    """(session, address) the sign-in limiter counts by. The session id lives in
    session_state; Streamlit reports loopback as no address, and a test harness's client
    may not be a string: both count as one address, "unknown"."""
    session = st.session_state.setdefault("login_session", uuid.uuid4().hex)
    address = st.context.ip_address
    return session, address if isinstance(address, str) and address else "unknown"


def logged_in() -> bool:
    """Every page sits behind this form when a dashboard password is set; failures make
    the next attempt wait longer (dashboards/auth.py)."""
    settings = data.settings()
    password = settings.dashboard_password
    if password is None or not password.get_secret_value():
        return True
    if st.session_state.get("authenticated"):
        return True
    limiter = auth.shared_limiter(settings.login_delay_base_s, settings.login_delay_max_s)
    with st.form("login"):
        st.subheader("clinic-analytics")
        typed = st.text_input("Password", type="password")
        if st.form_submit_button("Sign in"):
            attempt = limiter.attempt(
                *client(),
                lambda: hmac.compare_digest(typed.encode(), password.get_secret_value().encode()),
            )
            if attempt.accepted:
                st.session_state["authenticated"] = True
                st.rerun()
            elif attempt.refused:
                st.error(f"Too many failed attempts: try again in {math.ceil(attempt.wait_s)} s.")
            else:
                st.error("Wrong password.")
    return False


if not logged_in():
    st.stop()

pages = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/channels.py", title="Channels", icon=":material/campaign:"),
    st.Page("app_pages/administrators.py", title="Administrators", icon=":material/support_agent:"),
    st.Page("app_pages/doctors.py", title="Doctors", icon=":material/stethoscope:"),
    st.Page("app_pages/forecast.py", title="Forecast", icon=":material/query_stats:"),
    st.Page("app_pages/budget.py", title="Budget", icon=":material/savings:"),
    st.Page("app_pages/reactivation.py", title="Reactivation", icon=":material/autorenew:"),
    st.Page("app_pages/data_quality.py", title="Data quality", icon=":material/rule:"),
]
if data.chain_out() is not None:
    # a chain of clinics: every page reads the clinic chosen here; Chain compares them all
    clinics = data.chain_clinics()
    if clinics:
        st.sidebar.selectbox(
            "Clinic",
            clinics,
            key=data.CLINIC_KEY,
            help="Every page shows this clinic's warehouse; the Chain page compares them all.",
        )
    pages.append(st.Page("app_pages/chain.py", title="Chain", icon=":material/lan:"))
page = st.navigation(pages)

version = data.warehouse_version()
if version is None:
    st.title(page.title)
    st.info(
        f"No warehouse at `{data.warehouse_path()}` yet. Build one with "
        "`clinic-analytics build --input data/demo --warehouse data/warehouse.duckdb` "
        "(or run `./scripts/demo.sh`)."
    )
    st.stop()

try:
    info = data.build_info(version)
except duckdb.Error:
    st.title(page.title)
    st.info(
        f"The warehouse at `{data.warehouse_path()}` holds no marts (it is empty or from an "
        "older version). Rebuild it with "
        "`clinic-analytics build --input data/demo --warehouse data/warehouse.duckdb`."
    )
    st.stop()
st.sidebar.caption(
    f"Data to **{info['as_of']:%d %b %Y}** · built {info['built_at']:%d %b %Y %H:%M} UTC  \n"
    f"Attribution window {info['attribution_window_days']} days · {info['currency']}"
)
page.run()
