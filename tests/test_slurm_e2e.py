"""End to end on a real SLURM: the workflow on the fixture config through the slurm profile.

Needs the single-node loopback cluster of tests/slurm (``bash tests/slurm/start_slurm.sh``;
.ci/run starts it). Without a reachable cluster the test is skipped, unless
USHER_REQUIRE_SLURM=1, where it fails.

Proof that jobs went through the scheduler, not a local fallback:
  * the executor plugin logs one "submitted with SLURM jobid N" line per non-local job, and
    the set of rules submitted equals the set of non-local rules Snakemake ran;
  * every one of those job IDs is in slurmctld's job-completion record (jobcomp/filetxt,
    written by the controller, not by Snakemake) as COMPLETED on node localhost with the run's
    working directory, and each has its SLURM stdout log file;
  * the job IDs that slurmctld still holds in memory (MinJobAge) answer `scontrol show job`
    with the same state and the rule name as the job comment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_fixtures import (
    ARTIFACTS,
    TEST_CONFIG,
    TEST_CONFIG_REL,
    copy_workflow,
    describe,
    run_snakemake,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

_CLUSTER_PY = Path(__file__).resolve().parent / "slurm" / "cluster.py"


def _cluster_module():
    name = "usher_slurm_cluster"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _CLUSTER_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def slurm():
    cluster = _cluster_module()
    if not cluster.binaries_present() or not cluster.is_up():
        msg = (
            f"no SLURM reachable (node state {cluster.node_state()!r}); "
            "start one with: bash tests/slurm/start_slurm.sh"
        )
        if os.environ.get("USHER_REQUIRE_SLURM") == "1":
            pytest.fail(msg + " [USHER_REQUIRE_SLURM=1]")
        pytest.skip(msg)
    return cluster


SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.")
RULE_HEADER = re.compile(r"^(localrule|rule) (\w+):\s*$", re.MULTILINE)


def _jobcomp_records(path: Path) -> dict[str, dict[str, str]]:
    records = {}
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            if "JobId" in fields:
                records[fields["JobId"]] = fields
    return records


@pytest.mark.timeout(1800)
def test_fixture_workflow_runs_through_slurm_profile(slurm, tmp_path):
    assert TEST_CONFIG.exists(), f"fixture config {TEST_CONFIG} missing"
    workdir = copy_workflow(tmp_path / "wf")
    ARTIFACTS.mkdir(exist_ok=True)
    res = run_snakemake(
        [
            "--profile",
            "workflow/profiles/slurm",
            "--configfile",
            str(TEST_CONFIG_REL),
            # Only the status polling differs from the profile (whose 20 s suit a real cluster):
            # the plugin waits this long before its first squeue and again after every check
            # that saw a job finish, +10 s after each check that saw none. Jobs here take
            # 6-10 s (two nested Snakemake starts, then about a second of work; measured from
            # slurmctld's job-completion record), so checks at 1, 12, 33 s after a submission
            # catch them at 12 s, sooner than 3, 16 s (3) or 20, 50 s (20). 1 s is the plugin's
            # minimum; 3 x 1 s is far below MinJobAge (300 s): "squeue" stays the status command.
            "--slurm-init-seconds-before-status-checks",
            "1",
        ],
        cwd=workdir,
        timeout=1500,
        # a per-run log (concurrent test sessions must not write into one file), kept as
        # an artifact afterwards
        log_file=tmp_path / "snakemake.log",
    )
    shutil.copyfile(tmp_path / "snakemake.log", ARTIFACTS / "slurm_e2e.snakemake.log")
    assert not res.timed_out, describe(res)
    assert res.returncode == 0, describe(res)

    # --- everything was built: a dry run afterwards has nothing left to do
    check = run_snakemake(
        ["-n", "--profile", "workflow/profiles/slurm", "--configfile", str(TEST_CONFIG_REL)],
        cwd=workdir,
        timeout=300,
    )
    assert check.returncode == 0, describe(check)
    assert "Nothing to be done" in check.output, describe(check)

    # --- the jobs Snakemake ran outside the submit host went through sbatch
    submissions = SUBMITTED.findall(res.output)
    assert submissions, "no job was submitted to SLURM\n" + describe(res)
    # Snakemake announces a job it hands to the executor as "rule NAME:" and one it runs in
    # its own process as "localrule NAME:" (the in-job step of a failed, retried job may echo
    # its own "localrule" header through --show-failed-logs, hence sets, not counts)
    ran = RULE_HEADER.findall(res.output)
    remote_rules = {name for kind, name in ran if kind == "rule"}
    local_rules = {name for kind, name in ran if kind == "localrule"} - remote_rules
    assert "all" in local_rules
    submitted_rules = {re.search(r"/rule_(\w+)/", log).group(1) for _, _, log in submissions}
    assert submitted_rules == remote_rules, describe(res)
    assert len(submissions) >= len(remote_rules)
    # more than a token: the layer rules, integration, plots ... all ran as SLURM jobs
    assert len(remote_rules) >= 5, remote_rules

    # --- slurmctld's own record of those jobs
    slurm_ids = [sid for _, sid, _ in submissions]
    assert len(set(slurm_ids)) == len(slurm_ids), "a SLURM job id was reported twice"
    records = _jobcomp_records(slurm.jobcomp_log())
    for _, sid, log in submissions:
        rec = records.get(sid)
        assert rec is not None, f"SLURM job {sid} missing from {slurm.jobcomp_log()}"
        assert rec["JobState"] == "COMPLETED", rec
        assert rec["NodeList"] == "localhost", rec
        assert Path(rec["WorkDir"]).resolve() == workdir.resolve(), rec
        assert Path(log).exists(), f"SLURM log {log} of job {sid} missing"

    in_memory = 0
    for _, sid, log in submissions:
        show = subprocess.run(
            ["scontrol", "-o", "show", "job", sid], capture_output=True, text=True, timeout=20
        )
        if show.returncode != 0:  # purged after MinJobAge: the jobcomp record above stands
            continue
        in_memory += 1
        fields = dict(re.findall(r"(\w+)=(\S*)", show.stdout))
        assert fields["JobState"] == "COMPLETED", show.stdout
        rule = re.search(r"/rule_(\w+)/", log).group(1)
        assert fields["Comment"].startswith(f"rule_{rule}"), show.stdout
    assert in_memory >= 1, "no submitted job is known to slurmctld any more"

    summary = {
        "seconds": round(res.seconds, 1),
        "slurm_job_ids": slurm_ids,
        "rules_on_slurm": sorted(remote_rules),
        "local_rules": sorted(local_rules),
        "jobs_confirmed_by_scontrol": in_memory,
    }
    (ARTIFACTS / "slurm_e2e.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))
