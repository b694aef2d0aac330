"""RuleRun: the context manager every rule entry script runs inside.

    with RuleRun(snakemake) as run:
        df = build(run.params.x)
        run.write_parquet(df, snakemake.output.table, table_name="candidates", sort_by="gene")

On entry: logging to ``snakemake.log[0]``, sha256 (+ rows) of every input, a ``running`` row in
``_runs``. On success: a provenance sidecar for every declared output, output hashes and the run
row closed as ``ok``. On an exception: the outputs this job wrote are removed, the run is recorded
``failed`` and the exception propagates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ._common import atomic_path, canonical_json, content_hash, sha256_file, to_polars
from .parquet import write_parquet
from .provenance import ProvenanceTracker, default_pipeline_version, sidecar_path
from .store import PipelineStore

LIVE_LOGGER = "usher_pipeline.live"
TIMING_PREFIX = "timing:"


def process_age() -> float | None:
    """Seconds since this process was created (interpreter start, imports, Snakemake's script
    preamble): /proc/self/stat's start time against the boot clock (10 ms resolution); None where
    /proc is not available."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime (ticks)
        return max(time.clock_gettime(time.CLOCK_BOOTTIME) - started, 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _flatten(items: Any) -> list[str]:
    """Paths of a snakemake namedlist / list / str (nested lists flattened)."""
    if items is None:
        return []
    if isinstance(items, (str, os.PathLike)):
        return [str(items)]
    out: list[str] = []
    for item in items:
        out.extend(_flatten(item))
    return out


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    items = getattr(obj, "items", None)
    if callable(items):
        return {str(k): v for k, v in items()}
    return {}


def check_library(scriptdir: str | os.PathLike[str] | None) -> None:
    """Fail unless this process runs the library of the workflow checkout whose rule script it
    executes (``snakemake.scriptdir``, the checkout's ``scripts/``). An installed copy of the
    package (a non-editable ``pip install``) would otherwise silently run instead, with other code
    and no git commit in the provenance."""
    if not scriptdir or "://" in str(scriptdir):
        return
    from .. import __file__ as lib_init
    from ..errors import LibraryMismatchError

    expected = (Path(scriptdir) / "usher_pipeline").resolve()
    loaded = Path(lib_init).resolve().parent
    if loaded != expected:
        raise LibraryMismatchError(
            f"this job imported usher_pipeline from {loaded}, but the workflow's own library is "
            f"{expected}. Reinstall in editable mode (pip install -e .) or remove the installed "
            "copy (pip uninstall usher-pipeline); the Snakefile puts the checkout first on "
            "PYTHONPATH, so something in this job's environment overrides it."
        )


class RuleRun:
    """Bookkeeping around one Snakemake job. See the module docstring."""

    def __init__(
        self,
        snakemake: Any,
        *,
        store: PipelineStore | None = None,
        pipeline_version: str | None = None,
    ) -> None:
        check_library(getattr(snakemake, "scriptdir", None))
        self.snakemake = snakemake
        self.config: dict[str, Any] = dict(getattr(snakemake, "config", None) or {})
        self.params: Any = getattr(snakemake, "params", None)
        self.rule: str = str(getattr(snakemake, "rule", None) or "unknown_rule")
        self.wildcards: dict[str, str] = {
            k: str(v) for k, v in _as_dict(getattr(snakemake, "wildcards", None)).items()
        }
        self.inputs: list[str] = _flatten(getattr(snakemake, "input", None))
        self.outputs: list[str] = _flatten(getattr(snakemake, "output", None))
        logs = _flatten(getattr(snakemake, "log", None))
        self.log_path: str | None = logs[0] if logs else None
        self.run_id = uuid.uuid4().hex
        self.tracker = ProvenanceTracker(
            pipeline_version or default_pipeline_version(), self.config
        )
        self.tracker.rule = self.rule
        self.tracker.wildcards = dict(self.wildcards)
        self.tracker.run_id = self.run_id
        self.log = logging.getLogger(f"usher_pipeline.rule.{self.rule}.{self.run_id[:8]}")
        self._handler: logging.Handler | None = None
        self._store = store
        self._extra_outputs: list[str] = []
        self._before: dict[str, tuple[float, int] | None] = {}
        self._rows_written: dict[str, int] = {}
        self._started = False
        self._refs_start = 0
        self._tables: list[Any] = []

    # ------------------------------------------------------------------ properties
    @property
    def holder(self) -> str:
        if not self.wildcards:
            return self.rule
        return f"{self.rule}[{','.join(f'{k}={v}' for k, v in sorted(self.wildcards.items()))}]"

    @property
    def store(self) -> PipelineStore:
        if self._store is None:
            self._store = PipelineStore.from_config(self.config, holder=self.holder)
        return self._store

    # ------------------------------------------------------------------ context
    def __enter__(self) -> RuleRun:
        self._t_enter = time.perf_counter()
        self._startup = process_age()
        self._setup_logging()
        os.environ["USHER_PIPELINE_RULE"] = self.holder
        for path in self.outputs:
            self._before[path] = self._stamp(path)
        self.store.holder = self.store.holder or self.holder
        try:
            self._check_snapshot_inputs()
        except BaseException as exc:
            self.store.start_run(self.run_id, self.rule, canonical_json(self.wildcards),
                                 config_hash=self.tracker.config_hash)  # fmt: skip
            self._started = True
            self._finish_failed(exc)
            self._teardown_logging()
            raise
        input_records = []
        for path in self.inputs:
            if os.path.exists(path):
                rec = self.tracker.add_input(path)
                input_records.append(rec)
                self.tracker.inherit_sources(path)
                # the per-file detail of the job (the terminal shows one line per job)
                rows = f", {rec['rows']} rows" if rec.get("rows") is not None else ""
                self.log.info("input %s (sha256 %s, %s bytes%s)", path, rec.get("sha256"),
                              rec.get("size"), rows)  # fmt: skip
            else:
                self.log.warning("input %s does not exist; not hashed", path)
        self._refs_start = len(self.store.refs)
        self.store.start_run(
            self.run_id,
            self.rule,
            canonical_json(self.wildcards),
            config_hash=self.tracker.config_hash,
            inputs=input_records,
        )
        self._started = True
        self.log.info(
            "rule %s started (run %s, %d inputs)", self.rule, self.run_id, len(self.inputs)
        )
        self._t_body = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        t_exit = time.perf_counter()
        try:
            if exc is None:
                try:
                    self._finish_ok()
                    self._log_timing(t_exit)
                    return False
                except BaseException as finish_exc:  # record and re-raise
                    self._finish_failed(finish_exc)
                    raise
            self._finish_failed(exc, tb)
            return False
        finally:
            self._teardown_logging()

    def _log_timing(self, t_exit: float) -> None:
        """One log line with where the job's time went: process start-up (interpreter, imports,
        Snakemake's preamble) before RuleRun was entered, RuleRun's own bookkeeping on entry
        (input hashes, run row) and exit (output hashes, sidecars, commit), and the rule body."""
        startup = "n/a" if self._startup is None else f"{self._startup:.3f}"
        self.log.info(
            "%s startup_s=%s enter_s=%.3f body_s=%.3f exit_s=%.3f", TIMING_PREFIX, startup,
            self._t_body - self._t_enter, t_exit - self._t_body, time.perf_counter() - t_exit,
        )  # fmt: skip

    def _check_snapshot_inputs(self) -> None:
        """Compare the sha256 of every snapshot file this job reads with the manifest, before
        anything parses it: a file altered after the snapshot check (even with its mtime kept)
        stops the job that reads it, naming the file. Only this job's inputs are hashed."""
        snap_dir = self.config.get("snapshot_dir")
        if not snap_dir or not self.inputs:
            return
        from ..snapshot import check_snapshot_hashes

        checked = check_snapshot_hashes(snap_dir, self.inputs)
        if checked:
            self.log.info("snapshot files checked against the manifest: %s", ", ".join(checked))

    # ------------------------------------------------------------------ public helpers
    def record_step(self, name: str, details: Mapping[str, Any] | None = None) -> None:
        self.tracker.record_step(name, details)
        self.log.info("step %s %s", name, canonical_json(dict(details or {})))

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
        self.tracker.add_source(name, release, url, path, retrieved_at, validators, sha256, note)

    def write_parquet(
        self,
        df: Any,
        path: str | os.PathLike[str],
        table_name: str | None = None,
        sort_by: str | Sequence[str] | None = None,
        description: str = "",
    ) -> None:
        """Deterministic atomic Parquet with the provenance hash inside; optionally stored too."""
        frame = to_polars(df)
        meta = {
            "provenance_sha256": self.tracker.provenance_hash(),
            "rule": self.rule,
            "config_hash": self.tracker.config_hash,
            "pipeline_version": self.tracker.pipeline_version,
        }
        if table_name:
            meta["table_name"] = table_name
        chash = content_hash(frame)  # row-order independent: the file's and the stored table's
        write_parquet(frame, path, sort_by=sort_by, metadata=meta, content_sha256=chash)
        self.register_output(path)
        self._rows_written[str(path)] = frame.height
        if table_name:
            # stored with the run's record, in the one transaction that closes the job
            self._tables.append(
                self.store.prepare_table(
                    frame,
                    table_name,
                    description,
                    config_hash=self.tracker.config_hash,
                    content_sha256=chash,
                )
            )
        self.log.info("wrote %s (%d rows)", path, frame.height)

    def write_tsv(self, df: Any, path: str | os.PathLike[str]) -> None:
        """Tab-separated text with a header, written atomically."""
        frame = to_polars(df)
        with atomic_path(path) as tmp:
            frame.write_csv(tmp, separator="\t")
        self.register_output(path)
        self._rows_written[str(path)] = frame.height
        self.log.info("wrote %s (%d rows)", path, frame.height)

    def register_output(self, path: str | os.PathLike[str]) -> None:
        """A file this job wrote; declared outputs are registered automatically."""
        p = str(path)
        if p not in self.outputs and p not in self._extra_outputs:
            self._extra_outputs.append(p)

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _stamp(path: str) -> tuple[float, int] | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_mtime, st.st_size)

    def _all_outputs(self) -> list[str]:
        return self.outputs + [p for p in self._extra_outputs if p not in self.outputs]

    def _setup_logging(self) -> None:
        self.log.setLevel(logging.INFO)
        self.log.propagate = False
        if self.log_path:
            Path(self.log_path).parent.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = logging.FileHandler(self.log_path, encoding="utf-8")
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s [%(name)s] %(message)s", "%Y-%m-%dT%H:%M:%S"
            )
        )
        self.log.addHandler(handler)
        # The live fetchers' own lines (download / slice / batch progress) go to the rule log too.
        live = logging.getLogger(LIVE_LOGGER)
        live.setLevel(logging.INFO)
        live.addHandler(handler)
        self._handler = handler

    def _teardown_logging(self) -> None:
        if self._handler is not None:
            self.log.removeHandler(self._handler)
            logging.getLogger(LIVE_LOGGER).removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def _finish_ok(self) -> None:
        missing = [p for p in self.outputs if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(f"rule {self.rule} did not write declared outputs: {missing}")
        records = [self.tracker.add_output(p) for p in self._all_outputs() if os.path.exists(p)]
        files: list[dict[str, Any]] = []
        for rec in records:
            side = self.tracker.save_sidecar(rec["path"])
            files.append({**rec, "sidecar_path": str(side), "sidecar_sha256": sha256_file(side)})
        known = [r["rows"] for r in records if r.get("rows") is not None]
        rows = sum(known) if known else None
        provenance = self.tracker.store_rows()
        versions = self.store.finish_run(
            self.run_id,
            status="ok",
            rows=rows,
            sidecar_sha256=files[0]["sidecar_sha256"] if files else None,
            outputs=files,
            provenance=provenance,
            refs=self.store.refs[self._refs_start :],
            tables=self._tables,
        )
        for prep, version in zip(self._tables, versions, strict=True):
            self.log.info("stored table %s (dataset_version %s)", prep.table_name, version)
        self.log.info("rule %s finished ok (%d outputs, rows=%s)", self.rule, len(files), rows)

    def _remove_outputs(self) -> list[str]:
        removed: list[str] = []
        for path in self._all_outputs():
            before = self._before.get(path)
            now = self._stamp(path)
            if now is None or (before is not None and before == now):
                continue  # absent, or untouched by this job
            p = Path(path)
            with contextlib.suppress(OSError):
                if p.is_dir() and not p.is_symlink():
                    if before is None:
                        shutil.rmtree(p)
                        removed.append(path)
                else:
                    p.unlink()
                    removed.append(path)
            with contextlib.suppress(OSError):
                sidecar_path(p).unlink()
        return removed

    def _finish_failed(self, exc: BaseException, tb: TracebackType | None = None) -> None:
        removed = self._remove_outputs()
        detail = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
        self.log.error("rule %s failed: %s", self.rule, detail)
        if removed:
            self.log.error("removed partial outputs: %s", ", ".join(removed))
        if not self._started:
            return
        try:
            self.store.finish_run(
                self.run_id,
                status="failed",
                rows=None,
                sidecar_sha256=None,
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        except Exception as store_exc:  # never hide the original error
            self.log.error("could not record the failure in the state database: %s", store_exc)


def iter_output_paths(snakemake: Any) -> Iterable[str]:
    """Declared output paths of a snakemake object (flattened)."""
    return _flatten(getattr(snakemake, "output", None))
