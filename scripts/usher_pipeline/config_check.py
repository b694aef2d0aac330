"""Checks of the configuration's meaning, run by the Snakefile right after schema validation and
before any job: what the JSON Schema cannot say (tier order, a usable weight, where results go,
a readable gene subset file). Every problem names the key and, when the key is written in a
config file, that file and line; all problems are reported at once."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

TIER_KEYS = (("scoring", "tiers"), ("scoring", "learned", "tiers"))


def load_yaml(path: str | Path) -> Any:
    """A YAML file's data, with libyaml's safe loader when PyYAML has it (the same data as
    ``yaml.safe_load``, several times faster; the Snakefile reads the schema on every run)."""
    text = Path(path).read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def key_location(config_files: Sequence[str | Path], key: Sequence[str]) -> str | None:
    """``file:line`` of a dotted key in the last config file that sets it (None if none does)."""
    found = None
    for path in config_files:
        try:
            node = yaml.compose(Path(path).read_text(encoding="utf-8-sig"))
        except (OSError, yaml.YAMLError):
            continue
        for i, part in enumerate(key):
            if not isinstance(node, yaml.MappingNode):
                node = None
                break
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                node = None
                break
            knode, node = match[0]
            if i == len(key) - 1:
                found = f"{path}:{knode.start_mark.line + 1}"
    return found


def _get(config: Mapping[str, Any], key: Sequence[str]) -> Any:
    node: Any = config
    for part in key:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def check_tiers(config: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """HIGH must not be easier to reach than MEDIUM (score and evidence) in every tier table."""
    problems = []
    for key in TIER_KEYS:
        tiers = _get(config, key)
        if not isinstance(tiers, Mapping) or "HIGH" not in tiers or "MEDIUM" not in tiers:
            continue
        for field in ("min_score", "min_evidence"):
            high, med = tiers["HIGH"].get(field), tiers["MEDIUM"].get(field)
            if high is not None and med is not None and high < med:
                problems.append(
                    (
                        (*key, "HIGH", field),
                        f"HIGH {field} ({high}) is below MEDIUM {field} ({med}); "
                        "HIGH must be at least as strict as MEDIUM",
                    )
                )
    return problems


def check_weights(config: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    weights = _get(config, ("scoring", "weights")) or {}
    if not any(float(w) > 0 for w in weights.values()):
        return [
            (
                ("scoring", "weights"),
                "no layer has a positive weight (every score would be the prior); "
                "give at least one layer a weight above 0",
            )
        ]
    return []


def check_results_dir(
    config: Mapping[str, Any], project_dir: str | Path, cwd: str | Path
) -> list[tuple[tuple[str, ...], str]]:
    """results_dir is non-empty, not the project folder itself and, unless
    ``allow_results_outside_project`` is true, inside the project."""
    raw = config.get("results_dir")
    if raw is None or not str(raw).strip():
        return [(("results_dir",), "is empty; set a folder such as 'results'")]
    project = Path(project_dir).resolve()
    target = (Path(cwd) / str(raw)).resolve()
    if target == project:
        return [
            (
                ("results_dir",),
                f"'{raw}' is the project folder itself ({project}); use a subfolder "
                "such as 'results'",
            )
        ]
    if config.get("allow_results_outside_project"):
        return []
    if not target.is_relative_to(project):
        return [
            (
                ("results_dir",),
                f"'{raw}' resolves to {target}, outside the project ({project}); "
                "set allow_results_outside_project: true to write there on purpose",
            )
        ]
    return []


def read_gene_subset(path: str | Path, key: str = "gene_subset") -> list[tuple[int, str]]:
    """The entries of a gene list file (``gene_subset`` or a known-gene / control list) as
    ``(line number, entry)``: one identifier per line, blank lines and ``#`` comments skipped,
    UTF-8 (a byte-order mark is tolerated).

    Raises ConfigError naming ``key`` and the file (and line) when it is missing, unreadable, not
    UTF-8 or lists no gene.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{key}: file {p} does not exist")
    if not p.is_file():
        raise ConfigError(f"{key}: {p} is not a file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {p} ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{key}: {p} line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from exc
    entries = []
    for n, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append((n, entry))
    if not entries:
        raise ConfigError(f"{key}: {p} lists no gene (empty or only comments)")
    return entries


def _gene_list_problem(key: tuple[str, ...], path: Path) -> list[tuple[tuple[str, ...], str]]:
    dotted = ".".join(key)
    try:
        read_gene_subset(path, dotted)
    except ConfigError as exc:
        return [(key, str(exc).removeprefix(f"{dotted}: "))]
    return []


def check_gene_subset(
    config: Mapping[str, Any], cwd: str | Path
) -> list[tuple[tuple[str, ...], str]]:
    path = config.get("gene_subset")
    if not path:
        return []
    return _gene_list_problem(("gene_subset",), Path(cwd) / path)


def check_gene_list_files(
    config: Mapping[str, Any], cwd: str | Path
) -> list[tuple[tuple[str, ...], str]]:
    """Every ``known_genes`` / ``negative_controls`` entry that is not a snapshot manifest key is
    a user gene-list file: it must exist, be UTF-8 text and list at least one gene."""
    from .sources import gene_list_entries

    snap_dir = Path(cwd) / str(config.get("snapshot_dir") or "")
    try:
        entries = gene_list_entries(config, snap_dir)
    except (OSError, ValueError, KeyError):
        return []  # no readable manifest: the snapshot check reports that
    return [
        problem
        for entry in entries
        if entry.user_file
        for problem in _gene_list_problem((entry.section, entry.role), Path(cwd) / entry.value)
    ]


def _schema_node(schema: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    """``node`` with a local ``$ref`` followed (``#/definitions/...``)."""
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = schema
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node if isinstance(node, Mapping) else {}


def _schema_types(node: Mapping[str, Any]) -> set[str]:
    kinds = node.get("type", [])
    return {kinds} if isinstance(kinds, str) else set(kinds)


def _typed_value(value: Any, node: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    node = _schema_node(schema, node)
    if isinstance(value, Mapping):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        return {
            k: _typed_value(v, props.get(k, extra if isinstance(extra, Mapping) else {}), schema)
            for k, v in value.items()
        }
    if isinstance(value, list):
        items = node.get("items")
        return [_typed_value(v, items if isinstance(items, Mapping) else {}, schema) for v in value]
    kinds = _schema_types(node)
    if isinstance(value, str) and "null" in kinds and value in ("null", "Null", "NULL", "~"):
        return None
    if not isinstance(value, str) or not kinds or "string" in kinds:
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    wanted = {
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if any(wanted[k](parsed) for k in kinds if k in wanted):
        return parsed
    return value


def typed_overrides(overrides: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """``--config`` overrides with the types the schema asks for.

    Snakemake parses a ``--config key=VALUE`` whose VALUE is a YAML mapping with YAML's base
    loader, so every nested scalar is a string (``validation={gates: {min_cv_recall: 0.5}}``
    gives ``'0.5'``). Where the schema wants a number, integer, boolean or null and not a string,
    the string is read as YAML and kept when it has a wanted type; ``null`` is None wherever the
    schema allows null; anything else is left as it is, for the schema validation to report."""
    return _typed_value(dict(overrides), schema, schema)


def apply_overrides(
    config: dict[str, Any], overrides: Mapping[str, Any], schema_file: str | Path
) -> None:
    """Merge the typed ``overrides`` (Snakemake's overwrite config: ``--configfile`` files and
    ``--config`` entries) onto ``config`` in place, key by key, so sibling keys of a nested
    override keep their values from the config files."""
    if not overrides:
        return
    from snakemake.utils import update_config

    schema = load_yaml(schema_file)
    update_config(config, typed_overrides(overrides, schema))


def check_config(
    config: Mapping[str, Any],
    config_files: Iterable[str | Path] = (),
    project_dir: str | Path = ".",
    cwd: str | Path = ".",
    override_files: Iterable[str | Path] = (),
) -> None:
    """Raise ConfigError listing every meaning problem of ``config`` (schema-valid already).

    ``config_files`` are the workflow's config files and ``override_files`` the ``--configfile``
    ones, which win; a problem is located in the last file that sets its key."""
    overrides = [str(f) for f in override_files]
    resolved = {str(Path(cwd, f).resolve()) for f in overrides}
    files = [str(f) for f in config_files if str(Path(cwd, f).resolve()) not in resolved]
    files = list(dict.fromkeys([*files, *overrides]))
    problems = [
        *check_tiers(config),
        *check_weights(config),
        *check_results_dir(config, project_dir, cwd),
        *check_gene_subset(config, cwd),
        *check_gene_list_files(config, cwd),
    ]
    if not problems:
        return
    lines = []
    for key, message in problems:
        where = key_location(files, key)
        dotted = ".".join(key)
        lines.append(
            f"{dotted}: {message}" + (f" ({where})" if where else " (default or --config)")
        )
    raise ConfigError("configuration problem(s):\n  " + "\n  ".join(lines))


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_schema(
    config: Mapping[str, Any],
    schema_file: str | Path,
    config_files: Iterable[str | Path] = (),
    cli_config: Mapping[str, Any] | None = None,
) -> None:
    """Raise ConfigError with one line per schema violation of ``config``: an unknown key names
    the key, the config file and line that sets it (or ``--config``) and the closest allowed key;
    an empty ``--config KEY=`` says so; other problems name the key, what is wrong and where.
    Run before Snakemake's own validation (which fills in defaults) instead of its schema dump.
    ``cli_config`` holds the ``--config`` entries (they win over every file)."""
    import difflib

    import jsonschema

    schema = load_yaml(schema_file)
    files = [str(f) for f in config_files]
    validator = jsonschema.validators.validator_for(schema)(schema)

    def where_set(key: Sequence[str]) -> str | None:
        node: Any = cli_config or {}
        for part in key:
            if not isinstance(node, Mapping) or part not in node:
                return key_location(files, key)
            node = node[part]
        return "--config"

    lines: list[str] = []
    for err in sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.path))):
        path = [str(p) for p in err.absolute_path]
        if err.validator == "required":
            # a missing key with a schema default is filled in by Snakemake's validation
            props = err.schema.get("properties") or {}
            missing = [k for k in err.validator_value if k not in (err.instance or {})]
            if all("default" in _schema_node(schema, props.get(k, {})) for k in missing):
                continue
        if err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
            allowed = sorted((err.schema.get("properties") or {}).keys())
            for key in sorted(k for k in err.instance if k not in allowed):
                dotted = ".".join([*path, str(key)])
                where = where_set([*path, str(key)])
                close = difflib.get_close_matches(str(key), allowed, 1)
                hint = (f"did you mean {'.'.join([*path, close[0]])}?" if close
                        else f"allowed here: {', '.join(allowed)}")  # fmt: skip
                lines.append(
                    f"unknown config key '{dotted}' "
                    + (f"in {where}" if where and where != "--config" else "(from --config)")
                    + f"; {hint}"
                )
            continue
        dotted = ".".join(path) or "(top level)"
        where = where_set(path) if path else None
        if err.instance is None and where == "--config":
            lines.append(
                f"--config {dotted}= gives {dotted} no value; write one, e.g. "
                f"--config {dotted}=VALUE (or leave {dotted} out to keep the config file's)"
            )
            continue
        where = "from --config" if where == "--config" else where
        lines.append(f"{dotted}: {_short(err.message)} ({where or 'default value'})")
    if lines:
        raise ConfigError("\n".join(dict.fromkeys(lines)))


def stop_before_jobs(exc: BaseException) -> None:
    """Print a start-up problem (bad config, altered snapshot) as plain lines, without a
    traceback or schema dump, and exit with status 1 before Snakemake plans any job."""
    import sys

    for line in str(exc).splitlines():
        if line.strip():
            print(f"usher-pipeline: {line.strip()}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def jobs_use_checkout_library(library: str | Path) -> None:
    """Put the checkout's ``scripts/`` first on PYTHONPATH, which every job inherits. Snakemake
    appends a rule script's folder to ``sys.path`` (after site-packages), so without this a
    non-editable install of the package would run in every job instead of the checkout."""
    lib = str(library)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if not parts or parts[0] != lib:
        os.environ["PYTHONPATH"] = os.pathsep.join([lib, *[p for p in parts if p != lib]])
