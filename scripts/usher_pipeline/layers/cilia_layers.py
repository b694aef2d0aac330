"""Cilia-specific evidence layers: interaction network, ciliary high-throughput studies, retina
single-cell expression, phylogenetic profile and ciliary function (GO BP + Reactome).

Every function returns one row per gene it covers (``complete_layer`` adds the rest as NULL) with
raw values beside the 0–1 ``<layer>_score``. What "not covered" (NULL) means is stated per layer.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl

from ..parsers.ontology import Ontology
from ..universe import resolve_symbols
from . import noisy_or
from .go_layers import resolve_go_ids

# --------------------------------------------------------------------------------------------
# Interaction network (STRING v12 without text mining)


def network_graph(universe: pl.DataFrame, edges: pl.DataFrame, min_score: int) -> pl.DataFrame:
    """STRING edges (NCBI GeneIDs) → undirected edges between universe genes, both directions:
    gene_id, neighbour_id, weight (combined_score / 1000), only edges with combined ≥ min_score."""
    ids = universe.select("gene_id", "ncbi_gene_id").drop_nulls()
    e = edges.filter(pl.col("combined_score") >= min_score)
    e = e.join(ids.rename({"gene_id": "a"}), left_on="ncbi_gene_id_1", right_on="ncbi_gene_id")
    e = e.join(ids.rename({"gene_id": "b"}), left_on="ncbi_gene_id_2", right_on="ncbi_gene_id")
    e = e.filter(pl.col("a") != pl.col("b")).select(
        "a", "b", (pl.col("combined_score") / 1000.0).alias("weight")
    )
    both = pl.concat(
        [
            e.rename({"a": "gene_id", "b": "neighbour_id"}),
            e.select(pl.col("b").alias("gene_id"), pl.col("a").alias("neighbour_id"), "weight"),
        ]
    )
    return (
        both.group_by("gene_id", "neighbour_id")
        .agg(pl.col("weight").max())
        .sort("gene_id", "neighbour_id")
    )


def known_neighbour_fraction(
    graph: pl.DataFrame,
    gene_ids: Sequence[str],
    seeds: Sequence[str],
    pseudo_weight: float,
) -> np.ndarray:
    """Degree-corrected propagation from the seed genes: for each gene, the edge-weighted fraction
    of its neighbours that are seeds, shrunk toward the seeds' base rate p0 by a pseudo-weight:

        f(g) = (Σ_{seed neighbours} w + a·p0) / (Σ_{all neighbours} w + a)

    A hub does not win by degree alone (a fraction, not a count), and a gene with one seed neighbour
    out of one is pulled toward p0. Genes without edges get NaN (not covered). A gene's own seed
    status never enters its own value (no self edges).
    """
    return neighbour_fraction_fn(graph, gene_ids, pseudo_weight)(seeds)


def neighbour_fraction_fn(
    graph: pl.DataFrame, gene_ids: Sequence[str], pseudo_weight: float
) -> Callable[[Sequence[str]], np.ndarray]:
    """``known_neighbour_fraction`` as a function of the seeds, with the graph indexed once (the
    out-of-fold scores compute it once per fold, over the same graph)."""
    index = {g: i for i, g in enumerate(gene_ids)}
    n = len(gene_ids)
    # every edge end's position in gene_ids (an end that is not a gene of gene_ids is an error)
    ids = pl.Series(list(index), dtype=pl.String)
    pos = pl.Series(list(index.values()), dtype=pl.Int64)
    ends = graph.select(
        pl.col("gene_id", "neighbour_id")
        .cast(pl.String)
        .replace_strict(ids, pos, return_dtype=pl.Int64)
    )
    src = ends["gene_id"].to_numpy().astype(np.int64)
    dst = ends["neighbour_id"].to_numpy().astype(np.int64)
    w = graph["weight"].to_numpy().astype(np.float64)
    total = np.bincount(src, weights=w, minlength=n)

    def fraction(seeds: Sequence[str]) -> np.ndarray:
        seed_vec = np.zeros(n)
        for g in seeds:
            if g in index:
                seed_vec[index[g]] = 1.0
        p0 = float(seed_vec.sum()) / n if n else 0.0
        known = np.bincount(src, weights=w * seed_vec[dst], minlength=n) if len(src) else total
        frac = (known + pseudo_weight * p0) / (total + pseudo_weight)
        frac[total == 0] = np.nan
        return frac

    return fraction


def assign_folds(gene_ids: Sequence[str], k: int, seed: int) -> dict[str, int]:
    """Deterministic fold of every gene, from a hash of (seed, gene_id): independent of any label,
    of the universe's size and of the gene's position, so a subset run keeps each gene's fold."""
    return dict(_folds(tuple(gene_ids), k, seed))  # a copy: callers may change theirs


