"""`clinic-analytics pull`: the vendors' APIs, read on a schedule into the input folder.

Each source (`SOURCES`) turns a window of days into pages, each the vendor's own answer,
byte for byte; `landing` writes them as files into the input folder, where the formats
the project already recognises read them, and keeps each source's cursor. Plain `httpx`
and `tenacity` (`api`): why not dlt is in the README.
"""
