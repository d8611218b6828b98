"""The input folder's entity subfolders, as pipelines/ingest/entities.py declares them.

Both demo forms write into the same folders; taking them from the declarations means an
entity added there gets its folder here, with no second list to keep in step.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.ingest.entities import ENTITIES

ENTITY_FOLDERS = tuple(entity.name for entity in ENTITIES if not entity.single_file)


def empty_entity_folders(out: Path) -> None:
    """Create each entity folder under `out`, removing files a previous demo left there."""
    for name in ENTITY_FOLDERS:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            if old.is_file():
                old.unlink()
