"""The dashboard in a real headless Chromium: ``kgrec ui`` serves a small synthetic graph with a
tiny trained run and TransE embeddings; every page loads without an exception and shows its
data, a node is inspected and expanded, a library query returns rows, free Cypher is drawn as a
graph and a write is refused in plain words, and a user's recommendations and their path graph
render. A screenshot of each page is saved under ``tests/artifacts/ui`` (or
``$KGREC_UI_ARTIFACTS``).

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), driven by
Playwright through ``executable_path``: no browser is downloaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kg_ingest.synthetic import generate
from kg_store import embedded
from kgrec.settings import Settings
from tests.test_cli import KGREC, _env, kgrec

CHROMIUM = os.environ.get("KGREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("KGREC_UI_ARTIFACTS", Path(__file__).parent / "artifacts" / "ui"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--disable-dev-shm-usage",
]  # fmt: skip
TIMEOUT_MS = 45_000

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"kgrec ui exited with {proc.returncode}: {proc.stdout.read()}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the dashboard did not answer at {url} in {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """``kgrec ui`` on a synthetic graph with one tiny BPR-MF run and TransE embeddings written
    back: (base URL, graph stats)."""
    home = tmp_path_factory.mktemp("kgrec-ui")
    kgrec(home, "ingest", "synthetic", "--users", "60", "--videos", "40", "--seed", "1")
    kgrec(home, "train", "--model", "bprmf", "--epochs", "2", "--seed", "1", "--threads", "1",
          "--json")  # fmt: skip
    kgrec(home, "embed", "--model", "transe", "--dim", "16", "--epochs", "2", "--threads", "1",
          "--json")  # fmt: skip
    bench = home / "benchmarks"  # a benchmarks/recommend.py --json file for the Models page
    bench.mkdir()
    summary = [{"model": m, "seeds": [0, 1], "recall@20": {"mean": r, "std": 0.01},
                "ndcg@20": {"mean": r / 2, "std": 0.01}, "best_epoch": 10.0,
                "seconds_per_epoch": 1.0, "eval_seconds": 0.1, "peak_rss_mib": 300.0}
               for m, r in (("bprmf", 0.21), ("mmkgat", 0.25))]  # fmt: skip
    (bench / "recommend.json").write_text(
        json.dumps({"args": {"data": "../data/ml-100k"}, "summary": summary, "runs": []})
    )
    graph = generate(60, 40, seed=1).merged()  # what the ingest wrote
    stats = {"nodes": sum(len(n.frame) for n in graph.nodes),
             "relationships": sum(len(r.frame) for r in graph.rels)}  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [KGREC, "ui", "--port", str(port)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, stats
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        embedded.stop(Settings(home=home).store_dir)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    user_data = Path(os.environ.get("TMPDIR", "/tmp")) / f"kgrec-ui-chromium-{os.getpid()}"
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1800},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(user_data, ignore_errors=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    p = browser.new_page()
    p.set_default_timeout(TIMEOUT_MS)
    yield p
    p.close()


def _open(page: Any, url: str, marker: str) -> None:
    """Load a page and wait until ``marker`` shows and the script has finished running."""
    page.goto(url)
    page.get_by_text(marker, exact=False).first.wait_for()
    _settle(page)


def _settle(page: Any) -> None:
    """Wait until the app's script has finished its run (Streamlit marks its state)."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stApp]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'"
    )


def _no_exception(page: Any, name: str) -> None:
    _settle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    boxes = page.locator("[data-testid=stException]")
    assert boxes.count() == 0, f"{name}: {boxes.first.inner_text()}"
    assert "Traceback" not in page.locator("body").inner_text(), name


def _graph_drawn(page: Any, index: int = 0) -> None:
    """The vis-network canvas inside the graph component's iframe."""
    frame = page.frame_locator("iframe[title*=agraph]").nth(index)
    frame.locator("canvas").first.wait_for()


