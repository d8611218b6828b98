"""One HTTP client for every vendor: bounded retries of what is transient, one clear line
for what is not, and secrets kept out of every message.

Transient: HTTP 429 and 5xx, a vendor's own throttling codes (Meta's HTTP 400 with
codes 4/17/613/80000/80004, Yandex's 9000/56/506), a dropped or refused connection.
Those are retried with a doubling wait (`backoff_s`), or the vendor's own `Retry-After`
when longer, at most `max_attempts` tries; a wait the vendor asks for beyond `max_wait_s`
is a failure, not a stall. An authentication failure is never retried: a token that was
refused once is refused again, and a retry storm can lock the account.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import httpx
import tenacity

from pipelines.settings import RetryBounds

# httpx logs every request line at INFO, query string (and so Calltouch's token) included
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


class PullError(Exception):
    """A pull that cannot go on; the message is one line, secrets redacted."""


class AuthError(PullError):
    """The vendor refused the credentials: not retried."""


class GaveUpError(PullError):
    """Transient refusals past `max_attempts`: worth trying again later."""


class TransientError(Exception):
    """A transient refusal; `retry_after` is the vendor's own wait in seconds, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


MIN_SECRET = 4
Classify = Callable[[httpx.Response], None]
"""Raises `TransientError`, `AuthError` or `PullError` for a reply that is not data."""

SECRET_PARAMS = re.compile(
    r"(?i)((?:access_token|clientApiId|client_secret|refresh_token|token|key)=)[^&\s\"']+"
)


@dataclass
class Api:
    """A source's client: the settings' bounds, its secrets (redacted from every message)
    and an `httpx.Client`."""

    source: str
    settings: RetryBounds
    secrets: Iterable[str | None] = ()
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client = field(init=False)

    pages: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        given, self.secrets = tuple(self.secrets), ()
        for secret in given:
            self.add_secret(secret)
        self.client = httpx.Client(timeout=self.settings.timeout_s, follow_redirects=False)

    def add_secret(self, secret: str | None) -> None:
        """Redact `secret` from now on, as written and as a URL writes it (`+`, `%2F`). One
        of fewer than MIN_SECRET characters is no secret, and replacing it would mangle
        every line it occurs in ("gave up after 1 trie***")."""
        if secret and len(secret) >= MIN_SECRET:
            forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
            # longest first: a form that holds another is replaced whole
            self.secrets = tuple(sorted({*self.secrets, *forms}, key=len, reverse=True))

    def count_page(self) -> None:
        """One more page of a paged answer; past `max_pages` the vendor is paging forever."""
        self.pages += 1
        if self.pages > self.settings.max_pages:
            raise PullError(f"more than {self.settings.max_pages} pages (max_pages)")

    def close(self) -> None:
        self.client.close()

    def redact(self, text: str) -> str:
        for secret in self.secrets:  # type: ignore[union-attr]
            text = text.replace(secret, "***")
        return SECRET_PARAMS.sub(r"\1***", text)

    def redact_bytes(self, body: bytes) -> bytes:
        for secret in self.secrets:  # type: ignore[union-attr]
            body = body.replace(secret.encode(), b"***")
        return body

    def _fetch(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The whole reply within `timeout_s` from the first byte sent: httpx's timeout
        bounds each read, so a server dripping a byte a second would otherwise hold the
        pull for ever."""
        deadline = time.monotonic() + self.settings.timeout_s
        with self.client.stream(method, url, **kwargs) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the whole reply took longer than timeout_s")
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=bytes(body),
                request=response.request,
            )

    def request(
        self, method: str, url: str, classify: Classify | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The reply, once it is data; retried while transient, within the bounds."""
        classify = classify or check_status
        bounds = self.settings

        def attempt() -> httpx.Response:
            try:
                response = self._fetch(method, url, **kwargs)
            except httpx.TransportError as exc:  # refused, reset, dropped mid-body, timed out
                raise TransientError(f"connection failed ({type(exc).__name__})") from exc
            try:
                classify(response)
            except TransientError as exc:
                if exc.retry_after is not None and exc.retry_after > bounds.max_wait_s:
                    raise GaveUpError(
                        f"{exc}; the vendor asks to wait {exc.retry_after:.0f} s, beyond "
                        f"max_wait_s ({bounds.max_wait_s:.0f} s)"
                    ) from None
                raise
            return response

        try:
            return retrying(bounds, self.sleep)(attempt)
        except TransientError as exc:
            reason = f"gave up after {bounds.max_attempts} tries: {exc}"
            raise GaveUpError(self.redact(f"{self.source}: {reason}")) from None
        except AuthError as exc:
            raise AuthError(self.redact(f"{self.source}: {exc}")) from None
        except PullError as exc:  # its own kind (GaveUpError: worth trying later) kept
            raise type(exc)(self.redact(f"{self.source}: {exc}")) from None


def retrying(bounds: RetryBounds, sleep: Callable[[float], None]) -> tenacity.Retrying:
    """Tries while a `TransientError` is raised, within `bounds`: a doubling wait from
    `backoff_s`, or the server's own wait when longer, never above `max_wait_s`."""

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        backoff = bounds.backoff_s * 2 ** (state.attempt_number - 1)
        asked = error.retry_after if isinstance(error, TransientError) else None
        return min(max(backoff, asked or 0.0), bounds.max_wait_s)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        stop=tenacity.stop_after_attempt(bounds.max_attempts),
        wait=wait,
        sleep=sleep,
        reraise=True,
    )


