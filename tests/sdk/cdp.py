"""A small Chrome DevTools Protocol client for the console's browser tests.

Starts Debian's headless Chromium (`/usr/bin/chromium`, installed by
scripts/test and .ci/run) with its own throw-away profile, attaches to its one
page over the DevTools websocket and offers what the tests need: navigate and
wait for the load, evaluate JavaScript, click or submit and wait for the next
page, press Tab, read cookies, take screenshots.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

STARTUP_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 30.0


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    def __init__(self) -> None:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("chromium is not installed (scripts/test installs it: apt-get install chromium)")
        # Chromium may still be writing to its profile as it exits.
        self._profile = tempfile.TemporaryDirectory(prefix="promptgate-chromium-", ignore_cleanup_errors=True)
        self._proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # root in CI: Chromium's sandbox needs an unprivileged user
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not port_file.exists() or not port_file.read_text().strip():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json() if t["type"] == "page"]
        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(
            connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=10)
        )
        self._next_id = 0
        self._events: list[dict] = []
        self.send("Page.enable")
        self.send("Network.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)

    def close(self) -> None:
        stack = getattr(self, "_stack", None)
        if stack is not None:
            try:
                stack.close()
            except Exception:  # the browser may be gone already
                pass
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._profile.cleanup()

    def send(self, method: str, **params):
        self._next_id += 1
        my_id = self._next_id
        self._ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=LOAD_TIMEOUT_S))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._events.append(msg)

    def goto(self, url: str) -> int | None:
        """Loads `url`; returns the HTTP status of the final document."""
        return self._load(lambda: self.send("Page.navigate", url=url))

    def _load(self, action) -> int | None:
        """Runs `action` (which starts a navigation), waits for the new page's
        load event and returns its document's HTTP status."""
        self._events.clear()
        action()
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        status = None
        while True:
            while self._events:
                e = self._events.pop(0)
                if e.get("method") == "Network.responseReceived" and e["params"].get("type") == "Document":
                    status = e["params"]["response"]["status"]
                if e.get("method") == "Page.loadEventFired":
                    return status
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"the page did not load within {LOAD_TIMEOUT_S} s")
            self._events.append(json.loads(self._ws.recv(timeout=left)))

    def eval(self, expression: str):
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click_and_wait(self, selector: str) -> int | None:
        """Clicks the element (a submit button or a link) and waits for the next page."""
        return self._load(lambda: self.eval(f"document.querySelector({json.dumps(selector)}).click()"))

    def fill(self, selector: str, value: str) -> None:
        self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.value = {json.dumps(value)};"
            " e.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )

    def press_tab(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)

    def type_text(self, text: str) -> None:
        self.send("Input.insertText", text=text)

    def press_enter(self) -> int | None:
        def enter():
            for kind in ("rawKeyDown", "char", "keyUp"):
                params = dict(type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13)
                if kind == "char":
                    params["text"] = "\r"
                self.send("Input.dispatchKeyEvent", **params)

        return self._load(enter)

    def cookies(self) -> list[dict]:
        return self.send("Network.getAllCookies")["cookies"]

    def clear_cookies(self) -> None:
        self.send("Network.clearBrowserCookies")

    def text(self) -> str:
        return self.eval("document.body.innerText")

    def screenshot(self, path: Path) -> None:
        height = self.eval("Math.min(document.documentElement.scrollHeight, 3000)")
        shot = self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1280, "height": max(int(height), 400), "scale": 1},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


def screenshot_dir() -> Path | None:
    """Where to save page screenshots: `PROMPTGATE_SCREENSHOTS` (the README's
    come from `PROMPTGATE_SCREENSHOTS=docs/screenshots`), else nowhere."""
    value = os.environ.get("PROMPTGATE_SCREENSHOTS")
    return Path(value) if value else None
