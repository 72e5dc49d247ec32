# MicroPython (unix port) server for the hostile-client suite (test_hostile.py).
#
#   micropython mpy_attack_target.py --port P --ctl PREFIX --watchers N
#
# Runs one server with two H.264 sessions fed from the bundled clip:
#   "test": looped at 30 fps for as long as the run lasts (the well-behaved
#           watchers play it through every attack);
#   "fast": fed only on request, in a burst fast enough to fill a stuck
#           reader's queue (the stuck-client case).
# Prints "URL <name> <url>" for both, waits (bounded) until "test" has N
# playing clients, then streams. It is steered by files (MicroPython has no
# non-blocking stdin):
#   PREFIX.fast  holds "FRAMES INTERVAL_US": send that many frames to "fast",
#                one every INTERVAL_US, beside "test"; then prints
#                "FAST-SENT <frames>" and removes the file.
#   PREFIX.stop  stop: prints "SENT test <frames>", tears the server down
#                (destroysession closes the clients' connections), "DONE ok".
# Every second it prints "STATS <dict>" (server-wide, "test" and "fast"
# stats, frames sent so far): proof that the interpreter still answers.

import os
import sys
import time

import multimedia as mm


def _dir_of(path):
    slash = path.rfind("/")
    return path[:slash] if slash >= 0 else "."


HERE = _dir_of(sys.argv[0])
sys.path.append(HERE + "/../../examples/host")
import annexb  # noqa: E402

CLIP = HERE + "/../../examples/assets/clip.264"
TEST_INTERVAL_US = 33333
STATS_EVERY_US = 1000000


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def parse(argv):
    opts = {"port": None, "ctl": None, "watchers": 1, "wait-timeout": 30}
    for i in range(0, len(argv), 2):
        opts[argv[i][2:]] = argv[i + 1]
    return int(opts["port"]), opts["ctl"], int(opts["watchers"]), float(opts["wait-timeout"])


def stats_line(server, sent_test, sent_fast):
    return {"all": server.rtspserver_getstats(), "test": server.rtspserver_getstats("test"),
            "fast": server.rtspserver_getstats("fast"), "sent_test": sent_test,
            "sent_fast": sent_fast}


def main():
    port, ctl, watchers, wait_timeout = parse(sys.argv[1:])
    with open(CLIP, "rb") as f:
        data = f.read()
    frames = [data[s:e] for s, e in annexb.access_unit_spans(data, annexb.H264)]
    server = mm.rtsp_server()
    ret = server.rtspserver_init(port)
    if ret != 0:
        print("INIT-FAILED", ret)
        return 1
    for name in ("test", "fast"):
        ret = server.rtspserver_createsession(name, mm.multi_media_type.media_h264, False)
        if ret != 0:
            print("SESSION-FAILED", name, ret)
            return 1
    server.rtspserver_start()
    for name in ("test", "fast"):
        print("URL", name, server.rtspserver_getrtspurl(name))

    deadline = time.ticks_add(time.ticks_ms(), int(wait_timeout * 1000))
    while server.rtspserver_getstats("test")["playing"] < watchers:
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            print("TIMEOUT", server.rtspserver_getstats("test"))
            return 1
        time.sleep_ms(20)
    print("PLAYING test", server.rtspserver_getstats("test")["playing"])

    failures = 0
    sent_test = 0
    sent_fast = 0
    fast_left = 0
    fast_total = 0
    fast_interval = 0
    fast_next = 0
    t0 = time.ticks_us()
    next_stats = t0
    next_ctl = t0
    while True:
        now = time.ticks_us()
        if time.ticks_diff(now, next_ctl) >= 0:
            next_ctl = time.ticks_add(now, 50000)
            if exists(ctl + ".stop"):
                break
            if fast_left == 0 and exists(ctl + ".fast"):
                with open(ctl + ".fast") as f:
                    words = f.read().split()
                fast_left = fast_total = int(words[0])
                fast_interval = int(words[1])
                fast_next = now
        if time.ticks_diff(now, next_stats) >= 0:
            next_stats = time.ticks_add(next_stats, STATS_EVERY_US)
            print("STATS", stats_line(server, sent_test, sent_fast))
        due_test = time.ticks_add(t0, sent_test * TEST_INTERVAL_US)
        if time.ticks_diff(now, due_test) >= 0:
            au = frames[sent_test % len(frames)]
            ret = server.rtspserver_sendvideodata("test", au, len(au), sent_test * TEST_INTERVAL_US)
            sent_test += 1
            if ret != 0:
                failures += 1
                print("SEND-FAILED test", sent_test, ret)
            continue
        if fast_left > 0 and time.ticks_diff(now, fast_next) >= 0:
            au = frames[sent_fast % len(frames)]
            ret = server.rtspserver_sendvideodata("fast", au, len(au), sent_fast * TEST_INTERVAL_US)
            sent_fast += 1
            fast_left -= 1
            fast_next = time.ticks_add(fast_next, fast_interval)
            if ret != 0:
                failures += 1
                print("SEND-FAILED fast", sent_fast, ret)
            if fast_left == 0:
                os.remove(ctl + ".fast")
                print("FAST-SENT", fast_total)
            continue
        wake = due_test
        if fast_left > 0 and time.ticks_diff(fast_next, wake) < 0:
            wake = fast_next
        wait = time.ticks_diff(wake, time.ticks_us())
        if wait > 0:
            time.sleep_us(min(wait, 20000))

    print("SENT test", sent_test)
    print("STATS", stats_line(server, sent_test, sent_fast))
    time.sleep_ms(500)
    for name in ("test", "fast"):
        ret = server.rtspserver_destroysession(name)
        if ret != 0:
            failures += 1
            print("DESTROYSESSION-FAILED", name, ret)
    server.rtspserver_stop()
    server.rtspserver_deinit()
    server.rtspserver_destroy()
    print("DONE", "ok" if failures == 0 else "failed")
    return 0 if failures == 0 else 1


sys.exit(main())
