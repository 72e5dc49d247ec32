"""RTSP over HTTP (issue 13, part 1): the QuickTime tunnel on the RTSP port.

ffprobe with `-rtsp_transport http` and GStreamer's `rtspsrc
location=rtsph://...` reach the unix port's server through a GET (replies and
media) and a POST (base64 requests) joined by `x-sessioncookie`, and decode
every frame of the H.264 clip, with and without authentication; the client
stats call them "http". The same through the tunnel for the H.265 and MJPEG
clips (every frame decoded by both) and with G.711 audio beside the video
(ffmpeg records the u-law and A-law payload byte for byte, GStreamer decodes
every sample and every frame).

What each client sends (ffmpeg 5.1, GStreamer 1.22, captured on loopback):
- ffmpeg: `GET /test HTTP/1.1` with `x-sessioncookie` (16 hex digits),
  `Accept: application/x-rtsp-tunnelled`, then, once the GET's 200 is read,
  `POST /test HTTP/1.1` with the cookie, `Content-Type:
  application/x-rtsp-tunnelled`, `Content-Length: 32767`; every request is
  base64-encoded on its own (padded) and written on that one POST, whose head
  and first request may share a segment;
- GStreamer: `GET /test HTTP/1.0` and `POST /test HTTP/1.0` (cookie of 23
  letters) sent at once, without waiting for the GET's reply, then each
  request base64-encoded on its own on that POST, and its RTCP receiver
  reports too (`$` frames on channel 1, base64 like the requests).

The hostile cases (a POST without its GET, a reused cookie, a 10 KB cookie,
invalid base64, 64 KB of headers, 100 GETs that never POST) run beside a
tunnelled ffprobe, which still decodes every frame.
"""

import base64
import resource
import socket
import time

import pytest

import attack
import helpers
import test_av_timing
from attack import RawConn, Reply
from helpers import (CLIP, CLIP_H265, CLIP_H265_SIZE, CLIP_MJPEG, CLIP_MJPEG_SIZE, CLIP_SIZE,
                     TONE_ULAW, Running, Streamer, assert_i420_frames, gst_i420, stats_line)

CLIP_FRAMES = len(helpers.clip_access_units(CLIP))
USER, PASSWORD = "viewer", "s3cret"


def assert_every_frame(client, count=CLIP_FRAMES):
    frames = helpers.parse_frames(client)
    assert len(frames) == count, (
        f"{client.name}: decoded {len(frames)} frames, {count} were sent\nstderr:\n{client.stderr}")
    assert {(w, h) for w, h, _ in frames} == {CLIP_SIZE}
    assert frames[0][2] == "I", f"{client.name}: first frame is {frames[0][2]}"


def assert_every_frame_of(client, clip, size):
    """An ffprobe_frames client decoded every frame of clip, at its size, without an error."""
    frames = helpers.parse_frames(client)
    count = len(helpers.clip_access_units(clip))
    assert len(frames) == count, (
        f"{client.name}: decoded {len(frames)} frames, {count} were sent\nstderr:\n{client.stderr}")
    assert {(w, h) for w, h, _ in frames} == {size}
    assert not any("error" in line.lower() for line in client._err), client.stderr


def on_port(url, port):
    """url on another port of the same host."""
    head, rest = url.split("://", 1)
    host, path = rest.split("/", 1)
    return f"{head}://{host.rsplit(':', 1)[0]}:{port}/{path}"


def rtsph_url(url, userinfo=None, port=None):
    """The streamer's url as GStreamer's rtsph:// on loopback (on another port if given)."""
    url = helpers.loopback_url(url, userinfo)
    if port is not None:
        url = on_port(url, port)
    return "rtsph://" + url[len("rtsp://"):]


H264_CHAIN = ["rtph264depay", "!", "avdec_h264"]


@pytest.mark.parametrize("auth", [False, True], ids=["open", "users"])
def test_ffprobe_over_http_decodes_every_frame(port, auth):
    users = [(USER, PASSWORD)] if auth else None
    with Running(Streamer(port, [("test", CLIP, 1)], users=users)) as run:
        client = run.client(helpers.ffprobe_frames(run.streamer.urls["test"], "http", "ffprobe-http",
                                                   userinfo=f"{USER}:{PASSWORD}" if auth else None))
    assert_every_frame(client)
    stats = stats_line(run.streamer)
    assert [c["transport"] for c in stats["per_client"]] == ["http"], stats


@pytest.mark.parametrize("auth", [False, True], ids=["open", "users"])
def test_gstreamer_rtsph_decodes_every_frame(port, tmp_path, auth):
    users = [(USER, PASSWORD)] if auth else None
    out = tmp_path / "out.yuv"
    with Running(Streamer(port, [("test", CLIP, 1)], users=users)) as run:
        url = rtsph_url(run.streamer.urls["test"], f"{USER}:{PASSWORD}" if auth else None)
        client = run.client(gst_i420(url, H264_CHAIN, out, "gst-rtsph"))
    assert_i420_frames(client, out, CLIP_FRAMES, CLIP_SIZE)
    stats = stats_line(run.streamer)
    assert [c["transport"] for c in stats["per_client"]] == ["http"], stats


# --- H.265, MJPEG and G.711 audio through the tunnel ----------------------------------------

OTHER_CODECS = {
    # name: (clip, size, GStreamer depayloader and decoder)
    "h265": (CLIP_H265, CLIP_H265_SIZE, ["rtph265depay", "!", "h265parse", "!", "avdec_h265"]),
    "mjpeg": (CLIP_MJPEG, CLIP_MJPEG_SIZE, ["rtpjpegdepay", "!", "jpegdec"]),
}


@pytest.mark.parametrize("codec", sorted(OTHER_CODECS))
def test_ffprobe_over_http_decodes_every_frame_of_other_codecs(port, codec):
    clip, size, _ = OTHER_CODECS[codec]
    with Running(Streamer(port, [("test", clip, 1)])) as run:
        client = run.client(helpers.ffprobe_frames(run.streamer.urls["test"], "http", "ffprobe-http"))
    assert_every_frame_of(client, clip, size)
    assert [c["transport"] for c in stats_line(run.streamer)["per_client"]] == ["http"]


@pytest.mark.parametrize("codec", sorted(OTHER_CODECS))
def test_gstreamer_rtsph_decodes_every_frame_of_other_codecs(port, tmp_path, codec):
    clip, size, chain = OTHER_CODECS[codec]
    out = tmp_path / "out.yuv"
    with Running(Streamer(port, [("test", clip, 1)])) as run:
        client = run.client(gst_i420(rtsph_url(run.streamer.urls["test"]), chain, out, f"gst-rtsph-{codec}"))
    assert_i420_frames(client, out, len(helpers.clip_access_units(clip)), size)


@pytest.mark.parametrize("codec,tone,fmt", [("pcmu", TONE_ULAW, "mulaw"),
                                            ("pcma", helpers.TONE_ALAW, "alaw")])
def test_ffmpeg_over_http_records_the_audio_byte_for_byte_beside_every_frame(port, tmp_path, codec, tone, fmt):
    """test_av_timing's recording with -rtsp_transport http: both tracks
    interleaved on the GET, the audio payload identical to the tone sent."""
    mkv, raw, _, client = test_av_timing.record(port, tmp_path, codec, tone, fmt, transport="http")
    assert raw.exists() and mkv.exists(), client.stderr
    test_av_timing.assert_same_audio(raw.read_bytes(), helpers.clip_bytes(tone), f"{codec} payload")
    video_packets = helpers.probe_file(mkv, "packet=pts_time", select="v")
    assert len(video_packets) == test_av_timing.AV_FRAMES, f"{len(video_packets)} video frames recorded"


