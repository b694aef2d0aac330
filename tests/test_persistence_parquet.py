"""write_parquet: deterministic bytes, zstd, fixed row groups, metadata, size vs CSV, atomicity."""

from __future__ import annotations

import os

import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from state_fixtures import gene_table
from usher_pipeline.persistence import (
    ROW_GROUP_SIZE,
    content_hash,
    read_parquet_metadata,
    sha256_file,
    write_parquet,
)


def test_byte_identical_across_calls(tmp_path):
    df = gene_table(3000)
    a = write_parquet(df, tmp_path / "a.parquet", sort_by="hgnc_id", metadata={"k": "v"})
    b = write_parquet(
        df.sample(fraction=1.0, shuffle=True, seed=3),
        tmp_path / "b.parquet",
        sort_by="hgnc_id",
        metadata={"k": "v"},
    )
    assert a == b == sha256_file(tmp_path / "a.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_sorted_stable_and_round_trip(tmp_path):
    df = pl.DataFrame({"k": [2, 1, 2, None, 1], "v": ["a", "b", "c", "d", "e"]})
    write_parquet(df, tmp_path / "s.parquet", sort_by="k")
    back = pl.read_parquet(tmp_path / "s.parquet")
    assert back["k"].to_list() == [1, 1, 2, 2, None]
    assert back["v"].to_list() == ["b", "e", "a", "c", "d"]  # stable within equal keys
    with pytest.raises(KeyError):
        write_parquet(df, tmp_path / "bad.parquet", sort_by="nope")


def test_codec_row_groups_and_metadata(tmp_path):
    n = ROW_GROUP_SIZE + 10
    df = pl.DataFrame({"i": list(range(n))})
    write_parquet(df, tmp_path / "x.parquet", metadata={"provenance_sha256": "ab" * 32})
    pf = pq.ParquetFile(tmp_path / "x.parquet")
    assert pf.metadata.num_row_groups == 2
    assert pf.metadata.row_group(0).num_rows == ROW_GROUP_SIZE
    assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
    meta = read_parquet_metadata(tmp_path / "x.parquet")
    assert meta["usher_pipeline.provenance_sha256"] == "ab" * 32
    assert meta["usher_pipeline.content_sha256"] == content_hash(df)
    raw = {k.decode() for k in pf.schema_arrow.metadata}
    assert not any("pandas" in k for k in raw)


def test_pandas_input_has_no_pandas_metadata(tmp_path):
    pdf = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    write_parquet(pdf, tmp_path / "p.parquet")
    raw = pq.ParquetFile(tmp_path / "p.parquet").schema_arrow.metadata
    assert b"pandas" not in raw
    assert pl.read_parquet(tmp_path / "p.parquet").to_dicts() == [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
    ]


def test_at_least_40_percent_smaller_than_csv(tmp_path):
    df = gene_table(20000)
    write_parquet(df, tmp_path / "g.parquet", sort_by="hgnc_id")
    df.write_csv(tmp_path / "g.csv")
    pq_size = os.path.getsize(tmp_path / "g.parquet")
    csv_size = os.path.getsize(tmp_path / "g.csv")
    assert pq_size <= 0.6 * csv_size, (pq_size, csv_size)


def test_atomic_no_temp_left_and_failure_keeps_old(tmp_path):
    target = tmp_path / "t.parquet"
    write_parquet(pl.DataFrame({"a": [1]}), target)
    before = target.read_bytes()

    class Boom:
        pass

    with pytest.raises(TypeError):
        write_parquet(Boom(), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
