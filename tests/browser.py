"""A real Streamlit server and Debian's Chromium, shared by the browser test and benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.cli import streamlit_command

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("CLINIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = {
    "Overview": "",
    "Channels": "channels",
    "Administrators": "administrators",
    "Doctors": "doctors",
    "Forecast": "forecast",
    "Budget": "budget",
    "Reactivation": "reactivation",
    "Data quality": "data_quality",
}

IDLE_APP = '[data-testid="stApp"][data-test-script-state="notRunning"]'
"""Streamlit's root element once no script run is pending: what is shown is final."""


def script_idle(tab: Page, timeout_ms: float = 30_000) -> None:
    """Wait until the app's script has finished its run. Call it after waiting for
    something the new run alone shows: before that, the old run may still look idle."""
    tab.locator(IDLE_APP).wait_for(timeout=timeout_ms)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(warehouse: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run` on a free loopback port; yields the base URL, stops it on exit."""
    port = free_port()
    process = subprocess.Popen(
        streamlit_command("127.0.0.1", port),
        env={**os.environ, "CLINIC_WAREHOUSE_PATH": str(warehouse), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
