"""The one rounding rule for scores a user reads: the start page, the end-of-run summary, the
candidate table page and ``explain`` all show a score, sub-score or contribution rounded once,
from its full value, to :data:`SCORE_DIGITS` decimals (Python's correctly rounded ``round``), and
always with that many decimals (``1.000``, never ``1``). The table page embeds the values
already rounded this way, so its ``toFixed(3)`` prints exactly the same text."""

from __future__ import annotations

import math
from typing import Any

SCORE_DIGITS = 3


def round_score(value: Any) -> float | None:
    """A score rounded for display (None for a missing or NaN value)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else round(value, SCORE_DIGITS)


def round_scores(values: list[Any]) -> list[Any]:
    """``round_score`` of every float of ``values`` (other values, e.g. None, kept): the same rule,
    for a whole column at once (the candidate table page rounds about a million values)."""
    return [
        (round(v, SCORE_DIGITS) if v == v else None) if isinstance(v, float) else v for v in values
    ]


def format_score(value: Any, missing: str = "unknown") -> str:
    """A score as text, e.g. ``0.417`` (``missing`` when there is none)."""
    rounded = round_score(value)
    return missing if rounded is None else f"{rounded:.{SCORE_DIGITS}f}"


def format_contribution(value: Any, missing: str = "—") -> str:
    """A signed contribution as text, e.g. ``+0.120``."""
    rounded = round_score(value)
    return missing if rounded is None else f"{rounded:+.{SCORE_DIGITS}f}"
