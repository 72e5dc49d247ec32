"""Keepalive by RTCP alone (issue 9, section 1): many players (live555-based
ones, NVRs, GStreamer's rtspsrc over TCP) send no RTSP request after PLAY and
keep their session alive with RTCP receiver reports only.

With a short session_timeout (TIMEOUT s), such a client must keep playing past
several timeouts, and the server must stay idle between frames: its CPU over a
window after the timeout (from /proc/PID/stat, every thread, over wall time) a
small fraction of a core. A loop whose next deadline is left in the past polls
with a zero timeout and burns a whole core (about 1.0), which on the board's
strict priorities starves every thread below it; a healthy loop uses a few
hundredths of a core for 30 frames a second, so the bound CPU_LIMIT is far from
both. GStreamer's rtspsrc over TCP is such a client too (with a timeout longer
than its RTCP interval). A client that sends nothing at all after PLAY is still
dropped at the timeout.

`pytest -s` shows the CPU figures before and after the timeout.
"""

import time

import pytest

import helpers
from helpers import CLIP, CpuSample, RtpPlayer, Streamer, sleep_until

TIMEOUT = 3  # session_timeout, seconds
PLAY_S = 4 * TIMEOUT  # how long the kept-alive clients play (several timeouts)
# GStreamer's rtpsession sends its receiver reports 5 s x [0.5, 1.5] / 1.218
# apart (RFC 3550 6.3.1, with the first one sooner): at most 6.2 s, so its
# session timeout must be longer than that, and it plays 3 of them.
GST_TIMEOUT = 8
GST_PLAY_S = 3 * GST_TIMEOUT
FPS = 30
CPU_LIMIT = 0.25  # cores; the stale-deadline spin is about 1.0
MAX_GAP_S = 1.5  # longest silence allowed in a kept-alive client's media (30 fps: 0.033)
DROP_MARGIN_S = 2.5  # a silent client is gone by TIMEOUT + this after its PLAY


def streamer_for(port, clients, seconds, timeout=TIMEOUT):
    """The bundled clip looped for `seconds` of media at FPS, session_timeout=timeout;
    it starts sending once `clients` play."""
    return Streamer(port, [("test", CLIP, clients)], options={"session_timeout": timeout},
                    frames=FPS * seconds, wait_timeout=20)


def media_gaps(arrivals, start, end):
    """The longest stretch without a packet between start and end (both included)."""
    times = [start] + [t for t in arrivals if start <= t <= end] + [end]
    return max(b - a for a, b in zip(times, times[1:]))


