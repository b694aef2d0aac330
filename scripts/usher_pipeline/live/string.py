"""Live STRING network: the human ``protein.links.detailed`` download, text mining dropped, mapped
to NCBI GeneIDs and pruned like the snapshot, written in the snapshot's layout so the network layer
reads it with the snapshot's parser (:func:`usher_pipeline.parsers.cilia.read_string_edges`).

* Channels: STRING's detailed file gives one score per evidence channel (neighborhood, fusion,
  cooccurence, coexpression, experimental, database, textmining; each already the combination of
  its direct and transferred parts) and STRING's ``combined_score``. The upstream combined score
  includes text mining, so it is ignored and recomputed from the other channels with STRING's
  formula (von Mering et al. 2005; Szklarczyk et al. 2019): each channel score ``s`` (0-1) loses
  the prior ``p = 0.041``, ``s' = max(0, (s - p) / (1 - p))``; the channels are combined as
  ``S' = 1 - prod(1 - s')``; the prior is added back, ``S = S' + p (1 - S')``; the score is
  ``floor(1000 S)``. On the snapshot's own channel columns this reproduces its recomputed score
  exactly for 95% of edges and within 1 for 97% (STRING also corrects two channels for homology,
  which the detailed file does not expose).
* Genes: STRING's ``protein.info`` names each protein (``preferred_name``); the name is mapped to
  an NCBI GeneID through the live NCBI gene_info (official symbol first, else a synonym that
  names exactly one gene). Proteins without a gene are dropped (counted in the stats); a gene pair
  reached through two proteins keeps the larger score.
* Pruning (``live.string_pruning``, the snapshot's rule): keep every edge with score
  >= ``keep_min_score`` (700), plus each gene's ``top_per_gene`` (3) strongest edges with
  ``top_min_score`` (400) <= score < ``keep_min_score`` (ties: the smaller partner GeneID first).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import SourceFormatError
from ..parsers.common import read_text, read_tsv

# (defined with the live settings, which the workflow reads when it is parsed)
from .settings import DEFAULT_PRUNING as DEFAULT_PRUNING
from .settings import pruning_settings as pruning_settings

PRIOR = 0.041
# Detailed-file channels that enter the recomputed score; textmining is dropped.
CHANNELS = ("neighborhood", "fusion", "cooccurence", "coexpression", "experimental", "database")
DROPPED_CHANNELS = ("textmining",)
LINK_COLUMNS = ("protein1", "protein2", *CHANNELS)
# Output columns (the snapshot's layout: entrez_1, entrez_2, channel scores, combined_score).
OUTPUT_CHANNELS = {
    "neighborhood": "neighborhood",
    "fusion": "fusion",
    "cooccurence": "cooccurence",
    "coexpression": "coexpression",
    "experimental": "experiments",
    "database": "database",
}


def read_string_links(path: str | Path, source: str = "string_links") -> pl.DataFrame:
    """STRING ``protein.links.detailed`` (space-separated, header line): protein1, protein2 and
    the channel scores of :data:`CHANNELS` as integers (0-1000)."""
    text = read_text(path, source)
    header = text[: text.find("\n")].split()
    missing = [c for c in LINK_COLUMNS if c not in header]
    if missing:
        raise SourceFormatError(
            source, str(path), f"missing column(s) {missing}; header has {header}"
        )
    try:
        df = pl.read_csv(
            io.StringIO(text),
            separator=" ",
            infer_schema=False,
            quote_char=None,
            columns=list(LINK_COLUMNS),
        )
        df = df.with_columns(pl.col(c).cast(pl.Int64) for c in CHANNELS)
    except pl.exceptions.PolarsError as exc:
        raise SourceFormatError(source, str(path), f"malformed rows ({exc})") from exc
    for col in LINK_COLUMNS:
        n = df[col].null_count()
        if n:
            raise SourceFormatError(source, str(path), f"{n} row(s) with no value in '{col}'")
    bad = df.filter(pl.any_horizontal([(pl.col(c) < 0) | (pl.col(c) > 1000) for c in CHANNELS]))
    if bad.height:
        raise SourceFormatError(source, str(path), f"channel score outside 0-1000: {bad.row(0)}")
    return df


def read_string_info(path: str | Path, source: str = "string_info") -> pl.DataFrame:
    """STRING ``protein.info``: string_protein_id, preferred_name."""
    df = read_tsv(path, source, ["string_protein_id", "preferred_name"])
    df = df.select("string_protein_id", "preferred_name")
    if df["string_protein_id"].is_duplicated().any():
        dup = df.filter(pl.col("string_protein_id").is_duplicated())["string_protein_id"][0]
        raise SourceFormatError(source, str(path), f"protein {dup} listed twice")
    return df


def combined_score(channels: list[pl.Expr], prior: float = PRIOR) -> pl.Expr:
    """STRING's combined score (0-1000) of integer channel scores (see module docstring)."""
    prod = pl.lit(1.0)
    for ch in channels:
        s = ((ch.cast(pl.Float64) / 1000.0 - prior) / (1.0 - prior)).clip(lower_bound=0.0)
        prod = prod * (1.0 - s)
    total = 1.0 - prod
    total = total + prior * (1.0 - total)
    # a tiny epsilon keeps exact products (e.g. 0.9 * 1000) from flooring one below
    return (total * 1000.0 + 1e-9).floor().cast(pl.Int64)


