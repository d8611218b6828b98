"""Export formats: how a vendor's export (or any other) becomes the canonical columns.

Every format is one declarative spec in YAML with SQL expressions, no Python per format:
the built-in ones are the `*.yaml` files beside this module; an analyst adds one as
`formats/<name>.yaml` in the input folder (recognised by its signature, like the built-in
ones), or maps one particular export with `<export>.mapping.yaml` beside it (or
`_mapping.yaml` for its whole folder). All three are read by `load_spec`:

```yaml
name: calltouch            # a mapping file is named after itself
entity: calls              # a mapping file's default: the folder it sits in
signature: [callid, date, callernumber]   # normalised header names that mark the format;
                                          # an item may list alternatives: [[day, день], cost]
columns:                   # canonical column: a header of the export, or a SQL expression
  call_id: callid          #   over the export's normalised header names
  source: coalesce(utm_value(utmsource), lower(source))
values:                    # optional: the export's codes → canonical values
  answered: {Да: true, Нет: false}
formats:                   # optional: strptime formats of dates and date-times
  started_at: "%d.%m.%Y %H:%M"
keep: lower(direction) = 'inbound'      # optional: the records that are the entity's
skip_reason: outbound calls             #   and why the others are skipped (counted)
grain: concat_ws('|', ad_id, hour)      # optional: rows of one file with the same key and
                                        #   different grains are parts of one total: summed
refuse_when: report_day(_preamble) is null   # optional: a file that cannot be used at all
refuse_reason: "no Day column: download the report segmented by Day"
lookup:                    # optional: a sibling file that feeds this one
  name: procedurelog
  file: procedurelog.csv
  signature: [procnum, aptnum, procfee, procstatus]
  columns: {apt: varchar, fee: "decimal(18, 2)"}
  rows: select aptnum as apt, sum(parse_money(procfee)) as fee from lookup_rows group by 1
  join_on: procedurelog.apt = aptnum
  required: true           # refuse to load without it (every amount would be 0)
```

Headers are compared after normalising (`Call ID` → `call_id`, `Номер звонка` →
`номер_звонка`); `_preamble` holds the lines above the header (a title, a date range).
When several formats match a file, the one with the longest signature wins. A canonical
column a spec does not name is empty. A column an expression reads that an export lacks is
empty too (the optional columns are derived from the expressions by DuckDB's own parser);
in a mapping file, written for one export, a plain header the export lacks is an error
naming both files. Settings reach expressions as DuckDB variables and the helper macros of
`sql/macros/05_vendor_formats.sql`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from pipelines.ingest.entities import BY_NAME, Entity
from pipelines.ingest.readers import FileReport, InputError, normalise_header
from pipelines.warehouse import sql_literal

BUILTIN_DIR = Path(__file__).resolve().parent
INPUT_FORMATS_DIR = "formats"
"""The input folder's own formats: `<input>/formats/*.yaml`."""
MAPPING_SUFFIXES = (".mapping.yaml", "_mapping.yaml")
META = "_source_file, _line, _parse_error, _raw"
_KEYS = {
    "name",
    "entity",
    "signature",
    "columns",
    "values",
    "formats",
    "keep",
    "skip_reason",
    "grain",
    "refuse_when",
    "refuse_reason",
    "lookup",
}
_LOOKUP_KEYS = {"name", "file", "signature", "columns", "rows", "join_on", "required"}
_IDENTIFIER = re.compile(r"^\w+$")


@dataclass(frozen=True)
class Lookup:
    """A sibling file that holds no records of the entity but feeds the format."""

    name: str
    file: str
    signature: frozenset[str]
    columns: dict[str, str]
    rows: str
    """SQL over the view `lookup_rows` (the sibling file's rows) giving `columns`."""
    join_on: str
    required: bool

    def create(self, conn: duckdb.DuckDBPyConnection) -> None:
        """An empty table, so the format's join works before (or without) the file."""
        columns = ", ".join(f'"{name}" {kind}' for name, kind in self.columns.items())
        conn.execute(f"create or replace temp table {self.name} ({columns})")

    def load(self, conn: duckdb.DuckDBPyConnection, table: str) -> None:
        conn.execute(f"create or replace temp view lookup_rows as select * from {table}")
        conn.execute(f"insert into {self.name} {self.rows}")
        conn.execute("drop view lookup_rows")


