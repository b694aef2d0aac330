LAYER_TABLES = {name: f"{RESULTS}/layers/{name}.parquet" for name in LAYER_NAMES}
FOLDS = {
    "folds": config["validation"].get("folds", 5),
    "seed": config["validation"].get("seed", 20261121),
}


rule integrate:
    input:
        **LAYER_TABLES,
        genes=rules.gene_universe.output.genes,
        gene_sets=rules.gene_universe.output.gene_sets,
        subset=rules.gene_subset.output.subset,
    output:
        evidence=f"{RESULTS}/gene_evidence.parquet",
        # Published as candidates.tsv/.parquet by publish_candidates only once validation passed.
        candidates_unvalidated=f"{RESULTS}/unvalidated/candidates.parquet",
        weights=report(
            f"{RESULTS}/validation/model_weights.tsv",
            category="Validation",
            caption="../report/model_weights.rst",
        ),
    log:
        f"{LOGS}/integrate.log",
    benchmark:
        f"{BENCH}/integrate.tsv"
    conda:
        ENV
    params:
        scoring=config["scoring"],
        folds=FOLDS,
        layers={k: config["layers"].get(k, {}) for k in SEEDED_LAYERS},
    script:
        "../../scripts/integrate.py"


rule validate:
    input:
        **{k: LAYER_TABLES[k] for k in SEEDED_LAYERS},
        evidence=rules.integrate.output.evidence,
    output:
        metrics=report(
            f"{RESULTS}/validation/metrics.tsv",
            category="Validation",
            caption="../report/validation.rst",
        ),
        controls=f"{RESULTS}/validation/control_ranks.tsv",
        folds=f"{RESULTS}/validation/cv_folds.tsv",
        stability=f"{RESULTS}/validation/stability.tsv",
        summary=f"{RESULTS}/validation/validation.json",
    log:
        f"{LOGS}/validate.log",
    benchmark:
        f"{BENCH}/validate.tsv"
    conda:
        ENV
    params:
        validation=config["validation"],
        scoring=config["scoring"],
        layers={k: config["layers"].get(k, {}) for k in SEEDED_LAYERS},
        gene_subset=bool(config.get("gene_subset")),
        # Removed when the gates fail: no candidate list or start page of an earlier run stays.
        published=[
            f"{RESULTS}/candidates.tsv",
            f"{RESULTS}/candidates.parquet",
            f"{RESULTS}/report/candidates_table.html",
            f"{RESULTS}/report/index.html",
            f"{RESULTS}/report/landing.rst",
        ],
    script:
        "../../scripts/validate.py"


rule publish_candidates:
    input:
        candidates=rules.integrate.output.candidates_unvalidated,
        validation=rules.validate.output.summary,
    output:
        candidates_parquet=f"{RESULTS}/candidates.parquet",
        candidates_tsv=report(
            f"{RESULTS}/candidates.tsv",
            category="Results",
            caption="../report/candidates.rst",
        ),
    log:
        f"{LOGS}/publish_candidates.log",
    benchmark:
        f"{BENCH}/publish_candidates.tsv"
    conda:
        ENV
    script:
        "../../scripts/publish_candidates.py"
