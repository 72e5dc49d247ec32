"""The ONVIF audio back channel (issue 13, part 2) on the unix port's server.

GStreamer's `rtspsrc backchannel=onvif` (tests/python/backchannel_client.py,
run by /usr/bin/python3 with gi) pushes known G.711 bytes as RTP through its
`push-backchannel-sample` signal, over TCP, UDP and the HTTP tunnel, while it
and a plain ffprobe viewer decode the video; the script (mpy_streamer.py
--backchannel) reads them with `rtspserver_recvaudiodata` and must get exactly
those bytes, in order. Hostile senders (another address or port, oversized
packets, a second talker, a flood faster than real time, a back channel asked
of a video-only session) are refused or counted, never heard, and the viewer
still decodes every frame.
"""

import base64
import json
import socket
import struct
import subprocess
import time

import pytest

import helpers
from helpers import CLIP, CLIP_SIZE, Running, Streamer, stats_line

CLIENT = helpers.TESTS / "backchannel_client.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # the one with gi (GStreamer >= 1.22)
TAG = "www.onvif.org/ver20/backchannel"
FRAMES = 240  # 8 s at 30 fps: time for a client to connect and talk 2 s
SILENCE = {"pcmu": 0xFF, "pcma": 0xD5}


def streamer_line(streamer, prefix):
    line = next((line for line in streamer.lines if line.startswith(prefix)), None)
    assert line is not None, f"no {prefix!r} line in\n{streamer.stdout}\n{streamer.stderr}"
    return line[len(prefix):]


def assert_frames(client, count):
    frames = helpers.parse_frames(client)
    assert len(frames) == count, f"{client.name}: decoded {len(frames)} of {count}\n{client.stderr}"
    assert {(w, h) for w, h, _ in frames} == {CLIP_SIZE}


