"""One HTTP layer for every live source.

* ``requests.Session`` for connection reuse; every request has a (connect, read) timeout, so a
  stalled response surfaces as ``requests.Timeout`` instead of hanging.
* Retries via ``tenacity``: on connection errors, timeouts, broken/short bodies and on HTTP 429,
  500, 502, 503, 504. The wait is exponential with jitter, except when the server sends
  ``Retry-After`` (seconds or HTTP date) on a 429/5xx: then that value is honoured (capped).
* Per-host token buckets from ``pyrate-limiter`` (``burst=1``: requests are spaced evenly, at
  ``rate_safety`` (95%) of the configured rate, so a server counting per sliding second never sees
  more than the limit despite timing jitter). Every attempt, including
  retries, takes a token. The limiter is thread-safe, so worker threads share it.
* Streaming downloads: the body is written in chunks to the given path while its sha256 is
  computed; a body shorter than ``Content-Length`` is retried; a ``validate`` callback (header /
  gzip integrity checks, see :mod:`usher_pipeline.live.validate`) runs before the file is handed
  back, so a bad download never becomes a cached file.

When retries are exhausted :class:`SourceFetchError` names the source and the URL.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from pyrate_limiter import Duration, Limiter, Rate, StateBucket, TokenBucket
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from .. import __version__
from ..errors import UsherPipelineError
from .progress import Progress

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
CHUNK = 1 << 20


class SourceFetchError(UsherPipelineError):
    """A live source could not be fetched (after retries, or a non-retryable HTTP status)."""

    def __init__(self, source: str, url: str, problem: str) -> None:
        self.source = source
        self.url = url
        self.problem = problem
        super().__init__(f"source '{source}' ({url}): {problem}")


class _Retryable(Exception):
    """Internal: a failed attempt that is worth repeating."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


@dataclass
class HttpSettings:
    """Settings of the HTTP layer (from ``config['live']``, see :meth:`from_config`)."""

    rate_limits: Mapping[str, float] = field(default_factory=lambda: {"default": 5.0})
    timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    max_retries: int = 6
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 300.0
    # Fraction of the configured limit the token bucket aims at: request timing jitters by a few
    # ms, and a server counting requests per sliding second must never see more than the limit.
    rate_safety: float = 0.95
    user_agent: str = f"usher-pipeline/{__version__} (+https://github.com/usher-pipeline)"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HttpSettings:
        live = dict(config.get("live") or {})
        limits = {str(k): float(v) for k, v in (live.get("rate_limits") or {}).items()}
        limits.setdefault("default", 5.0)
        api_key = ncbi_api_key(config)
        if api_key:
            # NCBI allows 10 requests/s with an API key (3 without).
            limits["eutils.ncbi.nlm.nih.gov"] = float(
                live.get("ncbi_rate_with_key", max(limits.get("eutils.ncbi.nlm.nih.gov", 3.0), 10))
            )
        return cls(
            rate_limits=limits,
            timeout_s=float(live.get("timeout_s", 60)),
            connect_timeout_s=float(live.get("connect_timeout_s", 10)),
            max_retries=int(live.get("max_retries", 6)),
            backoff_base_s=float(live.get("backoff_base_s", 1.0)),
            backoff_max_s=float(live.get("backoff_max_s", 60.0)),
            max_retry_after_s=float(live.get("max_retry_after_s", 300.0)),
            rate_safety=float(live.get("rate_safety", 0.95)),
        )


def ncbi_api_key(config: Mapping[str, Any]) -> str | None:
    """The NCBI API key from the environment variable named by ``live.ncbi_api_key_env``."""
    env = (config.get("live") or {}).get("ncbi_api_key_env", "NCBI_API_KEY")
    value = os.environ.get(str(env), "").strip() if env else ""
    return value or None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait per a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class DownloadInfo:
    """What a streaming download learned about the file (goes into provenance)."""

    url: str
    size: int
    sha256: str
    retrieved_at: str
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None

    def as_metadata(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "size": self.size,
            "sha256": self.sha256,
            "retrieved_at": self.retrieved_at,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "content_type": self.content_type,
        }


@dataclass
class HttpStats:
    """Counters of one client (benchmarks and logs)."""

    attempts: int = 0
    retries: int = 0
    status_429: int = 0
    status_5xx: int = 0
    timeouts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def _make_limiter(rate_per_s: float) -> Limiter:
    # Rate in milli-requests per 1000 s keeps fractional limits (e.g. 2.5/s) exact.
    rate = Rate(max(1, round(rate_per_s * 1000)), Duration.SECOND * 1000, burst=1)
    return Limiter(StateBucket([rate], algorithm=TokenBucket()), buffer_ms=0)


