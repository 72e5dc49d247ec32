"""Receiving RTSP servers for the pusher tests, all on 127.0.0.1, all bounded.

- FfmpegReceiver: `ffmpeg -listen_timeout S -i rtsp://127.0.0.1:PORT/live/cam
  -c copy -f h264|hevc|mjpeg FILE` (and/or the audio track to a mulaw/alaw
  file). `-listen_timeout S` (seconds) puts the RTSP demuxer in listen mode
  (it implies `-rtsp_flags listen`) and bounds the wait for the pusher; the
  receiver ends by itself on the pusher's TEARDOWN or when its TCP connection
  closes. In listen mode ffmpeg takes whatever transport the pusher's SETUP
  asks (TCP interleaved or UDP client_port) whatever `-rtsp_transport` says,
  so it is not passed. It prints nothing when it is ready: readiness is its
  socket in LISTEN state in /proc/net/tcp (never a probe connection: ffmpeg
  accepts exactly one connection).
- GstRecordServer: record_server.py (gst-rtsp-server, RECORD mode) under
  /usr/bin/python3; JSON lines on stdout (see that file).
- Fake servers in Python sockets (FakeRtspServer and its behaviours): refuse,
  always 401, 404 on ANNOUNCE, silent, garbage, close after OPTIONS, and
  RecorderServer, which completes the handshake (optionally demanding
  credentials) and keeps every interleaved or UDP packet by channel.

Every process and thread here has a deadline after which it is stopped.
"""

import base64
import hashlib
import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import helpers
from helpers import annexb

RECORD_SERVER = helpers.TESTS / "record_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_PATH = "/live/cam"
RAW_FORMATS = {"h264": "h264", "h265": "hevc", "mjpeg": "mjpeg"}
AUDIO_FORMATS = {"pcmu": "mulaw", "pcma": "alaw"}
PARAMETER_SETS = {"h264": (7, 8), "h265": (32, 33, 34)}
KEY_NALS = {"h264": (5,), "h265": tuple(range(16, 24))}


def url(port, path=DEFAULT_PATH, userinfo=None):
    auth = f"{userinfo}@" if userinfo else ""
    return f"rtsp://{auth}127.0.0.1:{port}{path}"


def is_listening(port):
    """True when some socket on this machine listens on TCP `port` (read from
    /proc/net/tcp and tcp6; no connection is made)."""
    want = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(want) and fields[3] == "0A":
                        return True
        except FileNotFoundError:
            continue
    return False


def wait_listening(port, timeout, proc=None, name="receiver"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(port):
            return
        if proc is not None and proc.proc.poll() is not None:
            proc.wait(2)
            pytest.fail(f"{name} exited ({proc.proc.returncode}) before listening on {port}\n"
                        f"{proc.stderr}")
        time.sleep(0.02)
    if proc is not None:
        proc.stop()
    pytest.fail(f"{name}: nothing listens on 127.0.0.1:{port} after {timeout} s")


class _Deadline:
    """Stops `proc` (a helpers.Background) after `seconds` in any case."""

    def __init__(self, proc, seconds):
        self.expired = False

        def fire():
            self.expired = True
            proc.stop()

        self._timer = threading.Timer(seconds, fire)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self):
        self._timer.cancel()


class _Receiver(helpers.Background):
    """A receiving server process, stopped at its deadline in any case; a
    context manager: leaving it stops the process if it still runs."""

    def __init__(self, cmd, name, deadline):
        super().__init__(cmd, name)
        self._deadline = _Deadline(self, deadline)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._deadline.cancel()
        self.stop()


# --- ffmpeg as the receiving server ---------------------------------------------------

def ffmpeg_receiver_command(port, video_out=None, codec="h264", audio_out=None, audio="pcmu",
                            path=DEFAULT_PATH, listen_timeout=20, loglevel="error"):
    """The receiving ffmpeg's argument list: video to a raw elementary stream
    (-f h264 / hevc / mjpeg), audio to raw G.711 (-f mulaw / alaw)."""
    cmd = ["ffmpeg", "-nostdin", "-v", loglevel, "-listen_timeout", str(int(listen_timeout)),
           "-i", url(port, path)]
    if video_out is not None:
        cmd += ["-map", "0:v:0", "-c", "copy", "-f", RAW_FORMATS[codec], "-y", str(video_out)]
    if audio_out is not None:
        cmd += ["-map", "0:a:0", "-c", "copy", "-f", AUDIO_FORMATS[audio], "-y", str(audio_out)]
    return cmd


