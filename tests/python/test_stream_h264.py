"""H.264 end to end: the unix port streams the bundled clips (tests/python/
mpy_streamer.py) and real players receive them: ffprobe and ffmpeg over TCP and
UDP, GStreamer's rtspsrc, several clients at once, two sessions on one server.

The streamer waits until the expected number of clients play, sends every
access unit of the clip exactly once at 30 fps, then tears the server down so
the clients see the end of the stream.
"""

import ast
import socket
import time

import pytest

import helpers
from helpers import CLIP, CLIP2, CLIP_SIZE, CLIP2_SIZE, Streamer, annexb

CLIP_FRAMES = len(helpers.clip_access_units(CLIP))
CLIP2_FRAMES = len(helpers.clip_access_units(CLIP2))


def test_clips_are_what_the_tests_assume():
    # 3 s and 2 s at 30 fps, an IDR every 30 frames (scripts/make-assets.sh)
    assert CLIP_FRAMES == 90 and CLIP2_FRAMES == 60
    for path, frames in ((CLIP, 90), (CLIP2, 60)):
        types = [[annexb.h264_nal_type(n) for n in annexb.nal_units(au)]
                 for au in helpers.clip_access_units(path)]
        idr = [i for i, t in enumerate(types) if 5 in t]
        assert idr == list(range(0, frames, 30)), idr


def run_ffprobe_clients(port, transports, grouping="au", timestamps="pts"):
    """Starts one ffprobe per transport, streams the clip once, returns the clients."""
    helpers.need_tool("ffprobe")
    streamer = Streamer(port, [("test", CLIP, len(transports))], grouping=grouping,
                        timestamps=timestamps)
    clients = []
    try:
        url = streamer.urls["test"]
        for i, transport in enumerate(transports):
            clients.append(helpers.ffprobe_frames(url, transport, f"ffprobe#{i}-{transport}"))
        streamer.finish()
        for c in clients:
            helpers.finish_client(c)
    finally:
        for c in clients:
            c.stop()
        streamer.stop()
    return clients


def assert_every_frame(client, count, size):
    frames = helpers.parse_frames(client)
    assert len(frames) == count, (
        f"{client.name}: decoded {len(frames)} frames, {count} were sent\n"
        f"stderr:\n{client.stderr}")
    sizes = {(w, h) for w, h, _ in frames}
    assert sizes == {size}, f"{client.name}: frame sizes {sizes}, expected {size}"
    assert frames[0][2] == "I", f"{client.name}: first frame is {frames[0][2]}, not I"
    assert not any("error" in line.lower() for line in client._err), client.stderr


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_decodes_every_frame(port, transport):
    (client,) = run_ffprobe_clients(port, [transport])
    assert_every_frame(client, CLIP_FRAMES, CLIP_SIZE)


@pytest.mark.parametrize("grouping,timestamps", [
    ("nal", "pts"),       # one NAL unit per call
    ("packs", "const"),   # an encoder's packs with CanMV's constant timestamp 1000
    ("padded", "pts"),    # `size` shorter than the buffer
])
def test_ffprobe_decodes_every_frame_for_any_grouping(port, grouping, timestamps):
    (client,) = run_ffprobe_clients(port, ["tcp"], grouping, timestamps)
    assert_every_frame(client, CLIP_FRAMES, CLIP_SIZE)


@pytest.mark.parametrize("transports", [
    ["tcp", "udp"],
    ["tcp", "udp"] * 5,
], ids=["2-clients", "10-clients"])
def test_concurrent_clients_each_get_every_frame(port, transports):
    clients = run_ffprobe_clients(port, transports)
    counts = {c.name: len(helpers.parse_frames(c)) for c in clients}
    print(f"{len(clients)} concurrent clients, {CLIP_FRAMES} frames sent, decoded per client: {counts}")
    assert all(n == CLIP_FRAMES for n in counts.values()), f"frames per client: {counts}"
    for c in clients:
        assert_every_frame(c, CLIP_FRAMES, CLIP_SIZE)


# --- byte for byte ------------------------------------------------------------------

def first_difference(a, b):
    n = min(len(a), len(b))
    return next((k for k in range(n) if a[k] != b[k]), n)