def retry_after(response: httpx.Response) -> float | None:
    """The vendor's own wait in seconds; None when it gave none or nonsense (negative,
    not a number): the doubling wait applies then."""
    value = response.headers.get("Retry-After") or response.headers.get("retryIn")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and not math.isnan(seconds) and seconds >= 0 else None


def check_status(response: httpx.Response) -> None:
    """HTTP's own meaning: 401/403 credentials, 429 and 5xx transient, other 4xx an error."""
    code = response.status_code
    if 300 <= code < 400:
        raise PullError(f"HTTP {code}: a redirect, not an answer (check base_url)")
    if code in (401, 403):
        raise AuthError(f"credentials refused (HTTP {code}): renew them in the settings")
    if code == 429 or code >= 500:
        raise TransientError(f"HTTP {code}", retry_after(response))
    if code >= 400:
        raise PullError(f"HTTP {code}: {short(response)}")


def short(response: httpx.Response) -> str:
    """The reply's first 200 characters on one line: enough to say what went wrong."""
    return " ".join(response.text.split())[:200]


def json_of(response: httpx.Response, shape: type = object) -> Any:
    """The reply's JSON, a `dict` or a `list` when `shape` says which: anything else is
    one line naming what arrived instead, not a trace from deep in a connector."""
    try:
        document = json.loads(response.content)
    except ValueError as exc:
        raise PullError(f"the reply is not JSON ({exc})") from None
    if not isinstance(document, shape):
        raise PullError(f"the reply is JSON but not a {shape.__name__}: {short(response)}")
    return document


def error_member(response: httpx.Response) -> object:
    """The `error` member of a JSON object reply, where vendors put their codes (Meta's
    and Yandex's object, OAuth's string); None when the reply has none or is not JSON."""
    try:
        document = json.loads(response.content)
    except ValueError:
        return None
    return document.get("error") if isinstance(document, dict) else None


def error_object(response: httpx.Response) -> dict:
    """`error_member` when it is an object; else an empty one."""
    error = error_member(response)
    return error if isinstance(error, dict) else {}


def check_token_reply(response: httpx.Response) -> None:
    """An OAuth token endpoint's refusal (RFC 6749 5.2: HTTP 400 or 401 with `error`
    `invalid_grant`, `invalid_client`, `unauthorized_client`) is a credential refused,
    not a request to try again."""
    if response.status_code in (400, 401):
        error = error_member(response)
        if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise AuthError(f"the token endpoint refused the credentials ({error}): renew them")
    check_status(response)


def bearer_token(api: Api, response: httpx.Response) -> str:
    """The `access_token` of an OAuth token endpoint's reply, from now on redacted too."""
    token = json_of(response, dict).get("access_token")
    if not token:
        raise PullError("the token endpoint answered no access_token")
    api.add_secret(str(token))
    return str(token)


def linked_pages(
    api: Api,
    url: str,
    params: dict[str, object],
    next_url: Callable[[dict], str | None],
    **kwargs: Any,
) -> Iterator[tuple[httpx.Response, dict]]:
    """Pages where each reply names the next one by a whole URL, query included
    (CallRail's `next_page`, Meta's `paging.next`), followed as given to the last."""
    following: str | None = url
    query: dict[str, object] | None = params
    origin = urlsplit(url)[:2]
    seen: set[str] = set()
    while following:
        # the credentials go with each request: never to another host than the vendor's
        if urlsplit(following)[:2] != origin:
            raise PullError(f"the next page is on another host ({urlsplit(following).netloc})")
        if following in seen:
            raise PullError("the next page is one already read: the vendor pages in a circle")
        seen.add(following)
        reply = api.request("GET", following, params=query, **kwargs)
        document = json_of(reply, dict)
        yield reply, document
        following, query = next_url(document), None
        if following is not None and not isinstance(following, str):
            raise PullError("the next page is not a URL")
        if following:
            api.count_page()


def whole(value: object, default: int) -> int:
    """A count the vendor wrote (`pageTotal`, `count`), as an int: "3", 3.0, "3.0" are
    3; anything else is a PullError naming it, not a trace."""
    if value is None or value == "":
        return default
    try:
        number = float(str(value))
    except ValueError:
        raise PullError(f"a count that is not a number: {str(value)[:40]!r}") from None
    if not number.is_integer() or number < 0:
        raise PullError(f"a count that is not a whole number: {str(value)[:40]!r}")
    return int(number)
