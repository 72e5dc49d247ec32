"""RTSP 1.0 (RFC 2326) as a player sees it, spoken by hand over a socket to the
real unix port: methods, status codes, URL spellings, Transport and Session
headers, and an SDP that carries the stream's parameter sets (RFC 6184)."""

import base64
import re
import struct
import time

import pytest

import helpers
from helpers import CLIP, RtspConnection, annexb, udp_port_pair

SERVER = r'''
import os, sys, time
sys.path.append(HOST)
import annexb, multimedia as mm

def wait_for(path, seconds):
    deadline = time.ticks_add(time.ticks_ms(), int(seconds * 1000))
    while time.ticks_diff(deadline, time.ticks_ms()) > 0:
        try:
            os.stat(path)
            return True
        except OSError:
            time.sleep_ms(10)
    return False

aus = annexb.access_units(open(CLIP, "rb").read())
s = mm.rtsp_server()
s.rtspserver_init(PORT)
s.rtspserver_createsession("cam", 0, False)
s.rtspserver_createsession("live/main", 0, False)
s.rtspserver_start()
print("READY", s.rtspserver_getrtspurl("cam"))
if SEND_AT_ONCE:
    for name in ("cam", "live/main"):
        s.rtspserver_sendvideodata(name, aus[0], len(aus[0]), 0)
else:
    wait_for(GO, 30)
    s.rtspserver_sendvideodata("cam", aus[0], len(aus[0]), 0)
    print("SENT")
# keep feeding frames (one GOP, looped) until told to stop
i = 1
while not wait_for(STOP, 0.033):
    au = aus[i % 30]
    for name in ("cam", "live/main"):
        s.rtspserver_sendvideodata(name, au, len(au), i * 33333)
    i += 1
    if i > 30 * 60:
        break
s.rtspserver_destroy()
print("DONE")
'''


class Server:
    def __init__(self, port, tmp_path, send_at_once=True):
        self.port = port
        self.go = tmp_path / "go"
        self.stop_file = tmp_path / "stop"
        code = (f"HOST = {str(helpers.HOST_EXAMPLES)!r}\nCLIP = {str(CLIP)!r}\nPORT = {port}\n"
                f"GO = {str(self.go)!r}\nSTOP = {str(self.stop_file)!r}\n"
                f"SEND_AT_ONCE = {send_at_once}\n" + SERVER)
        self.proc = helpers.Background([helpers.micropython(), "-c", code], "rtsp server")
        self.url = self.proc.wait_line("READY", 15).split(" ", 1)[1]

    def close(self):
        self.stop_file.touch()
        code = self.proc.wait(10)
        self.proc.stop()
        return code


@pytest.fixture
def server(port, tmp_path):
    s = Server(port, tmp_path)
    yield s
    code = s.close()
    assert code == 0, f"server exit code {code}\n{s.proc.stdout}\n{s.proc.stderr}"


def clip_parameter_sets():
    nals = annexb.nal_units(helpers.clip_bytes(CLIP))
    sps = next(n for n in nals if annexb.h264_nal_type(n) == 7)
    pps = next(n for n in nals if annexb.h264_nal_type(n) == 8)
    return sps, pps


def fmtp_params(sdp):
    m = re.search(r"^a=fmtp:\d+ (.*)$", sdp, re.M)
    assert m, f"no a=fmtp line in\n{sdp}"
    return dict(p.strip().split("=", 1) for p in m.group(1).split(";") if "=" in p)


def test_options_lists_every_method_answered(server):
    with RtspConnection(server.port) as c:
        status, hdrs, _ = c.request("OPTIONS", c.url("cam"))
        assert status == 200
        public = {m.strip() for m in hdrs.get("public", "").split(",")}
        assert {"OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER"} <= public, public
        status, _, _ = c.request("OPTIONS", "*")
        assert status == 200


def test_describe_gives_an_sdp_with_the_streams_parameter_sets(server):
    sps, pps = clip_parameter_sets()
    with RtspConnection(server.port) as c:
        status, hdrs, sdp = c.request("DESCRIBE", c.url("cam"), {"Accept": "application/sdp"})
    assert status == 200
    assert hdrs.get("content-type", "").startswith("application/sdp")
    assert hdrs.get("content-base", "").rstrip("/").endswith(f":{server.port}/cam"), hdrs
    assert sdp.startswith("v=0"), sdp
    assert re.search(r"^m=video 0 RTP/AVP (\d+)", sdp, re.M), sdp
    assert re.search(r"^a=rtpmap:\d+ H264/90000", sdp, re.M), sdp
    fmtp = fmtp_params(sdp)
    assert fmtp.get("packetization-mode") == "1", fmtp
    assert fmtp.get("profile-level-id", "").lower() == sps[1:4].hex(), fmtp
    sprop = [base64.b64decode(p) for p in fmtp.get("sprop-parameter-sets", "").split(",")]
    assert sprop == [sps, pps], fmtp


def test_describe_before_the_first_sps_does_not_stick(port, tmp_path):
    """A DESCRIBE answered before any SPS was sent must not leave later clients
    with an SDP lacking sprop-parameter-sets."""
    s = Server(port, tmp_path, send_at_once=False)
    try:
        with RtspConnection(port) as c:
            status, _, early = c.request("DESCRIBE", c.url("cam"))
        assert status == 200
        assert re.search(r"^a=rtpmap:\d+ H264/90000", early, re.M), early
        s.go.touch()
        s.proc.wait_line("SENT", 15)
        time.sleep(0.1)
        with RtspConnection(port) as c:
            status, _, late = c.request("DESCRIBE", c.url("cam"))
        assert status == 200
        sps, pps = clip_parameter_sets()
        sprop = fmtp_params(late).get("sprop-parameter-sets", "")
        assert [base64.b64decode(p) for p in sprop.split(",") if p] == [sps, pps], late
    finally:
        assert s.close() == 0


