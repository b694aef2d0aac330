"""Snakemake logger plugin ``usher``: one terminal line per job (``--logger usher``).

Snakemake's default terminal output prints, for every job, its inputs, outputs, log, reason and
resources: for this workflow ~23 snapshot files per job. This handler prints one line per job
instead (time, rule, wildcards, job id, log file) and passes everything else through Snakemake's
own formatter unchanged: errors of failed jobs in full (inputs, outputs, log and, with
``show-failed-logs``, the log's content), warnings, the job statistics and the final summary.

The per-file detail is not lost: Snakemake's complete log (``.snakemake/log/*.snakemake.log``,
path printed at the end of every run) keeps the full job headers, and every job's own log file
(``log:`` of the rule, written by :class:`usher_pipeline.persistence.RuleRun`) lists each input
with its sha256. The laptop profile (``workflow/profiles/default``) selects this logger.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

# Scheduler chatter with no information of its own once every job has its line.
_DROPPED_MESSAGES = ("Select jobs to execute...",)


def job_line(record: Any) -> str:
    """``[HH:MM:SS] rule NAME[wildcards] (job N): message; log: PATH`` for a JOB_INFO record."""
    kind = "localrule" if getattr(record, "local", False) else "rule"
    name = getattr(record, "rule_name", "?")
    wildcards = getattr(record, "wildcards", None) or {}
    if wildcards:
        name += "[" + ",".join(f"{k}={v}" for k, v in wildcards.items()) + "]"
    line = f"[{time.strftime('%H:%M:%S')}] {kind} {name} (job {getattr(record, 'jobid', '?')})"
    msg = getattr(record, "rule_msg", None)
    if msg:
        line += f": {msg}"
    logs = list(getattr(record, "log", None) or [])
    if logs:
        line += f"; log: {', '.join(logs)}"
    return line


class LogHandler(LogHandlerBase):
    """One line per job on the terminal; everything else as Snakemake prints it."""

    def __post_init__(self) -> None:
        from snakemake.logging import DefaultFilter, DefaultFormatter

        s = self.common_settings
        self.stream = sys.stdout if getattr(s, "stdout", False) else sys.stderr
        self.addFilter(
            DefaultFilter(s.quiet, s.debug_dag, s.verbose, s.dryrun, s.printshellcmds)
        )  # fmt: skip
        self.setFormatter(DefaultFormatter(s.quiet, s.show_failed_logs))

    def text(self, record: logging.LogRecord) -> str | None:
        """The terminal text of a record (None: not printed)."""
        event = getattr(record, "event", None)
        if event == LogEvent.JOB_INFO:
            return job_line(record)
        if event == LogEvent.SHELLCMD:  # a real shell command (script: jobs have None)
            return self.format(record) if getattr(record, "shellcmd", None) else None
        if event in (LogEvent.JOB_FINISHED, LogEvent.JOB_STARTED):
            return None
        if event == LogEvent.PROGRESS:
            done, total = getattr(record, "done", 0), getattr(record, "total", 0)
            return self.format(record) if done == total else None
        if event is None and record.getMessage() in _DROPPED_MESSAGES:
            return None
        return self.format(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.text(record)
            if text:
                self.stream.write(text + "\n")
                self.stream.flush()
        except Exception:
            self.handleError(record)

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False
