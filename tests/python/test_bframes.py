"""B-frames keep their presentation times (issue 9, part 6).

A real x264 stream with B-frames is sent one access unit per call, in decode
order, each call stamped with that picture's presentation time in µs, as an
encoder hands out its packs. RFC 6184 5.1 puts the presentation time in the
RTP timestamp, so it goes down as well as up in decode order. The server must
pass it on, not mistake the steps back for "timestamps that do not increase"
(CanMV's constant 1000, for which it stamps on arrival instead).

Checked with real clients: ffprobe lists every packet's pts (from the RTP
timestamps) and they must equal the encoder's, to one 90 kHz tick; ffmpeg
decodes every picture with no timestamp warning.
"""

import subprocess

import pytest

import helpers
from helpers import Streamer, clip_access_units, probe_file

FPS = 30
FRAMES = 90
# Where the script's pts start (µs since boot on a board, say).
PTS_ORIGIN_US = 5_000_000


@pytest.fixture(scope="module")
def bframe_clip(tmp_path_factory):
    """An H.264 Annex-B clip with B-frames (2 between references, pyramid), and
    each access unit's presentation time in µs, in decode order."""
    helpers.need_tool("ffmpeg")
    work = tmp_path_factory.mktemp("bframes")
    mp4, annexb = work / "bframes.mp4", work / "bframes.264"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc=size=320x240:rate={FPS}:duration={FRAMES / FPS}",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", "-bf", "2",
         "-x264-params", "b-pyramid=normal:keyint=30:min-keyint=30:scenecut=0", str(mp4)],
        check=True, timeout=120)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(mp4), "-c", "copy",
                    "-bsf:v", "h264_mp4toannexb", "-f", "h264", str(annexb)], check=True, timeout=60)
    packets = probe_file(mp4, "packet=pts_time,dts_time", select="v")
    pts_us = [round(float(p["pts_time"]) * 1_000_000) for p in packets]
    units = clip_access_units(annexb)
    assert len(units) == len(pts_us) == FRAMES, (len(units), len(pts_us))
    back = sum(1 for a, b in zip(pts_us, pts_us[1:]) if b < a)
    assert back > 10, f"the clip must really reorder: {back} steps back in {FRAMES} frames"
    base = PTS_ORIGIN_US - min(pts_us)
    local = subprocess.run(["ffmpeg", "-v", "error", "-i", str(mp4), "-fps_mode", "passthrough",
                            "-f", "framemd5", "-"], check=True, timeout=60, capture_output=True, text=True)
    return annexb, [base + p for p in pts_us], local.stdout.splitlines()


def framemd5(lines):
    """(pts, md5) of each picture of ffmpeg's framemd5 output, in output order."""
    frames = []
    for line in lines:
        if line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            frames.append((int(fields[2]), fields[5]))
    return frames


def test_bframe_presentation_times_reach_the_player(port, tmp_path, bframe_clip):
    clip, pts_us, local = bframe_clip
    schedule = helpers.write_schedule(tmp_path / "pts.txt", pts_us)
    streamer = Streamer(port, [("test", clip, 3)], schedule=schedule)
    clients = []
    try:
        url = helpers.loopback_url(streamer.urls["test"])
        ffmpeg = ["ffmpeg", "-nostdin", "-rtsp_transport", "tcp", "-timeout", helpers.CLIENT_TIMEOUT_US]
        probe = helpers.ffprobe_packets(url, "tcp")
        # Every picture with its time (30 fps time base) and checksum, in display order.
        pictures = helpers.Background(
            ffmpeg + ["-v", "error", "-i", url, "-fps_mode", "passthrough", "-f", "framemd5", "-"], "ffmpeg-md5")
        # A plain decode, warnings on: ffmpeg's complaints about timestamps are warnings.
        decoder = helpers.Background(ffmpeg + ["-v", "warning", "-i", url, "-f", "null", "-"], "ffmpeg-null")
        clients = [probe, pictures, decoder]
        streamer.finish()
        for client in clients:
            helpers.finish_client(client)
    finally:
        for client in clients:
            client.stop()
        streamer.stop()

    # RTP timestamps: the encoder's presentation times, to a 90 kHz tick.
    pts = [p["pts"] for p in helpers.parse_packets(probe)]
    assert len(pts) == FRAMES, f"{len(pts)} packets for {FRAMES} pictures\n{probe.stderr}"
    # ffmpeg leaves out the pts of the first packet (gst-rtsp-server's too); every later one counts.
    errors, ref = helpers.pts_mismatches(pts, pts_us)
    assert ref <= 1, pts[:4]
    steps = [round((b - a) * 90_000 / 1_000_000) for a, b in zip(pts_us, pts_us[1:])]
    print(f"B-frames: {len(pts)} packets, RTP steps {steps[:8]}..., {len(errors)} off by more than a tick")
    assert not errors, f"packets whose pts is not the encoder's (index, got, want): {errors[:10]}"

    # Pictures: the same images as decoding the file itself, in the same order,
    # each shown at its presentation time. Not the first reorder group (the
    # first picture and the two B-frames shown before the next reference):
    # ffmpeg guesses the first picture's time and its framemd5 muxer clamps
    # the two after it, exactly so with gst-rtsp-server as the server.
    got, want = framemd5(pictures.lines), framemd5(local)
    assert [m for _, m in got] == [m for _, m in want], "pictures differ from the clip's, or come in another order"
    skip = 3
    late = [(k, g - got[-1][0], w - want[-1][0]) for k, ((g, _), (w, _)) in enumerate(zip(got, want))
            if k >= skip and g - got[-1][0] != w - want[-1][0]]
    assert not late, f"pictures shown at the wrong time (index, got, want, in frames): {late[:10]}"

    warnings = [line for line in decoder.stderr.splitlines()
                if any(w in line.lower() for w in ("monoton", "dts", "pts", "timestamp"))]
    assert not warnings, "ffmpeg warned about timestamps:\n" + "\n".join(warnings[:10])
