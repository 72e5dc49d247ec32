"""The module on a board (or the unix port behind a pty, --target unix):
the API's names and error rows run on the board, a server started there is
reached at the URL it reports, and ffprobe on the PC decodes every frame."""

import fcntl
import ipaddress
import re
import socket
import struct
import sys

import pytest

from board import REPO, Ffprobe

sys.path.insert(0, str(REPO / "examples" / "host"))
import annexb  # noqa: E402  (the splitter the host demo uses; also runs in MicroPython)

CLIP = REPO / "examples" / "assets" / "clip2.264"  # 2 s, 320x240, 30 fps, IDR every 30
CLIP_SIZE = (320, 240)
URL_RE = re.compile(r"^rtsp://(\d+\.\d+\.\d+\.\d+)(?::(\d+))?/(.+)$")

# `attempt(label, f, *args)` prints `label RET <repr>` or `label EXC <Name> <errno>`.
PRELUDE = r'''
import multimedia as mm
try:
    import errno
except ImportError:
    import uerrno as errno

def attempt(label, f, *args):
    try:
        r = f(*args)
    except Exception as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else ""
        print(label, "EXC", type(e).__name__, code)
        return None
    print(label, "RET", repr(r))
    return r

AUD = b"\x00\x00\x00\x01\x09\xf0"
'''


class Outcomes(dict):
    def __init__(self, result):
        super().__init__()
        self.result = result
        for line in result.stdout.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[1] in ("RET", "EXC"):
                self[parts[0]] = (parts[1], parts[2])

    def _where(self):
        return f"\nstdout:\n{self.result.stdout}\nstderr:\n{self.result.stderr}"

    def ret(self, label):
        kind, rest = self.get(label, (None, None))
        assert kind == "RET", f"{label}: {kind} {rest}" + self._where()
        return eval(rest, {})  # reprs of ints, strings, None, bools, dicts

    def raises(self, label, name, code=None):
        kind, rest = self.get(label, (None, None))
        assert kind == "EXC", f"{label}: expected {name}, got {kind} {rest}" + self._where()
        got_name, _, got_code = rest.partition(" ")
        assert got_name == name, f"{label}: raised {got_name}, expected {name}" + self._where()
        if code is not None:
            assert got_code.strip() == str(code), f"{label}: errno {got_code}, expected {code}"

    def negative_errno(self, label, code=None):
        value = self.ret(label)
        assert isinstance(value, int) and value < 0, f"{label}: returned {value!r}" + self._where()
        if code is not None:
            assert value == -code, f"{label}: returned {value}, expected -{code}" + self._where()
        return value


