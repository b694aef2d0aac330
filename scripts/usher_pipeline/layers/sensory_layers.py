"""Sensory-cilia evidence layers: the HPA v25 cilia atlas (``cilia_atlas``) and inner-ear
hair-cell expression from Scheffer et al. 2015 (``inner_ear``).

Both return one row per gene they cover (``complete_layer`` adds the rest as NULL) with raw
values beside the 0–1 ``<layer>_score``; what NULL and what 0 mean is stated per layer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import polars as pl

from ..errors import SourceFormatError
from ..parsers.sensory import HAIR_CELL, SURROUNDING_CELL
from ..universe import resolve_symbols

# --------------------------------------------------------------------------------------------
# HPA v25.1 cilia atlas


def _weight_map(items: Sequence[Mapping], key: str, what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        if item[key] in out:
            raise ValueError(f"layers.cilia_atlas.{what}: '{item[key]}' listed twice")
        out[str(item[key])] = float(item["weight"])
    return out


def map_atlas_genes(
    universe: pl.DataFrame, aliases: pl.DataFrame, atlas: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """Atlas rows -> universe gene_id: by Ensembl gene ID, else by symbol (current, previous,
    alias; unambiguous only). A gene matched by two rows keeps the Ensembl-matched row. Returns
    (atlas rows with gene_id and ``match``, number of rows that map to no universe gene)."""
    ens = universe.select("gene_id", "ensembl_gene").drop_nulls()
    by_ens = atlas.join(ens, on="ensembl_gene", how="inner").with_columns(
        pl.lit("ensembl").alias("match")
    )
    rest = atlas.join(by_ens.select("ensembl_gene"), on="ensembl_gene", how="anti")
    res = resolve_symbols(rest["symbol"].to_list(), aliases).filter(pl.col("gene_id").is_not_null())
    by_sym = (
        rest.join(res.select("symbol", "gene_id"), on="symbol", how="inner")
        .join(by_ens.select("gene_id"), on="gene_id", how="anti")
        .with_columns(pl.lit("symbol").alias("match"))
    )
    both = pl.concat([by_ens, by_sym.select(by_ens.columns)])
    # two symbol-matched rows on one gene: keep the lowest Ensembl ID (deterministic)
    both = both.sort("gene_id", "match", "ensembl_gene").unique("gene_id", keep="first",
                                                                maintain_order=True)  # fmt: skip
    unmapped = atlas.height - both.select("ensembl_gene").unique().height
    return both, unmapped


def cilia_atlas_layer(
    universe: pl.DataFrame,
    aliases: pl.DataFrame,
    atlas: pl.DataFrame,
    imaged_ensembl: Sequence[str],
    params: Mapping,
) -> tuple[pl.DataFrame, dict]:
    """HPA v25.1 cilia atlas (incl. the 2025 primary-cilium atlas, Hansen et al., Cell 2025).

    Raw values: the cilium compartment(s) HPA assigns (``atlas_compartments``), the gene's HPA v25
    locations (all, main, additional) and the immunofluorescence reliability
    (``atlas_reliability``: Enhanced/Supported/Approved/Uncertain). Score: noisy-OR over the
    gene's compartments of compartment weight × reliability weight
    (``params['compartments']``, ``params['reliability']``).

    Coverage: a gene in the atlas file gets its values; a gene not in the file but imaged by HPA
    (``imaged_ensembl``: the genes of the HPA subcellular table, v17 in the snapshot) scores 0
    (imaged, no cilium/centrosome location); any other gene is NULL (HPA did not image it, or we
    cannot tell). A compartment or reliability level without a configured weight is an error.
    """
    comp_w = _weight_map(params["compartments"], "name", "compartments")
    rel_w = _weight_map(params["reliability"], "level", "reliability")
    unknown_comp = sorted(set(atlas["compartments"].explode().drop_nulls().to_list()) - set(comp_w))
    unknown_rel = sorted(set(atlas["reliability"].to_list()) - set(rel_w))
    if unknown_comp or unknown_rel:
        raise SourceFormatError(
            "hpa_v25_cilia",
            "Cilium compartment(s) / Reliability (IF)",
            f"values without a weight in layers.cilia_atlas: compartments {unknown_comp}, "
            f"reliability {unknown_rel}",
        )
    mapped, unmapped = map_atlas_genes(universe, aliases, atlas)
    comp_df = pl.DataFrame(
        {"comp": list(comp_w), "cw": list(comp_w.values())},
        schema={"comp": pl.String, "cw": pl.Float64},
    )
    rel_df = pl.DataFrame(
        {"reliability": list(rel_w), "rw": list(rel_w.values())},
        schema={"reliability": pl.String, "rw": pl.Float64},
    )
    parts = (
        mapped.select("gene_id", "reliability", pl.col("compartments").alias("comp"))
        .explode("comp")
        .join(comp_df, on="comp", how="left")
        .join(rel_df, on="reliability", how="left")
        .with_columns((pl.col("cw") * pl.col("rw")).alias("w"))
        .group_by("gene_id")
        # noisy-OR over the compartments, in a fixed order (a float product depends on the order)
        .agg((1.0 - (1.0 - pl.col("w").sort()).product()).alias("cilia_atlas_score"))
    )
    values = mapped.select(
        "gene_id",
        pl.lit(True).alias("atlas_in_hpa_v25"),
        pl.col("compartments").alias("atlas_compartments"),
        pl.col("reliability").alias("atlas_reliability"),
        pl.col("main_locations").alias("atlas_main_locations"),
        pl.col("additional_locations").alias("atlas_additional_locations"),
        pl.col("symbol").alias("atlas_hpa_symbol"),
    ).join(parts, on="gene_id", how="left")
    imaged = (
        universe.select("gene_id", "ensembl_gene")
        .filter(pl.col("ensembl_gene").is_in(list(imaged_ensembl)))
        .select("gene_id", pl.lit(True).alias("atlas_imaged_by_hpa_subcellular"))
    )
    out = (
        universe.select("gene_id")
        .join(values, on="gene_id", how="left")
        .join(imaged, on="gene_id", how="left")
        .with_columns(
            pl.col("atlas_in_hpa_v25").fill_null(False),
            pl.col("atlas_imaged_by_hpa_subcellular").fill_null(False),
        )
        .with_columns(
            pl.when(pl.col("atlas_in_hpa_v25"))
            .then(pl.col("cilia_atlas_score"))
            .when(pl.col("atlas_imaged_by_hpa_subcellular"))
            .then(0.0)
            .otherwise(None)
            .alias("cilia_atlas_score")
        )
    )
    cilium = [c for c in comp_w if c.startswith("Primary cilium") or c == "Basal body"]
    in_cilium = pl.col("atlas_compartments").list.eval(pl.element().is_in(cilium)).list.any()
    stats = {
        "atlas_rows": atlas.height,
        "atlas_rows_unmapped": unmapped,
        "atlas_rows_mapped_by_symbol": int((mapped["match"] == "symbol").sum()),
        "genes_in_atlas": int(out["atlas_in_hpa_v25"].sum()),
        "genes_in_cilium_compartment": int(out.filter(in_cilium.fill_null(False)).height),
        "genes_zero_imaged_not_in_atlas": int((out["cilia_atlas_score"] == 0).sum()),
        "genes_null": int(out["cilia_atlas_score"].is_null().sum()),
    }
    return out, stats


def atlas_gene_ids(universe: pl.DataFrame, aliases: pl.DataFrame, atlas: pl.DataFrame) -> list[str]:
    """The universe genes the v25 atlas file lists (for the localization layer, which keeps the
    older HPA evidence only where v25 says nothing about the gene)."""
    mapped, _ = map_atlas_genes(universe, aliases, atlas)
    return sorted(mapped["gene_id"].to_list())


# --------------------------------------------------------------------------------------------
# Inner-ear hair cells (Scheffer et al. 2015, GSE60019)

ORGANS = {"sensory_epithelium_of_spiral_organ": "cochlea", "epithelium_of_utricle": "utricle"}
ORGAN_WORDS = {"cochlea": "cochlear", "utricle": "utricular"}


def _age_key(age: str) -> tuple[int, float]:
    """E16 < P0 < P4 < P7 (embryonic day before postnatal day)."""
    m = re.fullmatch(r"([EP])(\d+(?:\.\d+)?)", age)
    if not m:
        raise SourceFormatError("scheffer_design", "time_point", f"unreadable age {age!r}")
    return (0 if m.group(1) == "E" else 1, float(m.group(2)))


def inner_ear_pairs(design: pl.DataFrame, samples: Sequence[str]) -> list[dict]:
    """The organ × age pairs of the design, each with its hair-cell and surrounding-cell samples
    (in ``samples``, the matrix's columns): [{organ, age, column, hc: [...], sc: [...]}], ordered
    cochlea before utricle, then by age. A pair lacking either cell type, an unknown organ, or a
    design sample missing from the matrix is an error."""
    missing = sorted(set(design["sample"].to_list()) - set(samples))
    if missing:
        raise SourceFormatError(
            "scheffer_cpm", "header", f"design samples missing from the matrix: {missing}"
        )
    bad = sorted(set(design["organism_part"].to_list()) - set(ORGANS))
    if bad:
        raise SourceFormatError("scheffer_design", "organism_part", f"unknown organ(s) {bad}")
    pairs = []
    keys = design.select("organism_part", "time_point").unique().rows()
    order = sorted(keys, key=lambda k: (list(ORGANS.values()).index(ORGANS[k[0]]), _age_key(k[1])))
    for part, age in order:
        sub = design.filter((pl.col("organism_part") == part) & (pl.col("time_point") == age))
        hc = sorted(sub.filter(pl.col("cell_type") == HAIR_CELL)["sample"].to_list())
        sc = sorted(sub.filter(pl.col("cell_type") == SURROUNDING_CELL)["sample"].to_list())
        if not hc or not sc:
            raise SourceFormatError(
                "scheffer_design",
                f"{part} {age}",
                "needs at least one hair-cell and one surrounding-cell sample",
            )
        organ = ORGANS[part]
        pairs.append({"organ": organ, "age": age, "column": f"inner_ear_log2fc_{organ}_{age}",
                      "hc": hc, "sc": sc})  # fmt: skip
    return pairs


def mouse_enrichment(cpm: pl.DataFrame, design: pl.DataFrame, pseudocount: float) -> pl.DataFrame:
    """Per mouse gene: for each organ × age pair, log2((mean HC CPM + p) / (mean SC CPM + p));
    their mean (``inner_ear_mean_log2fc``, each pair weighted equally), the pair with the largest
    value (``inner_ear_top_pair`` "cochlea P7", ``inner_ear_top_log2fc``), and the mean over the
    pairs of the hair-cell and surrounding-cell means (``inner_ear_hc_cpm``, ``inner_ear_sc_cpm``)."""
    pairs = inner_ear_pairs(design, [c for c in cpm.columns if c != "gene"])
    p = float(pseudocount)
    exprs, hcs, scs = [], [], []
    for pr in pairs:
        hc = pl.mean_horizontal(pr["hc"])
        sc = pl.mean_horizontal(pr["sc"])
        hcs.append(hc)
        scs.append(sc)
        exprs.append(((hc + p) / (sc + p)).log(2.0).alias(pr["column"]))
    cols = [pr["column"] for pr in pairs]
    out = cpm.select(
        pl.col("gene").alias("mouse_symbol"),
        *exprs,
        (pl.sum_horizontal(hcs) / len(pairs)).alias("inner_ear_hc_cpm"),
        (pl.sum_horizontal(scs) / len(pairs)).alias("inner_ear_sc_cpm"),
    )
    labels = [f"{pr['organ']} {pr['age']}" for pr in pairs]
    top_idx = pl.concat_list(cols).list.arg_max()
    return out.with_columns(
        (pl.sum_horizontal(cols) / len(cols)).alias("inner_ear_mean_log2fc"),
        pl.max_horizontal(cols).alias("inner_ear_top_log2fc"),
        top_idx.replace_strict(dict(enumerate(labels)), return_dtype=pl.String).alias(
            "inner_ear_top_pair"
        ),
    )


def matrix_orthologs(
    universe: pl.DataFrame, aliases: pl.DataFrame, hmd: pl.DataFrame, matrix_symbols: Sequence[str]
) -> pl.DataFrame:
    """Human gene (gene_id) <-> mouse symbol of the matrix, with ``inner_ear_ortholog_match``:

    * ``MGI``: the matrix symbol is the current MGI symbol of a mouse ortholog in HMD;
    * ``former mouse symbol``: the matrix (GEO 2014/Gemma) uses a symbol MGI has since renamed
      (Hars -> Hars1, Atp5a1 -> Atp5f1a). Such a symbol, upper-cased, names exactly one human gene
      (current, previous or synonym symbol; the human and mouse nomenclatures are coordinated),
      and is accepted only if that human gene has an MGI mouse ortholog and none of its MGI
      orthologs is in the matrix under its current symbol (so it is the same gene, renamed).
    """
    ids = universe.select("gene_id", "ncbi_gene_id").drop_nulls()
    orth = ids.join(hmd.select("ncbi_gene_id", "mouse_symbol").unique(), on="ncbi_gene_id")
    measured = pl.Series("s", list(matrix_symbols), dtype=pl.String)
    direct = orth.filter(pl.col("mouse_symbol").is_in(measured.implode())).select(
        "gene_id", "mouse_symbol", pl.lit("MGI").alias("inner_ear_ortholog_match")
    )
    current = set(hmd["mouse_symbol"].to_list())
    former = [s for s in matrix_symbols if s not in current]
    res = resolve_symbols([s.upper() for s in former], aliases).filter(
        pl.col("gene_id").is_not_null()
    )
    upper = pl.DataFrame({"mouse_symbol": former}, schema={"mouse_symbol": pl.String})
    renamed = (
        upper.with_columns(pl.col("mouse_symbol").str.to_uppercase().alias("symbol"))
        .join(res.select("symbol", "gene_id"), on="symbol", how="inner")
        .join(orth.select("gene_id").unique(), on="gene_id", how="semi")
        .join(direct.select("gene_id").unique(), on="gene_id", how="anti")
        .select("gene_id", "mouse_symbol",
                pl.lit("former mouse symbol").alias("inner_ear_ortholog_match"))
    )  # fmt: skip
    return pl.concat([direct, renamed]).sort("gene_id", "mouse_symbol")


def inner_ear_layer(
    universe: pl.DataFrame,
    aliases: pl.DataFrame,
    hmd: pl.DataFrame,
    cpm: pl.DataFrame,
    design: pl.DataFrame,
    params: Mapping,
) -> tuple[pl.DataFrame, dict]:
    """Inner-ear hair-cell enrichment (Scheffer et al., J Neurosci 2015; GEO GSE60019: FACS-sorted
    Pou4f3-GFP+ hair cells vs GFP− surrounding cells of mouse cochlea and utricle at E16, P0, P4,
    P7). Per mouse gene, :func:`mouse_enrichment` with pseudocount ``params['pseudocount']`` CPM.

    Mouse -> human through the MGI HMD orthologs (:func:`matrix_orthologs`: the matrix symbol is
    the current MGI symbol, or a former one of the same gene). A mouse gene with several human orthologs gives each of them its values. A human gene with
    several measured mouse orthologs takes the ortholog with the highest mean hair-cell CPM (ties:
    the first symbol): the best-measured copy, whose ratio is the least noisy; taking the largest
    enrichment instead would pick the noisiest ratio among the copies. All measured orthologs are
    listed (``inner_ear_mouse_orthologs``).

    Score = clip(inner_ear_mean_log2fc / params['full_score_log2fc'], 0, 1). NULL (unknown): no
    mouse ortholog in MGI, or no ortholog in the matrix (not measured). 0: measured, not enriched
    in hair cells.
    """
    mouse = mouse_enrichment(cpm, design, float(params["pseudocount"]))
    orth = hmd.select("ncbi_gene_id", "mouse_symbol").unique()
    ids = universe.select("gene_id", "ncbi_gene_id").drop_nulls()
    pairs = matrix_orthologs(universe, aliases, hmd, cpm["gene"].to_list())
    joined = pairs.join(mouse, on="mouse_symbol", how="inner").sort(
        ["gene_id", "inner_ear_hc_cpm", "mouse_symbol"], descending=[False, True, False]
    )
    all_orth = joined.group_by("gene_id").agg(
        pl.col("mouse_symbol").sort().alias("inner_ear_mouse_orthologs")
    )
    best = joined.unique("gene_id", keep="first", maintain_order=True).rename(
        {"mouse_symbol": "inner_ear_mouse_gene"}
    )
    full = float(params["full_score_log2fc"])
    values = best.join(all_orth, on="gene_id").with_columns(
        (pl.col("inner_ear_mean_log2fc") / full).clip(0.0, 1.0).alias("inner_ear_score")
    )
    lead = ["gene_id", "inner_ear_mouse_gene", "inner_ear_mouse_orthologs", "inner_ear_top_pair",
            "inner_ear_top_log2fc", "inner_ear_mean_log2fc", "inner_ear_hc_cpm",
            "inner_ear_sc_cpm", "inner_ear_ortholog_match"]  # fmt: skip
    values = values.select(lead + [c for c in values.columns if c not in lead])
    out = universe.select("gene_id").join(values, on="gene_id", how="left")
    has_orth = ids.join(orth, on="ncbi_gene_id", how="semi")["gene_id"]
    stats = {
        "pseudocount_cpm": float(params["pseudocount"]),
        "mouse_genes_in_matrix": cpm.height,
        "mouse_genes_mapped": int(pairs["mouse_symbol"].n_unique()),
        "mouse_genes_mapped_by_former_symbol": int(
            pairs.filter(pl.col("inner_ear_ortholog_match") != "MGI")["mouse_symbol"].n_unique()
        ),
        "genes_measured_by_former_symbol": int(
            (out["inner_ear_ortholog_match"] == "former mouse symbol").sum()
        ),
        "genes_with_mouse_ortholog": int(has_orth.n_unique()),
        "genes_measured": int(out["inner_ear_score"].is_not_null().sum()),
        "genes_with_several_measured_orthologs": int(
            (out["inner_ear_mouse_orthologs"].list.len() > 1).sum()
        ),
        "genes_zero": int((out["inner_ear_score"] == 0).sum()),
        "genes_null": int(out["inner_ear_score"].is_null().sum()),
    }
    return out, stats


def fold_change(log2fc: float) -> float:
    """2 ** log2fc (for reading)."""
    return math.pow(2.0, log2fc)