@dataclass(frozen=True)
class FormatSpec:
    name: str
    entity: str
    source: Path
    signature: tuple[frozenset[str], ...] = ()
    """Header names that mark the format; each item is a set of alternatives."""
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    keep: str | None = None
    skip_reason: str = ""
    grain: str | None = None
    refuse_when: str | None = None
    refuse_reason: str = ""
    lookup: Lookup | None = None
    strict: bool = False
    """A mapping file: a plain header it names must be in the export."""

    @property
    def label(self) -> str:
        """How `ingest_files.format` names it."""
        return f"mapping:{self.source.name}" if self.strict else self.name

    @functools.cached_property
    def reads(self) -> frozenset[str]:
        """Every column of the export the spec reads: its signature, the headers it names
        and the columns its SQL expressions read."""
        headers = {normalise_header(v) for v in self.columns.values() if _is_header(v)}
        sql = [v for v in self.columns.values() if not _is_header(v) and v.strip() != "null"]
        sql += [e for e in (self.keep, self.grain, self.refuse_when) if e]
        sql += [self.lookup.join_on] if self.lookup is not None else []
        columns = referenced_columns(sql) | headers | set().union(*self.signature)
        return frozenset(c for c in columns if not c.startswith("_"))

    def matches(self, headers: Iterable[str]) -> bool:
        names = set(headers)
        return bool(self.signature) and all(item & names for item in self.signature)


def load_spec(path: Path, entity: str | None = None, *, strict: bool = False) -> FormatSpec:
    """A spec from its YAML file; anything malformed stops the run naming the file."""
    where = path.name if strict else str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("columns") or {}, dict):
        raise InputError(f"{where}: expected a mapping with a 'columns:' section")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}")
    entity_name = raw.get("entity", entity)
    target = BY_NAME.get(entity_name or "")
    if target is None:
        raise InputError(f"{where}: entity {entity_name!r} is not one of {', '.join(BY_NAME)}")
    columns = {str(k): str(v) for k, v in (raw.get("columns") or {}).items()}
    bad = sorted(set(columns) - set(target.columns))
    if bad:
        raise InputError(f"{where}: {', '.join(bad)} are not columns of {target.name}")
    if not strict and not raw.get("signature"):
        raise InputError(f"{where}: a format needs a 'signature:' (the headers that mark it)")
    values = raw.get("values") or {}
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise InputError(f"{where}: 'values:' maps a column to {{export code: value}}")
    formats = raw.get("formats") or {}
    if not isinstance(formats, dict):
        raise InputError(f"{where}: 'formats:' maps a column to a strptime format")
    for column, fmt in formats.items():
        try:
            duckdb.execute("select try_strptime('2000-01-01', ?)", [str(fmt)]).fetchall()
        except duckdb.Error as exc:
            raise InputError(f"{where}: {fmt!r} (for {column}) is not a strptime format") from exc
    return FormatSpec(
        name=str(raw.get("name") or path.stem),
        entity=target.name,
        source=path,
        signature=tuple(
            frozenset(
                normalise_header(str(h)) for h in (item if isinstance(item, list) else [item])
            )
            for item in raw.get("signature") or []
        ),
        columns=columns,
        values={
            str(k): {str(code).strip().lower(): str(v) for code, v in codes.items()}
            for k, codes in values.items()
        },
        formats={str(k): str(v) for k, v in formats.items()},
        keep=raw.get("keep"),
        skip_reason=" ".join(str(raw.get("skip_reason") or "").split()),
        grain=raw.get("grain"),
        refuse_when=raw.get("refuse_when"),
        refuse_reason=" ".join(str(raw.get("refuse_reason") or "").split()),
        lookup=_lookup(raw["lookup"], where) if raw.get("lookup") else None,
        strict=strict,
    )


