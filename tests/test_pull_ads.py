"""`clinic-analytics pull` of the ad platforms against local servers that follow each
vendor's documented contract (tests/vendors.py; loopback only, CONNECTORS.md): Yandex
Direct's offline reports and its error codes, Google Ads `searchStream` over REST with a
refresh token, VK Ads' client-credentials token, ad plans and daily statistics; each
landed file read by the format the build already knows, each rouble once.

No test sleeps: every pull is given `sleep=waits.append`, and the waits it asked for are
asserted instead."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.pull.landing import read_state
from pipelines.pull.run import pull_source
from pipelines.settings import Settings, load_settings
from tests.clinic import SECRET, minimal_input, rows
from tests.test_pull import START, build, pull_settings
from tests.vendors import Drop, Faults, Reply, Request, VendorServer


def ads_settings(root: Path, currency: dict[str, str], **overrides: object) -> Settings:
    """`pull_settings` (the minimal clinic, a try every 10 ms, six tries) for the platforms
    whose answers name no currency (Yandex Direct's report, VK's statistics): the account's
    currency is the setting `ad_platform_currency`, which `pull_settings` cannot pass."""
    pull = overrides.pop("pull", {})
    assert isinstance(pull, dict)
    minimal_input(root / "input")
    return load_settings(
        None,
        input_dir=root / "input",
        hash_secret=SECRET,
        ad_platform_currency=currency,
        pull={"backoff_s": 0.01, "max_wait_s": 5, "max_attempts": 6, **pull},
        **overrides,
    )


def landed(settings: Settings) -> list[str]:
    """The files in `ad_spend/` beside the minimal clinic's own `ad_spend.csv`."""
    return sorted(
        p.name for p in (settings.input_dir / "ad_spend").iterdir() if p.name != "ad_spend.csv"
    )


def spend(conn: duckdb.DuckDBPyConnection, source: str) -> list[tuple]:
    """Per campaign: days, cost, clicks, impressions and currency, as staging holds them."""
    return rows(
        conn,
        "select campaign, count(*), sum(cost)::double, sum(clicks), sum(impressions), "
        f"string_agg(distinct currency) from stg_ads__ad_spend where source = '{source}' "
        "group by 1 order by 1",
    )


# --- Yandex Direct -----------------------------------------------------------------------

YANDEX_TOKEN = "y0_AgAAAAdirect-7c3e51"


def yandex_error(code: int, string: str, detail: str) -> dict:
    return {
        "error": {
            "request_id": "8695244274068608439",
            "error_code": code,
            "error_string": string,
            "error_detail": detail,
        }
    }


class YandexDirect:
    """Reports API v5 `POST /json/v5/reports`: `Authorization: Bearer` or error 53; the
    headers `processingMode` (online/offline/auto) and `returnMoneyInMicros`; the body's
    `params` as documented (anything else error 8000); a ReportName used again with other
    params is an error (4000). An offline report answers `offline` (201 queued, then 202
    building, each with `retryIn`) before the 200 with its TSV: line 1 the report's name
    and dates, line 2 the field names, the rows, `Total rows: N`. Cost in micros unless
    `returnMoneyInMicros: false`."""

    FIELDS = frozenset(("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost"))

    def __init__(self, server: VendorServer) -> None:
        self.rows: list[tuple[date, int, str, int, int, str]] = []
        """(day, campaign id, campaign name, impressions, clicks, cost in roubles)"""
        self.offline: list[tuple[int, str]] = []
        """What a new report answers before it is ready: (status, retryIn) each poll."""
        self.faults = Faults()
        self.token = YANDEX_TOKEN
        self.reports: dict[str, tuple[dict, int]] = {}
        server.route("POST", "/json/v5/reports")(self.report)

    def report(self, request: Request) -> Reply | Drop:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(400, yandex_error(53, "Authorization error", "Invalid OAuth token"))
        fault = self.faults.next("reports")
        if fault:
            return fault
        micros = request.headers.get("returnmoneyinmicros", "true").lower()
        mode = request.headers.get("processingmode", "auto")
        try:
            params = request.json()["params"]
            criteria = params["SelectionCriteria"]
            start = date.fromisoformat(criteria["DateFrom"])
            end = date.fromisoformat(criteria["DateTo"])
            fields = list(params["FieldNames"])
            name = str(params["ReportName"])
            assert set(fields) <= self.FIELDS and fields
            assert params["ReportType"] == "CAMPAIGN_PERFORMANCE_REPORT"
            assert params["DateRangeType"] == "CUSTOM_DATE"
            assert params["Format"] == "TSV" and params["IncludeVAT"] in ("YES", "NO")
            assert mode in ("online", "offline", "auto") and micros in ("true", "false")
            assert start <= end
        except (ValueError, KeyError, TypeError, AssertionError):
            return Reply(400, yandex_error(8000, "Invalid request", "params"))
        seen, polls = self.reports.get(name, (params, 0))
        if seen != params:
            return Reply(400, yandex_error(4000, "Invalid request parameters", "ReportName"))
        self.reports[name] = (params, polls + 1)
        if polls < len(self.offline):
            status, retry_in = self.offline[polls]
            return Reply(status, b"", {"retryIn": retry_in, "reportsInQueue": "1"})
        columns = {"Date": 0, "CampaignId": 1, "CampaignName": 2, "Impressions": 3, "Clicks": 4}
        lines = [f'"{name} ({start} - {end})"', "\t".join(fields)]
        for row in sorted(self.rows):
            if not start <= row[0] <= end:
                continue
            cost = row[5] if micros == "false" else str(round(float(row[5]) * 1_000_000))
            values = {f: str(row[i]) for f, i in columns.items()} | {"Cost": cost}
            lines.append("\t".join(values[f] for f in fields))
        lines.append(f"Total rows: {len(lines) - 2}")
        return Reply(200, "\n".join(lines) + "\n", {"Content-Type": "text/tab-separated-values"})


