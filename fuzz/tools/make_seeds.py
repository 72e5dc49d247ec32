#!/usr/bin/env python3
"""Writes the derived seeds of the fuzz corpus (run from anywhere; output is
the same every time, so re-running it changes no checked-in file).

Inputs: the requests and RTCP captured from ffmpeg and GStreamer by
capture_requests.py (fuzz/corpus/rtsp_request/{ffmpeg,gst}-*.bin), the clips
in examples/assets/ and the JPEG fixtures (copied to fuzz/corpus/jpeg/).

- rtsp_request/vlc-*: the requests VLC (live555) sends, written from its
  format (no VLC on the build machine to capture them from);
  rtsp_request/edge-*: pipelining after blank lines, a body, obsolete line
  folding, an Authorization header.
- rtcp/: an RR + SDES + BYE compound (RFC 3550 6.6), as a player leaving sends it.
- annexb_h264/, annexb_h265/: a knob byte (max_payload: 0x80 = 1400, else
  the low 6 bits), a 16-bit first sequence number, then NAL units cut small
  from the clips.
- rtsp_server/: operation sequences for the rtsp_server target (see the op
  codes in fuzz_targets/rtsp_server.rs): whole player sessions over TCP and UDP.
- rtsp_response/: a knob byte, no cuts, then replies as mediamtx and
  gst-rtsp-server send them, pipelined with a `$` frame and a server request.
- rtsp_pusher/: operation sequences for the rtsp_pusher target (op codes in
  fuzz_targets/rtsp_pusher.rs): the handshake to RECORD over TCP and UDP, with
  Digest credentials, then media; a server flooding requests it never reads.
"""
import pathlib
import struct

