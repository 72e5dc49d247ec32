# Streams an Annex-B (or MJPEG) file over RTSP from the MicroPython unix port:
#
#   build/micropython examples/host/stream_file.py [FILE] [--port N]
#       [--session NAME] [--fps N] [--audio FILE [--alaw]] [--seconds N]
#
# FILE defaults to the bundled H.264 clip and is looped until Ctrl-C (or for
# --seconds). The codec comes from the extension: .264/.h264, .265/.h265/.hevc,
# .mjpeg/.mjpg (JPEG images back to back, one per frame). --audio adds a
# second track: raw G.711 u-law (A-law with --alaw), 8 kHz mono, sent in
# 20 ms chunks between the video frames, each stamped with its own time.
# Watch it with: ffplay rtsp://127.0.0.1:8554/test

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
USAGE = (
    "usage: stream_file.py [FILE] [--port N] [--session NAME] [--fps N]"
    " [--audio FILE [--alaw]] [--seconds N]"
)

AUDIO_CHUNK_US = 20000
AUDIO_CHUNK_BYTES = 160  # 20 ms of 8 kHz, one byte per sample

VIDEO_TYPES = {
    annexb.H264: mm.multi_media_type.media_h264,
    annexb.H265: mm.multi_media_type.media_h265,
    annexb.MJPEG: mm.multi_media_type.media_mjpeg,
}


class UsageError(Exception):
    pass


def parse_args(argv):
    opts = {
        "file": DEFAULT_CLIP,
        "port": 8554,
        "session": "test",
        "fps": 30,
        "audio": None,
        "seconds": None,
        "alaw": False,
    }
    numeric = ("port", "fps", "seconds")
    flags = ("alaw",)
    i = 0
    seen_file = False
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            raise UsageError("")
        if arg.startswith("--"):
            key = arg[2:]
            if key not in opts or key == "file":
                raise UsageError("unknown option " + arg)
            if key in flags:
                opts[key] = True
                i += 1
                continue
            if i + 1 >= len(argv):
                raise UsageError(arg + " needs a value")
            value = argv[i + 1]
            if key in numeric:
                try:
                    value = float(value) if key == "seconds" else int(value)
                except ValueError:
                    raise UsageError(arg + " needs a number, not " + value)
                if value <= 0:
                    raise UsageError(arg + " must be positive")
            opts[key] = value
            i += 2
        elif not seen_file:
            opts["file"] = arg
            seen_file = True
            i += 1
        else:
            raise UsageError("unexpected argument " + arg)
    if opts["alaw"] and opts["audio"] is None:
        raise UsageError("--alaw needs --audio FILE")
    return opts


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


class AudioSource:
    """Loops a raw G.711 file in 20 ms chunks; chunk k is stamped k * 20 ms,
    on the same time line as the video (its first frame is stamped 0)."""

    def __init__(self, data):
        self.data = memoryview(data)
        self.offset = 0
        self.next_us = 0  # media time of the next chunk
        self.refused = False

    def send_next(self, server, session):
        end = self.offset + AUDIO_CHUNK_BYTES
        if end > len(self.data):
            self.offset, end = 0, min(AUDIO_CHUNK_BYTES, len(self.data))
        chunk = self.data[self.offset:end]
        ret = server.rtspserver_sendaudiodata(session, chunk, len(chunk), self.next_us)
        if ret != 0:
            print("audio refused by the server (%d); streaming video only" % ret)
            self.refused = True
        self.offset = end
        self.next_us += AUDIO_CHUNK_US


def stats_line(server, session):
    try:
        s = server.rtspserver_getstats(session)
    except AttributeError:  # a module without getstats
        return None
    return "clients: %d, playing: %d" % (s["clients"], s["playing"])


def stream(server, opts, data, units, audio):
    """Sends video frames and audio chunks in media-time order, each when its
    time comes on the wall clock."""
    session = opts["session"]
    fps = opts["fps"]
    mv = memoryview(data)
    limit_us = None if opts["seconds"] is None else int(opts["seconds"] * 1000000)
    frame = 0
    pts_us = 0  # media time of the next video frame
    remainder = 0  # keeps the 1e6/fps interval exact over time
    t0 = time.ticks_us()
    last_stats = None
    while limit_us is None or pts_us < limit_us:
        if audio is not None and not audio.refused and audio.next_us < pts_us:
            due_us = audio.next_us
            _sleep_until(t0, due_us)
            audio.send_next(server, session)
            continue
        _sleep_until(t0, pts_us)
        start, end = units[frame % len(units)]
        chunk = mv[start:end]
        ret = server.rtspserver_sendvideodata(session, chunk, len(chunk), pts_us)
        if ret != 0:
            print("the server refused the video data (%d); is this codec supported yet?" % ret)
            return 1
        frame += 1
        remainder += 1000000
        step = remainder // fps
        remainder -= step * fps
        pts_us += step
        if frame % fps == 0:
            line = stats_line(server, session)
            if line is not None and line != last_stats:
                print(line)
                last_stats = line
        behind = time.ticks_diff(time.ticks_us(), time.ticks_add(t0, pts_us))
        if behind > 1000000:  # fell far behind (suspended?): don't burst to catch up
            t0 = time.ticks_add(t0, behind)
    return 0


def _sleep_until(t0, media_us):
    wait = time.ticks_diff(time.ticks_add(t0, media_us), time.ticks_us())
    if wait > 0:
        time.sleep_us(wait)


def main(argv):
    try:
        opts = parse_args(argv)
    except UsageError as e:
        if str(e):
            print("stream_file.py:", e)
        print(USAGE)
        return 2

    path = opts["file"]
    codec = annexb.codec_from_path(path)
    if codec is None:
        print("stream_file.py: unknown file type (want .264/.h264, .265/.h265/.hevc, .mjpeg):", path)
        return 2
    try:
        data = read_file(path)
        audio = None if opts["audio"] is None else AudioSource(read_file(opts["audio"]))
    except OSError as e:
        print("stream_file.py: cannot read file:", e)
        return 1
    if audio is not None and len(audio.data) == 0:
        print("stream_file.py: the audio file is empty:", opts["audio"])
        return 1
    units = annexb.access_unit_spans(data, codec)
    if not units:
        print("stream_file.py: no frames found in", path)
        return 1

    server = mm.rtsp_server()
    ret = server.rtspserver_init(opts["port"])
    if ret != 0:
        print("rtspserver_init(%d) failed: %d" % (opts["port"], ret))
        return 1
    try:
        session = opts["session"]
        if opts["alaw"]:
            ret = server.rtspserver_createsession(session, VIDEO_TYPES[codec], True,
                                                  audio_codec="pcma")
        else:
            ret = server.rtspserver_createsession(session, VIDEO_TYPES[codec], audio is not None)
        if ret != 0:
            print("the server refused a %s session (%d)" % (codec, ret))
            return 1
        server.rtspserver_start()
        print(server.rtspserver_getrtspurl(session))
        print("streaming %s: %d frames at %d fps%s, %s" % (
            path, len(units), opts["fps"],
            "" if audio is None else " with %s audio from %s" % (
                "A-law" if opts["alaw"] else "u-law", opts["audio"]),
            "Ctrl-C to stop" if opts["seconds"] is None else "for %s s" % opts["seconds"]))
        return stream(server, opts, data, units, audio)
    except KeyboardInterrupt:
        print("stopped")
        return 0
    finally:
        server.rtspserver_stop()
        server.rtspserver_deinit()
        server.rtspserver_destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