def yandex_source(server: VendorServer) -> dict:
    return {"base_url": server.url, "token": YANDEX_TOKEN, "client_login": "clinic-spb"}


def yandex_week(vendor: YandexDirect) -> None:
    """Two campaigns over three days (hand sums in the test)."""
    vendor.rows = [
        (START, 101, "brand", 1000, 80, "2500.00"),
        (START + timedelta(days=1), 101, "brand", 1200, 90, "2750.50"),
        (START + timedelta(days=2), 101, "brand", 900, 60, "1999.99"),
        (START, 202, "retargeting", 500, 20, "800.00"),
        (START + timedelta(days=2), 202, "retargeting", 400, 10, "450.25"),
    ]


def test_yandex_offline_report_polled_identically_and_the_build_reads_micros(
    tmp_path: Path,
) -> None:
    """An offline report: 201 (retryIn 0), 202 (retryIn 3), then 200 with the TSV. The
    pull repeats the identical request (same headers, same body, so the same ReportName),
    waits as asked, lands the report byte for byte as `.tsv` in `ad_spend/`, and the build
    reads Cost in micros (2500000000 → 2,500.00):
    brand 2,500.00 + 2,750.50 + 1,999.99 = 7,250.49 over 3 days, 80 + 90 + 60 = 230
    clicks, 1,000 + 1,200 + 900 = 3,100 impressions; retargeting 800.00 + 450.25 =
    1,250.25 over 2 days, 30 clicks, 900 impressions; 8,500.74 in all, in RUB (the
    setting: the report names no currency)."""
    with VendorServer() as server:
        vendor = YandexDirect(server)
        yandex_week(vendor)
        vendor.offline = [(201, "0"), (202, "3")]
        settings = ads_settings(
            tmp_path, {"yandex_direct": "RUB"}, pull={"yandex_direct": yandex_source(server)}
        )
        waits: list[float] = []
        result = pull_source(
            settings, "yandex_direct", START, START + timedelta(days=2), sleep=waits.append
        )
        tries = server.hits("/json/v5/reports")
    assert result.error is None, result.error
    assert len(tries) == 3
    assert tries[0].body == tries[1].body == tries[2].body  # the identical request
    params = tries[0].json()["params"]
    assert params["SelectionCriteria"] == {"DateFrom": "2026-09-01", "DateTo": "2026-09-03"}
    assert params["FieldNames"] == [
        "Date",
        "CampaignId",
        "CampaignName",
        "Impressions",
        "Clicks",
        "Cost",
    ]
    headers = tries[0].headers
    assert headers["authorization"] == f"Bearer {YANDEX_TOKEN}"
    assert (headers["client-login"], headers["returnmoneyinmicros"]) == ("clinic-spb", "true")
    assert all(t.headers == headers for t in tries)
    # each retryIn waited as asked, 0 included
    assert waits == [0.0, 3.0]
    [path] = result.files
    assert (path.parent.name, path.suffix) == ("ad_spend", ".tsv")
    assert path.read_text().splitlines() == [
        f'"{params["ReportName"]} (2026-09-01 - 2026-09-03)"',
        "Date\tCampaignId\tCampaignName\tImpressions\tClicks\tCost",
        "2026-09-01\t101\tbrand\t1000\t80\t2500000000",
        "2026-09-01\t202\tretargeting\t500\t20\t800000000",
        "2026-09-02\t101\tbrand\t1200\t90\t2750500000",
        "2026-09-03\t101\tbrand\t900\t60\t1999990000",
        "2026-09-03\t202\tretargeting\t400\t10\t450250000",
        "Total rows: 5",
    ]
    assert result.last_data_day == START + timedelta(days=2)
    state = read_state(settings.input_dir)["yandex_direct"]
    assert (state["last_day"], state["last_data_day"]) == ("2026-09-03", "2026-09-03")
    conn = build(settings, tmp_path)
    assert rows(
        conn, "select rejected from ingest_files where source_file like '%yandex_direct_%'"
    ) == [(None,)]
    assert spend(conn, "yandex") == [
        ("brand", 4, pytest.approx(8250.49), 250, 3700, "RUB"),  # + the minimal clinic's row
        ("retargeting", 2, pytest.approx(1250.25), 30, 900, "RUB"),
    ]
    assert rows(
        conn,
        "select sum(cost)::double from stg_ads__ad_spend "
        "where source = 'yandex' and date >= '2026-09-01'",
    ) == [(pytest.approx(8500.74),)]


def test_yandex_queue_full_9000_is_tried_again_and_money_in_roubles_agrees(
    tmp_path: Path,
) -> None:
    """Error 9000 (the offline queue is full, HTTP 400) is transient: one wait (backoff_s),
    the same request again, answered online. With `yandex_cost_in_micros = false` the pull
    asks `returnMoneyInMicros: false`, the report holds 2500.00, and the build reads the
    same 8,500.74 (7,250.49 + 1,250.25) without dividing by a million."""
    with VendorServer() as server:
        vendor = YandexDirect(server)
        yandex_week(vendor)
        vendor.faults.queue(
            "reports", Reply(400, yandex_error(9000, "Report queue limit exceeded", "try later"))
        )
        settings = ads_settings(
            tmp_path,
            {"yandex_direct": "RUB"},
            yandex_cost_in_micros=False,
            pull={"yandex_direct": yandex_source(server)},
        )
        waits: list[float] = []
        result = pull_source(
            settings, "yandex_direct", START, START + timedelta(days=2), sleep=waits.append
        )
        tries = server.hits("/json/v5/reports")
    assert result.error is None, result.error
    assert [t.body for t in tries] == [tries[0].body] * 2
    assert tries[1].headers["returnmoneyinmicros"] == "false"
    assert waits == [0.01]
    [path] = result.files
    assert path.read_text().splitlines()[2] == "2026-09-01\t101\tbrand\t1000\t80\t2500.00"
    conn = build(settings, tmp_path)
    assert rows(
        conn,
        "select count(*), sum(cost)::double from stg_ads__ad_spend "
        "where source = 'yandex' and date >= '2026-09-01'",
    ) == [(5, pytest.approx(8500.74))]


