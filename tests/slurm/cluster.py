"""A real single-node SLURM cluster on loopback, for the end-to-end tests.

Starts ``slurmctld`` and ``slurmd`` (Debian packages, SLURM 22.05) in the foreground mode
(``-D``) as background children, records their PIDs (with the kernel start time, so a reused
PID is never mistaken for ours) in a state directory, and stops exactly those processes again.

What this machine needs (and what this module writes into /etc/slurm/slurm.conf):

* ``AuthType=auth/none`` + ``CredType=cred/none``: no munged is needed on one host.
* ``ProctrackType=proctrack/linuxproc``, ``TaskPlugin=task/none``: no systemd, no cgroups.
* ``NodeName=localhost NodeAddr=127.0.0.1`` with the topology reported by ``slurmd -C`` and a
  ``RealMemory`` below the real value (slurmd drains a node that reports less than configured).
* ``MinJobAge=300``: finished jobs stay visible to ``squeue``/``scontrol`` for 5 minutes; the
  executor plugin uses ``squeue`` for its status checks only when MinJobAge >= 3x its first
  status-check delay (without slurmdbd ``sacct`` fails and a run would hang).
* ``JobCompType=jobcomp/filetxt``: one line per finished job (JobId, name, state, node) in the
  state directory, an independent record that jobs really went through the scheduler.

The config must sit at the default path: the plugin's in-job step strips every ``SLURM_*``
variable (``SLURM_CONF`` included), so ``srun`` inside a job only finds /etc/slurm/slurm.conf.
A pre-existing slurm.conf that this module did not write is kept aside and put back on stop.

Command line: ``python tests/slurm/cluster.py start|stop|status|env``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CONF_PATH = Path(os.environ.get("USHER_SLURM_CONF", "/etc/slurm/slurm.conf"))
STATE_DIR = Path(os.environ.get("USHER_SLURM_STATE_DIR", "/tmp/usher-slurm-harness"))
MARKER = "# written by usher-pipeline tests/slurm/cluster.py"
PARTITION = "debug"
NODE = "localhost"
DAEMONS = ("slurmctld", "slurmd")
PACKAGES = ("slurmctld", "slurmd", "slurm-client")


class ClusterError(RuntimeError):
    """The test cluster could not be started, or is not reachable."""


# ----------------------------------------------------------------------------- helpers


def _log(msg: str) -> None:
    print(f"[slurm-harness] {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def binaries_present() -> bool:
    return all(shutil.which(b) for b in ("slurmctld", "slurmd", "sinfo", "sbatch", "squeue"))


def install_packages() -> None:
    """apt-get install the SLURM packages when any binary is missing (idempotent)."""
    if binaries_present():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _log(f"installing {' '.join(PACKAGES)} with apt-get")
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], check=True, env=env
    )
    if not binaries_present():
        raise ClusterError("SLURM binaries still missing after apt-get install")


def _proc_start_time(pid: int) -> str | None:
    """Kernel start time of a process (field 22 of /proc/PID/stat), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may contain spaces
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # zombie: exited, not yet reaped
        return None
    return fields[19]


def _proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [p.decode(errors="replace") for p in raw.split(b"\0") if p]


def node_topology() -> dict[str, int]:
    """CPUs/sockets/cores/threads and memory of this host as ``slurmd -C`` reports them."""
    out = _run(["slurmd", "-C"]).stdout
    first = out.splitlines()[0] if out else ""
    values = dict(re.findall(r"(\w+)=(\S+)", first))
    keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    missing = [k for k in keys if k not in values]
    if missing:
        raise ClusterError(f"`slurmd -C` did not report {missing}: {out!r}")
    return {k: int(values[k]) for k in keys}