def api(board, body, timeout=60):
    result = board.run(PRELUDE + body + "\nprint('END-OF-SCRIPT')\n", timeout)
    assert result.stderr == "" and "END-OF-SCRIPT" in result.stdout, (
        f"the board raised or stopped early\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return Outcomes(result)


def board_errno(board, *names):
    """The board's errno values (its C library's, not the PC's)."""
    out = board.check("try:\n    import errno\nexcept ImportError:\n    import uerrno as errno\n"
                      + "".join(f"print('{n}', errno.{n})\n" for n in names))
    return {name: int(value) for name, value in (line.split() for line in out.splitlines())}


# --- names --------------------------------------------------------------------------

def test_module_names_and_constants(board):
    names = ["rtspserver_create", "rtspserver_destroy", "rtspserver_init", "rtspserver_deinit",
             "rtspserver_createsession", "rtspserver_destroysession", "rtspserver_getrtspurl",
             "rtspserver_start", "rtspserver_stop", "rtspserver_sendvideodata",
             "rtspserver_sendaudiodata", "rtspserver_sendvideodata_byphyaddr",
             "rtspserver_test", "rtspserver_getstats", "rtspserver_recvaudiodata"]
    r = api(board, f'''
attempt("test", mm.rtspserver_test)
attempt("method_test", mm.rtsp_server().rtspserver_test)
attempt("h264", lambda: mm.multi_media_type.media_h264)
attempt("h265", lambda: mm.multi_media_type.media_h265)
attempt("mjpeg", lambda: mm.multi_media_type.media_mjpeg)
s = mm.rtsp_server()
attempt("missing", lambda: [n for n in {names!r} if not (callable(getattr(s, n, None)) and callable(getattr(mm, n, None)))])
''')
    assert r.ret("test") == "hello world"
    assert r.ret("method_test") == "hello world"
    assert (r.ret("h264"), r.ret("h265"), r.ret("mjpeg")) == (0, 1, 2)
    assert r.ret("missing") == []


# --- the URL ------------------------------------------------------------------------

def _local_ipv4_addresses():
    addrs = {"127.0.0.1"}
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                res = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            addrs.add(socket.inet_ntoa(res[20:24]))
    return addrs


def test_url_names_the_board_address_port_and_session(board, rtsp_port):
    r = api(board, f'''
s = mm.rtsp_server()
attempt("init", s.rtspserver_init, {rtsp_port})
attempt("session", s.rtspserver_createsession, "cam", 0, False)
attempt("other", s.rtspserver_createsession, "other/path", 0, False)
attempt("url", s.rtspserver_getrtspurl, "cam")
attempt("url_default", s.rtspserver_getrtspurl)
attempt("url_other", s.rtspserver_getrtspurl, "other/path")
s.rtspserver_destroy()
''')
    assert r.ret("init") == 0
    assert r.ret("session") == 0 and r.ret("other") == 0
    url = r.ret("url")
    m = URL_RE.match(url)
    assert m, url
    host, port, name = m.groups()
    assert (int(port), name) == (rtsp_port, "cam"), url
    assert r.ret("url_default") == url  # no name: the first session
    assert r.ret("url_other") == f"rtsp://{host}:{rtsp_port}/other/path"
    address = ipaddress.IPv4Address(host)
    if board.target == "unix":
        assert host in _local_ipv4_addresses(), f"{host} is not an address of this machine"
    else:
        # the board's own network address, which the PC can reach
        assert not (address.is_unspecified or address.is_loopback), url


# --- the error rows -----------------------------------------------------------------

def test_api_error_rows(board, rtsp_port):
    e = board_errno(board, "ENOENT", "EADDRINUSE", "EOPNOTSUPP", "EINVAL", "ENODEV")
    r = api(board, f'''
s = mm.rtsp_server()
attempt("start_before_init", s.rtspserver_start)
attempt("url_before_init", s.rtspserver_getrtspurl, "cam")
attempt("port_0", s.rtspserver_init, 0)
attempt("port_65536", s.rtspserver_init, 65536)
attempt("port_str", s.rtspserver_init, "{rtsp_port}")
attempt("port_none", s.rtspserver_init, None)
attempt("init", s.rtspserver_init, {rtsp_port})
attempt("init_again", s.rtspserver_init, {rtsp_port})
other = mm.rtsp_server()
attempt("port_in_use", other.rtspserver_init, {rtsp_port})
other.rtspserver_destroy()
attempt("type_3", s.rtspserver_createsession, "a", 3, False)
attempt("type_vp8", s.rtspserver_createsession, "b", "vp8", False)
attempt("type_none", s.rtspserver_createsession, "c", None, False)
attempt("name_int", s.rtspserver_createsession, 5, 0, False)
attempt("codec_upper", lambda: s.rtspserver_createsession("d", 0, True, audio_codec="PCMA"))
attempt("codec_int", lambda: s.rtspserver_createsession("d", 0, True, audio_codec=8))
attempt("bc_codec_upper", lambda: s.rtspserver_createsession("d", 0, True, backchannel=True, backchannel_codec="PCMU"))
attempt("bc_codec_int", lambda: s.rtspserver_createsession("d", 0, True, backchannel_codec=0))
attempt("cam", s.rtspserver_createsession, "cam", 0, False)
attempt("cam_again", lambda: s.rtspserver_createsession("cam", 2, False, backchannel=True))
attempt("door", lambda: s.rtspserver_createsession("door", 0, True, backchannel=True, backchannel_codec="pcma"))
attempt("url_unknown", s.rtspserver_getrtspurl, "nope")
attempt("destroy_unknown", s.rtspserver_destroysession, "nope")
attempt("start", s.rtspserver_start)
attempt("send", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 1000)
attempt("send_size_over", s.rtspserver_sendvideodata, "cam", AUD, len(AUD) + 1, 1000)
attempt("send_size_negative", s.rtspserver_sendvideodata, "cam", AUD, -1, 1000)
attempt("send_data_int", s.rtspserver_sendvideodata, "cam", 5, 1, 1000)
attempt("send_unknown", s.rtspserver_sendvideodata, "nope", AUD, len(AUD), 1000)
attempt("audio_no_track", s.rtspserver_sendaudiodata, "cam", AUD, len(AUD), 1000)
attempt("byphyaddr_0", s.rtspserver_sendvideodata_byphyaddr, "cam", 0, 16, 1000)
attempt("recv", s.rtspserver_recvaudiodata, "door", bytearray(160))
attempt("recv_memoryview_slice", s.rtspserver_recvaudiodata, "door", memoryview(bytearray(160))[8:16])
attempt("recv_no_backchannel", s.rtspserver_recvaudiodata, "cam", bytearray(160))
attempt("recv_unknown", s.rtspserver_recvaudiodata, "nope", bytearray(160))
attempt("recv_bytes", s.rtspserver_recvaudiodata, "door", b"1234")
attempt("recv_none", s.rtspserver_recvaudiodata, "door", None)
attempt("recv_name_int", s.rtspserver_recvaudiodata, 1, bytearray(4))
attempt("recv_one_arg", lambda: s.rtspserver_recvaudiodata("door"))
attempt("stats", lambda: sorted(s.rtspserver_getstats("cam")))
attempt("stats_unknown", s.rtspserver_getstats, "nope")
attempt("stop", s.rtspserver_stop)
attempt("stop_again", s.rtspserver_stop)
attempt("destroysession", s.rtspserver_destroysession, "cam")
attempt("send_after_destroysession", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 1000)
attempt("recv_after_destroysession", s.rtspserver_recvaudiodata, "cam", bytearray(4))
attempt("deinit", s.rtspserver_deinit)
attempt("destroy", s.rtspserver_destroy)
attempt("destroy_again", s.rtspserver_destroy)
attempt("recv_after_destroy", s.rtspserver_recvaudiodata, "door", bytearray(4))
s2 = mm.rtsp_server()
attempt("init_after_destroy", s2.rtspserver_init, {rtsp_port})
s2.rtspserver_destroy()
''')
    r.raises("start_before_init", "OSError")
    r.raises("url_before_init", "ValueError")
    for label in ("port_0", "port_65536", "type_3", "type_vp8", "url_unknown", "codec_upper",
                  "bc_codec_upper", "send_size_over", "send_size_negative"):
        r.raises(label, "ValueError")
    for label in ("port_str", "port_none", "type_none", "name_int", "codec_int", "bc_codec_int",
                  "send_data_int", "recv_bytes", "recv_none", "recv_name_int", "recv_one_arg"):
        r.raises(label, "TypeError")
    assert r.ret("init") == 0
    r.negative_errno("init_again")
    r.negative_errno("port_in_use", e["EADDRINUSE"])
    assert r.ret("cam") == 0 and r.ret("cam_again") == 0 and r.ret("door") == 0
    r.negative_errno("destroy_unknown", e["ENOENT"])
    assert r.ret("start") is None
    assert r.ret("send") == 0
    r.negative_errno("send_unknown", e["ENOENT"])
    r.negative_errno("audio_no_track")
    if board.target == "unix":
        r.raises("byphyaddr_0", "OSError", e["EOPNOTSUPP"])  # physical addresses only on a K230
    else:
        r.negative_errno("byphyaddr_0")  # address 0 is never an encoder buffer
    assert r.ret("recv") == 0 and r.ret("recv_memoryview_slice") == 0  # a back channel, nobody talking
    r.negative_errno("recv_no_backchannel", e["EINVAL"])  # cam_again added none to the existing cam
    r.negative_errno("recv_unknown", e["ENOENT"])
    assert set(r.ret("stats")) >= {"clients", "playing", "packets_sent", "bytes_sent", "backchannel_bytes",
                                   "backchannel_dropped", "backchannel_client", "per_client"}
    kind, rest = r["stats_unknown"]  # an error of either documented kind, never a dict
    assert ((kind == "EXC" and rest.split()[0] in ("OSError", "ValueError"))
            or (kind == "RET" and rest.lstrip("-").isdigit() and int(rest) < 0)), (kind, rest)
    assert r.ret("stop") is None and r.ret("stop_again") is None
    assert r.ret("destroysession") == 0
    r.negative_errno("send_after_destroysession")
    r.negative_errno("recv_after_destroysession", e["ENOENT"])
    r.negative_errno("recv_after_destroy", e["ENODEV"])
    assert r.ret("deinit") is None
    assert r.ret("destroy") == 0
    assert r.ret("init_after_destroy") == 0  # destroy freed the port


# --- streaming ----------------------------------------------------------------------

STREAM = '''
import time
import multimedia as mm
data = open({path!r}, "rb").read()
spans = {spans!r}
s = mm.rtsp_server()
assert s.rtspserver_init({port}) == 0
assert s.rtspserver_createsession("cam", 0, False) == 0
s.rtspserver_start()
print("URL", s.rtspserver_getrtspurl("cam"))
deadline = time.ticks_add(time.ticks_ms(), 30000)
while s.rtspserver_getstats("cam")["playing"] < 1:
    if time.ticks_diff(deadline, time.ticks_ms()) < 0:
        raise OSError("no client played within 30 s")
    time.sleep_ms(20)
print("PLAYING")
t0 = time.ticks_us()
bad = 0
for i, (a, b) in enumerate(spans):
    due = time.ticks_add(t0, i * 33333)
    wait = time.ticks_diff(due, time.ticks_us())
    if wait > 0:
        time.sleep_us(wait)
    ts = {timestamp}
    if s.rtspserver_sendvideodata("cam", data[a:b], b - a, ts) != 0:
        bad += 1
print("SENT", len(spans), "BAD", bad)
time.sleep_ms(500)
s.rtspserver_destroy()
print("DONE")
'''


@pytest.fixture(scope="module")
def clip_on_board(board):
    data = CLIP.read_bytes()
    return board.put_file("canmv_rtsp_clip2.264", data), annexb.access_unit_spans(data)


@pytest.mark.parametrize("transport,timestamps", [
    ("tcp", "pts"), ("udp", "pts"), ("tcp", "const"),
], ids=["tcp-pts", "udp-pts", "tcp-const1000"])
def test_ffprobe_decodes_every_frame_the_board_sends(board, clip_on_board, rtsp_port,
                                                     transport, timestamps):
    path, spans = clip_on_board
    board.start(STREAM.format(path=path, spans=spans, port=rtsp_port,
                              timestamp="i * 33333" if timestamps == "pts" else "1000"))
    url = board.wait_line("URL ", 30).split(" ", 1)[1]
    client = Ffprobe(board.pc_url(url), transport)
    try:
        board.wait_line("PLAYING", 40)
        sent = board.wait_line("SENT ", 30)
        result = board.finish(30)
    finally:
        code, frames, err = client.finish(30)
    assert result.stderr == "", result.stderr
    assert "DONE" in result.stdout, result.stdout
    assert sent == f"SENT {len(spans)} BAD 0", sent
    assert code == 0, f"ffprobe exit code {code}\n{err}"
    assert {(w, h) for w, h, _ in frames} == {CLIP_SIZE}, frames[:3]
    if transport == "udp" and board.target == "serial":
        # a real network may drop a datagram; loopback must not
        assert len(frames) >= 0.9 * len(spans), f"{len(frames)} of {len(spans)} frames\n{err}"
    else:
        assert len(frames) == len(spans), f"{len(frames)} of {len(spans)} frames\n{err}"
    assert frames[0][2] == "I", "the stream must start at a keyframe"
