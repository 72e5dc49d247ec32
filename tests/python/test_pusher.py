"""mm.rtsp_pusher() (issue 11) against real receiving servers on loopback:
ffmpeg in listen mode, gst-rtsp-server in RECORD mode, and fake servers
(receivers.py; test_receivers.py validates them with ffmpeg as the pusher).

The streaming tests run examples/host/push_file.py in the unix port: it
pushes a bundled clip in real time (30 fps) with the parameter sets of the
first access unit given to pushvideoheader, each access unit once (--once)."""

import errno
import time

import pytest

import helpers
import receivers
from receivers import FfmpegReceiver, GstRecordServer

PUSH_FILE = helpers.HOST_EXAMPLES / "push_file.py"
CLIPS = {"h264": helpers.CLIP, "h265": helpers.CLIP_H265, "mjpeg": helpers.CLIP_MJPEG}
TONES = {"pcmu": helpers.TONE_ULAW, "pcma": helpers.TONE_ALAW}
CLIP_FRAMES = 90


def push_file(background, url, clip=helpers.CLIP, *args):
    return background(helpers.Background(
        [helpers.micropython(), str(PUSH_FILE), url, str(clip), *args], "push_file.py"))


def finish_push(pusher, timeout=20):
    code = pusher.wait(timeout)
    if code is None:
        pusher.stop()
        pytest.fail(f"push_file.py still running after {timeout} s\n{pusher.stdout}\n{pusher.stderr}")
    assert code == 0 and "OPEN 0" in pusher.lines and "DONE" in pusher.lines, (
        f"exit {code}\n{pusher.stdout}\n{pusher.stderr}")
    return last_stats(pusher)


def last_stats(pusher):
    import ast
    lines = [line for line in pusher.lines if line.startswith("STATS ")]
    assert lines, pusher.stdout + pusher.stderr
    return ast.literal_eval(lines[-1][len("STATS "):])


# --- ffmpeg as the receiving server ---------------------------------------------------

@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_ffmpeg_receives_every_access_unit(port, tmp_path, background, codec, transport):
    """Every access unit arrives byte for byte (NAL units compared; a 3- or
    4-byte start code is framing; parameter sets the receiver adds from the
    SDP are allowed if they are the ones pushed), from the first on."""
    with FfmpegReceiver(port, tmp_path, codec) as rx:
        pusher = push_file(background, rx.url, CLIPS[codec], "--once", "--transport", transport)
        stats = finish_push(pusher)
        assert rx.finish() == 0, rx.stderr
        sent = helpers.clip_access_units(CLIPS[codec])
        assert receivers.compare_access_units(sent, rx.access_units(), codec) == (0, []), rx.stderr
        assert stats["frames_sent"] == CLIP_FRAMES and stats["frames_dropped"] == 0, stats


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_decodes_every_mjpeg_frame(port, tmp_path, background, transport):
    with FfmpegReceiver(port, tmp_path, "mjpeg") as rx:
        pusher = push_file(background, rx.url, helpers.CLIP_MJPEG, "--once", "--transport", transport)
        finish_push(pusher)
        assert rx.finish() == 0, rx.stderr
        assert rx.decoded_frames() == CLIP_FRAMES


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("audio", ["pcmu", "pcma"])
def test_ffmpeg_receives_the_g711_bytes(port, tmp_path, background, audio, transport):
    """The audio pushed arrives byte for byte, unbroken, to the last chunk.
    push_file.py pushes 160-byte chunks from the start of the tone, stamped
    0, 20000, ... µs, each before the video frame of the same time, up to the
    last frame (2.967 s): 149 chunks, the first pushed before the first video
    keyframe (audio does not wait for one), and every one arrives."""
    with FfmpegReceiver(port, tmp_path, "h264", audio=audio) as rx:
        args = ["--once", "--transport", transport, "--audio", str(TONES[audio])]
        if audio == "pcma":
            args.append("--alaw")
        finish_push(push_file(background, rx.url, helpers.CLIP, *args))
        assert rx.finish() == 0, rx.stderr
        got = rx.audio_bytes()
        tone = helpers.clip_bytes(TONES[audio])
        pushed = 149 * 160
        assert got == tone[:pushed], (
            f"{len(got)} bytes, from offset {tone.find(got[:160])} of the tone: not its first {pushed}")


