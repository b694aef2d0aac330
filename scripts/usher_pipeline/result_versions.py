"""Result versions: a run never leaves the user with less than they had.

Every run that ends with its validation passed (or not applicable, on a gene subset) keeps a copy
of its result set in the state folder, versioned by content::

    state/result_versions/
        blobs/<sha256>                 every distinct file once (read-only)
        <version>/manifest.json        files (path under results_dir -> sha256, size), status,
                                       time, the Snakemake records of the files
        <version>/files/<path>         the result set, readable as it was (links to the blobs)

``<version>`` is the first 16 hex digits of the sha256 of the sorted ``path sha256`` list, so the
same results give the same version and a rerun that changes nothing adds nothing.

A run that fails (a validation gate, or any job) writes ``results_dir/logs/last_run.json`` with
``status: failed`` and replaces the start page (``report/index.html``) and ``report.html`` with a
FAILED page naming the failure and the last passed version; ``usher-pipeline summary`` says
FAILED and exits 1. The last passed results stay readable under ``files/`` and
``usher-pipeline state restore [VERSION]`` puts them back into ``results_dir``: every file is
checked against its recorded sha256 first, written with one common mtime (so no output looks
older than its inputs) and with the Snakemake record it had, so a rerun does no work.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import time
from base64 import urlsafe_b64encode
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import UsherPipelineError
from .snapshot import sha256_file  # (not persistence: the Snakefile imports this at parse time)

VERSIONS_DIR = "result_versions"
LAST_RUN = "logs/last_run.json"
FAILED_MARK = "<!-- usher-pipeline: failed run -->"
# Not part of a result set: run logs and timings, the HTML report (rebuilt from the results by
# `snakemake --report`), half-written temporary files, and live mode's downloads (hard links into
# the fetch cache, which keeps them with their sha256; copying them would double their size).
EXCLUDED_TOP = ("logs", "benchmarks")
EXCLUDED_DIRS = ("live/raw",)
EXCLUDED_FILES = ("report.html", "report.html.fingerprint")
PASSING = ("passed", "not_applicable_gene_subset")


class ResultVersionError(UsherPipelineError):
    """A result version is unknown, ambiguous or does not match its manifest."""


def versions_dir(state_db: str | Path) -> Path:
    """The result-version store beside the state database (``state/result_versions``)."""
    return Path(state_db).parent / VERSIONS_DIR


def result_files(results_dir: str | Path) -> list[str]:
    """Paths (relative, sorted) of the files of a result set."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] in EXCLUDED_TOP or str(rel) in EXCLUDED_FILES:
            continue
        if any(rel.as_posix().startswith(d + "/") for d in EXCLUDED_DIRS):
            continue
        if ".tmp-" in path.name or path.name.endswith(".tmp"):
            continue
        out.append(rel.as_posix())
    return sorted(out)


def version_id(files: Mapping[str, Mapping[str, Any]]) -> str:
    listing = "".join(f"{p} {files[p]['sha256']}\n" for p in sorted(files))
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- Snakemake's records


def _metadata_path(workdir: Path, key: str) -> Path:
    """Where Snakemake's file persistence keeps the record of output ``key``
    (``.snakemake/metadata``: url-safe base64 of the path, split at the name-length limit)."""
    meta = workdir / ".snakemake" / "metadata"
    b64 = urlsafe_b64encode(key.encode()).decode()
    max_len = os.pathconf(meta, "PC_NAME_MAX") if meta.is_dir() else 255
    parts = [b64[i : i + max_len - 1] for i in range(0, len(b64), max_len - 1)]
    parts = ["@" + s for s in parts[:-1]] + [parts[-1]]
    return meta.joinpath(*parts)


# ---------------------------------------------------------------- store


def _blob(store: Path, sha: str) -> Path:
    return store / "blobs" / sha


def _put_blob(store: Path, src: Path, sha: str) -> Path:
    blob = _blob(store, sha)
    if blob.is_file() and sha256_file(blob) == sha:
        return blob
    blob.parent.mkdir(parents=True, exist_ok=True)
    tmp = blob.with_name(f"{sha}.tmp-{os.getpid()}")
    shutil.copyfile(src, tmp)
    if sha256_file(tmp) != sha:
        tmp.unlink()
        raise ResultVersionError(f"{src} changed while it was being kept; run again")
    tmp.chmod(0o444)
    tmp.replace(blob)
    return blob


