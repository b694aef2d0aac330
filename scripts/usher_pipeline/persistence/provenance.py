"""ProvenanceTracker: what produced an output, from which sources, with which config and code.

A sidecar ``<output file name>.provenance.json`` sits next to every output (the full file name is
kept, so ``candidates.tsv`` and ``candidates.parquet`` get distinct sidecars). Its format is the
JSON Schema ``workflow/schemas/provenance.schema.json``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._common import (
    atomic_write_text,
    canonical_json,
    file_record,
    sha256_file,
    sha256_text,
    utc_now_iso,
)

if TYPE_CHECKING:
    from .store import PipelineStore

SCHEMA_VERSION = "1.0"
SIDECAR_SUFFIX = ".provenance.json"
REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "provenance.schema.json"
_SOFTWARE = ("snakemake", "duckdb", "polars", "pyarrow", "pandas", "filelock", "jsonschema")


def sidecar_path(output_path: str | os.PathLike[str]) -> Path:
    """``results/x/candidates.tsv`` -> ``results/x/candidates.tsv.provenance.json``."""
    p = Path(output_path)
    if p.name.endswith(SIDECAR_SUFFIX):
        return p
    return p.with_name(p.name + SIDECAR_SUFFIX)


def config_hash(config: Mapping[str, Any] | None) -> str:
    """sha256 of the canonical JSON (sorted keys) of the config."""
    return sha256_text(canonical_json(dict(config or {})))


@functools.cache
def git_commit() -> str | None:
    """The repository's HEAD commit, or None (no git, not a checkout, any error)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


