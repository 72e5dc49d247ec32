#!/usr/bin/python3
"""A receiving RTSP server for the pusher tests: gst-rtsp-server in RECORD mode.

Run it with /usr/bin/python3 (the system interpreter has gi and
GstRtspServer; the python3 first on PATH may not):

    /usr/bin/python3 record_server.py --port 8554 --path /live/cam --codec h264 \
        [--audio pcmu|pcma] [--protocols tcp,udp] [--user NAME PASSWORD] \
        [--audio-out FILE] [--deadline SECONDS]

A pusher (ANNOUNCE / SETUP mode=record / RECORD) at rtsp://127.0.0.1:PORT/PATH
feeds a pipeline whose `depay0` is the video depayloader (rtph264depay,
rtph265depay or rtpjpegdepay) followed by a parser and a decoder, and with
--audio whose `depay1` is rtppcmudepay/rtppcmadepay followed by its decoder.
--user requires Digest authentication (MD5, as gst-rtsp-server does it) with
that user and password; the user's role may access and construct the media
(what RECORD needs), nobody else may.

Everything it reports is one JSON object per line on stdout:
  {"event": "ready", "port": P, "path": "/live/cam"}     listening
  {"event": "media", "media": N}                         the N-th pusher's media was made
  {"event": "media-end", "media": N}                     that media was torn down
  {"event": "stats", ...}                                counts, whenever they changed
      (at most every 100 ms) and once more at exit
  {"event": "exit", "reason": "deadline"|"signal"}
stats fields: medias (how many media were made), frames (decoded video frames,
all media), units (access units/JPEG images that reached the decoder),
keyframes (those without the delta flag), first_key (per media: whether the
first unit that reached the decoder was a keyframe), frames_per_media,
audio_bytes (G.711 bytes that reached the audio decoder), audio_samples
(decoded samples). --audio-out appends the G.711 bytes to FILE.

It ends by itself after --deadline seconds (default 120), on SIGTERM or SIGINT.
"""

import argparse
import json
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

