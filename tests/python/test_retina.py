"""A strict client (issue 9, "Strict clients"): the Rust `retina` crate, the RTSP
client of Moonfire NVR, plays every codec with and without G.711 audio, over
TCP and UDP, fresh and as a late joiner served from the GOP cache.

The client is tests/retina_client (its own cargo workspace, built by
`make retina-client` into build/retina/target/release/retina-client; env
RETINA_CLIENT overrides the path). It plays with timestamp enforcement on
(retina's `enforce_timestamps_with_max_jump_secs(10)`: an RTP timestamp going
back, or forward by 10 s or more, stops it with an error) and prints a JSON
summary: frames, keyframes, loss and timestamps per stream, and retina's error.
retina 0.4.21 depacketizes all of our payloads: H.264, H.265, JPEG (RFC 2435)
and PCMU/PCMA.

Media: the bundled clips (90 frames at 30 fps, a keyframe every 30 frames;
MJPEG: every frame), and the first 3 s of the bundled tones (150 chunks of 20 ms).
- fresh: the client plays before the first frame is sent (the streamer waits
  for it): it must get every frame sent, and every audio byte.
- late: the stream starts with no client; the client starts JOIN_S (1.5 s)
  in, mid-GOP, so the server first sends it the cached GOP (from the keyframe
  at or before the join) and then the rest live. The expected count comes from
  the clip's keyframes and the time the client was started and answered PLAY.

Each cell checks: retina stops without error (the server closing the
connection after the last frame is the normal end), the video frame count,
the first frame is a keyframe, no loss on any stream, no timestamp going back,
and audio frames when the session has audio; and no frame's RTP time is
more than a frame interval behind the RTP time of a sender report that was
read before it (over UDP too, where retina may read a report before packets
sent ahead of it). retina alone catches that only when the report sets the
stream's time origin: with one stream, where its default policy ignores
RTP-Info's rtptime (with audio it requires rtptime and only places reports).
With -s a matrix is printed ("sr": that figure, in ms).
"""

import json
import math
import os
import re
import time
from pathlib import Path

import pytest

import helpers
from helpers import ASSETS, REPO, Background, Streamer, annexb, clip_access_units, loopback_url

FPS = 30
JOIN_S = 1.5  # late joiners start this far in: halfway through the second GOP
AUDIO_SECONDS = 3  # the tones are cut to the clips' length
G711_RATE = 8000
SR_JITTER_MS = 1000 / FPS  # how far a frame may be behind the last sender report's time
CLIENT_SECONDS = 30  # the client's own bound on one run
MAKE_HINT = "build it with `make retina-client` (tests/retina_client, a cargo workspace of its own)"

CODECS = {"h264": ASSETS / "clip.264", "h265": ASSETS / "clip.265", "mjpeg": ASSETS / "clip.mjpeg"}
AUDIO = {"none": None, "pcmu": ASSETS / "tone.ulaw", "pcma": ASSETS / "tone.alaw"}
TRANSPORTS = ("tcp", "udp")
MODES = ("fresh", "late")
CELLS = [(c, a, t, m) for m in MODES for t in TRANSPORTS for c in CODECS for a in AUDIO]


def retina_client():
    path = Path(os.environ.get("RETINA_CLIENT")
                or REPO / "build" / "retina" / "target" / "release" / "retina-client")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"the retina test client is missing at {path}: {MAKE_HINT}")
    return str(path)


def keyframes(clip):
    """Indices of the clip's access units that are keyframes (IDR/IRAP; every JPEG)."""
    codec = annexb.codec_from_path(str(clip))
    if codec == annexb.MJPEG:
        return list(range(len(clip_access_units(clip))))

    def is_key(au):
        types = [annexb.nal_type(n, codec) for n in annexb.nal_units(au)]
        return any(t == 5 for t in types) if codec == annexb.H264 else any(16 <= t <= 21 for t in types)

    return [i for i, au in enumerate(clip_access_units(clip)) if is_key(au)]


def late_expected(clip, first_frame, last_frame):
    """The video frame counts a client may get that joined while frames
    first_frame..last_frame were the newest sent: from the cached GOP's
    keyframe (the last at or before the newest frame) to the clip's end."""
    total = len(clip_access_units(clip))
    keys = keyframes(clip)
    counts = set()
    for k in range(max(first_frame, 0), min(last_frame, total - 1) + 1):
        counts.add(total - max(i for i in keys if i <= k))
    return counts


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """The bundled tones cut to AUDIO_SECONDS, as {codec: path}."""
    out = tmp_path_factory.mktemp("tones")
    cut = {}
    for name, path in AUDIO.items():
        if path is not None:
            cut[name] = out / path.name
            cut[name].write_bytes(path.read_bytes()[:AUDIO_SECONDS * G711_RATE])
    return cut


