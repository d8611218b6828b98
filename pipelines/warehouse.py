"""The DuckDB warehouse: session set-up, SQL model files, and atomic publishing.

DuckDB allows one writer or many readers. The pipeline only ever writes its build file;
the dashboard only ever reads the published file, which a finished build replaces in
one `os.replace`, so a reader sees the old warehouse or the new one, never half of one
and never a lock.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
from pydantic import ByteSize, TypeAdapter, ValidationError

from pipelines.settings import Settings

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def sql_literal(value: object) -> str:
    """A SQL string literal, for the statements DuckDB takes no parameters in (ATTACH,
    COPY, a regular expression compiled into a model)."""
    return "'" + str(value).replace("'", "''") + "'"


def write_table(conn: duckdb.DuckDBPyConnection, name: str, frame: object) -> None:
    """A model computed in Python (a Polars frame) as the warehouse table `name`."""
    conn.register("_frame", frame)
    try:
        conn.execute(f"create or replace table {name} as select * from _frame")
    finally:
        conn.unregister("_frame")


BUILD_CODE_TABLE = "build_code"
"""One row: the version of the code (`code_version`) that built the warehouse's tables."""


def start_build_file(settings: Settings, build_path: Path) -> None:
    """The build file a build changes, before the build stamps it (`stamp_build_file`).

    An incremental build starts as a copy of the last published warehouse and changes it
    in place: unchanged export files keep their raw rows where they are, and a model
    whose data version is unchanged keeps its tables (pipelines/ingest/ledger.py,
    pipelines/ingest/lineage.py, pipelines/models/versions.py), instead of every row
    being written again into an empty file. The copy is the build's own: the published
    file is replaced only when the build succeeds, so a failed build leaves it as it was.

    The build starts empty instead when incremental loads are off (`build --full`),
    there is no warehouse yet, it is a symbolic link (never followed to a file that is
    not ours), DuckDB cannot open it, or other code built it: a new version of the
    pipeline rebuilds everything once, so no table of an older shape (or one no model
    makes any more) is carried. An existing build file (`dagster dev`'s, its own last
    build) is kept when this code built it."""
    if build_path.exists() and _built_by(build_path) != code_version():
        remove_database(build_path)
    path = settings.warehouse_path
    if build_path.exists() or not settings.incremental:
        return
    if not path.is_file() or path.is_symlink():
        return
    shutil.copyfile(path, build_path)
    if hasattr(os, "posix_fadvise"):  # Linux: not on macOS or Windows
        with build_path.open("rb") as handle:
            # start writing the copy to disk now, while the build starts: its first
            # checkpoint's fsync would otherwise wait for all of it
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    if _built_by(build_path) != code_version():
        remove_database(build_path)


def stamp_build_file(conn: duckdb.DuckDBPyConnection) -> None:
    """Mark the build file as built by this code (what `start_build_file` compares)."""
    conn.execute(
        f"create or replace table {BUILD_CODE_TABLE} as select ? as version", [code_version()]
    )


def _built_by(database: Path) -> str | None:
    """The code version a database file was built by; None when DuckDB cannot open it
    or it has no stamp."""
    try:
        with duckdb.connect(str(database), read_only=True) as conn:
            return conn.execute(f"select version from {BUILD_CODE_TABLE}").fetchall()[0][0]
    except (duckdb.Error, IndexError):
        return None


@cache
def code_version() -> str:
    """A digest of everything that shapes the warehouse's tables: the pipeline's Python,
    its SQL and format specs, and the versions of the libraries it runs on (DuckDB writes
    the file, phonenumbers' metadata decides which numbers are identified, Polars and
    fastexcel read the exports): an upgrade of any of them is a new version too."""
    digest = hashlib.sha256()
    for library, version in library_versions():
        digest.update(f"{library}={version}\n".encode())
    package = Path(__file__).resolve().parent
    files = [*package.rglob("*.py"), *package.rglob("*.yaml"), *SQL_DIR.rglob("*.sql")]
    for file in sorted(files):
        digest.update(f"{file.relative_to(package.parent)}\0".encode() + file.read_bytes())
    return digest.hexdigest()[:16]


def library_versions() -> list[tuple[str, str]]:
    """The installed versions of the project's own dependencies; of every installed
    distribution when the project itself is not installed (run from a source tree)."""
    try:
        required = metadata.requires("clinic-analytics") or []
    except metadata.PackageNotFoundError:
        return sorted((d.metadata["Name"], d.version) for d in metadata.distributions())
    names = {re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0] for r in required if "extra ==" not in r}
    return [(name, metadata.version(name)) for name in sorted(names)]


def remove_database(path: Path) -> None:
    """A DuckDB file, its write-ahead log and its spill folder (DuckDB's temporary
    folder beside it, which a build that failed may leave)."""
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)
    shutil.rmtree(path.with_name(path.name + ".tmp"), ignore_errors=True)


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the connection's own database (the build file) holds `table`."""
    return relation_kind(conn, table) == "table"


