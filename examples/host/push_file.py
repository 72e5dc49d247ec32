# Pushes an Annex-B (or MJPEG) file to a media server over RTSP, in real time,
# from the MicroPython unix port (ANNOUNCE / SETUP mode=record / RECORD):
#
#   build/micropython examples/host/push_file.py URL [FILE] [--fps N]
#       [--transport tcp|udp] [--audio FILE [--alaw]] [--seconds N] [--once]
#       [--timeout S] [--no-header]
#
# URL is rtsp://[user:pass@]host[:port]/path, e.g. mediamtx's
# rtsp://127.0.0.1:8554/live/cam. FILE defaults to the bundled H.264 clip and
# is looped until Ctrl-C (or for --seconds; --once: each frame once). The
# codec comes from the extension: .264/.h264, .265/.h265/.hevc, .mjpeg/.mjpg.
# The first access unit's parameter sets go to pushvideoheader before open
# (--no-header: only in-band). --audio adds G.711 (u-law, A-law with --alaw),
# 8 kHz mono, pushed in 20 ms chunks between the frames.
#
# It prints "OPEN <ret>" after open (and exits 1 unless it is 0), "STATS
# <dict>" once a second while pushing and at the end, then "DONE".

import sys
import time

import multimedia as mm


def _script_dir():
    path = sys.argv[0] if sys.argv else ""
    slash = path.rfind("/")
    return path[:slash] if slash >= 0 else "."


HERE = _script_dir()
if HERE not in sys.path:
    sys.path.append(HERE)

import annexb  # noqa: E402  (found through the script's own directory)

DEFAULT_CLIP = HERE + "/../assets/clip.264"
USAGE = ("usage: push_file.py URL [FILE] [--fps N] [--transport tcp|udp]"
         " [--audio FILE [--alaw]] [--seconds N] [--once] [--timeout S] [--no-header]")
AUDIO_CHUNK_US = 20000
AUDIO_CHUNK_BYTES = 160  # 20 ms of 8 kHz, one byte per sample
VIDEO_TYPES = {annexb.H264: "h264", annexb.H265: "h265", annexb.MJPEG: "mjpeg"}
PARAMETER_SETS = {annexb.H264: (7, 8), annexb.H265: (32, 33, 34)}


class UsageError(Exception):
    pass


def parse(argv):
    opts = {"url": None, "file": DEFAULT_CLIP, "fps": 30.0, "transport": "tcp", "audio": None,
            "alaw": False, "seconds": None, "once": False, "timeout": 5, "header": True}
    numbers = {"--fps": "fps", "--seconds": "seconds", "--timeout": "timeout"}
    positional = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in numbers or a in ("--transport", "--audio"):
            if i + 1 >= len(argv):
                raise UsageError(a + " needs a value")
            value = argv[i + 1]
            if a in numbers:
                try:
                    opts[numbers[a]] = float(value)
                except ValueError:
                    raise UsageError(a + " needs a number")
            else:
                opts[a[2:]] = value
            i += 2
            continue
        if a == "--alaw":
            opts["alaw"] = True
        elif a == "--once":
            opts["once"] = True
        elif a == "--no-header":
            opts["header"] = False
        elif a.startswith("--"):
            raise UsageError("unknown option " + a)
        else:
            positional.append(a)
        i += 1
    if not positional or len(positional) > 2:
        raise UsageError("needs a URL (and at most one FILE)")
    opts["url"] = positional[0]
    if len(positional) == 2:
        opts["file"] = positional[1]
    if opts["alaw"] and opts["audio"] is None:
        raise UsageError("--alaw needs --audio")
    if opts["fps"] <= 0:
        raise UsageError("--fps must be positive")
    return opts


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise UsageError("cannot read " + path)


def header_of(au, codec):
    """The parameter sets of an access unit, Annex-B."""
    if codec not in PARAMETER_SETS:
        return b""
    out = b""
    for unit_start, s, e in annexb.nal_spans(au):
        if annexb.nal_type(au[s:e], codec) in PARAMETER_SETS[codec]:
            out += b"\x00\x00\x00\x01" + au[s:e]
    return out


