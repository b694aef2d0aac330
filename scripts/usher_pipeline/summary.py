"""What a run found, read back from its results files: the validation verdict (every gate's
metric, value and threshold), the tier counts with what each tier means, and the top candidates.

One reader (:func:`read_run_summary`) feeds the end-of-run summary printed by
``usher-pipeline run`` / ``usher-pipeline summary`` (:func:`format_summary`) and the landing page
of the report (:mod:`usher_pipeline.landing`).

Files read (all under the results directory): ``validation/validation.json`` and
``validation/metrics.tsv`` (written only when the gates passed or do not apply), ``candidates.parquet``
(published only after validation), and on a failed run ``logs/validate.log``, whose
"validation gate(s) failed" block names the failed gates.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from .display import format_score
from .explain import feature_words, layer_words, present_views
from .scoring import tier_thresholds
from .views import CILIA_VIEW, USHER_VIEW, View

TIER_ORDER = ("HIGH", "MEDIUM", "LOW")

# Gate metric -> (config key under validation.gates, comparison, what it checks).
GATES: dict[str, tuple[str, str, str]] = {
    "usher_median_percentile": (
        "min_usher_median_percentile", ">=", "Usher genes rank high (median percentile)"),
    "cilia_gold_median_percentile": (
        "min_cilia_gold_median_percentile", ">=",
        "cilia gold-standard genes rank high (median percentile)"),
    "housekeeping_median_percentile": (
        "max_housekeeping_median_percentile", "<=",
        "housekeeping genes do not rank high (median percentile)"),
    "cv_recall_mean": (
        "min_cv_recall", ">=", "held-out gold genes recovered (cross-validated recall)"),
    "abs_spearman_publications": (
        "max_abs_spearman_publications", "<=",
        "score is not a proxy for publication count (|Spearman rho|)"),
    "top_n_stability_min": (
        "min_top_n_stability", ">=", "top genes stable when the model is refit"),
    "temporal_auroc": (
        "min_temporal_auroc", ">=", "genes found after the cutoff rank high (temporal AUROC)"),
    "temporal_top_hits": (
        "min_temporal_top_hits", ">=", "later-found genes in the top list (temporal holdout)"),
    "single_layer_in_top_n": (
        "max_single_layer_in_top_n", "<=", "few single-layer genes in the top list"),
    "housekeeping_share_top_minus_known": (
        "max_housekeeping_share_top_minus_known", "<=",
        "housekeeping genes no commoner among the top candidates than among the known genes"),
    "temporal_auroc_within_fame_strata_learned_minus_weighted_ci_high": (
        "min_temporal_within_strata_vs_weighted_ci_high", ">=",
        "temporal AUROC within publication deciles not below the weighted composite's "
        "(upper end of the 95% interval of learned - weighted)"),
    "temporal_top_hits_learned_minus_weighted": (
        "min_temporal_top_hits_vs_weighted", ">=",
        "later-found genes in the top list: not fewer than the weighted composite finds"),
    "usher_view_usher_median_percentile": (
        "min_usher_view_usher_median_percentile", ">=",
        "Usher genes rank high in the Usher view (median percentile, out of fold)"),
}  # fmt: skip

VERDICT_TEXT = {
    "passed": "PASSED: every validation gate passed",
    "failed": "FAILED: the last run failed (see below); no candidate list was published",
    "not_applicable_gene_subset": (
        "NOT APPLICABLE: the run used a gene subset, so the gates were measured but not enforced"
    ),
    "missing": "UNKNOWN: no validation results yet (the workflow has not finished)",
}


NO_CANDIDATES = (
    "  no candidates: every reported gene is a known gene (a gene_subset of known genes); "
    "their scores in both views are in gene_evidence.parquet"
)


@dataclass(frozen=True)
class Gate:
    """One validation gate: metric, measured value, comparison, threshold, outcome."""

    metric: str
    description: str
    value: float | None
    op: str
    threshold: float
    passed: bool | None  # None: not enforced (gene subset) or value missing


@dataclass
class ViewSummary:
    """One view of the ranking in a run: what it asks, its tier counts and its top candidates."""

    key: str
    title: str
    question: str
    tier_counts: dict[str, int] = field(default_factory=dict)
    tier_rules: dict[str, str] = field(default_factory=dict)
    top: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunSummary:
    """What a run found (see :func:`read_run_summary`)."""

    results_dir: Path
    status: str  # passed | failed | not_applicable_gene_subset | missing
    gates: list[Gate] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    details: str = ""  # where the validation details are
    tier_counts: dict[str, int] = field(default_factory=dict)
    tier_rules: dict[str, str] = field(default_factory=dict)
    n_candidates: int = 0
    top: list[dict[str, Any]] = field(default_factory=list)
    # every view the candidates carry, the cilia view first (its tier counts and top are the
    # fields above); just the cilia view for results without the Usher view
    views: list[ViewSummary] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return VERDICT_TEXT.get(self.status, self.status)


# ------------------------------------------------------------------------------ tiers


def tier_rules(thresholds: Mapping[str, Mapping[str, float]] | None) -> dict[str, str]:
    """One line per tier: what it means, with its thresholds (HIGH, MEDIUM, LOW)."""
    if not thresholds:
        return {
            "HIGH": "strongest candidates: high score and several independent evidence layers",
            "MEDIUM": "moderate score with at least two evidence layers",
            "LOW": "everything else (weak or single-layer evidence)",
        }
    high, med = thresholds["HIGH"], thresholds["MEDIUM"]
    return {
        "HIGH": (
            f"score >= {high['min_score']:g} and evidence in >= {high['min_evidence']:g} layers: "
            "strongest candidates, supported by several independent lines of evidence"
        ),
        "MEDIUM": (
            f"score >= {med['min_score']:g} and evidence in >= {med['min_evidence']:g} layers "
            "(not HIGH): plausible candidates worth a look"
        ),
        "LOW": "everything else: weak, single-layer or mostly unknown evidence",
    }


def usher_tier_rules(scoring: Mapping[str, Any] | None) -> dict[str, str]:
    """One line per tier of the Usher view, with its thresholds (``scoring.usher.tiers``)."""
    tiers = ((scoring or {}).get("usher") or {}).get("tiers")
    if not tiers:
        return dict(USHER_TIER_RULES)
    high, med = tiers["HIGH"], tiers["MEDIUM"]
    return {
        "HIGH": (
            f"Usher score >= {high['min_score']:g} and >= {high['min_sensory']:g} sensory features "
            "with evidence: strongest sensory-cilia candidates"
        ),
        "MEDIUM": (
            f"Usher score >= {med['min_score']:g} and >= {med['min_sensory']:g} sensory feature "
            "(not HIGH): plausible sensory-cilia candidates"
        ),
        "LOW": "everything else in the Usher view",
    }


# What the Usher view's tiers mean, when the scoring config is not at hand.
USHER_TIER_RULES = {
    "HIGH": "Usher view's top tier: strongest sensory-cilia candidates",
    "MEDIUM": "Usher view's middle tier (not HIGH): plausible sensory-cilia candidates",
    "LOW": "everything else in the Usher view",
}


# ------------------------------------------------------------------------------ validation


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _failed_from_log(log: Path) -> list[str]:
    """The failed-gate lines of a validate log ("validation gate(s) failed:" then indented)."""
    if not log.exists():
        return []
    lines = log.read_text(errors="replace").splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        if "validation gate(s) failed:" in line:
            out = []
            for nxt in lines[i + 1 :]:
                if not nxt.startswith("  ") or nxt.startswith("(thresholds"):
                    break
                out.append(nxt.strip())
    return out


def read_validation(results_dir: str | Path) -> tuple[str, list[Gate], list[str], str]:
    """(status, gates, failed-gate messages, where the details are) of a results directory."""
    res = Path(results_dir)
    summary_path = res / "validation" / "validation.json"
    metrics_path = res / "validation" / "metrics.tsv"
    log_path = res / "logs" / "validate.log"
    from .result_versions import read_last_run

    last = read_last_run(res)
    if last.get("status") == "failed":
        # the last run failed: never report the verdict an older run left in validation/
        failed = _failed_from_log(log_path) if str(log_path) in last.get("logs", []) else []
        failed = failed or [str(last.get("reason") or "the run failed")]
        where = ", ".join(last.get("logs") or []) or str(res / "logs")
        keep = last.get("last_passed_version")
        details = where + (f"; the last passed results are kept as version {keep}: "
                           "usher-pipeline state restore" if keep else "")  # fmt: skip
        return "failed", [], failed, details
    if not summary_path.exists():
        failed = _failed_from_log(log_path)
        if failed:
            details = (f"{log_path} (and the state database table 'validation_metrics'; "
                       "thresholds: config validation.gates)")  # fmt: skip
            return "failed", [], failed, details
        return "missing", [], [], str(summary_path)
    data = json.loads(summary_path.read_text())
    status = data.get("gates_status") or ("failed" if data.get("failed") else "passed")
    if data.get("failed"):
        status = "failed"
    values: dict[str, float | None] = {k: _float(v) for k, v in data.get("metrics", {}).items()}
    if metrics_path.exists():
        with open(metrics_path, newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                values.setdefault(row["metric"], _float(row.get("value")))
    gates_cfg = data.get("gates") or {}
    failed = list(data.get("failed") or [])
    gates = []
    for metric, (key, op, text) in GATES.items():
        if key not in gates_cfg:
            continue
        value = values.get(metric)
        if status == "not_applicable_gene_subset" or value is None:
            passed = None
        else:
            passed = not any(msg.startswith(f"{metric} ") for msg in failed)
        gates.append(Gate(metric, text, value, op, float(gates_cfg[key]), passed))
    return status, gates, failed, f"{metrics_path} and {summary_path}"


# ------------------------------------------------------------------------------ candidates


def strongest_layers(row: Mapping[str, Any], n: int = 3) -> list[str]:
    """The layers that raised the gene's score most (largest positive ``contrib_<layer>``);
    without contributions, the highest sub-scores."""
    contribs = {
        k.removeprefix("contrib_"): v
        for k, v in row.items()
        if k.startswith("contrib_") and v is not None and not math.isnan(v) and v > 0
    }
    if not contribs:
        contribs = {
            k.removesuffix("_score"): v
            for k, v in row.items()
            if k.endswith("_score") and k != "annotation_score" and v is not None and v > 0
        }
    ranked = sorted(contribs.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ranked[:n]]


def strongest_features(row: Mapping[str, Any], n: int = 3) -> list[str]:
    """The Usher view's sensory features that raised the gene's Usher score most (largest
    positive ``usher_contrib_<feature>``; unknown and negative ones left out)."""
    prefix = USHER_VIEW.contrib_prefix
    contribs = {
        k.removeprefix(prefix): v
        for k, v in row.items()
        if k.startswith(prefix) and v is not None and not math.isnan(v) and v > 0
    }
    return [f for f, _ in sorted(contribs.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def top_candidates(
    cands: pl.DataFrame, n: int, view: View = CILIA_VIEW, views: Sequence[View] = (CILIA_VIEW,)
) -> list[dict[str, Any]]:
    """The first ``n`` candidates by the rank of ``view``: rank, symbol, gene_id, tier, score
    (all of that view), evidence_count, evidence_summary, ``strongest_layers`` (keys: cilia
    layers, or the Usher view's sensory features) and ``strongest`` (the same in words). With
    several ``views``, each record also has the ranks of the others (``<view>_rank``) and, in
    the Usher view, ``sensory_count``. Genes without a rank in ``view`` are left out."""
    keep = ("symbol", "gene_id", "evidence_count", "evidence_summary")
    out = []
    ranked = cands.filter(pl.col(view.rank).is_not_null()).sort(view.rank)
    for row in ranked.head(n).iter_rows(named=True):
        rec = {"rank": row.get(view.rank), "symbol": row.get("symbol"),
               "gene_id": row.get("gene_id"), "tier": row.get(view.tier),
               "score": row.get(view.score)}  # fmt: skip
        rec.update({k: row.get(k) for k in keep})
        if view is USHER_VIEW:
            rec["strongest_layers"] = strongest_features(row)
            rec["strongest"] = [feature_words(f) for f in rec["strongest_layers"]]
            rec["sensory_count"] = row.get("usher_sensory_count")
        else:
            rec["strongest_layers"] = strongest_layers(row)
            rec["strongest"] = [layer_words(layer) for layer in rec["strongest_layers"]]
        for other in views:
            if other is not view:
                rec[f"{other.key}_rank"] = row.get(other.rank)
        out.append(rec)
    return out


def tier_counts(cands: pl.DataFrame, column: str = "tier") -> dict[str, int]:
    """Candidates per tier (``column``), in :data:`TIER_ORDER`."""
    counts = dict(cands.group_by(column).len().iter_rows())
    return {t: int(counts.get(t, 0)) for t in TIER_ORDER}


def read_run_summary(
    results_dir: str | Path,
    scoring: Mapping[str, Any] | None = None,
    top_n: int = 10,
) -> RunSummary:
    """Read a results directory: validation verdict and gates, tier counts (with what each tier
    means, from ``scoring``'s thresholds when given) and the ``top_n`` candidates."""
    res = Path(results_dir)
    status, gates, failed, details = read_validation(res)
    thresholds = tier_thresholds(scoring) if scoring else None
    out = RunSummary(
        results_dir=res, status=status, gates=gates, failed=failed, details=details,
        tier_rules=tier_rules(thresholds),
    )  # fmt: skip
    cand_path = res / "candidates.parquet"
    if status != "failed" and cand_path.exists():
        cands = pl.read_parquet(cand_path)
        out.tier_counts = tier_counts(cands)
        out.n_candidates = cands.height
        out.top = top_candidates(cands, top_n)
        views = present_views(cands.columns)
        for view in views:
            cilia = view is CILIA_VIEW
            out.views.append(ViewSummary(
                key=view.key, title=view.title, question=view.question,
                tier_counts=out.tier_counts if cilia else tier_counts(cands, view.tier),
                tier_rules=out.tier_rules if cilia else usher_tier_rules(scoring),
                top=top_candidates(cands, top_n, view, views) if len(views) > 1 else out.top,
            ))  # fmt: skip
        if len(views) > 1:
            out.top = out.views[0].top
    return out


# ------------------------------------------------------------------------------ text


def fmt_num(value: float | None, digits: int = 3) -> str:
    """A metric or score for display: '—' for none, whole numbers without decimals."""
    if value is None:
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.{digits}f}"


def gate_outcome(gate: Gate) -> str:
    return {True: "pass", False: "FAIL", None: "not enforced"}[gate.passed]


def format_summary(summary: RunSummary, report: str | Path | None = None) -> str:
    """The summary as plain text for a terminal (a few dozen lines)."""
    lines = [f"validation: {summary.verdict}"]
    if summary.status == "failed":
        for msg in summary.failed:
            lines.append(f"  failed gate: {msg}")
        lines.append(f"  details: {summary.details}")
    for g in summary.gates:
        lines.append(
            f"  {gate_outcome(g):>12}  {g.metric} = {fmt_num(g.value)} (gate {g.op} {g.threshold:g})"
        )
    if summary.status == "missing":
        lines.append(f"  expected: {summary.details}")
    if summary.tier_counts:
        lines.append("")
        lines.append(f"candidates: {summary.n_candidates} genes (known cilia/Usher genes excluded)")
        if summary.n_candidates == 0:
            lines.append(NO_CANDIDATES)
        for tier in TIER_ORDER:
            lines.append(
                f"  {tier:<6} {summary.tier_counts.get(tier, 0):>6}  {summary.tier_rules[tier]}"
            )
    if len(summary.views) > 1:
        lines += _format_views(summary)
    elif summary.top:
        lines.append("")
        lines.append(
            f"top {len(summary.top)} candidates (rank, symbol, score, tier, strongest layers):"
        )
        lines += [_top_line(rec) for rec in summary.top]
    lines.append("")
    res = summary.results_dir
    if summary.status != "failed":
        lines.append(f"results: {res} (candidates.tsv, candidates.parquet, validation/)")
        page = res / "report" / "index.html"
        if page.exists():
            lines.append(f"start page: {page}")
    else:
        lines.append(f"results: {res} (no candidate list: the validation gates failed)")
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)


