#!/usr/bin/env python3
"""One-connection RTSP proxy that makes any client ask for the ONVIF back channel.

  require_proxy.py LISTEN_PORT TARGET_PORT [--log FILE] [--range-now] [--lifetime S]

Listens on 127.0.0.1:LISTEN_PORT, accepts one client and relays it to
127.0.0.1:TARGET_PORT, adding "Require: www.onvif.org/ver20/backchannel" to
every request that has no Require header (ffmpeg/ffprobe cannot be told to
send one). With --range-now, "Range: npt=0.000-" (ffmpeg's PLAY) becomes
"Range: npt=now-" (gst-rtsp-server's ONVIF media fails the seek of the
former with 503 once the back channel is set up). Interleaved ($) frames pass
untouched; requests and response status lines are logged to --log. UDP media
does not go through the proxy. Stops when either side closes or after
--lifetime seconds (default 40).
"""

import argparse
import socket
import sys
import threading
import time

REQUIRE = b"Require: www.onvif.org/ver20/backchannel\r\n"


def received(sock, deadline):
    """What sock receives, piece by piece, until it closes or fails or the deadline passes
    (sock has a short timeout, so the deadline is looked at between pieces)."""
    while time.monotonic() < deadline:
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return
        if not d:
            return
        yield d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("listen_port", type=int)
    ap.add_argument("target_port", type=int)
    ap.add_argument("--log", default="/dev/null")
    ap.add_argument("--range-now", action="store_true")
    ap.add_argument("--lifetime", type=float, default=40.0)
    args = ap.parse_args()
    log = open(args.log, "w")
    deadline = time.monotonic() + args.lifetime

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.listen_port))
    ls.listen(1)
    ls.settimeout(args.lifetime)
    print("READY", flush=True)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        return 1
    s = socket.create_connection(("127.0.0.1", args.target_port), timeout=5)
    for sock in (c, s):
        sock.settimeout(1.0)

    def server_to_client():
        for d in received(s, deadline):
            if d.startswith(b"RTSP/1.0"):
                log.write("<<< " + d.split(b"\r\n\r\n")[0].decode(errors="replace") + "\n\n")
                log.flush()
            try:
                c.sendall(d)
            except OSError:
                break
        c.close()

    threading.Thread(target=server_to_client, daemon=True).start()
    buf = b""
    for d in received(c, deadline):
        buf += d
        while buf:
            if buf[:1] == b"$":
                if len(buf) < 4:
                    break
                n = 4 + int.from_bytes(buf[2:4], "big")
                if len(buf) < n:
                    break
                s.sendall(buf[:n])
                buf = buf[n:]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head, buf = buf[:end + 2], buf[end + 4:]  # requests from players carry no body here
            if args.range_now:
                head = head.replace(b"Range: npt=0.000-", b"Range: npt=now-")
            if b"\r\nRequire:" not in head:
                head += REQUIRE
            log.write(">>> " + head.decode(errors="replace") + "\n")
            log.flush()
            s.sendall(head + b"\r\n")
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
