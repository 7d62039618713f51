"""A small headless-Chromium driver over the DevTools protocol (websocket, no extra browser
download): load a page, record console errors, exceptions and every network request, take a
screenshot, evaluate a script. Used by the report tests."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    title: str = ""


class Chromium:
    """One headless browser with one tab; use as a context manager."""

    def __init__(self, binary: str, *, width: int = 1280, height: int = 900) -> None:
        self._profile = tempfile.mkdtemp(prefix="visitonce-chromium-")
        self._proc = subprocess.Popen(
            [
                binary, "--headless", "--no-sandbox", "--disable-background-networking",
                "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-component-update", "--disable-sync",
                "--remote-debugging-port=0", f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        ws_url = self._devtools_url()
        self._conn = connect(ws_url, max_size=64 * 2**20, open_timeout=30)
        self._ws = self._conn.__enter__()
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=True)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def _devtools_url(self) -> str:
        assert self._proc.stderr is not None
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            if not line and self._proc.poll() is not None:
                break
            seen.append(line)
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                return m.group(1)
        self.close()
        raise RuntimeError("chromium did not start: " + "".join(seen[-5:]))

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False,
        timeout: float = 60.0,
    ) -> dict[str, Any]:  # fmt: skip
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        self._ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _wait_event(self, method: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if any(e.get("method") == method for e in self._events):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} within {timeout}s")
            self._events.append(json.loads(self._ws.recv(timeout=left)))

    def _drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._events.append(json.loads(self._ws.recv(timeout=left)))
            except TimeoutError:
                return

    def load(self, url: str, *, screenshot: bool = True) -> PageLoad:
        """Navigate, wait for the load event (and a short settle), collect what happened."""
        self._events = []
        self.send("Page.navigate", {"url": url}, session=True)
        self._wait_event("Page.loadEventFired")
        self._drain(0.3)
        out = PageLoad(url=url)
        for e in self._events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Network.requestWillBeSent":
                out.requests.append(p["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.errors.append("console: " + " ".join(str(a.get("value")) for a in p["args"]))
            elif method == "Runtime.exceptionThrown":
                out.errors.append("exception: " + json.dumps(p["exceptionDetails"])[:500])
            elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.errors.append("log: " + p["entry"].get("text", ""))
            elif method == "Network.loadingFailed":
                out.errors.append("failed request: " + json.dumps(p)[:300])
        out.title = self.evaluate("document.title")
        if screenshot:
            metrics = self.send("Page.getLayoutMetrics", session=True)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"],
                    "height": min(size["height"], 6000), "scale": 1}  # fmt: skip
            shot = self.send(
                "Page.captureScreenshot",
                {"format": "png", "clip": clip, "captureBeyondViewport": True},
                session=True,
            )
            out.screenshot = base64.b64decode(shot["data"])
        return out

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def platform_fonts(self, selector: str) -> list[dict[str, Any]]:
        """Per element matching ``selector`` on the loaded page: its text and the platform
        fonts the browser drew its text with (DevTools ``CSS.getPlatformFontsForNode``:
        ``familyName``, ``postScriptName``, ``glyphCount`` per font)."""
        self.send("DOM.enable", session=True)
        self.send("CSS.enable", session=True)
        root = self.send("DOM.getDocument", {"depth": -1}, session=True)["root"]["nodeId"]
        ids = self.send(
            "DOM.querySelectorAll", {"nodeId": root, "selector": selector}, session=True
        )["nodeIds"]
        out = []
        for node in ids:
            fonts = self.send("CSS.getPlatformFontsForNode", {"nodeId": node}, session=True)
            obj = self.send("DOM.resolveNode", {"nodeId": node}, session=True)["object"]
            text = self.send(
                "Runtime.callFunctionOn",
                {"objectId": obj["objectId"], "functionDeclaration": "function () { return this.innerText; }",
                 "returnByValue": True},
                session=True,
            )["result"].get("value", "")  # fmt: skip
            out.append({"text": text, "fonts": fonts.get("fonts", [])})
        return out

    def close(self) -> None:
        try:
            if getattr(self, "_conn", None) is not None:
                self._conn.__exit__(None, None, None)
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _main() -> None:  # pragma: no cover - manual use: python -m tests.report.browser DIR
    import sys

    folder = os.path.abspath(sys.argv[1])
    with Chromium(find_chromium() or "chromium") as b:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".html"):
                got = b.load(f"file://{folder}/{name}")
                print(name, got.title, len(got.requests), got.errors)


if __name__ == "__main__":  # pragma: no cover
    _main()
