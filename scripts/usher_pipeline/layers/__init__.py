"""Evidence layers. Each layer function returns one row per universe gene (``gene_id``), raw values
beside a 0–1 ``<layer>_score``; NULL means the source says nothing about the gene (unknown), never 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the workflow's rule files import LAYER_NAMES at parse time: no polars there
    import polars as pl

LAYER_NAMES = (
    "annotation",
    "localization",
    "mouse_phenotype",
    "human_phenotype",
    "literature",
    "protein_features",
    "constraint",
    "expression",
    "network",
    "ht_studies",
    "phylogeny",
    "ciliary_function",
    "cilia_atlas",
    "inner_ear",
)
# Layers whose sub-score is learned from the known genes (seeded): computed out of fold, and
# recomputed per fold by the learned model and the temporal holdout.
SEEDED_LAYERS = ("network", "ht_studies")


def noisy_or(weights: list[pl.Expr]) -> pl.Expr:
    """1 - prod(1 - w_i): combines independent pieces of evidence in [0, 1]; nulls count as 0."""
    import polars as pl

    prod = pl.lit(1.0)
    for w in weights:
        prod = prod * (1.0 - w.fill_null(0.0))
    return 1.0 - prod
