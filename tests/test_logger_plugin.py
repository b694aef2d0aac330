"""The logger plugin ``usher`` (scripts/snakemake_logger_plugin_usher): one terminal line per job,
errors in full; and, on the session's fixture run (laptop profile), the terminal output and the
per-job logs that hold the per-file detail instead."""

from __future__ import annotations

import io
import logging
import re
from types import SimpleNamespace

import e2e_fixtures as e2e
from snakemake_interface_logger_plugins.common import LogEvent
from snakemake_logger_plugin_usher import LogHandler

INPUTS = [f"workflow/resources/snapshot/file{i}.tsv.gz" for i in range(23)]


def _handler() -> tuple[LogHandler, io.StringIO]:
    settings = SimpleNamespace(printshellcmds=True, nocolor=True, quiet=set(), debug_dag=False,
                               verbose=False, show_failed_logs=False, stdout=True, dryrun=False)  # fmt: skip
    handler = LogHandler(settings, None)
    out = io.StringIO()
    handler.stream = out
    return handler, out


def _record(text: str, level: int = logging.INFO, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("snakemake", level, __file__, 1, text, None, None)
    rec.__dict__.update(extra)
    return rec


def _job(event: LogEvent, **extra) -> logging.LogRecord:
    fields = dict(event=event, jobid=5, rule_name="layer_network", local=True, input=INPUTS,
                  output=["results/layers/network.parquet"], log=["results/logs/layer_network.log"],
                  wildcards={}, rule_msg=None, reason="Missing output files", resources={},
                  benchmark=None, priority=0, threads=1, is_checkpoint=False, indent=False,
                  shellcmd=None, conda_env=None, aux={}, is_handover=False)  # fmt: skip
    fields.update(extra)
    level = fields.pop("level", logging.INFO)
    return _record("", level, **fields)


def test_one_line_per_job_without_the_input_list() -> None:
    handler, out = _handler()
    handler.handle(_job(LogEvent.JOB_INFO))
    handler.handle(_record("Shell command: None", event=LogEvent.SHELLCMD, shellcmd=None))
    handler.handle(_record("Finished jobid: 5", event=LogEvent.JOB_FINISHED, job_id=5))
    handler.handle(_record("", event=LogEvent.PROGRESS, done=1, total=3))
    handler.handle(_record("Select jobs to execute..."))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(
        r"\[\d\d:\d\d:\d\d\] localrule layer_network \(job 5\); "
        r"log: results/logs/layer_network\.log",
        lines[0],
    ), lines
    assert "file0.tsv.gz" not in out.getvalue()
    handler.handle(_record("", event=LogEvent.PROGRESS, done=3, total=3))
    assert out.getvalue().splitlines()[-1] == "3 of 3 steps (100%) done"


def test_wildcards_and_messages_stay_on_the_line() -> None:
    handler, out = _handler()
    handler.handle(_job(LogEvent.JOB_INFO, local=False, wildcards={"source": "hgnc"},
                        rule_msg="fetch HGNC"))  # fmt: skip
    assert "rule layer_network[source=hgnc] (job 5): fetch HGNC; log:" in out.getvalue()


def test_errors_and_warnings_are_printed_in_full() -> None:
    handler, out = _handler()
    handler.handle(_job(LogEvent.JOB_ERROR, level=logging.ERROR))
    handler.handle(_record("a warning about something", logging.WARNING))
    text = out.getvalue()
    assert "Error in rule layer_network:" in text
    assert "file22.tsv.gz" in text  # a failed job's inputs are not hidden
    assert "results/logs/layer_network.log" in text
    assert "a warning about something" in text


def test_fixture_run_prints_one_line_per_job_and_logs_inputs() -> None:
    run = e2e.local_run()
    output = run.result.output
    stats = e2e.job_stats(output)
    job_lines = re.findall(r"^\[\d\d:\d\d:\d\d\] (?:local)?rule (\w+) \(job \d+\)", output, re.M)
    assert sorted(job_lines) == sorted(stats), (job_lines, stats)  # one line per job
    assert not re.search(r"^\s+input: ", output, re.M), output[-3000:]
    assert "Shell command: None" not in output
    # the per-file detail is in the job's own log: every input with its sha256
    log = (run.results / "logs" / "gene_universe.log").read_text()
    inputs = re.findall(r" input (\S+) \(sha256 [0-9a-f]{64}, \d+ bytes", log)
    assert any(p.endswith("hgnc_uniprot_ensembl_ncbi.tsv.gz") for p in inputs), log[:3000]
    assert len(inputs) >= 10, inputs
