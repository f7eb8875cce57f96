"""`wkl view` in a real browser: a bright sphere on a dark background is drawn where it should be.

One case per storage format (a WKW layer, encoded on the fly, and a precomputed layer, passed
through). Each case starts `wkl view --layout xy` as a subprocess, loads the printed URL in headless
Chromium (flags of `test_browser.py`), driven over `--remote-debugging-pipe` so the screenshot is
taken once the viewer reports every visible chunk drawn, and compares the bright and dark pixels of
the data panel with what the viewer's zoom (`crossSectionScale` in the URL) implies.

Why DevTools rather than `--screenshot --virtual-time-budget`: with the virtual time budget the
capture often shows a stale WebGL frame, stretched vertically by 15-30% (in most runs at 800x600
on this machine class), so the sphere comes out as an ellipse; captured in real time, after
`viewer.display.isReady()` and two animation frames, it is round in every run.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from webknossos_like import Dataset

from .test_browser import CHROMIUM, FLAGS

SIZE = 96  # voxels per axis
RADIUS = 30  # voxels
DARK, BRIGHT = 10, 240  # uint8 values outside / inside the sphere
VOXEL_SIZE = (10.0, 10.0, 10.0)  # isotropic: one canonical voxel is one voxel
VIEWPORT = (800, 600)  # CSS pixels, device scale factor 1
CASE_SECONDS = 50.0  # everything of one case (server, browser, drawing) must fit in this
EXIT_AFTER = 120  # `wkl view` stops by itself even if the finalizer never ran
BRIGHT_LEVEL = 200  # a pixel is bright if each channel is above (yellow box lines are not)
DARK_LEVEL = 40  # a pixel is dark if each channel is below (outside the volume is grey 128)

_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+)" (?P<status>\d{3}) ')
_CHUNK = re.compile(r"^/color/1/\d+-\d+_\d+-\d+_\d+-\d+$")
# Chromium reads DevTools commands from fd 3 and writes replies to fd 4: this moves the pipe ends
# there, then becomes Chromium (no `preexec_fn`: the log reader threads are running).
_EXEC_WITH_PIPE = (
    "import fcntl, os, sys\n"
    "ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD_CLOEXEC, 10) for fd in sys.argv[1:3]]\n"
    "for fd in sys.argv[1:3]: os.close(int(fd))\n"
    "os.dup2(ends[0], 3)\n"
    "os.dup2(ends[1], 4)\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)
_READY = "typeof viewer === 'object' && viewer.display.isReady()"
_TWO_FRAMES = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
# The data panel (left, top, width, height) and how much of it shows above the status bar.
_PANEL_RECT = """(() => {
  const r = document.querySelector('.neuroglancer-rendered-data-panel').getBoundingClientRect();
  const s = document.getElementById('neuroglancer-status-container');
  const cover = s && s.getBoundingClientRect().height > 0 ? s.getBoundingClientRect().top : r.bottom;
  return [r.left, r.top, r.width, r.height, Math.min(r.bottom, cover) - r.top];
})()"""


def _sphere() -> np.ndarray:
    """`(x, y, z)` uint8: BRIGHT within RADIUS of the volume centre (voxel centres), else DARK."""
    centres = np.arange(SIZE) + 0.5 - SIZE / 2
    x, y, z = np.meshgrid(centres, centres, centres, indexing="ij")
    return np.where(x**2 + y**2 + z**2 <= RADIUS**2, BRIGHT, DARK).astype(np.uint8)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"the case took longer than {CASE_SECONDS:.0f} s")
    return left


class WklView:
    """`wkl view` as a subprocess; its stdout (the URL) and stderr (request log) read by threads."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "webknossos_like", "view", str(path)),
                *("--port", "0", "--layout", "xy", "--exit-after", str(EXIT_AFTER)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def url(self, deadline: float) -> str:
        """The first line printed on stdout."""
        while not self.stdout:
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the readers finish
                if not self.stdout:
                    raise AssertionError(
                        f"wkl view exited ({self.process.returncode}):\n" + "\n".join(self.stderr)
                    )
            _remaining(deadline)
            time.sleep(0.05)
        return self.stdout[0]

    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path, status) of every logged request so far."""
        found = (_REQUEST.search(line) for line in list(self.stderr))
        return [(m["method"], m["path"], int(m["status"])) for m in found if m]

    def chunks_served(self) -> list[str]:
        """Paths of the `color` chunk requests answered 200."""
        return [p for _m, p, s in self.requests() if _CHUNK.match(p) and s == 200]

    def log(self) -> str:
        return "\n".join(self.stderr)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for thread in self._threads:
            thread.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Browser:
    """Headless Chromium (the flags of `test_browser.py`) driven over `--remote-debugging-pipe`."""

    def __init__(self, chromium: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="wkl-chromium-")
        flags = [f for f in FLAGS if not f.startswith(("--window-size=", "--virtual-time-budget="))]
        to_chromium, self._commands = os.pipe()
        self._replies, from_chromium = os.pipe()
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-c", _EXEC_WITH_PIPE, str(to_chromium), str(from_chromium)),
                *(chromium, *flags, "--window-size={},{}".format(*VIEWPORT)),
                *(
                    f"--user-data-dir={self._profile.name}",
                    "--remote-debugging-pipe",
                    "about:blank",
                ),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_chromium, from_chromium),
        )
        os.close(to_chromium)
        os.close(from_chromium)
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def call(self, method: str, deadline: float, **params: Any) -> dict[str, Any]:
        """Send one command (to the page once attached) and wait for its reply."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session is not None and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                ready, _, _ = select.select([self._replies], [], [], _remaining(deadline))
                if ready:
                    block = os.read(self._replies, 1 << 20)
                    if not block:
                        raise AssertionError(f"Chromium closed the pipe during {method}")
                    self._buffer += block
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply["result"])

    def evaluate(self, expression: str, deadline: float) -> Any:
        result = self.call(
            "Runtime.evaluate",
            deadline,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        return result["result"].get("value")

    def open(self, url: str, deadline: float) -> None:
        target = self.call("Target.createTarget", deadline, url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", deadline, targetId=target, flatten=True)[
            "sessionId"
        ]
        width, height = VIEWPORT
        self.call(
            "Emulation.setDeviceMetricsOverride",
            deadline,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", deadline, url=url)

    def screenshot(self, deadline: float) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", deadline, format="png")["data"])

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.call("Browser.close", time.monotonic() + 5)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()


@pytest.fixture
def wkl_view() -> Iterator[Callable[[Path], WklView]]:
    """Starts `wkl view` subprocesses; the finalizer terminates them (killed if need be)."""
    started: list[WklView] = []

    def start(path: Path) -> WklView:
        started.append(WklView(path))
        return started[-1]

    yield start
    for view in started:
        view.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless Chromium, closed (killed if need be) by the finalizer."""
    assert CHROMIUM is not None
    chromium = Browser(CHROMIUM)
    yield chromium
    chromium.close()


@dataclass(frozen=True)
class Shot:
    """A screenshot (RGB), the data panel's rectangle in it and its rows not under the status bar."""

    pixels: np.ndarray
    panel: tuple[int, int, int, int]  # left, top, width, height
    visible_height: int

    def panel_pixels(self) -> np.ndarray:
        """The visible part of the panel (the status bar at the bottom has white text)."""
        left, top, width, _height = self.panel
        return self.pixels[top : top + self.visible_height, left : left + width]


def _screenshot_when_drawn(browser: Browser, view: WklView, deadline: float) -> Shot:
    """Wait for chunks served and `viewer.display.isReady()`, two frames, then capture.

    A panel without bright or without dark pixels (still loading) is captured once more, a second
    later; whatever the second capture shows is returned (and judged by the test).
    """
    for attempt in range(2):
        while not (view.chunks_served() and browser.evaluate(_READY, deadline)):
            if view.process.poll() is not None:
                raise AssertionError(f"wkl view exited early:\n{view.log()}")
            time.sleep(0.2)
            _remaining(deadline)
        browser.evaluate(_TWO_FRAMES, deadline)
        left, top, width, height, visible = (
            round(v) for v in browser.evaluate(_PANEL_RECT, deadline)
        )
        png = browser.screenshot(deadline)
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        shot = Shot(pixels, (left, top, width, height), visible)
        panel = shot.panel_pixels()
        if attempt == 0 and not (
            (panel.min(axis=2) > BRIGHT_LEVEL).any() and (panel.max(axis=2) < DARK_LEVEL).any()
        ):
            time.sleep(1.0)
            continue
        return shot
    return shot


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (apt-get install chromium, or set WKL_CHROMIUM); "
    "this test needs a real browser",
)
@pytest.mark.parametrize(
    "data_format", ["wkw", "neuroglancerPrecomputed"], ids=["wkw", "precomputed"]
)
def test_wkl_view_draws_the_sphere(
    data_format: str,
    tmp_path: Path,
    wkl_view: Callable[[Path], WklView],
    browser: Browser,
) -> None:
    started = time.monotonic()
    deadline = started + CASE_SECONDS
    volume = _sphere()
    dataset = Dataset(tmp_path / "sphere", voxel_size=VOXEL_SIZE, name="sphere")
    layer = dataset.add_layer("color", "color", dtype="uint8", data_format=data_format)
    layer.add_mag(1).write(volume, absolute_offset=(0, 0, 0))

    view = wkl_view(dataset.path)
    url = view.url(deadline)
    state = json.loads(urllib.parse.unquote(url.split("#!", 1)[1]))
    assert state["layout"] == "xy", url
    assert [entry["name"] for entry in state["layers"]] == ["color"], url
    browser.open(url, deadline)
    shot = _screenshot_when_drawn(browser, view, deadline)
    Image.fromarray(shot.pixels).save(tmp_path / f"sphere_{data_format}.png")

    # The server answered chunk requests of the layer, and nothing failed.
    requests = view.requests()
    assert ("GET", "/color/info", 200) in requests, view.log()
    assert view.chunks_served(), view.log()
    failed = [r for r in requests if r[2] >= 400 and not r[1].startswith("/events/")]
    assert not failed, view.log()

    # What the zoom implies: the slice at the position, each voxel 1/scale pixels wide.
    pixels_per_voxel = 1 / state["crossSectionScale"]
    section = volume[:, :, int(state["position"][2])] == BRIGHT
    expected_area = section.sum() * pixels_per_voxel**2
    expected_diameter = section.sum(axis=0).max() * pixels_per_voxel  # widest row of voxels
    assert shot.pixels.shape[:2] == (VIEWPORT[1], VIEWPORT[0])
    _left, _top, width, height = shot.panel
    visible = shot.visible_height
    centre_row, centre_col = (height - 1) / 2, (width - 1) / 2  # the position is shown there
    radius = expected_diameter / 2
    assert centre_row - 1.1 * radius > 0 and centre_row + 1.1 * radius < visible, (
        f"the sphere would not fit the visible panel ({width}x{visible} px): test setup"
    )
    half = SIZE * pixels_per_voxel / 2  # the volume's square, centred on the panel, clipped by it
    volume_area = (min(centre_col + half, width) - max(centre_col - half, 0)) * (
        min(centre_row + half, visible) - max(centre_row - half, 0)
    )
    expected_bright_share = expected_area / (width * visible)
    expected_dark_share = (volume_area - expected_area) / (width * visible)

    panel = shot.panel_pixels()
    bright = panel.min(axis=2) > BRIGHT_LEVEL
    dark = panel.max(axis=2) < DARK_LEVEL
    bright_share, dark_share = bright.mean(), dark.mean()
    print(
        f"{data_format}: bright {bright_share:.4f} (expected {expected_bright_share:.4f}), "
        f"dark {dark_share:.4f} (expected {expected_dark_share:.4f}) of the "
        f"{width}x{visible} px panel, {time.monotonic() - started:.1f} s"
    )
    assert 0.05 < bright_share < 0.60, f"bright share {bright_share:.3f}: no sphere or all white"
    assert dark_share > 0.05, f"dark share {dark_share:.3f}: no dark background"
    assert abs(bright_share / expected_bright_share - 1) < 0.05, (
        f"bright share {bright_share:.4f}, expected {expected_bright_share:.4f} from the zoom"
    )
    assert abs(dark_share / expected_dark_share - 1) < 0.05, (
        f"dark share {dark_share:.4f}, expected {expected_dark_share:.4f} from the zoom"
    )

    # A round disc of the expected diameter, centred in the panel (the scale bar in the corner
    # is outside the region looked at).
    rows, cols = np.mgrid[0:visible, 0:width]
    near = np.hypot(rows - centre_row, cols - centre_col) < 1.25 * radius
    ys, xs = np.nonzero(bright & near)
    assert len(ys) > 0.95 * expected_area, "the sphere is not in the middle of the panel"
    assert (bright & ~near).sum() < 0.01 * width * visible, "bright pixels away from the sphere"
    for extent, axis in ((xs.max() - xs.min() + 1, "x"), (ys.max() - ys.min() + 1, "y")):
        assert abs(extent / expected_diameter - 1) < 0.03, (
            f"diameter along {axis}: {extent} px, expected {expected_diameter:.0f} px"
        )
    assert abs(ys.mean() - centre_row) < 5 and abs(xs.mean() - centre_col) < 5, (
        f"sphere centred at ({xs.mean():.0f}, {ys.mean():.0f}) px in the panel, "
        f"expected ({centre_col:.0f}, {centre_row:.0f})"
    )
    assert time.monotonic() - started < CASE_SECONDS
