"""Bodies of the workflow's rules. Each takes the ``snakemake`` object Snakemake passes to a
``script:`` and does its work inside a ``RuleRun`` (run history, provenance sidecars, atomic
outputs, DuckDB persistence). The scripts under ``scripts/`` only call these."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from .layers import LAYER_NAMES, SEEDED_LAYERS
from .persistence import RuleRun
from .persistence._common import atomic_write_text, sha256_file
from .scoring import SCORED_LAYERS, summarize_evidence
from .snapshot import verify_snapshot
from .sources import (
    LIVE_REPLACEMENTS,
    USER_GENE_LIST_INPUT,
    snapshot_only_note,
    snapshot_only_sources,
    snapshot_paths,
)
from .summary import GATES

# Raw list columns kept only in the layer tables, not repeated in gene_evidence.parquet.
BULKY_RAW_COLUMNS = ("network_neighbours", "network_neighbour_weights", "phylo_species_idx",
                     "ht_study_names")  # fmt: skip


def _write_json(run: RuleRun, data: Any, path: str) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    run.register_output(path)


def _live_snapshot_reasons(config: dict[str, Any]) -> dict[str, str] | None:
    """In live mode: snapshot key -> why a live run reads it (see ``snapshot_only_sources``);
    None in snapshot mode."""
    if config.get("mode") != "live":
        return None
    disabled = (config.get("live") or {}).get("disabled_sources") or []
    return snapshot_only_sources(config["snapshot_dir"], disabled)


def _add_snapshot_sources(run: RuleRun, keys: list[str]) -> None:
    """Record the snapshot manifest entries of the given source keys in the provenance. In live
    mode each is marked ``snapshot only (release ...)`` (or the disabled live source it stands
    in for), and a key the live run does not read from the snapshot is not recorded."""
    snap_dir = run.config["snapshot_dir"]
    from .snapshot import load_manifest

    live = _live_snapshot_reasons(run.config)
    by_key = {e["key"]: e for e in load_manifest(snap_dir)["files"]}
    for key in keys:
        entry = by_key.get(key)
        if not entry or (live is not None and key not in live):
            continue
        run.add_source(
            entry["source"],
            entry["release"],
            entry["upstream_url"],
            path=str(Path(snap_dir) / entry["path"]),
            sha256=entry["sha256"],
            note=None if live is None else snapshot_only_note(entry["release"], live[key]),
        )


def _record_inputs_sources(run: RuleRun, named_inputs: dict[str, str]) -> None:
    snap = snapshot_paths(run.config["snapshot_dir"])
    snap_keys = [k for k, p in named_inputs.items() if snap.get(k) == p]
    _add_snapshot_sources(run, snap_keys)
    live_keys = set(LIVE_REPLACEMENTS.values()) | {"hpa_rna_tissue", "gtex_median",
                                                   "gnomad_constraint"}  # fmt: skip
    for key, path in named_inputs.items():
        if key in live_keys and "/live/raw/" in str(path):
            side = Path(str(path) + ".provenance.json")
            if side.exists():
                meta = json.loads(side.read_text())
                for src in meta.get("sources", []):
                    run.add_source(
                        src.get("name", key),
                        src.get("release", "live"),
                        src.get("url", ""),
                        path=str(path),
                        retrieved_at=src.get("retrieved_at"),
                        validators=src.get("validators"),
                        sha256=src.get("sha256"),
                    )


def _record_user_gene_lists(run: RuleRun, named_inputs: dict[str, str]) -> dict[str, dict]:
    """Record each user gene-list file (input ``gene_list_<role>``) as a source with its sha256;
    return ``config key -> {path, sha256}`` for the mapping report."""
    out = {}
    for name, path in named_inputs.items():
        if not name.startswith(USER_GENE_LIST_INPUT):
            continue
        role = name.removeprefix(USER_GENE_LIST_INPUT)
        section = "known_genes" if role in (run.config.get("known_genes") or {}) else \
            "negative_controls"  # fmt: skip
        digest = sha256_file(path)
        run.add_source(f"user gene list {section}.{role}", "user file", "", path=path,
                       sha256=digest)  # fmt: skip
        out[f"{section}.{role}"] = {"path": path, "sha256": digest}
    return out


def named_inputs(snakemake: Any) -> dict[str, str]:
    """Named single-file inputs of a job (Snakemake namedlist → dict)."""
    out = {}
    for key, value in snakemake.input.items():
        if isinstance(value, str):
            out[key] = value
    return out


def verify_snapshot_rule(snakemake: Any) -> None:
    with RuleRun(snakemake) as run:
        entries = verify_snapshot(snakemake.params.snapshot_dir)
        run.record_step("verify snapshot manifest", {"files": len(entries)})
        _add_snapshot_sources(run, [e["key"] for e in entries])
        _write_json(
            run,
            {"snapshot_dir": snakemake.params.snapshot_dir, "verified": entries},
            snakemake.output[0],
        )


def gene_universe_rule(snakemake: Any) -> None:
    from .steps import gene_sets_step, universe_step

    with RuleRun(snakemake) as run:
        inputs = named_inputs(snakemake)
        _record_inputs_sources(run, inputs)
        user_lists = _record_user_gene_lists(run, inputs)
        # The universe is always whole (the layers and the model see every gene); a gene_subset
        # only selects the genes to report (gene_subset rule, universe/subset.parquet).
        genes, aliases, summary = universe_step(inputs, None)
        run.record_step("build universe", summary)
        flags, log, set_stats = gene_sets_step(inputs, aliases, genes, run.config)
        run.record_step("resolve gene sets", {k: {kk: vv for kk, vv in v.items() if kk != "unmapped"}
                                              for k, v in set_stats.items()})  # fmt: skip
        run.write_parquet(genes, snakemake.output.genes, table_name="universe_genes",
                          sort_by="gene_id", description="gene universe")  # fmt: skip
        run.write_parquet(aliases, snakemake.output.aliases, table_name="universe_aliases",
                          sort_by=["gene_id", "alias_type", "alias"])  # fmt: skip
        run.write_parquet(flags, snakemake.output.gene_sets, table_name="gene_set_flags",
                          sort_by="gene_id")  # fmt: skip
        run.write_tsv(log.sort("gene_set", "symbol"), snakemake.output.mapping)
        _write_json(
            run,
            {
                "universe": summary,
                "gene_sets": set_stats,
                "mode": snakemake.params.mode,
                "user_gene_lists": user_lists,
            },
            snakemake.output.report,
        )


def gene_subset_rule(snakemake: Any) -> None:
    """``universe/subset.parquet``: every universe gene with ``in_subset`` (all true without a
    gene_subset). A subset run scores the whole universe and reports only these genes, so a gene
    scores exactly as in a full run; changing the subset reruns only the steps after scoring."""
    from .config_check import read_gene_subset
    from .steps import subset_gene_ids

    with RuleRun(snakemake) as run:
        genes = pl.read_parquet(snakemake.input.genes)
        files = list(snakemake.input.get("subset", []) or [])
        files = [files] if isinstance(files, str) else files
        report: dict[str, Any] = {"universe_genes": genes.height, "gene_subset": None}
        in_subset = pl.lit(True)
        if files:
            aliases = pl.read_parquet(snakemake.input.aliases)
            entries = read_gene_subset(files[0])
            keep = subset_gene_ids(entries, genes, aliases, files[0])
            in_subset = pl.col("gene_id").is_in(pl.Series(keep, dtype=pl.String).implode())
            report.update(gene_subset=files[0], entries=len(entries), subset_genes=len(set(keep)))
            run.record_step("resolve gene_subset", report)
        table = genes.select("gene_id", in_subset.alias("in_subset"))
        run.write_parquet(table, snakemake.output.subset, table_name="gene_subset",
                          sort_by="gene_id", description="genes reported (gene_subset)")  # fmt: skip
        _write_json(run, report, snakemake.output.report)


def pubmed_context_table(counts: pl.DataFrame) -> pl.DataFrame:
    """Live E-utilities counts → the literature layer's context table (query total renamed)."""
    return counts.rename({"pubmed_total": "pubmed_query_total"})


