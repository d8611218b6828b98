"""A week's digest, written to a folder or sent to every recipient, and the alerts a build
finds: the one path the CLI (`clinic-analytics digest`), the build and Dagster's schedule
and sensor all take.

Every send goes through the ledger (pipelines/digest/ledger.py): what was sent for a week
is never sent again, what failed is retried on the next run and reported on this one.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import duckdb

from pipelines.digest.alerts import Alert, find_alerts
from pipelines.digest.content import Digest, DigestError, read_digest
from pipelines.digest.ledger import Key, Ledger
from pipelines.digest.render import Rendered, render, to_html, to_pdf, to_telegram, to_text
from pipelines.digest.send import (
    DeliveryError,
    email_message,
    send_email,
    split_text,
    telegram_api,
    telegram_photo,
    telegram_text,
)
from pipelines.digest.week import alert_week, monday
from pipelines.settings import DigestSettings, Recipient, Settings


@dataclass
class Report:
    """One line per send (or skip), each with whether it failed; `retry` when a failure
    was the server being down or busy (a later run may succeed; a refusal will not)."""

    lines: list[tuple[str, bool]] = field(default_factory=list)
    retry: bool = False

    def add(self, line: str, *, failed: bool = False, retry: bool = False) -> None:
        self.lines.append((line, failed))
        self.retry |= retry

    @property
    def failed(self) -> bool:
        return any(failed for _, failed in self.lines)


@contextmanager
def warehouse(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published warehouse, read-only; one that cannot be read (damaged, or built by an
    older version without a table or column the digest reads) is one line."""
    path = settings.warehouse_path
    if not path.is_file():
        raise DigestError(f"no warehouse at {path}: run `clinic-analytics build` first")
    try:
        with duckdb.connect(str(path), read_only=True) as conn:
            yield conn
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DigestError(
            f"cannot read the warehouse {path} ({first}): rebuild it with `clinic-analytics build`"
        ) from None


def read_week(settings: Settings, week: date) -> Digest:
    with warehouse(settings) as conn:
        return read_digest(conn, settings, week)


def rendered_digest(settings: Settings, week: date) -> Rendered:
    return render(read_week(settings, week), settings.digest.dashboard_url)


SAMPLE_RECIPIENT = ("Manager", "manager@clinic.example")
"""The To of a dry run's `.eml` (RFC 2606's example domain: it reaches nobody)."""


def write_digest(settings: Settings, week: date, out: Path) -> list[Path]:
    """The e-mail (`.eml`, as it would be sent), its HTML with the charts beside it, the
    PDF, the Telegram text and the charts, for a person to look at; nothing is sent."""
    rendered = rendered_digest(settings, week)
    week = monday(week)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"digest-{week}"
    pdf = to_pdf(rendered)
    files = {
        f"{stem}.html": to_html(rendered, inline=False).encode(),
        f"{stem}.pdf": pdf,
        f"{stem}-telegram.html": to_telegram(rendered).encode(),
        f"{stem}.eml": _digest_email(settings, rendered, pdf, week, SAMPLE_RECIPIENT).as_bytes(),
        **{chart.name: chart.png for chart in rendered.charts},
    }
    written = []
    for name, data in files.items():
        path = out / name
        path.write_bytes(data)
        written.append(path)
    return written


def _digest_email(
    settings: Settings, rendered: Rendered, pdf: bytes, week: date, to: tuple[str, str]
) -> EmailMessage:
    return email_message(
        settings.digest,
        to,
        rendered.subject,
        to_text(rendered),
        to_html(rendered, inline=True),
        {chart.name: chart.png for chart in rendered.charts},
        {f"digest-{week}.pdf": ("application/pdf", pdf)},
        key=f"digest:{week}:{to[1]}",
    )


def send_digest(settings: Settings, week: date, *, resend_unconfirmed: bool = False) -> Report:
    """The week's digest to every recipient, by each of their channels, once.
    `resend_unconfirmed`: also the parts a stopped run left unconfirmed (after a person
    checked that they did not arrive)."""
    week = monday(week)
    digest = read_week(settings, week)
    rendered = render(digest, settings.digest.dashboard_url)
    pdf = to_pdf(rendered)
    report = Report()
    alert_period = alert_week(settings)
    with Ledger(settings.resolved_ledger_path) as ledger:
        for recipient in settings.digest.recipients:
            for address, parts in _digest_parts(settings, recipient, rendered, pdf, week):
                sent = _send_parts(
                    ledger,
                    report,
                    str(week),
                    "digest",
                    address,
                    parts,
                    recipient,
                    resend_unconfirmed,
                )
                if sent:
                    for alert in digest.alerts:  # the digest carried them: not sent again
                        ledger.record_sent(Key(alert_period, alert.key, address))
    if not report.lines:
        report.add("no recipient: set [[digest.recipients]] in the settings file")
    elif settings.digest.dashboard_url == DigestSettings.model_fields["dashboard_url"].default:
        report.add(
            f"note: the digest links to {settings.digest.dashboard_url}, which opens only on "
            "this machine: set digest.dashboard_url to the address its readers use"
        )
    return report


Part = Callable[[], None]
UNCONFIRMED = (
    "is being sent by another run, or a run stopped while sending it: not sent again. If "
    "no other run is going and the recipient did not get it: --resend-unconfirmed"
)


