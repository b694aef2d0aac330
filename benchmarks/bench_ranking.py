"""Compare the integration methods side by side on the same layer tables, in one run.

For ``learned`` (the cross-validated model) and ``weighted`` (the hand-weighted composite) it prints
every ranking metric: control ranks (Usher, SYSCILIA v2, housekeeping), cross-validated recall,
|Spearman| of score vs publications among non-known genes, single-layer genes in the top 100, the
temporal holdout (train and seed with SYSCILIA v1, recover what v2 added: AUROC, AUROC within
publication strata, hits in the top 500), AUROC of the known genes against CiliaCarta's negative
set, wall time of each method, and the top 15 candidates of each. No single metric decides: a
gain that shows on one validation set only is noise until another confirms it.

Then the two views side by side (the cilia view and the Usher view, learned): the out-of-fold
median percentile of the Usher genes in each, the held-out sensory check (known cilia genes with a
human hearing / vestibular / retinal-dystrophy phenotype against the other known cilia genes, both
views refitted without any phenotype feature), the cilia-view gates (housekeeping share among the
top candidates vs among the known genes), a leave-one-out line for each sub-layer that can be
measured by leaving it out (the HPA v25 cilia atlas, the inner-ear layer, when the run has them),
and the top 30 of each view.

Reads the layer tables of a finished run (default: results/ of config/config.yaml; run the
workflow first, e.g. `usher-pipeline run --cores 2`).

Usage: python benchmarks/bench_ranking.py [--results results] [--configfile config/config.yaml]
       [--set scoring.learned.C=0.1 ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def load_inputs(argv: list[str] | None, description: str):
    """Parse --configfile/--results/--set and read the layer tables of a finished run into one
    table (``model.assemble_table``). Returns (config, table, seeded-layer params), or None after
    printing which layer tables are missing."""
    import polars as pl
    from snakemake.utils import validate
    from usher_pipeline.cli import load_config
    from usher_pipeline.layers import LAYER_NAMES, SEEDED_LAYERS
    from usher_pipeline.model import assemble_table

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--configfile", default=str(REPO / "config" / "config.yaml"))
    ap.add_argument("--results", help="results folder of a finished run (default: config)")
    ap.add_argument("--set", action="append", default=[], help="KEY.PATH=VALUE config override")
    args = ap.parse_args(argv)
    # the config as the workflow builds it, --set read like usher-pipeline run's dotted --config
    config = load_config([args.configfile], args.set)
    validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    results = Path(args.results or REPO / config["results_dir"])
    layer_paths = {name: results / "layers" / f"{name}.parquet" for name in LAYER_NAMES}
    missing = [str(p) for p in layer_paths.values() if not p.exists()]
    if missing:
        print(f"missing layer tables {missing}: run the workflow first", file=sys.stderr)
        return None
    table = assemble_table(
        results / "universe" / "genes.parquet", results / "universe" / "gene_sets.parquet",
        layer_paths,
    )  # fmt: skip
    subset = results / "universe" / "subset.parquet"
    if subset.exists():
        # a gene_subset run: benchmark the reported genes (their network cut to them)
        from usher_pipeline.usher_model import within_genes

        flags = pl.read_parquet(subset)
        if not flags["in_subset"].all():
            table = within_genes(
                table.join(flags, on="gene_id").filter("in_subset").drop("in_subset")
            )
    print(f"{len(table)} genes, {int(table['is_known'].sum())} known; overrides: {args.set or '-'}")
    return config, table, {k: config["layers"].get(k, {}) for k in SEEDED_LAYERS}


def main(argv: list[str] | None = None) -> int:
    from usher_pipeline.validation import ranking_metrics, temporal_auroc_difference

    loaded = load_inputs(argv, __doc__.splitlines()[0])
    if loaded is None:
        return 2
    config, table, lparams = loaded
    rows = {}
    tops = {}
    scored_by = {}
    temporal_by = {}
    for method in ("learned", "weighted"):
        t0 = time.perf_counter()
        metrics, scored, temporal_by[method] = ranking_metrics(
            table, config["scoring"], config["validation"], lparams, method
        )
        metrics["seconds (incl. temporal refit)"] = time.perf_counter() - t0
        rows[method] = metrics
        tops[method] = scored.filter(~scored["is_known"]).sort("rank_all")["symbol"].head(15)
        scored_by[method] = scored
    print(f"{'metric':42s} {'learned':>10s} {'weighted':>10s}")
    for key in rows["learned"]:
        a, b = rows["learned"][key], rows["weighted"][key]
        print(f"{key:42s} {a:10.3f} {b:10.3f}")
    v = config["validation"]
    diff = temporal_auroc_difference(temporal_by["learned"], temporal_by["weighted"],
                                     int(v["bootstrap_resamples"]), int(v["seed"]))  # fmt: skip
    for label, pre in (("", ""), (" within fame strata", "within_fame_strata_")):
        print(f"temporal AUROC{label}, learned - weighted: {diff[pre + 'diff']:+.3f} (95% paired "
              f"bootstrap interval {diff[pre + 'ci_low']:+.3f} to {diff[pre + 'ci_high']:+.3f}, "
              f"{v['bootstrap_resamples']} resamples)")  # fmt: skip
    for method, m in rows.items():
        print(f"housekeeping median percentile, {method}: {m['housekeeping_median_percentile']:.3f}"
              f" (95% bootstrap interval {m['housekeeping_median_percentile_ci_low']:.3f} to "
              f"{m['housekeeping_median_percentile_ci_high']:.3f})")  # fmt: skip
    for method, top in tops.items():
        print(f"top 15 {method}: {', '.join(top.to_list())}")
    _diagnostics(scored_by, temporal_by)
    _views(config, table, lparams)
    return 0


# Sub-layers whose effect is measured by leaving them out (when the run has them).
LEAVE_OUT = ("cilia_atlas", "inner_ear")


def _view_metrics(config: dict, table, lparams: dict) -> tuple[dict, object]:
    """Both views of ``table`` (learned) and their figures: Usher genes' median percentile in each
    view, the held-out sensory check, the cilia view's gate figures."""
    import polars as pl
    from usher_pipeline.usher_model import score_views, usher_readout
    from usher_pipeline.validation import housekeeping_shares, ranking_readout

    v = config["validation"]
    scoring = {**config["scoring"], "method": "learned"}
    fcfg = {"folds": v["folds"], "seed": v["seed"]}
    scored, _ = score_views(table, scoring, fcfg, lparams)
    readout, _, _ = ranking_readout(scored, v)
    out = {
        "cilia_gold_median_percentile": readout["cilia_gold_median_percentile"],
        "housekeeping_median_percentile": readout["housekeeping_median_percentile"],
        **housekeeping_shares(scored, int(v.get("housekeeping_top_n", 500))),
        **usher_readout(
            scored, scoring, fcfg, lparams, int(v["bootstrap_resamples"]), int(v["seed"])
        ),  # fmt: skip
    }
    return {k: (float("nan") if x is None else float(x)) for k, x in out.items()}, scored.filter(
        ~pl.col("is_known")
    )


