"""The comparison view end to end, in a real headless Chromium: a real small sweep (torch and onnx, two
repetitions), a real ``mlflow server --app-name green-mlflow`` on loopback, and the offline report opened
with the browser's network switched off. Run strings carrying script payloads must render as text."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from green_mlflow.report.data import client_artifact_reader
from green_mlflow.tracking.store import LOCAL_UI
from green_mlflow.tracking.ui import ui_url
from green_mlflow.tracking.view import RUNTIME_TAG
from tests.helpers.browser import chromium, go_offline, mlflow_server, save_screenshot
from tests.helpers.project import TINY_MEASURE, require_env, run_cli
from tests.helpers.synthetic import Job, make_sweep

pytestmark = pytest.mark.slow

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
PAYLOAD = f"{SCRIPT}{IMG}"
NUMBER = r"\d+(\.\d+)?(e[+-]\d+)?"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict:
    """A real sweep (experiment green_mlflow) and a hostile synthetic sweep in one SQLite store, served by
    ``mlflow server --app-name green-mlflow``. The server starts while the sweep runs: both take a while."""
    require_env("torch"), require_env("onnx")
    workdir = tmp_path_factory.mktemp("browser")
    uri = f"sqlite:///{workdir / 'store' / 'mlflow.db'}"
    (workdir / "store").mkdir()
    client = MlflowClient(uri)
    client.search_experiments()  # creates the tables once, before two processes open the store
    overrides = ["-m", "runtime=torch,onnx", "model=mobilenet_v2", "batch_size=1", "model.image_size=32"]
    with ThreadPoolExecutor(1) as pool:
        sweep = pool.submit(run_cli, [*overrides, *TINY_MEASURE, "measure.repetitions=2"], workdir, uri)
        with mlflow_server(uri, workdir) as base:
            proc = sweep.result()
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            experiment = client.get_experiment_by_name("green_mlflow")
            parent = client.search_runs([experiment.experiment_id], "tags.`green.kind` = 'sweep'")[0]
            hostile = [
                Job(
                    PAYLOAD, IMG, model=PAYLOAD, provider=SCRIPT, repetition=i, energy_j=1.0 + i / 10,
                    run_name=PAYLOAD, trace_steps=5, extra_tags={"energy.gpu.detail": PAYLOAD, "energy.gpu.idle": PAYLOAD},
                )
                for i in range(2)
            ]  # fmt: skip
            hostile.append(
                Job("torch", "eager", model=PAYLOAD, provider=SCRIPT, energy_j=2.0, run_name=PAYLOAD, trace_steps=5)
            )
            hostile.append(Job("torch", "eager", model=PAYLOAD, status="FAILED", reason=PAYLOAD, run_name=PAYLOAD))
            xss_parent = make_sweep(client, f"xss {PAYLOAD}", hostile, pruned=[(PAYLOAD, PAYLOAD)], name=PAYLOAD)
            study_parent = make_sweep(client, "study", study_jobs(), name="study sweep")
            yield {
                "uri": uri, "client": client, "parent": parent, "xss_parent": xss_parent, "base": base,
                "study_parent": study_parent, "sweep_out": proc.stdout + proc.stderr,
            }  # fmt: skip


NOISE = [0.97, 1.0, 1.03, 0.99, 1.01, 0.985]


def study_jobs() -> list[Job]:
    """A small study with a known answer: onnx (from torch) 20 % below torch, mxnet equivalent to torch,
    two tf runs only (inconclusive), on cpu and (onnx) cuda."""
    out = []
    for runtime, source, mode, scale, provider, reps in (
        ("torch", None, "eager", 1.0, "cpu", 6), ("onnx", "torch", "ort_all", 0.8, "cpu", 6),
        ("mxnet", None, "hybrid", 1.002, "cpu", 6), ("tf", None, "function", 1.3, "cpu", 2),
        ("onnx", "tf", "ort_all", 0.9, "cpu", 2), ("onnx", "torch", "ort_all", 0.5, "cuda", 6),
    ):  # fmt: skip
        for i in range(reps):
            e = scale * NOISE[i]
            out.append(Job(runtime, mode, source=source, provider=provider, repetition=i, energy_j=e,
                           latency_ms=e * 10, estimated=False))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def report(store: dict, target: str, out: Path) -> Path:
    """``python -m green_mlflow.report`` for real, as a user runs it."""
    cmd = [sys.executable, "-m", "green_mlflow.report", target, "--tracking-uri", store["uri"], "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def series_rows(driver) -> dict[str, list[str]]:
    """Runtime label -> the texts of its row in the first group's table."""
    rows = driver.find_elements("css selector", "section.group table.series tr")
    cells = [[c.text for c in row.find_elements("css selector", "td")] for row in rows[1:]]
    return {row[0]: row for row in cells}