def uniprot_by_gene(genes: pl.DataFrame, uniprot: pl.DataFrame) -> pl.DataFrame:
    """UniProt features per accession → per gene via the universe's UniProt mapping.

    A gene's primary accession (HGNC's first) is used when UniProt has it; otherwise the union of
    Pfam IDs and the largest length / feature counts over its other accessions.
    """
    acc = genes.select("gene_id", "uniprot_acc", pl.col("uniprot_ids").alias("accession")).explode(
        "accession"
    )
    joined = acc.join(uniprot.rename({"length": "protein_length"}), on="accession", how="inner")
    primary = joined.filter(pl.col("accession") == pl.col("uniprot_acc"))
    rest = joined.join(primary.select("gene_id"), on="gene_id", how="anti")
    agg_rest = rest.group_by("gene_id").agg(
        pl.col("pfam_ids").list.explode(keep_nulls=False, empty_as_null=False).unique().sort(),
        pl.col("protein_length").max(),
        pl.col("n_coiled_coil").max(),
        pl.col("n_transmembrane").max(),
    )
    cols = ["gene_id", "pfam_ids", "protein_length", "n_coiled_coil", "n_transmembrane"]
    return pl.concat([primary.select(cols), agg_rest.select(cols)], how="vertical_relaxed")


def compute_layer_rule(snakemake: Any) -> None:
    from .steps import layer_step

    layer = snakemake.params.layer
    with RuleRun(snakemake) as run:
        inputs = named_inputs(snakemake)
        _record_inputs_sources(run, inputs)
        genes = pl.read_parquet(snakemake.input.genes)
        live = {}
        if "pubmed_counts" in inputs:
            live["pubmed_counts"] = pubmed_context_table(pl.read_parquet(inputs["pubmed_counts"]))
        if "uniprot_features" in inputs:
            live["uniprot_features"] = uniprot_by_gene(
                genes, pl.read_parquet(inputs["uniprot_features"])
            )
        expr_paths = [inputs.get("hpa_rna_tissue"), inputs.get("gtex_median")]
        if layer == "expression" and any(expr_paths):
            from .live.expression import expression_layer

            live["expression"] = expression_layer(
                genes, *[Path(p) if p else None for p in expr_paths]
            )
        if layer == "constraint" and "gnomad_constraint" in inputs:
            from .live.constraint import gnomad_constraint

            live["gnomad_constraint"] = gnomad_constraint(genes, Path(inputs["gnomad_constraint"]))
        context: dict[str, Any] = {}
        if "aliases" in inputs:
            context["aliases"] = pl.read_parquet(inputs["aliases"])
        if "gene_sets" in inputs:
            from .layers.cilia_layers import assign_folds

            flags = pl.read_parquet(inputs["gene_sets"])
            context["seeds"] = flags.filter("is_known")["gene_id"].sort().to_list()
            folds = snakemake.params.folds
            context["folds"] = assign_folds(genes["gene_id"].to_list(), folds["k"], folds["seed"])
        table, stats = layer_step(layer, inputs, genes, run.config, live, context)
        run.record_step(
            f"layer {layer}", {k: v for k, v in stats.items() if not isinstance(v, list)}
        )
        run.write_parquet(table, snakemake.output.table, table_name=f"layer_{layer}",
                          sort_by="gene_id", description=f"evidence layer {layer}")  # fmt: skip
        _write_json(run, {"layer": layer, **stats}, snakemake.output.stats)


