"""The chain on disk: which sub-folders of `chain_root` are clinics, where each clinic's
warehouse goes, and the settings each clinic is built with."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.ingest.readers import InputError
from pipelines.settings import DEFAULT_SETTINGS_FILE, Settings, SettingsError, load_settings

WAREHOUSE_FILE = "warehouse.duckdb"
CHAIN_FILE = "chain.duckdb"
_CLINIC_NAME = re.compile(r"^\w[\w.-]{0,63}$")
"""A clinic's name is its folder's: a Dagster partition key, a folder under `chain_out`
and a value of every chain table's `clinic` column, so letters (any script), digits,
`_`, `-` and `.`, at most 64."""


SINGLE_CLINIC = {
    "chain_root": None,
    "chain_out": None,
    "chain_parallel": 1,
    "chain_memory_budget": None,
    "chain_parquet_dir": None,
}
"""A clinic's own build is a single-clinic build: the chain's settings are the chain's."""


@dataclass(frozen=True)
class ChainFolders:
    clinics: dict[str, Path] = field(default_factory=dict)
    """Clinic name → its input folder, in name order."""
    refused: dict[str, str] = field(default_factory=dict)
    """Folder name → why it is not taken for a clinic."""


def chain_paths(settings: Settings) -> tuple[Path, Path]:
    """(chain_root, chain_out), or why there is no chain."""
    if settings.chain_root is None or settings.chain_out is None:
        raise SettingsError("no chain: set chain_root and chain_out (or --root and --out)")
    return settings.chain_root, settings.chain_out


def find_clinics(root: Path) -> ChainFolders:
    """Every sub-folder of the chain root is a clinic, except hidden ones (`.git`) and names
    that cannot be a partition key; a folder that is not a usable input folder is still a
    clinic, whose build fails with the reason (so it is never silently left out)."""
    if not root.is_dir():
        raise InputError(f"chain root {root} is not a folder")
    clinics: dict[str, Path] = {}
    refused: dict[str, str] = {}
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        if _CLINIC_NAME.match(path.name) and "..." not in path.name:
            clinics[path.name] = path
        else:
            refused[path.name] = (
                "not a clinic name: use letters, digits, '_', '-' or '.', at most 64"
            )
    return ChainFolders(clinics, refused)


def clinic_warehouse(out: Path, clinic: str) -> Path:
    """`<chain_out>/<clinic>/warehouse.duckdb`: a folder per clinic keeps each clinic's
    lock, logs and build files apart (and a clinic named `chain` apart from chain.duckdb)."""
    return out / clinic / WAREHOUSE_FILE


def clinic_settings(chain: Settings, clinic: str) -> Settings:
    """The chain's settings, then the clinic's own `clinic-analytics.toml` (its time zone,
    currency, VAT rates, ...), then what the chain decides for every clinic: where the
    input and the warehouse are, the DuckDB memory and threads of one parallel build, and
    no chain settings of its own.
    The environment still wins over the clinic's file, as it does over any settings file."""
    root, out = chain_paths(chain)
    folder = root / clinic
    fixed = {
        "input_dir": folder,
        "warehouse_path": clinic_warehouse(out, clinic),
        "build_path": None,
        "log_dir": None,
        **build_limits(chain),
        **SINGLE_CLINIC,
    }
    own_file = folder / DEFAULT_SETTINGS_FILE.name
    if not own_file.is_file():
        return chain.model_copy(update=fixed)
    try:
        own = set(tomllib.loads(own_file.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"invalid settings ({own_file}): {exc}") from exc
    inherited = {k: v for k, v in chain.model_dump().items() if k not in own}
    return load_settings(own_file, **(inherited | fixed))


def build_limits(chain: Settings) -> dict[str, str | int | None]:
    """DuckDB's memory and threads for one of `chain_parallel` builds running at once:
    the memory budget split evenly (`Settings.chain_build_memory`), the cores too, so N
    builds never ask for N times the machine. Python's, Dagster's and Polars' memory comes
    on top (a whole build process peaked at about 430 MiB at demo scale 1 with 256 MiB
    for DuckDB)."""
    per_build = chain.chain_build_memory
    memory = chain.duckdb_memory_limit if per_build is None else f"{per_build // 2**20}MiB"
    threads = chain.duckdb_threads or max(1, (os.cpu_count() or 1) // chain.chain_parallel)
    return {"duckdb_memory_limit": memory, "duckdb_threads": threads}
