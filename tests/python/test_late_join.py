"""Late joiners (issue 4, "Instant start"): a client that joins a live stream
in the middle of a 4 s GOP gets a decodable picture at once from the session's
cached GOP; with gop_cache=False it waits for the next IDR, and
rtspserver_needkeyframe() says so while it waits.

The clip is made for the run by ffmpeg (conftest.long_gop_clip: IDRs at frames
0 and 120 of 240, 30 fps). The players are helpers.RtpPlayer: RTSP over TCP by
hand, every RTP packet kept with its arrival time and depacketized (RFC 6184).
"PLAY to first decodable frame" is measured from the moment the PLAY request
is sent to the arrival of the last packet of the first access unit; that this
access unit is decodable on its own, and that everything after it decodes, is
then checked by decoding the recording with ffprobe.
"""

import time

import pytest

import helpers
from helpers import RtpPlayer, Streamer, clip_access_units, probe_file

FPS = 30
GOP_FRAMES = 120
CLIP_FRAMES = 240
JOIN_POINTS = (1.0, 2.3, 3.5)  # seconds into the first GOP
INSTANT_S = 0.100


def vcl(au_nals):
    """The slices of an access unit (what makes the picture), without SEI or parameter sets."""
    return [n for n in au_nals if 1 <= (n[0] & 0x1F) <= 5]


def clip_vcl(path):
    return [vcl(helpers.annexb.nal_units(au)) for au in clip_access_units(path)]


def decoded_frames(path):
    """[(pict_type, key_frame)] of every picture ffprobe decodes from an Annex-B file."""
    return [(f.get("pict_type"), f.get("key_frame"))
            for f in probe_file(path, "frame=pict_type,key_frame", select="v")]


def check_recording(player, tmp_path, label, expected_vcl):
    """The player's access units: complete, equal to the expected pictures in
    order, and decodable by ffprobe from the first one on; the first one alone
    decodes to a keyframe. Returns the access units."""
    units = player.access_units()
    assert units, f"{label}: no video received"
    broken = [i for i, au in enumerate(units) if not au.complete]
    assert not broken, f"{label}: access units {broken[:10]} incomplete or damaged"
    got = [vcl(au.nals) for au in units]
    assert len(got) == len(expected_vcl), (
        f"{label}: {len(got)} pictures received, {len(expected_vcl)} expected")
    first_diff = next((i for i, (a, b) in enumerate(zip(got, expected_vcl)) if a != b), None)
    assert first_diff is None, f"{label}: picture {first_diff} differs from the clip's"
    first = units[0]
    assert {7, 8, 5} <= set(first.nal_types()), (
        f"{label}: first access unit has NAL types {first.nal_types()}, not SPS, PPS and IDR")
    alone = tmp_path / f"{label}-first.h264"
    alone.write_bytes(first.annexb())
    assert decoded_frames(alone) == [("I", "1")], f"{label}: the first access unit alone does not decode"
    whole = tmp_path / f"{label}.h264"
    whole.write_bytes(b"".join(au.annexb() for au in units))
    frames = decoded_frames(whole)
    assert len(frames) == len(units) and frames[0] == ("I", "1"), (
        f"{label}: ffprobe decoded {len(frames)} of {len(units)} pictures, first {frames[:1]}")
    return units


def sleep_until(t):
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


