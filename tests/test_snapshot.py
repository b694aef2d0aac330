"""The embedded snapshot: verification, tamper detection, and a byte-identical rebuild."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from core_fixtures import MINI, SNAPSHOT, shared_data_dir
from usher_pipeline.errors import SnapshotError
from usher_pipeline.snapshot import (
    SNAPSHOT_KEYS,
    build_snapshot,
    load_manifest,
    sha256_file,
    snapshot_entry,
    verify_snapshot,
)
from usher_pipeline.sources import snapshot_paths


def test_committed_snapshot_verifies() -> None:
    verified = verify_snapshot(SNAPSHOT)
    assert sorted(e["key"] for e in verified) == sorted(SNAPSHOT_KEYS)
    assert snapshot_entry(SNAPSHOT, "gene2go")["path"] == "ncbi_gene/gene2go_human.gz"


def test_fixture_snapshot_verifies_and_maps_every_key() -> None:
    verify_snapshot(MINI)
    assert set(snapshot_paths(MINI)) == set(SNAPSHOT_KEYS)


@pytest.fixture
def mini_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "snap"
    shutil.copytree(MINI, dest)
    return dest


def test_altered_byte_is_detected(mini_copy: Path) -> None:
    target = mini_copy / "mgi" / "HMD_HumanPhenotype.rpt.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(SnapshotError) as exc:
        verify_snapshot(mini_copy)
    assert str(target) in str(exc.value) and "mgi_hmd" in str(exc.value)
    assert "altered" in str(exc.value)
    verify_snapshot(mini_copy, keys=["gene2go"])  # other files still verify


def test_removed_file_is_detected(mini_copy: Path) -> None:
    target = mini_copy / "hpo" / "hp.obo.gz"
    target.unlink()
    with pytest.raises(SnapshotError, match="missing \\(snapshot file 'hpo_obo'\\)") as exc:
        verify_snapshot(mini_copy)
    assert str(target) in str(exc.value)


def test_unknown_key_and_bad_manifest(mini_copy: Path) -> None:
    with pytest.raises(SnapshotError, match="'nope': not listed"):
        verify_snapshot(mini_copy, keys=["nope"])
    (mini_copy / "manifest.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="not valid JSON"):
        load_manifest(mini_copy)
    (mini_copy / "manifest.json").write_text(json.dumps({"format": 99, "files": []}))
    with pytest.raises(SnapshotError, match="unknown manifest format"):
        load_manifest(mini_copy)
    (mini_copy / "manifest.json").unlink()
    with pytest.raises(SnapshotError, match="manifest missing"):
        verify_snapshot(mini_copy)


@pytest.mark.timeout(120)
def test_build_from_shared_data_is_byte_identical(tmp_path: Path) -> None:
    shared = shared_data_dir()
    assert (shared / "SHA256SUMS").exists(), f"shared release files not found at {shared}"
    manifest = build_snapshot(shared, tmp_path)
    committed = load_manifest(SNAPSHOT)
    assert manifest == committed
    for entry in committed["files"]:
        assert sha256_file(tmp_path / entry["path"]) == entry["sha256"], entry["path"]
    assert (tmp_path / "manifest.json").read_bytes() == (SNAPSHOT / "manifest.json").read_bytes()


def test_build_rejects_missing_shared_files(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shutil.copytree(shared_data_dir(), shared, ignore=shutil.ignore_patterns("*.gz", "*.tsv"))
    with pytest.raises(SnapshotError, match="shared release file missing"):
        build_snapshot(shared, tmp_path / "out")
    (shared / "SHA256SUMS").unlink()
    with pytest.raises(SnapshotError, match="SHA256SUMS: missing"):
        build_snapshot(shared, tmp_path / "out")


@pytest.mark.parametrize("root", [SNAPSHOT, MINI], ids=["snapshot", "fixture"])
def test_manifest_urls_name_the_real_upstream_not_the_live_replacement(root: Path) -> None:
    """A snapshot table that a live source supersedes (s_het -> gnomAD constraint, Pfam/PROSITE
    -> UniProt REST, HPA 2022 flags -> current HPA) must cite where *its* bytes came from, not the
    URL live mode fetches instead."""
    from usher_pipeline.live.sources import SOURCES, UNIPROT_BASE
    from usher_pipeline.sources import SUPERSEDED_IN_LIVE

    by_key = {e["key"]: e for e in load_manifest(root)["files"]}
    for snap_key, live_key in SUPERSEDED_IN_LIVE.items():
        url = by_key[snap_key]["upstream_url"]
        assert url.startswith("https://"), (snap_key, url)
        live_url = SOURCES[live_key].default_url if live_key in SOURCES else UNIPROT_BASE
        assert not url.startswith(live_url), f"{snap_key} cites the live source {live_url}"
