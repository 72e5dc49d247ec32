"""rtspserver_init's keyword-only options (issue 4: limits, session timeout,
TCP only), createsession's gop_cache, needkeyframe() and getstats' per_client,
seen from outside: API rows for the values, real clients for the behaviour.

Over a limit a client gets the status RFC 2326 gives it (453 Not Enough
Bandwidth for a session's clients, 503 Service Unavailable for the server's,
461 Unsupported Transport for UDP when TCP only) while the clients already
there keep getting every frame.
"""

import ast
import errno
import socket
import time


import helpers
from helpers import CLIP, CLIP2, RtpPlayer, Streamer, run_api

CLIP_FRAMES = 90
COUNT_OPTIONS = ("max_clients", "max_clients_per_session", "max_sessions", "max_connections",
                 "session_timeout")


def stats_of(streamer, name):
    """The dict of the streamer's "STATS <name> {...}" line (getstats(name) after the clip)."""
    prefix = f"STATS {name} "
    line = next((line for line in streamer.lines if line.startswith(prefix)), None)
    assert line is not None, f"no STATS line for {name}\n{streamer.stdout}"
    return ast.literal_eval(line[len(prefix):])


def assert_every_frame(client, count, label):
    frames = helpers.parse_frames(client)
    assert len(frames) == count, f"{label} decoded {len(frames)} of {count} frames\n{client.stderr}"
    assert frames[0][2] == "I", f"{label}: first frame {frames[0]}"


# --- API rows ------------------------------------------------------------------------------

def test_init_option_values_are_checked(port):
    """Counts: an int >= 1 (ValueError otherwise, TypeError for another type, bool
    included); users: a (name, password) tuple, a list or tuple of them, or a
    dict, str only, names non-empty without ':'; unknown keywords and extra
    positional arguments: TypeError; http_port: None or a port other than
    port (ValueError otherwise, TypeError for another type), one in use gives
    its errno. A refused call binds nothing."""
    rows = []
    for opt in COUNT_OPTIONS:
        for label, value in (("zero", "0"), ("negative", "-1"), ("huge", "2**40")):
            rows.append((f"{opt}_{label}", f"{opt}={value}", "ValueError"))
        for label, value in (("str", "'3'"), ("float", "1.5"), ("bool", "True"), ("none", "None")):
            rows.append((f"{opt}_{label}", f"{opt}={value}", "TypeError"))
    for label, value, exc in (
            ("empty_list", "[]", "ValueError"), ("empty_dict", "{}", "ValueError"),
            ("str", "'user'", "TypeError"), ("int", "5", "TypeError"),
            ("one_item", "('user',)", "TypeError"), ("password_int", "('user', 1)", "TypeError"),
            ("bytes_name", "[(b'user', 'pass')]", "TypeError"), ("triple", "[('u', 'p', 'x')]", "ValueError"),
            ("entry_str", "['user', ('a', 'b'), 'x']", "TypeError"),
            ("empty_name", "('', 'pass')", "ValueError"), ("dict_empty_name", "{'': 'x'}", "ValueError"),
            ("colon", "('a:b', 'pass')", "ValueError"), ("newline", "[('a\\nb', 'pass')]", "ValueError"),
            ("dict_password_none", "{'user': None}", "TypeError")):
        rows.append((f"users_{label}", f"users={value}", exc))
    for label, value, exc in (("zero", "0", "ValueError"), ("huge", "70000", "ValueError"),
                              ("negative", "-1", "ValueError"), ("same_as_port", str(port), "ValueError"),
                              ("str", "'8080'", "TypeError"), ("float", "80.0", "TypeError"),
                              ("bool", "True", "TypeError")):
        rows.append((f"http_port_{label}", f"http_port={value}", exc))
    rows.append(("unknown_keyword", "max_client=3", "TypeError"))
    rows.append(("audio_codec_here", "audio_codec='pcmu'", "TypeError"))
    body = "s = mm.rtsp_server()\n"
    for label, kw, _ in rows:
        body += f"attempt({label!r}, lambda: s.rtspserver_init({port}, {kw}))\n"
    body += f"attempt('two_positional', lambda: s.rtspserver_init({port}, 5))\n"
    body += f"attempt('port_as_keyword_bad', lambda: mm.rtspserver_init(port={port}))\n"
    # http_port on a port in use: the errno, and the RTSP port is not kept bound
    taken = socket.socket()
    taken.bind(("", 0))
    taken.listen()
    body += f"attempt('http_port_in_use', lambda: s.rtspserver_init({port}, http_port={taken.getsockname()[1]}))\n"
    # after all the refusals the port is still free and the server not initialised
    body += f"attempt('then_ok', lambda: s.rtspserver_init({port}))\n"
    body += f"attempt('again', lambda: s.rtspserver_init({port}))\n"
    body += "s.rtspserver_destroy()\n"
    try:
        r = run_api(body)
    finally:
        taken.close()
    for label, _, exc in rows:
        r.raises(label, exc)
    r.raises("two_positional", "TypeError")
    r.raises("port_as_keyword_bad", "TypeError")  # positional as in CanMV
    r.negative_errno("http_port_in_use", errno.EADDRINUSE)
    r.returns("then_ok", 0)
    r.negative_errno("again", errno.EALREADY)


