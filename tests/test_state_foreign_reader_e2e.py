"""Issue 11 acceptance, "readers don't break writers": a read-only DuckDB connection held by
another process for 5 s during a run does not fail the run (jobs wait for it).

The run works in a copy of the shared fixture run (tests/e2e_fixtures.py) with ``gene_subset``
forced to run again, so it, integration and every job after them write to the state database. A
separate process opens that database read-only as soon as it records a running job (retrying
while a job has it open), holds it for 5 s, and reports when.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import e2e_fixtures as e2e  # noqa: E402
from usher_pipeline.persistence import PipelineStore  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

HOLD_S = 5.0

# Stands in for a notebook: duckdb.connect(path, read_only=True), kept open for HOLD_S seconds.
READER = """
import json, os, sys, time
import duckdb

db, hold_s, give_up = sys.argv[1], float(sys.argv[2]), time.monotonic() + float(sys.argv[3])
attempts = 0
while True:
    if time.monotonic() > give_up:
        print(json.dumps({"held": False, "attempts": attempts}), flush=True)
        sys.exit(1)
    attempts += 1
    try:
        con = duckdb.connect(db, read_only=True)
    except duckdb.Error:  # a job has it open read-write right now
        con = None
    if con is not None:
        q = "SELECT count(*) FROM _runs WHERE status = 'running' AND started_at > ?"
        if con.execute(q, [sys.argv[4]]).fetchone()[0]:
            break  # a job of this run is running: hold the file from now on
        con.close()
    time.sleep(0.02)
start = time.time()
time.sleep(hold_s)
con.close()
print(json.dumps({"held": True, "start": start, "end": time.time(), "attempts": attempts}),
      flush=True)
"""

FINAL = [
    "candidates.tsv",
    "candidates.parquet",
    "gene_evidence.parquet",
    "validation/metrics.tsv",
    "reproducibility_report.md",
]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_read_only_connection_held_5s_during_a_run_does_not_fail_it() -> None:
    work = e2e.copy_local_run("usher-e2e-reader-")
    base = work.parent
    db = work / e2e.fixture_config()["state"]["db"]
    results = e2e.results_dir(work)
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as _runs.started_at
    cmd = [e2e.snakemake_bin(), "--profile", "workflow/profiles/default", "--cores", "2",
           "--configfile", str(e2e.TEST_CONFIG_REL), "--forcerun", "gene_subset"]  # fmt: skip
    log = base / "run.log"
    with open(log, "w") as out:
        run = subprocess.Popen(cmd, cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(db), str(HOLD_S), "300", since],
            stdout=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()
        try:
            rc = run.wait(timeout=500)
            e2e.note_workflow_run(cmd, time.monotonic() - started)
            report = json.loads(reader.communicate(timeout=60)[0])
        finally:
            for proc in (run, reader):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    output = log.read_text(errors="replace")
    assert report["held"], f"the reader never got the database: {report}"
    assert rc == 0, "\n".join(output.splitlines()[-80:])
    assert "Could not set lock" not in output and "DatabaseBusyError" not in output
    ran = e2e.job_stats(output)
    assert {"gene_subset", "integrate", "validate", "publish_candidates"} <= set(ran), ran
    for rel in FINAL:
        assert (results / rel).is_file(), rel

    store = PipelineStore(db, holder="test")
    runs = store.execute_query("SELECT rule, status, started_at, ended_at FROM _runs").to_dicts()
    assert runs and all(r["status"] == "ok" for r in runs), runs
    # the hold really overlapped the run: jobs were running while the reader held the file ...
    during = [
        r["rule"]
        for r in runs
        if _epoch(r["started_at"]) < report["end"] and _epoch(r["ended_at"]) > report["start"]
    ]
    assert during, (report, runs)
    # ... and at least one store operation of a job waited for it (its lock hold includes the
    # wait for DuckDB's file lock)
    waited = store.execute_query(
        "SELECT rule, operation, hold_s FROM _lock_waits WHERE hold_s > 1.0 AND rule != 'test'"
    ).to_dicts()
    assert waited, f"no job waited for the reader (rules running during the hold: {during})"
    assert max(w["hold_s"] for w in waited) < HOLD_S + 2
    assert "outside the pipeline; waiting up to" in output  # the job said why it waited
