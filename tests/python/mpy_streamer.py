# MicroPython (unix port) streamer driven by the pytest suites.
#
#   micropython mpy_streamer.py --port P [--grouping au|nal|packs|padded]
#       [--timestamps pts|const] [--fps N] [--frames N] [--schedule FILE]
#       [--wait-timeout S] [--end destroysession|deinit|destroy]
#       --stream NAME CLIP CLIENTS [--stream NAME CLIP CLIENTS ...]
#       [--audio NAME FILE pcmu|pcma ...]
#
# Starts one server with one session per --stream (the codec comes from the
# clip's extension: .264, .265, .mjpeg), prints "URL <name> <url>" for each,
# waits (bounded) until each session has CLIENTS playing clients, then sends
# each clip's frames (looped up to --frames, default: each frame once) and any
# audio, all sessions side by side, each item when its media time comes on the
# wall clock. Then it sleeps 0.5 s and tears the server down, which closes the
# clients' connections. Prints "PLAYING ...", "SENT ...", "AUDIO-SENT ...",
# "STATS ..." and finally "DONE".
#
# --grouping: how a clip is cut into sendvideodata calls
#   au      one access unit (MJPEG: one JPEG) per call
#   nal     one NAL unit (with its start code) per call
#   packs   like an encoder's packs: the non-VCL units of an access unit in one
#           call, its slices in the next
#   padded  one access unit per call, passed in a longer buffer with `size`
#           covering the access unit only (the rest is junk that must not be sent)
# --timestamps: pts (frame k at k*1e6/fps µs) or const (1000 on every call, as
#   CanMV's examples). --schedule FILE: frame k's timestamp (µs) on line k of
#   FILE, paced accordingly (so gaps and uneven rates are real).
# --audio NAME FILE CODEC: the session NAME gets an audio track (CODEC pcmu or
#   pcma); FILE (raw G.711, 8 kHz) is sent once, in 20 ms chunks of 160 bytes
#   stamped 0, 20000, 40000... µs (1000 each with --timestamps const), on the
#   same time line as the video.
#
# Server options (issue 4's keyword-only extensions):
#   --opt KEY VALUE     an init keyword (max_clients, session_timeout, tcp_only...):
#                       VALUE an int, or true/false
#   --user NAME PASS    one user (repeatable); --users-form tuple|list|dict says how
#                       they are passed as users= (default: a tuple for one, else a list)
#   --auth-basic        auth_basic=True
#   --no-gop-cache      every session is made with gop_cache=False
#   --try-session NAME  once the streams' sessions exist, createsession(NAME, 0, False)
#                       is tried and "TRY-SESSION NAME RET" printed (repeatable)
#   --watch             while sending, "WATCH <ms> clients <n> playing <n> needkeyframe <b>"
#                       each time one of them changes (ms since "START")
#   --backchannel NAME CODEC FILE
#                       the session NAME is made with backchannel=True and
#                       backchannel_codec=CODEC (pcmu or pcma); while sending (and
#                       for --linger-ms after) its audio is read with recvaudiodata
#                       into one buffer and appended to FILE; "HEARD NAME <bytes>"
#                       and "TALKER NAME <backchannel_client>" when it changes
# "START" is printed when the first frame is about to go out.

import sys
import time

import multimedia as mm


def _dir_of(path):
    slash = path.rfind("/")
    return path[:slash] if slash >= 0 else "."


sys.path.append(_dir_of(sys.argv[0]) + "/../../examples/host")
import annexb  # noqa: E402

JUNK = b"\xff" * 61 + b"\x00\x00\x01\x0c\xff\xff"  # never a valid continuation
AUDIO_CHUNK = 160  # bytes: 20 ms of 8 kHz G.711
AUDIO_CHUNK_US = 20000
VIDEO_TYPES = {
    annexb.H264: mm.multi_media_type.media_h264,
    annexb.H265: mm.multi_media_type.media_h265,
    annexb.MJPEG: mm.multi_media_type.media_mjpeg,
}


def parse(argv):
    opts = {"port": None, "grouping": "au", "timestamps": "pts", "wait-timeout": 10.0,
            "end": "destroysession", "fps": 30, "frames": None, "schedule": None,
            "streams": [], "audio": {}, "init": {}, "users": [], "users-form": None,
            "auth-basic": False, "gop-cache": True, "try": [], "watch": False,
            "backchannel": {}, "linger-ms": 0}
    flags = {"--auth-basic": ("auth-basic", True), "--no-gop-cache": ("gop-cache", False),
             "--watch": ("watch", True)}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in flags:
            key, value = flags[a]
            opts[key] = value
            i += 1
            continue
        if a == "--opt":
            value = argv[i + 2].lower()
            opts["init"][argv[i + 1]] = value == "true" if value in ("true", "false") else int(value)
            i += 3
            continue
        if a == "--user":
            opts["users"].append((argv[i + 1], argv[i + 2]))
            i += 3
            continue
        if a == "--try-session":
            opts["try"].append(argv[i + 1])
            i += 2
            continue
        if a == "--stream":
            opts["streams"].append((argv[i + 1], argv[i + 2], int(argv[i + 3])))
            i += 4
            continue
        if a == "--backchannel":
            opts["backchannel"][argv[i + 1]] = (argv[i + 2], argv[i + 3])
            i += 4
            continue
        if a == "--audio":
            opts["audio"][argv[i + 1]] = (argv[i + 2], argv[i + 3])
            i += 4
            continue
        key = a[2:]
        val = argv[i + 1]
        if key in ("port", "fps", "frames", "linger-ms"):
            val = int(val)
        elif key == "wait-timeout":
            val = float(val)
        opts[key] = val
        i += 2
    return opts