def test_yandex_window_over_31_days_is_one_report_per_31_days(tmp_path: Path) -> None:
    """40 days (2026-09-01..10-10) are two reports, 09-01..10-01 (31 days) and 10-02..10-10,
    each with its own ReportName (a name is unique per settings), each polled 202 → 200:
    four requests, two files; the last day with data 10-05."""
    with VendorServer() as server:
        vendor = YandexDirect(server)
        vendor.rows = [
            (START, 101, "brand", 10, 1, "10.00"),
            (date(2026, 10, 5), 101, "brand", 10, 1, "20.00"),
        ]
        vendor.offline = [(202, "1")]
        settings = ads_settings(
            tmp_path, {"yandex_direct": "RUB"}, pull={"yandex_direct": yandex_source(server)}
        )
        waits: list[float] = []
        result = pull_source(
            settings, "yandex_direct", START, date(2026, 10, 10), sleep=waits.append
        )
        asked = [r.json()["params"] for r in server.hits("/json/v5/reports")]
    assert result.error is None, result.error
    assert [tuple(p["SelectionCriteria"].values()) for p in asked] == [
        ("2026-09-01", "2026-10-01"),
        ("2026-09-01", "2026-10-01"),
        ("2026-10-02", "2026-10-10"),
        ("2026-10-02", "2026-10-10"),
    ]
    assert asked[0]["ReportName"] == asked[1]["ReportName"] != asked[2]["ReportName"]
    assert waits == [1.0, 1.0]
    assert [p.read_text().splitlines()[-1] for p in result.files] == [
        "Total rows: 1",
        "Total rows: 1",
    ]
    assert result.last_data_day == date(2026, 10, 5)


def test_yandex_token_refused_53_is_one_line_one_request_nothing_landed(
    tmp_path: Path,
) -> None:
    """A pull lands its report and moves the cursor; then the token is revoked: error 53
    is one line that says what to do and does not show the token, after exactly one
    request (no retry); no file lands and the cursor is as it was."""
    with VendorServer() as server:
        vendor = YandexDirect(server)
        yandex_week(vendor)
        settings = ads_settings(
            tmp_path, {"yandex_direct": "RUB"}, pull={"yandex_direct": yandex_source(server)}
        )
        waits: list[float] = []
        first = pull_source(settings, "yandex_direct", START, START, sleep=waits.append)
        before = (landed(settings), read_state(settings.input_dir))
        vendor.token = "y0_a-new-token"  # the one in the settings was revoked
        result = pull_source(
            settings, "yandex_direct", START, START + timedelta(days=2), sleep=waits.append
        )
        assert len(server.requests) == 2  # one for the first pull, one for this
    assert first.error is None and len(first.files) == 1
    assert result.error == (
        "token refused (error 53: Authorization error Invalid OAuth token): "
        "renew it in the settings"
    )
    assert result.line().startswith("yandex_direct: pull failed: token refused (error 53")
    assert YANDEX_TOKEN not in result.line() and result.files == []
    assert waits == []
    assert (landed(settings), read_state(settings.input_dir)) == before
    assert before[1]["yandex_direct"]["last_day"] == "2026-09-01"


def test_yandex_answers_that_are_not_the_report_fail_the_pull(tmp_path: Path) -> None:
    """HTTP 200 with an HTML page, a report cut short (`Total rows: 3` over 1 row), and a
    nonsense `retryIn` (-5: the doubling wait instead): the first two are one line each,
    nothing lands, the cursor stays; the third is waited out and the report lands."""
    header = "\t".join(["Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost"])
    short_report = f'"r"\n{header}\n2026-09-01\t1\tb\t1\t1\t1000000\nTotal rows: 3\n'
    with VendorServer() as server:
        vendor = YandexDirect(server)
        yandex_week(vendor)
        settings = ads_settings(
            tmp_path, {"yandex_direct": "RUB"}, pull={"yandex_direct": yandex_source(server)}
        )
        vendor.faults.queue("reports", Reply(200, "<html>502 Bad Gateway</html>"))
        html = pull_source(settings, "yandex_direct", START, START)
        vendor.faults.queue("reports", Reply(200, short_report))
        cut = pull_source(settings, "yandex_direct", START, START)
        assert read_state(settings.input_dir) == {} and landed(settings) == []
        vendor.faults.queue("reports", Reply(202, b"", {"retryIn": "-5"}))
        waits: list[float] = []
        good = pull_source(settings, "yandex_direct", START, START, sleep=waits.append)
    assert html.error == "the report for 2026-09-01..2026-09-01 is not the TSV asked for"
    assert cut.error == "the report says 3 rows and holds 1: cut short"
    assert good.error is None and waits == [0.01] and len(good.files) == 1


# --- Google Ads --------------------------------------------------------------------------

GOOGLE_DEVELOPER_TOKEN = "dev-token-g8k2Q"
GOOGLE_REFRESH_TOKEN = "1//0refresh-token-4a7b"
GOOGLE_CLIENT_ID = "1234-abc.apps.googleusercontent.com"
GOOGLE_CLIENT_SECRET = "GOCSPX-client-secret-9d"
GOOGLE_ACCESS_TOKEN = "ya29.a0-access-token-3f6c"
"""What the local `/token` hands out for the refresh token."""
GAQL = re.compile(
    r"SELECT (?P<fields>[\w., ]+) FROM campaign "
    r"WHERE segments\.date BETWEEN '(?P<start>[\d-]{10})' AND '(?P<end>[\d-]{10})'$"
)