class FfmpegReceiver(_Receiver):
    """ffmpeg listening for one pusher on 127.0.0.1:port; ready when constructed.
    A context manager: leaving it stops ffmpeg if it still runs."""

    def __init__(self, port, tmp_path, codec="h264", video=True, audio=None, path=DEFAULT_PATH,
                 listen_timeout=20, deadline=60, name=None, tag=""):
        helpers.need_tool("ffmpeg")
        tmp_path = Path(tmp_path)
        self.port = port
        self.codec = codec
        self.audio = audio
        self.path = path
        self.video_out = tmp_path / f"recv{tag}.{RAW_FORMATS[codec]}" if video else None
        self.audio_out = tmp_path / f"recv{tag}.{AUDIO_FORMATS[audio]}" if audio else None
        cmd = ffmpeg_receiver_command(port, self.video_out, codec, self.audio_out, audio or "pcmu",
                                      path, listen_timeout)
        super().__init__(cmd, name or f"ffmpeg-receiver-{codec}", deadline)
        wait_listening(port, 10, self, self.name)

    @property
    def url(self):
        return url(self.port, self.path)

    def finish(self, timeout=15):
        """Waits for ffmpeg to end (the pusher tore down or went away); its exit code."""
        code = self.wait(timeout)
        if code is None:
            self.close()
            pytest.fail(f"{self.name} still running {timeout} s after the push ended\n{self.stderr}")
        self._deadline.cancel()
        return code

    def video_bytes(self):
        return self.video_out.read_bytes() if self.video_out and self.video_out.exists() else b""

    def audio_bytes(self):
        return self.audio_out.read_bytes() if self.audio_out and self.audio_out.exists() else b""

    def access_units(self):
        return annexb.access_units(self.video_bytes(), annexb.H265 if self.codec == "h265" else
                                   annexb.MJPEG if self.codec == "mjpeg" else annexb.H264)

    def decoded_frames(self):
        return decoded_frames(self.video_out)


def decoded_frames(path, timeout=60):
    """How many video frames ffprobe decodes from a file (0 when it is missing or empty)."""
    helpers.need_tool("ffprobe")
    if path is None or not Path(path).exists() or Path(path).stat().st_size == 0:
        return 0
    proc = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                           "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
                          capture_output=True, text=True, timeout=timeout)
    text = proc.stdout.strip().split(",")[0]
    return int(text) if text.isdigit() else 0


# --- comparing what arrived with what was sent ------------------------------------------

def _codec_name(codec):
    return {"h264": annexb.H264, "h265": annexb.H265}[codec]


def is_keyframe(au, codec="h264"):
    c = _codec_name(codec)
    return any(annexb.nal_type(n, c) in KEY_NALS[codec] for n in annexb.nal_units(au))


