"""The two ways out: e-mail over SMTP, and a Telegram bot (`sendMessage`, `sendPhoto`).

Both retry what is transient within the digest's bounds (`pipelines.pull.api.retrying`:
a doubling wait, the server's own when longer) and fail at once, with one line, on what
is not: refused credentials, a refused address, a chat that blocked the bot. Secrets (the
SMTP password, the bot token, which Telegram puts in the URL) never reach a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import httpx

from pipelines.pull.api import (
    Api,
    AuthError,
    GaveUpError,
    PullError,
    TransientError,
    json_of,
    retrying,
)
from pipelines.settings import DigestSettings

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024


class DeliveryError(Exception):
    """A send that failed (after its retries); one line, no secret. `transient`: the
    server was down or busy, so a later run may succeed (a refusal will not)."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


# --- e-mail -------------------------------------------------------------------------------


def message_id(key: str) -> str:
    """The same Message-ID for the same item and address, so a mail server or client that
    saw it once can tell a duplicate."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:24]}@clinic-analytics>"


def email_message(
    settings: DigestSettings,
    to: tuple[str, str],
    subject: str,
    text: str,
    html: str | None = None,
    images: dict[str, bytes] | None = None,
    attachments: dict[str, tuple[str, bytes]] | None = None,
    key: str = "",
) -> EmailMessage:
    """Plain text, an HTML alternative with `images` inline (`cid:<name>`), and
    `attachments` (file name → (MIME type, bytes))."""
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())  # a channel's name may hold a newline
    message["From"] = settings.smtp.sender
    message["To"] = formataddr(to)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(key or subject + to[1])
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
        body = message.get_payload()[1]  # type: ignore[index]
        for name, png in (images or {}).items():
            body.add_related(png, "image", "png", cid=f"<{name}>", filename=name)
    for name, (mime, data) in (attachments or {}).items():
        main, sub = mime.split("/", 1)
        message.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return message


def send_email(settings: DigestSettings, message: EmailMessage) -> None:
    """One message through the settings' server, retried while the failure is transient
    (a dropped connection, a 4xx reply such as greylisting)."""
    smtp = settings.smtp
    if smtp.host is None:
        raise DeliveryError("no mail server: set digest.smtp.host")

    def attempt() -> None:
        try:
            _deliver(settings, message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            reason = f"address refused ({', '.join(map(str, codes))})"
            if all(400 <= code < 500 for code in codes):
                raise TransientError(reason) from exc
            raise DeliveryError(reason) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"the mail server does not offer what the settings ask ({_text(str(exc))}): "
                "check digest.smtp.security and digest.smtp.username"
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"the mail server refused the login ({exc.smtp_code}): check "
                "digest.smtp.username and CLINIC_DIGEST__SMTP__PASSWORD"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            reason = f"the mail server said {exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                raise TransientError(reason) from exc
            raise DeliveryError(reason) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS
            raise TransientError(f"connection failed ({type(exc).__name__})") from exc

    try:
        retrying(settings, time.sleep)(attempt)
    except TransientError as exc:
        reason = f"gave up after {settings.max_attempts} tries: {exc}"
        raise DeliveryError(reason, transient=True) from None


def _deliver(settings: DigestSettings, message: EmailMessage) -> None:
    """One SMTP exchange within `timeout_s` from connecting to the accepted message: the
    socket's timeout bounds each read, so a server dripping a line a second (a tarpit)
    would otherwise hold the digest for ever; past the deadline the socket is shut.

    Once the server has accepted the message (250 after DATA), it is sent: a refused or
    broken QUIT after it is not a failure (retrying would deliver it twice)."""
    smtp = settings.smtp
    context = ssl.create_default_context()
    server: smtplib.SMTP = (
        smtplib.SMTP_SSL(context=context, timeout=settings.timeout_s)
        if smtp.security == "ssl"
        else smtplib.SMTP(timeout=settings.timeout_s)
    )
    deadline = threading.Timer(settings.timeout_s, _shut, args=(server,))
    deadline.start()
    try:
        server.connect(smtp.host, smtp.port)  # type: ignore[arg-type]
        if smtp.security == "starttls":
            server.starttls(context=context)
        if smtp.username:
            password = smtp.password.get_secret_value() if smtp.password else ""
            server.login(smtp.username, password)
        server.send_message(message)
    finally:
        deadline.cancel()
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):
            server.close()


def _shut(server: smtplib.SMTP) -> None:
    """Past the exchange's deadline: the blocked read fails at once (OSError, retried)."""
    sock = server.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:200]


# --- Telegram -----------------------------------------------------------------------------


def telegram_api(settings: DigestSettings) -> Api:
    token = settings.telegram.bot_token.get_secret_value() if settings.telegram.bot_token else None
    return Api("telegram", settings, secrets=[token])


def check_telegram(response: httpx.Response) -> None:
    """The Bot API's answer: `{"ok": true, "result": …}`, or `ok: false` with
    `error_code`, `description` and, when throttled, `parameters.retry_after`."""
    code = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if code == 200 and isinstance(body, dict) and body.get("ok") is True:
        return
    if code == 200:
        raise PullError("HTTP 200 that is not a Bot API answer (check telegram.api_base)")
    description = body.get("description") if isinstance(body, dict) else None
    reason = f"HTTP {code}" + (f": {_text(str(description))}" if description else "")
    parameters = body.get("parameters") if isinstance(body, dict) else None
    wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if code == 429 or code >= 500:
        seconds = float(wait) if isinstance(wait, int | float) and wait >= 0 else None
        raise TransientError(reason, seconds)
    if code in (401, 404):
        raise AuthError(f"the bot token was refused ({reason}): check the bot token")
    raise PullError(reason)


def telegram_text(api: Api, settings: DigestSettings, chat_id: str, text: str) -> None:
    _telegram(
        api,
        settings,
        "sendMessage",
        json={
            "chat_id": chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        },
    )


def telegram_photo(
    api: Api, settings: DigestSettings, chat_id: str, png: bytes, name: str, caption: str
) -> None:
    _telegram(
        api,
        settings,
        "sendPhoto",
        data={"chat_id": chat_id, "caption": caption[:TELEGRAM_CAPTION_LIMIT]},
        files={"photo": (name, png, "image/png")},
    )


def _telegram(api: Api, settings: DigestSettings, method: str, **kwargs: object) -> None:
    if settings.telegram.bot_token is None:
        raise DeliveryError("no Telegram bot: set CLINIC_DIGEST__TELEGRAM__BOT_TOKEN")
    token = settings.telegram.bot_token.get_secret_value()
    url = f"{settings.telegram.api_base.rstrip('/')}/bot{token}/{method}"
    try:
        json_of(api.request("POST", url, check_telegram, **kwargs))
    except PullError as exc:  # AuthError too: one line, the token redacted
        raise DeliveryError(str(exc), transient=isinstance(exc, GaveUpError)) from None


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Telegram's messages hold at most 4096 characters: split between lines (a line is
    never cut, so no HTML tag is; a single longer line is cut hard)."""
    parts: list[str] = []
    current = ""
    for whole in text.split("\n"):
        pieces = [whole[i : i + limit] for i in range(0, len(whole), limit)] or [""]
        for line in pieces:
            candidate = f"{current}\n{line}" if current else line
            if len(candidate) > limit:
                parts.append(current)
                candidate = line
            current = candidate
    return [*parts, current] if current else parts