def test_gstreamer_rtsph_plays_the_audio_track_and_every_frame(port, tmp_path):
    helpers.need_gst_elements("rtspsrc", "rtph264depay", "avdec_h264", "rtppcmudepay", "mulawdec",
                              "audioconvert", "wavenc", "videoconvert", "filesink")
    wav, yuv = tmp_path / "out.wav", tmp_path / "out.yuv"
    frames = test_av_timing.AV_FRAMES
    with Running(Streamer(port, [("test", CLIP, 1)], frames=frames, audio=[("test", TONE_ULAW, "pcmu")])) as run:
        url = rtsph_url(run.streamer.urls["test"])
        client = run.client(helpers.gst_client(
            ["rtspsrc", "name=s", f"location={url}", "latency=0",
             "s.", "!", "rtph264depay", "!", "avdec_h264", "!", "videoconvert", "!",
             "video/x-raw,format=I420", "!", "filesink", f"location={yuv}",
             "s.", "!", *helpers.gst_ulaw_to_wav(wav)], "gst-rtsph-audio"))
    assert_i420_frames(client, yuv, frames, CLIP_SIZE)
    data = wav.read_bytes() if wav.exists() else b""
    pos = data.find(b"data")
    assert data[:4] == b"RIFF" and pos > 0, f"no WAV file written\n{client.stderr}"
    samples = int.from_bytes(data[pos + 4:pos + 8], "little") // 2
    # every sample sent, give or take one 20 ms packet at the edges
    assert abs(samples - test_av_timing.TONE_BYTES) <= 160, (
        f"GStreamer decoded {samples} samples, {test_av_timing.TONE_BYTES} were sent\n{client.stderr}")


# --- the http_port= listener ---------------------------------------------------------------

@pytest.mark.parametrize("transport", ["http", "tcp"])
def test_ffprobe_through_http_port_decodes_every_frame(port, transport):
    """rtspserver_init(port, http_port=...): the second listener serves the
    tunnel and plain RTSP exactly like the RTSP port."""
    http_port = helpers.free_port()
    with Running(Streamer(port, [("test", CLIP, 1)], options={"http_port": http_port})) as run:
        client = run.client(helpers.ffprobe_frames(on_port(run.streamer.urls["test"], http_port), transport,
                                                   f"ffprobe-{transport}-http-port"))
    assert_every_frame(client)
    want = "http" if transport == "http" else "tcp"
    assert [c["transport"] for c in stats_line(run.streamer)["per_client"]] == [want]


def test_gstreamer_rtsph_through_http_port_decodes_every_frame(port, tmp_path):
    http_port = helpers.free_port()
    out = tmp_path / "out.yuv"
    with Running(Streamer(port, [("test", CLIP, 1)], options={"http_port": http_port})) as run:
        client = run.client(gst_i420(rtsph_url(run.streamer.urls["test"], port=http_port), H264_CHAIN, out,
                                     "gst-rtsph-http-port"))
    assert_i420_frames(client, out, CLIP_FRAMES, CLIP_SIZE)
    assert [c["transport"] for c in stats_line(run.streamer)["per_client"]] == ["http"]


