"""Every evidence layer on the fixture snapshot: exact values derived by hand from fixture rows.

Weights come from config/config.yaml; scores are noisy-OR: 1 - prod(1 - w_i).
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from core_fixtures import config, gene_id, genes, layer, layer_stats, paths, row
from usher_pipeline.errors import MappingError
from usher_pipeline.layers import LAYER_NAMES
from usher_pipeline.layers.go_layers import annotation_layer, resolve_go_ids
from usher_pipeline.layers.other_layers import literature_layer, protein_features_layer
from usher_pipeline.layers.phenotype_layers import mouse_phenotype_layer
from usher_pipeline.parsers import ncbi, phenotypes
from usher_pipeline.parsers.ontology import read_go_tsv, read_obo
from usher_pipeline.rule_bodies import pubmed_context_table, uniprot_by_gene
from usher_pipeline.universe import assert_one_row_per_gene


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_one_row_per_universe_gene(name: str) -> None:
    table = layer(name)
    assert table.height == 19
    assert_one_row_per_gene(table, genes(), name)
    assert layer_stats(name)["rows"] == 19


def test_layer_step_unknown_layer() -> None:
    from usher_pipeline import steps

    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        steps.layer_step("nope", paths(), genes(), config())


# --- annotation -------------------------------------------------------------------------------


def test_annotation_counts_usher2a() -> None:
    r = row(layer("annotation"), "USH2A")
    # gene2go rows of GeneID 7399: 15 BP, 16 CC, 4 MF distinct terms; experimental (IMP/IDA/IPI):
    # GO:0007605, 0045494, 0048496, 0050953, 0005604, 0005737, 0005518, 0005515 = 8;
    # terms with a non-experimental code: 35 - 7 exp-only (GO:0005604 also has IBA) = 28
    assert (r["go_n_bp"], r["go_n_cc"], r["go_n_mf"]) == (15, 16, 4)
    assert r["go_n_terms"] == 35
    assert r["go_n_experimental"] == 8
    assert r["go_n_computational"] == 28
    assert r["annotation_score"] == pytest.approx(math.log(36) / math.log(201))


def test_annotation_null_without_gene2go_and_zero_for_nd_only() -> None:
    t = layer("annotation")
    for sym in ("GPR36", "ESA4"):  # no gene2go row at all
        r = row(t, sym)
        assert r["go_n_terms"] is None and r["annotation_score"] is None
    dleu7 = row(t, "DLEU7")  # three ND rows (root terms): annotated, no informative term
    assert dleu7["go_n_terms"] == 0 and dleu7["annotation_score"] == 0.0
    assert layer_stats("annotation")["genes_with_go"] == 17


def test_obsolete_go_id_is_dropped_and_counted() -> None:
    onto = read_go_tsv(paths()["go_terms"], paths()["go_edges"])
    g2go = ncbi.read_gene2go(paths()["gene2go"]).filter(pl.col("ncbi_gene_id") == 7399)
    # GO:0005623 'cell' was made obsolete in GO and is not in the GO.db 2022 term table
    assert onto.resolve("GO:0005623") is None
    extra = pl.DataFrame(
        {"ncbi_gene_id": [2860], "go_id": ["GO:0005623"], "evidence": ["IDA"],
         "qualifier": [None], "category": ["Component"]},
        schema=g2go.schema,
    )  # fmt: skip
    resolved, dropped = resolve_go_ids(pl.concat([g2go, extra]), onto)
    assert dropped == 1
    assert resolved.height == g2go.height
    table, stats = annotation_layer(genes(), pl.concat([g2go, extra]), onto, 200)
    assert stats["go_rows_obsolete_or_unknown"] == 1
    # GPR36's only annotation was obsolete: still no GO data
    assert table.filter(pl.col("gene_id") == gene_id("GPR36"))["go_n_terms"][0] is None


def test_alt_id_and_replaced_by_redirects(tmp_path) -> None:
    # stanzas as in go-basic.obo: GO:0005929 cilium carries alt_id GO:0072372 (primary cilium
    # was merged into cilium); GO:0005623 'cell' is obsolete
    obo = tmp_path / "go.obo"
    obo.write_text(
        "format-version: 1.2\ndata-version: releases/2022-07-01\n\n"
        "[Term]\nid: GO:0005929\nname: cilium\nnamespace: cellular_component\n"
        "alt_id: GO:0072372\nis_a: GO:0120025 ! plasma membrane bounded cell projection\n\n"
        "[Term]\nid: GO:0120025\nname: plasma membrane bounded cell projection\n"
        "namespace: cellular_component\n\n"
        "[Term]\nid: GO:0005623\nname: cell\nnamespace: cellular_component\n"
        "is_obsolete: true\n"
    )
    onto = read_obo(obo, "go_obo")
    assert onto.version == "releases/2022-07-01"
    assert onto.resolve("GO:0072372") == "GO:0005929"
    assert onto.resolve("GO:0005623") is None
    assert onto.terms["GO:0005929"]["namespace"] == "CC"
    assert onto.descendants("GO:0120025") == {"GO:0120025", "GO:0005929"}
    g2go = pl.DataFrame(
        {"ncbi_gene_id": [8100, 8100], "go_id": ["GO:0072372", "GO:0005623"],
         "evidence": ["IDA", "IDA"], "qualifier": [None, None],
         "category": ["Component", "Component"]}
    )  # fmt: skip
    resolved, dropped = resolve_go_ids(g2go, onto)
    assert dropped == 1
    assert resolved["go_id"].to_list() == ["GO:0005929"]
    assert resolved["evidence_class"].to_list() == ["experimental"]


def test_hpo_replaced_by_in_fixture_obo() -> None:
    hpo = read_obo(paths()["hpo_obo"], "hpo_obo")
    obsolete = [t for t, v in hpo.terms.items() if v["obsolete"]]
    assert obsolete, "the fixture keeps obsolete HPO terms with replaced_by"
    for term in obsolete:
        target = hpo.resolve(term)
        assert target is not None and not hpo.terms[target]["obsolete"]


# --- localization -----------------------------------------------------------------------------


def _w() -> dict:
    return config()["layers"]["localization"]["weights"]


def test_localization_go_computational_only() -> None:
    r = row(layer("localization"), "USH2A")
    # ISS/IEA to GO:0032391 photoreceptor connecting cilium (1.0), GO:0036064 ciliary basal body;
    # its IDA terms (basement membrane, cytoplasm) are not ciliary; not in HPA v17; flags NO
    assert r["loc_go_exp_weight"] is None
    assert r["loc_go_com_weight"] == 1.0
    assert "photoreceptor connecting cilium" in r["loc_go_com_compartments"]
    assert r["hpa_subcellular_covered"] is False
    assert r["localization_score"] == pytest.approx(1.0 * _w()["go_computational"])


def test_localization_all_components() -> None:
    r = row(layer("localization"), "CEP290")
    # HPA v17: CEP290 Supported Centrosome (0.75); HPA 2022 flags: Cilia/Cilium YES with comment
    # 'Ciliated cells - Cilium assembly', Centrosome YES
    assert r["hpa_ciliary_locations"] == ["Centrosome"]
    assert r["hpa_location_confidence"] == 0.75
    assert (r["hpa_cilia_flag_raw"], r["hpa_cilia_flag"], r["hpa_centrosome_flag"]) == (
        True, True, True)  # fmt: skip
    w = _w()
    parts = [1.0 * w["go_experimental"], 1.0 * w["go_computational"],
             0.75 * w["hpa_location"], w["hpa_cilia_flag"], w["hpa_centrosome_flag"]]  # fmt: skip
    assert r["localization_score"] == pytest.approx(1 - math.prod(1 - p for p in parts))


def test_localization_hpa_flag_comment_pattern() -> None:
    # GAPDH's flags say YES but its comments name ciliated cell types only: raw flag kept,
    # not counted; no ciliary GO term, HPA v17 Cytosol/Plasma membrane -> covered, score 0
    g = row(layer("localization"), "GAPDH")
    assert (g["hpa_cilia_flag_raw"], g["hpa_cilia_flag"]) == (True, False)
    assert g["localization_score"] == 0.0
    # IFT88: comments 'Ciliated cells - Cilium assembly' count
    assert row(layer("localization"), "IFT88")["hpa_cilia_flag"] is True


def test_localization_null_when_no_source_covers_the_gene() -> None:
    t = layer("localization")
    for sym in ("GPR36", "ESA4"):  # no gene2go, not in HPA v17, no HPA 2022 flag row
        r = row(t, sym)
        assert r["go_annotated"] is False and r["hpa_subcellular_covered"] is False
        assert r["localization_score"] is None
    # RAB3GAP1: malformed flag row quarantined -> flags unknown, reported in the stats
    rab = row(t, "RAB3GAP1")
    assert rab["hpa_cilia_flag"] is None and rab["localization_score"] == 0.0
    assert layer_stats("localization")["hpa_cilia_flags_rejected_rows"] == [
        {"gene_name": "RAB3GAP1", "line": 1105, "reason": "flag columns are not YES/NO"}
    ]
    # DLEU7: ND-only GO is not an annotation, but its HPA 2022 row (all NO) covers it
    dleu7 = row(t, "DLEU7")
    assert dleu7["go_annotated"] is False and dleu7["localization_score"] == 0.0


# --- mouse phenotype --------------------------------------------------------------------------


def test_mouse_phenotype_scores() -> None:
    t = layer("mouse_phenotype")
    ush1c = row(t, "USH1C")
    # Ush1c MP IDs include MP:0005377 (hearing, 0.7) and MP:0005391 (vision, 0.5)
    assert ush1c["mouse_n_mp_top_terms"] == 10
    assert (ush1c["mouse_hearing_vestibular_ear"], ush1c["mouse_vision_eye"]) == (True, True)
    assert ush1c["mouse_renal_urinary"] is False
    assert ush1c["mouse_phenotype_score"] == pytest.approx(1 - 0.3 * 0.5)
    # Ift88: hearing 0.7, vision 0.5, renal 0.1, respiratory 0.1, limbs 0.1
    ift88 = row(t, "IFT88")
    assert ift88["mouse_phenotype_score"] == pytest.approx(1 - 0.3 * 0.5 * 0.9 * 0.9 * 0.9)


def test_mouse_phenotype_null_cases() -> None:
    t = layer("mouse_phenotype")
    slc = row(t, "SLC25A6")  # no HMD row
    assert slc["mouse_has_ortholog"] is False and slc["mouse_phenotype_score"] is None
    a1bg = row(t, "A1BG")  # ortholog A1bg, empty MP list
    assert a1bg["mouse_has_ortholog"] is True
    assert a1bg["mouse_n_mp_top_terms"] is None and a1bg["mouse_phenotype_score"] is None
    assert a1bg["mouse_hearing_vestibular_ear"] is None


def test_mouse_several_orthologs_do_not_double_count() -> None:
    b = row(layer("mouse_phenotype"), "BMP8B")
    # Bmp8a: 5379, 5384, 5387, 5389; Bmp8b: 5378, 5379, 5380, 5384, 5389, 10768 -> 7 distinct
    assert b["mgi_ids"] == ["MGI:104515", "MGI:107335"]
    assert b["mp_ids"] == ["MP:0005378", "MP:0005379", "MP:0005380", "MP:0005384",
                           "MP:0005387", "MP:0005389", "MP:0010768"]  # fmt: skip
    assert b["mouse_n_mp_top_terms"] == 7
    assert b["mouse_phenotype_score"] == 0.0  # phenotyped, no configured category
    # GAPDH: four orthologs, only Gapdh phenotyped (vision 0.5) -> 0.5, not 1 - 0.5^k
    assert row(layer("mouse_phenotype"), "GAPDH")["mouse_phenotype_score"] == pytest.approx(0.5)
    # duplicating an upstream row changes nothing
    hmd = phenotypes.read_mgi_hmd(paths()["mgi_hmd"])
    cats = config()["layers"]["mouse_phenotype"]["categories"]
    doubled, stats = mouse_phenotype_layer(genes(), pl.concat([hmd, hmd]), cats)
    once, _ = mouse_phenotype_layer(genes(), hmd, cats)
    assert doubled.equals(once)
    assert stats["hmd_genes_with_several_orthologs"] == 15  # every gene with an HMD row


# --- human phenotype --------------------------------------------------------------------------


def test_human_phenotype_scores_and_nulls() -> None:
    t = layer("human_phenotype")
    ush2a = row(t, "USH2A")  # hearing 0.6 + retinal dystrophy 0.6
    assert (ush2a["hpo_hearing_impairment"], ush2a["hpo_retinal_dystrophy"]) == (True, True)
    assert ush2a["hpo_vestibular_dysfunction"] is False
    assert ush2a["human_phenotype_score"] == pytest.approx(1 - 0.4 * 0.4)
    bbs1 = row(t, "BBS1")  # hearing, retinal, polydactyly 0.2, renal cyst 0.2
    assert bbs1["human_phenotype_score"] == pytest.approx(1 - 0.4 * 0.4 * 0.8 * 0.8)
    myo7a = row(t, "MYO7A")  # + vestibular 0.4
    assert myo7a["human_phenotype_score"] == pytest.approx(1 - 0.4 * 0.4 * 0.6)
    for sym in ("GAPDH", "A1BG", "GPR36"):  # not in genes_to_phenotype
        assert row(t, sym)["human_phenotype_score"] is None
    assert layer_stats("human_phenotype")["genes_with_hpo"] == 9


# --- literature -------------------------------------------------------------------------------


def test_literature_counts_and_zero_publications() -> None:
    t = layer("literature")
    assert row(t, "GPR36")["pubmed_total"] == 0  # explicit zero, not NULL
    assert row(t, "GPR36")["pubmed_total_log1p"] == 0.0
    assert row(t, "USH2A")["pubmed_total"] == 142
    # 73 of USH2A's 142 gene2pubmed PMIDs are below 23725226 (the SYSCILIA v1 paper, 2013)
    assert row(t, "USH2A")["pubmed_before_cutoff"] == 73
    assert row(t, "GPR36")["pubmed_before_cutoff"] == 0
    assert t["literature_score"].null_count() == 19  # snapshot: no context counts
    assert layer_stats("literature")["genes_with_zero_publications"] == 1


def test_literature_context_counts_live() -> None:
    pubs = ncbi.read_gene2pubmed(paths()["gene2pubmed"])
    counts = pl.DataFrame(
        {"gene_id": [gene_id("USH2A"), gene_id("GPR36")], "pubmed_cilia": [40, 0],
         "pubmed_sensory": [50, 0], "pubmed_photoreceptor": [10, 0], "pubmed_total": [150, 0]}
    )  # fmt: skip
    table, _ = literature_layer(genes(), pubs, pubmed_context_table(counts), 100)
    by = {r["gene_id"]: r for r in table.iter_rows(named=True)}
    assert by[gene_id("USH2A")]["literature_score"] == pytest.approx(1.0)  # 100 hits = ref
    assert by[gene_id("USH2A")]["pubmed_query_total"] == 150
    assert by[gene_id("GPR36")]["literature_score"] == 0.0
    assert by[gene_id("BBS1")]["literature_score"] is None
    # without a cutoff the 2013 count is unknown, not 0
    assert by[gene_id("USH2A")]["pubmed_before_cutoff"] is None


# --- protein features -------------------------------------------------------------------------


def test_protein_features_scores() -> None:
    t = layer("protein_features")
    myo7a = row(t, "MYO7A")
    # PF00063/PS51456 myosin motor 0.4, PF00784/PS51016 MyTH4 0.5, PF00373/PS50057 FERM 0.2,
    # PF00612/PS50096 IQ 0.1 (PS50002 SH3 is not configured)
    assert sorted(myo7a["cilia_domain_families"]) == ["FERM", "IQ motif", "MyTH4", "myosin motor"]
    assert myo7a["protein_features_score"] == pytest.approx(1 - 0.6 * 0.5 * 0.8 * 0.9)
    assert row(t, "USH1C")["protein_features_score"] == pytest.approx(0.5)  # PDZ
    assert row(t, "BBS1")["protein_features_score"] == pytest.approx(0.6)  # PF14779
    acrv1 = row(t, "ACRV1")  # listed with '-' in both tables
    assert acrv1["domain_ids"] == [] and acrv1["protein_features_score"] == 0.0
    esa4 = row(t, "ESA4")  # absent from gene2pfam and gene2prosite
    assert esa4["domain_ids"] is None and esa4["protein_features_score"] is None
    assert esa4["cilia_domain_families"] is None


def test_protein_features_with_uniprot_coiled_coil() -> None:
    g = genes().filter(pl.col("symbol").is_in(["ESA4", "BBS1", "CEP290"]))
    uni = pl.DataFrame(
        {"accession": ["Q8NFJ9", "O15078"], "pfam_ids": [["PF14779"], []],
         "length": [593, 2479], "n_coiled_coil": [0, 9], "n_transmembrane": [0, 0]}
    )  # fmt: skip
    per_gene = uniprot_by_gene(g, uni).sort("gene_id")
    assert per_gene["gene_id"].to_list() == [gene_id("CEP290"), gene_id("BBS1")]
    params = config()["layers"]["protein_features"]
    table, _ = protein_features_layer(g, None, None, per_gene, params["domains"], 0.15)
    by = {r["gene_id"]: r["protein_features_score"] for r in table.iter_rows(named=True)}
    assert by[gene_id("CEP290")] == pytest.approx(0.15)
    assert by[gene_id("BBS1")] == pytest.approx(0.6)  # BBS1 domain from UniProt Pfam
    assert by[gene_id("ESA4")] is None


# --- constraint, expression -------------------------------------------------------------------


def test_constraint_from_shet() -> None:
    t = layer("constraint")
    scale = config()["layers"]["constraint"]["shet_scale"]
    # ACTB ENSG00000075624 mean_s_het 0.366119
    assert row(t, "ACTB")["constraint_score"] == pytest.approx(1 - math.exp(-0.366119 / scale))
    assert row(t, "USH2A")["constraint_score"] is None  # no s_het row
    assert row(t, "ESA4")["constraint_score"] is None  # no Ensembl ID


def test_constraint_matches_shet_through_retired_ensembl_id() -> None:
    # FUT3: universe Ensembl = MANE ENSG00000292063; s_het keys it by the gene_info xref
    # ENSG00000171124 (mean_s_het 0.032409 in the fixture row)
    t = layer("constraint")
    scale = config()["layers"]["constraint"]["shet_scale"]
    assert row(genes(), "FUT3")["ensembl_gene"] == "ENSG00000292063"
    assert row(t, "FUT3")["s_het"] == pytest.approx(0.032409)
    assert row(t, "FUT3")["constraint_score"] == pytest.approx(1 - math.exp(-0.032409 / scale))
    assert layer_stats("constraint")["shet_matched_by_alternative_ensembl_id"] >= 1


def test_protein_features_with_no_configured_domains() -> None:
    pfam = ncbi.read_gene2xref(paths()["gene2pfam"], "Pfam_ID", "gene2pfam")
    t, _ = protein_features_layer(genes(), pfam, None, None, [], 0.15)
    assert t.height == genes().height
    scored = t.filter(pl.col("domain_ids").is_not_null())
    assert scored.height > 0 and (scored["protein_features_score"] == 0.0).all()


def test_expression_snapshot_mode_tissue_unknown_retina_markers_known() -> None:
    t = layer("expression")
    # no tissue RNA offline: those columns are NULL (unknown) for every gene
    for col in ("hpa_retina_ntpm", "hpa_max_ntpm", "gtex_max_tpm", "tissue_score"):
        assert t[col].null_count() == 19, col
    # retina single-cell markers cover every gene: a gene absent from the marker lists is not
    # enriched (0), not unknown
    assert t["retina_photoreceptor_score"].null_count() == 0
    assert t["expression_score"].null_count() == 0
    # USH2A: "Retinal cone cells" row with avg_log2FC 0.317250000664988, pct.1 0.39; no rod row
    ush2a = row(t, "USH2A")
    assert ush2a["retina_cone_log2fc"] == pytest.approx(0.317250000664988)
    assert ush2a["retina_cone_pct"] == pytest.approx(0.39)
    assert ush2a["retina_rod_log2fc"] is None
    assert ush2a["expression_score"] == pytest.approx(0.317250000664988)  # / ref_log2fc 1.0
    assert row(t, "GAPDH")["expression_score"] == 0.0


def test_assert_one_row_per_gene_detects_missing_rows() -> None:
    with pytest.raises(MappingError, match="18 rows for 19 universe genes"):
        assert_one_row_per_gene(layer("constraint").head(18), genes(), "constraint")