def config_text(state_dir: Path, topo: dict[str, int]) -> str:
    """The slurm.conf of a one-node cluster on loopback."""
    # stay well below the real memory: slurmd drains a node reporting less than RealMemory
    real_mem = max(512, int(topo["RealMemory"] * 0.8))
    return f"""{MARKER}
# state directory: {state_dir}
ClusterName=usher-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={state_dir}/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
Waittime=0
StateSaveLocation={state_dir}/ctld-state
SlurmdSpoolDir={state_dir}/slurmd-spool
SlurmctldPidFile={state_dir}/slurmctld.pidfile
SlurmdPidFile={state_dir}/slurmd.pidfile
SlurmctldLogFile={state_dir}/slurmctld.log
SlurmdLogFile={state_dir}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName={NODE} NodeAddr=127.0.0.1 CPUs={topo["CPUs"]} Boards={topo["Boards"]} \
SocketsPerBoard={topo["SocketsPerBoard"]} CoresPerSocket={topo["CoresPerSocket"]} \
ThreadsPerCore={topo["ThreadsPerCore"]} RealMemory={real_mem} State=UNKNOWN
PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
"""


# ----------------------------------------------------------------------------- state


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "daemons.json"


def _read_pids(state_dir: Path) -> dict[str, dict]:
    try:
        return json.loads(_pid_file(state_dir).read_text())
    except (OSError, ValueError):
        return {}


def _write_pids(state_dir: Path, pids: dict[str, dict]) -> None:
    tmp = _pid_file(state_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(pids, indent=2))
    tmp.replace(_pid_file(state_dir))


def _is_ours(entry: dict) -> bool:
    """True while the recorded process is alive and is the very process we started."""
    pid = int(entry["pid"])
    start = _proc_start_time(pid)
    return start is not None and start == entry["start_time"]


def running_daemons(state_dir: Path = STATE_DIR) -> dict[str, int]:
    """Daemons this harness started that are still alive: name -> PID."""
    return {name: int(e["pid"]) for name, e in _read_pids(state_dir).items() if _is_ours(e)}


