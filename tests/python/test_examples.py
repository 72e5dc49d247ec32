"""The example scripts: every one compiles in the unix port, and the host demo
streams something ffprobe decodes."""

import subprocess
import time

import pytest

import helpers
from helpers import CANMV_EXAMPLES, HOST_EXAMPLES, annexb

EXAMPLES = sorted(CANMV_EXAMPLES.glob("*.py")) + sorted(HOST_EXAMPLES.glob("*.py"))


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"rtsp_server.py", "rtsp_server_h265.py", "rtsp_server_audio.py", "rtsp_intercom.py",
            "stream_file.py", "annexb.py"} <= names, names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_compiles_in_micropython(path):
    code = f"f = {str(path)!r}\ncompile(open(f).read(), f, 'exec')\nprint('COMPILED')\n"
    proc = helpers.run_mpy(code, timeout=30)
    assert proc.returncode == 0 and "COMPILED" in proc.stdout, proc.stdout + proc.stderr


def test_annexb_splits_the_clip_the_same_in_micropython_and_cpython():
    """The splitter runs in both interpreters; the tests rely on them agreeing."""
    data = helpers.clip_bytes(helpers.CLIP)
    spans = annexb.access_unit_spans(data)
    code = (f"import sys\nsys.path.append({str(HOST_EXAMPLES)!r})\nimport annexb\n"
            f"d = open({str(helpers.CLIP)!r}, 'rb').read()\n"
            "print(annexb.access_unit_spans(d))\n"
            "print(len(annexb.nal_units(d)))\n")
    proc = helpers.run_mpy(code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == repr(spans)
    assert int(lines[1]) == len(annexb.nal_units(data))


def test_annexb_access_units():
    """Access units found by the splitter: one picture each, keyframes every 30."""
    # a hand-made stream: SPS PPS IDR(2 slices) | P | AUD P | SEI P(2 slices)
    sc4, sc3 = b"\x00\x00\x00\x01", b"\x00\x00\x01"
    sps, pps = b"\x67\x42\x00\x1f\xaa", b"\x68\xce\x3c\x80"
    idr_a, idr_b = b"\x65\x88\x11", b"\x65\x40\x22"   # first_mb 0, then first_mb != 0
    p1, aud, p2, sei = b"\x41\x9a\x01", b"\x09\xf0", b"\x41\x9b\x02", b"\x06\x05\x01\x80"
    p3a, p3b = b"\x41\x9c\x03\x00", b"\x41\x20\x04"   # a trailing zero is not part of a NAL unit
    stream = (sc4 + sps + sc4 + pps + sc3 + idr_a + sc3 + idr_b + sc4 + p1 + sc4 + aud + sc3 + p2
              + sc4 + sei + sc3 + p3a + sc3 + p3b)
    aus = annexb.access_units(stream)
    assert [annexb.nal_units(a) for a in aus] == [
        [sps, pps, idr_a, idr_b], [p1], [aud, p2], [sei, p3a[:-1], p3b]]
    assert b"".join(aus) == stream


def test_stream_file_runs_and_ffprobe_decodes_it(port, background):
    helpers.need_tool("ffprobe")
    demo = background(helpers.Background(
        [helpers.micropython(), str(HOST_EXAMPLES / "stream_file.py"), "--port", str(port),
         "--seconds", "2"], "stream_file.py"))
    url = demo.wait_line("rtsp://", 15)
    assert url.endswith(f":{port}/test"), url
    started = time.monotonic()
    client = background(helpers.ffprobe_frames(url, "tcp"))
    code = demo.wait(15)
    assert code == 0, f"stream_file.py exit code {code}\n{demo.stdout}\n{demo.stderr}"
    assert time.monotonic() - started < 5, "--seconds 2 ran far longer"
    helpers.finish_client(client)
    frames = helpers.parse_frames(client)
    # ffprobe joins a little after the URL is printed; it must see most of 2 s at 30 fps
    assert 30 <= len(frames) <= 61, f"{len(frames)} frames decoded\n{client.stderr}"
    assert {(w, h) for w, h, _ in frames} == {helpers.CLIP_SIZE}


def test_stream_file_options(port, background):
    helpers.need_tool("ffprobe")
    demo = background(helpers.Background(
        [helpers.micropython(), str(HOST_EXAMPLES / "stream_file.py"), str(helpers.CLIP2),
         "--port", str(port), "--session", "cam/main", "--fps", "60", "--seconds", "1.5"],
        "stream_file.py"))
    url = demo.wait_line("rtsp://", 15)
    assert url.endswith(f":{port}/cam/main"), url
    client = background(helpers.ffprobe_frames(url, "udp"))
    assert demo.wait(15) == 0, demo.stdout + demo.stderr
    helpers.finish_client(client)
    frames = helpers.parse_frames(client)
    assert frames and {(w, h) for w, h, _ in frames} == {helpers.CLIP2_SIZE}
    assert len(frames) > 45, f"at 60 fps for 1.5 s only {len(frames)} frames arrived"


@pytest.mark.parametrize("args,message", [
    (["--port"], "needs a value"),
    (["--fps", "zero"], "needs a number"),
    (["--bogus", "1"], "unknown option"),
    (["clip.avi"], "unknown file type"),
    (["missing.264"], "cannot read"),
    (["--alaw"], "needs --audio"),
    (["--audio", "missing.ulaw"], "cannot read"),
])
def test_stream_file_bad_arguments(args, message):
    proc = subprocess.run([helpers.micropython(), str(HOST_EXAMPLES / "stream_file.py"), *args],
                          capture_output=True, text=True, timeout=15)
    assert proc.returncode != 0 and message in proc.stdout, proc.stdout + proc.stderr


def test_stream_file_stops_cleanly_on_ctrl_c(port, background):
    demo = background(helpers.Background(
        [helpers.micropython(), str(HOST_EXAMPLES / "stream_file.py"), "--port", str(port)],
        "stream_file.py"))
    demo.wait_line("rtsp://", 15)
    time.sleep(0.5)
    demo.interrupt()
    assert demo.wait(5) == 0, f"exit code {demo.proc.returncode}\n{demo.stdout}\n{demo.stderr}"
    assert "stopped" in demo.lines
    # the server went with it: its port can be bound again
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", port))


@pytest.mark.parametrize("clip,size", [
    (helpers.CLIP_H265, helpers.CLIP_H265_SIZE),
    (helpers.CLIP_MJPEG, helpers.CLIP_MJPEG_SIZE),
], ids=["h265", "mjpeg"])
def test_stream_file_streams_each_codec(port, background, clip, size):
    helpers.need_tool("ffprobe")
    demo = background(helpers.Background(
        [helpers.micropython(), str(HOST_EXAMPLES / "stream_file.py"), str(clip),
         "--port", str(port), "--seconds", "2"], "stream_file.py"))
    url = demo.wait_line("rtsp://", 15)
    client = background(helpers.ffprobe_frames(url, "tcp"))
    assert demo.wait(15) == 0, demo.stdout + demo.stderr
    helpers.finish_client(client)
    frames = helpers.parse_frames(client)
    assert 30 <= len(frames) <= 61, f"{len(frames)} frames decoded\n{client.stderr}"
    assert {(w, h) for w, h, _ in frames} == {size}


@pytest.mark.parametrize("tone,flags,fmt", [
    (helpers.TONE_ULAW, [], "mulaw"),
    (helpers.TONE_ALAW, ["--alaw"], "alaw"),
], ids=["ulaw", "alaw"])
def test_stream_file_with_audio(port, background, tmp_path, tone, flags, fmt):
    """--audio: the recorded audio is one unbroken stretch of the looped file."""
    out = tmp_path / f"audio.{fmt}"
    demo = background(helpers.Background(
        [helpers.micropython(), str(HOST_EXAMPLES / "stream_file.py"), "--port", str(port),
         "--audio", str(tone), *flags, "--seconds", "3"], "stream_file.py"))
    url = demo.wait_line("rtsp://", 15)
    client = background(helpers.ffmpeg_client(url, "tcp", ["-map", "0:a", "-c", "copy",
                                                           "-f", fmt, str(out)]))
    assert demo.wait(15) == 0, demo.stdout + demo.stderr
    assert not any("refused" in line for line in demo.lines), demo.stdout
    helpers.finish_client(client)
    got = out.read_bytes() if out.exists() else b""
    sent = helpers.clip_bytes(tone)
    assert len(got) >= 8000, f"only {len(got)} bytes of audio recorded\n{client.stderr}"
    assert len(got) % 160 == 0, f"{len(got)} bytes: not whole 20 ms chunks"
    assert got in sent * 2, "the recorded audio is not a contiguous stretch of the file"
