"""The workflow's computations, one function per step, from input paths to tables.

Rule scripts are thin wrappers around these; tests call them directly on fixtures.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from .config_check import read_gene_subset
from .errors import MappingError
from .layers import cilia_layers, sensory_layers
from .layers.go_layers import annotation_layer, localization_layer
from .layers.other_layers import (
    constraint_layer,
    expression_layer_unknown,
    literature_layer,
    protein_features_layer,
)
from .layers.phenotype_layers import human_phenotype_layer, mouse_phenotype_layer
from .parsers import cilia, hpa, ids, misc, ncbi, phenotypes, sensory
from .parsers.ontology import read_go, read_obo
from .sources import USER_GENE_LIST_INPUT
from .universe import build_universe as _build_universe
from .universe import complete_layer, mapping_summary, resolve_gene_list, resolve_symbols

Paths = Mapping[str, str | Path]


def universe_step(
    paths: Paths,
    gene_subset: list[str] | list[tuple[int, str]] | None = None,
    subset_file: str | Path | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Build the universe (genes, aliases) and its mapping summary, optionally restricted.

    ``gene_subset`` holds identifiers (symbol, previous symbol, alias, HGNC ID or Ensembl gene
    ID), optionally as ``(line number, entry)`` pairs of ``subset_file``; an entry that does not
    resolve to exactly one universe gene stops the run, naming the file, line and entry.
    """
    gene_info = ncbi.read_gene_info(paths["gene_info"])
    mane = ids.read_mane(paths["mane"])
    hgnc = ids.read_hgnc(paths["hgnc"])
    old = ncbi.read_gene_type(paths["gene_type"]) if paths.get("gene_type") else None
    genes, aliases = _build_universe(gene_info, mane, hgnc, old)
    summary = mapping_summary(genes)
    if gene_subset is not None:
        keep = subset_gene_ids(gene_subset, genes, aliases, subset_file)
        genes = genes.filter(pl.col("gene_id").is_in(keep))
        aliases = aliases.filter(pl.col("gene_id").is_in(keep))
        summary["subset_genes"] = genes.height
    return genes, aliases, summary


def subset_gene_ids(
    gene_subset: list[str] | list[tuple[int, str]],
    genes: pl.DataFrame,
    aliases: pl.DataFrame,
    subset_file: str | Path | None = None,
) -> list[str]:
    """The gene_ids of a gene_subset's entries; an entry that does not resolve to exactly one
    universe gene stops the run, naming the file, line and entry."""
    numbered = [e if isinstance(e, tuple) else (i, e) for i, e in enumerate(gene_subset, 1)]
    where = f"gene_subset {subset_file}" if subset_file else "gene_subset gene_subset"
    return resolve_gene_list(numbered, genes, aliases, where)["gene_id"].to_list()


