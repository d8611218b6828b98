"""Meta Marketing API insights: spend per campaign and day, following `paging.next`.

Throttling arrives as HTTP 400 with `error.code` 4, 17, 613, 80000 or 80004 (not 429);
the header `X-Business-Use-Case-Usage` may say when access returns
(`estimated_time_to_regain_access`, minutes). Code 190 is an expired or revoked token.
The token goes in the `Authorization` header; `paging.next` URLs carry it in their query
as Meta writes them, and are redacted from every message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from pipelines.pull.api import (
    Api,
    AuthError,
    PullError,
    TransientError,
    check_status,
    error_object,
    linked_pages,
    short,
    whole,
)
from pipelines.pull.landing import Page, Window
from pipelines.pull.windows import last_day
from pipelines.settings import MetaAdsPull

THROTTLING = {4, 17, 32, 613, 80000, 80004}
FIELDS = "campaign_id,campaign_name,spend,impressions,clicks,date_start,date_stop,account_currency"


def pull(api: Api, conf: MetaAdsPull, window: Window) -> Iterator[Page]:
    token = conf.access_token.get_secret_value() if conf.access_token else ""
    account = str(conf.ad_account_id or "").removeprefix("act_")
    url = f"{conf.base_url}/{conf.api_version}/act_{account}/insights"
    params: dict[str, object] = {
        "level": "campaign",
        "time_increment": 1,
        "time_range": json.dumps({"since": str(window.start), "until": str(window.end)}),
        "fields": FIELDS,
        "limit": 500,
    }
    headers = {"Authorization": f"Bearer {token}"}
    pages = linked_pages(
        api,
        url,
        params,
        lambda d: d.get("paging", {}).get("next"),
        classify=classify,
        headers=headers,
    )
    for reply, document in pages:
        rows = document.get("data")
        if not isinstance(rows, list):
            raise PullError(f"insights answered no list of data: {short(reply)}")
        dated = (r.get("date_start") for r in rows if isinstance(r, dict))
        yield Page("ad_spend", reply.content, ".json", last_day(dated, "%Y-%m-%d", within=window))


def classify(response: httpx.Response) -> None:
    if response.status_code == 400:
        error = error_object(response)
        code = whole(error.get("code"), 0)
        if code in THROTTLING:
            raise TransientError(f"throttled (error {code})", _regain(response))
        if code == 190:
            raise AuthError(f"token refused (error 190: {error.get('message', '')}): renew it")
        raise PullError(f"HTTP 400: {short(response)}")
    check_status(response)


def _regain(response: httpx.Response) -> float | None:
    """Seconds until access returns, from `X-Business-Use-Case-Usage` (minutes there)."""
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage", "{}"))
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in entries
        ]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes) * 60 if minutes and max(minutes) > 0 else None
