"""Leaks: servers made, run with clients attached and torn down many times in
the real unix port, under valgrind's memcheck.

MicroPython's own objects live in its GC heap (one block malloc'd at start,
"still reachable" at exit), so every block valgrind calls definitely or
indirectly lost is the module's (the Rust library's malloc or the shim's); and
since every server is freed before exit, the GC heap must be the only block
left. File descriptors are counted from inside the script (/proc/self/fd)
before the first server and after the last one.

All 200 cycles run under valgrind (they take a few seconds: the clips are
short and the players read only what they need), and once more natively for
the fd count without valgrind's own descriptors. Times and figures are printed
(`pytest -s`). The players are MicroPython sockets in the same script (the RTSP
client is mpy_rtsp_client.py, which test_api's back-channel talker uses too): each
cycle a TCP-interleaved player (also on the audio track every third cycle) and
a UDP player SETUP and PLAY, and each gets packets before the server is torn
down under them, in one of four ways (stop+deinit, deinit, destroysession+stop+
deinit, destroy).

RTSP over HTTP: 100 cycles of init with http_port, two tunnelled players (one
on each port) and three half-made tunnels, torn down the same ways (one player
also leaves by itself while the server runs), natively and under valgrind.

The ONVIF audio back channel: 100 cycles of createsession(backchannel=True),
a raw talker over TCP interleaved or UDP whose audio the script reads back
exactly (some left unread), the talker leaving by TEARDOWN, by closing, or
closed by destroysession, natively and under valgrind.
"""

import re
import subprocess
import time

import pytest

import helpers

CYCLES = 200
GC_CYCLES = 50
DESTROY_CYCLES = 50
VALGRIND_BUDGET_S = 240  # any one run under valgrind (the 200 cycles take a few seconds)
HEAP = "64M"  # MicroPython's heap: the GC-less scripts never reuse memory

VALGRIND = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99", "--num-callers=30"]

# Shared by every script: the tiny RTSP client (mpy_rtsp_client.py), fd counting.
PRELUDE = r'''
import gc, os, sys, time, socket, select
sys.path.append(HOST)
sys.path.append(TESTS)
import annexb, multimedia as mm
from mpy_rtsp_client import Player, addr

with open(CLIP, "rb") as f:
    AUS = annexb.access_units(f.read())[:8]   # an IDR and the P frames after it

def fds():
    return len(os.listdir("/proc/self/fd"))

# The GC is conservative: a stale copy of an object's address on the C stack
# keeps it alive, so the stack is scrubbed before collecting.
def scrub_stack(n):
    return 0 if n == 0 else scrub_stack(n - 1) + 1

def collect():
    scrub_stack(50)
    gc.collect()

# What every script prints for check_run: the fds at start, a line every so many
# cycles, then the peak (where counted), the fds at the end and the time taken.
def fds_start():
    n = fds()
    print("FDS-START", n)
    return n

def progress(cycle, every, t0):
    if cycle % every == every - 1:
        print("CYCLE", cycle + 1, "fds", fds(), "ms", time.ticks_diff(time.ticks_ms(), t0))

def finish(t0, peak=None):
    if peak is not None:
        print("FDS-PEAK", peak)
    print("FDS-END", fds())
    print("CYCLES", CYCLES, "ms", time.ticks_diff(time.ticks_ms(), t0))

def udp_player(port, rtp_port, path):
    """A UDP player: its RTSP connection, its RTP and RTCP sockets."""
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(addr(rtp_port))
    rtp.settimeout(20)
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind(addr(rtp_port + 1))
    ctl = Player(port)
    ctl.play(path, "RTP/AVP;unicast;client_port=%d-%d" % (rtp_port, rtp_port + 1))
    return ctl, rtp, rtcp

def send_frames(s, name, count=len(AUS)):
    for k in range(count):
        au = AUS[k % len(AUS)]
        ret = s.rtspserver_sendvideodata(name, au, len(au), k * 33333)
        assert ret == 0, ("send", ret)
'''

