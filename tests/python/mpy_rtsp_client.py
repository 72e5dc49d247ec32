# A small RTSP client for scripts run in the MicroPython unix port (MicroPython
# sockets), imported by the scripts of test_leaks.py (its players and
# back-channel talkers) and test_api.py (its back-channel talker): a script puts
# this folder on sys.path first.
#
# Player(port): one RTSP connection to 127.0.0.1:port. request() sends a request
# and returns the reply as (status, headers with lower-case names, body); the
# interleaved ($) frames read on the way are counted (RTP on even channels:
# rtp, and markers, one a frame) and dropped. A reader that reaches the end of
# the connection raises OSError("closed").

import socket
import time


def addr(port):
    return socket.getaddrinfo("127.0.0.1", port)[0][-1]


class Player:
    """One RTSP connection: requests, replies, interleaved frames counted."""

    def __init__(self, port, timeout=20):
        self.port = port
        self.sock = socket.socket()
        self.sock.settimeout(timeout)
        self.sock.connect(addr(port))
        self.buf = b""
        self.cseq = 0
        self.rtp = 0
        self.markers = 0

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise OSError("closed")
        self.buf += data

    def frame_or_reply(self):
        """None for an interleaved frame, else the reply: (status, headers, body)."""
        while len(self.buf) < 4:
            self.fill()
        if self.buf[0] == 0x24:  # '$'
            n = (self.buf[2] << 8) | self.buf[3]
            while len(self.buf) < 4 + n:
                self.fill()
            if self.buf[1] % 2 == 0 and n >= 12:
                self.rtp += 1
                self.markers += self.buf[5] >> 7
            self.buf = self.buf[4 + n:]
            return None
        while self.buf.find(b"\r\n\r\n") < 0:
            self.fill()
        end = self.buf.find(b"\r\n\r\n")
        lines = self.buf[:end].decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < end + 4 + n:
            self.fill()
        body = self.buf[end + 4:end + 4 + n].decode()
        self.buf = self.buf[end + 4 + n:]
        return int(lines[0].split(" ")[1]), headers, body

    def request(self, method, path, headers=()):
        self.cseq += 1
        req = "%s rtsp://127.0.0.1:%d/%s RTSP/1.0\r\nCSeq: %d\r\n" % (method, self.port, path, self.cseq)
        for k, v in headers:
            req += "%s: %s\r\n" % (k, v)
        self.sock.send((req + "\r\n").encode())
        while True:
            r = self.frame_or_reply()
            if r is not None:
                return r

    def play(self, path, transport):
        status, h, _ = self.request("SETUP", path + "/trackID=0", [("Transport", transport)])
        assert status == 200, ("SETUP", status)
        sid = h["session"].split(";")[0]
        status, h, _ = self.request("PLAY", path, [("Session", sid)])
        assert status == 200, ("PLAY", status)
        return sid

    def wait_frames(self, n):
        t0 = time.ticks_ms()
        while self.markers < n:
            assert time.ticks_diff(time.ticks_ms(), t0) < 30000, ("frames", self.markers)
            self.frame_or_reply()

    def close(self):
        self.sock.close()