def protein_genes(info: pl.DataFrame, genes: pl.DataFrame) -> pl.DataFrame:
    """string_protein_id -> ncbi_gene_id via the preferred name (symbol, else unique synonym).

    ``genes``: :func:`usher_pipeline.parsers.ncbi.read_gene_info` (ncbi_gene_id, symbol,
    synonyms). Returns string_protein_id, ncbi_gene_id, via (``symbol`` / ``synonym``).
    """
    genes = genes.select(pl.col("ncbi_gene_id").cast(pl.Int64), "symbol", "synonyms")
    by_symbol = genes.filter(~pl.col("symbol").is_duplicated()).select(
        pl.col("symbol").alias("preferred_name"), "ncbi_gene_id"
    )
    syn = (
        genes.select("ncbi_gene_id", pl.col("synonyms").alias("syn"))
        .explode("syn")
        .filter(pl.col("syn").is_not_null() & (pl.col("syn") != ""))
        .filter(~pl.col("syn").is_in(genes["symbol"].implode()))
        .unique()
    )
    by_synonym = syn.filter(~pl.col("syn").is_duplicated()).select(
        pl.col("syn").alias("preferred_name"), "ncbi_gene_id"
    )
    direct = info.join(by_symbol, on="preferred_name", how="inner")
    rest = info.join(direct.select("string_protein_id"), on="string_protein_id", how="anti")
    via_syn = rest.join(by_synonym, on="preferred_name", how="inner")
    return pl.concat(
        [
            direct.select("string_protein_id", "ncbi_gene_id", pl.lit("symbol").alias("via")),
            via_syn.select("string_protein_id", "ncbi_gene_id", pl.lit("synonym").alias("via")),
        ]
    ).sort("string_protein_id")


def prune_edges(edges: pl.DataFrame, keep_min_score: int, top_per_gene: int,
                top_min_score: int) -> pl.DataFrame:  # fmt: skip
    """The snapshot's pruning rule on undirected edges (entrez_1 < entrez_2, combined_score)."""
    strong = edges.filter(pl.col("combined_score") >= keep_min_score)
    mid = edges.filter(
        (pl.col("combined_score") >= top_min_score) & (pl.col("combined_score") < keep_min_score)
    )
    both = pl.concat(
        [
            mid.select(
                pl.col("entrez_1").alias("gene"),
                pl.col("entrez_2").alias("other"),
                "entrez_1",
                "entrez_2",
                "combined_score",
            ),
            mid.select(
                pl.col("entrez_2").alias("gene"),
                pl.col("entrez_1").alias("other"),
                "entrez_1",
                "entrez_2",
                "combined_score",
            ),
        ]
    )
    top = (
        both.sort(["gene", "combined_score", "other"], descending=[False, True, False])
        .group_by("gene", maintain_order=True)
        .head(top_per_gene)
        .select("entrez_1", "entrez_2")
        .unique()
    )
    kept_mid = mid.join(top, on=["entrez_1", "entrez_2"], how="semi")
    return pl.concat([strong, kept_mid]).sort("entrez_1", "entrez_2")