FUZZ = pathlib.Path(__file__).resolve().parent.parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def crlf(*lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


VLC_UA = "User-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2021.06.08)"
URL = "rtsp://127.0.0.1:8554/cam"


def requests():
    write("rtsp_request", "vlc-options.bin", crlf(f"OPTIONS {URL} RTSP/1.0", "CSeq: 2", VLC_UA))
    write("rtsp_request", "vlc-describe.bin",
          crlf(f"DESCRIBE {URL} RTSP/1.0", "CSeq: 3", VLC_UA, "Accept: application/sdp"))
    write("rtsp_request", "vlc-setup.bin",
          crlf(f"SETUP {URL}/trackID=0 RTSP/1.0", "CSeq: 4", VLC_UA,
               "Transport: RTP/AVP;unicast;client_port=50000-50001"))
    write("rtsp_request", "vlc-play.bin",
          crlf(f"PLAY {URL}/ RTSP/1.0", "CSeq: 5", VLC_UA, "Session: 0123456789ABCDEF", "Range: npt=0.000-"))
    write("rtsp_request", "vlc-get-parameter.bin",
          crlf(f"GET_PARAMETER {URL}/ RTSP/1.0", "CSeq: 6", VLC_UA, "Session: 0123456789ABCDEF"))
    write("rtsp_request", "vlc-teardown.bin",
          crlf(f"TEARDOWN {URL}/ RTSP/1.0", "CSeq: 7", VLC_UA, "Session: 0123456789ABCDEF"))
    write("rtsp_request", "edge-pipelined.bin",
          b"\r\n\r\n" + crlf(f"OPTIONS * RTSP/1.0", "CSeq: 1") + crlf(f"OPTIONS {URL} RTSP/1.0", "CSeq: 2"))
    write("rtsp_request", "edge-body.bin",
          crlf(f"SET_PARAMETER {URL} RTSP/1.0", "CSeq: 9", "Content-Type: text/parameters",
               "Content-Length: 9") + b"ping: 1\r\n")
    write("rtsp_request", "edge-folded.bin",
          b"SETUP " + URL.encode() + b"/trackID=1 RTSP/1.0\nCSeq: 4\nTransport: RTP/AVP/TCP;unicast;\n"
          b"\tinterleaved=2-3, RTP/AVP;unicast;client_port=5002-5003;destination=\"127.0.0.1\"\n\n")
    write("rtsp_request", "edge-auth.bin",
          crlf(f"DESCRIBE {URL} RTSP/1.0", "CSeq: 3",
               'Authorization: Digest username="user", realm="canmv", nonce="0a1b2c3d", '
               f'uri="{URL}", response="6629fae49393a05397450978507c4ef1", algorithm=MD5'))


def rtcp():
    ssrc = 0x526F6561
    rr = struct.pack("!BBHI", 0x80, 201, 1, ssrc)
    cname = b"user@host"
    sdes_items = bytes([1, len(cname)]) + cname + b"\x00"
    sdes_items += b"\x00" * (-(4 + len(sdes_items)) % 4)
    sdes = struct.pack("!BBHI", 0x81, 202, (4 + len(sdes_items)) // 4, ssrc) + sdes_items
    bye = struct.pack("!BBHI", 0x81, 203, 1, ssrc)
    write("rtcp", "rr-sdes-bye.bin", rr + sdes + bye)


def nal_stream(data, starts, limit):
    """The NAL units starting at `starts` (offsets of their start codes' 01), each cut to `limit` bytes."""
    out = b""
    for s in starts:
        end = data.find(b"\x00\x00\x01", s + 1)
        end = len(data) if end < 0 else end
        out += b"\x00\x00\x00" + data[s:min(end, s + limit)]
    return out


def nal_offsets(data):
    offsets, i = [], data.find(b"\x00\x00\x01")
    while i >= 0:
        offsets.append(i + 2)
        i = data.find(b"\x00\x00\x01", i + 3)
    return offsets


def annexb():
    assets = ROOT / "examples" / "assets"
    for name, target in (("clip.264", "annexb_h264"), ("clip.265", "annexb_h265")):
        data = (assets / name).read_bytes()
        off = nal_offsets(data)
        # Parameter sets (and SEI) whole, the keyframe cut; tiny packets, sequence number wrapping.
        head = 3 if name.endswith("264") else 4
        write(target, "keyframe-start.bin", bytes([0x06]) + b"\xff\xfe" + nal_stream(data, off[: head + 1], 400))
        # Two predicted pictures at the default packet size.
        write(target, "p-slices.bin", bytes([0x80, 0, 1]) + nal_stream(data, off[head + 1 : head + 3], 700))
        # Several short slices with max_payload 0 (below the smallest fragment).
        write(target, "short-slices.bin", bytes([0x00, 0x12, 0x34]) + nal_stream(data, off[head + 1 : head + 6], 40))
    clip2 = (assets / "clip2.264").read_bytes()
    write("annexb_h264", "clip2-start.bin", bytes([0x10, 0x80, 0x00]) + clip2[:1500])


class Ops:
    """Builds an operation sequence for fuzz_targets/rtsp_server.rs."""

    def __init__(self, codec, audio, knobs=0, knob_bytes=b""):
        self.b = bytes([codec, audio, knobs]) + knob_bytes

    def op(self, slot, code, *args):
        self.b += bytes([(slot << 4) | code]) + bytes(args)
        return self

    def raw(self, slot, data, cut=0):
        for i in range(0, len(data), 255):
            part = data[i : i + 255]
            self.b += bytes([(slot << 4) | 0, len(part)]) + part + bytes([min(cut, 255)])
        return self

    def canned(self, slot, kind, session_of=None, cut=0):
        return self.op(slot, 2, kind, slot if session_of is None else session_of, cut)

    def video(self, size, keyframe=True):
        return self.op(0, 4, size, 0 if keyframe else 1)

    def audio(self, n):
        return self.op(0, 6, n)

    def time(self, tenths):
        return self.op(0, 7, tenths)

    def drain(self, slot, parts, budget):
        self.b += bytes([(slot << 4) | 8, parts]) + struct.pack("!H", budget)
        return self

    def drain_all(self):
        return self.op(0, 9)

    def toggle(self, slot):
        return self.op(slot, 10)

    def finish(self):
        return self.op(0, 11)

    def rtcp_udp(self, slot, data, port_sel=0):
        self.b += bytes([(slot << 4) | 12, len(data), port_sel]) + data
        return self

    def interleaved(self, slot, channel, data):
        self.b += bytes([(slot << 4) | 13, channel, len(data)]) + data
        return self

    def datagrams(self):
        return self.op(0, 14)


def server():
    req = CORPUS / "rtsp_request"
    rtcp_dir = CORPUS / "rtcp"
    gst_rr = (rtcp_dir / "gst-rr-sdes-tcp.bin").read_bytes()
    # ffmpeg over TCP: the captured requests, then a canned PLAY with the session the server gave.
    s = Ops(0, 0)
    for f in ("ffmpeg-tcp-01-options.bin", "ffmpeg-tcp-02-describe.bin", "ffmpeg-tcp-03-setup.bin"):
        s.raw(0, (req / f).read_bytes(), cut=20)
    s.drain_all().canned(0, 7).video(8).video(80, False).drain(0, 3, 300).interleaved(0, 1, gst_rr)
    s.time(50).video(8).drain_all().canned(0, 9).drain_all().finish()
    write("rtsp_server", "ffmpeg-tcp-session.bin", s.b)
    # ffmpeg over UDP: RTP goes to the peer's own ports; its empty RR on the RTCP socket.
    s = Ops(0, 0)
    for f in ("ffmpeg-tcp-01-options.bin", "ffmpeg-tcp-02-describe.bin"):
        s.raw(0, (req / f).read_bytes())
    s.canned(0, 4).drain_all().canned(0, 7).video(60).video(10, False).datagrams()
    s.rtcp_udp(0, (rtcp_dir / "ffmpeg-rr-empty.bin").read_bytes()).time(45).datagrams().canned(0, 9).drain_all()
    write("rtsp_server", "ffmpeg-udp-session.bin", s.b)
    # GStreamer over TCP, H.265 with PCMU audio: both tracks, its 447-byte OPTIONS in two pieces.
    s = Ops(1, 1)
    for f in ("gst-tcp-01-options.bin", "gst-tcp-02-describe.bin"):
        s.raw(0, (req / f).read_bytes(), cut=100)
    s.canned(0, 2).drain_all().canned(0, 3).drain_all().canned(0, 7)
    s.video(30).audio(40).video(5, False).audio(40).raw(0, (req / "gst-tcp-05-interleaved.bin").read_bytes())
    s.drain_all().canned(0, 8).drain_all().canned(0, 7).video(5, False).drain_all()
    write("rtsp_server", "gst-tcp-h265-audio.bin", s.b)
    # MJPEG, tiny queue: slot 1 plays and never reads while slot 0 keeps up; time runs past the stuck timeout.
    # Knobs: queue limit 512 bytes; 4 connections/clients; timeouts 3 s, stuck 0.6 s, reports 1.1 s.
    s = Ops(2, 0, 0x0D, bytes([0, 3, 3, 3, 2, 5, 10]))
    s.toggle(1)
    for slot in (0, 1):
        s.canned(slot, 1).canned(slot, 2).drain_all().canned(slot, 7)
    for _ in range(6):
        s.video(0).drain(0, 8, 0xFFFF)
    s.time(20).video(0).drain(0, 8, 0xFFFF).time(20).drain_all().finish()
    write("rtsp_server", "mjpeg-stalled-client.bin", s.b)
    # Hostile: a SETUP naming a third host, another connection's session, garbage split byte by byte.
    s = Ops(0, 2)
    s.toggle(1).canned(0, 2).drain_all().canned(0, 7).canned(1, 6).canned(1, 7, session_of=0)
    s.canned(1, 9, session_of=0).drain_all()
    for b in b"PLAY \x00\xff rtsp://x RTSP/1.0\r\n":
        s.raw(1, bytes([b]))
    s.video(20).drain_all().datagrams().finish()
    write("rtsp_server", "hostile.bin", s.b)
    # Authentication on for user:pass (the canned requests carry it as Basic): a whole TCP session.
    s = Ops(0, 0, 0x40)
    s.canned(0, 0).canned(0, 1).drain_all().canned(0, 2).drain_all().canned(0, 7).video(10).drain_all()
    write("rtsp_server", "auth-user.bin", s.b)
    # Authentication on with no user: the same session, plus the captured requests, must get nowhere.
    s = Ops(0, 0, 0x20)
    s.raw(0, (req / "ffmpeg-tcp-02-describe.bin").read_bytes()).raw(0, (req / "edge-auth.bin").read_bytes())
    s.canned(0, 1).canned(0, 4).drain_all().canned(0, 7).video(10).drain_all().datagrams()
    write("rtsp_server", "auth-locked.bin", s.b)


def response():
    replies = (b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nServer: gortsplib\r\n"
               b"WWW-Authenticate: Digest realm=\"mediamtx\", nonce=\"2f5b7b0d6a8c4e1f\"\r\n"
               b"WWW-Authenticate: Basic realm=\"mediamtx\"\r\n\r\n"
               b"RTSP/1.0 200 OK\r\nCSeq: 4\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\n"
               b"Session: 7bd1c5a1;timeout=60\r\n\r\n"
               b"$\x01\x00\x08\x81\xc9\x00\x01\x00\x00\x00\x01"
               b"GET_PARAMETER rtsp://127.0.0.1/live RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 2\r\n\r\nab"
               b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nContent-Length: 5\r\n\r\nv=0\r\n")
    write("rtsp_response", "pipelined.bin", b"\x00\x00" + replies)
    write("rtsp_response", "pipelined-cut.bin", b"\x00\x03\x00\x10\x00\x50\x00\xa0" + replies)


class PushOps:
    """An rtsp_pusher input: knobs, queue and timeout bytes, then ops."""

    def __init__(self, knobs, queue=64, timeout=20):
        self.b = bytes([knobs, queue, timeout])

    def op(self, *bs):
        self.b += bytes(bs)
        return self

    def write_all(self):
        return self.op(9)

    def reply(self, kind=0, extra=0x22):
        return self.op(2, kind, extra, 0xFF, 0xFF).write_all()

    def video(self, size, key):
        return self.op(5, size, 0 if key else 1)


def pusher():
    # TCP: OPTIONS, ANNOUNCE, SETUP, RECORD answered 200, then a GOP, time, a keepalive.
    s = PushOps(0).write_all().reply().reply().reply().reply()
    s.video(40, True).write_all()
    for _ in range(5):
        s.video(10, False).op(8, 3, 0x01, 0x00)
    s.op(10, 200).write_all().op(10, 0x81).reply().write_all()
    write("rtsp_pusher", "tcp-record.bin", s.b)
    # UDP with audio and a 401 first (Digest, credentials in the URL).
    s = PushOps(1 | 2 | 8).write_all().reply(4).reply().reply().reply().reply().reply()
    s.video(20, True).op(7, 40).op(14).op(10, 100).op(14).op(12).write_all().reply().write_all()
    write("rtsp_pusher", "udp-audio-digest.bin", s.b)
    # Recording, then a server that sends OPTIONS requests by the hundred and reads nothing.
    s = PushOps(0, 4).write_all().reply().reply().reply().reply().video(20, True)
    for _ in range(4):
        s.op(0x82, 8, 0x3F, 0x00, 0x00)
    s.op(10, 255).op(11, 0)
    write("rtsp_pusher", "flood-unread.bin", s.b)


if __name__ == "__main__":
    response()
    pusher()
    requests()
    rtcp()
    annexb()
    server()
