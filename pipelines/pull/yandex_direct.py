"""Yandex Direct Reports API v5: a campaign-by-day report as TSV, online or offline.

201 (queued) and 202 (still building) mean: repeat the identical request after the
`retryIn` header's seconds (CONNECTORS.md), at most `max_attempts` × 10 times. Errors
arrive as `{"error": {"error_code", …}}`: 9000 (offline queue full), 56 and 506 (limits),
52 and 1000–1002 (server) are transient, 53 is the token, 152 no API points left.
`returnMoneyInMicros` follows the setting `yandex_cost_in_micros`, which the format
reading the report also follows, so the two always agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import httpx

from pipelines.pull.api import (
    Api,
    AuthError,
    PullError,
    TransientError,
    check_status,
    error_object,
    retry_after,
    whole,
)
from pipelines.pull.landing import Page, Window
from pipelines.pull.windows import chunks, last_day
from pipelines.settings import YandexDirectPull

FIELDS = ["Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost"]
TRANSIENT = {9000, 56, 506, 52, 1000, 1001, 1002}
POLLS_PER_ATTEMPT = 10
"""An offline report is polled up to `max_attempts` × this many times."""


def pull(api: Api, conf: YandexDirectPull, window: Window, in_micros: bool) -> Iterator[Page]:
    token = conf.token.get_secret_value() if conf.token else ""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept-Language": "en",
        "processingMode": "auto",
        "returnMoneyInMicros": "true" if in_micros else "false",
    }
    if conf.client_login:
        headers["Client-Login"] = conf.client_login
    stamp = datetime.now().strftime("%Y%m%d%H%M%S%f")
    for part in chunks(window, 31):
        body = {
            "params": {
                "SelectionCriteria": {"DateFrom": str(part.start), "DateTo": str(part.end)},
                "FieldNames": FIELDS,
                # unique per settings: a name reused with other settings is an error
                "ReportName": f"clinic-analytics {part.start} {part.end} {stamp}",
                "ReportType": "CAMPAIGN_PERFORMANCE_REPORT",
                "DateRangeType": "CUSTOM_DATE",
                "Format": "TSV",
                "IncludeVAT": "YES",
            }
        }
        url = f"{conf.base_url}/json/v5/reports"
        for _ in range(api.settings.max_attempts * POLLS_PER_ATTEMPT):
            reply = api.request("POST", url, classify=classify, json=body, headers=headers)
            if reply.status_code == 200:
                break
            # 201 queued or 202 building: the same request again after `retryIn`
            asked = retry_after(reply)
            if asked is not None and asked > api.settings.max_wait_s:
                raise PullError(
                    f"the report is queued for {asked:.0f} s, beyond max_wait_s "
                    f"({api.settings.max_wait_s:.0f} s): try a shorter window"
                )
            api.sleep(api.settings.backoff_s if asked is None else asked)
        else:
            raise PullError(f"the report for {part.start}..{part.end} was not ready in time")
        lines = report_lines(reply.content, part)
        days = last_day((line.split("\t", 1)[0] for line in lines), "%Y-%m-%d", within=part)
        yield Page("ad_spend", reply.content, ".tsv", days)


def classify(response: httpx.Response) -> None:
    if response.status_code in (200, 201, 202):
        return
    error = error_object(response)
    code = whole(error.get("error_code"), 0)
    reason = (
        f"error {code}: {error.get('error_string', '')} {error.get('error_detail', '')}".strip()
    )
    if code == 53:
        raise AuthError(f"token refused ({reason}): renew it in the settings")
    if code in TRANSIENT:
        raise TransientError(reason, retry_after(response))
    if code:
        raise PullError(reason)
    check_status(response)


def report_lines(body: bytes, part: Window) -> list[str]:
    """The report's lines, once it is the TSV asked for: the field names on the first or
    second line (after the report's name), and as many rows as its `Total rows` says."""
    try:
        lines = body.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise PullError(f"the report for {part.start}..{part.end} is not UTF-8 text") from None
    header = next((i for i, line in enumerate(lines[:2]) if line.split("\t") == FIELDS), None)
    if header is None:
        raise PullError(f"the report for {part.start}..{part.end} is not the TSV asked for")
    footer = lines[-1] if lines else ""
    if footer.startswith("Total rows:"):
        said, held = footer.removeprefix("Total rows:").strip(), len(lines) - header - 2
        if said != str(held):
            raise PullError(f"the report says {said} rows and holds {held}: cut short")
    return lines