def headers(driver) -> list[str]:
    return [h.text for h in driver.find_elements("css selector", "section.group table.series tr th")]


def assert_charts_drawn(driver, at_least: int) -> None:
    sizes = driver.execute_script(
        "return [...document.querySelectorAll('svg.chart')].map(s => {const r = s.getBoundingClientRect();"
        " return [r.width, r.height, s.querySelectorAll('rect,circle,path').length];})"
    )
    assert len(sizes) >= at_least, sizes
    assert all(w > 100 and h > 50 and shapes > 0 for w, h, shapes in sizes), sizes


def test_page_in_the_mlflow_server_shows_the_runtimes_and_their_numbers(served, browser, tmp_path):
    store, server = served, served["base"]
    browser.get(f"{server}/green/compare?experiment=green_mlflow")
    assert "Which runtime?" in browser.find_element("tag name", "h1").text
    rows = series_rows(browser)
    assert set(rows) == {"torch", "onnx (from torch)"}
    head = headers(browser)
    latency = head.index("mean latency per batch (ms)")
    runs = store["client"].search_runs([store["parent"].info.experiment_id], "tags.`green.kind` = 'job'")
    estimated = all(r.data.tags.get("energy.cpu.method") == "estimated" for r in runs)
    energy = head.index(
        "net energy per sample — estimated (J)" if estimated else "net energy per sample (J)"
    )  # this VM has no RAPL: estimates, marked
    for row in rows.values():
        assert row[2] == "2 of 2 finished", row
        assert re.fullmatch(f"{NUMBER} ± {NUMBER}", row[latency]), row
        assert re.fullmatch(f"{'≈ ' if estimated else ''}{NUMBER} ± {NUMBER}{'est.' if estimated else ''}", row[energy])
        assert "cpu: " in row[-1], "the method of the energy figure"
    verdict = browser.find_element("css selector", "section.group .verdict").text
    assert "onnx (from torch)" in verdict and "torch" in verdict and "at batch 1" in verdict
    assert_charts_drawn(browser, at_least=3)
    h3 = [h.text for h in browser.find_elements("css selector", "section.group h3")]
    assert h3[:2] == ["Where the energy went, and utilisation", "Traces of chosen runs"], h3
    split = browser.find_elements("css selector", "section.group table")[1]
    columns = [th.text for th in split.find_elements("css selector", "th")]
    assert columns[1].startswith("CPU net") and "CPU % (process)" in columns, columns
    save_screenshot(browser, tmp_path / "comparison_page.png")

    browser.get(f"{server}/green/compare?parent={store['parent'].info.run_id}")
    assert set(series_rows(browser)) == {"torch", "onnx (from torch)"}
    with urllib.request.urlopen(f"{server}/", timeout=10) as ui:
        assert ui.status == 200 and "<title>MLflow</title>" in ui.read().decode(), "MLflow's own UI is still served"


def test_offline_report_draws_its_charts_with_the_network_off(served, browser, tmp_path):
    store, server = served, served["base"]
    parent = store["parent"].info.run_id
    path = report(store, parent, tmp_path / "report.html")
    query = urllib.parse.urlencode({"path": "report/comparison.html", "run_uuid": parent})
    with urllib.request.urlopen(f"{server}/get-artifact?{query}", timeout=10) as artifact:
        assert artifact.read() == path.read_bytes(), "the artifact viewer previews the same file"
    go_offline(browser)
    try:
        with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):
            browser.get(f"{server}/green/compare")
        browser.get(path.as_uri())
        assert set(series_rows(browser)) == {"torch", "onnx (from torch)"}
        assert_charts_drawn(browser, at_least=3)
        assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
        assert browser.find_element("id", "green-download").get_attribute("href").startswith("blob:"), (
            "the inline script ran"
        )
        save_screenshot(browser, tmp_path / "offline_report.png")
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                 "downloadThroughput": -1, "uploadThroughput": -1})  # fmt: skip


def assert_payloads_are_text(browser) -> None:
    assert browser.execute_script("return window.__xss") is None, "an injected script ran"
    text = browser.find_element("tag name", "body").text
    assert SCRIPT in text and IMG in text, "the payloads show as text"
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    scripts = browser.execute_script("return [...document.scripts].map(s => s.id || s.textContent.slice(0, 30))")
    assert len(scripts) == 2 and scripts[0] == "green-data", scripts
    data = browser.execute_script("return JSON.parse(document.getElementById('green-data').textContent)")
    assert data["groups"][0]["model"] == PAYLOAD, "a run string in the JSON blob stays inside it"
    titles = browser.execute_script(
        "return [...document.querySelectorAll('td.methods span[title]')].map(s => s.getAttribute('title'))"
    )
    assert any(PAYLOAD in t for t in titles), "an attribute keeps the payload as text"


