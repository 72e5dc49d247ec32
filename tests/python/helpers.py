"""Shared plumbing for the pytest suites: paths, the MicroPython binary, free
ports, bounded subprocesses, and the RTSP clients (ffprobe, ffmpeg, GStreamer).

Every subprocess here is started with a deadline and killed when it passes it.
Clients only ever connect to 127.0.0.1.
"""

import ast
import contextlib
import errno
import fcntl
import os
import queue
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent
HOST_EXAMPLES = REPO / "examples" / "host"
CANMV_EXAMPLES = REPO / "examples" / "canmv"
ASSETS = REPO / "examples" / "assets"
CLIP = ASSETS / "clip.264"
CLIP2 = ASSETS / "clip2.264"
CLIP_H265 = ASSETS / "clip.265"
CLIP_MJPEG = ASSETS / "clip.mjpeg"
TONE_ULAW = ASSETS / "tone.ulaw"
TONE_ALAW = ASSETS / "tone.alaw"
STREAMER = TESTS / "mpy_streamer.py"

CLIP_SIZE = (640, 360)
CLIP2_SIZE = (320, 240)
CLIP_H265_SIZE = (640, 360)
CLIP_MJPEG_SIZE = (320, 240)

sys.path.insert(0, str(HOST_EXAMPLES))
import annexb  # noqa: E402  (the same splitter the host demo uses)

SETUP_HINT = "run `make setup` (it installs the test tools), then `make`"


def micropython():
    """Absolute path of the unix port with the module (env MICROPYTHON)."""
    path = Path(os.environ.get("MICROPYTHON") or REPO / "build" / "micropython")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"MicroPython unix port not found at {path}: {SETUP_HINT}")
    return str(path)


def need_tool(name):
    """A required client tool; a missing one fails the test (never skips it)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: {SETUP_HINT}")
    return path


def need_gst_elements(*names):
    need_tool("gst-launch-1.0")
    inspect = need_tool("gst-inspect-1.0")
    for name in names:
        r = subprocess.run([inspect, "--exists", name], timeout=30, capture_output=True)
        if r.returncode != 0:
            pytest.fail(f"GStreamer element {name} is missing: {SETUP_HINT}")


_handed_out = set()


def free_port():
    """A TCP port nobody listens on now, never the same one twice per run."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        if port not in _handed_out and port != 554:
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port found")


def local_ipv4_addresses():
    """IPv4 addresses of this machine's interfaces (as the server would find them)."""
    addrs = set()
    siocgifaddr = 0x8915
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                req = struct.pack("256s", name.encode()[:15])
                res = fcntl.ioctl(s.fileno(), siocgifaddr, req)
            except OSError:
                continue  # no IPv4 address on this interface
            addrs.add(socket.inet_ntoa(res[20:24]))
    return addrs


def loopback_url(url, userinfo=None):
    """The same RTSP URL with its host replaced by 127.0.0.1 (tests stay on loopback);
    userinfo "user:pass" is put in front of the host, as players take credentials."""
    parts = urlsplit(url)
    port = parts.port or 554
    auth = f"{userinfo}@" if userinfo else ""
    return f"rtsp://{auth}127.0.0.1:{port}{parts.path}"


# --- the board's scheduler: RTSP_SCHED -------------------------------------------
#
# RT-Thread (RT-Smart) schedules strictly by priority on one core. RTSP_SCHED
# reproduces that for every server process the suites start (Background and
# run_mpy with the MicroPython binary): it runs under `taskset -c 0 chrt -f
# <script>`, so its main thread (the script's, which pushes the frames) is
# SCHED_FIFO on core 0, and each other thread of the process (the server's loop
# thread; the suites run no MicroPython `_thread`s) is set to `chrt -f -p
# <loop>` as soon as it appears in /proc/PID/task. Clients (ffmpeg, GStreamer,
# pytest) stay unpinned at normal priority.

SCHED_PRIORITIES = {  # order: (script's thread, loop thread), SCHED_FIFO priorities
    "script-high": (20, 10),
    "loop-high": (10, 20),
}
SCHED_POLL_S = 0.002  # how often /proc/PID/task is looked at for a new thread
SCHED_WATCH_MAX_S = 4 * 3600  # a watcher gives up after this long in any case
_sched_probed = {}


def sched_order():
    """The RTSP_SCHED order ("script-high" or "loop-high"), or None when unset."""
    order = os.environ.get("RTSP_SCHED", "").strip()
    if not order:
        return None
    if order not in SCHED_PRIORITIES:
        pytest.fail(f"RTSP_SCHED={order!r}: expected one of {', '.join(SCHED_PRIORITIES)}")
    return order


def _sched_probe(order):
    """Fails the test clearly once when this machine refuses SCHED_FIFO on core 0."""
    if order in _sched_probed:
        if _sched_probed[order]:
            pytest.fail(_sched_probed[order])
        return
    script, _ = SCHED_PRIORITIES[order]
    for tool in ("taskset", "chrt"):
        if shutil.which(tool) is None:
            _sched_probed[order] = f"RTSP_SCHED={order}: {tool} is not installed (util-linux)"
            pytest.fail(_sched_probed[order])
    r = subprocess.run(["taskset", "-c", "0", "chrt", "-f", str(script), "true"],
                       capture_output=True, text=True, timeout=10)
    _sched_probed[order] = "" if r.returncode == 0 else (
        f"RTSP_SCHED={order}: `taskset -c 0 chrt -f {script} true` was refused "
        f"(exit {r.returncode}): {r.stderr.strip()}. SCHED_FIFO needs root or CAP_SYS_NICE "
        f"and a non-zero RT budget (/proc/sys/kernel/sched_rt_runtime_us; in a container, "
        f"--cap-add=SYS_NICE).")
    if _sched_probed[order]:
        pytest.fail(_sched_probed[order])


