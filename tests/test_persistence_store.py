"""Unit tests of PipelineStore: round trips, absent tables, injection, versions, lock waits."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest
from state_fixtures import gene_table
from usher_pipeline.persistence import (
    InvalidNameError,
    PipelineStore,
    content_hash,
    dataset_version,
    read_parquet_metadata,
)


@pytest.fixture
def store(tmp_path):
    with PipelineStore(tmp_path / "state" / "db.duckdb", lock_timeout_s=10) as s:
        yield s


def test_polars_round_trip(store):
    df = gene_table(40)
    version = store.save_dataframe(df, "genes", description="test genes")
    back = store.load_dataframe("genes")
    assert isinstance(back, pl.DataFrame)
    assert back.equals(df)
    assert version == dataset_version(content_hash(df))


def test_pandas_round_trip(store):
    pdf = pd.DataFrame({"gene": ["A", "B", None], "n": [1, 2, 3], "x": [0.5, None, 2.0]})
    store.save_dataframe(pdf, "pd_genes")
    back = store.load_dataframe("pd_genes", as_polars=False)
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == ["gene", "n", "x"]
    assert back["n"].tolist() == [1, 2, 3]
    assert back["gene"].iloc[0] == "A" and pd.isna(back["gene"].iloc[2])
    assert pd.isna(back["x"].iloc[1])
    # the same table loaded as polars
    assert store.load_dataframe("pd_genes")["gene"].to_list() == ["A", "B", None]


def test_absent_table_returns_none(store):
    assert store.load_dataframe("nothing_here") is None
    assert store.load_dataframe("nothing_here", as_polars=False) is None
    assert store.has_checkpoint("nothing_here") is False
    assert store.delete_checkpoint("nothing_here") is False


def test_has_list_delete_checkpoint(store):
    df = gene_table(10)
    store.save_dataframe(df, "b_table", description="second")
    store.save_dataframe(df.head(3), "a_table", description="first")
    assert store.has_checkpoint("a_table")
    listing = store.list_checkpoints()
    assert listing["table_name"].to_list() == ["a_table", "b_table"]
    row = listing.row(0, named=True)
    assert row["row_count"] == 3
    assert row["description"] == "first"
    assert row["status"] == "complete"
    assert row["content_sha256"] == content_hash(df.head(3))
    assert row["dataset_version"] == row["content_sha256"][:16]
    assert row["created_at"].endswith("Z")
    assert store.delete_checkpoint("a_table") is True
    assert not store.has_checkpoint("a_table")
    assert store.load_dataframe("a_table") is None
    assert store.list_checkpoints()["table_name"].to_list() == ["b_table"]


def test_empty_listing_has_columns(store):
    listing = store.list_checkpoints()
    assert listing.height == 0
    for col in ("table_name", "created_at", "row_count", "description", "content_sha256"):
        assert col in listing.columns
    assert "dataset_version" in listing.columns


def test_replace_and_append(store):
    store.save_dataframe(pl.DataFrame({"a": [1, 2]}), "t")
    store.save_dataframe(pl.DataFrame({"a": [3]}), "t")
    assert store.load_dataframe("t")["a"].to_list() == [3]
    v = store.save_dataframe(pl.DataFrame({"a": [4, 5]}), "t", replace=False)
    assert store.load_dataframe("t")["a"].to_list() == [3, 4, 5]
    assert v == dataset_version(content_hash(pl.DataFrame({"a": [5, 3, 4]})))
    assert store.list_checkpoints()["row_count"].to_list() == [3]


def test_identical_content_reuses_stored_table(store):
    df = gene_table(30)
    v1 = store.save_dataframe(df, "genes", config_hash="c1")
    created = store.list_checkpoints()["created_at"][0]
    # same content, other row and column order, same config: nothing rewritten
    shuffled = df.reverse().select(list(reversed(df.columns)))
    v2 = store.save_dataframe(shuffled, "genes", config_hash="c1")
    assert v1 == v2
    assert store.list_checkpoints()["created_at"][0] == created
    assert store.load_dataframe("genes").equals(df)  # the stored rows were kept
    # other config: rewritten (new created_at), same dataset version
    v3 = store.save_dataframe(shuffled, "genes", config_hash="c2")
    assert v3 == v1
    assert store.list_checkpoints()["created_at"][0] != created
    # other content: new version
    v4 = store.save_dataframe(df.head(5), "genes", config_hash="c2")
    assert v4 != v1


@pytest.mark.parametrize(
    "bad",
    [
        "x; DROP TABLE _checkpoints; --",
        'a"b',
        "genes WHERE 1=1",
        "1abc",
        "",
        "_checkpoints",
        "a-b",
        "x" * 64,
    ],
)
def test_rejects_bad_table_names(store, bad):
    store.save_dataframe(pl.DataFrame({"a": [1]}), "victim")
    with pytest.raises(InvalidNameError):
        store.save_dataframe(pl.DataFrame({"a": [1]}), bad)
    with pytest.raises(InvalidNameError):
        store.load_dataframe(bad)
    with pytest.raises(InvalidNameError):
        store.delete_checkpoint(bad)
    with pytest.raises(InvalidNameError):
        store.has_checkpoint(bad)
    assert store.has_checkpoint("victim")
    assert (
        "_checkpoints"
        in store.execute_query("SELECT table_name FROM duckdb_tables()")["table_name"].to_list()
    )


@pytest.mark.parametrize("bad_col", ['a"; DROP TABLE victim; --', "bad\ncol", ""])
def test_rejects_bad_column_names(store, bad_col):
    with pytest.raises(InvalidNameError):
        store.save_dataframe(pl.DataFrame({bad_col: [1]}), "t")
    assert store.load_dataframe("t") is None


def test_duplicate_column_names_case_insensitive(store):
    with pytest.raises(InvalidNameError):
        store.save_dataframe(pl.DataFrame({"Gene": [1], "gene": [2]}), "t")


def test_values_are_bound_parameters(store):
    store.save_dataframe(pl.DataFrame({"name": ["a", "b"]}), "names")
    evil = "a' OR '1'='1"
    assert store.execute_query("SELECT * FROM names WHERE name = ?", [evil]).height == 0
    assert store.execute_query("SELECT * FROM names WHERE name = $n", {"n": "b"}).height == 1
    # a description containing SQL is stored verbatim
    store.save_dataframe(pl.DataFrame({"x": [1]}), "t", description="'); DROP TABLE names; --")
    assert store.has_checkpoint("names")
    assert store.list_checkpoints().filter(pl.col("table_name") == "t")["description"][0] == (
        "'); DROP TABLE names; --"
    )


def test_execute_query_returns_polars_and_handles_ddl(store):
    out = store.execute_query("SELECT 1 AS one, 'x' AS s")
    assert isinstance(out, pl.DataFrame) and out.to_dicts() == [{"one": 1, "s": "x"}]
    store.execute_query("CREATE TABLE scratch (a INTEGER)")
    store.execute_query("INSERT INTO scratch VALUES (?)", [7])
    assert store.execute_query("SELECT a FROM scratch")["a"].to_list() == [7]
    with pytest.raises(ValueError):
        store.execute_query("   ")


def test_failed_query_rolls_back(store):
    store.save_dataframe(pl.DataFrame({"a": [1]}), "t")
    with pytest.raises(Exception, match="(?i)catalog|not exist"):
        store.execute_query("DELETE FROM t; SELECT * FROM no_such_table")
    assert store.load_dataframe("t")["a"].to_list() == [1]


def test_export_parquet(store, tmp_path):
    df = gene_table(25)
    version = store.save_dataframe(df, "genes")
    out = store.export_parquet("genes", tmp_path / "out" / "genes.parquet")
    assert out.exists()
    assert pl.read_parquet(out).equals(df)
    meta = read_parquet_metadata(out)
    assert meta["usher_pipeline.dataset_version"] == version
    assert meta["usher_pipeline.table_name"] == "genes"
    with pytest.raises(KeyError):
        store.export_parquet("absent", tmp_path / "x.parquet")


def test_context_manager_closes(tmp_path):
    with PipelineStore(tmp_path / "db.duckdb") as s:
        s.save_dataframe(pl.DataFrame({"a": [1]}), "t")
    with pytest.raises(RuntimeError, match="closed"):
        s.load_dataframe("t")
    # the file is not held open: another store (and plain duckdb) can open it
    import duckdb

    con = duckdb.connect(str(tmp_path / "db.duckdb"))
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(1,)]
    con.close()


def test_from_config(tmp_path):
    cfg = {"state": {"db": str(tmp_path / "x" / "s.duckdb"), "lock_timeout_s": 12}}
    s = PipelineStore.from_config(cfg)
    assert s.db_path == tmp_path / "x" / "s.duckdb"
    assert s.lock_timeout_s == 12.0
    assert s.state_dir == tmp_path / "x"


def test_every_operation_records_a_lock_wait(store):
    store.save_dataframe(pl.DataFrame({"a": [1]}), "t")
    store.load_dataframe("t")
    store.has_checkpoint("t")
    waits = store.execute_query("SELECT operation, wait_s, hold_s, pid FROM _lock_waits")
    assert waits["operation"].to_list()[:3] == ["save:t", "load:t", "has:t"]
    assert (waits["wait_s"] >= 0).all() and (waits["hold_s"] > 0).all()
    assert store.lock_wait_seconds() >= 0
    assert store.operations >= 4


def test_content_hash_is_order_independent_and_typed():
    df = gene_table(20)
    assert content_hash(df) == content_hash(df.reverse())
    assert content_hash(df) == content_hash(df.select(sorted(df.columns)))
    assert content_hash(df) != content_hash(df.head(19))
    # duplicates count, types count
    assert content_hash(pl.DataFrame({"a": [1, 1]})) != content_hash(pl.DataFrame({"a": [1]}))
    assert content_hash(pl.DataFrame({"a": [1]})) != content_hash(pl.DataFrame({"a": ["1"]}))
    # no ambiguity between field boundaries
    a = pl.DataFrame({"x": ["a\x1fb"], "y": ["c"]})
    b = pl.DataFrame({"x": ["a"], "y": ["b\x1fc"]})
    assert content_hash(a) != content_hash(b)
    assert content_hash(pl.DataFrame({"s": [None]}, schema={"s": pl.String})) != content_hash(
        pl.DataFrame({"s": ["N"]})
    )
    nested = pl.DataFrame({"l": [[1, 2], [3]], "k": [1, 2]})
    assert content_hash(nested) == content_hash(nested.reverse())
    # pandas and polars forms of the same table agree
    assert content_hash(pl.DataFrame({"a": [1, 2]})) == content_hash(pd.DataFrame({"a": [1, 2]}))


def test_content_hash_of_string_lists_is_unambiguous():
    """Lists of strings (every list column of the workflow) are canonicalised natively: element
    boundaries, null elements, empty and null lists and the row boundary must all stay distinct."""
    schema = {"l": pl.List(pl.String)}

    def h(*rows: object) -> str:
        return content_hash(pl.DataFrame({"l": list(rows)}, schema=schema))

    distinct = [
        h(["a,b"]), h(["a", "b"]), h(["ab"]), h(["b", "a"]), h([None]), h([]), h(None),
        h(["N"]), h([""]), h(["", ""]), h(["1:a"]), h(["a"], ["b"]), h(["a", "b"], []),
        h(["a"], ["b"], []), h(["3:abc"]),
    ]  # fmt: skip
    assert len(set(distinct)) == len(distinct)
    assert h(["a"], ["b", None]) == h(["b", None], ["a"])  # row order still does not matter
    assert h(["é", "ß"]) != h(["e", "s"])
    as_text = pl.DataFrame({"l": ["1[1:a]"]})
    assert content_hash(as_text) != h(["a"])  # the type is part of the header
