"""``usher-pipeline state``: inspect and maintain the state database.

usher-pipeline state [--db PATH | --configfile FILE] checkpoints
usher-pipeline state runs [--rule RULE] [--status STATUS] [--limit N]
usher-pipeline state provenance OUTPUT
usher-pipeline state lineage OUTPUT
usher-pipeline state verify
usher-pipeline state invalidate NAME      # a table name, a fetch key (prefix) or a source
usher-pipeline state export FILE [--runs ID ...] [--with-outputs] [--with-cache] [--root DIR]
usher-pipeline state import FILE [--replace] [--restore-outputs] [--root DIR]
usher-pipeline state inspect FILE [--json]
usher-pipeline state gc [--keep-last N] [--dry-run]
usher-pipeline state query "SQL" [--format table|tsv|csv|json] [--output FILE]
usher-pipeline state versions              # result sets kept by passed runs
usher-pipeline state restore [VERSION]     # put a kept result set (default: newest) back
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from usher_pipeline.persistence import FetchCache, PipelineStore, ProvenanceTracker, sidecar_path
from usher_pipeline.persistence._common import InvalidNameError, file_record, validate_table_name
from usher_pipeline.persistence.store import DEFAULT_DB, DEFAULT_LOCK_TIMEOUT_S

DEFAULT_CONFIG = Path("config/config.yaml")


def _load_config(path: Path) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


class StateNotFoundError(Exception):
    """No state database where the command looked (it never creates one)."""


def _open_store(args: argparse.Namespace, create: bool = False) -> PipelineStore:
    config: dict[str, Any] = {}
    if args.configfile:
        config = _load_config(Path(args.configfile))
    elif DEFAULT_CONFIG.exists():
        config = _load_config(DEFAULT_CONFIG)
    state = dict(config.get("state") or {})
    db = args.db or state.get("db") or DEFAULT_DB
    if not create and not Path(db).is_file():
        how = (
            "--db" if args.db
            else f"state.db of {args.configfile}" if args.configfile
            else f"state.db of {DEFAULT_CONFIG}" if DEFAULT_CONFIG.exists()
            else f"the default {DEFAULT_DB}; no {DEFAULT_CONFIG} in {Path.cwd()}"
        )  # fmt: skip
        raise StateNotFoundError(
            f"no state database at {Path(db).absolute()} (from {how}); run from the repository "
            "root (the folder with the Snakefile) or pass --db PATH / --configfile FILE. "
            "Nothing was created."
        )
    timeout = float(state.get("lock_timeout_s") or DEFAULT_LOCK_TIMEOUT_S)
    store = PipelineStore(db, timeout, holder="usher-pipeline state")
    store.cli_config = config  # type: ignore[attr-defined]
    return store


def _print_table(
    rows: list[dict[str, Any]], columns: Sequence[str], file: TextIO | None = None
) -> None:
    if not rows:
        print("(none)", file=file)
        return
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(), file=file)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip(), file=file)


def _norm(path: str) -> str:
    return os.path.normpath(os.path.abspath(path))


def cmd_checkpoints(store: PipelineStore, args: argparse.Namespace) -> int:
    tables = store.list_checkpoints().to_dicts()
    print("Tables:")
    _print_table(
        tables,
        ["table_name", "created_at", "row_count", "dataset_version", "status", "description"],
    )
    fetches = store.execute_query(
        "SELECT substr(key, 1, 16) AS key, source, release, fetcher_version, row_count, size, "
        "fetched_at, path FROM _fetch_checkpoints ORDER BY source, fetched_at"
    ).to_dicts()
    print("\nFetches:")
    _print_table(
        fetches,
        ["key", "source", "release", "fetcher_version", "row_count", "size", "fetched_at", "path"],
    )
    batches = store.execute_query(
        "SELECT substr(s.key, 1, 16) AS key, s.source, s.release, count(d.batch_id) AS batches, "
        "coalesce(sum(d.row_count), 0) AS rows FROM _batch_sets s LEFT JOIN _batch_done d "
        "ON d.key = s.key GROUP BY ALL ORDER BY s.source"
    ).to_dicts()
    print("\nBatched pulls:")
    _print_table(batches, ["key", "source", "release", "batches", "rows"])
    return 0


def cmd_runs(store: PipelineStore, args: argparse.Namespace) -> int:
    sql = (
        "SELECT run_id, rule, wildcards, started_at, ended_at, status, rows, "
        "substr(sidecar_sha256, 1, 16) AS sidecar_sha256, round(lock_wait_s, 3) AS lock_wait_s, "
        "error, (SELECT coalesce(sum(f.size), 0) FROM _run_files f WHERE f.run_id = _runs.run_id "
        "AND f.direction = 'output') AS size FROM _runs "
        "WHERE (? IS NULL OR rule = ?) AND (? IS NULL OR status = ?) "
        "ORDER BY started_at DESC LIMIT ?"
    )
    rows = store.execute_query(
        sql, [args.rule, args.rule, args.status, args.status, args.limit]
    ).to_dicts()
    _print_table(
        rows,
        [
            "started_at",
            "ended_at",
            "rule",
            "wildcards",
            "status",
            "rows",
            "size",
            "sidecar_sha256",
            "lock_wait_s",
            "run_id",
            "error",
        ],
    )
    return 0


def _producing_runs(store: PipelineStore) -> list[dict[str, Any]]:
    return store.execute_query(
        "SELECT f.run_id, f.path, f.sha256, f.rows, r.rule, r.wildcards, r.ended_at "
        "FROM _run_files f JOIN _runs r USING (run_id) "
        "WHERE f.direction = 'output' AND r.status = 'ok' ORDER BY r.ended_at DESC"
    ).to_dicts()


def cmd_provenance(store: PipelineStore, args: argparse.Namespace) -> int:
    side = sidecar_path(args.output)
    if side.exists():
        meta = ProvenanceTracker.load_sidecar(args.output)
        print(f"# sidecar {side}")
    else:
        rows = store.execute_query(
            "SELECT output_path, metadata_json FROM _provenance ORDER BY created_at DESC"
        ).to_dicts()
        match = [
            r for r in rows if r["output_path"] and _norm(r["output_path"]) == _norm(args.output)
        ]
        if not match:
            print(f"no provenance recorded for {args.output}", file=sys.stderr)
            return 1
        meta = json.loads(match[0]["metadata_json"])
        print(f"# from the _provenance table of {store.db_path} (no sidecar at {side})")
    print(json.dumps(meta, indent=2, sort_keys=True))
    return 0


def cmd_lineage(store: PipelineStore, args: argparse.Namespace) -> int:
    produced = _producing_runs(store)
    inputs = store.execute_query(
        "SELECT run_id, path, sha256 FROM _run_files WHERE direction = 'input' ORDER BY path"
    ).to_dicts()
    inputs_of: dict[str, list[dict[str, Any]]] = {}
    for row in inputs:
        inputs_of.setdefault(row["run_id"], []).append(row)
    by_path: dict[str, dict[str, Any]] = {}
    by_sha: dict[str, list[dict[str, Any]]] = {}
    for row in produced:  # newest first: keep the first seen
        by_path.setdefault(_norm(row["path"]), row)
        if row["sha256"]:
            by_sha.setdefault(row["sha256"], []).append(row)
    start = by_path.get(_norm(args.output))
    if start is None:
        print(f"no successful run recorded that produced {args.output}", file=sys.stderr)
        return 1

    def parent_of(inp: dict[str, Any], child_run: str) -> tuple[dict[str, Any] | None, str]:
        """The run that produced this input: same content (same path preferred), else same path."""
        same = [r for r in by_sha.get(inp["sha256"] or "", []) if r["run_id"] != child_run]
        for r in same:
            if _norm(r["path"]) == _norm(inp["path"]):
                return r, ""
        if same:
            return same[0], f"  [same content as {same[0]['path']}]"
        r = by_path.get(_norm(inp["path"]))
        if r is not None and r["run_id"] != child_run:
            return r, "  [content changed since it was used]"
        return None, ""

    def show(run: dict[str, Any], path: str, depth: int, seen: set[str]) -> None:
        pad = "  " * depth
        wc = "" if run["wildcards"] in (None, "{}") else f" {run['wildcards']}"
        when = run["ended_at"]
        print(f"{pad}{path}  <- rule {run['rule']}{wc} (run {run['run_id'][:12]}, {when})")
        if run["run_id"] in seen:
            print(f"{pad}  (already shown)")
            return
        seen = seen | {run["run_id"]}
        for inp in inputs_of.get(run["run_id"], []):
            parent, note = parent_of(inp, run["run_id"])
            if parent is None:
                sha = (inp["sha256"] or "")[:16]
                print(f"{pad}  {inp['path']}  (source file, sha256 {sha})")
                continue
            if note:
                print(f"{pad}  {inp['path']}{note}")
            show(parent, inp["path"], depth + 1, seen)

    show(start, args.output, 0, set())
    return 0


def _verify_snapshot_files(config: dict[str, Any]) -> tuple[int, int]:
    """Re-hash the snapshot files against the manifest; returns (files, problems)."""
    from usher_pipeline.errors import SnapshotError
    from usher_pipeline.snapshot import load_manifest, sha256_file

    snap = Path(config.get("snapshot_dir") or "workflow/resources/snapshot")
    try:
        manifest = load_manifest(snap)
    except SnapshotError as exc:
        print(f"MISSING   {snap}/manifest.json  ({exc})")
        return 0, 1
    problems = 0
    for entry in manifest["files"]:
        path = snap / entry["path"]
        if not path.is_file():
            print(f"MISSING   {path}  (snapshot file '{entry['key']}' of the manifest)")
            problems += 1
        elif sha256_file(path) != entry["sha256"]:
            print(
                f"CHANGED   {path}  (snapshot file '{entry['key']}': manifest "
                f"{entry['sha256'][:16]}, on disk {sha256_file(path)[:16]})"
            )
            problems += 1
        else:
            print(f"OK        {path}")
    return len(manifest["files"]), problems


def _restored_version(store: PipelineStore) -> dict[str, str]:
    """When ``state restore`` put a kept result version in place (and no run changed it since):
    normalised path -> sha256 of its files, and '' -> the version id; else {}."""
    from usher_pipeline.result_versions import find_version, read_last_run

    results_key = str(getattr(store, "cli_config", {}).get("results_dir") or "results")
    last = read_last_run(results_key)
    if last.get("status") != "restored" or not last.get("version"):
        return {}
    try:
        manifest = find_version(_versions_store(store), str(last["version"]))
    except Exception:  # noqa: BLE001 - an unreadable store only means no restored files
        return {}
    out = {_norm(f"{results_key}/{rel}"): f["sha256"] for rel, f in manifest["files"].items()}
    out[""] = manifest["version"]
    return out


def cmd_verify(store: PipelineStore, args: argparse.Namespace) -> int:
    latest: dict[str, dict[str, Any]] = {}
    for row in _producing_runs(store):
        latest.setdefault(row["path"], row)
    fetched = store.execute_query(
        "SELECT path, sha256 FROM _fetch_checkpoints ORDER BY fetched_at DESC"
    ).to_dicts()
    for row in fetched:
        latest.setdefault(row["path"], {**row, "rule": "fetch"})
    relative = [p for p in latest if not os.path.isabs(p)]
    if relative and not Path("Snakefile").is_file():
        print(
            f"refusing to verify from {Path.cwd()}: it is not the repository root (no Snakefile), "
            f"and {len(relative)} recorded path(s) such as {relative[0]} are relative to it; "
            "run `usher-pipeline state verify` from the repository root",
            file=sys.stderr,
        )
        return 2
    problems = not_restored = 0
    restored = _restored_version(store)
    imported = {
        r["run_id"] for r in store.execute_query("SELECT run_id FROM _imported_runs").to_dicts()
    }
    for path in sorted(latest):
        rec = latest[path]
        if not os.path.exists(path) and rec.get("run_id") in imported:
            print(f"NOT RESTORED  {path}  (from an imported bag; `usher-pipeline state import "
                  "BAG --restore-outputs` puts it in place)")  # fmt: skip
            not_restored += 1
            continue
        if not os.path.exists(path):
            print(f"MISSING   {path}  (recorded by {rec['rule']})")
            problems += 1
            continue
        now = file_record(path)["sha256"]
        if now != rec["sha256"] and restored.get(_norm(path)) == now:
            print(f"OK        {path}  (as restored from result version {restored['']})")
        elif now != rec["sha256"]:
            when = f" at {rec['ended_at']}" if rec.get("ended_at") else ""
            print(
                f"MISMATCH  {path}  (changed after rule {rec['rule']} recorded it{when}: "
                f"recorded {rec['sha256'][:16]}, on disk {now[:16]})"
            )
            problems += 1
        else:
            print(f"OK        {path}")
    n_snap, snap_problems = _verify_snapshot_files(getattr(store, "cli_config", {}) or {})
    problems += snap_problems
    print(
        f"{len(latest)} recorded files, {n_snap} snapshot files, {problems} problem(s)"
        + (f", {not_restored} imported but not restored (not a problem)" if not_restored else "")
    )
    return 1 if problems else 0


def cmd_invalidate(store: PipelineStore, args: argparse.Namespace) -> int:
    name = args.name
    removed = False
    try:
        validate_table_name(name)
        is_table = True
    except InvalidNameError:
        is_table = False
    if is_table and store.delete_checkpoint(name):
        print(f"deleted table checkpoint {name}")
        removed = True
    cache_dir = (getattr(store, "cli_config", {}).get("live") or {}).get("cache_dir")
    n = FetchCache(store, cache_dir).invalidate(name)
    if n:
        print(f"invalidated {n} fetch checkpoint(s) matching {name}")
        removed = True
    if not removed:
        print(f"nothing matches {name!r} (no table, fetch key or source)", file=sys.stderr)
        return 1
    return 0


def _results_dir(store: PipelineStore) -> Path:
    return Path(getattr(store, "cli_config", {}).get("results_dir") or "results")


def cmd_export(store: PipelineStore, args: argparse.Namespace) -> int:
    from usher_pipeline.persistence.provenance import config_hash
    from usher_pipeline.persistence.transfer import CRATE_NAME, export_state

    config = getattr(store, "cli_config", {})
    summary = export_state(
        store,
        args.file,
        root=args.root,
        runs=args.runs,
        with_outputs=args.with_outputs,
        with_cache=args.with_cache,
        config_hash=config_hash(config) if config else None,
        crate=_results_dir(store) / CRATE_NAME,
    )
    parts = ", ".join(f"{n} {role}" for role, n in sorted(summary.files.items())) or "no files"
    print(
        f"wrote {summary.path} ({summary.size:,} bytes, sha256 {summary.sha256}): "
        f"{summary.runs} runs, {summary.tables} tables, {parts}; "
        f"{summary.referenced} files referenced by sha256 only"
    )
    for item in summary.skipped:
        print(f"not included: {item}")
    return 0


def cmd_import(store: PipelineStore, args: argparse.Namespace) -> int:
    from usher_pipeline.persistence.transfer import BagError, import_state

    try:
        s = import_state(
            store,
            args.file,
            root=args.root,
            replace=args.replace,
            restore_outputs=args.restore_outputs,
        )
    except BagError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    if s.already_imported:
        print(
            f"{s.source} (sha256 {s.sha256[:16]}) was already imported: the state is unchanged; "
            + (
                f"{len(s.files_restored)} files restored"
                if args.restore_outputs
                else "add --restore-outputs to put its outputs in place"
            )  # fmt: skip
        )
        for path in s.files_conflicting:
            print(f"not restored (a different file is already there): {path}")
        return 0
    print(
        f"imported {s.source} (sha256 {s.sha256[:16]}) into {store.db_path}: "
        f"{s.runs_added} runs added, {s.runs_replaced} replaced; tables added "
        f"{len(s.tables_added)}, replaced {len(s.tables_replaced)}; {s.fetches_added} fetch "
        f"checkpoints and {s.batch_sets_added} batched pulls added; "
        f"{len(s.files_restored)} files restored"
    )
    if s.tables_kept:
        print(
            f"kept the local version of {len(s.tables_kept)} differing tables "
            f"(--replace takes the bag's): {', '.join(s.tables_kept)}"
        )
    for path in s.files_conflicting:
        print(f"not restored (a different file is already there): {path}")
    return 0


def cmd_inspect(store: PipelineStore | None, args: argparse.Namespace) -> int:
    from usher_pipeline.persistence.transfer import BagError, inspect_bag

    try:
        m = inspect_bag(args.file)
    except BagError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(m, indent=2, sort_keys=True))
        return 0
    bag = m["bag_file"]
    print(f"{bag['path']}: valid bag ({bag['size']:,} bytes, sha256 {bag['sha256']})")
    print(f"format {m['format']} {m['format_version']}, created {m['created_at']}")
    pipe = m["pipeline"]
    print(
        f"pipeline {pipe['version']} (commit {pipe.get('git_commit') or '-'}); "
        + ", ".join(f"{k} {v}" for k, v in m["software"].items() if v)
    )
    print(
        f"config hash {m.get('config_hash') or '-'}; runs recorded with config "
        f"{', '.join(h[:16] for h in m.get('run_config_hashes') or []) or '-'}"
    )
    print(f"options: {json.dumps(m['options'], sort_keys=True)}")
    print(f"{len(m['run_ids'])} runs; crate: {m.get('crate') or 'none'}")
    print("\nTables:")
    _print_table(
        [
            {"table": k, "rows": v["rows"], "content_sha256": v["content_sha256"][:16]}
            for k, v in sorted(m["tables"].items())
        ],
        ["table", "rows", "content_sha256"],
    )
    print("\nFiles:")
    _print_table(
        [
            {
                "role": f["role"],
                "in_bag": "yes" if f.get("member") else "sha256 only",
                "size": f.get("size"),
                "sha256": (f.get("sha256") or "")[:16],
                "path": f["path"],
            }
            for f in m["files"]
        ],
        ["role", "in_bag", "size", "sha256", "path"],
    )
    return 0


def _versions_store(store: PipelineStore) -> Path:
    from usher_pipeline.result_versions import versions_dir

    return versions_dir(store.db_path)


def cmd_versions(store: PipelineStore, args: argparse.Namespace) -> int:
    from usher_pipeline.result_versions import list_versions, read_last_run

    where = _versions_store(store)
    rows = [
        {
            "version": m["version"],
            "created_at": m.get("created_at"),
            "status": m.get("status"),
            "files": len(m.get("files", {})),
            "readable_in": str(where / m["version"] / "files"),
        }
        for m in list_versions(where)
    ]
    _print_table(rows, ["version", "created_at", "status", "files", "readable_in"])
    last = read_last_run(_results_dir(store))
    if last:
        print(
            f"\nlast run: {last.get('status')} at {last.get('finished_at')}"
            + (f" (version {last['version']})" if last.get("version") else "")
        )
    return 0


def cmd_restore(store: PipelineStore, args: argparse.Namespace) -> int:
    from usher_pipeline.result_versions import ResultVersionError, restore_version

    results_key = str(getattr(store, "cli_config", {}).get("results_dir") or "results")
    if not Path("Snakefile").is_file():
        print(
            f"usher-pipeline state restore: {Path.cwd()} is not the repository root (no "
            "Snakefile); run it from there, where results_dir and Snakemake's records live",
            file=sys.stderr,
        )
        return 2
    try:
        m = restore_version(_versions_store(store), results_key, results_key, args.version)
    except ResultVersionError as exc:
        print(f"usher-pipeline state restore: {exc}", file=sys.stderr)
        return 2
    print(
        f"restored version {m['version']} ({m.get('status')}, {m.get('created_at')}): "
        f"{len(m['files'])} files into {results_key}/; a rerun with the config of that run "
        "does no work (rebuild the HTML report with `usher-pipeline run`)"
    )
    return 0


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def cmd_gc(store: PipelineStore, args: argparse.Namespace) -> int:
    from usher_pipeline.persistence.gc import collect_garbage

    plan = collect_garbage(store, keep_last=args.keep_last, dry_run=args.dry_run)
    verb = "would drop" if plan.dry_run else "dropped"
    print(
        f"{len(plan.runs_kept)} of {plan.runs_total} runs kept (last {plan.keep_last} per "
        "rule and wildcards, running ones, and the producers of current outputs)"
    )
    for r in plan.runs_dropped:
        print(f"{verb} run {r['run_id']}  {r['rule']}  {r['status']}  {r['started_at']}")
    for t in plan.tables_dropped:
        print(f"{verb} table {t['table_name']} ({t['rows']} rows)")
    for f in plan.fetches_dropped:
        print(f"{verb} fetch checkpoint {f['key'][:16]} {f['source']} ({f['path']})")
    for b in plan.batches_dropped:
        print(f"{verb} batched pull {b['key'][:16]} {b['source']} ({b['rows']} rows)")
    freed = f"{_human(plan.bytes_files)} of downloads"
    if plan.dry_run:
        print(
            f"dry run: {len(plan.runs_dropped)} runs, {len(plan.tables_dropped)} tables, "
            f"{len(plan.fetches_dropped)} fetch checkpoints, {len(plan.batches_dropped)} batched "
            f"pulls and {freed} would be freed; nothing changed"
        )
    else:
        print(
            f"freed {len(plan.runs_dropped)} runs, {len(plan.tables_dropped)} tables, "
            f"{len(plan.fetches_dropped)} fetch checkpoints, {len(plan.batches_dropped)} batched "
            f"pulls, {freed}; database {_human(plan.db_size_before)} -> "
            f"{_human(plan.db_size_after)}"
        )
    return 0


def _write_result(rows: list[dict[str, Any]], columns: list[str], fmt: str, out: TextIO) -> None:
    if fmt == "table":
        _print_table(rows, columns, file=out)
    elif fmt == "json":
        # NaN and infinities are not JSON: written as null
        clean = [
            {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in r.items()}
            for r in rows
        ]
        out.write(json.dumps(clean, indent=2, default=str, allow_nan=False) + "\n")
    else:
        writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow(["" if r[c] is None else r[c] for c in columns])


def cmd_query(store: PipelineStore, args: argparse.Namespace) -> int:
    import duckdb

    from usher_pipeline.persistence import LockTimeoutError

    try:
        frame = store.read_only_query(args.sql)
    except duckdb.Error as exc:
        print(
            f"usher-pipeline state query: {exc}\n(the query runs on a read-only connection to "
            f"{store.db_path}: statements that change the database or touch other files are "
            "refused)",
            file=sys.stderr,
        )
        return 2
    except LockTimeoutError as exc:
        print(f"usher-pipeline state query: {exc}", file=sys.stderr)
        return 3
    rows, columns = frame.to_dicts(), list(frame.columns)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            _write_result(rows, columns, args.format, out)
        print(f"wrote {len(rows)} row(s) to {args.output}", file=sys.stderr)
    else:
        _write_result(rows, columns, args.format, sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="usher-pipeline state", description="Inspect and maintain the state database."
    )
    parser.add_argument("--db", help="state database (default: state.db of the config)")
    parser.add_argument("--configfile", help="config file (default: config/config.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("checkpoints", help="list stored tables and fetch checkpoints")
    runs = sub.add_parser("runs", help="list rule executions")
    runs.add_argument("--rule")
    runs.add_argument("--status", choices=["running", "ok", "failed", "interrupted"])
    runs.add_argument("--limit", type=int, default=50)
    prov = sub.add_parser("provenance", help="show an output's provenance")
    prov.add_argument("output")
    lin = sub.add_parser("lineage", help="show the runs and files an output derives from")
    lin.add_argument("output")
    sub.add_parser("verify", help="re-hash recorded outputs; non-zero exit on any mismatch")
    inv = sub.add_parser("invalidate", help="drop a table checkpoint or fetch checkpoint(s)")
    inv.add_argument("name", help="table name, fetch key (prefix) or source name")
    gc = sub.add_parser("gc", help="drop runs, tables and cache no kept run references")
    gc.add_argument("--keep-last", type=int, default=1, help="runs kept per rule (default 1)")
    gc.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    exp = sub.add_parser("export", help="write the state (and optionally files) to a bag")
    exp.add_argument("file", help="bag to write: .tar, .tar.gz or .zip")
    exp.add_argument("--runs", nargs="+", help="run ids (or unique prefixes) to export")
    exp.add_argument("--with-outputs", action="store_true", help="include the result files")
    exp.add_argument(
        "--with-cache", action="store_true", help="include live downloads and batch checkpoints"
    )
    exp.add_argument("--root", help="folder recorded paths are relative to (default: .)")
    imp = sub.add_parser("import", help="validate a bag and merge it into the state database")
    imp.add_argument("file")
    imp.add_argument("--replace", action="store_true", help="the bag wins on conflicts")
    imp.add_argument(
        "--restore-outputs", action="store_true", help="also put the bag's outputs in place"
    )
    imp.add_argument("--root", help="folder recorded paths are relative to (default: .)")
    ins = sub.add_parser("inspect", help="validate a bag and show what it holds")
    ins.add_argument("file")
    ins.add_argument("--json", action="store_true")
    qry = sub.add_parser(
        "query",
        help="run a read-only SQL statement; waits for running jobs instead of breaking them",
    )
    qry.add_argument("sql", help='e.g. "SELECT rule, status FROM _runs"')
    qry.add_argument("--format", choices=["table", "tsv", "csv", "json"], default="table")
    qry.add_argument("--output", help="write the result to FILE instead of the terminal")
    sub.add_parser("versions", help="list the result sets kept by passed runs")
    rst = sub.add_parser("restore", help="put a kept result set back into results_dir")
    rst.add_argument("version", nargs="?", help="version id or prefix (default: the newest)")
    return parser


_COMMANDS = {
    "versions": cmd_versions,
    "restore": cmd_restore,
    "checkpoints": cmd_checkpoints,
    "runs": cmd_runs,
    "provenance": cmd_provenance,
    "lineage": cmd_lineage,
    "verify": cmd_verify,
    "invalidate": cmd_invalidate,
    "export": cmd_export,
    "gc": cmd_gc,
    "import": cmd_import,
    "query": cmd_query,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "inspect":
        return cmd_inspect(None, args)
    try:
        # import may create the database (restoring a run into a fresh clone); nothing else may
        store = _open_store(args, create=args.command == "import")
    except StateNotFoundError as exc:
        print(f"usher-pipeline state: {exc}", file=sys.stderr)
        return 2
    with store:
        return _COMMANDS[args.command](store, args)


if __name__ == "__main__":
    sys.exit(main())