def build_string_network(
    links_path: str | Path,
    info_path: str | Path,
    genes: pl.DataFrame,
    pruning: Mapping[str, int],
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The pruned, GeneID-keyed network in the snapshot's layout, and stats (see module doc).

    ``genes``: the live NCBI gene_info as read by :func:`usher_pipeline.parsers.ncbi.read_gene_info`.
    """
    links = read_string_links(links_path)
    info = read_string_info(info_path)
    unknown = (
        pl.concat([links["protein1"], links["protein2"]]).unique().to_frame("string_protein_id")
    )
    unknown = unknown.join(info, on="string_protein_id", how="anti")
    if unknown.height:
        raise SourceFormatError(
            "string_info",
            str(info_path),
            f"{unknown.height} protein(s) of the links file are not listed, e.g. "
            f"{unknown['string_protein_id'].sort()[0]} (links and info of different releases?)",
        )
    mapping = protein_genes(info, genes)
    m1 = mapping.select(pl.col("string_protein_id").alias("protein1"),
                        pl.col("ncbi_gene_id").alias("g1"))  # fmt: skip
    m2 = mapping.select(pl.col("string_protein_id").alias("protein2"),
                        pl.col("ncbi_gene_id").alias("g2"))  # fmt: skip
    scored = links.with_columns(combined_score([pl.col(c) for c in CHANNELS]).alias("_score"))
    mapped = scored.join(m1, on="protein1", how="inner").join(m2, on="protein2", how="inner")
    mapped = mapped.filter(pl.col("g1") != pl.col("g2"))
    a, b = pl.col("g1"), pl.col("g2")
    undirected = (
        mapped.with_columns(
            pl.min_horizontal(a, b).alias("entrez_1"), pl.max_horizontal(a, b).alias("entrez_2")
        )
        .sort(["entrez_1", "entrez_2", "_score", *CHANNELS], descending=True)
        .unique(["entrez_1", "entrez_2"], keep="first")
        .select(
            "entrez_1",
            "entrez_2",
            *[pl.col(c).alias(OUTPUT_CHANNELS[c]) for c in CHANNELS],
            pl.col("_score").alias("combined_score"),
        )
    )
    pruned = prune_edges(
        undirected.select("entrez_1", "entrez_2", "combined_score"),
        pruning["keep_min_score"],
        pruning["top_per_gene"],
        pruning["top_min_score"],
    )
    out = undirected.join(pruned.select("entrez_1", "entrez_2"), on=["entrez_1", "entrez_2"],
                          how="semi").sort("entrez_1", "entrez_2")  # fmt: skip
    proteins = info.height
    stats = {
        "links_rows": links.height,
        "proteins": proteins,
        "proteins_mapped_by_symbol": int((mapping["via"] == "symbol").sum()),
        "proteins_mapped_by_synonym": int((mapping["via"] == "synonym").sum()),
        "proteins_unmapped": proteins - mapping.height,
        "gene_pairs": undirected.height,
        "edges_kept": out.height,
        "edges_at_or_above_keep_min": int(
            (out["combined_score"] >= pruning["keep_min_score"]).sum()
        ),
        "genes": int(pl.concat([out["entrez_1"], out["entrez_2"]]).n_unique()) if out.height else 0,
        "channels": list(CHANNELS),
        "dropped_channels": list(DROPPED_CHANNELS),
        "prior": PRIOR,
        "pruning": dict(pruning),
    }
    if out.height == 0:
        raise SourceFormatError("string_links", str(links_path), "no edge left after mapping and "
                                "pruning (wrong species or mapping file?)")  # fmt: skip
    return out, stats
