"""Which upstream file each source key comes from, in snapshot mode and in live mode."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .snapshot import load_manifest

# Source keys each workflow step reads. In live mode, keys listed in LIVE_REPLACEMENTS are fetched
# instead of read from the snapshot, keys in LIVE_DERIVED are built from fetched files, keys in
# SUPERSEDED_IN_LIVE are dropped because a live source supersedes them; every other key comes from
# the snapshot in both modes and is reported as "snapshot only (release ...)" in live mode (the
# dry-run plan and the provenance): curated gene sets and tables without a live upstream. A new
# snapshot-only source therefore needs nothing beyond its entry here and in the manifest.
STEP_SOURCES: dict[str, tuple[str, ...]] = {
    "universe": ("gene_info", "mane", "hgnc", "gene_type"),
    "gene_sets": ("usher_genes", "scgs_v2", "scgs_v1", "housekeeping", "ciliacarta_negative"),
    "annotation": ("gene2go", "go_terms", "go_edges"),
    "localization": (
        "gene2go",
        "go_terms",
        "go_edges",
        "hpa_subcellular",
        "hpa_cilia_flags",
        "hpa_v25_cilia",
    ),
    "mouse_phenotype": ("mgi_hmd",),
    "human_phenotype": ("hpo_g2p", "hpo_obo"),
    "literature": ("gene2pubmed",),
    "protein_features": ("gene2pfam", "gene2prosite"),
    "constraint": ("shet",),
    "expression": ("retina_scrna_markers",),
    "network": ("string_network",),
    "ht_studies": ("ht_studies", "ht_study_genes"),
    "phylogeny": ("nevers_phylogeny",),
    "ciliary_function": ("gene2go", "go_terms", "go_edges", "reactome_gmt"),
    # HPA v25 cilia atlas; the HPA subcellular table says which genes HPA imaged (0 vs NULL).
    "cilia_atlas": ("hpa_v25_cilia", "hpa_subcellular"),
    "inner_ear": ("scheffer_cpm", "scheffer_design", "mgi_hmd"),
}
# Universe tables a layer reads besides the genes (beyond its source files): the symbol table to
# map symbol-keyed sources, the gene-set flags to seed the network from known genes.
LAYER_UNIVERSE_INPUTS: dict[str, tuple[str, ...]] = {
    "network": ("gene_sets",),
    "ht_studies": ("aliases", "gene_sets"),
    "phylogeny": ("aliases",),
    "ciliary_function": ("aliases",),
    "localization": ("aliases",),
    "cilia_atlas": ("aliases",),
    "inner_ear": ("aliases",),
}

# Snapshot key -> live key (same parser).
LIVE_REPLACEMENTS = {
    "gene_info": "gene_info",
    "mane": "mane",
    "hgnc": "hgnc",
    "gene2go": "gene2go",
    "gene2pubmed": "gene2pubmed",
    "go_terms": "go_obo",
    "go_edges": "go_obo",
    "hpo_obo": "hpo_obo",
    "hpo_g2p": "hpo_g2p",
    "mgi_hmd": "mgi_hmd",
    "hpa_subcellular": "hpa_subcellular",
    "reactome_gmt": "reactome_gmt",
}
# Snapshot key -> (path under results_dir, live sources it is built from) for live tables that
# a live rule derives from fetched files into the snapshot's layout (read by the same parser).
LIVE_DERIVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "string_network": ("live/string_network.tsv", ("string_links", "string_info", "gene_info")),
}
# Snapshot-only tables that a live source supersedes (not read in live mode unless that live
# source is disabled, in which case the snapshot table is used instead).
SUPERSEDED_IN_LIVE = {
    "gene_type": "hgnc",
    "hpa_cilia_flags": "hpa_subcellular",
    "gene2pfam": "uniprot",
    "gene2prosite": "uniprot",
    "shet": "gnomad_constraint",
}
# Live sources a user may switch off (live.disabled_sources): their layer is then NULL (unknown)
# or falls back to the snapshot table they supersede.
OPTIONAL_LIVE_SOURCES = ("hpa_rna_tissue", "gtex_median", "gnomad_constraint", "uniprot", "pubmed")
# Extra live-only inputs per step.
LIVE_EXTRA: dict[str, tuple[str, ...]] = {
    "expression": ("hpa_rna_tissue", "gtex_median"),
    "constraint": ("gnomad_constraint",),
}


def snapshot_paths(snapshot_dir: str | Path) -> dict[str, str]:
    """Source key -> path of the snapshot file (from the manifest)."""
    root = Path(snapshot_dir)
    return {e["key"]: str(root / e["path"]) for e in load_manifest(root)["files"]}


def step_inputs(
    step: str,
    mode: str,
    snapshot_dir: str | Path,
    results_dir: str,
    disabled: Iterable[str] = (),
) -> dict[str, str]:
    """Named input files of a workflow step for the given mode (key -> path)."""
    off = set(disabled)
    unknown = off - set(OPTIONAL_LIVE_SOURCES)
    if unknown:
        raise ValueError(
            f"live.disabled_sources: {sorted(unknown)} cannot be disabled "
            f"(optional sources: {list(OPTIONAL_LIVE_SOURCES)})"
        )
    snap = snapshot_paths(snapshot_dir)
    out: dict[str, str] = {}
    for key in STEP_SOURCES[step]:
        if mode == "live" and key in LIVE_REPLACEMENTS:
            live_key = LIVE_REPLACEMENTS[key]
            out[live_key] = f"{results_dir}/live/raw/{live_key}"
        elif mode == "live" and key in LIVE_DERIVED:
            out[key] = f"{results_dir}/{LIVE_DERIVED[key][0]}"
        elif mode == "live" and key in SUPERSEDED_IN_LIVE and SUPERSEDED_IN_LIVE[key] not in off:
            continue
        else:
            out[key] = snap[key]
    if mode == "live":
        for key in LIVE_EXTRA.get(step, ()):
            if key not in off:
                out[key] = f"{results_dir}/live/raw/{key}"
    return out


def live_raw_keys(path: str, results_dir: str) -> list[str]:
    """The fetched live sources (keys of ``results/live/raw/``) a live-mode input path stands
    for: itself, or the sources a LIVE_DERIVED table is built from."""
    raw = f"{results_dir}/live/raw/"
    if path.startswith(raw):
        return [path[len(raw) :]]
    for rel, keys in LIVE_DERIVED.values():
        if path == f"{results_dir}/{rel}":
            return list(keys)
    return []


def snapshot_only_sources(snapshot_dir: str | Path, disabled: Iterable[str] = ()) -> dict[str, str]:
    """Snapshot keys a live-mode run still reads from the snapshot -> why: ``snapshot only`` (no
    live upstream) or ``snapshot (live source <key> disabled)`` (a disabled live source's fallback).
    Derived from STEP_SOURCES and the live tables above, so it needs no list of its own."""
    off = set(disabled)
    snap = snapshot_paths(snapshot_dir)
    out: dict[str, str] = {}
    for step in STEP_SOURCES:
        for key, path in step_inputs(step, "live", snapshot_dir, "results", off).items():
            if snap.get(key) == path and key not in out:
                if key in SUPERSEDED_IN_LIVE:
                    out[key] = f"snapshot (live source {SUPERSEDED_IN_LIVE[key]} disabled)"
                else:
                    out[key] = "snapshot only"
    return out


def snapshot_only_note(release: str, why: str = "snapshot only") -> str:
    """The note a live run records for a snapshot source: ``snapshot only (release ...)``."""
    return f"{why} (release {release})"


# Config sections whose entries name a gene list (role -> manifest key or file), and the prefix of
# a user file's input name in the gene_universe rule.
GENE_LIST_SECTIONS = ("known_genes", "negative_controls")
USER_GENE_LIST_INPUT = "gene_list_"


@dataclass(frozen=True)
class GeneListEntry:
    """One configured gene list: ``section.role`` names either a snapshot manifest key or, when
    ``user_file``, the path of the user's own file (one gene per line, as ``gene_subset``)."""

    section: str
    role: str
    value: str
    user_file: bool

    @property
    def input_name(self) -> str:
        """The manifest key, or the named input of the user file in the gene_universe rule."""
        return f"{USER_GENE_LIST_INPUT}{self.role}" if self.user_file else self.value


def gene_list_entries(config: Mapping[str, Any], snapshot_dir: str | Path) -> list[GeneListEntry]:
    """The gene lists of ``known_genes`` and ``negative_controls`` in config order: a value that
    is a key of the snapshot manifest is that snapshot file, any other value a user file."""
    keys = set(snapshot_paths(snapshot_dir))
    out = []
    for section in GENE_LIST_SECTIONS:
        for role, value in (config.get(section) or {}).items():
            if role == "exclude_from_controls" or not isinstance(value, str):
                continue
            out.append(GeneListEntry(section, role, value, value not in keys))
    return out


def user_gene_list_inputs(config: Mapping[str, Any], snapshot_dir: str | Path) -> dict[str, str]:
    """Named inputs (``gene_list_<role>`` -> path) of the user gene-list files, so editing one
    reruns the jobs that read it."""
    return {e.input_name: e.value for e in gene_list_entries(config, snapshot_dir) if e.user_file}
