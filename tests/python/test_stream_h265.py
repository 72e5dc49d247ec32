"""H.265 end to end (RFC 7798): the unix port streams examples/assets/clip.265
through tests/python/mpy_streamer.py and real players receive it: ffprobe
decodes every frame over TCP and UDP, `ffmpeg -c copy` gets back every slice
byte for byte, the SDP carries the parameter sets, GStreamer decodes it.
"""

import base64
import re
import time

import pytest

import helpers
from helpers import CLIP_H265, CLIP_H265_SIZE, Streamer, annexb

H265 = annexb.H265
VPS, SPS, PPS, PREFIX_SEI, SUFFIX_SEI = 32, 33, 34, 39, 40
IDR_TYPES = (19, 20)
CLIP_AUS = helpers.clip_access_units(CLIP_H265)
CLIP_FRAMES = len(CLIP_AUS)


def types_of(nals):
    return [annexb.h265_nal_type(n) for n in nals]


def test_clip_is_what_the_tests_assume():
    # scripts/make-assets.sh: 3 s at 30 fps, an IDR every 30 frames with
    # VPS/SPS/PPS before it, no B-frames, some slices larger than one packet
    assert CLIP_FRAMES == 90
    types = [types_of(annexb.nal_units(au)) for au in CLIP_AUS]
    idr = [i for i, t in enumerate(types) if any(x in IDR_TYPES for x in t)]
    assert idr == [0, 30, 60], idr
    for i in idr:
        assert types[i][:3] == [VPS, SPS, PPS], types[i]
    nals = annexb.nal_units(helpers.clip_bytes(CLIP_H265))
    assert any(len(n) > 1500 for n in nals), "no NAL unit needs fragmentation units"


def run_ffprobe(port, transport, grouping="au", timestamps="pts"):
    streamer = Streamer(port, [("test", CLIP_H265, 1)], grouping=grouping, timestamps=timestamps)
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


def assert_every_frame(client, count=CLIP_FRAMES, size=CLIP_H265_SIZE):
    frames = helpers.parse_frames(client)
    assert len(frames) == count, (
        f"{client.name}: decoded {len(frames)} frames, {count} were sent\nstderr:\n{client.stderr}")
    sizes = {(w, h) for w, h, _ in frames}
    assert sizes == {size}, f"{client.name}: frame sizes {sizes}, expected {size}"
    assert frames[0][2] == "I", f"{client.name}: first frame is {frames[0][2]}, not I"
    assert not any("error" in line.lower() for line in client._err), client.stderr


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_decodes_every_frame(port, transport):
    assert_every_frame(run_ffprobe(port, transport))


@pytest.mark.parametrize("grouping,timestamps", [
    ("nal", "pts"),       # one NAL unit per call
    ("packs", "const"),   # an encoder's packs with CanMV's constant timestamp 1000
    ("padded", "pts"),    # `size` shorter than the buffer
])
def test_ffprobe_decodes_every_frame_for_any_grouping(port, grouping, timestamps):
    assert_every_frame(run_ffprobe(port, "tcp", grouping, timestamps))


# --- byte for byte ------------------------------------------------------------------

def first_difference(a, b):
    n = min(len(a), len(b))
    return next((k for k in range(n) if a[k] != b[k]), n)


def split_vcl(nals):
    vcl = [n for n in nals if annexb.h265_is_vcl(annexb.h265_nal_type(n))]
    other = [n for n in nals if not annexb.h265_is_vcl(annexb.h265_nal_type(n))]
    return vcl, other


