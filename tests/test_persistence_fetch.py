"""FetchCache and BatchCheckpoint: keys, hits without network, re-fetch, batches and resume."""

from __future__ import annotations

import polars as pl
import pytest
from usher_pipeline.persistence import (
    FetchCache,
    PipelineStore,
    fetch_key,
    normalize_request,
    normalize_url,
)


@pytest.fixture
def cache(tmp_path):
    return FetchCache(PipelineStore(tmp_path / "state" / "db.duckdb"))


class Fetcher:
    def __init__(self, body: str = "gene\tv\nA\t1\nB\t2\n") -> None:
        self.calls = 0
        self.body = body

    def __call__(self, dest):
        self.calls += 1
        dest.write_text(self.body)
        return {"url": "https://x.org/f.tsv", "etag": '"e1"', "last_modified": "Mon"}


def test_normalized_request_and_key():
    assert normalize_url("HTTPS://Rest.UniProt.org:443/a/b?size=5&query=x#frag") == (
        "https://rest.uniprot.org/a/b?query=x&size=5"
    )
    a = {"url": "https://h.org/x?b=2&a=1", "params": {"z": 1, "a": [1, 2]}}
    b = {"params": {"a": [1, 2], "z": 1}, "url": "https://H.org:443/x?a=1&b=2"}
    assert normalize_request(a) == normalize_request(b)
    assert fetch_key("s", "r", a, "1") == fetch_key("s", "r", b, "1")
    assert fetch_key("s", "r", a, "1") != fetch_key("s", "r", a, "2")
    assert fetch_key("s", "r", a, "1") != fetch_key("s", "r2", a, "1")
    assert fetch_key("s", "r", a, "1") != fetch_key("t", "r", a, "1")
    assert fetch_key("s", "r", a, "1") != fetch_key("s", "r", {**a, "params": {"z": 2}}, "1")


def test_hit_needs_no_fetch(cache):
    f = Fetcher()
    req = {"url": "https://x.org/f.tsv"}
    first = cache.get_or_fetch("hgnc", "2026-06", req, "v1", f, suffix=".tsv")
    assert not first.from_cache and f.calls == 1
    assert first.path.read_text() == f.body
    assert first.row_count == 2 and first.size == len(f.body)
    assert first.meta["etag"] == '"e1"'
    assert first.path.name.endswith(".tsv") and first.path.parent.name == "hgnc"

    def no_network(dest):
        raise AssertionError("must not fetch")

    second = cache.get_or_fetch("hgnc", "2026-06", req, "v1", no_network, suffix=".tsv")
    assert second.from_cache and second.sha256 == first.sha256 and second.path == first.path
    assert second.meta["etag"] == '"e1"'
    # a new store object (another process) sees the same checkpoint
    other = FetchCache(PipelineStore(cache.store.db_path))
    assert other.get_or_fetch("hgnc", "2026-06", req, "v1", no_network, ".tsv").from_cache


def test_changed_key_refetches_that_source_only(cache):
    fa, fb = Fetcher(), Fetcher("x\n1\n")
    cache.get_or_fetch("a", "1", {"url": "https://a.org"}, "v1", fa)
    cache.get_or_fetch("b", "1", {"url": "https://b.org"}, "v1", fb)
    cache.get_or_fetch("a", "2", {"url": "https://a.org"}, "v1", fa)  # new release
    cache.get_or_fetch("b", "1", {"url": "https://b.org"}, "v1", fb)
    assert (fa.calls, fb.calls) == (2, 1)
    cache.get_or_fetch("a", "2", {"url": "https://a.org"}, "v2", fa)  # new fetcher code
    assert fa.calls == 3