GAQL_FIELDS = frozenset(
    (
        "segments.date",
        "campaign.id",
        "campaign.name",
        "customer.currency_code",
        "metrics.cost_micros",
        "metrics.clicks",
        "metrics.impressions",
    )
)
"""The fields of `campaign` this contract can answer."""


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def google_error(code: int, status: str, message: str, details: list | None = None) -> list:
    """searchStream's error: an array holding one `{error: {code, message, status,
    details}}` (GoogleAdsFailure in the details)."""
    return [
        {
            "error": {
                "code": code,
                "message": message,
                "status": status,
                **({"details": details} if details else {}),
            }
        }
    ]


class GoogleAds:
    """`POST /token` (OAuth refresh: form grant_type=refresh_token, refresh_token,
    client_id, client_secret, or 400 invalid_grant) and
    `POST /v21/customers/{id}/googleAds:searchStream`: `Authorization: Bearer` and
    `developer-token` or 401 UNAUTHENTICATED; `login-customer-id` (digits) when the access
    is through a manager, or 403; a GAQL query over `campaign` with a date range (else 400
    INVALID_ARGUMENT). The answer is a JSON array of batches `{results, fieldMask,
    requestId}` of `batch_size` rows, each row nested and camelCase holding only the fields
    selected, int64 as strings; no rows: one batch with no `results`."""

    def __init__(self, server: VendorServer, customer: str = "9876543210") -> None:
        self.rows: dict[tuple[date, str], tuple[int, int, int]] = {}
        """(day, campaign) → (cost micros, clicks, impressions)"""
        self.ids: dict[str, int] = {}
        self.faults = Faults()
        self.customer = customer
        self.login: str | None = "1234567890"
        self.batch_size = 2
        server.route("POST", "/token")(self.token)
        server.route("POST", f"/v21/customers/{customer}/googleAds:searchStream")(self.stream)

    def add(self, day: date, campaign: str, micros: int, clicks: int, shows: int) -> None:
        self.ids.setdefault(campaign, 17000000 + len(self.ids))
        self.rows[(day, campaign)] = (micros, clicks, shows)

    def token(self, request: Request) -> Reply:
        form = request.form()
        expected = {
            "grant_type": "refresh_token",
            "refresh_token": GOOGLE_REFRESH_TOKEN,
            "client_id": GOOGLE_CLIENT_ID,
            "client_secret": GOOGLE_CLIENT_SECRET,
        }
        if form != expected:
            return Reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        return Reply(
            200,
            {
                "access_token": GOOGLE_ACCESS_TOKEN,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/adwords",
                "token_type": "Bearer",
            },
        )

    def stream(self, request: Request) -> Reply | Drop:
        if request.headers.get("authorization") != f"Bearer {GOOGLE_ACCESS_TOKEN}" or (
            request.headers.get("developer-token") != GOOGLE_DEVELOPER_TOKEN
        ):
            return Reply(401, google_error(401, "UNAUTHENTICATED", "invalid credentials"))
        if self.login and request.headers.get("login-customer-id") != self.login:
            return Reply(403, google_error(403, "PERMISSION_DENIED", "USER_PERMISSION_DENIED"))
        fault = self.faults.next("stream")
        if fault:
            return fault
        try:
            found = GAQL.match(request.json()["query"])
            assert found is not None
            start, end = (date.fromisoformat(found[k]) for k in ("start", "end"))
            fields = [f.strip() for f in found["fields"].split(",")]
            assert fields and set(fields) <= GAQL_FIELDS  # else UNRECOGNIZED_FIELD
        except (ValueError, KeyError, TypeError, AssertionError):
            return Reply(400, google_error(400, "INVALID_ARGUMENT", "query"))
        results = []
        for (day, campaign), (micros, clicks, shows) in sorted(self.rows.items()):
            if not start <= day <= end:
                continue
            known = {
                "segments.date": str(day),
                "campaign.id": str(self.ids[campaign]),
                "campaign.name": campaign,
                "customer.currency_code": "RUB",
                "metrics.cost_micros": str(micros),
                "metrics.clicks": str(clicks),
                "metrics.impressions": str(shows),
            }
            row: dict[str, dict] = {
                "campaign": {
                    "resourceName": f"customers/{self.customer}/campaigns/{self.ids[campaign]}"
                }
            }
            for name in fields:
                resource, field = name.split(".")
                row.setdefault(resource, {})[camel(field)] = known[name]
            results.append(row)
        mask = ",".join(".".join(camel(p) for p in f.split(".")) for f in fields)
        size = self.batch_size
        batches: list[dict] = [
            {"results": results[i : i + size], "fieldMask": mask, "requestId": f"req{i}"}
            for i in range(0, len(results), size)
        ] or [{"fieldMask": mask, "requestId": "req-empty"}]
        batches[-1]["queryResourceConsumption"] = "120"
        return Reply(200, batches)


def google_source(server: VendorServer, **oauth: str) -> dict:
    access = oauth or {"access_token": GOOGLE_ACCESS_TOKEN}
    return {
        "base_url": server.url,
        "customer_id": "987-654-3210",
        "login_customer_id": "123-456-7890",
        "developer_token": GOOGLE_DEVELOPER_TOKEN,
        **access,
    }


