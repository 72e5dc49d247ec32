"""Raw-socket tools for the hostile-client suite, and a well-behaved RTP watcher.

As a module: `RawConn` (an RTSP connection that may be attacked, with a way to
tell a reply from a close), `Watcher` (the watcher below as a subprocess),
`udp_pair()`, `rtp_header()`.

As a program, the watcher: one player that counts what it receives,
    python3 attack.py watch PORT PATH tcp|udp [--expect N] [--quiet S]
It SETUPs and PLAYs rtsp://127.0.0.1:PORT/PATH (RTP over the RTSP connection
or over UDP), prints "PLAYING <session>", then counts RTP packets, sequence
gaps and frames (packets with the marker bit), keeps its session alive with
GET_PARAMETER, and ends when the server closes the connection, when it has
N frames (--expect), or after S seconds without a packet (--quiet); then it
prints "RESULT <json>". Only 127.0.0.1 is ever contacted.
"""

import json
import os
import select
import socket
import struct
import sys
import time

KEEPALIVE_S = 15
MAX_RUN_S = 900  # the longest a watcher lives, whatever happens


def rtp_header(packet):
    """(sequence number, marker, timestamp, payload type) of an RTP packet, or None."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    return (struct.unpack(">H", packet[2:4])[0], bool(packet[1] & 0x80),
            struct.unpack(">I", packet[4:8])[0], packet[1] & 0x7F)


def udp_pair(host="127.0.0.1"):
    """Two bound UDP sockets on an even port and the next one (RTP, RTCP)."""
    for _ in range(100):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((host, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((host, port + 1))
                return rtp, rtcp
            except OSError:
                rtcp.close()
        rtp.close()
    raise RuntimeError("no free even/odd UDP port pair")


def rss_kb(pid):
    """Resident memory of a process (Linux /proc), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def socket_fds(pid):
    """The sockets process pid has open, as their "socket:[inode]" names (Linux /proc)."""
    fd_dir = f"/proc/{pid}/fd"
    names = set()
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue  # closed while we looked
        if link.startswith("socket:"):
            names.add(link)
    return names


class Reply:
    def __init__(self, status, headers, body, raw_head):
        self.status = status
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def __repr__(self):
        return f"Reply({self.status})"


class RawConn:
    """A TCP connection to the server that may be fed anything. `read()` gives
    the next reply, skipping interleaved frames (counted by channel), or one of
    "closed" (orderly EOF), "reset" (ECONNRESET), "silent" (nothing in time)."""

    def __init__(self, port, source=None, timeout=5, rcvbuf=None):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.cseq = 0
        self.frames = {}  # interleaved channel -> frames seen
        self.rtp = []  # (seq, marker) of RTP on even channels
        self.send_error = None

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url(self, path=""):
        return f"rtsp://127.0.0.1:{self.port}/{path}"

    def send(self, data):
        """Sends all of data; a server that closed on us shows as send_error, not an exception."""
        try:
            self.sock.sendall(data)
            return True
        except OSError as e:
            self.send_error = e
            return False

    def request_bytes(self, method, url, headers=None, body=b""):
        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def request(self, method, url, headers=None, body=b"", timeout=5):
        """Sends one request and returns its reply (or "closed"/"reset"/"silent")."""
        if not self.send(self.request_bytes(method, url, headers, body)):
            return self.read(timeout)  # the server may have answered before closing
        reply = self.read(timeout)
        if isinstance(reply, Reply):
            assert reply.headers.get("cseq") == str(self.cseq), (
                f"reply CSeq {reply.headers.get('cseq')!r} to request {self.cseq}")
        return reply

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return "silent"
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return "silent"
        except ConnectionResetError:
            return "reset"
        except OSError:
            return "reset"
        if not chunk:
            return "closed"
        self.buf += chunk
        return None

    def read(self, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buf) < 4 or (self.buf[:1] != b"$" and b"\r\n\r\n" not in self.buf):
                end = self._fill(deadline)
                if end:
                    return end
            if self.buf[:1] == b"$":
                length = struct.unpack(">H", self.buf[2:4])[0]
                while len(self.buf) < 4 + length:
                    end = self._fill(deadline)
                    if end:
                        return end
                channel = self.buf[1]
                self.frames[channel] = self.frames.get(channel, 0) + 1
                if channel % 2 == 0:
                    h = rtp_header(self.buf[4:4 + length])
                    if h:
                        self.rtp.append((h[0], h[1]))
                self.buf = self.buf[4 + length:]
                continue
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            lines = head.decode("utf-8", "replace").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("RTSP/") or not parts[1].isdigit():
                raise AssertionError(f"not an RTSP status line: {lines[0]!r}")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                end = self._fill(deadline)
                if end:
                    return end
                head, _, rest = self.buf.partition(b"\r\n\r\n")
            self.buf = rest[length:]
            return Reply(int(parts[1]), headers, rest[:length], head)

    def wait_end(self, timeout=5):
        """Reads (and drops) until the server closes: "closed"/"reset", or "silent"."""
        deadline = time.monotonic() + timeout
        while True:
            self.buf = b""
            end = self._fill(deadline)
            if end:
                return end