@pytest.fixture(scope="module")
def matrix():
    """Rows of the matrix, printed when the module's tests are done (visible with -s)."""
    rows = {}
    yield rows
    if not rows:
        return
    cols = [f"{t}/{m}" for m in MODES for t in TRANSPORTS]
    width = max(len(v) for v in rows.values()) + 2
    lines = ["", "retina matrix (video frames got/expected, audio frames, loss, client time; "
                 "or the first line of retina's error):",
             f"{'':12}" + "".join(f"{c:<{width}}" for c in cols)]
    for codec in CODECS:
        for audio in AUDIO:
            cells = [rows.get((codec, audio) + tuple(c.split("/")), "-") for c in cols]
            lines.append(f"{codec + '+' + audio:12}" + "".join(f"{c:<{width}}" for c in cells))
    print("\n".join(lines))


def short_error(error):
    """A matrix cell for retina's error: its kind and figure, not its context."""
    m = re.match(r"Timestamp jumped (-?\d+) \((-?[\d.]+) sec\)", error)
    return f"ERR ts-jump {m.group(2)}s" if m else "ERR " + error.splitlines()[0][:24]


def run_client(url, transport):
    cmd = [retina_client(), loopback_url(url), "--transport", transport,
           "--seconds", str(CLIENT_SECONDS)]
    return Background(cmd, f"retina-{transport}")


def summary_of(client):
    """The client's JSON summary (its last stdout line)."""
    code = helpers.finish_client(client, CLIENT_SECONDS + 5)
    last = client.lines[-1] if client.lines else ""
    try:
        summary = json.loads(last)
    except ValueError:
        pytest.fail(f"retina-client (exit {code}) printed no summary\nstdout:\n{client.stdout}\n"
                    f"stderr:\n{client.stderr}")
    summary["exit"] = code
    return summary


@pytest.mark.parametrize("codec,audio,transport,mode", CELLS,
                         ids=["-".join(cell) for cell in CELLS])
def test_retina_plays(port, tones, matrix, codec, audio, transport, mode):
    clip = CODECS[codec]
    total = len(clip_access_units(clip))
    tracks = [] if audio == "none" else [("test", tones[audio], audio)]
    client = None
    streamer = Streamer(port, [("test", clip, 1 if mode == "fresh" else 0)], fps=FPS, audio=tracks)
    try:
        if mode == "fresh":
            client = run_client(streamer.urls["test"], transport)
            client.wait_line("PLAYING", 15)
            expected = {total}
        else:
            streamer.wait_line("START", 15)
            t0 = streamer.last_line_time
            time.sleep(max(0.0, t0 + JOIN_S - time.monotonic()))
            started = time.monotonic()
            client = run_client(streamer.urls["test"], transport)
            client.wait_line("PLAYING", 15)
            # frame k goes out at t0 + k/FPS; one frame of slack either side
            newest = (math.floor((started - t0) * FPS) - 1,
                      math.floor((client.last_line_time - t0) * FPS) + 1)
            expected = late_expected(clip, *newest)
        streamer.finish(30)
        summary = summary_of(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()

    streams = summary["streams"]
    video = [s for s in streams if s["media"] == "video"]
    sound = [s for s in streams if s["media"] == "audio"]
    error = summary["error"]
    got = video[0]["frames"] if video else 0
    loss = sum(s["loss"] for s in streams)
    heard = sound[0]["frames"] if sound else 0
    want = "|".join(str(n) for n in sorted(expected))
    behind = max(s["behind_sr_ms"] for s in streams)
    row = short_error(error) if error else (
        f"{got}/{want} a{heard} L{loss} sr{behind:.0f}ms {summary['elapsed_s']:.1f}s")
    matrix[(codec, audio, transport, mode)] = row
    print(f"\nretina {codec}+{audio} {transport} {mode}: {row}")

    assert error is None and summary["exit"] == 0, (
        f"retina stopped with an error (exit {summary['exit']}):\n{error}\nsummary: {summary}")
    assert summary["end"] == "server-closed", f"the stream did not end with the server's: {summary}"
    assert len(video) == 1 and video[0]["set_up"], f"no video stream set up: {streams}"
    assert [s["encoding"] for s in streams] == [
        {"h264": "h264", "h265": "h265", "mjpeg": "jpeg"}[codec]] + ([] if audio == "none" else [audio])
    assert got in expected, f"{got} video frames received, expected {want} ({mode})"
    assert video[0]["first_is_keyframe"], f"the first video frame is not a keyframe: {video[0]}"
    assert loss == 0, f"retina counted {loss} lost RTP packets: {streams}"
    assert all(s["backwards"] == 0 for s in streams), f"a timestamp went back: {streams}"
    # Over UDP retina reads a stream's RTCP socket before its RTP socket, so a
    # report may be read ahead of packets sent before it: the server's first
    # report describes the first frame it sent, later ones never run more
    # than a frame ahead of the packets around them.
    assert behind <= SR_JITTER_MS, (
        f"frames came with RTP times up to {behind:.1f} ms behind an earlier sender report: {streams}")
    if audio != "none":
        assert len(sound) == 1 and sound[0]["set_up"], f"no audio stream set up: {streams}"
        assert sound[0]["repeats"] == 0, f"audio frames with a repeated timestamp: {sound[0]}"
        if mode == "fresh":
            assert sound[0]["bytes"] == AUDIO_SECONDS * G711_RATE, (
                f"{sound[0]['bytes']} audio bytes received, {AUDIO_SECONDS * G711_RATE} sent")
        else:
            assert heard > 0, f"no audio frames: {sound[0]}"