def test_run_strings_with_script_payloads_render_as_text_in_page_and_report(served, browser, tmp_path):
    store, server = served, served["base"]
    browser.get(f"{server}/green/compare?parent={store['xss_parent']}")
    assert_payloads_are_text(browser)
    save_screenshot(browser, tmp_path / "xss_page.png")
    browser.get(f"{server}/green/compare?experiment={urllib.parse.quote(f'xss {PAYLOAD}')}")
    assert_payloads_are_text(browser)
    assert f"experiment xss {PAYLOAD}" in browser.find_element("tag name", "h1").text
    browser.get(f"{server}/green/compare")
    assert browser.execute_script("return window.__xss") is None
    assert f"xss {PAYLOAD}" in browser.find_element("tag name", "body").text, "the index lists it as text"

    browser.get(report(store, store["xss_parent"], tmp_path / "xss.html").as_uri())
    assert_payloads_are_text(browser)
    save_screenshot(browser, tmp_path / "xss_report.png")


def assert_study_sections(browser) -> None:
    for section in ("overview", "findings", "comparisons", "conversions", "providers", "energy-time"):
        assert browser.find_elements("id", section), f"section {section} is missing"
    cells = [c.text for c in browser.find_elements("css selector", "#overview table.heat td")]
    assert "best" in cells and any(re.fullmatch(r"×\d\.\d\d", c) for c in cells), cells
    findings = [li.text for li in browser.find_elements("css selector", "#findings li")]
    assert any(
        t.startswith("onnx (from torch) has 20 % less net energy per sample than torch")
        and "repeated CI" in t
        and "n = 6 vs 6" in t
        and t.endswith("(mobilenet_v2 at batch 1).")
        for t in findings
    ), findings
    # mxnet is 0.2 % above torch, 6 runs a side at 2 % noise: not equivalent yet at 1/11 of 5 %, and never "different"
    assert any(t.startswith("Open: mxnet is 0.2 % above torch") for t in findings), findings
    assert any(t.startswith("Open: onnx (from tf)") for t in findings), findings
    guarantee = browser.find_element("css selector", "#comparisons p").text
    assert guarantee.startswith("Guarantee: at most 5% chance of any false verdict among the"), guarantee
    rows = [
        [c.text for c in r.find_elements("css selector", "td")]
        for r in browser.find_elements("css selector", "#conversions tr")[1:]
    ]
    verdicts = {(r[4], r[5]): r[-1] for r in rows}
    assert verdicts[("onnx (from torch)", "net energy per sample")] == "lower"
    assert verdicts[("onnx (from tf)", "net energy per sample")] == "open"


def test_the_studys_findings_and_tables_on_the_page_and_in_the_offline_report(served, browser, tmp_path):
    store, server = served, served["base"]
    browser.get(f"{server}/green/compare?parent={store['study_parent']}")
    assert_study_sections(browser)
    save_screenshot(browser, tmp_path / "study_page.png")
    for section in ("findings", "conversions"):
        element = browser.find_element("id", section)
        assert element.screenshot(str(tmp_path / f"study_{section}.png"))
        if os.environ.get("GREEN_MLFLOW_ARTIFACTS"):
            shutil.copy(tmp_path / f"study_{section}.png", Path(os.environ["GREEN_MLFLOW_ARTIFACTS"]))
    browser.get(f"{server}/green/compare?parent={store['study_parent']}&margin=0.0001")
    comparisons = [r.text for r in browser.find_elements("css selector", "#comparisons tr")]
    assert "±0.01 %" in browser.find_element("css selector", "#comparisons p").text
    assert not any(t.endswith("equivalent") for t in comparisons), "a margin of 0.01 % makes nothing equivalent"
    path = report(store, store["study_parent"], tmp_path / "study.html")
    findings = json.loads((tmp_path / "study_findings.json").read_text())
    browser.get(path.as_uri())
    assert_study_sections(browser)
    shown = [li.text for li in browser.find_elements("css selector", "#findings li")]
    assert shown == [f["text"] for f in findings["findings"]], "the page says what findings.json holds"


def top_lines(store: dict) -> list[str]:
    """The real sweep's answer as its own findings.json (written by the sweep, an artifact of its parent) says it."""
    document = json.loads(client_artifact_reader(store["client"])(store["parent"], "report/findings.json"))
    lines = [f["text"] for f in document["findings"] if f["kind"] == "group"]
    assert lines, document["findings"]
    return lines