@functools.lru_cache(maxsize=8)
def _folds(gene_ids: tuple[str, ...], k: int, seed: int) -> dict[str, int]:
    """``assign_folds``, kept for the few (gene list, k, seed) a job asks for again and again
    (every refit of the learned model assigns the folds of the same genes)."""
    out = {}
    for g in gene_ids:
        h = hashlib.sha256(f"{seed}:{g}".encode()).digest()
        out[g] = int.from_bytes(h[:8], "big") % k
    return out


def out_of_fold(
    score_fn, gene_ids: Sequence[str], seeds: Sequence[str], folds: Mapping[str, int]
) -> np.ndarray:
    """Run a seeded scoring function once per fold with the seeds of the other folds, and keep for
    each gene the value from the run that did not see its fold's labels."""
    k = max(folds.values()) + 1 if folds else 1
    fold_arr = np.array([folds[g] for g in gene_ids])
    out = np.full(len(gene_ids), np.nan)
    for f in range(k):
        train = [g for g in seeds if folds.get(g, -1) != f]
        vals = score_fn(train)
        sel = fold_arr == f
        out[sel] = vals[sel]
    return out


def study_llr(
    gene_ids: Sequence[str],
    reported: Sequence[Sequence[str]],
    seeds: Sequence[str],
    pseudo: float,
) -> dict[str, float]:
    """Per study: log( P(reported | seed gene) / P(reported | other gene) ), with ``pseudo``
    counts added to each cell (so a small study is not trusted on a handful of hits)."""
    return _StudyIndex(gene_ids, reported).llr(seeds, pseudo)


class _StudyIndex:
    """The (gene, study) pairs of the reported lists as arrays, built once for many seed lists."""

    def __init__(self, gene_ids: Sequence[str], reported: Sequence[Sequence[str]]) -> None:
        if len(gene_ids) != len(reported):
            raise ValueError("gene_ids and reported differ in length")
        self.gene_ids = list(gene_ids)
        self.studies = sorted({st for studies in reported for st in studies or ()})
        col = {st: j for j, st in enumerate(self.studies)}
        pairs = [(i, col[st]) for i, studies in enumerate(reported) for st in studies or ()]
        self.gene_idx = np.array([i for i, _ in pairs], dtype=np.int64)
        self.study_idx = np.array([j for _, j in pairs], dtype=np.int64)

    def llr(self, seeds: Sequence[str], pseudo: float) -> dict[str, float]:
        seed_set = set(seeds)
        is_seed = np.array([g in seed_set for g in self.gene_ids], dtype=bool)
        n_pos = int(is_seed.sum())
        n_bg = len(self.gene_ids) - n_pos
        m = len(self.studies)
        hit_seed = is_seed[self.gene_idx]
        pos = np.bincount(self.study_idx[hit_seed], minlength=m)
        bg = np.bincount(self.study_idx[~hit_seed], minlength=m)
        out = {}
        for j, st in enumerate(self.studies):
            p = (int(pos[j]) + pseudo) / (n_pos + 2 * pseudo)
            q = (int(bg[j]) + pseudo) / (n_bg + 2 * pseudo)
            out[st] = float(np.log(p / q))
        return out

    def score(self, seeds: Sequence[str], params: Mapping) -> np.ndarray:
        llr = self.llr(seeds, float(params["pseudo_count"]))
        positive = np.array([max(llr[st], 0.0) for st in self.studies], dtype=np.float64)
        # summed per gene in the order its studies are listed, as sum() over the list would
        total = np.bincount(
            self.gene_idx, weights=positive[self.study_idx], minlength=len(self.gene_ids)
        )
        return np.clip(total / float(params["ref_llr"]), 0.0, 1.0)


