"""Notebook 01 in JupyterLab, in a real headless Chromium (Debian's package), driven by Playwright.

JupyterLab serves a copy of the notebook on a loopback port; the test runs every cell from the Run
menu, as a learner would, then checks the rendered result views and saves screenshots under
tests/out/browser/.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import IN_CI

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "out", "browser")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]


def _need(condition, what):
    if not condition:
        if IN_CI:
            pytest.fail(f"CI must run the browser test, but {what}")
        pytest.skip(what)


# Opened as saved and rendered, not run again (``_rendered_page``): nbval runs them.
RENDERED = ("07_cold_starts.ipynb", "08_security.ipynb", "09_observability.ipynb", "10_workflows.ipynb")
NOTEBOOKS = ("01_first_function.ipynb", "04_aws_inside.ipynb", "05_events_and_triggers.ipynb",
             "06_error_handling.ipynb", "07_cold_starts.ipynb", "08_security.ipynb", "09_observability.ipynb",
             "10_workflows.ipynb")


def _run_all(page, base, token, name, shot):
    """Open ``name`` in JupyterLab and Run > Run All Cells, as a learner would; returns when the last
    cell (``%lambda cleanup``) has answered."""
    page.goto(f"{base}/lab/tree/{name}?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    first_prompt = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").first
    _dismiss_dialogs(page, shot)
    for attempt in range(3):
        # A freshly opened JupyterLab can swallow the first click while it settles: check that
        # the first cell started (its prompt shows [*] or [1]) and try again if not.
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function("e => /\\[(\\*|\\d+)\\]/.test(e.textContent)", arg=first_prompt.element_handle(),
                                   timeout=20_000)
            break
        except Exception:
            page.keyboard.press("Escape")
    else:
        page.screenshot(path=os.path.join(OUT, f"{shot}_not_started.png"), full_page=True)
        pytest.fail("Run All Cells did not start the notebook")
    last_cell = page.locator(".jp-Notebook .jp-CodeCell").last
    try:
        last_cell.locator(".jp-OutputArea-output", has_text="every environment stopped").wait_for(timeout=240_000)
    except Exception:
        page.screenshot(path=os.path.join(OUT, f"{shot}_failed.png"), full_page=True)
        raise
    page.screenshot(path=os.path.join(OUT, f"{shot}_end.png"))


@contextlib.contextmanager
def _notebook_page(jupyterlab, name, shot):
    """A Chromium page on which ``name`` has been run from top to bottom (see ``_run_all``)."""
    from playwright.sync_api import sync_playwright
    base, token = jupyterlab
    os.makedirs(OUT, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            _run_all(page, base, token, name, shot)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def _rendered_page(jupyterlab, name, shot):
    """A Chromium page on which ``name`` is open as saved, its outputs rendered by JupyterLab (not run
    again: nbval runs every notebook headless and compares these very outputs). For the longer
    notebooks, where running them twice would cost the suite minutes."""
    from playwright.sync_api import sync_playwright
    base, token = jupyterlab
    os.makedirs(OUT, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{name}?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            _dismiss_dialogs(page, shot)
            # Windowing is off (the fixture's settings): every cell's saved outputs are drawn.
            page.wait_for_selector(".jp-OutputArea-output", timeout=60_000)
            page.screenshot(path=os.path.join(OUT, f"{shot}_end.png"))
            yield page
        finally:
            browser.close()


def _dismiss_dialogs(page, shot):
    """A freshly started JupyterLab may open a modal dialog of its own (a kernel to select, a
    workspace question) that takes every click: accept its default, as a learner would, and keep a
    screenshot of it."""
    for index in range(3):
        dialog = page.locator(".jp-Dialog")
        try:
            dialog.first.wait_for(timeout=2_000)
        except Exception:
            return
        page.screenshot(path=os.path.join(OUT, f"{shot}_dialog_{index}.png"))
        accept = dialog.locator(".jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Escape")
        time.sleep(0.5)


@pytest.fixture
def jupyterlab(tmp_path, runtime_image):
    _need(CHROMIUM, "no Chromium is installed (apt-get install chromium)")
    # A copy without outputs: everything the test sees was produced by this run.
    import nbformat
    for name in NOTEBOOKS:
        nb = nbformat.read(os.path.join(ROOT, "notebooks", name), as_version=4)
        if name not in RENDERED:
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, str(tmp_path / name))
    # Settings of this server only: every cell stays rendered (no windowing), and no news prompt.
    settings = tmp_path / "settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}')
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "lambdalab-browser-test"
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_notebook_01_runs_in_jupyterlab(jupyterlab):
    with _notebook_page(jupyterlab, "01_first_function.ipynb", "notebook01") as page:

        views = page.locator(".lambdalab-result")
        assert views.count() >= 5
        hello = views.first
        hello.scroll_into_view_if_needed()
        assert "λ hello" in hello.inner_text()
        assert "cold start" in hello.locator(".ll-badge").first.inner_text()
        assert hello.get_attribute("data-status") == "success"
        assert '"greeting": "hello Ada"' in hello.locator(".ll-payload").inner_text()
        metrics = hello.locator("table.ll-metrics").inner_text()
        for label in ("Init duration", "Duration", "Billed duration", "Max memory used", "Cost"):
            assert label in metrics
        # The badge is drawn as a badge: a coloured box with white text, not bare text.
        style = hello.locator(".ll-badge").first.evaluate(
            "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
        assert style[0] not in ("rgba(0, 0, 0, 0)", "transparent") and style[1] == "rgb(255, 255, 255)"
        assert hello.bounding_box()["width"] > 300
        hello.screenshot(path=os.path.join(OUT, "notebook01_hello_result.png"))
        # The log folds open; the REPORT line is there.
        hello.locator("details.ll-logs summary").click()
        assert "REPORT RequestId:" in hello.locator("details.ll-logs pre").inner_text()
        timeout_view = page.locator(".lambdalab-result[data-status='timeout']").first
        assert "Sandbox.Timedout" in timeout_view.inner_text()
        timeout_view.screenshot(path=os.path.join(OUT, "notebook01_timeout_result.png"))
        # The --raise cell shows the function's own traceback, as an error output.
        error_output = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                                    has_text="LambdaFunctionError").or_(
            page.locator(".jp-RenderedText", has_text="Lambda function 'divide' failed"))
        assert error_output.count() >= 1


def test_notebook_04_runs_in_jupyterlab(jupyterlab):
    """AWS inside the lab, as a learner runs it: the S3-to-DynamoDB function's result view, the retry
    timeline plot and the dead-letter queue's message all render."""
    with _notebook_page(jupyterlab, "04_aws_inside.ipynb", "notebook04") as page:
        indexer = page.locator(".lambdalab-result").first
        indexer.scroll_into_view_if_needed()
        assert "λ indexer" in indexer.inner_text()
        assert indexer.get_attribute("data-status") == "success"
        assert '"indexed": "notes/hello world.txt"' in indexer.locator(".ll-payload").inner_text()
        indexer.screenshot(path=os.path.join(OUT, "notebook04_indexer_result.png"))
        plot = page.locator(".jp-OutputArea-output img").first
        plot.scroll_into_view_if_needed()
        assert plot.bounding_box()["width"] > 300
        plot.screenshot(path=os.path.join(OUT, "notebook04_retry_timeline.png"))
        assert page.locator(".jp-OutputArea-output", has_text="payment provider unreachable for order 7").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="RetriesExhausted").count() >= 1
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                              has_text="Traceback")
        assert errors.count() == 0


