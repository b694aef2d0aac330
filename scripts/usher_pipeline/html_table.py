"""A self-contained, sortable HTML table of the top candidates (no external scripts or styles)."""

from __future__ import annotations

import html

import polars as pl

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
document.querySelectorAll('table.sortable th').forEach(function (th, idx) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.getAttribute('data-order') !== 'asc';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-order'); });
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
tr.HIGH td:nth-child(4){background:#f4a6a6} tr.MEDIUM td:nth-child(4){background:#fbd3b8}
"""


def _cell(value: object) -> tuple[str, str, str]:
    if value is None:
        return "unknown", "", "null"
    if isinstance(value, float):
        return f"{value:.3f}", repr(value), ""
    return str(value), str(value), ""


def candidates_html(cands: pl.DataFrame, max_rows: int) -> str:
    """Render the top ``max_rows`` candidates as a sortable table (click a header to sort)."""
    cols = [(c, label) for c, label in COLUMNS if c in cands.columns]
    top = cands.sort("rank").head(max_rows)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in cols)
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
        rows.append(f'<tr class="{html.escape(str(rec.get("tier", "")))}">{"".join(cells)}</tr>')
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>usher-pipeline candidates'
        f"</title><style>{_STYLE}</style></head><body>\n"
        f"<h2>Top {top.height} of {cands.height} candidate genes</h2>\n"
        "<p>Click a column header to sort. 'unknown' = no data in that layer (NULL), not zero."
        " The full list is in candidates.tsv / candidates.parquet.</p>\n"
        f'<table class="sortable" id="candidates"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + f"\n</tbody></table>\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )
