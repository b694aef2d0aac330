"""state export / import / inspect: bags, validation, merging, crash safety (library and CLI)."""

from __future__ import annotations

import json
import os
import signal
import tarfile
import time
import zipfile

import duckdb
import polars as pl
import pytest
from state_fixtures import fake_snakemake, mp_context
from usher_pipeline.persistence import FetchCache, PipelineStore, RuleRun
from usher_pipeline.persistence import transfer as tr
from usher_pipeline.persistence.transfer import BagError, export_state, import_state, inspect_bag
from usher_pipeline.state_cli import main

COMPARED = None  # all tables except the machine-local ones


def digests(db) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        d = tr.table_digests(con)
    finally:
        con.close()
    return {k: v for k, v in d.items() if k not in tr._LOCAL_ONLY}


def make_state(root, db=None):
    """Two chained rule runs, a stored table, a fetch and a batched pull, under ``root``."""
    (root / "raw_in.tsv").write_text("gene\nA\nB\nC\n")
    sm1 = fake_snakemake(root, rule="parse", inputs=["raw_in.tsv"], outputs=["r/parsed.tsv"], db=db)
    with RuleRun(sm1) as run:
        run.write_tsv(pl.read_csv(root / "raw_in.tsv"), sm1.output[0])
    sm2 = fake_snakemake(
        root, rule="score", inputs=["r/parsed.tsv"], outputs=["r/scored.parquet"], db=db
    )
    with RuleRun(sm2) as run:
        df = pl.read_csv(sm2.input[0], separator="\t").with_columns(pl.lit(1).alias("s"))
        run.write_parquet(df, sm2.output[0], table_name="scored", sort_by="gene")
    dbp = sm1.config["state"]["db"]
    store = PipelineStore(dbp)
    cache = FetchCache(store, root / "state" / "downloads")
    cache.get_or_fetch(
        "hgnc", "2026-06", {"url": "https://x.org"}, "v1", lambda p: p.write_text("a\n1\n")
    )
    b = cache.batches("pubmed", "r1", {"q": "cilia"}, "v1")
    b.save_batch("0", pl.DataFrame({"gene": ["A", "B"], "n": [1, 2]}))
    b.save_batch("1", pl.DataFrame({"gene": ["C"], "n": [3]}))
    return dbp


@pytest.fixture
def state(tmp_path):
    root = tmp_path / "src"
    root.mkdir()
    return root, make_state(root)


def test_export_import_round_trip_identical_by_content_hash(state, tmp_path):
    root, db = state
    bag = tmp_path / "bag.tar"
    s = export_state(PipelineStore(db), bag, root=root, with_outputs=True, with_cache=True)
    assert s.runs == 2 and s.files["outputs"] == 2 and s.files["provenance"] == 2
    assert s.files["cache"] == 1 and not s.skipped
    m = inspect_bag(bag)
    assert m["format_version"] == tr.FORMAT_VERSION and len(m["run_ids"]) == 2
    assert set(m["software"]) >= {"snakemake", "duckdb", "polars"}
    assert m["tables"]["scored"]["rows"] == 3
    with tarfile.open(bag) as tf:
        names = tf.getnames()
    assert any(n.endswith("data/db/schema.sql") for n in names)
    assert any(n.endswith("data/provenance/r/scored.parquet.provenance.json") for n in names)
    assert any(n.endswith("manifest-sha256.txt") for n in names)

    dest = tmp_path / "dest"
    dest.mkdir()
    new_db = dest / "state" / "state.duckdb"
    r = import_state(PipelineStore(new_db), bag, root=dest)
    assert r.runs_added == 2 and "scored" in r.tables_added and r.fetches_added == 1
    assert r.batch_sets_added == 1
    got_d, want_d = digests(new_db), digests(db)
    fc_got, fc_want = got_d.pop("_fetch_checkpoints"), want_d.pop("_fetch_checkpoints")
    assert got_d == want_d  # tables, checkpoints, runs, provenance, batches
    assert fc_got["rows"] == fc_want["rows"] == 1  # same record, path moved to the new root
    # the batched pull and the download are usable in the new place with no fetch
    store = PipelineStore(new_db)
    cache = FetchCache(store, dest / "state" / "downloads")
    got = cache.batches("pubmed", "r1", {"q": "cilia"}, "v1").load_all()
    assert got["n"].to_list() == [1, 2, 3]
    # the download was recorded under the old root; it is restored (and found) under the new one
    import shutil

    shutil.rmtree(root)
    hit = cache.lookup("hgnc", "2026-06", {"url": "https://x.org"}, "v1")
    assert hit is not None and hit.path.read_text() == "a\n1\n"
    assert str(hit.path).startswith(str(dest))
    imports = store.execute_query("SELECT * FROM _imports")
    assert imports.height == 1 and imports["sha256"][0] == s.sha256


