"""The two views of the ranking, and the names every reader shows for them.

- The **cilia view** ("is this gene ciliary?"): ``score``, ``rank`` (candidates), ``rank_all``
  (every gene), ``tier``; contributions ``contrib_<layer>``.
- The **Usher view** ("could it cause Usher-like deaf-blindness?": photoreceptor connecting
  cilium / outer segment, inner-ear hair cell): ``usher_score`` = the cilia view's ``score`` x
  ``usher_given_cilia`` (P(Usher-like | ciliary)), ``usher_rank``, ``usher_rank_all``,
  ``usher_tier``; the sensory evidence ``usher_contrib_<feature>`` (log-odds of P(Usher-like |
  ciliary), one per :data:`USHER_FEATURES` entry), summed in ``usher_sensory_logodds``;
  ``usher_sensory_count`` counts the sensory features with evidence.

Columns are the contract between the model (:mod:`usher_pipeline.usher_model`) and every reader
(summary, start page, full table, ``explain``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    """One ranking view: its key, the words a user reads, and its columns."""

    key: str
    title: str
    question: str
    score: str
    rank: str
    rank_all: str
    tier: str
    contrib_prefix: str


CILIA_VIEW = View(
    key="cilia",
    title="Cilia view",
    question="is this gene ciliary?",
    score="score",
    rank="rank",
    rank_all="rank_all",
    tier="tier",
    contrib_prefix="contrib_",
)
USHER_VIEW = View(
    key="usher",
    title="Usher view (sensory cilia)",
    question="could it cause Usher-like deaf-blindness (photoreceptor cilium, inner-ear hair cell)?",
    score="usher_score",
    rank="usher_rank",
    rank_all="usher_rank_all",
    tier="usher_tier",
    contrib_prefix="usher_contrib_",
)
VIEWS: tuple[View, ...] = (CILIA_VIEW, USHER_VIEW)

# Sensory-context features of the Usher view (``usher_contrib_<key>``), with the words shown.
USHER_FEATURES: dict[str, str] = {
    "photoreceptor": "photoreceptor expression (retina rod/cone markers)",
    "hair_cell": "inner-ear hair-cell enrichment (mouse, Scheffer 2015)",
    "eye_phenotype": "eye / vision phenotype (MGI mouse, HPO human)",
    "ear_phenotype": "hearing / vestibular phenotype (MGI mouse, HPO human)",
    "usher_network": "STRING partners among the Usher proteins",
}