# init/start/stream/stop/deinit with a TCP and a UDP player attached, CYCLES times.
# The GC stays off (no conservative stack scan for memcheck to flag): every
# object is freed by an explicit call, as a script on the board would.
CYCLE_SCRIPT = PRELUDE + r"""
gc.disable()
with open(TONE, "rb") as f:
    TONE_CHUNK = f.read(160)
start_fds = fds_start()
s = mm.rtsp_server()
peak = start_fds
t0 = time.ticks_ms()
for cycle in range(CYCLES):
    ret = s.rtspserver_init(PORT)
    assert ret == 0, ("init", cycle, ret)
    audio = cycle % 3 == 1
    assert s.rtspserver_createsession("cam", 0, audio) == 0
    s.rtspserver_start()
    tcp = Player(PORT)
    sid = tcp.play("cam", "RTP/AVP/TCP;unicast;interleaved=0-1")
    if audio:
        status, _, _ = tcp.request("SETUP", "cam/trackID=1",
                                [("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"), ("Session", sid)])
        assert status == 200, ("SETUP audio", status)
    ctl, rtp, rtcp = udp_player(PORT, UDP_PORT, "cam")
    # two more connections the teardown must free: half a request buffered, and
    # replies queued that are never read
    half = socket.socket()
    half.connect(addr(PORT))
    half.send(b"DESCRIBE rtsp://127.0.0.1/cam RTSP/1.0\r\nCSeq: 1\r\nAcc")
    unread = socket.socket()
    unread.connect(addr(PORT))
    unread.send(b"DESCRIBE rtsp://127.0.0.1/cam RTSP/1.0\r\nCSeq: 1\r\n\r\n" * 50)
    send_frames(s, "cam")
    if audio:
        for k in range(5):
            assert s.rtspserver_sendaudiodata("cam", TONE_CHUNK, len(TONE_CHUNK), k * 20000) == 0
    tcp.wait_frames(len(AUS))
    for _ in range(3):
        rtp.recv(2048)
    peak = max(peak, fds())
    if cycle == 0:
        print("FIRST-CYCLE tcp rtp", tcp.rtp, "frames", tcp.markers)
    # torn down with both players still attached, in each of the ways a script may
    end = cycle % 4
    if end == 0:
        s.rtspserver_stop()
        s.rtspserver_deinit()
    elif end == 1:
        s.rtspserver_deinit()                       # deinit stops a running server itself
    elif end == 2:
        assert s.rtspserver_destroysession("cam") == 0
        s.rtspserver_stop()
        s.rtspserver_deinit()
    else:
        assert s.rtspserver_destroy() == 0          # everything at once, then a new object
        s = mm.rtsp_server()
    for sock in (tcp, ctl, rtp, rtcp, half, unread):
        sock.close()
    progress(cycle, 50, t0)
assert s.rtspserver_destroy() == 0
finish(t0, peak)
"""

# Running servers with a playing client, dropped and collected. The GC is
# conservative: a stale copy of the object's address on the C stack keeps it
# alive, so the stack is scrubbed and the collection retried (bounded).
GC_SCRIPT = PRELUDE + r"""
def running_server_with_player():
    s = mm.rtsp_server()
    ret = s.rtspserver_init(PORT)     # the port of the collected server is free again
    if ret != 0:
        return None, ret
    s.rtspserver_createsession("cam", 0, False)
    s.rtspserver_start()
    p = Player(PORT)
    p.play("cam", "RTP/AVP/TCP;unicast;interleaved=0-1")
    send_frames(s, "cam")
    p.wait_frames(len(AUS))
    return p, 0

start_fds = fds_start()
t0 = time.ticks_ms()
retries = 0
for cycle in range(CYCLES):
    for attempt in range(20):
        p, ret = running_server_with_player()
        if p is not None:
            break
        retries += 1
        collect()
        time.sleep_ms(20)
    assert p is not None, ("init after collection", cycle, ret)
    # collecting the server closes the player's connection
    closed = False
    for attempt in range(10):
        collect()
        p.sock.settimeout(0.5)
        try:
            while True:
                p.frame_or_reply()
        except OSError as e:
            if str(e) == "closed" or (e.args and e.args[0] == 104):
                closed = True
                break
        retries += 1
    assert closed, ("player still connected after collecting its server", cycle)
    p.close()
    p = None
for _ in range(5):
    collect()
print("GC-RETRIES", retries)
finish(t0)
"""

# destroy from the main thread while another thread keeps sending, players attached.
DESTROY_SCRIPT = PRELUDE + r'''
import _thread
gc.disable()

state = {"run": False, "sent": 0, "errors": 0, "done": True}

def producer(s):
    k = 0
    while state["run"]:
        au = AUS[k % len(AUS)]
        try:
            ret = s.rtspserver_sendvideodata("cam", au, len(au), k * 33333)
        except OSError:
            ret = -1
        if ret == 0:
            state["sent"] += 1
        else:
            state["errors"] += 1
        k += 1
        # A camera's pace is frames per second, not a spin: under valgrind, which runs
        # one thread at a time, a spinning producer can starve the player it is tested with.
        time.sleep_ms(2)
    state["done"] = True

start_fds = fds_start()
t0 = time.ticks_ms()
for cycle in range(CYCLES):
    s = mm.rtsp_server()
    assert s.rtspserver_init(PORT) == 0
    s.rtspserver_createsession("cam", 0, False)
    s.rtspserver_start()
    tcp = Player(PORT)
    tcp.play("cam", "RTP/AVP/TCP;unicast;interleaved=0-1")
    ctl, rtp, rtcp = udp_player(PORT, UDP_PORT, "cam")
    state["run"] = True
    state["done"] = False
    _thread.start_new_thread(producer, (s,))
    tcp.wait_frames(3)
    rtp.recv(2048)
    refused = state["errors"]
    assert s.rtspserver_destroy() == 0   # frames in flight, both players attached
    # the producer goes on calling into the destroyed server for a while
    t1 = time.ticks_ms()
    while state["errors"] < refused + 3:
        assert time.ticks_diff(time.ticks_ms(), t1) < 10000, "producer stopped"
        time.sleep_ms(1)
    state["run"] = False
    while not state["done"]:
        time.sleep_ms(1)
    for sock in (tcp, ctl, rtp, rtcp):
        sock.close()
# the last producer thread has returned; let it finish exiting (a detached
# MicroPython thread still exiting at interpreter exit leaves its TLS block behind)
time.sleep_ms(300)
print("SENT", state["sent"], "REFUSED", state["errors"])
finish(t0)
'''