def live_string_network_rule(snakemake: Any) -> None:
    """Live STRING links + protein info + NCBI gene_info -> the pruned GeneID network in the
    snapshot's layout (:mod:`usher_pipeline.live.string`)."""
    from .live.string import build_string_network
    from .parsers.ncbi import read_gene_info

    with RuleRun(snakemake) as run:
        genes = read_gene_info(snakemake.input.gene_info)
        net, stats = build_string_network(
            snakemake.input.links, snakemake.input.info, genes, snakemake.params.pruning
        )
        run.record_step("build STRING network (text mining dropped, pruned)", stats)
        run.write_tsv(net, snakemake.output[0])


def integrate_rule(snakemake: Any) -> None:
    with RuleRun(snakemake) as run:
        scoring = snakemake.params.scoring
        from .model import assemble_table, weight_summary
        from .usher_model import score_views
        from .views import USHER_FEATURES

        table = assemble_table(
            snakemake.input.genes,
            snakemake.input.gene_sets,
            {layer: snakemake.input[layer] for layer in LAYER_NAMES},
        )
        table = table.join(
            pl.read_parquet(snakemake.input.subset), on="gene_id", how="left", maintain_order="left"
        )
        n_universe = table.height
        scored, fitted = score_views(
            table, scoring, snakemake.params.folds, snakemake.params.layers
        )
        scored = summarize_evidence(scored, scoring["weights"], scoring["evidence_min_score"])
        if fitted is not None:
            summary = weight_summary(fitted)
            run.write_tsv(summary, snakemake.output.weights)
            run.store.save_dataframe(fitted, "model_weights", "fitted weights per fold")
        else:
            run.write_tsv(
                pl.DataFrame(
                    {"term": list(scoring["weights"]), "kind": "layer",
                     "mean": [float(w) for w in scoring["weights"].values()]}
                ),
                snakemake.output.weights,
            )  # fmt: skip
        known = pl.col("is_known")
        cands = scored.filter(~known)
        if scored.height < n_universe:
            run.log.info(
                "gene_subset: %d of %d universe genes reported, scored by the model fitted on "
                "the whole universe; %d of them are known genes, %d candidates",
                scored.height, n_universe, int(scored["is_known"].sum()), cands.height,
            )  # fmt: skip
        if cands.height == 0:
            run.log.info(
                "no candidates: every reported gene is a known gene (their scores are in %s)",
                snakemake.output.evidence,
            )
        run.record_step(
            "score and tier (cilia view and Usher view)",
            {
                "universe_genes": n_universe,
                "genes": scored.height,
                "known_genes": int(scored["is_known"].sum()),
                "candidates": cands.height,
                "tiers": dict(cands.group_by("tier").len().sort("tier").iter_rows()),
                "usher_tiers": dict(
                    cands.group_by("usher_tier").len().sort("usher_tier").iter_rows()
                ),
            },
        )
        lead = ["rank_all", "rank", "gene_id", "symbol", "score", "tier", "usher_rank_all",
                "usher_rank", "usher_score", "usher_tier", "evidence_count", "usher_sensory_count",
                "layers_available", "is_known", "is_usher", "is_cilia_gold_standard"]  # fmt: skip
        # Bulky raw lists stay in their layer tables (layers/<layer>.parquet; `explain` reads them).
        scored = scored.drop(BULKY_RAW_COLUMNS, strict=False)
        evidence = scored.select(lead + [c for c in scored.columns if c not in lead]).sort(
            "rank_all"
        )
        run.write_parquet(evidence, snakemake.output.evidence, table_name="gene_evidence",
                          sort_by="rank_all", description="every reported gene")  # fmt: skip
        sub = [f"{layer}_score" for layer in SCORED_LAYERS] + ["annotation_score"]
        contrib = [c for c in scored.columns if c.startswith("contrib_")]
        sub = [c for c in sub if c in scored.columns]
        usher = ["usher_rank", "usher_tier", "usher_score", "usher_given_cilia",
                 "usher_sensory_count", "usher_sensory_logodds",
                 *[f"usher_contrib_{f}" for f in USHER_FEATURES]]  # fmt: skip
        cand_cols = ["rank", "gene_id", "symbol", "tier", "score", *usher, "evidence_count",
                     "layers_available", *sub, *contrib, "pubmed_total", "evidence_summary",
                     "evidence_gaps", "hgnc_id", "ncbi_gene_id", "ensembl_gene",
                     "uniprot_acc", "description"]  # fmt: skip
        candidates = evidence.filter(~known).select(cand_cols).sort("rank")
        # Not the candidate list yet: publish_candidates copies it to candidates.tsv/.parquet
        # once the validation gates passed.
        run.write_parquet(candidates, snakemake.output.candidates_unvalidated,
                          sort_by="rank", description="candidates before validation")  # fmt: skip


