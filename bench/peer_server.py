#!/usr/bin/python3
# The peer in `make bench`: GStreamer's gst-rtsp-server (Debian's, through the
# `gi` bindings of /usr/bin/python3), fed the same Annex-B clip at the same
# rate as our server, with the same stdin commands as bench/mpy_server.py.
#
#   /usr/bin/python3 bench/peer_server.py --port P --clip FILE [--fps N] [--path bench]
#
# One shared media (set_shared: every client gets the same RTP stream, as ours
# does): appsrc (live, byte-stream H.264, one access unit per buffer) !
# rtph264pay config-interval=-1 (SPS and PPS sent before every IDR). The media
# exists from the first client's DESCRIBE until the last client leaves; frames
# due while no media exists are skipped, as a camera's would be. Buffers carry
# PTS on the pipeline's running time, first frame + k / fps, so RTP time
# advances by exactly 90000 / fps per frame as it does with ours.
#
# Commands (one per line on stdin): STREAM, STOP, COST SIZE FPS N, LOG FILE,
# STATS, PING, QUIT; see bench/mpy_server.py. Times are CLOCK_MONOTONIC µs
# (time.monotonic_ns), the load client's clock.

import select
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

sys.path.append(sys.path[0] + "/../examples/host")
import annexb  # noqa: E402


def now_us():
    return time.monotonic_ns() // 1000


def parse(argv):
    opts = {"port": 8554, "clip": None, "fps": 30, "path": "bench"}
    for i in range(0, len(argv) - 1, 2):
        key = argv[i][2:]
        opts[key] = int(argv[i + 1]) if key in ("port", "fps") else argv[i + 1]
    return opts


class Peer:
    def __init__(self, opts):
        self.fps = opts["fps"]
        self.frame_ns = 1_000_000_000 // self.fps
        with open(opts["clip"], "rb") as f:
            self.data = f.read()
        self.units = [self.data[s:e] for s, e in annexb.access_unit_spans(self.data, annexb.H264)]
        self.k = 0
        self.log = []
        self.lock = threading.Lock()
        self.appsrc = None
        self.pipeline = None
        self.k_first = None  # first frame pushed into the current media
        self.pts_first = 0
        self.quit = False

        Gst.init(None)
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address("127.0.0.1")
        self.server.set_service(str(opts["port"]))
        # The default listen backlog (5) drops connections that arrive together.
        self.server.set_backlog(1024)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            "( appsrc name=src is-live=true format=time do-timestamp=false "
            "caps=video/x-h264,stream-format=byte-stream,alignment=au,framerate=%d/1 "
            "! rtph264pay name=pay0 pt=96 config-interval=-1 )" % self.fps
        )
        factory.set_shared(True)
        factory.connect("media-configure", self.on_media)
        self.server.get_mount_points().add_factory("/" + opts["path"], factory)
        if self.server.attach(None) == 0:
            print("INIT-FAILED")
            sys.exit(1)
        self.url = "rtsp://127.0.0.1:%d/%s" % (opts["port"], opts["path"])
        self.loop = GLib.MainLoop()
        threading.Thread(target=self.loop.run, daemon=True).start()

    def on_media(self, factory, media):
        with self.lock:
            self.appsrc = media.get_element().get_child_by_name("src")
            self.pipeline = media.get_element().get_parent()  # the media's pipeline
            self.k_first = None
        media.connect("unprepared", self.on_unprepared)

    def on_unprepared(self, media):
        with self.lock:
            self.appsrc = None
            self.pipeline = None

    def running_time_ns(self):
        pipe = self.pipeline
        clock = pipe.get_clock() if pipe is not None else None
        if clock is None:
            return 0
        return max(0, clock.get_time() - pipe.get_base_time())

    def push(self, payload):
        """One frame into the media; (pushed, call start µs, return µs)."""
        with self.lock:
            src = self.appsrc
            if src is not None and self.k_first is None:
                self.k_first = self.k
                self.pts_first = self.running_time_ns()
            k_first, pts_first = self.k_first, self.pts_first
        k = self.k
        self.k += 1
        if src is None:
            return False, 0, 0
        t0 = now_us()
        buf = Gst.Buffer.new_wrapped(payload)
        buf.pts = pts_first + (k - k_first) * self.frame_ns
        buf.duration = self.frame_ns
        src.emit("push-buffer", buf)
        t1 = now_us()
        return True, t0, t1

    def stream(self, poller):
        t0 = now_us()
        k0 = self.k
        while True:
            if poller.poll(0):
                line = sys.stdin.readline()
                if line and line.strip() != "STOP":
                    if not self.command(line, poller, streaming=True):
                        return line
                    continue
                return None
            due = t0 + ((self.k - k0) * 1_000_000) // self.fps
            wait = due - now_us()
            if wait > 0:
                time.sleep(wait / 1e6)
            k = self.k
            pushed, c0, c1 = self.push(self.units[k % len(self.units)])
            if pushed:
                self.log.append((k, c1, c1 - c0))

    def cost(self, size, fps, count):
        if self.appsrc is None:
            print("COST-NA", size, "no media (no client)")
            return
        self.push(self.units[0])
        s, e = annexb.access_unit_spans(self.data, annexb.H264)[1]
        nal = annexb.nal_spans(self.data[s:e])[0][1] + s
        filler = bytes(range(1, 256)) * (size // 255 + 1)
        frame = (b"\x00\x00\x00\x01" + self.data[nal:nal + 8] + filler)[:size]
        times = []
        t0 = now_us()
        for j in range(count):
            wait = t0 + ((j + 1) * 1_000_000) // fps - now_us()
            if wait > 0:
                time.sleep(wait / 1e6)
            pushed, c0, c1 = self.push(frame)
            if pushed:
                times.append(c1 - c0)
        if not times:
            print("COST-NA", size, "no media (no client)")
            return
        times.sort()
        pick = lambda q: times[max(0, min(len(times) - 1, -(-int(q * len(times) * 1000) // 1000) - 1))]
        print("COST", size, len(times), pick(0.5), pick(0.99), times[-1], sum(times) // len(times))

    def command(self, line, poller, streaming=False):
        words = line.split()
        if not words:
            return True
        cmd = words[0]
        if cmd == "LOG":
            with open(words[1], "w") as f:
                for k, ret, call in self.log:
                    f.write("%d %d %d\n" % (k, ret, call))
            print("LOGGED", len(self.log))
            self.log = []
        elif cmd == "STATS":
            print("STATS", {"sessions": self.server.get_session_pool().get_n_sessions()})
        elif cmd == "PING":
            print("PONG", now_us())
        elif streaming:
            return False
        elif cmd == "STREAM":
            print("STREAMING")
            pending = self.stream(poller)
            print("STOPPED", self.k)
            if pending is not None:
                return self.command(pending, poller)
        elif cmd == "COST":
            self.cost(int(words[1]), int(words[2]), int(words[3]))
        elif cmd == "QUIT":
            self.quit = True
        else:
            print("UNKNOWN", cmd)
        return True


def main():
    sys.stdout.reconfigure(line_buffering=True)
    peer = Peer(parse(sys.argv[1:]))
    poller = select.poll()
    poller.register(0, select.POLLIN)
    print("CLOCK", now_us())
    print("READY", peer.url)
    while not peer.quit:
        line = sys.stdin.readline()
        if not line:
            break
        peer.command(line, poller)
    peer.loop.quit()
    print("BYE")


main()