def calls_for(au, grouping, codec):
    """[(buffer, size)]: the sendvideodata calls of one access unit."""
    if grouping == "au":
        return [(au, None)]
    if grouping == "padded":
        return [(bytearray(au) + JUNK, len(au))]
    nals = annexb.nal_spans(au)
    units = []
    for k in range(len(nals)):
        end = nals[k + 1][0] if k + 1 < len(nals) else len(au)
        units.append((au[nals[k][0]:end], au[nals[k][1]:nals[k][1] + 2]))
    if grouping == "nal":
        return [(u, None) for u, _ in units]
    if grouping == "packs":
        params = b""
        slices = b""
        for u, head in units:
            if annexb.is_vcl(head, codec):
                slices += u
            else:
                params += u
        calls = [(params, None)] if params else []
        calls.append((slices, None))
        return calls
    raise ValueError("grouping " + grouping)


def frames_of(data, grouping, codec):
    """One list of calls per frame, so that pacing stays per picture."""
    if codec == annexb.MJPEG and grouping not in ("au", "padded"):
        raise ValueError("MJPEG is sent one JPEG per call")
    return [calls_for(data[s:e], grouping, codec)
            for s, e in annexb.access_unit_spans(data, codec)]


def read_schedule(path):
    with open(path) as f:
        return [int(line) for line in f if line.strip()]


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


def video_events(index, frames, count, fps, schedule, const_ts):
    """(media_us, order, stream, kind, calls, timestamp) for each video frame."""
    events = []
    for k in range(count):
        if schedule is not None:
            media_us = schedule[k] - schedule[0]
            ts = schedule[k]
        else:
            media_us = (k * 1000000) // fps
            ts = media_us
        events.append((media_us, 0, index, "v", frames[k % len(frames)], 1000 if const_ts else ts))
    return events


