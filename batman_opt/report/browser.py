"""A headless Chromium driven over the Chrome DevTools protocol: open a page, collect its console
errors and uncaught exceptions, take a screenshot, render a plotly figure to PNG.

Used by `batman report --png` (plotly figures rendered by plotly.js itself, as the HTML shows them)
and by the browser tests. The browser runs offline: every host name but 127.0.0.1 resolves to
nothing, so a page that reaches for a CDN fails loudly instead of silently working.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

from batman_opt.errors import InputError

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",  # software WebGL for the 3D views
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-allow-origins=*",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


def _remove_profile(profile: Path) -> None:
    """Remove a browser profile folder; a child process being reaped can still add a file to it, so
    a failed attempt is repeated for up to 5 s before the rest is left to the temporary folder."""
    for _ in range(50):
        try:
            shutil.rmtree(profile)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profile, ignore_errors=True)


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable ($BATMAN_CHROMIUM first), or None."""
    for name in (os.environ.get("BATMAN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


@dataclass
class PageResult:
    """What a page did: JavaScript errors (exceptions, console.error, failed loads), warnings, a
    PNG screenshot of the viewport and the value of the expression evaluated after loading."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    screenshot_png: bytes = b""
    value: Any = None


class HeadlessChromium:
    """One headless browser with a fresh profile; use as a context manager."""

    def __init__(self, width: int = 1400, height: int = 1000, executable: str | None = None) -> None:
        self.executable = executable or find_chromium()
        if self.executable is None:
            raise InputError("no chromium found (apt-get install chromium, or set BATMAN_CHROMIUM)")
        self.width, self.height = width, height
        self._profile: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._ws: websocket.WebSocket | None = None
        self._next_id = 0

    def __enter__(self) -> HeadlessChromium:
        profile = self._profile = Path(tempfile.mkdtemp(prefix="batman-chromium-"))
        self._proc = subprocess.Popen(
            [
                self.executable,
                *FLAGS,
                f"--window-size={self.width},{self.height}",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its renderer, GPU and crashpad children share its process group
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30.0
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise InputError(f"{self.executable} did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            pages = [t for t in json.load(response) if t["type"] == "page"]
        self._ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60)
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self._call(method)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._proc is not None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            # children outlive the browser process for a moment and still write to the profile
            self._signal_group(signal.SIGKILL)
            self._proc.wait()
        if self._profile is not None:
            _remove_profile(self._profile)

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:  # the whole group has already ended
            pass

    # -- protocol -----------------------------------------------------------------------------
    def _send(self, method: str, params: dict[str, Any] | None = None) -> int:
        assert self._ws is not None, "use HeadlessChromium as a context manager"
        self._next_id += 1
        self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        return self._next_id

    def _call(
        self, method: str, params: dict[str, Any] | None = None, result: PageResult | None = None
    ) -> Any:
        """Send a command and wait for its answer, recording the events that arrive meanwhile."""
        call_id = self._send(method, params)
        while True:
            message = json.loads(self._ws.recv())  # type: ignore[union-attr]
            if message.get("id") == call_id:
                if "error" in message:
                    raise InputError(f"chromium {method}: {message['error'].get('message')}")
                return message.get("result", {})
            if result is not None:
                _record(message, result)

    def _pump(self, result: PageResult, seconds: float, until: str | None = None) -> bool:
        """Record events for up to `seconds`; True as soon as event `until` arrives."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._ws.settimeout(left)  # type: ignore[union-attr]
            try:
                message = json.loads(self._ws.recv())  # type: ignore[union-attr]
            except websocket.WebSocketTimeoutException:
                break
            _record(message, result)
            if until is not None and message.get("method") == until:
                return True
        self._ws.settimeout(60)  # type: ignore[union-attr]
        return False

    # -- pages --------------------------------------------------------------------------------
    def open(self, url: str, settle_s: float = 2.0, evaluate: str | None = None) -> PageResult:
        """Load `url`, wait for its load event and `settle_s` more, evaluate `evaluate` (a promise is
        awaited) and take a screenshot."""
        result = PageResult()
        self._call("Page.navigate", {"url": url}, result)
        if not self._pump(result, 60.0, until="Page.loadEventFired"):
            result.errors.append(f"{url}: no load event within 60 s")
        self._pump(result, settle_s)
        if evaluate is not None:
            bounded = (  # a promise that never settles (the page broke) rejects after 20 s
                f"Promise.race([Promise.resolve({evaluate}), new Promise((_, no) => "
                "setTimeout(() => no(new Error('evaluation did not settle in 20 s')), 20000))])"
            )
            answer = self._call(
                "Runtime.evaluate",
                {"expression": bounded, "awaitPromise": True, "returnByValue": True},
                result,
            )
            if "exceptionDetails" in answer:
                result.errors.append(_exception_text(answer["exceptionDetails"]))
            else:
                result.value = answer.get("result", {}).get("value")
        shot = self._call("Page.captureScreenshot", {"format": "png"}, result)
        result.screenshot_png = base64.b64decode(shot["data"])
        self._pump(result, 0.2)
        return result


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    return str(exception.get("description") or details.get("text") or details)


def _record(message: dict[str, Any], result: PageResult) -> None:
    """File one DevTools event under the result's errors or warnings."""
    method, params = message.get("method"), message.get("params", {})
    if method == "Runtime.exceptionThrown":
        result.errors.append(_exception_text(params["exceptionDetails"]))
    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
        (result.warnings if params["type"] == "warning" else result.errors).append(text)
    elif method == "Log.entryAdded":
        entry = params["entry"]
        if entry.get("level") == "error":
            result.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        elif entry.get("level") == "warning":
            result.warnings.append(str(entry.get("text")))


def render_png(
    browser: HeadlessChromium, figure_json: str, plotly_js_path: Path, width: int, height: int
) -> bytes:
    """A plotly figure (its JSON) rendered to PNG by plotly.js in the browser (2x scale)."""
    with tempfile.TemporaryDirectory(prefix="batman-png-") as tmp:
        page = Path(tmp) / "figure.html"
        page.write_text(
            f'<html><body><script src="{plotly_js_path.as_uri()}"></script>'
            f"<script>window.FIG = {figure_json};</script></body></html>"
        )
        expression = f"Plotly.toImage(FIG, {{format: 'png', width: {width}, height: {height}, scale: 2}})"
        result = browser.open(page.as_uri(), settle_s=0.1, evaluate=expression)
    if result.errors or not isinstance(result.value, str):
        raise InputError(f"plotly could not render a PNG: {'; '.join(result.errors) or result.value}")
    return base64.b64decode(result.value.split(",", 1)[1])
