"""The Monday digest and the alerts: planted troubles found, figures identical to the
dashboard's, and delivery against a real SMTP server (aiosmtpd) and a Telegram Bot API
server on loopback, with the ledger that sends each week once."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from dashboards import fmt
from pipelines.digest.content import DigestError, read_digest
from pipelines.digest.ledger import Key, Ledger
from pipelines.digest.render import render
from pipelines.digest.run import send_alerts, send_digest, write_digest
from pipelines.digest.week import digest_week_of, monday
from pipelines.models.doctor_intervals import nps_draws
from pipelines.settings import Settings, load_settings
from tests.clinic import SECRET, build_clinic, call, phone
from tests.vendors import Reply, TelegramBot, VendorServer

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "streamlit_app.py")
WEEK = date(2025, 3, 24)
AS_OF = date(2025, 3, 30)
TOKEN = "123456:AAHsecretTOKENvalue"
CHAT = "424242"


def _day(day: date, hour: int = 10) -> str:
    return f"{day} {hour:02d}:00:00"


def _planted_clinic(root: Path) -> Path:
    """A clinic whose last week (24-30 Mar 2025) breaks every alert rule, built by the
    same model graph as every build. Derivation of each planted figure:

    * Yandex Direct and Google Ads both spend 1,000 a day from 20 Jan to 30 Mar.
    * Yandex: one lead a day (a new phone, answered, 60 s) up to 25 Mar, then no call on
      26-30 Mar: 5 days of spend (5,000) with zero calls -> `zero_calls`.
    * Google: three leads a day up to 23 Mar; on 24-30 Mar two leads (24 and 27 Mar) and 3
      unanswered calls a day from new phones (never called back: lost).
    * Cost per lead, last 7 days: 7,000 / 2 leads = 3,500 on both. Google's 8 windows
      before: 7,000 / 21 = 333.33, so 10.5x its median, and even the low end of the 90%
      range, 7,000 / 6.2958 (the Poisson rate two leads allow) = 1,112 > 1.5 x 333 ->
      `cost_per_lead`. Yandex's: 7,000 / 7 = 1,000, 3.5x, but its low end 1,112 is below
      1,500: two leads cannot tell -> no alert.
    * Calls, last 7 days: Yandex 2 + Google 2 + 21 missed = 25; missed 21 / 25 = 84.0%
      above 20% with at least 20 calls -> `missed_rate`, 21 lost.
    * 3 call rows with an impossible date among 280 read (Yandex 65 calls, 20 Jan-25 Mar;
      Google 3 x 63 + 2 leads and 21 missed; the 3): 1.1% > 1% refused -> `quarantine`.
    * Calltouch configured and never pulled -> `stale_source`.
    * Surveys: Анна Смирнова (D1) scored 10 by 30 patients in January and 2 by 10 patients
      in March; Игорь Волков (D2) 9 by 20 and then by 5: only D1 moved.
    """
    calls, spend, patients, visits, surveys = [], [], [], [], []
    n = 0
    day = date(2025, 1, 20)
    while day <= AS_OF:
        for source in ("yandex", "google"):
            campaign = "brand" if source == "yandex" else "x"  # "Google Ads", not its Brand
            spend.append((str(day), source, "cpc", campaign, "1000.00", "RUB", 10, 100))
        if day <= date(2025, 3, 25):
            n += 1
            calls.append(call(f"Y{n}", _day(day), phone(n)))
        for k in range(3 if day < WEEK else 1 if day in (WEEK, date(2025, 3, 27)) else 0):
            n += 1
            calls.append(call(f"G{n}", _day(day, 9 + k), phone(n), source="google", campaign="x"))
        if day >= WEEK:
            for k in range(3):
                n += 1
                calls.append(
                    call(
                        f"M{n}",
                        _day(day, 12 + k),
                        phone(n),
                        source="google",
                        campaign="x",
                        answered=False,
                    )
                )
        day += timedelta(days=1)
    for i in range(3):
        calls.append(call(f"BAD{i}", "2025-13-45 10:00:00", phone(900 + i)))
    plan = [("D1", 10, date(2025, 1, 6), 30), ("D1", 2, date(2025, 3, 3), 10)]
    plan += [("D2", 9, date(2025, 1, 6), 20), ("D2", 9, date(2025, 3, 3), 5)]
    for doctor, score, first, count in plan:
        for i in range(count):
            key = f"{doctor}_{first:%m%d}_{i}"
            at = first + timedelta(days=i % 20)
            patients.append((f"P{key}", phone(600 + len(patients)), "F", "1990-01-01", "", "да"))
            visits.append(
                (f"V{key}", f"P{key}", doctor, "B1", _day(at), "Осмотр", "completed", 1000)
            )
            surveys.append((f"V{key}", score, _day(at + timedelta(days=1))))
    conn = build_clinic(
        root,
        calls=calls,
        spend=spend,
        patients=patients,
        visits=visits,
        surveys=surveys,
        as_of=AS_OF,
        pull={"calltouch": {"site_id": "1", "token": "t0ken"}},
    )
    conn.close()
    return root / "build.duckdb"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _planted_clinic(tmp_path_factory.mktemp("planted"))


def settings_for(warehouse: Path, tmp_path: Path, **digest: object) -> Settings:
    return load_settings(
        None,
        hash_secret=SECRET,
        as_of=AS_OF,
        warehouse_path=warehouse,
        pull={"calltouch": {"site_id": "1", "token": "t0ken"}},
        digest={
            "ledger_path": tmp_path / "ledger.sqlite3",
            "backoff_s": 0.01,
            "dashboard_url": "https://analytics.clinic.example",
            **digest,
        },
    )


def test_planted_alerts_are_found(planted: Path, tmp_path: Path) -> None:
    settings = settings_for(planted, tmp_path)
    with duckdb.connect(str(planted), read_only=True) as conn:
        digest = read_digest(conn, settings, WEEK)
    found = {(a.rule, a.subject): a.message for a in digest.alerts}
    assert set(found) == {
        ("zero_calls", "Yandex Direct"),
        ("cost_per_lead", "Google Ads"),
        ("missed_rate", "clinic"),
        ("stale_source", "calltouch"),
        ("quarantine", "calls"),
    }
    assert (
        "5,000 ₽ spent over the last 5 days (26 Mar to 30 Mar)"
        in found[("zero_calls", "Yandex Direct")]
    )
    assert found[("cost_per_lead", "Google Ads")] == (
        "Google Ads: cost per lead 3,500 ₽ over the last 7 days (2 leads, 7,000 ₽), 10.5× its "
        "median of 333 ₽ over the previous 8 weeks (8 with leads); above 1.5× even at the low "
        "end of its 90% range (1,112 ₽)."
    )
    assert (
        "84.0% of the last 7 days' calls were missed (21 of 25; 21 never"
        in found[("missed_rate", "clinic")]
    )
    assert "3 of 280 rows (1.1%) refused" in found[("quarantine", "calls")]
    assert "never pulled" in found[("stale_source", "calltouch")]
    assert "916" not in " ".join(found.values())  # no phone digits in any message

    # only Анна Смирнова's satisfaction moved: NPS 100 on 30 earlier surveys, -100 on 10
    moved = digest.doctors.rows(named=True)
    assert [(r["doctor_name"], r["recent_nps"], r["recent_surveys"]) for r in moved] == [
        ("Анна Смирнова", -100.0, 10)
    ]
    assert moved[0]["earlier_nps"] == 100.0 and moved[0]["change_high"] < 0

    # thresholds are settings: a looser missed-rate limit and a longer streak stop those two
    loose = settings_for(planted, tmp_path, alert_missed_rate=0.9, alert_zero_call_days=6)
    with duckdb.connect(str(planted), read_only=True) as conn:
        digest = read_digest(conn, loose, WEEK)
    rules = {a.rule for a in digest.alerts}
    assert "missed_rate" not in rules and "zero_calls" not in rules


def test_satisfaction_moves_are_calibrated() -> None:
    """With nothing changed (both periods drawn from the same shares), a doctor is flagged
    about as often as the interval allows: 10% at 90%, not more. 600 simulated doctors."""
    rng = np.random.default_rng(11)
    tail = 0.05
    flagged = 0
    trials = 600
    for _ in range(trials):
        shares = rng.dirichlet([4, 2, 2])
        scores = np.array([10, 8, 3])
        recent = rng.choice(scores, size=rng.integers(10, 60), p=shares)
        earlier = rng.choice(scores, size=rng.integers(30, 300), p=shares)
        change = nps_draws(recent, rng) - nps_draws(earlier, rng)
        low, high = np.quantile(change, [tail, 1 - tail])
        flagged += not (low <= 0 <= high)
    rate = flagged / trials
    print(f"doctors flagged with no change: {rate:.1%} (nominal at most 10%)")
    assert 0.03 <= rate <= 0.13


def test_digest_figures_are_the_dashboards(demo_warehouse, monkeypatch, tmp_path) -> None:
    """The Overview page and the digest of the same week show the same strings."""
    settings, warehouse = demo_warehouse
    monkeypatch.setenv("CLINIC_WAREHOUSE_PATH", str(warehouse))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        as_of = conn.execute("select as_of from mart_build_info").fetchall()[0][0]
        digest = read_digest(conn, settings, as_of)
    rendered = render(digest, "http://dash")
    table = rendered.tables[0]
    assert digest.week == monday(as_of)
    assert [list(r) for r in shown.itertuples(index=False)] == table.rows
    metrics = {m.label: m.value for m in at.metric}
    for row in table.rows:
        assert metrics[row[0]] == row[1]
    # the channel table is the Channels page's macro over the week, row for row
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        leads = conn.execute(
            "select sum(leads)::bigint from channel_economics(?::date, ?::date)",
            [digest.week, digest.week_end],
        ).fetchall()[0][0]
    assert digest.channels["leads"].sum() == leads
    assert metrics["Leads"] == fmt.number(leads)


# --- delivery -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd's handler: keeps every message; `script` answers the next DATA commands
    with the codes given (a 451 greylisting, a 550 refusal) before accepting again."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.script: list[str] = []
        self.quit_reply = "221 Bye"

    async def handle_QUIT(self, server, session, envelope) -> str:  # noqa: N802
        return self.quit_reply

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        if self.script:
            return self.script.pop(0)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), _free_port()

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"mail-pass-42"
        return AuthResult(success=ok, handled=False)  # unhandled: the server answers 535

    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def mail_digest(port: int, password: str = "mail-pass-42") -> dict:
    """Digest settings for one recipient by e-mail through the local server."""
    return {
        "recipients": [{"name": "Ольга", "email": "olga@clinic.example"}],
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "username": "digest",
            "password": password,
        },
    }


def mail_settings(planted: Path, tmp_path: Path, port: int, **extra: object) -> Settings:
    return settings_for(planted, tmp_path, **mail_digest(port), **extra)


def test_email_digest_once_per_week(planted: Path, tmp_path: Path, smtp) -> None:
    mailbox, port = smtp
    settings = mail_settings(planted, tmp_path, port)
    mailbox.script = ["451 4.7.1 greylisted, try again"]
    report = send_digest(settings, WEEK + timedelta(days=3))  # any day of the week
    assert not report.failed, report.lines
    assert len(mailbox.messages) == 1
    message = mailbox.messages[0]
    assert message["To"] == "Ольга <olga@clinic.example>"
    assert message["Subject"].startswith("Clinic week 24 Mar – 30 Mar 2025")
    html = message.get_body(("html",)).get_content()
    assert "Yandex Direct: 5,000 ₽ spent over the last 5 days" in html
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert sorted(p["Content-ID"] for p in images) == [
        "<channels.png>",
        "<costs.png>",
        "<patients.png>",
    ]
    for part in images:
        assert f"cid:{part['Content-ID'].strip('<>')}" in html
        assert part.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
    (pdf,) = [p for p in message.walk() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "digest-2025-03-24.pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.get_content())).pages)
    assert "Week of 24 Mar – 30 Mar 2025" in text and "Анна Смирнова" in text

    # the same week again: nothing sent, said so
    again = send_digest(settings, WEEK)
    assert len(mailbox.messages) == 1
    assert again.lines == [
        (
            "digest 2025-03-24 to Ольга (email:olga@clinic.example): already sent, not sent again",
            False,
        )
    ]
    with Ledger(settings.resolved_ledger_path) as ledger:
        (row,) = [r for r in ledger.rows("2025-03-24") if r["item"] == "digest"]
    assert row["status"] == "sent" and row["attempts"] == 1


def test_failed_email_is_reported_then_sent_once(planted: Path, tmp_path: Path, smtp) -> None:
    mailbox, port = smtp
    settings = mail_settings(planted, tmp_path, port)
    mailbox.script = ["550 5.1.1 mailbox unavailable"]
    report = send_digest(settings, WEEK)
    assert report.failed and len(mailbox.messages) == 0
    (line,) = [line for line, failed in report.lines if failed]
    assert line.endswith("not sent: the mail server said 550 5.1.1 mailbox unavailable")
    # the next run (the server fixed) sends it, once
    assert not send_digest(settings, WEEK).failed
    assert not send_digest(settings, WEEK).failed
    assert len(mailbox.messages) == 1
    with Ledger(settings.resolved_ledger_path) as ledger:
        (row,) = [r for r in ledger.rows("2025-03-24") if r["item"] == "digest"]
    assert (row["status"], row["attempts"]) == ("sent", 2)


def test_refused_login_is_one_line_without_password(planted: Path, tmp_path: Path, smtp) -> None:
    mailbox, port = smtp
    wrong = settings_for(
        planted,
        tmp_path,
        **mail_digest(port, password="guess"),
        dashboard_url="http://127.0.0.1:8501",  # the default: a link for this machine only
    )
    report = send_digest(wrong, WEEK)
    assert report.lines[-1] == (
        "note: the digest links to http://127.0.0.1:8501, which opens only on this machine: "
        "set digest.dashboard_url to the address its readers use",
        False,
    )
    (line,) = [line for line, failed in report.lines if failed]
    assert "refused the login (535)" in line and "mail-pass-42" not in line
    assert mailbox.messages == []


def test_a_run_killed_while_sending_is_not_sent_twice(planted: Path, tmp_path: Path, smtp) -> None:
    mailbox, port = smtp
    settings = mail_settings(planted, tmp_path, port)
    with Ledger(settings.resolved_ledger_path) as ledger:
        assert ledger.claim(Key("2025-03-24", "digest", "email:olga@clinic.example"))
    report = send_digest(settings, WEEK)
    assert report.failed and mailbox.messages == []
    assert "is being sent by another run, or a run stopped while sending it" in report.lines[0][0]
    # a person checked: it never arrived; the flag sends it, once
    assert not send_digest(settings, WEEK, resend_unconfirmed=True).failed
    assert not send_digest(settings, WEEK, resend_unconfirmed=True).failed
    assert len(mailbox.messages) == 1


@pytest.fixture
def telegram() -> Iterator[tuple[VendorServer, TelegramBot]]:
    with VendorServer() as server:
        yield server, TelegramBot(server, TOKEN, {CHAT})


def telegram_digest(server: VendorServer, chat: str = CHAT) -> dict:
    """Digest settings for one recipient by Telegram through the local Bot API."""
    return {
        "recipients": [{"name": "Главврач", "telegram_chat_id": chat}],
        "telegram": {"bot_token": TOKEN, "api_base": server.url},
    }


def telegram_settings(planted: Path, tmp_path: Path, server: VendorServer, chat: str = CHAT):
    return settings_for(planted, tmp_path, **telegram_digest(server, chat))


def test_telegram_digest_resumes_where_it_failed(planted: Path, tmp_path: Path, telegram) -> None:
    server, bot = telegram
    settings = telegram_settings(planted, tmp_path, server)
    bot.faults.queue(
        "sendMessage",
        Reply(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 0",
                "parameters": {"retry_after": 0},
            },
        ),
    )
    down = Reply(502, "Bad Gateway")
    bot.faults.queue("sendPhoto", Reply(200, {"ok": True, "result": {}}), *[down] * 4)
    report = send_digest(settings, WEEK)
    # the text went (after a 429), the first photo went, the second failed 4 times
    assert report.failed
    assert [m for m, _, _ in bot.delivered] == ["sendMessage"]
    (line,) = [line for line, failed in report.lines if failed]
    assert "gave up after 4 tries: HTTP 502" in line and TOKEN not in line
    assert "AAHsecret" not in line
    text = bot.delivered[0][2]["text"]
    assert "<b>Week of 24 Mar – 30 Mar 2025" in text and bot.delivered[0][2]["parse_mode"] == "HTML"
    # the rerun sends the two photos left, not the text nor the first photo again
    assert not send_digest(settings, WEEK).failed
    photos = [f for m, _, f in bot.delivered if m == "sendPhoto"]
    assert [m for m, _, _ in bot.delivered] == ["sendMessage", "sendPhoto", "sendPhoto"]
    assert [p["photo"][:4] for p in photos] == [b"\x89PNG"] * 2
    assert [p["caption"] for p in photos] == [
        "Cost per lead and per primary patient",
        "Cost per lead by channel",
    ]


def test_telegram_refusals_are_one_line(planted: Path, tmp_path: Path, telegram) -> None:
    server, _ = telegram
    unknown_chat = telegram_settings(planted, tmp_path, server, chat="777")
    report = send_digest(unknown_chat, WEEK)
    assert report.lines[0] == (
        "digest 2025-03-24 to Главврач (telegram:777): not sent: telegram: HTTP 400: Bad "
        "Request: chat not found",
        True,
    )
    assert len(server.requests) == 1  # a refusal is not retried


def test_alerts_once_a_week_and_carried_by_the_digest(
    planted: Path, tmp_path: Path, smtp, telegram
) -> None:
    mailbox, port = smtp
    server, bot = telegram
    by_mail, by_telegram = mail_digest(port), telegram_digest(server)
    settings = settings_for(
        planted,
        tmp_path,
        recipients=by_mail["recipients"] + by_telegram["recipients"],
        smtp=by_mail["smtp"],
        telegram=by_telegram["telegram"],
    )
    first = send_alerts(settings)
    assert not first.failed, first.lines
    assert [line for line, _ in first.lines] == [
        "5 alert(s) to Ольга (email:olga@clinic.example): sent",
        "5 alert(s) to Главврач (telegram:424242): sent",
    ]
    assert mailbox.messages[0]["Subject"].startswith("Clinic alert: Yandex Direct: 5,000 ₽")
    assert "(+4 more)" in mailbox.messages[0]["Subject"]
    assert "⚠️ Yandex Direct: 5,000 ₽" in bot.delivered[0][2]["text"]
    # a second build the same week: nothing new, nothing sent
    second = send_alerts(settings)
    assert [line for line, _ in second.lines] == [
        "alerts to Ольга (email:olga@clinic.example): already sent this week",
        "alerts to Главврач (telegram:424242): already sent this week",
    ]
    assert len(mailbox.messages) == 1 and len(bot.delivered) == 1


def test_dry_run_writes_what_a_person_checks(planted: Path, tmp_path: Path) -> None:
    settings = settings_for(planted, tmp_path)
    out = tmp_path / "dry"
    written = write_digest(settings, WEEK + timedelta(days=6), out)
    assert sorted(p.name for p in written) == [
        "channels.png",
        "costs.png",
        "digest-2025-03-24-telegram.html",
        "digest-2025-03-24.eml",
        "digest-2025-03-24.html",
        "digest-2025-03-24.pdf",
        "patients.png",
    ]
    html = (out / "digest-2025-03-24.html").read_text()
    assert "<img src='patients.png'" in html  # beside the file, not cid: (no mail client)
    assert not settings.resolved_ledger_path.exists()  # a dry run records no send


def test_a_week_the_warehouse_cannot_tell(planted: Path, tmp_path: Path) -> None:
    settings = settings_for(planted, tmp_path)
    with duckdb.connect(str(planted), read_only=True) as conn:
        with pytest.raises(DigestError, match="last data day is 2025-03-30, before the week"):
            read_digest(conn, settings, date(2025, 4, 2))
        built = conn.execute("select built_at from mart_build_info").fetchall()[0][0]
    this_week = monday(built.date())
    refused = r"before the week of .* ended: run the weekly"
    with (
        duckdb.connect(str(planted), read_only=True) as conn,
        pytest.raises(DigestError, match=refused),
    ):
        read_digest(conn, settings.model_copy(update={"as_of": None}), this_week)


def run_digest(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`clinic-analytics digest ARGS` in a process of its own, as a cron job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "digest", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_cli_digest(planted: Path, tmp_path: Path) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "CLINIC_HASH_SECRET": SECRET,
        "CLINIC_AS_OF": str(AS_OF),
        "HOME": str(tmp_path),
    }
    planted_week = ["--warehouse", str(planted), "--week"]
    dry = run_digest(
        [*planted_week, "2025-03-26", "--dry-run", str(tmp_path / "out")], env, tmp_path
    )
    assert dry.returncode == 0, dry.stderr
    assert (tmp_path / "out" / "digest-2025-03-24.pdf").is_file()
    missing = run_digest(
        ["--warehouse", str(tmp_path / "no.duckdb"), "--week", "2025-03-24"], env, tmp_path
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"clinic-analytics: no warehouse at {tmp_path / 'no.duckdb'}: "
        "run `clinic-analytics build` first"
    ]
    nobody = run_digest([*planted_week, "2025-03-24"], env, tmp_path)
    assert nobody.returncode == 0 and "no recipient" in nobody.stdout


def test_dagster_schedule_and_asset(planted: Path, tmp_path: Path, smtp, monkeypatch) -> None:
    """The schedule names the week before its tick; the asset sends it, in-process."""
    from pipelines.defs import digest as digest_defs  # noqa: PLC0415

    mailbox, port = smtp
    settings = mail_settings(planted, tmp_path, port)
    monkeypatch.setenv("CLINIC_DIGEST__RECIPIENTS", '[{"name": "Ольга", "email": "o@c.example"}]')
    monkeypatch.setenv("CLINIC_DIGEST__SMTP__HOST", "127.0.0.1")
    defs = digest_defs.digest_definitions()
    (schedule,) = defs.schedules  # type: ignore[misc]
    assert schedule.cron_schedule == "0 8 * * 1"
    tick = datetime(2025, 3, 31, 8, 0).astimezone()
    request = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=tick)
    ).run_requests[0]
    assert request.tags[digest_defs.WEEK_TAG] == "2025-03-24" == str(digest_week_of(tick.date()))
    result = dg.materialize(
        [digest_defs.weekly_digest],
        resources={"settings": settings},
        tags={digest_defs.WEEK_TAG: "2025-03-24"},
        selection=[digest_defs.weekly_digest],
    )
    assert result.success and len(mailbox.messages) == 1
    # a failed send fails the run (to be retried by its policy), with the line
    mailbox.script = ["554 5.7.1 rejected"] * 10
    fresh = mail_settings(planted, tmp_path, port, ledger_path=tmp_path / "l2")
    failed = dg.materialize(
        [digest_defs.weekly_digest],
        resources={"settings": fresh},
        tags={digest_defs.WEEK_TAG: "2025-03-24"},
        raise_on_error=False,
    )
    assert not failed.success
    # unconfigured, the code location has the assets and neither schedule nor sensor
    monkeypatch.delenv("CLINIC_DIGEST__RECIPIENTS")
    bare = digest_defs.digest_definitions()
    assert not list(bare.schedules or []) and not list(bare.sensors or [])


def test_settings_refuse_a_recipient_no_one_can_reach() -> None:
    from pipelines.settings import SettingsError  # noqa: PLC0415

    with pytest.raises(SettingsError, match="'Ольга' has neither email nor telegram_chat_id"):
        load_settings(None, digest={"recipients": [{"name": "Ольга"}]})
    with pytest.raises(SettingsError, match="must be one line"):
        load_settings(None, digest={"recipients": [{"name": "A\nBcc: x@y", "email": "a@b.c"}]})


def test_an_unusable_ledger_sends_nothing(planted: Path, tmp_path: Path, smtp) -> None:
    """Without the ledger nothing could tell what was sent: one line, exit 2, no mail."""
    mailbox, port = smtp
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {
        "PATH": str(Path(sys.executable).parent),
        "CLINIC_HASH_SECRET": SECRET,
        "CLINIC_AS_OF": str(AS_OF),
        "CLINIC_DIGEST__RECIPIENTS": '[{"name": "Ольга", "email": "olga@clinic.example"}]',
        "CLINIC_DIGEST__SMTP__HOST": "127.0.0.1",
        "CLINIC_DIGEST__SMTP__PORT": str(port),
        "CLINIC_DIGEST__SMTP__SECURITY": "none",
        "CLINIC_DIGEST__LEDGER_PATH": str(blocker / "ledger.sqlite3"),
    }
    done = run_digest(["--week", "2025-03-24", "--warehouse", str(planted)], env, tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"clinic-analytics: cannot open the delivery ledger {blocker}/")
    assert mailbox.messages == []


def test_mail_the_server_accepted_is_sent_whatever_quit_says(
    planted: Path, tmp_path: Path, smtp
) -> None:
    """250 after DATA means the server has the message: a 500 to QUIT after it is not a
    failure (treating it as one sent the digest again on every run)."""
    mailbox, port = smtp
    mailbox.quit_reply = "500 5.5.1 no"
    settings = mail_settings(planted, tmp_path, port)
    assert not send_digest(settings, WEEK).failed
    assert not send_digest(settings, WEEK).failed
    assert len(mailbox.messages) == 1


def test_a_tarpit_server_is_given_up_on(planted: Path, tmp_path: Path) -> None:
    """A server that drips a greeting line at a time never times a read out: the whole
    exchange has `timeout_s`, then the try fails (and is retried, then reported)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        with conn:
            while not stop.wait(0.2):
                try:
                    conn.sendall(b"220-please wait\r\n")
                except OSError:
                    return

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        port = listener.getsockname()[1]
        settings = mail_settings(planted, tmp_path, port, timeout_s=1, max_attempts=2)
        report = send_digest(settings, WEEK)
    finally:
        stop.set()
        listener.close()
    (line,) = [line for line, failed in report.lines if failed]
    assert "not sent: gave up after 2 tries: connection failed" in line
    assert report.retry  # the server was slow, not refusing: worth a later run


