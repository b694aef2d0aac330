"""Whether ``report.html`` must be rebuilt: a fingerprint of everything it is built from.

``snakemake --report`` takes seconds on a full run (the report embeds the results), so
``usher-pipeline run`` rebuilds it only when what it is built from changed since it was last built:
the files under the results folder (their contents), Snakemake's records of the jobs
(``.snakemake/metadata``), the workflow code (Snakefile, ``workflow/`` without the snapshot, the
scripts and the library), the config files and command-line overrides, and the Snakemake version.
The fingerprint is stored beside the report (``report.html.fingerprint``) once the report was
built; a missing report or fingerprint, or any difference, means the report is rebuilt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

FINGERPRINT_SUFFIX = ".fingerprint"
# Rewritten by every run, even one with nothing to do, and not shown in the report.
VOLATILE = ("logs/last_run.json",)
# Live mode's downloads (large; the report shows what was derived from them, which is hashed).
SKIP_RESULTS_DIRS = ("live/raw/",)
CODE_GLOBS = ("Snakefile", "workflow/**/*", "scripts/**/*.py")
# The snapshot is checked against its manifest on every run; what the jobs made of it is hashed.
SKIP_CODE_DIRS = ("workflow/resources/",)


def fingerprint_path(report: Path) -> Path:
    return report.with_name(report.name + FINGERPRINT_SUFFIX)


def _files(root: Path, patterns: Iterable[str]) -> list[Path]:
    out: set[Path] = set()
    for pattern in patterns:
        out.update(p for p in root.glob(pattern) if p.is_file())
    return sorted(out)


def _digest_file(h: hashlib._Hash, label: str, path: Path) -> None:
    h.update(f"{label}\0".encode())
    with open(path, "rb") as fh:
        h.update(hashlib.file_digest(fh, "sha256").digest())


def report_fingerprint(
    repo: Path,
    results: Path,
    report: Path,
    configfiles: Sequence[str | Path],
    extra: Sequence[str] = (),
) -> str:
    """sha256 over the report's inputs (see the module docstring). ``configfiles``: every config
    file of the run; ``extra``: anything else that changes the report (command-line overrides,
    profile, Snakemake version)."""
    h = hashlib.sha256()
    skip = {report.resolve(), fingerprint_path(report).resolve()}
    if results.is_dir():
        for path in sorted(p for p in results.rglob("*") if p.is_file()):
            rel = path.relative_to(results).as_posix()
            if (path.resolve() in skip or rel in VOLATILE or ".tmp-" in path.name
                    or rel.startswith(SKIP_RESULTS_DIRS)):  # fmt: skip
                continue
            _digest_file(h, f"results/{rel}", path)
    metadata = repo / ".snakemake" / "metadata"
    if metadata.is_dir():
        for path in sorted(p for p in metadata.iterdir() if p.is_file()):
            _digest_file(h, f"metadata/{path.name}", path)
    for path in _files(repo, CODE_GLOBS):
        rel = path.relative_to(repo).as_posix()
        if rel.startswith(SKIP_CODE_DIRS) or "__pycache__" in path.parts:
            continue
        _digest_file(h, f"code/{rel}", path)
    for cf in configfiles:
        path = Path(cf) if Path(cf).is_absolute() else repo / cf
        _digest_file(h, f"config/{cf}", path)
    for item in extra:
        h.update(f"extra\0{item}\0".encode())
    return h.hexdigest()


def report_is_current(report: Path, fingerprint: str) -> bool:
    """True when ``report`` exists and was built from inputs with this fingerprint."""
    stored = fingerprint_path(report)
    return report.is_file() and stored.is_file() and stored.read_text().strip() == fingerprint


def save_fingerprint(report: Path, fingerprint: str) -> None:
    """Record that ``report`` was built from inputs with this fingerprint."""
    fingerprint_path(report).write_text(fingerprint + "\n")


def forget_fingerprint(report: Path) -> None:
    """The report no longer matches any recorded inputs (e.g. a failed run replaced it)."""
    fingerprint_path(report).unlink(missing_ok=True)