def compare_access_units(sent, got, codec="h264", header=b""):
    """What a viewer of the recording would see, compared picture by picture.

    sent: the access units pushed (Annex-B bytes each); got: those recorded.
    Each access unit is compared as its list of NAL units (the start codes are
    framing: a 3- or 4-byte start code is the same stream). The recording may
    begin later than the push, but only at a keyframe; from there on every
    pushed access unit must be there, in order, byte for byte, to the end.
    The only thing a receiver may add is parameter sets (SPS/PPS, and VPS for
    H.265) that the pusher sent (in the header, in-band, or as sprop-* in the
    SDP): they are set aside before comparing.

    Returns (first, problems): first is the index in `sent` of the first
    recorded access unit (None when nothing usable arrived); problems a list
    of strings, empty when the recording is exact from `first` on."""
    c = _codec_name(codec)
    ps_types = PARAMETER_SETS[codec]
    known_ps = {n for au in sent for n in annexb.nal_units(au) if annexb.nal_type(n, c) in ps_types}
    known_ps |= {n for n in annexb.nal_units(header) if annexb.nal_type(n, c) in ps_types}
    sent_nals = [annexb.nal_units(au) for au in sent]
    got_nals = [annexb.nal_units(au) for au in got]
    problems = []
    # parameter sets the receiver added: identical to ones sent, else a problem
    stripped = []
    for k, nals in enumerate(got_nals):
        extra = [n for n in nals if annexb.nal_type(n, c) in ps_types]
        unknown = [n for n in extra if n not in known_ps]
        if unknown:
            problems.append(f"received access unit {k}: parameter sets never sent "
                            f"(types {[annexb.nal_type(n, c) for n in unknown]})")
        stripped.append([n for n in nals if annexb.nal_type(n, c) not in ps_types])
    sent_stripped = [[n for n in nals if annexb.nal_type(n, c) not in ps_types] for nals in sent_nals]
    # a received unit made only of parameter sets (split off by the receiver) joins the next
    merged = []
    for nals in stripped:
        if nals:
            merged.append(nals)
    if not merged:
        return None, problems + ["no access unit arrived"]
    try:
        first = sent_stripped.index(merged[0])
    except ValueError:
        return None, problems + ["the first received access unit is none of those sent"]
    if not is_keyframe(sent[first], codec):
        problems.append(f"the recording begins at access unit {first}, which is not a keyframe")
    want = sent_stripped[first:]
    for k, (w, g) in enumerate(zip(want, merged)):
        if w != g:
            problems.append(f"access unit {first + k} differs: sent NAL types "
                            f"{[annexb.nal_type(n, c) for n in w]} sizes {[len(n) for n in w]}, "
                            f"received {[annexb.nal_type(n, c) for n in g]} sizes {[len(n) for n in g]}")
            break
    if len(merged) != len(want):
        problems.append(f"{len(want)} access units sent from {first} on, {len(merged)} received")
    return first, problems


# --- gst-rtsp-server in RECORD mode -----------------------------------------------------

def need_system_gi():
    """/usr/bin/python3 with gi and GstRtspServer (a missing one fails the test)."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is missing: {helpers.SETUP_HINT}")
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                        "from gi.repository import GstRtspServer"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        pytest.fail(f"{SYSTEM_PYTHON} has no gi/GstRtspServer (python3-gi, gir1.2-gst-rtsp-server-1.0): "
                    f"{r.stderr.strip()[-300:]}")


class GstRecordServer(_Receiver):
    """record_server.py on 127.0.0.1:port; ready when constructed."""

    def __init__(self, port, codec="h264", audio=None, protocols="tcp,udp", user=None,
                 path=DEFAULT_PATH, audio_out=None, deadline=60, name=None):
        need_system_gi()
        elements = {"h264": ["rtph264depay", "h264parse", "avdec_h264"],
                    "h265": ["rtph265depay", "h265parse", "avdec_h265"],
                    "mjpeg": ["rtpjpegdepay", "jpegdec"]}[codec]
        if audio:
            elements += {"pcmu": ["rtppcmudepay", "mulawdec"], "pcma": ["rtppcmadepay", "alawdec"]}[audio]
        helpers.need_gst_elements(*elements)
        self.port = port
        self.path = path
        self.user = user
        cmd = [SYSTEM_PYTHON, str(RECORD_SERVER), "--port", str(port), "--path", path,
               "--codec", codec, "--protocols", protocols, "--deadline", str(deadline)]
        if audio:
            cmd += ["--audio", audio]
        if user:
            cmd += ["--user", user[0], user[1]]
        if audio_out:
            cmd += ["--audio-out", str(audio_out)]
        super().__init__(cmd, name or f"record-server-{codec}", deadline + 5)
        self.wait_line('{"event":"ready"', 20)

    def url(self, userinfo=None):
        if userinfo is None and self.user:
            userinfo = f"{self.user[0]}:{self.user[1]}"
        return url(self.port, self.path, userinfo)

    def events(self, kind=None):
        out = []
        for line in list(self.lines):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if kind is None or obj.get("event") == kind:
                out.append(obj)
        return out

    def stats(self):
        got = self.events("stats")
        return got[-1] if got else {"medias": 0, "frames": 0, "units": 0, "keyframes": 0,
                                    "first_key": [], "frames_per_media": [], "audio_bytes": 0,
                                    "audio_samples": 0}

    def wait_stats(self, predicate, timeout):
        """The first stats satisfying predicate within timeout s (else the last ones)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = self.stats()
            if predicate(s):
                return s
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return self.stats()

    def wait_media_end(self, count=1, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.events("media-end")) < count:
            time.sleep(0.05)
        time.sleep(0.3)  # the last stats line follows within 100 ms
        return len(self.events("media-end")) >= count


