#!/usr/bin/env python3
"""Records what real RTSP players send, for the fuzz seed corpus.

A stand-in RTSP server on 127.0.0.1 answers OPTIONS, DESCRIBE (one H.264
track), SETUP (TCP interleaved or UDP), PLAY (then a few RTP packets and an
RTCP sender report, so the player answers with a receiver report),
GET_PARAMETER and TEARDOWN. Each request a player sends, and each RTCP packet
it sends back (interleaved or on the server's RTCP port), is written to
OUT/<player>-<n>-<method>.bin byte for byte.

Usage: capture_requests.py OUT   (needs ffmpeg and gst-launch-1.0 on PATH)
"""
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkAUBbsBEAAAAMAQAAADIPFi5I=,aMuDyyA=\r\n"
    "a=control:trackID=0\r\n"
)
SSRC = 0x11223344


def rtp(seq, ts, payload, marker=False):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq, ts, SSRC) + payload


def sender_report(ts):
    now = time.time() + 2208988800
    ntp = (int(now) << 32) | int((now % 1) * (1 << 32))
    return struct.pack("!BBHIQIII", 0x80, 200, 6, SSRC, ntp, ts, 3, 30)


def media_packets():
    sps = bytes.fromhex("6742c01ed900501bb011000003000100000300320f162e48")
    pps = bytes.fromhex("68cb83cb20")
    return [rtp(1, 9000, sps), rtp(2, 9000, pps), rtp(3, 9000, bytes([0x65, 0x88]) + b"\xaa" * 64, True)]


class Capture:
    def __init__(self, out, player):
        self.out, self.player, self.n = out, player, 0
        self.lock = threading.Lock()

    def save(self, kind, data):
        with self.lock:
            self.n += 1
            path = os.path.join(self.out, f"{self.player}-{self.n:02d}-{kind}.bin")
        with open(path, "wb") as f:
            f.write(data)


def serve(conn, cap, rtcp_sock):
    buf = b""
    conn.settimeout(5)
    client_ports = None
    while True:
        try:
            data = conn.recv(65536)
        except (socket.timeout, OSError):
            return
        if not data:
            return
        buf += data
        while buf:
            if buf[0:1] == b"$":
                if len(buf) < 4:
                    break
                n = struct.unpack("!H", buf[2:4])[0]
                if len(buf) < 4 + n:
                    break
                cap.save("interleaved", buf[: 4 + n])
                buf = buf[4 + n :]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[: end + 4]
            m = re.search(rb"(?i)content-length:\s*(\d+)", head)
            total = len(head) + (int(m.group(1)) if m else 0)
            if len(buf) < total:
                break
            req, buf = buf[:total], buf[total:]
            method = req.split(b" ", 1)[0].decode()
            cap.save(method.lower(), req)
            cseq = re.search(rb"(?i)cseq:\s*(\d+)", req).group(1).decode()
            hdr = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n"
            body = ""
            interleaved = None
            if method == "OPTIONS":
                hdr += "Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER\r\n"
            elif method == "DESCRIBE":
                body = SDP
                hdr += "Content-Type: application/sdp\r\nContent-Base: rtsp://127.0.0.1/cam/\r\n"
            elif method == "SETUP":
                t = re.search(rb"(?i)transport:\s*([^\r\n]+)", req).group(1).decode()
                spec = t.split(",")[0]
                if "interleaved" in spec or "TCP" in spec:
                    interleaved = True
                    reply = f"RTP/AVP/TCP;unicast;interleaved=0-1;ssrc={SSRC:08X}"
                else:
                    p = re.search(r"client_port=(\d+)-(\d+)", spec)
                    client_ports = (int(p.group(1)), int(p.group(2)))
                    sport = rtcp_sock.getsockname()[1] - 1
                    reply = f"RTP/AVP;unicast;client_port={p.group(1)}-{p.group(2)};server_port={sport}-{sport + 1};ssrc={SSRC:08X}"
                hdr += f"Transport: {reply}\r\nSession: 12345678;timeout=60\r\n"
            else:
                hdr += "Session: 12345678;timeout=60\r\n"
                if method == "PLAY":
                    hdr += "RTP-Info: url=rtsp://127.0.0.1/cam/trackID=0;seq=1;rtptime=9000\r\n"
            if body:
                hdr += f"Content-Length: {len(body)}\r\n"
            conn.sendall((hdr + "\r\n" + body).encode())
            if method == "PLAY":
                packets = media_packets()
                if client_ports is None:
                    for p in packets:
                        conn.sendall(b"$\x00" + struct.pack("!H", len(p)) + p)
                    sr = sender_report(9000)
                    conn.sendall(b"$\x01" + struct.pack("!H", len(sr)) + sr)
                else:
                    for p in packets:
                        rtcp_sock.sendto(p, ("127.0.0.1", client_ports[0]))
                    rtcp_sock.sendto(sender_report(9000), ("127.0.0.1", client_ports[1]))


def udp_rtcp(sock, cap, stop):
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            continue
        cap.save("rtcp-udp", data)


def run(out, player, argv):
    cap = Capture(out, player)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    rtcp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp_sock.bind(("127.0.0.1", 0))
    stop = threading.Event()
    threading.Thread(target=udp_rtcp, args=(rtcp_sock, cap, stop), daemon=True).start()
    port = srv.getsockname()[1]
    url = f"rtsp://127.0.0.1:{port}/cam"
    proc = subprocess.Popen([a.replace("URL", url) for a in argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv.settimeout(10)
    try:
        conn, _ = srv.accept()
        t = threading.Thread(target=serve, args=(conn, cap, rtcp_sock), daemon=True)
        t.start()
        t.join(timeout=8)
    except socket.timeout:
        pass
    try:
        proc.wait(timeout=8)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=5)
    stop.set()
    srv.close()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ff = ["ffmpeg", "-hide_banner", "-nostdin", "-timeout", "3000000"]
    run(out, "ffmpeg-tcp", ff + ["-rtsp_transport", "tcp", "-i", "URL", "-t", "2", "-f", "null", "-"])
    run(out, "ffmpeg-udp", ff + ["-rtsp_transport", "udp", "-i", "URL", "-t", "2", "-f", "null", "-"])
    gst = ["timeout", "6", "gst-launch-1.0", "-q", "rtspsrc", "location=URL"]
    run(out, "gst-tcp", gst + ["protocols=tcp", "!", "fakesink"])
    run(out, "gst-udp", gst + ["protocols=udp", "!", "fakesink"])


if __name__ == "__main__":
    main()
