"""``usher-pipeline explain SYMBOL``: why a gene ranks where it does, layer by layer.

Reads the workflow's results (``gene_evidence.parquet``, ``layers/<layer>.parquet`` and the
universe tables) and, for one gene, lists its rank, tier and score and, for every evidence layer,
the sub-score, the layer's contribution to the score and the raw evidence behind it (the layer
table's raw columns, formatted for reading). NULL sub-score = unknown: the source does not cover
the gene (never "no evidence"). Layers are named in words (:data:`LAYER_WORDS`).

When the results carry the Usher view (``usher_*`` columns, see :mod:`usher_pipeline.views`),
both views' score, rank and tier are shown, with each sensory feature's log-odds contribution to
the Usher score; the retina single-cell evidence (expression layer) is put in words a biologist
reads (:func:`retina_words`). Results without those columns are explained as before.

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
from .views import USHER_FEATURES, USHER_VIEW, VIEWS, View

REPO = Path(__file__).resolve().parents[2]

# Display order of the evidence layers.
LAYERS = (
    "localization",
    "cilia_atlas",
    "ciliary_function",
    "network",
    "ht_studies",
    "phylogeny",
    "expression",
    "inner_ear",
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
# Layers shown by name in words (the internal identifier is the parquet/column name).
# Raw columns said in words by :func:`layer_reading` instead of one line each.
WORDED_PREFIXES = ("inner_ear_log2fc_",)
MAX_LIST_ITEMS = 15
MAX_TEXT_CHARS = 300
UNKNOWN = "unknown: source does not cover this gene"
COVARIATE_LABEL = "study-bias covariate"
# The words every reader shows for a layer (explain, the table, the summary, the start page); a
# layer missing here is shown with its underscores as spaces.
LAYER_WORDS: dict[str, str] = {
    "localization": "ciliary localization (GO, HPA)",
    "ciliary_function": "ciliary function (GO processes, Reactome)",
    "network": "protein network (STRING)",
    "ht_studies": "cilia screens and proteomes",
    "phylogeny": "co-evolution with cilia",
    "expression": "retina / tissue expression",
    "mouse_phenotype": "mouse phenotypes (MGI)",
    "human_phenotype": "human phenotypes (HPO)",
    "protein_features": "cilia protein domains",
    "literature": "cilia literature (PubMed)",
    "constraint": "loss-of-function constraint",
    "annotation": "GO annotation count",
    "cilia_atlas": "HPA cilia atlas (v25)",
    "inner_ear": "Inner-ear hair cells (Scheffer 2015)",
}

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


def _fold(log2fc: float) -> str:
    """A log2 ratio as a fold change a biologist reads: '5.2-fold', '0.40-fold (depleted)'."""
    fc = 2.0**log2fc
    if fc >= 1:
        return f"{fc:.1f}-fold"
    return f"{fc:.2f}-fold" + (" (lower in hair cells)" if fc < 0.5 else "")


_ORGAN_WORDS = {"cochlea": "cochlear", "utricle": "utricular"}


def _pair_words(pair: str) -> str:
    """'cochlea P7' -> 'cochlear hair cells vs surrounding cells, P7'."""
    organ, _, age = pair.partition(" ")
    return f"{_ORGAN_WORDS.get(organ, organ)} hair cells vs surrounding cells, {age}"


def layer_reading(layer: str, row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The evidence of the HPA cilia atlas and inner-ear layers in words (cell type, fold change,
    organ and age; compartment and reliability), as (label, text) pairs; [] for other layers or
    when the source says nothing about the gene."""
    out: list[tuple[str, str]] = []
    if layer == "cilia_atlas":
        if row.get("atlas_in_hpa_v25"):
            names = [c.lower() for c in row.get("atlas_compartments") or []]
            comps = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
            rel = row.get("atlas_reliability") or "not given"
            out.append(("in words", f"HPA v25 immunofluorescence places the protein at the {comps} "
                        f"(reliability {rel})"))  # fmt: skip
        elif row.get("atlas_imaged_by_hpa_subcellular"):
            out.append(("in words", "imaged by the HPA subcellular atlas, with no cilium or "
                        "centrosome location in HPA v25"))  # fmt: skip
    elif layer == "inner_ear" and row.get("inner_ear_mean_log2fc") is not None:
        mouse = row.get("inner_ear_mouse_gene")
        text = (f"mouse {mouse}: hair cells vs surrounding cells, cochlea and utricle E16-P7 "
                f"(geometric mean of the 8 organ x age pairs): "
                f"{_fold(row['inner_ear_mean_log2fc'])}")  # fmt: skip
        if row.get("inner_ear_top_pair") and row.get("inner_ear_top_log2fc") is not None:
            text += (f"; strongest: {_pair_words(row['inner_ear_top_pair'])}: "
                     f"{_fold(row['inner_ear_top_log2fc'])}")  # fmt: skip
        if row.get("inner_ear_hc_cpm") is not None:
            text += f"; hair-cell expression {row['inner_ear_hc_cpm']:.1f} CPM"
        out.append(("in words", text))
        for organ, word in _ORGAN_WORDS.items():
            pairs = [(c.rsplit("_", 1)[1], v) for c, v in row.items()
                     if c.startswith(f"inner_ear_log2fc_{organ}_") and v is not None]  # fmt: skip
            if pairs:
                out.append((f"{word} hair cells vs surrounding cells",
                            ", ".join(f"{age}: {_fold(v)}" for age, v in pairs)))  # fmt: skip
    return out