def test_google_ads_refresh_token_31_day_requests_empty_batch_and_the_build(
    tmp_path: Path,
) -> None:
    """No access token in the settings: the refresh token is exchanged at the local
    `/token` (form-encoded, once), and the token obtained is the Bearer of every
    searchStream request, never in a landed file or the result line. 45 days
    (09-01..10-15) are two queries, 09-01..10-01 and 10-02..10-15; the second has no rows,
    a lone batch without `results`, landed and read as no rows. The first answers 6 rows
    in 3 batches of 2. The build: brand 5 days × 2500000000 micros = 12,500.00, 5 × 80 =
    400 clicks, 5 × 1,000 = 5,000 impressions; generic 1,234.56 (1234560000), 15 clicks,
    300 impressions; RUB from customer.currency_code (no setting)."""
    with VendorServer() as server:
        vendor = GoogleAds(server)
        for day in range(5):
            vendor.add(START + timedelta(days=day), "brand", 2_500_000_000, 80, 1000)
        vendor.add(START + timedelta(days=2), "generic", 1_234_560_000, 15, 300)
        oauth = {
            "refresh_token": GOOGLE_REFRESH_TOKEN,
            "client_id": GOOGLE_CLIENT_ID,
            "client_secret": GOOGLE_CLIENT_SECRET,
            "token_url": f"{server.url}/token",
        }
        settings = pull_settings(tmp_path, google_ads=google_source(server, **oauth))
        waits: list[float] = []
        result = pull_source(
            settings, "google_ads", START, START + timedelta(days=44), sleep=waits.append
        )
        [exchange] = server.hits("/token")
        streams = server.hits("/v21/customers/9876543210/googleAds:searchStream")
    assert result.error is None, result.error
    assert exchange.form()["grant_type"] == "refresh_token"
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert [r.json()["query"].split(" WHERE ")[1] for r in streams] == [
        "segments.date BETWEEN '2026-09-01' AND '2026-10-01'",
        "segments.date BETWEEN '2026-10-02' AND '2026-10-15'",
    ]
    assert {r.headers["authorization"] for r in streams} == {f"Bearer {GOOGLE_ACCESS_TOKEN}"}
    assert {r.headers["login-customer-id"] for r in streams} == {"1234567890"}
    assert waits == []
    first, second = (json.loads(p.read_bytes()) for p in result.files)
    assert [len(b["results"]) for b in first] == [2, 2, 2]
    assert first[0]["results"][0]["metrics"] == {
        "costMicros": "2500000000",
        "clicks": "80",
        "impressions": "1000",
    }
    assert len(second) == 1 and "results" not in second[0]
    assert result.last_data_day == START + timedelta(days=4)
    secrets = (GOOGLE_ACCESS_TOKEN, GOOGLE_REFRESH_TOKEN, GOOGLE_CLIENT_SECRET)
    everything = b"".join(p.read_bytes() for p in settings.input_dir.rglob("*") if p.is_file())
    assert not [s for s in (*secrets, GOOGLE_DEVELOPER_TOKEN) if s.encode() in everything]
    assert not [s for s in secrets if s in result.line()]
    conn = build(settings, tmp_path)
    assert rows(
        conn, "select count(*), count(rejected) from ingest_files where source_file like '%google%'"
    ) == [(2, 0)]
    assert spend(conn, "google") == [
        ("brand", 5, pytest.approx(12500.0), 400, 5000, "RUB"),
        ("generic", 1, pytest.approx(1234.56), 15, 300, "RUB"),
    ]


def test_google_ads_resource_exhausted_and_a_dropped_stream_are_tried_again(
    tmp_path: Path,
) -> None:
    """The query first answers 429 RESOURCE_EXHAUSTED with `retryDelay` 0.05s in its
    QuotaErrorDetails, then sends half its answer and drops the connection, then answers:
    three requests, the waits 0.05 (the vendor's delay, above backoff_s 0.01) and 0.02
    (the doubled backoff), and one file holding the whole answer (3 rows: 3 × 1,000.00)."""
    with VendorServer() as server:
        vendor = GoogleAds(server)
        for day in range(3):
            vendor.add(START + timedelta(days=day), "brand", 1_000_000_000, 10, 100)
        quota = {
            "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
            "errors": [
                {
                    "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
                    "message": "Too many requests. Retry in 0.05 seconds.",
                    "details": {
                        "quotaErrorDetails": {
                            "rateScope": "ACCOUNT",
                            "rateName": "Number of operations for basic access",
                            "retryDelay": "0.05s",
                        }
                    },
                }
            ],
            "requestId": "quota-1",
        }
        # half of some answer, then the socket closed: whatever it held, none of it lands
        whole = Reply(200, [{"results": [{"segments": {"date": "2026-09-01"}}] * 40}])
        vendor.faults.queue(
            "stream",
            Reply(429, google_error(429, "RESOURCE_EXHAUSTED", "exhausted", [quota])),
            Drop(whole),
        )
        settings = pull_settings(tmp_path, google_ads=google_source(server))
        waits: list[float] = []
        result = pull_source(
            settings, "google_ads", START, START + timedelta(days=2), sleep=waits.append
        )
        assert len(server.requests) == 3
    assert result.error is None, result.error
    assert waits == [0.05, 0.02]
    [path] = result.files
    batches = json.loads(path.read_bytes())
    assert [r["metrics"]["costMicros"] for b in batches for r in b["results"]] == ["1000000000"] * 3
    assert result.last_data_day == START + timedelta(days=2)


def test_google_ads_a_wait_longer_than_max_wait_is_a_failure_not_a_stall(
    tmp_path: Path,
) -> None:
    """api.py: "a wait the vendor asks for beyond `max_wait_s` is a failure, not a stall".
    Quota exhausted for an hour (`retryDelay` 3600s) with max_wait_s 5: one request, one
    line naming the wait, no sleep at all (not 5 sleeps of 5 s, 6 requests)."""
    with VendorServer() as server:
        vendor = GoogleAds(server)
        vendor.add(START, "brand", 1_000_000_000, 10, 100)
        details = [
            {
                "errors": [
                    {
                        "errorCode": {"quotaError": "RESOURCE_EXHAUSTED"},
                        "details": {"quotaErrorDetails": {"retryDelay": "3600s"}},
                    }
                ]
            }
        ]
        exhausted = Reply(429, google_error(429, "RESOURCE_EXHAUSTED", "exhausted", details))
        vendor.faults.queue("stream", *[exhausted] * 6)
        settings = pull_settings(tmp_path, google_ads=google_source(server))
        waits: list[float] = []
        result = pull_source(settings, "google_ads", START, START, sleep=waits.append)
        tries = len(server.requests)
    assert result.error == (
        "RESOURCE_EXHAUSTED (HTTP 429); the vendor asks to wait 3600 s, beyond max_wait_s (5 s)"
    )
    assert (tries, waits) == (1, [])


