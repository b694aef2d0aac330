"""HTTP layer and download validation against the loopback server with injected faults."""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from live_server import SOURCE_PATHS, LiveServer  # noqa: E402
from usher_pipeline.errors import SourceFormatError  # noqa: E402
from usher_pipeline.live.fetch import fetch_to  # noqa: E402
from usher_pipeline.live.http import (  # noqa: E402
    HttpClient,
    HttpSettings,
    SourceFetchError,
    parse_retry_after,
)
from usher_pipeline.live.sources import SOURCES, get_spec  # noqa: E402
from usher_pipeline.live.validate import validate_file  # noqa: E402
from usher_pipeline.persistence import FetchCache, PipelineStore  # noqa: E402

pytestmark = pytest.mark.timeout(120)
G2GO = SOURCE_PATHS["gene2go"]


@pytest.fixture(scope="module")
def server():
    with LiveServer() as s:
        yield s


@pytest.fixture
def srv(server):
    server.clear_faults()
    server.reset_counts()
    yield server
    server.clear_faults()


def _client(**kw) -> HttpClient:
    base = dict(
        rate_limits={"default": 500},
        timeout_s=3.0,
        connect_timeout_s=1.0,
        max_retries=3,
        backoff_base_s=0.05,
        backoff_max_s=0.1,
    )
    base.update(kw)
    return HttpClient(HttpSettings(**base))


def _download(srv, key, tmp_path, client=None):
    spec = get_spec(key)
    url = srv.url(SOURCE_PATHS[key])
    dest = tmp_path / key
    info = (client or _client()).download(
        url, dest, source=key, validate=lambda p: validate_file(spec, p, url)
    )
    return info, dest


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    later = parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT")
    assert later is not None and later > 1e9
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_429_retry_after_is_honoured(srv, tmp_path):
    srv.set_fault(G2GO, "429", times=2, retry_after=0.6)
    client = _client(backoff_base_s=0.01, backoff_max_s=0.01)
    t0 = time.monotonic()
    info, dest = _download(srv, "gene2go", tmp_path, client)
    elapsed = time.monotonic() - t0
    assert srv.counts[G2GO] == 3
    assert elapsed >= 1.2  # two waits of Retry-After 0.6 s, not the 0.01 s backoff
    assert client.stats.status_429 == 2
    assert info.size == dest.stat().st_size > 0


def test_500_then_success(srv, tmp_path):
    srv.set_fault(G2GO, "500", times=2, retry_after=None)
    info, dest = _download(srv, "gene2go", tmp_path)
    assert srv.counts[G2GO] == 3
    with gzip.open(dest, "rt") as fh:
        assert fh.readline().startswith("#tax_id\tGeneID\tGO_ID")


def test_stalled_response_times_out_and_retries(srv, tmp_path):
    srv.set_fault(G2GO, "stall", times=1, stall_s=3.0)
    client = _client(timeout_s=0.5)
    info, dest = _download(srv, "gene2go", tmp_path, client)
    assert client.stats.timeouts == 1
    assert srv.counts[G2GO] == 2
    assert dest.exists()


def test_connection_dropped_mid_body_is_retried(srv, tmp_path):
    srv.set_fault(G2GO, "drop", times=1)
    info, dest = _download(srv, "gene2go", tmp_path)
    assert srv.counts[G2GO] == 2
    assert info.size == len((srv.data_dir / "ncbi_2022-09-12/gene2go_human.gz").read_bytes())


def test_retries_exhausted_names_source_and_url(srv, tmp_path):
    srv.set_fault(G2GO, "500", times=None, retry_after=None)
    with pytest.raises(SourceFetchError) as err:
        _download(srv, "gene2go", tmp_path, _client(max_retries=2))
    assert "gene2go" in str(err.value) and srv.url(G2GO) in str(err.value)
    assert srv.counts[G2GO] == 3
    assert not (tmp_path / "gene2go").exists()


def test_404_is_not_retried(srv, tmp_path):
    client = _client()
    with pytest.raises(SourceFetchError, match="HTTP 404"):
        client.download(srv.url("/nope.gz"), tmp_path / "x", source="nope")
    assert srv.counts["/nope.gz"] == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "key,kind,column,match",
    [
        ("gene2go", "truncate_gzip", None, "truncated gzip"),
        ("gene2go", "html", None, "HTML page"),
        ("gene2go", "missing_column", "GO_ID", r"missing required column\(s\) \['GO_ID'\]"),
        ("hpa_subcellular", "missing_column", "Reliability", "Reliability"),
        ("hpo_hpoa", "missing_column", "hpo_id", "hpo_id"),
        ("hgnc", "html", None, "HTML page"),
    ],
)
def test_bad_download_is_a_clear_error(srv, tmp_path, key, kind, column, match):
    path = SOURCE_PATHS[key]
    srv.set_fault(path, kind, times=None, column=column)
    with pytest.raises(SourceFormatError, match=match) as err:
        _download(srv, key, tmp_path)
    assert err.value.source == key
    assert err.value.location == srv.url(path)
    assert not (tmp_path / key).exists()


def test_signature_check_for_headerless_reports(srv, tmp_path):
    srv.add_file("/bad/HMD_HumanPhenotype.rpt", b"some\tother\tfile\n")
    spec = SOURCES["mgi_hmd"]
    url = srv.url("/bad/HMD_HumanPhenotype.rpt")
    with pytest.raises(SourceFormatError, match="signature"):
        _client().download(
            url, tmp_path / "hmd", source="mgi_hmd", validate=lambda p: validate_file(spec, p, url)
        )


def test_every_shared_source_validates(srv, tmp_path):
    for key in SOURCE_PATHS:
        _, dest = _download(srv, key, tmp_path)
        assert dest.stat().st_size > 1000, key


def test_failed_fetch_leaves_no_output_and_no_cache_record(srv, tmp_path):
    cfg = srv.live_config(tmp_path)
    dest = tmp_path / "results/live/raw/gene2go"
    srv.set_fault(G2GO, "truncate_gzip", times=None)
    with PipelineStore.from_config(cfg) as store:
        cache = FetchCache.from_config(cfg, store)
        with pytest.raises(SourceFormatError, match="truncated gzip"):
            fetch_to("gene2go", cfg, dest, cache=cache)
        assert not dest.exists()
        assert cache.list().height == 0
        assert not [
            p
            for p in (tmp_path / "downloads").rglob("*")
            if p.is_file() and not p.name.endswith(".lock")
        ]
        srv.clear_faults()
        out = fetch_to("gene2go", cfg, dest, cache=cache)
        assert not out.from_cache and dest.exists()


def test_rate_limit_is_respected(srv):
    client = _client(rate_limits={"default": 20})
    t0 = time.monotonic()
    for _ in range(21):
        client.get(srv.url("/gene/DATA/gene2ensembl.gz"), source="x")
    elapsed = time.monotonic() - t0
    # burst 1: 21 requests need 20 emission intervals of 50 ms
    assert elapsed >= 0.95
