"""``usher-pipeline explain SYMBOL``: why a gene ranks where it does, layer by layer.

Reads the workflow's results (``gene_evidence.parquet``, ``layers/<layer>.parquet`` and the
universe tables) and, for one gene, lists its rank, tier and score and, for every evidence layer,
the sub-score, the layer's contribution to the score and the raw evidence behind it (the layer
table's raw columns, formatted for reading). NULL sub-score = unknown: the source does not cover
the gene (never "no evidence").

The same raw-evidence formatting feeds the per-gene breakdown of the HTML candidate table
(:func:`load_breakdowns`, one read per layer table for any number of genes).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from . import display
from .errors import UsherPipelineError
from .universe import ALIAS_PRIORITY, resolve_symbols

REPO = Path(__file__).resolve().parents[2]

# Display order of the evidence layers.
LAYERS = (
    "localization",
    "ciliary_function",
    "network",
    "ht_studies",
    "phylogeny",
    "expression",
    "mouse_phenotype",
    "human_phenotype",
    "protein_features",
    "literature",
    "constraint",
    "annotation",
)
# Layers and raw columns that are study-bias covariates (fame), not evidence of cilia function.
COVARIATE_LAYERS = frozenset({"annotation"})
COVARIATE_COLUMNS = frozenset({"pubmed_total", "pubmed_total_log1p", "go_n_terms"})
# Raw columns not shown: long ID lists kept for re-seeding (the symbols are shown instead).
HIDDEN_COLUMNS = frozenset(
    {"network_neighbours", "network_neighbour_weights", "phylo_species_idx", "ht_study_names"}
)
MAX_LIST_ITEMS = 15
MAX_TEXT_CHARS = 300
UNKNOWN = "unknown: source does not cover this gene"
COVARIATE_LABEL = "study-bias covariate"

_ENSEMBL = re.compile(r"^ENS[A-Z]*G\d+(\.\d+)?$", re.IGNORECASE)


class ExplainError(UsherPipelineError):
    """A gene cannot be explained: unknown or ambiguous identifier, or missing results.

    ``exit_code`` is 2 for a bad identifier (usage error) and 1 for missing results."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# ------------------------------------------------------------------------------ formatting


def format_value(value: Any, max_items: int = MAX_LIST_ITEMS) -> str:
    """One raw value, compactly: lists comma-joined (at most ``max_items``, then "… (+N more)"),
    booleans yes/no, floats with 4 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        items = [format_value(v, max_items) for v in value if v is not None]
        if not items:
            return "none"
        shown = ", ".join(items[:max_items])
        extra = len(items) - max_items
        return f"{shown}, … (+{extra} more)" if extra > 0 else shown
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_value(v, max_items)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def raw_columns(layer: str, columns: Iterable[str]) -> list[str]:
    """The raw-evidence columns of a layer table: all but gene_id, the sub-score and hidden ones."""
    skip = {"gene_id", f"{layer}_score", *HIDDEN_COLUMNS}
    return [c for c in columns if c not in skip]


def raw_evidence(layer: str, row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The non-null raw values of one layer-table row as (column, text) pairs, in table order."""
    out = []
    for col in raw_columns(layer, row.keys()):
        value = row[col]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        text = format_value(value)
        if col in COVARIATE_COLUMNS and layer not in COVARIATE_LAYERS:
            text += f" ({COVARIATE_LABEL})"
        out.append((col, text))
    return out


def evidence_text(evidence: Sequence[tuple[str, str]], sep: str = "; ") -> str:
    """Raw evidence pairs as text: ``col: value; col: value`` ('' when there is none)."""
    return sep.join(f"{col}: {text}" for col, text in evidence)


def layer_label(layer: str) -> str:
    return f"{layer} ({COVARIATE_LABEL})" if layer in COVARIATE_LAYERS else layer


def format_score(value: float | None) -> str:
    return display.format_score(value, "unknown")


def format_contrib(value: float | None) -> str:
    return display.format_contribution(value, "—")


# ------------------------------------------------------------------------------ inputs


def default_results_dir() -> Path:
    """The config's ``results_dir`` (config/config.yaml; default "results"), relative to the repo."""
    results = "results"
    cfg = REPO / "config" / "config.yaml"
    if cfg.exists():
        results = (yaml.safe_load(cfg.read_text()) or {}).get("results_dir", results)
    path = Path(results)
    return path if path.is_absolute() else REPO / path