def publish_candidates_rule(snakemake: Any) -> None:
    """Write the candidate list users read, only after validation passed (validate fails the
    run otherwise, so this job never starts); refuse a summary that records failed gates."""
    from .validation import assert_publishable

    with RuleRun(snakemake) as run:
        summary = json.loads(Path(snakemake.input.validation).read_text())
        assert_publishable(summary, snakemake.input.validation)
        candidates = pl.read_parquet(snakemake.input.candidates).sort("rank")
        run.record_step(
            "publish candidates",
            {"candidates": candidates.height, "gates": summary.get("gates_status", "passed")},
        )
        run.write_parquet(candidates, snakemake.output.candidates_parquet,
                          table_name="candidates", sort_by="rank")  # fmt: skip
        run.write_tsv(candidates, snakemake.output.candidates_tsv)


def validate_rule(snakemake: Any) -> None:
    from .usher_model import usher_readout, within_genes
    from .validation import (
        NOT_APPLICABLE,
        check_gates,
        gates_apply,
        housekeeping_shares,
        raise_on_failed,
        ranking_readout,
        refit_stability,
        temporal_auroc_difference,
        temporal_readout,
        temporal_scored,
        top_n_stability,
        withdraw_published,
    )

    with RuleRun(snakemake) as run:
        v = dict(snakemake.params.validation)
        # A gate set to null is not enforced.
        v["gates"] = {k: g for k, g in (v.get("gates") or {}).items() if g is not None}
        scoring = snakemake.params.scoring
        ev = pl.read_parquet(snakemake.input.evidence)
        readout, controls, folds = ranking_readout(ev, v)
        known = ev.filter("is_known")["gene_id"].to_list()
        method = scoring.get("method", "learned")
        full = ev
        for layer in SEEDED_LAYERS:
            raw = pl.read_parquet(snakemake.input[layer])
            keep = [c for c in raw.columns if c == "gene_id" or c not in ev.columns]
            full = full.join(raw.select(keep), on="gene_id", how="left", maintain_order="left")
        fcfg = {"folds": v["folds"], "seed": v["seed"]}
        lparams = snakemake.params.layers
        n_boot = int(v.get("bootstrap_resamples", 2000))
        if snakemake.params.gene_subset:
            # The refits of a subset run (stability, temporal holdout, sensory check) fit the
            # subset alone, as its gates are written for it: its network is cut to the subset.
            full = within_genes(full)
        # Refits need known genes and candidates among the reported genes (a subset of only
        # known genes has no background to fit against: those metrics are not measured).
        refits = bool(ev["is_known"].any()) and bool((~ev["is_known"]).any())
        if not refits:
            run.log.info("refit-based metrics not measured: the reported genes hold no %s",
                         "candidate" if ev["is_known"].all() else "known gene")  # fmt: skip
            stab = pl.DataFrame(schema={"layer": pl.String, "factor": pl.Float64,
                                        "overlap": pl.Float64})  # fmt: skip
            temporal = {m: dict.fromkeys(("auroc", "auroc_within_fame_strata", "top_hits",
                                          "targets")) for m in ("learned", "weighted")}  # fmt: skip
            diff = {
                k: None
                for k in (
                    "diff",
                    "ci_low",
                    "ci_high",
                    "within_fame_strata_diff",
                    "within_fame_strata_ci_low",
                    "within_fame_strata_ci_high",
                )
            }
        else:
            if method == "weighted":
                stab = top_n_stability(ev, scoring, known, v["stability_top_n"],
                                       v["stability_weight_change"])  # fmt: skip
            else:
                stab = refit_stability(full, scoring, fcfg, lparams, known, v["stability_top_n"])
            then = {
                m: temporal_scored(full, scoring, fcfg, lparams, m) for m in ("learned", "weighted")
            }
            temporal = {m: temporal_readout(then[m], v["temporal_top_n"]) for m in then}
            diff = temporal_auroc_difference(then["learned"], then["weighted"], n_boot, v["seed"])
        usher = usher_readout(full, scoring, fcfg, lparams, n_boot, v["seed"], refit=refits)
        hk = housekeeping_shares(ev, int(v.get("housekeeping_top_n", 500)))
        hits = [temporal[m]["top_hits"] for m in ("learned", "weighted")]
        metrics = {
            **{
                k: readout[k]
                for k in (
                    "usher_median_percentile",
                    "cilia_gold_median_percentile",
                    "housekeeping_median_percentile",
                    "housekeeping_median_percentile_ci_low",
                    "housekeeping_median_percentile_ci_high",
                    "cv_recall_mean",
                    "cv_random_recall_mean",
                    "spearman_publications",
                    "abs_spearman_publications",
                )
            },
            "top_n_stability_min": float(stab["overlap"].min()) if stab.height else None,
            "top_n_stability_mean": float(stab["overlap"].mean()) if stab.height else None,
            "temporal_auroc": temporal[method]["auroc"],
            "temporal_top_hits": temporal[method]["top_hits"],
            "temporal_auroc_learned": temporal["learned"]["auroc"],
            "temporal_top_hits_learned": temporal["learned"]["top_hits"],
            "temporal_auroc_weighted": temporal["weighted"]["auroc"],
            "temporal_auroc_within_fame_strata_learned": temporal["learned"][
                "auroc_within_fame_strata"
            ],
            "temporal_auroc_within_fame_strata_weighted": temporal["weighted"][
                "auroc_within_fame_strata"
            ],
            "temporal_top_hits_weighted": temporal["weighted"]["top_hits"],
            # learned − weighted, with a paired bootstrap 95% interval over the genes
            "temporal_auroc_learned_minus_weighted": diff["diff"],
            "temporal_auroc_learned_minus_weighted_ci_low": diff["ci_low"],
            "temporal_auroc_learned_minus_weighted_ci_high": diff["ci_high"],
            "temporal_auroc_within_fame_strata_learned_minus_weighted": diff[
                "within_fame_strata_diff"
            ],
            "temporal_auroc_within_fame_strata_learned_minus_weighted_ci_low": diff[
                "within_fame_strata_ci_low"
            ],
            "temporal_auroc_within_fame_strata_learned_minus_weighted_ci_high": diff[
                "within_fame_strata_ci_high"
            ],
            "temporal_targets": temporal[method]["targets"],
            "temporal_top_hits_learned_minus_weighted": (
                None if None in hits else hits[0] - hits[1]
            ),
            **hk,
            **usher,
            "single_layer_in_top_n": readout["single_layer_in_top_n"],
            "auroc_known_vs_ciliacarta_negatives": readout.get(
                "auroc_known_vs_ciliacarta_negatives"
            ),
            "n_usher": int(ev["is_usher"].sum()),
            "n_cilia_gold_standard": int(ev["is_cilia_gold_standard"].sum()),
            "n_housekeeping": int(ev["is_housekeeping"].fill_null(False).sum()),
            "n_candidates": int((~ev["is_known"]).sum()),
        }
        applied = gates_apply(snakemake.params.gene_subset, v.get("subset_gates"))
        failed = check_gates(metrics, v["gates"]) if applied else []
        na = None if applied else NOT_APPLICABLE
        rows = [
            {"metric": k, "value": None if val is None else float(val),
             "gate": _gate_text(k, v["gates"], na),
             "passed": _gate_passed(k, failed, v["gates"]) if applied else None}
            for k, val in metrics.items()
        ]  # fmt: skip
        mtable = pl.DataFrame(rows, schema={"metric": pl.String, "value": pl.Float64,
                                            "gate": pl.String, "passed": pl.Boolean})  # fmt: skip
        run.store.save_dataframe(mtable, "validation_metrics", "validation metrics of the run")
        run.store.save_dataframe(folds, "validation_cv_folds", "cross-validated recall per fold")
        status = "passed" if applied else "not_applicable_gene_subset"
        run.record_step("validation", {"failed_gates": failed, "gates_status": status,
                                       **{k: metrics[k] for k in metrics}})  # fmt: skip
        if failed:
            for path in withdraw_published(snakemake.params.published):
                run.log.info("removed %s: the validation gates failed", path)
        raise_on_failed(failed)
        run.write_tsv(mtable, snakemake.output.metrics)
        run.write_tsv(controls.sort("control_set", "rank_all"), snakemake.output.controls)
        run.write_tsv(folds, snakemake.output.folds)
        run.write_tsv(stab, snakemake.output.stability)
        _write_json(run, {"metrics": metrics, "gates": v["gates"], "failed": failed,
                          "gates_status": status}, snakemake.output.summary)  # fmt: skip