# --- gst-rtsp-server in RECORD mode -------------------------------------------------------

@pytest.mark.parametrize("auth", [False, True], ids=["open", "digest"])
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_gst_record_decodes_every_frame(port, background, transport, auth):
    user = ("pusher", "s3cret") if auth else None
    with GstRecordServer(port, "h264", user=user, protocols=transport) as srv:
        finish_push(push_file(background, srv.url(), helpers.CLIP, "--once", "--transport", transport))
        assert srv.wait_media_end(1, 10), srv.stdout
        s = srv.stats()
        assert s["frames"] == CLIP_FRAMES and s["first_key"] == [True], s


@pytest.mark.parametrize("codec", ["h265", "mjpeg"])
def test_gst_record_other_codecs(port, background, codec):
    with GstRecordServer(port, codec) as srv:
        finish_push(push_file(background, srv.url(), CLIPS[codec], "--once"))
        assert srv.wait_media_end(1, 10), srv.stdout
        assert srv.stats()["frames"] == CLIP_FRAMES, srv.stats()


def test_gst_record_wrong_password_is_eacces(port):
    with GstRecordServer(port, "h264", user=("pusher", "s3cret")) as srv:
        out = open_outcome(srv.url("pusher:wrong"), timeout=3)
        assert out.ret("open") == -errno.EACCES


# --- restarts -------------------------------------------------------------------------------

def test_reconnects_after_the_receiver_restarts(port, background):
    """gst-rtsp-server is stopped 2 s into an 8 s push and started again on the
    same port: the pusher reconnects and the new receiver decodes from a keyframe."""
    srv = GstRecordServer(port, "h264", name="record-server-1")
    try:
        pusher = push_file(background, srv.url(), helpers.CLIP, "--seconds", "8")
        pusher.wait_line("OPEN", 10)
        s = srv.wait_stats(lambda s: s["frames"] >= 30, 5)
        assert s["frames"] >= 30, s
    finally:
        srv.close()
    time.sleep(0.5)
    with GstRecordServer(port, "h264", name="record-server-2") as srv2:
        s = srv2.wait_stats(lambda s: s["frames"] >= 30, 8)
        assert s["medias"] >= 1 and s["first_key"][0] is True and s["frames"] >= 30, s
        stats = finish_push(pusher, 15)
    assert stats["reconnects"] >= 1, stats


def test_ffmpeg_receiver_restart_begins_at_a_keyframe(port, tmp_path, background):
    rx = FfmpegReceiver(port, tmp_path, tag="-1")
    try:
        pusher = push_file(background, rx.url, helpers.CLIP, "--seconds", "8")
        pusher.wait_line("OPEN", 10)
        time.sleep(2)
    finally:
        rx.close()
    with FfmpegReceiver(port, tmp_path, tag="-2") as rx2:
        stats = finish_push(pusher, 15)
        assert rx2.finish() == 0, rx2.stderr
        sent = helpers.clip_access_units(helpers.CLIP) * 10
        first, problems = receivers.compare_access_units(sent, rx2.access_units())
        # from a keyframe on, every access unit to the end (the clip is looped: the
        # last ones pushed are the clip's, so the tail is compared, not the count)
        assert first is not None and receivers.is_keyframe(sent[first]), problems
        assert [p for p in problems if "differs" in p or "never sent" in p] == [], problems
        assert rx2.decoded_frames() == len(rx2.access_units()) >= 30
    assert stats["reconnects"] >= 1, stats


# --- the raw RTP: the recorder ---------------------------------------------------------------

