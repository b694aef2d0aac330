"""Parsers of the cilia evidence sources (parsers/cilia.py) on the fixture snapshot, and their
failure modes.

Expected values were read by hand from the rows of the real snapshot files (the fixture files are
row subsets of them, cut by tests/fixtures/make_fixtures.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from core_fixtures import fixture_lines, paths, write_gz
from usher_pipeline.errors import SourceFormatError
from usher_pipeline.parsers import cilia

USH2A, MYO7A, USH1C, CDH23, IFT88, GAPDH = 7399, 4647, 10083, 64072, 8100, 2597


def edges() -> pl.DataFrame:
    return cilia.read_string_edges(paths()["string_network"])


def neighbours(df: pl.DataFrame, gid: int) -> dict[int, int]:
    """Neighbour GeneID -> combined score of one gene."""
    out = {}
    for a, b, score in df.iter_rows():
        if gid in (a, b):
            out[b if a == gid else a] = score
    return out


def studies() -> pl.DataFrame:
    return cilia.read_ht_studies(paths()["ht_studies"])


def study_genes() -> pl.DataFrame:
    return cilia.read_ht_study_genes(paths()["ht_study_genes"])


# --- STRING -------------------------------------------------------------------------------------


def test_string_edges_scores_and_normalised_pairs() -> None:
    df = edges()
    assert df.columns == ["ncbi_gene_id_1", "ncbi_gene_id_2", "combined_score"]
    assert df.height == len(fixture_lines("string_network")) - 1 == 83
    assert (df["ncbi_gene_id_1"] < df["ncbi_gene_id_2"]).all()
    # file row '4647 10083 ... 986' (MYO7A - USH1C)
    assert neighbours(df, MYO7A)[USH1C] == 986
    # file row '64072 10083 ... 964' (CDH23 listed first) comes out as (10083, 64072)
    hit = df.filter((pl.col("ncbi_gene_id_1") == USH1C) & (pl.col("ncbi_gene_id_2") == CDH23))
    assert hit["combined_score"].to_list() == [964]
    # FUT3 - ABO: file row '2525 28 ... 902'
    assert df.filter(pl.col("ncbi_gene_id_1") == 28)["combined_score"].to_list() == [902]


def test_string_known_neighbours_match_the_full_file() -> None:
    df = edges()
    # counted in the full snapshot file (zcat | awk '$1==g || $2==g'): USH2A 8, IFT88 24, GAPDH 48
    assert neighbours(df, USH2A) == {
        3915: 452,
        3918: 452,
        USH1C: 678,
        10319: 452,
        25861: 735,
        55591: 735,
        79955: 804,
        84059: 720,
    }
    assert len(neighbours(df, IFT88)) == 24
    assert neighbours(df, IFT88)[3320] == 703
    assert len(neighbours(df, GAPDH)) == 48
    assert neighbours(df, GAPDH)[2821] == 949
    # GPR36, ESA4, DLEU7: no STRING edge at all
    for gid in (2860, 2090, 220107):
        assert neighbours(df, gid) == {}


def test_string_self_edges_dropped_and_reversed_pairs_collapse(tmp_path: Path) -> None:
    header, *rows = fixture_lines("string_network")
    myo7a_ush1c = next(r for r in rows if r.startswith(f"{MYO7A}\t{USH1C}\t"))
    cols = myo7a_ush1c.split("\t")
    reversed_lower = "\t".join([cols[1], cols[0], *cols[2:-1], "700"])
    self_edge = "\t".join([cols[0], cols[0], *cols[2:]])
    path = write_gz(
        tmp_path / "string.tsv.gz",
        "\n".join([header, myo7a_ush1c, reversed_lower, self_edge]) + "\n",
    )
    df = cilia.read_string_edges(path)
    assert df.rows() == [(MYO7A, USH1C, 986)]  # kept once, the larger score


# --- ciliary high-throughput studies -------------------------------------------------------------


def test_ht_studies_whole_list() -> None:
    df = studies()
    assert df.columns == ["study", "study_number", "year", "pmid", "species", "title"]
    assert df.height == 56
    numbers = set(df["study_number"].to_list())
    assert numbers == set(range(1, 60)) - {25, 34, 36}
    breslow = df.filter(pl.col("study_number") == 58).row(0, named=True)
    assert breslow["study"] == "Breslow et al."
    assert (breslow["year"], breslow["pmid"], breslow["species"]) == (
        2018,
        "29459677",
        "Mus musculus",
    )
    assert df.filter(pl.col("study_number") == 59)["study"].to_list() == ["Blacque et al. (SAGE)"]
    assert df.filter(pl.col("study_number") == 56)["study"].to_list() == ["May et al."]
    # 'Mus musculus,  Homo sapiens' (two spaces) and 'Rattus norvegicus ' (trailing space)
    assert df.filter(pl.col("study_number") == 31)["species"][0] == "Mus musculus, Homo sapiens"
    assert df.filter(pl.col("study_number") == 19)["species"][0] == "Rattus norvegicus"


def test_ht_study_genes_drops_na_and_duplicates() -> None:
    df = study_genes()
    assert df.columns == ["symbol", "publication", "pub_number"]
    assert "NA" not in df["symbol"].to_list()
    # 133 data rows: 2 'NA' rows and 6 repeats (ACTB/Andersen, ACTB/Nakachi, CEP290/Andersen
    # twice, GAPDH/Andersen, SLC25A6/Andersen) removed
    assert len(fixture_lines("ht_study_genes")) - 1 == 133
    assert df.height == 133 - 2 - 6
    actb = df.filter(pl.col("symbol") == "ACTB")
    assert actb["pub_number"].to_list() == [6, 9, 27, 28, 29, 32, 39, 40, 49]
    assert actb.filter(pl.col("pub_number") == 6)["publication"][0] == "Hannah Müller et al."
    assert df.filter(pl.col("symbol") == "CNGB3")["pub_number"].to_list() == [13, 15]
    assert df.filter(pl.col("symbol") == "USH2A")["pub_number"].to_list() == [
        13,
        15,
        23,
        24,
        28,
        30,
    ]
    breslow = df.filter(pl.col("pub_number") == 25)
    assert set(breslow["publication"]) == {"David K. Breslow et al."}
    assert breslow["symbol"].to_list() == [
        "AHI1",
        "ANKS6",
        "ARL13B",
        "ARL6",
        "BBS1",
        "CEP290",
        "IFT88",
    ]
    sage = df.filter(pl.col("pub_number") == 56)
    assert set(sage["publication"]) == {"Blacque et al._sage"}
    assert sage["symbol"].to_list() == ["ADAMDEC1", "ADAMTSL3", "AGO3", "ANXA5", "BBS1", "IFT88"]


def test_link_study_numbers_reconciles_the_two_renumbered_studies() -> None:
    linked = cilia.link_study_numbers(study_genes(), studies())
    assert linked.columns == ["publication", "pub_number", "study_number"]
    by_pub = {p: (n, s) for p, n, s in linked.iter_rows()}
    assert by_pub["David K. Breslow et al."] == (25, 58)
    assert by_pub["Blacque et al._sage"] == (56, 59)  # not 56 = May et al. 2021
    assert by_pub["Blacque et al._xbox"] == (54, 54)
    assert by_pub["Hannah Müller et al."] == (6, 6)  # 'Muller et al.' in the study list
    assert by_pub["Monika-Abedin-Sigg et al."] == (30, 30)  # 'Sigg et al.'
    assert by_pub["Fritz-Laylin L.K. et Cande"] == (49, 49)
    changed = linked.filter(pl.col("pub_number") != pl.col("study_number"))
    assert changed.height == 2
    assert linked.height == study_genes()["publication"].n_unique() == 39
    assert not linked["study_number"].is_duplicated().any()


def test_link_study_numbers_fails_on_an_unlinkable_publication() -> None:
    genes = study_genes()
    # the study list without Breslow 2018: gene-table number 25 has nothing to go to
    with pytest.raises(SourceFormatError, match="David K. Breslow et al.") as exc:
        cilia.link_study_numbers(genes, studies().filter(pl.col("study_number") != 58))
    assert exc.value.source == "ht_study_genes"
    assert "number 25" in str(exc.value)
    # a publication whose number is taken by another study and whose name matches none
    extra = pl.DataFrame(
        {"symbol": ["IFT88"], "publication": ["Smith J. et al."], "pub_number": [9]}
    )
    with pytest.raises(SourceFormatError, match="Smith J. et al."):
        cilia.link_study_numbers(pl.concat([genes, extra]), studies())


def test_link_study_numbers_fails_on_two_candidates() -> None:
    # two unused study numbers both named Blacque: the SAGE entry cannot be placed
    twin = (
        studies()
        .filter(pl.col("study_number") == 59)
        .with_columns(study_number=pl.lit(60, dtype=pl.Int64))
    )
    with pytest.raises(SourceFormatError, match="Blacque et al._sage"):
        cilia.link_study_numbers(study_genes(), pl.concat([studies(), twin]))


# --- retina single-cell markers ------------------------------------------------------------------


def retina() -> pl.DataFrame:
    return cilia.read_retina_markers(paths()["retina_scrna_markers"])


def test_retina_rod_and_cone_marker_values() -> None:
    df = retina()
    assert df.columns == [
        "ensembl_gene",
        "symbol",
        "cell_type",
        "avg_log2fc",
        "pct_in",
        "pct_out",
        "p_val_adj",
    ]
    assert df.height == len(fixture_lines("retina_scrna_markers")) - 1 == 26
    rho = df.filter(pl.col("symbol") == "RHO").row(0, named=True)
    assert rho == {
        "ensembl_gene": "ENSG00000163914",
        "symbol": "RHO",
        "cell_type": "Retinal rod cells",
        "avg_log2fc": pytest.approx(1.03524890385093),
        "pct_in": pytest.approx(0.997),
        "pct_out": pytest.approx(0.59),
        "p_val_adj": 0.0,
    }
    cngb3 = df.filter(pl.col("symbol") == "CNGB3").row(0, named=True)
    assert cngb3["cell_type"] == "Retinal cone cells"
    assert (cngb3["pct_in"], cngb3["pct_out"]) == (pytest.approx(0.783), pytest.approx(0.008))
    ush2a = df.filter(pl.col("symbol") == "USH2A").row(0, named=True)
    assert ush2a["p_val_adj"] == pytest.approx(4.02602475667094e-20)
    rods = df.filter(pl.col("cell_type") == "Retinal rod cells")
    assert rods["symbol"].to_list() == ["RHO", None, None]


def test_retina_make_unique_suffix_cut_and_na_symbols_null() -> None:
    df = retina()
    actb = df.filter(pl.col("symbol") == "ACTB")
    # upstream: ENSG00000075624, then ENSG000000756241 ... ENSG000000756245 (R make.unique)
    assert actb["ensembl_gene"].to_list() == ["ENSG00000075624"] * 6
    assert actb["cell_type"].to_list() == [
        "Mueller cells",
        "ON\u2212bipolar cells",  # upstream writes a Unicode minus sign
        "Retinal ganglion cells",
        "Microglial cells",
        "Amacrine cells",
        "Native cells",
    ]
    assert set(df.filter(pl.col("symbol") == "RAB3GAP1")["ensembl_gene"]) == {"ENSG00000115839"}
    assert df["ensembl_gene"].str.len_chars().unique().to_list() == [15]
    # gene_name NA (unquoted R NA) or "" -> null symbol; the Ensembl ID stays
    sod2 = df.filter(pl.col("ensembl_gene") == "ENSG00000112096")
    assert sod2.height == 4 and sod2["symbol"].null_count() == 4
    assert df["symbol"].null_count() == 10
    assert "NA" not in df["symbol"].drop_nulls().to_list()


# --- Nevers 2017 phylogenetic profiles -----------------------------------------------------------


def test_nevers_profiles_and_species_groups() -> None:
    profiles, groups = cilia.read_nevers(paths()["nevers_phylogeny"])
    assert profiles.columns == ["symbol", "species_idx"]
    assert "Gene Name" not in profiles["symbol"].to_list()
    assert profiles.height == 19  # 21 kept symbols; GPR36 and ESA4 are not in Nevers 2017
    assert not {"GPR36", "ESA4"} & set(profiles["symbol"])
    ush2a = profiles.filter(pl.col("symbol") == "USH2A")["species_idx"][0].to_list()
    assert ush2a == [60, 61, 62, 64, 65, 66, 67, 68, *range(70, 82)]
    assert len(profiles.filter(pl.col("symbol") == "IFT88")["species_idx"][0]) == 61
    assert len(profiles.filter(pl.col("symbol") == "RHO")["species_idx"][0]) == 18
    species = groups["species"]
    assert len(species) == 100
    assert species[0] == "Trichomonas vaginalis" and species[78] == "Homo sapiens"
    assert (len(groups["ciliated"]), len(groups["non_ciliated"]), len(groups["partial"])) == (
        64,
        30,
        6,
    )
    assert groups["partial"] == {11, 13, 14, 27, 41, 60}
    assert species[60] == "Capsaspora owczarzaki (strain ATCC 30864)"
    assert not groups["ciliated"] & groups["non_ciliated"]
    assert groups["ciliated"] | groups["non_ciliated"] | groups["partial"] == set(range(100))
    # USH2A: 19 ciliated species and Capsaspora (partial); no non-ciliated species
    assert len(set(ush2a) & groups["ciliated"]) == 19
    assert set(ush2a) & groups["partial"] == {60}


# --- Reactome ------------------------------------------------------------------------------------


def reactome() -> pl.DataFrame:
    return cilia.read_reactome_gmt(paths()["reactome_gmt"])


def test_reactome_pathway_members() -> None:
    df = reactome()
    assert df.columns == ["pathway", "pathway_id", "symbol"]
    assert df["pathway_id"].n_unique() == len(fixture_lines("reactome_gmt")) == 124
    bbsome = df.filter(pl.col("pathway_id") == "R-HSA-5620922")
    assert set(bbsome["pathway"]) == {"BBSome mediated cargo targeting to cilium"}
    assert bbsome["symbol"].to_list() == [
        "ARL6", "BBIP1", "BBS1", "BBS10", "BBS12", "BBS2", "BBS4", "BBS5", "BBS7", "BBS9",
        "CCT2", "CCT3", "CCT4", "CCT5", "CCT8", "LZTFL1", "MCHR1", "MKKS", "RAB3IP", "SMO",
        "SSTR3", "TCP1", "TTC8",
    ]  # fmt: skip
    sizes = df.group_by("pathway_id").len()
    size = dict(sizes.iter_rows())
    assert size["R-HSA-5617833"] == 187  # Cilium Assembly
    assert size["R-HSA-5620924"] == 41  # Intraflagellar transport
    assert size["R-HSA-2514856"] == 34  # The phototransduction cascade
    ift = set(df.filter(pl.col("pathway_id") == "R-HSA-5620924")["symbol"])
    assert {"IFT88", "IFT172", "WDR35", "DYNC2H1"} <= ift
    assert "RHO" in set(df.filter(pl.col("pathway_id") == "R-HSA-2187338")["symbol"])
    assert df.filter(pl.col("symbol") == "USH2A").height == 0  # in no Reactome pathway
    assert df.filter(pl.col("symbol") == "GAPDH")["pathway_id"].n_unique() == 5


# --- bad input -----------------------------------------------------------------------------------


def _nevers_profiles(path: Path) -> pl.DataFrame:
    return cilia.read_nevers(path)[0]


PARSERS: dict[str, Callable[[Path], object]] = {
    "string_network": cilia.read_string_edges,
    "ht_studies": cilia.read_ht_studies,
    "ht_study_genes": cilia.read_ht_study_genes,
    "retina_scrna_markers": cilia.read_retina_markers,
    "nevers_phylogeny": _nevers_profiles,
    "reactome_gmt": cilia.read_reactome_gmt,
}


def _fails(key: str, path: Path, match: str) -> SourceFormatError:
    with pytest.raises(SourceFormatError, match=match) as exc:
        PARSERS[key](path)
    assert exc.value.source == key
    assert str(path) in str(exc.value)
    return exc.value


@pytest.mark.parametrize("key", sorted(PARSERS))
def test_fixture_file_parses(key: str) -> None:
    """The control for the bad-input tests below: the untouched fixture file is accepted."""
    PARSERS[key](Path(paths()[key]))


@pytest.mark.parametrize("key", sorted(PARSERS))
def test_truncated_gzip_is_rejected(key: str, tmp_path: Path) -> None:
    data = Path(paths()[key]).read_bytes()
    path = tmp_path / Path(paths()[key]).name
    path.write_bytes(data[: len(data) // 2])
    _fails(key, path, "truncated")


@pytest.mark.parametrize("key", sorted(PARSERS))
def test_html_page_is_rejected(key: str, tmp_path: Path) -> None:
    path = write_gz(
        tmp_path / Path(paths()[key]).name,
        "<!DOCTYPE html>\n<html><head><title>Not Found</title></head><body>404</body></html>\n",
    )
    _fails(key, path, "HTML page")


def _rewrite(tmp_path: Path, key: str, edit: Callable[[list[str]], list[str]]) -> Path:
    """The fixture file of ``key`` with its lines edited, gzipped under the same name."""
    lines = edit(fixture_lines(key))
    return write_gz(tmp_path / Path(paths()[key]).name, "\n".join(lines) + "\n")


def _nevers_edit(edit: Callable[[dict], None]) -> Callable[[list[str]], list[str]]:
    def run(lines: list[str]) -> list[str]:
        data = json.loads("\n".join(lines))
        edit(data)
        return [json.dumps(data)]

    return run


def _set_gene(data: dict, symbol: str, value: object) -> None:
    data["genes"][symbol] = value


WRONG_HEADER = {
    # STRING's own download names proteins, not GeneIDs
    "string_network": lambda ls: [
        ls[0].replace("entrez_1", "protein1").replace("entrez_2", "protein2"),
        *ls[1:],
    ],
    "ht_studies": lambda ls: [ls[0].replace("study_number", "number"), *ls[1:]],
    # the gene table written with tabs
    "ht_study_genes": lambda ls: [ls[0].replace("|", "\t"), *ls[1:]],
    # Seurat < 4 writes avg_logFC (natural log)
    "retina_scrna_markers": lambda ls: [ls[0].replace("avg_log2FC", "avg_logFC"), *ls[1:]],
    "nevers_phylogeny": _nevers_edit(lambda d: d.pop("organism_groups")),
    # a header line in front of the GMT lines
    "reactome_gmt": lambda ls: ["pathway\tid\tgenes", *ls],
}
WRONG_HEADER_MATCH = {
    "string_network": "entrez_1",
    "ht_studies": "study_number",
    "ht_study_genes": "header",
    "retina_scrna_markers": "avg_log2FC",
    "nevers_phylogeny": "organism_groups",
    "reactome_gmt": "not a GMT line",
}


@pytest.mark.parametrize("key", sorted(PARSERS))
def test_wrong_header_is_rejected(key: str, tmp_path: Path) -> None:
    path = _rewrite(tmp_path, key, WRONG_HEADER[key])
    _fails(key, path, WRONG_HEADER_MATCH[key])


def _replace_in_line(i: int, old: str, new: str) -> Callable[[list[str]], list[str]]:
    def run(lines: list[str]) -> list[str]:
        assert old in lines[i], (i, old)
        return [*lines[:i], lines[i].replace(old, new, 1), *lines[i + 1 :]]

    return run


NON_NUMERIC = {
    # STRING's own files give 0-1 probabilities in some releases; a score must be an integer
    "string_network": (_replace_in_line(1, "\t703", "\t0.703"), "non-integer value '0.703'"),
    "ht_studies": (_replace_in_line(1, "\t1\t2007", "\tone\t2007"), "non-integer value 'one'"),
    "ht_study_genes": (_replace_in_line(1, "|40", "|forty"), "non-integer value 'forty'"),
    "retina_scrna_markers": (_replace_in_line(1, ",0.997,", ",n/a,"), "non-numeric"),
    "nevers_phylogeny": (
        _nevers_edit(lambda d: _set_gene(d, "RHO", {"g": "RHO", "s": ["63"]})),
        "RHO",
    ),
    # the species column of a GMT line pasted where the stable ID belongs
    "reactome_gmt": (_replace_in_line(0, "\tR-HSA-", "\t123-"), "not a GMT line"),
}


@pytest.mark.parametrize("key", sorted(PARSERS))
def test_non_numeric_value_is_rejected(key: str, tmp_path: Path) -> None:
    edit, match = NON_NUMERIC[key]
    path = _rewrite(tmp_path, key, edit)
    _fails(key, path, match)


def test_reactome_error_names_the_line(tmp_path: Path) -> None:
    path = _rewrite(tmp_path, "reactome_gmt", _replace_in_line(3, "\tR-HSA-", "\tHSA-"))
    err = _fails("reactome_gmt", path, "not a GMT line")
    assert err.location == f"{path}:4"


def test_string_score_out_of_range(tmp_path: Path) -> None:
    path = _rewrite(tmp_path, "string_network", _replace_in_line(1, "\t703", "\t1703"))
    _fails("string_network", path, "1703 outside 0-1000")


@pytest.mark.parametrize(
    ("key", "edit", "match"),
    [
        ("string_network", _replace_in_line(1, "\t703", "\t"), "no value in 'combined_score'"),
        ("ht_studies", _replace_in_line(1, "\t1\t2007", "\t\t2007"), "no value in 'study_number'"),
        ("ht_study_genes", _replace_in_line(1, "|40", "|"), "no value in 'Pub_number'"),
        # a row cut after its fourth field
        (
            "retina_scrna_markers",
            lambda ls: [ls[0], ",".join(ls[1].split(",")[:4]), *ls[2:]],
            "no value in 'cell_type'",
        ),
        (
            "nevers_phylogeny",
            _nevers_edit(lambda d: d["organism_groups"].pop("ciliated_organisms")),
            "ciliated_organisms",
        ),
        ("nevers_phylogeny", _nevers_edit(lambda d: d.update(genes=[])), "'genes' is a list"),
        (
            "nevers_phylogeny",
            _nevers_edit(lambda d: _set_gene(d, "RHO", {"g": "RHO", "s": [100]})),
            "species index 100",
        ),
    ],
)
def test_missing_or_out_of_range_values_are_rejected(
    key: str, edit: Callable[[list[str]], list[str]], match: str, tmp_path: Path
) -> None:
    path = _rewrite(tmp_path, key, edit)
    _fails(key, path, match)


def test_study_number_listed_twice(tmp_path: Path) -> None:
    path = _rewrite(tmp_path, "ht_studies", _replace_in_line(2, "\t2\t2005", "\t1\t2005"))
    _fails("ht_studies", path, "study_number 1 listed twice")


def test_ht_study_genes_row_with_missing_field(tmp_path: Path) -> None:
    # polars pads a short row in mid-file with nulls; the parser must not keep it
    path = _rewrite(tmp_path, "ht_study_genes", _replace_in_line(3, "|8", ""))
    _fails("ht_study_genes", path, "no value in 'Pub_number'")
