"""UniProt: paginated pull with per-page checkpoints, resume, rerun, feature parsing."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from live_server import LiveServer  # noqa: E402
from usher_pipeline.errors import SourceFormatError  # noqa: E402
from usher_pipeline.live.fetch import pull_uniprot  # noqa: E402
from usher_pipeline.live.http import HttpClient  # noqa: E402
from usher_pipeline.live.uniprot import (  # noqa: E402
    fetch_uniprot_pages,
    next_link,
    parse_uniprot_tsv,
    uniprot_features,
)
from usher_pipeline.persistence import FetchCache, PipelineStore  # noqa: E402

pytestmark = pytest.mark.timeout(120)
SEARCH = "/uniprotkb/search"


@pytest.fixture(scope="module")
def server():
    with LiveServer() as s:
        yield s


def test_next_link():
    h = '<https://rest.uniprot.org/uniprotkb/search?cursor=abc&size=500>; rel="next"'
    assert next_link(h) == "https://rest.uniprot.org/uniprotkb/search?cursor=abc&size=500"
    assert next_link(None) is None
    assert next_link('<https://x/prev>; rel="prev"') is None


def test_features_parse_uniprot_feature_strings():
    # layout of UniProt's TSV feature columns (test input written for the parser)
    text = (
        "Entry\tGene Names\tLength\tCoiled coil\tTransmembrane\tPfam\tInterPro\n"
        'P0TEST\tGENE1 ALIAS1\t120\tCOILED 10..40; /evidence="ECO:0000255"; '
        'COILED 60..90; /evidence="ECO:0000255"\tTRANSMEM 5..25; /note="Helical"\t'
        "PF00001;PF00002;\tIPR000001;\n"
        "P0TEST2\tGENE2\t\t\t\t\t\n"
    )
    f = uniprot_features(parse_uniprot_tsv(text))
    r1, r2 = f.row(0, named=True), f.row(1, named=True)
    assert r1["length"] == 120 and r1["n_coiled_coil"] == 2 and r1["n_transmembrane"] == 1
    assert r1["pfam_ids"] == ["PF00001", "PF00002"] and r1["interpro_ids"] == ["IPR000001"]
    assert r1["primary_gene"] == "GENE1"
    assert r2["length"] is None and r2["n_coiled_coil"] == 0 and r2["pfam_ids"] == []


def test_schema_drift_and_html_are_errors():
    with pytest.raises(SourceFormatError, match="Coiled coil"):
        parse_uniprot_tsv("Entry\tGene Names\tLength\tTransmembrane\tPfam\nP1\tA\t1\t\t\n", "u")
    with pytest.raises(SourceFormatError, match="HTML"):
        parse_uniprot_tsv("<!DOCTYPE html><html></html>", "u")


def test_paged_pull_resumes_and_rerun_sends_nothing(server, tmp_path):
    cfg = server.live_config(tmp_path, uniprot_page_size=2000)
    server.reset_counts()
    with PipelineStore.from_config(cfg) as store:
        cache = FetchCache.from_config(cfg, store)
        cp = cache.batches("uniprot_test", "current", {"size": 2000}, "1")
        client = HttpClient.from_config(cfg)
        # "interrupted" after 3 pages
        partial = fetch_uniprot_pages(client, cp, server.base_url, 2000, max_pages=3)
        assert partial.height == 6000 and server.counts[SEARCH] == 3
        full = fetch_uniprot_pages(client, cp, server.base_url, 2000)
        n_pages = server.counts[SEARCH]
        cursors = [q for p, q, _ in server.log if p == SEARCH]
        assert len(cursors) == len(set(cursors))  # no page requested twice
        total = len(server._uniprot_rows())
        assert full.height == total and n_pages == -(-total // 2000)
        server.reset_counts()
        again = fetch_uniprot_pages(client, cp, server.base_url, 2000)
        assert server.counts[SEARCH] == 0 and again.height == total


def test_pull_uniprot_features_real_accessions(server, tmp_path):
    cfg = server.live_config(tmp_path, uniprot_page_size=5000)
    raw = pull_uniprot(cfg)
    f = uniprot_features(raw)
    usher = f.filter(pl.col("primary_gene") == "USH2A").row(0, named=True)
    assert usher["accession"] == "O75445"
    assert f["accession"].is_unique().all()
    # Pfam IDs come from NCBI gene2pfam for the gene
    assert f.filter(pl.col("pfam_ids").list.len() > 0).height > 10000
