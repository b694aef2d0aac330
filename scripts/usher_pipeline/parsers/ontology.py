"""Ontologies (GO, HPO, MP): a term table and child→parent edges, read from OBO or from GO.db TSVs.

Descendant sets are found by walking the graph over ``is_a`` and ``part_of`` edges (``regulates``
edges are not followed: a regulator of cilium assembly is not located in the cilium).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..errors import SourceFormatError
from .common import read_text, read_tsv

DEFAULT_RELATIONS = frozenset({"is_a", "part_of"})
_EDGE_NAMES = {"isa": "is_a", "is_a": "is_a", "part of": "part_of", "part_of": "part_of"}


@dataclass
class Ontology:
    """Terms (id → name, namespace, obsolete), child→parent edges and id redirects."""

    name: str
    version: str | None
    terms: dict[str, dict] = field(default_factory=dict)
    children: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    redirects: dict[str, str] = field(default_factory=dict)  # alt_id / replaced_by → current id

    def add_edge(self, child: str, parent: str, relation: str) -> None:
        self.children[parent].append((child, relation))

    def resolve(self, term_id: str) -> str | None:
        """Current id of a term (following alt_id / replaced_by), None if unknown or obsolete."""
        seen = set()
        while term_id in self.redirects and term_id not in seen:
            seen.add(term_id)
            term_id = self.redirects[term_id]
        term = self.terms.get(term_id)
        if term is None or term.get("obsolete"):
            return None
        return term_id

    def resolve_column(self, df: pl.DataFrame, column: str) -> tuple[pl.DataFrame, int]:
        """Replace the term IDs in ``column`` by their current IDs (``resolve``); drop rows whose
        term is obsolete or unknown. Returns the resolved rows and the number dropped."""
        ids = df[column].unique().to_list()
        mapping = pl.DataFrame(
            {column: ids, "_current": [self.resolve(i) for i in ids]},
            schema={column: pl.String, "_current": pl.String},
        )
        joined = df.join(mapping, on=column, how="left")
        dropped = int(joined["_current"].is_null().sum())
        resolved = (
            joined.filter(pl.col("_current").is_not_null())
            .with_columns(pl.col("_current").alias(column))
            .drop("_current")
        )
        return resolved, dropped

    def descendants(
        self, root: str, relations: Iterable[str] = DEFAULT_RELATIONS, include_self: bool = True
    ) -> set[str]:
        """All terms below ``root`` over the given relations."""
        if root not in self.terms:
            raise KeyError(f"{self.name}: term {root} is not in this ontology release")
        rels = frozenset(relations)
        out = {root} if include_self else set()
        queue = deque([root])
        while queue:
            node = queue.popleft()
            for child, rel in self.children.get(node, ()):
                if rel in rels and child not in out:
                    out.add(child)
                    queue.append(child)
        return out

    def term_table(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "term_id": list(self.terms),
                "name": [t.get("name") for t in self.terms.values()],
                "namespace": [t.get("namespace") for t in self.terms.values()],
                "obsolete": [bool(t.get("obsolete")) for t in self.terms.values()],
            }
        )


def read_go_tsv(terms_path: str | Path, edges_path: str | Path, source: str = "go") -> Ontology:
    """GO from the GO.db extraction (go_terms.tsv: go_id, name, namespace; go_edges.tsv)."""
    terms = read_tsv(terms_path, source, ["go_id", "name", "namespace"])
    edges = read_tsv(edges_path, source, ["child", "parent", "relationship"])
    onto = Ontology("GO", None)
    for go_id, name, ns in terms.select("go_id", "name", "namespace").iter_rows():
        onto.terms[go_id] = {"name": name, "namespace": ns, "obsolete": False}
    unknown_rel = set(edges["relationship"].unique()) - set(_EDGE_NAMES) - {"regulates",
        "positively regulates", "negatively regulates", "has part", "occurs in",
        "ends during", "happens during"}  # fmt: skip
    if unknown_rel:
        raise SourceFormatError(
            source, str(edges_path), f"unknown edge types {sorted(unknown_rel)}"
        )
    for child, parent, rel in edges.select("child", "parent", "relationship").iter_rows():
        onto.add_edge(child, parent, _EDGE_NAMES.get(rel, rel.replace(" ", "_")))
    return onto


_NAMESPACE_SHORT = {
    "biological_process": "BP",
    "cellular_component": "CC",
    "molecular_function": "MF",
}


def read_obo(path: str | Path, source: str) -> Ontology:
    """Parse an OBO 1.2 file ([Term] stanzas: id, name, namespace, is_a, relationship, alt_id,
    is_obsolete, replaced_by). ``data-version`` becomes the ontology version."""
    text = read_text(path, source)
    if not text.startswith("format-version:"):
        raise SourceFormatError(source, str(path), "not an OBO file (no format-version header)")
    onto = Ontology(source, None)
    current: dict | None = None
    in_term = False
    n_terms = 0

    def flush(term: dict | None) -> None:
        if term is None or "id" not in term:
            return
        tid = term["id"]
        onto.terms[tid] = {
            "name": term.get("name"),
            "namespace": _NAMESPACE_SHORT.get(term.get("namespace", ""), term.get("namespace")),
            "obsolete": term.get("obsolete", False),
        }
        for alt in term.get("alt_ids", []):
            onto.redirects[alt] = tid
        if term.get("replaced_by"):
            onto.redirects[tid] = term["replaced_by"]
        for parent, rel in term.get("parents", []):
            onto.add_edge(tid, parent, rel)

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            if in_term:
                flush(current)
                n_terms += 1
            in_term = line == "[Term]"
            current = {"parents": [], "alt_ids": []} if in_term else None
            continue
        if not line or line.startswith("!"):
            continue
        key, _, value = line.partition(":")
        value = value.split(" ! ")[0].strip()
        if current is None:
            if key == "data-version":
                onto.version = value
            continue
        if key == "id":
            current["id"] = value
        elif key == "name":
            current["name"] = value
        elif key == "namespace":
            current["namespace"] = value
        elif key == "is_a":
            current["parents"].append((value.split()[0], "is_a"))
        elif key == "relationship":
            parts = value.split()
            if len(parts) >= 2:
                current["parents"].append((parts[1], parts[0]))
        elif key == "alt_id":
            current["alt_ids"].append(value)
        elif key == "is_obsolete":
            current["obsolete"] = value == "true"
        elif key == "replaced_by":
            current["replaced_by"] = value.split()[0]
    if in_term:
        flush(current)
        n_terms += 1
    if n_terms == 0:
        raise SourceFormatError(source, str(path), "no [Term] stanzas: truncated or wrong file")
    return onto


def read_go(source_paths: dict[str, Path], source: str = "go") -> Ontology:
    """GO from whichever form is present: ``go_obo`` (live) or ``go_terms`` + ``go_edges`` (snapshot)."""
    if source_paths.get("go_obo"):
        return read_obo(source_paths["go_obo"], source)
    return read_go_tsv(source_paths["go_terms"], source_paths["go_edges"], source)
