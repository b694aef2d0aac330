"""One rounding rule for scores (usher_pipeline.display): the table page's embedded values, shown
with JavaScript's toFixed(3), the start page, the end-of-run summary and explain all print the
same text for the same score."""

from __future__ import annotations

import random
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
from usher_pipeline import explain, html_table, landing, summary
from usher_pipeline.display import format_score, round_score


def js_to_fixed(value: float, digits: int = 3) -> str:
    """What JavaScript's Number.prototype.toFixed prints: the exact binary value, ties up."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _scores(n: int = 4000) -> list[float]:
    rng = random.Random(20261203)
    return [rng.random() for _ in range(n)] + [0.0, 1.0, 0.5, 0.0625, 0.12345000001]


def _candidates(scores: list[float]) -> pl.DataFrame:
    n = len(scores)
    return pl.DataFrame(
        {
            "rank": list(range(1, n + 1)),
            "symbol": [f"G{i}" for i in range(n)],
            "gene_id": [f"HGNC:{i}" for i in range(n)],
            "tier": ["LOW"] * n,
            "score": scores,
            "evidence_count": [1] * n,
            "localization_score": scores,
            "contrib_localization": [s - 0.5 for s in scores],
        }
    )


def test_table_page_text_equals_python_text_for_every_score() -> None:
    scores = _scores()
    data = html_table.table_data(_candidates(scores), max_rows=10)
    score_at = data["fields"].index("score")
    sub_at = len(data["fields"]) + data["layers"].index("localization")
    for row, value in zip(data["rows"], scores, strict=True):
        assert js_to_fixed(row[score_at]) == format_score(value) == explain.format_score(value)
        assert js_to_fixed(row[sub_at]) == format_score(value)


def test_layer_filter_uses_full_precision_not_the_rounded_sub_score() -> None:
    # 0.1996 shows as 0.200 but is below the evidence threshold 0.2: not evidence
    data = html_table.table_data(_candidates([0.1996, 0.2]), max_rows=2, min_evidence_score=0.2)
    bit = 1 << data["layers"].index("localization")
    assert [row[-1] & bit for row in data["rows"]] == [0, bit]


def test_summary_and_start_page_show_the_same_text_as_the_table(tmp_path: Path) -> None:
    scores = [0.12345000001, 1.0, 0.0625, 0.7777]
    top = [
        {"rank": i + 1, "symbol": f"G{i}", "gene_id": f"HGNC:{i}", "tier": "HIGH", "score": s,
         "evidence_count": 3, "evidence_summary": "", "strongest": ["localization"]}
        for i, s in enumerate(scores)
    ]  # fmt: skip
    run = summary.RunSummary(results_dir=tmp_path, status="passed", top=top,
                             tier_counts={"HIGH": 4, "MEDIUM": 0, "LOW": 0},
                             tier_rules=summary.tier_rules(None), n_candidates=4)  # fmt: skip
    text = summary.format_summary(run)
    page = landing.landing_html(run)
    rst = landing.landing_rst(run)
    for s in scores:
        shown = js_to_fixed(round_score(s))
        assert re.search(rf"\s{re.escape(shown)}\s", text), (shown, text)
        assert f">{shown}<" in page
        assert shown in rst
