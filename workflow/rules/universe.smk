rule verify_snapshot:
    input:
        manifest=f"{SNAPSHOT}/manifest.json",
        files=[pinned(p) for p in snapshot_paths(SNAPSHOT).values()],
    output:
        f"{RESULTS}/snapshot/verified.json",
    log:
        f"{LOGS}/verify_snapshot.log",
    benchmark:
        f"{BENCH}/verify_snapshot.tsv"
    localrule: True
    conda:
        ENV
    params:
        snapshot_dir=lambda wildcards, input: os.path.dirname(input.manifest),
    script:
        "../../scripts/verify_snapshot.py"


rule gene_universe:
    input:
        unpack(lambda wc: step_files("universe")),
        unpack(lambda wc: step_files("gene_sets")),
        unpack(lambda wc: gene_list_files()),
        verified=rules.verify_snapshot.output[0],
    output:
        genes=f"{RESULTS}/universe/genes.parquet",
        aliases=f"{RESULTS}/universe/aliases.parquet",
        gene_sets=f"{RESULTS}/universe/gene_sets.parquet",
        mapping=f"{RESULTS}/universe/gene_set_mapping.tsv",
        report=f"{RESULTS}/universe/mapping_report.json",
    log:
        f"{LOGS}/gene_universe.log",
    benchmark:
        f"{BENCH}/gene_universe.tsv"
    conda:
        ENV
    params:
        mode=MODE,
        known_genes=config["known_genes"],
        negative_controls=config["negative_controls"],
        mapping=config["mapping"],
    script:
        "../../scripts/gene_universe.py"


# The genes a run reports (gene_subset): the universe stays whole and every gene is scored by
# the model of the whole universe; a new subset reruns only this rule and the steps after scoring.
rule gene_subset:
    input:
        genes=rules.gene_universe.output.genes,
        aliases=rules.gene_universe.output.aliases,
        subset=subset_file(),
    output:
        subset=f"{RESULTS}/universe/subset.parquet",
        report=f"{RESULTS}/universe/subset_report.json",
    log:
        f"{LOGS}/gene_subset.log",
    benchmark:
        f"{BENCH}/gene_subset.tsv"
    conda:
        ENV
    script:
        "../../scripts/gene_subset.py"