def _require(path: Path) -> Path:
    if not path.exists():
        from .result_versions import read_last_run

        for results in path.parents:  # the results folder is the one with logs/last_run.json
            last = read_last_run(results)
            if last.get("status") == "failed" and last.get("last_passed_version"):
                raise ExplainError(
                    f"explain: results file {path} is missing: the last run failed; the last "
                    f"passed results (version {last['last_passed_version']}) are kept: bring "
                    "them back with `usher-pipeline state restore`",
                    exit_code=1,
                )
        raise ExplainError(
            f"explain: results file {path} is missing; run the workflow first "
            "(usher-pipeline run, or snakemake) or pass --results DIR",
            exit_code=1,
        )
    return path


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


# ------------------------------------------------------------------------------ resolution


def _ambiguous(query: str, ids: Sequence[str], genes: pl.DataFrame) -> ExplainError:
    names = dict(
        genes.filter(pl.col("gene_id").is_in(list(ids))).select("gene_id", "symbol").rows()
    )
    listed = ", ".join(f"{names.get(g) or '?'} ({g})" for g in sorted(ids))
    return ExplainError(
        f"explain: '{query}' is ambiguous, it names several genes: {listed}; "
        "give the symbol or HGNC ID of one of them"
    )


def _alias_candidates(query: str, aliases: pl.DataFrame) -> list[str]:
    """Gene IDs an ambiguous alias points to, at the best-matching priority level."""
    pri = aliases.with_columns(
        pl.col("alias_type")
        .replace_strict(ALIAS_PRIORITY, default=99, return_dtype=pl.Int32)
        .alias("priority")  # fmt: skip
    )
    for hits in (
        pri.filter(pl.col("alias") == query),
        pri.filter(pl.col("alias").str.to_uppercase() == query.upper()),
    ):
        if hits.height:
            best = hits["priority"].min()
            return sorted(hits.filter(pl.col("priority") == best)["gene_id"].unique().to_list())
    return []


def resolve_gene(query: str, genes: pl.DataFrame, aliases: pl.DataFrame) -> tuple[str, str]:
    """``(gene_id, match_type)`` of a symbol, alias/previous symbol, HGNC ID or Ensembl gene ID.

    match_type: ``gene_id``/``hgnc_id``, ``ensembl_gene``, or the resolver's alias match type
    (``symbol``, ``hgnc_previous``, ``hgnc_alias``, …, ``*_case_insensitive``). Raises
    :class:`ExplainError` (exit code 2) naming the identifier if none or several genes match."""
    q = query.strip()
    if not q:
        raise ExplainError("explain: empty gene identifier")
    qu = q.upper()
    hgnc = f"HGNC:{qu}" if qu.isdigit() else qu
    for col in ("gene_id", "hgnc_id"):
        if col in genes.columns:
            hit = genes.filter(pl.col(col).str.to_uppercase() == hgnc)["gene_id"].unique()
            if hit.len() == 1:
                return hit[0], "hgnc_id"
    if _ENSEMBL.match(q) and "ensembl_gene" in genes.columns:
        stem = qu.split(".")[0]
        ens = pl.col("ensembl_gene").str.to_uppercase().str.replace(r"\.\d+$", "")
        hit = genes.filter(ens == stem)["gene_id"].unique().sort().to_list()
        if len(hit) == 1:
            return hit[0], "ensembl_gene"
        if len(hit) > 1:
            raise _ambiguous(q, hit, genes)
    res = resolve_symbols([q], aliases).row(0, named=True)
    if res["gene_id"] is not None:
        return res["gene_id"], res["match_type"]
    if res["match_type"] == "ambiguous":
        raise _ambiguous(q, _alias_candidates(q, aliases), genes)
    raise ExplainError(
        f"explain: '{q}' is not a gene of the universe "
        "(no symbol, alias, HGNC or Ensembl ID matches)"
    )


# ------------------------------------------------------------------------------ breakdowns


