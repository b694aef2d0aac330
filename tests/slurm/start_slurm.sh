#!/usr/bin/env bash
# Install (if missing) and start a single-node SLURM on loopback for the end-to-end tests.
# Idempotent: a cluster this harness already started is reused. Stop it with stop_slurm.sh.
# State (PIDs, logs, job-completion log) goes to $USHER_SLURM_STATE_DIR (default /tmp/usher-slurm-harness).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends slurmctld slurmd slurm-client
fi
py="${PYTHON:-}"
if [ -z "$py" ]; then
    if [ -x "$here/../../.venv/bin/python" ]; then py="$here/../../.venv/bin/python"; else py=python3; fi
fi
exec "$py" "$here/cluster.py" start "$@"
