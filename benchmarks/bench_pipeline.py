"""Time the full offline run and report each rule's time and peak memory.

Runs the workflow on the embedded snapshot (config/config.yaml) in a fresh copy of the repository
(so the repository's own results/ and state are untouched), then reads the Snakemake ``benchmark:``
file of every rule and prints wall time, per-rule seconds and peak RSS. As a baseline measured in
the same run it times one pass of reading every snapshot file through the project's parsers (the
I/O + parsing floor), and prints the workflow's wall time as a multiple of it.

Profile of every job (from the ``timing:`` line RuleRun writes to the rule's log): start-up (process
creation to RuleRun entry: interpreter, imports, Snakemake's script preamble), RuleRun's own
bookkeeping on entry and exit, and the rule body; plus, each in a fresh interpreter, the import
cost of what every job imports (``snakemake.script`` + ``usher_pipeline.rule_bodies``) and of the
heavier libraries some bodies import. Then, in the finished copy, ``usher-pipeline run`` twice
(the first builds report.html, the second is the no-op rerun users see) and a bare
``snakemake --version`` as the floor of any Snakemake call.

Usage: python benchmarks/bench_pipeline.py [--cores 2] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

SKIP = {".git", ".venv", ".snakemake", "results", "state", "test-artifacts", ".pytest_cache",
        ".ruff_cache", "__pycache__", "build"}  # fmt: skip


def parse_baseline(snapshot: Path) -> float:
    """Seconds to read every snapshot table once through the parsers."""
    from usher_pipeline.parsers import hpa, ids, misc, ncbi, ontology, phenotypes

    s = snapshot
    t0 = time.perf_counter()
    ncbi.read_gene_info(s / "ncbi_gene/Homo_sapiens.gene_info.protein_coding.gz")
    ncbi.read_gene2go(s / "ncbi_gene/gene2go_human.gz")
    ncbi.read_gene2pubmed(s / "ncbi_gene/gene2pubmed_human.gz")
    ncbi.read_gene2xref(s / "ncbi_gene/gene2pfam_human.gz", "Pfam_ID", "gene2pfam")
    ncbi.read_gene2xref(s / "ncbi_gene/gene2prosite_human.gz", "PROSITE_ID", "gene2prosite")
    ncbi.read_gene_type(s / "ncbi_gene/gene_type_human.protein_coding.gz")
    ontology.read_go_tsv(s / "go/go_terms.tsv.gz", s / "go/go_edges.tsv.gz")
    ontology.read_obo(s / "hpo/hp.obo.gz", "hpo")
    phenotypes.read_genes_to_phenotype(s / "hpo/genes_to_phenotype.txt.gz")
    phenotypes.read_mgi_hmd(s / "mgi/HMD_HumanPhenotype.rpt.gz")
    hpa.read_hpa_subcellular(s / "hpa/subcellular_location_v17.tsv.gz")
    hpa.read_hpa_cilia_flags(s / "hpa/hpa_2022_cilia_flags.tsv.gz")
    ids.read_mane(s / "mane/MANE.GRCh38.v1.4.summary.txt.gz")
    ids.read_hgnc(s / "hgnc/hgnc_uniprot_ensembl_ncbi.tsv.gz")
    misc.read_shet(s / "constraint/shet_weghorn2019.txt.gz")
    return time.perf_counter() - t0


def import_seconds(python: str, statement: str) -> float:
    """Wall seconds of ``python -c statement`` (a fresh interpreter)."""
    t0 = time.perf_counter()
    subprocess.run([python, "-c", statement], check=True, capture_output=True)
    return time.perf_counter() - t0


TIMING = re.compile(
    r"timing: startup_s=(?P<startup>[\d.]+|n/a) enter_s=(?P<enter>[\d.]+) "
    r"body_s=(?P<body>[\d.]+) exit_s=(?P<exit>[\d.]+)"
)


def job_profile(logs: Path) -> list[tuple[str, float, float, float, float]]:
    """(rule, start-up, RuleRun entry, body, RuleRun exit) seconds of every job's last run."""
    rows = []
    for f in sorted(logs.glob("*.log")):
        found = TIMING.findall(f.read_text(errors="replace"))
        if found:
            vals = [0.0 if v == "n/a" else float(v) for v in found[-1]]
            rows.append((f.stem, *vals))
    return rows