def _digest_parts(
    settings: Settings, recipient: Recipient, rendered: Rendered, pdf: bytes, week: date
) -> Iterator[tuple[str, list[Part]]]:
    digest = settings.digest
    if recipient.email:
        to = (recipient.name, recipient.email)
        message = _digest_email(settings, rendered, pdf, week, to)
        yield f"email:{recipient.email}", [lambda: send_email(digest, message)]
    if recipient.telegram_chat_id:
        chat = recipient.telegram_chat_id
        api = telegram_api(digest)
        texts = split_text(to_telegram(rendered))
        yield (
            f"telegram:{chat}",
            [
                *(lambda text=text: telegram_text(api, digest, chat, text) for text in texts),
                *(
                    lambda c=c: telegram_photo(api, digest, chat, c.png, c.name, c.title)
                    for c in rendered.charts
                ),
            ],
        )


def _send_parts(
    ledger: Ledger,
    report: Report,
    period: str,
    item: str,
    address: str,
    parts: list[Part],
    recipient: Recipient,
    resend_unconfirmed: bool,
) -> bool:
    """Each part not yet sent, in order; True when every part has gone out. A failed part
    stops the rest (a chart without its text reads as nonsense) and is retried next run."""
    who = f"{item} {period} to {recipient.name} ({address})"
    sent_now = 0
    for index, part in enumerate(parts):
        key = Key(period, item, address, index)
        status = ledger.status(key)
        if status == "sent":
            continue
        if not ledger.claim(key, take_unconfirmed=resend_unconfirmed):
            report.add(f"{who}: part {index + 1} {UNCONFIRMED}", failed=True)
            return False
        failure, retry = _attempt(ledger, [key], part)
        if failure:
            report.add(f"{who}: not sent: {failure}", failed=True, retry=retry)
            return False
        sent_now += 1
    report.add(f"{who}: " + ("sent" if sent_now else "already sent, not sent again"))
    return True


def send_alerts(settings: Settings) -> Report:
    """The alerts the warehouse shows now, to every recipient who takes alerts, each at
    most once a week (the ISO week of today, clinic time)."""
    report = Report()
    with warehouse(settings) as conn:
        alerts = find_alerts(conn, settings)
    if not alerts:
        report.add("no alert")
        return report
    if not settings.digest.recipients:
        report.add(f"{len(alerts)} alert(s), no recipient: set [[digest.recipients]]")
        return report
    period = alert_week(settings)
    digest = settings.digest
    with Ledger(settings.resolved_ledger_path) as ledger:
        for recipient in digest.recipients:
            if not recipient.alerts:
                continue
            for address, send in _alert_channels(settings, recipient):
                new = [a for a in alerts if ledger.status(Key(period, a.key, address)) != "sent"]
                if new:
                    _send_alerts(ledger, report, period, address, new, send, recipient)
                else:
                    report.add(f"alerts to {recipient.name} ({address}): already sent this week")
    return report


def _alert_channels(
    settings: Settings, recipient: Recipient
) -> Iterator[tuple[str, Callable[[list[Alert]], None]]]:
    digest = settings.digest
    link = digest.dashboard_url
    if recipient.email:
        to = (recipient.name, recipient.email)

        def by_email(alerts: list[Alert]) -> None:
            text = "\n\n".join(a.message for a in alerts) + f"\n\nDashboard: {link}"
            subject = f"Clinic alert: {alerts[0].message[:80]}" + (
                f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else ""
            )
            keys = ",".join(a.key for a in alerts)
            send_email(digest, email_message(digest, to, subject, text, key=keys))

        yield f"email:{recipient.email}", by_email
    if recipient.telegram_chat_id:
        chat = recipient.telegram_chat_id
        api = telegram_api(digest)

        def by_telegram(alerts: list[Alert]) -> None:
            lines = [f"⚠️ {html.escape(a.message)}" for a in alerts]
            footer = f"<a href='{html.escape(link)}'>Dashboard</a>"
            for part in split_text("\n".join(["<b>Clinic alert</b>", *lines, footer])):
                telegram_text(api, digest, chat, part)

        yield f"telegram:{chat}", by_telegram


def _send_alerts(
    ledger: Ledger,
    report: Report,
    period: str,
    address: str,
    alerts: list[Alert],
    send: Callable[[list[Alert]], None],
    recipient: Recipient,
) -> None:
    """The new alerts in one message; each alert's row in the ledger says whether it went."""
    keys = [Key(period, a.key, address) for a in alerts]
    claimed = [key for key in keys if ledger.claim(key)]
    if len(claimed) < len(keys):
        report.add(f"some alerts to {recipient.name} ({address}) {UNCONFIRMED}", failed=True)
    mine = [a for a, key in zip(alerts, keys, strict=True) if key in claimed]
    if not mine:
        return
    failure, retry = _attempt(ledger, claimed, lambda: send(mine))
    if failure:
        line = f"alerts to {recipient.name} ({address}): not sent: {failure}"
        report.add(line, failed=True, retry=retry)
        return
    report.add(f"{len(mine)} alert(s) to {recipient.name} ({address}): sent")


def _attempt(ledger: Ledger, claimed: list[Key], send: Part) -> tuple[str | None, bool]:
    """One send of what `claimed` stands for, and every claimed row marked after it: `sent`,
    or `failed` with the reason. Returns the reason (None when sent) and whether a later
    try may succeed. A bug in a send is failed too: it must not leave rows claimed for ever
    (and its message, which may hold a setting's value, is not shown)."""
    try:
        send()
    except DeliveryError as exc:
        reason, retry = str(exc), exc.transient
    except Exception as exc:
        reason, retry = f"unexpected {type(exc).__name__} (a bug: please report it)", False
    else:
        for key in claimed:
            ledger.mark(key, "sent")
        return None, False
    for key in claimed:
        ledger.mark(key, "failed", reason)
    return reason, retry