def _top_line(rec: Mapping[str, Any], other: str | None = None) -> str:
    line = (
        f"  {rec['rank']:>4}  {rec['symbol'] or rec['gene_id']:<12} "
        f"{format_score(rec['score'], '—'):>6}  {rec['tier'] or '—':<6} {', '.join(rec['strongest']) or '—'}"
    )
    if other is not None:
        rank = rec.get(f"{other}_rank")
        line += f" ({other} rank {'—' if rank is None else rank})"
    return line


def _format_views(summary: RunSummary) -> list[str]:
    """The tier counts and top candidates of every view (with another view's rank beside)."""
    lines: list[str] = []
    keys = [v.key for v in summary.views]
    for view in summary.views:
        other = next(k for k in keys if k != view.key)
        what = "strongest layers" if view.key == CILIA_VIEW.key else "strongest sensory evidence"
        lines.append("")
        lines.append(f"{view.title}: {view.question}")
        if view.key != CILIA_VIEW.key:
            counts = ", ".join(f"{t} {view.tier_counts.get(t, 0)}" for t in TIER_ORDER)
            lines.append(f"  tiers: {counts}")
        lines.append(
            f"top {len(view.top)} candidates, {view.title} (rank, symbol, score, tier, {what}; "
            f"{other} rank):"
        )
        lines += [_top_line(rec, other) for rec in view.top]
    return lines


