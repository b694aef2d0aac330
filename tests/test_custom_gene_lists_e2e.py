"""Issue 11 acceptance: a custom known-gene file and a 50-gene subset run end to end.

One workflow run on a fresh copy of the working tree (tests/e2e_fixtures.py): the user's own
cilia_gold_standard file (genes given by symbol, HGNC ID and versioned Ensembl ID) replaces the
bundled SYSCILIA list; the universe is a 50-gene subset file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

import e2e_fixtures as e2e  # noqa: E402
from usher_pipeline.persistence import sidecar_path  # noqa: E402
from usher_pipeline.validation import NOT_APPLICABLE  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Real cilia / photoreceptor / stereocilia genes of the fixture universe. PRCD, GUCY2D and FSCN2
# are in neither bundled known-gene list; IFT88 and BBS1 are in SYSCILIA v2.
CUSTOM_KNOWN = {
    "PRCD": "HGNC:32528",
    "GUCY2D": "HGNC:4689",
    "FSCN2": "HGNC:3960",
    "IFT88": "HGNC:20606",
    "BBS1": "HGNC:966",
}
KNOWN_FILE = (
    "\ufeff# my cilia genes: symbol, HGNC ID and Ensembl ID (with version) mixed\n"
    "PRCD\n"
    "\n"
    "HGNC:4689   # GUCY2D\n"
    "ENSG00000186765.3\n"  # FSCN2
    "IFT88\n"
    "hgnc:966\n"  # BBS1
)
# SYSCILIA v2 genes of the fixture that are not in the custom list (nor Usher genes): no longer
# known once the custom list replaces the bundled one, so they are candidates.
GOLD_NOT_CUSTOM = ("ARL13B", "CEP290")


def _subset(n: int = 50) -> list[str]:
    cfg = e2e.fixture_config()
    lines = (e2e.REPO / cfg["gene_subset"]).read_text().splitlines()
    genes = [g.strip() for g in lines if g.strip() and not g.startswith("#")]
    keep = [g for g in genes if g not in ("TTN", "APOE")][:n]
    assert len(keep) == n and set(CUSTOM_KNOWN) | set(GOLD_NOT_CUSTOM) <= set(keep)
    return keep


def test_custom_known_gene_file_and_50_gene_subset_end_to_end() -> None:
    base = e2e.scratch_dir("usher-e2e-customlists-")
    work = e2e.copy_workflow(base / "wf")
    (work / "my_known.txt").write_text(KNOWN_FILE, encoding="utf-8")
    (work / "my_subset.txt").write_text("\n".join(_subset()) + "\n", encoding="utf-8")
    overlay = {
        "gene_subset": "my_subset.txt",
        "known_genes": {"cilia_gold_standard": "my_known.txt"},
        # the genome-wide gates of config/config.yaml, reported not applicable on a subset
        "validation": {"subset_gates": "not_applicable"},
    }
    (work / "custom.yaml").write_text(yaml.safe_dump(overlay))
    args = ["--cores", "2", "--configfile", str(e2e.TEST_CONFIG_REL), "custom.yaml"]
    res = e2e.run_snakemake(args, cwd=work, timeout=600, log_file=base / "run.log")
    assert res.returncode == 0, e2e.describe(res)
    results = e2e.results_dir(work)

    # the universe stays whole; the subset's 50 genes are the ones reported
    genes = pl.read_parquet(results / "universe/genes.parquet")
    flags = pl.read_parquet(results / "universe/subset.parquet")
    assert genes.height > 19000 and int(flags["in_subset"].sum()) == 50
    evidence = pl.read_parquet(results / "gene_evidence.parquet")
    assert evidence.height == 50
    known = dict(evidence.select("symbol", "is_known").iter_rows())
    for symbol in CUSTOM_KNOWN:
        assert known[symbol] is True, symbol
    for symbol in GOLD_NOT_CUSTOM:
        assert known[symbol] is False, symbol
    cand = pl.read_csv(results / "candidates.tsv", separator="\t")
    assert not set(CUSTOM_KNOWN) & set(cand["symbol"])
    assert set(GOLD_NOT_CUSTOM) <= set(cand["symbol"])

    # every line resolved, by the identifier it was given as
    mapping = pl.read_csv(results / "universe/gene_set_mapping.tsv", separator="\t")
    mine = mapping.filter(pl.col("gene_set") == "cilia_gold_standard")
    assert sorted(mine["gene_id"]) == sorted(CUSTOM_KNOWN.values())
    assert set(mine["match_type"]) == {"symbol", "hgnc_id", "ensembl_gene"}

    # genome-wide gates: computed, reported not applicable, not enforced
    metrics = pl.read_csv(results / "validation/metrics.tsv", separator="\t")
    gated = metrics.filter(pl.col("gate").is_not_null())
    assert gated.height >= 9 and gated["gate"].str.contains(NOT_APPLICABLE, literal=True).all()
    assert gated["passed"].is_null().all()

    # the user's file is hashed into the provenance and the reproducibility report
    digest = hashlib.sha256((work / "my_known.txt").read_bytes()).hexdigest()
    side = json.loads(sidecar_path(results / "universe/gene_sets.parquet").read_text())
    assert any(s["sha256"] == digest and s["path"] == "my_known.txt" for s in side["sources"]), (
        side["sources"]
    )
    report = (results / "reproducibility_report.md").read_text()
    assert "known_genes.cilia_gold_standard" in report and digest in report

    # the file is a Snakemake input of gene_universe (so editing it reruns the workflow from
    # there): the job hashed it among its inputs
    inputs = {i["path"]: i.get("sha256") for i in side["inputs"]}
    assert inputs.get("my_known.txt") == digest, sorted(inputs)