def test_every_page_loads_and_shows_its_data(server: tuple[str, dict[str, Any]], page: Any) -> None:
    url, stats = server
    _open(page, url, "Interactions over time")  # Overview
    # the metrics fill a moment after the marker shows: wait (retrying) for both values
    metrics = page.locator("[data-testid=stMetricValue]")
    sync_api.expect(metrics.nth(0)).to_have_text(f"{stats['nodes']:,}")
    sync_api.expect(metrics.nth(1)).to_have_text(f"{stats['relationships']:,}")
    # two bar charts, the degree histogram and the interactions over time
    page.locator("[data-testid=stVegaLiteChart]").nth(3).wait_for(state="attached")
    _no_exception(page, "overview")

    _open(page, f"{url}/explore", "relationship types:")
    _graph_drawn(page)
    caption = page.get_by_text("relationship types:").first.inner_text()
    m = re.search(r"(\d+) nodes, (\d+) relationships around User:(\S+) \(", caption)
    assert m and int(m.group(1)) > 1 and int(m.group(2)) >= int(m.group(1)) - 1, caption
    # inspect one of the user's videos, then expand it: its neighbourhood joins the graph
    page.get_by_label("node", exact=True).click()
    page.get_by_role("option", name=re.compile(r"^Video · ")).first.click()
    # the inspector shows the video
    page.get_by_text(re.compile(r"^Video\s+v\d+\s+· degree \d+")).first.wait_for()
    page.get_by_role("button", name="Expand").click()
    grown = page.get_by_text(re.compile(r"around User:\S+, Video:\S+ \(")).first
    grown.wait_for()
    n = re.search(r"(\d+) nodes", grown.inner_text())
    assert n and int(n.group(1)) > int(m.group(1)), grown.inner_text()
    _graph_drawn(page)
    _no_exception(page, "explore")

    _open(page, f"{url}/recommend", "the chosen one in red")
    body = page.locator("body").inner_text()
    assert re.search(r"Top 10 for user \S+", body), body[:500]
    assert "bprmf" in body
    _graph_drawn(page)
    sentence = page.locator("[data-testid=stAlert]").first.inner_text()
    assert re.match(r"(You|Users like you)\b", sentence.strip()), sentence
    _no_exception(page, "recommend")

    _open(page, f"{url}/models", "compare on")
    assert page.get_by_text(re.compile(r"^1 run\(s\) in ")).count() == 1
    tables = page.locator("[data-testid=stDataFrame]")
    # the grid fills its accessible table a moment after the script has finished: retry
    sync_api.expect(tables.nth(0)).to_contain_text("bprmf-kg-s1")  # the run
    bench = tables.nth(1)  # the benchmark comparison
    for text in ("ml-100k", "mmkgat", "0.25"):
        sync_api.expect(bench).to_contain_text(text)
    _no_exception(page, "models")

    _open(page, f"{url}/similar", "entities nearest to Video")
    nearest = page.get_by_text(re.compile(r"the \d+ Video entities nearest")).first.inner_text()
    assert re.match(r"the 10 Video entities nearest to Video v\d+", nearest), nearest
    _no_exception(page, "similar")
    print(f"screenshots in {ARTIFACTS}")


def test_query_page_library_and_own_cypher(server: tuple[str, dict[str, Any]], page: Any) -> None:
    url, _ = server
    _open(page, f"{url}/query", "Run query")
    _no_exception(page, "query")
    page.get_by_role("button", name="Run query").click()
    caption = page.get_by_text(re.compile(r"\d+ row\(s\) in \d+ ms")).first
    caption.wait_for()
    n = int(re.search(r"(\d+) row\(s\)", caption.inner_text()).group(1))  # type: ignore[union-attr]
    assert n == 20, caption.inner_text()  # also_watched's default limit: v0 has more
    page.get_by_role("button", name="Download CSV").wait_for()
    _no_exception(page, "query-library")

    page.get_by_role("tab", name="Your Cypher").click()
    box = page.get_by_label("Cypher", exact=True)
    box.fill("MATCH (u:User)-[r]->(v:Video) RETURN u, r, v LIMIT 20")
    page.get_by_role("button", name="Run Cypher").click()
    page.get_by_text("As a graph").wait_for()
    _graph_drawn(page)
    assert page.get_by_text(re.compile(r"your Cypher: 20 row\(s\) in")).count() == 1
    _no_exception(page, "query-graph")

    box.fill("MATCH (u:User) DETACH DELETE u")
    page.get_by_role("button", name="Run Cypher").click()
    refused = page.get_by_text("Not run: refused")
    refused.wait_for()
    assert "writes to the graph" in refused.inner_text()


PAGE_PATHS = [("overview", "Overview"), ("explore", "Explore"), ("query", "Query"),
              ("recommend", "Recommend"), ("models", "Models"), ("similar", "Similar")]  # fmt: skip


