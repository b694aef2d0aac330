"""Figures of the run (matplotlib, Agg backend, deterministic PNG metadata)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from .persistence._common import atomic_path  # noqa: E402
from .scoring import SCORED_LAYERS  # noqa: E402
from .summary import TIER_ORDER  # noqa: E402

_PNG_META = {"Software": None}
TIER_COLORS = {"HIGH": "#b2182b", "MEDIUM": "#ef8a62", "LOW": "#bababa"}


def _save(fig: plt.Figure, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata=_PNG_META)
    plt.close(fig)


def score_distribution(ev: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    """Histogram of composite scores: candidates by tier, known genes overlaid."""
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = [i / 50 for i in range(51)]
    cands = ev.filter(~pl.col("is_known"))
    for tier in ("LOW", "MEDIUM", "HIGH"):
        vals = cands.filter(pl.col("tier") == tier)["score"].to_list()
        ax.hist(vals, bins=bins, color=TIER_COLORS[tier], label=f"candidates {tier} ({len(vals)})")
    known = ev.filter(pl.col("is_known"))["score"].to_list()
    ax.hist(known, bins=bins, histtype="step", color="#2166ac", linewidth=1.5,
            label=f"known genes ({len(known)})")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("composite score")
    ax.set_ylabel("genes (log scale)")
    ax.set_title("Composite score distribution")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def layer_contributions(ev: pl.DataFrame, path: str | os.PathLike[str], top_n: int) -> None:
    """Stacked per-layer contributions to the score of the top-N candidates."""
    top = ev.filter(~pl.col("is_known")).sort("rank_all").head(min(top_n, 40))
    layers = [layer for layer in SCORED_LAYERS if f"contrib_{layer}" in top.columns]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    bottom = [0.0] * top.height
    cmap = plt.get_cmap("tab10")
    for i, layer in enumerate(layers):
        vals = top[f"contrib_{layer}"].fill_null(0.0).to_list()
        ax.bar(range(top.height), vals, bottom=bottom, color=cmap(i), label=layer)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_xticks(range(top.height))
    ax.set_xticklabels(top["symbol"].to_list(), rotation=90, fontsize=7)
    ax.set_ylabel("contribution to score")
    ax.set_title(f"Per-layer contributions, top {top.height} candidates")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    _save(fig, path)


def tier_breakdown(ev: pl.DataFrame, path: str | os.PathLike[str]) -> None:
    """Genes per tier, candidates vs known genes."""
    fig, ax = plt.subplots(figsize=(6, 4))
    tiers = TIER_ORDER
    for j, (label, frame) in enumerate(
        (("candidates", ev.filter(~pl.col("is_known"))), ("known genes", ev.filter("is_known")))
    ):
        counts = [frame.filter(pl.col("tier") == t).height for t in tiers]
        xs = [i + j * 0.4 for i in range(len(tiers))]
        bars = ax.bar(xs, counts, width=0.4, label=label,
                      color=["#b2182b", "#ef8a62", "#bababa"] if j == 0 else "#2166ac")  # fmt: skip
        for bar, c in zip(bars, counts, strict=True):
            ax.annotate(str(c), (bar.get_x() + bar.get_width() / 2, c), ha="center",
                        va="bottom", fontsize=8)  # fmt: skip
    ax.set_xticks([i + 0.2 for i in range(len(tiers))])
    ax.set_xticklabels(tiers)
    ax.set_yscale("log")
    ax.set_ylabel("genes (log scale)")
    ax.set_title("Tier breakdown")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