def node_state() -> str | None:
    """Node state as sinfo reports it (``idle``, ``mix``, ``down*`` ...); None: no answer."""
    try:
        res = _run(["sinfo", "-h", "-N", "-n", NODE, "-o", "%t"], timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0 or not res.stdout.strip():
        return None
    return res.stdout.split()[0]


def is_up() -> bool:
    """The controller answers and the node accepts work."""
    return node_state() in {"idle", "mix", "alloc"}


# ----------------------------------------------------------------------------- start/stop


def _spawn(name: str, args: list[str], state_dir: Path) -> dict:
    out = open(state_dir / f"{name}.stdout", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # not killed by a Ctrl-C aimed at the caller
        close_fds=True,
    )
    out.close()
    # wait for the kernel to have the /proc entry
    for _ in range(50):
        start = _proc_start_time(proc.pid)
        if start is not None:
            break
        time.sleep(0.02)
    else:
        raise ClusterError(f"{name} exited immediately; see {state_dir}/{name}.stdout")
    return {"pid": proc.pid, "start_time": start, "cmd": args}


def start(state_dir: Path = STATE_DIR, timeout: float = 90) -> dict[str, int]:
    """Install if needed, write slurm.conf, start both daemons, wait for an idle node.

    Idempotent: when the daemons recorded in ``state_dir`` are still alive and the node is
    up, nothing is started again.
    """
    install_packages()
    state_dir.mkdir(parents=True, exist_ok=True)
    alive = running_daemons(state_dir)
    if set(alive) == set(DAEMONS) and is_up():
        _log(f"already running: {alive}")
        return alive
    if alive:  # half-started leftovers of ours: stop them and start clean
        stop(state_dir)

    if node_state() is not None:
        raise ClusterError(
            "a SLURM controller not started by this harness is answering; refusing to touch it"
        )

    for sub in ("ctld-state", "slurmd-spool"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    CONF_PATH.parent.mkdir(parents=True, exist_ok=True)
    if CONF_PATH.exists() and MARKER not in CONF_PATH.read_text(errors="replace"):
        backup = state_dir / "slurm.conf.orig"
        if not backup.exists():
            shutil.copy2(CONF_PATH, backup)
            _log(f"kept the existing {CONF_PATH} aside as {backup}")
    CONF_PATH.write_text(config_text(state_dir, node_topology()))

    pids: dict[str, dict] = {}
    # -i: ignore (and discard) state left over from an earlier run
    pids["slurmctld"] = _spawn("slurmctld", ["slurmctld", "-D", "-i"], state_dir)
    _write_pids(state_dir, pids)
    pids["slurmd"] = _spawn("slurmd", ["slurmd", "-D", "-N", NODE], state_dir)
    _write_pids(state_dir, pids)
    _log(f"started slurmctld pid {pids['slurmctld']['pid']}, slurmd pid {pids['slurmd']['pid']}")

    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        for name, entry in pids.items():
            if not _is_ours(entry):
                tail = _tail(state_dir / f"{name}.log") or _tail(state_dir / f"{name}.stdout")
                stop(state_dir)
                raise ClusterError(f"{name} died during start-up:\n{tail}")
        state = node_state()
        if state == "idle":
            _log(f"node {NODE} idle in partition {PARTITION}")
            return {name: int(e["pid"]) for name, e in pids.items()}
        if state and state.startswith(("down", "drain")) and not state.endswith("*"):
            # a node registered but marked down (e.g. after a restart): resume it
            _run(["scontrol", "update", f"NodeName={NODE}", "State=RESUME"])
        time.sleep(1)
    logs = "\n".join(_tail(state_dir / f"{n}.log") for n in DAEMONS)
    stop(state_dir)
    raise ClusterError(f"node never became idle within {timeout}s (last state {state}):\n{logs}")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _cancel_jobs() -> None:
    """Cancel the jobs still on the cluster (they all belong to it: we created the cluster)."""
    if node_state() is None:
        return
    res = _run(["squeue", "-h", "-o", "%i"], timeout=10)
    ids = res.stdout.split()
    if ids:
        _log(f"cancelling leftover jobs {ids}")
        _run(["scancel", *ids], timeout=10)
        time.sleep(2)


def stop(state_dir: Path = STATE_DIR, grace: float = 15) -> list[int]:
    """Stop only the daemons recorded by :func:`start`: SIGTERM, then SIGKILL after ``grace`` s.

    Returns the PIDs that were stopped. Restores a slurm.conf that was there before.
    """
    pids = _read_pids(state_dir)
    ours = {name: e for name, e in pids.items() if _is_ours(e)}
    if "slurmctld" in ours:
        try:
            _cancel_jobs()
        except (OSError, subprocess.TimeoutExpired):
            pass
    stopped: list[int] = []
    # slurmd first, so the controller does not mark the node down while it is still up
    for name in ("slurmd", "slurmctld"):
        entry = ours.get(name)
        if entry is None:
            continue
        pid = int(entry["pid"])
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _is_ours(entry):
            _reap(pid)
            time.sleep(0.2)
        if _is_ours(entry):
            _log(f"{name} (pid {pid}) ignored SIGTERM for {grace}s, sending SIGKILL")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            for _ in range(50):
                _reap(pid)
                if not _is_ours(entry):
                    break
                time.sleep(0.1)
        stopped.append(pid)
        _log(f"stopped {name} pid {pid}")
    if _pid_file(state_dir).exists():
        _pid_file(state_dir).unlink()
    backup = state_dir / "slurm.conf.orig"
    if backup.exists():
        shutil.move(str(backup), str(CONF_PATH))
        _log(f"restored the original {CONF_PATH}")
    return stopped


def _reap(pid: int) -> None:
    """Collect the exit status when the daemon is our own child (start and stop in one process)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def jobcomp_log(state_dir: Path = STATE_DIR) -> Path:
    """File where slurmctld appends one line per finished job (jobcomp/filetxt)."""
    return state_dir / "jobcomp.log"


def slurmctld_log(state_dir: Path = STATE_DIR) -> Path:
    return state_dir / "slurmctld.log"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            pids = start(STATE_DIR, timeout=args.timeout)
            print(json.dumps({"state_dir": str(STATE_DIR), "pids": pids}))
        elif args.action == "stop":
            recorded = {n: e for n, e in _read_pids(STATE_DIR).items() if _is_ours(e)}
            stopped = stop(STATE_DIR)
            survivors = [n for n, e in recorded.items() if _is_ours(e)]
            print(json.dumps({"stopped": stopped, "still_running": survivors}))
            if survivors:
                _log(f"error: still running after stop: {survivors}")
                return 1
        else:
            alive = running_daemons(STATE_DIR)
            print(json.dumps({"pids": alive, "node_state": node_state()}))
            return 0 if set(alive) == set(DAEMONS) and is_up() else 1
    except ClusterError as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