@pytest.mark.parametrize("transport,grouping,timestamps", [
    ("tcp", "au", "pts"),
    ("tcp", "nal", "const"),
    ("tcp", "packs", "const"),
    ("udp", "au", "pts"),
])
def test_ffmpeg_copy_gives_the_sent_nal_units(port, tmp_path, transport, grouping, timestamps):
    out = tmp_path / "out.265"
    streamer = Streamer(port, [("test", CLIP_H265, 1)], grouping=grouping, timestamps=timestamps)
    client = None
    try:
        client = helpers.ffmpeg_client(streamer.urls["test"], transport,
                                       ["-map", "0:v", "-c", "copy", "-f", "hevc", str(out)])
        streamer.finish()
        helpers.finish_client(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    assert out.exists(), client.stderr
    sent = annexb.nal_units(helpers.clip_bytes(CLIP_H265))
    got = annexb.nal_units(out.read_bytes())
    sent_vcl, sent_other = split_vcl(sent)
    got_vcl, got_other = split_vcl(got)
    assert len(got_vcl) == len(sent_vcl), (
        f"{len(got_vcl)} slices received, {len(sent_vcl)} sent; types received "
        f"{types_of(got)[:40]}...\n{client.stderr}")
    for i, (a, b) in enumerate(zip(got_vcl, sent_vcl)):
        assert a == b, (f"slice #{i} (type {annexb.h265_nal_type(b)}) differs: {len(a)} bytes "
                        f"received, {len(b)} sent, first difference at byte {first_difference(a, b)}")
    # Parameter sets and SEI may repeat, but none may be invented or altered,
    # and each one sent must arrive.
    assert set(got_other) <= set(sent_other), (
        "received non-slice NAL units that were never sent: types "
        f"{sorted({annexb.h265_nal_type(n) for n in set(got_other) - set(sent_other)})}")
    assert set(sent_other) <= set(got_other), (
        "a parameter set or SEI sent was never received: types "
        f"{sorted({annexb.h265_nal_type(n) for n in set(sent_other) - set(got_other)})}")
    types = types_of(got)
    for i, t in enumerate(types):
        if t in IDR_TYPES and (i == 0 or types[i - 1] not in IDR_TYPES):
            before = types[:i]
            assert VPS in before and SPS in before and PPS in before, (
                f"IDR at NAL #{i} without VPS/SPS/PPS before it: {types[:i + 1]}")


# --- SDP ----------------------------------------------------------------------------

def test_describe_gives_rtpmap_and_the_clips_parameter_sets(port):
    """RFC 7798 section 7: a=rtpmap:<pt> H265/90000 and sprop-vps/sps/pps
    (base64) equal to the clip's own parameter sets."""
    streamer = Streamer(port, [("test", CLIP_H265, 0)])
    try:
        streamer.wait_line("PLAYING", 15)  # no client to wait for: frames flow at once
        time.sleep(0.5)
        status, hdrs, sdp = helpers.rtsp_request(port, "DESCRIBE", "test",
                                                 {"Accept": "application/sdp"})
        streamer.finish()
    finally:
        streamer.stop()
    assert status == 200, (status, hdrs)
    m = re.search(r"^m=video 0 RTP/AVP (\d+)\s*$", sdp, re.M)
    assert m, sdp
    pt = m.group(1)
    assert int(pt) >= 96, f"H.265 needs a dynamic payload type, got {pt}"
    assert re.search(rf"^a=rtpmap:{pt} H265/90000\s*$", sdp, re.M), sdp
    fmtp = re.search(rf"^a=fmtp:{pt} (.*)$", sdp, re.M)
    assert fmtp, sdp
    params = dict(p.strip().split("=", 1) for p in fmtp.group(1).split(";") if "=" in p)
    nals = annexb.nal_units(CLIP_AUS[0])
    want = {VPS: "sprop-vps", SPS: "sprop-sps", PPS: "sprop-pps"}
    for t, key in want.items():
        assert key in params, f"{key} missing from {fmtp.group(0)}"
        sent = next(n for n in nals if annexb.h265_nal_type(n) == t)
        assert base64.b64decode(params[key]) == sent, f"{key} is not the clip's NAL unit"


# --- GStreamer ------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_gstreamer_decodes_every_frame(port, tmp_path, protocol):
    out = tmp_path / "out.yuv"
    streamer = Streamer(port, [("test", CLIP_H265, 1)])
    client = None
    try:
        url = helpers.loopback_url(streamer.urls["test"])
        client = helpers.gst_i420(url, ["rtph265depay", "!", "h265parse", "!", "avdec_h265"], out,
                                  f"gst-{protocol}", protocols=protocol)
        streamer.finish()
        helpers.finish_gst(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    w, h = CLIP_H265_SIZE
    frame_bytes = w * h * 3 // 2
    size = out.stat().st_size if out.exists() else 0
    assert size % frame_bytes == 0, f"{size} bytes is not a whole number of {w}x{h} I420 frames"
    frames = size // frame_bytes
    assert frames == CLIP_FRAMES, (f"GStreamer decoded {frames} frames, {CLIP_FRAMES} were sent\n"
                                   f"stdout:\n{client.stdout}\nstderr:\n{client.stderr}")
