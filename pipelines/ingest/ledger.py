"""The ingest ledger: which export files a warehouse was built from, by content, so the
next build reads only what is new or changed.

A weekly export overlaps the last one by a few days and leaves every older file as it
was; reading those again is most of a build's time. So every build records, per file,
its SHA-256 (`ingest_ledger`) under the entity's *context*: a digest of everything else
that shapes a file's raw rows (the ingest code, macros and format specs, the settings SQL
reads, the hash secret, the input folder's own specs and the entity's mapping files).

The next build starts as a copy of the last published warehouse (pipelines/warehouse.py
`start_build_file`). A file whose name and digest are in its ledger under the same
context keeps its raw rows where they are; every other file is read and its rows
added. A file changed in place (same name, new content) is read again and its old rows
are not carried; a removed file's rows leave with it. An entity whose formats join one
file to another (Open Dental's procedurelog prices the appointments) is reused only when
none of its files changed. Everything downstream
(staging, the marts) is rebuilt from the whole raw layer, so an incremental build and a
full one make the same warehouse; `incremental = false` (`build --full`) reads every file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from pipelines.ingest.entities import Entity
from pipelines.ingest.files import InputFile
from pipelines.ingest.formats import INPUT_FORMATS_DIR, MAPPING_SUFFIXES, specs_for
from pipelines.settings import Settings
from pipelines.warehouse import SQL_DIR, table_exists

LEDGER_DDL = """
create table if not exists ingest_ledger (
    entity varchar, source_file varchar, sha256 varchar, context varchar, reused boolean
)
"""
_PACKAGE = Path(__file__).resolve().parent
_CODE = (
    (_PACKAGE, "*.py"),
    (_PACKAGE / "formats", "*.py"),
    (_PACKAGE / "formats", "*.yaml"),
    (SQL_DIR / "macros", "*.sql"),
    (_PACKAGE.parent, "settings.py"),
)
"""What turns a file into raw rows: a change here makes every file new."""


@dataclass
class Reuse:
    """What one entity's load takes from the previous build, and what it reads."""

    context: str
    digests: dict[str, str] = field(default_factory=dict)
    """Source file (as raw names it, phones masked) → SHA-256 of its bytes."""
    names: dict[str, str] = field(default_factory=dict)
    """Source file as listed → as raw names it."""
    reused: set[str] = field(default_factory=set)
    """Raw names of the files whose rows are carried over."""
    removed: int = 0
    """Files of the previous build that are gone or changed (their rows are not carried)."""

    def to_read(self, files: Iterable[InputFile]) -> list[InputFile]:
        return [f for f in files if self.names.get(f.source_file) not in self.reused]

    @property
    def data_version(self) -> str:
        """One digest of what the raw table holds: the same files under the same context
        give the same version (Dagster's data version of the raw asset)."""
        digest = hashlib.sha256(self.context.encode())
        for name, file_digest in sorted(self.digests.items()):
            digest.update(f"{name}\0{file_digest}\n".encode())
        return digest.hexdigest()[:16]


def plan_reuse(
    conn: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity, files: list[InputFile]
) -> Reuse:
    """Digest every file and decide which keep their rows from the previous build."""
    reuse = Reuse(context=entity_context(settings, entity))
    readable = [f for f in files if not f.problem]
    masked = conn.execute(
        "select s, mask_phones(s) from unnest(?::varchar[]) as t(s)",
        [[f.source_file for f in files]],
    ).fetchall()
    reuse.names = dict(masked)
    with ThreadPoolExecutor(max_workers=2) as pool:  # hashlib releases the GIL
        digests = list(pool.map(_digest, (f.path for f in readable)))
    reuse.digests = {
        reuse.names[f.source_file]: d for f, d in zip(readable, digests, strict=True) if d
    }
    if len(set(reuse.names.values())) < len(files):
        return reuse  # two names alike once masked: no way to tell their rows apart
    previous = _previous_ledger(conn, settings, entity)
    if previous is None:
        return reuse
    same = {
        name
        for name, (digest, context) in previous.items()
        if context == reuse.context and reuse.digests.get(name) == digest
    }
    if _joined_formats(conn, settings, entity) and (
        same != set(previous) or same != set(reuse.digests)
    ):
        same = set()  # files that price each other: all or nothing
    reuse.reused = same
    reuse.removed = len(set(previous) - same)
    return reuse


