"""State layer: one shared DuckDB file, provenance sidecars, checkpoint tables, run history.

INTERFACE CONTRACT (implemented by the persistence modules; other code imports only these names):

    PipelineStore(db_path, lock_timeout_s=300.0, *, holder=None, threads=None)
        .save_dataframe(df, table_name, description="", replace=True, *, config_hash=None) -> str
                                                                     # dataset_version
        .load_dataframe(table_name, as_polars=True) -> pl.DataFrame | pd.DataFrame | None
        .has_checkpoint(table_name) -> bool
        .list_checkpoints() -> pl.DataFrame
        .delete_checkpoint(table_name) -> bool
        .export_parquet(table_name, path) -> Path
        .execute_query(sql, params=None) -> pl.DataFrame
        .read_only_query(sql) -> pl.DataFrame        # read_only connection (state query)
        .close(); context manager
        PipelineStore.from_config(config: dict)      # config["state"]["db"], ["lock_timeout_s"]

    ProvenanceTracker(pipeline_version, config)
        .record_step(step_name, details=None)
        .add_source(name, release, url, path=None, retrieved_at=None, validators=None, sha256=None)
        .add_input(path) / .add_output(path)
        .create_metadata() -> dict
        .save_sidecar(output_path) -> Path          # <output_path>.provenance.json
        .save_to_store(store)
        ProvenanceTracker.load_sidecar(path) -> dict
        ProvenanceTracker.from_config(config, version=None)

    FetchCache(store, cache_dir=None)        # checkpoint tables for fetches (used by live mode)
        .get_or_fetch(source, release, request: dict, fetcher_version,
                      fetch: Callable[[Path], dict | None], suffix="")
            -> FetchResult(path, sha256, size, fetched_at, from_cache, key, row_count, meta)
        .batches(source, release, request, fetcher_version) -> BatchCheckpoint
    BatchCheckpoint
        .done_batch_ids() -> set[str]
        .save_batch(batch_id: str, df: pl.DataFrame) -> None      # atomic per batch
        .load_all() -> pl.DataFrame | None

    write_parquet(df, path, *, sort_by=None, metadata=None) -> str     # sha256 of written file
    RuleRun(snakemake)       # context manager used by every rule entry script
        .config, .params, .log (logging.Logger writing to snakemake.log[0])
        .record_step(name, details=None)
        .add_source(...)                     # as ProvenanceTracker.add_source
        .write_parquet(df, path, table_name=None, sort_by=None, description="") -> None
        .write_tsv(df, path) -> None
        .register_output(path) -> None       # a file written by other means (plot, html, json)
        .store -> PipelineStore (opened lazily, short-lived connections)

    Every DuckDB connection to the state database is opened under the store lock through
    connection.connect_state_db: a foreign holder of DuckDB's file lock (a notebook) is waited
    for up to lock_timeout_s, then DatabaseBusyError (a LockTimeoutError) names it.

See workflow/report/state_layer.md for the user-facing documentation.
"""

from ._common import (
    InvalidNameError,
    content_hash,
    dataset_version,
    sha256_file,
    validate_table_name,
)
from .connection import DatabaseBusyError
from .fetch_cache import (
    BatchCheckpoint,
    FetchCache,
    FetchResult,
    fetch_key,
    normalize_request,
    normalize_url,
)
from .lock import LockTimeoutError
from .parquet import ROW_GROUP_SIZE, read_parquet_metadata, write_parquet
from .provenance import (
    SCHEMA_PATH,
    ProvenanceTracker,
    config_hash,
    sidecar_path,
    validate_sidecar,
)
from .rule_run import RuleRun
from .store import PipelineStore

__all__ = [
    "ROW_GROUP_SIZE",
    "SCHEMA_PATH",
    "BatchCheckpoint",
    "DatabaseBusyError",
    "FetchCache",
    "FetchResult",
    "InvalidNameError",
    "LockTimeoutError",
    "PipelineStore",
    "ProvenanceTracker",
    "RuleRun",
    "config_hash",
    "content_hash",
    "dataset_version",
    "fetch_key",
    "normalize_request",
    "normalize_url",
    "read_parquet_metadata",
    "sha256_file",
    "sidecar_path",
    "validate_sidecar",
    "validate_table_name",
    "write_parquet",
]