def summary_dict(summary: RunSummary) -> dict[str, Any]:
    """The summary as a JSON-serialisable dict (sorted keys when dumped)."""
    return {
        "status": summary.status,
        "verdict": summary.verdict,
        "failed": list(summary.failed),
        "details": summary.details,
        "gates": [g.__dict__ for g in summary.gates],
        "tier_counts": dict(summary.tier_counts),
        "tier_rules": dict(summary.tier_rules),
        "n_candidates": summary.n_candidates,
        "top": list(summary.top),
        "views": {
            v.key: {
                "title": v.title,
                "question": v.question,
                "tier_counts": dict(v.tier_counts),
                "tier_rules": dict(v.tier_rules),
                "top": list(v.top),
            }
            for v in summary.views
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``usher-pipeline summary [--results DIR] [--configfile FILE ...] [--top N] [--json]``."""
    import argparse

    from .cli import REPO, load_config

    ap = argparse.ArgumentParser(
        prog="usher-pipeline summary",
        description=(
            "Print what the last run found: validation verdict, tiers, top candidates (of the"
            " cilia view and, when the run has it, the Usher view)."
        ),
    )
    ap.add_argument("--results", help="results directory (default: results_dir of the config)")
    ap.add_argument("--configfile", nargs="+", help="config file(s) of the run")
    ap.add_argument("--top", type=int, default=10, help="candidates to list per view (default 10)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(list(argv) if argv is not None else None)
    from .cli import missing_configfiles

    missing = missing_configfiles(args.configfile)
    if missing:
        print(f"usher-pipeline summary: --configfile {missing[0]}: no such file", file=sys.stderr)
        return 2
    config = load_config(args.configfile, None)
    results = Path(args.results or config.get("results_dir") or "results")
    if not results.is_absolute() and not args.results:
        results = REPO / results
    summary = read_run_summary(results, config.get("scoring"), args.top)
    report = results / "report.html"
    if args.json:
        print(json.dumps(summary_dict(summary), indent=2, sort_keys=True, default=str))
    else:
        print(format_summary(summary, report if report.exists() else None))
    return 1 if summary.status in ("failed", "missing") else 0