# RTSP over HTTP (issue 13): each cycle init with http_port, tunnelled players
# (a GET for replies and media, a POST for base64 requests, joined by a
# cookie) on the RTSP port and on http_port, plus the half-made tunnels a
# network leaves (a GET that never POSTs, a POST whose GET never came, a POST
# cut mid-request); one player leaves by itself (POST, then GET closed) while
# the server runs, the rest are torn down under the server as CYCLE_SCRIPT does.
TUNNEL_SCRIPT = PRELUDE + r"""
import binascii
gc.disable()

class TunnelPlayer(Player):
    def __init__(self, port, cookie):
        Player.__init__(self, port)
        self.sock.send(("GET /cam HTTP/1.0\r\nx-sessioncookie: %s\r\n"
                        "Accept: application/x-rtsp-tunnelled\r\n\r\n" % cookie).encode())
        while self.buf.find(b"\r\n\r\n") < 0:
            self.fill()
        assert self.buf.startswith(b"HTTP/1.0 200 OK"), self.buf[:40]
        self.buf = self.buf[self.buf.find(b"\r\n\r\n") + 4:]
        self.post = socket.socket()
        self.post.connect(addr(port))
        self.post.send(("POST /cam HTTP/1.0\r\nx-sessioncookie: %s\r\n"
                        "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n"
                        % cookie).encode())
        self.get = self.sock
        self.sock = self        # Player's requests go up the POST, replies and media come down the GET

    def send(self, data):
        self.post.send(binascii.b2a_base64(data)[:-1])

    def recv(self, n):
        return self.get.recv(n)

    def close(self):
        self.post.close()
        self.get.close()

start_fds = fds_start()
s = mm.rtsp_server()
peak = start_fds
t0 = time.ticks_ms()
for cycle in range(CYCLES):
    ret = s.rtspserver_init(PORT, http_port=HTTP_PORT)
    assert ret == 0, ("init", cycle, ret)
    assert s.rtspserver_createsession("cam", 0, False) == 0
    s.rtspserver_start()
    a = TunnelPlayer(PORT, "a%d" % cycle)
    a.play("cam", "RTP/AVP/TCP;unicast;interleaved=0-1")
    b = TunnelPlayer(HTTP_PORT, "b%d" % cycle)
    b.play("cam", "RTP/AVP/TCP;unicast;interleaved=0-1")
    # half-made tunnels the teardown must free
    idle_get = socket.socket()
    idle_get.connect(addr(HTTP_PORT))
    idle_get.send(b"GET /cam HTTP/1.0\r\nx-sessioncookie: idle%d\r\n\r\n" % cycle)
    lone_post = socket.socket()
    lone_post.connect(addr(PORT))
    lone_post.send(b"POST /cam HTTP/1.0\r\nx-sessioncookie: none%d\r\nContent-Length: 32767\r\n\r\nT1BU" % cycle)
    cut = socket.socket()
    cut.connect(addr(PORT))
    cut.send(b"POST /cam HTTP/1.0\r\nx-sessioncookie: a%d\r\nContent-Length: 32767\r\n\r\n" % cycle
             + binascii.b2a_base64(b"OPTIONS * RTSP/1.0\r\nCSeq: 9\r\n")[:-1])
    send_frames(s, "cam")
    a.wait_frames(len(AUS))
    b.wait_frames(len(AUS))
    peak = max(peak, fds())
    if cycle == 0:
        print("FIRST-CYCLE tunnel rtp", a.rtp, b.rtp, "frames", a.markers, b.markers)
    if cycle % 2 == 0:
        # b leaves by itself, POST first, while the server runs: its client goes
        b.close()
        t1 = time.ticks_ms()
        while s.rtspserver_getstats("cam")["clients"] != 1:
            assert time.ticks_diff(time.ticks_ms(), t1) < 5000, ("tunnel client stayed", cycle)
            time.sleep_ms(1)
    end = cycle % 3
    if end == 0:
        s.rtspserver_stop()
        s.rtspserver_deinit()
    elif end == 1:
        s.rtspserver_deinit()
    else:
        assert s.rtspserver_destroy() == 0
        s = mm.rtsp_server()
    for sock in (a, idle_get, lone_post, cut):
        sock.close()
    if cycle % 2:
        b.close()
    progress(cycle, 25, t0)
assert s.rtspserver_destroy() == 0
finish(t0, peak)
"""
TUNNEL_CYCLES = 100

