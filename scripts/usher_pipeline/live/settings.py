"""Live-mode settings the workflow reads from the config when it is parsed (``common.smk``):
defaults and checks only, no data libraries (every Snakemake run, even one with nothing to do,
imports this module). The fetchers import their defaults from here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# PubMed contexts of the literature layer (query per context).
DEFAULT_CONTEXTS: dict[str, str] = {
    "cilia": (
        "cilia[tiab] OR cilium[tiab] OR ciliary[tiab] OR ciliopathy[tiab] OR ciliopathies[tiab]"
        ' OR "basal body"[tiab] OR "transition zone"[tiab] OR "intraflagellar transport"[tiab]'
    ),
    "sensory": (
        "hearing[tiab] OR deafness[tiab] OR cochlea[tiab] OR cochlear[tiab] OR"
        ' "hair cell"[tiab] OR "hair cells"[tiab] OR stereocilia[tiab] OR vestibular[tiab]'
        " OR olfactory[tiab] OR sensory[tiab]"
    ),
    "photoreceptor": (
        "photoreceptor[tiab] OR photoreceptors[tiab] OR retina[tiab] OR retinal[tiab] OR"
        ' "retinitis pigmentosa"[tiab] OR "outer segment"[tiab] OR "connecting cilium"[tiab]'
    ),
}

# E-utilities bulk pull: esearch's hard limit of IDs per query (retstart + retmax), and the
# publication dates searched.
MAX_IDS = 10_000
DEFAULT_DATE_RANGE = ("1700/01/01", "2100/12/31")
LITERATURE_METHODS = ("bulk", "per_gene")
LINK_SOURCES = ("gene2pubmed",)

# STRING: the live network fetcher's version and the snapshot's pruning defaults.
STRING_FETCHER_VERSION = "1"
DEFAULT_PRUNING = {"keep_min_score": 700, "top_per_gene": 3, "top_min_score": 400}

# gnomAD constraint: the columns the live file must have.
GNOMAD_REQUIRED = (
    "gene",
    "gene_id",
    "transcript",
    "canonical",
    "mane_select",
    "lof.oe_ci.upper",
    "lof.pLI",
)


def live_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return dict(config.get("live") or {})


def pubmed_contexts(config: Mapping[str, Any]) -> dict[str, str]:
    return dict(live_config(config).get("pubmed_contexts") or DEFAULT_CONTEXTS)


def literature_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """``live.literature`` with defaults: method, links, date_range, max_ids_per_slice."""
    lit = dict(live_config(config).get("literature") or {})
    out = {
        "method": str(lit.get("method") or "bulk"),
        "links": str(lit.get("links") or "gene2pubmed"),
        "date_range": [str(d) for d in (lit.get("date_range") or DEFAULT_DATE_RANGE)],
        "max_ids_per_slice": int(lit.get("max_ids_per_slice") or MAX_IDS),
    }
    if out["method"] not in LITERATURE_METHODS:
        raise ValueError(
            f"live.literature.method {out['method']!r}: expected one of {LITERATURE_METHODS}"
        )
    if out["links"] not in LINK_SOURCES:
        raise ValueError(f"live.literature.links {out['links']!r}: expected one of {LINK_SOURCES}")
    return out


def pruning_settings(config: Mapping[str, Any]) -> dict[str, int]:
    """``live.string_pruning`` with the snapshot's defaults (700 / top 3 / 400)."""
    given = dict((config.get("live") or {}).get("string_pruning") or {})
    out = {k: int(given.get(k, v)) for k, v in DEFAULT_PRUNING.items()}
    if not 0 <= out["top_min_score"] <= out["keep_min_score"] <= 1000 or out["top_per_gene"] < 0:
        raise ValueError(
            f"live.string_pruning {out}: need 0 <= top_min_score <= keep_min_score <= 1000 "
            "and top_per_gene >= 0"
        )
    return out
