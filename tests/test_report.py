"""snakemake --report: a self-contained HTML report that really renders in a browser.

After the shared fixture run (.test/config/config.yaml, see e2e_fixtures.local_run), builds the
report, checks it needs nothing from the network, then drives headless Chromium like a user:
open the report (it opens on the validation verdict, the tiers and the top candidates), click
the "Results" category, click the view button of the per-gene candidate table, and read the
table out of the iframe it is shown in. The standalone pages of results/report/ are driven too:
the start page (index.html) shows the verdict and the tier counts; in the full candidate table
(candidates_table.html) typing a symbol into the search box leaves only matching rows and a
tier filter leaves only rows of that tier. Both pages switch between the cilia and the Usher view
(click the switch: the order becomes the other view's ranks), on a small two-view table built
here and, when the run's candidates carry the Usher view (usher_* columns), on the run's own
pages. Screenshots are kept in test-artifacts/ (gitignored).

Needs the Debian package chromium. Without it the browser test is skipped, unless
USHER_REQUIRE_BROWSER=1, where it fails.

The browser is driven with a minimal Chrome DevTools Protocol client over
--remote-debugging-pipe (Chromium reads NUL-terminated JSON commands on fd 3 and answers on
fd 4): no extra Python dependency, no TCP port.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import polars as pl
import pytest
from e2e_fixtures import ARTIFACTS, TEST_CONFIG_REL, describe, local_run, run_snakemake
from usher_pipeline.explain import layer_label
from usher_pipeline.html_table import candidates_html
from usher_pipeline.landing import landing_html
from usher_pipeline.summary import read_run_summary

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# ------------------------------------------------------------------------------- CDP client

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,1000",
]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page target."""

    def __init__(self, binary: str, timeout: float = 60):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="usher-chromium-")
        # our ends: write commands to w_cmd, read replies from r_out
        r_cmd, w_cmd = os.pipe()
        r_out, w_out = os.pipe()

        # bash puts our pipe ends on the descriptors 3 and 4 that Chromium expects
        self.proc = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$@" 3<&{r_cmd} 4>&{w_out}',
                "bash",
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=(r_cmd, w_out),
        )
        os.close(r_cmd)
        os.close(w_out)
        self._w = w_cmd
        self._r = r_out
        self._buf = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=True)

    # -- protocol ------------------------------------------------------------------------
    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._r], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise CDPError(f"Chromium closed the pipe (exit {self.proc.poll()}): {err[-2000:]}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    # -- page helpers --------------------------------------------------------------------
    def navigate(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._read_message(deadline))

    def evaluate(self, expression: str):
        res = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=True,
        )
        if "exceptionDetails" in res:
            raise CDPError(f"JS exception: {res['exceptionDetails']}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30, interval: float = 0.2):
        """Poll a JS expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise CDPError(f"timed out waiting for: {expression}")
            time.sleep(interval)

    def document(self) -> dict:
        """Full DOM tree, iframe documents included (pierce)."""
        return self.call("DOM.getDocument", {"depth": -1, "pierce": True}, session=True)["root"]

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (CDPError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def iter_nodes(node: dict):
    """Depth-first walk over a DOM.getDocument tree, entering iframe content documents."""
    yield node
    for child in node.get("children", []):
        yield from iter_nodes(child)
    if "contentDocument" in node:
        yield from iter_nodes(node["contentDocument"])


def frame_documents(root: dict) -> list[dict]:
    """Content documents of every iframe in the tree."""
    return [n["contentDocument"] for n in iter_nodes(root) if "contentDocument" in n]


def text_of(node: dict) -> str:
    return " ".join(
        n["nodeValue"].strip()
        for n in iter_nodes(node)
        if n.get("nodeType") == 3 and n.get("nodeValue", "").strip()
    )


# ------------------------------------------------------------------------------- tests

CATEGORIES = ("Results", "Plots", "Validation", "Reproducibility")
TABLE_RESULT = "candidates_table.html"
# attributes that would make the browser fetch something from elsewhere
EXTERNAL_REF = re.compile(
    r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*"
    r"[\"']?(?:https?:)?//",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        msg = "chromium not installed (apt-get install chromium)"
        if os.environ.get("USHER_REQUIRE_BROWSER") == "1":
            pytest.fail(msg + " [USHER_REQUIRE_BROWSER=1]")
        pytest.skip(msg)
    return binary


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = local_run()
    out = tmp_path_factory.mktemp("report") / "report.html"
    res = run_snakemake(
        ["--report", str(out), "--configfile", str(TEST_CONFIG_REL)], cwd=run.workdir, timeout=600
    )
    assert res.returncode == 0, describe(res)
    assert out.exists() and out.stat().st_size > 0, describe(res)
    return run, out


def _embedded_results(html: str) -> dict:
    """The report's `results` object: result path -> entry with a base64 data URI."""
    m = re.search(r'<script id="results">\s*var results = (\{.*?\});?\s*</script>', html, re.S)
    assert m, "results block not found in the report"
    return json.loads(m.group(1))


def _top_candidates(results_dir: Path, n: int = 5) -> list[str]:
    with open(results_dir / "candidates.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert rows, "candidates.tsv is empty"
    key = next(k for k in ("symbol", "gene_symbol", "hgnc_symbol") if k in rows[0])
    return [r[key] for r in rows[:n]]


def test_report_is_self_contained(report):
    run, out = report
    html = out.read_text(errors="replace")
    assert not EXTERNAL_REF.findall(html), EXTERNAL_REF.findall(html)[:5]
    results = _embedded_results(html)
    names = {Path(p).name for p in results}
    # every report() output of the workflow is embedded, with its caption and category
    for expected in (
        TABLE_RESULT,
        "index.html",
        "candidates.tsv",
        "score_distribution.png",
        "layer_contributions.png",
        "tier_breakdown.png",
        "metrics.tsv",
        "reproducibility_report.md",
    ):
        assert expected in names, sorted(names)
    for path, entry in results.items():
        assert entry["data_uri"].startswith("data:"), path
        assert entry.get("caption", "").strip(), f"{path} has no caption"
    categories = re.search(r'<script id="categories">(.*?)</script>', html, re.S).group(1)
    for cat in CATEGORIES:
        assert f'"{cat}"' in categories, cat
    # the embedded per-gene table itself loads nothing from the network either
    table_uri = next(e["data_uri"] for p, e in results.items() if p.endswith(TABLE_RESULT))
    table_html = base64.b64decode(table_uri.split(",", 1)[1]).decode()
    assert "<table" in table_html
    assert not EXTERNAL_REF.findall(table_html)


def test_report_shows_per_gene_table_in_headless_chromium(report, chromium):
    run, out = report
    top = _top_candidates(run.results)
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(chromium) as browser:
        browser.navigate(out.resolve().as_uri())
        browser.wait_for(
            "(() => { const a = document.querySelector('#app');"
            " return a && a.innerText.includes('Results'); })()"
        )
        menu_text = browser.evaluate("document.querySelector('#app').innerText")
        for cat in CATEGORIES:
            assert cat in menu_text, menu_text[:2000]
        browser.screenshot(ARTIFACTS / "report_main.png")

        # click the "Results" category in the menu, as a user would
        clicked = browser.evaluate(
            "(() => { const a = [...document.querySelectorAll('#app a')]"
            ".find(x => x.innerText.trim() === 'Results'); if (!a) return false;"
            " a.click(); return true; })()"
        )
        assert clicked, "no 'Results' menu entry"
        browser.wait_for(
            f"[...document.querySelectorAll('#app tr')].some(r => r.innerText.includes("
            f"'{TABLE_RESULT}'))"
        )
        # the eye button of the candidate-table row opens it in the content pane
        opened = browser.evaluate(
            "(() => { const row = [...document.querySelectorAll('#app tr')]"
            f".find(r => r.innerText.includes('{TABLE_RESULT}'));"
            " const b = row && row.querySelector('a[type=button]');"
            " if (!b) return false; b.click(); return true; })()"
        )
        assert opened, "no view button for the candidate table"
        browser.wait_for("!!document.querySelector('#app iframe')")

        deadline = time.monotonic() + 30
        while True:
            docs = frame_documents(browser.document())
            tables = [n for d in docs for n in iter_nodes(d) if n.get("nodeName") == "TABLE"]
            text = " ".join(text_of(d) for d in docs)
            rows = [n for t in tables for n in iter_nodes(t) if n.get("nodeName") == "TR"]
            # the symbols are in the page's embedded JSON at once; wait for the rows its script
            # renders too (under load the first snapshot can come before them)
            if tables and all(g in text for g in top) and len(rows) > len(top):
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"per-gene table not rendered: {len(tables)} tables, {len(rows)} rows, "
                    f"missing {[g for g in top if g not in text]}; text: {text[:1000]}"
                )
            time.sleep(0.5)
        rows = [n for t in tables for n in iter_nodes(t) if n.get("nodeName") == "TR"]
        assert len(rows) > len(top), len(rows)
        shot = browser.screenshot(ARTIFACTS / "report_candidates_table.png")
        assert shot.stat().st_size > 10_000
        external = [
            u
            for u in browser.requested_urls()
            if not u.startswith(("file:", "data:", "about:", "blob:"))
        ]
        assert not external, external


def test_report_table_expands_a_gene_breakdown_in_headless_chromium(report, chromium):
    """The candidate table of the run: expanding a gene's 'evidence' shows, per layer, its
    sub-score, contribution and raw evidence (read from the layer tables), offline."""
    run, _ = report
    page = run.results / "report" / "candidates_table.html"
    top = _top_candidates(run.results, 1)[0]
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(chromium) as browser:
        browser.navigate(page.resolve().as_uri())
        browser.wait_for("document.querySelectorAll('details').length > 0")
        opened = browser.evaluate(
            "(() => { const row = [...document.querySelectorAll('tr')]"
            f".find(r => r.innerText.includes('{top}') && r.querySelector('details'));"
            " if (!row) return false; const d = row.querySelector('details');"
            " d.open = true; d.scrollIntoView(); return true; })()"
        )
        assert opened, f"no expandable breakdown for {top}"
        text = browser.evaluate(
            "[...document.querySelectorAll('details')].find(d => d.open).innerText"
        )
        for layer in ("localization", "network", "ht_studies", "phylogeny", "expression"):
            assert layer_label(layer) in text, text[:2000]  # layer names in words
        # raw evidence, not only numbers: a column name of the layer tables and its value
        assert "phylo_n_ciliated" in text or "network_degree" in text, text[:2000]
        shot = browser.screenshot(ARTIFACTS / "report_gene_breakdown.png")
        assert shot.stat().st_size > 10_000
        external = [
            u
            for u in browser.requested_urls()
            if not u.startswith(("file:", "data:", "about:", "blob:"))
        ]
        assert not external, external


# ------------------------------------------------------------------------------- start page, table


def _candidate_rows(results_dir: Path) -> list[dict[str, str]]:
    with open(results_dir / "candidates.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _no_external_requests(browser: Browser) -> None:
    external = [
        u
        for u in browser.requested_urls()
        if not u.startswith(("file:", "data:", "about:", "blob:"))
    ]
    assert not external, external


def test_report_opens_on_the_answer_in_headless_chromium(report, chromium):
    """The first view of the Snakemake report is the start page: verdict, tiers, top genes."""
    run, out = report
    top = _top_candidates(run.results, 3)
    with Browser(chromium) as browser:
        browser.navigate(out.resolve().as_uri())
        text = browser.wait_for(
            "(() => { const a = document.querySelector('#app');"
            " return a && a.innerText.includes('Results at a glance') && a.innerText; })()"
        )
        assert "Validation: PASSED" in text, text[:3000]
        assert "cv_recall_mean" in text and "HIGH" in text and "MEDIUM" in text, text[:3000]
        assert all(g in text for g in top), (top, text[:3000])
        # the heading is on screen, not scrolled out of reach above the first view
        top_px = browser.evaluate(
            "(() => { const h = [...document.querySelectorAll('#app h1')]"
            ".find(x => x.innerText.includes('Results at a glance'));"
            " return h ? h.getBoundingClientRect().top : null; })()"
        )
        assert top_px is not None and 0 <= top_px < 300, top_px
        browser.screenshot(ARTIFACTS / "report_opens_on_results.png")
        _no_external_requests(browser)


def test_landing_page_shows_verdict_and_tier_counts_in_headless_chromium(report, chromium):
    run, _ = report
    page = run.results / "report" / "index.html"
    rows = _candidate_rows(run.results)
    expected = {t: sum(r["tier"] == t for r in rows) for t in ("HIGH", "MEDIUM", "LOW")}
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(chromium) as browser:
        browser.navigate(page.resolve().as_uri())
        verdict = browser.evaluate("document.getElementById('verdict').innerText")
        assert verdict.startswith("PASSED"), verdict
        gates = browser.evaluate(
            "[...document.querySelectorAll('#gates tbody tr')].map(r => [...r.cells]"
            ".map(c => c.innerText))"
        )
        assert gates and all(g[4] == "pass" for g in gates), gates
        assert any(g[0] == "cv_recall_mean" and g[3].startswith(">=") for g in gates), gates
        shown = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#tier-counts td[data-tier]')]"
            ".map(td => [td.dataset.tier, +td.innerText]))"
        )
        assert shown == expected, (shown, expected)
        meaning = browser.evaluate("document.getElementById('tier-counts').innerText")
        assert "score >=" in meaning and "evidence in >=" in meaning, meaning
        listed = browser.evaluate(
            "[...document.querySelectorAll('#top-candidates tbody tr')].map(r => r.cells[1].innerText)"
        )
        assert listed[:5] == [r["symbol"] for r in rows[:5]], listed
        href = browser.evaluate("document.getElementById('full-table').getAttribute('href')")
        assert (page.parent / href).is_file(), href
        shot = browser.screenshot(ARTIFACTS / "report_landing.png")
        assert shot.stat().st_size > 10_000
        _no_external_requests(browser)


_VISIBLE_ROWS = (
    "[...document.querySelectorAll('#candidates > tbody > tr')].map(r => ({"
    " symbol: r.cells[1].innerText, id: r.cells[2].innerText, tier: r.cells[3].innerText,"
    " gene: r.dataset.gene }))"
)


def test_full_table_search_in_headless_chromium(report, chromium):
    run, _ = report
    page = run.results / "report" / TABLE_RESULT
    rows = _candidate_rows(run.results)
    target = rows[2]["symbol"]
    expect = {r["symbol"] for r in rows if target.upper() in r["symbol"].upper()}
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(chromium) as browser:
        browser.navigate(page.resolve().as_uri())
        before = browser.wait_for(f"{_VISIBLE_ROWS}.length")
        assert before == len(rows)  # every candidate, not a capped top list
        browser.evaluate("document.getElementById('search').focus()")
        browser.call("Input.insertText", {"text": target}, session=True)
        visible = browser.wait_for(
            f"(() => {{ const v = {_VISIBLE_ROWS}; return v.length < {len(rows)} && v; }})()"
        )
        assert {v["symbol"] for v in visible} == expect, (target, visible)
        assert all(target.upper() in v["symbol"].upper() for v in visible), visible
        count = browser.evaluate("document.getElementById('count').innerText")
        assert count.startswith(f"Showing {len(expect)} of {len(expect)} matching"), count
        shot = browser.screenshot(ARTIFACTS / "report_table_search.png")
        assert shot.stat().st_size > 10_000
        # the breakdown of the found gene expands, with its raw evidence
        text = browser.evaluate(
            "(() => { const d = document.querySelector('#candidates > tbody > tr details');"
            " d.open = true; return d.innerText; })()"
        )
        assert "localization" in text and "Contribution" in text, text[:2000]
        _no_external_requests(browser)


def test_full_table_tier_filter_and_sort_in_headless_chromium(report, chromium):
    run, _ = report
    page = run.results / "report" / TABLE_RESULT
    rows = _candidate_rows(run.results)
    medium = [r["symbol"] for r in rows if r["tier"] == "MEDIUM"]
    assert medium and len(medium) < len(rows), "fixture needs MEDIUM and other tiers"
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(chromium) as browser:
        browser.navigate(page.resolve().as_uri())
        browser.wait_for(f"{_VISIBLE_ROWS}.length === {len(rows)}")
        legend = browser.evaluate("document.getElementById('tier-legend').innerText")
        assert "HIGH" in legend and "score >=" in legend, legend
        tip = browser.evaluate("document.querySelector('#candidates td.tier-cell').title")
        assert "score >=" in tip or "everything else" in tip, tip
        browser.evaluate(
            "(() => { const s = document.getElementById('tier'); s.value = 'MEDIUM';"
            " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )
        visible = browser.wait_for(
            f"(() => {{ const v = {_VISIBLE_ROWS}; return v.length < {len(rows)} && v; }})()"
        )
        assert {v["tier"] for v in visible} == {"MEDIUM"}, visible
        assert [v["symbol"] for v in visible] == medium  # rank order
        # sort by symbol (click its header): still only MEDIUM rows, now alphabetical
        browser.evaluate("document.querySelector('#candidates th[data-col=\"1\"]').click()")
        symbols = browser.evaluate(f"{_VISIBLE_ROWS}.map(v => v.symbol)")
        assert symbols == sorted(medium, key=str.lower) or symbols == sorted(medium), symbols
        shot = browser.screenshot(ARTIFACTS / "report_table_filter.png")
        assert shot.stat().st_size > 10_000
        _no_external_requests(browser)


# ------------------------------------------------------------------------------- the two views

_ROW_RANKS = (
    "[...document.querySelectorAll('#candidates > tbody > tr')].map(r => ({"
    " rank: +r.cells[0].innerText, symbol: r.cells[1].innerText, tier: r.cells[3].innerText }))"
)
_HEADERS = "[...document.querySelectorAll('#candidates thead th')].map(th => th.innerText)"
_CLICK_VIEW = (
    "(() => {{ const b = document.querySelector('input[name=view][value={key}]');"
    " if (!b) return false; b.click(); return true; }})()"
)
_CLICK_HEADER = (
    "(() => {{ const th = [...document.querySelectorAll('#candidates thead th')]"
    ".find(x => x.innerText === '{label}'); if (!th) return false; th.click(); return true; }})()"
)


def _two_view_candidates(n: int = 12) -> pl.DataFrame:
    """A small candidate table with both views (test values, not real data): GENE<k> has cilia
    rank k and Usher rank (5k mod 12) + 1, so the Usher view starts GENE12, GENE5, GENE10."""
    ks = list(range(1, n + 1))
    urank = [(5 * k) % n + 1 for k in ks]
    return pl.DataFrame(
        {
            "rank": ks,
            "gene_id": [f"HGNC:{900 + k}" for k in ks],
            "symbol": [f"GENE{k}" for k in ks],
            "ensembl_gene": [f"ENSG{k:011d}" for k in ks],
            "tier": ["HIGH" if k <= 2 else "MEDIUM" if k <= 6 else "LOW" for k in ks],
            "score": [round(1 - 0.05 * k, 2) for k in ks],
            "evidence_count": [3] * n,
            "pubmed_total": [10 * k for k in ks],
            "evidence_summary": ["network 0.5"] * n,
            "evidence_gaps": [""] * n,
            "network_score": [0.5] * n,
            "localization_score": [0.4] * n,
            "contrib_network": [0.3] * n,
            "contrib_localization": [0.1] * n,
            "usher_rank": urank,
            "usher_rank_all": urank,
            "usher_score": [round(1 - 0.05 * r, 2) for r in urank],
            "usher_tier": ["HIGH" if r <= 3 else "MEDIUM" if r <= 6 else "LOW" for r in urank],
            "usher_sensory_count": [k % 3 for k in ks],
            "usher_sensory_logodds": [0.1 * k for k in ks],
            "usher_contrib_photoreceptor": [0.1 * k for k in ks],
            "usher_contrib_hair_cell": [None if k % 2 == 0 else 0.05 for k in ks],
        }
    )


def _usher_order(rows: list[dict[str, str]]) -> list[str]:
    """Symbols in the Usher view's order: by usher_rank, unranked ones last in cilia order."""
    ranked = sorted((r for r in rows if r.get("usher_rank")), key=lambda r: int(r["usher_rank"]))
    rest = [r for r in rows if not r.get("usher_rank")]
    return [r["symbol"] for r in ranked + rest]


def _check_table_switch(browser: Browser, rows: list[dict[str, str]], shot: str) -> None:
    """The full table opens in the cilia view; clicking the Usher view re-ranks it by usher_rank
    (rank and tier columns become the Usher view's); clicking back restores the cilia order."""
    n = len(rows)
    cilia = [r["symbol"] for r in rows]  # candidates.tsv order: cilia rank
    usher = _usher_order(rows)
    assert cilia != usher, "fixture: the two views must order the genes differently"
    shown = browser.wait_for(f"(() => {{ const v = {_ROW_RANKS}; return v.length && v; }})()")
    assert [v["symbol"] for v in shown] == cilia[: len(shown)], shown
    assert browser.evaluate(_HEADERS)[:4] == ["Cilia rank", "Symbol", "HGNC ID", "Cilia tier"]
    assert browser.evaluate(_CLICK_VIEW.format(key="usher")), "no Usher view switch"
    shown = browser.wait_for(
        f"(() => {{ const v = {_ROW_RANKS}; return v.length && v[0].symbol === {usher[0]!r} && v; }})()"
    )
    assert [v["symbol"] for v in shown] == usher[: len(shown)], (usher, shown)
    by_symbol = {r["symbol"]: r for r in rows}
    assert [v["rank"] for v in shown] == [int(by_symbol[v["symbol"]]["usher_rank"])
                                          for v in shown]  # fmt: skip
    assert [v["tier"] for v in shown] == [by_symbol[v["symbol"]]["usher_tier"] for v in shown]
    assert browser.evaluate(_HEADERS)[:4] == ["Usher rank", "Symbol", "HGNC ID", "Usher tier"]
    question = browser.evaluate("document.getElementById('view-question').innerText")
    assert question.startswith("Usher view"), question
    browser.screenshot(ARTIFACTS / shot)
    # sort by either score (click its header; numbers sort high first)
    for label, key in (("Cilia score", "score"), ("Usher score", "usher_score")):
        assert browser.evaluate(_CLICK_HEADER.format(label=label)), label
        order = browser.evaluate(f"{_ROW_RANKS}.map(v => v.symbol)")
        # the page holds scores rounded once (usher_pipeline.display): ties among tiny scores
        from usher_pipeline.display import round_score

        scores = [round_score(float(by_symbol[s][key])) for s in order]
        assert scores == sorted(scores, reverse=True), (label, order)
    assert browser.evaluate(_CLICK_VIEW.format(key="cilia"))
    shown = browser.wait_for(
        f"(() => {{ const v = {_ROW_RANKS}; return v.length && v[0].symbol === {cilia[0]!r} && v; }})()"
    )
    assert [v["symbol"] for v in shown] == cilia[: min(n, len(shown))]


def _check_landing_switch(browser: Browser, rows: list[dict[str, str]], shot: str) -> None:
    """The start page shows the cilia view's top list; clicking the Usher view shows the Usher
    view's top list, in usher_rank order (the other panel hidden)."""
    visible = (
        "(() => {{ const t = document.getElementById('{table}');"
        " return t && t.offsetParent !== null; }})()"
    )
    symbols = "[...document.querySelectorAll('#{table} tbody tr')].map(r => r.cells[1].innerText)"
    assert browser.evaluate(visible.format(table="top-candidates"))
    assert not browser.evaluate(visible.format(table="top-usher"))
    cilia = browser.evaluate(symbols.format(table="top-candidates"))
    assert cilia == [r["symbol"] for r in rows[: len(cilia)]], cilia
    clicked = browser.evaluate(
        "(() => { const l = document.querySelector('label[for=view-usher]');"
        " if (!l) return false; l.click(); return true; })()"
    )
    assert clicked, "no Usher view switch on the start page"
    browser.wait_for(visible.format(table="top-usher"))
    assert not browser.evaluate(visible.format(table="top-candidates"))
    usher = browser.evaluate(symbols.format(table="top-usher"))
    assert usher and usher == _usher_order(rows)[: len(usher)], usher
    assert usher != cilia
    shot_path = browser.screenshot(ARTIFACTS / shot)
    assert shot_path.stat().st_size > 10_000
    href = browser.evaluate("document.querySelector('#panel-usher a.view-table').href")
    assert href.endswith("candidates_table.html#view=usher"), href


def _tsv_rows(cands: pl.DataFrame) -> list[dict[str, str]]:
    return [{k: "" if v is None else str(v) for k, v in r.items()}
            for r in cands.sort("rank").iter_rows(named=True)]  # fmt: skip


def test_view_switch_of_a_two_view_table_in_headless_chromium(chromium, tmp_path):
    """Both pages built from a small two-view table (no workflow run): the switch re-ranks."""
    cands = _two_view_candidates()
    (tmp_path / "report").mkdir()
    cands.write_parquet(tmp_path / "candidates.parquet")
    page = tmp_path / "report" / TABLE_RESULT
    page.write_text(candidates_html(cands, 5))
    index = tmp_path / "report" / "index.html"
    index.write_text(landing_html(read_run_summary(tmp_path, top_n=5)))
    rows = _tsv_rows(cands)
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(chromium) as browser:
        browser.navigate(page.resolve().as_uri())
        _check_table_switch(browser, rows, "table_switch_view_small.png")
        # the Usher view's tier filter, and its strongest sensory evidence in words
        browser.evaluate(_CLICK_VIEW.format(key="usher"))
        browser.evaluate(
            "(() => { const s = document.getElementById('tier'); s.value = 'HIGH';"
            " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )
        high = browser.wait_for(
            f"(() => {{ const v = {_ROW_RANKS}; return v.length < 12 && v; }})()"
        )
        assert [v["symbol"] for v in high] == ["GENE12", "GENE5", "GENE10"], high
        first = browser.evaluate("document.querySelector('#candidates > tbody > tr').innerText")
        assert "photoreceptor expression (retina rod/cone markers)" in first, first
        browser.navigate(index.resolve().as_uri())
        _check_landing_switch(browser, rows, "landing_switch_view_small.png")
        # the start page's link opens the table in the Usher view (#view=usher)
        browser.navigate(page.resolve().as_uri() + "#view=usher")
        shown = browser.wait_for(f"(() => {{ const v = {_ROW_RANKS}; return v.length && v; }})()")
        assert [v["symbol"] for v in shown[:3]] == ["GENE12", "GENE5", "GENE10"], shown
        _no_external_requests(browser)


def _run_has_usher_view(rows: list[dict[str, str]]) -> bool:
    """Whether the run's candidates carry the Usher view (its columns; older runs do not)."""
    return bool(rows) and {"usher_rank", "usher_tier", "usher_score"} <= set(rows[0])


def test_run_pages_switch_views_in_headless_chromium(report, chromium):
    """The run's own start page and full table switch between the views. The view-switch
    assertions need the Usher view in the run's candidates.tsv; without it the pages must have
    no switch (checked), and the test is skipped saying so."""
    run, _ = report
    rows = _candidate_rows(run.results)
    index = run.results / "report" / "index.html"
    table = run.results / "report" / TABLE_RESULT
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(chromium) as browser:
        if not _run_has_usher_view(rows):
            for page in (index, table):
                browser.navigate(page.resolve().as_uri())
                assert not browser.evaluate("!!document.querySelector('input[name=view]')")
            pytest.skip("the fixture run's candidates.tsv has no usher_* columns (no Usher view"
                        " yet): view switch not exercised on the run's pages")  # fmt: skip
        browser.navigate(table.resolve().as_uri())
        _check_table_switch(browser, rows, "report_table_switch_view.png")
        browser.navigate(index.resolve().as_uri())
        _check_landing_switch(browser, rows, "report_landing_switch_view.png")
        _no_external_requests(browser)