# The ONVIF audio back channel: each cycle a session made with backchannel=True
# (µ-law, A-law one cycle in three; with and without an audio track), a raw
# talker that DESCRIBEs with the ONVIF Require tag, SETUPs trackID=2 over TCP
# interleaved or UDP (alternately), PLAYs and sends PACKETS RTP packets of 160
# bytes; the script reads every byte back with recvaudiodata (checked; one
# cycle in five the talker then sends as much again, left unread), then
# the talker leaves by TEARDOWN, by closing its connection (the server lets its
# client and the back channel go), or is still there when destroysession
# closes it; then destroysession. One server throughout.
BACKCHANNEL_SCRIPT = PRELUDE + r"""
import struct
gc.disable()
TAG = "www.onvif.org/ver20/backchannel"
PACKETS = 4

start_fds = fds_start()
s = mm.rtsp_server()
assert s.rtspserver_init(PORT) == 0
s.rtspserver_start()
buf = bytearray(1024)
peak = start_fds
heard = 0
leaves = {}
t0 = time.ticks_ms()
for cycle in range(CYCLES):
    pcma = cycle % 3 == 2
    pt = 8 if pcma else 0
    ret = s.rtspserver_createsession("door", 0, cycle % 4 < 2, backchannel=True,
                                     backchannel_codec="pcma" if pcma else "pcmu")
    assert ret == 0, ("createsession", cycle, ret)
    udp = cycle % 2 == 1
    p = Player(PORT)
    status, _, _ = p.request("DESCRIBE", "door", [("Require", TAG), ("Accept", "application/sdp")])
    assert status == 200, ("DESCRIBE", cycle, status)
    rtp = rtcp = None
    if udp:
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind(addr(UDP_PORT))
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtcp.bind(addr(UDP_PORT + 1))
        transport = "RTP/AVP;unicast;client_port=%d-%d" % (UDP_PORT, UDP_PORT + 1)
    else:
        transport = "RTP/AVP/TCP;unicast;interleaved=4-5"
    status, h, _ = p.request("SETUP", "door/trackID=2", [("Require", TAG), ("Transport", transport)])
    assert status == 200, ("SETUP", cycle, status)
    sid = h["session"].split(";")[0]
    if udp:
        to = addr(int(h["transport"].split("server_port=")[1].split("-")[0]))
    status, _, _ = p.request("PLAY", "door/", [("Session", sid)])
    assert status == 200, ("PLAY", cycle, status)
    def talk(first):
        spoken = b""
        for k in range(first, first + PACKETS):
            payload = bytes([(cycle * PACKETS + k) % 100 + 1]) * 160
            packet = struct.pack(">BBHII", 0x80, pt, k, 160 * k, 0x5EED + cycle) + payload
            if udp:
                rtp.sendto(packet, to)
            else:
                p.sock.send(b"$\x04" + struct.pack(">H", len(packet)) + packet)
            spoken += payload
        return spoken
    spoken = talk(0)
    got = b""
    t1 = time.ticks_ms()
    while len(got) < len(spoken):
        assert time.ticks_diff(time.ticks_ms(), t1) < 20000, ("heard", cycle, len(got), s.rtspserver_getstats("door"))
        n = s.rtspserver_recvaudiodata("door", buf)
        assert n >= 0, ("recvaudiodata", cycle, n)
        if n == 0:
            time.sleep_ms(2)
        got += buf[:n]
    assert got == spoken, ("heard other bytes", cycle)
    heard += len(got)
    st = s.rtspserver_getstats("door")
    assert st["backchannel_client"] is not None and st["backchannel_dropped"] == 0, (cycle, st)
    if cycle % 5 == 0:
        # more audio, heard by the server and left unread: destroysession frees it
        talk(PACKETS)
        t1 = time.ticks_ms()
        while s.rtspserver_getstats("door")["backchannel_bytes"] < 2 * len(spoken):
            assert time.ticks_diff(time.ticks_ms(), t1) < 20000, ("unread audio not heard", cycle)
            time.sleep_ms(2)
    peak = max(peak, fds())
    leave = ("teardown", "close", "destroysession")[(cycle // 2) % 3]
    leaves[leave] = leaves.get(leave, 0) + 1
    if leave == "teardown":
        status, _, _ = p.request("TEARDOWN", "door/", [("Session", sid)])
        assert status == 200, ("TEARDOWN", cycle, status)
        assert s.rtspserver_getstats("door")["backchannel_client"] is None, ("talker after TEARDOWN", cycle)
        p.close()
    elif leave == "close":
        p.close()
        # the server notices the closed connection: the client and its hold on the back channel go
        t1 = time.ticks_ms()
        while s.rtspserver_getstats("door")["clients"] != 0:
            assert time.ticks_diff(time.ticks_ms(), t1) < 10000, ("client stayed after close", cycle)
            time.sleep_ms(2)
        assert s.rtspserver_getstats("door")["backchannel_client"] is None, ("talker after close", cycle)
    assert s.rtspserver_destroysession("door") == 0
    assert s.rtspserver_recvaudiodata("door", buf) == -2      # ENOENT: gone with its audio
    if leave == "destroysession":
        p.close()
    for sock in (rtp, rtcp):
        if sock is not None:
            sock.close()
    progress(cycle, 25, t0)
assert s.rtspserver_destroy() == 0
print("HEARD", heard, "LEAVES", sorted(leaves.items()))
finish(t0, peak)
"""
BACKCHANNEL_CYCLES = 100
BACKCHANNEL_VALGRIND_CYCLES = 100

