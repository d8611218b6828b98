"""`clinic-analytics pull` against local servers that follow each vendor's documented
contract (tests/vendors.py; loopback only): paging to the end, throttling, a dropped
connection mid-page, an expired token, a revised day, and the landed files read by the
formats the build already knows, each call and rouble once.

Call trackers and Meta here; Yandex Direct, Google Ads and VK Ads in test_pull_ads.py."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.models.graph import build_all
from pipelines.pull.landing import read_state
from pipelines.pull.run import pull_all, pull_source
from pipelines.settings import Settings, load_settings
from pipelines.warehouse import prepare_session
from tests.clinic import SECRET, minimal_input, rows
from tests.vendors import Drop, Faults, Reply, Request, VendorServer

TOKEN = "ct-token-5f1e9a"
START = date(2026, 9, 1)


def pull_settings(root: Path, **pull: object) -> Settings:
    """An input folder (the minimal clinic) and the pull's bounds made quick: a try every
    10 ms, six tries."""
    minimal_input(root / "input")
    return load_settings(
        None,
        input_dir=root / "input",
        hash_secret=SECRET,
        pull={"backoff_s": 0.01, "max_wait_s": 5, "max_attempts": 6, **pull},
    )


def build(settings: Settings, root: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(root / "build.duckdb"))
    prepare_session(conn, settings)
    build_all(conn, settings)
    return conn


# --- Calltouch ---------------------------------------------------------------------------


class Calltouch:
    """The calls diary's contract: `clientApiId` or 401; `dateFrom`/`dateTo` as dd/mm/yyyy
    (anything else 400); `page` from 1 and `limit`; the reply `{page, pageTotal, pageSize,
    recordsTotal, records}`. The leads journal: `mm/dd/yyyy`, a bare list."""

    def __init__(self, server: VendorServer, site: str = "777") -> None:
        self.calls: dict[int, dict] = {}
        self.leads: list[dict] = []
        self.faults = Faults()
        self.token = TOKEN
        server.route("GET", f"/calls-service/RestAPI/{site}/calls-diary/calls")(self.diary)
        server.route("GET", "/calls-service/RestAPI/requests")(self.requests)

    def add(self, call_id: int, day: date, duration: int = 60, hour: int = 10) -> None:
        self.calls[call_id] = {
            "callId": call_id,
            "date": f"{day:%d/%m/%Y} {hour:02d}:15:00",
            "callerNumber": f"7916{call_id:07d}",
            "phoneNumber": "74951000001",
            "duration": duration,
            "waitingConnect": 4,
            "successful": True,
            "uniqTargetCall": True,
            "utmSource": "yandex",
            "utmMedium": "cpc",
            "utmCampaign": "brand",
            "manager": "A1",
            "siteName": "B1",
            "callTags": [{"category": "x", "type": "y", "names": ["первичный"]}],
        }

    def diary(self, request: Request) -> Reply | Drop:
        if request.query.get("clientApiId") != self.token:
            return Reply(401, {"error": "unauthorized"})
        try:
            start = datetime.strptime(request.query["dateFrom"], "%d/%m/%Y").date()
            end = datetime.strptime(request.query["dateTo"], "%d/%m/%Y").date()
        except (KeyError, ValueError):
            return Reply(400, {"error": "bad date"})
        page, limit = int(request.query.get("page", 1)), int(request.query.get("limit", 1000))
        fault = self.faults.next(f"page {page}")
        if fault:
            return fault
        found = [
            c
            for c in sorted(self.calls.values(), key=lambda c: c["callId"])
            if start <= datetime.strptime(c["date"][:10], "%d/%m/%Y").date() <= end
        ]
        total = max(1, -(-len(found) // limit))
        return Reply(
            200,
            {
                "page": page,
                "pageTotal": total,
                "pageSize": limit,
                "recordsTotal": len(found),
                "records": found[(page - 1) * limit : page * limit],
            },
        )

    def requests(self, request: Request) -> Reply:
        if request.query.get("clientApiId") != self.token:
            return Reply(401, {"error": "unauthorized"})
        try:
            start = datetime.strptime(request.query["dateFrom"], "%m/%d/%Y").date()
            end = datetime.strptime(request.query["dateTo"], "%m/%d/%Y").date()
        except (KeyError, ValueError):
            return Reply(400, {"error": "bad date"})
        return Reply(
            200,
            [
                lead
                for lead in self.leads
                if start <= datetime.strptime(lead["dateStr"][:10], "%d/%m/%Y").date() <= end
            ],
        )


def calltouch_settings(root: Path, server: VendorServer, **pull: object) -> Settings:
    source = {"base_url": server.url, "site_id": "777", "token": TOKEN, "page_limit": 100}
    return pull_settings(root, calltouch=source, **pull)


def test_calltouch_pages_to_the_end_and_the_build_reads_every_call(tmp_path: Path) -> None:
    """250 calls over 10 days at 100 a page: pages 1, 2 and 3 (the last when page ==
    pageTotal), each landed whole as the vendor sent it; the leads apart in requests/;
    the build reads all 250 calls (+ the minimal clinic's C1) through `calltouch.yaml`."""
    with VendorServer() as server:
        vendor = Calltouch(server)
        for n in range(250):
            vendor.add(1000 + n, START + timedelta(days=n % 10))
        vendor.leads = [{"requestId": 1, "dateStr": "03/09/2026 10:00:00", "date": 0}]
        settings = calltouch_settings(tmp_path, server)
        result = pull_source(settings, "calltouch", since=START, until=START + timedelta(days=9))
    assert result.error is None, result.error
    diary = [p for p in result.files if p.parent.name == "calls"]
    assert [json.loads(p.read_bytes())["page"] for p in diary] == [1, 2, 3]
    assert sum(len(json.loads(p.read_bytes())["records"]) for p in diary) == 250
    assert [p.parent.name for p in result.files if p not in diary] == ["requests"]
    assert result.last_data_day == START + timedelta(days=9)
    # the leads journal was asked in mm/dd/yyyy, the diary in dd/mm/yyyy
    assert server.hits("/calls-service/RestAPI/requests")[0].query["dateFrom"] == "09/01/2026"
    state = read_state(settings.input_dir)["calltouch"]
    assert (state["last_day"], state["last_data_day"]) == ("2026-09-10", "2026-09-10")
    conn = build(settings, tmp_path)
    assert rows(conn, "select count(*) from stg_calltracking__calls") == [(251,)]


def test_calltouch_throttled_and_dropped_pages_are_tried_again(tmp_path: Path) -> None:
    """Page 2 first answers 429 (Retry-After 0), then drops the connection halfway
    through its body, then answers: the pull waits, tries again, lands page 2 whole, and
    the cursor moves."""
    with VendorServer() as server:
        vendor = Calltouch(server)
        for n in range(150):
            vendor.add(n + 1, START)
        whole = Reply(200, {"page": 2, "pageTotal": 2, "records": []})
        vendor.faults.queue("page 2", Reply(429, {}, {"Retry-After": "0"}), Drop(whole))
        settings = calltouch_settings(tmp_path, server)
        waits: list[float] = []
        result = pull_source(settings, "calltouch", since=START, until=START, sleep=waits.append)
        tries = [
            r.query["page"] for r in server.hits("/calls-service/RestAPI/777/calls-diary/calls")
        ]
    assert result.error is None, result.error
    assert tries == ["1", "2", "2", "2"]
    assert waits == [0.01, 0.02]  # the doubling wait, the vendor asking for none longer
    page2 = json.loads(next(p for p in result.files if p.name.endswith("p0002.json")).read_bytes())
    assert len(page2["records"]) == 50


def test_an_expired_token_is_one_line_no_retry_and_nothing_landed(tmp_path: Path) -> None:
    """A refused token: one request (no retry storm), one line that says what to do and
    does not show the token, no file, no cursor."""
    with VendorServer() as server:
        vendor = Calltouch(server)
        vendor.add(1, START)
        vendor.token = "a-new-token"  # the one in the settings has expired
        settings = calltouch_settings(tmp_path, server)
        result = pull_source(settings, "calltouch", since=START, until=START)
        assert len(server.requests) == 1
    assert result.error == "credentials refused (HTTP 401): renew them in the settings"
    assert TOKEN not in result.line()
    assert [p.name for p in (settings.input_dir / "calls").iterdir()] == ["calls.csv"]
    assert read_state(settings.input_dir) == {}


def test_a_revised_day_supersedes_its_first_figures(tmp_path: Path) -> None:
    """Pulled to day 10; then Calltouch revises day 9 (a call's duration 20 → 95 s, a call
    added). The next pull starts 3 days before the cursor (overlap_days), lands the new
    answer, and the build has each call once, with the revised values: the earlier file's
    version is quarantined as superseded, not counted twice."""
    with VendorServer() as server:
        vendor = Calltouch(server)
        for day in range(10):
            vendor.add(100 + day, START + timedelta(days=day), duration=20)
        settings = calltouch_settings(tmp_path, server)
        first = pull_source(settings, "calltouch", until=START + timedelta(days=9))
        vendor.add(108, START + timedelta(days=8), duration=95)  # revised
        vendor.add(200, START + timedelta(days=8), duration=40)  # arrived late
        second = pull_source(settings, "calltouch", until=START + timedelta(days=11))
    assert first.window is not None and second.window is not None
    assert first.window.start == START + timedelta(days=9) - timedelta(days=89)  # first_days
    assert second.window.start == START + timedelta(days=6)  # cursor day 10 less 3 days
    conn = build(settings, tmp_path)
    assert rows(
        conn,
        "select call_id, duration_s from stg_calltracking__calls "
        "where call_id in ('108', '200') order by 1",
    ) == [("108", 95), ("200", 40)]
    assert rows(conn, "select count(*) from stg_calltracking__calls") == [(12,)]  # 11 + C1
    assert rows(conn, "select count(*) from quarantine where kind = 'superseded'") == [(1,)]


# --- CallRail ----------------------------------------------------------------------------

CALLRAIL_KEY = "cr-key-0c7d"


class CallRail:
    """`GET /v3/a/{account}/calls.json`, `Authorization: Token token=…` or 401, ISO dates,
    relative pagination: `has_next_page` and `next_page` (a whole URL) until the end;
    429 over the hourly limit."""

    def __init__(self, server: VendorServer) -> None:
        self.server = server
        self.calls: list[dict] = []
        self.faults = Faults()
        server.route("GET", "/v3/a/ACC1/calls.json")(self.page)

    def page(self, request: Request) -> Reply | Drop:
        if request.headers.get("authorization") != f"Token token={CALLRAIL_KEY}":
            return Reply(401, {"error": "HTTP Token: Access denied."})
        fault = self.faults.next("calls")
        if fault:
            return fault
        after = int(request.query.get("after", 0))
        per_page = 2
        start, end = request.query.get("start_date"), request.query.get("end_date")
        if request.query.get("after") is None and not (start and end):
            return Reply(400, {"error": "dates"})
        found = self.calls[after : after + per_page]
        more = after + per_page < len(self.calls)
        following = f"{self.server.url}/v3/a/ACC1/calls.json?after={after + per_page}"
        return Reply(
            200,
            {"calls": found, "has_next_page": more, "next_page": following if more else None},
        )


def test_callrail_follows_next_page_and_retries_429(tmp_path: Path) -> None:
    """5 calls at 2 a page: three pages by `next_page`, one 429 on the way; the calls
    reach staging through `callrail.yaml` (outbound calls skipped, as the format says)."""
    with VendorServer() as server:
        vendor = CallRail(server)
        vendor.calls = [
            {
                "id": f"CAL{n}",
                "start_time": f"2026-09-0{n + 1}T10:00:00.000-04:00",
                "customer_phone_number": f"+1202555{n:04d}",
                "tracking_phone_number": "+12025550100",
                "answered": True,
                "duration": 70,
                "direction": "outbound" if n == 4 else "inbound",
                "source": "Google Ads",
                "agent_email": "a1@clinic.example",
                "company_name": "B1",
            }
            for n in range(5)
        ]
        vendor.faults.queue("calls", Reply(429, {"error": "rate limited"}))
        settings = pull_settings(
            tmp_path,
            callrail={"base_url": server.url, "account_id": "ACC1", "api_key": CALLRAIL_KEY},
        )
        result = pull_source(settings, "callrail", since=START, until=START + timedelta(days=5))
        assert len(server.requests) == 4  # the 429, then three pages
    assert result.error is None, result.error
    assert len(result.files) == 3
    assert result.last_data_day == date(2026, 9, 5)
    conn = build(settings, tmp_path)
    assert rows(conn, "select count(*) from stg_calltracking__calls where call_id like 'CAL%'") == [
        (4,)
    ]


# --- Meta --------------------------------------------------------------------------------

META_TOKEN = "EAAB-meta-token-93"


class Meta:
    """`GET /v25.0/act_{id}/insights`: token in the `Authorization` header (or the query,
    as `paging.next` carries it); throttling as HTTP 400 with error code 17 or 80004;
    an expired token as code 190; `paging.next` until absent."""

    def __init__(self, server: VendorServer) -> None:
        self.server = server
        self.rows: list[dict] = []
        self.faults = Faults()
        server.route("GET", "/v25.0/act_42/insights")(self.insights)

    def insights(self, request: Request) -> Reply | Drop:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token != META_TOKEN and request.query.get("access_token") != META_TOKEN:
            return Reply(400, {"error": {"message": "Session has expired", "code": 190}})
        fault = self.faults.next("insights")
        if fault:
            return fault
        after = int(request.query.get("after", 0))
        found = self.rows[after : after + 3]
        body: dict = {"data": found, "paging": {"cursors": {"after": str(after + 3)}}}
        if after + 3 < len(self.rows):
            query = f"access_token={META_TOKEN}&after={after + 3}"
            body["paging"]["next"] = f"{self.server.url}/v25.0/act_42/insights?{query}"
        return Reply(200, body)


def meta_source(server: VendorServer) -> dict:
    return {"base_url": server.url, "ad_account_id": "42", "access_token": META_TOKEN}


def meta_row(day: date, campaign: str, spend: str) -> dict:
    return {
        "campaign_name": campaign,
        "spend": spend,
        "impressions": "1000",
        "clicks": "20",
        "date_start": str(day),
        "date_stop": str(day),
        "account_currency": "RUB",
    }


def test_meta_pages_by_paging_next_throttled_by_400_and_the_token_never_lands(
    tmp_path: Path,
) -> None:
    """7 rows at 3 a page; one HTTP 400 with code 80004 and a usage header asking for no
    wait. `paging.next` carries the token in its query, as Meta writes it: the landed
    files hold *** in its place. The build reads 7 campaign-days of spend: 7 × 1,500.50."""
    with VendorServer() as server:
        vendor = Meta(server)
        vendor.rows = [
            meta_row(START + timedelta(days=d), "retargeting", "1500.50") for d in range(7)
        ]
        usage = json.dumps({"42": [{"estimated_time_to_regain_access": 0}]})
        vendor.faults.queue(
            "insights",
            Reply(
                400,
                {"error": {"code": 80004, "message": "too many calls"}},
                {"X-Business-Use-Case-Usage": usage},
            ),
        )
        settings = pull_settings(
            tmp_path,
            meta_ads={"base_url": server.url, "ad_account_id": "42", "access_token": META_TOKEN},
        )
        result = pull_source(settings, "meta_ads", since=START, until=START + timedelta(days=6))
    assert result.error is None, result.error
    assert len(result.files) == 3
    landed = b"".join(p.read_bytes() for p in result.files)
    assert META_TOKEN.encode() not in landed and b"access_token=***" in landed
    conn = build(settings, tmp_path)
    assert rows(
        conn, "select count(*), sum(cost) from stg_ads__ad_spend where campaign = 'retargeting'"
    ) == [(7, pytest.approx(10503.5))]


def test_meta_expired_token_and_one_source_down_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    """Meta's token expired (code 190): one line, one request. Calltouch, pulled in the
    same run, lands its files all the same."""
    with VendorServer() as server:
        Meta(server).rows = [meta_row(START, "x", "1")]
        calltouch = Calltouch(server)
        calltouch.add(1, START)
        settings = pull_settings(
            tmp_path,
            meta_ads={"base_url": server.url, "ad_account_id": "42", "access_token": "old"},
            calltouch={"base_url": server.url, "site_id": "777", "token": TOKEN},
        )
        results = {r.source: r for r in pull_all(settings, since=START)}
        assert len(server.hits("/v25.0/act_42/insights")) == 1
    assert results["meta_ads"].error is not None
    assert results["meta_ads"].error.startswith("token refused (error 190")
    assert results["calltouch"].error is None and results["calltouch"].files


# --- Dagster, freshness, the command -----------------------------------------------------


def test_pull_assets_in_dagster_fail_alone_and_check_freshness(tmp_path: Path) -> None:
    """Materialized in-process: Calltouch (data to yesterday) lands its files and passes
    its freshness check; Meta (token expired) fails its own asset, not Calltouch's. The
    clinic's build graph holds no pull asset: a build never pulls."""
    import dagster as dg  # noqa: PLC0415

    from pipelines.build import clinic_graph, load_defs  # noqa: PLC0415
    from pipelines.defs.pulls import pull_assets  # noqa: PLC0415
    from pipelines.warehouse import clinic_today as today  # noqa: PLC0415

    with VendorServer() as server:
        calltouch = Calltouch(server)
        Meta(server)
        settings = pull_settings(
            tmp_path,
            calltouch={"base_url": server.url, "site_id": "777", "token": TOKEN},
            meta_ads={"base_url": server.url, "ad_account_id": "42", "access_token": "old"},
        )
        calltouch.add(1, today(settings) - timedelta(days=1))
        chosen = [a for a in pull_assets if a.key.path[0] in ("pull_calltouch", "pull_meta_ads")]
        result = dg.materialize(
            chosen,
            resources={"settings": settings},
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    assert not result.success
    materialized = {e.asset_key.path[0] for e in result.get_asset_materialization_events()}
    assert materialized == {"pull_calltouch"}
    (check,) = result.get_asset_check_evaluations()
    assert (check.asset_key.path[0], check.check_name, check.passed) == (
        "pull_calltouch",
        "fresh",
        True,
    )
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1 and "meta_ads: pull failed: token refused" in str(
        failures[0].event_specific_data
    )
    graph = clinic_graph(load_defs())
    assert not [k for a in graph.assets for k in a.keys if k.path[0].startswith("pull_")]


def test_a_stale_source_is_a_warning_of_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calltouch's last call is 10 days old (limit 3): `mart_source_freshness` says stale,
    10 days, and the build's warnings (the data-quality page, the build's stderr) say so;
    Meta, configured but never pulled, is stale too: unknown is not fresh. The
    data-quality page shows both warnings and the table of the vendor APIs."""
    from pipelines.warehouse import clinic_today as today  # noqa: PLC0415

    with VendorServer() as server:
        calltouch = Calltouch(server)
        settings = pull_settings(
            tmp_path,
            calltouch={"base_url": server.url, "site_id": "777", "token": TOKEN},
            meta_ads={"base_url": server.url, "ad_account_id": "42", "access_token": "x"},
        )
        now = today(settings)
        calltouch.add(1, now - timedelta(days=10))
        assert pull_source(settings, "calltouch", since=now - timedelta(days=20)).error is None
    conn = build(settings, tmp_path)
    assert rows(
        conn,
        "select source, configured, last_day_pulled, last_data_day, days_old, stale "
        "from mart_source_freshness order by source",
    ) == [
        ("calltouch", True, now, now - timedelta(days=10), 10, True),
        ("meta_ads", True, None, None, None, True),
    ]
    assert rows(
        conn, "select message from mart_build_warnings where kind = 'stale source' order by 1"
    ) == [
        (
            f"calltouch: the last day with data is {now - timedelta(days=10)} (10 days ago, "
            "limit 3): check the pull and its credentials",
        ),
        ("meta_ads: no data pulled yet (limit 3 days): check the pull and its credentials",),
    ]
    conn.close()
    # the data-quality page: the warnings, and the table of the vendor APIs
    from streamlit.testing.v1 import AppTest  # noqa: PLC0415

    from tests.test_dashboard import APP  # noqa: PLC0415

    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(tmp_path / "build.duckdb"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/data_quality.py").run()
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("calltouch: the last day with data is") for w in warnings)
    shown = next(d.value for d in at.dataframe if "stale" in d.value.columns)
    assert list(shown["source"]) == ["calltouch", "meta_ads"]
    assert list(shown["stale"]) == [True, True]


def test_the_pull_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`clinic-analytics pull`: the account in the settings file, the secret from the
    environment; one line per source; exit 0 when all landed, 1 when one failed, 2 when
    nothing is configured or a source is unknown."""
    from pipelines.cli import main  # noqa: PLC0415

    minimal_input(tmp_path / "input")
    with VendorServer() as server:
        Calltouch(server).add(1, START)
        toml = tmp_path / "settings.toml"
        toml.write_text(
            f'hash_secret = "{SECRET}"\n[pull]\nbackoff_s = 0.01\n'
            f'[pull.calltouch]\nbase_url = "{server.url}"\nsite_id = "777"\n'
            f'[pull.callrail]\nbase_url = "{server.url}"\naccount_id = "NOPE"\n'
        )
        args = ["pull", "--settings", str(toml), "--input", str(tmp_path / "input")]
        monkeypatch.setenv("CLINIC_PULL__CALLTOUCH__TOKEN", TOKEN)
        assert main([*args, "--source", "calltouch", "--since", "2026-09-01"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("calltouch: 2026-09-01..") and "data to 2026-09-01" in out
        monkeypatch.setenv("CLINIC_PULL__CALLRAIL__API_KEY", "wrong")
        assert main([*args, "--since", "2026-09-01"]) == 1
        captured = capsys.readouterr()
        assert captured.err.startswith("clinic-analytics: callrail: pull failed: HTTP 404")
        assert "wrong" not in captured.err
    assert main([*args, "--source", "zoom"]) == 2
    assert main(["pull", "--input", str(tmp_path / "input")]) == 2


def test_the_daily_schedule_runs_the_configured_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """`daily_pull` at `pull.hour`, clinic time, over the configured sources only; with none
    configured, the six assets and no schedule."""
    import dagster as dg  # noqa: PLC0415

    from pipelines.defs.pulls import pull_definitions  # noqa: PLC0415

    def code_location() -> dg.Definitions:
        resources = dg.Definitions(resources={"settings": load_settings(None)})
        return dg.Definitions.merge(pull_definitions(), resources)

    assert code_location().schedules == []
    monkeypatch.setenv("CLINIC_PULL__META_ADS__AD_ACCOUNT_ID", "42")
    monkeypatch.setenv("CLINIC_PULL__META_ADS__ACCESS_TOKEN", "token")
    monkeypatch.setenv("CLINIC_PULL__HOUR", "4")
    defs = code_location()
    schedule = defs.resolve_schedule_def("daily_pull")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 4 * * *", "Europe/Moscow")
    keys = defs.resolve_job_def("daily_pull").asset_layer.selected_asset_keys
    assert sorted(k.to_user_string() for k in keys) == ["pull_meta_ads"]


# --- hostile answers and folders ---------------------------------------------------------


def test_answers_that_are_not_data_fail_the_pull_and_keep_the_cursor(tmp_path: Path) -> None:
    """An error page sent with HTTP 200 (`{"error": …}`), a `pageTotal` that is not a
    count, a next page on another host (the credentials would go with it), a next page
    already read: each is one line, nothing lands, the cursor stays where it was."""
    with VendorServer() as server, VendorServer() as elsewhere:
        vendor = Calltouch(server)
        vendor.add(1, START)
        settings = calltouch_settings(tmp_path, server)
        vendor.faults.queue("page 1", Reply(200, {"error": "internal", "records": "none"}))
        bad = pull_source(settings, "calltouch", since=START, until=START)
        vendor.faults.queue("page 1", Reply(200, {"page": 1, "pageTotal": "two", "records": []}))
        count = pull_source(settings, "calltouch", since=START, until=START)

        meta = Meta(server)
        meta.rows = [meta_row(START, "x", "1")] * 4
        meta_settings = pull_settings(
            tmp_path / "meta",
            meta_ads=meta_source(server),
        )
        away = Reply(
            200, {"data": [], "paging": {"next": f"{elsewhere.url}/v25.0/act_42/insights"}}
        )
        meta.faults.queue("insights", away)
        other_host = pull_source(meta_settings, "meta_ads", since=START, until=START)
        itself = f"{server.url}/v25.0/act_42/insights"
        circle = Reply(200, {"data": [], "paging": {"next": itself}})
        meta.faults.queue("insights", circle, circle)
        loop = pull_source(meta_settings, "meta_ads", since=START, until=START)
        assert elsewhere.requests == []  # no token ever went to the other host
    assert (
        bad.error
        == 'the calls diary answered no list of records: {"error": "internal", "records": "none"}'
    )
    assert count.error == "a count that is not a number: 'two'"
    assert other_host.error == f"the next page is on another host ({elsewhere.url[7:]})"
    assert loop.error == "the next page is one already read: the vendor pages in a circle"
    assert [p.name for p in (settings.input_dir / "calls").iterdir()] == ["calls.csv"]
    assert read_state(settings.input_dir) == {}
    assert read_state(meta_settings.input_dir) == {}


def test_a_broken_cursor_file_or_folder_is_one_line_and_the_others_go_on(
    tmp_path: Path,
) -> None:
    """A cursor file cut short: the pull says which file, the build still publishes (the
    source shows as never pulled: stale). A `requests` folder that is a file: Calltouch's
    calls page is not left behind (all pages or none), and Meta, next, lands all the same."""
    with VendorServer() as server:
        Calltouch(server).add(1, START)
        Meta(server).rows = [meta_row(START, "x", "1")]
        settings = pull_settings(
            tmp_path,
            calltouch={"base_url": server.url, "site_id": "777", "token": TOKEN},
            meta_ads=meta_source(server),
        )
        state = settings.input_dir / ".pull" / "state.json"
        state.parent.mkdir(parents=True)
        state.write_text("{")
        broken = pull_source(settings, "calltouch", since=START, until=START)
        assert (
            broken.error
            == f"{state}: not a pull state (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1))"
        )
        conn = build(settings, tmp_path)
        assert rows(conn, "select source, stale from mart_source_freshness order by 1") == [
            ("calltouch", True),
            ("meta_ads", True),
        ]
        conn.close()
        state.unlink()
        (settings.input_dir / "requests").write_text("not a folder")
        results = {r.source: r for r in pull_all(settings, since=START)}
    assert results["calltouch"].error is not None
    assert results["calltouch"].error.startswith("cannot write the pulled files:")
    assert [p.name for p in (settings.input_dir / "calls").iterdir()] == ["calls.csv"]
    assert results["meta_ads"].error is None and len(results["meta_ads"].files) == 1
    assert list(read_state(settings.input_dir)) == ["meta_ads"]


def test_a_server_dripping_its_answer_is_timed_out_as_a_whole(tmp_path: Path) -> None:
    """A reply that arrives a few bytes at a time, each within the read timeout: the
    whole reply is bounded by `timeout_s` (0.3 s here), tried `max_attempts` (2) times,
    then one line; the server's threads are released."""
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415
    import time as clock  # noqa: PLC0415

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        while not stop.is_set():
            try:
                listener.settimeout(0.2)
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                for _ in range(40):
                    if stop.is_set():
                        break
                    try:
                        conn.sendall(b"[")
                    except OSError:
                        break
                    clock.sleep(0.05)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        settings = pull_settings(
            tmp_path,
            calltouch={"base_url": url, "site_id": "777", "token": TOKEN},
            timeout_s=0.3,
            max_attempts=2,
        )
        result = pull_source(settings, "calltouch", since=START, until=START)
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert result.error == "gave up after 2 tries: connection failed (ReadTimeout)"