# metric -> (gate key, comparison): the one gate table, summary.GATES.
_GATE_OF = {metric: (key, op) for metric, (key, op, _) in GATES.items()}


def _gate_text(metric: str, gates: dict, note: str | None = None) -> str | None:
    if metric in _GATE_OF and _GATE_OF[metric][0] in gates:
        gate, op = _GATE_OF[metric]
        return f"{op} {gates[gate]}" + (f" ({note})" if note else "")
    return None


def _gate_passed(metric: str, failed: list[str], gates: dict) -> bool | None:
    if _gate_text(metric, gates) is None:
        return None
    return not any(msg.startswith(f"{metric} ") for msg in failed)


def plots_rule(snakemake: Any) -> None:
    from .plots import layer_contributions, score_distribution, tier_breakdown

    with RuleRun(snakemake) as run:
        ev = pl.read_parquet(snakemake.input.evidence)
        score_distribution(ev, snakemake.output.distribution)
        layer_contributions(ev, snakemake.output.contributions, snakemake.params.top_n)
        tier_breakdown(ev, snakemake.output.tiers)
        for out in snakemake.output:
            run.register_output(out)


def candidates_table_rule(snakemake: Any) -> None:
    """The full candidate table (every candidate; raw evidence in the breakdowns of the first
    ``params.max_rows``), searchable and filterable, with the tiers explained."""
    from .explain import load_breakdowns
    from .html_table import candidates_html
    from .scoring import tier_thresholds
    from .summary import tier_rules, usher_tier_rules

    with RuleRun(snakemake) as run:
        scoring = snakemake.params.scoring
        cands = pl.read_parquet(snakemake.input.candidates)
        top = cands.sort("rank").head(snakemake.params.max_rows)
        breakdown = load_breakdowns(Path(snakemake.input.candidates).parent, top)
        html = candidates_html(
            cands,
            snakemake.params.max_rows,
            breakdown,
            tier_rules=tier_rules(tier_thresholds(scoring)),
            usher_tier_rules=usher_tier_rules(scoring),
            min_evidence_score=scoring["evidence_min_score"],
            evidence_layers=scoring.get("evidence_layers"),
        )
        atomic_write_text(snakemake.output[0], html)
        run.register_output(snakemake.output[0])
        run.log.info("%s: %d candidates, %d bytes", snakemake.output[0], cands.height, len(html))


