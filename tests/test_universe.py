"""The gene universe and symbol resolution on the fixture snapshot."""

from __future__ import annotations

import polars as pl
import pytest
from core_fixtures import aliases, fixture_lines, gene_id, genes, paths
from usher_pipeline import steps
from usher_pipeline.errors import MappingError
from usher_pipeline.parsers import ids, ncbi
from usher_pipeline.universe import build_universe, complete_layer, resolve_symbols


def test_one_row_per_gene_keyed_by_hgnc_id() -> None:
    g = genes()
    assert g.height == len(fixture_lines("gene_info")) - 1 == 19
    assert g["gene_id"].is_duplicated().sum() == 0
    assert (g["gene_id"] == g["hgnc_id"]).all()
    assert g["gene_id"].to_list() == sorted(g["gene_id"].to_list())
    assert gene_id("USH2A") == "HGNC:12601"
    assert gene_id("MYO7A") == "HGNC:7606"


def test_mane_select_ensembl_preferred_over_gene_info_xref() -> None:
    g = genes().filter(pl.col("symbol") == "FUT3").row(0, named=True)
    # gene_info: Ensembl:ENSG00000171124; MANE Select: ENSG00000292063.1
    assert g["ensembl_gene"] == "ENSG00000292063"
    assert g["ensembl_source"] == "MANE Select"
    assert g["ensembl_gene_versioned"] == "ENSG00000292063.1"


def test_ensembl_fallbacks_and_missing_ids() -> None:
    g = genes()
    abo = g.filter(pl.col("symbol") == "ABO").row(0, named=True)
    assert (abo["ensembl_gene"], abo["ensembl_source"]) == ("ENSG00000175164", "NCBI gene_info")
    assert abo["mane_refseq_nuc"] is None
    esa4 = g.filter(pl.col("symbol") == "ESA4").row(0, named=True)
    assert esa4["ensembl_gene"] is None and esa4["ensembl_source"] is None
    assert esa4["uniprot_ids"] == [] and esa4["uniprot_acc"] is None
    ush2a = g.filter(pl.col("symbol") == "USH2A").row(0, named=True)
    assert ush2a["uniprot_acc"] == "O75445"
    assert ush2a["mane_refseq_nuc"].startswith("NM_")


def test_hgnc_ensembl_used_when_no_other_source() -> None:
    gene_info = ncbi.read_gene_info(paths()["gene_info"])
    hgnc = ids.read_hgnc(paths()["hgnc"])
    mane = ids.read_mane(paths()["mane"]).filter(pl.col("ncbi_gene_id") != 582)
    no_xref = gene_info.with_columns(
        pl.when(pl.col("ncbi_gene_id") == 582).then(None).otherwise(pl.col("ensembl_xref"))
        .alias("ensembl_xref")
    )  # fmt: skip
    g, _ = build_universe(no_xref, mane, hgnc)
    bbs1 = g.filter(pl.col("symbol") == "BBS1").row(0, named=True)
    assert (bbs1["ensembl_gene"], bbs1["ensembl_source"]) == ("ENSG00000174483", "HGNC")


def test_duplicate_hgnc_id_raises() -> None:
    gene_info = ncbi.read_gene_info(paths()["gene_info"])
    hgnc = ids.read_hgnc(paths()["hgnc"])
    mane = ids.read_mane(paths()["mane"])
    dup = gene_info.with_columns(
        pl.when(pl.col("symbol") == "USH1C").then(pl.lit("HGNC:12601")).otherwise("hgnc_id")
        .alias("hgnc_id")
    )  # fmt: skip
    with pytest.raises(MappingError, match="HGNC:12601 is on 2 NCBI genes"):
        build_universe(dup, mane, hgnc)


def test_aliases_from_every_resource() -> None:
    a = aliases().filter(pl.col("gene_id") == gene_id("MYO7A"))
    by_type = {t: sorted(a.filter(pl.col("alias_type") == t)["alias"]) for t in a["alias_type"]}
    assert by_type["symbol"] == ["MYO7A"]
    assert by_type["ncbi_synonym"] == ["DFNA11", "DFNB2", "MYOVIIA", "MYU7A", "NSRD2", "USH1B"]
    assert by_type["ncbi_previous"] == ["MYO7A"]


