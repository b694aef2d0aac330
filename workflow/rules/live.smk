# Live mode: fetch current upstream releases. Included by the Snakefile only when
# config["mode"] == "live". All rules are localrules (compute nodes often have no internet) and go
# through the state layer's fetch cache: a rerun with an unchanged config makes no request.


localrules:
    live_fetch_source,
    live_pubmed_counts,
    live_uniprot,


rule live_fetch_source:
    output:
        f"{LIVE_DIR}/raw/{{key}}",
    log:
        f"{LIVE_LOGS}/fetch_{{key}}.log",
    wildcard_constraints:
        key="|".join(sorted(LIVE_SOURCES)),
    conda:
        ENV
    params:
        url=lambda wc: live_source_url(wc.key, config),
        release=lambda wc: live_source_release(wc.key, config),
        fetcher_version=lambda wc: LIVE_SOURCES[wc.key].fetcher_version,
    script:
        "../../scripts/fetch_source.py"


rule live_pubmed_counts:
    input:
        genes=f"{config['results_dir']}/universe/genes.parquet",
        aliases=f"{config['results_dir']}/universe/aliases.parquet",
    output:
        f"{LIVE_DIR}/pubmed_counts.parquet",
    log:
        f"{LIVE_LOGS}/pubmed_counts.log",
    conda:
        ENV
    params:
        eutils_base=live_eutils_base(config),
        contexts=pubmed_contexts(config),
        batch_size=_live_setting("batch_size", 200),
        release=_live_item_release("pubmed"),
    script:
        "../../scripts/fetch_pubmed_counts.py"


rule live_uniprot:
    output:
        f"{LIVE_DIR}/uniprot_features.parquet",
    log:
        f"{LIVE_LOGS}/uniprot.log",
    conda:
        ENV
    params:
        uniprot_base=live_uniprot_base(config),
        page_size=_live_setting("uniprot_page_size", 500),
        release=_live_item_release("uniprot"),
    script:
        "../../scripts/fetch_uniprot.py"