def _views(config: dict, table, lparams: dict) -> None:
    """The cilia view and the Usher view side by side, leave-one-out lines, the top 30 of each."""
    from usher_pipeline.views import USHER_FEATURES

    t0 = time.perf_counter()
    base, cands = _view_metrics(config, table, lparams)
    print(f"\nthe two views (learned; {time.perf_counter() - t0:.1f} s)")
    print(f"{'metric':44s} {'value':>10s}")
    for key, val in base.items():
        print(f"{key:44s} {val:10.3f}")
    print(f"usher genes' median percentile: cilia view "
          f"{base['cilia_view_usher_median_percentile']:.3f}, Usher view "
          f"{base['usher_view_usher_median_percentile']:.3f} (out of fold)")  # fmt: skip
    for label, words in (("", "hearing / vestibular / retinal"), ("hearing_", "hearing / "
                         "vestibular"), ("retinal_", "retinal dystrophy")):  # fmt: skip
        k = f"sensory_check_{label}"
        print(f"sensory check, {words} ({base[k + 'positives']:.0f} known cilia genes with a human "
              f"{words} phenotype vs {base[k + 'negatives']:.0f} with none; no phenotype feature): "
              f"AUROC cilia view {base[k + 'auroc_cilia_view']:.3f}, Usher view "
              f"{base[k + 'auroc_usher_view']:.3f}, Usher - cilia {base[k + 'usher_minus_cilia']:+.3f}"
              f" (95% paired bootstrap interval {base[k + 'usher_minus_cilia_ci_low']:+.3f} to "
              f"{base[k + 'usher_minus_cilia_ci_high']:+.3f})")  # fmt: skip
    for layer in LEAVE_OUT:
        if f"{layer}_score" not in table.columns:
            print(f"leave {layer} out: the run has no {layer} layer")
            continue
        out, _ = _view_metrics(config, table.drop(f"{layer}_score"), lparams)
        items = ", ".join(f"{k} {out[k]:.3f} ({out[k] - base[k]:+.3f})" for k in (
            "cilia_gold_median_percentile", "housekeeping_share_top_minus_known",
            "usher_view_usher_median_percentile", "cilia_view_usher_median_percentile",
            "sensory_check_auroc_usher_view", "sensory_check_auroc_cilia_view"))  # fmt: skip
        print(f"leave {layer} out: {items}")
    top_c = cands.sort("rank_all").head(30)
    print(
        "top 30 cilia view: "
        + ", ".join(
            f"{r['symbol']} ({r['score']:.2f} {r['tier']})" for r in top_c.iter_rows(named=True)
        )
    )
    top_u = cands.sort("usher_rank_all").head(30)

    def strongest(r: dict) -> str:
        c = {
            f: r[f"usher_contrib_{f}"]
            for f in USHER_FEATURES
            if r[f"usher_contrib_{f}"] is not None and r[f"usher_contrib_{f}"] > 0.1
        }
        return "+".join(sorted(c, key=lambda k: -c[k])) or "-"

    print("top 30 Usher view: " + ", ".join(
        f"{r['symbol']} ({r['usher_score']:.2f} {r['usher_tier']}; {strongest(r)})"
        for r in top_u.iter_rows(named=True)))  # fmt: skip