@pytest.mark.parametrize("path", [
    "cam", "cam/", "cam?token=1", "cam/?x=y", "live/main", "live/main/",
])
def test_describe_url_spellings(server, path):
    with RtspConnection(server.port) as c:
        status, _, sdp = c.request("DESCRIBE", c.url(path))
    assert status == 200, path
    assert "H264/90000" in sdp


def test_describe_with_the_host_name_the_client_used(server):
    with RtspConnection(server.port) as c:
        status, hdrs, _ = c.request("DESCRIBE", f"rtsp://localhost:{server.port}/cam")
    assert status == 200
    assert hdrs.get("content-base", "").startswith(f"rtsp://localhost:{server.port}/cam"), hdrs


@pytest.mark.parametrize("path", ["nope", "cam2", "ca", "live", "live/mai"])
def test_unknown_path_is_404(server, path):
    with RtspConnection(server.port) as c:
        status, _, _ = c.request("DESCRIBE", c.url(path))
    assert status == 404, path


@pytest.mark.parametrize("method", ["ANNOUNCE", "RECORD", "SET_PARAMETER_X", "REDIRECT"])
def test_methods_not_implemented_are_501(server, method):
    with RtspConnection(server.port) as c:
        status, _, _ = c.request(method, c.url("cam"))
    assert status == 501, (method, status)


def test_malformed_request_is_400(server):
    with RtspConnection(server.port) as c:
        c.send_raw(b"THIS IS NOT RTSP\r\nCSeq: 1\r\n\r\n")
        status, _, _ = c.read_response()
    assert status == 400


def test_unknown_session_is_454(server):
    with RtspConnection(server.port) as c:
        status, _, _ = c.request("PLAY", c.url("cam"), {"Session": "DEADBEEF0000"})
    assert status == 454


def setup_track(c, transport):
    status, hdrs, sdp = c.request("DESCRIBE", c.url("cam"))
    assert status == 200
    base = hdrs.get("content-base", c.url("cam") + "/")
    m = re.search(r"^a=control:(\S+)", sdp.split("m=video", 1)[1], re.M)
    control = m.group(1) if m else ""
    track = control if control.startswith("rtsp://") else base.rstrip("/") + "/" + control
    return c.request("SETUP", track, {"Transport": transport})


def test_setup_udp_play_teardown(server):
    rtp, rtcp = udp_port_pair()
    p = rtp.getsockname()[1]
    with rtp, rtcp, RtspConnection(server.port) as c:
        status, hdrs, _ = setup_track(c, f"RTP/AVP;unicast;client_port={p}-{p + 1}")
        assert status == 200
        transport = hdrs.get("transport", "")
        assert f"client_port={p}-{p + 1}" in transport, transport
        assert re.search(r"server_port=\d+-\d+", transport), transport
        session = hdrs.get("session", "")
        m = re.match(r"([^;]+)(?:;\s*timeout=(\d+))?", session)
        assert m and m.group(2) and int(m.group(2)) > 0, f"Session header {session!r} lacks timeout="
        sid = m.group(1)
        status, hdrs, _ = c.request("PLAY", c.url("cam"), {"Session": sid, "Range": "npt=0.000-"})
        assert status == 200
        assert re.search(r"seq=\d+", hdrs.get("rtp-info", "")), hdrs
        assert re.search(r"rtptime=\d+", hdrs.get("rtp-info", "")), hdrs
        rtp.settimeout(3)
        packet, _ = rtp.recvfrom(2048)
        assert packet[0] >> 6 == 2, "not RTP version 2"
        seq = int(re.search(r"seq=(\d+)", hdrs["rtp-info"]).group(1))
        got_seq = struct.unpack(">H", packet[2:4])[0]
        assert (got_seq - seq) % 65536 < 1000, f"first RTP seq {got_seq}, RTP-Info said {seq}"
        status, _, _ = c.request("GET_PARAMETER", c.url("cam"), {"Session": sid})
        assert status == 200
        status, _, _ = c.request("TEARDOWN", c.url("cam"), {"Session": sid})
        assert status == 200
        status, _, _ = c.request("PLAY", c.url("cam"), {"Session": sid})
        assert status == 454  # the session is gone


def test_setup_tcp_interleaved_delivers_rtp(server):
    with RtspConnection(server.port) as c:
        status, hdrs, _ = setup_track(c, "RTP/AVP/TCP;unicast;interleaved=0-1")
        assert status == 200
        assert "interleaved=0-1" in hdrs.get("transport", ""), hdrs
        sid = hdrs["session"].split(";")[0]
        status, _, _ = c.request("PLAY", c.url("cam"), {"Session": sid})
        assert status == 200
        # the server keeps feeding frames; GET_PARAMETER's answer comes after some RTP
        deadline = time.monotonic() + 5
        while c.interleaved_frames < 10 and time.monotonic() < deadline:
            status, _, _ = c.request("GET_PARAMETER", c.url("cam"), {"Session": sid})
            assert status == 200
            time.sleep(0.1)
        assert c.interleaved_frames >= 10, f"only {c.interleaved_frames} interleaved frames in 5 s"
        status, _, _ = c.request("TEARDOWN", c.url("cam"), {"Session": sid})
        assert status == 200
