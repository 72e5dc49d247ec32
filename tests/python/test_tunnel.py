"""RTSP over HTTP (issue 13, part 1): the QuickTime tunnel on the RTSP port.

ffprobe with `-rtsp_transport http` and GStreamer's `rtspsrc
location=rtsph://...` reach the unix port's server through a GET (replies and
media) and a POST (base64 requests) joined by `x-sessioncookie`, and decode
every frame of the H.264 clip, with and without authentication; the client
stats call them "http".

What each client sends (ffmpeg 5.1, GStreamer 1.22, captured on loopback):
- ffmpeg: `GET /test HTTP/1.1` with `x-sessioncookie` (16 hex digits),
  `Accept: application/x-rtsp-tunnelled`, then, once the GET's 200 is read,
  `POST /test HTTP/1.1` with the cookie, `Content-Type:
  application/x-rtsp-tunnelled`, `Content-Length: 32767`; every request is
  base64-encoded on its own (padded) and written on that one POST, whose head
  and first request may share a segment;
- GStreamer: `GET /test HTTP/1.0` and `POST /test HTTP/1.0` (cookie of 23
  letters) sent at once, without waiting for the GET's reply, then each
  request base64-encoded on its own on that POST.
"""

import ast

import pytest

import helpers
from helpers import CLIP, CLIP_SIZE, Streamer

CLIP_FRAMES = len(helpers.clip_access_units(CLIP))
USER, PASSWORD = "viewer", "s3cret"


def stats_line(streamer, name="test"):
    prefix = f"STATS {name} "
    line = next((line for line in streamer.lines if line.startswith(prefix)), None)
    assert line is not None, streamer.stdout
    return ast.literal_eval(line[len(prefix):])


def assert_every_frame(client):
    frames = helpers.parse_frames(client)
    assert len(frames) == CLIP_FRAMES, (
        f"{client.name}: decoded {len(frames)} frames, {CLIP_FRAMES} were sent\nstderr:\n{client.stderr}")
    assert {(w, h) for w, h, _ in frames} == {CLIP_SIZE}
    assert frames[0][2] == "I", f"{client.name}: first frame is {frames[0][2]}"


@pytest.mark.parametrize("auth", [False, True], ids=["open", "users"])
def test_ffprobe_over_http_decodes_every_frame(port, auth):
    users = [(USER, PASSWORD)] if auth else None
    streamer = Streamer(port, [("test", CLIP, 1)], users=users)
    client = None
    try:
        client = helpers.ffprobe_frames(streamer.urls["test"], "http", "ffprobe-http",
                                        userinfo=f"{USER}:{PASSWORD}" if auth else None)
        streamer.finish()
        helpers.finish_client(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    assert_every_frame(client)
    stats = stats_line(streamer)
    assert [c["transport"] for c in stats["per_client"]] == ["http"], stats


@pytest.mark.parametrize("auth", [False, True], ids=["open", "users"])
def test_gstreamer_rtsph_decodes_every_frame(port, tmp_path, auth):
    helpers.need_gst_elements("rtspsrc", "rtph264depay", "avdec_h264", "videoconvert", "filesink")
    users = [(USER, PASSWORD)] if auth else None
    out = tmp_path / "out.yuv"
    streamer = Streamer(port, [("test", CLIP, 1)], users=users)
    client = None
    try:
        url = helpers.loopback_url(streamer.urls["test"], f"{USER}:{PASSWORD}" if auth else None)
        url = "rtsph://" + url[len("rtsp://"):]
        client = helpers.gst_client(["rtspsrc", f"location={url}", "latency=0", "!", "rtph264depay", "!",
                                     "avdec_h264", "!", "videoconvert", "!", "video/x-raw,format=I420", "!",
                                     "filesink", f"location={out}"], "gst-rtsph")
        streamer.finish()
        helpers.finish_gst(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    w, h = CLIP_SIZE
    size = out.stat().st_size if out.exists() else 0
    assert size == CLIP_FRAMES * w * h * 3 // 2, (
        f"GStreamer wrote {size} bytes, {CLIP_FRAMES} frames of {w}x{h} I420 were sent\n{client.stderr}")
    stats = stats_line(streamer)
    assert [c["transport"] for c in stats["per_client"]] == ["http"], stats