def split_vcl(nals):
    vcl = [n for n in nals if annexb.h264_is_vcl(annexb.h264_nal_type(n))]
    other = [n for n in nals if not annexb.h264_is_vcl(annexb.h264_nal_type(n))]
    return vcl, other


@pytest.mark.parametrize("transport,grouping,timestamps", [
    ("tcp", "au", "pts"),
    ("tcp", "nal", "const"),
    ("tcp", "packs", "const"),
    ("tcp", "padded", "pts"),
    ("udp", "au", "pts"),
])
def test_ffmpeg_copy_gives_the_sent_nal_units(port, tmp_path, transport, grouping, timestamps):
    helpers.need_tool("ffmpeg")
    out = tmp_path / "out.h264"
    streamer = Streamer(port, [("test", CLIP, 1)], grouping=grouping, timestamps=timestamps)
    try:
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport,
               "-timeout", helpers.CLIENT_TIMEOUT_US, "-i",
               helpers.loopback_url(streamer.urls["test"]), "-map", "0:v", "-c", "copy",
               "-f", "h264", str(out)]
        client = helpers.Background(cmd, f"ffmpeg-{transport}")
        streamer.finish()
        helpers.finish_client(client)
    finally:
        streamer.stop()
    assert out.exists(), client.stderr
    sent = annexb.nal_units(helpers.clip_bytes(CLIP))
    got = annexb.nal_units(out.read_bytes())
    sent_vcl, sent_other = split_vcl(sent)
    got_vcl, got_other = split_vcl(got)
    assert len(got_vcl) == len(sent_vcl), (
        f"{len(got_vcl)} slices received, {len(sent_vcl)} sent; types received "
        f"{helpers.nal_summary(got)[:40]}...")
    for i, (a, b) in enumerate(zip(got_vcl, sent_vcl)):
        assert a == b, (f"slice #{i} differs: {len(a)} bytes received, {len(b)} sent, "
                        f"first difference at byte {first_difference(a, b)}")
    # Parameter sets and SEI may repeat, but none may be invented or altered,
    # and each one sent must arrive.
    assert set(got_other) <= set(sent_other), "received non-slice NAL units that were never sent"
    assert set(sent_other) <= set(got_other), "a parameter set or SEI sent was never received"
    # Each IDR slice is preceded (in the received stream) by an SPS and a PPS.
    types = helpers.nal_summary(got)
    for i, t in enumerate(types):
        if t == 5 and (i == 0 or types[i - 1] != 5):
            assert 7 in types[:i] and 8 in types[:i], f"IDR at NAL #{i} without SPS/PPS before it"


# --- GStreamer ------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_gstreamer_decodes_every_frame(port, tmp_path, protocol):
    helpers.need_gst_elements("rtspsrc", "rtph264depay", "avdec_h264", "videoconvert", "filesink")
    out = tmp_path / "out.yuv"
    streamer = Streamer(port, [("test", CLIP, 1)])
    client = None
    try:
        url = helpers.loopback_url(streamer.urls["test"])
        # -e: on SIGINT send EOS so the decoder flushes every frame it holds.
        cmd = ["gst-launch-1.0", "-q", "-e", "rtspsrc", f"location={url}", f"protocols={protocol}",
               "latency=0", "!", "rtph264depay", "!", "avdec_h264", "!", "videoconvert", "!",
               "video/x-raw,format=I420", "!", "filesink", f"location={out}"]
        client = helpers.Background(cmd, f"gst-{protocol}")
        streamer.finish()
        if client.wait(8) is None:
            # it did not stop by itself on the server's close: end it cleanly
            client.interrupt()
            if client.wait(10) is None:
                client.stop()
                pytest.fail(f"gst-launch did not end after EOS\n{client.stderr}")
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    w, h = CLIP_SIZE
    frame_bytes = w * h * 3 // 2
    size = out.stat().st_size if out.exists() else 0
    assert size % frame_bytes == 0, f"{size} bytes is not a whole number of {w}x{h} I420 frames"
    frames = size // frame_bytes
    assert frames == CLIP_FRAMES, (f"GStreamer decoded {frames} frames, {CLIP_FRAMES} were sent\n"
                                   f"stdout:\n{client.stdout}\nstderr:\n{client.stderr}")


# --- two sessions ------------------------------------------------------------------------