@functools.cache
def code_hash() -> str:
    """sha256 over the code that determines outputs: the library, rule scripts and rule files.

    Used instead of the git commit in the output hash, so a commit that touches only docs or tests
    leaves outputs byte-identical while any code change alters them.
    """
    h = hashlib.sha256()
    patterns = ("scripts/**/*.py", "workflow/rules/*.smk", "Snakefile")
    files = sorted({p for pat in patterns for p in REPO_ROOT.glob(pat) if p.is_file()})
    for path in files:
        if "__pycache__" in path.parts:
            continue
        h.update(path.relative_to(REPO_ROOT).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def software_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _SOFTWARE:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def default_pipeline_version() -> str:
    from usher_pipeline import __version__

    return __version__


@functools.cache
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _sidecar_validator() -> Any:
    """The sidecar schema's validator, its schema checked once per process (every job writes a
    sidecar per output; ``jsonschema.validate`` would check the schema again for each)."""
    import jsonschema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_sidecar(metadata: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError if ``metadata`` does not follow the sidecar schema (the
    error ``jsonschema.validate`` would raise: the best match of all errors)."""
    from jsonschema.exceptions import best_match

    error = best_match(_sidecar_validator().iter_errors(dict(metadata)))
    if error is not None:
        raise error


def _source_key(src: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (str(src["name"]), str(src["release"]), str(src["url"]), src.get("sha256") or "")


class ProvenanceTracker:
    """Collects provenance for one job (one rule execution) and writes it out."""

    def __init__(self, pipeline_version: str, config: Mapping[str, Any] | None) -> None:
        self.pipeline_version = str(pipeline_version)
        self.config = dict(config or {})
        self.config_hash = config_hash(self.config)
        self.created_at = utc_now_iso()
        self.rule: str | None = None
        self.wildcards: dict[str, str] = {}
        self.run_id: str | None = None
        self.steps: list[dict[str, Any]] = []
        self.sources: list[dict[str, Any]] = []
        self.inputs: list[dict[str, Any]] = []
        self.outputs: list[dict[str, Any]] = []

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | None, version: str | None = None
    ) -> ProvenanceTracker:
        return cls(version or default_pipeline_version(), config)

    # ------------------------------------------------------------------ collecting
    def record_step(self, step_name: str, details: Mapping[str, Any] | None = None) -> None:
        self.steps.append(
            {"name": str(step_name), "timestamp": utc_now_iso(), "details": dict(details or {})}
        )

    def add_source(
        self,
        name: str,
        release: str,
        url: str,
        path: str | os.PathLike[str] | None = None,
        retrieved_at: str | None = None,
        validators: Mapping[str, Any] | None = None,
        sha256: str | None = None,
        note: str | None = None,
    ) -> None:
        """A data source release. ``validators``: HTTP ETag / Last-Modified of a live fetch;
        ``note``: e.g. ``snapshot only (release ...)`` for a snapshot table a live run used."""
        if sha256 is None and path is not None and Path(path).is_file():
            sha256 = sha256_file(path)
        entry = {
            "name": str(name),
            "release": str(release),
            "url": str(url),
            "path": None if path is None else str(path),
            "retrieved_at": retrieved_at,
            "validators": {str(k): v for k, v in (validators or {}).items()},
            "sha256": sha256,
        }
        if note:
            entry["note"] = str(note)
        self.sources.append(entry)

    def inherit_sources(self, input_path: str | os.PathLike[str]) -> int:
        """Add the data sources recorded in the sidecar of ``input_path`` (an output of an
        upstream job), each marked ``via`` that input, so every output names every release it
        descends from, not only the files its own job read. Returns how many were new."""
        side = sidecar_path(input_path)
        if not side.is_file():
            return 0
        try:
            upstream = json.loads(side.read_text()).get("sources") or []
        except (OSError, ValueError) as exc:
            raise ValueError(f"unreadable provenance sidecar {side}: {exc}") from exc
        seen = {_source_key(s) for s in self.sources}
        added = 0
        for src in upstream:
            if _source_key(src) in seen:
                continue
            seen.add(_source_key(src))
            self.sources.append({**src, "via": str(input_path)})
            added += 1
        return added

    def _record(self, path: str | os.PathLike[str], record: Mapping[str, Any] | None) -> dict:
        rec = dict(record) if record is not None else file_record(path)
        rec["path"] = str(path)
        return rec

    def add_input(
        self, path: str | os.PathLike[str], record: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        rec = self._record(path, record)
        self.inputs = [r for r in self.inputs if r["path"] != rec["path"]] + [rec]
        return rec

    def add_output(
        self, path: str | os.PathLike[str], record: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        rec = self._record(path, record)
        self.outputs = [r for r in self.outputs if r["path"] != rec["path"]] + [rec]
        return rec

    # ------------------------------------------------------------------ results
    def provenance_hash(self) -> str:
        """Time-independent hash of what determines the outputs: code, config, rule, inputs."""
        basis = {
            "pipeline_version": self.pipeline_version,
            "code_sha256": code_hash(),
            "config_hash": self.config_hash,
            "rule": self.rule,
            "wildcards": self.wildcards,
            "inputs": sorted((r["path"], r.get("sha256")) for r in self.inputs),
            "sources": sorted(
                (s["name"], s["release"], s["url"], s.get("sha256") or "") for s in self.sources
            ),
        }
        return sha256_text(canonical_json(basis))

    def create_metadata(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "pipeline": {"version": self.pipeline_version, "git_commit": git_commit()},
            "created_at": utc_now_iso(),
            "config_hash": self.config_hash,
            "provenance_sha256": self.provenance_hash(),
            "rule": self.rule,
            "wildcards": dict(self.wildcards),
            "run_id": self.run_id,
            "sources": [dict(s) for s in self.sources],
            "processing_steps": [dict(s) for s in self.steps],
            "inputs": [dict(r) for r in self.inputs],
            "outputs": [dict(r) for r in self.outputs],
            "software": dict(software_versions()),
            "host": {"platform": platform.platform(), "python_executable": sys.executable},
        }

    def save_sidecar(self, output_path: str | os.PathLike[str]) -> Path:
        """Write ``<output_path>.provenance.json`` atomically; return its path."""
        out = Path(output_path)
        meta = self.create_metadata()
        rec = next((r for r in self.outputs if r["path"] == str(output_path)), None)
        if rec is None and out.exists():
            rec = file_record(out)
        meta["output"] = rec
        if SCHEMA_PATH.exists():
            validate_sidecar(meta)
        target = sidecar_path(out)
        atomic_write_text(target, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return target

    def store_rows(self, metadata: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows for the ``_provenance`` table: one per output (or one without an output)."""
        meta = dict(metadata) if metadata is not None else self.create_metadata()
        text = canonical_json(meta)
        rows = []
        for rec in self.outputs or [{"path": ""}]:
            side = sidecar_path(rec["path"]) if rec["path"] else None
            rows.append(
                {
                    "output_path": rec["path"],
                    "created_at": meta["created_at"],
                    "rule": self.rule,
                    "run_id": self.run_id,
                    "config_hash": self.config_hash,
                    "pipeline_version": self.pipeline_version,
                    "provenance_sha256": meta["provenance_sha256"],
                    "sidecar_sha256": sha256_file(side) if side and side.is_file() else None,
                    "metadata_json": text,
                }
            )
        return rows

    def save_to_store(self, store: PipelineStore) -> None:
        """Record the metadata in the store's ``_provenance`` table (one row per output)."""
        store.record_provenance(self.store_rows())

    @staticmethod
    def load_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Read the sidecar of an output (pass the output path or the sidecar path)."""
        return json.loads(sidecar_path(path).read_text(encoding="utf-8"))
