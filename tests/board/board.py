"""A board as the suite sees it: a raw REPL plus what the PC needs to know
to reach it (where to put files, which address its URLs name)."""

import binascii
import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from rawrepl import ReplError

SETUP_HINT = "run `make setup` (it installs ffmpeg and pyserial), then `make`"
REPO = Path(__file__).resolve().parents[2]


def serial_module():
    """pyserial; a missing one fails the test with a hint."""
    try:
        import serial
    except ImportError:
        import pytest
        pytest.fail(f"pyserial is not installed: {SETUP_HINT}")
    return serial


class Board:
    """target: "serial" (a real board) or "unix" (the unix port behind a
    pseudo-terminal, see fake_board.py). scratch_dir: a writable directory on
    the board. host: the address the PC reaches the board's server at (None:
    the one in the URL the board reports; "127.0.0.1" for the unix target)."""

    def __init__(self, repl, target, scratch_dir, host=None):
        self.repl = repl
        self.target = target
        self.scratch_dir = scratch_dir.rstrip("/")
        self.host = host

    # -- commands -----------------------------------------------------------

    def run(self, code, timeout=30):
        """Runs code to the end; returns the Result (stdout, stderr)."""
        return self.repl.exec(code, timeout)

    def check(self, code, timeout=30):
        """Runs code that must not raise; returns its stdout."""
        result = self.run(code, timeout)
        assert result.stderr == "", f"the board raised:\n{result.stderr}\nstdout:\n{result.stdout}"
        return result.stdout

    def start(self, code):
        """Starts code that goes on running (e.g. a server); see wait_line, finish."""
        self.repl.start(code)

    def wait_line(self, prefix, timeout):
        return self.repl.wait_line(prefix, timeout)

    def finish(self, timeout):
        return self.repl.finish(timeout)

    def stop(self):
        """Interrupts whatever still runs (after a failed test)."""
        if self.repl._running:
            try:
                self.repl.interrupt(10)
            except ReplError:
                self.repl.enter()

    # -- files --------------------------------------------------------------

    def path(self, name):
        return f"{self.scratch_dir}/{name}"

    def put_file(self, name, data, chunk=2048):
        """Writes data to scratch_dir/name on the board (base64 over the REPL);
        returns the path."""
        path = self.path(name)
        lines = [f"import binascii\nf = open({path!r}, 'wb')"]
        for i in range(0, len(data), chunk):
            b64 = binascii.b2a_base64(data[i:i + chunk], newline=False).decode()
            lines.append(f"f.write(binascii.a2b_base64({b64!r}))")
        lines.append("f.close()\nimport os\nprint('SIZE', os.stat(%r)[6])" % path)
        out = self.check("\n".join(lines), timeout=60 + len(data) // 2000)
        assert f"SIZE {len(data)}" in out, f"the file on the board has the wrong size: {out!r}"
        return path

    # -- the network --------------------------------------------------------

    def pc_url(self, url):
        """The URL the board printed, with the host the PC must use."""
        if self.host is None:
            return url
        parts = urlsplit(url)
        port = parts.port or 554
        return f"rtsp://{self.host}:{port}{parts.path}"


class RtspPorts:
    """RTSP ports for the board's servers: free local ports for the unix
    target; base, base+1, ... on a real board (no port is used twice, so
    nothing waits for an old connection's TIME_WAIT)."""

    def __init__(self, target, base):
        self.target = target
        self.next = base

    def take(self):
        if self.target == "unix":
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("", 0))
                return s.getsockname()[1]
        port = self.next
        self.next += 1
        return port


def need_tool(name):
    from shutil import which
    import pytest
    path = which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {SETUP_HINT}")
    return path


class Ffprobe:
    """ffprobe decoding every video frame of an RTSP URL, in the background."""

    def __init__(self, url, transport, timeout_s=5):
        need_tool("ffprobe")
        self.cmd = ["ffprobe", "-v", "error", "-rtsp_transport", transport,
                    "-timeout", str(timeout_s * 1_000_000), "-select_streams", "v",
                    "-show_entries", "frame=width,height,pict_type", "-of", "csv=nokey=0", url]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)

    def finish(self, timeout):
        """(exit code, [(width, height, pict_type)], stderr); killed after timeout."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            err += f"\n(killed after {timeout} s)"
        frames = []
        for line in out.splitlines():
            fields = line.split(",")
            if fields[0] != "frame":
                continue
            kv = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
            frames.append((int(kv["width"]), int(kv["height"]), kv.get("pict_type", "?")))
        return self.proc.returncode, frames, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def micropython_path():
    """The unix port with the module (MICROPYTHON, else build/micropython), or None."""
    path = os.environ.get("MICROPYTHON") or str(REPO / "build" / "micropython")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def wait_until(predicate, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