def test_two_sessions_stream_different_clips(port):
    helpers.need_tool("ffprobe")
    streamer = Streamer(port, [("big", CLIP, 2), ("small", CLIP2, 2)])
    clients = []
    try:
        for name in ("big", "small"):
            for transport in ("tcp", "udp"):
                clients.append((name, helpers.ffprobe_frames(streamer.urls[name], transport,
                                                             f"ffprobe-{name}-{transport}")))
        streamer.finish()
        for _, c in clients:
            helpers.finish_client(c)
    finally:
        for _, c in clients:
            c.stop()
        streamer.stop()
    assert streamer.urls["big"].endswith(f":{port}/big")
    assert streamer.urls["small"].endswith(f":{port}/small")
    expected = {"big": (CLIP_FRAMES, CLIP_SIZE), "small": (CLIP2_FRAMES, CLIP2_SIZE)}
    for name, c in clients:
        count, size = expected[name]
        assert_every_frame(c, count, size)


# --- ends of streams ---------------------------------------------------------------------------

@pytest.mark.parametrize("end", ["destroysession", "deinit", "destroy"])
def test_tcp_clients_see_the_end_when_the_server_goes(port, end):
    """However the server is torn down, an ffprobe over TCP ends promptly, with every frame."""
    helpers.need_tool("ffprobe")
    streamer = Streamer(port, [("test", CLIP, 1)], end=end)
    try:
        client = helpers.ffprobe_frames(streamer.urls["test"], "tcp")
        streamer.finish()
        # well before ffprobe's own 5 s inactivity timeout
        code = client.wait(3)
        assert code is not None, f"ffprobe still running 3 s after {end}"
    finally:
        client.stop()
        streamer.stop()
    assert len(helpers.parse_frames(client)) == CLIP_FRAMES


def test_client_attached_while_session_is_destroyed_mid_stream(port):
    """destroysession while frames flow to a playing client: the client ends, the
    interpreter goes on, and the same name can be created and streamed again."""
    helpers.need_tool("ffprobe")
    code = f'''
import sys, time
sys.path.append({str(helpers.HOST_EXAMPLES)!r})
import annexb, multimedia as mm
data = open({str(CLIP)!r}, "rb").read()
aus = annexb.access_units(data)
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("test", 0, False)
s.rtspserver_start()
print("URL", "test", s.rtspserver_getrtspurl("test"))
deadline = time.ticks_add(time.ticks_ms(), 10000)
while s.rtspserver_getstats("test")["playing"] < 1 and time.ticks_diff(deadline, time.ticks_ms()) > 0:
    time.sleep_ms(20)
print("PLAYING", s.rtspserver_getstats("test")["playing"])
for i in range(15):
    s.rtspserver_sendvideodata("test", aus[i], len(aus[i]), i * 33333)
    time.sleep_ms(33)
print("DESTROY", s.rtspserver_destroysession("test"))
print("STATS", s.rtspserver_getstats())
print("RECREATE", s.rtspserver_createsession("test", 0, False))
print("SEND", s.rtspserver_sendvideodata("test", aus[0], len(aus[0]), 0))
time.sleep_ms(1500)
s.rtspserver_destroy()
print("DONE")
'''
    proc = helpers.Background([helpers.micropython(), "-c", code], "micropython")
    client = None
    try:
        _, _, url = proc.wait_line("URL ", 15).split(" ", 2)
        client = helpers.ffprobe_frames(url, "tcp")
        assert proc.wait_line("PLAYING", 15) == "PLAYING 1"
        assert proc.wait_line("DESTROY", 15) == "DESTROY 0"
        exit_code = client.wait(3)
        assert exit_code is not None, "the client still runs 3 s after its session was destroyed"
        assert proc.wait_line("RECREATE", 5) == "RECREATE 0"
        assert proc.wait_line("SEND", 5) == "SEND 0"
        proc.wait_line("DONE", 15)
        assert proc.wait(10) == 0
    finally:
        if client is not None:
            client.stop()
        proc.stop()
    frames = len(helpers.parse_frames(client))
    assert 1 <= frames <= 15, f"{frames} frames decoded of the 15 sent before the destroy"