def record_version(
    results_dir: str | Path,
    results_key: str,
    store: str | Path,
    status: str,
    workdir: str | Path = ".",
) -> dict[str, Any] | None:
    """Keep the result set of ``results_dir`` as a version (see the module docstring); return its
    manifest (the existing one when the same results were kept before). ``results_key`` is
    ``results_dir`` as the config writes it (Snakemake's records are keyed by that text)."""
    res, store, work = Path(results_dir), Path(store), Path(workdir)
    rels = result_files(res)
    if not rels:
        return None
    files: dict[str, dict[str, Any]] = {}
    for rel in rels:
        path = res / rel
        files[rel] = {"sha256": sha256_file(path), "size": path.stat().st_size}
    vid = version_id(files)
    manifest_path = store / vid / "manifest.json"
    if manifest_path.is_file():
        return json.loads(manifest_path.read_text())
    staging = store / f".{vid}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    for rel, rec in files.items():
        blob = _put_blob(store, res / rel, rec["sha256"])
        dest = staging / "files" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(blob, dest)
        except OSError:
            shutil.copyfile(blob, dest)
        meta = _metadata_path(work, f"{results_key}/{rel}")
        if meta.is_file():
            data = meta.read_bytes()
            msha = hashlib.sha256(data).hexdigest()
            _put_blob(store, meta, msha)
            rec["snakemake_record_sha256"] = msha
    manifest = {
        "version": vid,
        "status": status,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "results_dir": results_key,
        "files": files,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    try:
        staging.replace(store / vid)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not manifest_path.is_file():  # not another process keeping the same version first
            raise
        return json.loads(manifest_path.read_text())
    return manifest


def list_versions(store: str | Path) -> list[dict[str, Any]]:
    """Every kept version's manifest, newest first."""
    root = Path(store)
    if not root.is_dir():
        return []
    out = []
    for path in root.glob("*/manifest.json"):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(out, key=lambda m: (m.get("created_at", ""), m["version"]), reverse=True)


def find_version(store: str | Path, prefix: str | None = None) -> dict[str, Any]:
    """The newest version, or the one whose id starts with ``prefix``."""
    versions = list_versions(store)
    if not versions:
        raise ResultVersionError(
            f"no result version kept in {store} (a version is kept when a run passes validation)"
        )
    if prefix is None:
        return versions[0]
    hits = [m for m in versions if m["version"].startswith(prefix)]
    if len(hits) != 1:
        known = ", ".join(m["version"] for m in versions)
        raise ResultVersionError(
            f"{'no' if not hits else 'more than one'} result version matches {prefix!r} "
            f"(kept: {known})"
        )
    return hits[0]


def restore_version(
    store: str | Path,
    results_dir: str | Path,
    results_key: str,
    prefix: str | None = None,
    workdir: str | Path = ".",
) -> dict[str, Any]:
    """Put a kept version back into ``results_dir``; return its manifest.

    Every stored file is checked against its recorded sha256 before anything is written (a
    mismatch is refused, naming the file, and nothing changes). Files are written through
    temporary names, all with one mtime, with the Snakemake record they had; a FAILED
    ``report.html`` is removed (rebuild the report with ``snakemake --report``) and
    ``last_run.json`` names the restored version."""
    store, res, work = Path(store), Path(results_dir), Path(workdir)
    manifest = find_version(store, prefix)
    files = manifest["files"]
    for rel, rec in sorted(files.items()):
        blob = _blob(store, rec["sha256"])
        if not blob.is_file() or sha256_file(blob) != rec["sha256"]:
            raise ResultVersionError(
                f"{blob} (kept copy of {res / rel}, version {manifest['version']}) is missing or "
                "does not match its recorded sha256; nothing was restored"
            )
    stamp = time.time()
    for rel, rec in sorted(files.items()):
        dest = res / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
        shutil.copyfile(_blob(store, rec["sha256"]), tmp)
        tmp.chmod(0o644)
        os.utime(tmp, (stamp, stamp))
        tmp.replace(dest)
        msha = rec.get("snakemake_record_sha256")
        meta = _metadata_path(work, f"{results_key}/{rel}")
        if msha and _blob(store, msha).is_file():
            meta.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(_blob(store, msha), meta)
            meta.chmod(0o644)
        elif meta.is_file():
            meta.unlink()  # a record of a later run describes other content
    # Snakemake counts a job's benchmark file among its outputs when it dates them: benchmark
    # files are run timings, not results (not kept), so they take the restored files' mtime, or
    # those a failed run rewrote would look older than the restored inputs (a big input such as
    # the universe has no recorded checksum to tell Snakemake it is unchanged).
    bench = res / "benchmarks"
    if bench.is_dir():
        for path in bench.rglob("*"):
            if path.is_file():
                os.utime(path, (stamp, stamp))
    report = res / "report.html"
    if report.is_file() and FAILED_MARK in report.read_text(errors="replace"):
        report.unlink()
    write_last_run(res, "restored", version=manifest["version"])
    return manifest


# ---------------------------------------------------------------- end of a run


def write_last_run(results_dir: str | Path, status: str, **extra: Any) -> None:
    path = Path(results_dir) / LAST_RUN
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"status": status, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def read_last_run(results_dir: str | Path) -> dict[str, Any]:
    path = Path(results_dir) / LAST_RUN
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _validation_status(results_dir: Path) -> str:
    path = results_dir / "validation" / "validation.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return "missing"
    if data.get("failed"):
        return "failed"
    return str(data.get("gates_status") or "passed")


def failed_logs(results_dir: str | Path, since: float) -> list[str]:
    """Job logs of this run that record a failure (written after ``since``)."""
    logs = Path(results_dir) / "logs"
    out = []
    for log in sorted(logs.rglob("*.log")) if logs.is_dir() else []:
        try:
            if log.stat().st_mtime < since:
                continue
            text = log.read_text(errors="replace")
        except OSError:
            continue
        if " failed: " in text or "Traceback" in text:
            out.append(str(log))
    return out


def failed_page(reason: str, details: Iterable[str], last: Mapping[str, Any] | None,
                store: Path) -> str:  # fmt: skip
    """The start page / report of a failed run: FAILED, why, and where the last good results are."""
    items = "".join(f"<li><code>{html.escape(d)}</code></li>" for d in details)
    if last:
        keep = (
            f"<p>The last results that passed: version <code>{last['version']}</code> of "
            f"{html.escape(str(last.get('created_at')))}, readable in "
            f"<code>{html.escape(str(store / last['version'] / 'files'))}</code>. Bring them back "
            "into the results folder with <code>usher-pipeline state restore</code>.</p>"
        )
    else:
        keep = "<p>No earlier run passed validation, so there are no earlier results.</p>"
    return (
        f"<!DOCTYPE html>\n{FAILED_MARK}\n<html><head><meta charset='utf-8'>"
        "<title>usher-pipeline: FAILED</title></head><body>"
        "<h1 style='background:#f8d0d0;padding:.4em'>FAILED</h1>"
        f"<p>{html.escape(reason)}</p><ul>{items}</ul>{keep}</body></html>\n"
    )


def finish_run(
    results_dir: str,
    state_db: str | Path,
    succeeded: bool,
    started: float,
    workdir: str | Path = ".",
) -> str:
    """Called by the Snakefile when a run ends (``onsuccess`` / ``onerror``).

    Passed (or not applicable): keep the result set as a version, remove a FAILED
    ``report.html`` left by an earlier run, write ``last_run.json``. Failed: write
    ``last_run.json`` (failed, with the job logs that record the failure), a FAILED start page
    (``report/index.html``, dated 1970 so Snakemake rebuilds it on the next run) and
    ``report.html``. Returns one line for the terminal."""
    res, store = Path(workdir, results_dir), versions_dir(Path(workdir, state_db))
    status = _validation_status(res)
    if succeeded and status not in PASSING:
        return ""  # a run of some targets only (no validation yet): nothing to keep or report
    if succeeded:
        manifest = record_version(res, results_dir, store, status, workdir)
        report = res / "report.html"
        if report.is_file() and FAILED_MARK.encode() in report.read_bytes():
            report.unlink()
        vid = manifest["version"] if manifest else None
        write_last_run(res, status, version=vid)
        return f"results kept as version {vid} in {store} (usher-pipeline state versions)"
    logs = failed_logs(res, started)
    reason = (
        "The validation gates failed: no candidate list was published."
        if (res / "logs" / "validate.log").is_file() and str(res / "logs" / "validate.log") in logs
        else "A job of the run failed; its log says why."
    )
    last = list_versions(store)
    last_ok = next((m for m in last if m.get("status") in PASSING), None)
    write_last_run(res, "failed", reason=reason, logs=logs,
                   last_passed_version=last_ok["version"] if last_ok else None)  # fmt: skip
    page = failed_page(reason, logs, last_ok, store)
    for path in (res / "report" / "index.html", res / "report.html"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    os.utime(res / "report" / "index.html", (0, 0))
    hint = (f"; the last passed results (version {last_ok['version']}) are kept: "
            "usher-pipeline state restore" if last_ok else "")  # fmt: skip
    return f"FAILED: {reason}{hint}"