def is_server_command(cmd):
    """True when cmd runs the MicroPython unix port (a process that may serve RTSP)."""
    try:
        return bool(cmd) and os.path.realpath(cmd[0]) == os.path.realpath(micropython())
    except pytest.fail.Exception:  # the binary is missing: the command itself will say so
        return False


def sched_command(cmd, order=None):
    """cmd as RTSP_SCHED (or `order`) wants a server process started: under
    `taskset -c 0 chrt -f <script's priority>`; cmd itself when no order is set."""
    order = order or sched_order()
    if order is None:
        return list(cmd)
    _sched_probe(order)
    script, _ = SCHED_PRIORITIES[order]
    return ["taskset", "-c", "0", "chrt", "-f", str(script), *cmd]


class LoopThreadPriority:
    """Watches a server process started by sched_command and gives every thread
    but its main one (the loop thread of each server it starts) the loop's
    SCHED_FIFO priority with `chrt -f -p`, as soon as it appears. Polls
    /proc/PID/task every SCHED_POLL_S until the process ends (at most
    SCHED_WATCH_MAX_S). If chrt is refused, the process is killed and `error`
    says why (also passed to on_error)."""

    def __init__(self, pid, order, on_error=None):
        self.pid = pid
        self.order = order
        self.script_priority, self.priority = SCHED_PRIORITIES[order]
        self.on_error = on_error
        self.set_tids = []  # threads given the loop's priority, in order
        self.error = None
        self.first = threading.Event()  # set once a thread was set (or on error)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"sched-watch-{pid}")
        self._thread.start()

    def _run(self):
        tasks = f"/proc/{self.pid}/task"
        seen = {self.pid}
        deadline = time.monotonic() + SCHED_WATCH_MAX_S
        while not self._done.is_set() and time.monotonic() < deadline:
            try:
                tids = [int(t) for t in os.listdir(tasks)]
                with open(f"/proc/{self.pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                return  # the process is gone
            if state in ("Z", "X"):
                return
            for tid in sorted(set(tids) - seen):
                seen.add(tid)
                r = subprocess.run(["chrt", "-f", "-p", str(self.priority), str(tid)],
                                   capture_output=True, text=True, timeout=10)
                if r.returncode != 0:
                    if not os.path.exists(f"{tasks}/{tid}"):
                        continue  # the thread ended meanwhile (a server stopped)
                    self.error = (f"RTSP_SCHED={self.order}: `chrt -f -p {self.priority} {tid}` "
                                  f"(the loop thread of pid {self.pid}) was refused "
                                  f"(exit {r.returncode}): {r.stderr.strip()}")
                    try:
                        os.kill(self.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    if self.on_error is not None:
                        self.on_error(self.error)
                    self.first.set()
                    return
                self.set_tids.append(tid)
                self.first.set()
            time.sleep(SCHED_POLL_S)

    def wait_first(self, timeout=5):
        """Fails the test unless a loop thread got its priority within timeout
        seconds; returns its tid. Checks the priorities as the kernel has them."""
        if not self.first.wait(timeout):
            pytest.fail(f"RTSP_SCHED={self.order}: no loop thread appeared in "
                        f"/proc/{self.pid}/task within {timeout} s")
        if self.error:
            pytest.fail(self.error)
        tid = self.set_tids[0]
        for who, task, want in (("script's thread", self.pid, self.script_priority),
                                ("loop thread", tid, self.priority)):
            try:
                policy = os.sched_getscheduler(task)
                prio = os.sched_getparam(task).sched_priority
            except OSError as e:
                pytest.fail(f"RTSP_SCHED={self.order}: cannot read the {who}'s policy: {e}")
            if policy != os.SCHED_FIFO or prio != want:
                pytest.fail(f"RTSP_SCHED={self.order}: the {who} ({task}) runs with policy "
                            f"{policy} priority {prio}, not SCHED_FIFO {want}")
        return tid

    def stop(self):
        self._done.set()


def sched_watch(proc, on_error=None):
    """A LoopThreadPriority for a process started with sched_command, or None
    when RTSP_SCHED is unset."""
    order = sched_order()
    return None if order is None else LoopThreadPriority(proc.pid, order, on_error)


# --- MicroPython ---------------------------------------------------------------

def run_mpy(code, timeout=30, args=()):
    """Runs MicroPython source in the unix port; returns the CompletedProcess (text).
    Under RTSP_SCHED it runs as the board would schedule it (see sched_command)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
        path = f.name
    try:
        cmd = sched_command([micropython(), path, *args])
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as proc:
            errors = []
            watch = sched_watch(proc, errors.append)
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise
            finally:
                if watch is not None:
                    watch.stop()
        if errors:
            err = "\n".join(errors) + "\n" + err
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    finally:
        os.unlink(path)


class Background:
    """A subprocess whose stdout lines are collected as they arrive."""

    def __init__(self, cmd, name, env=None, stdout_text=True):
        self.name = name
        serving = is_server_command(cmd)
        if serving:
            cmd = sched_command(cmd)  # the board's scheduling under RTSP_SCHED
        self.cmd = cmd
        self.lines = []
        self.line_times = []  # time.monotonic() when each stdout line arrived
        self.last_line_time = None  # arrival of the line wait_line returned last
        self._queue = queue.Queue()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, start_new_session=True)
        self._err = []
        # RTSP_SCHED: the loop thread's priority (None when unset)
        self.sched = sched_watch(self.proc, self._err.append) if serving else None
        self._t_out = threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True)
        self._t_err = threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True)
        self._t_out.start()
        self._t_err.start()

    def _pump(self, stream, is_out):
        for line in stream:
            line = line.rstrip("\n")
            if is_out:
                now = time.monotonic()
                self.lines.append(line)
                self.line_times.append(now)
                self._queue.put((line, now))
            else:
                self._err.append(line)
        if is_out:
            self._queue.put(None)

    @property
    def stderr(self):
        return "\n".join(self._err)

    @property
    def stdout(self):
        return "\n".join(self.lines)

    def wait_line(self, prefix, timeout):
        """The first new stdout line starting with prefix; fails the test on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                pytest.fail(f"{self.name}: no line starting with {prefix!r} within {timeout} s\n"
                            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if item is None:
                self.wait(5)
                pytest.fail(f"{self.name} exited ({self.proc.returncode}) before printing "
                            f"{prefix!r}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}")
            line, self.last_line_time = item
            if line.startswith(prefix):
                return line

    def wait(self, timeout):
        """Exit code, or None if it is still running after timeout seconds."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._t_out.join(5)
        self._t_err.join(5)
        return code

    def interrupt(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def stop(self, grace=3):
        if self.sched is not None:
            self.sched.stop()
        if self.proc.poll() is None:
            self.proc.terminate()
            if self.wait(grace) is None:
                self.proc.kill()
                self.wait(grace)
        return self.proc.returncode


class Streamer(Background):
    """tests/python/mpy_streamer.py in the unix port: see that file for the protocol."""

    def __init__(self, port, streams, grouping="au", timestamps="pts", wait_timeout=10,
                 end="destroysession", fps=30, frames=None, schedule=None, audio=(),
                 options=None, users=None, users_form=None, auth_basic=False, gop_cache=True,
                 try_sessions=(), watch=False, backchannel=(), linger_ms=0):
        """streams: [(name, clip, clients)]; audio: [(name, file, "pcmu"|"pcma")];
        frames: loop each clip up to this many frames; schedule: a file of
        per-frame µs timestamps. options: init's keyword options {name: int or
        bool}; users: [(name, password)] passed as users= in users_form ("tuple",
        "list" or "dict"), with auth_basic; gop_cache False: every session is
        made with gop_cache=False; try_sessions: names createsession is tried
        with once the streams exist ("TRY-SESSION name ret"); watch: "WATCH"
        lines whenever the server's clients, players or needkeyframe() change;
        backchannel: [(name, "pcmu"|"pcma", file)]: that session gets a back
        channel whose audio the streamer appends to file (for linger_ms more
        after the clip), printing "TALKER" and "HEARD" lines."""
        cmd = [micropython(), str(STREAMER), "--port", str(port), "--grouping", grouping,
               "--timestamps", timestamps, "--wait-timeout", str(wait_timeout), "--end", end,
               "--fps", str(fps)]
        for key, value in (options or {}).items():
            cmd += ["--opt", key, str(value)]
        for name, password in users or ():
            cmd += ["--user", name, password]
        if users_form is not None:
            cmd += ["--users-form", users_form]
        if auth_basic:
            cmd += ["--auth-basic"]
        if not gop_cache:
            cmd += ["--no-gop-cache"]
        for name in try_sessions:
            cmd += ["--try-session", name]
        if watch:
            cmd += ["--watch"]
        if frames is not None:
            cmd += ["--frames", str(frames)]
        if schedule is not None:
            cmd += ["--schedule", str(schedule)]
        for name, clip, clients in streams:
            cmd += ["--stream", name, str(clip), str(clients)]
        for name, path, codec in audio:
            cmd += ["--audio", name, str(path), codec]
        for name, codec, path in backchannel:
            cmd += ["--backchannel", name, codec, str(path)]
        if linger_ms:
            cmd += ["--linger-ms", str(linger_ms)]
        super().__init__(cmd, "streamer")
        self.urls = {}
        for _ in streams:
            _, name, url = self.wait_line("URL ", 20).split(" ", 2)
            self.urls[name] = url
        # The URLs are printed after rtspserver_start: the loop thread exists.
        self.loop_tid = None
        if self.sched is not None:
            try:
                self.loop_tid = self.sched.wait_first(5)
            except BaseException:
                self.stop()
                raise

    def finish(self, timeout=60):
        """Waits for the whole clip to be sent and the server torn down."""
        self.wait_line("DONE", timeout)
        code = self.wait(10)
        if code != 0:
            pytest.fail(f"streamer exit code {code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}")
        return self.lines


# --- clients -------------------------------------------------------------------

CLIENT_TIMEOUT_US = "5000000"  # ffmpeg gives up when the server sends nothing for 5 s


def ffprobe_frames(url, transport, name=None, userinfo=None, loglevel="error"):
    """An ffprobe that decodes every video frame of url and prints one CSV line each.
    transport None: ffprobe's own choice (UDP first, then TCP); userinfo: "user:pass"."""
    need_tool("ffprobe")
    cmd = ["ffprobe", "-v", loglevel]
    if transport is not None:
        cmd += ["-rtsp_transport", transport]
    cmd += ["-timeout", CLIENT_TIMEOUT_US,
            "-select_streams", "v", "-show_entries", "frame=pict_type,width,height",
            "-of", "csv=nokey=0", loopback_url(url, userinfo)]
    return Background(cmd, name or f"ffprobe-{transport or 'default'}")


def parse_frames(client):
    """[(width, height, pict_type)] from a finished ffprobe_frames client."""
    frames = []
    for line in client.lines:
        fields = line.split(",")
        if fields[0] != "frame":
            continue
        kv = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        frames.append((int(kv["width"]), int(kv["height"]), kv.get("pict_type", "?")))
    return frames


def finish_client(client, timeout=20):
    code = client.wait(timeout)
    if code is None:
        client.stop()
        pytest.fail(f"{client.name} still running {timeout} s after the stream ended\n"
                    f"stdout tail: {client.lines[-3:]}\nstderr:\n{client.stderr}")
    return code


def clip_bytes(path):
    return Path(path).read_bytes()


def clip_access_units(path):
    return annexb.access_units(clip_bytes(path), annexb.codec_from_path(str(path)))


def describe(lines, limit=20):
    return "\n".join(lines[-limit:])


def nal_summary(nals):
    return [annexb.h264_nal_type(n) for n in nals]


__all__ = [name for name in dir() if not name.startswith("_")] + ["errno"]


# --- raw RTSP ------------------------------------------------------------------

def rtsp_request(port, method, path, headers=None, cseq=1, timeout=5):
    """One RTSP request to 127.0.0.1:port; returns (status, {header: value}, body)."""
    url = f"rtsp://127.0.0.1:{port}/{path}"
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no complete RTSP response head")
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError(f"connection closed after {buf!r}")
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        head_lines = head.decode("utf-8", "replace").split("\r\n")
        status = int(head_lines[0].split(" ")[1])
        hdrs = {}
        for line in head_lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        length = int(hdrs.get("content-length", "0"))
        while len(body) < length:
            if time.monotonic() > deadline:
                raise TimeoutError("RTSP body incomplete")
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
    return status, hdrs, body[:length].decode("utf-8", "replace")


class RtspConnection:
    """One RTSP connection to 127.0.0.1: requests in order, responses parsed,
    interleaved ($) frames skipped and counted."""

    # called with (channel, payload) for each interleaved frame read while
    # waiting for a response; None: they are only counted
    on_interleaved = None
    sent_at = None  # time.monotonic() when the last request went out
    header_lines = ()  # the last response's headers in order, repeats kept: [(name, value)]
    # requests and RTCP may go out from two threads; __init__ makes it a Lock
    # (a connection built without __init__ sends unlocked)
    send_lock = contextlib.nullcontext()

    def __init__(self, port, timeout=5):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.cseq = 0
        self.interleaved_frames = 0
        self.send_lock = threading.Lock()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url(self, path):
        return f"rtsp://127.0.0.1:{self.port}/{path}"

    def send_raw(self, data):
        with self.send_lock:
            self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def read_response(self):
        while True:
            while len(self.buf) < 4:
                self._fill()
            if self.buf[:1] == b"$":
                length = struct.unpack(">H", self.buf[2:4])[0]
                while len(self.buf) < 4 + length:
                    self._fill()
                if self.on_interleaved is not None:
                    self.on_interleaved(self.buf[1], self.buf[4:4 + length])
                self.buf = self.buf[4 + length:]
                self.interleaved_frames += 1
                continue
            while b"\r\n\r\n" not in self.buf:
                self._fill()
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            lines = head.decode("utf-8", "replace").split("\r\n")
            status = int(lines[0].split(" ")[1])
            hdrs = {}
            self.header_lines = []
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
                self.header_lines.append((k.strip(), v.strip()))
            length = int(hdrs.get("content-length", "0"))
            while len(rest) < length:
                self._fill()
                head, _, rest = self.buf.partition(b"\r\n\r\n")
            self.buf = rest[length:]
            return status, hdrs, rest[:length].decode("utf-8", "replace")

    def request(self, method, url, headers=None):
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sent_at = time.monotonic()  # when the request went out
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, hdrs, body = self.read_response()
        assert hdrs.get("cseq") == str(self.cseq), f"CSeq {hdrs.get('cseq')} for request {self.cseq}"
        return status, hdrs, body


# --- more clients: packets, recordings, GStreamer -------------------------------------

def ffprobe_packets(url, transport, name=None, select="v"):
    """An ffprobe that lists every packet of the selected streams (no decoding):
    one CSV line each with stream_index, pts (in the stream's time base), pts_time, size."""
    need_tool("ffprobe")
    cmd = ["ffprobe", "-v", "error", "-rtsp_transport", transport, "-timeout", CLIENT_TIMEOUT_US,
           "-select_streams", select, "-show_entries",
           "packet=stream_index,pts,pts_time,size:stream=index,codec_name,time_base",
           "-of", "csv=nokey=0", loopback_url(url)]
    return Background(cmd, name or f"ffprobe-packets-{transport}")


def _csv_records(lines, kind):
    records = []
    for line in lines:
        fields = line.split(",")
        if fields[0] != kind:
            continue
        records.append(dict(f.split("=", 1) for f in fields[1:] if "=" in f))
    return records


def parse_packets(client):
    """[{"stream_index": int, "pts": int or None, "pts_time": float or None, "size": int}]."""
    packets = []
    for kv in _csv_records(client.lines, "packet"):
        pts = kv.get("pts", "N/A")
        pts_time = kv.get("pts_time", "N/A")
        packets.append({"stream_index": int(kv["stream_index"]),
                        "pts": None if pts == "N/A" else int(pts),
                        "pts_time": None if pts_time == "N/A" else float(pts_time),
                        "size": int(kv["size"])})
    return packets


def probe_file(path, entries, select=None):
    """ffprobe of a local file: CSV records of `entries` (e.g. "packet=pts_time")."""
    need_tool("ffprobe")
    cmd = ["ffprobe", "-v", "error"]
    if select is not None:
        cmd += ["-select_streams", select]
    cmd += ["-show_entries", entries, "-of", "csv=nokey=0", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"ffprobe {path}: {proc.stderr}"
    lines = proc.stdout.splitlines()
    kind = entries.split("=", 1)[0]
    return _csv_records(lines, kind)


def ffmpeg_client(url, transport, outputs, name=None):
    """An ffmpeg reading url and writing `outputs` (a list of its output arguments)."""
    need_tool("ffmpeg")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport,
           "-timeout", CLIENT_TIMEOUT_US, "-i", loopback_url(url), *outputs]
    return Background(cmd, name or f"ffmpeg-{transport}")


def gst_client(elements, name):
    """gst-launch-1.0 -e with the given pipeline elements (a list of arguments).
    -e: on SIGINT it sends EOS, so decoders flush and wavenc finishes its header."""
    need_tool("gst-launch-1.0")
    return Background(["gst-launch-1.0", "-q", "-e", *elements], name)


def finish_gst(client, grace=8):
    """Waits for a gst-launch client after the stream ended; if it did not stop by
    itself on the server's close, ends it cleanly with SIGINT (EOS)."""
    if client.wait(grace) is None:
        client.interrupt()
        if client.wait(10) is None:
            client.stop()
            pytest.fail(f"gst-launch did not end after EOS\n{client.stderr}")
    return client.proc.returncode


def gst_i420(url, chain, out, name, protocols=None):
    """gst-launch playing url through chain (depayloader and decoder, a list of
    arguments) into the file out, as raw I420; protocols: rtspsrc's (tcp, udp)."""
    need_gst_elements("rtspsrc", *chain[::2], "videoconvert", "filesink")
    src = ["rtspsrc", f"location={url}"] + ([f"protocols={protocols}"] if protocols else [])
    return gst_client([*src, "latency=0", "!", *chain, "!", "videoconvert", "!",
                       "video/x-raw,format=I420", "!", "filesink", f"location={out}"], name)


def assert_i420_frames(client, out, count, size):
    """A gst_i420 client wrote count decoded frames of size into out."""
    w, h = size
    got = out.stat().st_size if out.exists() else 0
    assert got == count * w * h * 3 // 2, (
        f"{client.name} wrote {got} bytes, {count} frames of {w}x{h} I420 were sent\n{client.stderr}")


def gst_ulaw_to_wav(wav):
    """A gst-launch branch (after a pad of rtspsrc) that decodes G.711 u-law into wav, 16-bit mono."""
    return ["rtppcmudepay", "!", "mulawdec", "!", "audioconvert", "!",
            "audio/x-raw,format=S16LE,channels=1,rate=8000", "!", "wavenc", "!",
            "filesink", f"location={wav}"]


def stats_line(streamer, name="test"):
    """The dict of the streamer's "STATS <name> {...}" line (getstats(name) after the clip)."""
    prefix = f"STATS {name} "
    line = next((line for line in streamer.lines if line.startswith(prefix)), None)
    assert line is not None, streamer.stdout
    return ast.literal_eval(line[len(prefix):])


class Running:
    """A Streamer and what a test starts beside it, for a with block. On a
    clean exit the streamer finishes (the whole clip sent, the server torn
    down) and each client is waited for in the order added (finish_gst for
    gst-launch, finish_client for the others); on any exit the sockets are
    closed, then the clients and the streamer stopped."""

    def __init__(self, streamer):
        self.streamer = streamer
        self.clients = []
        self.socks = []

    def client(self, client):
        """client (a Background) is finished and stopped with the streamer: returns it."""
        self.clients.append(client)
        return client

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.streamer.finish()
                for client in self.clients:
                    if client.cmd[0] == "gst-launch-1.0":
                        finish_gst(client)
                    else:
                        finish_client(client)
        finally:
            for s in self.socks:
                s.close()
            for client in self.clients:
                client.stop()
            self.streamer.stop()
        return False


def write_schedule(path, timestamps_us):
    Path(path).write_text("".join(f"{t}\n" for t in timestamps_us))
    return path


def pts_mismatches(pts, timestamps_us):
    """Packets whose 90 kHz pts (as ffprobe lists them; None where it gives
    none) is not the script's µs timestamp, relative to the first packet with
    a pts, to within one tick: [(index, got, want)], and that reference index."""
    ref = next(k for k, p in enumerate(pts) if p is not None)
    errors = []
    for k, p in enumerate(pts):
        if p is None:
            continue
        want = round((timestamps_us[k] - timestamps_us[ref]) * 90_000 / 1_000_000)
        if abs((p - pts[ref]) - want) > 1:
            errors.append((k, p - pts[ref], want))
    return errors, ref


# --- a raw player: RTP packets with arrival times, H.264 depacketized -------------------

def udp_port_pair():
    """Two bound UDP sockets on 127.0.0.1, an even port and the next one, as RTP/RTCP want."""
    for _ in range(50):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(("127.0.0.1", 0))
        p = rtp.getsockname()[1]
        if p % 2 == 0:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind(("127.0.0.1", p + 1))
                return rtp, rtcp
            except OSError:
                rtcp.close()
        rtp.close()
    raise RuntimeError("no free UDP port pair")


def parse_rtp(data):
    """(seq, timestamp, marker, payload) of an RTP packet (RFC 3550 5.1), or None."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    csrc, has_ext, has_pad = data[0] & 0x0F, data[0] & 0x10, data[0] & 0x20
    seq, ts = struct.unpack(">HI", data[2:8])
    pos = 12 + 4 * csrc
    if has_ext:
        if len(data) < pos + 4:
            return None
        pos += 4 + 4 * struct.unpack(">H", data[pos + 2:pos + 4])[0]
    end = len(data) - (data[-1] if has_pad else 0)
    if pos > end:
        return None
    return seq, ts, data[1] >> 7, data[pos:end]


class RtpPacket:
    __slots__ = ("arrival", "seq", "ts", "marker", "payload")

    def __init__(self, arrival, seq, ts, marker, payload):
        self.arrival, self.seq, self.ts, self.marker, self.payload = arrival, seq, ts, marker, payload


class AccessUnit:
    """One picture as a player reassembles it: its NAL units, its RTP timestamp,
    and the arrival of its last packet (when a decoder could have it)."""

    def __init__(self, ts, first_seq):
        self.ts = ts
        self.first_seq = first_seq
        self.nals = []
        self.arrival = None
        self.complete = False  # marker bit seen and no packet missing
        self.damaged = False

    def annexb(self):
        return b"".join(b"\x00\x00\x00\x01" + n for n in self.nals)

    def nal_types(self):
        return [n[0] & 0x1F for n in self.nals]

    def is_idr(self):
        return 5 in self.nal_types()


def h264_access_units(packets):
    """RFC 6184 depacketization (single NAL unit, STAP-A, FU-A) of packets in
    arrival order into AccessUnits: a new one at each new timestamp; one with a
    sequence gap or a broken fragment is marked damaged."""
    units = []
    fu = None
    last_seq = None
    for p in packets:
        if not units or units[-1].ts != p.ts or units[-1].complete:
            units.append(AccessUnit(p.ts, p.seq))
            fu = None
        au = units[-1]
        if last_seq is not None and p.seq != (last_seq + 1) & 0xFFFF:
            au.damaged = True
            fu = None
        last_seq = p.seq
        au.arrival = p.arrival
        data = p.payload
        kind = data[0] & 0x1F if data else 0
        if 1 <= kind <= 23:
            au.nals.append(bytes(data))
        elif kind == 24:  # STAP-A: 16-bit sizes
            pos = 1
            while pos + 2 <= len(data):
                size = struct.unpack(">H", data[pos:pos + 2])[0]
                au.nals.append(bytes(data[pos + 2:pos + 2 + size]))
                pos += 2 + size
        elif kind == 28 and len(data) >= 2:  # FU-A
            start, end = data[1] & 0x80, data[1] & 0x40
            if start:
                fu = bytearray([(data[0] & 0xE0) | (data[1] & 0x1F)])
            if fu is None:
                au.damaged = True
            else:
                fu += data[2:]
                if end:
                    au.nals.append(bytes(fu))
                    fu = None
        else:
            au.damaged = True
        if p.marker:
            au.complete = not au.damaged
    return units


def rtcp_receiver_report(sender_ssrc, source_ssrc=None, highest_seq=0, cname="pytest@127.0.0.1"):
    """A compound RTCP packet as a receiving player sends one (RFC 3550 6.4.2,
    6.5.1): a receiver report from sender_ssrc, with one report block about
    source_ssrc when given (nothing lost, extended highest sequence number
    highest_seq, jitter and LSR/DLSR 0), then SDES with a CNAME."""
    blocks = b""
    if source_ssrc is not None:
        blocks = struct.pack(">IIIIII", source_ssrc, 0, highest_seq & 0xFFFFFFFF, 0, 0, 0)
    rr = struct.pack(">BBHI", 0x80 | len(blocks) // 24, 201, (8 + len(blocks)) // 4 - 1,
                     sender_ssrc) + blocks
    text = cname.encode()[:255]
    chunk = struct.pack(">IBB", sender_ssrc, 1, len(text)) + text
    chunk += b"\x00" * (4 - len(chunk) % 4)  # the end-of-list item and padding to 32 bits
    sdes = struct.pack(">BBH", 0x81, 202, (4 + len(chunk)) // 4 - 1) + chunk
    return rr + sdes


def process_cpu_seconds(pid):
    """CPU time (user + system, every thread) a process has used, in seconds,
    from fields 14 and 15 of /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSample:
    """A process's CPU seconds at a moment of the monotonic clock; `b.cores_since(a)`
    is the CPU it used in between over the wall time in between (1.0: one core busy)."""

    def __init__(self, pid):
        self.at = time.monotonic()
        self.cpu = process_cpu_seconds(pid)

    def cores_since(self, earlier):
        return (self.cpu - earlier.cpu) / max(self.at - earlier.at, 1e-9)


def sleep_until(t):
    """Sleeps until time.monotonic() reaches t (at once if it already has)."""
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


class RtpPlayer:
    """A raw RTSP client that plays the video track (the first in the SDP) of a
    session over TCP (interleaved 0-1) or UDP, and keeps every RTP packet with
    its arrival time. Between play() and stop() a thread reads; requests in the
    middle (pause(), request()) stop it, talk, and start it again."""

    def __init__(self, port, path="test", transport="tcp", timeout=10):
        self.conn = RtspConnection(port, timeout=timeout)
        self.conn.on_interleaved = self._interleaved
        self.base = self.conn.url(path)
        self.transport = transport
        self.packets = []
        self.rtcp_packets = 0
        self.session = None
        self.session_header = None
        self.udp = None
        self.closed = False  # the server closed the connection
        self.closed_at = None  # time.monotonic() when that was seen
        self.play_sent = None
        self._thread = None
        self._stop = threading.Event()
        self._deadline = None
        # RTCP from the player (send_receiver_report, keep_alive_with_rtcp)
        self.ssrc = struct.unpack(">I", os.urandom(4))[0]
        self.media_ssrc = None  # the SSRC of the RTP packets received
        self.highest_seq = 0  # extended highest sequence number received
        self.server_rtcp = None  # UDP: (address, port) of the server's RTCP socket
        self.rtcp_channel = 1  # TCP: the interleaved channel RTCP goes on
        self.rtcp_sent = []  # time.monotonic() of each receiver report sent
        self._keepalive = None
        self._keepalive_stop = threading.Event()

    # requests

    def request(self, method, url=None, headers=None):
        """(status, headers, body); the reading thread pauses meanwhile."""
        running = self._thread is not None
        self.stop()
        h = dict(headers or {})
        if self.session and "Session" not in h:
            h["Session"] = self.session
        try:
            return self.conn.request(method, url or self.base, h)
        finally:
            if running and not self.closed:
                self._start()

    def setup(self, transport=None, headers=None):
        """DESCRIBE, then SETUP of the video track; (status, headers) of the SETUP
        (or of the DESCRIBE when that failed). transport: the Transport header,
        by default interleaved=0-1 or client_port= of a fresh UDP pair."""
        status, hdrs, sdp = self.request("DESCRIBE", self.base, {"Accept": "application/sdp", **(headers or {})})
        if status != 200:
            return status, hdrs
        video = sdp.split("\nm=video", 1)[1] if "\nm=video" in sdp else ""
        control = next((line[len("a=control:"):].strip() for line in video.splitlines()
                        if line.startswith("a=control:")), "")
        base = hdrs.get("content-base", self.base + "/")
        track = control if control.startswith("rtsp:") else base.rstrip("/") + "/" + control
        if transport is None:
            if self.transport == "tcp":
                transport = "RTP/AVP/TCP;unicast;interleaved=0-1"
            else:
                self.udp = udp_port_pair()
                self.udp[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                p = self.udp[0].getsockname()[1]
                transport = f"RTP/AVP;unicast;client_port={p}-{p + 1}"
        status, hdrs, _ = self.request("SETUP", track, {"Transport": transport, **(headers or {})})
        if status == 200:
            self.session_header = hdrs.get("session", "")
            self.session = self.session_header.split(";")[0].strip()
            for param in hdrs.get("transport", "").split(";"):
                key, _, value = param.strip().partition("=")
                ports = value.split("-")
                if key == "server_port" and len(ports) == 2 and ports[1].isdigit():
                    self.server_rtcp = ("127.0.0.1", int(ports[1]))
                elif key == "interleaved" and len(ports) == 2 and ports[1].isdigit():
                    self.rtcp_channel = int(ports[1])
        return status, hdrs

    def play(self, seconds=60):
        """PLAY; reads packets from then on for at most `seconds`. (status, headers)."""
        self.stop()
        self._deadline = time.monotonic() + seconds
        status, hdrs, _ = self.conn.request("PLAY", self.base, {"Session": self.session})
        self.play_sent = self.conn.sent_at
        if status == 200:
            self._start()
        return status, hdrs

    def pause(self):
        status, hdrs, _ = self.request("PAUSE")
        return status, hdrs

    # reading

    def _start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        """Stops the reading thread (packets keep queueing in the sockets)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(10)
            self._thread = None

    def wait_closed(self, timeout):
        """True once the server closed the connection, within timeout seconds."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline and self._thread is not None:
            time.sleep(0.05)
        return self.closed

    def close(self):
        self.stop_rtcp()
        self.stop()
        self.conn.close()
        for s in self.udp or ():
            s.close()

    # RTCP from the player: what keeps many players (live555, NVRs, GStreamer
    # over TCP) alive after PLAY, with no RTSP request at all

    def send_receiver_report(self):
        """One RTCP receiver report (rtcp_receiver_report) about the stream
        received so far: over UDP from the player's own RTCP port (client_port's
        second) to the server's (server_port's second), over TCP on the
        interleaved RTCP channel. False when it could not be sent."""
        data = rtcp_receiver_report(self.ssrc, self.media_ssrc, self.highest_seq)
        try:
            if self.udp is not None:
                if self.server_rtcp is None:
                    return False
                self.udp[1].sendto(data, self.server_rtcp)
            else:
                self.conn.send_raw(b"$" + bytes([self.rtcp_channel]) + struct.pack(">H", len(data)) + data)
        except OSError:
            return False
        self.rtcp_sent.append(time.monotonic())
        return True

    def keep_alive_with_rtcp(self, interval=1.0, seconds=120):
        """From now on a receiver report every `interval` seconds, for at most
        `seconds` or until stop_rtcp(), the connection closes or a send fails."""
        self.stop_rtcp()
        self._keepalive_stop.clear()
        deadline = time.monotonic() + seconds

        def run():
            while not self.closed and time.monotonic() < deadline:
                if not self.send_receiver_report():
                    return
                if self._keepalive_stop.wait(interval):
                    return

        self._keepalive = threading.Thread(target=run, daemon=True)
        self._keepalive.start()

    def stop_rtcp(self):
        if self._keepalive is not None:
            self._keepalive_stop.set()
            self._keepalive.join(10)
            self._keepalive = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _rtp(self, data):
        parsed = parse_rtp(data)
        if parsed is not None:
            self.packets.append(RtpPacket(time.monotonic(), *parsed))
            seq = parsed[0]
            if self.media_ssrc is None:
                self.highest_seq = seq
            else:  # extended across wraps; a late packet (behind the highest) changes nothing
                ahead = (seq - self.highest_seq) % 0x10000
                if ahead < 0x8000:
                    self.highest_seq += ahead
            self.media_ssrc = struct.unpack(">I", data[8:12])[0]

    def _interleaved(self, channel, payload):
        if channel == 0:
            self._rtp(payload)
        else:
            self.rtcp_packets += 1

    def _drain_buffer(self):
        """Takes the complete interleaved frames at the head of what was read."""
        buf = self.conn.buf
        while len(buf) >= 4 and buf[:1] == b"$":
            length = struct.unpack(">H", buf[2:4])[0]
            if len(buf) < 4 + length:
                break
            self._interleaved(buf[1], buf[4:4 + length])
            buf = buf[4 + length:]
        self.conn.buf = buf

    def _run(self):
        sock = self.conn.sock
        # what came in behind the last response (e.g. the first packets after PLAY's reply)
        self._drain_buffer()
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            watched = [sock] + ([self.udp[0]] if self.udp else [])
            readable, _, _ = select.select(watched, [], [], 0.05)
            for s in readable:
                if s is not sock:
                    self._rtp(s.recv(65536))
                    continue
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.closed = True
                    self.closed_at = time.monotonic()
                    return
                self.conn.buf += chunk
                self._drain_buffer()

    def access_units(self):
        return h264_access_units(self.packets)


def make_h264_clip(path, seconds, gop_frames, size=(640, 360), fps=30):
    """An H.264 Annex-B test pattern with a fixed GOP (IDR every gop_frames, no
    B-frames, no scene cuts), made by ffmpeg's libx264."""
    need_tool("ffmpeg")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
           "-i", f"testsrc=size={size[0]}x{size[1]}:rate={fps}:duration={seconds}",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "0",
           "-x264-params", f"keyint={gop_frames}:min-keyint={gop_frames}:scenecut=0",
           "-f", "h264", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"ffmpeg could not make {path}: {proc.stderr}"
    return Path(path)


# --- API rows: MicroPython snippets that print what each call did --------------------
#
# A snippet's `attempt(label, f, *args)` prints `label RET <repr>` or
# `label EXC <ExceptionName> <errno>`; run_api asserts the interpreter exited
# cleanly (no call may crash it) and returns the outcomes by label.

API_PRELUDE = r'''
import gc
import sys
import time
import multimedia as mm

def attempt(label, f, *args):
    try:
        r = f(*args)
    except Exception as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else ""
        print(label, "EXC", type(e).__name__, code)
        return None
    print(label, "RET", repr(r))
    return r

AUD = b"\x00\x00\x00\x01\x09\xf0"  # an H.264 access unit delimiter: valid Annex-B
'''

API_END = "END-OF-SCRIPT"


class ApiOutcomes(dict):
    """label -> ("RET", value) or ("EXC", name, errno-or-None)."""

    def __init__(self, proc):
        super().__init__()
        self.proc = proc
        for line in proc.stdout.splitlines():
            parts = line.split(" ", 2)
            if len(parts) < 3 or parts[1] not in ("RET", "EXC"):
                continue
            label, kind, rest = parts
            if kind == "RET":
                try:
                    value = ast.literal_eval(rest)
                except (ValueError, SyntaxError):
                    value = rest  # e.g. a dict repr with MicroPython spacing still parses; objects don't
                self[label] = ("RET", value)
            else:
                name, _, code = rest.partition(" ")
                self[label] = ("EXC", name, int(code) if code.strip() else None)

    def _context(self):
        return f"\nstdout:\n{self.proc.stdout}\nstderr:\n{self.proc.stderr}"

    def ret(self, label):
        got = self.get(label)
        assert got is not None, f"{label}: no outcome printed" + self._context()
        assert got[0] == "RET", f"{label}: raised {got[1:]} instead of returning" + self._context()
        return got[1]

    def exc(self, label):
        got = self.get(label)
        assert got is not None, f"{label}: no outcome printed" + self._context()
        assert got[0] == "EXC", f"{label}: returned {got[1]!r} instead of raising" + self._context()
        return got[1], got[2]

    def raises(self, label, name):
        got_name, _ = self.exc(label)
        assert got_name == name, f"{label}: raised {got_name}, API.md says {name}" + self._context()

    def returns(self, label, value):
        got = self.ret(label)
        assert got == value, f"{label}: returned {got!r}, API.md says {value!r}" + self._context()

    def negative_errno(self, label, code=None):
        got = self.ret(label)
        assert isinstance(got, int) and got < 0, (
            f"{label}: returned {got!r}, API.md says a negative errno" + self._context())
        if code is not None:
            assert got == -code, f"{label}: returned {got}, expected -{errno.errorcode[code]} ({-code})"
        return got


def run_api(body, timeout=30):
    """Runs API_PRELUDE + body in MicroPython; asserts a clean exit; returns the Outcomes."""
    proc = run_mpy(API_PRELUDE + body + f"\nprint({API_END!r})\n", timeout=timeout)
    assert proc.returncode == 0 and API_END in proc.stdout, (
        f"MicroPython exited with {proc.returncode} (a crash if negative)\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return ApiOutcomes(proc)