SIDE_TABLES = ("ingest_files", "phone_quality")
"""The tables the loader writes beside raw, a row per file (which files were read, how
their phones turned out): a carried file keeps its rows there too."""


def keep_reused_rows(conn: duckdb.DuckDBPyConnection, entity: Entity, reuse: Reuse) -> None:
    """Before the entity's files are read: the rows of files gone or changed leave the
    raw and side tables, and the reused files' rows stay where they are (the build file
    started as the last warehouse: pipelines/warehouse.py `start_build_file`). The
    entity's ledger rows go first, so a build stopped half-way leaves no ledger that
    promises rows the raw table no longer holds: the next build reads every file."""
    conn.execute(LEDGER_DDL)
    conn.execute("delete from ingest_ledger where entity = ?", [entity.name])
    reused = sorted(reuse.reused)
    for table in SIDE_TABLES:
        if table_exists(conn, table):
            conn.execute(
                f"delete from {table} where entity = ? "
                "and source_file not in (select unnest(?::varchar[]))",
                [entity.name, reused],
            )
    if reused:
        conn.execute(
            f"delete from {entity.raw_table} "
            "where _source_file not in (select unnest(?::varchar[]))",
            [reused],
        )


def record(conn: duckdb.DuckDBPyConnection, entity: Entity, reuse: Reuse) -> None:
    """This build's ledger rows for the entity: every file it holds rows of."""
    conn.execute(LEDGER_DDL)
    conn.execute("delete from ingest_ledger where entity = ?", [entity.name])
    rows = [
        (entity.name, name, digest, reuse.context, name in reuse.reused)
        for name, digest in sorted(reuse.digests.items())
    ]
    if rows:
        conn.executemany("insert into ingest_ledger values (?, ?, ?, ?, ?)", rows)


def _previous_ledger(
    conn: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity
) -> dict[str, tuple[str, str]] | None:
    """The ledger of this entity in the build file (name → digest, context), or None when
    there is nothing to carry: incremental loads off (`build --full`), or no earlier
    build in the file."""
    if not settings.incremental or not table_exists(conn, "ingest_ledger"):
        return None
    if not table_exists(conn, entity.raw_table):
        return None
    rows = conn.execute(
        "select source_file, sha256, context from ingest_ledger where entity = ?",
        [entity.name],
    ).fetchall()
    return {name: (digest, context) for name, digest, context in rows}


def _joined_formats(conn: duckdb.DuckDBPyConnection, settings: Settings, entity: Entity) -> bool:
    """Whether the previous build read files of this entity that depend on one another:
    a lookup (procedurelog) or a format that a lookup feeds (Open Dental appointments)."""
    joined = set()
    for spec in specs_for(settings.input_dir, entity):
        if spec.lookup is not None:
            joined |= {spec.name, f"lookup:{spec.lookup.name}"}
    if not joined:
        return False
    formats = conn.execute(
        "select distinct format from ingest_files where entity = ?", [entity.name]
    ).fetchall()
    return any(name in joined for (name,) in formats)


def entity_context(settings: Settings, entity: Entity) -> str:
    """Everything but the file itself that shapes its raw rows, as one digest."""
    digest = hashlib.sha256(_code_digest().encode())
    variables = json.dumps(settings.sql_variables(), sort_keys=True, default=str)
    digest.update(variables.encode())
    digest.update(hmac.digest(settings.secret_key(), b"ingest ledger", "sha256"))
    folder = settings.input_dir / (entity.single_file or entity.name)
    specs = sorted((settings.input_dir / INPUT_FORMATS_DIR).glob("*.yaml"))
    mappings = sorted(p for p in folder.glob("*") if p.name.endswith(MAPPING_SUFFIXES))
    for path in (*specs, *mappings):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@cache
def _code_digest() -> str:
    digest = hashlib.sha256()
    for folder, pattern in _CODE:
        for path in sorted(folder.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _digest(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None  # unreadable now: read (and reported) as a new file
