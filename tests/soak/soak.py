#!/usr/bin/env python3
"""NVR-behaviour soak of the unix port (`make soak`, issue 9).

    python3 tests/soak/soak.py --minutes N [--sched script-high|loop-high] [--out DIR]

One server (tests/soak/mpy_soak_server.py: rtspserver_init(port) with the
default options, so session_timeout is 60 s) streams the bundled H.264 clip,
looped, at 30 fps for N minutes, to a zoo of clients on 127.0.0.1:

  good players  ffmpeg (decoding, -f framecrc) and GStreamer rtspsrc (decoding
                into fakesink), each over TCP and over UDP, from start to end
  rtcp-udp, rtcp-tcp
                play, then send only RTCP receiver reports (every 5 s), over
                UDP from the client's RTCP port or on interleaved channel 1
  get_parameter, options, set_parameter
                play, then keep the session alive with that request (with
                its Session header) every 25 s
  silent-udp, silent-tcp
                play, then send nothing: the server must drop each at the
                session timeout; then the next one, for as long as the run lasts
  pause-play    PLAY 5 s, PAUSE 5 s, over and over (TCP)
  storm         once a second: DESCRIBE, SETUP (UDP and TCP in turn), PLAY,
                wait for the first packet, then drop the connection without
                TEARDOWN (every other one with a reset)
  half-open     four connections that send nothing, a request head without
                its blank line, or half a request line; each must be closed by
                the server within the session timeout (+10 s), then again
  slow-reader   TCP, a 4 KB receive buffer, reads 1 KB every 0.5 s (the clip
                is ~33 KB/s), GET_PARAMETER every 25 s without waiting for the
                answer; a new connection every 40 s

Once a second it samples the server process: CPU (utime+stime of
/proc/PID/stat, and of each thread in /proc/PID/task/*/stat: the script's main
thread and the loop thread), RSS, open fds and threads; the server prints its
client and player counts once a second.

It passes when:
  - every good player got every frame from its first one on. The script
    stamps frame k with k/30 s, so the RTP timestamps, and the presentation
    times of the pictures each player decodes, advance by exactly one frame
    interval per frame sent: a step of k intervals is k-1 frames lost (a step
    of 0, as ffmpeg gives its first two pictures, is a repeat, not a loss).
    So the decoded frames must step one interval at a time with no discont
    flag (GStreamer marks a buffer after a loss), number no fewer than their
    span holds, and reach to the end of the stream (their span covers the
    wall-clock time from the player's first frame to the last one sent,
    within 2.5 s, so a player the server stopped feeding fails too);
  - the keepalive clients (RTCP over UDP and TCP, GET_PARAMETER, OPTIONS,
    SET_PARAMETER) are never dropped and still receive media at the end;
    the silent clients are dropped at the session timeout (59..66 s after
    PLAY); the PAUSE/PLAY, storm and half-open clients get what the server
    promises (see the checks in the report);
  - RSS and fd count are flat after the warm-up (the first 60 s): the median
    of the last 15 s exceeds that of the 15 s after warm-up by at most 1 MB and
    2 fds, and the least-squares slope after warm-up is under 256 KB/min and
    0.5 fd/min; the thread count stays 2;
  - CPU follows the players: the mean CPU of the 30 s windows after the first
    session-timeout mark (70-100 s), at the end, and of every whole minute
    after the first, is at most 2x that of 25-55 s (scaled by the number of
    players) + 0.05 core.

It writes build/soak/report[-SCHED].md, soak[-SCHED].png (CPU, RSS, fds and
threads over time), samples[-SCHED].csv and logs[-SCHED]/, prints the figures
and ends with "soak: N passed, M failed" (exit 1 on a failure).

--sched (default: env RTSP_SCHED) runs the server as the board schedules it,
through tests/python/helpers.py's RTSP_SCHED support: `taskset -c 0 chrt -f
PRIO` (one core, SCHED_FIFO), and the loop thread (the only other task in
/proc/PID/task) set with `chrt -f -p` as soon as it appears: script-high:
script 20, loop 10; loop-high: script 10, loop 20. Other real-time tasks on
the machine (another test run under RTSP_SCHED) can hold the server off core 0;
the report warns when it saw any.

Everything is bounded: each client loop by count and time, each process by a
deadline; on a failure or Ctrl-C every process it started is stopped.
"""

import argparse
import csv
import hashlib
import math
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))
import helpers  # noqa: E402  (tests/python/helpers.py: processes, RTSP and RTP clients)

REPO = helpers.REPO
SERVER_SCRIPT = HERE / "mpy_soak_server.py"
SESSION = "live"
FPS = 30
TIMEOUT_S = 60  # the server's default session_timeout
WARM_UP_S = 60
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SCHED = helpers.SCHED_PRIORITIES  # order -> (script's SCHED_FIFO priority, loop thread's)
Failed = helpers.pytest.fail.Exception  # what the helpers raise when a process misbehaves


_print_lock = threading.Lock()


def log(t0, text):
    with _print_lock:
        print(f"[{time.monotonic() - t0:6.1f} s] {text}", flush=True)


# --- the server process ----------------------------------------------------------------

def proc_ticks(path):
    """utime + stime (clock ticks) of a /proc/.../stat file, or None once it is gone."""
    try:
        with open(path) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def proc_sample(pid):
    """{'cpu': ticks, 'threads': {tid: ticks}, 'rss_kb', 'fds', 'nthreads'} or None."""
    base = f"/proc/{pid}"
    cpu = proc_ticks(f"{base}/stat")
    if cpu is None:
        return None
    try:
        with open(f"{base}/statm") as f:
            rss_kb = int(f.read().split()[1]) * PAGE_KB
        fds = len(os.listdir(f"{base}/fd"))
        tids = os.listdir(f"{base}/task")
    except OSError:
        return None
    threads = {}
    for tid in tids:
        ticks = proc_ticks(f"{base}/task/{tid}/stat")
        if ticks is not None:
            threads[int(tid)] = ticks
    return {"cpu": cpu, "threads": threads, "rss_kb": rss_kb, "fds": fds, "nthreads": len(tids)}


PF_KTHREAD = 0x00200000


