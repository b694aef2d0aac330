"""A self-contained, sortable HTML table of the top candidates (no external scripts or styles).

The last column of each row is an expandable per-gene breakdown (an HTML ``<details>`` element,
works offline without script): every evidence layer's sub-score, its contribution to the score
and the raw evidence behind it (see :func:`usher_pipeline.explain.load_breakdowns`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import polars as pl

from .explain import LAYERS, format_contrib, format_score, layer_label

# gene_id -> [(layer, sub-score, contribution, raw evidence text)]
Breakdown = Mapping[str, Sequence[tuple[str, float | None, float | None, str]]]

COLUMNS = [
    ("rank", "Rank"),
    ("symbol", "Symbol"),
    ("gene_id", "HGNC ID"),
    ("tier", "Tier"),
    ("score", "Score"),
    ("evidence_count", "Evidence layers"),
    ("localization_score", "Localization"),
    ("mouse_phenotype_score", "Mouse phenotype"),
    ("human_phenotype_score", "Human phenotype"),
    ("protein_features_score", "Protein features"),
    ("constraint_score", "Constraint"),
    ("expression_score", "Expression"),
    ("literature_score", "Literature"),
    ("pubmed_total", "Publications"),
    ("evidence_summary", "Evidence"),
    ("evidence_gaps", "Unknown layers"),
]

_SCRIPT = """
document.querySelectorAll('table.sortable > thead > tr > th').forEach(function (th, idx) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('data-order') !== 'asc';
    table.querySelectorAll(':scope > thead > tr > th').forEach(function (h) {
      h.removeAttribute('data-order');
    });
    th.setAttribute('data-order', asc ? 'asc' : 'desc');
    rows.sort(function (a, b) {
      var x = a.cells[idx].getAttribute('data-v'), y = b.cells[idx].getAttribute('data-v');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""

_STYLE = """
body{font-family:sans-serif;font-size:13px;margin:1em}
table.sortable{border-collapse:collapse}
table.sortable th{cursor:pointer;background:#eee;position:sticky;top:0}
table.sortable th,table.sortable td{border:1px solid #ccc;padding:2px 6px;text-align:left}
td.null{color:#999}
tr.HIGH > td:nth-child(4){background:#f4a6a6} tr.MEDIUM > td:nth-child(4){background:#fbd3b8}
details summary{cursor:pointer;color:#1a4f8b;white-space:nowrap}
table.breakdown{border-collapse:collapse;margin:4px 0}
table.breakdown th{background:#f4f4f4;cursor:default;position:static}
table.breakdown td.ev{white-space:pre-line;max-width:60em;font-size:12px}
table.breakdown td.num{text-align:right;white-space:nowrap}
"""


def _cell(value: object) -> tuple[str, str, str]:
    if value is None:
        return "unknown", "", "null"
    if isinstance(value, float):
        return f"{value:.3f}", repr(value), ""
    return str(value), str(value), ""


def breakdown_from_frame(cands: pl.DataFrame) -> dict[str, list[tuple]]:
    """Sub-scores and contributions only (no raw evidence), from the candidate table's own
    ``<layer>_score``/``contrib_<layer>`` columns: the breakdown when none is passed in."""
    layers = [layer for layer in LAYERS if f"{layer}_score" in cands.columns]
    if not layers or "gene_id" not in cands.columns:
        return {}
    out: dict[str, list[tuple]] = {}
    for rec in cands.iter_rows(named=True):
        out[rec["gene_id"]] = [
            (layer_label(layer), rec[f"{layer}_score"], rec.get(f"contrib_{layer}"), "")
            for layer in layers
        ]
    return out


def _num(value: float | None, fmt) -> tuple[str, str]:
    if value is None:
        return "null", fmt(None)
    return "", fmt(float(value))


def breakdown_html(entries: Sequence[tuple[str, float | None, float | None, str]]) -> str:
    """One gene's layers as an expandable ``<details>`` block (sub-score, contribution, evidence)."""
    unknown = [e[0] for e in entries if e[1] is None]
    summary = f"{len(entries)} layers"
    if unknown:
        summary += f", {len(unknown)} unknown"
    rows = []
    for layer, score, contrib, text in entries:
        s_cls, s_txt = _num(score, format_score)
        c_cls, c_txt = _num(contrib, format_contrib)
        if score is None and not text:
            text, e_cls = "unknown: source does not cover this gene", "ev null"
        else:
            e_cls = "ev"
        rows.append(
            f"<tr><td>{html.escape(layer)}</td>"
            f'<td class="{f"num {s_cls}".strip()}">{html.escape(s_txt)}</td>'
            f'<td class="{f"num {c_cls}".strip()}">{html.escape(c_txt)}</td>'
            f'<td class="{e_cls}">{html.escape(text or "—")}</td></tr>'
        )
    return (
        f"<details><summary>{html.escape(summary)}</summary>"
        '<table class="breakdown"><thead><tr><th>Layer</th><th>Sub-score</th>'
        "<th>Contribution</th><th>Raw evidence</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></details>"
    )


def candidates_html(cands: pl.DataFrame, max_rows: int, breakdown: Breakdown | None = None) -> str:
    """Render the top ``max_rows`` candidates as a sortable table (click a header to sort).

    ``breakdown`` (gene_id → [(layer, sub-score, contribution, raw evidence text)], e.g. from
    :func:`usher_pipeline.explain.load_breakdowns`) fills each row's expandable per-gene detail;
    without it the detail shows the sub-scores and contributions of the table's own columns."""
    cols = [(c, label) for c, label in COLUMNS if c in cands.columns]
    top = cands.sort("rank").head(max_rows)
    if breakdown is None:
        breakdown = breakdown_from_frame(top)
    details = bool(breakdown) and "gene_id" in top.columns
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
    if details:
        head += "<th>Per-layer breakdown</th>"
    rows = []
    for rec in top.select([c for c, _ in cols]).iter_rows(named=True):
        cells = []
        for c, _ in cols:
            text, sort_value, cls = _cell(rec[c])
            cls_attr = f' class="{cls}"' if cls else ""
            cells.append(
                f'<td{cls_attr} data-v="{html.escape(sort_value, quote=True)}">'
                f"{html.escape(text)}</td>"
            )
        if details:
            entries = breakdown.get(rec["gene_id"]) if "gene_id" in rec else None
            cells.append(
                f'<td class="details" data-v="">{breakdown_html(entries)}</td>'
                if entries
                else '<td class="details null" data-v="">—</td>'
            )
        rows.append(f'<tr class="{html.escape(str(rec.get("tier", "")))}">{"".join(cells)}</tr>')
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>usher-pipeline candidates'
        f"</title><style>{_STYLE}</style></head><body>\n"
        f"<h2>Top {top.height} of {cands.height} candidate genes</h2>\n"
        "<p>Click a column header to sort. 'unknown' = no data in that layer (NULL), not zero."
        " Click a gene's breakdown (last column) for every layer's sub-score, contribution and"
        " raw evidence."
        " The full list is in candidates.tsv / candidates.parquet.</p>\n"
        f'<table class="sortable" id="candidates"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + f"\n</tbody></table>\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )
