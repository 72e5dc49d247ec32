#!/usr/bin/python3
"""ONVIF audio back-channel client (GStreamer rtspsrc backchannel=onvif).

Run with /usr/bin/python3 (needs gi with Gst >= 1.22):

  backchannel_client.py URL [--transport tcp|udp] [--codec pcmu|pcma]
      [--seconds S] [--frames N] [--timeout S] [--start playing|frame|select]
      [--linger S] [--allow-no-backchannel] [--seed TEXT] [--out FILE.json]

Plays URL with rtspsrc (protocols=--transport, backchannel=onvif, which adds
"Require: www.onvif.org/ver20/backchannel" to DESCRIBE), decodes the video
(H.264, H.265 or MJPEG, through decodebin) and counts decoded frames. The
SDP's back-channel media (the one rtspsrc reports with a-sendonly in
select-stream) gets S seconds of known G.711 bytes (see known_bytes()),
payloaded by rtppcmupay/rtppcmapay into 20 ms RTP packets of 160 bytes,
paced in real time by an appsink with sync=true, each handed to rtspsrc's
"push-backchannel-sample" action signal.

--start says when pushing begins: "playing" (default) once rtspsrc posts its
progress message COMPLETE "request" "Sent PLAY request" (the PLAY response is
in), "frame" after the first decoded video frame, "select" as soon as the
back-channel stream is known in select-stream, before SETUP/PLAY (for
experiments: rtspsrc 1.22 answers GST_FLOW_OK to pushes made before PLAY is
answered, yet those packets never reach a server's back channel).

Stops when the audio is all pushed (or there is no back channel) and, with
--frames N, N frames are decoded; then waits --linger seconds (default 1) and
tears down. --timeout (default S + 20) bounds the whole run. Writes a JSON
report to --out (and a one-line summary on stderr):
  pushed_b64, pushed_sha256, pushed_bytes   the RTP payload bytes accepted by
                                            push-backchannel-sample, in order
  input_sha256, input_bytes                 the known bytes fed to the payloader
  rtp_packets_pushed, push_failures, first_seq, last_seq, payload_type
  bc_selected_s, play_answered_s, first_push_s, first_pushes, progress
                                            timings (s since start) and
                                            rtspsrc's progress messages
  video_frames, video_caps
  backchannel_found, backchannel_caps, backchannel_stream
  errors                                    a list of strings (empty: success)
Exits 0 on success, 1 on any error (the message is also on stderr).
"""

import argparse
import base64
import ctypes
import hashlib
import json
import os
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtp", "1.0")
from gi.repository import GLib, Gst, GstRtp  # noqa: E402

CODECS = {
    # name: (static payload type, encoding-name, raw caps, payloader)
    "pcmu": (0, "PCMU", "audio/x-mulaw,rate=8000,channels=1", "rtppcmupay"),
    "pcma": (8, "PCMA", "audio/x-alaw,rate=8000,channels=1", "rtppcmapay"),
}
BOXED_PTR_OFFSET = object.__basicsize__  # PyGBoxed: PyObject_HEAD, then the pointer
PACKET_BYTES = 160          # 20 ms at 8 kHz, one byte per sample
PACKET_NS = 20 * Gst.MSECOND
# u-law silence is 0xFF (and 0x7F), A-law silence 0xD5 (and 0x55): never used,
# so a gap a receiver fills with silence can't pass for pushed audio.
AVOID = frozenset((0xFF, 0x7F, 0xD5, 0x55))