# --- fake servers in plain sockets ------------------------------------------------------

def closed_port():
    """A port where nothing listens: a connection is refused."""
    port = helpers.free_port()
    assert not is_listening(port)
    return port


class Request:
    def __init__(self, method, uri, headers, body, at):
        self.method, self.uri, self.headers, self.body, self.at = method, uri, headers, body, at

    def __repr__(self):
        return f"<{self.method} {self.uri}>"


def _read_request(conn, buf, on_frame, stop, deadline):
    """One RTSP request from conn (interleaved $ frames before it go to on_frame).
    Returns (request or None at EOF/stop, rest of buf)."""
    while True:
        while buf[:1] == b"$" and len(buf) >= 4:
            length = struct.unpack(">H", buf[2:4])[0]
            if len(buf) < 4 + length:
                break
            on_frame(buf[1], bytes(buf[4:4 + length]))
            buf = buf[4 + length:]
        if buf[:1] != b"$" and b"\r\n\r\n" in buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("utf-8", "replace").split("\r\n")
            parts = lines[0].split(" ")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(rest) >= length:
                req = Request(parts[0], parts[1] if len(parts) > 1 else "", headers,
                              rest[:length].decode("utf-8", "replace"), time.monotonic())
                return req, rest[length:]
        if stop.is_set() or time.monotonic() > deadline:
            return None, buf
        r, _, _ = select.select([conn], [], [], 0.05)
        if not r:
            continue
        try:
            chunk = conn.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            return None, buf
        buf += chunk


def response(req, status=200, reason="OK", headers=None, body=""):
    lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {req.headers.get('cseq', '0')}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    data = body.encode()
    if data:
        lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class FakeRtspServer:
    """A TCP server on 127.0.0.1 whose every connection is given to handle(conn)
    in its own thread; everything ends at close() or after `deadline` seconds."""

    def __init__(self, port=None, deadline=60):
        self.port = port or helpers.free_port()
        self.requests = []  # every Request read, all connections, in order
        self.connections = 0
        self.errors = []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + deadline
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        self._threads = []
        self._accept = threading.Thread(target=self._accept_loop, daemon=True)
        self._accept.start()

    def url(self, path=DEFAULT_PATH, userinfo=None):
        return url(self.port, path, userinfo)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop.set()
        self._accept.join(5)
        for t in self._threads:
            t.join(5)
        self.sock.close()

    def methods(self):
        return [r.method for r in self.requests]

    def _accept_loop(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn):
        try:
            self.handle(conn)
        except OSError:
            pass
        except Exception as e:  # noqa: BLE001  (reported to the test)
            self.errors.append(repr(e))
        finally:
            conn.close()

    def requests_of(self, conn_state):
        """Yields the requests of one connection until EOF, close() or the deadline."""
        buf = b""
        while True:
            req, buf = _read_request(conn_state, buf, self.on_frame, self._stop, self._deadline)
            if req is None:
                return
            self.requests.append(req)
            yield req

    def on_frame(self, channel, payload):
        pass

    def hold(self, conn):
        """Keeps conn open, reading and dropping, until the peer closes or the end."""
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            r, _, _ = select.select([conn], [], [], 0.05)
            if r:
                try:
                    if not conn.recv(65536):
                        return
                except OSError:
                    return

    def handle(self, conn):
        raise NotImplementedError