def foreign_rt_tasks(exclude_pid):
    """{(pid, comm, policy, priority)} of user-space tasks with a real-time
    policy (SCHED_FIFO/RR), other than the server's: under --sched they share
    core 0 with it and may hold it off (another test run on the same machine)."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == exclude_pid:
            continue
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    head, _, rest = f.read().rpartition(")")
                fields = rest.split()
                if int(fields[6]) & PF_KTHREAD:
                    break  # a kernel thread (IRQ threads, migration)
                policy, prio = int(fields[38]), int(fields[37])
            except (OSError, IndexError, ValueError):
                continue
            if policy in (1, 2):
                found.add((int(pid), head.split("(", 1)[1], "SCHED_FIFO" if policy == 1 else "SCHED_RR", prio))
    return found


class Sampler(threading.Thread):
    """Once a second: the server's CPU (process, script thread, loop thread),
    RSS, fds, threads, and the players/clients of its latest TICK line."""

    def __init__(self, server, t0, stop):
        super().__init__(daemon=True, name="sampler")
        self.server, self.t0, self.stop = server, t0, stop
        self.pid = server.proc.pid
        self.rows = []
        self.foreign_rt = {}  # (comm, policy, priority) -> [first seen, last seen (s), {pids}]

    def last_tick(self):
        for line in reversed(self.server.lines[-5:]):
            if line.startswith("TICK "):
                w = line.split()
                return int(w[w.index("playing") + 1]), int(w[w.index("clients") + 1])
        return 0, 0

    def run(self):
        prev, prev_t = None, None
        k = 0
        while not self.stop.is_set() and k < 24 * 3600:
            k += 1
            now = time.monotonic()
            s = proc_sample(self.pid)
            if s is None or self.server.proc.poll() is not None:
                return
            if prev is not None:
                dt = now - prev_t
                loop = [tid for tid in s["threads"] if tid != self.pid]
                cpu_loop = sum(s["threads"][t] - prev["threads"].get(t, 0) for t in loop)
                cpu_script = s["threads"].get(self.pid, 0) - prev["threads"].get(self.pid, 0)
                playing, clients = self.last_tick()
                self.rows.append({
                    "t": round(now - self.t0, 3),
                    "cpu": (s["cpu"] - prev["cpu"]) / CLK_TCK / dt,
                    "cpu_script": cpu_script / CLK_TCK / dt,
                    "cpu_loop": cpu_loop / CLK_TCK / dt,
                    "rss_kb": s["rss_kb"], "fds": s["fds"], "threads": s["nthreads"],
                    "playing": playing, "clients": clients,
                })
            prev, prev_t = s, now
            if k % 5 == 1:
                for pid, *task in foreign_rt_tasks(self.pid):
                    seen = self.foreign_rt.setdefault(tuple(task), [now - self.t0, now - self.t0, set()])
                    seen[1] = now - self.t0
                    seen[2].add(pid)
            # the next whole second since the start
            self.stop.wait(max(0.0, self.t0 + math.floor(now - self.t0) + 1 - time.monotonic()))


def start_server(port, seconds, sched):
    """The server process; under `sched` helpers.Background starts it as RTSP_SCHED
    says (taskset -c 0 chrt -f <script's priority>) and gives its loop thread
    the loop's priority (chrt -f -p) as soon as it appears."""
    if sched:
        os.environ["RTSP_SCHED"] = sched
    else:
        os.environ.pop("RTSP_SCHED", None)
    cmd = [helpers.micropython(), str(SERVER_SCRIPT), "--port", str(port), "--seconds", str(seconds)]
    server = helpers.Background(cmd, "server")
    url = server.wait_line("URL ", 20).split(" ", 2)[2]
    if sched:
        server.sched.wait_first(5)  # the URL comes after rtspserver_start: the loop thread exists
    return server, helpers.loopback_url(url)


def describe_threads(pid):
    """The script's and the loop thread's scheduling, as the kernel has them."""
    tids = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    others = [t for t in tids if t != pid]
    if len(others) != 1:
        raise RuntimeError(f"expected the script's thread and one loop thread, found tasks {tids}")
    loop = others[0]
    desc = []
    for name, tid in (("script", pid), ("loop", loop)):
        policy = os.sched_getscheduler(tid)
        prio = os.sched_getparam(tid).sched_priority
        affinity = sorted(os.sched_getaffinity(tid))
        pname = {os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_OTHER: "SCHED_OTHER"}.get(policy, str(policy))
        desc.append(f"{name} thread {tid}: {pname} priority {prio}, cpus {affinity}")
    return desc


# --- RTSP/RTP clients ------------------------------------------------------------------

class CountingPlayer(helpers.RtpPlayer):
    """helpers.RtpPlayer that counts RTP packets instead of keeping them (a soak
    runs for minutes): packets, sequence gaps, first and last arrival, and what
    its receiver reports (send_receiver_report) say."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.count = 0
        self.seq_gaps = 0
        self.last_seq = None
        self.first_arrival = None
        self.last_arrival = None

    def _rtp(self, data):
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        seq = struct.unpack(">H", data[2:4])[0]
        now = time.monotonic()
        if self.last_seq is None:
            self.highest_seq = seq
        else:
            if seq != (self.last_seq + 1) & 0xFFFF:
                self.seq_gaps += 1
            ahead = (seq - self.highest_seq) % 0x10000
            if ahead < 0x8000:
                self.highest_seq += ahead
        self.media_ssrc = struct.unpack(">I", data[8:12])[0]
        self.last_seq = seq
        self.count += 1
        self.first_arrival = self.first_arrival or now
        self.last_arrival = now


class Member(threading.Thread):
    """One client of the zoo: body() loops until the zoo's end (bounded by
    count and time); checks() lists (ok, text) once it has finished."""

    def __init__(self, soak, name):
        super().__init__(daemon=True, name=name)
        self.soak = soak
        self.error = None

    def run(self):
        try:
            self.body()
        except (Exception, Failed) as e:  # a client's failure is reported, never hidden
            self.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
            self.soak.event(f"{self.name}: {type(e).__name__}: {e}")

    def alive(self):
        return not self.soak.stop.is_set() and time.monotonic() < self.soak.zoo_end

    def sleep(self, seconds):
        end = min(time.monotonic() + seconds, self.soak.zoo_end)
        self.soak.stop.wait(max(0.0, end - time.monotonic()))

    def checks(self):
        why = f" ({self.error.splitlines()[0]})" if self.error else ""
        return [(self.error is None, f"{self.name}: ran without an error{why}")]


def player(soak, transport):
    p = CountingPlayer(soak.port, SESSION, transport, timeout=10)
    status, hdrs = p.setup()
    if status != 200:
        p.close()
        raise RuntimeError(f"SETUP over {transport}: {status}")
    status, _ = p.play(seconds=soak.seconds + 60)
    if status != 200:
        p.close()
        raise RuntimeError(f"PLAY over {transport}: {status}")
    return p, hdrs


class Keepalive(Member):
    """Plays and keeps its session alive with `method` only: "rtcp" (receiver
    reports every 5 s) or an RTSP request every 25 s."""

    def __init__(self, soak, method, transport):
        super().__init__(soak, f"{method.lower()}-{transport}")
        self.method, self.transport = method, transport
        self.p = None
        self.statuses = {}
        self.sent = 0
        self.end_state = None

    def body(self):
        self.p, _ = player(self.soak, self.transport)
        interval = 5 if self.method == "rtcp" else 25
        next_at = time.monotonic() + interval
        for _ in range(100000):
            if not self.alive() or self.p.closed:
                break
            self.sleep(max(0.0, next_at - time.monotonic()))
            if not self.alive() or self.p.closed:
                break
            next_at += interval
            if self.method == "rtcp":
                if not self.p.send_receiver_report():
                    self.soak.event(f"{self.name}: a receiver report could not be sent")
                    break
            else:
                try:
                    status, _, _ = self.p.request(self.method)
                except (OSError, ConnectionError) as e:
                    self.soak.event(f"{self.name}: {self.method} failed: {e}")
                    self.p.closed = True  # the server closed it while the request waited
                    self.p.closed_at = self.p.closed_at or time.monotonic()
                    break
                self.statuses[status] = self.statuses.get(status, 0) + 1
            self.sent += 1
        now = time.monotonic()
        self.end_state = {
            "closed": self.p.closed, "closed_after": (self.p.closed_at - self.p.play_sent) if self.p.closed_at else None,
            "since_last_packet": now - self.p.last_arrival if self.p.last_arrival else None,
            "packets": self.p.count, "seq_gaps": self.p.seq_gaps,
        }
        if self.p.closed:
            self.soak.event(f"{self.name}: the server closed the connection "
                            f"{self.end_state['closed_after']:.1f} s after PLAY")
        self.p.close()

    def checks(self):
        out = super().checks()
        s = self.end_state
        if s is None:
            return out
        what = "receiver reports" if self.method == "rtcp" else f"{self.method} requests"
        out.append((not s["closed"],
                    f"{self.name}: kept alive by {self.sent} {what} alone, never dropped"
                    + (f" (DROPPED {s['closed_after']:.1f} s after PLAY)" if s["closed"] else "")))
        fresh = s["since_last_packet"] is not None and s["since_last_packet"] < 3
        out.append((fresh, f"{self.name}: still receiving at the end ({s['packets']} RTP packets, last "
                    + (f"{s['since_last_packet']:.1f} s before the end)" if s["since_last_packet"] is not None else "never)")))
        if self.transport == "tcp":
            out.append((s["seq_gaps"] == 0, f"{self.name}: RTP sequence continuous over TCP ({s['seq_gaps']} gaps)"))
        if self.method in ("GET_PARAMETER", "OPTIONS"):
            ok = set(self.statuses) <= {200}
            out.append((ok, f"{self.name}: every {self.method} answered 200 ({self.statuses})"))
        return out

    def summary(self):
        s = self.end_state or {}
        return (f"{self.sent} keepalives, statuses {self.statuses or '-'}, {s.get('packets', 0)} RTP packets, "
                f"{s.get('seq_gaps', 0)} sequence gaps, closed by the server: {s.get('closed')}")


class Silent(Member):
    """Plays, then sends nothing: each must be dropped at the session timeout.
    The next one starts at once, until the zoo's end (the last one, cut short
    by the end, is not counted)."""

    def __init__(self, soak, transport):
        super().__init__(soak, f"silent-{transport}")
        self.transport = transport
        self.cycles = []  # (seconds from PLAY to the server's close, or None if never, packets)

    def body(self):
        for _ in range(1000):
            if not self.alive():
                break
            p, _ = player(self.soak, self.transport)
            try:
                limit = p.play_sent + TIMEOUT_S + 15
                while not p.closed and time.monotonic() < limit and self.alive():
                    time.sleep(0.05)
                if p.closed:
                    after = (p.closed_at or time.monotonic()) - p.play_sent
                    self.cycles.append((after, p.count))
                    self.soak.event(f"{self.name}: dropped {after:.1f} s after PLAY ({p.count} RTP packets)")
                elif time.monotonic() >= limit:
                    self.cycles.append((None, p.count))
                    self.soak.event(f"{self.name}: NOT dropped {TIMEOUT_S + 15} s after PLAY")
            finally:
                p.close()

    def checks(self):
        out = super().checks()
        drops = [a for a, _ in self.cycles]
        ok = bool(drops) and all(a is not None and TIMEOUT_S - 1 <= a <= TIMEOUT_S + 6 for a in drops)
        shown = ", ".join("never" if a is None else f"{a:.1f}" for a in drops)
        out.append((ok, f"{self.name}: each of {len(drops)} silent clients dropped {TIMEOUT_S - 1}..{TIMEOUT_S + 6} s "
                    f"after PLAY (s: {shown or 'none ran'})"))
        out.append((all(n > 0 for _, n in self.cycles), f"{self.name}: each got media before its drop "
                    f"(packets: {[n for _, n in self.cycles]})"))
        return out


class PausePlay(Member):
    """PLAY 5 s, PAUSE 5 s, over and over: every answer 200, media after each
    PLAY, none while paused (after 0.5 s for what was in flight)."""

    def __init__(self, soak, transport="tcp"):
        super().__init__(soak, f"pause-play-{transport}")
        self.transport = transport
        self.cycles = 0
        self.bad = []  # (what, status)
        self.played = []  # packets per PLAY phase
        self.during_pause = 0
        self.closed = False

    def body(self):
        p, _ = player(self.soak, self.transport)
        try:
            for _ in range(10000):
                before = p.count
                self.sleep(5)
                self.played.append(p.count - before)
                if not self.alive() or p.closed:
                    break
                status, _ = p.pause()
                if status != 200:
                    self.bad.append(("PAUSE", status))
                time.sleep(0.5)  # what was in flight
                before = p.count
                self.sleep(4.5)
                self.during_pause += p.count - before
                if not self.alive() or p.closed:
                    break
                status, _ = p.play(seconds=self.soak.seconds + 60)
                if status != 200:
                    self.bad.append(("PLAY", status))
                self.cycles += 1
            self.closed = p.closed
        finally:
            p.close()

    def checks(self):
        out = super().checks()
        out.append((not self.bad and not self.closed,
                    f"{self.name}: {self.cycles} PAUSE/PLAY cycles, every answer 200, never dropped"
                    + (f" (bad answers {self.bad})" if self.bad else "") + (" (DROPPED)" if self.closed else "")))
        full = self.played[:-1] or self.played
        out.append((all(n > 0 for n in full), f"{self.name}: media after every PLAY (packets per 5 s: "
                    f"min {min(full) if full else 0}, max {max(full) if full else 0})"))
        out.append((self.during_pause == 0, f"{self.name}: no media while paused ({self.during_pause} packets)"))
        return out


class Storm(Member):
    """Once a second SETUP/PLAY, then drop the connection without TEARDOWN."""

    def __init__(self, soak):
        super().__init__(soak, "storm")
        self.attempts = 0
        self.played = 0
        self.with_media = 0
        self.refused = {}
        self.first_packet = []

    def body(self):
        start = time.monotonic()
        for i in range(100000):
            if not self.alive():
                break
            transport = "udp" if i % 2 == 0 else "tcp"
            self.attempts += 1
            try:
                p = CountingPlayer(self.soak.port, SESSION, transport, timeout=10)
            except OSError as e:
                self.refused[f"connect: {e}"] = self.refused.get(f"connect: {e}", 0) + 1
                self.sleep(max(0.0, start + i + 1 - time.monotonic()))
                continue
            try:
                status, _ = p.setup()
                if status == 200:
                    status, _ = p.play(seconds=30)
                if status != 200:
                    self.refused[status] = self.refused.get(status, 0) + 1
                else:
                    self.played += 1
                    limit = time.monotonic() + 1.0
                    while p.count == 0 and time.monotonic() < limit:
                        time.sleep(0.01)
                    if p.count:
                        self.with_media += 1
                        self.first_packet.append(p.first_arrival - p.play_sent)
                if i % 4 >= 2:  # half of each transport's drops are resets
                    p.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except (OSError, ConnectionError) as e:
                key = f"{type(e).__name__}"
                self.refused[key] = self.refused.get(key, 0) + 1
            finally:
                p.close()
            self.sleep(max(0.0, start + i + 1 - time.monotonic()))

    def checks(self):
        out = super().checks()
        out.append((self.played == self.attempts and self.attempts > 0,
                    f"storm: {self.played} of {self.attempts} SETUP/PLAY answered 200"
                    + (f" (other outcomes {self.refused})" if self.refused else "")))
        out.append((self.with_media == self.played,
                    f"storm: {self.with_media} of {self.played} got media within 1 s of PLAY"
                    + (f" (median {statistics.median(self.first_packet) * 1000:.0f} ms, max "
                       f"{max(self.first_packet) * 1000:.0f} ms)" if self.first_packet else "")))
        return out


class HalfOpen(Member):
    """Connects, sends `prefix` (maybe nothing) and waits for the server to close."""

    def __init__(self, soak, kind, prefix):
        super().__init__(soak, f"half-open-{kind}")
        self.prefix = prefix
        self.cycles = []  # (seconds until closed or None, bytes the server sent)

    def body(self):
        limit_s = TIMEOUT_S + 10
        for _ in range(1000):
            if not self.alive():
                break
            s = socket.create_connection(("127.0.0.1", self.soak.port), timeout=5)
            opened = time.monotonic()
            got = 0
            closed = None
            try:
                if self.prefix:
                    s.sendall(self.prefix)
                while time.monotonic() < opened + limit_s + 5 and self.alive():
                    r, _, _ = select.select([s], [], [], 0.2)
                    if not r:
                        continue
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        closed = time.monotonic() - opened
                        break
                    got += len(data)
            finally:
                s.close()
            if closed is None and time.monotonic() < opened + limit_s + 5:
                break  # the zoo ended first: not counted
            self.cycles.append((closed, got))
            self.soak.event(f"{self.name}: " + (f"closed by the server after {closed:.1f} s" if closed is not None
                                                else "NOT closed"))

    def checks(self):
        out = super().checks()
        times = [c for c, _ in self.cycles]
        ok = bool(times) and all(c is not None and c <= TIMEOUT_S + 10 for c in times)
        shown = ", ".join("never" if c is None else f"{c:.1f}" for c in times)
        out.append((ok, f"{self.name}: each of {len(times)} connections closed by the server within "
                    f"{TIMEOUT_S + 10} s (s: {shown or 'none ran'}; bytes it sent: {[g for _, g in self.cycles]})"))
        return out


class SlowReader(Member):
    """TCP, reads 1 KB every 0.5 s through a 4 KB receive buffer; a new
    connection every 40 s (without TEARDOWN)."""

    def __init__(self, soak):
        super().__init__(soak, "slow-reader")
        self.cycles = 0
        self.read = 0
        self.closed_by_server = 0

    def body(self):
        for _ in range(1000):
            if not self.alive():
                break
            p = CountingPlayer(self.soak.port, SESSION, "tcp", timeout=10)
            try:
                p.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                status, _ = p.setup()
                if status != 200:
                    raise RuntimeError(f"SETUP {status}")
                status, _, _ = p.conn.request("PLAY", p.base, {"Session": p.session})
                if status != 200:
                    raise RuntimeError(f"PLAY {status}")
                self.cycles += 1
                sock = p.conn.sock
                sock.settimeout(0)
                end = min(time.monotonic() + 40, self.soak.zoo_end)
                next_keepalive = time.monotonic() + 25
                cseq = 100
                while time.monotonic() < end and not self.soak.stop.is_set():
                    time.sleep(0.5)
                    try:
                        data = sock.recv(1024)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self.closed_by_server += 1
                        break
                    self.read += len(data)
                    if time.monotonic() >= next_keepalive:
                        next_keepalive += 25
                        cseq += 1
                        sock.setblocking(True)
                        sock.settimeout(5)
                        sock.sendall(f"GET_PARAMETER {p.base} RTSP/1.0\r\nCSeq: {cseq}\r\n"
                                     f"Session: {p.session}\r\n\r\n".encode())
                        sock.settimeout(0)
            finally:
                p.close()

    def summary(self):
        return (f"{self.cycles} connections, {self.read / 1024:.0f} KB read in all, "
                f"{self.closed_by_server} closed by the server")


# --- good players ----------------------------------------------------------------------

class GoodPlayer:
    """ffmpeg or gst-launch decoding the stream from start to end; one stdout
    line per decoded frame with its timestamp."""

    def __init__(self, kind, transport, url):
        self.kind, self.transport = kind, transport
        self.name = f"{kind}-{transport}"
        if kind == "ffmpeg":
            helpers.need_tool("ffmpeg")
            cmd = ["ffmpeg", "-nostdin", "-v", "warning", "-rtsp_transport", transport,
                   "-timeout", helpers.CLIENT_TIMEOUT_US, "-i", url, "-map", "0:v",
                   "-enc_time_base:v", "-1", "-fps_mode", "passthrough", "-flush_packets", "1",
                   "-f", "framecrc", "-"]
        else:
            helpers.need_gst_elements("rtspsrc", "rtph264depay", "h264parse", "avdec_h264", "fakesink")
            cmd = ["gst-launch-1.0", "-e", "-v", "rtspsrc", f"location={url}", f"protocols={transport}",
                   "!", "rtph264depay", "!", "h264parse", "!", "avdec_h264", "!",
                   "fakesink", "silent=false", "sync=false"]
        self.proc = helpers.Background(cmd, self.name)

    def frames(self):
        """[(arrival, pts in frame intervals, discont)] of every decoded frame."""
        out = []
        tb = 1 / 90000  # framecrc's "#tb 0: 1/90000" (-enc_time_base -1: the RTP clock)
        for line, at in zip(list(self.proc.lines), list(self.proc.line_times)):
            if self.kind == "ffmpeg":
                if line.startswith("#tb 0:"):
                    num, _, den = line.split(":", 1)[1].strip().partition("/")
                    tb = int(num) / int(den)
                if line.startswith("#"):
                    continue
                f = [x.strip() for x in line.split(",")]
                if len(f) >= 6 and f[0] == "0":
                    out.append((at, int(f[1]) * tb * FPS, False))
            elif "last-message = chain" in line and "pts: " in line:
                pts = line.split("pts: ", 1)[1].split(",", 1)[0]
                if pts == "none":
                    continue
                h, m, s = pts.split(":")
                seconds = int(h) * 3600 + int(m) * 60 + float(s)
                out.append((at, seconds * FPS, " discont " in line))
        return out

    def evaluate(self, stream_end):
        """Figures and (ok, text) checks: every frame from the first on."""
        frames = self.frames()
        res = {"decoded": len(frames)}
        if len(frames) < 2:
            return res, [(False, f"{self.name}: decoded {len(frames)} frames\n{self.proc.stderr[-2000:]}")]
        lost = repeats = back = 0
        worst = 0
        for (_, a, _), (_, b, _) in zip(frames, frames[1:]):
            steps = round(b - a)
            if steps >= 2:
                lost += steps - 1
                worst = max(worst, steps - 1)
            elif steps == 0:
                repeats += 1
            elif steps < 0:
                back += 1
        first_at = frames[0][0]
        span_frames = round(frames[-1][1] - frames[0][1])
        expected = span_frames + 1
        wall = stream_end - first_at
        arrivals = [a for a, _, _ in frames]
        max_arrival_gap = max(b - a for a, b in zip(arrivals, arrivals[1:]))
        disconts = sum(1 for _, _, d in frames[1:] if d)
        res.update(expected=expected, lost=lost, repeats=repeats, backwards=back, worst_gap=worst,
                   span_s=span_frames / FPS, wall_s=wall, max_arrival_gap_s=max_arrival_gap,
                   disconts=disconts, stderr_lines=len([l for l in self.proc.stderr.splitlines() if l.strip()]))
        checks = [
            (lost == 0 and back == 0 and disconts == 0,
             f"{self.name}: every frame from its first on: {len(frames)} decoded, timestamps span {expected} frames, "
             f"{lost} lost (largest gap {worst}), {back} backwards, {repeats} repeated, {disconts} discont flags"),
            (len(frames) - repeats >= expected,
             f"{self.name}: decoded {len(frames) - repeats} distinct frames of the {expected} its span holds"),
            (span_frames / FPS >= wall - 2.5,
             f"{self.name}: its frames reach the end of the stream (they span {span_frames / FPS:.1f} s; "
             f"{wall:.1f} s passed from its first frame to the last one sent)"),
        ]
        return res, checks


# --- the soak --------------------------------------------------------------------------

class Soak:
    def __init__(self, args):
        self.minutes = args.minutes
        self.seconds = int(round(args.minutes * 60))
        self.sched = args.sched
        self.out = Path(args.out)
        self.suffix = f"-{self.sched}" if self.sched else ""
        self.port = args.port or helpers.free_port()
        self.stop = threading.Event()
        self.events = []
        self.t0 = None
        self.zoo_end = None
        self.procs = []

    def event(self, text):
        t = time.monotonic() - self.t0
        self.events.append((t, text))
        if not self.stop.is_set():  # after a Ctrl-C, only the clients seeing the end
            log(self.t0, text)

    def cleanup(self):
        self.stop.set()
        for proc in self.procs:
            try:
                if proc.proc.poll() is None:
                    proc.interrupt()
                    if proc.wait(5) is None:
                        proc.stop()
            except Exception:
                pass
            if proc.proc.poll() is None:
                try:
                    os.killpg(proc.proc.pid, signal.SIGKILL)
                except OSError:
                    pass

    def run(self):
        binary = Path(helpers.micropython())
        self.binary_desc = (f"{binary} ({binary.stat().st_size} bytes, modified "
                            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(binary.stat().st_mtime))}, sha256 "
                            f"{hashlib.sha256(binary.read_bytes()).hexdigest()[:16]})")
        self.t0 = time.monotonic()
        self.server, self.url = start_server(self.port, self.seconds, self.sched)
        self.procs.append(self.server)
        self.t0 = time.monotonic()  # the stream's start: the sampler's time 0
        self.sched_desc = describe_threads(self.server.proc.pid)
        for line in self.sched_desc:
            log(self.t0, line)
        self.zoo_end = self.t0 + self.seconds - 6
        self.sampler = Sampler(self.server, self.t0, self.stop)
        self.sampler.start()
        log(self.t0, f"server pid {self.server.proc.pid} streaming {self.url} for {self.seconds} s")

        self.players = []
        for kind in ("ffmpeg", "gst"):
            for transport in ("tcp", "udp"):
                gp = GoodPlayer(kind, transport, self.url)
                self.players.append(gp)
                self.procs.append(gp.proc)
        self.members = [
            Keepalive(self, "rtcp", "udp"), Keepalive(self, "rtcp", "tcp"),
            Keepalive(self, "GET_PARAMETER", "tcp"), Keepalive(self, "OPTIONS", "udp"),
            Keepalive(self, "SET_PARAMETER", "tcp"),
            Silent(self, "udp"), Silent(self, "tcp"),
            PausePlay(self, "tcp"), Storm(self), SlowReader(self),
            HalfOpen(self, "nothing", b""),
            HalfOpen(self, "nothing-2", b""),
            HalfOpen(self, "partial-head", f"OPTIONS rtsp://127.0.0.1:{self.port}/{SESSION} RTSP/1.0\r\nCSeq: 1\r\n".encode()),
            HalfOpen(self, "partial-line", f"DESCRIBE rtsp://127.0.0.1:{self.port}/".encode()),
        ]
        for m in self.members:
            m.start()
        log(self.t0, f"{len(self.players)} good players and {len(self.members)} zoo clients started")

        next_report = 60
        deadline = self.t0 + self.seconds + 60
        while self.server.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            if time.monotonic() - self.t0 >= next_report:
                self.progress(next_report)
                next_report += 60
            for gp in self.players:
                if gp.proc.proc.poll() is not None and not getattr(gp, "reported", False) \
                        and time.monotonic() < self.t0 + self.seconds - 1:
                    gp.reported = True
                    self.event(f"{gp.name} EXITED early ({gp.proc.proc.returncode}): {gp.proc.stderr[-300:]}")
        if self.server.proc.poll() is None:
            self.event("the server did not finish in time: stopping it")
            self.server.stop()
        self.stream_end = next((t for line, t in zip(self.server.lines, self.server.line_times)
                                if line.startswith("SENT ")), time.monotonic())
        for m in self.members:
            m.join(TIMEOUT_S + 30)
        for gp in self.players:
            if gp.proc.wait(15) is None:
                gp.proc.interrupt()
                if gp.proc.wait(10) is None:
                    gp.proc.stop()
        self.stop.set()
        self.sampler.join(5)
        return self.evaluate()

    def progress(self, at):
        rows = [r for r in self.sampler.rows if r["t"] > at - 60]
        if not rows:
            return
        log(self.t0, f"last minute: cpu {mean(rows, 'cpu'):.3f} core (script {mean(rows, 'cpu_script'):.3f}, "
                     f"loop {mean(rows, 'cpu_loop'):.3f}), rss {rows[-1]['rss_kb'] / 1024:.1f} MB, "
                     f"fds {rows[-1]['fds']}, threads {rows[-1]['threads']}, playing {mean(rows, 'playing'):.1f}")

    # --- evaluation ---

    def evaluate(self):
        rows = self.sampler.rows
        checks = []
        figures = {}
        end = self.zoo_end - self.t0
        # good players
        self.player_results = {}
        for gp in self.players:
            res, c = gp.evaluate(self.stream_end)
            self.player_results[gp.name] = res
            checks += c
        for m in self.members:
            checks += m.checks()
        # the server's own end
        sent = next((l for l in self.server.lines if l.startswith("SENT ")), None)
        checks.append((sent is not None and "DONE" in self.server.lines,
                       f"server: streamed all {self.seconds * FPS} frames and shut down cleanly ({sent}; exit "
                       f"{self.server.proc.returncode})"))
        # resources after warm-up
        post = [r for r in rows if WARM_UP_S <= r["t"] <= end]
        if len(post) < 30:
            checks.append((False, f"resources: only {len(post)} samples after the warm-up"))
        else:
            first = [r for r in post if r["t"] < WARM_UP_S + 15]
            last = [r for r in post if r["t"] > end - 15]
            rss0, rss1 = median(first, "rss_kb"), median(last, "rss_kb")
            fd0, fd1 = median(first, "fds"), median(last, "fds")
            rss_slope = slope(post, "rss_kb") * 60
            fd_slope = slope(post, "fds") * 60
            figures.update(rss_warm=rss0, rss_end=rss1, rss_slope=rss_slope, fd_warm=fd0, fd_end=fd1,
                           fd_slope=fd_slope, rss_max=max(r["rss_kb"] for r in post),
                           fd_max=max(r["fds"] for r in post), fd_min=min(r["fds"] for r in post))
            checks.append((rss1 - rss0 <= 1024 and rss_slope < 256,
                           f"RSS flat after warm-up: {rss0 / 1024:.2f} MB at {WARM_UP_S}-{WARM_UP_S + 15} s, "
                           f"{rss1 / 1024:.2f} MB in the last 15 s ({(rss1 - rss0):+.0f} KB), slope "
                           f"{rss_slope:+.1f} KB/min (limits +1024 KB, 256 KB/min)"))
            checks.append((fd1 - fd0 <= 2 and fd_slope < 0.5,
                           f"fds flat after warm-up: {fd0:.0f} at {WARM_UP_S}-{WARM_UP_S + 15} s, {fd1:.0f} in the "
                           f"last 15 s, slope {fd_slope:+.2f}/min, range {figures['fd_min']}..{figures['fd_max']} "
                           f"(limits +2, 0.5/min)"))
            threads = {r["threads"] for r in rows}
            checks.append((threads == {2}, f"threads: {sorted(threads)} over the run (the script's and the loop's)"))
        # CPU against players
        windows = self.cpu_windows(rows, end)
        figures["windows"] = windows
        base = windows[0]
        if base["n"] < 20:
            checks.append((False, f"CPU: too few samples before the first session timeout ({base['n']})"))
        else:
            per_player = base["cpu"] / max(base["playing"], 1)
            for w in windows[1:]:
                if w["n"] < 20:
                    continue
                scale = max(1.0, w["playing"] / max(base["playing"], 1))
                limit = 2 * base["cpu"] * scale + 0.05
                w["limit"] = limit
                checks.append((w["cpu"] <= limit,
                               f"CPU {w['name']}: {w['cpu']:.3f} core (loop thread {w['loop']:.3f}, max second "
                               f"{w['max']:.2f}) with {w['playing']:.1f} players; limit {limit:.3f} "
                               f"(before the first timeout: {base['cpu']:.3f} core with {base['playing']:.1f} players, "
                               f"{per_player * 1000:.1f} mcore each)"))
        self.figures = figures
        self.checks = checks
        tick = next((l for l in reversed(self.server.lines) if l.startswith("TICK ")), None)
        self.last_tick = " ".join(tick.split()[2:]) if tick else None
        return checks

    def cpu_windows(self, rows, end):
        def window(name, a, b):
            sel = [r for r in rows if a <= r["t"] < b]
            return {"name": name, "from": a, "to": b, "n": len(sel), "cpu": mean(sel, "cpu"),
                    "loop": mean(sel, "cpu_loop"), "script": mean(sel, "cpu_script"),
                    "playing": mean(sel, "playing"), "max": max((r["cpu"] for r in sel), default=0)}
        out = [window("before the first timeout (25-55 s)", 25, 55),
               window("after the first timeout (70-100 s)", 70, 100),
               window(f"at the end ({end - 30:.0f}-{end:.0f} s)", end - 30, end)]
        minute = 1
        while (minute + 1) * 60 <= end + 1:
            out.append(window(f"minute {minute + 1} ({minute * 60}-{(minute + 1) * 60} s)", minute * 60, (minute + 1) * 60))
            minute += 1
        return out

    # --- report ---

    def write(self):
        self.out.mkdir(parents=True, exist_ok=True)
        rows = self.sampler.rows
        csv_path = self.out / f"samples{self.suffix}.csv"
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["t"])
            w.writeheader()
            w.writerows(rows)
        logs = self.out / f"logs{self.suffix}"
        logs.mkdir(exist_ok=True)
        (logs / "server.out").write_text(self.server.stdout + "\n")
        (logs / "server.err").write_text(self.server.stderr + "\n")
        for gp in self.players:
            (logs / f"{gp.name}.err").write_text(gp.proc.stderr + "\n")
        (logs / "events.txt").write_text("".join(f"{t:7.1f} s  {e}\n" for t, e in self.events))
        png = self.out / f"soak{self.suffix}.png"
        plot_error = plot(rows, png, self, self.zoo_end - self.t0)
        md = self.out / f"report{self.suffix}.md"
        md.write_text(self.markdown(png, csv_path, plot_error))
        return md, png

    def markdown(self, png, csv_path, plot_error):
        passed = sum(1 for ok, _ in self.checks if ok)
        failed = len(self.checks) - passed
        f = self.figures
        lines = [f"# Soak: {self.minutes:g} minutes, {'default scheduling' if not self.sched else self.sched}", "",
                 f"**{'PASSED' if not failed else 'FAILED'}**: {passed} checks passed, {failed} failed.", "",
                 f"- server: `{self.binary_desc}`, `{SERVER_SCRIPT.relative_to(REPO)}`, default init options "
                 f"(session_timeout {TIMEOUT_S} s), {self.url}",
                 *[f"- {d}" for d in self.sched_desc],
                 f"- run: {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cpus, warm-up {WARM_UP_S} s, "
                 f"zoo until {self.zoo_end - self.t0:.0f} s, stream until {self.stream_end - self.t0:.1f} s",
                 f"- plot: `{png.name}`, samples: `{csv_path.name}`"
                 + (f" (no plot: {plot_error})" if plot_error else ""),
                 f"- the server's last counts: {self.last_tick or 'none'}"]
        for (comm, policy, prio), (a, b, pids) in sorted(self.sampler.foreign_rt.items()):
            lines.append(f"- **WARNING**: other real-time tasks ran beside the server, seen from {a:.0f} s to "
                         f"{b:.0f} s: {comm} ({len(pids)} processes, e.g. pid {min(pids)}), {policy} priority "
                         f"{prio}; they run before any normal task"
                         + (" and can hold the server off core 0" if self.sched else "")
                         + ", so a failure may be theirs: run the soak on a quiet machine")
        lines += ["", "## Checks", ""]
        for ok, text in self.checks:
            lines.append(f"- {'ok  ' if ok else '**FAIL**'} {text}")
        lines += ["", "## Good players", "",
                  "| player | decoded | span (frames) | lost | repeats | backwards | discont | max arrival gap | stderr lines |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, r in self.player_results.items():
            lines.append(f"| {name} | {r.get('decoded', 0)} | {r.get('expected', '-')} | {r.get('lost', '-')} | "
                         f"{r.get('repeats', '-')} | {r.get('backwards', '-')} | {r.get('disconts', '-')} | "
                         + (f"{r['max_arrival_gap_s']:.2f} s" if "max_arrival_gap_s" in r else "-")
                         + f" | {r.get('stderr_lines', '-')} |")
        lines += ["", "## Zoo", ""]
        for m in self.members:
            extra = m.summary() if hasattr(m, "summary") else ""
            if extra:
                lines.append(f"- {m.name}: {extra}")
        lines += ["", "## CPU (cores) against players", "",
                  "| window | samples | process | script thread | loop thread | max second | players | limit |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for w in f.get("windows", []):
            lim = f"{w['limit']:.3f}" if "limit" in w else "-"
            lines.append(f"| {w['name']} | {w['n']} | {w['cpu']:.3f} | {w['script']:.3f} | {w['loop']:.3f} | "
                         f"{w['max']:.2f} | {w['playing']:.1f} | {lim} |")
        if "rss_warm" in f:
            lines += ["", "## Memory and descriptors after warm-up", "",
                      f"- RSS: {f['rss_warm'] / 1024:.2f} MB at warm-up end, {f['rss_end'] / 1024:.2f} MB at the end, "
                      f"max {f['rss_max'] / 1024:.2f} MB, slope {f['rss_slope']:+.1f} KB/min",
                      f"- fds: {f['fd_warm']:.0f} at warm-up end, {f['fd_end']:.0f} at the end, range "
                      f"{f['fd_min']}..{f['fd_max']}, slope {f['fd_slope']:+.2f}/min"]
        lines += ["", "## Events", ""] + [f"- {t:.1f} s: {e}" for t, e in self.events[:200]]
        return "\n".join(lines) + "\n"


def mean(rows, key):
    return statistics.fmean(r[key] for r in rows) if rows else 0.0


def median(rows, key):
    return statistics.median(r[key] for r in rows) if rows else 0.0


def slope(rows, key):
    """Least-squares slope of rows[key] over rows["t"] (per second)."""
    if len(rows) < 2:
        return 0.0
    ts = [r["t"] for r in rows]
    vs = [r[key] for r in rows]
    mt, mv = statistics.fmean(ts), statistics.fmean(vs)
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / den if den else 0.0


def plot(rows, path, soak, zoo_end):
    """CPU, RSS, fds and threads over time; None, or why there is no plot."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"matplotlib is missing ({e}): run `make setup`"
    if not rows:
        return "no samples"
    t = [r["t"] for r in rows]

    def smooth(key, n=5):  # the kernel counts CPU in 10 ms ticks: 1 s samples are coarse
        vals = [r[key] for r in rows]
        return [statistics.fmean(vals[max(0, i - n + 1):i + 1]) for i in range(len(vals))]

    fig, axes = plt.subplots(4, 1, figsize=(11, 10), sharex=True)
    ax = axes[0]
    ax.plot(t, [r["cpu"] for r in rows], color="black", linewidth=0.5, alpha=0.3)
    ax.plot(t, smooth("cpu"), label="process (5 s mean)", color="black", linewidth=1.2)
    ax.plot(t, smooth("cpu_loop"), label="loop thread", color="tab:red", linewidth=0.9)
    ax.plot(t, smooth("cpu_script"), label="script thread", color="tab:blue", linewidth=0.9)
    ax.set_ylabel("CPU (cores)")
    ax.set_ylim(0, max(0.05, max(r["cpu"] for r in rows) * 1.15))
    ax2 = ax.twinx()
    ax2.plot(t, [r["playing"] for r in rows], color="tab:green", linewidth=0.8, linestyle="--", label="players")
    ax2.set_ylabel("players", color="tab:green")
    ax2.set_ylim(0, max(r["playing"] for r in rows) * 1.6 + 1)
    lines_, labels = ax.get_legend_handles_labels()
    l2, lb2 = ax2.get_legend_handles_labels()
    ax.legend(lines_ + l2, labels + lb2, loc="upper left", fontsize=8, ncol=4)
    axes[1].plot(t, [r["rss_kb"] / 1024 for r in rows], color="tab:purple")
    axes[1].set_ylabel("RSS (MB)")
    axes[1].set_ylim(0, max(r["rss_kb"] for r in rows) / 1024 * 1.2)
    axes[2].plot(t, [r["fds"] for r in rows], color="tab:orange")
    axes[2].set_ylabel("open fds")
    axes[2].set_ylim(0, max(r["fds"] for r in rows) * 1.2)
    axes[3].plot(t, [r["threads"] for r in rows], color="tab:gray")
    axes[3].set_ylabel("threads")
    axes[3].set_ylim(0, max(r["threads"] for r in rows) + 1)
    axes[3].set_xlabel("seconds since the stream started")
    for a in axes:
        a.axvline(WARM_UP_S, color="gray", linestyle=":", linewidth=0.8)
        a.axvline(TIMEOUT_S + 2, color="tab:red", linestyle=":", linewidth=0.8)
        a.axvline(zoo_end, color="gray", linestyle=":", linewidth=0.8)
        a.grid(alpha=0.3)
    passed = all(ok for ok, _ in soak.checks)
    fig.suptitle(f"canmv-rtsp soak, {soak.minutes:g} min, {soak.sched or 'default scheduling'}: "
                 f"{'PASSED' if passed else 'FAILED'} (dotted: warm-up end, first session timeout, zoo end)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10, help="how long the stream runs (at least 2: "
                    "the 60 s session timeout must pass with room on both sides)")
    ap.add_argument("--sched", default=os.environ.get("RTSP_SCHED") or None,
                    choices=[None, "", "none", *SCHED],
                    help="run the server on one core under SCHED_FIFO (default: env RTSP_SCHED)")
    ap.add_argument("--out", default=str(REPO / "build" / "soak"), help="where the report goes")
    ap.add_argument("--port", type=int, default=0, help="RTSP port (default: a free one)")
    args = ap.parse_args()
    if args.sched in ("", "none"):
        args.sched = None
    if args.minutes < 2:
        ap.error("--minutes must be at least 2 (the 60 s session timeout must pass)")
    soak = Soak(args)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C stops the soak even when it was started with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        soak.run()
    except KeyboardInterrupt:
        print("soak: interrupted; stopping everything it started", file=sys.stderr)
        soak.cleanup()
        return 130
    except (Exception, Failed) as e:
        soak.cleanup()
        print(f"soak: could not run: {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc()
        print("soak: 0 passed, 1 failed")
        return 1
    finally:
        soak.cleanup()
    md, png = soak.write()
    failed = [text for ok, text in soak.checks if not ok]
    print()
    print(md.read_text())
    print(f"report: {md}\nplot:   {png}")
    if failed:
        print("\nSOAK FAILED:")
        for text in failed:
            print(f"  - {text}")
    print(f"soak: {len(soak.checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
