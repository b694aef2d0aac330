# One rule per evidence layer. Each writes one row per universe gene: raw values beside a 0-1
# sub-score, NULL where the source says nothing about the gene. layer_annotation is the template;
# the others inherit its shape with `use rule`.


rule layer_annotation:
    input:
        unpack(lambda wc: step_files("annotation")),
        unpack(lambda wc: live_tables("annotation")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/annotation.parquet",
        stats=f"{RESULTS}/layers/annotation.stats.json",
    log:
        f"{LOGS}/layer_annotation.log",
    benchmark:
        f"{BENCH}/layer_annotation.tsv"
    conda:
        ENV
    params:
        layer="annotation",
        settings=config["layers"].get("annotation", {}),
        mode=MODE,
    script:
        "../../scripts/compute_layer.py"


use rule layer_annotation as layer_localization with:
    input:
        unpack(lambda wc: step_files("localization")),
        unpack(lambda wc: live_tables("localization")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/localization.parquet",
        stats=f"{RESULTS}/layers/localization.stats.json",
    log:
        f"{LOGS}/layer_localization.log",
    benchmark:
        f"{BENCH}/layer_localization.tsv"
    params:
        layer="localization",
        settings=config["layers"].get("localization", {}),
        mode=MODE,


use rule layer_annotation as layer_mouse_phenotype with:
    input:
        unpack(lambda wc: step_files("mouse_phenotype")),
        unpack(lambda wc: live_tables("mouse_phenotype")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/mouse_phenotype.parquet",
        stats=f"{RESULTS}/layers/mouse_phenotype.stats.json",
    log:
        f"{LOGS}/layer_mouse_phenotype.log",
    benchmark:
        f"{BENCH}/layer_mouse_phenotype.tsv"
    params:
        layer="mouse_phenotype",
        settings=config["layers"].get("mouse_phenotype", {}),
        mode=MODE,


use rule layer_annotation as layer_human_phenotype with:
    input:
        unpack(lambda wc: step_files("human_phenotype")),
        unpack(lambda wc: live_tables("human_phenotype")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/human_phenotype.parquet",
        stats=f"{RESULTS}/layers/human_phenotype.stats.json",
    log:
        f"{LOGS}/layer_human_phenotype.log",
    benchmark:
        f"{BENCH}/layer_human_phenotype.tsv"
    params:
        layer="human_phenotype",
        settings=config["layers"].get("human_phenotype", {}),
        mode=MODE,


use rule layer_annotation as layer_literature with:
    input:
        unpack(lambda wc: step_files("literature")),
        unpack(lambda wc: live_tables("literature")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/literature.parquet",
        stats=f"{RESULTS}/layers/literature.stats.json",
    log:
        f"{LOGS}/layer_literature.log",
    benchmark:
        f"{BENCH}/layer_literature.tsv"
    params:
        layer="literature",
        settings=config["layers"].get("literature", {}),
        mode=MODE,


use rule layer_annotation as layer_protein_features with:
    input:
        unpack(lambda wc: step_files("protein_features")),
        unpack(lambda wc: live_tables("protein_features")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/protein_features.parquet",
        stats=f"{RESULTS}/layers/protein_features.stats.json",
    log:
        f"{LOGS}/layer_protein_features.log",
    benchmark:
        f"{BENCH}/layer_protein_features.tsv"
    params:
        layer="protein_features",
        settings=config["layers"].get("protein_features", {}),
        mode=MODE,


use rule layer_annotation as layer_constraint with:
    input:
        unpack(lambda wc: step_files("constraint")),
        unpack(lambda wc: live_tables("constraint")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/constraint.parquet",
        stats=f"{RESULTS}/layers/constraint.stats.json",
    log:
        f"{LOGS}/layer_constraint.log",
    benchmark:
        f"{BENCH}/layer_constraint.tsv"
    params:
        layer="constraint",
        settings=config["layers"].get("constraint", {}),
        mode=MODE,


use rule layer_annotation as layer_expression with:
    input:
        unpack(lambda wc: step_files("expression")),
        unpack(lambda wc: live_tables("expression")),
        genes=rules.gene_universe.output.genes,
    output:
        table=f"{RESULTS}/layers/expression.parquet",
        stats=f"{RESULTS}/layers/expression.stats.json",
    log:
        f"{LOGS}/layer_expression.log",
    benchmark:
        f"{BENCH}/layer_expression.tsv"
    params:
        layer="expression",
        settings=config["layers"].get("expression", {}),
        mode=MODE,