def _lookup(raw: dict, where: str) -> Lookup:
    missing = sorted(_LOOKUP_KEYS - {"required"} - set(raw))
    if missing:
        raise InputError(f"{where}: the lookup lacks {', '.join(missing)}")
    return Lookup(
        name=str(raw["name"]),
        file=str(raw["file"]),
        signature=frozenset(normalise_header(str(h)) for h in raw["signature"]),
        columns={str(k): str(v) for k, v in raw["columns"].items()},
        rows=" ".join(str(raw["rows"]).split()),
        join_on=str(raw["join_on"]),
        required=bool(raw.get("required", False)),
    )


@functools.cache
def builtin_specs() -> tuple[FormatSpec, ...]:
    return tuple(load_spec(p) for p in sorted(BUILTIN_DIR.glob("*.yaml")))


def specs_for(input_dir: Path, entity: Entity) -> tuple[FormatSpec, ...]:
    """The input folder's own formats first (an analyst may override a built-in one by
    name), then the built-in ones, for this entity."""
    folder = input_dir / INPUT_FORMATS_DIR
    own = tuple(load_spec(p) for p in sorted(folder.glob("*.yaml"))) if folder.is_dir() else ()
    names = {s.name for s in own}
    every = own + tuple(s for s in builtin_specs() if s.name not in names)
    return tuple(s for s in every if s.entity == entity.name)


def find_mapping(path: Path) -> Path | None:
    """`<export>.mapping.yaml` beside an export, else `_mapping.yaml` in its folder."""
    for candidate in (path.with_name(path.stem + ".mapping.yaml"), path.parent / "_mapping.yaml"):
        if candidate.is_file():
            return candidate
    return None


def mapping_spec(path: Path, entity: Entity) -> FormatSpec:
    return load_spec(path, entity.name, strict=True)


def vocabulary(entity: Entity, specs: Iterable[FormatSpec]) -> frozenset[str]:
    """Every normalised column name an export of this entity may carry: canonical, each
    format's (signature and what its expressions read, mapped headers included) and the
    lookups'. The reader finds a file's header line by these names."""
    names = set(entity.columns)
    for spec in specs:
        names |= spec.reads
        if spec.lookup is not None:
            names |= spec.lookup.signature
    return frozenset(names)


def detect(entity: Entity, headers: list[str], specs: Iterable[FormatSpec]) -> FormatSpec | None:
    names = set(headers)
    if set(entity.key) <= names:
        return None  # the canonical form wins when it is there
    matching = [s for s in specs if s.matches(names)]
    return max(matching, key=lambda s: len(s.signature), default=None)


def lookup_for(entity: Entity, headers: list[str], specs: Iterable[FormatSpec]) -> Lookup | None:
    """The lookup this file is (procedurelog), when it holds no records of the entity."""
    names = set(headers)
    if set(entity.key) <= names:
        return None
    return next(
        (s.lookup for s in specs if s.lookup is not None and s.lookup.signature <= names), None
    )


def check_lookups(specs: Iterable[FormatSpec], entity: Entity, files: list[FileReport]) -> None:
    """A format that cannot do without its lookup file refuses to load without it: every
    amount would be 0, a confident zero that is really unknown."""
    by_label = {s.label: s for s in specs}
    loaded = {f.format for f in files}
    for f in files:
        spec = by_label.get(f.format)
        needed = spec.lookup if spec else None
        if needed and needed.required and f"lookup:{needed.name}" not in loaded:
            unread = next(
                (g for g in files if g.rejected and g.source_file.endswith(needed.file)), None
            )
            where = (
                f"{needed.file} beside it could not be read ({unread.rejected})"
                if unread
                else f"{needed.file} is not beside it in {entity.name}/"
            )
            raise InputError(
                f"{f.source_file} ({spec.name}) needs {needed.file}, but {where}: without it "
                "every amount would be 0; add it from the same dump"
            )


