# The Provenance Run Crate (Workflow Run RO-Crate, provenance-run-crate 0.5) of the run, written
# from the state database once every final output exists.


rule ro_crate:
    input:
        final_outputs(),
    output:
        crate=f"{RESULTS}/ro-crate-metadata.json",
        snakefile=f"{RESULTS}/workflow/Snakefile",
    log:
        f"{LOGS}/ro_crate.log",
    conda:
        ENV
    params:
        snakefile=workflow.main_snakefile,
        profile="provenance-run-crate-0.5",
    script:
        "../../scripts/ro_crate.py"