def layer_breakdowns(
    evidence: pl.DataFrame,
    layer_tables: Mapping[str, pl.DataFrame],
    layers: Sequence[str] = LAYERS,
) -> dict[str, list[dict[str, Any]]]:
    """Per gene of ``evidence`` (gene_id, <layer>_score, contrib_<layer>): one dict per layer with
    layer, score, contrib, has_contrib, covariate, table (layer table present) and evidence
    (list of (column, text)). Each layer table is joined to the genes once (no per-gene reads)."""
    ids = evidence.select("gene_id")
    out: dict[str, list[dict[str, Any]]] = {g: [] for g in ids["gene_id"].to_list()}
    for layer in layers:
        table = layer_tables.get(layer)
        score_col, contrib_col = f"{layer}_score", f"contrib_{layer}"
        if table is not None:
            keep = ["gene_id", *raw_columns(layer, table.columns)]
            if score_col in table.columns:
                keep.append(score_col)
            raw = ids.join(table.select(keep), on="gene_id", how="left")
        else:
            raw = ids
        scores = evidence.select(
            "gene_id",
            *[pl.col(c).alias(f"__{c}") for c in (score_col, contrib_col) if c in evidence.columns],
        )
        joined = raw.join(scores, on="gene_id", how="left")
        for row in joined.iter_rows(named=True):
            gid = row.pop("gene_id")
            score = row.pop(f"__{score_col}", None)
            if f"__{score_col}" not in joined.columns:
                score = row.get(score_col)
            row.pop(score_col, None)
            has_contrib = f"__{contrib_col}" in joined.columns
            contrib = row.pop(f"__{contrib_col}", None)
            out[gid].append(
                {
                    "layer": layer,
                    "score": _float(score),
                    "contrib": _float(contrib),
                    "has_contrib": has_contrib,
                    "covariate": layer in COVARIATE_LAYERS,
                    "table": table is not None,
                    "evidence": raw_evidence(layer, row) if table is not None else [],
                }
            )
    return out


def read_layer_tables(
    results_dir: str | Path, gene_ids: Sequence[str], layers: Sequence[str] = LAYERS
) -> dict[str, pl.DataFrame]:
    """The rows of ``gene_ids`` in each present ``layers/<layer>.parquet`` (missing ones skipped)."""
    wanted = [str(g) for g in gene_ids]
    tables = {}
    for layer in layers:
        path = Path(results_dir) / "layers" / f"{layer}.parquet"
        if path.exists():
            tables[layer] = pl.scan_parquet(path).filter(pl.col("gene_id").is_in(wanted)).collect()
    return tables


def load_breakdowns(
    results_dir: str | Path, evidence: pl.DataFrame, layers: Sequence[str] = LAYERS
) -> dict[str, list[tuple[str, float | None, float | None, str]]]:
    """gene_id → [(layer label, sub-score, contribution, raw evidence text)] for every gene of
    ``evidence`` (e.g. the candidates shown in the HTML table), reading each layer table once.

    Scores and contributions come from ``evidence`` (gene_evidence or candidates rows); a
    sub-score column it lacks is taken from the layer table. Evidence text: one line per column."""
    tables = read_layer_tables(results_dir, evidence["gene_id"].to_list(), layers)
    full = layer_breakdowns(evidence, tables, layers)
    return {
        gid: [
            (layer_label(e["layer"]), e["score"], e["contrib"], evidence_text(e["evidence"], "\n"))
            for e in entries
        ]
        for gid, entries in full.items()
    }


# ------------------------------------------------------------------------------ one gene


