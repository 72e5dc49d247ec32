"""Hostile and broken clients against the real unix port and module, on 127.0.0.1.

One server (tests/python/mpy_attack_target.py) streams the bundled clip in a
loop on "test" for the whole module. Three well-behaved players watch it from
before the first frame to the end: a raw RTP-over-TCP watcher and a raw UDP
watcher (attack.py: they count frames by marker bit and check that no RTP
sequence number is missing) and ffprobe over TCP (counts decoded frames).
Then every case below attacks the same server, one after the other; after each
one a fresh OPTIONS must still be answered. At the end the streamer reports
how many frames it sent, and every watcher must have every one of them.

The server runs under valgrind's memcheck (leak and invalid-access checks; the
undefined-value check is off because MicroPython's conservative GC reads
uninitialised stack words by design): the last test also requires a clean
memcheck log. HOSTILE_VALGRIND=0 runs it bare.

`pytest -s` prints the table of cases and what the server answered.
"""

import ast
import os
import random
import re
import socket
import struct
import subprocess
import time

import pytest

import attack
import helpers
import receivers
from attack import RawConn, Reply

TARGET = helpers.TESTS / "mpy_attack_target.py"
# what mpy_attack_target.py's server uses (the module's defaults, issue 4)
MAX_CONNECTIONS = 64
MAX_CLIENTS = 32
MAX_CLIENTS_PER_SESSION = 16
# The server's cap of RTSP sessions on one connection (src/server/methods.rs).
MAX_SESSIONS_PER_CONNECTION = 4
MAX_HEAD = 8192
STUCK_TIMEOUT_S = 10
USE_VALGRIND = os.environ.get("HOSTILE_VALGRIND", "1") != "0"
# --freelist-vol: memcheck's quarantine of freed blocks (20 MB by default) would
# count in the server's RSS, which one case bounds; 1 MB still catches a use
# after a recent free.
MEMCHECK = ["valgrind", "--undef-value-errors=no", "--leak-check=full", "--freelist-vol=1000000",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99"]

OUTCOMES = []  # (case, outcome, passed)
CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


class Target:
    """The server process, its watchers, and a UDP trap on 127.0.0.2."""

    def __init__(self, port, ctl):
        self.port = port
        self.ctl = ctl
        self.valgrind_log = ctl + ".valgrind.log" if USE_VALGRIND else None
        self.proc = None
        self.watchers = {}
        self.ffprobe = None
        self.trap = []
        self.trap_port = None
        self.t0 = None

    def start(self):
        # no RTP or RTCP may ever reach 127.0.0.2: SETUPs below try to send it there
        self.trap = list(attack.udp_pair("127.0.0.2"))
        self.trap_port = self.trap[0].getsockname()[1]
        for s in self.trap:
            s.setblocking(False)
        cmd = [helpers.micropython(), str(TARGET), "--port", str(self.port), "--ctl", self.ctl,
               "--watchers", "3"]
        if self.valgrind_log:
            helpers.need_tool("valgrind")
            cmd = MEMCHECK + [f"--log-file={self.valgrind_log}"] + cmd
        self.proc = helpers.Background(cmd, "attack-target")
        self.url = self.proc.wait_line("URL test", 20).split(" ", 2)[2]
        self.watchers["tcp"] = attack.Watcher(self.port, "test", "tcp")
        self.watchers["udp"] = attack.Watcher(self.port, "test", "udp")
        self.ffprobe = helpers.ffprobe_frames(self.url, "tcp", "ffprobe-watcher")
        self.proc.wait_line("PLAYING test", 20)
        self.t0 = time.monotonic()

    def alive(self):
        return self.proc.proc.poll() is None

    def stats(self, timeout=5):
        """A STATS line printed after this call (the interpreter answers)."""
        start = len(self.proc.lines)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.proc.lines[start:]:
                if line.startswith("STATS "):
                    return ast.literal_eval(line[6:])
            assert self.alive(), f"the server exited:\n{self.proc.stderr}"
            time.sleep(0.05)
        raise AssertionError(f"no STATS line for {timeout} s: the interpreter is stuck")

    def wait_clients(self, session, want, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            st = self.stats()
            if st[session]["clients"] == want:
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"{session}: {st[session]['clients']} clients, expected {want}: {st}")

    def trap_datagrams(self):
        got = 0
        for s in self.trap:
            while True:
                try:
                    s.recv(65536)
                    got += 1
                except BlockingIOError:
                    break
        return got

    def stop(self):
        for w in self.watchers.values():
            w.stop()
        if self.ffprobe is not None:
            self.ffprobe.stop()
        if self.proc is not None:
            self.proc.stop()
        for s in self.trap:
            s.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    t = Target(helpers.free_port(), str(tmp_path_factory.mktemp("hostile") / "ctl"))
    try:
        t.start()
        yield t
    finally:
        t.stop()


def U(t, path="test"):
    return f"rtsp://127.0.0.1:{t.port}/{path}"


def raw(t, data, timeout=5):
    """Sends data on a new connection; (first reply or end, what follows it)."""
    with RawConn(t.port) as c:
        c.send(data)
        first = c.read(timeout)
        after = c.wait_end(2) if isinstance(first, Reply) else None
    return first, after


def show(first, after=None):
    text = f"{first.status}" if isinstance(first, Reply) else first
    if after is not None:
        text += {"silent": ", connection kept", "closed": ", then closed",
                 "reset": ", then closed (RST)"}[after]
    return text


def expect_status(first, statuses, what):
    assert isinstance(first, Reply), f"{what}: no reply, the connection ended as {first!r}"
    assert first.status in statuses, f"{what}: status {first.status}, expected one of {statuses}\n{first.raw_head!r}"


def expect_refused(t, data, statuses, must_close=True):
    """A malformed request: a proper status, then (for what cannot be parsed) the connection closes."""
    first, after = raw(t, data)
    expect_status(first, statuses, "reply")
    if must_close:
        assert after in ("closed", "reset"), f"connection still open after {first.status}"
    return show(first, after)


def head(t, method="OPTIONS", path="test", extra=""):
    return f"{method} {U(t, path)} RTSP/1.0\r\nCSeq: 1\r\n{extra}\r\n".encode()


# --- malformed requests ---------------------------------------------------------------

@case("no CSeq")
def _(t):
    first, after = raw(t, f"OPTIONS {U(t)} RTSP/1.0\r\n\r\n".encode())
    expect_status(first, (400,), "no CSeq")
    return show(first, after)


@case("100 KB header line")
def _(t):
    return expect_refused(t, head(t, extra="X-Big: " + "a" * 100_000 + "\r\n"), (413,))


@case("10k header lines")
def _(t):
    return expect_refused(t, head(t, extra="X-A: b\r\n" * 10_000), (413,))


@case("10k blank lines, no request")
def _(t):
    return expect_refused(t, b"\r\n" * 10_000, (413, 400))


@case("header without colon")
def _(t):
    return expect_refused(t, head(t, extra="NoColonHere\r\n"), (400,))


@case("NUL bytes in a header")
def _(t):
    return expect_refused(t, head(t, extra="X-A: b\x00c\r\n"), (400,))


@case("NUL byte in the request line")
def _(t):
    return expect_refused(t, f"OPT\x00IONS {U(t)} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode(), (400,))


@case("Content-Length -1")
def _(t):
    return expect_refused(t, head(t, extra="Content-Length: -1\r\n"), (400,))


@case("Content-Length 10^23")
def _(t):
    return expect_refused(t, head(t, extra="Content-Length: 100000000000000000000000\r\n"), (413,))


@case("Content-Length not a number")
def _(t):
    return expect_refused(t, head(t, extra="Content-Length: ten\r\n"), (400,))


@case("two different Content-Lengths")
def _(t):
    return expect_refused(t, head(t, extra="Content-Length: 1\r\nContent-Length: 2\r\n") + b"xx", (400,))


@case("body over the limit (70000 B)")
def _(t):
    return expect_refused(t, head(t, extra="Content-Length: 70000\r\n") + b"x" * 70_000, (413,))


@case("body longer than its Content-Length")
def _(t):
    # the 5 announced bytes belong to the request; the rest is taken as the next request: garbage
    with RawConn(t.port) as c:
        c.send(head(t, extra="Content-Length: 5\r\n") + b"12345" + b"\x01junk that is not RTSP\r\n\r\n")
        first, second = c.read(), c.read()
        end = c.wait_end(3)
    expect_status(first, (200,), "the request itself")
    expect_status(second, (400,), "the bytes after its body")
    assert end in ("closed", "reset"), end
    return f"{first.status}, then {second.status} for the excess, then {end}"


@case("request line without URI")
def _(t):
    return expect_refused(t, b"OPTIONS RTSP/1.0\r\nCSeq: 1\r\n\r\n", (400,))


@case("request line: method only")
def _(t):
    return expect_refused(t, b"OPTIONS\r\nCSeq: 1\r\n\r\n", (400,))


@case("HTTP request (GET / HTTP/1.1)")
def _(t):
    # GET and POST are HTTP on this port (the RTSP-over-HTTP tunnel, issue 13):
    # one that is no tunnel's gets an HTTP 400, then a close.
    with RawConn(t.port) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        c.sock.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                more = c.sock.recv(4096)
                if not more:
                    break
                data += more
        except OSError:
            pass
        end = c.wait_end(3)
    assert data.startswith(b"HTTP/1.0 400 "), data
    assert end in ("closed", "reset"), end
    return f"HTTP 400, then {end}"


@case("RTSP/2.0 version")
def _(t):
    return expect_refused(t, f"OPTIONS {U(t)} RTSP/2.0\r\nCSeq: 1\r\n\r\n".encode(), (400, 505))


@case("TLS ClientHello")
def _(t):
    rng = random.Random(1)
    hello = bytes.fromhex("16030100c4010000c00303") + bytes(rng.randrange(256) for _ in range(190))
    first, after = raw(t, hello)
    # nothing in it is an RTSP request: a 400 and a close, or a close
    if isinstance(first, Reply):
        expect_status(first, (400,), "ClientHello")
        assert after in ("closed", "reset")
    else:
        assert first in ("closed", "reset"), f"ClientHello left the connection {first}"
    return show(first, after)


@case("binary garbage x40 (seeded, 1..4096 B + CRLFCRLF)")
def _(t):
    rng = random.Random(4)
    seen = {}
    for _ in range(40):
        n = rng.randrange(1, 4097)
        blob = bytes(rng.randrange(256) for _ in range(n))
        if blob[0] == ord("$"):
            blob = b"\x00" + blob  # not an interleaved frame: that case is below
        first, after = raw(t, blob + b"\r\n\r\n")
        key = show(first, after)
        seen[key] = seen.get(key, 0) + 1
        if isinstance(first, Reply):
            expect_status(first, (400, 413), f"garbage of {n} bytes")
            assert after in ("closed", "reset")
        else:
            assert first in ("closed", "reset"), f"garbage of {n} bytes left the connection {first}"
    return "; ".join(f"{k} x{v}" for k, v in sorted(seen.items()))


@case("unknown method FOO")
def _(t):
    first, after = raw(t, head(t, "FOO"))
    expect_status(first, (501,), "FOO")
    return show(first, after)


@case("lowercase method (options)")
def _(t):
    # methods are case-sensitive (RFC 2326 6.1)
    first, after = raw(t, head(t, "options"))
    expect_status(first, (501, 400), "options")
    return show(first, after)


@case("RECORD / ANNOUNCE (not a recorder)")
def _(t):
    out = []
    for m in ("ANNOUNCE", "RECORD"):
        first, after = raw(t, head(t, m))
        expect_status(first, (501, 405, 455), m)
        out.append(f"{m} {first.status}")
    return ", ".join(out)


# --- split, pipelined, interleaved ---------------------------------------------------

@case("request split byte by byte (2 ms apart)")
def _(t):
    with RawConn(t.port) as c:
        for b in c.request_bytes("DESCRIBE", U(t), {"Accept": "application/sdp"}):
            c.send(bytes([b]))
            time.sleep(0.002)
        reply = c.read()
    expect_status(reply, (200,), "DESCRIBE sent byte by byte")
    assert b"m=video" in reply.body, reply.body
    return f"{reply.status} with the SDP"


@case("50 OPTIONS pipelined in one write")
def _(t):
    with RawConn(t.port) as c:
        c.send(b"".join(c.request_bytes("OPTIONS", U(t)) for _ in range(50)))
        cseqs = []
        for _ in range(50):
            r = c.read()
            expect_status(r, (200,), f"pipelined OPTIONS #{len(cseqs) + 1}")
            cseqs.append(int(r.headers["cseq"]))
    assert cseqs == list(range(1, 51)), cseqs
    return "50 x 200, CSeq 1..50 in order"


@case("$ frames on unknown channels before SETUP")
def _(t):
    with RawConn(t.port) as c:
        frames = b"".join(b"$" + bytes([ch]) + struct.pack(">H", 8) + b"\x80" * 8 for ch in (0, 1, 7, 99, 255))
        c.send(frames + b"$\x05\x00\x00")  # and an empty one
        r = c.request("OPTIONS", U(t))
    expect_status(r, (200,), "OPTIONS after the frames")
    return "ignored; OPTIONS on the same connection: 200"


@case("$ frames on unknown channels while playing")
def _(t):
    with RawConn(t.port) as c:
        sid, _, _ = attack.setup_play(c, "test", "RTP/AVP/TCP;unicast;interleaved=0-1")
        for ch in (0, 1, 2, 3, 9, 254):
            c.send(b"$" + bytes([ch]) + struct.pack(">H", 300) + bytes(range(256)) + b"\xff" * 44)
        r = c.request("GET_PARAMETER", U(t), {"Session": sid})
        expect_status(r, (200,), "GET_PARAMETER after the frames")
        before = len(c.rtp)
        deadline = time.monotonic() + 3
        while len(c.rtp) < before + 10 and time.monotonic() < deadline:
            c.read(0.3)
        assert len(c.rtp) >= before + 10, f"RTP stopped after the frames: {len(c.rtp) - before} packets in 3 s"
        r = c.request("TEARDOWN", U(t), {"Session": sid})
        expect_status(r, (200,), "TEARDOWN")
    return "ignored; GET_PARAMETER 200, RTP goes on, TEARDOWN 200"


@case("$ frame announcing 65535 B, then close")
def _(t):
    with RawConn(t.port) as c:
        c.send(b"$\x00\xff\xff" + b"\x80" * 1000)
    # and one that is complete at the maximum size, followed by a request
    with RawConn(t.port) as c:
        c.send(b"$\x01\xff\xff" + b"\x00" * 0xFFFF)
        r = c.request("OPTIONS", U(t))
    expect_status(r, (200,), "OPTIONS after a 65535-byte frame")
    return "partial frame dropped with the connection; a full one ignored, then 200"


# --- SETUP: Transport and reflection -----------------------------------------------

def setup_reply(t, transport, source=None, path="test/trackID=0"):
    with RawConn(t.port, source=source) as c:
        return c.request("SETUP", U(t, path), {"Transport": transport} if transport is not None else None)


@case("SETUP with bad Transport values")
def _(t):
    out = []
    for spec in ("RTP/AVP;unicast;client_port=0-1",
                 "RTP/AVP;unicast;client_port=70000-70001",
                 "RTP/AVP;unicast;client_port=65535-65536",
                 "RTP/AVP;unicast;client_port=-5--4",
                 "RTP/AVP/TCP;unicast;interleaved=300-301",
                 "RTP/AVP/TCP;unicast;interleaved=255-256",
                 "RTP/AVP;multicast",
                 "RTP/AVP;multicast;destination=224.1.2.3;port=5000-5001",
                 "RTP/AVP;unicast;client_port=5000-5001;mode=record",
                 'RTP/AVP/TCP;unicast;interleaved=0-1;mode="RECORD"',
                 "RTP/SAVP;unicast;client_port=5000-5001",
                 "garbage", "", ";;;;", "RTP/AVP;unicast;client_port=" + "9" * 400):
        r = setup_reply(t, spec)
        expect_status(r, (461, 400), f"Transport: {spec[:60]}")
        out.append(r.status)
    r = setup_reply(t, None)
    expect_status(r, (461, 400), "SETUP without Transport")
    out.append(r.status)
    return f"{len(out)} specs: " + ", ".join(f"{s} x{out.count(s)}" for s in sorted(set(out)))


@case("SETUP aimed at a third address (destination=)")
def _(t):
    trap = t.trap_port
    out = []
    for dest in ("127.0.0.2", " 127.0.0.2", "127.000.000.002", "::ffff:127.0.0.2", "localhost",
                 "127.0.0.2:%d" % trap, "0.0.0.0", "255.255.255.255"):
        spec = f"RTP/AVP;unicast;destination={dest};client_port={trap}-{trap + 1}"
        with RawConn(t.port) as c:
            r = c.request("SETUP", U(t, "test/trackID=0"), {"Transport": spec})
            expect_status(r, (461, 400), f"destination={dest}")
            out.append(r.status)
            # even if it had been accepted, nothing may play to the third address
            c.request("PLAY", U(t), {"Session": r.headers.get("session", "0").split(";")[0]})
    # the other direction: a peer at 127.0.0.2 asks for packets to 127.0.0.1
    catch_rtp, catch_rtcp = attack.udp_pair("127.0.0.1")
    try:
        port = catch_rtp.getsockname()[1]
        r = setup_reply(t, f"RTP/AVP;unicast;destination=127.0.0.1;client_port={port}-{port + 1}",
                        source="127.0.0.2")
        expect_status(r, (461, 400), "destination=127.0.0.1 from 127.0.0.2")
        out.append(r.status)
        time.sleep(0.5)
        catch_rtp.setblocking(False)
        with pytest.raises(BlockingIOError):
            catch_rtp.recv(2048)
    finally:
        catch_rtp.close()
        catch_rtcp.close()
    time.sleep(0.5)
    got = t.trap_datagrams()
    assert got == 0, f"{got} datagrams reached 127.0.0.2:{trap}"
    return f"{len(out)} spellings: all {sorted(set(out))}; nothing reached the third address"


@case("Transport alternatives: a third address first, its own second")
def _(t):
    trap = t.trap_port
    spec = (f"RTP/AVP;unicast;destination=127.0.0.2;client_port={trap}-{trap + 1},"
            f"RTP/AVP;unicast;client_port={trap}-{trap + 1}")
    with RawConn(t.port) as c:
        r = c.request("SETUP", U(t, "test/trackID=0"), {"Transport": spec})
        expect_status(r, (200, 461), "SETUP with a safe second alternative")
        if r.status == 200:
            assert "127.0.0.2" not in r.headers["transport"], r.headers["transport"]
            sid = r.headers["session"].split(";")[0]
            expect_status(c.request("PLAY", U(t), {"Session": sid}), (200,), "PLAY")
            time.sleep(1)
            expect_status(c.request("TEARDOWN", U(t), {"Session": sid}), (200,), "TEARDOWN")
    got = t.trap_datagrams()
    assert got == 0, f"{got} datagrams reached 127.0.0.2:{trap}"
    return f"{r.status}, Transport: {r.headers.get('transport', '-')[:60]}; nothing at 127.0.0.2"


@case("40 SETUPs without Session on one connection")
def _(t):
    base = t.stats()["test"]["clients"]
    statuses = []
    with RawConn(t.port) as c:
        for _ in range(40):
            r = c.request("SETUP", U(t, "test/trackID=0"), {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
            assert isinstance(r, Reply), f"SETUP #{len(statuses) + 1}: {r}"
            statuses.append(r.status)
        full = t.stats()["test"]["clients"]
    accepted = statuses.count(200)
    assert full <= MAX_CLIENTS_PER_SESSION, f"{full} clients on one session"
    # One connection may hold a few RTSP sessions, never every slot of a session.
    assert accepted == min(MAX_SESSIONS_PER_CONNECTION, MAX_CLIENTS_PER_SESSION - base), statuses
    assert set(statuses[accepted:]) == {453}, statuses
    t.wait_clients("test", base, timeout=3)
    return f"{accepted} x 200, then {40 - accepted} x 453; all freed when the connection closed"


@case("SETUP of an unknown track / session")
def _(t):
    out = []
    for path in ("test/trackID=1", "test/trackID=99999999999", "test/trackID=-1", "nope/trackID=0"):
        r = setup_reply(t, "RTP/AVP/TCP;unicast;interleaved=0-1", path=path)
        expect_status(r, (404, 400), path)
        out.append(f"{path} {r.status}")
    return ", ".join(out)


# --- sessions that are not yours ---------------------------------------------------------

@case("PLAY/PAUSE/TEARDOWN/GET_PARAMETER with forged session IDs")
def _(t):
    out = set()
    forged = ["DEADBEEF", "0", "", " ", "A" * 16, t.watchers["tcp"].session.lower(),
              t.watchers["tcp"].session[:-1] + ("0" if t.watchers["tcp"].session[-1] != "0" else "1"),
              "x" * 4000, "%00", t.watchers["tcp"].session + "0"]
    for sid in forged:
        for method in ("PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER"):
            with RawConn(t.port) as c:
                r = c.request(method, U(t), {"Session": sid})
            expect_status(r, (454, 400), f"{method} Session: {sid[:20]!r}")
            out.add(r.status)
    for method in ("PLAY", "PAUSE", "TEARDOWN"):
        with RawConn(t.port) as c:
            r = c.request(method, U(t))
        expect_status(r, (454, 400), f"{method} without Session")
    return f"{len(forged) * 4} requests: {sorted(out)}; no Session header: 454"


@case("another client's real session ID, other connection (TCP victim)")
def _(t):
    victim = t.watchers["tcp"].session
    out = []
    for method in ("PAUSE", "TEARDOWN", "PLAY", "SETUP"):
        with RawConn(t.port) as c:
            hdrs = {"Session": victim}
            if method == "SETUP":
                hdrs["Transport"] = "RTP/AVP/TCP;unicast;interleaved=0-1"
            r = c.request(method, U(t, "test/trackID=0" if method == "SETUP" else "test"), hdrs)
        expect_status(r, (454,), f"{method} with the TCP watcher's session")
        out.append(f"{method} {r.status}")
    return ", ".join(out) + " (the victim's frames are counted at the end)"


@case("another client's real session ID from another host (UDP victim)")
def _(t):
    victim = t.watchers["udp"].session
    out = []
    for method in ("PAUSE", "TEARDOWN", "PLAY"):
        with RawConn(t.port, source="127.0.0.2") as c:
            r = c.request(method, U(t), {"Session": victim})
        expect_status(r, (454,), f"{method} from 127.0.0.2 with the UDP watcher's session")
        out.append(f"{method} {r.status}")
    return ", ".join(out) + " (the victim's frames are counted at the end)"


@case("another client's real session ID, same host, other connection (UDP victim)")
def _(t):
    # a separate UDP player (not a watcher) is the victim here
    rtp, rtcp = attack.udp_pair()
    try:
        p = rtp.getsockname()[1]
        with RawConn(t.port) as victim_conn:
            sid, _, _ = attack.setup_play(victim_conn, "test", f"RTP/AVP;unicast;client_port={p}-{p + 1}")
            out = []
            for method in ("PAUSE", "TEARDOWN"):
                with RawConn(t.port) as c:
                    r = c.request(method, U(t), {"Session": sid})
                out.append(f"{method} {r.status if isinstance(r, Reply) else r}")
            r = victim_conn.request("GET_PARAMETER", U(t), {"Session": sid})
            still = isinstance(r, Reply) and r.status == 200
            victim_conn.request("TEARDOWN", U(t), {"Session": sid})
    finally:
        rtp.close()
        rtcp.close()
    assert all(o.endswith("454") for o in out) and still, (
        f"a second connection from the same host controlled a UDP client's session: {out}; "
        f"victim's own GET_PARAMETER afterwards: {r if not isinstance(r, Reply) else r.status}")
    return ", ".join(out)


# --- paths ---------------------------------------------------------------------------

@case("DESCRIBE of ../../etc/passwd and encoded paths")
def _(t):
    out = []
    for path in ("../../etc/passwd", "test/../../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                 "..%2F..%2Fetc%2Fpasswd", "%00", "te%00st", "%zz", "%", "test%", "/etc/passwd",
                 "test?x=../../etc/passwd"):
        with RawConn(t.port) as c:
            r = c.request("DESCRIBE", U(t, path))
        if path.startswith("test?"):
            expect_status(r, (200, 404, 400), path)
        else:
            expect_status(r, (404, 400), path)
        assert b"root:" not in r.body
        out.append(r.status)
    with RawConn(t.port) as c:
        r = c.request("DESCRIBE", U(t, "%74est"))  # "test" with an encoded unreserved byte
    expect_status(r, (200, 404), "%74est")
    return f"traversal/encoded: {sorted(set(out))}; %74est: {r.status}"


@case("extremely long URI (7 KB, 10 KB, 20 KB, 1 MB)")
def _(t):
    with RawConn(t.port) as c:
        r = c.request("DESCRIBE", U(t, "a" * 7000))
    expect_status(r, (404, 414), "7 KB URI")
    out = [f"7 KB {r.status}"]
    for size in (10_000, 20_000, 1_000_000):
        first, after = raw(t, head(t, "DESCRIBE", "a" * size))
        # RFC 2326 7.1.1: 414 for a request URI over the server's limit (the head's 8 KB here).
        expect_status(first, (414,), f"{size} B URI")
        assert after in ("closed", "reset")
        out.append(f"{size // 1000} KB {show(first, after)}")
    return ", ".join(out)


# --- connections that misbehave ------------------------------------------------------------

@case("half-open connection (shutdown of the write side)")
def _(t):
    with RawConn(t.port) as c:
        c.send(c.request_bytes("OPTIONS", U(t)))
        c.sock.shutdown(socket.SHUT_WR)
        first = c.read(5)
        end = c.wait_end(5) if isinstance(first, Reply) else first
    assert end in ("closed", "reset"), f"half-open connection kept by the server: {end}"
    if isinstance(first, Reply):
        expect_status(first, (200,), "OPTIONS before the half-close")
    return show(first, end)


@case("connect, send half a request, RST (SO_LINGER 0)")
def _(t):
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", t.port), timeout=5)
        s.sendall(head(t)[:20])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    return "20 x RST; the server goes on"


@case("RST while playing over TCP ends the session at once")
def _(t):
    base = t.stats()["test"]["clients"]
    s_conn = RawConn(t.port)
    attack.setup_play(s_conn, "test", "RTP/AVP/TCP;unicast;interleaved=0-1")
    t.wait_clients("test", base + 1)
    s_conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s_conn.close()
    began = time.monotonic()
    t.wait_clients("test", base, timeout=3)
    return f"client freed in {time.monotonic() - began:.1f} s (stats clients {base + 1} -> {base})"


@case(f"clients over the limits ({MAX_CLIENTS_PER_SESSION}/session: 453, {MAX_CLIENTS}/server: 503)")
def _(t):
    base = t.stats()
    conns = []
    try:
        def setup(path):
            c = RawConn(t.port)
            conns.append(c)
            return c.request("SETUP", U(t, f"{path}/trackID=0"), {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        for _ in range(MAX_CLIENTS_PER_SESSION - base["fast"]["clients"]):
            expect_status(setup("fast"), (200,), "SETUP within the session limit")
        over_session = setup("fast")
        expect_status(over_session, (453,), "SETUP past the per-session limit")
        for _ in range(MAX_CLIENTS - MAX_CLIENTS_PER_SESSION - base["test"]["clients"]):
            expect_status(setup("test"), (200,), "SETUP within the server limit")
        over_server = setup("test")
        expect_status(over_server, (503,), "SETUP past the server limit")
        full = t.stats()
    finally:
        for c in conns:
            c.close()
    t.wait_clients("test", base["test"]["clients"])
    t.wait_clients("fast", base["fast"]["clients"])
    return (f"{full['all']['clients']} clients: next on 'fast' {over_session.status}, next on 'test' "
            f"{over_server.status}; all freed on close")


@case("100 idle connections that send nothing")
def _(t):
    idle = []
    try:
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", t.port), timeout=5)
            idle.append(s)
        time.sleep(0.5)
        # a newcomer still gets in (the oldest idle connections make room) and plays
        with RawConn(t.port) as c:
            sid, _, _ = attack.setup_play(c, "test", "RTP/AVP/TCP;unicast;interleaved=0-1")
            deadline = time.monotonic() + 5
            while sum(m for _, m in c.rtp) < 10 and time.monotonic() < deadline:
                c.read(0.3)
            frames = sum(m for _, m in c.rtp)
            assert frames >= 10, f"the newcomer got {frames} frames in 5 s"
            c.request("TEARDOWN", U(t), {"Session": sid})
        closed = 0
        for s in idle:
            s.setblocking(False)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed += 1
    finally:
        for s in idle:
            s.close()
    still_open = 100 - closed
    assert still_open <= MAX_CONNECTIONS, f"{still_open} idle connections kept, over the limit {MAX_CONNECTIONS}"
    return f"{closed} of 100 evicted by the server; newcomer played ({frames} frames)"


@case("500 connect/disconnect cycles")
def _(t):
    began = time.monotonic()
    rng = random.Random(5)
    for i in range(500):
        s = socket.create_connection(("127.0.0.1", t.port), timeout=5)
        kind = i % 4
        if kind == 1:
            s.sendall(head(t)[:rng.randrange(1, 30)])
        elif kind == 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif kind == 3:
            s.sendall(head(t))  # and leave before the answer
        s.close()
        assert time.monotonic() - began < 60, f"only {i} cycles in 60 s"
    took = time.monotonic() - began
    with RawConn(t.port) as c:
        r = c.request("DESCRIBE", U(t))
    expect_status(r, (200,), "DESCRIBE after the cycles")
    return f"500 cycles in {took:.1f} s; DESCRIBE then: {r.status}"


@case("UDP flood at the server's RTP/RTCP ports (10k datagrams)")
def _(t):
    rtp, rtcp = attack.udp_pair()
    try:
        p = rtp.getsockname()[1]
        with RawConn(t.port) as c:
            r = c.request("SETUP", U(t, "test/trackID=0"), {"Transport": f"RTP/AVP;unicast;client_port={p}-{p + 1}"})
            expect_status(r, (200,), "UDP SETUP")
            tr = r.headers["transport"]
            server_ports = [int(x) for x in tr.split("server_port=")[1].split(";")[0].split("-")]
            c.request("TEARDOWN", U(t), {"Session": r.headers["session"].split(";")[0]})
    finally:
        rtp.close()
        rtcp.close()
    rng = random.Random(6)
    flood = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    began = time.monotonic()
    try:
        for i in range(10_000):
            kind = i % 5
            if kind == 0:
                data = b""
            elif kind == 1:  # a plausible RTCP receiver report header with garbage inside
                data = b"\x81\xc9" + struct.pack(">H", rng.randrange(65536)) + bytes(rng.randrange(256) for _ in range(28))
            elif kind == 2:  # BYE with an absurd length
                data = b"\x81\xcb\xff\xff" + b"\x00" * 8
            else:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 1400)))
            try:
                flood.sendto(data, ("127.0.0.1", server_ports[i % 2]))
            except OSError:
                time.sleep(0.001)
            if i % 500 == 0:
                time.sleep(0.005)
    finally:
        flood.close()
    took = time.monotonic() - began
    t.stats()
    return f"10000 datagrams to {server_ports} in {took:.1f} s; stats answered"


# --- replies nobody reads ------------------------------------------------------------------

REPLY_BACKLOG_LIMIT_KB = 16 * 1024  # what one connection may make the server hold (its media queue: 4 MB)


@case("80000 pipelined DESCRIBEs, no reply ever read: server memory bounded")
def _(t):
    pid = t.proc.proc.pid
    req = f"DESCRIBE {U(t)} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
    batch = req * 1000
    start = peak = attack.rss_kb(pid)
    sent = 0
    ended = "all sent"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", t.port))
    s.settimeout(5)
    try:
        for _ in range(80):
            try:
                s.sendall(batch)
            except socket.timeout:
                ended = "server stopped reading"
                break
            except OSError as e:
                ended = f"server closed ({e.__class__.__name__})"
                break
            sent += len(batch)
            peak = max(peak, attack.rss_kb(pid))
        time.sleep(1)
        peak = max(peak, attack.rss_kb(pid))
    finally:
        s.close()
    growth = peak - start
    replies_mb = sent // len(req) * 700 / 1e6  # a DESCRIBE reply is ~700 bytes
    assert growth < REPLY_BACKLOG_LIMIT_KB, (
        f"{sent // len(req)} DESCRIBEs ({sent / 1e6:.1f} MB) sent without reading a reply "
        f"(~{replies_mb:.0f} MB of replies): server RSS grew {growth / 1024:.0f} MB "
        f"({start / 1024:.0f} -> {peak / 1024:.0f} MB)")
    return f"{sent / 1e6:.1f} MB of requests, {ended}; RSS +{growth / 1024:.1f} MB"


@case("bad request behind unread replies: the connection is still released")
def _(t):
    pid = t.proc.proc.pid
    req = f"DESCRIBE {U(t)} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode()
    before = attack.socket_fds(pid)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", t.port))
    s.settimeout(10)
    try:
        # the server's socket for this connection: the one that appears now
        deadline = time.monotonic() + 3
        while not (attack.socket_fds(pid) - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        ours = attack.socket_fds(pid) - before
        assert ours, "the server never accepted the connection"
        try:
            # ~14 MB of replies the peer never reads (far more than the kernel's buffers), then garbage
            s.sendall(req * 20_000 + b"\x00 not RTSP\r\n\r\n")
        except OSError:
            pass  # the server stopped reading or closed: either is fine
        began = time.monotonic()
        while ours & attack.socket_fds(pid) and time.monotonic() - began < 15:
            time.sleep(0.5)
        held = bool(ours & attack.socket_fds(pid))
        took = time.monotonic() - began
    finally:
        s.close()
    assert not held, (f"the server still holds the connection {took:.0f} s after a request it refused, "
                      "because the peer does not read the replies queued before it")
    return f"released after {took:.1f} s"


# --- a reader that stops reading -------------------------------------------------------

@case("one client stops reading while 5 others stream")
def _(t):
    frames = 150 * 90  # 15 MB of video: far past the 4 MB a stuck connection may hold
    readers = [attack.Watcher(t.port, "fast", "tcp", expect=frames, quiet=20, name=f"fast-reader-{i}")
               for i in range(5)]
    stuck = RawConn(t.port, rcvbuf=4096)
    try:
        attack.setup_play(stuck, "fast", "RTP/AVP/TCP;unicast;interleaved=0-1")
        t.wait_clients("fast", 6)
        # from here on `stuck` never reads
        with open(t.ctl + ".fast.tmp", "w") as f:
            f.write(f"{frames} 500\n")
        os.rename(t.ctl + ".fast.tmp", t.ctl + ".fast")
        t.proc.wait_line("FAST-SENT", 90)
        results = [r.result(60) for r in readers]
        for i, res in enumerate(results):
            assert res["frames"] == frames and res["gaps"] == 0 and res["disorder"] == 0, (
                f"reader {i} lost frames while one client was stuck: {res}")
        # the stuck one is dropped (its connection closed) within the stuck timeout
        st = t.wait_clients("fast", 0, timeout=STUCK_TIMEOUT_S + 10)
        end = stuck.wait_end(10)
        assert end in ("closed", "reset"), f"the stuck connection was not closed: {end}"
    finally:
        stuck.close()
        for r in readers:
            r.stop()
    dropped = st["fast"]["frames_dropped"]
    assert dropped > 0, f"the stuck client was never cut back: {st['fast']}"
    return (f"5 readers: {frames} frames each, no gap; stuck one cut back ({dropped} frames dropped, "
            f"{st['fast']['keyframe_waits']} keyframe waits) and closed")


# --- the run ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [name for name, _ in CASES])
def test_hostile_case(target, name):
    fn = dict(CASES)[name]
    try:
        outcome = fn(target)
        # after each case: the server process lives and answers a new connection
        assert target.alive(), f"the server exited: {target.proc.stderr}"
        with RawConn(target.port) as c:
            r = c.request("OPTIONS", U(target), timeout=5)
        expect_status(r, (200,), "OPTIONS after the case")
    except BaseException as e:
        OUTCOMES.append((name, f"FAILED: {str(e).splitlines()[0] if str(e) else type(e).__name__}", False))
        raise
    OUTCOMES.append((name, outcome, True))


def test_every_watcher_got_every_frame_through_all_cases(target):
    """Runs last: stops the stream and compares what was sent with what arrived."""
    stats_before = target.stats()
    open(target.ctl + ".stop", "w").close()
    sent = int(target.proc.wait_line("SENT test", 10).split()[2])
    target.proc.wait_line("DONE", 20)
    code = target.proc.wait(10)
    elapsed = time.monotonic() - target.t0
    results = {k: w.result(30) for k, w in target.watchers.items()}
    helpers.finish_client(target.ffprobe, 30)
    decoded = len(helpers.parse_frames(target.ffprobe))
    trapped = target.trap_datagrams()

    width = max(len(n) for n, _, _ in OUTCOMES) if OUTCOMES else 10
    print(f"\n{'case':<{width}} | ok | outcome")
    for name, outcome, passed in OUTCOMES:
        print(f"{name:<{width}} | {'ok' if passed else 'NO'} | {outcome}")
    print(f"\nframes sent on 'test' during the run: {sent} in {elapsed:.0f} s")
    for k, res in results.items():
        print(f"watcher {k}: {res['frames']} frames, {res['packets']} packets, {res['gaps']} missing, "
              f"{res['disorder']} out of order, BYE {res['bye']}, ended: {res['end']}")
    print(f"ffprobe over TCP: {decoded} frames decoded")
    print(f"datagrams at the 127.0.0.2 trap: {trapped}")
    print(f"last stats: {stats_before['all']}")
    memcheck = ""
    if target.valgrind_log:
        memcheck = open(target.valgrind_log).read()
        for line in memcheck.splitlines():
            if re.search(r"in use at exit|definitely lost|indirectly lost|ERROR SUMMARY", line):
                print("server under valgrind: " + line.split("== ", 1)[-1])

    if target.valgrind_log:
        assert "ERROR SUMMARY: 0 errors" in memcheck, f"memcheck found errors in the server:\n{memcheck[-6000:]}"
    assert code == 0, f"the server script exited with {code}\n{target.proc.stdout[-2000:]}\n{target.proc.stderr}"
    # the producer kept its 30 fps pace through every case (never slowed by a client)
    assert sent >= 0.9 * 30 * (elapsed - 2), f"{sent} frames in {elapsed:.0f} s: the producer stalled"
    for k, res in results.items():
        assert res["end"] == "server closed", f"watcher {k}: {res}"
        assert res["frames"] == sent, f"watcher {k} got {res['frames']} of {sent} frames: {res}"
        assert res["gaps"] == 0 and res["disorder"] == 0, f"watcher {k}: {res}"
        assert res["first_seq"] == res["rtp_info_seq"], f"watcher {k}: {res}"
    assert decoded == sent, f"ffprobe decoded {decoded} of {sent} frames\n{target.ffprobe.stderr[-2000:]}"
    assert trapped == 0, f"{trapped} datagrams reached 127.0.0.2"


# --- hostile receiving servers against the pusher (mm.rtsp_pusher) ------------------------
#
# The servers are receivers.py's fakes (and a few more below) in this process;
# one micropython process, under memcheck like the server above (HOSTILE_VALGRIND=0:
# bare), opens a pusher against each in turn: `open` must give its negative errno
# within the pusher's timeout. Then, in the same process, a push to a good
# receiver (receivers.RecorderServer) must work: every access unit pushed before
# `close` arrives.

PUSHER_TIMEOUT_S = 2
EPROTO, ENOENT, ETIMEDOUT, ECONNRESET = 71, 2, 110, 104
PUSHER_FRAMES = 8


class _HostileServer(receivers.FakeRtspServer):
    """A fake receiving server whose every connection is `behave(self, conn)`."""

    def __init__(self, behave, **kw):
        self.behave = behave
        super().__init__(**kw)

    def handle(self, conn):
        self.behave(self, conn)

    def send_bounded(self, conn, chunks):
        """Sends chunks until the peer goes away, close() or the deadline."""
        for chunk in chunks:
            if self._stop.is_set() or time.monotonic() > self._deadline:
                return
            try:
                conn.sendall(chunk)
            except OSError:
                return


def _options_ok(req):
    return receivers.response(req, 200, "OK", receivers.OPTIONS_HEADERS)


def _huge_content_length(srv, conn):
    for req in srv.requests_of(conn):
        conn.sendall(b"RTSP/1.0 200 OK\r\nCSeq: %s\r\nContent-Length: 999999999\r\n\r\n"
                     % req.headers.get("cseq", "0").encode())
        srv.hold(conn)
        return


def _endless_header(srv, conn):
    for req in srv.requests_of(conn):
        head = b"RTSP/1.0 200 OK\r\nCSeq: %s\r\nX-Endless: " % req.headers.get("cseq", "0").encode()
        srv.send_bounded(conn, [head] + [b"a" * 65536] * 64)  # 4 MB at most, no line end
        return


def _dollar_flood(srv, conn):
    # OPTIONS answered with 1 MB of interleaved frames (which the pusher skips), then nothing
    for req in srv.requests_of(conn):
        frame = b"$\x01\xff\xff" + bytes(65535)
        srv.send_bounded(conn, [frame] * 16)
        srv.hold(conn)
        return


def _byte_by_byte_404(srv, conn):
    # every reply one byte at a time: OPTIONS 200, ANNOUNCE 404
    for req in srv.requests_of(conn):
        data = _options_ok(req) if req.method == "OPTIONS" else receivers.response(req, 404, "Not Found")
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            time.sleep(0.001)


def _never_answers_record(srv, conn):
    for req in srv.requests_of(conn):
        if req.method == "OPTIONS":
            conn.sendall(_options_ok(req))
        elif req.method == "ANNOUNCE":
            conn.sendall(receivers.response(req, 200, "OK"))
        elif req.method == "SETUP":
            conn.sendall(receivers.response(req, 200, "OK", {"Session": "77;timeout=60",
                                                              "Transport": req.headers["transport"]}))
        # RECORD: no answer; the connection stays open


def _close_mid_reply(srv, conn):
    for req in srv.requests_of(conn):
        conn.sendall(_options_ok(req)[:30])
        return  # closed inside the reply


# (name, server factory, the errno `open` must give)
PUSHER_CASES = [
    ("garbage", lambda: receivers.GarbageServer(deadline=120), EPROTO),
    ("huge Content-Length", lambda: _HostileServer(_huge_content_length, deadline=120), EPROTO),
    ("endless header", lambda: _HostileServer(_endless_header, deadline=120), EPROTO),
    ("1 MB of $ frames, then silence", lambda: _HostileServer(_dollar_flood, deadline=120), ETIMEDOUT),
    ("replies byte by byte, 404", lambda: _HostileServer(_byte_by_byte_404, deadline=120), ENOENT),
    ("never answers RECORD", lambda: _HostileServer(_never_answers_record, deadline=120), ETIMEDOUT),
    ("closes mid-reply", lambda: _HostileServer(_close_mid_reply, deadline=120), ECONNRESET),
    ("closes after OPTIONS", lambda: receivers.CloseAfterOptionsServer(deadline=120), ECONNRESET),
]

PUSHER_SCRIPT = r'''
import os, sys, time
sys.path.append(HOST)
import annexb, multimedia as mm
with open(CLIP, "rb") as f:
    AUS = annexb.access_units(f.read())[:FRAMES]
start_fds = len(os.listdir("/proc/self/fd"))
for name, url in CASES:
    p = mm.rtsp_pusher()
    assert p.rtsppusher_init(320, 240, url, timeout=TIMEOUT) == 0
    t = time.ticks_ms()
    ret = p.rtsppusher_open()
    took = time.ticks_diff(time.ticks_ms(), t)
    print("CASE", repr((name, ret, took, p.rtsppusher_getstats()["state"])))
    p.rtsppusher_destroy()
p = mm.rtsp_pusher()
assert p.rtsppusher_init(320, 240, GOOD, timeout=5) == 0
ret = p.rtsppusher_open()
pushed = 0
if ret == 0:
    for k, au in enumerate(AUS):
        pushed += p.rtsppusher_pushvideodata(au, len(au), 1 if k == 0 else 0, k * 33333) == 0
p.rtsppusher_close()                  # at once: what was pushed still goes out first
p.rtsppusher_deinit()
p.rtsppusher_destroy()
print("GOOD", ret, pushed)
print("FDS", start_fds, len(os.listdir("/proc/self/fd")))
'''


def test_pusher_against_hostile_servers(tmp_path):
    """Each hostile receiving server makes `open` return its negative errno
    within the timeout; the interpreter goes on, and a push to a good
    receiver in the same process then delivers every access unit."""
    servers = [(name, make(), want) for name, make, want in PUSHER_CASES]
    good = receivers.RecorderServer(deadline=120)
    try:
        cases = [(name, srv.url()) for name, srv, _ in servers]
        script = tmp_path / "pusher_hostile.py"
        script.write_text(f"HOST = {str(helpers.HOST_EXAMPLES)!r}\nCLIP = {str(helpers.CLIP)!r}\n"
                          f"CASES = {cases!r}\nGOOD = {good.url()!r}\nTIMEOUT = {PUSHER_TIMEOUT_S}\n"
                          f"FRAMES = {PUSHER_FRAMES}\n" + PUSHER_SCRIPT)
        cmd = [helpers.micropython(), str(script)]
        log = tmp_path / "valgrind.log"
        if USE_VALGRIND:
            helpers.need_tool("valgrind")
            cmd = MEMCHECK + [f"--log-file={log}"] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        results = {}
        for line in proc.stdout.splitlines():
            if line.startswith("CASE "):
                name, ret, took, state = ast.literal_eval(line[5:])
                results[name] = (ret, took, state)
        print(f"\n{'hostile receiving server':<32} | open | ms    | state after")
        for name, _, want in servers:
            ret, took, state = results.get(name, (None, None, None))
            print(f"{name:<32} | {ret} | {took} | {state} (want -{want})")
        memcheck = log.read_text() if USE_VALGRIND else ""
        for line in memcheck.splitlines():
            if re.search(r"in use at exit|definitely lost|indirectly lost|ERROR SUMMARY", line):
                print("pusher under valgrind: " + line.split("== ", 1)[-1])
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        for name, _, want in servers:
            ret, took, state = results[name]
            assert ret == -want, f"{name}: open gave {ret}, want -{want}"
            # within the timeout (a little more under valgrind), and not left connecting
            assert took <= PUSHER_TIMEOUT_S * 1000 + 1500, f"{name}: open took {took} ms"
            assert state == "ready", f"{name}: state {state} after a failed open"
        good_line = next(line for line in proc.stdout.splitlines() if line.startswith("GOOD"))
        _, ret, pushed = good_line.split()
        assert (int(ret), int(pushed)) == (0, PUSHER_FRAMES), good_line
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(good.h264_access_units()) < PUSHER_FRAMES:
            time.sleep(0.05)
        got = len(good.h264_access_units())
        print(f"good receiver after the hostile ones: {got} of {PUSHER_FRAMES} access units, "
              f"requests {good.methods()}")
        assert got == PUSHER_FRAMES, f"{got} of {PUSHER_FRAMES} access units arrived"
        fds_line = next(line for line in proc.stdout.splitlines() if line.startswith("FDS"))
        _, before, after = fds_line.split()
        assert before == after, f"descriptors: {before} before the pushers, {after} after"
        if USE_VALGRIND:
            # (leaks count as errors: MEMCHECK's --errors-for-leak-kinds, and exit 99 above)
            assert "ERROR SUMMARY: 0 errors" in memcheck, memcheck[-6000:]
    finally:
        for _, srv, _ in servers:
            srv.close()
        good.close()
