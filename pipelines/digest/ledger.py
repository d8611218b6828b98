"""What was sent to whom: the delivery ledger, so a digest is never sent twice for the same
week and a failed send is never lost.

SQLite, a file beside the warehouse (`digest-ledger.sqlite3`), not a table of the
warehouse: every build replaces the warehouse whole, and the ledger must outlive builds.
One row per (period, item, address, part): the digest of a week or one alert in a week,
to one e-mail address or Telegram chat, and for Telegram each message or photo of it, so a
retry sends only the parts that did not arrive.

A row is `sending` while its send is under way. A process killed in that instant leaves it
so: the next run neither resends it (it may have arrived) nor forgets it: it is reported
as uncertain, for a person to check.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
create table if not exists deliveries (
    period text not null,
    item text not null,
    address text not null,
    part integer not null,
    status text not null check (status in ('sending', 'sent', 'failed')),
    attempts integer not null default 0,
    error text,
    updated_at text not null,
    primary key (period, item, address, part)
)
"""


class LedgerError(Exception):
    """The ledger cannot be opened: nothing is sent without it (it could not tell what
    was already sent)."""


@dataclass(frozen=True)
class Key:
    period: str
    """The ISO week's Monday the item belongs to."""
    item: str
    """`digest`, or an alert's key."""
    address: str
    """`email:<address>` or `telegram:<chat id>`."""
    part: int = 0


class Ledger:
    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("pragma journal_mode=wal")
            self._db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot open the delivery ledger {path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def status(self, key: Key) -> str | None:
        row = self._db.execute(
            "select status from deliveries where period = ? and item = ? and address = ? "
            "and part = ?",
            (key.period, key.item, key.address, key.part),
        ).fetchone()
        return row[0] if row else None

    def claim(self, key: Key, *, take_unconfirmed: bool = False) -> bool:
        """Mark `key` as being sent; False when it was sent, or is (or was left) being sent
        (unless `take_unconfirmed`: a person checked that it never arrived). One
        statement, so two runs at once cannot both claim it."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        cursor = self._db.execute(
            """
            insert into deliveries (period, item, address, part, status, attempts, updated_at)
            values (?, ?, ?, ?, 'sending', 1, ?)
            on conflict (period, item, address, part) do update
                set status = 'sending', attempts = attempts + 1, updated_at = excluded.updated_at
                where status = 'failed' or (status = 'sending' and ?)
            """,
            (key.period, key.item, key.address, key.part, now, take_unconfirmed),
        )
        return cursor.rowcount == 1

    def mark(self, key: Key, status: str, error: str | None = None) -> None:
        self._db.execute(
            "update deliveries set status = ?, error = ?, updated_at = ? "
            "where period = ? and item = ? and address = ? and part = ?",
            (
                status,
                error,
                datetime.now(UTC).isoformat(timespec="seconds"),
                key.period,
                key.item,
                key.address,
                key.part,
            ),
        )

    def record_sent(self, key: Key) -> None:
        """`key` went out inside another message (an alert carried by the digest)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._db.execute(
            """
            insert into deliveries (period, item, address, part, status, attempts, updated_at)
            values (?, ?, ?, ?, 'sent', 1, ?)
            on conflict (period, item, address, part) do update
                set status = 'sent', error = null, updated_at = excluded.updated_at
            """,
            (key.period, key.item, key.address, key.part, now),
        )

    def rows(self, period: str | None = None) -> list[dict]:
        cursor = self._db.execute(
            "select * from deliveries where ? is null or period = ? "
            "order by period, item, address, part",
            (period, period),
        )
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
