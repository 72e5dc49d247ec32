# The soak's server (MicroPython unix port), driven by tests/soak/soak.py:
#
#   micropython mpy_soak_server.py --port P --seconds S [--clip FILE] [--fps N]
#
# One server with the default init options (session_timeout 60 s and every
# other limit as a script that calls rtspserver_init(port) gets), one H.264
# session "live", the clip looped at N fps (default 30) with its true
# timestamps: frame k is stamped k * 1e6 / fps us, so a player that got every
# frame sees its timestamps advance by exactly one frame each time.
#
# Prints "URL live <url>", then once a second
#   "TICK <ms since start> frames <n> clients <c> playing <p> dropped <d> waits <w>
#    packets <n> bytes <n> behind <n> heap <n>"
# (behind: frames that went out more than 100 ms after their time; heap: bytes
# of the interpreter's heap in use after the gc.collect() it makes each second
# as a long-running board script does), and at the
# end "SENT frames <n> last_pts_us <t>", then tears the server down (which
# closes every client's connection) and prints "DONE". Ctrl-C tears down too.

import gc
import sys
import time

import multimedia as mm


def _dir_of(path):
    slash = path.rfind("/")
    return path[:slash] if slash >= 0 else "."


sys.path.append(_dir_of(sys.argv[0]) + "/../../examples/host")
import annexb  # noqa: E402


def parse(argv):
    opts = {"port": 8554, "seconds": 60, "clip": _dir_of(sys.argv[0]) + "/../../examples/assets/clip.264",
            "fps": 30}
    i = 0
    while i + 1 < len(argv):
        key = argv[i][2:]
        opts[key] = argv[i + 1] if key == "clip" else int(argv[i + 1])
        i += 2
    return opts


def tick(server, t0, frames, behind):
    s = server.rtspserver_getstats("live")
    # As a long-running board script does: without it the interpreter's heap
    # (a fixed arena) is touched page by page for minutes, which looks like a leak.
    gc.collect()
    print("TICK", time.ticks_diff(time.ticks_ms(), t0), "frames", frames, "clients", s["clients"],
          "playing", s["playing"], "dropped", s["frames_dropped"], "waits", s["keyframe_waits"],
          "packets", s["packets_sent"], "bytes", s["bytes_sent"], "behind", behind,
          "heap", gc.mem_alloc())


def stream(server, opts):
    with open(opts["clip"], "rb") as f:
        data = f.read()
    mv = memoryview(data)
    spans = annexb.access_unit_spans(data, annexb.H264)
    fps = opts["fps"]
    total = opts["seconds"] * fps
    t0us = time.ticks_us()
    t0ms = time.ticks_ms()
    behind = 0
    pts = 0
    for k in range(total):
        pts = (k * 1000000) // fps
        wait = time.ticks_diff(time.ticks_add(t0us, pts), time.ticks_us())
        if wait > 0:
            time.sleep_us(wait)
        elif wait < -100000:
            behind += 1
        start, end = spans[k % len(spans)]
        ret = server.rtspserver_sendvideodata("live", mv[start:end], end - start, pts)
        if ret != 0:
            print("SEND-FAILED", k, ret)
        if (k + 1) % fps == 0:
            tick(server, t0ms, k + 1, behind)
    print("SENT frames", total, "last_pts_us", pts)


def main():
    opts = parse(sys.argv[1:])
    server = mm.rtsp_server()
    ret = server.rtspserver_init(opts["port"])  # the defaults, as CanMV scripts call it
    if ret != 0:
        print("INIT-FAILED", ret)
        return 1
    try:
        ret = server.rtspserver_createsession("live", mm.multi_media_type.media_h264, False)
        if ret != 0:
            print("SESSION-FAILED", ret)
            return 1
        server.rtspserver_start()
        print("URL live", server.rtspserver_getrtspurl("live"))
        stream(server, opts)
        time.sleep_ms(500)  # the last frames reach the players before their connections close
    except KeyboardInterrupt:
        print("INTERRUPTED")
    finally:
        server.rtspserver_destroysession("live")
        server.rtspserver_stop()
        server.rtspserver_deinit()
        server.rtspserver_destroy()
    print("DONE")
    return 0


sys.exit(main())