def _no_tracebacks(page):
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                          has_text="Traceback")
    assert errors.count() == 0


def test_notebook_06_runs_in_jupyterlab(jupyterlab):
    """Error handling, as a learner runs it: the retry timeline plot, the dead-letter messages with
    Lambda's attributes, the recursive loop stopped at 16 and the summary table render."""
    with _notebook_page(jupyterlab, "06_error_handling.ipynb", "notebook06") as page:
        plot = page.locator(".jp-OutputArea-output img").first
        plot.scroll_into_view_if_needed()
        assert plot.bounding_box()["width"] > 300
        plot.screenshot(path=os.path.join(OUT, "notebook06_retry_timeline.png"))
        assert page.locator(".jp-OutputArea-output", has_text="RetriesExhausted").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="recursion_stopped").count() + \
            page.locator(".jp-OutputArea-output", has_text="'looper': 1").count() >= 1
        _no_tracebacks(page)


def test_notebook_07_runs_in_jupyterlab(jupyterlab):
    """Cold starts, as JupyterLab shows it: the INIT plots, the keep-alive and provisioned concurrency
    lines, the cut 10-second INIT and the custom runtime render."""
    with _rendered_page(jupyterlab, "07_cold_starts.ipynb", "notebook07") as page:
        plot = page.locator(".jp-OutputArea-output img").first
        plot.scroll_into_view_if_needed()
        assert plot.bounding_box()["width"] > 300
        plot.screenshot(path=os.path.join(OUT, "notebook07_init_by_package.png"))
        assert page.locator(".jp-OutputArea-output", has_text="provisioned-concurrency").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="Status: timeout").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="provided.al2023").count() >= 1
        _no_tracebacks(page)