def test_a_bug_in_a_send_leaves_it_failed_not_claimed(
    planted: Path, tmp_path: Path, smtp, monkeypatch
) -> None:
    from pipelines.digest import run  # noqa: PLC0415

    mailbox, port = smtp
    settings = mail_settings(planted, tmp_path, port)

    def broken(*_: object) -> None:
        raise RuntimeError("secret-ish detail that must not be shown")

    monkeypatch.setattr(run, "send_email", broken)
    report = send_digest(settings, WEEK)
    (line,) = [line for line, failed in report.lines if failed]
    assert line.endswith("not sent: unexpected RuntimeError (a bug: please report it)")
    monkeypatch.undo()
    assert not send_digest(settings, WEEK).failed  # failed, not stuck: the next run sends
    assert len(mailbox.messages) == 1


def test_weeks_the_digest_refuses_or_flags(planted: Path, tmp_path: Path) -> None:
    settings = settings_for(planted, tmp_path)
    with duckdb.connect(str(planted), read_only=True) as conn:
        for week, reason in [
            (date(1999, 12, 27), "before min_plausible_date"),
            (date(9999, 12, 31), "has not begun"),
            (date(2024, 6, 3), "no call, spend or new patient in the week of 2024-06-03"),
        ]:
            with pytest.raises(DigestError, match=reason):
                read_digest(conn, settings, week)
        digest = read_digest(conn, settings, WEEK)
    # data that stops on Wednesday: said in the headline and the subject
    partial = dataclasses.replace(digest, info={**digest.info, "as_of": date(2025, 3, 26)})
    rendered = render(partial, "http://dash")
    assert rendered.subject.startswith("PARTIAL Clinic week 24 Mar – 30 Mar 2025")
    assert "PARTIAL WEEK, no data after Wed 26 Mar" in rendered.headline


