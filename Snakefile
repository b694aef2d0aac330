# usher-pipeline: screen human protein-coding genes for under-studied cilia / Usher candidates.
# Thin entry point: config + schema validation, rule modules, and the target rule.
import os
import sys
import time
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from usher_pipeline.config_check import (
    apply_overrides,
    check_config,
    check_schema,
    jobs_use_checkout_library,
    stop_before_jobs,
)
from usher_pipeline.errors import UsherPipelineError
from usher_pipeline.snapshot import check_snapshot_at_start

# Jobs import this checkout's library, never an installed copy (RuleRun checks it).
jobs_use_checkout_library(Path(workflow.basedir) / "scripts")

RUN_STARTED = time.time()
SCHEMA = "workflow/schemas/config.schema.yaml"
try:
    # Nested --config values arrive as strings ('validation={gates: {min_cv_recall: 0.5}}' gives
    # '0.5'): merge them again with the types the schema asks for, keeping sibling keys.
    apply_overrides(config, workflow.config_settings.overwrite_config, SCHEMA)
    # One line per problem (key, file:line), not a schema dump; then Snakemake's validation
    # fills in the schema defaults.
    check_schema(config, SCHEMA, workflow.configfiles, workflow.config_settings.config)
    validate(config, SCHEMA)
    # Meaning checks (tier order, weights, results_dir, gene subset file) before any job.
    check_config(
        config,
        workflow.configfiles,
        workflow.basedir,
        os.getcwd(),
        override_files=workflow.overwrite_configfiles or (),
    )
    # Every run, even one with nothing to do, hashes the whole snapshot against its manifest
    # (mtimes are never trusted): an altered file stops it here, before any job. Jobs that
    # Snakemake starts as their own processes (cluster jobs) leave it to the main process.
    if workflow.exec_mode.name == "DEFAULT":
        check_snapshot_at_start(config["snapshot_dir"])
except UsherPipelineError as exc:
    stop_before_jobs(exc)


include: "workflow/rules/common.smk"
include: "workflow/rules/universe.smk"
include: "workflow/rules/layers.smk"
include: "workflow/rules/integrate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/crate.smk"


if config["mode"] == "live":

    include: "workflow/rules/live.smk"


# The report opens on the answer: once the landing_page rule wrote results/report/landing.rst
# (validation verdict, tiers, top candidates, then workflow/report/workflow.rst), it is the
# report's description; before that (e.g. a dry run) the workflow description alone.
LANDING_RST = Path(config["results_dir"]) / "report" / "landing.rst"


report: str(LANDING_RST.resolve()) if LANDING_RST.exists() else "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        final_outputs(),
        rules.ro_crate.output.crate,


onsuccess:
    run_ended(True)


onerror:
    run_ended(False)