def cpu_figures(label, before, after, timeout=TIMEOUT):
    line = (f"{label}: server CPU {before:.3f} core before the timeout, "
            f"{after:.3f} core after it (session_timeout={timeout} s, limit {CPU_LIMIT})")
    if helpers.sched_order():
        line += f" [RTSP_SCHED={helpers.sched_order()}]"
    print("\n" + line)
    return line


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_rtcp_only_keepalive_keeps_playing_with_an_idle_loop(port, transport):
    """A raw client SETUPs and PLAYs, then sends only RTCP receiver reports,
    one a second (UDP: from its RTCP port to the server's; TCP: on the odd
    interleaved channel), and no RTSP request, for 4 session timeouts. Its
    media never stops, and the server's CPU after the timeout stays under
    CPU_LIMIT of a core."""
    seconds = PLAY_S + 3
    streamer = streamer_for(port, 1, seconds)
    pid = streamer.proc.pid
    player = RtpPlayer(port, transport=transport)
    try:
        status, hdrs = player.setup()
        assert status == 200, hdrs
        assert player.session_header.endswith(f";timeout={TIMEOUT}"), player.session_header
        if transport == "udp":
            assert player.server_rtcp, f"no server_port in the SETUP reply: {hdrs}"
        status, hdrs = player.play(seconds=seconds + 15)
        assert status == 200, hdrs
        t_play = player.play_sent
        player.keep_alive_with_rtcp(interval=1.0, seconds=seconds + 5)
        streamer.wait_line("START", 20)
        sleep_until(t_play + 0.5)
        a = CpuSample(pid)
        sleep_until(t_play + TIMEOUT - 0.5)
        b = CpuSample(pid)
        sleep_until(t_play + TIMEOUT + 1)
        c = CpuSample(pid)
        sleep_until(t_play + PLAY_S)
        d = CpuSample(pid)
        closed_at = player.closed_at
        arrivals = [p.arrival for p in player.packets]
        reports = len(player.rtcp_sent)
        streamer.finish(timeout=seconds + 30)
    finally:
        player.close()
        streamer.stop()
    before, after = b.cores_since(a), d.cores_since(c)
    figures = cpu_figures(f"RTCP-only keepalive over {transport.upper()}", before, after)
    print(f"  {len(arrivals)} RTP packets until {PLAY_S} s after PLAY, {reports} receiver reports sent")
    assert closed_at is None, (
        f"the server closed the kept-alive client {closed_at - t_play:.2f} s after PLAY")
    assert arrivals, "no RTP arrived"
    gap = media_gaps(arrivals, t_play + 1, t_play + PLAY_S)
    assert gap <= MAX_GAP_S, (
        f"the kept-alive client's media stopped for {gap:.2f} s within {PLAY_S} s after PLAY; "
        f"last packet {arrivals[-1] - t_play:.2f} s after PLAY. {figures}")
    assert reports >= PLAY_S - 1, f"only {reports} receiver reports went out"
    assert after < CPU_LIMIT, f"the server's loop is busy after the session timeout: {figures}"


