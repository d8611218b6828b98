"""CallRail API v3 `calls.json`: relative pagination, followed to `has_next_page` false.

`source`, `medium`, `campaign`, `tags`, `first_call`, `agent_email` come only when
named in `fields=` (CONNECTORS.md), so the pull names them (setting `pull.callrail.fields`).
429 over the hourly limit is transient; CallRail documents no `Retry-After`, so the
doubling wait applies.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.pull.api import Api, PullError, linked_pages, short
from pipelines.pull.landing import Page, Window
from pipelines.pull.windows import last_day
from pipelines.settings import CallrailPull


def pull(api: Api, conf: CallrailPull, window: Window) -> Iterator[Page]:
    key = conf.api_key.get_secret_value() if conf.api_key else ""
    headers = {"Authorization": f"Token token={key}"}
    params: dict[str, object] = {
        "start_date": str(window.start),
        "end_date": str(window.end),
        "per_page": conf.per_page,
        "fields": ",".join(conf.fields),
        "relative_pagination": "true",
    }
    url = f"{conf.base_url}/v3/a/{conf.account_id}/calls.json"
    for reply, document in linked_pages(api, url, params, _next, headers=headers):
        calls = document.get("calls")
        if not isinstance(calls, list):
            raise PullError(f"calls.json answered no list of calls: {short(reply)}")
        dated = (c.get("start_time") for c in calls if isinstance(c, dict))
        yield Page("calls", reply.content, ".json", last_day(dated, "%Y-%m-%d", within=window))


def _next(document: dict) -> str | None:
    if not document.get("has_next_page"):
        return None
    following = document.get("next_page")
    if not isinstance(following, str) or not following:
        raise PullError("calls.json says it has a next page but names none")
    return following