def test_import_twice_is_a_no_op(state, tmp_path):
    root, db = state
    bag = tmp_path / "b.zip"
    export_state(PipelineStore(db), bag, root=root)
    assert zipfile.is_zipfile(bag)
    new_db = tmp_path / "d" / "s.duckdb"
    import_state(PipelineStore(new_db), bag, root=tmp_path / "d")
    full_before = tr.table_digests(duckdb.connect(str(new_db), read_only=True))
    again = import_state(PipelineStore(new_db), bag, root=tmp_path / "d")
    assert again.already_imported
    con = duckdb.connect(str(new_db), read_only=True)
    assert tr.table_digests(con) == full_before
    con.close()
    # importing into the source itself adds nothing either (same run ids, same tables)
    before = digests(db)
    r = import_state(PipelineStore(db), bag, root=root)
    assert r.runs_added == 0 and not r.tables_added and r.fetches_added == 0
    assert digests(db) == before


def test_merge_keeps_local_tables_unless_replace(state, tmp_path):
    root, db = state
    bag = tmp_path / "b.tar.gz"
    export_state(PipelineStore(db), bag, root=root)
    other = tmp_path / "o"
    other.mkdir()
    odb = other / "s.duckdb"
    PipelineStore(odb).save_dataframe(pl.DataFrame({"gene": ["Z"], "s": [9]}), "scored")
    r = import_state(PipelineStore(odb), bag, root=other)
    assert r.tables_kept == ["scored"] and r.runs_added == 2
    assert PipelineStore(odb).load_dataframe("scored")["gene"].to_list() == ["Z"]
    # a second bag of the same state (different file) with --replace: the bag wins
    bag2 = tmp_path / "b2.tar"
    export_state(PipelineStore(db), bag2, root=root)
    r2 = import_state(PipelineStore(odb), bag2, root=other, replace=True)
    assert r2.tables_replaced == ["scored"] and r2.runs_replaced == 2
    assert sorted(PipelineStore(odb).load_dataframe("scored")["gene"]) == ["A", "B", "C"]
    assert digests(odb)["_runs"] == digests(db)["_runs"]


def test_export_selected_runs_and_references(state, tmp_path):
    root, db = state
    run_ids = PipelineStore(db).execute_query("SELECT run_id, rule FROM _runs").to_dicts()
    score = next(r["run_id"] for r in run_ids if r["rule"] == "score")
    bag = tmp_path / "one.tar"
    s = export_state(PipelineStore(db), bag, root=root, runs=[score[:12]])
    assert s.runs == 1 and "outputs" not in s.files
    m = inspect_bag(bag)
    assert m["run_ids"] == [score]
    outs = [f for f in m["files"] if f["role"] == "outputs"]
    assert [f["path"].endswith("scored.parquet") for f in outs] == [True]
    assert outs[0]["member"] is None and len(outs[0]["sha256"]) == 64  # referenced by sha256
    # no --with-cache: no batch tables, and the download is referenced only
    assert not any(t.startswith("_batch_") and t not in tr._BATCH_META for t in m["tables"])
    assert m["tables"]["_batch_done"]["rows"] == 0
    with pytest.raises(KeyError, match="no run"):
        export_state(PipelineStore(db), tmp_path / "x.tar", root=root, runs=["ffffffffffff"])


def _tamper(bag, tmp_path, member_suffix):
    """Rewrite the tar with one byte changed in the member ending with ``member_suffix``."""
    out = tmp_path / "tampered.tar"
    hit = None
    with tarfile.open(bag) as src, tarfile.open(out, "w") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None
            if data is not None and info.name.endswith(member_suffix) and hit is None:
                pos = len(data) // 2
                data = data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]
                hit = info.name
            import io

            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    assert hit is not None
    return out, hit


@pytest.mark.parametrize("member", [".parquet", "manifest.json", "scored.parquet.provenance.json"])
def test_tampered_bag_is_refused_naming_the_member(state, tmp_path, member, capsys):
    root, db = state
    bag = tmp_path / "bag.tar"
    export_state(PipelineStore(db), bag, root=root, with_outputs=True)
    bad, name = _tamper(bag, tmp_path, member)
    target = tmp_path / "t" / "s.duckdb"
    PipelineStore(target).save_dataframe(pl.DataFrame({"x": [1]}), "mine")
    before = digests(target)
    rel = name.split("/", 1)[1]  # the path inside the bag
    with pytest.raises(BagError) as err:
        import_state(PipelineStore(target), bad, root=tmp_path / "t")
    assert rel in str(err.value) and str(bad) in str(err.value)
    assert digests(target) == before
    assert main(["--db", str(target), "import", str(bad)]) == 2
    assert rel in capsys.readouterr().err
    assert main(["--db", str(target), "inspect", str(bad)]) == 2