def ht_score(
    gene_ids: Sequence[str],
    reported: Sequence[Sequence[str]],
    seeds: Sequence[str],
    params: Mapping,
) -> np.ndarray:
    """Sum of the positive study log-likelihood ratios of the studies reporting each gene, divided
    by ``ref_llr`` and capped at 1 (a study that reports cilia genes no more often than other
    genes adds nothing; being reported is never evidence against)."""
    return ht_score_fn(gene_ids, reported, params)(seeds)


def ht_score_fn(
    gene_ids: Sequence[str], reported: Sequence[Sequence[str]], params: Mapping
) -> Callable[[Sequence[str]], np.ndarray]:
    """``ht_score`` as a function of the seeds, with the study lists indexed once."""
    idx = _StudyIndex(gene_ids, reported)
    return lambda seeds: idx.score(seeds, params)


def out_of_fold_network(
    graph: pl.DataFrame,
    gene_ids: Sequence[str],
    seeds: Sequence[str],
    folds: Mapping[str, int],
    pseudo_weight: float,
) -> np.ndarray:
    """Known-neighbour fraction of each gene computed with the seeds of the OTHER folds only:
    the genes of fold f are scored from ``seeds`` minus fold f, so no gene's own label (nor that of
    any gene sharing its fold) reaches its own value."""
    return out_of_fold(
        neighbour_fraction_fn(graph, gene_ids, pseudo_weight), gene_ids, seeds, folds
    )


def network_score_from_fraction(frac: np.ndarray | pl.Expr, saturation: float):
    """0–1 sub-score: the shrunk known-neighbour fraction divided by ``saturation`` (a fraction at
    which the evidence counts as full), capped at 1."""
    if isinstance(frac, pl.Expr):
        return (frac / saturation).clip(0.0, 1.0)
    return np.clip(frac / saturation, 0.0, 1.0)


def network_layer(
    universe: pl.DataFrame,
    edges: pl.DataFrame,
    seeds: Sequence[str],
    folds: Mapping[str, int],
    params: Mapping,
) -> tuple[pl.DataFrame, dict]:
    """Interaction-network layer. Raw values: degree and weighted degree in the network, every
    neighbour (``network_neighbours``, for re-seeding per fold), the known cilia/Usher neighbours
    (``network_known_neighbours``: symbols, from all known genes, for reading) and their count, and
    the out-of-fold known-neighbour fraction. ``network_score`` is computed out of fold (seeds of
    the other folds only). NULL (not covered): the gene has no STRING edge at the configured
    confidence to another universe gene."""
    graph = network_graph(universe, edges, params["min_combined_score"])
    gene_ids = universe["gene_id"].to_list()
    frac = out_of_fold_network(graph, gene_ids, seeds, folds, params["pseudo_weight"])
    sym = universe.select(pl.col("gene_id").alias("neighbour_id"), pl.col("symbol").alias("nsym"))
    seed_set = set(seeds)
    nb = graph.join(sym, on="neighbour_id", how="left").sort("gene_id", "weight", "neighbour_id",
                                                             descending=[False, True, False])  # fmt: skip
    per_gene = nb.group_by("gene_id", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("network_degree"),
        pl.col("weight").sum().alias("network_weighted_degree"),
        pl.col("neighbour_id").alias("network_neighbours"),
        pl.col("weight").alias("network_neighbour_weights"),
        pl.col("nsym")
        .filter(pl.col("neighbour_id").is_in(list(seed_set)))
        .alias("network_known_neighbours"),
    )
    oof = pl.DataFrame({"gene_id": gene_ids, "network_known_fraction": frac}).with_columns(
        pl.col("network_known_fraction").fill_nan(None)
    )
    out = (
        universe.select("gene_id")
        .join(per_gene, on="gene_id", how="left")
        .join(oof, on="gene_id", how="left")
        .with_columns(
            pl.col("network_known_neighbours").list.len().cast(pl.Int64).alias("network_n_known"),
            network_score_from_fraction(
                pl.col("network_known_fraction"), params["saturation"]
            ).alias("network_score"),
        )
    )
    stats = {
        "edges_used": graph.height // 2,
        "genes_in_network": int(out["network_degree"].is_not_null().sum()),
        "seeds": len(seed_set),
        "median_degree": float(out["network_degree"].median() or 0),
    }
    return out, stats