class HttpClient:
    """Rate-limited, retrying HTTP client shared by all live sources (thread-safe)."""

    def __init__(
        self, settings: HttpSettings | None = None, session: requests.Session | None = None
    ) -> None:
        self.settings = settings or HttpSettings()
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", self.settings.user_agent)
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.stats = HttpStats()
        self._limiters: dict[str, Limiter] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HttpClient:
        return cls(HttpSettings.from_config(config))

    # -- rate limiting -------------------------------------------------------------------------
    def rate_for(self, host: str) -> float:
        limits = self.settings.rate_limits
        return float(limits.get(host, limits.get("default", 5.0)))

    def _limiter(self, url: str) -> Limiter:
        parts = urlsplit(url)
        host = parts.hostname or ""
        # Limits are keyed by host name; a host:port entry wins (the loopback test server).
        key = (
            f"{host}:{parts.port}"
            if parts.port and f"{host}:{parts.port}" in (self.settings.rate_limits)
            else host
        )
        with self._lock:
            lim = self._limiters.get(key)
            if lim is None:
                rate = self.rate_for(key) * self.settings.rate_safety
                lim = self._limiters[key] = _make_limiter(rate)
            return lim

    def close(self) -> None:
        self.session.close()
        for lim in self._limiters.values():
            lim.close() if hasattr(lim, "close") else None

    # -- retry machinery -----------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, self.settings.max_retry_after_s)
        exp = self.settings.backoff_base_s * (2 ** (state.attempt_number - 1))
        return min(self.settings.backoff_max_s, exp) * (0.5 + random.random() / 2)

    def _run(self, source: str, url: str, attempt: Callable[[], Any]) -> Any:
        def before_sleep(state: RetryCallState) -> None:
            self.stats.bump("retries")
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "source %s: %s; retry %d/%d in %.1fs (%s)",
                source,
                getattr(exc, "problem", exc),
                state.attempt_number,
                self.settings.max_retries,
                state.upcoming_sleep,
                url,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retryable as exc:
            raise SourceFetchError(
                source,
                url,
                f"{exc.problem} (gave up after {self.settings.max_retries + 1} attempts)",
            ) from exc

    def _send(
        self, url: str, params: Mapping[str, Any] | None, stream: bool, source: str
    ) -> requests.Response:
        self._limiter(url).try_acquire("req")
        self.stats.bump("attempts")
        try:
            resp = self.session.get(
                url,
                params=params,
                stream=stream,
                timeout=(self.settings.connect_timeout_s, self.settings.timeout_s),
            )
        except requests.Timeout as exc:
            self.stats.bump("timeouts")
            raise _Retryable(f"timeout after {self.settings.timeout_s:g}s") from exc
        except requests.ConnectionError as exc:
            raise _Retryable(f"connection error: {exc}") from exc
        if resp.status_code in RETRY_STATUS:
            self.stats.bump("status_429" if resp.status_code == 429 else "status_5xx")
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            resp.close()
            raise _Retryable(f"HTTP {resp.status_code}", retry_after)
        if resp.status_code >= 400:
            resp.close()
            raise SourceFetchError(source, resp.url, f"HTTP {resp.status_code} {resp.reason}")
        return resp

    # -- public API ----------------------------------------------------------------------------
    def get(
        self, url: str, *, params: Mapping[str, Any] | None = None, source: str = "http"
    ) -> requests.Response:
        """GET with retries; the whole body is read (and a short body retried) before returning."""

        def attempt() -> requests.Response:
            resp = self._send(url, params, stream=False, source=source)
            try:
                _ = resp.content
            except (requests.RequestException, OSError) as exc:
                raise _Retryable(f"body read failed: {exc}") from exc
            return resp

        return self._run(source, url, attempt)

    def get_json(
        self, url: str, *, params: Mapping[str, Any] | None = None, source: str = "http"
    ) -> Any:
        """GET and decode JSON; a non-JSON body (an HTML error page) is a SourceFetchError."""
        resp = self.get(url, params=params, source=source)
        try:
            return resp.json()
        except ValueError as exc:
            head = resp.text[:120].replace("\n", " ")
            raise SourceFetchError(
                source, resp.url, f"expected JSON, got {resp.headers.get('Content-Type')}: {head!r}"
            ) from exc

    def download(
        self,
        url: str,
        dest: str | Path,
        *,
        source: str,
        validate: Callable[[Path], None] | None = None,
    ) -> DownloadInfo:
        """Stream ``url`` to ``dest`` (overwritten), check its length and run ``validate``.

        Network truncation (fewer bytes than Content-Length, connection reset mid-body) is retried.
        ``validate`` raises :class:`~usher_pipeline.errors.SourceFormatError` for a file that
        arrived intact but is not the expected data; that is not retried. On any failure ``dest``
        is removed, so no partial file is left behind.
        """
        dest = Path(dest)

        def attempt() -> DownloadInfo:
            resp = self._send(url, None, stream=True, source=source)
            digest = hashlib.sha256()
            size = 0
            length = resp.headers.get("Content-Length", "")
            prog = Progress(
                f"{source} download (bytes)", int(length) if length.isdigit() else 0, unit="B"
            )
            try:
                with resp, open(dest, "wb") as out:
                    for chunk in resp.iter_content(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        prog.add(len(chunk), requests=0)
            except (requests.RequestException, OSError) as exc:
                dest.unlink(missing_ok=True)
                raise _Retryable(f"download interrupted after {size} bytes: {exc}") from exc
            expected = resp.headers.get("Content-Length")
            encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
            if expected is not None and not encoded and int(expected) != size:
                dest.unlink(missing_ok=True)
                raise _Retryable(f"truncated download: {size} of {expected} bytes")
            return DownloadInfo(
                url=resp.url,
                size=size,
                sha256=digest.hexdigest(),
                retrieved_at=datetime.now(UTC).isoformat(timespec="seconds"),
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
                content_type=resp.headers.get("Content-Type"),
            )

        try:
            info = self._run(source, url, attempt)
            if validate is not None:
                validate(dest)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return info