def test_unknown_format_version_is_refused(state, tmp_path):
    import bagit

    root, db = state
    bag = tmp_path / "bag.tar"
    export_state(PipelineStore(db), bag, root=root)
    ex = tmp_path / "ex"
    with tarfile.open(bag) as tf:
        tf.extractall(ex, filter="data")
    top = next(ex.iterdir())
    mpath = top / "data" / "manifest.json"
    m = json.loads(mpath.read_text())
    m["format_version"] = "99"
    mpath.write_text(json.dumps(m))
    b = bagit.Bag(str(top))
    b.save(manifests=True)  # a consistent bag, only the version is unknown
    newer = tmp_path / "newer.tar"
    with tarfile.open(newer, "w") as tf:
        tf.add(top, top.name)
    with pytest.raises(BagError, match="unknown bag format version '99'"):
        inspect_bag(newer)


def _slow_import(db, bag, root, ready):
    def hook(work):
        ready.set()
        import time

        time.sleep(120)

    tr._before_swap_hook = hook
    import_state(PipelineStore(db), bag, root=root)


@pytest.mark.timeout(120)
def test_import_killed_midway_leaves_old_state_usable(state, tmp_path):
    root, db = state
    bag = tmp_path / "bag.tar"
    export_state(PipelineStore(db), bag, root=root, with_cache=True)
    target_root = tmp_path / "t"
    target = target_root / "s.duckdb"
    PipelineStore(target).save_dataframe(pl.DataFrame({"x": [1, 2]}), "mine")
    before = digests(target)
    ctx = mp_context()
    ready = ctx.Event()
    p = ctx.Process(target=_slow_import, args=(str(target), str(bag), str(target_root), ready))
    p.start()
    assert ready.wait(60)  # merged copy written, not yet swapped in
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    assert digests(target) == before
    store = PipelineStore(target, lock_timeout_s=10)
    assert store.load_dataframe("mine")["x"].to_list() == [1, 2]
    store.save_dataframe(pl.DataFrame({"x": [3]}), "mine2")  # usable, lock released
    r = import_state(store, bag, root=target_root)  # a retry completes and cleans up
    assert r.runs_added == 2
    assert not list(target_root.glob(".s.duckdb.import-*"))
    assert not list(target_root.glob(".import-*"))


def test_cli_export_inspect_import(state, tmp_path, capsys):
    root, db = state
    bag = tmp_path / "cli.tar"
    assert main(["--db", db, "export", str(bag), "--root", str(root), "--with-outputs"]) == 0
    out = capsys.readouterr().out
    assert "2 runs" in out and "2 outputs" in out
    assert main(["inspect", str(bag)]) == 0
    out = capsys.readouterr().out
    assert "valid bag" in out and "scored" in out and "parsed.tsv" in out
    new_db = tmp_path / "n" / "s.duckdb"
    assert main(["--db", str(new_db), "import", str(bag), "--root", str(tmp_path / "n")]) == 0
    assert "2 runs added" in capsys.readouterr().out
    assert main(["--db", str(new_db), "import", str(bag)]) == 0
    assert "already imported" in capsys.readouterr().out


@pytest.mark.timeout(180)
def test_export_while_another_process_writes(tmp_path):
    """Export takes the lock only to copy the file: a busy writer keeps going, every bag is whole."""
    from state_fixtures import crash_writer

    db = tmp_path / "busy.duckdb"
    ctx = mp_context()
    ready = ctx.Event()
    p = ctx.Process(target=crash_writer, args=(str(db), ready, False))
    p.start()
    try:
        assert ready.wait(60)
        deadline = time.monotonic() + 60
        while not PipelineStore(db, lock_timeout_s=60).has_checkpoint("crash_t"):
            assert time.monotonic() < deadline, "the writer stored nothing"
            time.sleep(0.05)
        gens = []
        for k in range(3):
            bag = tmp_path / f"busy{k}.tar"
            export_state(PipelineStore(db, lock_timeout_s=60), bag, root=tmp_path)
            target = tmp_path / f"t{k}" / "s.duckdb"
            import_state(PipelineStore(target), bag, root=tmp_path / f"t{k}")  # hashes checked
            t = PipelineStore(target).load_dataframe("crash_t")
            assert set(t["gen"]) == {t["gen"][0]} and t.height == 1000 + t["gen"][0]
            gens.append(t["gen"][0])
        assert p.is_alive()  # the writer was never blocked out
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.join()
    assert gens == sorted(gens)