def _diagnostics(scored_by: dict, temporal_by: dict) -> None:
    """What lies behind two of the figures, for a biologist to judge: housekeeping genes at the
    top of each list (the median percentile is decided in the flat middle of the score
    distribution), and the SYSCILIA v2 additions the two methods rank most differently in the
    temporal holdout, with the publication count (as of 2013) each was scored with."""
    import polars as pl
    from usher_pipeline.validation import temporal_target_percentiles

    n_top = 1000
    for method, scored in scored_by.items():
        nk = scored.filter(~pl.col("is_known")).sort("rank_all")
        share = nk["is_housekeeping"].fill_null(False).mean()
        hits = nk.head(n_top)["is_housekeeping"].fill_null(False).sum()
        print(f"{method}: housekeeping genes among the top {n_top} candidates: {hits} "
              f"({n_top * share:.0f} expected from their share)")  # fmt: skip
    pct = {m: temporal_target_percentiles(temporal_by[m]) for m in ("learned", "weighted")}
    both = (
        pct["learned"]
        .join(
            pct["weighted"].select("gene_id", pl.col("percentile").alias("weighted")), on="gene_id"
        )
        .with_columns((pl.col("weighted") - pl.col("percentile")).alias("diff"))
    )
    for label, order in (("weighted", True), ("learned", False)):
        rows = both.sort("diff", descending=order).head(10)
        items = ", ".join(
            f"{r['symbol']} ({r['percentile']:.2f} vs {r['weighted']:.2f}; {r['pubmed_total']} pubs)"
            for r in rows.iter_rows(named=True)
        )
        print(f"v2 additions ranked higher by {label} (learned vs weighted percentile): {items}")


if __name__ == "__main__":
    raise SystemExit(main())
