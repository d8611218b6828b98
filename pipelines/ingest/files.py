"""Which files of the input folder a build reads, by one rule for the loader, the build's
precheck and the file sensor.

An entity's exports are the files directly in its folder (`calls/`, ...), sorted by name
(the later name wins a conflict); `channels.csv` sits at the root. Mapping files beside
exports and format specs in `formats/` are not exports, but they change what a build
makes, so the sensor watches them too. A file that cannot be read is listed with the
reason (a link out of the input folder is never opened, a hidden file is not read), so
nothing is skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.ingest.entities import ENTITIES, Entity
from pipelines.ingest.formats import INPUT_FORMATS_DIR, MAPPING_SUFFIXES
from pipelines.ingest.readers import SUPPORTED_SUFFIXES, InputError


def display_name(name: str) -> str:
    """A file's name as the warehouse and the one-line messages show it: bytes that are
    not UTF-8 as U+FFFD, a space of any kind (a tab, a newline, a no-break space) as a
    plain space, other control characters as '?'. Spaces stay spaces so that a phone
    written with them in a name is still one run for the mask (sql/macros/01_masking.sql)."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " if ch.isspace() else "?" for ch in text)


def require_input_dir(input_dir: Path) -> None:
    if not input_dir.is_dir():
        raise InputError(f"input folder {input_dir} does not exist")


@dataclass(frozen=True)
class InputFile:
    path: Path
    source_file: str
    """The path relative to the input folder, as quarantine and the dashboard name it."""
    problem: str = ""
    """Why the file is not read (a link out of the input folder, an unknown type)."""


def entity_files(input_dir: Path, entity: Entity) -> list[InputFile]:
    """The entity's export files, sorted by name (the later name wins a conflict), each
    with the reason it cannot be read when it cannot; mapping files are not exports.

    A required entity with no folder or no files stops the run with a message naming
    the folder; an optional one (surveys) simply loads nothing. A file that resolves
    outside the input folder (a symbolic link to /etc/passwd) is never opened.
    """
    require_input_dir(input_dir)
    root = input_dir.resolve()
    if entity.single_file:
        path = input_dir / entity.single_file
        if path.is_file() or path.is_symlink():
            return [_input_file(path, root, input_dir)]
        if entity.required:
            raise InputError(f"required input file {path} is missing")
        return []
    folder = input_dir / entity.name
    if not folder.is_dir():
        if entity.required:
            raise InputError(f"required input folder {folder} is missing")
        return []
    files = [
        _input_file(p, root, input_dir)
        for p in sorted(folder.iterdir())
        if not p.name.endswith(MAPPING_SUFFIXES)
    ]
    if entity.required and not any(not f.problem for f in files):
        raise InputError(
            f"required input folder {folder} has no export files "
            f"({', '.join(sorted(SUPPORTED_SUFFIXES))})"
        )
    return files


def _input_file(path: Path, root: Path, input_dir: Path) -> InputFile:
    source_file = display_name(path.relative_to(input_dir).as_posix())
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return InputFile(path, source_file, "a link that leads nowhere (missing, or a loop)")
    if path.name.startswith("."):
        problem = "a hidden file (its name starts with '.'): not read"
    elif not resolved.is_relative_to(root):
        problem = "a link to a file outside the input folder: not read"
    elif resolved.is_dir():
        problem = "a folder: put export files directly in the entity's folder"
    elif not resolved.is_file():
        problem = "not a regular file"
    elif path.suffix.lower() not in SUPPORTED_SUFFIXES:
        problem = (
            f"unsupported file type {path.suffix or '(none)'!r}: "
            f"export as {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    else:
        problem = ""
    return InputFile(path, source_file, problem)


def watched_files(input_dir: Path) -> list[Path]:
    """Every file whose change changes a build: the exports of every entity (readable or
    not), their mapping files, and the input folder's own format specs."""
    if not input_dir.is_dir():
        return []
    paths: list[Path] = []
    for entity in ENTITIES:
        folder = input_dir / (entity.single_file or entity.name)
        if folder.is_file():
            paths.append(folder)
        elif folder.is_dir():
            paths += [p for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    formats = input_dir / INPUT_FORMATS_DIR
    if formats.is_dir():
        paths += sorted(formats.glob("*.yaml"))
    return [p for p in paths if p.is_file()]