def _recompute_bagit(bag, tmp_path, edit):
    """Unpack a tar bag, let ``edit(bag_dir)`` change files, recompute the BagIt manifests (as
    someone altering a bag would), pack it again."""
    import bagit

    work = tmp_path / "unpacked"
    with tarfile.open(bag) as tf:
        tf.extractall(work, filter="data")
    (top,) = list(work.iterdir())
    edit(top)
    bagit.Bag(str(top)).save(manifests=True)
    out = tmp_path / "recomputed.tar"
    with tarfile.open(out, "w") as tf:
        tf.add(top, arcname=top.name)
    return out


def test_edited_output_with_recomputed_bagit_manifests_is_refused(state, tmp_path, capsys):
    root, db = state
    bag = tmp_path / "bag.tar"
    export_state(PipelineStore(db), bag, root=root, with_outputs=True)

    def edit(top):
        member = top / "data" / "outputs" / "r" / "parsed.tsv"
        member.write_text(member.read_text() + "EVIL\n")

    bad = _recompute_bagit(bag, tmp_path, edit)
    inspect_bag(bad)  # BagIt itself finds nothing wrong
    dest = tmp_path / "t"
    target = dest / "s.duckdb"
    PipelineStore(target).save_dataframe(pl.DataFrame({"x": [1]}), "mine")
    before = digests(target)
    with pytest.raises(BagError, match=r"r/parsed.tsv: sha256 \w+ in the bag, but the bag's"):
        import_state(PipelineStore(target), bad, root=dest, restore_outputs=True)
    assert digests(target) == before
    assert not list(dest.rglob("parsed.tsv")) and not list(dest.rglob("scored.parquet"))
    assert main(["--db", str(target), "import", str(bad), "--restore-outputs"]) == 2
    err = capsys.readouterr().err
    assert "parsed.tsv" in err and "nothing was imported" in err
    assert digests(target) == before


def test_edited_output_and_its_manifest_entry_still_refused_by_the_state_record(state, tmp_path):
    root, db = state
    bag = tmp_path / "bag.tar"
    export_state(PipelineStore(db), bag, root=root, with_outputs=True)

    def edit(top):
        import hashlib

        member = top / "data" / "outputs" / "r" / "parsed.tsv"
        member.write_text(member.read_text() + "EVIL\n")
        mpath = top / "data" / "manifest.json"
        m = json.loads(mpath.read_text())
        for f in m["files"]:
            if f.get("member") == "outputs/r/parsed.tsv":
                f["sha256"] = hashlib.sha256(member.read_bytes()).hexdigest()
                f["size"] = member.stat().st_size
        mpath.write_text(json.dumps(m))

    bad = _recompute_bagit(bag, tmp_path, edit)
    with pytest.raises(BagError, match=r"r/parsed.tsv: .* the imported state records"):
        import_state(PipelineStore(tmp_path / "t" / "s.duckdb"), bad, root=tmp_path / "t",
                     restore_outputs=True)  # fmt: skip


def test_restore_outputs_later_and_verify_tells_not_restored_from_changed(
    state, tmp_path, capsys, monkeypatch
):
    import shutil

    from core_fixtures import MINI

    root, db = state
    bag = tmp_path / "bag.tar"
    export_state(PipelineStore(db), bag, root=root, with_outputs=True, with_cache=True)
    outputs = {p: p.read_bytes() for p in (root / "r").iterdir()}
    shutil.rmtree(root / "r")  # the files are not on this machine
    target = tmp_path / "t" / "s.duckdb"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"snapshot_dir: {MINI}\n")
    state_cli = ["--db", str(target), "--configfile", str(cfg)]
    monkeypatch.chdir(tmp_path)
    assert main([*state_cli, "import", str(bag)]) == 0
    capsys.readouterr()
    assert main([*state_cli, "verify"]) == 0
    out = capsys.readouterr().out
    assert out.count("NOT RESTORED") == 2 and "MISSING" not in out, out
    assert "2 imported but not restored" in out
    # the bag is already imported: --restore-outputs still puts the outputs in place
    assert main([*state_cli, "import", str(bag), "--restore-outputs", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "already imported" in out and "4 files restored" in out, out  # 2 outputs, 2 sidecars
    assert {p: p.read_bytes() for p in (root / "r").iterdir()} == outputs
    mtimes = {p.stat().st_mtime for p in (root / "r").iterdir()}
    assert len(mtimes) == 1  # one mtime: nothing looks older than what it was made from
    assert main([*state_cli, "verify"]) == 0
    assert "NOT RESTORED" not in capsys.readouterr().out
    (root / "r" / "parsed.tsv").write_text("changed\n")
    assert main([*state_cli, "verify"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "parsed.tsv" in out and "NOT RESTORED" not in out
