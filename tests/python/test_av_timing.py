"""Audio, RTCP and timing as players see them: G.711 audio next to video
(recorded by ffmpeg, played by GStreamer), sender reports that put both
tracks on one clock, and RTP timestamps that follow the script's microsecond
timestamps, or the arrival clock when the script passes a constant.
"""

import re
import socket
import statistics
import struct
import time

import pytest

import helpers
from helpers import CLIP, CLIP_H265, Streamer, TONE_ALAW, TONE_ULAW

FPS = 30
AV_SECONDS = 5
AV_FRAMES = AV_SECONDS * FPS
TONE_BYTES = len(helpers.clip_bytes(TONE_ULAW))
FRAME_US = 1_000_000 / FPS


def test_tones_are_what_the_tests_assume():
    # scripts/make-assets.sh: 5 s of 8 kHz G.711, one byte per sample, a rising
    # tone, so that no two 20 ms chunks are alike (a lost, repeated or reordered
    # chunk cannot go unnoticed)
    for path in (TONE_ULAW, TONE_ALAW):
        data = helpers.clip_bytes(path)
        assert len(data) == AV_SECONDS * 8000
        chunks = [data[k:k + 160] for k in range(0, len(data), 160)]
        assert len(set(chunks)) == len(chunks)
    assert helpers.clip_bytes(TONE_ULAW) != helpers.clip_bytes(TONE_ALAW)


# --- audio and video recorded by ffmpeg -----------------------------------------------

