"""What study-bias control costs and buys: the validation figures of the learned model as the
fame adjustment goes from full (1, the default) to none (0), for both sub-score recodings, next to
the weighted composite, in one run on the same layer tables.

For each setting it prints |Spearman ρ| of score vs publications among non-known genes, the
housekeeping median percentile with its 95% bootstrap interval, the temporal holdout (AUROC over
the whole background and within publication deciles, hits in the top 500), the paired AUROC
difference against the weighted composite with its 95% interval, cross-validated recall and the
AUROC of the known genes against CiliaCarta's negatives. Read down a column to see which figures
follow fame: a figure that rises as ρ rises is bought with publications.

Reads the layer tables of a finished run, like bench_ranking.py (same options).

Usage: python benchmarks/bench_fame_tradeoff.py [--results results] [--configfile ...]
       [--set KEY.PATH=VALUE ...]
"""

from __future__ import annotations

import sys
import time

from bench_ranking import load_inputs

SETTINGS = [
    ("binned_llr", 1.0),
    ("binned_llr", 0.5),
    ("binned_llr", 0.0),
    ("linear", 1.0),
    ("linear", 0.75),
    ("linear", 0.5),
    ("linear", 0.25),
    ("linear", 0.0),
]


def main(argv: list[str] | None = None) -> int:
    from usher_pipeline.validation import ranking_metrics, temporal_auroc_difference

    loaded = load_inputs(argv, __doc__.splitlines()[0])
    if loaded is None:
        return 2
    config, table, lparams = loaded
    v = config["validation"]
    n_boot, seed = int(v["bootstrap_resamples"]), int(v["seed"])
    t0 = time.perf_counter()
    ref, _, ref_temporal = ranking_metrics(table, config["scoring"], v, lparams, "weighted")
    rows = [("weighted", "-", ref, None)]
    for transform, adjust in SETTINGS:
        learned = {**config["scoring"]["learned"], "transform": transform,
                   "fame_adjustment": adjust}  # fmt: skip
        scoring = {**config["scoring"], "learned": learned}
        m, _, temporal = ranking_metrics(table, scoring, v, lparams, "learned")
        diff = temporal_auroc_difference(temporal, ref_temporal, n_boot, seed)
        rows.append((f"learned {transform}", f"{adjust:.2f}", m, diff))
    head = (f"{'method':20s} {'adjust':>6s} {'|rho|':>6s} {'hk median (95%)':>20s} "
            f"{'tAUROC':>7s} {'within':>7s} {'hits':>5s} {'tAUROC - weighted (95%)':>26s} "
            f"{'CVrec':>6s} {'ccAUROC':>7s}")  # fmt: skip
    print(head)
    for name, adjust, m, diff in rows:
        hk = (f"{m['housekeeping_median_percentile']:.3f} "
              f"({m['housekeeping_median_percentile_ci_low']:.3f}-"
              f"{m['housekeeping_median_percentile_ci_high']:.3f})")  # fmt: skip
        d = ("" if diff is None else
             f"{diff['diff']:+.3f} ({diff['ci_low']:+.3f} to {diff['ci_high']:+.3f})")  # fmt: skip
        print(f"{name:20s} {adjust:>6s} {m['abs_spearman_publications']:6.3f} {hk:>20s} "
              f"{m['temporal_auroc']:7.3f} {m['temporal_auroc_within_fame_strata']:7.3f} "
              f"{m['temporal_top_hits']:5.0f} {d:>26s} {m['cv_recall_mean']:6.3f} "
              f"{m['auroc_known_vs_ciliacarta_negatives']:7.3f}")  # fmt: skip
    print(f"{len(rows)} settings in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
