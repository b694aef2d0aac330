"""Expression and constraint layers: parsers for the live-only formats and the scores.

No offline copy of HPA tissue RNA, GTEx or gnomAD exists, so these tests write small inputs in the
exact upstream layouts. Their values are test inputs for the formulas, with test identifiers, not
data about real genes.
"""

from __future__ import annotations

import gzip
import io
import math
import sys
import zipfile
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from live_server import LiveServer  # noqa: E402
from usher_pipeline.errors import SourceFormatError  # noqa: E402
from usher_pipeline.live.constraint import gnomad_constraint  # noqa: E402
from usher_pipeline.live.expression import (  # noqa: E402
    expression_layer,
    read_gtex_median_gct,
)
from usher_pipeline.live.fetch import fetch_to  # noqa: E402

pytestmark = pytest.mark.timeout(60)

UNIVERSE = pl.DataFrame(
    {
        "gene_id": ["T:1", "T:2", "T:3", "T:4"],
        "symbol": ["TRET", "TUBI", "TOFF", "TNONE"],
        "ensembl_gene": ["ENSGT01", "ENSGT02", "ENSGT03", "ENSGT04"],
        "ncbi_gene_id": ["1", "2", "3", "4"],
    }
)
TISSUES = ["retina", "liver", "brain", "testis"]
HPA = {  # nTPM per tissue
    "ENSGT01": [200.0, 0.0, 0.0, 0.0],  # retina only
    "ENSGT02": [50.0, 50.0, 50.0, 50.0],  # ubiquitous
    "ENSGT03": [0.0, 0.0, 0.0, 0.0],  # measured, expressed nowhere
}