def test_google_ads_a_revised_day_supersedes_its_first_figures(tmp_path: Path) -> None:
    """Pulled to 09-10 (first pull: 90 days back, 06-13..09-10, three queries of at most
    31 days, the first two answering a lone empty batch); brand costs 1,000.00 a day.
    Google then revises 09-09 (1,000.00 → 1,450.75) and adds 09-11. The next pull starts
    3 days before the cursor (09-07..09-12): 09-07, 09-08 and 09-10 come again unchanged
    (3 duplicates), 09-09 is a new version. The build holds 11 days once: 10 × 1,000.00 −
    1,000.00 + 1,450.75 + 1,000.00 = 11,450.75; the first figure of 09-09 is quarantined
    as superseded by the later file. (The build masks the pull's time in the file names
    as <phone>: the later file wins here because its window starts later; a second pull
    of the same window does not, see the next test.)"""
    with VendorServer() as server:
        vendor = GoogleAds(server)
        for day in range(10):
            vendor.add(START + timedelta(days=day), "brand", 1_000_000_000, 10, 100)
        settings = pull_settings(tmp_path, google_ads=google_source(server))
        waits: list[float] = []
        first = pull_source(
            settings, "google_ads", until=START + timedelta(days=9), sleep=waits.append
        )
        vendor.add(START + timedelta(days=8), "brand", 1_450_750_000, 12, 130)  # revised
        vendor.add(START + timedelta(days=10), "brand", 1_000_000_000, 10, 100)  # arrived
        second = pull_source(
            settings, "google_ads", until=START + timedelta(days=11), sleep=waits.append
        )
        queries = [
            r.json()["query"].split(" BETWEEN ")[1]
            for r in server.hits("/v21/customers/9876543210/googleAds:searchStream")
        ]
    assert first.error is None and second.error is None, (first.error, second.error)
    assert queries == [
        "'2026-06-13' AND '2026-07-13'",
        "'2026-07-14' AND '2026-08-13'",
        "'2026-08-14' AND '2026-09-10'",
        "'2026-09-07' AND '2026-09-12'",
    ]
    assert (len(first.files), len(second.files)) == (3, 1)
    assert second.last_data_day == START + timedelta(days=10)
    conn = build(settings, tmp_path)
    assert spend(conn, "google") == [("brand", 11, pytest.approx(11450.75), 112, 1130, "RUB")]
    assert rows(
        conn,
        "select cost::double, clicks from stg_ads__ad_spend "
        "where source = 'google' and date = '2026-09-09'",
    ) == [(pytest.approx(1450.75), 12)]
    superseded = rows(conn, "select source_file, reason from quarantine where kind = 'superseded'")
    [(loser, reason)] = superseded
    stamp = r"\d{4}-\d\d-\d\dT\d\dh\d\dm\d\ds\d{6}Z"  # the pull's time, no phone-like run
    assert re.fullmatch(rf"ad_spend/google_ads_{stamp}_2026-06-13_2026-09-10_p0003\.json", loser)
    assert re.match(
        rf"superseded by ad_spend/google_ads_{stamp}_2026-09-07_2026-09-12_p0001\.json line 3: "
        "same date, source, medium, campaign, different values",
        reason,
    )
    assert rows(
        conn, "select rows_duplicate from load_reconciliation where entity = 'ad_spend'"
    ) == [(3,)]


def test_a_second_pull_of_the_same_window_wins(tmp_path: Path) -> None:
    """Two pulls of the same window (09-01), the cost revised between them (1,000.00 →
    1,200.00): the later file wins as landing.py promises, 1,200.00 once, and the
    quarantine names the two files apart (not one masked name twice)."""
    with VendorServer() as server:
        vendor = GoogleAds(server)
        vendor.add(START, "brand", 1_000_000_000, 10, 100)
        settings = pull_settings(tmp_path, google_ads=google_source(server))
        waits: list[float] = []
        first = pull_source(settings, "google_ads", START, START, sleep=waits.append)
        vendor.add(START, "brand", 1_200_000_000, 10, 100)
        second = pull_source(settings, "google_ads", START, START, sleep=waits.append)
    conn = build(settings, tmp_path)
    assert spend(conn, "google") == [("brand", 1, pytest.approx(1200.0), 10, 100, "RUB")]
    [(loser, reason)] = rows(
        conn, "select source_file, reason from quarantine where kind = 'superseded'"
    )
    assert loser == f"ad_spend/{first.files[0].name}"
    assert reason.startswith(f"superseded by ad_spend/{second.files[0].name} line 1")


def test_google_ads_a_stream_broken_off_midway_never_lands(tmp_path: Path) -> None:
    """searchStream answers 200 and then breaks off: its array ends with an `error`
    element. UNAVAILABLE is worth the same request again (the next answer is whole and
    lands alone); PERMISSION_DENIED is one line and nothing lands, since the rows before
    the error are not the window's whole spend."""
    whole_row = {"campaign": {"name": "brand"}, "segments": {"date": "2026-09-01"}}
    broken = [
        {"results": [whole_row], "fieldMask": "campaign.name", "requestId": "r1"},
        {"error": {"code": 503, "status": "UNAVAILABLE", "message": "try again"}},
    ]
    with VendorServer() as server:
        vendor = GoogleAds(server)
        vendor.add(START, "brand", 2_500_000_000, 80, 1000)
        vendor.faults.queue("stream", Reply(200, broken))
        settings = pull_settings(tmp_path, google_ads=google_source(server))
        waits: list[float] = []
        result = pull_source(settings, "google_ads", START, START, sleep=waits.append)
        assert result.error is None, result.error
        assert len(server.hits("/v21/customers/9876543210/googleAds:searchStream")) == 2
        [path] = result.files
        assert b"UNAVAILABLE" not in path.read_bytes()

        denied = [broken[0], {"error": {"code": 403, "status": "PERMISSION_DENIED"}}]
        vendor.faults.queue("stream", Reply(200, denied))
        again = pull_source(settings, "google_ads", START, START, sleep=waits.append)
    assert again.error == "the stream broke off: PERMISSION_DENIED"
    assert landed(settings) == [path.name]