def free_udp_pair():
    import attack
    rtp, rtcp = attack.udp_pair()
    port = rtp.getsockname()[1]
    rtp.close()
    rtcp.close()
    return port


def run_script(tmp_path, body, cycles, valgrind, timeout, undef_checks=True):
    script = tmp_path / "cycles.py"
    script.write_text(f"HOST = {str(helpers.HOST_EXAMPLES)!r}\nTESTS = {str(helpers.TESTS)!r}\n"
                      f"CLIP = {str(helpers.CLIP)!r}\n"
                      f"TONE = {str(helpers.TONE_ULAW)!r}\n"
                      f"PORT = {helpers.free_port()}\nHTTP_PORT = {helpers.free_port()}\n"
                      f"UDP_PORT = {free_udp_pair()}\n"
                      f"CYCLES = {cycles}\n" + body)
    cmd = [helpers.micropython(), "-X", f"heapsize={HEAP}", str(script)]
    log_path = tmp_path / "valgrind.log"
    if valgrind:
        helpers.need_tool("valgrind")
        extra = [] if undef_checks else ["--undef-value-errors=no"]
        cmd = VALGRIND + extra + [f"--log-file={log_path}"] + cmd
    began = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{cycles} cycles {'under valgrind ' if valgrind else ''}took over {timeout} s")
    took = time.monotonic() - began
    log = log_path.read_text() if valgrind else ""
    return proc, took, log


def figures(stdout):
    values = {}
    for line in stdout.splitlines():
        words = line.split()
        if words and words[0] in ("FDS-START", "FDS-END", "FDS-PEAK"):
            values[words[0]] = int(words[1])
    return values


def valgrind_summary(log):
    """The lines a reader wants from a memcheck log; the bytes definitely and
    indirectly lost; the error count; the blocks still allocated at exit."""
    wanted = r"in use at exit|total heap usage|definitely lost|indirectly lost|possibly lost|ERROR SUMMARY|Invalid (read|write|free)"
    lines = [line.split("== ", 1)[-1] for line in log.splitlines() if re.search(wanted, line)]
    lost = {}
    for kind in ("definitely", "indirectly"):
        m = re.search(kind + r" lost: ([\d,]+) bytes", log)
        lost[kind] = int(m.group(1).replace(",", "")) if m else 0
    errors = re.search(r"ERROR SUMMARY: ([\d,]+) errors", log)
    in_use = re.search(r"in use at exit: ([\d,]+) bytes in ([\d,]+) blocks", log)
    blocks = int(in_use.group(2).replace(",", "")) if in_use else None
    return lines, lost, int(errors.group(1).replace(",", "")) if errors else None, blocks


def check_run(name, proc, took, log, cycles):
    values = figures(proc.stdout)
    print(f"\n{name}: {cycles} cycles in {took:.1f} s{' under valgrind' if log else ' (native)'}")
    print(f"  fds at start {values.get('FDS-START')}, after {values.get('FDS-END')}"
          + (f", peak {values['FDS-PEAK']}" if "FDS-PEAK" in values else ""))
    for line in proc.stdout.splitlines():
        if line.startswith(("SENT", "CYCLE ", "FIRST", "GC-RETRIES", "HEARD")):
            print("  " + line)
    if log:
        lines, lost, errors, blocks = valgrind_summary(log)
        for line in lines:
            print("  valgrind: " + line.strip())
        assert errors is not None, f"no valgrind summary in the log:\n{log[-3000:]}"
        assert not re.search(r"Invalid (read|write|free)", log), log[-8000:]
        assert lost == {"definitely": 0, "indirectly": 0}, f"{lost}\n{log[-8000:]}"
        assert errors == 0, log[-8000:]
        # only MicroPython's GC heap is left at exit: nothing of a freed server stays allocated
        assert blocks == 1, f"{blocks} blocks still allocated at exit (1 is the GC heap)\n{log[-3000:]}"
    assert proc.returncode == 0, (f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
                                  f"stderr:\n{proc.stderr[-3000:]}\n{log[-5000:]}")
    assert "FDS-START" in values and "FDS-END" in values, proc.stdout
    assert values["FDS-END"] == values["FDS-START"], (
        f"file descriptors: {values['FDS-START']} before, {values['FDS-END']} after {cycles} cycles")