# --------------------------------------------------------------------------------------------
# Ciliary high-throughput studies

STUDY_TYPES: tuple[tuple[str, str], ...] = (
    ("screen", r"(?i)screen|sirna|crispr|functional genomic"),
    ("proteomics", r"(?i)proteom|proteomic|protein landscape|proximity labeling|phosphoprotein"),
    ("comparative genomics", r"(?i)comparative genomics|phylogenetic|genome reveals|conservation"),
    (
        "expression / transcription factor",
        r"(?i)transcript|expression|rfx|foxj1|daf-19|xbx|x-box|sage|multiciliogenesis|"
        r"down-regulated|in silico dissection|forkhead",
    ),
)


def study_type(title: str) -> str:
    """Type of a study from its title (first matching rule of STUDY_TYPES, else 'other')."""
    for label, pattern in STUDY_TYPES:
        if re.search(pattern, title or ""):
            return label
    return "other"


def ht_studies_layer(
    universe: pl.DataFrame,
    aliases: pl.DataFrame,
    study_genes: pl.DataFrame,
    studies: pl.DataFrame,
    links: pl.DataFrame,
    seeds: Sequence[str],
    folds: Mapping[str, int],
    params: Mapping,
) -> tuple[pl.DataFrame, dict]:
    """Which ciliary high-throughput studies report the gene. Sources that are known-gene lists
    (``params['exclude_studies']``: GO CC Cilium, SYSCILIA gold standard, CiliaCarta and its
    classifier) are circular here and dropped. Raw values: the studies (name, year, type, species),
    their number, types and species counts. Studies differ greatly in precision (a cilia proteome
    also lists abundant contaminants; an expression screen lists thousands of genes), so each study
    is weighted by how much more often it reports known cilia genes than background genes — a
    log-likelihood ratio learned from the known genes, hence computed OUT OF FOLD (``ht_score``):
    the score of a gene in fold f uses the known genes of the other folds only. Never NULL: the compendium is a list of what each study reports, so a gene that
    no study reports scores 0 (not reported), not unknown."""
    excluded = set(params["exclude_studies"])
    st = studies.with_columns(
        pl.col("title").map_elements(study_type, return_dtype=pl.String).alias("study_type")
    )
    unknown_excl = excluded - set(st["study"].to_list())
    if unknown_excl:
        raise ValueError(
            f"layers.ht_studies.exclude_studies names studies not in the study list: "
            f"{sorted(unknown_excl)}"
        )
    rows = study_genes.join(links, on=["publication", "pub_number"], how="left").join(
        st, on="study_number", how="left"
    )
    rows = rows.filter(~pl.col("study").is_in(list(excluded)))
    res = resolve_symbols(rows["symbol"].unique().sort().to_list(), aliases)
    mapped = rows.join(res.select("symbol", "gene_id"), on="symbol", how="left")
    unmapped = mapped.filter(pl.col("gene_id").is_null())["symbol"].n_unique()
    mapped = mapped.filter(pl.col("gene_id").is_not_null())
    label = pl.format("{} {} ({}; {})", "study", "year", "study_type", "species")
    hits = mapped.select(
        "gene_id", "study", "year", "study_type", "species", label.alias("lab")
    ).unique()
    per_gene = hits.group_by("gene_id").agg(
        pl.col("lab").unique().sort().alias("ht_studies"),
        pl.col("study").unique().sort().alias("ht_study_names"),
        pl.col("study").n_unique().cast(pl.Int64).alias("ht_n_studies"),
        pl.col("study_type").unique().sort().alias("ht_study_types"),
        pl.col("species").n_unique().cast(pl.Int64).alias("ht_n_species"),
    )
    out = universe.select("gene_id").join(per_gene, on="gene_id", how="left")
    out = out.with_columns(
        pl.col("ht_n_studies").fill_null(0),
        pl.col("ht_n_species").fill_null(0),
        pl.col("ht_studies").fill_null([]),
        pl.col("ht_study_names").fill_null([]),
        pl.col("ht_study_types").fill_null([]),
    )
    gene_ids = out["gene_id"].to_list()
    reported = out["ht_study_names"].to_list()
    oof = out_of_fold(ht_score_fn(gene_ids, reported, params), gene_ids, seeds, folds)
    out = out.with_columns(pl.Series("ht_studies_score", oof))
    used = st.filter(~pl.col("study").is_in(list(excluded)))
    stats = {
        "studies_used": used.height,
        "studies_excluded_circular": sorted(excluded),
        "studies_by_type": dict(used.group_by("study_type").len().sort("study_type").iter_rows()),
        "symbols_unmapped": int(unmapped),
        "genes_reported": int((out["ht_n_studies"] > 0).sum()),
    }
    return out, stats