@pytest.mark.parametrize("auth", [None, ("digest-md5", "u", "p"), ("digest-sha256", "u", "p"),
                                  ("basic", "u", "p")],
                         ids=["open", "digest-md5", "digest-sha256", "basic"])
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_recorder_gets_the_handshake_and_the_rtp(background, transport, auth):
    with receivers.RecorderServer(auth=auth) as srv:
        finish_push(push_file(background, srv.url(userinfo="u:p" if auth else None), helpers.CLIP,
                              "--once", "--transport", transport))
        assert srv.torn_down.wait(5), srv.methods()
        methods = [m for m in srv.methods() if m not in ("OPTIONS", "GET_PARAMETER")]
        assert methods[-4:] == ["ANNOUNCE", "SETUP", "RECORD", "TEARDOWN"], srv.methods()
        assert "mode=record" in srv.setups[0].lower(), srv.setups
        if transport == "tcp":
            assert "interleaved=" in srv.setups[0], srv.setups
        else:
            assert "client_port=" in srv.setups[0] and srv.udp_packets > 0, srv.setups
        assert "sprop-parameter-sets=" in srv.sdp and srv.sdp_tracks()[0][1], srv.sdp
        channel = min(srv.packets) if srv.packets else 0
        got = [au.annexb() for au in srv.h264_access_units(channel)]
        sent = helpers.clip_access_units(helpers.CLIP)
        assert receivers.compare_access_units(sent, got) == (0, [])


# --- open's errors --------------------------------------------------------------------------

OPEN_SNIPPET = r'''
p = mm.rtsp_pusher()
attempt("init", lambda: p.rtsppusher_init(640, 360, {url!r}, 30, "tcp", timeout={timeout}))
t = time.ticks_ms()
attempt("open", p.rtsppusher_open)
print("TOOK", time.ticks_diff(time.ticks_ms(), t))
attempt("stats", p.rtsppusher_getstats)
p.rtsppusher_deinit()
p.rtsppusher_destroy()
'''


def open_outcome(url, timeout=2):
    out = helpers.run_api(OPEN_SNIPPET.format(url=url, timeout=timeout), timeout=timeout + 20)
    took = [int(line.split()[1]) for line in out.proc.stdout.splitlines() if line.startswith("TOOK ")]
    out.took_s = took[0] / 1000 if took else None
    return out


@pytest.mark.parametrize("case,code", [
    ("refused", errno.ECONNREFUSED),
    ("401", errno.EACCES),
    ("404", errno.ENOENT),
    ("silent", errno.ETIMEDOUT),
    ("garbage", errno.EPROTO),
    ("close-after-options", None),
])
def test_open_errors(case, code):
    timeout = 2
    if case == "refused":
        out = open_outcome(receivers.url(receivers.closed_port()), timeout)
    else:
        cls = {"401": receivers.Always401Server, "404": receivers.NotFoundServer,
               "silent": receivers.SilentServer, "garbage": receivers.GarbageServer,
               "close-after-options": receivers.CloseAfterOptionsServer}[case]
        with cls() as srv:
            out = open_outcome(srv.url(userinfo="user:wrong" if case == "401" else None), timeout)
        if case == "401":
            assert srv.authorizations(), "the credentials were never tried"
    ret = out.ret("open")
    assert isinstance(ret, int) and ret < 0, out.proc.stdout
    if code is not None:
        assert ret == -code, f"open returned {ret}, expected -{errno.errorcode[code]}\n{out.proc.stdout}"
    assert out.took_s is not None and out.took_s <= timeout + 2, f"open took {out.took_s} s"
    if case == "silent":
        assert out.took_s >= timeout - 0.5, f"gave up after {out.took_s} s, before timeout={timeout}"


# --- arguments and order ---------------------------------------------------------------------