def test_200_cycles_with_players_attached_fd_count(tmp_path):
    """200 x init/start/stream/(stop+deinit | deinit | destroysession+stop+deinit |
    destroy) with a TCP and a UDP player getting packets, natively: every fd back."""
    proc, took, _ = run_script(tmp_path, CYCLE_SCRIPT, CYCLES, False, 120)
    check_run("init/start/stream/stop/deinit", proc, took, "", CYCLES)


def test_200_cycles_with_players_attached_under_valgrind(tmp_path):
    """The same 200 cycles under memcheck (all checks on: the GC is off in this
    script): no leak, no invalid access, no error; every fd back."""
    proc, took, log = run_script(tmp_path, CYCLE_SCRIPT, CYCLES, True, VALGRIND_BUDGET_S)
    check_run("init/start/stream/stop/deinit", proc, took, log, CYCLES)


def test_gc_of_running_servers_under_valgrind(tmp_path):
    """50 running servers with a playing client dropped and collected (the
    finaliser frees them; their port is free again). MicroPython's conservative
    GC reads uninitialised stack words by design, so memcheck's undefined-value
    check is off here (leak and invalid-access checks stay on)."""
    proc, took, log = run_script(tmp_path, GC_SCRIPT, GC_CYCLES, True, VALGRIND_BUDGET_S,
                                 undef_checks=False)
    check_run("gc of running servers", proc, took, log, GC_CYCLES)


def test_destroy_while_streaming_under_valgrind(tmp_path):
    """destroy while a second thread sends and a TCP and a UDP player are attached."""
    proc, took, log = run_script(tmp_path, DESTROY_SCRIPT, DESTROY_CYCLES, True, VALGRIND_BUDGET_S)
    check_run("destroy while streaming", proc, took, log, DESTROY_CYCLES)



def test_tunnel_cycles_fd_count(tmp_path):
    """100 x init(http_port=...)/start/two tunnelled players (RTSP port and
    http_port) and three half-made tunnels/teardown, natively: every fd back."""
    proc, took, _ = run_script(tmp_path, TUNNEL_SCRIPT, TUNNEL_CYCLES, False, 120)
    check_run("tunnel set-up and teardown", proc, took, "", TUNNEL_CYCLES)


def test_tunnel_cycles_under_valgrind(tmp_path):
    """The same 100 tunnel cycles under memcheck: no leak, no invalid access, no error."""
    proc, took, log = run_script(tmp_path, TUNNEL_SCRIPT, TUNNEL_CYCLES, True, VALGRIND_BUDGET_S)
    check_run("tunnel set-up and teardown", proc, took, log, TUNNEL_CYCLES)


def test_backchannel_cycles_fd_count(tmp_path):
    """100 x createsession(backchannel=True), a talker (TCP interleaved or UDP)
    whose 640 bytes the script reads back exactly (one cycle in five 640 more
    left unread), the talker leaving by TEARDOWN, by closing, or closed by
    destroysession; natively: every fd back."""
    proc, took, _ = run_script(tmp_path, BACKCHANNEL_SCRIPT, BACKCHANNEL_CYCLES, False, 120)
    check_run("back-channel talkers", proc, took, "", BACKCHANNEL_CYCLES)
    assert f"HEARD {BACKCHANNEL_CYCLES * 640} " in proc.stdout, proc.stdout


def test_backchannel_cycles_under_valgrind(tmp_path):
    """The same back-channel cycles under memcheck (GC off, all checks on): no
    leak, no invalid access, no error, only the GC heap left; every fd back."""
    proc, took, log = run_script(tmp_path, BACKCHANNEL_SCRIPT, BACKCHANNEL_VALGRIND_CYCLES, True,
                                 VALGRIND_BUDGET_S)
    check_run("back-channel talkers", proc, took, log, BACKCHANNEL_VALGRIND_CYCLES)
    assert f"HEARD {BACKCHANNEL_VALGRIND_CYCLES * 640} " in proc.stdout, proc.stdout