# --------------------------------------------------------------------------------------------
# Retina single-cell expression

PHOTORECEPTOR_TYPES = ("Retinal rod cells", "Retinal cone cells")


def retina_expression(
    universe: pl.DataFrame, markers: pl.DataFrame, ref_log2fc: float
) -> pl.DataFrame:
    """Photoreceptor enrichment from retina single-cell markers. Per gene: avg_log2FC and fraction
    of expressing cells in rods and cones, the other retinal cell types where it is a marker, and
    ``retina_photoreceptor_score`` = max over rod/cone of avg_log2FC / ref_log2fc, capped to
    [0, 1]. Matched by Ensembl ID, else by symbol. Every gene is covered: a gene absent from a cell
    type's marker list is not enriched there (0), not unknown."""
    ens = universe.select("gene_id", "ensembl_gene").drop_nulls()
    m = markers.filter(pl.col("avg_log2fc") > 0)
    by_ens = m.join(ens, on="ensembl_gene", how="inner")
    rest = m.join(by_ens.select("ensembl_gene").unique(), on="ensembl_gene", how="anti")
    by_sym = rest.join(universe.select("gene_id", "symbol"), on="symbol", how="inner")
    hits = pl.concat([by_ens.select(by_sym.columns), by_sym], how="vertical")

    def cell(ct: str, tag: str) -> pl.DataFrame:
        return (
            hits.filter(pl.col("cell_type") == ct)
            .group_by("gene_id")
            .agg(
                pl.col("avg_log2fc").max().alias(f"retina_{tag}_log2fc"),
                pl.col("pct_in").max().alias(f"retina_{tag}_pct"),
            )
        )

    others = (
        hits.filter(~pl.col("cell_type").is_in(list(PHOTORECEPTOR_TYPES)))
        .group_by("gene_id")
        .agg(pl.col("cell_type").unique().sort().alias("retina_other_cell_types"))
    )
    out = (
        universe.select("gene_id")
        .join(cell(PHOTORECEPTOR_TYPES[0], "rod"), on="gene_id", how="left")
        .join(cell(PHOTORECEPTOR_TYPES[1], "cone"), on="gene_id", how="left")
        .join(others, on="gene_id", how="left")
        .with_columns(pl.col("retina_other_cell_types").fill_null([]))
    )
    best = pl.max_horizontal(
        pl.col("retina_rod_log2fc").fill_null(0.0), pl.col("retina_cone_log2fc").fill_null(0.0)
    )
    return out.with_columns((best / ref_log2fc).clip(0.0, 1.0).alias("retina_photoreceptor_score"))


# --------------------------------------------------------------------------------------------
# Phylogenetic profile (Nevers 2017)