def is_key(au, codec):
    """True for an access unit with an IDR/IRAP picture (every JPEG is one)."""
    if codec == annexb.MJPEG:
        return True
    for _, s, e in annexb.nal_spans(au):
        t = annexb.nal_type(au[s:e], codec)
        if (codec == annexb.H264 and t == 5) or (codec == annexb.H265 and 16 <= t <= 23):
            return True
    return False


def main(argv):
    try:
        o = parse(argv)
        codec = annexb.codec_from_path(o["file"])
        if codec is None:
            raise UsageError("unknown file type: " + o["file"])
        data = read(o["file"])
        spans = annexb.access_unit_spans(data, codec)
        if not spans:
            raise UsageError("no frames in " + o["file"])
        audio = read(o["audio"]) if o["audio"] else None
    except UsageError as e:
        print(e)
        print(USAGE)
        return 2
    mv = memoryview(data)
    keys = [is_key(bytes(mv[s:e]), codec) for s, e in spans]
    width, height = 640, 360  # informational: the stream's parameter sets decide
    p = mm.rtsp_pusher()
    kw = {"video_type": VIDEO_TYPES[codec], "timeout": int(o["timeout"])}
    if audio is not None:
        kw["enable_audio"] = True
        kw["audio_codec"] = "pcma" if o["alaw"] else "pcmu"
    ret = p.rtsppusher_init(width, height, o["url"], int(o["fps"]), o["transport"], **kw)
    if ret != 0:
        print("INIT", ret)
        p.rtsppusher_destroy()
        return 1
    if o["header"]:
        s, e = spans[0]
        header = header_of(bytes(mv[s:e]), codec)
        if header:
            p.rtsppusher_pushvideoheader(header, len(header))
    ret = p.rtsppusher_open()
    print("OPEN", ret)
    if ret != 0:
        p.rtsppusher_deinit()
        p.rtsppusher_destroy()
        return 1
    frame_us = int(1000000 / o["fps"])
    t0 = time.ticks_us()
    end_us = None if o["seconds"] is None else int(o["seconds"] * 1000000)
    k = 0
    audio_pos = 0
    audio_us = 0
    next_stats = 1000000
    try:
        while True:
            media_us = k * frame_us
            if end_us is not None and media_us >= end_us:
                break
            if o["once"] and k >= len(spans):
                break
            # audio up to this frame's time
            while audio is not None and audio_us <= media_us:
                if o["once"] and audio_pos >= len(audio):
                    break
                chunk = audio[audio_pos:audio_pos + AUDIO_CHUNK_BYTES]
                if len(chunk) < AUDIO_CHUNK_BYTES:
                    chunk = chunk + audio[:AUDIO_CHUNK_BYTES - len(chunk)]
                p.rtsppusher_pushaudiodata(chunk, len(chunk), audio_us)
                audio_pos += AUDIO_CHUNK_BYTES
                if not o["once"]:
                    audio_pos %= len(audio)
                audio_us += AUDIO_CHUNK_US
            wait = time.ticks_diff(time.ticks_add(t0, media_us), time.ticks_us())
            if wait > 0:
                time.sleep_us(wait)
            s, e = spans[k % len(spans)]
            au = mv[s:e]
            key = 1 if keys[k % len(spans)] else 0
            p.rtsppusher_pushvideodata(au, e - s, key, media_us)
            k += 1
            if media_us >= next_stats:
                print("STATS", p.rtsppusher_getstats())
                next_stats += 1000000
    except KeyboardInterrupt:
        print("stopped")
    time.sleep_ms(300)  # the loop thread sends what is queued
    print("STATS", p.rtsppusher_getstats())
    p.rtsppusher_close()
    p.rtsppusher_deinit()
    p.rtsppusher_destroy()
    print("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
