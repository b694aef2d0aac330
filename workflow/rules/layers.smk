# One rule per evidence layer, generated from the layer registry (usher_pipeline.layers.LAYER_NAMES
# and usher_pipeline.sources.STEP_SOURCES / LAYER_UNIVERSE_INPUTS): adding a layer is one registry
# entry and one function in the library, not another rule block. Each writes one row per universe
# gene: raw values beside a 0-1 sub-score, NULL where the source says nothing about the gene.


for _layer in LAYER_NAMES:

    rule:
        name:
            f"layer_{_layer}"
        input:
            **layer_inputs(_layer),
        output:
            table=f"{RESULTS}/layers/{_layer}.parquet",
            stats=f"{RESULTS}/layers/{_layer}.stats.json",
        log:
            f"{LOGS}/layer_{_layer}.log",
        benchmark:
            f"{BENCH}/layer_{_layer}.tsv"
        conda:
            ENV
        params:
            layer=_layer,
            settings=config["layers"].get(_layer, {}),
            mode=MODE,
            folds=layer_fold_params(_layer),
        script:
            "../../scripts/compute_layer.py"
