# MicroPython (unix port) streamer driven by the pytest suites.
#
#   micropython mpy_streamer.py --port P [--grouping au|nal|packs|padded]
#       [--timestamps pts|const] [--wait-timeout S] [--end destroysession|deinit|destroy]
#       --stream NAME CLIP CLIENTS [--stream NAME CLIP CLIENTS ...]
#
# Starts one server with one H.264 session per --stream, prints
# "URL <name> <url>" for each, waits (bounded) until each session has CLIENTS
# playing clients, then sends every access unit of each clip once at 30 fps
# (all sessions side by side), sleeps 0.5 s and tears the server down, which
# closes the clients' connections. Prints "PLAYING ...", "SENT ..." and
# finally "DONE".
#
# --grouping: how the clip is cut into sendvideodata calls
#   au      one access unit per call
#   nal     one NAL unit (with its start code) per call
#   packs   like an encoder's packs: the non-VCL units of an access unit in one
#           call, its slices in the next
#   padded  one access unit per call, passed in a longer buffer with `size`
#           covering the access unit only (the rest is junk that must not be sent)
# --timestamps: pts (1e6/30 µs apart) or const (1000 on every call, as CanMV's examples)

import sys
import time

import multimedia as mm


def _dir_of(path):
    slash = path.rfind("/")
    return path[:slash] if slash >= 0 else "."


sys.path.append(_dir_of(sys.argv[0]) + "/../../examples/host")
import annexb  # noqa: E402

FPS = 30
JUNK = b"\xff" * 61 + b"\x00\x00\x01\x0c\xff\xff"  # never a valid continuation


def parse(argv):
    opts = {"port": None, "grouping": "au", "timestamps": "pts", "wait-timeout": 10.0,
            "end": "destroysession", "streams": []}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--stream":
            opts["streams"].append((argv[i + 1], argv[i + 2], int(argv[i + 3])))
            i += 4
            continue
        key = a[2:]
        val = argv[i + 1]
        if key == "port":
            val = int(val)
        elif key == "wait-timeout":
            val = float(val)
        opts[key] = val
        i += 2
    return opts


def calls_for(data, grouping):
    """[(buffer, size)] for each sendvideodata call of one clip."""
    calls = []
    if grouping == "nal":
        spans = annexb.nal_spans(data)
        for k in range(len(spans)):
            end = spans[k + 1][0] if k + 1 < len(spans) else len(data)
            calls.append((data[spans[k][0]:end], None))
        return calls
    for start, end in annexb.access_unit_spans(data):
        au = data[start:end]
        if grouping == "au":
            calls.append((au, None))
        elif grouping == "padded":
            calls.append((bytearray(au) + JUNK, len(au)))
        elif grouping == "packs":
            params = b""
            slices = b""
            nals = annexb.nal_spans(au)
            for k in range(len(nals)):
                u, s, _ = nals[k]
                e = nals[k + 1][0] if k + 1 < len(nals) else len(au)
                if annexb.h264_is_vcl(au[s] & 0x1F):
                    slices += au[u:e]
                else:
                    params += au[u:e]
            if params:
                calls.append((params, None))
            calls.append((slices, None))
        else:
            raise ValueError("grouping " + grouping)
    return calls


def frames_of(data, grouping):
    """Calls grouped per frame: [[(buffer, size), ...], ...] so pacing stays per picture."""
    if grouping == "nal":
        # one frame's NAL units go out back to back
        frames = []
        for start, end in annexb.access_unit_spans(data):
            frames.append(calls_for(data[start:end], "nal"))
        return frames
    if grouping == "packs":
        frames = []
        for start, end in annexb.access_unit_spans(data):
            frames.append(calls_for(data[start:end], "packs"))
        return frames
    return [[c] for c in calls_for(data, grouping)]


def wait_playing(server, streams, timeout_s):
    deadline = time.ticks_add(time.ticks_ms(), int(timeout_s * 1000))
    pending = list(streams)
    while pending:
        name, _, want = pending[0]
        stats = server.rtspserver_getstats(name)
        if stats["playing"] >= want:
            print("PLAYING", name, stats["playing"])
            pending.pop(0)
            continue
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            print("TIMEOUT", name, "wanted", want, "stats", stats)
            return False
        time.sleep_ms(20)
    return True


def main():
    opts = parse(sys.argv[1:])
    streams = opts["streams"]
    server = mm.rtsp_server()
    ret = server.rtspserver_init(opts["port"])
    if ret != 0:
        print("INIT-FAILED", ret)
        return 1
    clips = []
    for name, path, _ in streams:
        ret = server.rtspserver_createsession(name, mm.multi_media_type.media_h264, False)
        if ret != 0:
            print("SESSION-FAILED", name, ret)
            return 1
        with open(path, "rb") as f:
            clips.append(frames_of(f.read(), opts["grouping"]))
    server.rtspserver_start()
    for name, _, _ in streams:
        print("URL", name, server.rtspserver_getrtspurl(name))

    ok = wait_playing(server, streams, opts["wait-timeout"])
    const_ts = opts["timestamps"] == "const"
    failures = 0
    calls = [0] * len(streams)
    longest = max(len(c) for c in clips)
    t0 = time.ticks_us()
    for k in range(longest if ok else 0):
        pts = 1000 if const_ts else (k * 1000000) // FPS
        for s in range(len(streams)):
            if k >= len(clips[s]):
                continue
            for buf, size in clips[s][k]:
                n = len(buf) if size is None else size
                ret = server.rtspserver_sendvideodata(streams[s][0], buf, n, pts)
                calls[s] += 1
                if ret != 0:
                    failures += 1
                    print("SEND-FAILED", streams[s][0], k, ret)
        wait = time.ticks_diff(time.ticks_add(t0, ((k + 1) * 1000000) // FPS), time.ticks_us())
        if wait > 0:
            time.sleep_us(wait)
    for s in range(len(streams)):
        print("SENT", streams[s][0], "calls", calls[s], "frames", len(clips[s]) if ok else 0)
        print("STATS", streams[s][0], server.rtspserver_getstats(streams[s][0]))
    time.sleep_ms(500)

    end = opts["end"]
    if end == "destroysession":
        for name, _, _ in streams:
            ret = server.rtspserver_destroysession(name)
            if ret != 0:
                print("DESTROYSESSION-FAILED", name, ret)
                failures += 1
        server.rtspserver_stop()
        server.rtspserver_deinit()
    elif end == "deinit":
        server.rtspserver_deinit()
    server.rtspserver_destroy()
    print("DONE", "ok" if ok and failures == 0 else "failed")
    return 0 if ok and failures == 0 else 1


sys.exit(main())