def audio_events(index, data, const_ts):
    events = []
    mv = memoryview(data)
    for j in range((len(data) + AUDIO_CHUNK - 1) // AUDIO_CHUNK):
        media_us = j * AUDIO_CHUNK_US
        chunk = mv[j * AUDIO_CHUNK:(j + 1) * AUDIO_CHUNK]
        events.append((media_us, 1, index, "a", chunk, 1000 if const_ts else media_us))
    return events


def merge_timelines(timelines):
    """One list of events from lists each already in time order. (MicroPython's
    sort takes quadratic time on sorted input, minutes for a few thousand frames.)"""
    heads = [0] * len(timelines)
    merged = []
    while True:
        best = None
        for i in range(len(timelines)):
            if heads[i] < len(timelines[i]):
                e = timelines[i][heads[i]]
                if best is None or e[:3] < timelines[best][heads[best]][:3]:
                    best = i
        if best is None:
            return merged
        merged.append(timelines[best][heads[best]])
        heads[best] += 1


def users_argument(users, form):
    if form is None:
        form = "tuple" if len(users) == 1 else "list"
    if form == "tuple":
        return users[0]
    if form == "dict":
        return {name: password for name, password in users}
    return list(users)


class Listener:
    """Reads the back channels into their files, one preallocated buffer for all."""

    def __init__(self, server, wanted):
        self.server = server
        self.buf = bytearray(4096)
        self.mv = memoryview(self.buf)
        self.files = {name: open(path, "wb") for name, (_, path) in wanted.items()}
        self.heard = {name: 0 for name in wanted}
        self.talkers = {name: None for name in wanted}

    def poll(self):
        for name, f in self.files.items():
            while True:
                n = self.server.rtspserver_recvaudiodata(name, self.buf)
                if n < 0:
                    print("RECV-FAILED", name, n)
                if n <= 0:
                    break
                f.write(self.mv[:n])
                self.heard[name] += n
            talker = self.server.rtspserver_getstats(name)["backchannel_client"]
            if talker != self.talkers[name]:
                self.talkers[name] = talker
                print("TALKER", name, talker)

    def close(self):
        for name, f in self.files.items():
            f.close()
            print("HEARD", name, self.heard[name])


class Watch:
    """Prints the server's client count, players and need for a keyframe when they change."""

    def __init__(self, server, t0):
        self.server = server
        self.t0 = t0
        self.last = None

    def poll(self):
        stats = self.server.rtspserver_getstats()
        now = (stats["clients"], stats["playing"], self.server.rtspserver_needkeyframe())
        if now != self.last:
            self.last = now
            ms = time.ticks_diff(time.ticks_us(), self.t0) // 1000
            print("WATCH", ms, "clients", now[0], "playing", now[1], "needkeyframe", now[2])


def main():
    opts = parse(sys.argv[1:])
    streams = opts["streams"]
    const_ts = opts["timestamps"] == "const"
    schedule = None if opts["schedule"] is None else read_schedule(opts["schedule"])
    server = mm.rtsp_server()
    init_kw = dict(opts["init"])
    if opts["users"]:
        init_kw["users"] = users_argument(opts["users"], opts["users-form"])
    if opts["auth-basic"]:
        init_kw["auth_basic"] = True
    ret = server.rtspserver_init(opts["port"], **init_kw)
    if ret != 0:
        print("INIT-FAILED", ret)
        return 1
    timelines = []
    frame_counts = []
    for index in range(len(streams)):
        name, path, _ = streams[index]
        codec = annexb.codec_from_path(path)
        audio = opts["audio"].get(name)
        # keywords only when asked for, so the plain calls stay as CanMV scripts make them
        session_kw = {} if opts["gop-cache"] else {"gop_cache": False}
        if name in opts["backchannel"]:
            session_kw["backchannel"] = True
            session_kw["backchannel_codec"] = opts["backchannel"][name][0]
        if audio is None:
            ret = server.rtspserver_createsession(name, VIDEO_TYPES[codec], False, **session_kw)
        elif audio[1] == "pcmu":  # the default codec: no keyword, as CanMV scripts call it
            ret = server.rtspserver_createsession(name, VIDEO_TYPES[codec], True, **session_kw)
        else:
            ret = server.rtspserver_createsession(name, VIDEO_TYPES[codec], True,
                                                  audio_codec=audio[1], **session_kw)
        if ret != 0:
            print("SESSION-FAILED", name, ret)
            return 1
        with open(path, "rb") as f:
            frames = frames_of(f.read(), opts["grouping"], codec)
        count = opts["frames"] or (len(schedule) if schedule is not None else len(frames))
        frame_counts.append(count)
        timelines.append(video_events(index, frames, count, opts["fps"], schedule, const_ts))
        if audio is not None:
            with open(audio[0], "rb") as f:
                timelines.append(audio_events(index, f.read(), const_ts))
    for name in opts["try"]:
        print("TRY-SESSION", name, server.rtspserver_createsession(name, 0, False))
    # by media time; at equal times video first, then by stream
    events = merge_timelines(timelines)
    server.rtspserver_start()
    for name, _, _ in streams:
        print("URL", name, server.rtspserver_getrtspurl(name))

    ok = wait_playing(server, streams, opts["wait-timeout"])
    failures = 0
    calls = [0] * len(streams)
    chunks = [0] * len(streams)
    audio_bytes = [0] * len(streams)
    t0 = time.ticks_us()
    watch = Watch(server, t0) if opts["watch"] else None
    listener = Listener(server, opts["backchannel"])
    if ok:
        print("START")
    for media_us, _, s, kind, payload, ts in (events if ok else ()):
        if watch is not None:
            watch.poll()
        listener.poll()
        wait = time.ticks_diff(time.ticks_add(t0, media_us), time.ticks_us())
        if wait > 0:
            time.sleep_us(wait)
        name = streams[s][0]
        if kind == "a":
            ret = server.rtspserver_sendaudiodata(name, payload, len(payload), ts)
            chunks[s] += 1
            audio_bytes[s] += len(payload)
            if ret != 0:
                failures += 1
                print("AUDIO-SEND-FAILED", name, media_us, ret)
            continue
        for buf, size in payload:
            n = len(buf) if size is None else size
            ret = server.rtspserver_sendvideodata(name, buf, n, ts)
            calls[s] += 1
            if ret != 0:
                failures += 1
                print("SEND-FAILED", name, media_us, ret)
    linger_end = time.ticks_add(time.ticks_ms(), opts["linger-ms"])
    while time.ticks_diff(linger_end, time.ticks_ms()) > 0:
        listener.poll()
        time.sleep_ms(10)
    listener.poll()
    listener.close()
    for s in range(len(streams)):
        name = streams[s][0]
        print("SENT", name, "calls", calls[s], "frames", frame_counts[s] if ok else 0)
        if name in opts["audio"]:
            print("AUDIO-SENT", name, "chunks", chunks[s], "bytes", audio_bytes[s])
        print("STATS", name, server.rtspserver_getstats(name))
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