def test_google_ads_a_refused_refresh_token_is_a_credential_line(tmp_path: Path) -> None:
    """The token endpoint answers 400 invalid_grant (a revoked refresh token, RFC 6749
    5.2): one request, the line says the credentials were refused, no secret in it."""
    oauth = {
        "refresh_token": "revoked",
        "client_id": GOOGLE_CLIENT_ID,
        "client_secret": GOOGLE_CLIENT_SECRET,
    }
    with VendorServer() as server:
        GoogleAds(server)
        settings = pull_settings(
            tmp_path,
            google_ads=google_source(server, **oauth) | {"token_url": f"{server.url}/token"},
        )
        result = pull_source(settings, "google_ads", START, START)
        assert [r.path for r in server.requests] == ["/token"]
    assert result.error == (
        "the token endpoint refused the credentials (invalid_grant): renew them"
    )
    assert "revoked" not in result.line() and GOOGLE_CLIENT_SECRET not in result.line()


# --- VK Ads ------------------------------------------------------------------------------

VK_CLIENT_ID = "vk-client-51"
VK_CLIENT_SECRET = "vk-secret-e2d9f0"


class VkAds:
    """`POST /api/v2/oauth2/token.json` (form grant_type=client_credentials, client_id,
    client_secret, or 401) → `{access_token, token_type, expires_in}`; then with `Bearer`
    (else 401): `GET /api/v2/ad_plans.json` paged by `offset`/`limit` (at most 250, else
    400) → `{count, offset, items}`; `GET /api/v2/statistics/ad_plans/day.json` with
    `date_from`, `date_to` (at most 92 days), `id` (at most 200, comma-separated) and
    `metrics=base` (else 400) → `{items: [{id, rows: [{date, base: {shows, clicks,
    spent}}], total}], total}`: a row per day of the period for each id asked, zeros
    included, `spent` a string of roubles."""

    def __init__(self, server: VendorServer) -> None:
        self.spend: dict[int, dict[date, tuple[int, int, str]]] = {}
        """ad plan id → day → (shows, clicks, spent)"""
        self.faults = Faults()
        self.issued: list[str] = []
        server.route("POST", "/api/v2/oauth2/token.json")(self.token)
        server.route("GET", "/api/v2/ad_plans.json")(self.ad_plans)
        server.route("GET", "/api/v2/statistics/ad_plans/day.json")(self.statistics)

    def token(self, request: Request) -> Reply:
        form = request.form()
        expected = {
            "grant_type": "client_credentials",
            "client_id": VK_CLIENT_ID,
            "client_secret": VK_CLIENT_SECRET,
        }
        if form != expected:
            return Reply(401, {"error": "invalid_client"})
        self.issued.append(f"vk-access-{len(self.issued) + 1:04d}")
        return Reply(
            200,
            {
                "access_token": self.issued[-1],
                "token_type": "Bearer",
                "expires_in": 86400,
                "refresh_token": "vk-refresh-0001",
            },
        )

    def authorised(self, request: Request) -> bool:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return token in self.issued

    def ad_plans(self, request: Request) -> Reply:
        if not self.authorised(request):
            return Reply(401, {"error": {"code": "invalid_token"}})
        limit, offset = int(request.query.get("limit", 20)), int(request.query.get("offset", 0))
        if not 0 < limit <= 250:
            return Reply(400, {"error": {"code": "ERR_WRONG_PARAMETER", "message": "limit"}})
        ids = sorted(self.spend)
        items = [{"id": i, "name": f"plan {i}"} for i in ids[offset : offset + limit]]
        return Reply(200, {"count": len(ids), "offset": offset, "items": items})

    def statistics(self, request: Request) -> Reply | Drop:
        if not self.authorised(request):
            return Reply(401, {"error": {"code": "invalid_token"}})
        fault = self.faults.next("statistics")
        if fault:
            return fault
        try:
            start = date.fromisoformat(request.query["date_from"])
            end = date.fromisoformat(request.query["date_to"])
            ids = [int(i) for i in request.query["id"].split(",")]
            assert request.query["metrics"] == "base"
            assert start <= end and (end - start).days + 1 <= 92 and len(ids) <= 200
        except (KeyError, ValueError, AssertionError):
            return Reply(400, {"error": {"code": "ERR_WRONG_PARAMETER"}})
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        items = []
        for plan in ids:
            daily = [(d, *self.spend.get(plan, {}).get(d, (0, 0, "0"))) for d in days]
            items.append(
                {
                    "id": plan,
                    "rows": [
                        {"date": str(d), "base": {"shows": s, "clicks": c, "spent": spent}}
                        for d, s, c, spent in daily
                    ],
                    "total": {
                        "base": {
                            "shows": sum(r[1] for r in daily),
                            "clicks": sum(r[2] for r in daily),
                            "spent": f"{sum(float(r[3]) for r in daily):.2f}",
                        }
                    },
                }
            )
        return Reply(200, {"items": items, "total": {}})


def vk_source(server: VendorServer) -> dict:
    return {"base_url": server.url, "client_id": VK_CLIENT_ID, "client_secret": VK_CLIENT_SECRET}


