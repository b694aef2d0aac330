"""Offline validation of a Provenance Run Crate with rocrate-validator (``roc-validator``).

rocrate-validator expands the crate's JSON-LD through its HTTP cache; with ``--offline`` a missing
RO-Crate 1.1 context makes every SHACL check skip (a vacuous pass). The context document is taken
from the ``rocrate`` 0.7.0 wheel (the last ro-crate-py release whose bundled
``rocrate/data/ro-crate.jsonld`` is the RO-Crate 1.1 context), fetched from the package registry
with pip by ``.ci/run`` (or here, when it is missing), and stored in a requests-cache database as
the response for the context URL. The validator then runs with ``--offline --cache-path``: no
check is skipped and nothing is downloaded during validation.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CONTEXT_URL = "https://w3id.org/ro/crate/1.1/context"
CONTEXT_WHEEL = "rocrate==0.7.0"
CONTEXT_MEMBER = "rocrate/data/ro-crate.jsonld"
WHEEL_DIR = REPO / ".venv" / "ro-crate-1.1-context"
PROFILE = "provenance-run-crate-0.5"


def context_document() -> bytes:
    """The RO-Crate 1.1 context JSON-LD (from the rocrate 0.7.0 wheel; pip-downloaded if absent)."""
    wheels = sorted(WHEEL_DIR.glob("rocrate-0.7.0-*.whl"))
    if not wheels:
        WHEEL_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", CONTEXT_WHEEL],
            cwd=WHEEL_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
        wheels = sorted(WHEEL_DIR.glob("rocrate-0.7.0-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        body = zf.read(CONTEXT_MEMBER)
    if json.loads(body).get("@id") != CONTEXT_URL:
        raise RuntimeError(f"{wheels[0]}: {CONTEXT_MEMBER} is not the RO-Crate 1.1 context")
    return body


def offline_cache(dest: Path) -> Path:
    """A requests-cache database answering the RO-Crate 1.1 context URL; returns its name."""
    import requests
    from requests.adapters import BaseAdapter, HTTPAdapter
    from requests_cache import CachedSession
    from urllib3.response import HTTPResponse

    body = context_document()

    class _Local(BaseAdapter):
        """Serves the context document; never opens a connection."""

        def send(self, request, **kwargs):  # noqa: ANN001, ANN003, ANN201
            if request.url != CONTEXT_URL:
                raise requests.ConnectionError(f"offline: {request.url}")
            raw = HTTPResponse(
                body=io.BytesIO(body),
                headers={"Content-Type": "application/ld+json", "Content-Length": str(len(body))},
                status=200,
                preload_content=False,
                request_url=request.url,
            )
            return HTTPAdapter().build_response(request, raw)

        def close(self) -> None:
            return None

    name = dest / "rocrate-validator-cache"
    session = CachedSession(
        str(name),
        backend="sqlite",
        allowable_methods=("GET",),
        allowable_codes=(200, 302, 404),
        expire_after=-1,
    )
    session.mount("https://", _Local())
    session.mount("http://", _Local())
    accept = {"Accept": "application/ld+json, application/json, */*;q=0.1"}
    response = session.get(CONTEXT_URL, headers=accept, allow_redirects=True)
    response.raise_for_status()
    session.close()
    return name


def validate(crate_dir: Path, cache: Path) -> dict[str, Any]:
    """rocrate-validator's JSON report for ``crate_dir`` (REQUIRED level, offline)."""
    exe = Path(sys.executable).with_name("rocrate-validator")
    cmd = [
        str(exe),
        "validate",
        "-p",
        PROFILE,
        "-l",
        "required",
        "--offline",
        "--cache-path",
        str(cache),
        "--no-paging",
        "-f",
        "json",
        str(crate_dir),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        report, _ = json.JSONDecoder().raw_decode(res.stdout.lstrip())
    except ValueError:
        raise AssertionError(
            f"rocrate-validator printed no JSON report (exit {res.returncode}):\n"
            f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        ) from None
    report["_returncode"] = res.returncode
    return report
