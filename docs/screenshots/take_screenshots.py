"""The README's screenshots, made anew from a real sweep: the report, ``/green/compare`` and MLflow's own UI.

    .venv/bin/python docs/screenshots/take_screenshots.py        # about 4 minutes on a 2-core VM

A small real sweep (torch, TensorFlow and ONNX from torch on MobileNetV2 at 32 px, batch 1, three repetitions,
short windows) into a fresh SQLite store under a temporary folder; ``mlflow server --app-name green-mlflow`` on
a free loopback port; Debian's Chromium (``make browser``) opens what the sweep printed and saves, in this folder:

- ``report.png``: the offline report (``comparison.html``, the parent run's ``report/`` artifact);
- ``compare_page.png``: ``/green/compare?parent=<the sweep>`` in the MLflow server;
- ``mlflow_runs_view.png``: MLflow's runs table at the printed link (the sweep's saved view: grouped, key metrics);
- ``mlflow_parent_run.png``: the sweep's parent run page, its description holding the answer.

The numbers in them are this VM's (CPU, energy estimated): they show what the pages look like, not a result.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the browser and server helpers live with the tests
    sys.path.insert(0, str(REPO))

from green_mlflow.tracking.store import LOCAL_UI  # noqa: E402
from tests.helpers.browser import chromium, mlflow_server  # noqa: E402
from tests.helpers.project import TINY_MEASURE, run_cli  # noqa: E402

HERE = Path(__file__).resolve().parent
SWEEP = [
    "-m", "runtime=torch,tf,onnx", "model=mobilenet_v2", "model.image_size=32", "batch_size=1", *TINY_MEASURE,
    "measure.repetitions=3",
]  # fmt: skip
MAX_HEIGHT_PX = 2400  # long pages are cut here: the top of each page is what the README shows


def shoot(driver, name: str, wait_for: str | None = None, timeout_s: float = 90) -> Path:
    """Wait until ``wait_for`` is on the page, then save the top of the page as ``<name>.png`` here."""
    deadline = time.monotonic() + timeout_s
    while wait_for and wait_for not in driver.find_element("tag name", "body").text:
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: {wait_for!r} did not appear on {driver.current_url}")
        time.sleep(0.5)
    time.sleep(1.0)  # charts and fonts settle
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height), 800), MAX_HEIGHT_PX))
    path = HERE / f"{name}.png"
    if not driver.save_screenshot(str(path)):
        raise SystemExit(f"no screenshot written to {path}")
    print(f"wrote {path.relative_to(REPO)}", flush=True)
    return path


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="green-screenshots-"))
    try:
        uri = f"sqlite:///{work / 'mlflow.db'}"
        print(f"sweep into {uri} …", flush=True)
        proc = run_cli(SWEEP, work, uri)
        out = proc.stdout + proc.stderr
        if proc.returncode != 0:
            print(out[-4000:])
            return 1
        runs_link = re.search(r"grouped by [^:]*: .* then open (\S+)", out)
        parent = re.search(r"green/compare\?parent=(\w+)", out)
        report = re.search(r"comparison report: (\S+)", out)
        if not (runs_link and parent and report):
            print(out[-4000:])
            raise SystemExit("the sweep did not print its report, its MLflow link or its comparison page")
        with mlflow_server(uri, work) as base, chromium() as driver:
            driver.get(Path(report.group(1)).as_uri())
            shoot(driver, "report", "What this study does not show")
            driver.get(f"{base}/green/compare?parent={parent.group(1)}")
            shoot(driver, "compare_page", "What this study does not show")
            driver.get(runs_link.group(1).replace(LOCAL_UI, base))
            shoot(driver, "mlflow_runs_view", "onnx (from torch)")
            experiment = re.search(r"#/experiments/(\w+)/", runs_link.group(1)).group(1)
            driver.get(f"{base}/#/experiments/{experiment}/runs/{parent.group(1)}?workflowType=machine_learning")
            shoot(driver, "mlflow_parent_run", "Which runtime?")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