def setup_play(conn, path, transport, timeout=5):
    """SETUP + PLAY on conn; returns (session id, SETUP reply, PLAY reply)."""
    setup = conn.request("SETUP", conn.url(f"{path}/trackID=0"), {"Transport": transport}, timeout=timeout)
    assert isinstance(setup, Reply) and setup.status == 200, f"SETUP {path}: {setup}"
    sid = setup.headers["session"].split(";")[0]
    play = conn.request("PLAY", conn.url(path), {"Session": sid}, timeout=timeout)
    assert isinstance(play, Reply) and play.status == 200, f"PLAY {path}: {play}"
    return sid, setup, play


# --- the watcher, as a subprocess of the test -------------------------------------

class Watcher:
    """`python3 attack.py watch ...` in the background (helpers.Background)."""

    def __init__(self, port, path, transport, expect=None, quiet=None, name=None):
        import helpers  # only the test process needs it
        cmd = [sys.executable, __file__, "watch", str(port), path, transport]
        if expect is not None:
            cmd += ["--expect", str(expect)]
        if quiet is not None:
            cmd += ["--quiet", str(quiet)]
        self.proc = helpers.Background(cmd, name or f"watcher-{path}-{transport}")
        self.session = self.proc.wait_line("PLAYING", 15).split()[1]

    def result(self, timeout=30):
        line = self.proc.wait_line("RESULT", timeout)
        self.proc.wait(5)
        return json.loads(line.split(" ", 1)[1])

    def stop(self):
        self.proc.stop()


class Counts:
    def __init__(self):
        self.packets = 0
        self.frames = 0
        self.gaps = 0
        self.disorder = 0
        self.first_seq = None
        self.last_seq = None
        self.rtcp = 0
        self.bye = False
        self.last_packet = time.monotonic()

    def rtp(self, packet):
        h = rtp_header(packet)
        if h is None:
            return
        seq, marker = h[0], h[1]
        self.packets += 1
        self.frames += marker
        self.last_packet = time.monotonic()
        if self.first_seq is None:
            self.first_seq = seq
        else:
            step = (seq - self.last_seq) & 0xFFFF
            if step == 0 or step > 0x8000:
                self.disorder += 1
                return
            self.gaps += step - 1
        self.last_seq = seq

    def rtcp_in(self, packet):
        self.rtcp += 1
        pos = 0
        while pos + 4 <= len(packet):  # a compound packet: look for BYE (203)
            if packet[pos + 1] == 203:
                self.bye = True
            pos += 4 * (struct.unpack(">H", packet[pos + 2:pos + 4])[0] + 1)