def test_corrupted_or_missing_file_is_refetched(cache):
    f = Fetcher()
    res = cache.get_or_fetch("s", "1", {"u": 1}, "v1", f)
    res.path.write_text("tampered")
    res2 = cache.get_or_fetch("s", "1", {"u": 1}, "v1", f)
    assert f.calls == 2 and not res2.from_cache and res2.path.read_text() == f.body
    res2.path.unlink()
    assert cache.lookup("s", "1", {"u": 1}, "v1") is None
    cache.get_or_fetch("s", "1", {"u": 1}, "v1", f)
    assert f.calls == 3


def test_failed_fetch_records_nothing(cache):
    def broken(dest):
        dest.write_text("partial")
        raise ConnectionError("reset")

    with pytest.raises(ConnectionError):
        cache.get_or_fetch("s", "1", {"u": 1}, "v1", broken)
    assert cache.lookup("s", "1", {"u": 1}, "v1") is None
    assert not list(cache.cache_dir.rglob("*.tmp-*"))
    assert cache.list().height == 0


def test_invalidate(cache):
    f = Fetcher()
    res = cache.get_or_fetch("s", "1", {"u": 1}, "v1", f)
    assert cache.invalidate(res.key[:10]) == 1
    assert not res.path.exists()
    cache.get_or_fetch("s", "1", {"u": 1}, "v1", f)
    assert f.calls == 2
    assert cache.invalidate("s") == 1
    assert cache.invalidate("nothing") == 0


def test_from_config_cache_dir(tmp_path):
    cfg = {
        "state": {"db": str(tmp_path / "st" / "db.duckdb")},
        "live": {"cache_dir": str(tmp_path / "dl")},
    }
    fc = FetchCache.from_config(cfg)
    res = fc.get_or_fetch("s", "1", {"u": 1}, "v1", Fetcher())
    assert res.path.parent == tmp_path / "dl" / "s"


def test_batches_resume(cache):
    bc = cache.batches("eutils", "2026-06", {"db": "pubmed"}, "v1")
    assert bc.done_batch_ids() == set() and bc.load_all() is None
    genes = [f"G{i}" for i in range(10)]
    for b in range(3):  # "killed" after 3 of 5 batches
        chunk = genes[b * 2 : b * 2 + 2]
        bc.save_batch(str(b), pl.DataFrame({"gene": chunk, "n": [len(g) for g in chunk]}))
    resumed = cache.batches("eutils", "2026-06", {"db": "pubmed"}, "v1")
    assert resumed.done_batch_ids() == {"0", "1", "2"}
    for b in range(5):
        if str(b) in resumed.done_batch_ids():
            continue
        chunk = genes[b * 2 : b * 2 + 2]
        resumed.save_batch(str(b), pl.DataFrame({"gene": chunk, "n": [len(g) for g in chunk]}))
    out = resumed.load_all()
    assert out["gene"].to_list() == genes
    assert out.columns == ["gene", "n"]
    assert "batch_id" in resumed.load_all(with_batch_id=True).columns
    # re-saving a batch replaces it
    resumed.save_batch("0", pl.DataFrame({"gene": ["Z"], "n": [1]}))
    assert resumed.load_all()["gene"].to_list().count("Z") == 1
    assert "G0" not in resumed.load_all()["gene"].to_list()
    # a different request is a different checkpoint
    assert cache.batches("eutils", "2026-06", {"db": "gene"}, "v1").done_batch_ids() == set()


def test_batch_with_all_null_column_and_bad_input(cache):
    bc = cache.batches("s", "1", {}, "v1")
    bc.save_batch("a", pl.DataFrame({"gene": ["A"], "note": [None]}))
    bc.save_batch("b", pl.DataFrame({"gene": ["B"], "note": ["x"]}))
    assert bc.load_all()["note"].to_list() == [None, "x"]
    with pytest.raises(ValueError):
        bc.save_batch("", pl.DataFrame({"gene": ["C"]}))
    with pytest.raises(ValueError):
        bc.save_batch("c", pl.DataFrame({"batch_id": ["C"]}))
    bc.clear()
    assert bc.load_all() is None and bc.done_batch_ids() == set()