def _alias_table(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["gene_id", "alias", "alias_type"], orient="row")


def test_resolve_symbols_priority_ambiguity_and_case() -> None:
    # real symbols and synonyms of fixture genes, arranged to collide
    al = _alias_table(
        [
            ("HGNC:7606", "MYO7A", "symbol"),
            ("HGNC:7606", "USH1B", "ncbi_synonym"),
            ("HGNC:12597", "USH1C", "symbol"),
            ("HGNC:12597", "USH1B", "hgnc_previous"),  # previous beats synonym
            ("HGNC:12601", "USH2A", "symbol"),
            ("HGNC:12601", "USH2", "ncbi_synonym"),
            ("HGNC:13733", "USH2", "ncbi_synonym"),  # two synonyms: ambiguous
            ("HGNC:13733", "CDH23", "symbol"),
            ("HGNC:29021", "CDH23", "ncbi_synonym"),  # current symbol beats synonym
            ("HGNC:29021", "CEP290", "symbol"),
        ]
    )
    res = resolve_symbols(["USH1B", "USH2", "CDH23", "cep290", "NOPE", "USH2A"], al)
    assert res.to_dicts() == [
        {"symbol": "USH1B", "gene_id": "HGNC:12597", "match_type": "hgnc_previous"},
        {"symbol": "USH2", "gene_id": None, "match_type": "ambiguous"},
        {"symbol": "CDH23", "gene_id": "HGNC:13733", "match_type": "symbol"},
        {"symbol": "cep290", "gene_id": "HGNC:29021", "match_type": "symbol_case_insensitive"},
        {"symbol": "NOPE", "gene_id": None, "match_type": "unmapped"},
        {"symbol": "USH2A", "gene_id": "HGNC:12601", "match_type": "symbol"},
    ]


def test_resolve_symbols_on_fixture_aliases() -> None:
    res = resolve_symbols(["BBS2L2", "ush1c", "USH1D", "LCA10"], aliases())
    assert res["gene_id"].to_list() == ["HGNC:966", "HGNC:12597", "HGNC:13733", "HGNC:29021"]
    assert res["match_type"].to_list() == [
        "ncbi_synonym", "symbol_case_insensitive", "ncbi_synonym", "ncbi_synonym"]  # fmt: skip


def test_gene_subset_restricts_and_rejects_unknown_symbols() -> None:
    g, a, summary = steps.universe_step(paths(), ["USH2A", "BBS2L2"])
    assert sorted(g["symbol"].to_list()) == ["BBS1", "USH2A"]
    assert set(a["gene_id"].to_list()) == {"HGNC:966", "HGNC:12601"}
    assert summary["subset_genes"] == 2 and summary["genes"] == 19
    with pytest.raises(MappingError, match="NOT_A_GENE"):
        steps.universe_step(paths(), ["USH2A", "NOT_A_GENE"])


def test_mapping_summary_counts() -> None:
    _, _, s = steps.universe_step(paths())
    # 17 genes with an Ensembl ID from MANE (16) or gene_info (ABO); ESA4 and GPR36 have none
    assert s["with_ensembl_gene"] == 17
    assert s["ensembl_from_MANE_Select"] == 16
    assert s["ensembl_from_NCBI_gene_info"] == 1
    assert s["ensembl_from_none"] == 2
    assert s["with_uniprot_acc"] == 17


def test_complete_layer_fills_nulls_and_rejects_duplicates() -> None:
    u = genes()
    vals = pl.DataFrame({"gene_id": ["HGNC:12601"], "x_score": [0.5]})
    out = complete_layer(u, vals, "x")
    assert out.height == 19
    assert out["x_score"].null_count() == 18
    dup = pl.DataFrame({"gene_id": ["HGNC:12601", "HGNC:12601"], "x_score": [0.5, 0.6]})
    with pytest.raises(MappingError, match="gene HGNC:12601 aggregated to more than one row"):
        complete_layer(u, dup, "x")
