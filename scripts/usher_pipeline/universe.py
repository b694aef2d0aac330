"""The gene universe: one row per human protein-coding gene with an HGNC ID, keyed by ``gene_id``.

``gene_id`` is the HGNC ID (e.g. ``HGNC:5``): stable across symbol changes and the primary key of
every table the pipeline writes. Mappings to NCBI GeneID, Ensembl gene (MANE Select first), UniProt
and alias / previous symbols are kept with the resource they came from.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

import polars as pl

from .errors import MappingError

GENE_KEY = "gene_id"

# Priority of alias types when resolving a symbol from a gene set (lower wins).
ALIAS_PRIORITY = {
    "symbol": 0,
    "hgnc_previous": 1,
    "ncbi_previous": 1,
    "ncbi_synonym": 2,
    "hgnc_alias": 2,
}


def build_universe(
    gene_info: pl.DataFrame,
    mane: pl.DataFrame,
    hgnc: pl.DataFrame,
    old_symbols: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return ``(genes, aliases)``.

    genes: gene_id, symbol, hgnc_id, ncbi_gene_id, ensembl_gene, ensembl_gene_versioned,
    ensembl_source, uniprot_acc, uniprot_ids, mane_refseq_nuc, mane_ensembl_nuc, chromosome,
    description — one row per gene. aliases: gene_id, alias, alias_type.
    """
    dup = gene_info.filter(pl.col("hgnc_id").is_duplicated())
    if dup.height:
        raise MappingError(
            f"gene_info: HGNC ID {dup['hgnc_id'][0]} is on {dup.height} NCBI genes; "
            "the universe needs one gene per HGNC ID"
        )
    mane_sel = mane.select(
        "ncbi_gene_id",
        pl.col("ensembl_gene").alias("mane_ensembl_gene"),
        "ensembl_gene_versioned",
        "mane_refseq_nuc",
        "mane_ensembl_nuc",
    )
    hgnc_sel = hgnc.select(
        "hgnc_id",
        pl.col("uniprot_ids"),
        pl.col("ensembl_gene").alias("hgnc_ensembl_gene"),
    ).unique(subset="hgnc_id", keep="first", maintain_order=True)
    genes = (
        gene_info.join(mane_sel, on="ncbi_gene_id", how="left")
        .join(hgnc_sel, on="hgnc_id", how="left")
        .with_columns(
            pl.coalesce("mane_ensembl_gene", "ensembl_xref", "hgnc_ensembl_gene").alias(
                "ensembl_gene"
            ),
            pl.when(pl.col("mane_ensembl_gene").is_not_null())
            .then(pl.lit("MANE Select"))
            .when(pl.col("ensembl_xref").is_not_null())
            .then(pl.lit("NCBI gene_info"))
            .when(pl.col("hgnc_ensembl_gene").is_not_null())
            .then(pl.lit("HGNC"))
            .otherwise(None)
            .alias("ensembl_source"),
            pl.col("uniprot_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .with_columns(
            pl.col("uniprot_ids").list.first().alias("uniprot_acc"),
            # Every Ensembl gene ID the resources give (older releases of other sources may use
            # a retired one, e.g. s_het keys FUT3 by the gene_info xref, not the MANE ID).
            pl.concat_list("mane_ensembl_gene", "ensembl_xref", "hgnc_ensembl_gene")
            .list.drop_nulls()
            .list.unique(maintain_order=True)
            .alias("ensembl_ids"),
        )
        .select(
            pl.col("hgnc_id").alias(GENE_KEY),
            "symbol",
            "hgnc_id",
            "ncbi_gene_id",
            "ensembl_gene",
            "ensembl_gene_versioned",
            "ensembl_source",
            "ensembl_ids",
            "uniprot_acc",
            "uniprot_ids",
            "mane_refseq_nuc",
            "mane_ensembl_nuc",
            "chromosome",
            "description",
        )
        .sort(GENE_KEY)
    )
    parts = [
        genes.select(
            GENE_KEY, pl.col("symbol").alias("alias"), pl.lit("symbol").alias("alias_type")
        ),
        gene_info.select(
            pl.col("hgnc_id").alias(GENE_KEY),
            pl.col("synonyms").alias("alias"),
            pl.lit("ncbi_synonym").alias("alias_type"),
        ).explode("alias"),
        hgnc.select("hgnc_id", pl.col("prev_symbols").alias("alias"))
        .explode("alias")
        .rename({"hgnc_id": "gene_id"})
        .with_columns(pl.lit("hgnc_previous").alias("alias_type")),
        hgnc.select("hgnc_id", pl.col("alias_symbols").alias("alias"))
        .explode("alias")
        .rename({"hgnc_id": "gene_id"})
        .with_columns(pl.lit("hgnc_alias").alias("alias_type")),
    ]
    if old_symbols is not None:
        parts.append(
            old_symbols.join(gene_info.select("ncbi_gene_id", "hgnc_id"), on="ncbi_gene_id").select(
                pl.col("hgnc_id").alias("gene_id"),
                pl.col("symbol").alias("alias"),
                pl.lit("ncbi_previous").alias("alias_type"),
            )
        )
    universe_ids = genes.select("gene_id")
    aliases = (
        pl.concat([p.select("gene_id", "alias", "alias_type") for p in parts])
        .filter(pl.col("alias").is_not_null() & (pl.col("alias") != ""))
        .join(universe_ids, on="gene_id", how="semi")
        .unique()
        .sort("gene_id", "alias_type", "alias")
    )
    return genes, aliases


def resolve_symbols(symbols: Iterable[str], aliases: pl.DataFrame) -> pl.DataFrame:
    """Map gene-set symbols to gene_id: current symbol, then previous symbols, then synonyms.

    At each priority level exactly one gene must match, else the symbol is ``ambiguous``. Matching
    is exact first, then case-insensitive. Returns symbol, gene_id (null if unmapped), match_type.
    """
    syms = pl.DataFrame({"symbol": list(dict.fromkeys(symbols))}, schema={"symbol": pl.String})
    pri = aliases.with_columns(
        pl.col("alias_type")
        .replace_strict(ALIAS_PRIORITY, return_dtype=pl.Int32)
        .alias("priority"),
        pl.col("alias").str.to_uppercase().alias("alias_upper"),
    )
    results = []
    remaining = syms
    for exact in (True, False):
        left_key = "symbol" if exact else "symbol_upper"
        right_key = "alias" if exact else "alias_upper"
        probe = remaining.with_columns(pl.col("symbol").str.to_uppercase().alias("symbol_upper"))
        hits = probe.join(pri, left_on=left_key, right_on=right_key, how="inner")
        if hits.height == 0:
            continue
        best = hits.group_by("symbol").agg(pl.col("priority").min().alias("best"))
        top = hits.join(best, on="symbol").filter(pl.col("priority") == pl.col("best"))
        agg = top.group_by("symbol").agg(
            pl.col("gene_id").unique().sort().alias("ids"),
            pl.col("alias_type").sort().first().alias("alias_type"),
        )
        mapped = agg.select(
            "symbol",
            pl.when(pl.col("ids").list.len() == 1)
            .then(pl.col("ids").list.first())
            .alias("gene_id"),
            pl.when(pl.col("ids").list.len() == 1)
            .then(pl.col("alias_type") + pl.lit("" if exact else "_case_insensitive"))
            .otherwise(pl.lit("ambiguous"))
            .alias("match_type"),
        )
        results.append(mapped)
        remaining = remaining.join(mapped, on="symbol", how="anti")
    results.append(
        remaining.with_columns(
            pl.lit(None, dtype=pl.String).alias("gene_id"), pl.lit("unmapped").alias("match_type")
        )
    )
    out = pl.concat([r.select("symbol", "gene_id", "match_type") for r in results])
    order = syms.with_row_index("_i")
    return out.join(order, on="symbol").sort("_i").drop("_i")


HGNC_ID = re.compile(r"^HGNC:\d+$", re.IGNORECASE)
ENSEMBL_GENE = re.compile(r"^ENSG\d{11}(\.\d+)?$", re.IGNORECASE)


def resolve_identifiers(
    entries: Iterable[str], genes: pl.DataFrame, aliases: pl.DataFrame
) -> pl.DataFrame:
    """Map user identifiers to gene_id: an HGNC ID (``HGNC:12601``), an Ensembl gene ID (with or
    without version; any Ensembl ID the universe records for the gene), else a symbol through
    ``resolve_symbols`` (current, previous, alias). Returns symbol (the entry), gene_id (null if
    unmapped or ambiguous) and match_type, in input order."""
    entries = list(dict.fromkeys(entries))
    hgnc = set(genes["gene_id"].to_list())
    ens: dict[str, set[str]] = {}
    for gid, ids in genes.select("gene_id", "ensembl_ids").iter_rows():
        for e in ids or []:
            ens.setdefault(e.upper(), set()).add(gid)
    by_id: dict[str, tuple[str | None, str]] = {}
    symbols = []
    for entry in entries:
        if HGNC_ID.match(entry):
            gid = "HGNC:" + entry.split(":", 1)[1]
            by_id[entry] = (gid, "hgnc_id") if gid in hgnc else (None, "unmapped")
        elif ENSEMBL_GENE.match(entry):
            hits = ens.get(entry.split(".", 1)[0].upper(), set())
            if len(hits) == 1:
                by_id[entry] = (next(iter(hits)), "ensembl_gene")
            else:
                by_id[entry] = (None, "ambiguous" if hits else "unmapped")
        else:
            symbols.append(entry)
    sym = resolve_symbols(symbols, aliases)
    found = {r["symbol"]: (r["gene_id"], r["match_type"]) for r in sym.iter_rows(named=True)}
    found.update(by_id)
    return pl.DataFrame(
        {
            "symbol": entries,
            "gene_id": [found[e][0] for e in entries],
            "match_type": [found[e][1] for e in entries],
        },
        schema={"symbol": pl.String, "gene_id": pl.String, "match_type": pl.String},
    )


def resolve_gene_list(
    numbered: Sequence[tuple[int, str]],
    genes: pl.DataFrame,
    aliases: pl.DataFrame,
    where: str,
    tolerated: Collection[str] = (),
) -> pl.DataFrame:
    """``resolve_identifiers`` on the ``(line number, entry)`` pairs of a user gene list.

    An entry that does not resolve to exactly one universe gene (and is not in ``tolerated``)
    raises MappingError naming ``where`` (the config key and file), each line and entry."""
    res = resolve_identifiers([e for _, e in numbered], genes, aliases)
    bad = dict(res.filter(pl.col("gene_id").is_null()).select("symbol", "match_type").iter_rows())
    listed = [f"line {n}: {e} ({bad[e]})" for n, e in numbered if e in bad and e not in tolerated]
    if listed:
        raise MappingError(
            f"{where}: {len(listed)} entr{'y' if len(listed) == 1 else 'ies'} "
            "resolve to no single universe gene (by symbol, previous symbol, alias, HGNC ID or "
            "Ensembl gene ID):\n  " + "\n  ".join(listed)
        )
    return res


def mapping_summary(genes: pl.DataFrame) -> dict[str, float | int]:
    """Counts and rates of each identifier mapping in the universe."""
    n = genes.height
    ens_by_source = genes.group_by("ensembl_source").len().sort("ensembl_source")
    out: dict[str, float | int] = {"genes": n}
    for col in ["ncbi_gene_id", "ensembl_gene", "uniprot_acc", "mane_refseq_nuc"]:
        k = int(genes[col].is_not_null().sum())
        out[f"with_{col}"] = k
        out[f"rate_{col}"] = round(k / n, 6) if n else 0.0
    for src, cnt in ens_by_source.iter_rows():
        out[f"ensembl_from_{(src or 'none').replace(' ', '_')}"] = int(cnt)
    return out


def assert_one_row_per_gene(layer: pl.DataFrame, universe: pl.DataFrame, name: str) -> None:
    """A layer table must have exactly one row per universe gene, no more, no fewer."""
    if layer[GENE_KEY].is_duplicated().any():
        dup = layer.filter(pl.col(GENE_KEY).is_duplicated())[GENE_KEY][0]
        raise MappingError(f"layer '{name}': gene {dup} has more than one row")
    if layer.height != universe.height or layer.join(universe, on=GENE_KEY, how="anti").height:
        raise MappingError(
            f"layer '{name}': {layer.height} rows for {universe.height} universe genes"
        )


def complete_layer(universe: pl.DataFrame, values: pl.DataFrame, name: str) -> pl.DataFrame:
    """Left-join per-gene values onto the universe (genes without values get NULLs) and check it."""
    if values[GENE_KEY].is_duplicated().any():
        dup = values.filter(pl.col(GENE_KEY).is_duplicated())[GENE_KEY][0]
        raise MappingError(f"layer '{name}': gene {dup} aggregated to more than one row")
    out = universe.select(GENE_KEY).join(values, on=GENE_KEY, how="left").sort(GENE_KEY)
    assert_one_row_per_gene(out, universe, name)
    return out
