"""Calltouch: the calls diary (paged to `page == pageTotal`) and the leads (заявки) journal,
landed apart in `requests/`: a web form is not a call.

Dates: the calls diary takes `dd/mm/yyyy`, the leads journal `mm/dd/yyyy` (CONNECTORS.md:
two formats, not one parser). The token (`clientApiId`) travels in the query string, as
Calltouch documents; it is redacted from every message.
"""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.pull.api import Api, PullError, json_of, short, whole
from pipelines.pull.landing import Page, Window
from pipelines.pull.windows import chunks, last_day
from pipelines.settings import CalltouchPull


def pull(api: Api, conf: CalltouchPull, window: Window) -> Iterator[Page]:
    token = conf.token.get_secret_value() if conf.token else ""
    base = f"{conf.base_url}/calls-service/RestAPI"
    for part in chunks(window, conf.max_days_per_request):
        page = 1
        while True:
            reply = api.request(
                "GET",
                f"{base}/{conf.site_id}/calls-diary/calls",
                params={
                    "clientApiId": token,
                    "dateFrom": part.start.strftime("%d/%m/%Y"),
                    "dateTo": part.end.strftime("%d/%m/%Y"),
                    "page": page,
                    "limit": conf.page_limit,
                    "withCallTags": "true",
                },
            )
            document = json_of(reply)
            # older answers are a bare list, newer the paged object (FORMATS.md)
            records = document if isinstance(document, list) else document.get("records")
            if not isinstance(records, list):
                raise PullError(f"the calls diary answered no list of records: {short(reply)}")
            dated = (r.get("date") for r in records if isinstance(r, dict))
            days = last_day(dated, "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", within=part)
            yield Page("calls", reply.content, ".json", days)
            total = 1 if isinstance(document, list) else whole(document.get("pageTotal"), 1)
            if page >= total:
                break
            page += 1
            api.count_page()
        reply = api.request(
            "GET",
            f"{base}/requests",
            params={
                "clientApiId": token,
                "siteId": conf.site_id,
                "dateFrom": part.start.strftime("%m/%d/%Y"),
                "dateTo": part.end.strftime("%m/%d/%Y"),
            },
        )
        json_of(reply, list)
        # the leads are kept apart and do not make the calls diary fresh: no last day
        yield Page("requests", reply.content, ".json", None, kind="requests")