def phylogeny_layer(
    universe: pl.DataFrame,
    aliases: pl.DataFrame,
    profiles: pl.DataFrame,
    groups: Mapping,
) -> tuple[pl.DataFrame, dict]:
    """Presence of an ortholog in ciliated vs non-ciliated eukaryotes (Nevers et al. 2017, 100
    species). Raw values: the species with an ortholog (indices into the file's species list),
    counts per group (ciliated, non-ciliated, partially ciliated, as labelled in the file) and the
    fraction present in each. Score = max(0, fraction of ciliated species present − fraction of
    non-ciliated species present): 1 for a gene found in every ciliated and no non-ciliated species
    (the ciliary signature), 0 for a gene everywhere. Partially ciliated species are reported, not
    scored. Label-free (nothing learned from known genes). Animal-specific genes score up to ~0.6
    (all 39 animals and choanoflagellates are ciliated): a measured choice — restricting to
    ciliated species outside animals separates known cilia genes less well (AUROC 0.67 vs 0.72),
    because many Usher and photoreceptor genes are animal-specific; a naive-Bayes profile learned
    per species did worse still (0.64).
    Symbols are mapped through current, previous and alias symbols; a gene missing from the
    matrix is NULL (not covered)."""
    cil, non, part = groups["ciliated"], groups["non_ciliated"], groups["partial"]
    res = resolve_symbols(profiles["symbol"].to_list(), aliases)
    prof = profiles.join(res.select("symbol", "gene_id"), on="symbol", how="inner").filter(
        pl.col("gene_id").is_not_null()
    )
    # Two matrix rows can map to one gene (an old and a new symbol): keep the current symbol's row.
    cur = universe.select("gene_id", pl.col("symbol").alias("cur"))
    prof = (
        prof.join(cur, on="gene_id")
        .with_columns((pl.col("symbol") == pl.col("cur")).alias("is_cur"))
        .sort("gene_id", "is_cur", "symbol", descending=[False, True, False])
        .unique("gene_id", keep="first", maintain_order=True)
    )
    idx = pl.col("species_idx")
    per = prof.select(
        "gene_id",
        pl.col("symbol").alias("phylo_matrix_symbol"),
        idx.list.len().cast(pl.Int64).alias("phylo_n_species"),
        idx.list.set_intersection(sorted(cil)).list.len().cast(pl.Int64).alias("phylo_n_ciliated"),
        idx.list.set_intersection(sorted(non))
        .list.len()
        .cast(pl.Int64)
        .alias("phylo_n_non_ciliated"),
        idx.list.set_intersection(sorted(part)).list.len().cast(pl.Int64).alias("phylo_n_partial"),
    ).with_columns(
        (pl.col("phylo_n_ciliated") / len(cil)).alias("phylo_frac_ciliated"),
        (pl.col("phylo_n_non_ciliated") / len(non)).alias("phylo_frac_non_ciliated"),
    )
    species = groups["species"]
    non_names = pl.col("species_idx").list.eval(
        pl.element()
        .filter(pl.element().is_in(sorted(non)))
        .replace_strict(dict(enumerate(species)), return_dtype=pl.String)
    )
    per = per.with_columns(
        prof.select(
            pl.col("species_idx").alias("phylo_species_idx"),
            non_names.alias("phylo_non_ciliated_species"),
        ),
    ).with_columns(
        (pl.col("phylo_frac_ciliated") - pl.col("phylo_frac_non_ciliated"))
        .clip(0.0, 1.0)
        .alias("phylogeny_score")
    )
    out = universe.select("gene_id").join(per, on="gene_id", how="left")
    stats = {
        "species": {"ciliated": len(cil), "non_ciliated": len(non), "partial": len(part)},
        "matrix_genes": profiles.height,
        "genes_covered": int(out["phylogeny_score"].is_not_null().sum()),
    }
    return out, stats


# --------------------------------------------------------------------------------------------
# Ciliary function: GO biological process + Reactome


