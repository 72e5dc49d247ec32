"""MJPEG end to end (RFC 2435): the unix port streams examples/assets/clip.mjpeg
(one JPEG per sendvideodata call) and real players receive it: ffprobe over
TCP and UDP sees every frame at the source's size, ffmpeg decodes pictures
identical to the source's own, GStreamer decodes every frame.
"""

import re
import subprocess
import time

import pytest

import helpers
from helpers import CLIP_MJPEG, CLIP_MJPEG_SIZE, Streamer, annexb

CLIP_JPEGS = helpers.clip_access_units(CLIP_MJPEG)
CLIP_FRAMES = len(CLIP_JPEGS)


def jpeg_markers(jpeg):
    """The marker codes of a JPEG's header segments, up to and including SOS."""
    markers = []
    pos = 2
    while pos + 4 <= len(jpeg):
        marker = jpeg[pos + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        pos += 2 + int.from_bytes(jpeg[pos + 2:pos + 4], "big")
    return markers


def test_clip_is_what_the_tests_assume():
    # scripts/make-assets.sh: 90 baseline JPEGs (SOF0), 320x240, no restart
    # interval, each larger than one RTP packet
    assert CLIP_FRAMES == 90
    data = helpers.clip_bytes(CLIP_MJPEG)
    assert b"".join(CLIP_JPEGS) == data
    for jpeg in CLIP_JPEGS:
        assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
        markers = jpeg_markers(jpeg)
        assert 0xC0 in markers and 0xC2 not in markers, [hex(m) for m in markers]
        assert 0xDD not in markers  # no DRI
        sof = jpeg.index(b"\xff\xc0")
        height = int.from_bytes(jpeg[sof + 5:sof + 7], "big")
        width = int.from_bytes(jpeg[sof + 7:sof + 9], "big")
        assert (width, height) == CLIP_MJPEG_SIZE
        assert len(jpeg) > 1500
    assert len(set(CLIP_JPEGS)) == CLIP_FRAMES, "frames repeat: the tests could not tell them apart"


def run_ffprobe(port, transport, grouping="au", timestamps="pts"):
    streamer = Streamer(port, [("test", CLIP_MJPEG, 1)], grouping=grouping, timestamps=timestamps)
    client = None
    try:
        client = helpers.ffprobe_frames(streamer.urls["test"], transport)
        streamer.finish()
        helpers.finish_client(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    return client


def assert_every_frame(client, count=CLIP_FRAMES, size=CLIP_MJPEG_SIZE):
    frames = helpers.parse_frames(client)
    assert len(frames) == count, (
        f"{client.name}: decoded {len(frames)} frames, {count} were sent\nstderr:\n{client.stderr}")
    sizes = {(w, h) for w, h, _ in frames}
    assert sizes == {size}, f"{client.name}: frame sizes {sizes}, expected {size}"
    assert not any("error" in line.lower() for line in client._err), client.stderr


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_decodes_every_frame(port, transport):
    assert_every_frame(run_ffprobe(port, transport))


@pytest.mark.parametrize("grouping,timestamps", [
    ("padded", "pts"),    # `size` shorter than the buffer: the junk after it is not sent
    ("au", "const"),      # CanMV's constant timestamp 1000
])
def test_ffprobe_decodes_every_frame_for_other_calls(port, grouping, timestamps):
    assert_every_frame(run_ffprobe(port, "tcp", grouping, timestamps))


def decode_to_yuv(args, out, timeout=60):
    helpers.need_tool("ffmpeg")
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", *args, "-f", "rawvideo",
                           "-pix_fmt", "yuv420p", "-y", str(out)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_decodes_the_sources_pictures(port, tmp_path, transport):
    """Every frame received decodes, at the source's size, to exactly the pixels
    of the source JPEG: RFC 2435 carries the scan data and the quantization
    tables unchanged, and the Huffman tables are the standard ones."""
    out = tmp_path / "received.yuv"
    streamer = Streamer(port, [("test", CLIP_MJPEG, 1)])
    client = None
    try:
        client = helpers.ffmpeg_client(streamer.urls["test"], transport,
                                       ["-map", "0:v", "-f", "rawvideo", "-pix_fmt", "yuv420p",
                                        str(out)])
        streamer.finish()
        helpers.finish_client(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    w, h = CLIP_MJPEG_SIZE
    frame_bytes = w * h * 3 // 2
    received = out.read_bytes() if out.exists() else b""
    assert len(received) % frame_bytes == 0, (
        f"{len(received)} bytes is not a whole number of {w}x{h} frames\n{client.stderr}")
    frames = len(received) // frame_bytes
    assert frames == CLIP_FRAMES, f"{frames} frames decoded, {CLIP_FRAMES} sent\n{client.stderr}"
    source = decode_to_yuv(["-f", "mjpeg", "-i", str(CLIP_MJPEG)], tmp_path / "source.yuv")
    assert len(source) == len(received)
    different = [k for k in range(frames)
                 if received[k * frame_bytes:(k + 1) * frame_bytes]
                 != source[k * frame_bytes:(k + 1) * frame_bytes]]
    assert not different, f"frames {different[:10]} differ from the source's decoded pictures"


def test_describe_gives_static_payload_type_26(port):
    streamer = Streamer(port, [("test", CLIP_MJPEG, 0)])
    try:
        streamer.wait_line("PLAYING", 15)
        time.sleep(0.3)
        status, hdrs, sdp = helpers.rtsp_request(port, "DESCRIBE", "test",
                                                 {"Accept": "application/sdp"})
        streamer.finish()
    finally:
        streamer.stop()
    assert status == 200, (status, hdrs)
    assert re.search(r"^m=video 0 RTP/AVP 26\s*$", sdp, re.M), sdp
    rtpmap = re.search(r"^a=rtpmap:26 (.*)$", sdp, re.M)
    assert rtpmap is None or rtpmap.group(1).strip() == "JPEG/90000", sdp


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_gstreamer_decodes_every_frame(port, tmp_path, protocol):
    out = tmp_path / "out.yuv"
    streamer = Streamer(port, [("test", CLIP_MJPEG, 1)])
    client = None
    try:
        url = helpers.loopback_url(streamer.urls["test"])
        client = helpers.gst_i420(url, ["rtpjpegdepay", "!", "jpegdec"], out, f"gst-{protocol}",
                                  protocols=protocol)
        streamer.finish()
        helpers.finish_gst(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    w, h = CLIP_MJPEG_SIZE
    frame_bytes = w * h * 3 // 2
    size = out.stat().st_size if out.exists() else 0
    assert size % frame_bytes == 0, f"{size} bytes is not a whole number of {w}x{h} I420 frames"
    assert size // frame_bytes == CLIP_FRAMES, (
        f"GStreamer decoded {size // frame_bytes} frames, {CLIP_FRAMES} were sent\n{client.stderr}")


def make_unsendable_jpeg(kind, path):
    """One JPEG that RFC 2435 cannot carry, made from the clip's first frame."""
    helpers.need_tool("ffmpeg")
    pix_fmt = "yuvj444p" if kind == "yuv444" else "yuvj420p"
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "mjpeg", "-i", str(CLIP_MJPEG),
                           "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "5", "-huffman", "default",
                           "-pix_fmt", pix_fmt, "-f", "mjpeg", "-y", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = path.read_bytes()
    if kind == "progressive":
        # ffmpeg's encoder has no progressive mode: mark the frame as progressive
        # DCT (SOF2), which is what a receiver would have to honour.
        assert b"\xff\xc0" in data
        data = data.replace(b"\xff\xc0", b"\xff\xc2", 1)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["progressive", "yuv444"])
def test_a_jpeg_rfc2435_cannot_carry_is_refused_and_the_session_goes_on(port, tmp_path, kind):
    """The call returns a negative errno, and baseline frames sent before and
    after it all reach the client."""
    bad_path = make_unsendable_jpeg(kind, tmp_path / f"{kind}.jpg")
    code = f'''
import sys, time
sys.path.append({str(helpers.HOST_EXAMPLES)!r})
import annexb, multimedia as mm
data = open({str(CLIP_MJPEG)!r}, "rb").read()
jpegs = [data[s:e] for s, e in annexb.jpeg_spans(data)]
bad = open({str(bad_path)!r}, "rb").read()
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("test", "mjpeg", False)
s.rtspserver_start()
print("URL test", s.rtspserver_getrtspurl("test"))
deadline = time.ticks_add(time.ticks_ms(), 10000)
while s.rtspserver_getstats("test")["playing"] < 1 and time.ticks_diff(deadline, time.ticks_ms()) > 0:
    time.sleep_ms(20)
results = []
for k in range(30):
    if k == 10:
        print("BAD", s.rtspserver_sendvideodata("test", bad, len(bad), k * 33333))
    results.append(s.rtspserver_sendvideodata("test", jpegs[k], len(jpegs[k]), k * 33333))
    time.sleep_ms(33)
print("GOOD", results.count(0))
time.sleep_ms(300)
s.rtspserver_destroy()
print("DONE")
'''
    producer = helpers.Background([helpers.micropython(), "-c", code], "producer")
    client = None
    try:
        url = producer.wait_line("URL test", 15).split(" ", 2)[2]
        client = helpers.ffprobe_frames(url, "tcp")
        bad = producer.wait_line("BAD", 20)
        good = producer.wait_line("GOOD", 20)
        producer.wait_line("DONE", 15)
        assert producer.wait(10) == 0, producer.stderr
        helpers.finish_client(client)
    finally:
        if client is not None:
            client.stop()
        producer.stop()
    assert int(bad.split()[1]) < 0, f"a {kind} JPEG was accepted: {bad}"
    assert good == "GOOD 30", good
    frames = helpers.parse_frames(client)
    assert len(frames) == 30 and {(w, h) for w, h, _ in frames} == {CLIP_MJPEG_SIZE}, (
        f"{len(frames)} frames decoded around the refused one\n{client.stderr}")
