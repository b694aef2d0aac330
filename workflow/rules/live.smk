# Live mode: fetch current upstream releases. Included by the Snakefile only when
# config["mode"] == "live". All rules are localrules (compute nodes often have no internet) and go
# through the state layer's fetch cache: a rerun with an unchanged config makes no request.
# Rules that call the same upstream API declare its resource (ncbi_api, uniprot_api); the
# profiles set each total to 1, so Snakemake never runs two of them at once (the per-process token
# bucket paces the requests inside one job). Without a profile the totals default to 1 here.
for _api in LIVE_API_RESOURCES:
    if _api not in workflow.global_resources:
        workflow.register_resource(_api, 1)


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
    resources:
        ncbi_api=lambda wc: live_api_slots(wc.key, "ncbi_api"),
    params:
        url=lambda wc: live_source_url(wc.key, config),
        release=lambda wc: live_source_release(wc.key, config),
        fetcher_version=lambda wc: LIVE_SOURCES[wc.key].fetcher_version,
    script:
        "../../scripts/fetch_source.py"


rule live_pubmed_counts:
    input:
        unpack(lambda wc: pubmed_link_inputs()),
        genes=f"{config['results_dir']}/universe/genes.parquet",
        aliases=f"{config['results_dir']}/universe/aliases.parquet",
    output:
        f"{LIVE_DIR}/pubmed_counts.parquet",
    log:
        f"{LIVE_LOGS}/pubmed_counts.log",
    conda:
        ENV
    resources:
        ncbi_api=1,
    params:
        eutils_base=live_eutils_base(config),
        contexts=pubmed_contexts(config),
        method=LIVE_LITERATURE["method"],
        links=LIVE_LITERATURE["links"],
        date_range=LIVE_LITERATURE["date_range"],
        max_ids_per_slice=LIVE_LITERATURE["max_ids_per_slice"],
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
    resources:
        uniprot_api=1,
    params:
        uniprot_base=live_uniprot_base(config),
        page_size=_live_setting("uniprot_page_size", 500),
        release=_live_item_release("uniprot"),
    script:
        "../../scripts/fetch_uniprot.py"


# The live STRING network in the snapshot's layout (text mining dropped, live.string_pruning),
# built from fetched files only: a compute job, not a localrule.
rule build_string_network:
    input:
        links=f"{LIVE_DIR}/raw/string_links",
        info=f"{LIVE_DIR}/raw/string_info",
        gene_info=f"{LIVE_DIR}/raw/gene_info",
    output:
        f"{RESULTS}/{LIVE_DERIVED['string_network'][0]}",
    log:
        f"{LIVE_LOGS}/build_string_network.log",
    benchmark:
        f"{BENCH}/build_string_network.tsv"
    conda:
        ENV
    params:
        pruning=live_string_pruning(config),
        version=LIVE_STRING_VERSION,
    script:
        "../../scripts/build_live_string.py"