def test_gc_of_a_server_with_a_playing_client(port):
    """A running server with a client is dropped and collected: the client ends and
    the interpreter keeps running."""
    helpers.need_tool("ffprobe")
    code = f'''
import gc, sys, time
sys.path.append({str(helpers.HOST_EXAMPLES)!r})
import annexb, multimedia as mm
aus = annexb.access_units(open({str(CLIP)!r}, "rb").read())

def serve():
    s = mm.rtsp_server()
    s.rtspserver_init({port})
    s.rtspserver_createsession("test", 0, False)
    s.rtspserver_start()
    print("URL", "test", s.rtspserver_getrtspurl("test"))
    deadline = time.ticks_add(time.ticks_ms(), 10000)
    while s.rtspserver_getstats("test")["playing"] < 1 and time.ticks_diff(deadline, time.ticks_ms()) > 0:
        time.sleep_ms(20)
    for i in range(10):
        s.rtspserver_sendvideodata("test", aus[i], len(aus[i]), i * 33333)
        time.sleep_ms(33)

def scrub(n):
    return 0 if n == 0 else scrub(n - 1) + 1

serve()
freed = False
for i in range(20):
    scrub(50)
    gc.collect()
    t = mm.rtsp_server()
    if t.rtspserver_init({port}) == 0:
        freed = True
        t.rtspserver_destroy()
        break
    time.sleep_ms(50)
print("FREED", freed)
print("DONE")
'''
    proc = helpers.Background([helpers.micropython(), "-c", code], "micropython")
    client = None
    try:
        _, _, url = proc.wait_line("URL ", 15).split(" ", 2)
        client = helpers.ffprobe_frames(url, "tcp")
        assert proc.wait_line("FREED", 30) == "FREED True"
        proc.wait_line("DONE", 10)
        assert proc.wait(10) == 0, proc.stderr
        assert client.wait(5) is not None, "the client still runs after its server was collected"
    finally:
        if client is not None:
            client.stop()
        proc.stop()


def test_stats_count_clients_and_packets(port):
    streamer = Streamer(port, [("test", CLIP, 2)])
    clients = []
    try:
        for t in ("tcp", "udp"):
            clients.append(helpers.ffprobe_frames(streamer.urls["test"], t))
        lines = streamer.finish()
        for c in clients:
            helpers.finish_client(c)
    finally:
        for c in clients:
            c.stop()
        streamer.stop()
    stats_line = next(line for line in lines if line.startswith("STATS test "))
    stats = ast.literal_eval(stats_line.split(" ", 2)[2])
    assert stats["clients"] == 2 and stats["playing"] == 2, stats
    total = len(helpers.clip_bytes(CLIP))
    # two clients, each at least every payload byte once (RTP headers on top)
    assert stats["bytes_sent"] >= 2 * total * 0.95, stats
    assert stats["packets_sent"] >= 2 * CLIP_FRAMES, stats
    assert stats["frames_dropped"] == 0, stats


# --- late joiners and slow clients --------------------------------------------------------

def test_late_joiner_starts_at_a_keyframe(port):
    """A client that joins mid-GOP gets whole GOPs from the last IDR on: its first
    frame is an I frame and nothing fails to decode."""
    streamer = Streamer(port, [("test", CLIP, 1)])
    first = late = None
    try:
        url = streamer.urls["test"]
        first = helpers.ffprobe_frames(url, "tcp", "ffprobe-first")
        streamer.wait_line("PLAYING", 15)
        time.sleep(1.5)  # about frame 45: the middle of the second GOP
        late = helpers.ffprobe_frames(url, "tcp", "ffprobe-late")
        streamer.finish()
        helpers.finish_client(first)
        helpers.finish_client(late)
    finally:
        for c in (first, late):
            if c is not None:
                c.stop()
        streamer.stop()
    assert_every_frame(first, CLIP_FRAMES, CLIP_SIZE)
    frames = helpers.parse_frames(late)
    assert frames and frames[0][2] == "I", f"late client's first frame: {frames[:1]}"
    assert len(frames) % 30 == 0 and 30 <= len(frames) < CLIP_FRAMES, (
        f"late client decoded {len(frames)} frames: not whole GOPs from a keyframe on")
    assert not any("error" in line.lower() for line in late._err), late.stderr