def test_init_option_values_accepted(port):
    """Every accepted form returns 0, on an object and on the module's default
    server; deinit then init again works (options do not stick to a closed server)."""
    forms = [
        "max_clients=1", "max_clients_per_session=1", "max_sessions=1", "max_connections=1",
        "session_timeout=1", "max_clients=4294967295", "tcp_only=True", "tcp_only=0", "users=None",
        "users=('user', 'pass')", "users=[('a', 'b'), ('c', 'd')]", "users=(('a', 'b'), ['c', ''])",
        "users={'a': 'b', 'c': 'd'}", "users=('u', 'p'), auth_basic=True", "auth_basic=True",
        "http_port=None", f"http_port={helpers.free_port()}",
        "max_clients=8, max_clients_per_session=2, max_sessions=3, max_connections=9, "
        "session_timeout=30, tcp_only=True, users={'ü': 'päss'}, auth_basic=False",
    ]
    body = "s = mm.rtsp_server()\n"
    for i, kw in enumerate(forms):
        body += f"attempt('obj{i}', lambda: s.rtspserver_init({port}, {kw}))\ns.rtspserver_deinit()\n"
    body += "mm.rtspserver_create()\n"
    for i, kw in enumerate(forms):
        body += f"attempt('mod{i}', lambda: mm.rtspserver_init({port}, {kw}))\nmm.rtspserver_deinit()\n"
    body += "s.rtspserver_destroy()\nmm.rtspserver_destroy()\n"
    r = run_api(body)
    for i in range(len(forms)):
        r.returns(f"obj{i}", 0)
        r.returns(f"mod{i}", 0)


def test_createsession_gop_cache_and_needkeyframe_rows(port):
    r = run_api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