# --- the pusher (mm.rtsp_pusher) ---------------------------------------------------------
#
# The receiving servers are receivers.py's fakes, in this (pytest's) process: a
# RecorderServer that completes the handshake and keeps what it gets, an
# Always401Server, a SilentServer and a port where nothing listens. The
# micropython process holds only the pusher, so its descriptors are the pusher's.

PUSHER_CYCLES = 200
PUSHER_FAIL_CYCLES = 100
PUSHER_SILENT_CYCLES = 3
PUSHER_GC_CYCLES = 30
PUSHER_BUDGET_S = 90  # any one pusher run under valgrind (each takes well under a minute)

PUSHER_PRELUDE = PRELUDE + r'''
# the parameter sets of the clip's first access unit, for pushvideoheader
HEADER = AUS[0][:AUS[0].find(b"\x00\x00\x00\x01\x65")]

def push_frames(p, count=4):
    for k in range(count):
        au = AUS[k % len(AUS)]
        ret = p.rtsppusher_pushvideodata(au, len(au), 1 if k % len(AUS) == 0 else 0, k * 33333)
        assert ret == 0, ("push", k, ret)
'''

# create/init/open/push/close/deinit/destroy against a RECORD server, TCP and UDP,
# ended in each of the ways a script may.
PUSHER_CYCLE_SCRIPT = PUSHER_PRELUDE + r"""
gc.disable()
start_fds = fds_start()
p = mm.rtsp_pusher()
peak = start_fds
t0 = time.ticks_ms()
for cycle in range(CYCLES):
    udp = cycle % 5 == 4
    ret = p.rtsppusher_init(320, 240, URL, 25, "udp" if udp else "tcp", timeout=5)
    assert ret == 0, ("init", cycle, ret)
    if cycle % 3 == 0:
        assert p.rtsppusher_pushvideoheader(HEADER, len(HEADER)) == 0
    ret = p.rtsppusher_open()
    assert ret == 0, ("open", cycle, ret)
    push_frames(p)
    st = p.rtsppusher_getstats()
    assert st["state"] == "recording", (cycle, st)
    peak = max(peak, fds())
    end = cycle % 4
    if end == 0:
        p.rtsppusher_close()
        p.rtsppusher_deinit()
    elif end == 1:
        p.rtsppusher_deinit()                      # deinit closes an open pusher itself
    elif end == 2:
        p.rtsppusher_close()
        p.rtsppusher_deinit()
        p.rtsppusher_destroy()
        p = mm.rtsp_pusher()
    else:
        p.rtsppusher_destroy()                     # open and pushing: everything at once
        p = mm.rtsp_pusher()
    progress(cycle, 50, t0)
p.rtsppusher_destroy()
finish(t0, peak)
"""

# opens that fail: a refused port (-ECONNREFUSED), a server that answers 401 to
# every request, credentials included (-EACCES), then a silent server with
# timeout=1 (-ETIMEDOUT); pushes before and after, deinit or destroy after.
PUSHER_FAIL_SCRIPT = PUSHER_PRELUDE + r"""
gc.disable()
start_fds = fds_start()
t0 = time.ticks_ms()
p = mm.rtsp_pusher()
results = {}
def attempt(url, want, timeout, cycle):
    global p
    assert p.rtsppusher_init(320, 240, url, timeout=timeout) == 0
    assert p.rtsppusher_pushvideoheader(HEADER, len(HEADER)) == 0
    au = AUS[0]
    assert p.rtsppusher_pushvideodata(au, len(au), 1, 0) != 0     # not open
    t = time.ticks_ms()
    ret = p.rtsppusher_open()
    took = time.ticks_diff(time.ticks_ms(), t)
    assert ret == want, ("open", url, ret, want)
    assert took < timeout * 1000 + 1500, ("open took", took, "ms")
    results[ret] = results.get(ret, 0) + 1
    assert p.rtsppusher_pushvideodata(au, len(au), 1, 0) != 0     # still not open
    if cycle % 2:
        p.rtsppusher_deinit()
    else:
        p.rtsppusher_destroy()
        p = mm.rtsp_pusher()
for cycle in range(CYCLES):
    if cycle % 2:
        attempt(REFUSED_URL, -111, 5, cycle)     # ECONNREFUSED
    else:
        attempt(AUTH_URL, -13, 5, cycle)         # EACCES
for cycle in range(SILENT):
    attempt(SILENT_URL, -110, 1, cycle)          # ETIMEDOUT
p.rtsppusher_destroy()
print("RESULTS", sorted(results.items()))
finish(t0)
"""

