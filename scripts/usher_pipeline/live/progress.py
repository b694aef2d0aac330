"""Progress lines of long pulls in the rule log: items done / total, request rate, time left."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Progress:
    """Items done / total, rate and time left, logged at most every ``every_s`` seconds."""

    def __init__(self, what: str, total: int, every_s: float = 10.0, unit: str = "items") -> None:
        self.what = what
        self.total = max(0, int(total))
        self.done = 0
        self.requests = 0
        self.every_s = every_s
        self.unit = unit
        self.t0 = time.monotonic()
        self._last = self.t0

    def add(self, items: int, requests: int = 1, force: bool = False) -> None:
        self.done += items
        self.requests += requests
        now = time.monotonic()
        finished = self.total > 0 and self.done >= self.total
        if force or finished or now - self._last >= self.every_s:
            self._last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        el = max((now or time.monotonic()) - self.t0, 1e-9)
        rate = self.done / el
        left = (self.total - self.done) / rate if rate > 0 and self.total > self.done else 0.0
        of = f"/{self.total:,}" if self.total else " (total unknown)"
        reqs = f", {self.requests} requests ({self.requests / el:.2f}/s)" if self.requests else ""
        return (
            f"{self.what}: {self.done:,}{of} done{reqs}, {rate:,.0f} {self.unit}/s, "
            f"~{left:,.0f} s left"
        )
