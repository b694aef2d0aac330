"""Rule script of ``ro_crate``: the Provenance Run Crate of the current outputs (thin; the work is
usher_pipeline.crate.build_crate)."""

import importlib.metadata
from pathlib import Path
from typing import Any

from usher_pipeline.crate import build_crate
from usher_pipeline.persistence import RuleRun


def main(smk: Any) -> None:
    with RuleRun(smk) as run:
        data = build_crate(
            run.store,
            run.config,
            Path(smk.output.crate).parent,
            smk.params.snakefile,
            final_outputs=list(smk.input),
            engine_version=importlib.metadata.version("snakemake"),
            out_path=smk.output.crate,
        )
        run.record_step("ro_crate", {"entities": len(data["@graph"])})


main(snakemake)  # noqa: F821 (injected by Snakemake)
