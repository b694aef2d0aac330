#!/usr/bin/env bash
# Stop only the SLURM daemons that start_slurm.sh started (by their recorded PID and start time):
# SIGTERM, SIGKILL after a bound. Safe to call when nothing is running (e.g. from a trap).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${PYTHON:-}"
if [ -z "$py" ]; then
    if [ -x "$here/../../.venv/bin/python" ]; then py="$here/../../.venv/bin/python"; else py=python3; fi
fi
exec "$py" "$here/cluster.py" stop "$@"