def explain_gene(results_dir: str | Path | None, query: str) -> dict[str, Any]:
    """Everything known about one gene, as a JSON-serialisable dict (see :func:`format_explanation`)."""
    res = Path(results_dir) if results_dir is not None else default_results_dir()
    ev_path = _require(res / "gene_evidence.parquet")
    genes = pl.read_parquet(_require(res / "universe" / "genes.parquet"))
    aliases = pl.read_parquet(_require(res / "universe" / "aliases.parquet"))
    gene_id, match_type = resolve_gene(query, genes, aliases)

    evidence_all = pl.read_parquet(ev_path)
    row_df = evidence_all.filter(pl.col("gene_id") == gene_id)
    if row_df.height == 0:
        raise ExplainError(
            f"explain: '{query}' ({gene_id}) is in the universe but not in {ev_path}; "
            "the results are stale, re-run the workflow",
            exit_code=1,
        )
    row = row_df.row(0, named=True)
    ginfo = genes.filter(pl.col("gene_id") == gene_id).row(0, named=True)
    is_known = bool(row.get("is_known"))
    n_cands = (
        int(evidence_all["rank"].is_not_null().sum()) if "rank" in evidence_all.columns else None
    )
    entries = layer_breakdowns(row_df, read_layer_tables(res, [gene_id]))[gene_id]
    for e in entries:
        e["evidence"] = [list(p) for p in e["evidence"]]
    method = "log-odds" if "evidence_logodds" in evidence_all.columns else "score share"
    return {
        "query": query,
        "match_type": match_type,
        "gene_id": gene_id,
        "symbol": row.get("symbol") or ginfo.get("symbol"),
        "hgnc_id": ginfo.get("hgnc_id") or gene_id,
        "ensembl_gene": ginfo.get("ensembl_gene"),
        "description": ginfo.get("description"),
        "rank": row.get("rank"),
        "rank_all": row.get("rank_all"),
        "n_candidates": n_cands,
        "n_genes": evidence_all.height,
        "tier": row.get("tier"),
        "score": _float(row.get("score")),
        "is_known": is_known,
        "is_usher": bool(row.get("is_usher")),
        "is_cilia_gold_standard": bool(row.get("is_cilia_gold_standard")),
        "contribution_unit": method,
        "layers": entries,
        "unknown_layers": [e["layer"] for e in entries if e["score"] is None],
        "results_dir": str(res),
    }


def format_explanation(info: Mapping[str, Any]) -> str:
    """The dict of :func:`explain_gene` as plain text for a terminal."""
    lines = []
    ids = ", ".join(str(x) for x in (info["hgnc_id"], info.get("ensembl_gene")) if x)
    head = f"{info['symbol']} ({ids})"
    if info.get("description"):
        head += f" — {info['description']}"
    lines.append(head)
    if str(info["query"]).strip() != info["symbol"]:
        lines.append(f"query: {info['query']} (matched by {info['match_type']})")
    n_all = f" of {info['n_genes']} genes" if info.get("n_genes") else ""
    if info["is_known"]:
        sets = [n for n, f in (("Usher gene", info["is_usher"]),
                               ("cilia gold standard", info["is_cilia_gold_standard"])) if f]  # fmt: skip
        lines.append(
            f"known gene: yes ({', '.join(sets) or 'known gene set'}): a positive control, "
            "not ranked among the candidates (rank: NULL)"
        )
        lines.append(f"rank_all: {info['rank_all']}{n_all} (all genes, known genes included)")
    else:
        n_c = f" of {info['n_candidates']} candidates" if info.get("n_candidates") else ""
        lines.append("known gene: no (is_usher: no, is_cilia_gold_standard: no)")
        lines.append(f"rank: {info['rank']}{n_c} (rank_all: {info['rank_all']}{n_all})")
    lines.append(f"tier: {info['tier'] or '—'}   score: {format_score(info['score'])}")
    lines.append("")
    lines.append(
        f"evidence layers (sub-score 0–1; contribution = {info['contribution_unit']}; "
        "unknown = source does not cover this gene):"
    )
    for e in info["layers"]:
        score = format_score(e["score"]) if e["score"] is not None else UNKNOWN
        contrib = format_contrib(e["contrib"]) if e["has_contrib"] else "—"
        lines.append(f"  {layer_label(e['layer'])}: sub-score {score}; contribution {contrib}")
        if not e["table"]:
            lines.append("      (layer table missing: no raw evidence)")
        for col, text in e["evidence"]:
            lines.append(f"      {col}: {text}")
    lines.append("")
    lines.append(f"unknown layers: {', '.join(info['unknown_layers']) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``usher-pipeline explain SYMBOL [--results DIR] [--json]``."""
    import argparse
    import os
    import sys

    ap = argparse.ArgumentParser(
        prog="usher-pipeline explain",
        description="Explain one gene: rank, tier, score and every layer's evidence.",
    )
    ap.add_argument("gene", help="symbol, alias/previous symbol, HGNC ID or Ensembl gene ID")
    ap.add_argument("--results", help="results directory (default: results_dir of the config)")
    ap.add_argument("--json", action="store_true", help="print the explanation as JSON")
    args = ap.parse_args(argv)
    try:
        info = explain_gene(args.results, args.gene)
    except ExplainError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    try:
        print(json.dumps(info, indent=2, default=str) if args.json else format_explanation(info))
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `usher-pipeline explain X | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
