"""pytest configuration for the suites that drive the MicroPython unix port.

Run with `make test`, or directly:
    MICROPYTHON=$PWD/build/micropython python3 -m pytest -v tests/python
"""

import os
import shutil
import subprocess

import pytest

import helpers


def pytest_report_header(config):
    mpy = os.environ.get("MICROPYTHON") or str(helpers.REPO / "build" / "micropython")
    lines = [f"micropython: {mpy}"]
    for tool, args in (("ffmpeg", ["-version"]), ("gst-launch-1.0", ["--version"])):
        path = shutil.which(tool)
        if path is None:
            lines.append(f"{tool}: missing")
            continue
        try:
            out = subprocess.run([path, *args], capture_output=True, text=True, timeout=10).stdout
            lines.append(out.splitlines()[0] if out else f"{tool}: ?")
        except (OSError, subprocess.TimeoutExpired):
            lines.append(f"{tool}: does not run")
    return lines


@pytest.fixture
def port():
    """A free TCP port for this test's server."""
    return helpers.free_port()


@pytest.fixture
def background():
    """Starts Background processes and stops whatever is still running at teardown."""
    started = []

    def start(proc):
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def long_gop_clip(tmp_path_factory):
    """8 s of 640x360 at 30 fps with an IDR every 4 s (frames 0 and 120 of 240),
    made by ffmpeg's libx264 for this run."""
    return helpers.make_h264_clip(tmp_path_factory.mktemp("clips") / "gop4s.264", 8, 120)