SLOW_CLIENT_PRODUCER = r'''
import sys, time
sys.path.append(HOST)
import annexb, multimedia as mm
aus = annexb.access_units(open(CLIP, "rb").read())
s = mm.rtsp_server()
s.rtspserver_init(PORT)
s.rtspserver_createsession("test", 0, False)
s.rtspserver_start()
print("URL test", s.rtspserver_getrtspurl("test"))
deadline = time.ticks_add(time.ticks_ms(), 10000)
while s.rtspserver_getstats("test")["playing"] < 2 and time.ticks_diff(deadline, time.ticks_ms()) > 0:
    time.sleep_ms(20)
print("PLAYING", s.rtspserver_getstats("test")["playing"])
worst = 0
slow_calls = 0
t0 = time.ticks_us()
for k in range(FRAMES):
    au = aus[k % len(aus)]
    a = time.ticks_us()
    s.rtspserver_sendvideodata("test", au, len(au), k * 33333)
    d = time.ticks_diff(time.ticks_us(), a)
    worst = max(worst, d)
    if d > 20000:
        slow_calls += 1
    wait = time.ticks_diff(time.ticks_add(t0, (k + 1) * INTERVAL_US), time.ticks_us())
    if wait > 0:
        time.sleep_us(wait)
print("WORST", worst, slow_calls)
print("STATS", s.rtspserver_getstats("test"))
time.sleep_ms(500)
s.rtspserver_destroy()
print("DONE")
'''


def test_a_stuck_client_slows_neither_the_producer_nor_other_clients(port):
    """One client stops reading after PLAY (over TCP, with a tiny receive buffer)
    while 15 MB of video flows: every call still returns at once, and a second
    client still receives every frame."""
    frames = 150 * CLIP_FRAMES
    code = (f"HOST = {str(helpers.HOST_EXAMPLES)!r}\nCLIP = {str(CLIP)!r}\nPORT = {port}\n"
            f"FRAMES = {frames}\nINTERVAL_US = 333\n" + SLOW_CLIENT_PRODUCER)
    producer = helpers.Background([helpers.micropython(), "-c", code], "producer")
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    normal = None
    try:
        url = producer.wait_line("URL test", 15).split(" ", 2)[2]
        stuck.connect(("127.0.0.1", port))
        conn = helpers.RtspConnection.__new__(helpers.RtspConnection)
        conn.port, conn.sock, conn.buf, conn.cseq, conn.interleaved_frames = port, stuck, b"", 0, 0
        status, hdrs, _ = conn.request("SETUP", conn.url("test/trackID=0"),
                                       {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        assert status == 200, hdrs
        status, _, _ = conn.request("PLAY", conn.url("test"), {"Session": hdrs["session"].split(";")[0]})
        assert status == 200
        # from here on the stuck client never reads again
        normal = helpers.Background(
            ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-timeout",
             helpers.CLIENT_TIMEOUT_US, "-i", helpers.loopback_url(url), "-map", "0:v",
             "-c", "copy", "-f", "framecrc", "-"], "ffmpeg-normal")
        producer.wait_line("PLAYING", 15)
        worst_line = producer.wait_line("WORST", 60)
        stats_line = producer.wait_line("STATS", 10)
        producer.wait_line("DONE", 15)
        assert producer.wait(10) == 0, producer.stderr
        helpers.finish_client(normal)
    finally:
        stuck.close()
        if normal is not None:
            normal.stop()
        producer.stop()
    _, worst_us, slow_calls = worst_line.split()
    received = [line for line in normal.lines if line and not line.startswith("#")]
    stats = ast.literal_eval(stats_line.split(" ", 1)[1])
    assert len(received) == frames, (
        f"the reading client got {len(received)} of {frames} frames while another was stuck; "
        f"stats {stats}\n{normal.stderr}")
    # a call that waited for the stuck socket would block for good; these bounds
    # only allow for a busy machine's scheduling hiccups
    assert int(worst_us) < 500_000 and int(slow_calls) < 100, (
        f"sendvideodata blocked: worst call {worst_us} µs, {slow_calls} calls over 20 ms; stats {stats}")
    assert stats["frames_dropped"] > 0 or stats["keyframe_waits"] > 0, (
        f"the stuck client was never cut back (15 MB unread): {stats}")
