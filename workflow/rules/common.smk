# Shared helpers of the rule modules. Logic lives in scripts/usher_pipeline; this file only maps
# config to paths.
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from usher_pipeline.sources import (
    LAYER_UNIVERSE_INPUTS,
    LIVE_DERIVED,
    snapshot_paths,
    step_inputs,
    user_gene_list_inputs,
)
from usher_pipeline.layers import LAYER_NAMES, SEEDED_LAYERS
from usher_pipeline.result_versions import finish_run

RESULTS = config["results_dir"]
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SNAPSHOT = config["snapshot_dir"]
MODE = config["mode"]
ENV = "../../envs/pipeline.yaml"


DISABLED = (config.get("live") or {}).get("disabled_sources") or []


# (A workflow that includes only these helpers, without a snapshot, pins nothing; the Snakefile
# has checked the snapshot and its manifest before this point.)
SNAPSHOT_FILES = (
    set(snapshot_paths(SNAPSHOT).values())
    if (Path(SNAPSHOT) / "manifest.json").exists()
    else set()
)


def pinned(path):
    """A snapshot file as an input whose mtime does not matter (ancient): the Snakefile hashes
    every snapshot file against manifest.json at the start of each run, so its content is
    pinned by the manifest, and a file restored with a new mtime (git checkout) reruns nothing.
    A rebuilt snapshot changes manifest.json, an input of verify_snapshot, and reruns all.
    """
    return ancient(path) if path in SNAPSHOT_FILES else path


def step_files(step):
    """Named upstream input files of a step (snapshot or live paths, by mode)."""
    return {
        k: pinned(v)
        for k, v in step_inputs(step, MODE, SNAPSHOT, RESULTS, DISABLED).items()
    }


def live_tables(layer):
    """Item-wise live pulls a layer reads (none in snapshot mode or when disabled)."""
    if MODE != "live":
        return {}
    pulls = {
        "literature": ("pubmed", "pubmed_counts"),
        "protein_features": ("uniprot", "uniprot_features"),
    }
    if layer not in pulls or pulls[layer][0] in DISABLED:
        return {}
    name = pulls[layer][1]
    return {name: f"{RESULTS}/live/{name}.parquet"}


def layer_inputs(layer):
    """Named inputs of a layer rule: its source files (by mode), live pulls, the universe genes and
    the universe tables the layer needs (aliases, gene-set flags)."""
    universe = {
        "genes": f"{RESULTS}/universe/genes.parquet",
        "aliases": f"{RESULTS}/universe/aliases.parquet",
        "gene_sets": f"{RESULTS}/universe/gene_sets.parquet",
    }
    extra = LAYER_UNIVERSE_INPUTS.get(layer, ())
    return {
        **step_files(layer),
        **live_tables(layer),
        **{k: v for k, v in universe.items() if k == "genes" or k in extra},
    }


def layer_fold_params(layer):
    """Cross-validation folds of the layers seeded from known genes (empty for the others, so a
    change of folds reruns only those)."""
    if "gene_sets" not in LAYER_UNIVERSE_INPUTS.get(layer, ()):
        return {}
    v = config.get("validation", {})
    return {"k": v.get("folds", 5), "seed": v.get("seed", 20261121)}


def gene_list_files():
    """The user's own known-gene / control files named in known_genes / negative_controls (an
    entry that is not a snapshot manifest key), as named inputs of gene_universe."""
    return user_gene_list_inputs(config, SNAPSHOT)


def subset_file():
    return [config["gene_subset"]] if config.get("gene_subset") else []


def final_outputs():
    return [
        f"{RESULTS}/candidates.tsv",
        f"{RESULTS}/candidates.parquet",
        f"{RESULTS}/gene_evidence.parquet",
        f"{RESULTS}/validation/metrics.tsv",
        f"{RESULTS}/plots/score_distribution.png",
        f"{RESULTS}/plots/layer_contributions.png",
        f"{RESULTS}/plots/tier_breakdown.png",
        f"{RESULTS}/report/candidates_table.html",
        f"{RESULTS}/report/index.html",
        f"{RESULTS}/reproducibility_report.md",
    ]


# Live-mode helpers (used by workflow/rules/live.smk). Settings only: no data libraries are
# imported while the workflow is parsed (every run, even one with nothing to do, parses it).
from usher_pipeline.live.settings import (
    STRING_FETCHER_VERSION as LIVE_STRING_VERSION,
    literature_settings,
    pruning_settings as live_string_pruning,
    pubmed_contexts,
)
from usher_pipeline.live.sources import (
    API_RESOURCES as LIVE_API_RESOURCES,
    SOURCES as LIVE_SOURCES,
    eutils_base as live_eutils_base,
    source_release as live_source_release,
    source_url as live_source_url,
    uniprot_base as live_uniprot_base,
)

LIVE_DIR = f"{config['results_dir']}/live"
LIVE_LOGS = f"{config['results_dir']}/logs/live"
LIVE_LITERATURE = literature_settings(config)


def live_api_slots(key, api):
    """1 when live source ``key`` calls upstream API ``api`` (a Snakemake resource), else 0."""
    return 1 if LIVE_SOURCES[key].api == api else 0


def pubmed_link_inputs():
    """The gene -> PMID link file of the bulk literature pull (none for per_gene)."""
    if LIVE_LITERATURE["method"] != "bulk":
        return {}
    return {"gene2pubmed": f"{LIVE_DIR}/raw/{LIVE_LITERATURE['links']}"}


def _live_setting(name, default):
    return (config.get("live") or {}).get(name, default)


def _live_item_release(name):
    return str(
        ((_live_setting("sources", {}) or {}).get(name) or {}).get("release")
        or "current"
    )


def run_ended(succeeded):
    """Keep a passed result set as a version in the state; after a failure, say FAILED in
    last_run.json, the start page and report.html (see usher_pipeline.result_versions).
    """
    try:
        line = finish_run(
            config["results_dir"],
            config["state"]["db"],
            succeeded,
            RUN_STARTED,
            os.getcwd(),
        )
    except Exception as exc:  # never hide the run's own outcome behind this one
        line = f"could not record the end of the run: {exc}"
    if line:
        print(f"usher-pipeline: {line}", file=sys.stderr, flush=True)