def gene_sets_step(
    paths: Paths,
    full_aliases: pl.DataFrame,
    genes: pl.DataFrame,
    config: Mapping,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Resolve every gene set to gene_id. Returns (flags per universe gene, resolution log, stats).

    A set whose path is given as input ``gene_list_<name>`` is the user's own file (one gene per
    line, as ``gene_subset``); every other set is read from the snapshot file of its manifest key.

    Hard failures: an unmapped control gene (Usher or cilia gold standard) unless listed in
    ``known_genes.exclude_from_controls``; a gene set mapping below ``mapping.min_gene_set_rate``;
    a line of a user file that resolves to no single gene (naming the file, line and entry).
    """
    known = config["known_genes"]
    excluded = known.get("exclude_from_controls") or {}
    sets = {
        "usher": known["usher"],
        "cilia_gold_standard": known["cilia_gold_standard"],
        **{k: v for k, v in (config.get("negative_controls") or {}).items()},
    }
    for extra in ("scgs_v1", "ciliacarta_negative"):
        if extra in paths and extra not in sets.values():
            sets[extra] = extra
    logs = []
    stats: dict = {}
    flags = genes.select("gene_id")
    for name, key in sets.items():
        user_file = paths.get(f"{USER_GENE_LIST_INPUT}{name}")
        if user_file is not None:
            # the user's own list: resolved like gene_subset; an unresolved line stops the run
            section = "known_genes" if name in known else "negative_controls"
            entries = read_gene_subset(user_file, f"{section}.{name}")
            where = f"{section}.{name} {user_file}"
            res = resolve_gene_list(entries, genes, full_aliases, where, tolerated=excluded)
            key = str(user_file)
        else:
            gs = misc.read_gene_set(paths[key], key)
            res = resolve_symbols(gs["symbol"].to_list(), full_aliases)
        res = res.with_columns(pl.lit(name).alias("gene_set"), pl.lit(key).alias("source_key"))
        logs.append(res)
        n = res.height
        mapped = res.filter(pl.col("gene_id").is_not_null())
        unmapped = res.filter(pl.col("gene_id").is_null())["symbol"].to_list()
        stats[name] = {
            "symbols": n,
            "mapped": mapped.height,
            "rate": round(mapped.height / n, 6) if n else 0.0,
            "unmapped": unmapped,
            "by_match_type": dict(res.group_by("match_type").len().sort("match_type").iter_rows()),
        }
        is_control = name in ("usher", "cilia_gold_standard")
        if name == "usher":
            hard = [s for s in unmapped if s not in excluded]
            if hard:
                raise MappingError(
                    f"control gene(s) {hard} of gene set '{key}' do not map to the universe; "
                    "fix the gene set or list them under known_genes.exclude_from_controls"
                )
        min_rate = config["mapping"]["min_gene_set_rate"]
        effective = mapped.height / max(n - len([s for s in unmapped if s in excluded]), 1)
        if (is_control or name in (config.get("negative_controls") or {})) and effective < min_rate:
            raise MappingError(
                f"gene set '{key}': only {mapped.height}/{n} symbols map ({effective:.1%} < "
                f"mapping.min_gene_set_rate {min_rate:.0%}); unmapped: {unmapped[:20]}"
            )
        ids_ = set(mapped["gene_id"].to_list())
        flags = flags.with_columns(pl.col("gene_id").is_in(list(ids_)).alias(f"is_{name}"))
    flags = flags.with_columns(
        (pl.col("is_usher") | pl.col("is_cilia_gold_standard")).alias("is_known")
    )
    log = pl.concat(logs).select("gene_set", "source_key", "symbol", "gene_id", "match_type")
    return flags, log, stats


def _go(paths: Paths):
    return read_go(
        {k: Path(v) for k, v in paths.items() if k in ("go_obo", "go_terms", "go_edges")}
    )


def layer_step(
    name: str,
    paths: Paths,
    genes: pl.DataFrame,
    config: Mapping,
    live_tables: Mapping[str, pl.DataFrame] | None = None,
    context: Mapping[str, object] | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Compute one evidence layer for the universe; one row per gene (checked).

    ``context``: what some layers need besides source files: ``aliases`` (the universe's symbol
    table, to map symbol-keyed sources), ``seeds`` (known gene IDs) and ``folds`` (gene → fold) for
    the out-of-fold network layer.
    """
    params = config["layers"].get(name, {})
    live_tables = live_tables or {}
    context = context or {}
    if name == "annotation":
        table, stats = annotation_layer(
            genes, ncbi.read_gene2go(paths["gene2go"]), _go(paths), params["ref_terms"]
        )
    elif name == "localization":
        flags = None
        if paths.get("hpa_cilia_flags"):
            flags, rejected = hpa.read_hpa_cilia_flags(paths["hpa_cilia_flags"])
        superseded = None
        if paths.get("hpa_v25_cilia"):
            superseded = sensory_layers.atlas_gene_ids(
                genes, context["aliases"], sensory.read_hpa_v25_cilia(paths["hpa_v25_cilia"])
            )
        table, stats = localization_layer(
            genes,
            ncbi.read_gene2go(paths["gene2go"]),
            _go(paths),
            params["compartments"],
            hpa.read_hpa_subcellular(paths["hpa_subcellular"]),
            hpa.read_hpa_genes(paths["hpa_subcellular"]),
            flags,
            params["weights"],
            superseded,
        )
        if flags is not None:
            stats["hpa_cilia_flags_rejected_rows"] = rejected.to_dicts()
    elif name == "mouse_phenotype":
        table, stats = mouse_phenotype_layer(
            genes, phenotypes.read_mgi_hmd(paths["mgi_hmd"]), params["categories"]
        )
    elif name == "human_phenotype":
        table, stats = human_phenotype_layer(
            genes,
            phenotypes.read_genes_to_phenotype(paths["hpo_g2p"]),
            read_obo(paths["hpo_obo"], "hpo_obo"),
            params["categories"],
        )
    elif name == "literature":
        table, stats = literature_layer(
            genes,
            ncbi.read_gene2pubmed(paths["gene2pubmed"]),
            live_tables.get("pubmed_counts"),
            params["ref_context"],
            params.get("temporal_pmid_cutoff"),
        )
    elif name == "protein_features":
        pfam = (
            ncbi.read_gene2xref(paths["gene2pfam"], "Pfam_ID", "gene2pfam")
            if paths.get("gene2pfam")
            else None
        )
        prosite = (
            ncbi.read_gene2xref(paths["gene2prosite"], "PROSITE_ID", "gene2prosite")
            if paths.get("gene2prosite")
            else None
        )
        table, stats = protein_features_layer(
            genes,
            pfam,
            prosite,
            live_tables.get("uniprot_features"),
            params["domains"],
            params["coiled_coil_weight"],
        )
    elif name == "constraint":
        shet = misc.read_shet(paths["shet"]) if paths.get("shet") else None
        table, stats = constraint_layer(
            genes, shet, live_tables.get("gnomad_constraint"), params["shet_scale"]
        )
    elif name == "expression":
        if "expression" in live_tables:
            table, stats = live_tables["expression"], {"source": "live tissue RNA"}
        else:
            table = expression_layer_unknown(genes)
            stats = {"source": "no tissue RNA offline (NULL)"}
        if paths.get("retina_scrna_markers"):
            retina = cilia_layers.retina_expression(
                genes,
                cilia.read_retina_markers(paths["retina_scrna_markers"]),
                params["retina_ref_log2fc"],
            )
            table = combine_expression(table.rename({"expression_score": "tissue_score"}), retina)
            stats["source"] += " + retina single-cell markers"
            stats["genes_photoreceptor_enriched"] = int(
                (table["retina_photoreceptor_score"] > 0).sum()
            )
    elif name == "network":
        table, stats = cilia_layers.network_layer(
            genes,
            cilia.read_string_edges(paths["string_network"]),
            list(context["seeds"]),
            context["folds"],
            params,
        )
    elif name == "ht_studies":
        studies = cilia.read_ht_studies(paths["ht_studies"])
        study_genes = cilia.read_ht_study_genes(paths["ht_study_genes"])
        links = cilia.link_study_numbers(study_genes, studies)
        table, stats = cilia_layers.ht_studies_layer(
            genes, context["aliases"], study_genes, studies, links,
            list(context["seeds"]), context["folds"], params,
        )  # fmt: skip
    elif name == "phylogeny":
        profiles, groups = cilia.read_nevers(paths["nevers_phylogeny"])
        table, stats = cilia_layers.phylogeny_layer(genes, context["aliases"], profiles, groups)
    elif name == "ciliary_function":
        reactome = (
            cilia.read_reactome_gmt(paths["reactome_gmt"]) if paths.get("reactome_gmt") else None
        )
        table, stats = cilia_layers.ciliary_function_layer(
            genes, context["aliases"], ncbi.read_gene2go(paths["gene2go"]), _go(paths),
            reactome, params,
        )  # fmt: skip
    elif name == "cilia_atlas":
        hpa_key = "hpa_subcellular" if "hpa_subcellular" in paths else None
        imaged = hpa.read_hpa_genes(paths[hpa_key])["ensembl_gene"].to_list() if hpa_key else []
        table, stats = sensory_layers.cilia_atlas_layer(
            genes, context["aliases"], sensory.read_hpa_v25_cilia(paths["hpa_v25_cilia"]),
            imaged, params,
        )  # fmt: skip
    elif name == "inner_ear":
        table, stats = sensory_layers.inner_ear_layer(
            genes,
            context["aliases"],
            phenotypes.read_mgi_hmd(paths["mgi_hmd"]),
            sensory.read_scheffer_cpm(paths["scheffer_cpm"]),
            sensory.read_scheffer_design(paths["scheffer_design"]),
            params,
        )
    else:
        raise ValueError(f"unknown layer '{name}'")
    table = complete_layer(genes, table, name)
    stats["rows"] = table.height
    score_col = f"{name}_score"
    if score_col in table.columns:
        stats["genes_with_score"] = int(table[score_col].is_not_null().sum())
    return table, stats


def combine_expression(tissue: pl.DataFrame, retina: pl.DataFrame) -> pl.DataFrame:
    """Expression layer = tissue RNA (live: HPA/GTEx, ``tissue_score``) and retina single-cell
    photoreceptor enrichment (``retina_photoreceptor_score``): the larger of the two where either
    is known, NULL where neither is."""
    out = tissue.join(retina, on="gene_id", how="left")
    return out.with_columns(
        pl.max_horizontal("tissue_score", "retina_photoreceptor_score").alias("expression_score")
    )
