"""Google Ads API `googleAds:searchStream` over REST.

The official Python client (`google-ads`) speaks gRPC only, so this is a REST client of
the same method (CONNECTORS.md): `POST …/customers/{id}/googleAds:searchStream` with a GAQL
query, answered by a JSON array of batches whose rows are nested and camelCase, with
int64 as strings; the JSON reader flattens them to GAQL's own names
(`metrics.costMicros` → `metrics_cost_micros`), which `google_ads_api.yaml` maps. An
access token is used as given, or obtained from a refresh token at `token_url`.
`RESOURCE_EXHAUSTED` (HTTP 429) is transient, with the error's `retryDelay` when given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from pipelines.pull.api import (
    Api,
    PullError,
    TransientError,
    bearer_token,
    check_status,
    check_token_reply,
    json_of,
)
from pipelines.pull.landing import Page, Window
from pipelines.pull.windows import chunks, last_day
from pipelines.settings import GoogleAdsPull

QUERY = (
    "SELECT segments.date, campaign.id, campaign.name, customer.currency_code, "
    "metrics.cost_micros, metrics.clicks, metrics.impressions FROM campaign "
    "WHERE segments.date BETWEEN '{start}' AND '{end}'"
)


def pull(api: Api, conf: GoogleAdsPull, window: Window) -> Iterator[Page]:
    headers = {
        "Authorization": f"Bearer {access_token(api, conf)}",
        "developer-token": conf.developer_token.get_secret_value() if conf.developer_token else "",
    }
    if conf.login_customer_id:
        headers["login-customer-id"] = conf.login_customer_id.replace("-", "")
    customer = (conf.customer_id or "").replace("-", "")
    url = f"{conf.base_url}/{conf.api_version}/customers/{customer}/googleAds:searchStream"
    for part in chunks(window, 31):
        query = QUERY.format(start=part.start, end=part.end)
        reply = api.request("POST", url, classify=classify, json={"query": query}, headers=headers)
        batches = json_of(reply, list)
        rows = (r for b in batches if isinstance(b, dict) for r in b.get("results", []))
        days = last_day((r.get("segments", {}).get("date") for r in rows), "%Y-%m-%d", within=part)
        yield Page("ad_spend", reply.content, ".json", days)


def access_token(api: Api, conf: GoogleAdsPull) -> str:
    if conf.access_token:
        return conf.access_token.get_secret_value()
    reply = api.request(
        "POST",
        conf.token_url,
        classify=check_token_reply,
        data={
            "grant_type": "refresh_token",
            "refresh_token": conf.refresh_token.get_secret_value() if conf.refresh_token else "",
            "client_id": conf.client_id or "",
            "client_secret": conf.client_secret.get_secret_value() if conf.client_secret else "",
        },
    )
    return bearer_token(api, reply)


TRANSIENT_STATUSES = {"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"}
"""A stream's error element with one of these statuses is worth the same request again."""


def classify(response: httpx.Response) -> None:
    if response.status_code == 200:
        # a stream that fails midway still answers 200, its last element an `error`: the
        # rows before it are not the window's whole spend, so nothing of it may land
        try:
            document = json.loads(response.content)
        except ValueError:
            return  # json_of names it
        errors = (
            [b["error"] for b in document if isinstance(b, dict) and "error" in b]
            if isinstance(document, list)
            else []
        )
        if errors:
            status = str(errors[0].get("status", ""))
            reason = f"the stream broke off: {status} {errors[0].get('message', '')}".strip()
            if status in TRANSIENT_STATUSES:
                raise TransientError(reason)
            raise PullError(reason)
        return
    if response.status_code == 429:
        delay = None
        try:
            document = json.loads(response.content)
            document = document[0] if isinstance(document, list) else document
            for detail in document["error"].get("details", []):
                for error in detail.get("errors", []):
                    text = str(
                        error.get("details", {}).get("quotaErrorDetails", {}).get("retryDelay", "")
                    )
                    delay = float(text.rstrip("s")) if text else delay
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            delay = None
        raise TransientError("RESOURCE_EXHAUSTED (HTTP 429)", delay)
    check_status(response)
