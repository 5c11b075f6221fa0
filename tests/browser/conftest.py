"""Browser tests: Debian's Chromium, driven by Playwright, against a real server.

The server is `markbook serve --demo` in its own process, on a scratch SQLite file
with the in-process job pool: what a newcomer runs. Chromium is the system's
(/usr/bin/chromium); Playwright never downloads a browser here. Screenshots of
every page go to test-artifacts/browser/ (MARKBOOK_TEST_ARTIFACTS to move them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import TEST_SECRET, unavailable

CHROMIUM = Path(os.environ.get("MARKBOOK_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEMO_PASSWORD = "markbook-demo"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MARKBOOK_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def token(self, email: str) -> dict[str, str]:
        """Bearer headers for the API, to read the figures a page must show."""
        answer = httpx.post(
            f"{self.url}/api/v1/auth/token",
            json={"email": email, "password": DEMO_PASSWORD, "name": "browser test"},
        )
        answer.raise_for_status()
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        answer = httpx.get(f"{self.url}{path}", headers=headers, timeout=60)
        answer.raise_for_status()
        return answer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser-server")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("MARKBOOK_")} | {
        "MARKBOOK_DATABASE_URL": f"sqlite:///{home / 'markbook.db'}",
        "MARKBOOK_EXPORT_DIR": str(home / "exports"),
        "MARKBOOK_SECRET_KEY": TEST_SECRET,
    }
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "markbook",
                "serve",
                "--demo",
                "--students",
                "150",
                "--port",
                str(port),
            ],
            cwd=home,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        yield Server(url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"markbook serve exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet: try again
        time.sleep(0.3)
    pytest.fail(f"markbook serve did not answer in 90 s: {log.read_text(errors='replace')[-3000:]}")


# Per module, not per session: while Playwright's sync API is started, its event loop
# counts as running in this thread, and any later test on the same xdist worker that
# calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        unavailable("Chromium", FileNotFoundError(f"{CHROMIUM} (apt-get install -y chromium)"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    opened = context.new_page()
    yield opened
    context.close()


class Shots:
    """Saves full-page screenshots named for the test and the page."""

    def __init__(self, test_name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.prefix = test_name.removeprefix("test_")
        self.taken: list[Path] = []

    def __call__(self, page: object, name: str) -> Path:
        path = ARTIFACTS / f"{self.prefix}--{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        self.taken.append(path)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


def sign_in(page: object, server: Server, email: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(f"{server.url}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/students")