OPTIONS_HEADERS = {"Public": "OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN, GET_PARAMETER"}


class Always401Server(FakeRtspServer):
    """Every request gets 401 with a Digest challenge (and a Basic one when basic=True)."""

    def __init__(self, basic=False, **kw):
        self.basic = basic
        super().__init__(**kw)

    def handle(self, conn):
        for req in self.requests_of(conn):
            challenge = 'Digest realm="fake", nonce="0123456789abcdef0123456789abcdef"'
            headers = {"WWW-Authenticate": challenge}
            data = response(req, 401, "Unauthorized", headers)
            if self.basic:
                data = data.replace(b"\r\n\r\n", b'\r\nWWW-Authenticate: Basic realm="fake"\r\n\r\n', 1)
            conn.sendall(data)

    def authorizations(self):
        return [r.headers.get("authorization") for r in self.requests if "authorization" in r.headers]


class NotFoundServer(FakeRtspServer):
    """OPTIONS: 200; ANNOUNCE (and anything else): 404."""

    def handle(self, conn):
        for req in self.requests_of(conn):
            if req.method == "OPTIONS":
                conn.sendall(response(req, 200, "OK", OPTIONS_HEADERS))
            else:
                conn.sendall(response(req, 404, "Not Found"))


class SilentServer(FakeRtspServer):
    """Accepts the connection, reads (and keeps) every request, never answers."""

    def handle(self, conn):
        for _ in self.requests_of(conn):
            pass


class GarbageServer(FakeRtspServer):
    """Answers the first request with `garbage` (not RTSP) and keeps the connection."""

    def __init__(self, garbage=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\x00\xff\xfegarbage\r\n\r\n",
                 **kw):
        self.garbage = garbage
        super().__init__(**kw)

    def handle(self, conn):
        for _ in self.requests_of(conn):
            conn.sendall(self.garbage)
            break
        self.hold(conn)


class CloseAfterOptionsServer(FakeRtspServer):
    """OPTIONS: 200; then the connection is closed on the next request (ANNOUNCE)."""

    def handle(self, conn):
        for req in self.requests_of(conn):
            if req.method != "OPTIONS":
                return
            conn.sendall(response(req, 200, "OK", OPTIONS_HEADERS))