@pytest.mark.parametrize("codec", sorted(OTHER_CODECS))
def test_users_over_http_on_both_ports_decode_every_frame_of_other_codecs(port, tmp_path, codec):
    """users= with H.265 and MJPEG: ffprobe -rtsp_transport http and
    GStreamer rtsph://, user:pass@ in the URL, on the RTSP port and through
    http_port, all four side by side, decode every frame; a tunnelled
    DESCRIBE without credentials gets 401 on either port."""
    clip, size, chain = OTHER_CODECS[codec]
    http_port = helpers.free_port()
    userinfo = f"{USER}:{PASSWORD}"
    outs, refused = {}, {}
    with Running(Streamer(port, [("test", clip, 4)], users=[(USER, PASSWORD)],
                          options={"http_port": http_port})) as run:
        url = run.streamer.urls["test"]
        for p, where in ((port, "port"), (http_port, "http-port")):
            run.client(helpers.ffprobe_frames(on_port(url, p), "http", f"ffprobe-http-{where}", userinfo=userinfo))
            out = outs[f"gst-rtsph-{where}"] = tmp_path / f"{where}.yuv"
            run.client(gst_i420(rtsph_url(url, userinfo, p), chain, out, f"gst-rtsph-{where}"))
            get = tunnel_get(p, f"nobody-{where}")
            post = connect(p)
            post.sendall(http_post(f"nobody-{where}") + base64.b64encode(
                f"DESCRIBE rtsp://127.0.0.1:{p}/test RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()))
            reply = get.read()
            refused[where] = (reply_cseq(reply), isinstance(reply, Reply) and "www-authenticate" in reply.headers)
            post.close()
            get.close()
    assert refused == {"port": ((401, "1"), True), "http-port": ((401, "1"), True)}, refused
    for client in run.clients:
        if client.name.startswith("gst"):
            assert_i420_frames(client, outs[client.name], len(helpers.clip_access_units(clip)), size)
        else:
            assert_every_frame_of(client, clip, size)
    assert [c["transport"] for c in stats_line(run.streamer)["per_client"]] == ["http"] * 4


# --- hostile tunnels beside a tunnelled player ------------------------------------------------

def http_get(cookie):
    return (f"GET /test HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
            "Accept: application/x-rtsp-tunnelled\r\n\r\n").encode()


def http_post(cookie):
    return (f"POST /test HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
            "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n").encode()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(5)
    return s


def read_until_closed(s, limit=1 << 20, timeout=5):
    """Everything the server sends until it closes (bounded in time and size); (bytes, closed)."""
    data, deadline = b"", time.monotonic() + timeout
    while len(data) < limit and time.monotonic() < deadline:
        try:
            more = s.recv(65536)
        except socket.timeout:
            return data, False
        except OSError:
            return data, True
        if not more:
            return data, True
        data += more
    return data, False


def read_head(s, timeout=5):
    data, deadline = b"", time.monotonic() + timeout
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        more = s.recv(4096)
        if not more:
            break
        data += more
    return data


def first_line_and_closed(s):
    """What the server sends on s until it closes (bounded): (its first line, whether it closed)."""
    data, closed = read_until_closed(s)
    return data.split(b"\r\n")[0], closed


def answer_to(port, request):
    """request on a new connection: (the first line the server sends back, whether it closed)."""
    s = connect(port)
    try:
        s.sendall(request)
        return first_line_and_closed(s)
    finally:
        s.close()


def test_hostile_tunnels_get_a_status_or_a_close_and_the_player_decodes_every_frame(port):
    results = {}
    with Running(Streamer(port, [("test", CLIP, 1)])) as run:
        client = run.client(helpers.ffprobe_frames(run.streamer.urls["test"], "http", "ffprobe-http"))
        # A POST without its GET: 404 once it has waited (2 s), then closed.
        results["post without get"] = answer_to(
            port, http_post("nobody") + base64.b64encode(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
        # A live cookie reused by a second GET: 409; the first goes on.
        first = connect(port)
        first.sendall(http_get("reused"))
        assert read_head(first).startswith(b"HTTP/1.0 200 OK"), "first GET"
        results["cookie reused"] = answer_to(port, http_get("reused"))
        # A 10 KB cookie: 431.
        results["10 KB cookie"] = answer_to(port, http_get("c" * 10240))
        # Invalid base64 on a POST for the live GET: 400 on the POST.
        results["invalid base64"] = answer_to(port, http_post("reused") + b"T1BUSU9O*")
        # 64 KB of headers through the tunnel: RTSP 413 down the GET, which closes.
        s = connect(port)
        text = b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n" + (b"X-Pad: " + b"a" * 100 + b"\r\n") * 640
        try:
            s.sendall(http_post("reused") + base64.b64encode(text))
        except OSError:
            pass  # the server may close the POST before it has read it all
        results["64 KB of headers"] = first_line_and_closed(first)
        s.close()
        first.close()
        # 100 GETs that never POST: they make room for each other, the player stays.
        for i in range(100):
            g = connect(port)
            g.sendall(http_get(f"idle{i}"))
            run.socks.append(g)
    print(results)
    assert results == {
        "post without get": (b"HTTP/1.0 404 Not Found", True),
        "cookie reused": (b"HTTP/1.0 409 Conflict", True),
        "10 KB cookie": (b"HTTP/1.0 431 Request Header Fields Too Large", True),
        "invalid base64": (b"HTTP/1.0 400 Bad Request", True),
        "64 KB of headers": (b"RTSP/1.0 413 Request Entity Too Large", True),
    }, results
    assert_every_frame(client)


# --- tunnels that leave a request half-made, never end their POST, never POST -------------------

def options(cseq):
    return f"OPTIONS * RTSP/1.0\r\nCSeq: {cseq}\r\n\r\n".encode()


def tunnel_get(port, cookie, rcvbuf=None):
    """A tunnel's GET whose 200 has been read: a RawConn that reads the RTSP replies behind it."""
    get = RawConn(port, rcvbuf=rcvbuf)
    get.send(http_get(cookie))
    head, _, rest = read_head(get.sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK"), head
    get.buf = rest
    return get


def sent_to_the_end(s):
    """Closes our side of s and waits for the server's close (it has read
    everything sent before): (what it sent, whether it closed)."""
    s.shutdown(socket.SHUT_WR)
    return read_until_closed(s)


def play_tunnelled(run):
    """A tunnelled ffprobe of run's streamer, returned once the clip has started."""
    client = run.client(helpers.ffprobe_frames(run.streamer.urls["test"], "http", "ffprobe-http"))
    run.streamer.wait_line("START", 15)
    return client


def reply_cseq(reply):
    return (reply.status, reply.headers.get("cseq")) if isinstance(reply, Reply) else reply


def test_half_requests_wait_for_their_rest_and_the_player_decodes_every_frame(port):
    """base64 that decodes to half a request: the server keeps the half and
    answers once the rest comes, on the same POST or on the next one after a
    POST closed mid-request; nothing is answered for a half."""
    replies = {}
    with Running(Streamer(port, [("test", CLIP, 1)])) as run:
        client = play_tunnelled(run)
        get = tunnel_get(port, "halves")
        post = connect(port)
        # A whole request and half of the next (cut inside a base64 group) in one write.
        whole, second = base64.b64encode(options(1)), base64.b64encode(options(2))
        post.sendall(http_post("halves") + whole + second[:10])
        replies["whole request"] = reply_cseq(get.read())
        # The rest on the same POST: the next reply is the completed request's.
        post.sendall(second[10:])
        replies["rest on the same POST"] = reply_cseq(get.read())
        # Half a request on a POST that then closes; the server has read it all once it closes too.
        third = options(3)
        post.sendall(base64.b64encode(third[:17]))
        replies["POST closed after half"] = sent_to_the_end(post)
        post.close()
        # The rest on a new POST: the next thing down the GET is that request's reply.
        post = connect(port)
        post.sendall(http_post("halves") + base64.b64encode(third[17:]))
        replies["rest on a new POST"] = reply_cseq(get.read())
        post.sendall(base64.b64encode(options(4)))
        replies["next request"] = reply_cseq(get.read())
        post.close()
        get.close()
    assert replies == {
        "whole request": (200, "1"),
        "rest on the same POST": (200, "2"),
        "POST closed after half": (b"", True),
        "rest on a new POST": (200, "3"),
        "next request": (200, "4"),
    }, replies
    assert_every_frame(client, CLIP_FRAMES)


ENDLESS_BYTES = 20 << 20  # what an endless POST may write at most
ENDLESS_SECONDS = 10
RSS_GROWTH_KB = 20 << 10  # the server's resident memory may grow by less than this


def write_endlessly(s, chunk, on_write=None):
    """Writes chunk to s again and again until the server closes it, stops
    reading it (a write that cannot go on for 2 s) or ENDLESS_BYTES or
    ENDLESS_SECONDS are reached: (bytes written, "closed" | "blocked" | "limit")."""
    written, deadline = 0, time.monotonic() + ENDLESS_SECONDS
    s.settimeout(2)
    while written < ENDLESS_BYTES and time.monotonic() < deadline:
        try:
            s.sendall(chunk)
        except socket.timeout:
            return written, "blocked"
        except OSError:
            return written, "closed"
        written += len(chunk)
        if on_write is not None:
            on_write()
    return written, "limit"


def test_endless_posts_get_a_status_or_backpressure_in_bounded_memory_and_the_player_decodes_every_frame(port):
    """A POST whose body never ends: endless header lines (no blank line)
    get RTSP 413 down the GET, which closes with its POST; endless pipelined
    OPTIONS whose replies the GET's reader never reads stop being read (TCP
    backpressure). The server's resident memory stays within bounds and a
    tunnelled player beside it decodes every frame."""
    frames = 150  # 5 s: the player plays through both floods
    results = {}
    with Running(Streamer(port, [("test", CLIP, 1)], frames=frames)) as run:
        client = play_tunnelled(run)
        pid = run.streamer.proc.pid
        start_kb = attack.rss_kb(pid)
        peak = [start_kb]

        def sample():
            peak[0] = max(peak[0], attack.rss_kb(pid))

        # Endless header lines.
        get = tunnel_get(port, "endless-head")
        post = connect(port)
        post.sendall(http_post("endless-head") + base64.b64encode(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n"))
        written, end = write_endlessly(post, base64.b64encode((b"X-Pad: " + b"a" * 89 + b"\r\n") * 512), sample)
        results["endless header"] = (reply_cseq(get.read()), get.wait_end(), end)
        print(f"endless header: {written} bytes of base64 written, then {end}")
        post.close()
        get.close()
        # Endless pipelined requests, their replies never read.
        get = tunnel_get(port, "endless-options", rcvbuf=4096)
        post = connect(port)
        post.sendall(http_post("endless-options"))
        batch = base64.b64encode(b"".join(options(n) for n in range(1000, 2000)))
        written, end = write_endlessly(post, batch, sample)
        results["endless requests"] = end
        print(f"endless requests: {written} bytes of base64 written, then {end}")
        sample()
        post.close()
        get.close()
    print(f"server RSS {start_kb} KiB before, at most {peak[0]} KiB during")
    assert results == {
        "endless header": ((413, None), "closed", "closed"),
        "endless requests": "blocked",
    }, results
    assert peak[0] - start_kb < RSS_GROWTH_KB, f"RSS grew from {start_kb} to {peak[0]} KiB"
    assert_every_frame(client, frames)


def test_a_thousand_gets_that_never_post_stay_within_max_connections_and_time_out(port):
    """1000 GETs that never POST count against max_connections (64): past it
    the one idle longest is closed to make room, so the server never holds
    more than 64 connections, and those left close at the session timeout.
    A tunnelled player that joins while the server is full of them, and
    plays while 500 more come, decodes every frame."""
    gets, max_connections, timeout_s, frames = 1000, 64, 2, 180
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < gets + 200:
        if hard != resource.RLIM_INFINITY and hard < gets + 200:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard}: {gets} sockets do not fit")
        resource.setrlimit(resource.RLIMIT_NOFILE, (gets + 200, hard))
    with Running(Streamer(port, [("test", CLIP, 1)], frames=frames,
                          options={"session_timeout": timeout_s})) as run:
        socks = run.socks
        pid = run.streamer.proc.pid
        # The listener and the UDP pair: every other socket of the server is a connection.
        own = attack.socket_fds(pid)
        most = [0]

        def count():
            n = len(attack.socket_fds(pid) - own)
            most[0] = max(most[0], n)
            return n

        def open_gets(n):
            for _ in range(n):
                g = connect(port)
                g.sendall(http_get(f"idle{len(socks)}"))
                socks.append(g)
                count()

        open_gets(gets // 2)
        full = count()
        # A player joins a server full of idle GETs, and plays while 500 more come.
        client = play_tunnelled(run)
        open_gets(gets - gets // 2)
        last = time.monotonic()
        # Each GET is closed (made room for, or timed out), most after their 200;
        # one made room for before its request was read gets nothing.
        ends = {}
        for g in socks:
            data, closed = read_until_closed(g, timeout=max(0.1, last + timeout_s + 3 - time.monotonic()))
            end = (data.split(b"\r\n")[0] or b"nothing", closed)
            ends[end] = ends.get(end, 0) + 1
        took = time.monotonic() - last
        # Only the player's GET and POST are left.
        left = count()
    print(f"{gets} GETs ({ends}): at most {most[0]} server connections, {full} after the first "
          f"{gets // 2}; all closed {took:.1f} s after the last; {left} left: the player's")
    assert set(ends) <= {(b"HTTP/1.0 200 OK", True), (b"nothing", True)}, ends
    assert ends.get((b"HTTP/1.0 200 OK", True), 0) > gets * 9 // 10, ends
    assert full == max_connections, f"{full} connections held after {gets // 2} GETs"
    assert most[0] <= max_connections, f"the server held {most[0]} connections (max_connections {max_connections})"
    assert left == 2, f"{left} connections left once every idle GET was closed"
    assert_every_frame(client, frames)