def talk(url, transport, codec, out, seconds=2):
    """backchannel_client.py: (report, bytes pushed)."""
    proc = subprocess.run(
        [SYSTEM_PYTHON, str(CLIENT), url, "--transport", transport, "--codec", codec,
         "--seconds", str(seconds), "--timeout", "30", "--out", str(out)],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["errors"] == [] and report["backchannel_found"], report
    return report, base64.b64decode(report["pushed_b64"])


@pytest.mark.parametrize("transport,codec,tunnel", [
    ("tcp", "pcmu", False), ("udp", "pcma", False), ("tcp", "pcmu", True)],
    ids=["tcp-pcmu", "udp-pcma", "http-tunnel-pcmu"])
def test_gstreamer_talks_and_the_script_reads_every_byte(port, tmp_path, transport, codec, tunnel):
    helpers.need_tool("ffprobe")
    heard = tmp_path / "heard.g711"
    streamer = Streamer(port, [("door", CLIP, 2)], audio=[("door", helpers.TONE_ULAW, "pcmu")],
                        frames=FRAMES, backchannel=[("door", codec, heard)], linger_ms=500)
    with Running(streamer) as run:
        url = helpers.loopback_url(streamer.urls["door"])
        viewer = run.client(helpers.ffprobe_frames(url, "tcp", "ffprobe-viewer"))
        if tunnel:
            url = "rtsph://" + url[len("rtsp://"):]
        report, pushed = talk(url, transport, codec, tmp_path / "client.json")
    assert len(pushed) == 16000 and report["pushed_sha256"] == report["input_sha256"], report
    assert report["video_frames"] > 0, report
    got = heard.read_bytes()
    assert got == pushed, (f"read {len(got)} bytes, {len(pushed)} pushed; first difference at "
                           f"{next((i for i, (a, b) in enumerate(zip(got, pushed)) if a != b), None)}")
    st = stats_line(streamer, "door")
    assert (st["backchannel_bytes"], st["backchannel_dropped"]) == (len(pushed), 0), st
    assert streamer_line(streamer, "HEARD door ") == str(len(pushed))
    talkers = [line for line in streamer.lines if line.startswith("TALKER door ")]
    assert talkers[0].startswith("TALKER door {") and "'127.0.0.1'" in talkers[0], streamer.stdout
    assert talkers[-1] == "TALKER door None", streamer.stdout
    assert_frames(viewer, FRAMES)


# --- hostile senders, raw sockets beside an ffprobe viewer ---------------------------------

def rtp(seq, ts, payload, pt=0, ssrc=0x5EED):
    return struct.pack(">BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def interleaved(channel, packet):
    return b"$" + bytes([channel]) + struct.pack(">H", len(packet)) + packet


def udp_socket(host, port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.bind((host, port))
    return s


def setup_back_channel(conn, transport):
    """DESCRIBE (requiring the back channel), SETUP of trackID=2 with `transport`, PLAY: the SETUP's headers."""
    status, _, sdp = conn.request("DESCRIBE", conn.url("door"), {"Require": TAG})
    assert status == 200 and "a=sendonly" in sdp, sdp
    status, hdrs, _ = conn.request("SETUP", conn.url("door/trackID=2"), {"Require": TAG, "Transport": transport})
    assert status == 200 and "ssrc" not in hdrs["transport"], hdrs
    status, _, _ = conn.request("PLAY", conn.url("door/"), {"Session": hdrs["session"].split(";")[0]})
    assert status == 200
    return hdrs


def test_hostile_back_channel_senders_are_refused_or_counted_and_the_viewer_decodes_every_frame(
        port, tmp_path):
    helpers.need_tool("ffprobe")
    heard = tmp_path / "heard.g711"
    streamer = Streamer(port, [("door", CLIP, 1), ("plain", CLIP, 0)], frames=FRAMES,
                        backchannel=[("door", "pcmu", heard)], linger_ms=500)
    sent = {}
    with Running(streamer) as run:
        viewer = run.client(helpers.ffprobe_frames(streamer.urls["door"], "tcp", "ffprobe-viewer"))
        # A back channel asked of a session without one: 551, the option named.
        status, hdrs, _ = helpers.rtsp_request(port, "DESCRIBE", "plain", {"Require": TAG})
        sent["video-only"] = (status, hdrs.get("unsupported"))

        # The first talker, over UDP from the port it declares, 0.5 s in real time.
        own = udp_socket("127.0.0.1")
        run.socks.append(own)
        own_port = own.getsockname()[1]
        udp_talker = helpers.RtspConnection(port)
        run.socks.append(udp_talker)
        hdrs = setup_back_channel(udp_talker, f"RTP/AVP;unicast;client_port={own_port}-{own_port + 1}")
        udp_session = hdrs["session"].split(";")[0]
        to = ("127.0.0.1", int(hdrs["transport"].split("server_port=")[1].split("-")[0]))
        spoken = bytes(range(1, 161))  # no u-law silence (0xFF) in it
        for k in range(25):
            own.sendto(rtp(100 + k, 160 * k, spoken), to)
            time.sleep(0.02)
        sent["spoken"] = 25 * 160
        # Another port of the same host, and another host on the talker's port: ignored.
        stranger = udp_socket("127.0.0.1")
        other_host = udp_socket("127.0.0.2", own_port)
        run.socks += [stranger, other_host]
        for s in (stranger, other_host):
            for k in range(10):
                s.sendto(rtp(125 + k, 160 * (25 + k), b"\x11" * 160), to)
        # An oversized datagram from the talker itself (1 s of payload): dropped, counted.
        own.sendto(rtp(125, 160 * 25, b"\x44" * 8000), to)
        sent["oversized"] = 8000

        # The next talker, over TCP, set up meanwhile: it talks once the first has left.
        tcp_talker = helpers.RtspConnection(port)
        run.socks.append(tcp_talker)
        tcp_session = setup_back_channel(tcp_talker, "RTP/AVP/TCP;unicast;interleaved=4-5")["session"].split(";")[0]
        status, _, _ = udp_talker.request("TEARDOWN", udp_talker.url("door/"), {"Session": udp_session})
        assert status == 200
        tcp_talker.send_raw(interleaved(4, rtp(0, 0, b"\x22" * 160, ssrc=7)))
        tcp_talker.request("GET_PARAMETER", tcp_talker.url("door/"), {"Session": tcp_session})

        # A third client, also set up: its audio is dropped and counted, not
        # heard; an oversized packet (60 KB) leaves its connection usable.
        third = helpers.RtspConnection(port)
        run.socks.append(third)
        third_session = setup_back_channel(third, "RTP/AVP/TCP;unicast;interleaved=4-5")["session"].split(";")[0]
        third.send_raw(b"".join(interleaved(4, rtp(k, 160 * k, b"\x33" * 160, ssrc=3)) for k in range(10)))
        third.send_raw(interleaved(4, rtp(10, 1600, b"\x44" * 60000, ssrc=3)))
        status, _, _ = third.request("GET_PARAMETER", third.url("door/"), {"Session": third_session})
        sent["third alive"] = status
        sent["third"] = 10 * 160 + 60000

        # Faster than real time: 2000 more packets (40 s of audio) at once over TCP (nothing lost on the way).
        tcp_talker.send_raw(b"".join(interleaved(4, rtp(k, 160 * k, b"\x22" * 160, ssrc=7)) for k in range(1, 2001)))
        sent["flood"] = 2001 * 160
        status, _, _ = tcp_talker.request("GET_PARAMETER", tcp_talker.url("door/"), {"Session": tcp_session})
        sent["talker alive"] = status

    assert sent["video-only"] == (551, TAG), sent
    assert (sent["talker alive"], sent["third alive"]) == (200, 200), sent
    got = heard.read_bytes()
    st = stats_line(streamer, "door")
    # What was heard: the talker's words, then the newest of its flood; nothing of anyone else.
    assert got[:sent["spoken"]] == spoken * 25, "the talker's words, in order"
    flood = got[sent["spoken"]:]
    assert set(flood) <= {0x22}, f"bytes of strangers or of the third client heard: {set(flood)}"
    # Bounded: each byte of the talkers' and the third client's packets was
    # heard or counted as dropped; the strangers' were neither.
    assert len(got) + st["backchannel_dropped"] == (
        sent["spoken"] + sent["flood"] + sent["oversized"] + sent["third"]), (len(got), st)
    assert st["backchannel_bytes"] == sent["spoken"] + sent["flood"], st
    # The flood outran the reader: most of it was dropped, the counter grew.
    assert st["backchannel_dropped"] >= sent["flood"] // 2 + sent["oversized"] + sent["third"], st
    assert_frames(viewer, FRAMES)
