"""Registry of live sources: default URL, expected layout and fetcher version per source key.

The URL of every source can be overridden with ``live.sources.<key>.url`` (tests point them at a
loopback server; users at a mirror). ``live.sources.<key>.release`` is the release label used as
the cache key: with an unchanged label a rerun is served from the fetch cache with zero requests;
set a new label (e.g. the date) to pull the source again.

``fetcher_version`` is part of the cache key too: bump it when the way a source is downloaded or
validated changes, so old cached downloads are not reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .settings import GNOMAD_REQUIRED, live_config

Layout = Literal["tsv", "ssv", "gct", "obo", "signature"]

NCBI_FTP = "https://ftp.ncbi.nlm.nih.gov"
EUTILS_BASE = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
UNIPROT_BASE = "https://rest.uniprot.org"
STRING_DOWNLOADS = "https://stringdb-downloads.org/download"
UNIPROT_QUERY = "organism_id:9606 AND reviewed:true"
UNIPROT_FIELDS = "accession,gene_names,length,ft_coiled,ft_transmem,xref_pfam,xref_interpro"
DEFAULT_MANE_RELEASE = "1.4"
# One Snakemake resource per upstream provider whose limits span jobs: every live rule that calls
# it declares the resource and the profiles set its total to 1 (NCBI: E-utilities and the FTP
# site; UniProt REST).
API_RESOURCES = ("ncbi_api", "uniprot_api")


@dataclass(frozen=True)
class SourceSpec:
    """One whole-file live source."""

    key: str
    default_url: str
    layout: Layout
    description: str
    required_columns: tuple[str, ...] = ()
    signature: str | None = None  # regex one of the first ``signature_lines`` lines must match
    signature_lines: int = 5
    compression: Literal["gzip", "zip", "none", "any"] = "any"
    fetcher_version: str = "1"
    shared_with_snapshot: bool = True
    # Rough typical size of the download (MB), for the dry-run cost estimate only.
    approx_mb: float | None = None
    # Snakemake resource of the upstream API this source is fetched from (API_RESOURCES), if any.
    api: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _mane_url(release: str) -> str:
    return (
        f"{NCBI_FTP}/refseq/MANE/MANE_human/release_{release}/MANE.GRCh38.v{release}.summary.txt.gz"
    )


SOURCES: dict[str, SourceSpec] = {
    s.key: s
    for s in [
        SourceSpec(
            "gene_info",
            f"{NCBI_FTP}/gene/DATA/GENE_INFO/Mammalia/Homo_sapiens.gene_info.gz",
            "tsv",
            "NCBI Gene records of human genes",
            ("tax_id", "GeneID", "Symbol", "Synonyms", "dbXrefs", "type_of_gene"),
            compression="gzip",
            api="ncbi_api",
            approx_mb=10,
        ),
        SourceSpec(
            "gene2go",
            f"{NCBI_FTP}/gene/DATA/gene2go.gz",
            "tsv",
            "NCBI gene2go (all species; parsers keep tax_id 9606)",
            ("tax_id", "GeneID", "GO_ID", "Evidence", "Qualifier", "Category"),
            compression="gzip",
            api="ncbi_api",
            approx_mb=1100,
        ),
        SourceSpec(
            "gene2pubmed",
            f"{NCBI_FTP}/gene/DATA/gene2pubmed.gz",
            "tsv",
            "NCBI gene2pubmed (all species)",
            ("tax_id", "GeneID", "PubMed_ID"),
            compression="gzip",
            api="ncbi_api",
            approx_mb=250,
        ),
        SourceSpec(
            "gene2ensembl",
            f"{NCBI_FTP}/gene/DATA/gene2ensembl.gz",
            "tsv",
            "NCBI gene2ensembl (all species)",
            ("tax_id", "GeneID", "Ensembl_gene_identifier"),
            compression="gzip",
            api="ncbi_api",
            approx_mb=350,
        ),
        SourceSpec(
            "go_obo",
            "https://purl.obolibrary.org/obo/go/go-basic.obo",
            "obo",
            "Gene Ontology, basic edition",
            signature=r"^format-version:\s*\d",
            signature_lines=1,
            approx_mb=30,
        ),
        SourceSpec(
            "hpo_obo",
            "https://purl.obolibrary.org/obo/hp.obo",
            "obo",
            "Human Phenotype Ontology",
            signature=r"^format-version:\s*\d",
            signature_lines=1,
            approx_mb=10,
        ),
        SourceSpec(
            "hpo_g2p",
            "https://github.com/obophenotype/human-phenotype-ontology/releases/latest/download/"
            "genes_to_phenotype.txt",
            "tsv",
            "HPO gene to phenotype annotations",
            ("ncbi_gene_id", "gene_symbol", "hpo_id", "disease_id"),
            approx_mb=20,
        ),
        SourceSpec(
            "hpo_hpoa",
            "https://github.com/obophenotype/human-phenotype-ontology/releases/latest/download/"
            "phenotype.hpoa",
            "tsv",
            "HPO disease annotations",
            ("database_id", "disease_name", "qualifier", "hpo_id", "aspect"),
            approx_mb=30,
        ),
        SourceSpec(
            "mgi_hmd",
            "https://www.informatics.jax.org/downloads/reports/HMD_HumanPhenotype.rpt",
            "signature",
            "MGI human-mouse orthologs with mouse top-level MP terms (no header)",
            signature=r"^[^\t]+\t\d+\t[^\t]+\tMGI:\d+\t",
            approx_mb=3,
        ),
        SourceSpec(
            "mgi_mp",
            "https://www.informatics.jax.org/downloads/reports/VOC_MammalianPhenotype.rpt",
            "signature",
            "MGI Mammalian Phenotype vocabulary (no header)",
            signature=r"^MP:\d{7}\t[^\t]+",
            approx_mb=3,
        ),
        SourceSpec(
            "hpa_subcellular",
            "https://www.proteinatlas.org/download/tsv/subcellular_location.tsv.zip",
            "tsv",
            "Human Protein Atlas subcellular locations (current releases have cilia categories)",
            ("Gene", "Gene name", "Reliability", "GO id"),
            compression="zip",
            approx_mb=1,
        ),
        SourceSpec(
            "string_links",
            f"{STRING_DOWNLOADS}/protein.links.detailed.v12.0/9606.protein.links.detailed.v12.0.txt.gz",
            "ssv",
            "STRING human protein links, detailed channel scores (text mining dropped when the "
            "network is built; live.string_pruning)",
            (
                "protein1",
                "protein2",
                "neighborhood",
                "fusion",
                "cooccurence",
                "coexpression",
                "experimental",
                "database",
            ),
            compression="gzip",
            approx_mb=130,
        ),
        SourceSpec(
            "string_info",
            f"{STRING_DOWNLOADS}/protein.info.v12.0/9606.protein.info.v12.0.txt.gz",
            "tsv",
            "STRING human protein info (preferred name: protein -> gene mapping)",
            ("string_protein_id", "preferred_name"),
            compression="gzip",
            approx_mb=2,
        ),
        SourceSpec(
            "reactome_gmt",
            "https://reactome.org/download/current/ReactomePathways.gmt.zip",
            "signature",
            "Reactome pathways, gene symbols (GMT: name, stable ID, genes)",
            signature=r"^[^\t]+\tR-[A-Z]{3}-\d+\t",
            compression="zip",
            approx_mb=1,
        ),
        SourceSpec(
            "mane",
            _mane_url(DEFAULT_MANE_RELEASE),
            "tsv",
            "MANE Select / Plus Clinical summary (release: live.sources.mane.release)",
            ("NCBI_GeneID", "Ensembl_Gene", "HGNC_ID", "symbol", "Ensembl_nuc", "MANE_status"),
            compression="gzip",
            api="ncbi_api",
            approx_mb=2,
        ),
        SourceSpec(
            "hgnc",
            "https://storage.googleapis.com/public-download-files/hgnc/tsv/tsv/hgnc_complete_set.txt",
            "tsv",
            "HGNC complete set",
            ("hgnc_id", "symbol", "locus_group", "entrez_id", "ensembl_gene_id", "uniprot_ids"),
            approx_mb=15,
        ),
        SourceSpec(
            "hpa_rna_tissue",
            "https://www.proteinatlas.org/download/tsv/rna_tissue_consensus.tsv.zip",
            "tsv",
            "HPA consensus tissue RNA (nTPM; includes retina)",
            ("Gene", "Gene name", "Tissue", "nTPM"),
            compression="zip",
            shared_with_snapshot=False,
            approx_mb=5,
        ),
        SourceSpec(
            "gtex_median",
            "https://storage.googleapis.com/adult-gtex/bulk-gex/v8/rna-seq/"
            "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_median_tpm.gct.gz",
            "gct",
            "GTEx v8 median gene TPM per tissue",
            ("Name", "Description"),
            compression="gzip",
            shared_with_snapshot=False,
            approx_mb=7,
        ),
        SourceSpec(
            "gnomad_constraint",
            "https://storage.googleapis.com/gcp-public-data--gnomad/release/4.1/constraint/"
            "gnomad.v4.1.constraint_metrics.tsv",
            "tsv",
            "gnomAD v4.1 gene constraint (per transcript)",
            GNOMAD_REQUIRED,
            shared_with_snapshot=False,
            approx_mb=100,
        ),
    ]
}


def source_settings(key: str, config: Mapping[str, Any]) -> dict[str, Any]:
    return dict((live_config(config).get("sources") or {}).get(key) or {})


def get_spec(key: str) -> SourceSpec:
    try:
        return SOURCES[key]
    except KeyError:
        raise KeyError(
            f"unknown live source {key!r}; known: {', '.join(sorted(SOURCES))}"
        ) from None


def source_url(key: str, config: Mapping[str, Any]) -> str:
    """The URL to fetch for ``key``: ``live.sources.<key>.url`` if set, else the official URL."""
    spec = get_spec(key)
    settings = source_settings(key, config)
    if settings.get("url"):
        return str(settings["url"])
    if key == "mane" and settings.get("release"):
        return _mane_url(str(settings["release"]))
    return spec.default_url


def source_release(key: str, config: Mapping[str, Any]) -> str:
    """The release label (cache key) of ``key``; ``current`` unless configured."""
    settings = source_settings(key, config)
    return str(
        settings.get("release") or ("v" + DEFAULT_MANE_RELEASE if key == "mane" else "current")
    )


def eutils_base(config: Mapping[str, Any]) -> str:
    return str(live_config(config).get("eutils_base") or EUTILS_BASE).rstrip("/")


def uniprot_base(config: Mapping[str, Any]) -> str:
    return str(live_config(config).get("uniprot_base") or UNIPROT_BASE).rstrip("/")
