"""Rate limit for the dashboard's sign-in form: a growing wait after failed passwords.

A password form without a limit can be guessed at the speed of the network. After the
n-th consecutive failure, a browser session and a client address must each wait
`base * 2**(n-1)` seconds (capped) since their last failure before the next password is
even compared. Counting per address stops a guesser who opens a new session (reloads
the page) for every try; counting per session keeps one tab's failures its own when many
users share an address (a proxy, or loopback, which Streamlit reports as no address).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

logger = logging.getLogger("clinic_analytics.auth")

MAX_EXPONENT = 62
"""2**62 seconds is far past any cap: keeps the float product finite for huge counts."""


@dataclass(frozen=True)
class Attempt:
    """What happened to one sign-in: accepted, refused before comparing, or wrong."""

    accepted: bool
    wait_s: float = 0.0
    """When refused: seconds until the next attempt is compared; 0 otherwise."""
    failures: int = 0
    """When wrong: consecutive failures from this address, this one included."""

    @property
    def refused(self) -> bool:
        return self.wait_s > 0


@dataclass
class _Failures:
    count: int = 0
    last_at: float = 0.0


class LoginLimiter:
    """Consecutive failures per session and per address, shared by every session of a
    server (Streamlit runs sessions on threads, hence the lock). `clock` is injectable so
    tests move time instead of sleeping."""

    def __init__(
        self, base_s: float, max_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.base_s = base_s
        self.max_s = max_s
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], _Failures] = {}

    def delay_s(self, failures: int) -> float:
        """The wait after `failures` consecutive failures: 0, base, 2 base, 4 base, … cap."""
        if failures <= 0:
            return 0.0
        return min(self.base_s * 2 ** min(failures - 1, MAX_EXPONENT), self.max_s)

    def failures(self, session: str, address: str) -> tuple[int, int]:
        """(session, address) consecutive failure counts."""
        with self._lock:
            return (
                self._entry("session", session).count,
                self._entry("address", address).count,
            )

    def wait_s(self, session: str, address: str) -> float:
        """Seconds before this session, from this address, may try again (0: now)."""
        with self._lock:
            return self._wait_s(session, address)

    def attempt(self, session: str, address: str, check: Callable[[], bool]) -> Attempt:
        """Run `check` (the password comparison) unless a wait is pending, and count the
        outcome. The lock spans check and count, so concurrent sessions from one address
        cannot all slip through the same open moment."""
        with self._lock:
            wait = self._wait_s(session, address)
            if wait > 0:
                return Attempt(accepted=False, wait_s=wait)
            if check():
                self._failures.pop(("session", session), None)
                self._failures.pop(("address", address), None)
                return Attempt(accepted=True)
            now = self.clock()
            counts = []
            for key in (("session", session), ("address", address)):
                entry = self._failures.setdefault(key, _Failures())
                entry.count += 1
                entry.last_at = now
                counts.append(entry.count)
        session_count, address_count = counts
        # the address and the counts only: never the password typed
        logger.warning(
            "failed dashboard sign-in from %s: %d consecutive failures from this address, "
            "%d in this session",
            address,
            address_count,
            session_count,
        )
        return Attempt(accepted=False, failures=address_count)

    def _entry(self, kind: str, name: str) -> _Failures:
        return self._failures.get((kind, name)) or _Failures()

    def _wait_s(self, session: str, address: str) -> float:
        now = self.clock()
        waits = [
            entry.last_at + self.delay_s(entry.count) - now
            for entry in (self._entry("session", session), self._entry("address", address))
            if entry.count
        ]
        return max([0.0, *waits])


@st.cache_resource
def shared_limiter(base_s: float, max_s: float) -> LoginLimiter:
    """One limiter per server (and per setting values): every session must see the same
    counts, or a new tab would start from zero."""
    return LoginLimiter(base_s, max_s)
