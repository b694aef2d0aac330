"""Parsers on fixture files cut from the real snapshot, and their failure modes."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import polars as pl
import pytest
from core_fixtures import fixture_lines, paths, write_gz
from usher_pipeline.errors import SourceFormatError
from usher_pipeline.parsers import hpa, ids, misc, ncbi, phenotypes
from usher_pipeline.parsers.ontology import read_go_tsv, read_obo


def test_missing_column_names_source_and_file(tmp_path: Path) -> None:
    # the real gene2go header and first USH2A row, without the Evidence column
    lines = [ln.split("\t") for ln in fixture_lines("gene2go")]
    usher = next(r for r in lines if r[1] == "7399")
    keep = [i for i, c in enumerate(lines[0]) if c != "Evidence"]
    text = "\n".join("\t".join(r[i] for i in keep) for r in (lines[0], usher)) + "\n"
    path = write_gz(tmp_path / "gene2go_human.gz", text)
    with pytest.raises(SourceFormatError) as exc:
        ncbi.read_gene2go(path)
    assert exc.value.source == "gene2go"
    assert exc.value.location == str(path)
    assert "Evidence" in str(exc.value) and str(path) in str(exc.value)


def test_html_page_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "gene2pubmed_human.gz"
    path.write_text("<!DOCTYPE html>\n<html><body>503 Service Unavailable</body></html>\n")
    with pytest.raises(SourceFormatError, match="HTML page") as exc:
        ncbi.read_gene2pubmed(path)
    assert exc.value.source == "gene2pubmed"


def test_truncated_gzip_is_rejected(tmp_path: Path) -> None:
    data = Path(paths()["gene2pubmed"]).read_bytes()
    path = tmp_path / "gene2pubmed_human.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match="truncated") as exc:
        ncbi.read_gene2pubmed(path)
    assert str(path) in str(exc.value)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "genes_to_phenotype.txt.gz", "")
    with pytest.raises(SourceFormatError, match="empty") as exc:
        phenotypes.read_genes_to_phenotype(path)
    assert exc.value.source == "hpo_g2p"


def test_gene_info_keeps_protein_coding_genes_with_hgnc(tmp_path: Path) -> None:
    lines = fixture_lines("gene_info")
    header = lines[0].split("\t")
    n_cols = len(header)

    def row(values: dict[str, str]) -> str:
        return "\t".join(values.get(c.lstrip("#"), "-") for c in header)

    # real 2022 NCBI records (gene_type_human): an ncRNA, and a protein-coding gene without HGNC
    ncrna = row({"tax_id": "9606", "GeneID": "618", "Symbol": "BCYRN1", "chromosome": "2",
                 "description": "brain cytoplasmic RNA 1", "type_of_gene": "ncRNA"})  # fmt: skip
    no_hgnc = row({"tax_id": "9606", "GeneID": "100049579", "Symbol": "OCTN3", "chromosome": "5",
                   "description": "organic cation transporter 3",
                   "type_of_gene": "protein-coding"})  # fmt: skip
    assert len(ncrna.split("\t")) == n_cols
    path = write_gz(tmp_path / "gene_info.gz", "\n".join([*lines, ncrna, no_hgnc]) + "\n")
    df = ncbi.read_gene_info(path)
    assert df.height == len(lines) - 1 == 19
    assert 618 not in df["ncbi_gene_id"].to_list()
    assert 100049579 not in df["ncbi_gene_id"].to_list()
    ush2a = df.filter(pl.col("symbol") == "USH2A").row(0, named=True)
    # 9606 7399 USH2A - RP39|US2|USH2|dJ1111A8.1 MIM:608400|HGNC:HGNC:12601|Ensembl:ENSG00000042781
    assert ush2a["ncbi_gene_id"] == 7399
    assert ush2a["hgnc_id"] == "HGNC:12601"
    assert ush2a["ensembl_xref"] == "ENSG00000042781"
    assert ush2a["synonyms"] == ["RP39", "US2", "USH2", "dJ1111A8.1"]
    assert ush2a["chromosome"] == "1"
    # '-' synonyms become NULL, not ['-']
    assert df.filter(pl.col("symbol") == "GPR36")["synonyms"][0] is None


def test_gene_info_duplicate_gene_id_raises(tmp_path: Path) -> None:
    lines = fixture_lines("gene_info")
    path = write_gz(tmp_path / "gene_info.gz", "\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(SourceFormatError, match="GeneID 1 appears on more than one row"):
        ncbi.read_gene_info(path)


def test_gene2go_drops_not_qualifiers(tmp_path: Path) -> None:
    lines = fixture_lines("gene2go")
    dleu7 = [ln for ln in lines if ln.split("\t")[1] == "220107"]
    assert len(dleu7) == 3  # GO:0008150, GO:0005575, GO:0003674, all ND
    # the same real rows, one with NCBI's NOT qualifier (gene2go's negative statements)
    negated = dleu7[0].split("\t")
    negated[4] = "NOT"
    path = write_gz(
        tmp_path / "gene2go.gz", "\n".join([lines[0], "\t".join(negated), *dleu7[1:]]) + "\n"
    )
    df = ncbi.read_gene2go(path)
    assert sorted(df["go_id"].to_list()) == ["GO:0003674", "GO:0005575"]
    assert df["qualifier"].to_list() == [None, None]
    assert df["evidence"].to_list() == ["ND", "ND"]


def test_gene2go_fixture_counts() -> None:
    df = ncbi.read_gene2go(paths()["gene2go"])
    raw = [ln.split("\t") for ln in fixture_lines("gene2go")[1:]]
    assert df.height == len(raw)
    assert df.filter(pl.col("ncbi_gene_id") == 7399).height == sum(r[1] == "7399" for r in raw)


def test_gene2pubmed_and_xref() -> None:
    pubs = ncbi.read_gene2pubmed(paths()["gene2pubmed"])
    raw = {(ln.split("\t")[1], ln.split("\t")[2]) for ln in fixture_lines("gene2pubmed")[1:]}
    assert pubs.height == len(raw)
    assert pubs.filter(pl.col("ncbi_gene_id") == 2860).height == 0  # GPR36: no links
    pfam = ncbi.read_gene2xref(paths()["gene2pfam"], "Pfam_ID", "gene2pfam")
    # 9606 56 -  -> a row with NULL xref (looked at, no domain)
    assert pfam.filter(pl.col("ncbi_gene_id") == 56)["xref"].to_list() == [None]
    assert sorted(pfam.filter(pl.col("ncbi_gene_id") == 4647)["xref"].to_list()) == [
        "PF00063", "PF00373", "PF00612", "PF00784"]  # fmt: skip


def test_mgi_hmd_parses_empty_mp_lists_and_several_orthologs() -> None:
    hmd = phenotypes.read_mgi_hmd(paths()["mgi_hmd"])
    assert hmd.height == len(fixture_lines("mgi_hmd")) == 19
    a1bg = hmd.filter(pl.col("ncbi_gene_id") == 1).row(0, named=True)
    assert a1bg["mouse_symbol"] == "A1bg" and a1bg["mgi_id"] == "MGI:2152878"
    assert a1bg["mp_ids"] == []
    bmp8b = hmd.filter(pl.col("ncbi_gene_id") == 656).sort("mgi_id")
    assert bmp8b["mouse_symbol"].to_list() == ["Bmp8a", "Bmp8b"]
    assert bmp8b["mp_ids"].to_list()[0] == ["MP:0005379", "MP:0005384", "MP:0005387", "MP:0005389"]
    assert hmd.filter(pl.col("ncbi_gene_id") == 293).height == 0  # SLC25A6: no ortholog


def test_mgi_hmd_rejects_a_header_file(tmp_path: Path) -> None:
    path = write_gz(tmp_path / "hmd.gz", "\n".join(fixture_lines("hpo_g2p")[:3]) + "\n")
    with pytest.raises(SourceFormatError, match="MGI:id"):
        phenotypes.read_mgi_hmd(path)


def test_mp_vocab_and_genes_to_phenotype() -> None:
    vocab = phenotypes.read_mp_vocab(paths()["mgi_mp"])
    assert "MP:0005377" in vocab["mp_id"].to_list()
    g2p = phenotypes.read_genes_to_phenotype(paths()["hpo_g2p"])
    assert set(g2p.columns) == {"ncbi_gene_id", "gene_symbol", "hpo_id", "disease_id"}
    assert 2597 not in g2p["ncbi_gene_id"].to_list()  # GAPDH has no HPO annotation


def test_hpa_cilia_flags_quarantine_and_tolerance(tmp_path: Path) -> None:
    flags, rejected = hpa.read_hpa_cilia_flags(paths()["hpa_cilia_flags"])
    n_rows = len(fixture_lines("hpa_cilia_flags")) - 1
    assert rejected.to_dicts() == [
        {"gene_name": "RAB3GAP1", "line": 1105, "reason": "flag columns are not YES/NO"}
    ]
    assert flags.height == n_rows - 1
    assert "RAB3GAP1" not in flags["gene_name"].to_list()
    cep290 = flags.filter(pl.col("gene_name") == "CEP290").row(0, named=True)
    assert (cep290["hpa_cilia"], cep290["hpa_centrosome"], cep290["hpa_flagella"]) == (
        True, True, False)  # fmt: skip
    # one malformed row in ~1,100 is above a 0.05 % tolerance
    with pytest.raises(SourceFormatError, match="RAB3GAP1") as exc:
        hpa.read_hpa_cilia_flags(paths()["hpa_cilia_flags"], max_rejected_fraction=0.0005)
    assert "line 1105" in str(exc.value)
    # a cut with fewer rows: the same malformed row is above the default 0.1 %
    lines = fixture_lines("hpa_cilia_flags")
    small = [lines[0], *lines[1:50], next(ln for ln in lines if ln.startswith("RAB3GAP1\t"))]
    path = write_gz(tmp_path / "flags.tsv.gz", "\n".join(small) + "\n")
    with pytest.raises(SourceFormatError, match="1 of 50 rows"):
        hpa.read_hpa_cilia_flags(path)


def test_hpa_subcellular_long_table() -> None:
    loc = hpa.read_hpa_subcellular(paths()["hpa_subcellular"])
    # ENSG00000198707 CEP290 Supported: Centrosome
    cep = loc.filter(pl.col("gene_name") == "CEP290")
    assert cep.select("location", "level").to_dicts() == [
        {"location": "Centrosome", "level": "Supported"}
    ]
    gapdh = loc.filter(pl.col("gene_name") == "GAPDH").sort("location")
    assert gapdh["location"].to_list() == ["Cytosol", "Plasma membrane"]
    assert hpa.read_hpa_genes(paths()["hpa_subcellular"]).height == 7


def test_read_hgnc_snapshot_layout() -> None:
    df = ids.read_hgnc(paths()["hgnc"])
    assert df.height == 17
    bbs1 = df.filter(pl.col("symbol") == "BBS1").row(0, named=True)
    assert bbs1 == {
        "hgnc_id": "HGNC:966",
        "symbol": "BBS1",
        "uniprot_ids": ["Q8NFJ9"],
        "ensembl_gene": "ENSG00000174483",
        "ncbi_gene_id": 582,
        "prev_symbols": [],
        "alias_symbols": [],
    }


def test_read_hgnc_complete_set_layout(tmp_path: Path) -> None:
    # HGNC complete-set columns with the real HGNC values of two fixture genes
    # (aliases = their NCBI synonyms in the fixture gene_info)
    text = (
        "hgnc_id\tsymbol\tname\tlocus_group\tlocus_type\talias_symbol\tprev_symbol\t"
        "entrez_id\tensembl_gene_id\tuniprot_ids\n"
        "HGNC:966\tBBS1\tBardet-Biedl syndrome 1\tprotein-coding gene\tgene with protein product"
        "\tBBS2L2\t\t582\tENSG00000174483\tQ8NFJ9\n"
        "HGNC:7606\tMYO7A\tmyosin VIIA\tprotein-coding gene\tgene with protein product"
        '\t"MYOVIIA|MYU7A|NSRD2"\t"USH1B|DFNB2|DFNA11"\t4647\tENSG00000137474\tQ13402\n'
    )
    path = tmp_path / "hgnc_complete_set.txt"
    path.write_text(text)
    df = ids.read_hgnc(path).sort("hgnc_id")
    assert df.to_dicts() == [
        {
            "hgnc_id": "HGNC:7606",
            "symbol": "MYO7A",
            "uniprot_ids": ["Q13402"],
            "ensembl_gene": "ENSG00000137474",
            "ncbi_gene_id": 4647,
            "prev_symbols": ["USH1B", "DFNB2", "DFNA11"],
            "alias_symbols": ["MYOVIIA", "MYU7A", "NSRD2"],
        },
        {
            "hgnc_id": "HGNC:966",
            "symbol": "BBS1",
            "uniprot_ids": ["Q8NFJ9"],
            "ensembl_gene": "ENSG00000174483",
            "ncbi_gene_id": 582,
            "prev_symbols": [],
            "alias_symbols": ["BBS2L2"],
        },
    ]
    broken = tmp_path / "hgnc_broken.txt"
    broken.write_text(text.replace("locus_group", "locus_grp"))
    with pytest.raises(SourceFormatError, match="locus_group"):
        ids.read_hgnc(broken)


def test_read_mane_select_only() -> None:
    mane = ids.read_mane(paths()["mane"])
    fut3 = mane.filter(pl.col("ncbi_gene_id") == 2525).row(0, named=True)
    assert fut3["ensembl_gene"] == "ENSG00000292063"
    assert fut3["ensembl_gene_versioned"] == "ENSG00000292063.1"
    assert fut3["hgnc_id"] == "HGNC:4014"
    # one MANE Select per gene; ABO (28), ESA4 (2090) and GPR36 (2860) have none
    assert mane["ncbi_gene_id"].is_duplicated().sum() == 0
    assert {28, 2090, 2860}.isdisjoint(mane["ncbi_gene_id"].to_list())


def test_read_shet_and_gene_sets() -> None:
    shet = misc.read_shet(paths()["shet"])
    actb = shet.filter(pl.col("symbol") == "ACTB").row(0, named=True)
    assert actb["ensembl_gene"] == "ENSG00000075624"
    assert actb["s_het"] == pytest.approx(0.366119)
    usher = misc.read_gene_set(paths()["usher_genes"], "usher_genes")
    # one row per gene-disease pair upstream; de-duplicated symbols
    assert usher["symbol"].is_duplicated().sum() == 0
    assert {"USH2A", "MYO7A", "USH1C", "CDH23"} <= set(usher["symbol"].to_list())
    scgs1 = misc.read_gene_set(paths()["scgs_v1"], "scgs_v1")
    assert "ensembl_gene" in scgs1.columns


def test_go_tsv_and_unknown_edge_type(tmp_path: Path) -> None:
    go = read_go_tsv(paths()["go_terms"], paths()["go_edges"])
    assert go.terms["GO:0005929"]["name"] == "cilium"
    assert go.terms["GO:0005929"]["namespace"] == "CC"
    assert "GO:0032391" in go.descendants("GO:0005929")  # photoreceptor connecting cilium
    edges = fixture_lines("go_edges")
    bad = edges[1].split("\t")
    bad[2] = "occurs_near"
    path = write_gz(tmp_path / "go_edges.tsv.gz", "\n".join([edges[0], "\t".join(bad)]) + "\n")
    with pytest.raises(SourceFormatError, match="occurs_near"):
        read_go_tsv(paths()["go_terms"], path)


def test_obo_header_and_truncation(tmp_path: Path) -> None:
    hpo = read_obo(paths()["hpo_obo"], "hpo_obo")
    assert hpo.version == "hp/releases/2025-01-16"
    assert hpo.terms["HP:0000365"]["name"] == "Hearing impairment"
    not_obo = tmp_path / "hp.obo"
    shutil.copy(paths()["usher_genes"], not_obo)
    with pytest.raises(SourceFormatError, match="not an OBO file"):
        read_obo(not_obo, "hpo_obo")
    with gzip.open(paths()["hpo_obo"], "rt") as fh:
        header = fh.read().split("\n[Term]")[0]
    only_header = tmp_path / "hp_header.obo"
    only_header.write_text(header + "\n")
    with pytest.raises(SourceFormatError, match="no \\[Term\\] stanzas"):
        read_obo(only_header, "hpo_obo")
