"""Learned integration (``scoring.method: learned``): a cross-validated, L2-regularised logistic
model on the layer sub-scores, with study-bias covariates fitted and then held at a reference.

Labels: the known genes (Usher + SYSCILIA gold standard) are positives, every other gene is
background. Every gene is scored OUT OF FOLD: genes are split into k folds by a hash of their ID
(``assign_folds``: independent of any label), and the genes of fold f are scored by a model fitted
on the other folds only, with every feature seeded from known genes (the network's known-neighbour
fraction) recomputed from the training folds' positives. So no gene's own label (positive or
background) reaches its own score, and the known genes' ranks are honest held-out ranks.

Study bias is controlled by construction: log publication count and log GO-term count enter the
fit as covariates (so the layer weights are estimated net of fame), and every gene is scored with
the covariates set to the same reference value (the universe median). Fame can therefore not buy
rank directly; what remains is the association of the evidence itself with fame.

Per gene and layer, ``contrib_<layer>`` = β_layer × sub-score (log-odds; NULL counts as 0: unknown
adds nothing, like no evidence). ``evidence_logodds`` = Σ contrib, and
``score`` = sigmoid(baseline + evidence_logodds), where ``baseline`` = intercept + covariate terms
at the reference: the model's probability that a gene of typical fame with this evidence is a
cilia/Usher gene.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl

from .layers.cilia_layers import (
    ht_score_fn,
    known_neighbour_fraction,
    neighbour_fraction_fn,
    network_score_from_fraction,
)

COVARIATES = {
    "pubmed_total": "log1p publication count (gene2pubmed)",
    "go_n_terms": "log1p GO term count",
}


def assemble_table(
    genes_path: str | Path, gene_sets_path: str | Path, layer_paths: Mapping[str, str | Path]
) -> pl.DataFrame:
    """One row per universe gene: identifiers, every layer table's columns and the gene-set flags.
    A layer table without exactly one row per universe gene is an error naming the file."""
    genes = pl.read_parquet(genes_path)
    table = genes.select("gene_id", "symbol", "hgnc_id", "ncbi_gene_id", "ensembl_gene",
                         "uniprot_acc", "chromosome", "description")  # fmt: skip
    for path in layer_paths.values():
        part = pl.read_parquet(path)
        if part.height != genes.height or part["gene_id"].n_unique() != part.height:
            raise ValueError(
                f"layer table {path} has {part.height} rows ({part['gene_id'].n_unique()} genes) "
                f"for {genes.height} universe genes"
            )
        table = table.join(part, on="gene_id", how="left", maintain_order="left")
    return table.join(
        pl.read_parquet(gene_sets_path), on="gene_id", how="left", maintain_order="left"
    )


def graph_from_layer(network: pl.DataFrame) -> pl.DataFrame:
    """The network layer's neighbour lists back to an edge table (gene_id, neighbour_id, weight)."""
    cols = ["gene_id", "network_neighbours", "network_neighbour_weights"]
    if not set(cols) <= set(network.columns):
        return pl.DataFrame(schema={"gene_id": pl.String, "neighbour_id": pl.String,
                                    "weight": pl.Float64})  # fmt: skip
    return (
        network.select(cols)
        .drop_nulls("network_neighbours")
        .explode("network_neighbours", "network_neighbour_weights")
        .rename({"network_neighbours": "neighbour_id", "network_neighbour_weights": "weight"})
        .drop_nulls("neighbour_id")
    )


def fold_network_score(
    graph: pl.DataFrame, gene_ids: Sequence[str], seeds: Sequence[str], params: Mapping
) -> np.ndarray:
    """Network sub-score of every gene seeded by ``seeds`` (NaN where the gene has no edge)."""
    frac = known_neighbour_fraction(graph, gene_ids, seeds, params["pseudo_weight"])
    return network_score_from_fraction(frac, params["saturation"])


def fold_network_score_fn(
    graph: pl.DataFrame, gene_ids: Sequence[str], params: Mapping
) -> Callable[[Sequence[str]], np.ndarray]:
    """``fold_network_score`` as a function of the seeds, with the graph indexed once."""
    fraction = neighbour_fraction_fn(graph, gene_ids, params["pseudo_weight"])
    return lambda seeds: network_score_from_fraction(fraction(seeds), params["saturation"])


