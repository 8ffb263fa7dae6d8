"""A real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) and a real
``mlflow server --app-name green-mlflow`` on a free loopback port, for the browser tests.

`make test` installs the browser (the Makefile's ``browser`` target); a missing browser is a failure,
not a skip, because CI must exercise it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.server import free_port

CHROMIUM = Path(os.environ.get("GREEN_MLFLOW_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("GREEN_MLFLOW_CHROMEDRIVER", "/usr/bin/chromedriver"))
# Without the background-networking switches Chromium keeps dialling Google's hosts, which hangs on a closed network.
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",  # root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)


@contextmanager
def chromium() -> Iterator:
    """A Selenium driver on the system Chromium with a fresh profile; quit and removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.exists():
            pytest.fail(f"{path} is missing: install Debian's {package} (make browser)")
    profile = tempfile.mkdtemp(prefix="green-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def save_screenshot(driver, path: Path) -> Path:
    """A full-page PNG under the test's folder, copied to $GREEN_MLFLOW_ARTIFACTS when that is set."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(int(height), 800), 8000))
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    if os.environ.get("GREEN_MLFLOW_ARTIFACTS"):
        target = Path(os.environ["GREEN_MLFLOW_ARTIFACTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)
    return path


@contextmanager
def mlflow_server(store_uri: str, workdir: Path, timeout_s: float = 90) -> Iterator[str]:
    """``mlflow server --app-name green-mlflow`` on a free port; yields its base URL, stops it afterwards.

    The test process's own tracking URI is pointed elsewhere, so the page can only find the runs by
    reading the store the server was started with.
    """
    port = free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'not-the-served-store.db'}")
    log_path = workdir / "mlflow-server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "server", "--app-name", "green-mlflow",
                "--backend-store-uri", store_uri, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            ],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not come up on {base}:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield base
    finally:
        # mlflow server runs uvicorn as a child: stop the whole session this test started, nothing else
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def go_offline(driver) -> None:
    """Cut the browser off the network (DevTools network emulation), so only inline content can render."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
    )