def ciliary_function_layer(
    universe: pl.DataFrame,
    aliases: pl.DataFrame,
    gene2go: pl.DataFrame,
    onto: Ontology,
    reactome: pl.DataFrame | None,
    params: Mapping,
) -> tuple[pl.DataFrame, dict]:
    """Ciliary biological processes (GO BP subtrees over is_a + part_of: cilium assembly /
    organization, cilium movement, intraciliary transport, sensory perception of sound,
    phototransduction, visual perception, inner-ear and photoreceptor development, …) and Reactome
    pathways (Cilium Assembly, Intraflagellar transport, BBSome, phototransduction). Score =
    noisy-OR of the weights of the matched processes and pathways (GO computational evidence ×
    ``go_computational_factor``). NULL (not covered): the gene has no informative GO BP annotation
    and is in no Reactome pathway."""
    resolved, dropped = resolve_go_ids(gene2go, onto)
    informative = resolved.filter(pl.col("evidence_class") != "no_data")
    bp_ids = {t for t, d in onto.terms.items() if d.get("namespace") == "BP"}
    bp = informative.filter(pl.col("go_id").is_in(list(bp_ids)))
    rows = []
    for proc in params["go_processes"]:
        for term in sorted(onto.descendants(proc["go_id"])):
            rows.append((term, proc["label"], float(proc["weight"])))
    terms = pl.DataFrame(rows, schema=["go_id", "label", "weight"], orient="row")
    factor = float(params["go_computational_factor"])
    hits = bp.join(terms, on="go_id").with_columns(
        pl.when(pl.col("evidence_class") == "experimental")
        .then(pl.col("weight"))
        .otherwise(pl.col("weight") * factor)
        .alias("w")
    )
    ids = universe.select("gene_id", "ncbi_gene_id")
    go_hits = (
        hits.join(ids, on="ncbi_gene_id")
        .group_by("gene_id", "label")
        .agg(pl.col("w").max())
        .with_columns(pl.lit("GO").alias("src"))
    )
    covered = bp.join(ids, on="ncbi_gene_id").select("gene_id").unique()
    pw_hits = pl.DataFrame(schema={"gene_id": pl.String, "label": pl.String, "w": pl.Float64,
                                   "src": pl.String})  # fmt: skip
    if reactome is not None:
        res = resolve_symbols(reactome["symbol"].unique().sort().to_list(), aliases)
        rx = reactome.join(res.select("symbol", "gene_id"), on="symbol").filter(
            pl.col("gene_id").is_not_null()
        )
        covered = pl.concat([covered, rx.select("gene_id").unique()]).unique()
        want = pl.DataFrame(
            [(p["id"], p["label"], float(p["weight"])) for p in params["reactome_pathways"]],
            schema=["pathway_id", "label", "w"],
            orient="row",
        )
        pw_hits = (
            rx.join(want, on="pathway_id")
            .group_by("gene_id", "label")
            .agg(pl.col("w").max())
            .with_columns(pl.lit("Reactome").alias("src"))
        )
    allh = pl.concat([go_hits.select(pw_hits.columns), pw_hits])
    per = allh.group_by("gene_id").agg(
        pl.col("label")
        .filter(pl.col("src") == "GO")
        .unique()
        .sort()
        .alias("function_go_processes"),
        pl.col("label")
        .filter(pl.col("src") == "Reactome")
        .unique()
        .sort()
        .alias("function_reactome_pathways"),
        # noisy-OR over the hits, in a fixed order (a float product depends on the order)
        (1.0 - (1.0 - pl.col("w").sort()).product()).alias("_s"),
    )
    out = (
        universe.select("gene_id")
        .join(covered.with_columns(pl.lit(True).alias("_cov")), on="gene_id", how="left")
        .join(per, on="gene_id", how="left")
        .with_columns(
            pl.col("function_go_processes").fill_null([]),
            pl.col("function_reactome_pathways").fill_null([]),
            pl.when(pl.col("_cov"))
            .then(pl.col("_s").fill_null(0.0))
            .otherwise(None)
            .alias("ciliary_function_score"),
        )
        .drop("_cov", "_s")
    )
    stats = {
        "go_rows_obsolete_or_unknown": dropped,
        "genes_covered": int(out["ciliary_function_score"].is_not_null().sum()),
        "genes_with_hit": int((out["ciliary_function_score"].fill_null(0) > 0).sum()),
    }
    return out, stats


__all__ = [
    "assign_folds",
    "ciliary_function_layer",
    "ht_studies_layer",
    "network_layer",
    "noisy_or",
    "out_of_fold_network",
    "phylogeny_layer",
    "retina_expression",
]