def _hpa_zip(drop: str | None = None) -> bytes:
    cols = ["Gene", "Gene name", "Tissue", "nTPM"]
    header = [c if c != drop else c + "_x" for c in cols]
    lines = ["\t".join(header)]
    for g, vals in HPA.items():
        for t, v in zip(TISSUES, vals, strict=True):
            lines.append(f"{g}\tSYM\t{t}\t{v}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("rna_tissue_consensus.tsv", "\n".join(lines) + "\n")
    return buf.getvalue()


def _gct(truncate: bool = False) -> bytes:
    rows = [
        "Name\tDescription\tLiver\tBrain - Cortex",
        "ENSGT01.5\tTRET\t0\t1",
        "ENSGT02.3\tTUBI\t30\t30",
        "ENSGT04.1\tTNONE\t5\t0",
        "ENSGT04.1_PAR_Y\tTNONE\t0\t0",
    ]
    n = 4
    if truncate:
        rows = rows[:-2]
    return gzip.compress(("#1.2\n" + f"{n}\t2\n" + "\n".join(rows) + "\n").encode(), mtime=0)


def test_expression_layer(tmp_path):
    (tmp_path / "hpa").write_bytes(_hpa_zip())
    (tmp_path / "gtex").write_bytes(_gct())
    out = expression_layer(UNIVERSE, tmp_path / "hpa", tmp_path / "gtex")
    rows = {r["gene_id"]: r for r in out.iter_rows(named=True)}
    assert out.height == 4
    r1, r2, r3, r4 = rows["T:1"], rows["T:2"], rows["T:3"], rows["T:4"]
    assert r1["hpa_retina_ntpm"] == 200.0 and r1["hpa_tau"] == pytest.approx(1.0)
    assert r1["hpa_retina_rel"] == pytest.approx(1.0)
    assert r2["hpa_tau"] == pytest.approx(0.0) and r2["gtex_tau"] == pytest.approx(0.0)
    assert r1["expression_score"] > r2["expression_score"] > r3["expression_score"]
    # level 1 (200 > 100 saturation) * 0.5 + rel 1 * 0.3 + mean(tau 1, gtex tau 1) * 0.2
    assert r1["expression_score"] == pytest.approx(1.0)
    expected2 = 0.5 * math.log1p(50) / math.log1p(100) + 0.3 * 1.0 + 0.0
    assert r2["expression_score"] == pytest.approx(expected2)
    # measured but zero everywhere: a real 0, tau undefined
    assert r3["hpa_retina_ntpm"] == 0.0 and r3["hpa_tau"] is None
    assert r3["expression_score"] == 0.0
    # not in HPA: NULL (not 0) even though GTEx has it; PAR_Y duplicate collapsed
    assert r4["hpa_retina_ntpm"] is None and r4["expression_score"] is None
    assert r4["gtex_max_tpm"] == 5.0 and r4["gtex_max_tissue"] == "Liver"


def test_expression_missing_sources_give_nulls():
    out = expression_layer(UNIVERSE, None, None)
    assert out.height == 4 and out["expression_score"].null_count() == 4


def test_expression_format_errors(tmp_path):
    (tmp_path / "hpa").write_bytes(_hpa_zip(drop="nTPM"))
    with pytest.raises(SourceFormatError, match="nTPM"):
        expression_layer(UNIVERSE, tmp_path / "hpa", None)
    (tmp_path / "gtex").write_bytes(_gct(truncate=True))
    with pytest.raises(SourceFormatError, match="truncated"):
        read_gtex_median_gct(tmp_path / "gtex")


GNOMAD_HEADER = (
    "gene\tgene_id\ttranscript\ttranscript_version\tcanonical\tmane_select\tlof.obs\t"
    "lof.exp\tlof.oe\tlof.oe_ci.lower\tlof.oe_ci.upper\tlof.pLI\tmis.z_score\n"
)


def _gnomad() -> bytes:
    rows = [
        # gene with MANE (non-canonical row listed first) -> MANE row chosen
        "TRET\tENSGT01\tENST0000A\t1\tfalse\tfalse\t1\t10\t0.1\t0.05\t0.30\t0.99\t1.0",
        "TRET\tENSGT01\tENST0000B\t2\ttrue\ttrue\t5\t10\t0.5\t0.3\t0.80\t0.10\t1.0",
        "TRET\tENSGT01\tNM_000001\t1\tfalse\ttrue\t5\t10\t0.5\t0.3\t0.70\t0.10\t1.0",
        # canonical only
        "TUBI\tENSGT02\tENST0000C\t1\ttrue\tfalse\t9\t10\t0.9\t0.7\t1.40\t0.00\t0.1",
        # canonical with NA metrics
        "TOFF\tENSGT03\tENST0000D\t1\ttrue\tfalse\tNA\tNA\tNA\tNA\tNA\tNA\tNA",
    ]
    return (GNOMAD_HEADER + "\n".join(rows) + "\n").encode()


def test_constraint_via_loopback_fetch(tmp_path):
    with LiveServer() as srv:
        srv.add_file("/gnomad/gnomad_constraint", _gnomad())
        cfg = srv.live_config(tmp_path)
        out_path = tmp_path / "results/live/raw/gnomad_constraint"
        fetch_to("gnomad_constraint", cfg, out_path)
        assert srv.counts["/gnomad/gnomad_constraint"] == 1
        # schema drift in a new release is caught at download time
        srv.add_file("/gnomad/gnomad_constraint", _gnomad().replace(b"lof.pLI", b"lof.pli"))
        cfg2 = srv.live_config(
            tmp_path,
            sources={
                "gnomad_constraint": {"url": srv.url("/gnomad/gnomad_constraint"), "release": "v2"}
            },
        )
        with pytest.raises(SourceFormatError, match="lof.pLI"):
            fetch_to("gnomad_constraint", cfg2, tmp_path / "other")
    out = gnomad_constraint(UNIVERSE, out_path)
    rows = {r["gene_id"]: r for r in out.iter_rows(named=True)}
    assert out.height == 4
    assert rows["T:1"]["gnomad_transcript"] == "ENST0000B" and rows["T:1"]["loeuf"] == 0.80
    assert rows["T:1"]["constraint_score"] == pytest.approx(0.6)
    assert rows["T:2"]["gnomad_transcript"] == "ENST0000C"
    assert rows["T:2"]["constraint_score"] == pytest.approx(0.3)
    assert rows["T:3"]["loeuf"] is None and rows["T:3"]["constraint_score"] is None
    assert rows["T:4"]["gnomad_transcript"] is None and rows["T:4"]["constraint_score"] is None
