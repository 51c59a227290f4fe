"""The landing service's pages in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
a council signs in, uploads a synthetic return with the progress bar, and reads its data-quality report;
a refused file shows its problems; the upload form works without JavaScript; no page breaks its content
security policy.

Screenshots are kept in test-artifacts/browser/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from support import services_required
from support.landing import PASSWORD, make_return
from support.landing_server import LandingServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("ASCLD_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def _missing(message: str) -> None:
    if services_required():
        pytest.fail(message + " (required: CI=true or ASCLD_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _missing(f"Debian chromium not found at {CHROMIUM}; apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (the Python package) is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    s = LandingServer(
        root,
        f"sqlite:///{root / 'landing.sqlite'}",
        {"council_a": ("council_submitter", "101"), "processor": ("processor_operator", None)},
    )
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_files")
    good = make_return(root / "q2_2025_council_101.csv", 3000, la_code="101", seed=11)
    head, rest = good.read_bytes().split(b"\r\n", 1)
    bad = root / "q2_wrong_header.csv"
    bad.write_bytes(head.replace(b"Event Type", b"EventType") + b"\r\n" + rest)
    return good, bad


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000
    return path


def _new_page(browser, server, console: list[str], javascript: bool = True):
    context = browser.new_context(java_script_enabled=javascript, base_url=server.url)
    page = context.new_page()
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(str(e)))
    return page


def _sign_in(page, user: str = "council_a") -> None:
    page.goto("/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/(submissions|overview)$"))


def _labels_ok(page) -> None:
    """Every visible form control has a label, the page has a language and one h1."""
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('input:not([type=hidden]), select')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.name || el.id)""")
    assert unlabeled == []
    assert page.evaluate("document.documentElement.lang") == "en-GB"
    assert page.locator("h1").count() == 1


def test_council_signs_in_uploads_and_reads_the_report(browser, server, files):
    good, _ = files
    console: list[str] = []
    page = _new_page(browser, server, console)
    _sign_in(page)
    _shot(page, "01-submissions-empty")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Upload a return").click()
    page.wait_for_url(re.compile(r"/upload$"))  # not mid-navigation when the checks below run
    _labels_ok(page)
    page.get_by_label("Return file").set_input_files(str(good))
    _shot(page, "02-upload-form")
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_selector("#progress-group:not([hidden])")
    # The whole file is sent in a moment over loopback; the bar then says the file is being checked.
    # (Playwright's wait_for_function would evaluate a string, which the page's CSP forbids: wait on text.)
    page.locator("#progress-text", has_text="Checking the file").wait_for()
    assert page.locator("#progress").get_attribute("value") == "100"
    _shot(page, "03-upload-progress")
    page.wait_for_url(re.compile(r"/submissions/[0-9a-f]{32}\?new=1$"), timeout=60_000)
    assert page.locator("#accepted-banner").is_visible()
    assert page.locator("#rows").inner_text() == "3,000"
    assert "Accepted" in page.locator("#status").inner_text()
    _labels_ok(page)
    _shot(page, "04-data-quality-report")
    page.get_by_role("link", name="Full data-quality report (HTML)").click()
    page.wait_for_load_state()
    _shot(page, "05-full-report")
    page.go_back()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Submissions", exact=True).click()
    page.wait_for_url(re.compile(r"/submissions$"))
    assert page.locator("table tbody tr").count() == 1
    _shot(page, "06-submission-history")
    assert console == []


def test_a_refused_file_shows_its_first_problems(browser, server, files):
    _, bad = files
    console: list[str] = []
    page = _new_page(browser, server, console)
    _sign_in(page)
    page.goto("/upload")
    page.get_by_label("Return file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(re.compile(r"/submissions/[0-9a-f]{32}"), timeout=60_000)
    assert page.locator("#refused-banner").is_visible()
    assert page.locator("#problems tbody tr").count() >= 1
    assert "Event" in page.locator("#problems").inner_text()
    _shot(page, "07-refused-file")
    assert console == []


def test_upload_works_without_javascript(browser, server, tmp_path):
    plain = make_return(tmp_path / "no_js_upload.csv", 50, la_code="101", seed=12)
    console: list[str] = []
    page = _new_page(browser, server, console, javascript=False)
    _sign_in(page)
    page.goto("/upload")
    page.get_by_label("Return file").set_input_files(str(plain))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url(re.compile(r"/submissions/[0-9a-f]{32}\?new=1$"), timeout=60_000)
    assert page.locator("#accepted-banner").is_visible()


def test_processor_overview_shows_the_council(browser, server, files):
    console: list[str] = []
    page = _new_page(browser, server, console)
    _sign_in(page, "processor")
    assert page.url.endswith("/overview")
    row = page.locator("#overview tbody tr", has_text="101")
    assert row.count() == 1
    _shot(page, "08-processor-overview")
    assert console == []