ARGS_SNIPPET = r'''
URL = "rtsp://127.0.0.1:9/live/cam"
p = mm.rtsp_pusher()
attempt("push-before-init", p.rtsppusher_pushvideodata, AUD, len(AUD), 1, 0)
attempt("open-before-init", p.rtsppusher_open)
attempt("header-before-init", p.rtsppusher_pushvideoheader, AUD, len(AUD))
attempt("close-before-init", p.rtsppusher_close)
attempt("no-host", p.rtsppusher_init, 640, 360, "rtsp:///live/cam")
attempt("http", p.rtsppusher_init, 640, 360, "http://127.0.0.1:8554/live/cam")
attempt("no-path", p.rtsppusher_init, 640, 360, "rtsp://127.0.0.1:8554")
attempt("sctp", p.rtsppusher_init, 640, 360, URL, 25, "sctp")
attempt("url-int", p.rtsppusher_init, 640, 360, 5)
attempt("width-str", p.rtsppusher_init, "640", 360, URL)
attempt("init", p.rtsppusher_init, 640, 360, URL, 25, "tcp")
attempt("push-before-open", p.rtsppusher_pushvideodata, AUD, len(AUD), 1, 0)
attempt("audio-before-open", p.rtsppusher_pushaudiodata, b"\xff" * 160, 160, 0)
attempt("header-too-long", p.rtsppusher_pushvideoheader, AUD, len(AUD) + 1)
attempt("header-int", p.rtsppusher_pushvideoheader, 5, 1)
attempt("push-size-too-long", p.rtsppusher_pushvideodata, AUD, len(AUD) + 1, 1, 0)
attempt("push-int", p.rtsppusher_pushvideodata, 5, 1, 1, 0)
attempt("needkeyframe", p.rtsppusher_needkeyframe)
attempt("stats", p.rtsppusher_getstats)
attempt("close", p.rtsppusher_close)
attempt("close-again", p.rtsppusher_close)
attempt("deinit", p.rtsppusher_deinit)
attempt("destroy", p.rtsppusher_destroy)
attempt("after-destroy-init", p.rtsppusher_init, 640, 360, URL)
attempt("after-destroy-push", p.rtsppusher_pushvideodata, AUD, len(AUD), 1, 0)
try:
    p.rtsppusher_open()
except RuntimeError as e:
    print("MESSAGE", e)
'''


def test_arguments_and_call_order():
    out = helpers.run_api(ARGS_SNIPPET)
    for label in ("push-before-init", "open-before-init", "header-before-init"):
        out.negative_errno(label)
    for label in ("no-host", "http", "no-path", "sctp"):
        out.raises(label, "ValueError")
    for label in ("url-int", "width-str", "header-int", "push-int"):
        out.raises(label, "TypeError")
    for label in ("header-too-long", "push-size-too-long"):
        out.raises(label, "ValueError")
    out.returns("init", 0)
    out.negative_errno("push-before-open", errno.ENOTCONN)
    out.negative_errno("audio-before-open")
    assert out.ret("needkeyframe") in (True, False)
    stats = out.ret("stats")
    assert stats["state"] in ("idle", "ready") and stats["frames_sent"] == 0, stats
    for label in ("after-destroy-init", "after-destroy-push"):
        out.raises(label, "RuntimeError")
    assert "MESSAGE RTSP pusher is deinitialized" in out.proc.stdout


# --- CanMV's example, unchanged ---------------------------------------------------------------

def test_canmv_example_runs_unchanged(port, tmp_path):
    """examples/canmv/rtsp_pusher.py, with a fake `media` package feeding the
    bundled clip as the encoder's packs (SPS/PPS in a pack of their own, as
    the K230 encoder gives them), pushes to ffmpeg: the pictures arrive."""
    url = receivers.url(port)
    with FfmpegReceiver(port, tmp_path) as rx:
        # the script is imported as a module (so it does not start by itself)
        # and its main() called with the receiver's URL and 3 s
        proc = helpers.run_mpy(
            f"import sys\nsys.path.insert(0, {str(helpers.TESTS / 'fake_canmv')!r})\n"
            f"sys.path.append({str(helpers.CANMV_EXAMPLES)!r})\n"
            f"import rtsp_pusher\nrtsp_pusher.main({url!r}, 3)\n", timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert rx.finish() == 0, rx.stderr
        aus = rx.access_units()
        sent = helpers.clip_access_units(helpers.CLIP) * 4
        first, problems = receivers.compare_access_units(sent, aus)
        assert first == 0 and [p for p in problems if "differs" in p or "never" in p] == [], problems
        assert len(aus) >= 60, f"{len(aus)} pictures in 3 s"
