# The benchmark's producer for our server: MicroPython (unix port) with the
# `multimedia` module, driven line by line on stdin by bench/run.py.
#
#   build/micropython bench/mpy_server.py --port P --clip FILE [--fps N] [--max N]
#
# Prints "CLOCK <ticks_us>" and "READY <url>", then obeys one command per line:
#   STREAM              send the clip's access units, looped, one per 1/fps s,
#                       until the next command arrives (each call's return time
#                       is logged); commands other than STOP keep it streaming
#   STOP                stop streaming
#   COST SIZE FPS N     (not streaming) one keyframe from the clip, then N calls
#                       with a SIZE-byte frame, FPS a second, each timed with
#                       ticks_us around rtspserver_sendvideodata;
#                       prints "COST SIZE N MEDIAN P99 MAX MEAN" (µs)
#   LOG FILE            writes "k return_us call_us" for every streamed frame
#                       logged since the last LOG; prints "LOGGED n"
#   STATS               prints "STATS <getstats dict>"
#   QUIT                tears the server down, prints "BYE"
#
# Frame k carries the timestamp k * 1e6 / fps µs, so frame k's RTP time is
# k * 90000 / fps after the first: run.py matches each client's arrivals to
# these calls by RTP time. ticks_us on the unix port is CLOCK_MONOTONIC in µs
# (mp_hal_ticks_us), the clock the load client stamps arrivals with.

import select
import sys
import time

import multimedia as mm

sys.path.append(sys.argv[0].rsplit("/", 1)[0] + "/../examples/host")
import annexb  # noqa: E402

SESSION = "bench"
LOG_CAP = 20000  # frames: 11 minutes at 30 fps; past it frames go unlogged


def parse(argv):
    opts = {"port": 8554, "clip": None, "fps": 30, "max": 64}
    i = 0
    while i + 1 < len(argv):
        key = argv[i][2:]
        opts[key] = argv[i + 1] if key == "clip" else int(argv[i + 1])
        i += 2
    return opts


def synthetic_frame(slice_head, size):
    """A SIZE-byte Annex-B P slice: a real slice header (first_mb_in_slice 0,
    so each call is a new picture), then bytes with no zero (no start code)."""
    filler = bytes(range(1, 256))
    out = bytearray(b"\x00\x00\x00\x01")
    out += slice_head
    while len(out) < size:
        out += filler[: size - len(out)]
    return out


def percentile(sorted_values, q):
    # nearest rank
    k = int(q * len(sorted_values) + 0.999999) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, k))]


class Producer:
    def __init__(self, opts):
        self.fps = opts["fps"]
        with open(opts["clip"], "rb") as f:
            self.data = f.read()
        self.mv = memoryview(self.data)
        self.units = annexb.access_unit_spans(self.data, annexb.H264)
        self.k = 0  # frames sent so far: frame k is stamped k * 1e6 / fps
        self.log_k = [0] * LOG_CAP
        self.log_ret = [0] * LOG_CAP
        self.log_call = [0] * LOG_CAP
        self.log_n = 0
        self.quit = False
        self.server = mm.rtsp_server()
        n = opts["max"]
        ret = self.server.rtspserver_init(opts["port"], max_clients=n, max_clients_per_session=n,
                                          max_connections=n + 16)
        if ret != 0:
            print("INIT-FAILED", ret)
            sys.exit(1)
        self.server.rtspserver_createsession(SESSION, mm.multi_media_type.media_h264, False)
        self.server.rtspserver_start()
        # a P slice's header from the clip for the synthetic frames
        s, e = self.units[1]
        nal = annexb.nal_spans(self.data[s:e])[0][1] + s
        self.slice_head = bytes(self.data[nal:nal + 8])

    def ts(self):
        return (self.k * 1000000) // self.fps

    def send(self, buf):
        t0 = time.ticks_us()
        ret = self.server.rtspserver_sendvideodata(SESSION, buf, len(buf), self.ts())
        t1 = time.ticks_us()
        self.k += 1
        return ret, t0, t1

    def stream(self, poller):
        """Paced clip until a command line is ready on stdin; returns it."""
        t0 = time.ticks_us()
        k0 = self.k
        while True:
            if poller.poll(0):
                line = sys.stdin.readline()
                if line.strip() != "STOP" and line:
                    if not self.command(line, poller, streaming=True):
                        return line
                    # keep the pace from where it was: frames are due on the same grid
                    continue
                return None
            due = time.ticks_add(t0, ((self.k - k0) * 1000000) // self.fps)
            wait = time.ticks_diff(due, time.ticks_us())
            if wait > 0:
                time.sleep_us(wait)
            s, e = self.units[self.k % len(self.units)]
            k = self.k
            ret, c0, c1 = self.send(self.mv[s:e])
            if ret != 0:
                print("SEND-FAILED", k, ret)
            if self.log_n < LOG_CAP:
                i = self.log_n
                self.log_k[i] = k
                self.log_ret[i] = c1
                self.log_call[i] = c1 - c0
                self.log_n += 1

    def cost(self, size, fps, count):
        s, e = self.units[0]  # the clip starts with SPS, PPS, IDR
        self.send(self.mv[s:e])
        frame = synthetic_frame(self.slice_head, size)
        times = []
        t0 = time.ticks_us()
        for j in range(count):
            due = time.ticks_add(t0, ((j + 1) * 1000000) // fps)
            wait = time.ticks_diff(due, time.ticks_us())
            if wait > 0:
                time.sleep_us(wait)
            ret, c0, c1 = self.send(frame)
            if ret != 0:
                print("SEND-FAILED cost", ret)
            times.append(c1 - c0)
        times.sort()
        print("COST", size, count, percentile(times, 0.5), percentile(times, 0.99), times[-1],
              sum(times) // len(times))

    def command(self, line, poller, streaming=False):
        """Runs one command; False for one that needs streaming stopped first."""
        words = line.split()
        if not words:
            return True
        cmd = words[0]
        if cmd == "LOG":
            with open(words[1], "w") as f:
                for i in range(self.log_n):
                    f.write("%d %d %d\n" % (self.log_k[i], self.log_ret[i], self.log_call[i]))
            print("LOGGED", self.log_n)
            self.log_n = 0
        elif cmd == "STATS":
            print("STATS", self.server.rtspserver_getstats(SESSION))
        elif cmd == "PING":
            print("PONG", time.ticks_us())
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

    def close(self):
        self.server.rtspserver_stop()
        self.server.rtspserver_deinit()
        self.server.rtspserver_destroy()


def main():
    opts = parse(sys.argv[1:])
    producer = Producer(opts)
    poller = select.poll()
    poller.register(0, select.POLLIN)
    print("CLOCK", time.ticks_us())
    print("READY", producer.server.rtspserver_getrtspurl(SESSION))
    try:
        while not producer.quit:
            line = sys.stdin.readline()
            if not line:
                break
            producer.command(line, poller)
    finally:
        producer.close()
        print("BYE")


main()
