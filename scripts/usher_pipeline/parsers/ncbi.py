"""NCBI Gene files: gene_info, gene2go, gene2pubmed, gene2<xref> (pfam/prosite/ensembl/uniprot)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import dash_to_null, read_tsv, to_int

HUMAN_TAX_ID = 9606
GENE_INFO_COLUMNS = ["tax_id", "GeneID", "Symbol", "Synonyms", "dbXrefs", "chromosome",
                     "description", "type_of_gene"]  # fmt: skip


def read_gene_info(path: str | Path, source: str = "gene_info") -> pl.DataFrame:
    """Human protein-coding genes with an HGNC xref from an NCBI gene_info file.

    Columns: ncbi_gene_id, symbol, hgnc_id, ensembl_xref, synonyms (list), chromosome, description.
    Works on the full upstream file (all types, all of Mammalia) and on the filtered snapshot copy.
    """
    df = read_tsv(path, source, GENE_INFO_COLUMNS)
    df = to_int(df, "tax_id", source, path)
    df = df.filter(
        (pl.col("tax_id") == HUMAN_TAX_ID) & (pl.col("type_of_gene") == "protein-coding")
    )
    df = to_int(df, "GeneID", source, path)
    out = df.select(
        pl.col("GeneID").alias("ncbi_gene_id"),
        pl.col("Symbol").alias("symbol"),
        pl.col("dbXrefs").str.extract(r"HGNC:(HGNC:\d+)", 1).alias("hgnc_id"),
        pl.col("dbXrefs").str.extract(r"Ensembl:(ENSG\d+)", 1).alias("ensembl_xref"),
        dash_to_null(pl.col("Synonyms")).str.split("|").alias("synonyms"),
        dash_to_null(pl.col("chromosome")).alias("chromosome"),
        dash_to_null(pl.col("description")).alias("description"),
    ).filter(pl.col("hgnc_id").is_not_null())
    dup = out.filter(pl.col("ncbi_gene_id").is_duplicated())
    if dup.height:
        raise SourceFormatError(
            source, str(path), f"GeneID {dup['ncbi_gene_id'][0]} appears on more than one row"
        )
    return out


def read_gene2go(path: str | Path, source: str = "gene2go") -> pl.DataFrame:
    """GO annotations of human genes: ncbi_gene_id, go_id, evidence, qualifier, category.

    Annotations whose qualifier contains NOT (negative statements) are dropped: they say the gene
    is *not* found there.
    """
    cols = ["tax_id", "GeneID", "GO_ID", "Evidence", "Qualifier", "Category"]
    df = read_tsv(path, source, cols)
    df = to_int(df, "tax_id", source, path).filter(pl.col("tax_id") == HUMAN_TAX_ID)
    df = to_int(df, "GeneID", source, path)
    bad = df.filter(~pl.col("GO_ID").str.contains(r"^GO:\d{7}$"))
    if bad.height:
        raise SourceFormatError(source, str(path), f"malformed GO_ID {bad['GO_ID'][0]!r}")
    return df.select(
        pl.col("GeneID").alias("ncbi_gene_id"),
        pl.col("GO_ID").alias("go_id"),
        pl.col("Evidence").alias("evidence"),
        dash_to_null(pl.col("Qualifier")).alias("qualifier"),
        pl.col("Category").alias("category"),
    ).filter(~pl.col("qualifier").fill_null("").str.contains("NOT"))


def read_gene2pubmed(path: str | Path, source: str = "gene2pubmed") -> pl.DataFrame:
    """Gene–publication links of human genes: ncbi_gene_id, pmid (duplicates removed)."""
    df = read_tsv(path, source, ["tax_id", "GeneID", "PubMed_ID"])
    df = to_int(df, "tax_id", source, path).filter(pl.col("tax_id") == HUMAN_TAX_ID)
    df = to_int(to_int(df, "GeneID", source, path), "PubMed_ID", source, path)
    return df.select(
        pl.col("GeneID").alias("ncbi_gene_id"), pl.col("PubMed_ID").alias("pmid")
    ).unique()


def read_gene2xref(path: str | Path, column: str, source: str) -> pl.DataFrame:
    """A GeneID → identifier table (gene2pfam, gene2prosite, gene2ensembl, gene2uniprot).

    Returns ncbi_gene_id, xref (null where the upstream row is '-': the gene was looked at and
    has none).
    """
    df = read_tsv(path, source, ["tax_id", "GeneID", column])
    df = to_int(df, "tax_id", source, path).filter(pl.col("tax_id") == HUMAN_TAX_ID)
    df = to_int(df, "GeneID", source, path)
    return df.select(
        pl.col("GeneID").alias("ncbi_gene_id"), dash_to_null(pl.col(column)).alias("xref")
    ).unique()


def read_gene_type(path: str | Path, source: str = "gene_type") -> pl.DataFrame:
    """NCBI GeneID → symbol of an older release (used as previous symbols): ncbi_gene_id, symbol."""
    df = read_tsv(path, source, ["tax_id", "GeneID", "Symbol", "type_of_gene"])
    df = to_int(df, "GeneID", source, path)
    return (
        df.filter(pl.col("type_of_gene") == "protein-coding")
        .select(pl.col("GeneID").alias("ncbi_gene_id"), pl.col("Symbol").alias("symbol"))
        .unique()
    )
