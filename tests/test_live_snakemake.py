"""live.smk end to end: localrule fetches through the cache (and the live STRING network built from
three of them); a forced rerun sends zero requests and rebuilds the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from live_server import LiveServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_live_rules_and_zero_request_rerun(tmp_path):
    with LiveServer() as srv:
        cfg = srv.live_config(tmp_path, uniprot_page_size=5000)
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
        (tmp_path / "Snakefile").write_text(
            f'configfile: "{ROOT / "config/config.yaml"}"\n'
            f'include: "{ROOT / "workflow/rules/common.smk"}"\n'
            f'include: "{ROOT / "workflow/rules/live.smk"}"\n'
        )
        targets = [
            f"{tmp_path}/results/live/raw/gene2go",
            f"{tmp_path}/results/live/raw/hpa_subcellular",
            f"{tmp_path}/results/live/uniprot_features.parquet",
            f"{tmp_path}/results/live/string_network.tsv",
        ]
        bindir = Path(sys.executable).parent
        cmd = [
            str(bindir / "snakemake"),
            "-s",
            str(tmp_path / "Snakefile"),
            "--configfile",
            str(tmp_path / "config.yaml"),
            "-c1",
            "-d",
            str(tmp_path),
            *targets,
        ]
        env = dict(os.environ, PATH=f"{bindir}:{os.environ.get('PATH', '')}")
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        first = sum(srv.counts.values())
        assert first >= 3
        feats = pl.read_parquet(targets[2])
        assert feats["accession"].is_unique().all() and feats.height > 19000
        assert Path(targets[0] + ".provenance.json").exists()
        # the STRING network is built from three fetched files and names each one's release
        net_prov = json.loads(Path(targets[3] + ".provenance.json").read_text())
        names = {s["name"]: s["release"] for s in net_prov["sources"]}
        assert {"string_links", "string_info", "gene_info"} <= set(names)
        net = Path(targets[3]).read_bytes()
        assert net.startswith(b"entrez_1\tentrez_2\t")
        srv.reset_counts()
        r = subprocess.run(cmd + ["--forceall"], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        assert sum(srv.counts.values()) == 0
        assert Path(targets[3]).read_bytes() == net  # rebuilt from the cache: same bytes
