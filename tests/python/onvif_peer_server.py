#!/usr/bin/python3
"""Reference ONVIF back-channel RTSP server (gst-rtsp-server), for comparisons.

Run with /usr/bin/python3 (needs gi with Gst 1.x and GstRtspServer):

  onvif_peer_server.py --port P [--path /test] [--codec pcmu|pcma]
      [--out FILE] [--no-backchannel] [--plain] [--lifetime S]

Serves rtsp://127.0.0.1:P/test: live videotestsrc H.264 (pay0) and, unless
--no-backchannel, an ONVIF back channel (an `a=sendonly` audio media, PCMU
payload type 0 or PCMA payload type 8) whose depayloaded G.711 bytes are
written to --out (default: /dev/null) as they arrive. --plain serves the
same video from a plain RTSPServer/RTSPMediaFactory (no ONVIF classes, no
back channel).

Prints "READY <url>" on stdout once listening, then one JSON line per
received back-channel RTP packet on stdout:
  {"bc": 1, "seq": N, "ts": N, "pt": N, "len": payload_bytes}
(seq and ts as they leave gst-rtsp-server's receive path, which renumbers
them: they are not the client's.)
and exits after --lifetime seconds (default 60) or on SIGTERM/SIGINT,
printing a final {"done": true, "packets": N, "bytes": N} line.
"""

import argparse
import json
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtp, GstRtspServer  # noqa: E402

CODECS = {
    "pcmu": (0, "PCMU", "rtppcmudepay"),
    "pcma": (8, "PCMA", "rtppcmadepay"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/test")
    ap.add_argument("--codec", choices=sorted(CODECS), default="pcmu")
    ap.add_argument("--out", default="/dev/null")
    ap.add_argument("--no-backchannel", action="store_true")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--lifetime", type=float, default=60.0)
    args = ap.parse_args()

    Gst.init(None)
    loop = GLib.MainLoop()
    stats = {"packets": 0, "bytes": 0}

    if args.plain:
        args.no_backchannel = True
        server = GstRtspServer.RTSPServer.new()
        factory = GstRtspServer.RTSPMediaFactory.new()
    else:
        server = GstRtspServer.RTSPOnvifServer.new()
        factory = GstRtspServer.RTSPOnvifMediaFactory.new()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball "
        "! video/x-raw,width=320,height=240,framerate=25/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 )"
    )
    pt, name, depay = CODECS[args.codec]
    if not args.no_backchannel:
        factory.set_backchannel_launch(
            '( capsfilter caps="application/x-rtp, media=audio, payload=%d, '
            'clock-rate=8000, encoding-name=%s" name=depay_backchannel '
            "! %s ! filesink location=%s sync=false async=false buffer-mode=unbuffered )"
            % (pt, name, depay, args.out)
        )
    factory.set_shared(False)
    if not args.plain:
        factory.set_media_gtype(GstRtspServer.RTSPOnvifMedia)

    def on_rtp(pad, info):
        buf = info.get_buffer()
        ok, rtp = GstRtp.RTPBuffer.map(buf, Gst.MapFlags.READ)
        if ok:
            n = rtp.get_payload_len()
            rec = {"bc": 1, "seq": rtp.get_seq(), "ts": rtp.get_timestamp(),
                   "pt": rtp.get_payload_type(), "len": n}
            rtp.unmap()
            stats["packets"] += 1
            stats["bytes"] += n
            print(json.dumps(rec), flush=True)
        return Gst.PadProbeReturn.OK

    def on_media_configure(_factory, media):
        element = media.get_element()
        cf = element.get_by_name("depay_backchannel") if element else None
        if cf is not None:
            cf.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_rtp)

    factory.connect("media-configure", on_media_configure)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print("ERROR cannot listen on 127.0.0.1:%d" % args.port, file=sys.stderr)
        return 2

    def finish(*_a):
        loop.quit()
        return False

    GLib.timeout_add(int(args.lifetime * 1000), finish)
    for s in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, s, finish)
    print("READY rtsp://127.0.0.1:%d%s" % (args.port, args.path), flush=True)
    loop.run()
    print(json.dumps({"done": True, **stats}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
