"""Move the state database between machines: export to a BagIt bag, inspect it, import it.

A bag (``.tar``, ``.tar.gz`` or ``.zip`` holding one BagIt directory, sha256 manifests) contains

    data/manifest.json            format version, pipeline version and commit, software versions,
                                  config hashes, run ids, rows + content hash per table, files
    data/db/                      ``EXPORT DATABASE ... (FORMAT parquet)``: schema.sql, load.sql,
                                  one Parquet file per table (readable by any DuckDB version
                                  that reads Parquet)
    data/provenance/<path>        every ``.provenance.json`` sidecar of the exported runs
    data/outputs/<path>           the result files (``with_outputs``; else referenced by sha256)
    data/cache/<path>             live-mode downloads (``with_cache``; batch checkpoints are
                                  tables and travel in ``db/`` only with ``with_cache``)
    data/ro-crate-metadata.json   the run's Provenance Run Crate, when the run wrote one

Export copies the database file under the store lock (a read: no writer is blocked longer than a
file copy) and builds the bag from the copy, in a temporary file renamed onto the target.

Import validates every member against the bag's manifests first and refuses, naming the member,
on any size or checksum mismatch or an unknown format version; loads the dump into a temporary
database and checks each table's rows and content hash against the manifest; then, under the
lock, merges into a copy of the current database (runs by run id, tables by name, fetch and batch
checkpoints by key), records the import in ``_imports`` and swaps the copy in with ``os.replace``.
A process killed at any point leaves the previous database untouched. Importing a file that is
already recorded in ``_imports`` changes nothing in the state; with ``--restore-outputs`` its
outputs are still put in place.

Before anything changes, every file member is hashed and compared with the sha256 the bag's own
manifest and the imported state record for it (:func:`check_members`): a bag whose files were
edited is refused, naming the files, even when its BagIt manifests were recomputed. Restored
outputs get one common mtime, so a rerun does not redo work because of the order they were
written in.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tarfile
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from ..recovery import pid_alive
from ._common import content_hash, file_record, quote_ident, sha256_file, utc_now_iso
from .connection import connect_state_db
from .provenance import git_commit, software_versions
from .store import PipelineStore, ensure_schema

BAG_FORMAT = "usher-pipeline-state-bag"
FORMAT_VERSION = "1"
SUPPORTED_FORMAT_VERSIONS = ("1",)
MANIFEST = "manifest.json"
CRATE_NAME = "ro-crate-metadata.json"

# Tables that describe this machine's operation, not the science: exported (for the record) but
# never merged into another database.
_LOCAL_ONLY = ("_lock_waits", "_lock_log", "_imports", "_imported_runs")
_RUN_TABLES = ("_runs", "_run_files", "_provenance")
_BATCH_META = ("_batch_sets", "_batch_done")


class BagError(ValueError):
    """A bag that cannot be used: unreadable, tampered with, or of an unknown format."""


@dataclass
class ExportSummary:
    path: Path
    sha256: str
    size: int
    runs: int
    tables: int
    files: dict[str, int] = field(default_factory=dict)  # role -> included members
    referenced: int = 0  # files listed by sha256 only
    skipped: list[str] = field(default_factory=list)  # recorded files missing / changed on disk


@dataclass
class ImportSummary:
    source: Path
    sha256: str
    already_imported: bool = False
    runs_added: int = 0
    runs_replaced: int = 0
    tables_added: list[str] = field(default_factory=list)
    tables_replaced: list[str] = field(default_factory=list)
    tables_kept: list[str] = field(default_factory=list)  # local version differs, kept
    fetches_added: int = 0
    batch_sets_added: int = 0
    files_restored: list[str] = field(default_factory=list)
    files_conflicting: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------- paths
def _norm(path: str | os.PathLike[str], root: Path) -> Path:
    p = Path(path)
    return Path(os.path.normpath(p if p.is_absolute() else root / p))


def member_path(path: str | os.PathLike[str], root: Path) -> str | None:
    """Bag-relative name of a recorded path: relative to ``root``; None when outside it."""
    full = _norm(path, root)
    try:
        rel = full.relative_to(Path(os.path.normpath(root.absolute())))
    except ValueError:
        return None
    text = rel.as_posix()
    return None if text in ("", ".") or text.startswith("..") else text


def _copy_into(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        shutil.copyfile(src, dest)


# ---------------------------------------------------------------------------------------- export
def _snapshot_db(store: PipelineStore, dest: Path) -> None:
    """Copy the database (and a WAL left by a killed writer) while holding the store lock."""
    if not store.db_path.exists():
        raise FileNotFoundError(f"no state database at {store.db_path}")
    with store._lock.hold(rule=store.holder, operation="export:snapshot"):
        shutil.copyfile(store.db_path, dest)
        wal = Path(f"{store.db_path}.wal")
        if wal.exists():
            shutil.copyfile(wal, Path(f"{dest}.wal"))


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
    ).fetchall()
    return [r[0] for r in rows]


def _frame(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    out = pl.from_arrow(con.sql(f"SELECT * FROM {quote_ident(table)}").to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


def table_digests(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    """rows and content hash of every table of the main schema."""
    out = {}
    for name in _tables(con):
        frame = _frame(con, name)
        out[name] = {"rows": frame.height, "content_sha256": content_hash(frame)}
    return out


def _select_runs(con: duckdb.DuckDBPyConnection, runs: Sequence[str] | None) -> list[str]:
    all_ids = [r[0] for r in con.execute("SELECT run_id FROM _runs ORDER BY started_at").fetchall()]
    if not runs:
        return all_ids
    chosen: list[str] = []
    for want in runs:
        hits = [r for r in all_ids if r == want or r.startswith(want)]
        if len(hits) != 1:
            problem = "no run" if not hits else f"{len(hits)} runs"
            raise KeyError(f"--runs {want!r}: {problem} with that id (or id prefix)")
        chosen.append(hits[0])
    return sorted(set(chosen), key=all_ids.index)


def _package(bag_dir: Path, out: Path, name: str) -> None:
    """Pack ``bag_dir`` (as its own top-level folder) into ``out``: zip, tar.gz or tar by the
    suffix of ``name``."""
    name = name.lower()
    files = sorted(p for p in bag_dir.rglob("*") if p.is_file())
    top = bag_dir.name
    if name.endswith(".zip"):
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for f in files:
                zf.write(f, f"{top}/{f.relative_to(bag_dir).as_posix()}")
        return
    mode = "w:gz" if name.endswith((".tar.gz", ".tgz")) else "w"
    with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as tf:
        for f in files:
            tf.add(f, f"{top}/{f.relative_to(bag_dir).as_posix()}", recursive=False)


def export_state(
    store: PipelineStore,
    out_file: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    runs: Sequence[str] | None = None,
    with_outputs: bool = False,
    with_cache: bool = False,
    config_hash: str | None = None,
    crate: str | os.PathLike[str] | None = None,
) -> ExportSummary:
    """Write the state (or the chosen runs) as a bag to ``out_file`` (temp file + rename).

    ``root``: paths inside it are stored relative to it (default: the current directory), so an
    import in another clone puts them in the same place relative to its own root.
    """
    import bagit

    from usher_pipeline import __version__

    root_p = Path(root or os.getcwd()).absolute()
    out = Path(out_file).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=out.parent))
    try:
        snap = work / "snapshot.duckdb"
        _snapshot_db(store, snap)
        bag_dir = work / (out.name.split(".", 1)[0] or "state-bag")
        payload = bag_dir  # bagit moves the payload into data/
        (payload / "db").mkdir(parents=True)
        con = duckdb.connect(str(snap))
        try:
            ensure_schema(con)
            run_ids = _select_runs(con, runs)
            con.execute("BEGIN TRANSACTION")
            if runs:
                keep = pl.DataFrame({"run_id": run_ids})
                con.register("_keep_runs", keep.to_arrow())
                for t in _RUN_TABLES:
                    con.execute(
                        f"DELETE FROM {t} WHERE run_id NOT IN (SELECT run_id FROM _keep_runs)"
                    )
                con.unregister("_keep_runs")
            if not with_cache:
                for t in _tables(con):
                    if t.startswith("_batch_") and t not in _BATCH_META:
                        con.execute(f"DROP TABLE {quote_ident(t)}")
                for t in _BATCH_META:
                    con.execute(f"DELETE FROM {t}")
            con.execute("COMMIT")
            digests = table_digests(con)
            outputs = con.execute(
                "SELECT f.path, f.kind, f.sha256, f.size, f.rows, f.sidecar_path, "
                "f.sidecar_sha256, f.run_id, r.rule, r.ended_at FROM _run_files f "
                "JOIN _runs r USING (run_id) WHERE f.direction = 'output' AND r.status = 'ok' "
                "ORDER BY r.ended_at DESC, f.path"
            ).fetchall()
            fetches = con.execute(
                "SELECT path, sha256, size, source, key FROM _fetch_checkpoints "
                "ORDER BY fetched_at DESC"
            ).fetchall()
            config_hashes = sorted(
                {r[0] for r in con.execute("SELECT config_hash FROM _runs").fetchall() if r[0]}
            )
            dbdir = (payload / "db").as_posix().replace("'", "''")
            con.execute(f"EXPORT DATABASE '{dbdir}' (FORMAT parquet)")
        finally:
            con.close()

        files: list[dict[str, Any]] = []
        skipped: list[str] = []
        counts: dict[str, int] = {}

        def add(role: str, path: str, sha: str | None, size: Any, include: bool, **extra: Any):
            rec: dict[str, Any] = {"role": role, "path": path, "sha256": sha, "size": size}
            rec.update(extra)
            member = member_path(path, root_p)
            full = _norm(path, root_p)
            rec["member"] = None
            if include:
                if member is None:
                    skipped.append(f"{path} (outside the export root {root_p})")
                elif not full.exists():
                    skipped.append(f"{path} (missing)")
                elif file_record(full)["sha256"] != sha:
                    skipped.append(f"{path} (changed since it was recorded)")
                else:
                    rec["member"] = f"{role}/{member}"
                    _copy_into(full, payload / rec["member"])
                    counts[role] = counts.get(role, 0) + 1
            files.append(rec)

        seen_out: set[str] = set()
        for path, kind, sha, size, rows, side, side_sha, run_id, rule, _ in outputs:
            key = str(_norm(path, root_p))
            if key in seen_out:
                continue  # an older run of the same output: its record stays in _run_files
            seen_out.add(key)
            add(
                "outputs",
                path,
                sha,
                size,
                with_outputs,
                kind=kind,
                rows=rows,
                run_id=run_id,
                rule=rule,
            )
            if side:
                add("provenance", side, side_sha, None, True, run_id=run_id, output=path)
        seen_fetch: set[str] = set()
        for path, sha, size, source, key in fetches:
            if path in seen_fetch:
                continue
            seen_fetch.add(path)
            add("cache", path, sha, size, with_cache, source=source, key=key)
        crate_path = Path(crate) if crate else None
        if crate_path is not None and crate_path.is_file():
            shutil.copyfile(crate_path, payload / CRATE_NAME)
            counts["crate"] = 1

        sw = software_versions()
        manifest = {
            "format": BAG_FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": utc_now_iso(),
            "pipeline": {"version": __version__, "git_commit": git_commit()},
            "software": {
                k: sw.get(k) for k in ("python", "snakemake", "duckdb", "polars", "pyarrow")
            },
            "config_hash": config_hash,
            "run_config_hashes": config_hashes,
            "source_db": str(store.db_path),
            "root": str(root_p),
            "options": {
                "runs": list(runs) if runs else None,
                "with_outputs": with_outputs,
                "with_cache": with_cache,
            },
            "run_ids": run_ids,
            "tables": digests,
            "files": files,
            "crate": CRATE_NAME if counts.get("crate") else None,
        }
        (payload / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        bagit.make_bag(
            str(bag_dir),
            bag_info={
                "Source-Organization": "usher-pipeline",
                "External-Description": f"usher-pipeline state: {len(run_ids)} runs, "
                f"{len(digests)} tables",
                "Usher-Pipeline-Bag-Format": f"{BAG_FORMAT}/{FORMAT_VERSION}",
            },
            checksums=["sha256"],
        )
        tmp_out = out.with_name(f"{out.name}.tmp-{os.getpid()}")
        try:
            _package(bag_dir, tmp_out, out.name)
            with open(tmp_out, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp_out, out)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp_out.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ExportSummary(
        path=out,
        sha256=sha256_file(out),
        size=out.stat().st_size,
        runs=len(run_ids),
        tables=len(digests),
        files=counts,
        referenced=sum(1 for f in files if f["member"] is None),
        skipped=skipped,
    )


# ---------------------------------------------------------------------------------------- reading
def _extract(bag_file: Path, dest: Path) -> Path:
    """Unpack the archive safely into ``dest``; return the bag's top-level folder."""
    if not bag_file.is_file():
        raise BagError(f"{bag_file}: no such file")
    try:
        if zipfile.is_zipfile(bag_file):
            with zipfile.ZipFile(bag_file) as zf:
                for info in zf.infolist():
                    name = info.filename
                    if name.startswith("/") or ".." in Path(name).parts:
                        raise BagError(f"{bag_file}: unsafe member name {name!r}")
                zf.extractall(dest)
        elif tarfile.is_tarfile(bag_file):
            with tarfile.open(bag_file) as tf:
                tf.extractall(dest, filter="data")
        else:
            raise BagError(f"{bag_file}: not a tar or zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        if isinstance(exc, BagError):
            raise
        raise BagError(f"{bag_file}: cannot unpack ({exc})") from exc
    tops = [p for p in dest.iterdir()]
    if len(tops) != 1 or not tops[0].is_dir():
        raise BagError(f"{bag_file}: expected one top-level bag folder, found {len(tops)} entries")
    return tops[0]


def _validate(bag_file: Path, bag_dir: Path) -> dict[str, Any]:
    """BagIt validation (every member's size and sha256) and the format version; the manifest."""
    import bagit

    try:
        bag = bagit.Bag(str(bag_dir))
        bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        problems = []
        for d in exc.details or []:
            member = getattr(d, "path", None)
            if isinstance(d, bagit.ChecksumMismatch):
                problems.append(
                    f"member {member}: {d.algorithm} mismatch (expected {d.expected}, "
                    f"found {d.found})"
                )
            else:
                problems.append(f"member {member}: {d}")
        detail = "; ".join(problems) or str(exc)
        raise BagError(f"{bag_file}: bag validation failed: {detail}") from None
    except bagit.BagError as exc:
        raise BagError(f"{bag_file}: not a valid BagIt bag: {exc}") from None
    mpath = bag_dir / "data" / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BagError(f"{bag_file}: member data/{MANIFEST} unreadable: {exc}") from None
    if manifest.get("format") != BAG_FORMAT:
        raise BagError(
            f"{bag_file}: not an usher-pipeline state bag (format {manifest.get('format')!r})"
        )
    version = str(manifest.get("format_version"))
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise BagError(
            f"{bag_file}: unknown bag format version {version!r} (this usher-pipeline reads "
            f"{', '.join(SUPPORTED_FORMAT_VERSIONS)}); use a matching usher-pipeline version"
        )
    return manifest


@contextlib.contextmanager
def opened_bag(bag_file: str | os.PathLike[str], work_parent: Path | None = None):
    """Extract and validate a bag in a temporary folder; yield (bag_dir, manifest)."""
    src = Path(bag_file).absolute()
    parent = work_parent or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".import-{os.getpid()}-", dir=parent))
    try:
        bag_dir = _extract(src, work / "x")
        manifest = _validate(src, bag_dir)
        yield bag_dir, manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def inspect_bag(bag_file: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated manifest of a bag, with its file's sha256 and size (nothing is imported)."""
    src = Path(bag_file)
    with opened_bag(src) as (_, manifest):
        manifest = dict(manifest)
    manifest["bag_file"] = {
        "path": str(src),
        "sha256": sha256_file(src),
        "size": src.stat().st_size,
    }
    return manifest


# ---------------------------------------------------------------------------------------- import
def _clean_stale(parent: Path, prefix: str) -> None:
    """Remove temporary files/folders of killed imports (``<prefix><pid>-...``)."""
    for p in parent.glob(f"{prefix}*"):
        try:
            pid = int(p.name[len(prefix) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not pid_alive(pid):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()


def _load_dump(bag_file: Path, bag_dir: Path, manifest: Mapping[str, Any], dest: Path) -> None:
    """IMPORT DATABASE into a new file; every table must match the manifest's rows and hash."""
    con = duckdb.connect(str(dest))
    try:
        dbdir = (bag_dir / "data" / "db").as_posix().replace("'", "''")
        con.execute(f"IMPORT DATABASE '{dbdir}'")
        got = table_digests(con)
        want = manifest.get("tables") or {}
        for name in sorted(set(want) | set(got)):
            if name not in got:
                raise BagError(f"{bag_file}: table {name} of the manifest is not in data/db")
            if name not in want:
                raise BagError(f"{bag_file}: table {name} in data/db is not in the manifest")
            if got[name] != want[name]:
                raise BagError(
                    f"{bag_file}: table {name} does not match the manifest (manifest "
                    f"{want[name]['rows']} rows {want[name]['content_sha256'][:16]}, "
                    f"dump {got[name]['rows']} rows {got[name]['content_sha256'][:16]})"
                )
        ensure_schema(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _ids(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    return {r[0] for r in con.execute(sql).fetchall()}


def _merge(
    con: duckdb.DuckDBPyConnection,
    replace: bool,
    summary: ImportSummary,
    roots: tuple[str, str] | None = None,
) -> None:
    """Merge the attached database ``src`` into ``main`` (one open transaction)."""
    # runs (with their files and provenance rows), by run id
    src_runs = _ids(con, "SELECT run_id FROM src._runs")
    have = _ids(con, "SELECT run_id FROM main._runs")
    new = src_runs - have
    both = src_runs & have
    if replace and both:
        for t in _RUN_TABLES:
            con.execute(f"DELETE FROM main.{t} WHERE run_id IN (SELECT run_id FROM src._runs)")
        summary.runs_replaced = len(both)
        new = src_runs
    if new:
        con.register("_new_runs", pl.DataFrame({"run_id": sorted(new)}).to_arrow())
        for t in _RUN_TABLES:
            con.execute(
                f"INSERT INTO main.{t} BY NAME SELECT * FROM src.{t} "
                "WHERE run_id IN (SELECT run_id FROM _new_runs)"
            )
        con.unregister("_new_runs")
    summary.runs_added = len(new) - summary.runs_replaced

    # stored tables, by name (content hash decides whether they differ)
    src_cp = con.execute(
        "SELECT table_name, content_sha256 FROM src._checkpoints WHERE status = 'complete'"
    ).fetchall()
    local = dict(con.execute("SELECT table_name, content_sha256 FROM main._checkpoints").fetchall())
    local_tables = set(
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main'"
        ).fetchall()
    )
    for name, chash in sorted(src_cp):
        q = quote_ident(name)
        if name in local and name in local_tables:
            if local[name] == chash:
                continue
            if not replace:
                summary.tables_kept.append(name)
                continue
            con.execute(f"DROP TABLE main.{q}")
            summary.tables_replaced.append(name)
        else:
            if name in local_tables:
                con.execute(f"DROP TABLE main.{q}")  # a table without a checkpoint row
            summary.tables_added.append(name)
        con.execute(f"CREATE TABLE main.{q} AS SELECT * FROM src.{q}")
        con.execute("DELETE FROM main._checkpoints WHERE table_name = ?", [name])
        con.execute(
            "INSERT INTO main._checkpoints BY NAME SELECT * FROM src._checkpoints "
            "WHERE table_name = ?",
            [name],
        )

    # fetch checkpoints, by key
    if replace:
        con.execute(
            "DELETE FROM main._fetch_checkpoints WHERE key IN (SELECT key FROM src._fetch_checkpoints)"
        )
    new_keys = _ids(
        con,
        "SELECT key FROM src._fetch_checkpoints "
        "WHERE key NOT IN (SELECT key FROM main._fetch_checkpoints)",
    )
    con.execute(
        "INSERT INTO main._fetch_checkpoints BY NAME SELECT * FROM src._fetch_checkpoints "
        "WHERE key NOT IN (SELECT key FROM main._fetch_checkpoints)"
    )
    summary.fetches_added = len(new_keys)
    if roots and roots[0] != roots[1] and new_keys:
        # downloads recorded by absolute path under the exporting root now live under ours
        old, new = roots[0].rstrip("/") + "/", roots[1].rstrip("/") + "/"
        con.register("_new_keys", pl.DataFrame({"key": sorted(new_keys)}).to_arrow())
        con.execute(
            "UPDATE main._fetch_checkpoints SET path = ? || substr(path, ?) "
            "WHERE key IN (SELECT key FROM _new_keys) AND starts_with(path, ?)",
            [new, len(old) + 1, old],
        )
        con.unregister("_new_keys")

    # batch checkpoints (item-wise pulls), by key: a set travels whole
    src_sets = _ids(con, "SELECT key FROM src._batch_sets")
    have_sets = _ids(con, "SELECT key FROM main._batch_sets")
    src_tables = set(
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
        ).fetchall()
    )
    for key in sorted(src_sets):
        if key in have_sets and not replace:
            continue
        table = quote_ident(f"_batch_{key[:32]}")
        con.execute(f"DROP TABLE IF EXISTS main.{table}")
        if f"_batch_{key[:32]}" in src_tables:
            con.execute(f"CREATE TABLE main.{table} AS SELECT * FROM src.{table}")
        for t in _BATCH_META:
            con.execute(f"DELETE FROM main.{t} WHERE key = ?", [key])
            con.execute(f"INSERT INTO main.{t} BY NAME SELECT * FROM src.{t} WHERE key = ?", [key])
        summary.batch_sets_added += 1


def _recorded_sha256(staged: Path) -> dict[str, str]:
    """What the imported state itself records for each file: the sha256 of every output (and of
    its provenance sidecar) of its successful runs, latest run first, and of its fetch
    checkpoints; recorded path -> sha256."""
    con = duckdb.connect(str(staged), read_only=True)
    try:
        rows = con.execute(
            "SELECT f.path, f.sha256, f.sidecar_path, f.sidecar_sha256 FROM _run_files f "
            "JOIN _runs r USING (run_id) WHERE f.direction = 'output' AND r.status = 'ok' "
            "ORDER BY r.ended_at DESC"
        ).fetchall()
        fetched = con.execute(
            "SELECT path, sha256 FROM _fetch_checkpoints ORDER BY fetched_at DESC"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, str] = {}
    for path, sha, side, side_sha in rows:
        if path and sha:
            out.setdefault(path, sha)
        if side and side_sha:
            out.setdefault(side, side_sha)
    for path, sha in fetched:
        if path and sha:
            out.setdefault(path, sha)
    return out


def check_members(
    bag_file: Path, bag_dir: Path, files: Iterable[Mapping[str, Any]], staged: Path
) -> None:
    """Hash every file member of the bag and compare it with the sha256 the bag's manifest and
    the imported state record for it; raise BagError naming every mismatch. BagIt's own
    manifests only prove the members were not changed after they were (re)computed, so they
    are not what decides: an output edited before the BagIt manifests were recomputed is
    refused here, before the state or any file changes."""
    recorded = _recorded_sha256(staged)
    problems = []
    for rec in files:
        member = rec.get("member")
        if not member:
            continue
        src = bag_dir / "data" / member
        if not src.exists():
            problems.append(f"{rec['path']}: member data/{member} is missing")
            continue
        actual = file_record(src)["sha256"]
        for what, want in (("the bag's manifest", rec.get("sha256")),
                           ("the imported state", recorded.get(rec["path"]))):  # fmt: skip
            if want and want != actual:
                problems.append(
                    f"{rec['path']}: sha256 {actual[:16]} in the bag, but {what} records "
                    f"{want[:16]}"
                )
    if problems:
        raise BagError(
            f"{bag_file}: {len(problems)} file(s) differ from what the run recorded: "
            + "; ".join(problems)
            + "; nothing was imported or restored"
        )


def _restore_files(
    bag_dir: Path,
    files: Iterable[Mapping[str, Any]],
    roles: set[str],
    root: Path,
    summary: ImportSummary,
) -> None:
    """Copy bag members to their recorded paths (under ``root``); never overwrite other content.

    Every restored output (and one already there with the recorded content) gets one common
    mtime, so no output looks older than the files it was made from and Snakemake reruns
    nothing because of the order the files were written in."""
    from ._common import atomic_path

    stamp = time.time()
    for rec in files:
        member = rec.get("member")
        if not member or rec.get("role") not in roles:
            continue
        rel = member_path(rec["path"], Path(rec.get("_src_root") or root))
        target = root / (rel or member.split("/", 1)[1])
        src = bag_dir / "data" / member
        if target.exists():
            if file_record(target)["sha256"] != rec.get("sha256"):
                summary.files_conflicting.append(str(target))
            elif rec.get("role") != "cache":
                os.utime(target, (stamp, stamp))
            continue
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            with atomic_path(target) as tmp:
                shutil.copyfile(src, tmp)
        if rec.get("role") != "cache" and target.is_file():
            os.utime(target, (stamp, stamp))
        summary.files_restored.append(str(target))


# Test seam: called (with the work database path) right before the swap; crash tests kill there.
_before_swap_hook: Callable[[Path], None] | None = None


def import_state(
    store: PipelineStore,
    bag_file: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    replace: bool = False,
    restore_outputs: bool = False,
) -> ImportSummary:
    """Validate ``bag_file`` and merge it into ``store`` (see the module docstring).

    ``root``: where relative recorded paths live (default: the current directory); the bag's
    cache files (and, with ``restore_outputs``, its outputs and sidecars) are put there.
    ``replace``: the bag's runs, tables and checkpoints win over local ones with the same id.
    """
    src = Path(bag_file).absolute()
    root_p = Path(root or os.getcwd()).absolute()
    digest = sha256_file(src) if src.is_file() else ""
    summary = ImportSummary(source=src, sha256=digest)
    db = store.db_path.absolute()
    db.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(db.parent, ".import-")
    with opened_bag(src, db.parent) as (bag_dir, manifest):
        staged = bag_dir.parent.parent / "imported.duckdb"
        _load_dump(src, bag_dir, manifest, staged)
        # cache files first: a fetch checkpoint may then point at them as soon as it is visible
        files = [{**f, "_src_root": manifest.get("root")} for f in manifest.get("files") or []]
        roles = {"cache"} | ({"outputs", "provenance"} if restore_outputs else set())
        check_members(src, bag_dir, files, staged)
        with store._lock.hold(rule=store.holder, operation="import"):
            _clean_stale(db.parent, f".{db.name}.import-")
            if _already_imported(db, digest, store.lock_timeout_s) and not replace:
                # the state has it already; --restore-outputs still puts the files in place
                summary.already_imported = True
                _restore_files(bag_dir, files, roles, root_p, summary)
                return summary
            _restore_files(bag_dir, files, roles, root_p, summary)
            work = db.with_name(f".{db.name}.import-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            try:
                if db.exists():
                    con = connect_state_db(db, store.lock_timeout_s)
                    con.execute("CHECKPOINT")
                    con.close()
                    if Path(f"{db}.wal").exists():
                        raise RuntimeError(f"{db}.wal remains after a checkpoint; not importing")
                    shutil.copyfile(db, work)
                con = duckdb.connect(str(work))
                try:
                    ensure_schema(con)
                    staged_sql = staged.as_posix().replace("'", "''")
                    con.execute(f"ATTACH '{staged_sql}' AS src (READ_ONLY)")
                    con.execute("BEGIN TRANSACTION")
                    roots = (str(manifest.get("root") or root_p), str(root_p))
                    _merge(con, replace, summary, roots)
                    con.execute(
                        "INSERT INTO _imported_runs SELECT run_id, ? FROM src._runs WHERE "
                        "run_id NOT IN (SELECT run_id FROM _imported_runs)",
                        [digest],
                    )
                    con.execute(
                        "INSERT INTO _imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            uuid.uuid4().hex,
                            str(src),
                            digest,
                            utc_now_iso(),
                            manifest.get("created_at"),
                            "replace" if replace else "merge",
                            summary.runs_added + summary.runs_replaced,
                            len(summary.tables_added) + len(summary.tables_replaced),
                        ],
                    )
                    con.execute("COMMIT")
                    con.execute("DETACH src")
                    con.execute("CHECKPOINT")
                finally:
                    con.close()
                if Path(f"{work}.wal").exists():
                    raise RuntimeError(f"{work}.wal remains after a checkpoint; not importing")
                with open(work, "rb") as fh:
                    os.fsync(fh.fileno())
                if _before_swap_hook is not None:
                    _before_swap_hook(work)
                os.replace(work, db)
                dir_fd = os.open(db.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    work.unlink()
    return summary


def _already_imported(db: Path, digest: str, timeout_s: float) -> bool:
    if not db.exists():
        return False
    con = connect_state_db(db, timeout_s)
    try:
        ensure_schema(con)
        row = con.execute("SELECT count(*) FROM _imports WHERE sha256 = ?", [digest]).fetchall()
        return bool(row[0][0])
    finally:
        con.close()
