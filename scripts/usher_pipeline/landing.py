"""The start page of the results: validation verdict, tiers and the top candidates (of the
cilia view, and of the Usher view behind a script-free switch when the run has it).

Two renderings of one :class:`usher_pipeline.summary.RunSummary`:

* :func:`landing_html`: ``results/report/index.html``, a standalone self-contained page (no
  scripts, no network) for users who open the results folder without ``snakemake --report``;
  it links to the full candidate table ``candidates_table.html`` next to it.
* :func:`landing_rst`: ``results/report/landing.rst``, the same content as reStructuredText. The
  Snakefile uses it as the report's workflow description (``report:``) once it exists, so the
  Snakemake report opens on the answer; the workflow description follows it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from .display import format_score
from .html_table import tier_legend_html
from .summary import TIER_ORDER, RunSummary, ViewSummary, fmt_num, gate_outcome

_STYLE = """
body{font-family:sans-serif;font-size:14px;margin:1.2em auto;max-width:72em;color:#222;
 padding:0 1em}
h1{font-size:22px;margin:.2em 0} h2{font-size:17px;margin:1.2em 0 .4em}
a{color:#1a4f8b}
.verdict{font-size:17px;font-weight:bold;padding:.5em .8em;border-radius:4px;margin:.6em 0}
.verdict.passed{background:#d8f0d8;border:1px solid #7bbf7b}
.verdict.failed{background:#f8d0d0;border:1px solid #d07070}
.verdict.not_applicable_gene_subset,.verdict.missing{background:#fff2c8;border:1px solid #d9b64c}
table{border-collapse:collapse;margin:.3em 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eee}
td.num{text-align:right;white-space:nowrap}
td.pass{color:#1d6b1d;font-weight:bold} td.FAIL{color:#a11;font-weight:bold}
.tier{display:inline-block;min-width:5.5em;padding:1px 6px;border-radius:3px;font-weight:bold;
 text-align:center}
.tier.HIGH{background:#f4a6a6}.tier.MEDIUM{background:#fbd3b8}.tier.LOW{background:#e6e6e6}
.legend{list-style:none;padding:0}
.big{font-size:16px}
"""
# The view switch of the start page (only on pages of runs with several views).
_VIEW_STYLE = (
    ".view-radio{position:absolute;opacity:0;pointer-events:none}"
    ".view-switch{margin:.4em 0}"
    ".view-switch label{display:inline-block;padding:4px 12px;border:1px solid #1a4f8b;"
    "cursor:pointer;color:#1a4f8b;background:#fff}"
    ".view-switch label:first-child{border-radius:4px 0 0 4px}"
    ".view-switch label:last-child{border-radius:0 4px 4px 0}"
    ".view-panel{display:none}"
)


# The Snakemake report centres its first page vertically (the top of a long description would be
# out of reach) and keeps the description narrow: start it at the top, wider, for these tables.
REPORT_CSS = (
    "div.h-screen.items-center:has(> div.items-start){align-items:flex-start}"
    " div.prose.max-w-lg{max-width:60rem}"
)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def landing_html(summary: RunSummary, table_href: str = "candidates_table.html",
                 title: str = "usher-pipeline results") -> str:  # fmt: skip
    """The standalone start page (deterministic: no timestamps, sorted content)."""
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        "<p>Human protein-coding genes ranked as candidates for cilia / Usher syndrome biology."
        " Known cilia (SYSCILIA gold standard) and Usher genes train the model and serve as"
        " positive controls; they are excluded from the candidate list.</p>",
        '<h2 id="validation">Validation</h2>',
        f'<div class="verdict {_e(summary.status)}" id="verdict">{_e(summary.verdict)}</div>',
    ]
    if summary.failed:
        parts.append("<p>Failed gates:</p><ul>")
        parts += [f"<li>{_e(msg)}</li>" for msg in summary.failed]
        parts.append(f"</ul><p>Details: {_e(summary.details)}</p>")
    if summary.gates:
        parts.append(
            '<table id="gates"><thead><tr><th>Gate</th><th>What it checks</th><th>Value</th>'
            "<th>Threshold</th><th>Result</th></tr></thead><tbody>"
        )
        for g in summary.gates:
            outcome = gate_outcome(g)
            parts.append(
                f"<tr><td>{_e(g.metric)}</td><td>{_e(g.description)}</td>"
                f'<td class="num">{fmt_num(g.value)}</td><td class="num">{_e(g.op)} {g.threshold:g}'
                f'</td><td class="{outcome}">{_e(outcome)}</td></tr>'
            )
        parts.append("</tbody></table>")
        parts.append("<p>All metrics: validation/metrics.tsv; thresholds: config"
                     " <code>validation.gates</code>.</p>")  # fmt: skip
    if summary.tier_counts:
        title = f"Tiers of the {summary.views[0].title}" if len(summary.views) > 1 else "Tiers"
        parts.append(f'<h2 id="tiers">{_e(title)}</h2>')
        parts.append(
            '<table id="tier-counts"><thead><tr><th>Tier</th><th>Genes</th><th>Meaning</th>'
            "</tr></thead><tbody>"
        )
        for tier in TIER_ORDER:
            parts.append(
                f'<tr><td><span class="tier {tier}">{tier}</span></td>'
                f'<td class="num" data-tier="{tier}">{summary.tier_counts.get(tier, 0)}</td>'
                f"<td>{_e(summary.tier_rules.get(tier, ''))}</td></tr>"
            )
        parts.append(
            f"</tbody></table><p>{summary.n_candidates} candidate genes in total. Score: the"
            " cross-validated model's estimate (0–1); evidence layers: layers whose sub-score"
            " reaches the evidence threshold.</p>"
        )
        parts.append(
            f'<p class="big"><a id="full-table" href="{_e(table_href)}">All {summary.n_candidates}'
            " candidates: searchable, filterable table &rarr;</a></p>"
        )
    if len(summary.views) > 1:
        parts += _views_html(summary, table_href)
    elif summary.top:
        parts.append(f'<h2 id="top">Top {len(summary.top)} candidates</h2>')
        parts.append(
            '<table id="top-candidates"><thead><tr><th>Rank</th><th>Symbol</th><th>HGNC ID</th>'
            "<th>Tier</th><th>Score</th><th>Evidence layers</th><th>Strongest layers</th>"
            "<th>Evidence (sub-scores)</th></tr></thead><tbody>"
        )
        for rec in summary.top:
            tier = rec.get("tier") or ""
            parts.append(
                f'<tr><td class="num">{_e(rec["rank"])}</td><td>{_e(rec["symbol"])}</td>'
                f"<td>{_e(rec['gene_id'])}</td>"
                f'<td title="{_e(summary.tier_rules.get(tier, ""))}"><span class="tier {_e(tier)}">'
                f"{_e(tier)}</span></td>"
                f'<td class="num">{format_score(rec["score"], "—")}</td>'
                f'<td class="num">{_e(rec["evidence_count"])}</td>'
                f"<td>{_e(', '.join(rec['strongest']) or '—')}</td>"
                f"<td>{_e(rec.get('evidence_summary') or '—')}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts.append(f"<h2>What the tiers mean</h2>{tier_legend_html(summary.tier_rules)}")
    parts.append(
        "<p>Why a gene ranks where it does, layer by layer: <code>usher-pipeline explain"
        " SYMBOL</code>. Files: candidates.tsv / candidates.parquet (every candidate),"
        " validation/ (metrics, control ranks, folds), reproducibility_report.md.</p>"
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _view_css(views: Sequence[ViewSummary]) -> str:
    """The CSS that shows the panel (and marks the button) of the checked view: a switch
    without scripts (radio buttons before the panels)."""
    shown = ",".join(f"#view-{v.key}:checked~#panel-{v.key}" for v in views)
    marked = ",".join(f"#view-{v.key}:checked~.view-switch label[for=view-{v.key}]" for v in views)
    return (
        f"<style>{_VIEW_STYLE}{shown}{{display:block}}"
        f"{marked}{{background:#1a4f8b;color:#fff}}</style>"
    )


def _top_table_html(summary: RunSummary, view: ViewSummary, other: str) -> str:
    """One view's top candidates; the cilia view's table keeps the columns and id of a run
    without the Usher view (``top-candidates``)."""
    cilia = view.key == summary.views[0].key
    rules = summary.tier_rules if cilia else view.tier_rules
    head = ("<th>Rank</th><th>Symbol</th><th>HGNC ID</th><th>Tier</th><th>Score</th>"
            f"<th>{_e(other.capitalize())} rank</th>")  # fmt: skip
    head += (
        "<th>Evidence layers</th><th>Strongest layers</th><th>Evidence (sub-scores)</th>"
        if cilia else "<th>Sensory features with evidence</th><th>Strongest sensory evidence</th>"
    )  # fmt: skip
    table_id = "top-candidates" if cilia else f"top-{view.key}"
    rows = []
    for rec in view.top:
        tier = rec.get("tier") or ""
        other_rank = rec.get(f"{other}_rank")
        cells = (
            f'<td class="num">{_e(rec["rank"])}</td><td>{_e(rec["symbol"])}</td>'
            f"<td>{_e(rec['gene_id'])}</td>"
            f'<td title="{_e(rules.get(tier, ""))}"><span class="tier {_e(tier)}">{_e(tier)}'
            f'</span></td><td class="num">{format_score(rec["score"], "—")}</td>'
            f'<td class="num">{"—" if other_rank is None else _e(other_rank)}</td>'
        )
        if cilia:
            cells += (
                f'<td class="num">{_e(rec["evidence_count"])}</td>'
                f"<td>{_e(', '.join(rec['strongest']) or '—')}</td>"
                f"<td>{_e(rec.get('evidence_summary') or '—')}</td>"
            )
        else:
            count = rec.get("sensory_count")
            cells += (
                f'<td class="num">{"—" if count is None else _e(count)}</td>'
                f"<td>{_e(', '.join(rec['strongest']) or '—')}</td>"
            )
        rows.append(f"<tr>{cells}</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table>"
    )


def _views_html(summary: RunSummary, table_href: str) -> list[str]:
    """The top candidates of every view, behind a switch (radio buttons styled as buttons; no
    script), each panel with its question, its tier counts (Usher view) and a link to the full
    table opened in that view."""
    views = summary.views
    n = max(len(v.top) for v in views)
    parts = [f'<h2 id="top">Top {n} candidates of each view</h2>', _view_css(views)]
    parts += [
        f'<input type="radio" class="view-radio" name="view" id="view-{v.key}"'
        f' value="{v.key}"{" checked" if i == 0 else ""}>'
        for i, v in enumerate(views)
    ]
    parts.append(
        '<div class="view-switch" id="view-switch">'
        + "".join(f'<label for="view-{v.key}">{_e(v.title)}</label>' for v in views)
        + "</div>"
    )
    for i, view in enumerate(views):
        other = views[1].key if i == 0 else views[0].key
        parts.append(f'<div class="view-panel" id="panel-{view.key}">')
        parts.append(f"<p><b>{_e(view.title)}</b>: {_e(view.question)}</p>")
        if i > 0:
            parts.append(
                f'<table id="{view.key}-tier-counts"><thead><tr><th>{_e(view.title)} tier</th>'
                "<th>Genes</th><th>Meaning</th></tr></thead><tbody>"
                + "".join(
                    f'<tr><td><span class="tier {t}">{t}</span></td>'
                    f'<td class="num" data-tier="{t}">{view.tier_counts.get(t, 0)}</td>'
                    f"<td>{_e(view.tier_rules.get(t, ''))}</td></tr>"
                    for t in TIER_ORDER
                )
                + "</tbody></table>"
            )
        parts.append(_top_table_html(summary, view, other))
        parts.append(
            f'<p><a class="view-table" href="{_e(table_href)}#view={view.key}">'
            f"All candidates in the {_e(view.title)} &rarr;</a></p></div>"
        )
    parts.append(f"<h2>What the tiers mean</h2>{tier_legend_html(summary.tier_rules)}")
    return parts


def _rst_text(value: object) -> str:
    """Plain text safe inside reStructuredText (inline markup characters escaped)."""
    text = "" if value is None else str(value)
    for ch in ("\\", "*", "`", "_", "|", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ") or "—"


def _list_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    out = [f".. list-table:: {title}", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        first = True
        for cell in row:
            out.append(f"   {'* -' if first else '  -'} {_rst_text(cell)}")
            first = False
    out.append("")
    return out


def landing_rst(summary: RunSummary) -> str:
    """The start of the Snakemake report: verdict, gates, tier counts and top candidates as
    reStructuredText. Wrapped in a Jinja raw block (the report renders descriptions with
    Jinja); ``candidates_table.html``_ and ``index.html``_ link to the report's results."""
    lines = ["{% raw %}", ".. raw:: html", "", f"   <style>{REPORT_CSS}</style>", ""]
    lines += ["Results at a glance", "===================", ""]
    lines += [f"**Validation: {_rst_text(summary.verdict)}**", ""]
    for msg in summary.failed:
        lines.append(f"- failed gate: {_rst_text(msg)}")
    if summary.failed:
        lines += ["", f"Details: {_rst_text(summary.details)}", ""]
    if summary.gates:
        lines += _list_table(
            "Validation gates",
            ["Gate", "Value", "Threshold", "Result"],
            [[g.metric, fmt_num(g.value), f"{g.op} {g.threshold:g}", gate_outcome(g)]
             for g in summary.gates],
        )  # fmt: skip
    if summary.tier_counts:
        lines += _list_table(
            f"Tiers ({summary.n_candidates} candidates)",
            ["Tier", "Genes", "Meaning"],
            [[t, summary.tier_counts.get(t, 0), summary.tier_rules.get(t, "")] for t in TIER_ORDER],
        )
        lines += ["{% endraw %}", "",
                  "All candidates, searchable and filterable: candidates_table.html_ (start page "
                  "as a standalone file: index.html_)", "", "{% raw %}"]  # fmt: skip
    if summary.top:
        several = len(summary.views) > 1
        other = summary.views[1].key if several else ""
        lines += _list_table(
            f"Top {len(summary.top)} candidates" + (f", {summary.views[0].title}" if several else ""),
            ["Rank", "Symbol", "Tier", "Score", "Strongest layers", "Evidence"]
            + ([f"{other.capitalize()} rank"] if several else []),
            [[r["rank"], r["symbol"], r["tier"], format_score(r["score"], "—"),
              ", ".join(r["strongest"]) or "—", r.get("evidence_summary") or "—"]
             + ([r.get(f"{other}_rank")] if several else [])
             for r in summary.top],
        )  # fmt: skip
    for view in summary.views[1:]:
        cilia = summary.views[0].key
        lines += [f"**{_rst_text(view.title)}**: {_rst_text(view.question)}", ""]
        lines += _list_table(
            f"{view.title} tiers",
            ["Tier", "Genes", "Meaning"],
            [[t, view.tier_counts.get(t, 0), view.tier_rules.get(t, "")] for t in TIER_ORDER],
        )
        lines += _list_table(
            f"Top {len(view.top)} candidates, {view.title}",
            ["Rank", "Symbol", "Tier", "Score", "Strongest sensory evidence",
             f"{cilia.capitalize()} rank"],
            [[r["rank"], r["symbol"], r["tier"], format_score(r["score"], "—"),
              ", ".join(r["strongest"]) or "—", r.get(f"{cilia}_rank")] for r in view.top],
        )  # fmt: skip
    lines += ["{% endraw %}", "", "About the workflow", "------------------", ""]
    return "\n".join(lines) + "\n"


def write_landing(
    summary: RunSummary, html_path: str | Path, rst_path: str | Path, description: str = ""
) -> None:
    """Write the start page (HTML) and the report description (rst + ``description``)."""
    from .persistence._common import atomic_write_text

    atomic_write_text(str(html_path), landing_html(summary))
    atomic_write_text(str(rst_path), landing_rst(summary) + description)
