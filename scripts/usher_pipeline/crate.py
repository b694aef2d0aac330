"""Provenance Run Crate (Workflow Run RO-Crate, profile "provenance-run-crate" 0.5, RO-Crate 1.1).

Written after each run to ``<results>/ro-crate-metadata.json`` (rule ``ro_crate``), from the state
database: the jobs behind the current outputs (for every recorded output that is on disk, the
newest successful run that recorded exactly its content) become one CreateAction each.

Entities (ids relative to the results folder, the crate root):

* ``workflow/Snakefile`` (a copy of the entry point): File + SoftwareSourceCode +
  ComputationalWorkflow + HowTo, the crate's mainEntity; ``hasPart`` the tools, ``step`` the
  HowToSteps, ``input`` / ``output`` its FormalParameters (config sections, final outputs);
* ``#rule-<name>``: one SoftwareApplication per rule (the tool), with FormalParameters for its
  input and output files and wildcards; ``#step-<name>``: HowToStep with ``workExample`` the tool;
* ``#job-<run_id>``: CreateAction per job (instrument the tool, object its input files and
  wildcard values, result its output files, start/end times); ``#control-<run_id>``:
  ControlAction (instrument the step, object the job);
* ``#workflow-run``: CreateAction of the whole run (instrument the workflow, object the config
  values as PropertyValues and the data sources, result the final outputs);
  ``#engine-run``: OrganizeAction (instrument the Snakemake SoftwareApplication ``#snakemake``);
* every output and its provenance sidecar as a File with ``sha256`` and ``contentSize``; input
  files outside the results folder (snapshot tables, live downloads) as contextual entities
  ``#input/<path>`` (type CreativeWork) with the same properties, since RO-Crate data entities
  must live inside the crate;
* ``#source/<name>/<release>``: every data source with its release (``version``) and ``url``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from usher_pipeline.persistence import PipelineStore
from usher_pipeline.persistence._common import atomic_write_text, sha256_dir, sha256_file

RO_CRATE_VERSION = "1.1"
RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
PROFILES = [
    ("https://w3id.org/ro/wfrun/process/0.5", "Process Run Crate", "0.5"),
    ("https://w3id.org/ro/wfrun/workflow/0.5", "Workflow Run Crate", "0.5"),
    ("https://w3id.org/ro/wfrun/provenance/0.5", "Provenance Run Crate", "0.5"),
    ("https://w3id.org/workflowhub/workflow-ro-crate/1.0", "Workflow RO-Crate", "1.0"),
]
CRATE_NAME = "ro-crate-metadata.json"
WORKFLOW_COPY = "workflow/Snakefile"
LICENSE = "https://spdx.org/licenses/MIT"
# The RO-Crate 1.1 context has no ``sha256`` term (1.2 added one, mapped to schema.org's); its
# ``schema`` prefix gives the same IRI, http://schema.org/sha256, as a compact IRI.
SHA256_TERM = "schema:sha256"


def _file_sha(path: str) -> str | None:
    try:
        return sha256_dir(path) if os.path.isdir(path) else sha256_file(path)
    except OSError:
        return None


def current_jobs(store: PipelineStore, *, exclude_rules: Sequence[str] = ()) -> list[dict]:
    """The jobs behind the outputs on disk: run rows with their input and output file rows.

    For every recorded output path that exists, the newest successful run that recorded its
    current sha256 is taken; a job is listed once, with all its recorded files.
    """
    runs = {
        r["run_id"]: r
        for r in store.execute_query(
            "SELECT run_id, rule, wildcards, started_at, ended_at, status, config_hash "
            "FROM _runs WHERE status = 'ok'"
        ).to_dicts()
        if r["rule"] not in exclude_rules
    }
    files = store.execute_query(
        "SELECT f.run_id, f.direction, f.path, f.kind, f.sha256, f.size, f.rows, "
        "f.sidecar_path, f.sidecar_sha256 FROM _run_files f JOIN _runs r USING (run_id) "
        "WHERE r.status = 'ok' ORDER BY r.ended_at DESC"
    ).to_dicts()
    chosen: set[str] = set()
    seen: set[str] = set()
    shas: dict[str, str | None] = {}
    for f in files:
        if f["direction"] != "output" or f["run_id"] not in runs or f["path"] in seen:
            continue
        if f["path"] not in shas:
            shas[f["path"]] = _file_sha(f["path"]) if os.path.exists(f["path"]) else None
        if shas[f["path"]] is not None and shas[f["path"]] == f["sha256"]:
            seen.add(f["path"])
            chosen.add(f["run_id"])
    prov = store.execute_query(
        "SELECT run_id, metadata_json FROM _provenance WHERE metadata_json IS NOT NULL"
    ).to_dicts()
    sources: dict[str, list[dict]] = {}
    for p in prov:
        if p["run_id"] in chosen and p["run_id"] not in sources:
            sources[p["run_id"]] = json.loads(p["metadata_json"]).get("sources") or []
    jobs = []
    for run_id in sorted(chosen, key=lambda r: (runs[r]["started_at"], r)):
        job = dict(runs[run_id])
        job["inputs"] = [f for f in files if f["run_id"] == run_id and f["direction"] == "input"]
        job["outputs"] = [f for f in files if f["run_id"] == run_id and f["direction"] == "output"]
        job["sources"] = sources.get(run_id, [])
        jobs.append(job)
    return jobs


def _rel_inside(path: str, root: Path) -> str | None:
    full = Path(os.path.normpath(Path(path).absolute()))
    try:
        rel = full.relative_to(Path(os.path.normpath(root.absolute())))
    except ValueError:
        return None
    return rel.as_posix()


def build_crate(
    store: PipelineStore,
    config: Mapping[str, Any],
    results_dir: str | os.PathLike[str],
    snakefile: str | os.PathLike[str],
    *,
    final_outputs: Iterable[str] = (),
    engine_version: str | None = None,
    exclude_rules: Sequence[str] = ("ro_crate",),
    out_path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Build the crate (copying the Snakefile to ``<results>/workflow/Snakefile``) and write it
    atomically to ``out_path`` (default ``<results>/ro-crate-metadata.json``); return the JSON."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    from usher_pipeline import __version__
    from usher_pipeline.persistence.provenance import git_commit

    root = Path(results_dir)
    jobs = current_jobs(store, exclude_rules=exclude_rules)
    if not jobs:
        raise RuntimeError(f"no successful job with outputs on disk is recorded in {store.db_path}")
    start = min(j["started_at"] for j in jobs)
    end = max(j["ended_at"] for j in jobs)

    crate = ROCrate(version=RO_CRATE_VERSION, gen_preview=False)

    def add(ident: str, props: dict[str, Any]):
        ent = crate.dereference(ident)
        if ent is None:
            ent = crate.add(ContextEntity(crate, ident, properties=props))
        return ent

    # --- root and profiles
    crate.name = "usher-pipeline run: ranked cilia / Usher syndrome candidate genes"
    crate.description = (
        "Provenance of the current outputs of usher-pipeline (workflow run, one action per "
        "Snakemake job, data sources with releases)."
    )
    crate.license = add(LICENSE, {"@type": "CreativeWork", "name": "MIT License"})
    crate.datePublished = end
    profiles = [
        add(pid, {"@type": "CreativeWork", "name": name, "version": version})
        for pid, name, version in PROFILES
    ]
    crate.root_dataset["conformsTo"] = profiles

    # --- the workflow (a copy of the Snakefile inside the crate)
    wf_copy = root / WORKFLOW_COPY
    wf_copy.parent.mkdir(parents=True, exist_ok=True)
    tmp = wf_copy.with_name(f"{wf_copy.name}.tmp-{os.getpid()}")
    shutil.copyfile(snakefile, tmp)
    os.replace(tmp, wf_copy)
    workflow = crate.add_workflow(
        dest_path=WORKFLOW_COPY,
        main=True,
        lang="snakemake",
        properties={
            "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
            "name": "usher-pipeline",
            "version": __version__,
            SHA256_TERM: sha256_file(wf_copy),
            "contentSize": wf_copy.stat().st_size,
        },
    )
    if git_commit():
        workflow["identifier"] = f"git:{git_commit()}"
    engine = add(
        "#snakemake",
        {
            "@type": "SoftwareApplication",
            "name": "Snakemake",
            "url": "https://snakemake.github.io",
            "softwareVersion": engine_version or "",
        },
    )

    # --- files
    def file_entity(rec: Mapping[str, Any]):
        rel = _rel_inside(rec["path"], root)
        props = {SHA256_TERM: rec.get("sha256"), "contentSize": rec.get("size")}
        if rec.get("rows") is not None:
            props["description"] = f"{rec['rows']} rows"
        if rel is not None:
            ident = rel + ("/" if rec.get("kind") == "directory" else "")
            ent = crate.dereference(ident)
            if ent is None:
                props["@type"] = "Dataset" if rec.get("kind") == "directory" else "File"
                props["name"] = Path(rec["path"]).name
                ent = crate.add(ContextEntity(crate, ident, properties=props))
                crate.root_dataset.append_to("hasPart", ent)
            return ent
        ident = f"#input/{rec['path']}"
        props.update({"@type": "CreativeWork", "name": rec["path"]})
        return add(ident, props)

    def formal(ident: str, name: str, kind: str):
        return add(ident, {"@type": "FormalParameter", "name": name, "additionalType": kind})

    # --- sources
    source_entities: dict[tuple, Any] = {}
    for job in jobs:
        for s in job["sources"]:
            key = (s.get("name"), s.get("release"))
            if key in source_entities:
                continue
            props = {
                "@type": "CreativeWork",
                "name": s.get("name"),
                "version": s.get("release"),
                "url": s.get("url"),
            }
            if s.get("sha256"):
                props[SHA256_TERM] = s["sha256"]
            if s.get("retrieved_at"):
                props["dateModified"] = s["retrieved_at"]
            if s.get("note"):  # e.g. "snapshot only (release ...)" in a live run
                props["description"] = s["note"]
            source_entities[key] = add(f"#source/{s.get('name')}/{s.get('release')}", props)

    # --- tools, steps, jobs
    tools: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    controls = []
    final = {str(Path(p)) for p in final_outputs}
    final_files = []
    for job in jobs:
        rule = job["rule"]
        if rule not in tools:
            tools[rule] = add(
                f"#rule-{rule}", {"@type": "SoftwareApplication", "name": f"rule {rule}"}
            )
            steps[rule] = add(
                f"#step-{rule}",
                {"@type": "HowToStep", "name": rule, "position": str(len(steps))},
            )
            steps[rule]["workExample"] = tools[rule]
        tool = tools[rule]
        objects, results = [], []
        for direction, recs in (("input", job["inputs"]), ("output", job["outputs"])):
            for rec in recs:
                ent = file_entity(rec)
                pid = f"#rule-{rule}/{direction}/{Path(rec['path']).name}"
                param = formal(pid, Path(rec["path"]).name, "File")
                if param not in (tool.get(direction) or []):
                    tool.append_to(direction, param)
                ent.append_to("exampleOfWork", param) if param not in (
                    ent.get("exampleOfWork") or []
                ) else None
                (objects if direction == "input" else results).append(ent)
                if direction == "output":
                    if rec.get("sidecar_path") and os.path.exists(rec["sidecar_path"]):
                        side = file_entity(
                            {
                                "path": rec["sidecar_path"],
                                "sha256": rec.get("sidecar_sha256"),
                                "size": os.path.getsize(rec["sidecar_path"]),
                            }
                        )
                        side["about"] = ent
                        side["encodingFormat"] = "application/json"
                    if str(Path(rec["path"])) in final:
                        final_files.append(ent)
        for name, value in sorted(json.loads(job["wildcards"] or "{}").items()):
            pid = f"#rule-{rule}/wildcard/{name}"
            param = formal(pid, name, "Text")
            if param not in (tool.get("input") or []):
                tool.append_to("input", param)
            pv = add(
                f"#job-{job['run_id']}/wildcard/{name}",
                {"@type": "PropertyValue", "name": name, "value": str(value)},
            )
            pv["exampleOfWork"] = param
            objects.append(pv)
        action = crate.add_action(
            tool,
            identifier=f"#job-{job['run_id']}",
            object=objects or None,
            result=results or None,
            properties={
                "@type": "CreateAction",
                "name": f"rule {rule} (run {job['run_id'][:12]})",
                "startTime": job["started_at"],
                "endTime": job["ended_at"],
                "actionStatus": "http://schema.org/CompletedActionStatus",
            },
        )
        control = add(
            f"#control-{job['run_id']}",
            {"@type": "ControlAction", "name": f"orchestrate {rule}"},
        )
        control["instrument"] = steps[rule]
        control["object"] = action
        controls.append(control)
    workflow["hasPart"] = list(tools.values())
    workflow["step"] = list(steps.values())

    # --- workflow-level parameters (config sections) and outputs
    wf_objects = []
    for key in sorted(config):
        value = config[key]
        param = formal(f"#param/{key}", key, "Text")
        workflow.append_to("input", param)
        pv = add(
            f"#pv/{key}",
            {
                "@type": "PropertyValue",
                "name": key,
                "value": value if isinstance(value, str) else json.dumps(value, sort_keys=True),
            },
        )
        pv["exampleOfWork"] = param
        wf_objects.append(pv)
    wf_objects.extend(source_entities.values())
    for ent in final_files:
        param = formal(f"#output/{ent.id}", ent.id, "File")
        workflow.append_to("output", param)
        ent.append_to("exampleOfWork", param)
    run = crate.add_action(
        workflow,
        identifier="#workflow-run",
        object=wf_objects or None,
        result=final_files or None,
        properties={
            "@type": "CreateAction",
            "name": "usher-pipeline run",
            "startTime": start,
            "endTime": end,
            "actionStatus": "http://schema.org/CompletedActionStatus",
        },
    )
    add(
        "#engine-run",
        {
            "@type": "OrganizeAction",
            "name": "Snakemake run of usher-pipeline",
            "startTime": start,
            "endTime": end,
        },
    )
    organize = crate.dereference("#engine-run")
    organize["instrument"] = engine
    organize["result"] = run
    organize["object"] = controls
    crate.root_dataset["mentions"] = [run]

    data = crate.metadata.generate()
    target = Path(out_path) if out_path else root / CRATE_NAME
    atomic_write_text(target, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return data
