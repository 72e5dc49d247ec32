"""The receiving servers of the pusher tests (receivers.py), validated with
ffmpeg as the pusher: `ffmpeg -re -i CLIP -c copy -f rtsp -rtsp_transport
tcp|udp rtsp://127.0.0.1:PORT/live/cam`, the muxer CanMV's own pusher wraps.
None of this needs the MicroPython module: it proves the harness first."""

import socket
import subprocess
import time

import pytest

import helpers
import receivers
from receivers import FfmpegReceiver, GstRecordServer

CLIPS = {"h264": helpers.CLIP, "h265": helpers.CLIP_H265, "mjpeg": helpers.CLIP_MJPEG}
TONES = {"pcmu": helpers.TONE_ULAW, "pcma": helpers.TONE_ALAW}
CLIP_FRAMES = 90  # each bundled clip is 3 s at 30 fps


SPEED = 5  # times real time: the 3 s clips take 0.6 s (-readrate; -re is 1)


def ffmpeg_push(url, codec="h264", transport="tcp", audio=None, extra=(), timeout=30, speed=SPEED):
    """ffmpeg pushing a bundled clip at `speed` times real time; the CompletedProcess."""
    helpers.need_tool("ffmpeg")
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-readrate", str(speed)]
    if codec == "mjpeg":
        cmd += ["-f", "mjpeg", "-framerate", "30"]
    cmd += ["-i", str(CLIPS[codec])]
    if audio:
        cmd += ["-f", receivers.AUDIO_FORMATS[audio], "-ar", "8000", "-ac", "1", "-readrate", str(speed),
                "-i", str(TONES[audio]), "-map", "0", "-map", "1"]
    cmd += ["-c", "copy", *extra, "-f", "rtsp", "-rtsp_transport", transport, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# --- ffmpeg as the receiver ---------------------------------------------------------------

@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_ffmpeg_receiver_keeps_every_access_unit(port, tmp_path, codec, transport):
    with FfmpegReceiver(port, tmp_path, codec) as rx:
        push = ffmpeg_push(rx.url, codec, transport)
        assert push.returncode == 0, push.stderr
        assert rx.finish() == 0, rx.stderr
        sent = helpers.clip_access_units(CLIPS[codec])
        first, problems = receivers.compare_access_units(sent, rx.access_units(), codec)
        assert (first, problems) == (0, []), rx.stderr


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_receiver_mjpeg_decodes_every_frame(port, tmp_path, transport):
    with FfmpegReceiver(port, tmp_path, "mjpeg") as rx:
        push = ffmpeg_push(rx.url, "mjpeg", transport)
        assert push.returncode == 0, push.stderr
        assert rx.finish() == 0, rx.stderr
        assert rx.decoded_frames() == CLIP_FRAMES


@pytest.mark.parametrize("audio", ["pcmu", "pcma"])
def test_ffmpeg_receiver_keeps_the_audio(port, tmp_path, audio):
    with FfmpegReceiver(port, tmp_path, "h264", audio=audio) as rx:
        push = ffmpeg_push(rx.url, "h264", "tcp", audio=audio)
        assert push.returncode == 0, push.stderr
        assert rx.finish() == 0, rx.stderr
        assert rx.audio_bytes() == helpers.clip_bytes(TONES[audio])
        assert receivers.compare_access_units(helpers.clip_access_units(helpers.CLIP),
                                              rx.access_units()) == (0, [])


def test_ffmpeg_receiver_restarts_on_the_same_port(port, tmp_path):
    """Killed mid-stream, a new receiver listens on the same port at once."""
    rx = FfmpegReceiver(port, tmp_path, tag="-1")
    pusher = helpers.Background(["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", str(helpers.CLIP),
                                 "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", rx.url], "push")
    try:
        time.sleep(1.0)
        rx.close()
        assert pusher.wait(10) not in (None, 0), "ffmpeg pusher went on without its receiver"
    finally:
        pusher.stop()
    with FfmpegReceiver(port, tmp_path, tag="-2") as rx2:
        push = ffmpeg_push(rx2.url, "h264", "tcp")
        assert push.returncode == 0, push.stderr
        assert rx2.finish() == 0
        assert receivers.compare_access_units(helpers.clip_access_units(helpers.CLIP),
                                              rx2.access_units()) == (0, [])


def test_compare_access_units_rules():
    sent = helpers.clip_access_units(helpers.CLIP)
    assert receivers.compare_access_units(sent, sent) == (0, [])
    # starting at the second keyframe is allowed (and reported), not at a P-frame
    keys = [k for k, au in enumerate(sent) if receivers.is_keyframe(au)]
    assert len(keys) >= 2 and keys[0] == 0
    assert receivers.compare_access_units(sent, sent[keys[1]:]) == (keys[1], [])
    first, problems = receivers.compare_access_units(sent, sent[1:])
    assert first == 1 and problems and "not a keyframe" in problems[0]
    # a lost picture, a changed byte
    first, problems = receivers.compare_access_units(sent, sent[:40] + sent[41:])
    assert problems
    broken = sent[:5] + [sent[5][:-1] + bytes([sent[5][-1] ^ 1])] + sent[6:]
    assert receivers.compare_access_units(sent, broken)[1]
    # parameter sets added by a receiver in front of a picture: allowed when they were sent
    ps = b"".join(b"\x00\x00\x00\x01" + n for n in helpers.annexb.nal_units(sent[0])[:2])
    assert receivers.compare_access_units(sent, [sent[0]] + [ps + au for au in sent[1:]]) == (0, [])
    # a 3-byte start code is the same NAL unit
    assert receivers.compare_access_units(sent, [au.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01")
                                                 for au in sent]) == (0, [])


# --- gst-rtsp-server in RECORD mode -------------------------------------------------------

@pytest.mark.parametrize("auth", [False, True], ids=["open", "digest"])
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_gst_record_server_decodes_every_frame(port, transport, auth):
    user = ("pusher", "s3cret") if auth else None
    with GstRecordServer(port, "h264", user=user, protocols=transport) as srv:
        push = ffmpeg_push(srv.url(), "h264", transport)
        assert push.returncode == 0, push.stderr
        assert srv.wait_media_end(1, 10), srv.stdout
        s = srv.stats()
        assert s["frames"] == CLIP_FRAMES and s["medias"] == 1 and s["first_key"] == [True], s


@pytest.mark.parametrize("codec", ["h265", "mjpeg"])
def test_gst_record_server_other_codecs(port, codec):
    with GstRecordServer(port, codec) as srv:
        push = ffmpeg_push(srv.url(), codec, "tcp")
        assert push.returncode == 0, push.stderr
        assert srv.wait_media_end(1, 10), srv.stdout
        assert srv.stats()["frames"] == CLIP_FRAMES, srv.stats()


def test_gst_record_server_audio(port, tmp_path):
    out = tmp_path / "gst.ulaw"
    with GstRecordServer(port, "h264", audio="pcmu", audio_out=out) as srv:
        push = ffmpeg_push(srv.url(), "h264", "udp", audio="pcmu")
        assert push.returncode == 0, push.stderr
        assert srv.wait_media_end(1, 10), srv.stdout
        s = srv.stats()
        got = out.read_bytes()
        # the media ends with the video: the audio that came before is there, unbroken
        assert s["frames"] == CLIP_FRAMES and s["audio_bytes"] == len(got) >= 8000, s
        assert helpers.clip_bytes(helpers.TONE_ULAW).startswith(got)


def test_gst_record_server_refuses_wrong_credentials(port):
    with GstRecordServer(port, "h264", user=("pusher", "s3cret")) as srv:
        for userinfo in ("pusher:wrong", None):
            push = ffmpeg_push(receivers.url(port, userinfo=userinfo), "h264", "tcp")
            assert push.returncode != 0 and "401" in push.stderr, push.stderr
        sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
        with helpers.RtspConnection(port) as conn:
            conn.send_raw((f"ANNOUNCE {srv.url(userinfo='')} RTSP/1.0\r\nCSeq: 1\r\n"
                           f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n"
                           + sdp).encode())
            status, hdrs, _ = conn.read_response()
        assert status == 401 and hdrs["www-authenticate"].startswith("Digest "), hdrs
        assert srv.stats()["medias"] == 0


# --- fake servers ---------------------------------------------------------------------------

def _timed_push(url, extra=()):
    started = time.monotonic()
    push = ffmpeg_push(url, "h264", "tcp", extra=extra, timeout=20)
    return push, time.monotonic() - started


def test_refused_port():
    push, took = _timed_push(receivers.url(receivers.closed_port()))
    assert push.returncode != 0 and "refused" in push.stderr.lower() and took < 5, push.stderr


def test_always_401():
    with receivers.Always401Server() as srv:
        push, took = _timed_push(srv.url(userinfo="user:wrong"))
        assert push.returncode != 0 and "401" in push.stderr and took < 5, push.stderr
        auths = srv.authorizations()
        assert auths and auths[0].startswith("Digest ") and 'username="user"' in auths[0], srv.requests


def test_404_on_announce():
    with receivers.NotFoundServer() as srv:
        push, took = _timed_push(srv.url())
        assert push.returncode != 0 and "404" in push.stderr and took < 5, push.stderr
        assert srv.methods()[-1] == "ANNOUNCE", srv.methods()


def test_silent_server():
    with receivers.SilentServer() as srv:
        push, took = _timed_push(srv.url(), extra=["-timeout", "2000000"])
        assert push.returncode != 0 and 1.5 < took < 6, (took, push.stderr)
        assert srv.connections == 1 and srv.methods() == ["OPTIONS"]


def test_garbage_server():
    with receivers.GarbageServer() as srv:
        push, took = _timed_push(srv.url(), extra=["-timeout", "2000000"])
        assert push.returncode != 0 and took < 6, push.stderr


def test_close_after_options():
    with receivers.CloseAfterOptionsServer() as srv:
        push, took = _timed_push(srv.url())
        assert push.returncode != 0 and took < 5, push.stderr
        assert srv.methods() == ["OPTIONS", "ANNOUNCE"]


@pytest.mark.parametrize("auth", [None, ("digest-md5", "u", "p"), ("basic", "u", "p")],
                         ids=["open", "digest-md5", "basic"])
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_recorder_keeps_the_rtp(transport, auth):
    with receivers.RecorderServer(auth=auth) as srv:
        push = ffmpeg_push(srv.url(userinfo="u:p" if auth else None), "h264", transport)
        assert push.returncode == 0, push.stderr
        assert srv.torn_down.wait(5) and srv.recording.is_set(), srv.methods()
        assert srv.methods()[-4:] == ["ANNOUNCE", "SETUP", "RECORD", "TEARDOWN"], srv.methods()
        assert srv.sdp_tracks()[0][0] == "video"
        if transport == "udp":
            assert "client_port=" in srv.setups[0] and srv.udp_packets > 0
            srv.wait_packets(0, 1, 1)
        else:
            assert "interleaved=0-1" in srv.setups[0]
        units = [au for au in srv.h264_access_units(0)]
        assert all(au.complete for au in units)
        got = [au.annexb() for au in units]
        assert receivers.compare_access_units(helpers.clip_access_units(helpers.CLIP), got) == (0, [])


def test_recorder_digest_sha256_by_hand():
    """ffmpeg has no SHA-256 Digest: the recorder's check is validated by a raw client."""
    with receivers.RecorderServer(auth=("digest-sha256", "u", "p")) as srv:
        with helpers.RtspConnection(srv.port) as conn:
            uri = srv.url()
            status, hdrs, _ = conn.request("OPTIONS", uri)
            assert status == 401 and "algorithm=SHA-256" in hdrs["www-authenticate"]
            p = receivers._parse_auth_params(hdrs["www-authenticate"][7:])
            resp = receivers._digest_response("SHA-256", "u", p["realm"], "p", "OPTIONS", uri, p["nonce"])
            value = (f'Digest username="u", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", '
                     f'response="{resp}", algorithm=SHA-256')
            status, _, _ = conn.request("OPTIONS", uri, {"Authorization": value})
            assert status == 200
            status, _, _ = conn.request("OPTIONS", uri, {"Authorization": value.replace(resp, "0" * 64)})
            assert status == 401


def test_fake_servers_end_by_their_deadline():
    srv = receivers.SilentServer(deadline=1)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        time.sleep(1.5)
        s.settimeout(2)
        assert s.recv(1) == b""  # the server's side closed at its deadline
    finally:
        s.close()
        srv.close()
