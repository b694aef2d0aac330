"""Unit tests of the SLURM harness itself: config generation and stop-by-PID safety.

These need no running cluster: they check that stop() only ever signals a process whose PID
*and* kernel start time match what start() recorded.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "usher_slurm_cluster", Path(__file__).with_name("cluster.py")
)
cluster = importlib.util.module_from_spec(_spec)
sys.modules["usher_slurm_cluster"] = cluster
_spec.loader.exec_module(cluster)


def test_config_text_has_the_settings_this_machine_needs(tmp_path):
    topo = {
        "CPUs": 2,
        "Boards": 1,
        "SocketsPerBoard": 1,
        "CoresPerSocket": 2,
        "ThreadsPerCore": 1,
        "RealMemory": 24105,
    }
    text = cluster.config_text(tmp_path, topo)
    settings = {}
    for line in text.replace("\\\n", "").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, value)
    assert settings["AuthType"] == "auth/none"
    assert settings["CredType"] == "cred/none"
    assert settings["ProctrackType"] == "proctrack/linuxproc"
    assert settings["TaskPlugin"] == "task/none"
    assert int(settings["MinJobAge"]) >= 300
    node_line = next(
        line for line in text.replace("\\\n", "").splitlines() if line.startswith("NodeName=")
    )
    assert "NodeName=localhost NodeAddr=127.0.0.1" in node_line
    assert "CPUs=2" in node_line and "CoresPerSocket=2" in node_line
    real_mem = int(node_line.split("RealMemory=")[1].split()[0])
    assert 0 < real_mem < 24105
    assert text.startswith(cluster.MARKER)


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "120"])


def test_stop_ignores_a_pid_whose_start_time_differs(tmp_path):
    proc = _sleeper()
    try:
        start_time = cluster._proc_start_time(proc.pid)
        assert start_time is not None
        # a recycled PID: same number, different start time -> not ours
        fake = {"slurmd": {"pid": proc.pid, "start_time": str(int(start_time) + 1), "cmd": []}}
        (tmp_path / "daemons.json").write_text(json.dumps(fake))
        assert cluster.running_daemons(tmp_path) == {}
        assert cluster.stop(tmp_path, grace=1) == []
        assert proc.poll() is None, "stop() signalled a process it did not start"
    finally:
        proc.kill()
        proc.wait()


def test_stop_terminates_the_recorded_process(tmp_path):
    proc = _sleeper()
    try:
        entry = {"pid": proc.pid, "start_time": cluster._proc_start_time(proc.pid), "cmd": []}
        (tmp_path / "daemons.json").write_text(json.dumps({"slurmd": entry}))
        assert cluster.running_daemons(tmp_path) == {"slurmd": proc.pid}
        assert cluster.stop(tmp_path, grace=5) == [proc.pid]
        assert proc.wait(timeout=5) is not None
        assert not (tmp_path / "daemons.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path, capsys):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            "print('ready', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        entry = {"pid": proc.pid, "start_time": cluster._proc_start_time(proc.pid), "cmd": []}
        # recorded as slurmd: stop() cancels queued jobs only when it stops a slurmctld
        (tmp_path / "daemons.json").write_text(json.dumps({"slurmd": entry}))
        assert cluster.stop(tmp_path, grace=1) == [proc.pid]
        # stop() reaps its own children, so the exit status is gone: check the process is
        # gone and that it took the SIGKILL path
        assert cluster._proc_start_time(proc.pid) is None
        assert "sending SIGKILL" in capsys.readouterr().err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("state", ["idle", "mix", "alloc"])
def test_up_states(monkeypatch, state):
    monkeypatch.setattr(cluster, "node_state", lambda: state)
    assert cluster.is_up()


def test_not_up_when_controller_silent(monkeypatch):
    monkeypatch.setattr(cluster, "node_state", lambda: None)
    assert not cluster.is_up()
