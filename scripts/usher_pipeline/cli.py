"""``usher-pipeline`` command: run the workflow (and its report), inspect state, build the snapshot.

    usher-pipeline run [--cores N] [--configfile FILE ...] [--profile DIR] [--no-report]
                       [--dry-run] [-- ARGS]
    usher-pipeline state {checkpoints,runs,provenance,lineage,verify,invalidate,export,import,
                          inspect,gc,query} ...
    usher-pipeline build-snapshot [--shared DIR] [--out DIR]
    usher-pipeline explain SYMBOL [--results DIR] [--json]
    usher-pipeline summary [--results DIR] [--configfile FILE ...] [--top N] [--json]

``run`` is a thin wrapper: it calls ``snakemake`` in the repository (everything it does can be
done with plain snakemake commands, printed before they run) and then builds the self-contained
HTML report with ``snakemake --report`` (only when what the report is built from changed since it
was last built: see :mod:`usher_pipeline.report_fingerprint`; a rerun with nothing to do says the
report is up to date), and ends by printing a short summary (validation verdict,
tier counts, top 10 candidates of each view (cilia; Usher when present), where the results are;
``summary`` prints it again).
``run --dry-run`` runs ``snakemake -n`` instead and, in
live mode, first prints what every live source will download or request (sizes, request counts,
time at the rate limits, what is already checkpointed; see :mod:`usher_pipeline.live.plan`).
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .config_check import load_yaml
from .report_fingerprint import (
    forget_fingerprint,
    report_fingerprint,
    report_is_current,
    save_fingerprint,
)

REPO = Path(__file__).resolve().parents[2]


def _snakemake() -> str:
    exe = Path(sys.executable).parent / "snakemake"
    return str(exe) if exe.exists() else (shutil.which("snakemake") or "snakemake")


def _results_dir(configfiles: list[str], overrides: list[str]) -> str:
    results = "results"
    for cf in configfiles or [str(REPO / "config" / "config.yaml")]:
        data = load_yaml(Path(cf)) or {}
        results = data.get("results_dir", results)
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "results_dir":
            results = value
    return results


def _call(cmd: list[str]) -> int:
    print("+ " + shlex.join(cmd), flush=True)
    return subprocess.call(cmd, cwd=REPO)


def expand_dotted(overrides: list[str] | None) -> list[str]:
    """``--config`` entries with dotted keys as the nested form Snakemake accepts.

    Snakemake refuses ``validation.gates.min_cv_recall=0.5``; it becomes
    ``validation={"gates": {"min_cv_recall": "0.5"}}``, which Snakemake merges key by key (the
    Snakefile then gives the value the schema's type). A value that is a YAML list or mapping
    (``[...]``, ``{...}``) is kept as written. Other entries pass unchanged."""
    out = []
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            out.append(item)
            continue
        top, *rest = key.split(".")
        raw = value.strip()
        inner = raw if raw[:1] in ("[", "{") else json.dumps(value)
        for part in reversed(rest):
            inner = "{" + json.dumps(part) + ": " + inner + "}"
        out.append(f"{top}={inner}")
    return out


def load_config(configfiles: list[str] | None, overrides: list[str] | None) -> dict:
    """The workflow config as Snakemake builds it: config.yaml, --configfile(s), --config (nested
    values merged key by key). Read once per command (``run`` asks before and after snakemake;
    the files are the same ones)."""
    key = (REPO, tuple(configfiles or ()), tuple(overrides or ()))
    if key not in _CONFIGS:
        _CONFIGS[key] = _load_config(configfiles, overrides)
    return copy.deepcopy(_CONFIGS[key])


_CONFIGS: dict[tuple, dict] = {}


def _load_config(configfiles: list[str] | None, overrides: list[str] | None) -> dict:
    from snakemake.utils import update_config  # Snakemake's own key-by-key merge

    config: dict = {}
    for cf in [str(REPO / "config" / "config.yaml"), *(configfiles or [])]:
        path = Path(cf) if Path(cf).is_absolute() else REPO / cf
        update_config(config, load_yaml(path) or {})
    from .config_check import typed_overrides

    schema = load_yaml(REPO / "workflow" / "schemas" / "config.schema.yaml")
    for item in expand_dotted(overrides):
        key, _, value = item.partition("=")
        entry = {key: yaml.safe_load(value) if value else value}
        update_config(config, typed_overrides(entry, schema))
    return config


def print_live_plan(config: dict) -> None:
    """Print the live cost plan (paths in the config are relative to the repository)."""
    import os

    from .live.plan import format_plan, live_plan

    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        print(format_plan(live_plan(config), config), flush=True)
    finally:
        os.chdir(cwd)


def recover_dead_run(base: list[str], args: argparse.Namespace) -> bool:
    """Before a run: clean up after a killed one (stale Snakemake lock, ``running`` rows of dead
    processes, orphan temporary files); see :mod:`usher_pipeline.recovery`. True when something
    of a dead run was found. Raises RuntimeError when a live run holds the lock."""
    from .recovery import LiveRunError, recover

    config = load_config(args.configfile, args.config)
    unlock_cmd = [*base, "--unlock"]
    try:
        rec = recover(
            REPO,
            config.get("results_dir") or "results",
            (config.get("state") or {}).get("db") or "state/usher_pipeline.duckdb",
            unlock=lambda: _call(unlock_cmd),
            unlock_command=shlex.join(unlock_cmd),
        )
    except LiveRunError as exc:
        raise RuntimeError(str(exc)) from exc
    if rec.unlocked:
        print(f"recovered: removed the stale Snakemake lock of a dead run ({len(rec.stale_locks)} "
              "lock file(s))", flush=True)  # fmt: skip
    for row in rec.interrupted_runs:
        print(f"recovered: run {row['run_id'][:12]} of rule {row['rule']} (pid {row['pid']}, "
              f"started {row['started_at']}) marked interrupted", flush=True)  # fmt: skip
    for path in rec.removed_tmp:
        print(f"recovered: removed orphan temporary file {path}", flush=True)
    return rec.recovered or bool(rec.stale_locks)


def missing_configfiles(configfiles: list[str] | None) -> list[str]:
    """The ``--configfile`` paths that are not files (relative ones are read from the
    repository folder, where Snakemake runs)."""
    return [cf for cf in configfiles or [] if not (REPO / cf).is_file()]


def cmd_run(args: argparse.Namespace) -> int:
    missing = missing_configfiles(args.configfile)
    if missing:
        print(
            f"usher-pipeline run: --configfile {missing[0]}: no such file (relative paths are "
            f"read from {REPO})",
            file=sys.stderr,
        )
        return 2
    if args.dry_run:
        return run_snakemake(args)
    from .recovery import LiveRunError, RunLock

    try:
        lock = RunLock(REPO)
        lock.acquire()
    except LiveRunError as exc:
        print(f"usher-pipeline run: {exc}", file=sys.stderr)
        return 3
    try:
        return run_snakemake(args)
    finally:
        lock.release()


def run_snakemake(args: argparse.Namespace) -> int:
    base = [_snakemake(), "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO)]
    if args.profile:
        base += ["--profile", args.profile]
    if args.configfile:
        base += ["--configfile", *args.configfile]
    if args.config:
        base += ["--config", *expand_dotted(args.config)]
    if args.dry_run:
        config = load_config(args.configfile, args.config)
        if config.get("mode") == "live":
            print_live_plan(config)
        return _call([*base, "--cores", str(args.cores), "--dry-run", *args.snakemake_args])
    extra = []
    try:
        recovered = recover_dead_run(base, args)
    except RuntimeError as exc:
        print(f"usher-pipeline run: {exc}", file=sys.stderr)
        return 3
    if recovered and "--rerun-incomplete" not in args.snakemake_args:
        extra.append("--rerun-incomplete")  # the dead run's half-written outputs are redone
    if not args.profile and not any(a.startswith("--logger") for a in args.snakemake_args):
        extra += ["--logger", "usher"]  # one line per job (a profile chooses for itself)
    rc = _call([*base, "--cores", str(args.cores), *extra, *args.snakemake_args])
    results = Path(_results_dir(args.configfile, args.config or []))
    results = results if results.is_absolute() else REPO / results
    report = results / "report.html"
    if rc != 0:
        forget_fingerprint(report)  # the failed run may have replaced the report
        print_run_summary(results, args, None, failed_run=True)
        return rc
    if args.no_report:
        print_run_summary(results, args, None)
        return rc
    rc = build_report(base, report, args)
    print_run_summary(results, args, report if rc == 0 else None)
    return rc


def build_report(base: list[str], report: Path, args: argparse.Namespace) -> int:
    """``snakemake --report``, unless report.html was built from exactly the results, workflow
    code and config it would be built from now (:mod:`usher_pipeline.report_fingerprint`)."""
    cmd = [*base, "--report", str(report)]
    configfiles = [str(REPO / "config" / "config.yaml"), *(args.configfile or [])]
    extra = [shlex.join(cmd), snakemake_version(), *args.snakemake_args]
    fingerprint = report_fingerprint(REPO, report.parent, report, configfiles, extra)
    if report_is_current(report, fingerprint):
        print(f"report {report} is up to date (results, workflow and config unchanged since it "
              f"was built); not rebuilt: {shlex.join(cmd)}", flush=True)  # fmt: skip
        return 0
    forget_fingerprint(report)
    rc = _call(cmd)
    if rc == 0:
        save_fingerprint(report, fingerprint)
    return rc


def snakemake_version() -> str:
    """The installed Snakemake's version (read from its package metadata, no interpreter start)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return "snakemake " + version("snakemake")
    except PackageNotFoundError:
        return "snakemake unknown"


def print_run_summary(
    results: Path, args: argparse.Namespace, report: Path | None, failed_run: bool = False
) -> None:
    """The end-of-run summary (see :mod:`usher_pipeline.summary`). After a failed run only a
    failed validation gate is summarised (other failures: Snakemake's error above)."""
    from .summary import format_summary, read_run_summary

    config = load_config(args.configfile, args.config)
    summary = read_run_summary(results, config.get("scoring"), 10)
    if failed_run and summary.status != "failed":
        return
    print("\n== usher-pipeline summary (again: usher-pipeline summary)", flush=True)
    print(format_summary(summary, report), flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _CONFIGS.clear()  # one command reads the config files once
    if argv and argv[0] == "state":
        from .state_cli import main as state_main

        return state_main(argv[1:])
    if argv and argv[0] == "build-snapshot":
        sys.path.insert(0, str(REPO / "scripts"))
        from build_snapshot import main as build_main  # type: ignore[import-not-found]

        return build_main(argv[1:])
    if argv and argv[0] == "summary":
        from .summary import main as summary_main

        return summary_main(argv[1:])
    if argv and argv[0] == "explain":
        from .explain import main as explain_main

        return explain_main(argv[1:])
    ap = argparse.ArgumentParser(prog="usher-pipeline", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the workflow, then build the HTML report")
    run.add_argument("--cores", "-c", default="all", help="cores for snakemake (default: all)")
    run.add_argument("--configfile", nargs="+", help="config file(s), later ones override")
    run.add_argument(
        "--config",
        nargs="+",
        help="KEY=VALUE overrides passed to snakemake (a dotted KEY such as "
        "validation.gates.min_cv_recall is sent as the nested mapping Snakemake accepts)",
    )
    run.add_argument("--profile", help="snakemake profile dir, e.g. workflow/profiles/slurm")
    run.add_argument("--no-report", action="store_true", help="skip snakemake --report")
    run.add_argument(
        "--dry-run",
        "-n",
        action="store_true",
        help="snakemake -n; in live mode first print what each live source will fetch",
    )
    run.add_argument("snakemake_args", nargs=argparse.REMAINDER, help="-- extra snakemake args")
    sub.add_parser("state", help="inspect the state database (see `usher-pipeline state -h`)")
    sub.add_parser("build-snapshot", help="rebuild the embedded snapshot from ../shared/data")
    sub.add_parser("explain", help="explain one gene's rank, layer by layer (`explain -h`)")
    sub.add_parser("summary", help="print the last run's verdict, tiers and top candidates")
    args = ap.parse_args(argv)
    if args.snakemake_args and args.snakemake_args[0] == "--":
        args.snakemake_args = args.snakemake_args[1:]
    return cmd_run(args)


if __name__ == "__main__":
    raise SystemExit(main())