def model_layers(table: pl.DataFrame, layers: Sequence[str]) -> list[str]:
    """Layers the model uses: those with a sub-score column that is not NULL everywhere (a layer
    no source covers in this mode carries no information and gets no weight)."""
    return [
        layer
        for layer in layers
        if f"{layer}_score" in table.columns and table[f"{layer}_score"].is_not_null().any()
    ]


def _covariates(table: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Standardised log1p covariates present in ``table`` and their names."""
    cols = []
    names = []
    for name in COVARIATES:
        if name in table.columns:
            v = table[name].cast(pl.Float64).fill_null(0.0).to_numpy()
            cols.append(np.log1p(np.clip(v, 0, None)))
            names.append(name)
    if not cols:
        return np.zeros((table.height, 0)), names
    z = np.column_stack(cols)
    sd = z.std(axis=0)
    sd[sd == 0] = 1.0
    return (z - z.mean(axis=0)) / sd, names


def seeded_features(
    table: pl.DataFrame, layer_params: Mapping[str, Mapping]
) -> dict[str, Callable[[Sequence[str]], np.ndarray]]:
    """The sub-scores that are computed from known genes (seeds), as functions of the seed list:
    the network's known-neighbour fraction and the studies' log-likelihood ratios. Anything that
    learns from labels must be listed here, so that cross-validation recomputes it per fold."""
    gene_ids = table["gene_id"].to_list()
    out: dict[str, Callable[[Sequence[str]], np.ndarray]] = {}
    if "network_neighbours" in table.columns and "network" in layer_params:
        graph = graph_from_layer(table)
        net = layer_params["network"]
        out["network"] = fold_network_score_fn(graph, gene_ids, net)
    if "ht_study_names" in table.columns and "ht_studies" in layer_params:
        reported = table["ht_study_names"].to_list()
        ht = layer_params["ht_studies"]
        out["ht_studies"] = ht_score_fn(gene_ids, reported, ht)
    return out


BIN_EDGES = (0.0, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8)


def binned_llr(
    values: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    edges: Sequence[float],
    pseudo: float,
) -> np.ndarray:
    """Naive-Bayes recoding of one sub-score: its bin's log-likelihood ratio, positives vs the
    rest, estimated on the training genes (``pseudo`` counts per bin). NULL (not covered) maps to
    0: unknown is neither for nor against. So does a bin no training gene falls in: equal pseudo
    counts would otherwise give it log(n_neg / n_pos), strong evidence from no data at all."""
    known = ~np.isnan(values)
    bins = np.full(len(values), -1)
    bins[known] = np.searchsorted(np.asarray(edges), values[known], side="right") - 1
    out = np.zeros(len(values))
    nb = len(edges)
    pos = train & known & y
    neg = train & known & ~y
    n_pos, n_neg = pos.sum(), neg.sum()
    for b in range(nb):
        n_b_pos, n_b_neg = (bins[pos] == b).sum(), (bins[neg] == b).sum()
        if n_b_pos + n_b_neg == 0:
            continue
        p = (n_b_pos + pseudo) / (n_pos + nb * pseudo)
        q = (n_b_neg + pseudo) / (n_neg + nb * pseudo)
        out[bins == b] = np.log(p / q)
    return out


def fame_strata(table: pl.DataFrame, n_strata: int) -> np.ndarray:
    """Stratum of each gene by publication count: quantile bins of log1p(pubmed_total)."""
    pubs = np.log1p(table["pubmed_total"].cast(pl.Float64).fill_null(0.0).to_numpy())
    if n_strata <= 1:
        return np.zeros(len(pubs), dtype=np.int64)
    edges = np.unique(np.quantile(pubs, np.linspace(0, 1, n_strata + 1)[1:-1]))
    return np.searchsorted(edges, pubs, side="right").astype(np.int64)


def learned_scores(
    table: pl.DataFrame,
    positives: Sequence[str],
    folds: Mapping[str, int],
    layers: Sequence[str],
    params: Mapping,
    layer_params: Mapping[str, Mapping] | None = None,
    extra_seeded: Mapping[str, Callable[[Sequence[str]], np.ndarray]] | None = None,
    fit_on: np.ndarray | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Out-of-fold learned scores. ``table``: one row per gene with gene_id, ``<layer>_score``
    columns, the covariate columns and the raw columns of the seeded layers.

    For each fold f: the seeded sub-scores are recomputed from the positives outside f; the model
    is fitted on the genes outside f; the genes of f get contributions β·x, then each contribution
    is taken relative to the mean contribution of the training background genes of the same
    publication stratum (``params['fame_strata']`` quantile bins): a layer counts for a gene by how
    much more evidence it gives than it gives genes studied as much (``params['fame_adjustment']``,
    default 1, scales that reference mean: 0 = no adjustment, the raw contribution; values between
    trade study-bias control against rewarding well-studied genes, see
    ``benchmarks/bench_fame_tradeoff.py``). Returns (table with score,
    evidence_logodds, baseline_logodds, cv_fold, contrib_<layer>, the seeded sub-scores replaced
    by their out-of-fold values; the fitted weights, one row per fold and term).
    ``extra_seeded`` adds seeded features (name -> function of the training positives giving the
    ``<name>_score`` values), recomputed per fold like the network and study layers. ``fit_on``
    (boolean per gene, default all) restricts the genes the model is fitted on and the background
    the contributions are taken relative to; every gene is still scored.
    """
    from sklearn.linear_model import LogisticRegression

    gene_ids = table["gene_id"].to_list()
    gene_arr = np.array(gene_ids, dtype=object)
    use = model_layers(table, layers)
    pos = set(positives)
    y = np.array([g in pos for g in gene_ids])
    fold = np.array([folds[g] for g in gene_ids])
    k = int(fold.max()) + 1
    fit_mask = np.ones(len(gene_ids), dtype=bool) if fit_on is None else np.asarray(fit_on, bool)
    feats = [(layer, f"{layer}_score") for layer in use]
    base_x = {col: table[col].cast(pl.Float64).to_numpy().copy() for _, col in feats}
    seeded = {n: fn for n, fn in seeded_features(table, layer_params or {}).items() if n in use}
    seeded.update({n: fn for n, fn in (extra_seeded or {}).items() if n in use})
    oof = {n: np.full(len(gene_ids), np.nan) for n in seeded}
    z, cov_names = _covariates(table)
    z_ref = np.median(z, axis=0) if z.shape[1] else np.zeros(0)
    strata = fame_strata(table, int(params.get("fame_strata", 10)))
    adjust = float(params.get("fame_adjustment", 1.0))
    contrib = np.zeros((len(gene_ids), len(use)))
    baseline = np.zeros(len(gene_ids))
    weights = []
    for f in range(k):
        cols = dict(base_x)
        train_pos = gene_arr[y & (fold != f)].tolist()  # the positives outside fold f, in order
        for name, fn in seeded.items():
            cols[f"{name}_score"] = fn(train_pos)
            oof[name][fold == f] = cols[f"{name}_score"][fold == f]
        train = (fold != f) & fit_mask
        if params.get("transform", "linear") == "binned_llr":
            x = np.column_stack(
                [binned_llr(cols[col], y, train, BIN_EDGES, float(params.get("pseudo_count", 1.0)))
                 for _, col in feats]
            )  # fmt: skip
        else:
            x = np.column_stack([np.nan_to_num(cols[col], nan=0.0) for _, col in feats])
        design = np.hstack([x, z])
        model = LogisticRegression(C=float(params["C"]), max_iter=5000, tol=1e-8)
        model.fit(design[train], y[train])
        beta = model.coef_[0][: len(feats)]
        gamma = model.coef_[0][len(feats) :]
        sel = fold == f
        c = x * beta
        covered = np.column_stack([~np.isnan(cols[f"{layer}_score"]) for layer in use])
        bg = train & ~y
        for st in np.unique(strata[sel]):
            rows = sel & (strata == st)
            for j in range(len(use)):
                ref = bg & (strata == st) & covered[:, j]
                if not ref.any():
                    ref = bg & covered[:, j]
                mean = c[ref, j].mean() if ref.any() else 0.0
                contrib[rows, j] = np.where(covered[rows, j], c[rows, j] - adjust * mean, 0.0)
        baseline[sel] = (
            float(model.intercept_[0])
            + float(gamma @ z_ref)
            + adjust * float((c[bg].mean(axis=0)).sum())
        )
        for layer, w in zip(use, beta, strict=True):
            weights.append({"fold": f, "term": layer, "kind": "layer", "weight": float(w)})
        for name, w in zip(cov_names, gamma, strict=True):
            weights.append({"fold": f, "term": name, "kind": "covariate", "weight": float(w)})
        weights.append({"fold": f, "term": "intercept", "kind": "intercept",
                        "weight": float(model.intercept_[0])})  # fmt: skip
    evidence = contrib.sum(axis=1)
    score = 1.0 / (1.0 + np.exp(-(baseline + evidence)))
    out = table.with_columns(
        pl.Series("score", score),
        pl.Series("evidence_logodds", evidence),
        pl.Series("baseline_logodds", baseline),
        pl.Series("cv_fold", fold.astype(np.int64)),
        *[pl.Series(f"contrib_{layer}", contrib[:, i]) for i, layer in enumerate(use)],
        *[pl.Series(f"{name}_score", vals).fill_nan(None) for name, vals in oof.items()],
    )
    return out, pl.DataFrame(weights)


def weight_summary(weights: pl.DataFrame) -> pl.DataFrame:
    """Mean and cross-validated spread (sd, min, max over folds) of every fitted term."""
    return (
        weights.group_by("term", "kind", maintain_order=True)
        .agg(
            pl.col("weight").mean().alias("mean"),
            pl.col("weight").std().alias("sd"),
            pl.col("weight").min().alias("min"),
            pl.col("weight").max().alias("max"),
        )
        .sort("kind", "mean", descending=[False, True])
    )


def switched_off(scoring: Mapping, layer: str) -> bool:
    """A layer whose ``scoring.weights`` entry is 0 is left out of the learned model too (no
    feature, no ``contrib_`` column, not in evidence_count), as it is left out of the weighted
    composite: ``--set scoring.weights.cilia_atlas=0`` measures what a layer adds. A layer
    without a weight entry stays in the learned model."""
    weights = scoring.get("weights") or {}
    return layer in weights and float(weights[layer]) == 0.0


def score_table(
    table: pl.DataFrame,
    scoring: Mapping,
    folds_cfg: Mapping,
    layer_params: Mapping[str, Mapping],
    positives: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Score every gene with the configured method (``scoring.method``), add evidence_count,
    layers_available, tier and rank_all. ``positives`` (default: the ``is_known`` genes) label and
    seed the learned model. Returns (scored table, fitted weights or None for ``weighted``)."""
    from .layers.cilia_layers import assign_folds
    from .scoring import SCORED_LAYERS, assign_tiers, composite_scores, rank, tier_thresholds

    method = scoring.get("method", "learned")
    folds = assign_folds(table["gene_id"].to_list(), folds_cfg["folds"], folds_cfg["seed"])
    if positives is None:
        positives = table.filter(pl.col("is_known"))["gene_id"].to_list()
    min_score = scoring["evidence_min_score"]
    ev_layers = scoring.get("evidence_layers") or list(SCORED_LAYERS)
    if method == "weighted":
        df = composite_scores(
            table,
            scoring["weights"],
            scoring["prior"]["mean"],
            scoring["prior"]["strength"],
            min_score,
            ev_layers,
        ).with_columns(
            pl.col("gene_id").replace_strict(folds, return_dtype=pl.Int64).alias("cv_fold")
        )
        return rank(assign_tiers(df, tier_thresholds(scoring)), "rank_all"), None
    layers = [
        layer
        for layer in SCORED_LAYERS
        if f"{layer}_score" in table.columns and not switched_off(scoring, layer)
    ]
    df, weights = learned_scores(
        table, positives, folds, layers, scoring.get("learned", {"C": 1.0}), layer_params
    )
    used = model_layers(table, layers)
    df = df.with_columns(
        pl.sum_horizontal([pl.col(f"{layer}_score").is_not_null() for layer in used])
        .cast(pl.Int32)
        .alias("layers_available"),
        pl.sum_horizontal(
            [
                (pl.col(f"{layer}_score") >= min_score).fill_null(False)
                for layer in used
                if layer in ev_layers
            ]
        )
        .cast(pl.Int32)
        .alias("evidence_count"),
    )
    return rank(assign_tiers(df, tier_thresholds(scoring)), "rank_all"), weights