def test_vk_ads_450_ad_plans_in_chunks_of_200_and_the_build_reads_each(
    tmp_path: Path,
) -> None:
    """450 ad plans (ids 1001..1450): listed in two pages (offset 0 and 250, `count` 450),
    their statistics for one day asked for 200, 200 and 50 ids, each id once, each with the
    token obtained. Plan 1000 + k spent k roubles: 1 + 2 + … + 450 = 450 × 451 / 2 =
    101,475.00, 2 clicks and 100 shows each (900 and 45,000). The build reads 450
    campaigns named 'ad plan <id>', in RUB (the setting)."""
    with VendorServer() as server:
        vendor = VkAds(server)
        for k in range(1, 451):
            vendor.spend[1000 + k] = {START: (100, 2, f"{k}.00")}
        settings = ads_settings(tmp_path, {"vk_ads": "RUB"}, pull={"vk_ads": vk_source(server)})
        waits: list[float] = []
        result = pull_source(settings, "vk_ads", START, START, sleep=waits.append)
        pages = server.hits("/api/v2/ad_plans.json")
        asked = server.hits("/api/v2/statistics/ad_plans/day.json")
        [exchange] = server.hits("/api/v2/oauth2/token.json")
    assert result.error is None, result.error
    assert exchange.form()["grant_type"] == "client_credentials"
    assert [(p.query["offset"], p.query["limit"]) for p in pages] == [("0", "250"), ("250", "250")]
    ids = [r.query["id"].split(",") for r in asked]
    assert [len(chunk) for chunk in ids] == [200, 200, 50]
    assert sorted(int(i) for chunk in ids for i in chunk) == list(range(1001, 1451))
    assert {r.headers["authorization"] for r in [*pages, *asked]} == {"Bearer vk-access-0001"}
    assert {(r.query["date_from"], r.query["date_to"]) for r in asked} == {
        ("2026-09-01", "2026-09-01")
    }
    assert len(result.files) == 3 and result.last_data_day == START
    assert waits == []
    conn = build(settings, tmp_path)
    assert rows(
        conn,
        "select count(*), sum(cost)::double, sum(clicks), sum(impressions), "
        "string_agg(distinct currency) from stg_ads__ad_spend where source = 'vk'",
    ) == [(450, pytest.approx(101475.0), 900, 45000, "RUB")]
    assert rows(
        conn,
        "select campaign, cost::double from stg_ads__ad_spend where source = 'vk' "
        "and campaign in ('ad plan 1001', 'ad plan 1450') order by 1",
    ) == [("ad plan 1001", pytest.approx(1.0)), ("ad plan 1450", pytest.approx(450.0))]


def test_vk_ads_window_over_92_days_is_split(tmp_path: Path) -> None:
    """122 days (2026-06-01..09-30) are two requests for the 3 ad plans: 06-01..08-31 (30 +
    31 + 31 = 92 days) and 09-01..09-30. Plan 7 spent 500.00 on 08-31 and 700.50 on 09-01,
    either side of the cut: both read, 1,200.50 in all; every plan has a row a day, zeros
    included: 3 × 122 = 366 rows."""
    with VendorServer() as server:
        vendor = VkAds(server)
        vendor.spend = {
            5: {},
            6: {},
            7: {date(2026, 8, 31): (900, 30, "500.00"), START: (1100, 41, "700.50")},
        }
        settings = ads_settings(tmp_path, {"vk_ads": "RUB"}, pull={"vk_ads": vk_source(server)})
        waits: list[float] = []
        result = pull_source(
            settings, "vk_ads", date(2026, 6, 1), date(2026, 9, 30), sleep=waits.append
        )
        asked = server.hits("/api/v2/statistics/ad_plans/day.json")
    assert result.error is None, result.error
    assert [(r.query["date_from"], r.query["date_to"], r.query["id"]) for r in asked] == [
        ("2026-06-01", "2026-08-31", "5,6,7"),
        ("2026-09-01", "2026-09-30", "5,6,7"),
    ]
    assert len(result.files) == 2
    # VK writes a row a day, idle days included: the last day with data is the last with
    # shows, clicks or spend, 09-01 (else a dead account would always look fresh)
    assert result.last_data_day == date(2026, 9, 1)
    conn = build(settings, tmp_path)
    assert rows(
        conn,
        "select count(*), sum(cost)::double, sum(clicks), sum(impressions) "
        "from stg_ads__ad_spend where source = 'vk'",
    ) == [(366, pytest.approx(1200.5), 71, 2000)]
    assert rows(
        conn,
        "select date::varchar, cost::double from stg_ads__ad_spend "
        "where campaign = 'ad plan 7' and cost > 0 order by 1",
    ) == [("2026-08-31", pytest.approx(500.0)), ("2026-09-01", pytest.approx(700.5))]


def test_vk_ads_token_refused_on_statistics_is_one_line_no_retry_nothing_landed(
    tmp_path: Path,
) -> None:
    """The token obtained lists the ad plans, then the statistics refuse it (401: expired
    between the two): one line, one statistics request (no retry), the token and the
    client secret in neither the line nor any file, nothing landed, no cursor."""
    with VendorServer() as server:
        vendor = VkAds(server)
        vendor.spend = {7: {START: (100, 2, "10.00")}}
        vendor.faults.queue("statistics", Reply(401, {"error": {"code": "expired_token"}}))
        settings = ads_settings(tmp_path, {"vk_ads": "RUB"}, pull={"vk_ads": vk_source(server)})
        waits: list[float] = []
        result = pull_source(settings, "vk_ads", START, START, sleep=waits.append)
        assert len(server.hits("/api/v2/statistics/ad_plans/day.json")) == 1
        assert len(server.requests) == 3  # the token, the ad plans, the statistics
    assert result.error == "credentials refused (HTTP 401): renew them in the settings"
    assert "vk-access-0001" not in result.line() and VK_CLIENT_SECRET not in result.line()
    assert (result.files, waits, landed(settings)) == ([], [], [])
    assert read_state(settings.input_dir) == {}