def test_gstreamer_rtspsrc_tcp_plays_past_the_timeout_with_an_idle_loop(port, tmp_path):
    """GStreamer's rtspsrc over TCP sends no RTSP request after PLAY while media
    flows: it keeps its session alive with RTCP on the interleaved channel.
    Played past 3 session timeouts (GST_TIMEOUT, longer than its RTCP
    interval), its recording grows all along and holds every frame sent, and
    the server's CPU after the timeout stays under CPU_LIMIT of a core."""
    helpers.need_gst_elements("rtspsrc", "rtph264depay", "filesink")
    seconds = GST_PLAY_S + 3
    out = tmp_path / "out.264"
    streamer = streamer_for(port, 1, seconds, timeout=GST_TIMEOUT)
    pid = streamer.proc.pid
    client = None
    sizes = []  # (time, bytes recorded)
    try:
        url = helpers.loopback_url(streamer.urls["test"])
        client = helpers.gst_client(
            ["rtspsrc", f"location={url}", "protocols=tcp", "latency=0", "!",
             "rtph264depay", "!", "video/x-h264,stream-format=byte-stream,alignment=au", "!",
             "filesink", f"location={out}", "buffer-mode=unbuffered"], "gst-rtspsrc-tcp")
        streamer.wait_line("START", 20)
        t0 = streamer.last_line_time  # the server counted it playing: PLAY was before this
        marks = {0.5: None, GST_TIMEOUT - 0.5: None, GST_TIMEOUT + 1: None, GST_PLAY_S: None}
        at = 0.5
        while at <= GST_PLAY_S:  # the recording's size every 0.25 s, the CPU at the marks
            sleep_until(t0 + at)
            sizes.append((time.monotonic(), out.stat().st_size if out.exists() else 0))
            if at in marks:
                marks[at] = CpuSample(pid)
            at += 0.25
        sent = FPS * seconds
        streamer.finish(timeout=seconds + 30)
        code = helpers.finish_gst(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    a, b, c, d = marks.values()
    before, after = b.cores_since(a), d.cores_since(c)
    figures = cpu_figures("GStreamer rtspsrc protocols=tcp", before, after, GST_TIMEOUT)
    frames = len(helpers.probe_file(out, "packet=size", select="v"))
    grew = [t for (t, n), (_, m) in zip(sizes[1:], sizes) if n > m and t >= t0 + 1]
    stall = media_gaps(grew, t0 + 1, t0 + GST_PLAY_S)
    print(f"  recording: {sizes[-1][1]} bytes by {GST_PLAY_S} s, longest stall {stall:.2f} s; "
          f"{frames} of {sent} frames; gst exit {code}")
    assert stall <= MAX_GAP_S + 0.25, (
        f"the recording stopped growing for {stall:.2f} s within {GST_PLAY_S} s: {figures}")
    assert frames >= sent * 0.95, f"GStreamer recorded {frames} of {sent} frames"
    assert after < CPU_LIMIT, f"the server's loop is busy after the session timeout: {figures}"


def test_silent_client_is_dropped_while_an_rtcp_client_plays_on(port):
    """Three clients PLAY: one sends RTCP receiver reports (UDP), one over UDP
    and one over TCP send nothing at all after PLAY. The silent ones are
    dropped at the session timeout (their media stops and their connection is
    closed within TIMEOUT + DROP_MARGIN_S of their PLAY, not before TIMEOUT);
    the RTCP one keeps playing for 4 timeouts."""
    seconds = PLAY_S + 3
    streamer = streamer_for(port, 3, seconds)
    pid = streamer.proc.pid
    kept = RtpPlayer(port, transport="udp")
    silent_udp = RtpPlayer(port, transport="udp")
    silent_tcp = RtpPlayer(port, transport="tcp")
    players = {"rtcp-udp": kept, "silent-udp": silent_udp, "silent-tcp": silent_tcp}
    try:
        for name, p in players.items():
            status, hdrs = p.setup()
            assert status == 200, (name, hdrs)
        for name, p in players.items():
            status, hdrs = p.play(seconds=seconds + 15)
            assert status == 200, (name, hdrs)
        kept.keep_alive_with_rtcp(interval=1.0, seconds=seconds + 5)
        streamer.wait_line("START", 20)
        t_play = kept.play_sent
        sleep_until(t_play + TIMEOUT + 1)
        c = CpuSample(pid)
        sleep_until(t_play + PLAY_S)
        d = CpuSample(pid)
        snapshot = {name: (p.closed_at, [q.arrival for q in p.packets]) for name, p in players.items()}
        streamer.finish(timeout=seconds + 30)
    finally:
        for p in players.values():
            p.close()
        streamer.stop()
    after = d.cores_since(c)
    report = []
    for name, p in players.items():
        closed_at, arrivals = snapshot[name]
        last = arrivals[-1] - p.play_sent if arrivals else None
        closed = closed_at - p.play_sent if closed_at else None
        report.append(f"{name}: {len(arrivals)} packets, last {last and round(last, 2)} s after PLAY, "
                      f"connection closed {closed and round(closed, 2)} s after PLAY")
    print("\n" + "\n".join(report) + f"\nserver CPU after the timeout: {after:.3f} core")
    for name in ("silent-udp", "silent-tcp"):
        p = players[name]
        closed_at, arrivals = snapshot[name]
        assert arrivals, f"{name} never received media"
        assert closed_at is not None, f"{name} was never dropped ({report})"
        closed = closed_at - p.play_sent
        assert TIMEOUT - 0.1 <= closed <= TIMEOUT + DROP_MARGIN_S, (
            f"{name} was dropped {closed:.2f} s after PLAY (session_timeout={TIMEOUT}): {report}")
        last = arrivals[-1] - p.play_sent
        assert last <= TIMEOUT + DROP_MARGIN_S, f"{name}'s media went on {last:.2f} s after PLAY"
    closed_at, arrivals = snapshot["rtcp-udp"]
    assert closed_at is None, f"the RTCP client was dropped: {report}"
    gap = media_gaps(arrivals, t_play + 1, t_play + PLAY_S)
    assert gap <= MAX_GAP_S, f"the RTCP client's media stopped for {gap:.2f} s: {report}"
    assert after < CPU_LIMIT, f"the server's loop is busy after the session timeout: {after:.3f} core"