def timed_cli_run(work: Path, cores: int) -> tuple[float, subprocess.CompletedProcess]:
    """``usher-pipeline run --cores N`` in the copy, with the copy's own library."""
    env = dict(os.environ, PYTHONPATH=str(work / "scripts"))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "usher_pipeline.cli", "run", "--cores", str(cores)],
        cwd=work, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return time.perf_counter() - t0, proc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="usher-bench-"))
    work = base / "wf"
    shutil.copytree(REPO, work, ignore=lambda d, names: [n for n in names if n in SKIP])
    snakemake = str(Path(sys.executable).parent / "snakemake")
    baseline = parse_baseline(work / "workflow/resources/snapshot")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [snakemake, "--cores", str(args.cores)], cwd=work, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        print(f"workflow FAILED (exit {proc.returncode}); copy kept at {work}")
        return 1
    rows = []
    for f in sorted((work / "results/benchmarks").glob("*.tsv")):
        lines = f.read_text().splitlines()
        head, vals = lines[0].split("\t"), lines[1].split("\t")
        rec = dict(zip(head, vals, strict=True))
        rows.append(
            (f.stem, float(rec["s"]), float(rec["max_rss"]) if rec["max_rss"] != "NA" else 0.0)
        )
    rows.sort(key=lambda r: -r[1])
    print(f"full offline run, --cores {args.cores}, {len(rows)} rules")
    print(f"{'rule':<26}{'seconds':>10}{'peak RSS (MB)':>16}")
    for name, sec, rss in rows:
        print(f"{name:<26}{sec:>10.2f}{rss:>16.1f}")
    total = sum(r[1] for r in rows)
    print(f"{'sum of rule times':<26}{total:>10.2f}")
    print(f"workflow wall time: {wall:.1f} s (incl. Snakemake start-up and DAG)")
    print(f"workflow CPU time (user + sys, Snakemake and every job): {cpu:.1f} s "
          "(less sensitive than wall time to other load on a shared machine)")  # fmt: skip
    print(f"baseline (parse every snapshot file once, same process): {baseline:.1f} s")
    print(f"wall / baseline: {wall / baseline:.1f}x; rule-time sum / wall: {total / wall:.2f}")
    print(
        f"largest peak RSS: {max(r[2] for r in rows):.0f} MB ({max(rows, key=lambda r: r[2])[0]})"
    )
    profile = job_profile(work / "results/logs")
    if profile:
        print("\nper-job profile (seconds; start-up = process start to RuleRun entry)")
        print(f"{'rule':<26}{'start-up':>10}{'enter':>8}{'body':>8}{'exit':>8}{'start-up %':>12}")
        for name, st, en, bo, ex in sorted(profile, key=lambda r: -(r[1] + r[2] + r[3] + r[4])):
            print(f"{name:<26}{st:>10.2f}{en:>8.2f}{bo:>8.2f}{ex:>8.2f}"
                  f"{100 * st / max(st + en + bo + ex, 1e-9):>11.0f}%")  # fmt: skip
        sums = [sum(r[i] for r in profile) for i in range(1, 5)]
        print(f"{'sum':<26}{sums[0]:>10.2f}{sums[1]:>8.2f}{sums[2]:>8.2f}{sums[3]:>8.2f}"
              f"{100 * sums[0] / max(sum(sums), 1e-9):>11.0f}%")  # fmt: skip
    py = sys.executable
    imports = {
        "python -c pass": "pass",
        "every job: snakemake.script + rule_bodies": "import snakemake.script, "
        "usher_pipeline.rule_bodies",
        "sklearn.linear_model": "import sklearn.linear_model",
        "matplotlib.pyplot": "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot",
    }
    print("\nimport cost, each in a fresh interpreter (wall seconds)")
    for label, stmt in imports.items():
        print(f"  {label:<44}{import_seconds(py, stmt):>6.2f}")
    t0 = time.perf_counter()
    subprocess.run([snakemake, "--version"], check=True, capture_output=True)
    t_version = time.perf_counter() - t0
    first, p1 = timed_cli_run(work, args.cores)
    noop, p2 = timed_cli_run(work, args.cores)
    for p in (p1, p2):
        if p.returncode != 0:
            print(p.stdout[-3000:], p.stderr[-3000:], sep="\n")
            print(f"usher-pipeline run FAILED (exit {p.returncode}); copy kept at {work}")
            return 1
    print(f"\nusher-pipeline run after the full run (builds report.html): {first:.1f} s")
    print(f"usher-pipeline run again, nothing to do (no-op rerun): {noop:.1f} s")
    print(f"baseline: snakemake --version alone: {t_version:.1f} s; "
          f"no-op rerun / that: {noop / t_version:.1f}x")  # fmt: skip
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"kept: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