attempt("gop_false", lambda: s.rtspserver_createsession("a", 0, False, gop_cache=False))
attempt("gop_true", lambda: s.rtspserver_createsession("b", "h265", False, gop_cache=True))
attempt("gop_both", lambda: s.rtspserver_createsession("c", 0, True, audio_codec="pcma", gop_cache=0))
attempt("gop_existing", lambda: s.rtspserver_createsession("a", 0, False, gop_cache=True))
attempt("gop_positional", lambda: s.rtspserver_createsession("d", 0, False, "pcmu"))
attempt("gop_unknown_kw", lambda: s.rtspserver_createsession("d", 0, False, gopcache=False))
attempt("need_all", s.rtspserver_needkeyframe)
attempt("need_none", lambda: s.rtspserver_needkeyframe(None))
attempt("need_a", lambda: s.rtspserver_needkeyframe("a"))
attempt("need_unknown", lambda: s.rtspserver_needkeyframe("nope"))
attempt("need_int", lambda: s.rtspserver_needkeyframe(3))
attempt("need_two", lambda: s.rtspserver_needkeyframe("a", "b"))
attempt("mod_need_no_server", mm.rtspserver_needkeyframe)
mm.rtspserver_create()
mm.rtspserver_init({helpers.free_port()})
attempt("mod_session", lambda: mm.rtspserver_createsession("m", 0, False, gop_cache=False))
attempt("mod_need", lambda: mm.rtspserver_needkeyframe("m"))
attempt("mod_stats", lambda: mm.rtspserver_getstats("m"))
mm.rtspserver_destroy()
s.rtspserver_destroy()
attempt("need_destroyed", s.rtspserver_needkeyframe)
''')
    for label in ("gop_false", "gop_true", "gop_both", "gop_existing", "mod_session"):
        r.returns(label, 0)
    for label in ("gop_positional", "gop_unknown_kw", "need_int", "need_two"):
        r.raises(label, "TypeError")
    for label in ("need_all", "need_none", "need_a", "mod_need"):
        r.returns(label, False)  # nobody waits for a keyframe
    r.raises("need_unknown", "ValueError")
    r.raises("mod_need_no_server", "OSError")
    r.raises("need_destroyed", "OSError")
    assert r.ret("mod_stats")["per_client"] == []


# --- defaults -------------------------------------------------------------------------------

def setup_status(port, path):
    player = RtpPlayer(port, path)
    status, hdrs = player.setup()
    return player, status, hdrs


def test_defaults(port):
    """Without options: Session timeout 60 s; a session takes 16 clients (the
    17th gets 453); the server 32 (the 33rd, on a third session, gets 503);
    16 sessions (the 17th createsession returns -ENOSPC)."""
    extra = [f"extra{i}" for i in range(14)]
    streamer = Streamer(port, [("a", CLIP, 0), ("b", CLIP, 0), ("c", CLIP, 0)], frames=30 * 60,
                        try_sessions=extra)
    players = []
    try:
        for path in ("a", "b"):
            for k in range(16):
                player, status, hdrs = setup_status(port, path)
                players.append(player)
                assert status == 200, f"client {k + 1} of session {path}: {status} {hdrs}"
                assert player.session_header.endswith(";timeout=60"), player.session_header
            player, status, _ = setup_status(port, path)
            players.append(player)
            assert status == (453 if path == "a" else 503), f"17th client of {path}: {status}"
        player, status, _ = setup_status(port, "c")
        players.append(player)
        assert status == 503, f"33rd client of the server: {status}"
    finally:
        for p in players:
            p.close()
        streamer.stop()
    tries = [line.split() for line in streamer.lines if line.startswith("TRY-SESSION")]
    assert [int(t[2]) for t in tries[:13]] == [0] * 13, tries
    assert int(tries[13][2]) == -errno.ENOSPC, f"the 17th session: {tries[13]}"


def test_failed_init_keeps_the_defaults(port):
    """init with options on a port in use returns -EADDRINUSE and changes
    nothing: the next plain init serves with the default timeout and limits."""
    code = f'''
