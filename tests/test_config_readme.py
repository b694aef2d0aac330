"""config/README.md documents every key of config/config.yaml (the Snakemake workflow catalog's
convention), so it stays current: a key added to the config without a line in the README fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from e2e_fixtures import REPO

CONFIG = REPO / "config" / "config.yaml"
README = REPO / "config" / "README.md"
# Maps whose keys are free-form data (host names, source keys, gene symbols, control set names),
# not named settings: the map itself must be documented, its keys need not be.
FREE_FORM = {
    "live.rate_limits",
    "live.sources",
    "live.pubmed_contexts",
    "known_genes.exclude_from_controls",
    "negative_controls",
}


def config_keys(node: Any, prefix: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """``(dotted key, item fields)`` of every named setting, recursively: a value that is not a
    mapping, an empty mapping or a FREE_FORM map (whose keys are not followed); a non-empty
    section is covered by its settings. For a list of mappings, the fields its items use."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        fields: tuple[str, ...] = ()
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            fields = tuple(dict.fromkeys(k for item in value for k in item))
        if isinstance(value, dict) and value and path not in FREE_FORM:
            yield from config_keys(value, path)
        else:
            yield path, fields


def undocumented(config: dict, readme: str) -> list[str]:
    """Keys (and list item fields) of ``config`` that ``readme`` does not mention in backticks;
    an item field must be named on a line that names its list."""
    missing = []
    lines = readme.splitlines()
    for path, fields in config_keys(config):
        if f"`{path}`" not in readme:
            missing.append(path)
            continue
        rows = [ln for ln in lines if f"`{path}`" in ln]
        missing += [f"{path}[].{f}" for f in fields if not any(f"`{f}`" in r for r in rows)]
    return missing


def test_every_config_key_is_documented_in_config_readme() -> None:
    # the check itself sees nested keys, list item fields and free-form maps
    cfg = {
        "a": {"b": 1, "c": [{"x": 1, "y": 2}], "d": {"e": 1}, "f": {}},
        "live": {"sources": {"k": 1}},
    }
    assert undocumented(cfg, "`a.b` `a.c` with `x`\n`a.f`\n") == [
        "a.c[].y",
        "a.d.e",
        "live.sources",
    ]
    config = yaml.safe_load(CONFIG.read_text())
    missing = undocumented(config, README.read_text(encoding="utf-8"))
    assert not missing, "config/README.md does not document: " + ", ".join(missing)
