# The benchmark's pusher for our side: MicroPython (unix port) with the
# `multimedia` module, pushing a clip to a receiving server as a script on the
# board would push its encoder's output. Driven by bench/run.py.
#
#   build/micropython bench/mpy_pusher.py --url URL --clip FILE [--fps N]
#       [--frames N] [--transport tcp|udp]
#
# Splits the clip into access units as examples/host/annexb.py does, hands
# the clip's SPS/PPS to rtsppusher_pushvideoheader, opens, and then pushes N
# access units (the clip looped) one per 1/fps s on a fixed grid, frame k
# stamped k * 1e6 / fps µs, timing each rtsppusher_pushvideodata call with
# ticks_us. Prints:
#   OPENED <ticks_us>                    the handshake is done, pushing starts
#   DONE n median p99 max mean           µs per call, when the last one returned
#   STATS <getstats dict>
# then waits for a line on stdin (run.py reads our CPU and memory meanwhile),
# closes (TEARDOWN), destroys and prints "BYE".

import sys
import time

import multimedia as mm

sys.path.append(sys.argv[0].rsplit("/", 1)[0] + "/../examples/host")
import annexb  # noqa: E402


def parse(argv):
    opts = {"url": None, "clip": None, "fps": 30, "frames": 630, "transport": "tcp"}
    i = 0
    while i + 1 < len(argv):
        key = argv[i][2:]
        opts[key] = argv[i + 1] if key in ("url", "clip", "transport") else int(argv[i + 1])
        i += 2
    return opts


def percentile(sorted_values, q):
    # nearest rank, as bench/mpy_server.py
    k = int(q * len(sorted_values) + 0.999999) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, k))]


def main():
    opts = parse(sys.argv[1:])
    fps = opts["fps"]
    count = opts["frames"]
    with open(opts["clip"], "rb") as f:
        data = f.read()
    mv = memoryview(data)
    units = annexb.access_unit_spans(data, annexb.H264)
    keys = []
    header = bytearray()
    for s, e in units:
        key = 0
        au = data[s:e]
        for _, ns, ne in annexb.nal_spans(au):
            t = au[ns] & 0x1F
            if t == 5:
                key = 1
            elif t in (7, 8) and not keys:
                header += b"\x00\x00\x00\x01" + au[ns:ne]
        keys.append(key)
    # a camera's width and height; the receiver reads the SPS anyway
    pusher = mm.rtsp_pusher()
    ret = pusher.rtsppusher_init(640, 360, opts["url"], fps, opts["transport"])
    if ret != 0:
        print("INIT-FAILED", ret)
        sys.exit(1)
    if header:
        pusher.rtsppusher_pushvideoheader(header, len(header))
    ret = pusher.rtsppusher_open()
    if ret != 0:
        print("OPEN-FAILED", ret)
        sys.exit(1)
    times = [0] * count
    failed = 0
    t0 = time.ticks_us()
    print("OPENED", t0)
    n = len(units)
    for k in range(count):
        due = time.ticks_add(t0, (k * 1000000) // fps)
        wait = time.ticks_diff(due, time.ticks_us())
        if wait > 0:
            time.sleep_us(wait)
        s, e = units[k % n]
        buf = mv[s:e]
        ts = (k * 1000000) // fps
        c0 = time.ticks_us()
        ret = pusher.rtsppusher_pushvideodata(buf, e - s, keys[k % n], ts)
        c1 = time.ticks_us()
        times[k] = time.ticks_diff(c1, c0)
        if ret != 0:
            failed += 1
    times.sort()
    print("DONE", count, percentile(times, 0.5), percentile(times, 0.99), times[-1],
          sum(times) // count, failed)
    print("STATS", pusher.rtsppusher_getstats())
    sys.stdin.readline()
    pusher.rtsppusher_close()
    pusher.rtsppusher_destroy()
    print("BYE")


main()