def test_a_warehouse_of_an_older_version_is_one_line(planted: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    shutil.copy(planted, old)
    with duckdb.connect(str(old)) as conn:
        conn.execute("alter table fct_channel_daily drop column lost_calls")
    settings = settings_for(old, tmp_path)
    with pytest.raises(DigestError, match=r"cannot read the warehouse .*old.duckdb .*rebuild it"):
        write_digest(settings, WEEK, tmp_path / "out")


def test_names_are_text_not_formulas() -> None:
    """Matplotlib would read `$…$` as a formula (and fail on an unclosed one)."""
    import polars as pl  # noqa: PLC0415

    from pipelines.digest import charts  # noqa: PLC0415

    frame = pl.DataFrame(
        {
            "channel": ["VK $\\frac{1$", "Promo $5 off $10"],
            "spend": [100.0, 50.0],
            "leads": [1, 0],
            "cost_per_lead": [100.0, None],
        }
    )
    assert charts.channel_costs(frame, "RUB")[:4] == b"\x89PNG"


def test_a_refused_secret_is_not_repeated() -> None:
    from pipelines.settings import SettingsError  # noqa: PLC0415

    with pytest.raises(SettingsError) as caught:
        load_settings(None, digest={"telegram": {"bot_token": "123:SECRET\n"}})
    said = str(caught.value)
    assert "SECRET" not in said and "bot_token: is not a bot token" in said
