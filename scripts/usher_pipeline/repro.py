"""The reproducibility report: parameters, source releases, gene counts per step, validation."""

from __future__ import annotations

import json
from collections.abc import Mapping

import polars as pl
import yaml


def _table(headers: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join("" if v is None else str(v) for v in r) + " |")
    return "\n".join(out)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _user_gene_lists(mapping: Mapping) -> list[str]:
    """The user's own gene-list files of the run (config key, path, full sha256), if any."""
    lists = mapping.get("user_gene_lists") or {}
    if not lists:
        return []
    rows = [[key, f"`{v['path']}`", f"`{v['sha256']}`"] for key, v in sorted(lists.items())]
    return ["## User gene lists", "", _table(["config key", "file", "sha256"], rows), ""]


def reproducibility_markdown(
    *,
    config: Mapping,
    verified: Mapping,
    mapping: Mapping,
    layer_stats: list[Mapping],
    evidence: pl.DataFrame,
    validation: Mapping,
    pipeline_version: str,
    config_hash: str,
) -> str:
    """Markdown that lets a reader trace every number of the run back to a data release.

    In live mode the snapshot table gets a column saying, per file, whether the live run read it
    (``snapshot only (release ...)``) or not (a live source replaced it, or nothing reads it).
    """
    header = ["key", "source", "release", "upstream URL", "sha256 (first 16)", "license"]
    live_use = None
    if config.get("mode") == "live":
        from .sources import snapshot_only_note, snapshot_only_sources

        header.append("in this live run")
        disabled = (config.get("live") or {}).get("disabled_sources") or []
        why = snapshot_only_sources(config["snapshot_dir"], disabled)
        live_use = {
            e["key"]: snapshot_only_note(e["release"], why[e["key"]])
            if e["key"] in why
            else "not read (live source or unused)"
            for e in verified["verified"]
        }
    parts = [
        "# usher-pipeline reproducibility report",
        "",
        f"- pipeline version: `{pipeline_version}`",
        f"- mode: `{config['mode']}`",
        f"- config sha256: `{config_hash}`",
        "",
        "## Source releases",
        "",
        _table(
            header,
            [
                [
                    e["key"],
                    e["source"],
                    e["release"],
                    e["upstream_url"],
                    e["sha256"][:16],
                    e["license"],
                    *([live_use[e["key"]]] if live_use is not None else []),
                ]  # fmt: skip
                for e in verified["verified"]
            ],
        ),
        "",
        *_user_gene_lists(mapping),
        "## Gene counts at each step",
        "",
    ]
    uni = mapping["universe"]
    rows = [["universe (protein-coding genes with an HGNC ID)", uni["genes"]]]
    if "subset_genes" in uni:
        rows.append(["after gene_subset restriction", uni["subset_genes"]])
    for key in ("with_ensembl_gene", "with_uniprot_acc", "with_mane_refseq_nuc"):
        rate = uni.get(key.replace("with_", "rate_"))
        rows.append([f"  {key.replace('_', ' ')}", f"{uni[key]} ({rate:.2%})"])
    for name, st in mapping["gene_sets"].items():
        rows.append([f"gene set {name}: mapped / symbols", f"{st['mapped']} / {st['symbols']}"
                     + (f" (unmapped: {', '.join(st['unmapped'])})" if st["unmapped"] else "")])  # fmt: skip
    for st in layer_stats:
        extra = {
            k: v for k, v in st.items() if k not in ("layer", "rows") and not isinstance(v, list)
        }
        rows.append([f"layer {st['layer']}: rows / genes with a score",
                     f"{st['rows']} / {st.get('genes_with_score', 'n/a')}  "
                     + json.dumps(extra, sort_keys=True)])  # fmt: skip
    n_known = int(evidence["is_known"].sum())
    rows.append(["known genes (ranked as positive controls, not candidates)", n_known])
    rows.append(["candidates", evidence.height - n_known])
    tiers = evidence.filter(~pl.col("is_known")).group_by("tier").len().sort("tier")
    for tier, n in tiers.iter_rows():
        rows.append([f"  tier {tier}", n])
    parts += [_table(["step", "count"], rows), "", "## Validation", ""]
    metrics = validation["metrics"]
    parts.append(_table(["metric", "value"], [[k, _fmt(v)] for k, v in metrics.items()]))
    parts += ["", "Gates: " + json.dumps(validation["gates"], sort_keys=True), ""]
    if validation.get("gates_status") == "not_applicable_gene_subset":
        parts.append("Gates not applicable: a gene_subset run (validation.subset_gates); "
                     "the metrics are reported, not enforced.")  # fmt: skip
    else:
        parts.append("All gates passed." if not validation["failed"] else
                     "FAILED: " + "; ".join(validation["failed"]))  # fmt: skip
    parts += ["", "## Parameters", "", "```yaml", yaml.safe_dump(dict(config), sort_keys=True).strip(),
              "```", ""]  # fmt: skip
    return "\n".join(parts)