def raw_evidence(layer: str, row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The non-null raw values of one layer-table row as (column, text) pairs, in table order,
    after the layer's evidence in words (:func:`layer_reading`) where there is one."""
    out = layer_reading(layer, row)
    worded = bool(out)
    for col in raw_columns(layer, row.keys()):
        if worded and col.startswith(WORDED_PREFIXES):
            continue
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


def layer_words(layer: str) -> str:
    """A layer's name in words (:data:`LAYER_WORDS`), e.g. "protein network (STRING)"."""
    return LAYER_WORDS.get(layer) or layer.replace("_", " ")


def layer_label(layer: str) -> str:
    """A layer's words, marked when it is a study-bias covariate rather than evidence."""
    words = layer_words(layer)
    return f"{words} ({COVARIATE_LABEL})" if layer in COVARIATE_LAYERS else words


def format_score(value: float | None) -> str:
    return display.format_score(value, "unknown")


def format_contrib(value: float | None) -> str:
    return display.format_contribution(value, "—")


# Retina single-cell markers (expression layer): column tag, the cells in words.
RETINA_CELLS = (("rod", "rod photoreceptors"), ("cone", "cone photoreceptors"))


def retina_words(row: Mapping[str, Any]) -> list[str]:
    """The human retina single-cell evidence of one expression-layer row, in words: for rods and
    cones, whether the gene is a marker, its log2 fold change against the other retinal cells and
    the share of that cell type expressing it; the other retinal cell types where it is a marker.
    ``[]`` when the row has no retina columns (e.g. an older layer table). Not a marker = not
    enriched there (the marker lists cover every gene), not unknown."""
    if not any(f"retina_{tag}_log2fc" in row for tag, _ in RETINA_CELLS):
        return []
    out = []
    for tag, cells in RETINA_CELLS:
        fc, pct = _float(row.get(f"retina_{tag}_log2fc")), _float(row.get(f"retina_{tag}_pct"))
        if fc is None:
            out.append(f"{cells}: not a marker (not enriched over the other retinal cells)")
            continue
        text = (
            f"{cells}: marker gene, log2 fold change {fc:.2f} ({2**fc:.1f}-fold) over the other"
            " retinal cells"
        )
        if pct is not None:
            text += f"; expressed in {pct * 100:.0f}% of {tag} cells"
        out.append(text)
    others = [str(c) for c in (row.get("retina_other_cell_types") or []) if c]
    out.append(
        f"also a marker of: {', '.join(others)}" if others
        else "a marker of no other retinal cell type"
    )  # fmt: skip
    return out


def present_views(columns: Iterable[str]) -> list[View]:
    """The views a results table carries: the cilia view always, the Usher view when its score,
    rank and tier columns are there (older results have only the cilia view)."""
    cols = set(columns)
    return [v for v in VIEWS if v is VIEWS[0] or {v.score, v.rank, v.tier} <= cols]


def usher_feature_keys(columns: Iterable[str]) -> list[str]:
    """The Usher view's features present as ``usher_contrib_<feature>`` columns: those of
    :data:`usher_pipeline.views.USHER_FEATURES` in its order, then any others by name."""
    prefix = USHER_VIEW.contrib_prefix
    present = [c.removeprefix(prefix) for c in columns if c.startswith(prefix)]
    return [f for f in USHER_FEATURES if f in present] + sorted(
        f for f in present if f not in USHER_FEATURES
    )


def feature_words(feature: str) -> str:
    """A sensory feature of the Usher view in words (:data:`usher_pipeline.views.USHER_FEATURES`)."""
    return USHER_FEATURES.get(feature) or feature.replace("_", " ")


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
    tables = read_layer_tables(res, [gene_id])
    entries = layer_breakdowns(row_df, tables)[gene_id]
    for e in entries:
        e["evidence"] = [list(p) for p in e["evidence"]]
        e["label"] = layer_label(e["layer"])
    expr = tables.get("expression")
    retina = retina_words(expr.row(0, named=True)) if expr is not None and expr.height else []
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
        "views": view_scores(evidence_all, row),
        "usher_evidence": usher_evidence(evidence_all.columns, row),
        "retina": retina,
        "results_dir": str(res),
    }


