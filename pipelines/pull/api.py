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
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import tenacity

from pipelines.settings import PullSettings

# httpx logs every request line at INFO, query string (and so Calltouch's token) included
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)


class PullError(Exception):
    """A pull that cannot go on; the message is one line, secrets redacted."""


class AuthError(PullError):
    """The vendor refused the credentials: not retried."""


class TransientError(Exception):
    """A transient refusal; `retry_after` is the vendor's own wait in seconds, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


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
    settings: PullSettings
    secrets: Iterable[str | None] = ()
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = tuple(s for s in self.secrets if s)
        self.client = httpx.Client(timeout=self.settings.timeout_s, follow_redirects=False)

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

    def request(
        self, method: str, url: str, classify: Classify | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The reply, once it is data; retried while transient, within the bounds."""
        classify = classify or check_status
        bounds = self.settings

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            backoff = bounds.backoff_s * 2 ** (state.attempt_number - 1)
            asked = error.retry_after if isinstance(error, TransientError) else None
            return min(max(backoff, asked or 0.0), bounds.max_wait_s)

        def attempt() -> httpx.Response:
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:  # refused, reset, dropped mid-body, timed out
                raise TransientError(f"connection failed ({type(exc).__name__})") from exc
            try:
                classify(response)
            except TransientError as exc:
                if exc.retry_after is not None and exc.retry_after > bounds.max_wait_s:
                    raise PullError(
                        f"{exc}; the vendor asks to wait {exc.retry_after:.0f} s, beyond "
                        f"max_wait_s ({bounds.max_wait_s:.0f} s)"
                    ) from None
                raise
            return response

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientError),
            stop=tenacity.stop_after_attempt(bounds.max_attempts),
            wait=wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except TransientError as exc:
            reason = f"gave up after {bounds.max_attempts} tries: {exc}"
            raise PullError(self.redact(f"{self.source}: {reason}")) from None
        except AuthError as exc:
            raise AuthError(self.redact(f"{self.source}: {exc}")) from None
        except PullError as exc:
            raise PullError(self.redact(f"{self.source}: {exc}")) from None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After") or response.headers.get("retryIn")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def check_status(response: httpx.Response) -> None:
    """HTTP's own meaning: 401/403 credentials, 429 and 5xx transient, other 4xx an error."""
    code = response.status_code
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


def check_token_reply(response: httpx.Response) -> None:
    """An OAuth token endpoint's refusal (RFC 6749 5.2: HTTP 400 or 401 with `error`
    `invalid_grant`, `invalid_client`, `unauthorized_client`) is a credential refused,
    not a request to try again."""
    if response.status_code in (400, 401):
        try:
            error = json.loads(response.content).get("error")
        except (ValueError, AttributeError):
            error = None
        if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise AuthError(f"the token endpoint refused the credentials ({error}): renew them")
    check_status(response)


def bearer_token(api: Api, response: httpx.Response) -> str:
    """The `access_token` of an OAuth token endpoint's reply, from now on redacted too."""
    token = json_of(response, dict).get("access_token")
    if not token:
        raise PullError("the token endpoint answered no access_token")
    api.secrets = (*api.secrets, str(token))  # type: ignore[has-type]
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
    while following:
        reply = api.request("GET", following, params=query, **kwargs)
        document = json_of(reply, dict)
        yield reply, document
        following, query = next_url(document), None