def assert_captions_name_what_is_drawn(browser) -> None:
    """Each chart's caption names only what the chart draws: the dashed Pareto line, the repetitions' dots."""
    charts = browser.execute_script(
        "return [...document.querySelectorAll('svg.chart')].map(s => [s.textContent,"
        " s.querySelectorAll('path.front').length, s.querySelectorAll('circle.rep').length])"
    )
    assert charts
    for text, fronts, dots in charts:
        assert ("dashed line" in text) == (fronts > 0), text
        if "each repetition" in text:
            assert dots > 0, text


def test_a_real_sweeps_answer_is_the_same_in_findings_the_page_and_the_report(served, browser, tmp_path):
    store, server = served, served["base"]
    tops = top_lines(store)
    parent = store["parent"].info.run_id
    runs = store["client"].search_runs([store["parent"].info.experiment_id], "tags.`green.kind` = 'job'")
    estimated = {
        r.data.tags.get("energy.cpu.detail", "") for r in runs if r.data.tags.get("energy.cpu.method") == "estimated"
    }
    for where in (f"{server}/green/compare?parent={parent}", report(store, parent, tmp_path / "real.html").as_uri()):
        browser.get(where)
        shown = [p.text for p in browser.find_elements("css selector", "section.group p.verdict")]
        assert shown == tops, (where, shown, tops)
        limits = browser.find_element("id", "limits").text
        assert limits.startswith("What this study does not show"), limits
        for detail in estimated:  # the estimate's formula and constants, in the visible text
            assert f"CPU energy is estimated, not measured: {detail.removeprefix('estimated: ')}" in limits, limits
        assert "Idle power" in limits
        assert_captions_name_what_is_drawn(browser)
    save_screenshot(browser, tmp_path / "real_sweep_report.png")


def test_the_heat_map_gives_different_ratios_different_colours(served, browser):
    browser.get(f"{served['base']}/green/compare?parent={served['study_parent']}")
    cells = browser.execute_script(
        "return [...document.querySelectorAll('#overview table.heat td')].filter(td => td.textContent.startsWith('×'))"
        ".map(td => [td.textContent, getComputedStyle(td).backgroundColor])"
    )
    colours = {}
    for text, colour in cells:
        colours.setdefault(colour, set()).add(text)
    ratios = {text for text, _ in cells}
    assert len(ratios) >= 3, cells
    assert len(colours) == len(ratios), f"cells with different ratios share a colour: {colours}"
    assert_captions_name_what_is_drawn(browser)


def test_mlflows_own_ui_at_the_printed_link_groups_the_runs_by_runtime_and_shows_the_answer(served, browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    store, server = served, served["base"]
    printed = re.search(r"grouped by [^:]*: .* then open (\S+)", store["sweep_out"])
    assert printed, store["sweep_out"][-2000:]
    link = printed.group(1)
    assert link.startswith(LOCAL_UI) and "viewStateShareKey=" in link, link
    browser.get(link.replace(LOCAL_UI, server))  # the same address on the test's server
    body = lambda d: d.find_element("tag name", "body").text  # noqa: E731
    WebDriverWait(browser, 90).until(lambda d: "onnx (from torch)" in body(d))
    text = body(browser)
    runs = store["client"].search_runs([store["parent"].info.experiment_id], "tags.`green.kind` = 'job'")
    metric = next(
        m for m in ("energy_per_sample_net_j", "energy_per_sample_net_estimated_j") if m in runs[0].data.metrics
    )
    assert metric in text and "latency_p50_ms" in text, "the key metrics are columns of the view"
    for runtime in ("torch", "onnx (from torch)"):
        assert f"{RUNTIME_TAG}: {runtime}" in text or runtime in text, text[:3000]
    groups = browser.execute_script(
        "return [...document.querySelectorAll('[role=row]')].map(r => r.textContent).filter(t => t.includes('green.runtime'))"
    )
    assert len(groups) == 2, groups  # one group row per runtime (one model, batch size, provider and mode)
    save_screenshot(browser, tmp_path / "mlflow_view.png")

    parent = store["parent"]
    browser.get(ui_url(server, parent.info.experiment_id, parent.info.run_id))
    WebDriverWait(browser, 90).until(lambda d: "Which runtime?" in body(d))
    assert top_lines(store)[0][:80] in body(browser).replace("\n", " "), "the description holds the top line"
    save_screenshot(browser, tmp_path / "mlflow_parent_run.png")