@pytest.mark.parametrize("fps", [FPS, 5])
def test_late_joiners_get_a_decodable_picture_at_once(port, long_gop_clip, tmp_path, fps):
    """Three clients join 1.0, 2.3 and 3.5 s into a 4 s GOP: each has its first
    decodable picture (the GOP's IDR with its parameter sets) within 100 ms of
    sending PLAY, then every later picture of the clip, none missing. An ffprobe
    joining at 1.5 s decodes all frames from an I frame on. At 5 fps the next
    frame is 200 ms away: the cache must not wait for the script's next call."""
    if fps == FPS:
        clip = long_gop_clip
    else:
        clip = helpers.make_h264_clip(tmp_path / f"gop4s-{fps}fps.264", 8, 4 * fps, fps=fps)
    expected = clip_vcl(clip)
    assert len(expected) == 8 * fps
    streamer = Streamer(port, [("test", clip, 0)], watch=True, fps=fps)
    players = [RtpPlayer(port) for _ in JOIN_POINTS]
    probe = None
    try:
        for p in players:
            status, hdrs = p.setup()
            assert status == 200, hdrs
        streamer.wait_line("START", 15)
        t0 = streamer.last_line_time
        joins = list(zip(players, JOIN_POINTS))
        for i, (p, at) in enumerate(joins):
            sleep_until(t0 + at)
            status, hdrs = p.play()
            assert status == 200, hdrs
            if i == 0:
                sleep_until(t0 + 1.5)
                probe = helpers.ffprobe_frames(streamer.urls["test"], "tcp", "ffprobe-late")
        streamer.finish()
        helpers.finish_client(probe)
        for p in players:
            assert p.wait_closed(10), "the server did not close a player's connection at the end"
    finally:
        for p in players:
            p.close()
        if probe is not None:
            probe.stop()
        streamer.stop()

    figures = []
    for p, at in zip(players, JOIN_POINTS):
        label = f"{fps}fps-join-{at:.1f}s"
        units = check_recording(p, tmp_path, label, expected)
        first_ms = (units[0].arrival - p.play_sent) * 1000
        # what came in the first burst says where in the GOP the client joined
        burst = sum(1 for au in units if au.arrival <= units[0].arrival + 0.05)
        joined_at = p.play_sent - t0
        figures.append((at, joined_at, burst, first_ms))
        print(f"late join {joined_at:.3f} s into a 4 s GOP at {fps} fps: first decodable frame "
              f"{first_ms:.1f} ms after PLAY; {burst} cached pictures at once, then live")
        assert abs(burst / fps - joined_at) < 0.1 + 1 / fps, (
            f"{label}: {burst} pictures in the first 50 ms, joined {joined_at:.3f} s into the GOP")
    slow = [f for f in figures if f[3] >= INSTANT_S * 1000]
    assert not slow, f"PLAY to first decodable frame not under 100 ms: {slow}"

    frames = helpers.parse_frames(probe)
    assert len(frames) == len(expected) and frames[0][2] == "I", (
        f"ffprobe joining at 1.5 s decoded {len(frames)} frames, first {frames[:1]}\n{probe.stderr}")


def watch_lines(streamer):
    """[(ms since START, clients, playing, needkeyframe)] from the streamer's WATCH lines."""
    rows = []
    for line in streamer.lines:
        if line.startswith("WATCH "):
            f = line.split()
            rows.append((int(f[1]), int(f[3]), int(f[5]), f[7] == "True"))
    return rows


def test_without_gop_cache_the_client_waits_for_the_next_idr(port, long_gop_clip, tmp_path):
    """gop_cache=False: a client joining 1.0 s into the GOP gets nothing until
    the next IDR (frame 120, 4.0 s), then every picture from there;
    rtspserver_needkeyframe() is True while it waits and False once the IDR went
    out. ffprobe joining at the same time decodes frames 120..239, the first an I frame."""
    expected = clip_vcl(long_gop_clip)
    streamer = Streamer(port, [("test", long_gop_clip, 0)], watch=True, gop_cache=False)
    player = RtpPlayer(port)
    probe = None
    try:
        status, hdrs = player.setup()
        assert status == 200, hdrs
        streamer.wait_line("START", 15)
        t0 = streamer.last_line_time
        sleep_until(t0 + 1.0)
        status, hdrs = player.play()
        assert status == 200, hdrs
        probe = helpers.ffprobe_frames(streamer.urls["test"], "tcp", "ffprobe-late")
        streamer.finish()
        helpers.finish_client(probe)
    finally:
        player.close()
        if probe is not None:
            probe.stop()
        streamer.stop()

    units = check_recording(player, tmp_path, "no-cache", expected[GOP_FRAMES:])
    wait_s = units[0].arrival - player.play_sent
    joined_at = player.play_sent - t0
    print(f"gop_cache=False, joined {joined_at:.3f} s into the GOP: first frame {wait_s * 1000:.0f} ms "
          f"after PLAY (the next IDR is {GOP_FRAMES / FPS - joined_at:.3f} s away)")
    assert abs(wait_s - (GOP_FRAMES / FPS - joined_at)) < 0.3, (
        f"first frame {wait_s:.3f} s after PLAY, the next IDR was {GOP_FRAMES / FPS - joined_at:.3f} s away")

    rows = watch_lines(streamer)
    for row in rows:
        print("needkeyframe watch (ms, clients, playing, needkeyframe):", row)
    idr_ms = GOP_FRAMES * 1000 // FPS
    waiting = [ms for ms, _, _, need in rows if need]
    assert waiting, f"needkeyframe() never True while a client waited: {rows}"
    became_true = waiting[0]
    became_false = next((ms for ms, _, _, need in rows if ms > became_true and not need), None)
    assert joined_at * 1000 - 100 <= became_true < idr_ms, (
        f"needkeyframe() became True at {became_true} ms; PLAY at {joined_at * 1000:.0f} ms, IDR at {idr_ms} ms")
    assert became_false is not None and idr_ms - 50 <= became_false <= idr_ms + 200, (
        f"needkeyframe() back to False at {became_false} ms, the IDR went out at {idr_ms} ms: {rows}")

    frames = helpers.parse_frames(probe)
    assert len(frames) == CLIP_FRAMES - GOP_FRAMES and frames[0][2] == "I", (
        f"ffprobe decoded {len(frames)} frames, first {frames[:1]}\n{probe.stderr}")