def _digest_response(algorithm, user, realm, password, method, uri, nonce):
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]
    ha1 = h(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    return h(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()


def _parse_auth_params(value):
    params = {}
    for part in value.split(","):
        k, _, v = part.strip().partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    return params


class RecorderServer(FakeRtspServer):
    """A media server that takes one pusher at a time: OPTIONS, ANNOUNCE (the SDP
    is kept), SETUP (TCP interleaved as asked, or UDP: it binds a port pair per
    track and answers server_port), RECORD, keepalives (OPTIONS, GET_PARAMETER,
    SET_PARAMETER) and TEARDOWN all answered 200.

    Everything received is kept: `packets[channel]` lists (arrival, payload)
    for interleaved channel numbers as the pusher chose them; UDP packets are
    filed under the channel their track would have had interleaved (track i:
    RTP 2i, RTCP 2i+1) and `udp_packets` counts them.

    auth: None, or (scheme, user, password) with scheme "digest-md5",
    "digest-sha256" or "basic": every request without valid credentials gets
    401 with that challenge."""

    NONCE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    REALM = "recorder"

    def __init__(self, auth=None, **kw):
        self.auth = auth
        self.sdp = None
        self.setups = []  # the Transport header of each SETUP
        self.packets = {}
        self.udp_packets = 0
        self.recording = threading.Event()
        self.torn_down = threading.Event()
        self._udp = []
        super().__init__(**kw)

    def on_frame(self, channel, payload):
        self.packets.setdefault(channel, []).append((time.monotonic(), payload))

    def close(self):
        super().close()
        for s, _ in self._udp:
            s.close()

    def _challenge(self):
        scheme = self.auth[0]
        if scheme == "basic":
            return f'Basic realm="{self.REALM}"'
        algorithm = "SHA-256" if scheme == "digest-sha256" else "MD5"
        return f'Digest realm="{self.REALM}", nonce="{self.NONCE}", algorithm={algorithm}'

    def authorized(self, req):
        if self.auth is None:
            return True
        scheme, user, password = self.auth
        value = req.headers.get("authorization", "")
        if scheme == "basic":
            return value == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if not value.lower().startswith("digest "):
            return False
        p = _parse_auth_params(value[7:])
        algorithm = "SHA-256" if scheme == "digest-sha256" else "MD5"
        if p.get("username") != user or p.get("realm") != self.REALM or p.get("nonce") != self.NONCE:
            return False
        if p.get("algorithm", "MD5").upper() != algorithm:
            return False
        want = _digest_response(algorithm, user, self.REALM, password, req.method,
                                p.get("uri", ""), self.NONCE)
        return p.get("response") == want

    def _udp_pair(self, track):
        for _ in range(50):
            rtp, rtcp = helpers.udp_port_pair()
            rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self._udp += [(rtp, 2 * track), (rtcp, 2 * track + 1)]
            return rtp.getsockname()[1]
        raise RuntimeError("no UDP pair")

    def _udp_loop(self):
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            socks = [s for s, _ in self._udp]
            if not socks:
                time.sleep(0.05)
                continue
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                channel = next(c for u, c in self._udp if u is s)
                try:
                    data = s.recv(65536)
                except OSError:
                    continue
                self.udp_packets += 1
                self.on_frame(channel, data)

    def handle(self, conn):
        session = "4f3e2d1c"
        udp_thread = None
        for req in self.requests_of(conn):
            if not self.authorized(req):
                conn.sendall(response(req, 401, "Unauthorized", {"WWW-Authenticate": self._challenge()}))
                continue
            h = {"Session": f"{session};timeout=60"}
            if req.method == "OPTIONS":
                conn.sendall(response(req, 200, "OK", OPTIONS_HEADERS))
            elif req.method == "ANNOUNCE":
                self.sdp = req.body
                conn.sendall(response(req, 200, "OK"))
            elif req.method == "SETUP":
                transport = req.headers.get("transport", "")
                self.setups.append(transport)
                if "interleaved=" in transport or "/TCP" in transport.upper():
                    reply = transport
                else:
                    track = len(self.setups) - 1
                    port = self._udp_pair(track)
                    reply = f"{transport};server_port={port}-{port + 1}"
                    if udp_thread is None:
                        udp_thread = threading.Thread(target=self._udp_loop, daemon=True)
                        udp_thread.start()
                conn.sendall(response(req, 200, "OK", {**h, "Transport": reply}))
            elif req.method == "RECORD":
                conn.sendall(response(req, 200, "OK", h))
                self.recording.set()
            elif req.method == "TEARDOWN":
                conn.sendall(response(req, 200, "OK", h))
                self.torn_down.set()
            else:  # GET_PARAMETER, SET_PARAMETER, ...
                conn.sendall(response(req, 200, "OK", h))
        if udp_thread is not None:
            udp_thread.join(1)  # let the UDP socket drain a moment after the TCP end

    def sdp_tracks(self):
        """[(media, control)] from the ANNOUNCE's SDP, in order."""
        tracks = []
        for line in (self.sdp or "").splitlines():
            if line.startswith("m="):
                tracks.append([line[2:].split(" ")[0], None])
            elif line.startswith("a=control:") and tracks:
                tracks[-1][1] = line[len("a=control:"):].strip()
        return [tuple(t) for t in tracks]

    def rtp(self, channel=0):
        """helpers.RtpPacket of each RTP packet on `channel`, in arrival order."""
        out = []
        for arrival, data in self.packets.get(channel, []):
            parsed = helpers.parse_rtp(data)
            if parsed is not None:
                out.append(helpers.RtpPacket(arrival, *parsed))
        return out

    def h264_access_units(self, channel=0):
        return helpers.h264_access_units(self.rtp(channel))

    def wait_packets(self, channel, count, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.packets.get(channel, [])) < count:
            time.sleep(0.02)
        return len(self.packets.get(channel, []))