VIDEO = {
    "h264": "rtph264depay name=depay0 ! h264parse ! avdec_h264 name=vdec output-corrupt=false",
    "h265": "rtph265depay name=depay0 ! h265parse ! avdec_h265 name=vdec output-corrupt=false",
    "mjpeg": "rtpjpegdepay name=depay0 ! jpegdec name=vdec",
}
AUDIO = {
    "pcmu": "rtppcmudepay name=depay1 ! mulawdec name=adec",
    "pcma": "rtppcmadepay name=depay1 ! alawdec name=adec",
}
SINK = "fakesink sync=false async=false"
ROLE = "pusher"
LATENCY_MS = 50
QUIET_S = 0.25  # on TEARDOWN: what arrived is through the jitterbuffer once this long passes quiet
DRAIN_S = 1.5  # on TEARDOWN: the longest wait for the pipeline to drain


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Counts:
    def __init__(self, audio_out):
        self.lock = threading.Lock()
        self.medias = 0
        self.frames = 0
        self.units = 0
        self.keyframes = 0
        self.first_key = []
        self.frames_per_media = []
        self.audio_bytes = 0
        self.audio_samples = 0
        self.audio_out = open(audio_out, "ab") if audio_out else None
        self.version = 0
        self.reported = -1

    def snapshot(self):
        with self.lock:
            return {"event": "stats", "medias": self.medias, "frames": self.frames,
                    "units": self.units, "keyframes": self.keyframes,
                    "first_key": list(self.first_key),
                    "frames_per_media": list(self.frames_per_media),
                    "audio_bytes": self.audio_bytes, "audio_samples": self.audio_samples}

    def report(self, force=False):
        if force or self.version != self.reported:
            self.reported = self.version
            emit(self.snapshot())
        return True  # keeps the GLib timeout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/live/cam")
    ap.add_argument("--codec", choices=sorted(VIDEO), default="h264")
    ap.add_argument("--audio", choices=sorted(AUDIO))
    ap.add_argument("--protocols", default="tcp,udp", help="tcp, udp or tcp,udp")
    ap.add_argument("--user", nargs=2, metavar=("NAME", "PASSWORD"))
    ap.add_argument("--audio-out")
    ap.add_argument("--deadline", type=float, default=120.0)
    args = ap.parse_args()

    Gst.init(None)
    counts = Counts(args.audio_out)
    loop = GLib.MainLoop()

    launch = f"{VIDEO[args.codec]} ! {SINK} name=vsink"
    if args.audio:
        launch += f" {AUDIO[args.audio]} ! {SINK} name=asink"

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
    factory.set_launch(f"( {launch} )")
    factory.set_shared(False)
    factory.set_latency(LATENCY_MS)  # the receiving jitterbuffer's hold
    protocols = GstRtsp.RTSPLowerTrans(0)
    for name in args.protocols.split(","):
        protocols |= {"tcp": GstRtsp.RTSPLowerTrans.TCP, "udp": GstRtsp.RTSPLowerTrans.UDP}[name]
    factory.set_protocols(protocols)

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", ROLE)  # GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE
        auth.add_digest(args.user[0], args.user[1], token)
        server.set_auth(auth)
        factory.add_role_from_structure(Gst.Structure.from_string(
            f"{ROLE}, media.factory.access=(boolean)true, "
            f"media.factory.construct=(boolean)true")[0])

    medias = []  # [(bin, eos_events, drained)] per media, in order

    def drain_all():
        """Before TEARDOWN is answered (and the media torn down): lets what was
        received run through the jitterbuffer, then sends EOS into each
        depayloader so the decoders give out the pictures they still hold, and
        waits (bounded) for the EOS to reach the sinks."""
        start = time.monotonic()
        last, quiet_since = None, time.monotonic()
        while time.monotonic() - start < DRAIN_S:
            now_version = counts.version
            if now_version != last:
                last, quiet_since = now_version, time.monotonic()
            elif time.monotonic() - quiet_since >= QUIET_S:
                break
            time.sleep(0.02)
        for bin_, eos_events, drained in medias:
            if drained:
                continue
            drained.append(True)
            for name in ("depay0", "depay1"):
                depay = bin_.get_by_name(name)
                if depay is not None:
                    depay.get_static_pad("sink").send_event(Gst.Event.new_eos())
            for ev in eos_events:
                ev.wait(max(0.0, DRAIN_S - (time.monotonic() - start)))

    def on_pre_teardown(_client, _ctx):
        drain_all()
        return GstRtsp.RTSPStatusCode.OK

    server.connect("client-connected",
                   lambda _s, client: client.connect("pre-teardown-request", on_pre_teardown))

    def on_media_configure(_factory, media):
        with counts.lock:
            counts.medias += 1
            index = counts.medias - 1
            counts.first_key.append(None)
            counts.frames_per_media.append(0)
            counts.version += 1
        emit({"event": "media", "media": index})
        bin_ = media.get_element()

        def unit_in(_pad, info):
            buf = info.get_buffer()
            key = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
            with counts.lock:
                counts.units += 1
                counts.keyframes += key
                if counts.first_key[index] is None:
                    counts.first_key[index] = key
                counts.version += 1
            return Gst.PadProbeReturn.OK

        def frame_out(_pad, _info):
            with counts.lock:
                counts.frames += 1
                counts.frames_per_media[index] += 1
                counts.version += 1
            return Gst.PadProbeReturn.OK

        def audio_in(_pad, info):
            buf = info.get_buffer()
            size = buf.get_size()
            with counts.lock:
                counts.audio_bytes += size
                counts.version += 1
                if counts.audio_out is not None:
                    ok, mapinfo = buf.map(Gst.MapFlags.READ)
                    if ok:
                        counts.audio_out.write(bytes(mapinfo.data))
                        counts.audio_out.flush()
                        buf.unmap(mapinfo)
            return Gst.PadProbeReturn.OK

        def audio_out(_pad, info):
            with counts.lock:
                counts.audio_samples += info.get_buffer().get_size() // 2  # S16 mono
                counts.version += 1
            return Gst.PadProbeReturn.OK

        probe = Gst.PadProbeType.BUFFER
        eos_events = []

        def watch_eos(sink_name):
            ev = threading.Event()
            eos_events.append(ev)

            def on_event(_pad, info):
                if info.get_event().type == Gst.EventType.EOS:
                    ev.set()
                return Gst.PadProbeReturn.OK

            bin_.get_by_name(sink_name).get_static_pad("sink").add_probe(
                Gst.PadProbeType.EVENT_DOWNSTREAM, on_event)

        watch_eos("vsink")
        if args.audio:
            watch_eos("asink")
        medias.append((bin_, eos_events, []))
        bin_.get_by_name("vdec").get_static_pad("sink").add_probe(probe, unit_in)
        bin_.get_by_name("vsink").get_static_pad("sink").add_probe(probe, frame_out)
        if args.audio:
            bin_.get_by_name("adec").get_static_pad("sink").add_probe(probe, audio_in)
            bin_.get_by_name("asink").get_static_pad("sink").add_probe(probe, audio_out)
        media.connect("unprepared", lambda _m: emit({"event": "media-end", "media": index}))

    factory.connect("media-configure", on_media_configure)
    path = args.path if args.path.startswith("/") else "/" + args.path
    server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        emit({"event": "error", "reason": f"cannot listen on 127.0.0.1:{args.port}"})
        return 1

    def finish(reason):
        counts.report(force=True)
        emit({"event": "exit", "reason": reason})
        loop.quit()
        return False

    GLib.timeout_add(100, counts.report)
    GLib.timeout_add(int(args.deadline * 1000), finish, "deadline")
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, finish, "signal")
    emit({"event": "ready", "port": args.port, "path": path})
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