def relation_kind(
    conn: duckdb.DuckDBPyConnection, name: str, database: str | None = None
) -> str | None:
    """'table', 'view' or None: what `name` is in the main schema of `database` (the
    connection's own, the build file, by default)."""
    query = """
        select 'table' from duckdb_tables()
        where database_name = coalesce($db, current_database()) and schema_name = 'main'
            and table_name = $name
        union all
        select 'view' from duckdb_views()
        where database_name = coalesce($db, current_database()) and schema_name = 'main'
            and view_name = $name
    """
    found = conn.execute(query, {"db": database, "name": name}).fetchall()
    return found[0][0] if found else None


def drop_relation(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """`name`, table or view, out of the build file's main schema, if there."""
    kind = relation_kind(conn, name)
    if kind is not None:
        conn.execute(f"drop {kind} {_file_database(conn)}.main.{name}")


def _database_name(conn: duckdb.DuckDBPyConnection) -> str:
    """The connection's own database (the build file): DuckDB names it after the file."""
    return conn.execute("select current_database()").fetchall()[0][0]


def _file_database(conn: duckdb.DuckDBPyConnection) -> str:
    """The build file's database as a quoted identifier: a clinic's file name, and so the
    database's, may hold a quote."""
    return '"' + _database_name(conn).replace('"', '""') + '"'


def build_memory(conn: duckdb.DuckDBPyConnection) -> str:
    """The in-memory database a build attaches for its `memory` models
    (pipelines/models/graph.py): tables the later models read, never written to the
    file. DuckDB counts it within its memory limit and spills it to its temporary folder
    beyond. `build_memory`, unless the build file itself is called that (DuckDB names a
    file's database after the file: a warehouse `build_memory.duckdb`)."""
    return "build_memory_" if _database_name(conn) == "build_memory" else "build_memory"


def attach_build_memory(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"attach if not exists ':memory:' as {build_memory(conn)}")


def read_build_memory(conn: duckdb.DuckDBPyConnection) -> None:
    """Names the file does not hold are looked up in the build's memory next: a model
    reads a `memory` model by its plain name, as it reads any table, and creates its own
    tables in the file as before (the first schema of the path is the file's)."""
    path = f"{_file_database(conn)}.main,{build_memory(conn)}.main".replace("'", "''")
    conn.execute(f"set search_path = '{path}'")


def sql_file(layer: str, name: str) -> str:
    path = SQL_DIR / layer / f"{name}.sql"
    return path.read_text(encoding="utf-8")


def prepare_session(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Make a connection speak the clinic's settings: zone, variables, macros, and the
    database's threads and memory limit."""
    if settings.duckdb_threads:
        conn.execute(f"set threads = {int(settings.duckdb_threads)}")
    session_memory_limit(conn, settings)
    for macro_file in sorted((SQL_DIR / "macros").glob("*.sql")):
        conn.execute(macro_file.read_text(encoding="utf-8"))
    connection_settings(conn, settings)


def connection_settings(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """What DuckDB keeps per connection, not per database: the zone and the variables.

    The session time zone is the clinic's, so naive timestamps are read as local time
    and local dates come out of `timezone(getvariable('timezone'), ts)`.
    """
    conn.execute(f"set TimeZone = '{settings.timezone}'")
    variables = settings.sql_variables() | {"build_date": clinic_today(settings)}
    for name, value in variables.items():
        if value is None:
            conn.execute(f"set variable {name} = null")
        elif isinstance(value, date):
            conn.execute(f"set variable {name} = ?::date", [value.isoformat()])
        else:
            conn.execute(f"set variable {name} = ?", [value])


@contextmanager
def session_cursors(
    conn: duckdb.DuckDBPyConnection, settings: Settings, count: int
) -> Iterator[list[duckdb.DuckDBPyConnection]]:
    """`count` more connections to `conn`'s database (one per thread: a DuckDB connection
    runs one query at a time), each speaking the clinic's settings as `conn` does; closed
    after."""
    made: list[duckdb.DuckDBPyConnection] = []
    try:
        for _ in range(count):
            made.append(conn.cursor())
            connection_settings(made[-1], settings)
        yield made
    finally:
        for cursor in made:
            cursor.close()


class PythonModelMemory:
    """DuckDB's memory limit lowered to `duckdb_memory_while_python` while models computed
    in Python run, and restored after. Such a model reads its input in a query or two and
    writes a table or three; the rest of its time DuckDB is idle, but its cache of table
    pages, up to `duckdb_memory_limit`, would stay beside the model's arrays (at scale 700
    the forecast's 2 GB on top of a 5 GB cache: 7.0 GiB). A lower limit makes DuckDB let
    go of pages it can read again from the file. Never raised: a cap at or above the
    session's limit (in whatever form it was given, "80%" included) leaves it as it is.

    The limit is the database's, shared by every connection: while it is lowered the
    build runs no other query beside these models (pipelines/models/graph.py), since a
    query under the cap can run out of memory. So the cap is taken only when it is
    `needed`: when DuckDB holds more than the cap as the first of these models starts
    (a clinic's build holds a few dozen MB and keeps its models side by side; a chain's
    year holds gigabytes). The build lowers it as the first starts and restores it when
    the last has ended."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
        self._conn, self._settings = conn, settings
        query = "select current_setting('memory_limit')"
        current = _bytes(conn.execute(query).fetchall()[0][0])
        self._caps = current is not None and settings.duckdb_memory_while_python < current
        self.lowered = False

    def needed(self) -> bool:
        """Whether the cap lowers the session's limit and DuckDB holds more than it."""
        if not self._caps:
            return False
        query = "select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()"
        held = self._conn.execute(query).fetchall()[0][0]
        return held > self._settings.duckdb_memory_while_python

    def lower(self) -> None:
        """The cap, if DuckDB can free enough of what it holds (else the limit stays)."""
        cap = self._settings.duckdb_memory_while_python
        try:
            self._conn.execute("set memory_limit = ?", [f"{cap // 2**20}MiB"])
        except duckdb.OutOfMemoryException:
            return
        self.lowered = True

    def restore(self) -> None:
        if self.lowered:
            session_memory_limit(self._conn, self._settings)
            self.lowered = False


def session_memory_limit(conn: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The session's DuckDB memory limit: `duckdb_memory_limit`, else DuckDB's default."""
    if settings.duckdb_memory_limit:
        conn.execute("set memory_limit = ?", [settings.duckdb_memory_limit])
    else:
        conn.execute("reset memory_limit")


def _bytes(duckdb_size: str) -> int | None:
    """Bytes of a size as DuckDB prints it ("4.6 GiB", "16383.9 PiB" for no limit); None
    for a form not read here (the limit is then left alone)."""
    try:
        return TypeAdapter(ByteSize).validate_python(duckdb_size)
    except ValidationError:
        return None


def clinic_today(settings: Settings) -> date:
    """Today in the clinic's zone: definition 16 refuses timestamps after it plus a day
    (SQL's `build_date`), and the pulls ask the vendors up to it."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


DUCKDB_MAGIC = b"DUCK"
"""Bytes 8-11 of every DuckDB database file."""


class WarehousePathError(ValueError):
    """The warehouse path names something that is not ours to replace."""


def ensure_replaceable(warehouse_path: Path) -> None:
    """Refuse to publish over anything but a DuckDB file (or nothing): a typo in
    `--warehouse` must not overwrite a spreadsheet, a link's target or /dev/null."""
    if warehouse_path.is_symlink():
        raise WarehousePathError(
            f"warehouse {warehouse_path} is a symbolic link: give the real path"
        )
    if not warehouse_path.exists():
        return
    if not warehouse_path.is_file():
        raise WarehousePathError(f"warehouse {warehouse_path} is not a regular file")
    with warehouse_path.open("rb") as handle:
        head = handle.read(12)
    if head[8:12] != DUCKDB_MAGIC:
        raise WarehousePathError(
            f"{warehouse_path} exists and is not a DuckDB warehouse: refusing to replace it"
        )


def publish(build_path: Path, warehouse_path: Path, *, move: bool = False) -> None:
    """Copy the finished build beside the warehouse, then rename it into place; with
    `move`, rename the build file itself when it lies on the warehouse's file system (a
    build of millions of rows then publishes without writing its gigabytes again).

    The file is flushed to disk before the rename, and the rename is atomic on one file
    system, so a crash at any point leaves either the previous warehouse or the new one.
    The caller must hold no open connection to `build_path` (its WAL would be missing).
    """
    ensure_replaceable(warehouse_path)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    if move:
        with build_path.open("rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.replace(build_path, warehouse_path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # another file system (or mount): copied below
                raise
        else:
            fsync_directory(warehouse_path.parent)
            return
    tmp = warehouse_path.with_name(f".{warehouse_path.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(build_path, tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, warehouse_path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_directory(warehouse_path.parent)


_RUNS = itertools.count(1)


def run_build_file(target: Path) -> Path:
    """A new build file for a run on `target` (a warehouse, the chain view): the run's
    own, beside the target (so publishing can rename it), removed after the run, and
    recognised by its process id when a killed run left it. Numbered per run, never
    reused within a process: DuckDB keeps one database per path open in a process while
    anything still refers to it, and a later run given the same path would be handed
    that database (whose file an earlier run renamed onto the warehouse) instead of a
    new file; seen once, in the test suite on a busy machine."""
    return target.with_name(f".{target.name}.build-{os.getpid()}-{next(_RUNS)}")


def fsync_directory(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk: after a crash the renamed file
    is there, not only its old name."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def checkpoint(build_path: Path) -> None:
    """Fold the write-ahead log into the file so that the file alone is the database."""
    conn = duckdb.connect(str(build_path))
    try:
        conn.execute("checkpoint")
    finally:
        conn.close()