# open pushers dropped and collected: the finaliser closes the link and frees all.
PUSHER_GC_SCRIPT = PUSHER_PRELUDE + r"""
def open_pusher():
    p = mm.rtsp_pusher()
    assert p.rtsppusher_init(320, 240, URL, timeout=5) == 0
    ret = p.rtsppusher_open()
    assert ret == 0, ("open", ret)
    push_frames(p)

start_fds = fds_start()
t0 = time.ticks_ms()
retries = 0
for cycle in range(CYCLES):
    open_pusher()
    # the conservative GC may see a stale copy of the object on the C stack: retry, bounded
    for attempt in range(20):
        collect()
        if fds() == start_fds:
            break
        retries += 1
        time.sleep_ms(20)
    assert fds() == start_fds, ("pusher not collected", cycle, fds(), start_fds)
for _ in range(5):
    collect()
print("GC-RETRIES", retries)
finish(t0)
"""


def pusher_script(script, **urls):
    return "".join(f"{k} = {v!r}\n" for k, v in urls.items()) + script


def check_recorder(srv, cycles):
    """Every cycle made the whole handshake, and the server got its frames."""
    methods = srv.methods()
    assert srv.connections == cycles, f"{srv.connections} connections for {cycles} cycles"
    assert methods.count("RECORD") == cycles, methods[-20:]
    assert not srv.errors, srv.errors
    got = sum(len(v) for c, v in srv.packets.items() if c % 2 == 0) + srv.udp_packets
    assert got >= cycles, f"{got} RTP packets for {cycles} cycles"
    print(f"  recorder: {srv.connections} connections, {methods.count('TEARDOWN')} TEARDOWNs, "
          f"{got} RTP packets")


def test_pusher_200_cycles_fd_count(tmp_path):
    """200 x create/init/open/push/(close+deinit | deinit | close+deinit+destroy | destroy)
    against a RECORD server, one cycle in five over UDP, natively: every fd back."""
    import receivers
    with receivers.RecorderServer(deadline=120) as srv:
        body = pusher_script(PUSHER_CYCLE_SCRIPT, URL=srv.url())
        proc, took, _ = run_script(tmp_path, body, PUSHER_CYCLES, False, 60)
        check_run("pusher open/push/close cycles", proc, took, "", PUSHER_CYCLES)
        check_recorder(srv, PUSHER_CYCLES)


def test_pusher_200_cycles_under_valgrind(tmp_path):
    """The same 200 pusher cycles under memcheck (GC off, all checks on): no
    leak, no invalid access, no error, only the GC heap left; every fd back."""
    import receivers
    with receivers.RecorderServer(deadline=PUSHER_BUDGET_S + 30) as srv:
        body = pusher_script(PUSHER_CYCLE_SCRIPT, URL=srv.url())
        proc, took, log = run_script(tmp_path, body, PUSHER_CYCLES, True, PUSHER_BUDGET_S)
        check_run("pusher open/push/close cycles", proc, took, log, PUSHER_CYCLES)
        check_recorder(srv, PUSHER_CYCLES)


def test_pusher_failed_opens_under_valgrind(tmp_path):
    """100 opens that fail (a refused port: -ECONNREFUSED; 401 whatever the
    credentials: -EACCES) and 3 against a silent server with timeout=1
    (-ETIMEDOUT, within the timeout), each followed by deinit or destroy,
    under memcheck: no leak, no invalid access; every fd back."""
    import receivers
    with receivers.Always401Server(deadline=PUSHER_BUDGET_S + 30) as auth, \
            receivers.SilentServer(deadline=PUSHER_BUDGET_S + 30) as silent:
        body = pusher_script(PUSHER_FAIL_SCRIPT, REFUSED_URL=receivers.url(receivers.closed_port()),
                             AUTH_URL=auth.url(userinfo="user:wrong"), SILENT_URL=silent.url(),
                             SILENT=PUSHER_SILENT_CYCLES)
        proc, took, log = run_script(tmp_path, body, PUSHER_FAIL_CYCLES, True, PUSHER_BUDGET_S)
        check_run("pusher failed opens", proc, took, log, PUSHER_FAIL_CYCLES)
        print("  " + next((line for line in proc.stdout.splitlines() if line.startswith("RESULTS")), ""))
        assert auth.connections == PUSHER_FAIL_CYCLES // 2
        assert silent.connections == PUSHER_SILENT_CYCLES


def test_pusher_gc_of_open_pushers_under_valgrind(tmp_path):
    """30 open pushers, frames pushed, dropped and collected: the finaliser
    closes the link (every fd back after each one) and frees everything.
    The undefined-value check is off, as for the server's GC test."""
    import receivers
    with receivers.RecorderServer(deadline=PUSHER_BUDGET_S + 30) as srv:
        body = pusher_script(PUSHER_GC_SCRIPT, URL=srv.url())
        proc, took, log = run_script(tmp_path, body, PUSHER_GC_CYCLES, True, PUSHER_BUDGET_S,
                                     undef_checks=False)
        check_run("gc of open pushers", proc, took, log, PUSHER_GC_CYCLES)
        check_recorder(srv, PUSHER_GC_CYCLES)