def test_notebook_08_runs_in_jupyterlab(jupyterlab):
    """Security, as JupyterLab shows it: the denied PutItem with AWS's message, the policy proposed from
    use, the secret read through the extension and the policy playground."""
    with _rendered_page(jupyterlab, "08_security.ipynb", "notebook08") as page:
        assert page.locator(".jp-OutputArea-output", has_text="is not authorized to perform").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="AllowDynamodb").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="v2-secret").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="Policy playground").count() >= 1
        _no_tracebacks(page)


def test_notebook_09_runs_in_jupyterlab(jupyterlab):
    """Observability, as JupyterLab shows it: filtered logs, the lab against moto's matching, the
    metrics plot and the dashboard."""
    with _rendered_page(jupyterlab, "09_observability.ipynb", "notebook09") as page:
        assert page.locator(".jp-OutputArea-output", has_text="card declined").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="lab (AWS rules)").count() >= 1
        plot = page.locator(".jp-OutputArea-output img").first
        plot.scroll_into_view_if_needed()
        assert plot.bounding_box()["width"] > 300
        plot.screenshot(path=os.path.join(OUT, "notebook09_metrics.png"))
        _no_tracebacks(page)


def test_notebook_10_runs_in_jupyterlab(jupyterlab):
    """Workflows, as JupyterLab shows it: the state machine's diagram coloured after a run, the
    timeline, and the order that succeeded and the one whose payment failed."""
    with _rendered_page(jupyterlab, "10_workflows.ipynb", "notebook10") as page:
        plot = page.locator(".jp-OutputArea-output img").first
        plot.scroll_into_view_if_needed()
        assert plot.bounding_box()["width"] > 300
        plot.screenshot(path=os.path.join(OUT, "notebook10_diagram.png"))
        assert page.locator(".jp-OutputArea-output img").count() >= 3
        assert page.locator(".jp-OutputArea-output", has_text="TRK-A-1001").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="PaymentFailed").count() >= 1
        _no_tracebacks(page)


def test_notebook_05_runs_in_jupyterlab(jupyterlab):
    """Events and triggers, as a learner runs it: the S3 pipeline, the batching explorer's static
    table, the stream's iterator-age plot and the HTTP endpoint's answer render."""
    with _notebook_page(jupyterlab, "05_events_and_triggers.ipynb", "notebook05") as page:
        assert page.locator(".jp-OutputArea-output", has_text="field+notes.txt").count() >= 1
        assert page.locator(".jp-OutputArea-output", has_text="RetryAttemptsExhausted").count() >= 1
        plot = page.locator(".jp-OutputArea-output img").first
        plot.scroll_into_view_if_needed()
        assert plot.bounding_box()["width"] > 300
        plot.screenshot(path=os.path.join(OUT, "notebook05_iterator_age.png"))
        sliders = page.locator(".widget-slider")
        assert sliders.count() >= 4          # the batching explorer's controls rendered as widgets
        _no_tracebacks(page)
