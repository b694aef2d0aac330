"""Known-gene and control lists given as the user's own files (config ``known_genes`` /
``negative_controls``): a manifest key or a path, checked before any job, resolved like
``gene_subset`` in the gene_universe step."""

from __future__ import annotations

import copy

import polars as pl
import pytest
import yaml
from core_fixtures import MINI, aliases, config, gene_id, genes, paths
from e2e_fixtures import REPO
from usher_pipeline import steps
from usher_pipeline.config_check import check_config
from usher_pipeline.errors import ConfigError, MappingError
from usher_pipeline.repro import reproducibility_markdown
from usher_pipeline.sources import gene_list_entries, user_gene_list_inputs

CONFIG = REPO / "config" / "config.yaml"


def _config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_manifest_keys_and_paths_told_apart() -> None:
    cfg = _config()
    cfg["known_genes"]["cilia_gold_standard"] = "lists/my_cilia.txt"
    cfg["negative_controls"] = {"housekeeping": "housekeeping", "mine": "neg.txt"}
    entries = {(e.section, e.role): e for e in gene_list_entries(cfg, MINI)}
    assert not entries[("known_genes", "usher")].user_file
    assert entries[("known_genes", "cilia_gold_standard")].user_file
    assert not entries[("negative_controls", "housekeeping")].user_file
    assert ("known_genes", "exclude_from_controls") not in entries
    assert user_gene_list_inputs(cfg, MINI) == {
        "gene_list_cilia_gold_standard": "lists/my_cilia.txt",
        "gene_list_mine": "neg.txt",
    }


@pytest.mark.parametrize(
    ("section", "role"), [("known_genes", "usher"), ("known_genes", "cilia_gold_standard"),
                          ("negative_controls", "housekeeping")],
)  # fmt: skip
def test_gene_list_file_checked_before_any_job(tmp_path, section, role) -> None:
    cfg = _config()
    key = f"{section}.{role}"
    cfg[section][role] = str(tmp_path / "missing.txt")
    with pytest.raises(ConfigError, match=rf"{key}: file .*missing\.txt does not exist"):
        check_config(cfg, [CONFIG], REPO, REPO)
    latin = tmp_path / "latin1.txt"
    latin.write_bytes(b"IFT88\nBBS1\nG\xe8ne\n")
    cfg[section][role] = str(latin)
    with pytest.raises(ConfigError, match=rf"{key}: .*latin1\.txt line 3 is not UTF-8"):
        check_config(cfg, [CONFIG], REPO, REPO)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    cfg[section][role] = str(empty)
    with pytest.raises(ConfigError, match=rf"{key}: .*empty\.txt lists no gene"):
        check_config(cfg, [CONFIG], REPO, REPO)
    good = tmp_path / "good.txt"
    good.write_bytes("\ufeffIFT88\n# c\nHGNC:966\n".encode())
    cfg[section][role] = str(good)
    check_config(cfg, [CONFIG], REPO, REPO)


def _paths_with(**files) -> dict:
    return {**paths(), **{f"gene_list_{role}": str(path) for role, path in files.items()}}


def _mini_config(tmp_path, **files) -> dict:
    """The default config on the 19-gene mini snapshot: the bundled Usher list cannot map there,
    so a user Usher file stands in unless given; set coverage is not checked."""
    usher = tmp_path / "usher.txt"
    usher.write_text("USH2A\nMYO7A\n")
    cfg = copy.deepcopy(config())  # config() is cached: never change it in place
    cfg["mapping"]["min_gene_set_rate"] = 0.0
    for role, path in {"usher": usher, **files}.items():
        cfg["known_genes"][role] = str(path)
    return cfg


def test_user_known_gene_file_resolved_like_gene_subset(tmp_path) -> None:
    mine = tmp_path / "mine.txt"
    ift88 = genes().filter(pl.col("symbol") == "IFT88")["ensembl_gene"][0]
    mine.write_text(f"# my list\nCEP290\n\nHGNC:{gene_id('BBS1').split(':')[1]}\n{ift88}.7\n")
    cfg = _mini_config(tmp_path, cilia_gold_standard=mine)
    files = {role: cfg["known_genes"][role] for role in ("usher", "cilia_gold_standard")}
    flags, log, stats = steps.gene_sets_step(_paths_with(**files), aliases(), genes(), cfg)
    gold = set(flags.filter(pl.col("is_cilia_gold_standard"))["gene_id"])
    assert gold == {gene_id("CEP290"), gene_id("BBS1"), gene_id("IFT88")}
    known = set(flags.filter(pl.col("is_known"))["gene_id"])
    assert known == gold | {gene_id("USH2A"), gene_id("MYO7A")}
    mine_log = log.filter(pl.col("gene_set") == "cilia_gold_standard")
    assert set(mine_log["match_type"]) == {"symbol", "hgnc_id", "ensembl_gene"}
    assert set(mine_log["source_key"]) == {str(mine)}
    assert stats["cilia_gold_standard"]["mapped"] == 3


def test_unresolvable_line_of_a_user_list_names_file_line_and_entry(tmp_path) -> None:
    mine = tmp_path / "usher_mine.txt"
    mine.write_text("USH2A\nNOT_A_GENE_XYZ\n# comment\nENSG00000000000\n")
    cfg = _mini_config(tmp_path, usher=mine)
    with pytest.raises(MappingError) as err:
        steps.gene_sets_step(_paths_with(usher=mine), aliases(), genes(), cfg)
    msg = str(err.value)
    assert "known_genes.usher" in msg and str(mine) in msg
    assert "line 2: NOT_A_GENE_XYZ" in msg and "line 4: ENSG00000000000" in msg
    assert "USH2A" not in msg


def test_reproducibility_report_lists_user_gene_lists() -> None:
    digest = "ab" * 32
    mapping = {
        "universe": {"genes": 2, **{f"{p}_{k}": 1 for p in ("with", "rate")
                                     for k in ("ensembl_gene", "uniprot_acc", "mane_refseq_nuc")}},
        "gene_sets": {},
        "user_gene_lists": {"known_genes.usher": {"path": "my.txt", "sha256": digest}},
    }  # fmt: skip
    text = reproducibility_markdown(
        config={"mode": "snapshot"},
        verified={"verified": []},
        mapping=mapping,
        layer_stats=[],
        evidence=pl.DataFrame({"is_known": [True, False], "tier": ["HIGH", "LOW"]}),
        validation={"metrics": {}, "gates": {}, "failed": []},
        pipeline_version="x",
        config_hash="y",
    )
    assert "## User gene lists" in text
    assert "| known_genes.usher | `my.txt` | `" + digest + "` |" in text