def watch(port, path, transport, expect, quiet):
    conn = RawConn(port, timeout=5)
    counts = Counts()
    rtp_sock = rtcp_sock = None
    if transport == "tcp":
        spec = "RTP/AVP/TCP;unicast;interleaved=0-1"
    else:
        rtp_sock, rtcp_sock = udp_pair()
        rtp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        a = rtp_sock.getsockname()[1]
        spec = f"RTP/AVP;unicast;client_port={a}-{a + 1}"
    sid, _, play = setup_play(conn, path, spec)
    rtp_info_seq = None
    for part in play.headers.get("rtp-info", "").split(";"):
        if part.strip().startswith("seq="):
            rtp_info_seq = int(part.strip()[4:])
    print("PLAYING", sid, flush=True)
    end = "deadline"
    replies = []
    start = time.monotonic()
    next_keepalive = start + KEEPALIVE_S
    conn.sock.setblocking(False)
    while time.monotonic() - start < MAX_RUN_S:
        if expect is not None and counts.frames >= expect:
            end = "expected frames"
            break
        if quiet is not None and time.monotonic() - counts.last_packet > quiet:
            end = "quiet"
            break
        now = time.monotonic()
        if now >= next_keepalive:
            next_keepalive = now + KEEPALIVE_S
            conn.sock.setblocking(True)
            conn.send(conn.request_bytes("GET_PARAMETER", conn.url(path), {"Session": sid}))
            conn.sock.setblocking(False)
        socks = [conn.sock] + [s for s in (rtp_sock, rtcp_sock) if s is not None]
        ready, _, _ = select.select(socks, [], [], 0.2)
        closed = False
        for s in ready:
            if s is conn.sock:
                try:
                    chunk = s.recv(1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    closed = True
                    continue
                conn.buf += chunk
                closed = drain_tcp(conn, counts, replies) or closed
            elif s is rtp_sock:
                drain_udp(s, counts.rtp)
            else:
                drain_udp(s, counts.rtcp_in)
        if closed:
            end = "server closed"
            if rtp_sock is not None:  # what is still in flight on loopback
                time.sleep(0.3)
                drain_udp(rtp_sock, counts.rtp)
                drain_udp(rtcp_sock, counts.rtcp_in)
            break
    result = {"end": end, "session": sid, "frames": counts.frames, "packets": counts.packets,
              "gaps": counts.gaps, "disorder": counts.disorder, "first_seq": counts.first_seq,
              "rtp_info_seq": rtp_info_seq, "rtcp": counts.rtcp, "bye": counts.bye,
              "keepalive_replies": replies}
    print("RESULT", json.dumps(result), flush=True)


def drain_udp(sock, sink):
    while True:
        try:
            packet = sock.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        sink(packet)


def drain_tcp(conn, counts, replies):
    """Consumes whole $ frames and replies from conn.buf; True on a protocol error."""
    buf = conn.buf
    pos = 0
    while len(buf) - pos >= 4:
        if buf[pos:pos + 1] == b"$":
            length = struct.unpack(">H", buf[pos + 2:pos + 4])[0]
            if len(buf) - pos < 4 + length:
                break
            payload = buf[pos + 4:pos + 4 + length]
            if buf[pos + 1] == 0:
                counts.rtp(payload)
            elif buf[pos + 1] == 1:
                counts.rtcp_in(payload)
            pos += 4 + length
            continue
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        status = buf[pos:end].split(b"\r\n")[0].decode("latin-1")
        length = 0
        for line in buf[pos:end].split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        if len(buf) - (end + 4) < length:
            break
        replies.append(status)
        pos = end + 4 + length
    conn.buf = buf[pos:]
    return False


def main(argv):
    if len(argv) < 4 or argv[0] != "watch":
        print(__doc__)
        return 2
    port, path, transport = int(argv[1]), argv[2], argv[3]
    expect = quiet = None
    rest = argv[4:]
    for i in range(0, len(rest), 2):
        if rest[i] == "--expect":
            expect = int(rest[i + 1])
        elif rest[i] == "--quiet":
            quiet = float(rest[i + 1])
    watch(port, path, transport, expect, quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