import time, multimedia as mm
blocker = mm.rtsp_server()
blocker.rtspserver_init({port})
s = mm.rtsp_server()
print("BUSY", s.rtspserver_init({port}, session_timeout=7, max_clients_per_session=1))
blocker.rtspserver_destroy()
print("INIT", s.rtspserver_init({port}))
s.rtspserver_createsession("test", 0, False)
s.rtspserver_start()
print("READY")
time.sleep(20)
'''
    server = helpers.Background([helpers.micropython(), "-c", code], "server")
    players = []
    try:
        server.wait_line("READY", 15)
        for _ in range(2):
            player, status, hdrs = setup_status(port, "test")
            players.append(player)
            assert status == 200, hdrs
            assert player.session_header.endswith(";timeout=60"), player.session_header
    finally:
        for p in players:
            p.close()
        server.stop()
    assert f"BUSY {-errno.EADDRINUSE}" in server.lines, server.stdout
    assert "INIT 0" in server.lines, server.stdout


# --- limits with real clients ----------------------------------------------------------------

def test_max_clients_per_session_gives_453(port):
    """max_clients_per_session=2: with two ffprobes playing, a third client's
    SETUP gets 453; the two decode every frame of the 150 sent."""
    frames = 150
    streamer = Streamer(port, [("test", CLIP, 2)], frames=frames,
                        options={"max_clients_per_session": 2})
    clients = [helpers.ffprobe_frames(streamer.urls["test"], t) for t in ("tcp", "udp")]
    third = None
    try:
        streamer.wait_line("PLAYING", 15)
        third, status, hdrs = setup_status(port, "test")
        assert status == 453, f"third client's SETUP: {status} {hdrs}"
        streamer.finish()
        for c in clients:
            helpers.finish_client(c)
    finally:
        if third is not None:
            third.close()
        for c in clients:
            c.stop()
        streamer.stop()
    for c in clients:
        assert_every_frame(c, frames, c.name)
    assert stats_of(streamer, "test")["clients"] == 2


def test_max_clients_gives_503(port):
    """max_clients=2 with one ffprobe on each of two sessions: a third client's
    SETUP on either gets 503 (not 453: each session has room); both decode every frame."""
    streamer = Streamer(port, [("a", CLIP, 1), ("b", CLIP2, 1)], options={"max_clients": 2},
                        frames=CLIP_FRAMES * 2)
    clients = [helpers.ffprobe_frames(streamer.urls[name], "tcp", f"ffprobe-{name}") for name in ("a", "b")]
    extra = []
    try:
        streamer.wait_line("PLAYING a", 15)
        streamer.wait_line("PLAYING b", 15)
        for name in ("a", "b"):
            player, status, hdrs = setup_status(port, name)
            extra.append(player)
            assert status == 503, f"third client on {name}: {status} {hdrs}"
        streamer.finish()
        for c in clients:
            helpers.finish_client(c)
    finally:
        for p in extra:
            p.close()
        for c in clients:
            c.stop()
        streamer.stop()
    for c in clients:
        assert_every_frame(c, CLIP_FRAMES * 2, c.name)


def test_max_sessions_refuses_a_third_session(port):
    """max_sessions=2: createsession of a third name returns -ENOSPC (and the URL
    gets 404), an existing name still returns 0; both sessions stream every frame."""
    streamer = Streamer(port, [("a", CLIP, 1), ("b", CLIP2, 1)], options={"max_sessions": 2},
                        try_sessions=["c", "a"], frames=CLIP_FRAMES)
    clients = [helpers.ffprobe_frames(streamer.urls[name], "udp", f"ffprobe-{name}") for name in ("a", "b")]
    try:
        tried = [line.split() for line in streamer.lines if line.startswith("TRY-SESSION")]
        status, _, _ = helpers.rtsp_request(port, "DESCRIBE", "c")
        assert status == 404, f"DESCRIBE of the refused session: {status}"
        streamer.finish()
        for c in clients:
            helpers.finish_client(c)
    finally:
        for c in clients:
            c.stop()
        streamer.stop()
    assert tried == [["TRY-SESSION", "c", str(-errno.ENOSPC)], ["TRY-SESSION", "a", "0"]], tried
    for c in clients:
        assert_every_frame(c, CLIP_FRAMES, c.name)


def test_tcp_only(port):
    """tcp_only=True: a UDP SETUP gets 461 (a TCP one 200); ffprobe left to its
    default (UDP first) is answered 461, retries over TCP and decodes every frame."""
    frames = CLIP_FRAMES * 2
    streamer = Streamer(port, [("test", CLIP, 1)], options={"tcp_only": True}, frames=frames)
    probe = None
    try:
        udp = RtpPlayer(port, transport="udp")
        with udp:
            status, hdrs = udp.setup()
        assert status == 461, f"UDP SETUP with tcp_only: {status} {hdrs}"
        tcp = RtpPlayer(port, transport="tcp")
        with tcp:
            status, hdrs = tcp.setup()
            assert status == 200, hdrs
            assert tcp.request("TEARDOWN")[0] == 200
        # trace: ffmpeg logs the requests it sends and the status lines it gets
        probe = helpers.ffprobe_frames(streamer.urls["test"], None, "ffprobe-default", loglevel="trace")
        streamer.finish()
        helpers.finish_client(probe)
    finally:
        if probe is not None:
            probe.stop()
        streamer.stop()
    exchange = [line.strip() for line in probe._err
                if line.startswith(("SETUP ", "Transport:")) or "line='RTSP/1.0" in line]
    exchange = exchange[exchange.index(next(x for x in exchange if x.startswith("SETUP"))):][:8]
    print("ffprobe with its default transport against tcp_only:\n  " + "\n  ".join(exchange))
    assert any("461" in line for line in exchange), "ffprobe was never answered 461"
    assert any("RTP/AVP/TCP" in line for line in exchange if line.startswith("Transport:")), (
        "ffprobe did not ask for TCP after the 461")
    assert_every_frame(probe, frames, "ffprobe (default transport)")
    per_client = stats_of(streamer, "test")["per_client"]
    assert [c["transport"] for c in per_client] == ["tcp"], per_client


# --- session timeout, keepalive, PAUSE ----------------------------------------------------------

def last_arrival(player):
    return player.packets[-1].arrival if player.packets else None


def test_session_timeout_frees_a_silent_client(port):
    """session_timeout=5, advertised in Session:. A UDP client that sends
    nothing after PLAY (no request, no RTCP) is dropped 5-7 s later: its RTP
    stops and its session id is unknown (454) or its connection closed. A client
    that sends GET_PARAMETER every 2 s keeps receiving to the end."""
    seconds = 13
    streamer = Streamer(port, [("test", CLIP, 0)], options={"session_timeout": 5},
                        frames=30 * seconds, watch=True)
    silent = RtpPlayer(port, transport="udp")
    alive = RtpPlayer(port, transport="udp")
    try:
        for p in (silent, alive):
            status, hdrs = p.setup()
            assert status == 200, hdrs
            assert p.session_header.endswith(";timeout=5"), p.session_header
        streamer.wait_line("START", 15)
        t0 = streamer.last_line_time
        for p in (silent, alive):
            status, hdrs = p.play(seconds=seconds + 5)
            assert status == 200, hdrs
        while time.monotonic() < t0 + seconds - 1:
            time.sleep(2)
            status, _, _ = alive.request("GET_PARAMETER")
            assert status == 200, "the kept-alive client lost its session"
        silent.stop()
        try:
            status = silent.request("GET_PARAMETER")[0]
        except (ConnectionError, OSError):
            status = "closed"
        streamer.finish()
    finally:
        silent.close()
        alive.close()
        streamer.stop()
    assert silent.packets, "the silent client never received anything"
    gone_after = last_arrival(silent) - silent.play_sent
    alive_until = last_arrival(alive) - alive.play_sent
    watch = [line for line in streamer.lines if line.startswith("WATCH")]
    print(f"silent client: last RTP {gone_after:.2f} s after PLAY, then {status}; "
          f"kept-alive client: RTP until {alive_until:.2f} s\n  " + "\n  ".join(watch))
    assert 4.5 <= gone_after <= 7.5, f"silent client's RTP stopped {gone_after:.2f} s after PLAY"
    assert status in (454, "closed"), f"the silent client's session still answers: {status}"
    assert alive_until >= seconds - 1.5, f"the kept-alive client's RTP stopped at {alive_until:.2f} s"
    rows = [(int(line.split()[1]), int(line.split()[3])) for line in watch]
    both = next((i for i, (_, clients) in enumerate(rows) if clients == 2), None)
    drops = [ms for ms, clients in rows[both or 0:] if clients == 1]
    assert both is not None and drops, f"the server never went from two clients to one: {watch}"
    drop_s = drops[0] / 1000 - (silent.play_sent - t0)
    assert 4.5 <= drop_s <= 7.5, f"the silent client was freed {drop_s:.2f} s after PLAY"


def test_pause_then_play_resumes_without_gap_or_repeat(port, long_gop_clip):
    """PAUSE at 1.5 s and PLAY at 2.5 s (both in the first 4 s GOP): nothing
    arrives in between, and across the pause the RTP sequence numbers run on
    one by one, so the depacketized stream is every picture of the clip once."""
    streamer = Streamer(port, [("test", long_gop_clip, 0)])
    player = RtpPlayer(port)
    try:
        assert player.setup()[0] == 200
        streamer.wait_line("START", 15)
        t0 = streamer.last_line_time
        time.sleep(max(0.0, t0 + 0.3 - time.monotonic()))
        assert player.play()[0] == 200
        time.sleep(max(0.0, t0 + 1.5 - time.monotonic()))
        status, hdrs = player.pause()
        assert status == 200, hdrs
        paused_at = time.monotonic()
        time.sleep(max(0.0, t0 + 2.5 - time.monotonic()))
        during_pause = [p for p in player.packets if p.arrival > paused_at + 0.1]
        before_resume = len(player.packets)
        status, hdrs = player.play()
        assert status == 200, hdrs
        resumed_at = player.play_sent
        streamer.finish()
        player.wait_closed(10)
    finally:
        player.close()
        streamer.stop()
    assert not during_pause, f"{len(during_pause)} packets arrived while paused"
    seqs = [p.seq for p in player.packets]
    jumps = [(i, a, b) for i, (a, b) in enumerate(zip(seqs, seqs[1:])) if (b - a) % 65536 != 1]
    assert not jumps, f"sequence numbers not consecutive (index, seq, next): {jumps[:5]}"
    units = player.access_units()
    expected = [[n for n in helpers.annexb.nal_units(au) if 1 <= (n[0] & 0x1F) <= 5]
                for au in helpers.clip_access_units(long_gop_clip)]
    got = [[n for n in au.nals if 1 <= (n[0] & 0x1F) <= 5] for au in units]
    assert all(au.complete for au in units)
    assert got == expected, (
        f"{len(got)} pictures received, {len(expected)} sent; first difference at "
        f"{next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))}")
    after = [p for p in player.packets[before_resume:] if p.arrival <= resumed_at + 0.05]
    print(f"paused {resumed_at - paused_at:.2f} s after {before_resume} packets; on PLAY {len(after)} "
          f"packets within 50 ms, sequence numbers {seqs[0]}..{seqs[-1]} without a gap")


# --- per-client stats ----------------------------------------------------------------------------

def test_per_client_stats(port):
    """getstats(name) and getstats() list each client: peer address and port
    (the client's end of its RTSP connection), transport, playing, waiting for
    a keyframe, frames dropped, talking (holding the back channel: not here)."""
    streamer = Streamer(port, [("test", CLIP, 2)])
    tcp, udp = RtpPlayer(port, transport="tcp"), RtpPlayer(port, transport="udp")
    ports = {"tcp": tcp.conn.sock.getsockname()[1], "udp": udp.conn.sock.getsockname()[1]}
    try:
        for p in (tcp, udp):
            assert p.setup()[0] == 200
            assert p.play()[0] == 200
        streamer.finish()
    finally:
        tcp.close()
        udp.close()
        streamer.stop()
    stats = stats_of(streamer, "test")
    assert stats["clients"] == 2 and stats["playing"] == 2, stats
    by_port = {c["port"]: c for c in stats["per_client"]}
    assert set(by_port) == set(ports.values()), (stats["per_client"], ports)
    for transport, local_port in ports.items():
        assert by_port[local_port] == {"peer": "127.0.0.1", "port": local_port, "transport": transport,
                                       "playing": True, "waiting_keyframe": False,
                                       "frames_dropped": 0, "talking": False}, by_port[local_port]
    assert tcp.packets and udp.packets


def test_per_client_frames_dropped_of_a_stuck_client(port):
    """A TCP client that stops reading after PLAY while 15 MB of video flows is
    cut back: its per_client entry counts the frames it lost (part of the
    session's frames_dropped); the reading client's entry shows none, and it
    gets every frame."""
    frames = 150 * CLIP_FRAMES
    streamer = Streamer(port, [("test", CLIP, 2)], fps=3000, frames=frames, wait_timeout=15)
    stuck = RtpPlayer(port)
    stuck.conn.sock.setsockopt(helpers.socket.SOL_SOCKET, helpers.socket.SO_RCVBUF, 4096)
    stuck_port = stuck.conn.sock.getsockname()[1]
    normal = None
    try:
        assert stuck.setup()[0] == 200
        status, _, _ = stuck.conn.request("PLAY", stuck.base, {"Session": stuck.session})
        assert status == 200  # and from here on it never reads
        normal = helpers.ffmpeg_client(streamer.urls["test"], "tcp",
                                       ["-map", "0:v", "-c", "copy", "-f", "framecrc", "-"], "ffmpeg-normal")
        streamer.finish(timeout=90)
        helpers.finish_client(normal)
    finally:
        stuck.close()
        if normal is not None:
            normal.stop()
        streamer.stop()
    received = [line for line in normal.lines if line and not line.startswith("#")]
    stats = stats_of(streamer, "test")
    print(f"per_client with a stuck client: {stats['per_client']}; "
          f"session frames_dropped {stats['frames_dropped']}")
    assert len(received) == frames, f"the reading client got {len(received)} of {frames} frames"
    entries = {c["port"]: c for c in stats["per_client"]}
    assert stuck_port in entries and len(entries) == 2, (stuck_port, stats)
    lost = entries.pop(stuck_port)["frames_dropped"]
    (other,) = entries.values()
    assert 0 < lost <= stats["frames_dropped"], stats
    assert other["frames_dropped"] == 0 and other["transport"] == "tcp" and other["playing"], other