def view_scores(evidence: pl.DataFrame, row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per view present in ``evidence`` (see :func:`present_views`): its title and question, and
    the gene's score, rank (candidates; NULL for a known gene), rank_all, tier and the number of
    ranked candidates."""
    out = {}
    for v in present_views(evidence.columns):
        n = int(evidence[v.rank].is_not_null().sum()) if v.rank in evidence.columns else None
        out[v.key] = {
            "title": v.title,
            "question": v.question,
            "score": _float(row.get(v.score)),
            "rank": row.get(v.rank),
            "rank_all": row.get(v.rank_all),
            "tier": row.get(v.tier),
            "n_candidates": n,
        }
    return out


def usher_evidence(columns: Sequence[str], row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Usher view's sensory evidence of one gene: each feature's log-odds contribution
    (NULL = unknown) with its words, their sum and the number of features with evidence;
    None when the results have no Usher view."""
    if USHER_VIEW not in present_views(columns):
        return None
    count = row.get("usher_sensory_count")
    return {
        "sensory_logodds": _float(row.get("usher_sensory_logodds")),
        "sensory_count": None if count is None else int(count),
        "features": [
            {
                "feature": f,
                "words": feature_words(f),
                "contrib": _float(row.get(f"{USHER_VIEW.contrib_prefix}{f}")),
            }
            for f in usher_feature_keys(columns)
        ],
    }


def _view_line(v: Mapping[str, Any], n_genes: int | None) -> str:
    n_c = f" of {v['n_candidates']} candidates" if v.get("n_candidates") else ""
    rank = (f"rank {v['rank']}{n_c}" if v["rank"] is not None
            else "not ranked among the candidates (known gene)")  # fmt: skip
    rank_all = "—" if v["rank_all"] is None else str(v["rank_all"])
    if n_genes and v["rank_all"] is not None:
        rank_all += f" of {n_genes} genes"
    return (
        f"  {v['title']}: {v['question']}\n"
        f"      {rank}; rank_all {rank_all}; tier {v['tier'] or '—'}; "
        f"score {format_score(v['score'])}"
    )


def format_views(info: Mapping[str, Any]) -> list[str]:
    """The lines of both views, the Usher view's sensory features and the retina evidence (none
    of the first two when the results have only the cilia view)."""
    lines: list[str] = []
    views = info.get("views") or {}
    if len(views) > 1:
        lines += ["", "views (rank 1 = top):"]
        lines += [_view_line(v, info.get("n_genes")) for v in views.values()]
    usher = info.get("usher_evidence")
    if usher:
        lines += ["", "Usher view = cilia score x P(Usher-like | ciliary); sensory evidence "
                      "(log-odds of P(Usher-like | ciliary); unknown = no data):"]  # fmt: skip
        width = max((len(f["words"]) for f in usher["features"]), default=0)
        for f in usher["features"]:
            value = "unknown" if f["contrib"] is None else f"{f['contrib']:+.3f}"
            lines.append(f"  {f['words'] + ':':<{width + 1}} {value}")
        total = usher["sensory_logodds"]
        count = usher["sensory_count"]
        lines.append(
            f"  total: {'unknown' if total is None else f'{total:+.3f}'} log-odds from "
            f"{'—' if count is None else count} feature(s) with evidence"
        )
    if info.get("retina"):
        lines += ["", "retina (human retina single-cell markers; expression layer):"]
        lines += [f"  {text}" for text in info["retina"]]
    return lines


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
    lines += format_views(info)
    lines.append("")
    lines.append(
        f"evidence layers (sub-score 0–1; contribution = {info['contribution_unit']}; "
        "unknown = source does not cover this gene):"
    )
    for e in info["layers"]:
        score = format_score(e["score"]) if e["score"] is not None else UNKNOWN
        contrib = format_contrib(e["contrib"]) if e["has_contrib"] else "—"
        lines.append(f"  {e.get('label') or layer_label(e['layer'])}: sub-score {score}; "
                     f"contribution {contrib}")  # fmt: skip
        if not e["table"]:
            lines.append("      (layer table missing: no raw evidence)")
        for col, text in e["evidence"]:
            lines.append(f"      {col}: {text}")
    lines.append("")
    unknown = [layer_words(layer) for layer in info["unknown_layers"]]
    lines.append(f"unknown layers: {', '.join(unknown) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``usher-pipeline explain SYMBOL [--results DIR] [--json]``."""
    import argparse
    import os
    import sys

    ap = argparse.ArgumentParser(
        prog="usher-pipeline explain",
        description=(
            "Explain one gene: rank, tier and score in each view (cilia; Usher, when the run has"
            " it), the Usher view's sensory evidence, the retina evidence in words and every"
            " layer's evidence."
        ),
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