def landing_page_rule(snakemake: Any) -> None:
    """The start page: results/report/index.html (standalone) and landing.rst (the Snakemake
    report's description, followed by the workflow description)."""
    from .landing import write_landing
    from .summary import read_run_summary

    with RuleRun(snakemake) as run:
        results = Path(snakemake.input.candidates).parent
        summary = read_run_summary(results, snakemake.params.scoring, snakemake.params.top_n)
        description = Path(snakemake.input.description).read_text()
        write_landing(summary, snakemake.output.html, snakemake.output.rst, description)
        for out in (snakemake.output.html, snakemake.output.rst):
            run.register_output(out)
        run.log.info("validation %s; tiers %s", summary.status, summary.tier_counts)


def _with_subset(mapping: dict, subset: dict) -> dict:
    """The universe summary with the gene_subset's gene count, when the run has one."""
    if subset.get("gene_subset"):
        mapping["universe"]["subset_genes"] = subset["subset_genes"]
    return mapping


def reproducibility_rule(snakemake: Any) -> None:
    from .repro import reproducibility_markdown

    with RuleRun(snakemake) as run:
        text = reproducibility_markdown(
            config=snakemake.params.config,
            verified=json.loads(Path(snakemake.input.verified).read_text()),
            mapping=_with_subset(
                json.loads(Path(snakemake.input.mapping).read_text()),
                json.loads(Path(snakemake.input.subset).read_text()),
            ),
            layer_stats=[json.loads(Path(p).read_text()) for p in snakemake.input.layer_stats],
            evidence=pl.read_parquet(snakemake.input.evidence),
            validation=json.loads(Path(snakemake.input.validation).read_text()),
            pipeline_version=run.tracker.pipeline_version,
            config_hash=run.tracker.config_hash,
        )
        atomic_write_text(snakemake.output[0], text)
        run.register_output(snakemake.output[0])
