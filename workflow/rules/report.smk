rule plots:
    input:
        evidence=rules.integrate.output.evidence,
    output:
        distribution=report(
            f"{RESULTS}/plots/score_distribution.png",
            category="Plots",
            caption="../report/score_distribution.rst",
        ),
        contributions=report(
            f"{RESULTS}/plots/layer_contributions.png",
            category="Plots",
            caption="../report/layer_contributions.rst",
        ),
        tiers=report(
            f"{RESULTS}/plots/tier_breakdown.png",
            category="Plots",
            caption="../report/tier_breakdown.rst",
        ),
    log:
        f"{LOGS}/plots.log",
    benchmark:
        f"{BENCH}/plots.tsv"
    conda:
        ENV
    params:
        top_n=config["validation"]["stability_top_n"],
    script:
        "../../scripts/plots.py"


rule candidates_table:
    input:
        candidates=rules.publish_candidates.output.candidates_parquet,
        layers=[f"{RESULTS}/layers/{name}.parquet" for name in LAYER_NAMES],
    output:
        report(
            f"{RESULTS}/report/candidates_table.html",
            category="Results",
            caption="../report/candidates_table.rst",
        ),
    log:
        f"{LOGS}/candidates_table.log",
    benchmark:
        f"{BENCH}/candidates_table.tsv"
    conda:
        ENV
    params:
        max_rows=config["report"]["table_rows"],
        scoring=config["scoring"],
    script:
        "../../scripts/candidates_table.py"


rule landing_page:
    input:
        candidates=rules.publish_candidates.output.candidates_parquet,
        metrics=rules.validate.output.metrics,
        validation=rules.validate.output.summary,
        description=workflow.source_path("../report/workflow.rst"),
    output:
        html=report(
            f"{RESULTS}/report/index.html",
            category="Results",
            caption="../report/index.rst",
        ),
        # The Snakefile's report: description once it exists (the report opens on it).
        rst=f"{RESULTS}/report/landing.rst",
    log:
        f"{LOGS}/landing_page.log",
    benchmark:
        f"{BENCH}/landing_page.tsv"
    conda:
        ENV
    params:
        scoring=config["scoring"],
        top_n=config["report"].get("top_candidates", 25),
    script:
        "../../scripts/landing_page.py"


rule reproducibility_report:
    input:
        verified=rules.verify_snapshot.output[0],
        mapping=rules.gene_universe.output.report,
        subset=rules.gene_subset.output.report,
        layer_stats=[f"{RESULTS}/layers/{name}.stats.json" for name in LAYER_NAMES],
        evidence=rules.integrate.output.evidence,
        validation=rules.validate.output.summary,
    output:
        report(
            f"{RESULTS}/reproducibility_report.md",
            category="Reproducibility",
            caption="../report/reproducibility.rst",
        ),
    log:
        f"{LOGS}/reproducibility_report.log",
    benchmark:
        f"{BENCH}/reproducibility_report.tsv"
    conda:
        ENV
    params:
        config=config,
    script:
        "../../scripts/reproducibility_report.py"