def record(port, tmp_path, codec, audio_path, audio_format, transport="tcp", video=CLIP):
    """Streams AV_SECONDS of video (the clip looped) with the whole tone beside
    it and records both with one ffmpeg: a Matroska file of everything and the
    raw audio payload. Returns (mkv, raw audio, streamer lines, client)."""
    mkv = tmp_path / "av.mkv"
    raw = tmp_path / f"audio.{audio_format}"
    streamer = Streamer(port, [("test", video, 1)], frames=AV_FRAMES,
                        audio=[("test", audio_path, codec)])
    client = None
    try:
        client = helpers.ffmpeg_client(
            streamer.urls["test"], transport,
            ["-map", "0", "-c", "copy", "-f", "matroska", str(mkv),
             "-map", "0:a", "-c", "copy", "-f", audio_format, str(raw)])
        lines = streamer.finish()
        helpers.finish_client(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    assert f"AUDIO-SENT test chunks {TONE_BYTES // 160} bytes {TONE_BYTES}" in lines, lines
    return mkv, raw, lines, client


def assert_same_audio(got, sent, what):
    if got == sent:
        return
    n = min(len(got), len(sent))
    first = next((k for k in range(n) if got[k] != sent[k]), n)
    pytest.fail(f"{what}: {len(got)} bytes received, {len(sent)} sent; first difference at "
                f"byte {first} (chunk {first // 160})")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_records_the_ulaw_audio_byte_for_byte_and_in_sync(port, tmp_path, transport):
    mkv, raw, _, client = record(port, tmp_path, "pcmu", TONE_ULAW, "mulaw", transport)
    assert raw.exists() and mkv.exists(), client.stderr
    assert_same_audio(raw.read_bytes(), helpers.clip_bytes(TONE_ULAW), "u-law payload")
    streams = {s["codec_name"]: s for s in helpers.probe_file(mkv, "stream=index,codec_name,start_time")}
    assert set(streams) == {"h264", "pcm_mulaw"}, streams
    video_packets = helpers.probe_file(mkv, "packet=pts_time", select="v")
    assert len(video_packets) == AV_FRAMES, f"{len(video_packets)} video frames recorded"
    if transport == "tcp":
        offset = float(streams["h264"]["start_time"]) - float(streams["pcm_mulaw"]["start_time"])
        print(f"A/V start offset in the recording ({transport}): {offset * 1000:.1f} ms")
        # sent side by side, both stamped 0: they start together
        assert abs(offset) < 0.040, (
            f"video starts {offset * 1000:.1f} ms after audio (stream start_time {streams})")


def test_ffmpeg_records_alaw_audio_byte_for_byte(port, tmp_path):
    """audio_codec="pcma": payload type 8, which ffmpeg records as A-law."""
    mkv, raw, _, client = record(port, tmp_path, "pcma", TONE_ALAW, "alaw")
    assert raw.exists(), client.stderr
    assert_same_audio(raw.read_bytes(), helpers.clip_bytes(TONE_ALAW), "A-law payload")
    codecs = {s["codec_name"] for s in helpers.probe_file(mkv, "stream=codec_name")}
    assert codecs == {"h264", "pcm_alaw"}, codecs


def test_audio_beside_h265(port, tmp_path):
    mkv, raw, _, client = record(port, tmp_path, "pcmu", TONE_ULAW, "mulaw", video=CLIP_H265)
    assert_same_audio(raw.read_bytes(), helpers.clip_bytes(TONE_ULAW), "u-law payload")
    assert len(helpers.probe_file(mkv, "packet=pts_time", select="v")) == AV_FRAMES


def test_gstreamer_plays_the_audio_track(port, tmp_path):
    """rtppcmudepay ! mulawdec: the decoded sample count is what was sent."""
    helpers.need_gst_elements("rtspsrc", "rtph264depay", "rtppcmudepay", "mulawdec",
                              "audioconvert", "wavenc", "filesink", "fakesink")
    wav = tmp_path / "out.wav"
    streamer = Streamer(port, [("test", CLIP, 1)], frames=AV_FRAMES,
                        audio=[("test", TONE_ULAW, "pcmu")])
    client = None
    try:
        url = helpers.loopback_url(streamer.urls["test"])
        # the video pad only links to the H.264 branch, the audio pad to the other
        client = helpers.gst_client(
            ["rtspsrc", "name=s", f"location={url}", "protocols=tcp", "latency=0",
             "s.", "!", "rtph264depay", "!", "fakesink",
             "s.", "!", *helpers.gst_ulaw_to_wav(wav)], "gst-audio")
        streamer.finish()
        helpers.finish_gst(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    data = wav.read_bytes() if wav.exists() else b""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", (
        f"no WAV file written\n{client.stdout}\n{client.stderr}")
    pos = data.find(b"data")
    assert pos > 0, "WAV without a data chunk"
    samples = int.from_bytes(data[pos + 4:pos + 8], "little") // 2
    print(f"GStreamer decoded {samples} samples of {TONE_BYTES} sent")
    # every sample sent, give or take one 20 ms packet at the edges
    assert abs(samples - TONE_BYTES) <= 160, (
        f"GStreamer decoded {samples} samples, {TONE_BYTES} were sent\n{client.stderr}")


# --- RTCP and RTP-Info, read off the wire --------------------------------------------

class WireClient:
    """A minimal RTSP client over TCP that plays every track of a session
    interleaved (track i on channels 2i/2i+1) and keeps what arrives."""

    def __init__(self, port, path="test"):
        self.conn = helpers.RtspConnection(port, timeout=10)
        self.base = self.conn.url(path)
        self.rtp = {}     # channel -> [(arrival, seq, timestamp, marker)]
        self.rtcp = {}    # channel -> [(arrival, packet type, body)]
        self.closed = False

    def play(self):
        status, _, sdp = self.conn.request("DESCRIBE", self.base, {"Accept": "application/sdp"})
        assert status == 200
        self.sdp = sdp
        media = sdp.split("\nm=")[1:]
        session = None
        for i, m in enumerate(media):
            control = re.search(r"^a=control:(\S+)", m, re.M).group(1)
            url = control if control.startswith("rtsp:") else f"{self.base}/{control}"
            headers = {"Transport": f"RTP/AVP/TCP;unicast;interleaved={2 * i}-{2 * i + 1}"}
            if session:
                headers["Session"] = session
            status, hdrs, _ = self.conn.request("SETUP", url, headers)
            assert status == 200, hdrs
            session = hdrs["session"].split(";")[0]
        status, hdrs, _ = self.conn.request("PLAY", self.base, {"Session": session})
        assert status == 200, hdrs
        self.play_time = time.monotonic()
        self.rtp_info = {}
        for item in hdrs.get("rtp-info", "").split(","):
            fields = dict(f.split("=", 1) for f in item.strip().split(";") if "=" in f)
            track = len(self.rtp_info)
            self.rtp_info[2 * track] = (int(fields["seq"]), int(fields["rtptime"]))
        self.tracks = len(media)
        return self

    def read_until_closed(self, timeout):
        """Reads interleaved packets until the server closes the connection."""
        sock = self.conn.sock
        sock.settimeout(0.5)
        buf = self.conn.buf
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionError:
                chunk = b""
            if not chunk:
                self.closed = True
                break
            buf += chunk
            while len(buf) >= 4 and buf[:1] == b"$":
                channel, length = buf[1], struct.unpack(">H", buf[2:4])[0]
                if len(buf) < 4 + length:
                    break
                self._packet(channel, buf[4:4 + length])
                buf = buf[4 + length:]
        self.conn.close()

    def _packet(self, channel, pkt):
        now = time.monotonic()
        if channel % 2 == 0:
            seq, ts = struct.unpack(">HI", pkt[2:8])
            self.rtp.setdefault(channel, []).append((now, seq, ts, pkt[1] >> 7))
            return
        pos = 0
        while pos + 4 <= len(pkt):  # a compound RTCP packet
            ptype = pkt[pos + 1]
            length = (struct.unpack(">H", pkt[pos + 2:pos + 4])[0] + 1) * 4
            self.rtcp.setdefault(channel, []).append((now, ptype, pkt[pos:pos + length]))
            pos += length

    def sender_reports(self, channel):
        """[(arrival, ntp seconds, rtp time, packet count, octet count)]."""
        reports = []
        for now, ptype, body in self.rtcp.get(channel, []):
            if ptype == 200:
                ntp, rtp, packets, octets = struct.unpack(">QIII", body[8:28])
                reports.append((now, ntp / 2 ** 32, rtp, packets, octets))
        return reports


RATES = {0: 90000, 2: 8000}


def wrap_diff(a, b):
    """a - b for 32-bit RTP timestamps."""
    return (a - b + 2 ** 31) % 2 ** 32 - 2 ** 31


def stream_to_wire_client(port, seconds=AV_SECONDS):
    streamer = Streamer(port, [("test", CLIP, 1)], frames=seconds * FPS,
                        audio=[("test", TONE_ULAW, "pcmu")])
    try:
        client = WireClient(port).play()
        streamer.finish()
        client.read_until_closed(10)
    finally:
        streamer.stop()
    return client


def test_sender_reports_put_both_tracks_on_one_clock(port):
    """RFC 3550 6.4.1: a sender report on each track right behind its first
    packets (never before them, where strict players reject it) and then at
    least every 5 s; the NTP times they give the first video frame and the
    first audio chunk (sent together) agree; BYE on each track at the end."""
    client = stream_to_wire_client(port)
    assert client.closed, "the server did not close the connection after the session ended"
    assert set(client.rtp) == {0, 2}, f"RTP on channels {sorted(client.rtp)}"
    starts = {}
    for channel in (0, 2):
        reports = client.sender_reports(channel + 1)
        assert reports, f"no sender report on channel {channel + 1}"
        first_rtp = client.rtp[channel][0]
        assert reports[0][0] <= first_rtp[0] + 0.1, "the first sender report came late"
        times = [r[0] for r in reports]
        assert all(b - a <= 5.2 for a, b in zip(times, times[1:])), f"SR arrivals {times}"
        assert len(reports) >= 2, f"one SR in {AV_SECONDS} s of media: {reports}"
        # the SR's packet count: what this track sent before the report
        for arrival, _, _, packets, _ in reports:
            sent_before = sum(1 for p in client.rtp[channel] if p[0] <= arrival)
            assert abs(packets - sent_before) <= 2, (packets, sent_before)
        _, ntp, rtp, _, _ = reports[-1]
        starts[channel] = ntp + wrap_diff(first_rtp[2], rtp) / RATES[channel]
        # each later report agrees with the first on the RTP clock rate
        _, ntp0, rtp0, _, _ = reports[0]
        drift = (ntp - ntp0) - wrap_diff(rtp, rtp0) / RATES[channel]
        assert abs(drift) < 0.002, f"channel {channel + 1}: NTP and RTP time drift by {drift} s"
    offset = starts[0] - starts[2]
    print(f"first video frame vs first audio chunk by the sender reports: {offset * 1000:.3f} ms")
    assert abs(offset) < 0.005, f"video and audio start {offset * 1000:.1f} ms apart on the SR clock"
    for channel in (1, 3):
        types = [t for _, t, _ in client.rtcp[channel]]
        assert 203 in types, f"no BYE on channel {channel}: packet types {types}"


def test_rtp_info_rtptime_is_where_the_stream_starts(port):
    """RFC 2326 12.33: rtptime is the RTP timestamp of the time in Range
    (npt=0 for a live stream), i.e. of the first packet the client gets.
    Players take it as their time zero (ffmpeg makes it the stream's base
    timestamp), so it may not lie far before the first packet: here the client
    plays before anything was sent, and the first packets come within a second."""
    client = stream_to_wire_client(port, seconds=1)
    for channel in (0, 2):
        seq, rtptime = client.rtp_info[channel]
        _, first_seq, first_ts, _ = client.rtp[channel][0]
        assert first_seq == seq, f"channel {channel}: RTP-Info seq {seq}, first packet {first_seq}"
        ahead = wrap_diff(first_ts, rtptime) / RATES[channel]
        assert 0 <= ahead < 1.0, (
            f"channel {channel}: RTP-Info rtptime={rtptime} but the first packet has "
            f"timestamp {first_ts}: {ahead:.3f} s apart")


# --- timestamps ---------------------------------------------------------------------------

def packet_times(port, schedule_us=None, timestamps="pts", frames=None, clip=CLIP):
    """Streams a video-only session to an ffprobe over TCP; returns its packets' pts
    in 90 kHz ticks (None where ffprobe has none)."""
    streamer = Streamer(port, [("test", clip, 1)], timestamps=timestamps, frames=frames,
                        schedule=schedule_us)
    client = None
    try:
        client = helpers.ffprobe_packets(streamer.urls["test"], "tcp")
        streamer.finish()
        helpers.finish_client(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    packets = helpers.parse_packets(client)
    time_bases = {kv.get("time_base") for kv in helpers._csv_records(client.lines, "stream")}
    assert time_bases == {"1/90000"}, time_bases
    return [p["pts"] for p in packets], client


def test_constant_timestamp_gives_the_arrival_clock(port):
    """CanMV's examples pass 1000 for every frame: the server stamps each frame
    on arrival, so 30 fps gives 33.3 ms steps in the player."""
    pts, client = packet_times(port, timestamps="const")
    assert len(pts) == 90, f"{len(pts)} packets\n{client.stderr}"
    known = [p for p in pts[1:] if p is not None]  # ffmpeg leaves the first frame's pts out
    assert len(known) >= 88, pts[:5]
    deltas_ms = [(b - a) / 90 for a, b in zip(known, known[1:])]
    median = statistics.median(deltas_ms)
    print(f"constant 1000 at 30 fps: frame durations median {median:.2f} ms, "
          f"min {min(deltas_ms):.2f}, max {max(deltas_ms):.2f} ms")
    assert abs(median - FRAME_US / 1000) < 1.0, f"median frame duration {median:.2f} ms"
    bad = [(k, round(d, 2)) for k, d in enumerate(deltas_ms) if abs(d - FRAME_US / 1000) > 3]
    assert not bad, f"frame durations off 33.3 ms by more than 3 ms: {bad}"


SCHEDULES = {
    # 30 fps with one 50 ms gap (a dropped frame's worth and a half)
    "30fps-gap": [k * 1_000_000 // 30 + (50_000 - 33_333 if k >= 45 else 0) for k in range(90)],
    # 25 fps, starting where a board's encoder might (µs since boot)
    "25fps": [7_123_456_789 + k * 40_000 for k in range(90)],
    # uneven: 20, 40, 20, 40... ms
    "uneven": [(k // 2) * 60_000 + (20_000 if k % 2 else 0) for k in range(90)],
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_microsecond_timestamps_are_reproduced(port, tmp_path, name):
    """The encoder's pts: each frame's RTP time relative to the first is its
    timestamp's, to within one 90 kHz tick."""
    schedule = SCHEDULES[name]
    path = helpers.write_schedule(tmp_path / "schedule.txt", schedule)
    pts, client = packet_times(port, schedule_us=path)
    assert len(pts) == len(schedule), f"{len(pts)} packets for {len(schedule)} frames\n{client.stderr}"
    errors, _ = helpers.pts_mismatches(pts, schedule)
    worst = max((abs(g - w) for _, g, w in errors), default=0)
    print(f"{name}: {len(pts)} frames, worst error {worst} ticks")
    assert not errors, f"frames off by more than one tick (frame, got, want): {errors[:10]}"