def known_bytes(n, seed="canmv-backchannel"):
    """n deterministic pseudo-random bytes (SHA-256 in counter mode, AVOID
    values dropped): any reordering, loss or duplication of 160-byte packets
    changes the sequence."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        block = hashlib.sha256(("%s:%d" % (seed, counter)).encode()).digest()
        out.extend(b for b in block if b not in AVOID)
        counter += 1
    return bytes(out[:n])


_libgst = ctypes.CDLL("libgstreamer-1.0.so.0")
_libgst.gst_mini_object_ref.restype = ctypes.c_void_p
_libgst.gst_mini_object_ref.argtypes = [ctypes.c_void_p]
_libgst.gst_mini_object_unref.argtypes = [ctypes.c_void_p]


def _refcount(ptr):
    return ctypes.c_int.from_address(ptr + 8).value  # GstMiniObject: GType, then refcount


def push_sample(rtspsrc, stream, sample):
    """rtspsrc's "push-backchannel-sample" (1.22.0) unrefs the sample it is
    given, like the older "push-backchannel-buffer", though the binding keeps
    and later drops its own reference: a double unref (GStreamer-CRITICALs,
    then a crash). So rtspsrc gets a reference of its own; should a release
    not take it, it is given back."""
    ptr = ctypes.c_void_p.from_address(id(sample) + BOXED_PTR_OFFSET).value
    _libgst.gst_mini_object_ref(ptr)
    before = _refcount(ptr)
    ret = rtspsrc.emit("push-backchannel-sample", stream, sample)
    if _refcount(ptr) == before:
        _libgst.gst_mini_object_unref(ptr)
    return ret


class Client:
    def __init__(self, args):
        self.args = args
        self.loop = GLib.MainLoop()
        self.t0 = time.monotonic()
        self.errors = []
        self.video_frames = 0
        self.video_caps = None
        self.bc_stream = None
        self.bc_caps = None
        self.bc_started = False
        self.bc_done = False
        self.rtsp_playing = False
        self.pushed = bytearray()
        self.packets_pushed = 0
        self.push_failures = 0
        self.first_seq = None
        self.last_seq = None
        self.payload_type = None
        self.first_push_s = None
        self.stopping = False
        self.progress = []
        self.play_answered_s = None
        self.bc_selected_s = None
        self.push_times = []
        pt, self.enc, self.raw_caps, self.payloader = CODECS[args.codec]
        self.input = known_bytes(int(round(args.seconds * 8000)), args.seed)
        self.send_pipe = None
        self._build_receiver()

    def now(self):
        return round(time.monotonic() - self.t0, 3)

    def error(self, msg):
        if msg not in self.errors:
            self.errors.append(msg)
            print("backchannel_client: %s" % msg, file=sys.stderr, flush=True)

    # --- receiving side -------------------------------------------------
    def _build_receiver(self):
        self.pipe = Gst.Pipeline.new("recv")
        src = Gst.ElementFactory.make("rtspsrc", "src")
        src.set_property("location", self.args.url)
        src.set_property("latency", 200)
        Gst.util_set_object_arg(src, "protocols", self.args.transport)
        Gst.util_set_object_arg(src, "backchannel", "onvif")
        src.set_property("timeout", 5 * 1000000)  # UDP: no data for 5 s -> error
        src.connect("select-stream", self.on_select_stream)
        src.connect("pad-added", self.on_pad_added)
        self.pipe.add(src)
        self.src = src
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)

    def on_select_stream(self, _src, idx, caps):
        s = caps.get_structure(0)
        if s.has_field("a-sendonly"):
            if self.bc_stream is None:
                self.bc_stream = idx
                self.bc_caps = caps.to_string()
                self.bc_selected_s = self.now()
                enc = (s.get_string("encoding-name") or "").upper()
                if enc != self.enc:
                    self.error("back channel is %s, not %s" % (enc, self.enc))
                ok, pt = s.get_int("payload")
                self.payload_type = pt if ok else CODECS[self.args.codec][0]
                if self.args.start == "select":
                    GLib.idle_add(self.start_backchannel)
        return True

    def on_pad_added(self, _src, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        media = caps.get_structure(0).get_string("media") if caps else None
        if media == "video":
            dec = Gst.ElementFactory.make("decodebin")
            dec.connect("pad-added", self.on_decoded_pad)
            self.pipe.add(dec)
            dec.sync_state_with_parent()
            pad.link(dec.get_static_pad("sink"))
        else:
            sink = Gst.ElementFactory.make("fakesink")
            sink.set_property("async", False)
            self.pipe.add(sink)
            sink.sync_state_with_parent()
            pad.link(sink.get_static_pad("sink"))

    def on_decoded_pad(self, _dec, pad):
        caps = pad.get_current_caps() or pad.query_caps(None)
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("async", False)
        sink.set_property("sync", False)
        if caps and caps.get_structure(0).get_name().startswith("video/"):
            self.video_caps = caps.to_string()
            sink.set_property("signal-handoffs", True)
            sink.connect("handoff", self.on_frame)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))

    def on_frame(self, *_a):
        self.video_frames += 1
        if self.video_frames == 1 and self.args.start == "frame":
            GLib.idle_add(self.start_backchannel)
        if self.args.frames and self.video_frames == self.args.frames:
            GLib.idle_add(self.check_done)

    def on_message(self, _bus, msg):
        t = msg.type
        if t == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            self.error("%s: %s (%s)" % (msg.src.get_name(), err.message, dbg))
            self.stop()
        elif t == Gst.MessageType.EOS:
            if not self.stopping:
                self.error("server ended the stream (EOS)")
            self.loop.quit()
        elif t == Gst.MessageType.PROGRESS and msg.src == self.src:
            ptype, code, text = msg.parse_progress()
            self.progress.append([self.now(), ptype.value_nick, code, text])
            if ptype == Gst.ProgressType.COMPLETE and "PLAY" in text and not self.play_answered_s:
                self.play_answered_s = self.now()
                if self.args.start == "playing":
                    GLib.idle_add(self.start_backchannel)
        elif t == Gst.MessageType.STATE_CHANGED and msg.src == self.src:
            _old, new, _pending = msg.parse_state_changed()
            if new == Gst.State.PLAYING and not self.rtsp_playing:
                self.rtsp_playing = True
                GLib.idle_add(self.check_done)

    # --- back channel ---------------------------------------------------
    def start_backchannel(self):
        if self.bc_started or self.bc_stream is None or self.stopping:
            return False
        self.bc_started = True
        if not self.input:
            self.bc_done = True
            self.check_done()
            return False
        pipe = Gst.parse_launch(
            "appsrc name=in format=time is-live=true caps=%s "
            "! %s name=pay pt=%d min-ptime=%d max-ptime=%d "
            "! appsink name=out sync=true emit-signals=true max-buffers=0"
            % (self.raw_caps, self.payloader, self.payload_type, PACKET_NS, PACKET_NS))
        out = pipe.get_by_name("out")
        out.set_property("caps", Gst.Caps.from_string(
            "application/x-rtp,media=audio,clock-rate=8000,encoding-name=%s,payload=%d"
            % (self.enc, self.payload_type)))
        out.connect("new-sample", self.on_rtp_sample)
        out.connect("eos", lambda *_a: GLib.idle_add(self.on_bc_eos))
        bus = pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_message)
        appsrc = pipe.get_by_name("in")
        for i in range(0, len(self.input), PACKET_BYTES):
            chunk = self.input[i:i + PACKET_BYTES]
            buf = Gst.Buffer.new_wrapped(chunk)
            buf.pts = (i // PACKET_BYTES) * PACKET_NS
            buf.duration = len(chunk) * Gst.SECOND // 8000
            appsrc.emit("push-buffer", buf)
        appsrc.emit("end-of-stream")
        self.send_pipe = pipe
        pipe.set_state(Gst.State.PLAYING)
        return False

    def on_rtp_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None or self.stopping:
            return Gst.FlowReturn.OK
        ret = push_sample(self.src, self.bc_stream, sample)
        buf = sample.get_buffer()
        ok, rtp = GstRtp.RTPBuffer.map(buf, Gst.MapFlags.READ)
        if not ok:
            self.error("payloader made a buffer that is not RTP")
            return Gst.FlowReturn.OK
        seq, off, n = rtp.get_seq(), rtp.get_header_len(), rtp.get_payload_len()
        rtp.unmap()
        payload = buf.extract_dup(off, n)
        if len(self.push_times) < 5:
            self.push_times.append([self.now(), seq, Gst.FlowReturn(ret).value_nick])
        if ret == Gst.FlowReturn.OK:
            if self.first_seq is None:
                self.first_seq = seq
                self.first_push_s = self.now()
            self.last_seq = seq
            self.pushed.extend(payload)
            self.packets_pushed += 1
        else:
            self.push_failures += 1
            if self.push_failures == 1:
                self.error("push-backchannel-sample returned %s (seq %d)"
                           % (Gst.FlowReturn(ret).value_nick, seq))
        return Gst.FlowReturn.OK

    def on_bc_eos(self):
        self.bc_done = True
        self.check_done()
        return False

    # --- ending ---------------------------------------------------------
    def check_done(self):
        if self.stopping:
            return False
        audio_done = self.bc_done or (self.rtsp_playing and self.bc_stream is None
                                      and self.video_frames > 0)
        frames_done = not self.args.frames or self.video_frames >= self.args.frames
        if audio_done and frames_done:
            GLib.timeout_add(int(self.args.linger * 1000), self.stop)
            self.stopping = True
        return False

    def stop(self):
        self.stopping = True
        self.loop.quit()
        return False

    def on_timeout(self):
        self.error("timed out after %.1f s (frames %d, packets pushed %d, bc done %s)"
                   % (self.args.timeout, self.video_frames, self.packets_pushed, self.bc_done))
        self.loop.quit()
        return False

    def run(self):
        GLib.timeout_add(int(self.args.timeout * 1000), self.on_timeout)
        if self.pipe.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            self.error("cannot start rtspsrc")
        else:
            self.loop.run()
        for p in (self.send_pipe, self.pipe):
            if p is not None:
                p.set_state(Gst.State.NULL)  # rtspsrc sends TEARDOWN here
        if self.bc_stream is None and not self.args.allow_no_backchannel:
            self.error("no back-channel (a=sendonly) media in the SDP")
        if self.bc_stream is not None and self.input and self.bytes_short():
            self.error("pushed %d of %d bytes" % (len(self.pushed), len(self.input)))
        if self.args.frames and self.video_frames < self.args.frames:
            self.error("decoded %d of %d video frames" % (self.video_frames, self.args.frames))
        if not self.args.frames and self.video_frames == 0:
            self.error("no video frame decoded")
        return self.report()

    def bytes_short(self):
        return bytes(self.pushed) != self.input

    def report(self):
        return {
            "url": self.args.url,
            "transport": self.args.transport,
            "codec": self.args.codec,
            "seed": self.args.seed,
            "input_bytes": len(self.input),
            "input_sha256": hashlib.sha256(self.input).hexdigest(),
            "pushed_bytes": len(self.pushed),
            "pushed_sha256": hashlib.sha256(bytes(self.pushed)).hexdigest(),
            "pushed_b64": base64.b64encode(bytes(self.pushed)).decode(),
            "rtp_packets_pushed": self.packets_pushed,
            "push_failures": self.push_failures,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "payload_type": self.payload_type,
            "first_push_s": self.first_push_s,
            "first_pushes": self.push_times[:5],
            "bc_selected_s": self.bc_selected_s,
            "play_answered_s": self.play_answered_s,
            "progress": self.progress,
            "video_frames": self.video_frames,
            "video_caps": self.video_caps,
            "backchannel_found": self.bc_stream is not None,
            "backchannel_stream": self.bc_stream,
            "backchannel_caps": self.bc_caps,
            "elapsed_s": self.now(),
            "errors": self.errors,
        }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("--transport", choices=("tcp", "udp"), default="tcp")
    ap.add_argument("--codec", choices=sorted(CODECS), default="pcmu")
    ap.add_argument("--seconds", type=float, default=3.0, help="audio to push (s)")
    ap.add_argument("--frames", type=int, default=0, help="stop after N decoded frames")
    ap.add_argument("--timeout", type=float, default=None, help="overall limit (s)")
    ap.add_argument("--start", choices=("playing", "frame", "select"), default="playing")
    ap.add_argument("--linger", type=float, default=1.0,
                    help="seconds between the last push and TEARDOWN")
    ap.add_argument("--allow-no-backchannel", action="store_true")
    ap.add_argument("--seed", default="canmv-backchannel")
    ap.add_argument("--out", help="JSON report file")
    args = ap.parse_args(argv)
    if args.timeout is None:
        args.timeout = args.seconds + 20.0
    Gst.init(None)
    # last resort: a teardown that hangs must not keep the run alive
    watchdog = threading.Timer(args.timeout + 15, lambda: (
        print("backchannel_client: stuck after the timeout, exiting", file=sys.stderr, flush=True),
        os._exit(3)))
    watchdog.daemon = True
    watchdog.start()
    client = Client(args)
    rep = client.run()
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rep, f, indent=1)
    summary = {k: v for k, v in rep.items() if k != "pushed_b64"}
    print(json.dumps(summary), file=sys.stderr)
    return 1 if rep["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