@pytest.mark.parametrize(("path", "heading"), [*PAGE_PATHS, ("", "Overview")])
def test_every_page_opens_at_its_own_url(
    server: tuple[str, dict[str, Any]], page: Any, path: str, heading: str
) -> None:
    """A page's URL opened directly (a bookmark, a shared link) shows that page, with no "Page
    not found" dialog over it; the bare URL opens the Overview, at its own path."""
    url, _ = server
    page.goto(f"{url}/{path}")
    page.locator("h1", has_text=re.compile(rf"^{heading}$")).first.wait_for()
    _settle(page)
    # the heading comes first: nothing is drawn above it (the script's stray strings would be)
    top = page.locator("[data-testid=stMainBlockContainer] [data-testid=stElementContainer]").first
    assert top.locator("h1", has_text=re.compile(rf"^{heading}$")).count() == 1, top.inner_text()
    # Streamlit sends "page not found" before it runs the fallback page: give it time to show
    page.wait_for_timeout(500)
    assert page.get_by_text("Page not found").count() == 0, path
    assert page.get_by_role("dialog").count() == 0, path
    own = f"/{path or 'overview'}"
    assert page.url.rstrip("/") == url + own
    link = page.locator("[data-testid=stSidebarNav] a", has_text=heading).first
    assert (link.get_attribute("href") or "").rstrip("/").endswith(own)  # the menu's link too
    _no_exception(page, f"url-{path or 'root'}")


def test_a_paths_cypher_runs_on_the_query_page(
    server: tuple[str, dict[str, Any]], page: Any
) -> None:
    """Recommend → "Show in Cypher" beside the path graph → "Run on the Query page": the Query
    page runs the handed-over statement and returns exactly the path's nodes."""
    from ui.graph import display_value

    url, _ = server
    _open(page, f"{url}/recommend", "the chosen one in red")
    # the table shows each item's whole first reason (a static table, not cut off)
    why = page.locator("[data-testid=stTable]").first.inner_text()  # every first reason
    # a path through the graph's own relationships (SIMILAR_* steps are the explainer's
    # nearest-neighbour links, in the graph only after `kgrec similar build`)
    options = page.locator("[data-testid=stRadio] [role=radiogroup] label")
    own = [j for j in range(options.count()) if "similar" not in options.nth(j).inner_text()]
    assert own, "no path of the first item runs through the graph's own relationships"
    options.nth(own[0]).click()
    _settle(page)
    sentence = page.locator("[data-testid=stAlert]").first.inner_text().strip()
    page.get_by_text("Show in Cypher").click()
    _settle(page)
    codes = page.locator("[data-testid=stCode]")
    codes.nth(1).wait_for()
    statement, params = codes.nth(0).inner_text(), json.loads(codes.nth(1).inner_text())
    assert statement.startswith("MATCH p = (n0:`User` {`id`: $k0})"), statement
    ids = [params[f"k{j}"] for j in range(len(params) - 1)]
    assert len(ids) >= 3 and params["forward"] and len(params["forward"]) == len(ids) - 1
    # item #1's first reason, whole, in the table's first row
    top_reason = options.nth(0).inner_text().rsplit("(score", 1)[0].strip()
    assert top_reason in page.locator("[data-testid=stTable] tbody tr").first.inner_text()
    assert sentence in why or own[0] > 0
    page.get_by_role("button", name="Run on the Query page").click()
    page.wait_for_url(re.compile(r"/query$"))
    caption = page.get_by_text(re.compile(r"the path from Recommend: \d+ row\(s\) in")).first
    try:
        caption.wait_for()
    except sync_api.TimeoutError:
        _no_exception(page, "query-from-recommend")  # an exception box says why
        raise AssertionError(page.locator("body").inner_text()[:2000]) from None
    assert caption.inner_text().startswith("the path from Recommend: 1 row(s)"), (
        caption.inner_text()
    )
    assert page.url.rstrip("/").endswith("/query")
    table = page.locator("[data-testid=stDataFrame]").first
    sync_api.expect(table).to_contain_text(display_value(ids))  # the same nodes, in order
    _graph_drawn(page)
    # the editor holds the statement and its parameters, to edit and run again
    assert page.get_by_label("Cypher", exact=True).input_value() == statement
    assert (
        json.loads(page.get_by_role("textbox", name="parameters (JSON object)").input_value())
        == params
    )
    _no_exception(page, "query-from-recommend")
