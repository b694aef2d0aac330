"""The Usher view: "could this gene cause Usher-like deaf-blindness?" beside the cilia view's
"is this gene ciliary?" (:mod:`usher_pipeline.views` names the columns).

Design (README, "The Usher view"): ``usher_score`` = P(ciliary) x P(Usher-like | ciliary).

- P(ciliary) is the cilia view's out-of-fold ``score``.
- P(Usher-like | ciliary) (``usher_given_cilia``) is a second model built with the cilia model's
  machinery (:func:`usher_pipeline.model.learned_scores`), fitted on the known genes only: the
  Usher genes (``known_genes.usher``) against the other known cilia genes, so its evidence says how
  much more Usher-like a gene is than a typical cilia gene. Each sensory feature enters as the
  log-likelihood ratio of its bin, a logistic model weighs them net of the publication-count
  covariates, and each contribution (``usher_contrib_<feature>``, log-odds of P(Usher-like |
  ciliary)) is taken relative to known cilia genes of the same publication stratum. Features (NaN =
  unknown; an unknown feature contributes 0):

  - ``photoreceptor``: rod/cone marker enrichment in the human retina atlas (expression layer);
  - ``hair_cell``: hair-cell vs surrounding-cell enrichment in the mouse inner ear (inner_ear
    layer, Scheffer 2015), when that layer is present;
  - ``eye_phenotype`` / ``ear_phenotype``: 1 = a human (HPO) retinal dystrophy / hearing or
    vestibular phenotype, 0.5 = a mouse (MGI) vision-eye / hearing-vestibular-ear phenotype only,
    0 = phenotyped without one, unknown = neither species phenotyped;
  - ``usher_network``: the degree-corrected fraction of STRING partners that are Usher proteins
    (seeded: recomputed in each fold from that fold's training Usher genes only).

- **Out of fold** like the cilia model (same fold assignment): the genes of fold f are scored by
  the sensory model fitted on the other folds, with the network feature seeded from the other
  folds' Usher genes, and their cilia part is their own out-of-fold cilia log-odds. So no gene's
  own label (Usher or cilia) reaches its own Usher-view score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from .model import fold_network_score_fn, graph_from_layer, learned_scores
from .scoring import rank
from .views import USHER_FEATURES

PHENOTYPE_FEATURES = ("eye_phenotype", "ear_phenotype")


def _phenotype(table: pl.DataFrame, human: Sequence[str], mouse: Sequence[str]) -> np.ndarray:
    """1 = a human phenotype among ``human`` columns, 0.5 = a mouse one only, 0 = phenotyped in
    either species without one, NaN = phenotyped in neither (unknown)."""
    n = table.height

    def flags(cols: Sequence[str]) -> np.ndarray:
        present = [c for c in cols if c in table.columns]
        if not present:
            return np.zeros(n, dtype=bool)
        return np.logical_or.reduce(
            [table[c].fill_null(False).to_numpy().astype(bool) for c in present]
        )

    def covered(col: str) -> np.ndarray:
        if col not in table.columns:
            return np.zeros(n, dtype=bool)
        return table[col].is_not_null().to_numpy()

    hum, mou = flags(human), flags(mouse)
    out = np.where(hum, 1.0, np.where(mou, 0.5, 0.0))
    known = covered("human_phenotype_score") | covered("mouse_phenotype_score")
    out[~known] = np.nan
    return out


def sensory_features(table: pl.DataFrame) -> dict[str, np.ndarray]:
    """The label-free sensory features of every gene (NaN = unknown). A feature whose source is
    absent from ``table`` (e.g. no inner_ear layer) is left out."""
    out: dict[str, np.ndarray] = {}
    if "retina_photoreceptor_score" in table.columns:
        out["photoreceptor"] = table["retina_photoreceptor_score"].cast(pl.Float64).to_numpy()
    if "inner_ear_score" in table.columns:
        out["hair_cell"] = table["inner_ear_score"].cast(pl.Float64).to_numpy()
    out["eye_phenotype"] = _phenotype(table, ["hpo_retinal_dystrophy"], ["mouse_vision_eye"])
    out["ear_phenotype"] = _phenotype(
        table,
        ["hpo_hearing_impairment", "hpo_vestibular_dysfunction"],
        ["mouse_hearing_vestibular_ear"],
    )
    return {k: np.array(v, dtype=np.float64) for k, v in out.items()}


def usher_view(
    scored: pl.DataFrame,
    usher_genes: Sequence[str],
    folds: Mapping[str, int],
    params: Mapping,
    network_params: Mapping | None,
    features: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The Usher-view columns of every gene of ``scored`` (the cilia view's scored table, with the
    raw sensory columns and, for the network feature, ``network_neighbours``/``_weights``).

    ``params``: ``scoring.usher`` (``learned``: the model settings, ``replaces_layers``,
    ``network_saturation``, ``evidence_min_score``, ``tiers``). ``features`` restricts the
    sensory features (validation leaves the phenotype features out). Returns (gene_id and the
    ``usher_*`` columns, fitted weights with terms prefixed ``usher:``).
    """
    gene_ids = scored["gene_id"].to_list()
    values = sensory_features(scored)
    extra = {}
    if network_params is not None and "network_neighbours" in scored.columns:
        graph = graph_from_layer(scored)
        net = {
            "pseudo_weight": float(network_params.get("pseudo_weight", 2.0)),
            "saturation": float(params.get("network_saturation", 0.25)),
        }
        extra["usher_network"] = fold_network_score_fn(graph, gene_ids, net)
        values["usher_network"] = extra["usher_network"](list(usher_genes))
    wanted = [f for f in USHER_FEATURES if f in values and (features is None or f in features)]
    ftable = scored.select(
        "gene_id", *[c for c in ("pubmed_total", "go_n_terms") if c in scored.columns]
    ).with_columns(pl.Series(f"{f}_score", values[f]).fill_nan(None) for f in wanted)
    learned = dict(params.get("learned", {}))
    # Fitted on the known genes only: the sensory evidence says how much more Usher-like a gene
    # is than a typical cilia gene, on top of the cilia view's odds that it is ciliary at all.
    fit_on = (
        scored["is_known"].fill_null(False).to_numpy() if "is_known" in scored.columns else None
    )
    fitted, weights = learned_scores(
        ftable, list(usher_genes), folds, wanted, learned, None, extra_seeded=extra, fit_on=fit_on
    )
    used = [f for f in wanted if f"contrib_{f}" in fitted.columns]
    sensory = np.zeros(len(gene_ids))
    for f in used:
        sensory += fitted[f"contrib_{f}"].to_numpy()
    given = fitted["score"].to_numpy()
    score = scored["score"].cast(pl.Float64).to_numpy() * given
    min_ev = float(params.get("evidence_min_score", 0.2))
    count = np.zeros(len(gene_ids), dtype=np.int32)
    for f in used:
        v = fitted[f"{f}_score"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        count += np.nan_to_num(v, nan=-1.0) >= min_ev
    out = pl.DataFrame(
        {
            "gene_id": gene_ids,
            "usher_score": score,
            "usher_given_cilia": given,
            "usher_sensory_logodds": sensory,
            "usher_sensory_count": count,
        }
    ).with_columns(
        *[
            (
                fitted[f"contrib_{f}"].alias(f"usher_contrib_{f}")
                if f in used
                else pl.lit(None, dtype=pl.Float64).alias(f"usher_contrib_{f}")
            )
            for f in USHER_FEATURES
        ],
        *[fitted[f"{f}_score"].alias(f"{f}_value") for f in used if f == "usher_network"],
    )
    out = assign_usher_tiers(out, params.get("tiers", {}))
    out = rank(out, "usher_rank_all", "usher_score")
    w = weights.with_columns(
        ("usher:" + pl.col("term")).alias("term"), ("usher_" + pl.col("kind")).alias("kind")
    )
    return out, w


def assign_usher_tiers(df: pl.DataFrame, tiers: Mapping[str, Mapping]) -> pl.DataFrame:
    """HIGH / MEDIUM by ``usher_score`` and ``usher_sensory_count`` thresholds, else LOW."""
    expr = pl.lit("LOW")
    for name in ("MEDIUM", "HIGH"):
        t = tiers.get(name)
        if not t:
            continue
        cond = (pl.col("usher_score") >= float(t["min_score"])) & (
            pl.col("usher_sensory_count") >= int(t.get("min_sensory", 0))
        )
        expr = pl.when(cond).then(pl.lit(name)).otherwise(expr)
    return df.with_columns(expr.alias("usher_tier"))


def view_ranks(evidence: pl.DataFrame) -> pl.DataFrame:
    """Both views' ranks of the reported genes: ``rank_all`` / ``usher_rank_all`` among all of
    them, ``rank`` / ``usher_rank`` among the candidates (non-known genes), 1 = top, ties by
    gene_id. Recomputed on the reported genes (a gene_subset run reports only the subset, scored
    by the model of the whole universe)."""
    df = evidence.drop("rank_all", "rank", "usher_rank_all", "usher_rank", strict=False)
    df = rank(df, "rank_all", "score")
    if "usher_score" in df.columns:
        df = rank(df, "usher_rank_all", "usher_score")
    cands = df.filter(~pl.col("is_known"))
    parts = [rank(cands, "rank", "score").select("gene_id", "rank")]
    if "usher_score" in df.columns:
        parts.append(rank(cands, "usher_rank", "usher_score").select("gene_id", "usher_rank"))
    for part in parts:
        df = df.join(part, on="gene_id", how="left", maintain_order="left")
    return df.sort("rank_all")


def usher_params(scoring: Mapping) -> dict:
    """``scoring.usher`` with its model settings completed from ``scoring.learned``."""
    usher = dict(scoring.get("usher") or {})
    usher["learned"] = {**dict(scoring.get("learned") or {"C": 1.0}),
                        **dict(usher.get("learned") or {})}  # fmt: skip
    return usher


def score_views(
    table: pl.DataFrame,
    scoring: Mapping,
    folds_cfg: Mapping,
    layer_params: Mapping[str, Mapping],
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Both views of every gene of ``table`` (one row per universe gene, as
    :func:`usher_pipeline.model.assemble_table` builds it): the cilia view
    (:func:`usher_pipeline.model.score_table`), then the Usher view on top of it. Then, when the
    table flags a gene subset (``in_subset``), only the subset is kept, with the scores of the
    model fitted on the whole universe and both views' ranks recomputed among the subset.
    Returns (scored genes, fitted weights of both models, or None for the weighted method)."""
    from .layers.cilia_layers import assign_folds
    from .model import score_table

    scored, fitted = score_table(table, scoring, folds_cfg, layer_params)
    folds = assign_folds(scored["gene_id"].to_list(), folds_cfg["folds"], folds_cfg["seed"])
    usher_ids = scored.filter(pl.col("is_usher").fill_null(False))["gene_id"].to_list()
    cols, uweights = usher_view(
        scored, usher_ids, folds, usher_params(scoring), layer_params.get("network")
    )
    scored = scored.join(cols, on="gene_id", how="left", maintain_order="left")
    weights = None if fitted is None else pl.concat([fitted, uweights], how="vertical_relaxed")
    if "in_subset" in scored.columns:
        scored = scored.filter(pl.col("in_subset")).drop("in_subset")
    return view_ranks(scored), weights


# The held-out check's labels (HPO): any sensory disease, and its hearing and retinal parts.
SENSORY_LABELS: dict[str, tuple[str, ...]] = {
    "": ("hpo_hearing_impairment", "hpo_retinal_dystrophy", "hpo_vestibular_dysfunction"),
    "hearing_": ("hpo_hearing_impairment", "hpo_vestibular_dysfunction"),
    "retinal_": ("hpo_retinal_dystrophy",),
}
PHENOTYPE_LAYERS = ("human_phenotype", "mouse_phenotype")


def sensory_disease_labels(
    table: pl.DataFrame, columns: Sequence[str] = SENSORY_LABELS[""]
) -> pl.Series:
    """The held-out check's label: a human hearing, vestibular or retinal-dystrophy phenotype
    (HPO; ``columns`` picks which)."""
    flag = pl.lit(False)
    for col in columns:
        if col in table.columns:
            flag = flag | pl.col(col).fill_null(False)
    return table.select(flag.alias("sensory_disease"))["sensory_disease"]


_CHECK_FIGURES = ("positives", "negatives", "auroc_usher_view", "auroc_cilia_view",
                  "usher_minus_cilia", "usher_minus_cilia_ci_low", "usher_minus_cilia_ci_high")  # fmt: skip
USHER_READOUT_KEYS = (
    "usher_view_usher_median_percentile",
    "cilia_view_usher_median_percentile",
    "usher_view_usher_median_percentile_with_hpo",
    "cilia_view_usher_median_percentile_with_hpo",
    *[f"sensory_check_{label}{k}" for label in SENSORY_LABELS for k in _CHECK_FIGURES],
)


def usher_readout(
    full: pl.DataFrame,
    scoring: Mapping,
    folds_cfg: Mapping,
    layer_params: Mapping[str, Mapping],
    n_boot: int,
    seed: int,
    refit: bool = True,
) -> dict[str, float | None]:
    """Validation of the Usher view, side by side with the cilia view.

    - ``usher_view_usher_median_percentile`` / ``cilia_view_usher_median_percentile``: median rank
      percentile (1 = top, out of fold) of the Usher genes in each view, both refitted without any
      HPO feature (the Usher gene list is HPO's, so HPO may not be a feature of the model it
      validates: no human_phenotype layer, eye / ear phenotypes from MGI only); ``..._with_hpo``:
      the same read off the run's own views (HPO features included, not a fair test).
    - The held-out sensory check, which reuses none of its labels as features: among the known
      cilia genes that are not Usher genes, those with a human hearing / vestibular / retinal
      dystrophy phenotype (HPO; the label) against the others, ranked by both views refitted
      WITHOUT any phenotype feature (the cilia model without the human and mouse phenotype layers;
      the Usher view on top of it without its eye / ear phenotype features): AUROC of each view and
      their paired bootstrap difference (Usher − cilia, 95% interval), for any sensory phenotype
      (``sensory_check_*``) and for its hearing and retinal parts (``sensory_check_hearing_*``,
      ``sensory_check_retinal_*``: the positives of one part against the same negatives).

    ``full`` is the integrate rule's table of every reported gene with the seeded layers' raw
    columns (network neighbours) joined back. ``refit`` False (a gene_subset run): the percentiles
    only, the refitted check is not measured."""
    from .layers.cilia_layers import assign_folds
    from .model import score_table
    from .validation import paired_auroc_difference, percentiles

    out: dict[str, float | None] = dict.fromkeys(USHER_READOUT_KEYS)
    usher = full.filter(pl.col("is_usher").fill_null(False))["gene_id"].to_list()
    derived = [c for c in full.columns
               if c.startswith(("contrib_", "usher_")) or c in ("score", "rank_all", "rank", "tier")]  # fmt: skip
    for view, rank_col in (("usher_view", "usher_rank_all"), ("cilia_view", "rank_all")):
        pct = percentiles(full.select("gene_id", pl.col(rank_col).alias("rank_all")), usher)
        out[f"{view}_usher_median_percentile_with_hpo"] = (
            pct["percentile"].median() if usher else None
        )
    if refit and usher and bool((~full["is_known"]).any()):
        # The Usher gene list is HPO's (Usher syndrome annotations): its gate is measured on both
        # views refitted without any HPO feature (no human_phenotype layer; eye / ear phenotypes
        # from MGI only), so the label's source is not a feature of the model it validates.
        hpo = [c for c in full.columns if c.startswith("hpo_")] + ["human_phenotype_score"]
        cilia, _ = score_table(full.drop(derived + hpo, strict=False), scoring, folds_cfg,
                               layer_params)  # fmt: skip
        folds = assign_folds(cilia["gene_id"].to_list(), folds_cfg["folds"], folds_cfg["seed"])
        cols, _ = usher_view(cilia, usher, folds, usher_params(scoring),
                             layer_params.get("network"))  # fmt: skip
        ranked = cilia.select("gene_id", "score").join(cols.select("gene_id", "usher_score"),
                                                       on="gene_id")  # fmt: skip
        for view, col in (("usher_view", "usher_score"), ("cilia_view", "score")):
            r = rank(ranked.select("gene_id", pl.col(col).alias("score")), "rank_all")
            out[f"{view}_usher_median_percentile"] = percentiles(r, usher)["percentile"].median()
    check = full.select(
        pl.col("is_cilia_gold_standard").fill_null(False) & ~pl.col("is_usher").fill_null(False)
    ).to_series()
    labels = {k: sensory_disease_labels(full, cols) for k, cols in SENSORY_LABELS.items()}
    any_label = labels[""]
    for k, lab in labels.items():
        out[f"sensory_check_{k}positives"] = float((check & lab).sum())
        out[f"sensory_check_{k}negatives"] = float((check & ~any_label).sum())
    if not refit or not usher or not out["sensory_check_positives"]:
        return out
    if not out["sensory_check_negatives"]:
        return out
    base = full.drop([f"{layer}_score" for layer in PHENOTYPE_LAYERS] + derived, strict=False)
    cilia, _ = score_table(base, scoring, folds_cfg, layer_params)
    folds = assign_folds(cilia["gene_id"].to_list(), folds_cfg["folds"], folds_cfg["seed"])
    no_pheno = [f for f in USHER_FEATURES if f not in PHENOTYPE_FEATURES]
    cols, _ = usher_view(cilia, usher, folds, usher_params(scoring), layer_params.get("network"),
                         features=no_pheno)  # fmt: skip
    scores = cilia.select("gene_id", "score").join(
        cols.select("gene_id", "usher_score"), on="gene_id", how="left", maintain_order="left"
    )
    for k, lab in labels.items():
        # positives of this part against the genes with no sensory phenotype at all
        keep = (check & (lab | ~any_label)).to_numpy()
        if not (lab.to_numpy() & keep).any():
            continue
        diff = paired_auroc_difference(
            scores["usher_score"].to_numpy()[keep], scores["score"].to_numpy()[keep],
            lab.to_numpy()[keep], n_boot, seed,
        )  # fmt: skip
        out[f"sensory_check_{k}auroc_usher_view"] = diff["auroc_a"]
        out[f"sensory_check_{k}auroc_cilia_view"] = diff["auroc_b"]
        out[f"sensory_check_{k}usher_minus_cilia"] = diff["diff"]
        out[f"sensory_check_{k}usher_minus_cilia_ci_low"] = diff["ci_low"]
        out[f"sensory_check_{k}usher_minus_cilia_ci_high"] = diff["ci_high"]
    return out


def within_genes(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with its network neighbour lists cut to the genes of ``table`` (a gene_subset
    run's refits fit the subset alone)."""
    cols = ["network_neighbours", "network_neighbour_weights"]
    if not set(cols) <= set(table.columns):
        return table
    ids = table["gene_id"].implode()
    kept = (
        table.select("gene_id", *cols)
        .explode(cols)
        .filter(pl.col("network_neighbours").is_in(ids))
        .group_by("gene_id", maintain_order=True)
        .agg(cols)
    )
    return table.drop(cols).join(kept, on="gene_id", how="left", maintain_order="left")
