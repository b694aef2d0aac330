"""The full candidate list as one self-contained HTML page (no network, no external scripts).

Every candidate is in the page, as compact JSON (one array per gene) read by a small vanilla-JS
table: search by symbol, HGNC ID or Ensembl ID; filter by tier, by evidence layer (sub-score at
or above ``scoring.evidence_min_score`` in that layer) and by evidence count; sort by any column
(click its header); rows are shown a page at a time ("show more").

Each row ends with an expandable per-gene breakdown (an HTML ``<details>`` element): every
evidence layer's sub-score, its contribution to the score and, for the first ``max_rows``
candidates, the raw evidence behind it (see :func:`usher_pipeline.explain.load_breakdowns`);
further rows show sub-scores and contributions only (the raw evidence of any gene:
``usher-pipeline explain SYMBOL``). Tiers are explained in a legend and in tooltips.

When the candidates carry the Usher view (``usher_*`` columns, :mod:`usher_pipeline.views`), a
switch above the table shows it in either view: the rank, tier (and tier filter), strongest
evidence (layers or sensory features, in words) and default order follow the view, both scores
are sortable columns, and each breakdown adds the Usher view's per-feature log-odds. Without
those columns the page is the cilia view alone.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from .display import round_scores
from .explain import LAYERS, feature_words, layer_label, present_views, usher_feature_keys
from .summary import TIER_ORDER, USHER_TIER_RULES
from .views import USHER_VIEW

# gene_id -> [(layer, sub-score, contribution, raw evidence text)]
Breakdown = Mapping[str, Sequence[tuple[str, float | None, float | None, str]]]

# Row fields of the embedded JSON, in order (the layer sub-scores and contributions follow).
FIELDS = ("rank", "symbol", "gene_id", "ensembl_gene", "tier", "score", "evidence_count",
          "pubmed_total", "evidence_summary", "evidence_gaps")  # fmt: skip

# Row fields of the Usher view, after FIELDS when the candidates carry it (then, after the layer
# contributions, one ``usher_contrib_<feature>`` per sensory feature).
USHER_FIELDS = ("usher_rank", "usher_tier", "usher_score", "usher_sensory_count",
                "usher_sensory_logodds")  # fmt: skip

PAGE_ROWS = 200

_STYLE = """
body{font-family:sans-serif;font-size:13px;margin:1em;color:#222}
h1{font-size:20px;margin:.2em 0} h2{font-size:16px;margin:1em 0 .3em}
a{color:#1a4f8b}
.legend{margin:.4em 0 .8em;padding:0;list-style:none}
.legend li{margin:2px 0}
.tier{display:inline-block;min-width:5.5em;padding:1px 6px;border-radius:3px;font-weight:bold;
 text-align:center}
.tier.HIGH{background:#f4a6a6}.tier.MEDIUM{background:#fbd3b8}.tier.LOW{background:#e6e6e6}
.controls{display:flex;flex-wrap:wrap;gap:.6em 1.2em;align-items:center;margin:.6em 0;
 padding:.5em;background:#f6f8fa;border:1px solid #ddd}
.controls label{white-space:nowrap}
#count{font-weight:bold}
table.sortable{border-collapse:collapse}
table.sortable th{cursor:pointer;background:#eee;position:sticky;top:0;z-index:1}
table.sortable th[data-order=asc]::after{content:" \\25B2"}
table.sortable th[data-order=desc]::after{content:" \\25BC"}
table.sortable th,table.sortable td{border:1px solid #ccc;padding:2px 6px;text-align:left;
 vertical-align:top}
td.num{text-align:right} td.null{color:#999}
#candidates td:nth-last-child(3){min-width:24em} #candidates td:nth-last-child(2){min-width:12em}
td.tier-cell.HIGH{background:#f4a6a6} td.tier-cell.MEDIUM{background:#fbd3b8}
details summary{cursor:pointer;color:#1a4f8b;white-space:nowrap}
table.breakdown{border-collapse:collapse;margin:4px 0}
table.breakdown th{background:#f4f4f4;cursor:default;position:static}
table.breakdown th,table.breakdown td{border:1px solid #ccc;padding:2px 6px}
table.breakdown td.ev{white-space:pre-line;max-width:60em;font-size:12px}
table.breakdown td.num{text-align:right;white-space:nowrap}
#more{margin:.8em 0}
#view-switch{border:1px solid #1a4f8b;border-radius:4px;padding:2px 8px;background:#fff}
#view-switch label{margin-right:.8em;cursor:pointer}
#view-question{font-style:italic}
"""

_SCRIPT = r"""
(function () {
  var D = JSON.parse(document.getElementById('candidates-data').textContent);
  var F = {}; D.fields.forEach(function (f, i) { F[f] = i; });
  var NL = D.layers.length, S0 = D.fields.length, C0 = S0 + NL, U0 = C0 + NL;
  var UF = D.usher_features || [], VIEWS = D.views, V = VIEWS[0], MULTI = VIEWS.length > 1;
  var M0 = U0 + UF.length;
  var evIdx = D.evidence_layers.map(function (l) { return D.layers.indexOf(l); });
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c];
    });
  }
  function fmt(v, d) { return v === null ? 'unknown' : v.toFixed(d); }
  function hasEvidence(r, li) { return ((r[M0] >> li) & 1) === 1; }
  function tierRules(v) { return (v.key === 'cilia' ? D.tiers : D.usher_tiers) || {}; }
  function signed(c) { return (c >= 0 ? '+' : '') + c.toFixed(3); }
  // the view's strongest evidence in words: largest positive contributions (cilia view: layers;
  // Usher view: sensory features), at most three
  function strongest(r) {
    var items = [];
    if (V.key === 'cilia') D.layers.forEach(function (l, li) {
      var c = r[C0 + li]; if (c !== null && c > 0) items.push([c, D.layer_labels[li]]); });
    else UF.forEach(function (f, i) {
      var c = r[U0 + i]; if (c !== null && c > 0) items.push([c, D.usher_feature_labels[i]]); });
    items.sort(function (a, b) { return b[0] - a[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0); });
    return items.slice(0, 3).map(function (x) { return x[1]; }).join(', ');
  }
  function scoreCell(f) { return function (r) {
    var x = r[F[f]];
    return x === null ? '<td class="num null">unknown</td>' : '<td class="num">' + fmt(x, 3) + '</td>';
  }; }
  // display columns: [label, value getter, numeric?, cell renderer, tooltip, ascending first?]
  // The rank, tier (and strongest evidence) columns follow the view shown (V).
  function buildCols() {
    var other = MULTI ? VIEWS.filter(function (v) { return v !== V; })[0] : null, rules = tierRules(V);
    var cols = [
      [MULTI ? V.short + ' rank' : 'Rank', function (r) { return r[F[V.rank]]; }, true, null,
        MULTI ? 'rank in the ' + V.title + ' (1 = top)' : null, true],
      ['Symbol', function (r) { return r[F.symbol] || ''; }, false],
      ['HGNC ID', function (r) { return r[F.gene_id]; }, false],
      [MULTI ? V.short + ' tier' : 'Tier', function (r) { return D.tier_order.indexOf(r[F[V.tier]]); },
        true, function (r) {
        var t = r[F[V.tier]];
        return '<td class="tier-cell ' + esc(t) + '" title="' + esc(t + ': ' + (rules[t] || '')) +
          '">' + esc(t === null ? '\u2014' : t) + '</td>';
      }, D.tier_order.map(function (t) { return t + ': ' + rules[t]; }).join('\n'), true]
    ];
    if (!MULTI) {
      cols.push(['Score', function (r) { return r[F.score]; }, true, function (r) {
        return '<td class="num">' + fmt(r[F.score], 3) + '</td>'; }]);
    } else {
      VIEWS.forEach(function (v) {
        cols.push([v.short + ' score', function (r) { return r[F[v.score]]; }, true, scoreCell(v.score),
          v.title + ': ' + v.question]);
      });
      cols.push([other.short + ' rank', function (r) { return r[F[other.rank]]; }, true, null,
        'rank in the ' + other.title + ' (1 = top)', true]);
      cols.push(['Strongest evidence (' + V.short + ' view)', strongest, false, null,
        V.key === 'cilia' ? 'layers that raise the cilia score most' :
          'sensory features that raise the Usher score most']);
      cols.push(['Sensory features', function (r) { return r[F.usher_sensory_count]; }, true, null,
        'sensory features of the Usher view with evidence (of ' + UF.length + ')']);
    }
    cols.push(['Evidence layers', function (r) { return r[F.evidence_count]; }, true, null,
      'layers with a sub-score >= ' + D.min_evidence_score]);
    D.layers.forEach(function (l, li) {
      if (l === 'annotation') return;
      cols.push([D.layer_labels[li], function (r) { return r[S0 + li]; }, true, function (r) {
        var v = r[S0 + li];
        return v === null ? '<td class="num null">unknown</td>' : '<td class="num">' + fmt(v, 3) + '</td>';
      }, 'sub-score 0-1 of the ' + D.layer_labels[li] + ' layer; unknown = no data (NULL), not zero']);
    });
    cols.push(['Publications', function (r) { return r[F.pubmed_total]; }, true, null,
      'PubMed articles linked to the gene (study-bias covariate)']);
    cols.push(['Evidence', function (r) { return r[F.evidence_summary] || ''; }, false]);
    cols.push(['Unknown layers', function (r) { return r[F.evidence_gaps] || ''; }, false]);
    return cols;
  }
  var cols = buildCols();
  var state = {q: '', tier: '', layer: -1, minEv: 0, sort: 0, asc: true, limit: D.page_rows};
  var thead = document.querySelector('#candidates thead tr');
  function renderHead() {
    thead.innerHTML = cols.map(function (c, i) {
      return '<th data-col="' + i + '"' + (c[4] ? ' title="' + esc(c[4]) + '"' : '') + '>' +
        esc(c[0]) + '</th>';
    }).join('') + '<th class="nosort" title="every layer: sub-score, contribution, raw evidence">' +
      'Per-layer breakdown</th>';
  }
  renderHead();
  function usherBreakdown(r) {
    if (!UF.length) return '';
    var rows = UF.map(function (f, i) {
      var c = r[U0 + i];
      return '<tr><td>' + esc(D.usher_feature_labels[i]) + '</td><td class="num' +
        (c === null ? ' null">unknown' : '">' + signed(c)) + '</td></tr>';
    });
    var tot = r[F.usher_sensory_logodds];
    rows.push('<tr><td>all sensory evidence (log-odds of P(Usher-like | ciliary))</td><td class="num' +
      (tot === null ? ' null">unknown' : '">' + signed(tot)) + '</td></tr>');
    return '<table class="breakdown usher-breakdown"><thead><tr><th>Usher view: sensory feature</th>' +
      '<th>Log-odds</th></tr></thead><tbody>' + rows.join('') + '</tbody></table>';
  }
  function breakdown(r) {
    var raw = D.raw[r[F.gene_id]] || null, unknown = 0, rows = [];
    D.layers.forEach(function (l, li) {
      var s = r[S0 + li], c = r[C0 + li], t = raw ? raw[li] : '';
      if (s === null) unknown++;
      var ev = (s === null && !t) ? '<td class="ev null">unknown: source does not cover this gene</td>'
        : '<td class="ev">' + esc(t || (raw ? '\u2014' : 'raw evidence: usher-pipeline explain ' +
          (r[F.symbol] || r[F.gene_id]))) + '</td>';
      rows.push('<tr><td>' + esc(D.layer_labels[li]) + '</td><td class="num' + (s === null ? ' null' : '') +
        '">' + fmt(s, 3) + '</td><td class="num' + (c === null ? ' null' : '') + '">' +
        (c === null ? '\u2014' : (c >= 0 ? '+' : '') + c.toFixed(3)) + '</td>' + ev + '</tr>');
    });
    var summary = NL + ' layers' + (unknown ? ', ' + unknown + ' unknown' : '') +
      (UF.length ? ' + sensory features' : '');
    return '<details><summary>' + esc(summary) + '</summary><table class="breakdown"><thead><tr>' +
      '<th>Layer</th><th>Sub-score</th><th>Contribution</th><th>Raw evidence</th></tr></thead><tbody>' +
      rows.join('') + '</tbody></table>' + usherBreakdown(r) + '</details>';
  }
  function rowHtml(r) {
    return '<tr class="' + esc(r[F[V.tier]]) + '" data-gene="' + esc(r[F.gene_id]) + '">' +
      cols.map(function (c) {
        if (c[3]) return c[3](r);
        var v = c[1](r);
        if (v === null || v === undefined) return '<td class="null">unknown</td>';
        return '<td' + (c[2] ? ' class="num"' : '') + '>' + esc(v) + '</td>';
      }).join('') + '<td class="details">' + breakdown(r) + '</td></tr>';
  }
  function matches(r) {
    if (state.tier && r[F[V.tier]] !== state.tier) return false;
    if (state.layer >= 0 && !hasEvidence(r, state.layer)) return false;
    if (r[F.evidence_count] < state.minEv) return false;
    if (state.q) {
      var q = state.q;
      return [r[F.symbol], r[F.gene_id], r[F.ensembl_gene]].some(function (x) {
        return x && String(x).toUpperCase().indexOf(q) >= 0;
      });
    }
    return true;
  }
  function render() {
    var rows = D.rows.filter(matches), get = cols[state.sort][1], num = cols[state.sort][2];
    rows.sort(function (a, b) {
      var x = get(a), y = get(b), c;
      if (x === null || y === null) { c = (x === null) - (y === null); return c || a[F.rank] - b[F.rank]; }
      c = num ? x - y : String(x).localeCompare(String(y));
      if (!state.asc) c = -c;
      return c || a[F.rank] - b[F.rank];
    });
    var shown = rows.slice(0, state.limit);
    document.querySelector('#candidates tbody').innerHTML = shown.map(rowHtml).join('');
    document.getElementById('count').textContent = 'Showing ' + shown.length + ' of ' +
      rows.length + ' matching genes (' + D.rows.length + ' candidates in total)';
    var more = document.getElementById('more');
    more.style.display = rows.length > shown.length ? '' : 'none';
    more.textContent = 'Show ' + Math.min(D.page_rows, rows.length - shown.length) + ' more';
    thead.querySelectorAll('th').forEach(function (th) {
      th.removeAttribute('data-order');
      if (th.getAttribute('data-col') === String(state.sort)) th.setAttribute('data-order', state.asc ? 'asc' : 'desc');
    });
  }
  thead.addEventListener('click', function (ev) {
    var th = ev.target.closest('th'); if (!th || !th.hasAttribute('data-col')) return;
    var i = +th.getAttribute('data-col');
    state.asc = state.sort === i ? !state.asc : !cols[i][2] || !!cols[i][5];
    state.sort = i; state.limit = D.page_rows; render();
  });
  function bind(id, ev, fn) { document.getElementById(id).addEventListener(ev, function (e) {
    fn(e.target.value); state.limit = D.page_rows; render(); }); }
  bind('search', 'input', function (v) { state.q = v.trim().toUpperCase(); });
  bind('tier', 'change', function (v) { state.tier = v; });
  bind('layer', 'change', function (v) { state.layer = v === '' ? -1 : D.layers.indexOf(v); });
  bind('min-evidence', 'input', function (v) { state.minEv = +v || 0; });
  document.getElementById('more').addEventListener('click', function () {
    state.limit += D.page_rows; render(); });
  // the view switch: rank, tier, strongest evidence and the default order follow the view
  function setView(key) {
    V = VIEWS.filter(function (v) { return v.key === key; })[0] || VIEWS[0];
    cols = buildCols(); state.sort = 0; state.asc = true; state.limit = D.page_rows;
    renderHead();
    var q = document.getElementById('view-question');
    if (q) q.textContent = V.title + ': ' + V.question;
    document.querySelectorAll('input[name=view]').forEach(function (el) { el.checked = el.value === V.key; });
    render();
  }
  document.querySelectorAll('input[name=view]').forEach(function (el) {
    el.addEventListener('change', function () { if (el.checked) setView(el.value); });
  });
  var hash = /view=(\w+)/.exec(location.hash);
  if (MULTI && hash) setView(hash[1]); else render();
})();
"""


def _evidence_mask(scores: Sequence[Any], min_score: float) -> int:
    """Bit i set when layer i's full-precision sub-score counts as evidence (the layer filter
    uses it, so rounding the shown sub-scores never changes which genes it keeps)."""
    mask = 0
    for i, value in enumerate(scores):
        if value is not None and not math.isnan(value) and value >= min_score:
            mask |= 1 << i
    return mask


def table_data(
    cands: pl.DataFrame,
    max_rows: int,
    breakdown: Breakdown | None = None,
    tier_rules: Mapping[str, str] | None = None,
    min_evidence_score: float = 0.2,
    evidence_layers: Sequence[str] | None = None,
    page_rows: int = PAGE_ROWS,
    usher_tier_rules: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON the page embeds: every candidate (one array per gene: :data:`FIELDS` (and
    :data:`USHER_FIELDS` when the candidates carry the Usher view), then one sub-score and one
    contribution per layer, then the Usher view's per-feature log-odds, all rounded by
    :mod:`usher_pipeline.display`, then the evidence bit mask of the layers), the raw evidence text
    of the first ``max_rows`` by rank (``breakdown``, gene_id → per-layer tuples) and the views the
    page can switch between (``views``: the cilia view, and the Usher view when present)."""
    layers = [layer for layer in LAYERS if f"{layer}_score" in cands.columns]
    ev_layers = [
        layer for layer in layers
        if layer != "annotation" and (evidence_layers is None or layer in evidence_layers)
    ]  # fmt: skip
    ordered = cands.sort("rank")
    views = present_views(cands.columns)
    features = usher_feature_keys(cands.columns) if len(views) > 1 else []
    fields = list(FIELDS) + (list(USHER_FIELDS) if len(views) > 1 else [])
    select = [pl.col(f) if f in ordered.columns else pl.lit(None).alias(f) for f in fields]
    select += [pl.col(f"{layer}_score") for layer in layers]
    select += [
        pl.col(f"contrib_{layer}") if f"contrib_{layer}" in ordered.columns
        else pl.lit(None, dtype=pl.Float64).alias(f"contrib_{layer}")
        for layer in layers
    ]  # fmt: skip
    select += [pl.col(f"{USHER_VIEW.contrib_prefix}{f}") for f in features]
    n_fields = len(fields)
    table = ordered.select(select)
    # every float rounded by the one display rounding (usher_pipeline.display), column by column
    columns = [
        round_scores(s.to_list()) if s.dtype.is_float() else s.to_list()
        for s in table.iter_columns()
    ]
    full = table.select(table.columns[n_fields : n_fields + len(layers)]).rows()
    rows = [
        [*cells, _evidence_mask(scores, min_evidence_score)]
        for cells, scores in zip(zip(*columns, strict=True), full, strict=True)
    ]
    raw: dict[str, list[str]] = {}
    if breakdown:
        shown = ordered.head(max_rows)["gene_id"].to_list()
        label_index = {layer_label(layer): i for i, layer in enumerate(layers)}
        for gid in shown:
            entries = breakdown.get(gid)
            if not entries:
                continue
            texts = [""] * len(layers)
            for label, _score, _contrib, text in entries:
                if label in label_index:
                    texts[label_index[label]] = text or ""
            raw[gid] = texts
    rules = dict(tier_rules or {})
    usher = dict(usher_tier_rules or USHER_TIER_RULES)
    out = {
        "fields": fields,
        "layers": layers,
        "layer_labels": [layer_label(layer) for layer in layers],
        "evidence_layers": ev_layers,
        "min_evidence_score": min_evidence_score,
        "tier_order": list(TIER_ORDER),
        "tiers": {t: rules.get(t, "") for t in TIER_ORDER},
        "page_rows": page_rows,
        "rows": rows,
        "raw": raw,
        "views": [
            {"key": v.key, "short": v.key.capitalize(), "title": v.title, "question": v.question,
             "rank": v.rank, "tier": v.tier, "score": v.score}
            for v in views
        ],
    }  # fmt: skip
    if len(views) > 1:
        out["usher_features"] = features
        out["usher_feature_labels"] = [feature_words(f) for f in features]
        out["usher_tiers"] = {t: usher.get(t, "") for t in TIER_ORDER}
    return out


def embed_json(data: Any) -> str:
    """Compact JSON safe inside ``<script type="application/json">`` (no ``</`` sequence)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def tier_legend_html(tier_rules: Mapping[str, str], element_id: str = "tier-legend") -> str:
    """The tier legend: one line per tier, what it means and its thresholds."""
    items = "".join(
        f'<li><span class="tier {t}">{t}</span> {html.escape(tier_rules.get(t, ""))}</li>'
        for t in TIER_ORDER
    )
    return f'<ul class="legend" id="{element_id}">{items}</ul>'


def view_switch_html(views: Sequence[Mapping[str, Any]]) -> str:
    """The view switch of the table (radio buttons; the first view checked), '' for one view."""
    if len(views) < 2:
        return ""
    buttons = "".join(
        f'<label><input type="radio" name="view" value="{html.escape(v["key"])}"'
        f"{' checked' if i == 0 else ''}> {html.escape(v['title'])}</label>"
        for i, v in enumerate(views)
    )
    return f'<span id="view-switch" role="radiogroup" aria-label="view">View: {buttons}</span>'


def candidates_html(
    cands: pl.DataFrame,
    max_rows: int,
    breakdown: Breakdown | None = None,
    tier_rules: Mapping[str, str] | None = None,
    min_evidence_score: float = 0.2,
    evidence_layers: Sequence[str] | None = None,
    usher_tier_rules: Mapping[str, str] | None = None,
) -> str:
    """The page: legend, search and filter controls, and the table of all candidates.

    When the candidates carry the Usher view (``usher_*`` columns), a switch shows the table in
    either view (rank, tier, strongest evidence and default order follow it; the page opens in
    the view named by ``#view=usher`` in its address), both scores are sortable columns, and
    each breakdown lists the Usher view's sensory features.

    ``breakdown`` (gene_id → [(layer, sub-score, contribution, raw evidence text)], e.g. from
    :func:`usher_pipeline.explain.load_breakdowns`) supplies the raw evidence of the first
    ``max_rows`` candidates' per-layer breakdowns; the sub-scores and contributions of every
    gene come from the table's own ``<layer>_score`` / ``contrib_<layer>`` columns."""
    from .summary import tier_rules as default_rules

    rules = dict(tier_rules or default_rules(None))
    data = table_data(cands, max_rows, breakdown, rules, min_evidence_score, evidence_layers,
                      usher_tier_rules=usher_tier_rules)  # fmt: skip
    layer_opts = "".join(
        f'<option value="{html.escape(layer)}">{html.escape(layer_label(layer))}</option>'
        for layer in data["evidence_layers"]
    )
    views = data["views"]
    intro, legends, tiers_title = "", "", "Tiers"
    if len(views) > 1:
        tiers_title = f"Tiers of the {html.escape(views[0]['title'])}"
        intro = (
            "<p>Two views of the ranking: "
            + "; ".join(
                f"the <b>{html.escape(v['title'])}</b> ({html.escape(v['question'])})"
                for v in views
            )  # fmt: skip
            + ". Switch the view above the table: the rank, tier, strongest evidence and the"
            " order follow it; sort by either score by clicking its header. Usher score = cilia"
            " score &times; P(Usher-like | ciliary), the second learned from each gene's sensory"
            " evidence (log-odds per feature in its breakdown).</p>\n"
            f'<p id="view-question">{html.escape(views[0]["title"])}: '
            f"{html.escape(views[0]['question'])}</p>\n"
        )
        legends = (
            f"<h2>Tiers of the {html.escape(views[1]['title'])}</h2>\n"
            f"{tier_legend_html(data['usher_tiers'], 'usher-tier-legend')}\n"
        )
    tier_opts = "".join(f'<option value="{t}">{t}</option>' for t in TIER_ORDER)
    max_ev = max((r[FIELDS.index("evidence_count")] or 0 for r in data["rows"]), default=0)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>usher-pipeline: all candidate genes</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        f"<h1>All {cands.height} candidate genes</h1>\n"
        '<p><a href="index.html">&larr; summary (validation, tiers, top candidates)</a></p>\n'
        "<p>Ranked by score (known cilia / Usher genes are excluded: they are the training labels"
        " and positive controls). 'unknown' = no data in that layer (NULL), not zero. Click a"
        " column header to sort; expand a gene's breakdown (last column) for every layer's"
        " sub-score, contribution and raw evidence. The same list: candidates.tsv /"
        " candidates.parquet.</p>\n"
        f"{intro}<h2>{tiers_title}</h2>\n{tier_legend_html(rules)}\n{legends}"
        f'<div class="controls">{view_switch_html(views)}'
        '<label>Search <input id="search" type="search" placeholder="symbol, HGNC or Ensembl ID"'
        ' autocomplete="off"></label>'
        f'<label>Tier <select id="tier"><option value="">all</option>{tier_opts}</select></label>'
        '<label>Evidence in layer <select id="layer"><option value="">any</option>'
        f"{layer_opts}</select></label>"
        f'<label>Evidence layers &ge; <input id="min-evidence" type="number" min="0"'
        f' max="{max_ev}" value="0" style="width:4em"></label>'
        '<span id="count"></span></div>\n'
        "<noscript>This table needs JavaScript; the same list is in candidates.tsv.</noscript>\n"
        '<table class="sortable" id="candidates"><thead><tr></tr></thead><tbody></tbody></table>\n'
        '<button id="more" type="button">Show more</button>\n'
        '<script type="application/json" id="candidates-data">'
        f"{embed_json(data)}</script>\n"
        f"<script>{_SCRIPT}</script>\n</body></html>\n"
    )
