"""Shared helpers of the core-library unit tests (parsers, universe, layers, scoring, validation).

The fixture snapshot ``tests/fixtures/snapshot_mini`` holds rows cut from the committed snapshot
by ``tests/fixtures/make_fixtures.py`` (same layouts and compression; see that script for the
genes kept and why). Tables built from it are cached per test session.
"""

from __future__ import annotations

import functools
import gzip
import sys
from pathlib import Path

import polars as pl
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from usher_pipeline import steps  # noqa: E402
from usher_pipeline.sources import snapshot_paths  # noqa: E402

MINI = ROOT / "tests" / "fixtures" / "snapshot_mini"
SNAPSHOT = ROOT / "workflow" / "resources" / "snapshot"


def shared_data_dir() -> Path:
    """The shared release files: env USHER_SHARED_DATA, else ``shared/data`` beside the clone."""
    import os

    env = os.environ.get("USHER_SHARED_DATA")
    return Path(env) if env else ROOT.parents[0] / "shared" / "data"


@functools.cache
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@functools.cache
def paths() -> dict[str, str]:
    """Source key -> path of the fixture snapshot file."""
    return snapshot_paths(MINI)


@functools.cache
def _universe() -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    return steps.universe_step(paths())


def genes() -> pl.DataFrame:
    return _universe()[0]


def aliases() -> pl.DataFrame:
    return _universe()[1]


def gene_id(symbol: str) -> str:
    """HGNC ID of a fixture gene by its current symbol."""
    hit = genes().filter(pl.col("symbol") == symbol)["gene_id"]
    assert hit.len() == 1, symbol
    return hit[0]


@functools.cache
def seeds() -> tuple[str, ...]:
    """Known genes (Usher + SYSCILIA v2) of the fixture universe: the seeds of the seeded layers."""
    from usher_pipeline.parsers import misc
    from usher_pipeline.universe import resolve_symbols

    ids: set[str] = set()
    for key in ("usher_genes", "scgs_v2"):
        gs = misc.read_gene_set(paths()[key], key)
        res = resolve_symbols(gs["symbol"].to_list(), aliases())
        ids |= set(res["gene_id"].drop_nulls().to_list())
    return tuple(sorted(ids))


@functools.cache
def folds() -> dict[str, int]:
    from usher_pipeline.layers.cilia_layers import assign_folds

    v = config()["validation"]
    return assign_folds(genes()["gene_id"].to_list(), v["folds"], v["seed"])


def context() -> dict:
    """What the layers need besides source files (as the layer rule passes it)."""
    return {"aliases": aliases(), "seeds": list(seeds()), "folds": folds()}


@functools.cache
def _layer(name: str) -> tuple[pl.DataFrame, dict]:
    return steps.layer_step(name, paths(), genes(), config(), None, context())


def layer(name: str) -> pl.DataFrame:
    return _layer(name)[0]


def layer_stats(name: str) -> dict:
    return _layer(name)[1]


def row(table: pl.DataFrame, symbol: str) -> dict:
    """The row of a per-gene table for a fixture gene (by symbol)."""
    hit = table.filter(pl.col("gene_id") == gene_id(symbol))
    assert hit.height == 1, symbol
    return hit.row(0, named=True)


def fixture_lines(key: str) -> list[str]:
    """The data lines of a fixture snapshot file (decompressed, newline stripped)."""
    path = Path(paths()[key])
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
    else:
        text = path.read_text(encoding="utf-8")
    return text.splitlines()


def fixture_rows(key: str, column: int, value: str) -> list[list[str]]:
    """Tab-split rows of a fixture file whose ``column`` equals ``value``."""
    return [
        line.split("\t")
        for line in fixture_lines(key)
        if line.split("\t")[column : column + 1] == [value]
    ]


def write_gz(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return path
