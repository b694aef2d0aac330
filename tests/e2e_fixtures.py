"""Shared helpers for the end-to-end tests: run Snakemake on a fresh copy of the workflow.

Every run works in its own copy of the working tree (without .git, .venv, .snakemake,
results/, state/), so it starts from nothing exactly like a fresh clone, never touches the
repository's own results/ or state file, and can run beside other runs.

The fixture config is .test/config/config.yaml (a small gene subset). ``local_run()`` runs the
workflow once per test session with the laptop profile and caches the result; the report,
dry-run and integrator tests share it (``import e2e_fixtures`` works from tests/*.py because
pytest puts the test file's folder on sys.path). "Once per session" holds across the parallel
worker processes too: the run is made in the session's shared folder (``USHER_E2E_SHARED``, see
conftest.py) under a file lock by the first worker that asks, and read by the others.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
TEST_CONFIG_REL = Path(".test/config/config.yaml")
TEST_CONFIG = REPO / TEST_CONFIG_REL
ARTIFACTS = REPO / "test-artifacts"

# names never copied: VCS, environments, run state, caches, earlier outputs
_SKIP = {
    ".git",
    ".venv",
    ".snakemake",
    "results",
    "state",
    "logs",
    "test-artifacts",
    ".pytest_cache",
    ".ruff_cache",
    "__pycache__",
    "build",
}
# relative paths never copied
_SKIP_PATHS = {Path("benchmarks/out"), Path(".test/results"), Path(".test/state")}


def snakemake_bin() -> str:
    """The snakemake of the interpreter running the tests (the project's virtualenv)."""
    candidate = Path(sys.executable).parent / "snakemake"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("snakemake")
    if not found:
        raise RuntimeError("snakemake is not installed in this environment")
    return found


def _ignore(directory: str, names: list[str]) -> list[str]:
    rel = Path(directory).resolve().relative_to(REPO)
    return [n for n in names if n in _SKIP or n.endswith(".egg-info") or rel / n in _SKIP_PATHS]


def copy_workflow(dest: Path) -> Path:
    """Copy the working tree (without run state) to ``dest``; return ``dest``."""
    shutil.copytree(
        REPO,
        dest,
        ignore=_ignore,
        symlinks=True,
    )
    return dest


def fixture_config() -> dict:
    return yaml.safe_load(TEST_CONFIG.read_text())


def results_dir(workdir: Path) -> Path:
    """Where the fixture config puts the final outputs, inside ``workdir``."""
    return workdir / fixture_config().get("results_dir", "results")


def scratch_dir(prefix: str) -> Path:
    """A new temporary directory, removed at interpreter exit unless USHER_KEEP_E2E=1."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.environ.get("USHER_KEEP_E2E") != "1":
        atexit.register(shutil.rmtree, path, True)
    return path


def _shared_once(name: str, make: Any) -> dict:
    """``make(base)`` once per test session, across worker processes; its JSON-able record.

    ``base`` is a new folder in the session's shared folder (``USHER_E2E_SHARED``, made and
    removed by conftest.py), or a scratch folder of this process when there is none. The first
    process that asks makes the record under a file lock; the others wait for it and read it.
    """
    root = os.environ.get("USHER_E2E_SHARED")
    if not root:
        return make(scratch_dir(f"usher-e2e-{name}-"))
    root_path = Path(root)
    record = root_path / f"{name}.json"
    with FileLock(str(root_path / f"{name}.lock")):
        if not record.exists():
            base = root_path / name
            base.mkdir()
            global _MAKING
            _MAKING = name
            try:
                data = make(base)
            finally:
                _MAKING = None
            tmp = record.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(record)
        return json.loads(record.read_text())


@dataclasses.dataclass
class SnakemakeResult:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr interleaved
    seconds: float
    timed_out: bool


_NOT_A_RUN = {"-n", "--dry-run", "--dryrun", "--summary", "--detailed-summary", "--list-changes",
              "--list-rules", "--lint", "--dag", "--rulegraph", "--filegraph", "--report",
              "--unlock"}  # fmt: skip


_MAKING: str | None = None  # name of the shared run being made (for note_workflow_run)


def note_workflow_run(args: list[str], seconds: float) -> None:
    """For benchmarks/profile_suite.py: when ``USHER_PROFILE_RUNS`` names a file, append which
    test started this Snakemake (or ``usher-pipeline run``) process, whether it was a real run
    (not a dry run, summary, graph, lint or report), and how long it took."""
    path = os.environ.get("USHER_PROFILE_RUNS")
    if not path:
        return
    rec = {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0],
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "run": not _NOT_A_RUN & set(args),
        "shared": _MAKING,  # the session's shared fixture run, made during this test
        "seconds": round(seconds, 2),
        "args": [str(a) for a in args],
    }
    with FileLock(path + ".lock"), open(path, "a") as fh:
        fh.write(json.dumps(rec) + "\n")


def run_snakemake(
    args: list[str],
    cwd: Path,
    timeout: float = 900,
    env: dict[str, str] | None = None,
    log_file: Path | None = None,
) -> SnakemakeResult:
    """Run snakemake with ``args`` in ``cwd``.

    On timeout the run is interrupted with SIGINT (Snakemake then cancels its SLURM jobs;
    SIGTERM would not stop it), then killed after 90 s more.
    """
    cmd = [snakemake_bin(), *args]
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("PYTHONUNBUFFERED", "1")
    out_path = log_file or Path(tempfile.mkstemp(prefix="snakemake-", suffix=".log")[1])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    timed_out = False
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=run_env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    note_workflow_run(cmd, time.monotonic() - start)
    return SnakemakeResult(
        args=cmd,
        returncode=proc.returncode,
        output=out_path.read_text(errors="replace"),
        seconds=time.monotonic() - start,
        timed_out=timed_out,
    )


def describe(res: SnakemakeResult, tail: int = 80) -> str:
    lines = res.output.splitlines()
    return (
        f"command: {' '.join(res.args)}\nexit {res.returncode} after {res.seconds:.0f}s"
        f"{' (TIMED OUT, interrupted)' if res.timed_out else ''}\n" + "\n".join(lines[-tail:])
    )


def job_stats(output: str) -> dict[str, int]:
    """The 'Job stats' table Snakemake prints (rule -> job count), without the total row."""
    stats: dict[str, int] = {}
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Job stats:":
            for row in lines[i + 3 :]:  # header, dashes
                m = re.match(r"^(\S+)\s+(\d+)\s*$", row)
                if not m:
                    break
                if m.group(1) != "total":
                    stats[m.group(1)] = int(m.group(2))
            break
    return stats


def _result_record(res: SnakemakeResult, log_file: Path) -> dict:
    """``res`` as JSON (the output stays in ``log_file``, where run_snakemake wrote it)."""
    rec = dataclasses.asdict(res)
    rec["output"] = str(log_file)
    return rec


def _result_from(rec: dict) -> SnakemakeResult:
    return SnakemakeResult(**{**rec, "output": Path(rec["output"]).read_text(errors="replace")})


@dataclasses.dataclass
class LocalRun:
    workdir: Path
    results: Path
    result: SnakemakeResult


_LOCAL_RUN: LocalRun | None = None


def _make_local_run(base: Path) -> dict:
    workdir = copy_workflow(base / "wf")
    log = base / "snakemake.log"
    res = run_snakemake(
        ["--profile", "workflow/profiles/default", "--cores", "2",
         "--configfile", str(TEST_CONFIG_REL)],
        cwd=workdir, timeout=1200, log_file=log,
    )  # fmt: skip
    return {"workdir": str(workdir), "result": _result_record(res, log)}


def local_run() -> LocalRun:
    """Run the workflow on the fixture config once per session (laptop profile), cached.

    Raises AssertionError (with the tail of the log) when the run fails, so every test that
    depends on it fails with the reason. Tests read the run; one that changes it works on a
    copy (``copy_local_run``).
    """
    global _LOCAL_RUN
    if _LOCAL_RUN is None:
        rec = _shared_once("local", _make_local_run)
        workdir = Path(rec["workdir"])
        _LOCAL_RUN = LocalRun(workdir=workdir, results=results_dir(workdir),
                              result=_result_from(rec["result"]))  # fmt: skip
    if _LOCAL_RUN.result.returncode != 0:
        raise AssertionError("fixture workflow run failed\n" + describe(_LOCAL_RUN.result))
    return _LOCAL_RUN


def copy_local_run(prefix: str) -> Path:
    """A scratch copy of the shared fixture run's working tree (results, state, .snakemake;
    mtimes kept): a test that changes a finished run works on it, never on the shared one."""
    clean = local_run()
    return Path(shutil.copytree(clean.workdir, scratch_dir(prefix) / "wf", symlinks=True))


def run_module(work: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m module args`` in ``work`` with that copy's library first on the path."""
    env = dict(os.environ, PYTHONPATH=str(work / "scripts"), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


# Loads the workflow through the Snakemake API (in a subprocess: Snakemake keeps global state)
# with a config file and --config entries parsed exactly as the command line parses them, then
# runs ``body`` with the loaded workflow as ``wf``; ``body`` prints "PROBE_JSON <json>".
_PROBE_HEAD = r"""
import json, sys
from pathlib import Path
from typing import Any
from snakemake.api import SnakemakeApi
from snakemake.cli import parse_config
from snakemake.settings.types import (
    ConfigSettings, OutputSettings, ResourceSettings, StorageSettings,
)
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(
            configfiles=[Path(sys.argv[1])], config=parse_config(sys.argv[2:])
        ),
        storage_settings=StorageSettings(),
        snakefile=Path("Snakefile"),
    )._workflow
"""


def probe_workflow(body: str, configfile: Path, config: list[str], cwd: Path = REPO) -> Any:
    """What ``body`` (indented code using ``wf``) prints after ``PROBE_JSON ``, decoded."""
    script = _PROBE_HEAD + "".join(f"    {line}\n" for line in body.strip().splitlines())
    res = subprocess.run(
        [sys.executable, "-c", script, str(configfile), *config],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, (res.stdout + res.stderr)[-6000:]
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("PROBE_JSON "))
    return json.loads(line.removeprefix("PROBE_JSON "))


@dataclasses.dataclass
class LiveRun:
    """The fixture workflow in live mode against the loopback server, run once per session.

    ``workdir`` stays as the run left it; a test that changes or exports it works on its own
    copy (``copy_to``). The server is stopped after the run; ``port`` is where it listened (the
    URLs in ``live.yaml`` point there), ``counts``/``log`` are what it served during the run.
    """

    workdir: Path
    args: list[str]
    result: SnakemakeResult
    port: int
    counts: dict[str, int]
    log: list[tuple[str, str, int]]

    def port_lock(self) -> FileLock:
        """Held while a test listens on ``port`` (the run's live.yaml points there): tests in
        other worker processes that listen there too wait for it."""
        root = os.environ.get("USHER_E2E_SHARED") or str(self.workdir.parent)
        return FileLock(str(Path(root) / "live-port.lock"))

    def copy_to(self, dest: Path) -> Path:
        """Copy the run's working tree (with its results, state, cache, .snakemake; mtimes kept)."""
        shutil.copytree(self.workdir, dest, symlinks=True)
        return dest


_LIVE_RUN: LiveRun | None = None


def _make_live_run(base: Path) -> dict:
    from live_server import LiveServer

    work = copy_workflow(base / "wf")
    args = ["--cores", "2", "--configfile", str(TEST_CONFIG_REL), "live.yaml"]
    srv = LiveServer()
    srv.start()
    log = base / "run1.log"
    try:
        live_cfg = srv.live_config(work, uniprot_page_size=500)
        overlay = {
            "mode": "live",
            "results_dir": "live_results",
            "state": {"db": "live_state/usher.duckdb", "lock_timeout_s": 120},
            "live": {
                **live_cfg["live"],
                "cache_dir": "live_state/downloads",
                "disabled_sources": ["hpa_rna_tissue", "gtex_median", "gnomad_constraint"],
            },
        }
        (work / "live.yaml").write_text(yaml.safe_dump(overlay))
        res = run_snakemake(args, cwd=work, timeout=900, log_file=log)
    finally:
        assert srv.httpd is not None
        port = srv.httpd.server_address[1]
        srv.stop()
    return {
        "workdir": str(work),
        "args": args,
        "result": _result_record(res, log),
        "port": port,
        "counts": dict(srv.counts),
        "log": [list(entry) for entry in srv.log],
    }


def live_run() -> LiveRun:
    """Run the workflow in live mode (loopback server) on the fixture config once, cached.

    gnomAD, GTEx and HPA tissue RNA have no offline copy, so they are switched off with
    live.disabled_sources. Raises AssertionError with the log's tail when the run fails.
    """
    global _LIVE_RUN
    if _LIVE_RUN is None:
        rec = _shared_once("live", _make_live_run)
        _LIVE_RUN = LiveRun(
            workdir=Path(rec["workdir"]),
            args=rec["args"],
            result=_result_from(rec["result"]),
            port=rec["port"],
            counts=rec["counts"],
            log=[tuple(entry) for entry in rec["log"]],
        )
    if _LIVE_RUN.result.returncode != 0:
        raise AssertionError("live fixture workflow run failed\n" + describe(_LIVE_RUN.result))
    return _LIVE_RUN