def select(
    entity: Entity,
    spec: FormatSpec | None,
    table: str,
    headers: list[str],
    report: FileReport,
) -> tuple[str, str | None]:
    """(select of the entity's canonical columns + meta from `table`, and a query counting
    the records skipped per file, or None); fills the report's format and column lists."""
    present = set(headers)
    if spec is None:
        report.missing_columns = [c for c in entity.columns if c not in present]
        report.ignored_columns = [h for h in headers if h not in entity.columns]
        columns = ", ".join(
            f'"{c}"' if c in present else f'null::varchar as "{c}"' for c in entity.columns
        )
        return f"select {columns}, {META} from {table}", None
    report.format = spec.label
    expressions = {c: _expression(spec, c, v, present, report) for c, v in spec.columns.items()}
    if spec.grain and entity.part_column:
        expressions[entity.part_column] = spec.grain
    for canonical, codes in spec.values.items():
        source = expressions.get(canonical, "null")
        cases = " ".join(
            f"when {sql_literal(code)} then {sql_literal(v)}" for code, v in codes.items()
        )
        expressions[canonical] = f"case lower(trim({source})) {cases} else {source} end"
    for canonical, fmt in spec.formats.items():
        source = expressions.get(canonical, "null")
        expressions[canonical] = (
            f"coalesce(strftime(try_strptime(trim({source}), {sql_literal(fmt)}), "
            f"'%Y-%m-%d %H:%M:%S'), {source})"
        )
    report.missing_columns = [c for c in entity.columns if c not in expressions]
    report.ignored_columns = [h for h in headers if h not in spec.reads]
    source = _padded(spec, table, present)
    columns = ", ".join(f'({expressions.get(c, "null")})::varchar as "{c}"' for c in entity.columns)
    query = f"select {columns}, {META} from {source}"
    if spec.keep is None:
        return query, None
    kept = f"_parse_error is not null or ({spec.keep})"
    report.skip_reason = spec.skip_reason
    skipped = f"select _source_file, count(*) from {source} where not ({kept}) group by 1"
    return f"{query} where {kept}", skipped


def refused(
    conn: duckdb.DuckDBPyConnection, spec: FormatSpec, table: str, headers: list[str]
) -> bool:
    """Whether a file of this format cannot be used at all (its `refuse_when`)."""
    if not spec.refuse_when:
        return False
    source = _padded(spec, table, set(headers))
    query = f"select coalesce(bool_or(({spec.refuse_when})), false) from {source}"
    return bool(conn.execute(query).fetchall()[0][0])


def _padded(spec: FormatSpec, table: str, present: set[str]) -> str:
    """`table` with the columns the spec reads but the file lacks (empty), and its lookup."""
    absent = sorted(c for c in spec.reads if c not in present)
    source = table
    if absent:
        nulls = ", ".join(f'null::varchar as "{c}"' for c in absent)
        source = f"(select *, {nulls} from {table})"
    if spec.lookup is not None:
        source = f"{source} left join {spec.lookup.name} on {spec.lookup.join_on}"
    return source


def _is_header(value: str) -> bool:
    return bool(_IDENTIFIER.match(normalise_header(value))) and value.strip().lower() != "null"


def _expression(
    spec: FormatSpec, canonical: str, value: str, present: set[str], report: FileReport
) -> str:
    """A plain header is that column (quoted); anything else is SQL as written."""
    if not _is_header(value):
        return value
    name = normalise_header(value)
    if name not in present and spec.strict:
        raise InputError(
            f"{spec.source.name} (for {report.source_file}): the export has no column "
            f"{value!r} (for {canonical})"
        )
    return f'"{name}"'


@functools.cache
def _parsed_columns(expressions: tuple[str, ...]) -> frozenset[str]:
    select_list = ", ".join(f"({e})" for e in expressions) or "1"
    tree = json.loads(
        duckdb.execute("select json_serialize_sql(?)", [f"select {select_list}"]).fetchall()[0][0]
    )
    if tree.get("error"):
        raise InputError(f"a format expression is not valid SQL: {tree.get('error_message')}")
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("class") == "COLUMN_REF" and len(node["column_names"]) == 1:
                found.add(node["column_names"][0])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return frozenset(found)


def referenced_columns(expressions: Iterable[str]) -> frozenset[str]:
    """The unqualified column names SQL expressions read, from DuckDB's own parser."""
    return _parsed_columns(tuple(expressions))
