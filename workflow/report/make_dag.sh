#!/usr/bin/env bash
# Regenerate the rule graph shown in the README: workflow/report/rulegraph.svg.
#
#   bash workflow/report/make_dag.sh                 # default config (config/config.yaml)
#   bash workflow/report/make_dag.sh --config mode=live   # extra snakemake arguments pass through
#
# Needs graphviz (`apt-get install graphviz`, provides `dot`). Nothing is executed: --rulegraph
# only builds the DAG; --forceall draws every rule even when outputs already exist.
set -euo pipefail
# stable edge order between runs (Snakemake walks sets of rules)
export PYTHONHASHSEED=0
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
snakemake="${SNAKEMAKE:-}"
if [ -z "$snakemake" ]; then
    if [ -x .venv/bin/snakemake ]; then snakemake=.venv/bin/snakemake; else snakemake=snakemake; fi
fi
out="${OUT:-workflow/report/rulegraph.svg}"
tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
"$snakemake" --rulegraph --forceall --quiet all "$@" > "$tmp"
dot -Tsvg "$tmp" > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($(grep -c '<g id="node' "$out") rules)"
