"""examples/canmv/rtsp_intercom.py on the unix port with the fake media package
(tests/python/fake_canmv): a GStreamer ONVIF back-channel client
(backchannel_client.py: rtspsrc backchannel=onvif) talks to the board while a
plain ffprobe viewer watches; every byte the client pushed comes out of the
fake speaker, decoded, in order, and the viewer decodes the video meanwhile."""

import base64
import json
import subprocess

import pytest

import helpers

CLIENT = helpers.TESTS / "backchannel_client.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # the one with gi (GStreamer >= 1.22)
CHUNK = 320                         # the example's speaker buffer: 40 ms of G.711


def ulaw_to_pcm(data):
    """G.711 u-law to 16-bit little-endian PCM (the ITU-T reference expansion)."""
    out = bytearray()
    for b in data:
        b = ~b & 0xFF
        t = (((b & 0x0F) << 3) + 0x84) << ((b & 0x70) >> 4)
        out += (0x84 - t if b & 0x80 else t - 0x84).to_bytes(2, "little", signed=True)
    return bytes(out)


def test_ulaw_to_pcm_reference_values():
    # G.711 u-law: 0xFF and 0x7F are zero, 0x80 / 0x00 the loudest (+/-32124)
    assert ulaw_to_pcm(bytes([0xFF, 0x7F, 0x80, 0x00, 0xEF, 0x6F])) == b"".join(
        v.to_bytes(2, "little", signed=True) for v in (0, 0, 32124, -32124, 132, -132))


def start_intercom(background, tmp_path, port, seconds):
    """The example, imported with the fakes first on sys.path and its main()
    called with (port, seconds); the fake speaker writes to tmp_path/speaker.pcm."""
    speaker = tmp_path / "speaker.pcm"
    script = tmp_path / "run_intercom.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(helpers.TESTS / 'fake_canmv')!r})\n"
        f"sys.path.append({str(helpers.CANMV_EXAMPLES)!r})\n"
        "import fake_config\n"
        f"fake_config.SPEAKER = {str(speaker)!r}\n"
        "import rtsp_intercom\n"
        f"rtsp_intercom.main({port}, {seconds})\n")
    demo = background(helpers.Background([helpers.micropython(), str(script)], "rtsp_intercom.py"))
    url = demo.wait_line("RTSP server ready:", 15).split()[-1]
    assert url.endswith(f":{port}/test"), url
    return demo, helpers.loopback_url(url), speaker


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_intercom_plays_what_the_viewer_says(port, background, tmp_path, transport):
    helpers.need_tool("ffprobe")
    if not CLIENT.exists():
        pytest.fail(f"{CLIENT} is missing")
    demo, url, speaker = start_intercom(background, tmp_path, port, 8)
    viewer = background(helpers.ffprobe_frames(url, "tcp", name="ffprobe-viewer"))
    report_path = tmp_path / "client.json"
    # 2 s of known G.711 u-law (no 0xFF/0x7F, so no silence can pass for it),
    # 100 RTP packets of 160 bytes; the client also decodes the video
    talk = subprocess.run(
        [SYSTEM_PYTHON, str(CLIENT), url, "--transport", transport, "--codec", "pcmu",
         "--seconds", "2", "--timeout", "20", "--out", str(report_path)],
        capture_output=True, text=True, timeout=40)
    assert talk.returncode == 0, talk.stdout + talk.stderr
    report = json.loads(report_path.read_text())
    assert report["errors"] == [] and report["backchannel_found"], report
    pushed = base64.b64decode(report["pushed_b64"])
    assert len(pushed) == 16000 and report["pushed_sha256"] == report["input_sha256"], report
    assert report["payload_type"] == 0 and report["video_frames"] > 0, report

    code = demo.wait(20)
    assert code == 0, f"rtsp_intercom.py exit code {code}\n{demo.stdout}\n{demo.stderr}"
    assert demo.lines[-1] == "done", demo.stdout
    helpers.finish_client(viewer)

    # exactly what the viewer said, decoded, whole 40 ms chunks, nothing else
    assert len(pushed) % CHUNK == 0
    played = speaker.read_bytes() if speaker.exists() else b""
    assert len(played) == 2 * len(pushed), f"{len(played)} bytes played, {2 * len(pushed)} said"
    assert played == ulaw_to_pcm(pushed), "the speaker did not get the viewer's audio, in order"

    # the talker was reported while talking, and its leaving too
    talking = [line for line in demo.lines if line.startswith("talking:")]
    assert talking and talking[0].startswith("talking: 127.0.0.1:"), demo.stdout
    assert talking[-1] == "talking: nobody", demo.stdout

    # the plain viewer watched all along: most of 8 s at 30 fps
    frames = helpers.parse_frames(viewer)
    assert len(frames) >= 150, f"{len(frames)} frames decoded\n{viewer.stderr}"
    assert {(w, h) for w, h, _ in frames} == {helpers.CLIP_SIZE}


def test_intercom_without_a_talker_plays_nothing(port, background, tmp_path):
    """Only watching (ffprobe asks for no back channel): nothing reaches the
    speaker, nobody is reported talking, and the script ends cleanly."""
    helpers.need_tool("ffprobe")
    demo, url, speaker = start_intercom(background, tmp_path, port, 3)
    viewer = background(helpers.ffprobe_frames(url, "tcp", name="ffprobe-viewer"))
    code = demo.wait(20)
    assert code == 0, f"rtsp_intercom.py exit code {code}\n{demo.stdout}\n{demo.stderr}"
    helpers.finish_client(viewer)
    assert not speaker.exists() or speaker.read_bytes() == b""
    assert not any(line.startswith("talking:") for line in demo.lines), demo.stdout
    assert demo.lines[-1] == "done", demo.stdout
    assert len(helpers.parse_frames(viewer)) >= 45, viewer.stderr
