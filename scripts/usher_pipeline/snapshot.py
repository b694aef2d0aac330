"""The embedded real-data snapshot: build it from ``shared/data`` and verify it before use.

The snapshot keeps every file in its upstream layout (so snapshot and live mode share parsers). Files are
either byte copies of the shared release files or row/column filters of them, re-gzipped deterministically
(mtime 0), so rebuilding gives identical bytes. ``manifest.json`` records, for every file: source, release,
upstream URL, license/citation, how it was made, its sha256 and size, and the sha256 of the shared file it
was derived from.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import SnapshotError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


LineFilter = Callable[[list[str]], Iterable[str]]


@dataclass(frozen=True)
class SnapshotFile:
    """One file of the snapshot and where it comes from."""

    key: str  # stable name used by the workflow (config-independent)
    shared_path: str  # path under shared/data
    snapshot_path: str  # path under the snapshot folder
    source: str
    release: str
    upstream_url: str
    license: str
    how: str
    line_filter: LineFilter | None = None  # None = byte copy


def _protein_coding_rows(lines: list[str]) -> Iterable[str]:
    """gene_type_human: keep the header and protein-coding genes (their 2022 symbols)."""
    yield lines[0]
    for line in lines[1:]:
        parts = line.split("\t")
        if len(parts) > 3 and parts[3] == "protein-coding":
            yield line


def _first_five_columns(lines: list[str]) -> Iterable[str]:
    """HGNC/UniProt catalogue: keep its first five columns (the rest are unrelated surface flags)."""
    for line in lines:
        yield "\t".join(line.rstrip("\n").split("\t")[:5]) + "\n"


NCBI_FTP = "https://ftp.ncbi.nlm.nih.gov/gene/DATA"

SNAPSHOT_FILES: tuple[SnapshotFile, ...] = (
    SnapshotFile(
        "gene_info",
        "ncbi_2026-05-11/Homo_sapiens.gene_info.protein_coding.gz",
        "ncbi_gene/Homo_sapiens.gene_info.protein_coding.gz",
        "NCBI Gene gene_info",
        "2026-05-11",
        f"{NCBI_FTP}/GENE_INFO/Mammalia/Homo_sapiens.gene_info.gz",
        "public domain (NCBI)",
        "byte copy of the shared file (upstream filtered to protein-coding genes with an HGNC xref)",
    ),
    SnapshotFile(
        "mane",
        "mane_v1.4/MANE.GRCh38.v1.4.summary.txt.gz",
        "mane/MANE.GRCh38.v1.4.summary.txt.gz",
        "MANE",
        "v1.4",
        "https://ftp.ncbi.nlm.nih.gov/refseq/MANE/MANE_human/release_1.4/MANE.GRCh38.v1.4.summary.txt.gz",
        "no restrictions (NCBI/EMBL-EBI)",
        "byte copy",
    ),
    SnapshotFile(
        "hgnc",
        "hgnc_uniprot_2026-06/hgnc_uniprot_ensembl_ncbi.tsv.gz",
        "hgnc/hgnc_uniprot_ensembl_ncbi.tsv.gz",
        "HGNC / UniProt mapping",
        "2026-06",
        "https://storage.googleapis.com/public-download-files/hgnc/tsv/tsv/hgnc_complete_set.txt",
        "MIT (catalogue); cite HGNC and UniProt",
        "first five columns (hgnc_id, hgnc_symbol, uniprot_acc, ensembl_gene, ncbi_gene_id) of the shared file",
        _first_five_columns,
    ),
    SnapshotFile(
        "gene_type",
        "ncbi_2022-09-12/gene_type_human.gz",
        "ncbi_gene/gene_type_human.protein_coding.gz",
        "NCBI Gene (via org.Hs.eg.db 3.16.0)",
        "2022-09-12",
        f"{NCBI_FTP}/GENE_INFO/Mammalia/Homo_sapiens.gene_info.gz",
        "public domain (NCBI)",
        "rows with type_of_gene == protein-coding: the 2022 symbols, used as previous symbols",
        _protein_coding_rows,
    ),
    SnapshotFile(
        "gene2go",
        "ncbi_2022-09-12/gene2go_human.gz",
        "ncbi_gene/gene2go_human.gz",
        "NCBI gene2go (GO annotations)",
        "NCBI 2022-09-12 / GO 2022-07-01",
        f"{NCBI_FTP}/gene2go.gz",
        "NCBI public domain; GO CC BY 4.0",
        "byte copy (rebuilt upstream from org.Hs.eg.db 3.16.0; Qualifier and PubMed are '-')",
    ),
    SnapshotFile(
        "gene2pubmed",
        "ncbi_2022-09-12/gene2pubmed_human.gz",
        "ncbi_gene/gene2pubmed_human.gz",
        "NCBI gene2pubmed",
        "2022-09-12",
        f"{NCBI_FTP}/gene2pubmed.gz",
        "public domain (NCBI)",
        "byte copy (rebuilt upstream from org.Hs.eg.db 3.16.0)",
    ),
    SnapshotFile(
        "gene2pfam",
        "ncbi_2022-09-12/gene2pfam_human.gz",
        "ncbi_gene/gene2pfam_human.gz",
        "Pfam domains per gene (UniProt via org.Hs.eg.db 3.16.0)",
        "UniProt 2022-09-23",
        "https://bioconductor.org/packages/3.16/data/annotation/html/org.Hs.eg.db.html",
        "UniProt CC BY 4.0",
        "byte copy",
    ),
    SnapshotFile(
        "gene2prosite",
        "ncbi_2022-09-12/gene2prosite_human.gz",
        "ncbi_gene/gene2prosite_human.gz",
        "PROSITE motifs per gene (UniProt via org.Hs.eg.db 3.16.0)",
        "UniProt 2022-09-23",
        "https://bioconductor.org/packages/3.16/data/annotation/html/org.Hs.eg.db.html",
        "UniProt CC BY 4.0",
        "byte copy",
    ),
    SnapshotFile(
        "go_terms",
        "go_2022-07-01/go_terms.tsv.gz",
        "go/go_terms.tsv.gz",
        "Gene Ontology terms (GO.db 3.16.0)",
        "go-basic.obo 2022-07-01",
        "https://purl.obolibrary.org/obo/go/go-basic.obo",
        "CC BY 4.0",
        "byte copy (extracted upstream from GO.db 3.16.0)",
    ),
    SnapshotFile(
        "go_edges",
        "go_2022-07-01/go_edges.tsv.gz",
        "go/go_edges.tsv.gz",
        "Gene Ontology edges (GO.db 3.16.0)",
        "go-basic.obo 2022-07-01",
        "https://purl.obolibrary.org/obo/go/go-basic.obo",
        "CC BY 4.0",
        "byte copy (extracted upstream from GO.db 3.16.0)",
    ),
    SnapshotFile(
        "hpo_obo",
        "hpo_2025-01-16/hp.obo.gz",
        "hpo/hp.obo.gz",
        "Human Phenotype Ontology",
        "2025-01-16",
        "https://github.com/obophenotype/human-phenotype-ontology/releases",
        "HPO license: free with citation (Gargano et al., NAR 2024)",
        "byte copy",
    ),
    SnapshotFile(
        "hpo_g2p",
        "hpo_2025-01-16/genes_to_phenotype.txt.gz",
        "hpo/genes_to_phenotype.txt.gz",
        "HPO genes_to_phenotype",
        "2025-01-16",
        "https://github.com/obophenotype/human-phenotype-ontology/releases",
        "HPO license: free with citation (Gargano et al., NAR 2024)",
        "byte copy",
    ),
    SnapshotFile(
        "mgi_hmd",
        "mgi_2024-12/HMD_HumanPhenotype.rpt.gz",
        "mgi/HMD_HumanPhenotype.rpt.gz",
        "MGI human-mouse orthologs with phenotypes",
        "2024-12",
        "https://www.informatics.jax.org/downloads/reports/HMD_HumanPhenotype.rpt",
        "MGI: free with citation (Baldarelli et al., Genetics 2024)",
        "byte copy",
    ),
    SnapshotFile(
        "mgi_mp",
        "mgi_2024-12/VOC_MammalianPhenotype_2015.rpt.gz",
        "mgi/VOC_MammalianPhenotype_2015.rpt.gz",
        "MGI Mammalian Phenotype vocabulary",
        "2015-09",
        "https://www.informatics.jax.org/downloads/reports/VOC_MammalianPhenotype.rpt",
        "MGI: free with citation",
        "byte copy",
    ),
    SnapshotFile(
        "hpa_subcellular",
        "hpa/subcellular_location_v17.tsv.gz",
        "hpa/subcellular_location_v17.tsv.gz",
        "Human Protein Atlas subcellular location",
        "v17",
        "https://www.proteinatlas.org/download/tsv/subcellular_location.tsv.zip",
        "CC BY-SA 3.0 (cite Thul et al., Science 2017)",
        "byte copy",
    ),
    SnapshotFile(
        "hpa_cilia_flags",
        "hpa/hpa_2022_cilia_flags.tsv.gz",
        "hpa/hpa_2022_cilia_flags.tsv.gz",
        "Human Protein Atlas cilia / centrosome flags (as tabulated by CilioGenics)",
        "HPA 2022",
        "https://doi.org/10.1093/nar/gkad1158",
        "CC BY-SA 3.0; cite HPA and Pir et al., NAR 2024",
        "byte copy",
    ),
    SnapshotFile(
        "shet",
        "constraint_shet/shet_weghorn2019.txt.gz",
        "constraint/shet_weghorn2019.txt.gz",
        "s_het (Weghorn et al. 2019)",
        "2019 (RaMeDiES 2024)",
        "https://doi.org/10.1093/molbev/msz092",
        "GPL-3.0 repository; cite Weghorn et al., MBE 2019",
        "byte copy",
    ),
    SnapshotFile(
        "scgs_v2",
        "gene_sets/scgs_v2_symbols.tsv",
        "gene_sets/scgs_v2_symbols.tsv",
        "SYSCILIA gold standard v2",
        "Vasquez et al. 2021",
        "https://doi.org/10.1091/mbc.E21-05-0226",
        "cite Vasquez et al., MBoC 2021",
        "byte copy",
    ),
    SnapshotFile(
        "scgs_v1",
        "gene_sets/scgs_v1.tsv",
        "gene_sets/scgs_v1.tsv",
        "SYSCILIA gold standard v1",
        "van Dam et al. 2013",
        "https://doi.org/10.1186/2046-2530-2-7",
        "cite van Dam et al., Cilia 2013",
        "byte copy",
    ),
    SnapshotFile(
        "usher_genes",
        "gene_sets/usher_genes_hpo_2025-01-16.tsv",
        "gene_sets/usher_genes_hpo_2025-01-16.tsv",
        "Usher syndrome genes (HPO disease annotations)",
        "HPO 2025-01-16",
        "https://github.com/obophenotype/human-phenotype-ontology/releases",
        "HPO license: free with citation",
        "byte copy",
    ),
    SnapshotFile(
        "housekeeping",
        "gene_sets/housekeeping_eisenberg2013.tsv",
        "gene_sets/housekeeping_eisenberg2013.tsv",
        "Human housekeeping genes",
        "Eisenberg & Levanon 2013",
        "https://doi.org/10.1016/j.tig.2013.05.010",
        "cite Eisenberg & Levanon, Trends Genet 2013",
        "byte copy",
    ),
    SnapshotFile(
        "ciliacarta_negative",
        "gene_sets/ciliacarta_negative_groupN.tsv",
        "gene_sets/ciliacarta_negative_groupN.tsv",
        "CiliaCarta non-cilia negatives (group N)",
        "van Dam et al. 2019",
        "https://doi.org/10.1371/journal.pone.0216705",
        "cite van Dam et al., PLoS One 2019",
        "byte copy",
    ),
    SnapshotFile(
        "string_network",
        "string_v12/string_v12_human_entrez_no_textmining.tsv.gz",
        "string/string_v12_human_entrez_no_textmining.tsv.gz",
        "STRING functional network, text-mining channel removed",
        "STRING v12.0 (Entrez mapping 2023-09-19)",
        "https://stringdb-downloads.org/download/protein.links.detailed.v12.0/9606.protein.links.detailed.v12.0.txt.gz",
        "CC BY 4.0; cite Szklarczyk et al., NAR 2023",
        "byte copy of the shared file (dmfind PPI table: combined score recomputed without text "
        "mining; edges with combined >= 700 plus each gene's top 3 edges with 400-699)",
    ),
    SnapshotFile(
        "ht_studies",
        "ciliogenics_2023/ht_studies.tsv.gz",
        "ciliary_studies/ht_studies.tsv.gz",
        "Ciliary high-throughput studies (CilioGenics Table S10)",
        "CilioGenics 2023",
        "https://doi.org/10.1093/nar/gkad1158",
        "cite Pir et al., NAR 2024 and each study",
        "byte copy of the shared file (first 7 columns of sheet Publication_List, PMID parsed)",
    ),
    SnapshotFile(
        "ht_study_genes",
        "ciliogenics_2023/ht_study_genes.txt.gz",
        "ciliary_studies/ht_study_genes.txt.gz",
        "Genes reported by ciliary high-throughput studies (CilioGenics compendium)",
        "CilioGenics analysis 2023-11 (thekaplanlab/CilioGenics_Analysis 2566ad6)",
        "https://github.com/thekaplanlab/CilioGenics_Analysis/blob/main/files/publications.txt",
        "facts from publications; cite Pir et al., NAR 2024 and each study",
        "byte copy of the shared file",
    ),
    SnapshotFile(
        "retina_scrna_markers",
        "ciliogenics_2023/retina_scrna_markers.csv.gz",
        "retina_scrna/retina_scrna_markers.csv.gz",
        "Human retina single-cell RNA-seq cell-type markers (Seurat FindAllMarkers)",
        "CilioGenics analysis 2023",
        "https://github.com/thekaplanlab/CilioGenics_Analysis/blob/main/csv_files/retina_all_marker.csv",
        "cite Pir et al., NAR 2024 and the retina atlas",
        "byte copy of the shared file",
    ),
    SnapshotFile(
        "nevers_phylogeny",
        "nevers_2017/nevers_et_al_2017_matrix_optimized.json.gz",
        "phylogeny/nevers_et_al_2017_matrix_optimized.json.gz",
        "Phylogenetic profiles of human genes across 100 eukaryotes (Nevers et al. 2017)",
        "Nevers et al., MBE 2017 (JSON of 2025-10-19)",
        "https://doi.org/10.1093/molbev/msx146",
        "cite Nevers et al., Mol Biol Evol 2017",
        "byte copy of the shared file (theCiliaHub JSON of the paper's supplement)",
    ),
    SnapshotFile(
        "reactome_gmt",
        "reactome_2021/ReactomePathways.gmt.gz",
        "reactome/ReactomePathways.gmt.gz",
        "Reactome pathways (GMT, gene symbols)",
        "Reactome 2021",
        "https://reactome.org/download/current/ReactomePathways.gmt.zip",
        "CC BY 4.0; cite Gillespie et al., NAR 2022",
        "byte copy of the shared file",
    ),
    SnapshotFile(
        "hpa_v25_cilia",
        "hpa_v25_cilia/ciliary_proteins_hpa_v25.1.csv.gz",
        "hpa/ciliary_proteins_hpa_v25.1.csv.gz",
        "Human Protein Atlas cilia atlas: cilium / basal body / transition zone / centrosome "
        "locations (incl. the 2025 primary-cilium atlas)",
        "HPA v25.1",
        "https://www.proteinatlas.org/download/tsv/subcellular_location.tsv.zip",
        "CC BY-SA 4.0; cite the Human Protein Atlas (proteinatlas.org) and Hansen et al., Cell 2025",
        "byte copy of the shared file (ciliary_proteins_hpa.csv of munch-group/primary-cilia-"
        "proteome ce5b0d7: the HPA v25.1 genes with a cilium or centrosome location)",
    ),
    SnapshotFile(
        "scheffer_cpm",
        "scheffer_2015/gse60019_hair_cell_cpm.tsv.gz",
        "inner_ear/gse60019_hair_cell_cpm.tsv.gz",
        "Mouse inner-ear hair cells vs surrounding cells, RNA-seq (Scheffer et al. 2015, "
        "GEO GSE60019): quantile-normalised CPM",
        "GSE60019 (Scheffer et al. 2015; Gemma curation)",
        "https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE60019",
        "GEO public data; cite Scheffer et al., J Neurosci 2015",
        "byte copy of the shared file (Gemma-curated matrix, values unchanged; all 14,479 mouse "
        "genes kept so a live MGI ortholog file can map any of them)",
    ),
    SnapshotFile(
        "scheffer_design",
        "scheffer_2015/gse60019_design.tsv",
        "inner_ear/gse60019_design.tsv",
        "GSE60019 sample design (organ, cell type, age, batch)",
        "GSE60019 (Scheffer et al. 2015; Gemma curation)",
        "https://www.ncbi.nlm.nih.gov/geo/query/acc.cgi?acc=GSE60019",
        "GEO public data; cite Scheffer et al., J Neurosci 2015",
        "byte copy of the shared file",
    ),
)

SNAPSHOT_KEYS = tuple(f.key for f in SNAPSHOT_FILES)


def _read_shared_sums(shared_data: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    sums_file = shared_data / "SHA256SUMS"
    if not sums_file.exists():
        raise SnapshotError(f"{sums_file}: missing; cannot verify the shared release files")
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.removeprefix("./")] = digest
    return sums


def write_deterministic(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` (gzip level 9 with mtime 0 if it ends in .gz) via a temporary
    name, so the same data always gives the same bytes."""
    tmp = dest.with_name(dest.name + ".tmp")
    if dest.name.endswith(".gz"):
        with (
            open(tmp, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
        ):
            gz.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(dest)


def _write_filtered(src: Path, dest: Path, line_filter: LineFilter) -> None:
    opener = gzip.open if src.name.endswith(".gz") else open
    with opener(src, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
        lines = fh.readlines()
    write_deterministic(dest, "".join(line_filter(lines)).encode("utf-8"))


def build_snapshot(shared_data: str | Path, out_dir: str | Path) -> dict:
    """Build the snapshot folder from the shared release files; return the manifest written."""
    shared = Path(shared_data)
    out = Path(out_dir)
    sums = _read_shared_sums(shared)
    entries = []
    for f in SNAPSHOT_FILES:
        src = shared / f.shared_path
        if not src.exists():
            raise SnapshotError(f"{src}: shared release file missing (needed for '{f.key}')")
        src_sha = sha256_file(src)
        if sums.get(f.shared_path) != src_sha:
            raise SnapshotError(f"{src}: sha256 {src_sha} does not match shared/data/SHA256SUMS")
        dest = out / f.snapshot_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        if f.line_filter is None:
            tmp = dest.with_name(dest.name + ".tmp")
            tmp.write_bytes(src.read_bytes())
            tmp.replace(dest)
        else:
            _write_filtered(src, dest, f.line_filter)
        entries.append(
            {
                "key": f.key,
                "path": f.snapshot_path,
                "source": f.source,
                "release": f.release,
                "upstream_url": f.upstream_url,
                "license": f.license,
                "how": f.how,
                "sha256": sha256_file(dest),
                "size": dest.stat().st_size,
                "derived_from": {"path": f"shared/data/{f.shared_path}", "sha256": src_sha},
            }
        )
    manifest = {"format": MANIFEST_FORMAT, "files": entries}
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def load_manifest(snapshot_dir: str | Path) -> dict:
    """Read the manifest, raising SnapshotError if absent or malformed."""
    path = Path(snapshot_dir) / MANIFEST_NAME
    if not path.exists():
        raise SnapshotError(
            f"{path}: snapshot manifest missing; rebuild with "
            "`python scripts/build_snapshot.py --shared ../shared/data`"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{path}: not valid JSON ({exc})") from exc
    if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("files"), list):
        raise SnapshotError(f"{path}: unknown manifest format")
    return manifest


def verify_snapshot(snapshot_dir: str | Path, keys: Iterable[str] | None = None) -> list[dict]:
    """Check every (or the named) snapshot file exists with the manifest's sha256 and size.

    Returns the verified manifest entries; raises SnapshotError naming every bad file.
    """
    root = Path(snapshot_dir)
    manifest = load_manifest(root)
    by_key = {e["key"]: e for e in manifest["files"]}
    wanted = list(keys) if keys is not None else list(by_key)
    problems = []
    verified = []
    for key in wanted:
        entry = by_key.get(key)
        if entry is None:
            problems.append(f"'{key}': not listed in {root / MANIFEST_NAME}")
            continue
        path = root / entry["path"]
        if not path.exists():
            problems.append(f"{path}: missing (snapshot file '{key}')")
            continue
        if path.stat().st_size != entry["size"] or sha256_file(path) != entry["sha256"]:
            problems.append(f"{path}: altered (sha256 differs from the manifest, file '{key}')")
            continue
        verified.append(entry)
    if problems:
        raise SnapshotError("snapshot verification failed:\n  " + "\n  ".join(problems))
    return verified


def check_snapshot_hashes(snapshot_dir: str | Path, paths: Iterable[str | Path]) -> list[str]:
    """Hash the files among ``paths`` that the snapshot manifest lists and compare with it.

    Paths outside ``snapshot_dir`` (or not in its manifest) are ignored and not read. Returns the
    manifest keys checked; raises SnapshotError naming every missing or altered file. Does
    nothing when the folder has no manifest (e.g. a live-mode cache).
    """
    root = Path(snapshot_dir).resolve()
    if not (root / MANIFEST_NAME).is_file():
        return []
    by_path = {(root / e["path"]).resolve(): e for e in load_manifest(root)["files"]}
    checked, problems = [], []
    for path in paths:
        entry = by_path.get(Path(path).resolve())
        if entry is None:
            continue
        checked.append(entry["key"])
        if not Path(path).is_file():
            problems.append(f"{path}: missing (snapshot file '{entry['key']}')")
            continue
        sha = sha256_file(path)
        if sha != entry["sha256"]:
            problems.append(
                f"{path}: altered since the snapshot was built (sha256 {sha[:16]}, manifest "
                f"{entry['sha256'][:16]}, file '{entry['key']}'); restore it "
                f"(e.g. `git checkout -- {path}`) or rebuild the snapshot"
            )
    if problems:
        raise SnapshotError("snapshot file check failed:\n  " + "\n  ".join(problems))
    return sorted(checked)


def snapshot_entry(snapshot_dir: str | Path, key: str) -> dict:
    """The manifest entry of one snapshot file."""
    for entry in load_manifest(snapshot_dir)["files"]:
        if entry["key"] == key:
            return entry
    raise SnapshotError(f"'{key}': not listed in {Path(snapshot_dir) / MANIFEST_NAME}")


def restore_hint(snapshot_dir: str | Path, path: str | Path) -> str:
    """How to get one snapshot file back: ``git checkout`` when the file is in a git checkout,
    else rebuilding the snapshot from the shared release files."""
    rebuild = "usher-pipeline build-snapshot --shared ../shared/data --out " + str(snapshot_dir)
    if any((parent / ".git").exists() for parent in Path(snapshot_dir).resolve().parents):
        return f"restore it with `git checkout -- {path}` (or rebuild: `{rebuild}`)"
    return f"restore it by rebuilding the snapshot: `{rebuild}`"


def check_snapshot_at_start(snapshot_dir: str | Path) -> int:
    """Hash every file of the snapshot manifest (about 25 MB, a fraction of a second) before any
    job of a run is planned, so an altered file stops even a run with nothing else to do.

    Returns the number of files checked (0 when the folder has no manifest, e.g. a live-mode
    setup without a snapshot). Raises SnapshotError with one line per missing or altered file,
    naming it and how to restore it. Size and mtime are never trusted: every file is read."""
    root = Path(snapshot_dir)
    if not (root / MANIFEST_NAME).is_file():
        return 0
    entries = load_manifest(root)["files"]
    problems = []
    for entry in entries:
        path = root / entry["path"]
        if not path.is_file():
            problems.append(
                f"snapshot file {path} ('{entry['key']}') is missing; " + restore_hint(root, path)
            )
            continue
        sha = sha256_file(path)
        if sha != entry["sha256"]:
            problems.append(
                f"snapshot file {path} ('{entry['key']}') was altered: sha256 {sha[:16]}, "
                f"manifest {entry['sha256'][:16]}; " + restore_hint(root, path)
            )
    if problems:
        raise SnapshotError("\n".join(problems))
    return len(entries)
