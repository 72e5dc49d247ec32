"""A stand-in for a board on a serial line: the far end of a pseudo-terminal
that speaks MicroPython's raw REPL (see rawrepl.py) and runs each command in
the local unix port, one process per command.

Like a board it answers "\\r\\n" line ends, sends a program's stdout while it
runs, turns Ctrl-C into KeyboardInterrupt (SIGINT to the unix port), puts the
traceback between the two Ctrl-D, and reboots on an empty command. Unlike a
board, state does not survive from one command to the next.
"""

import os
import select
import signal
import subprocess
import tempfile
import threading
import tty

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
FRIENDLY_PROMPT = b"\r\n>>> "


def _crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class FakeBoard:
    """board = FakeBoard(micropython); pyserial opens board.device."""

    def __init__(self, micropython, workdir=None):
        self.micropython = micropython
        self.workdir = workdir
        self.master, self._slave = os.openpty()
        self.device = os.ttyname(self._slave)
        tty.setraw(self._slave)
        self.commands = []  # the code of every command, as received
        self.interrupts = 0  # Ctrl-C delivered to a running command
        self.soft_resets = 0
        self._mode = "friendly"
        self._line = bytearray()
        self._proc = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name="fake-board", daemon=True)
        self._send(b"MicroPython on a fake board (the unix port behind a pty)" + FRIENDLY_PROMPT)
        self._reader.start()

    def close(self):
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        self._reader.join(5)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the line -------------------------------------------------------------

    def _send(self, data):
        with self._write_lock:
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self.master, view)
                except BlockingIOError:
                    select.select([], [self.master], [], 0.1)
                    continue
                except OSError:
                    return  # closed
                view = view[n:]

    def _read_loop(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for byte in data:
                self._byte(byte)

    def _byte(self, c):
        if self._mode == "running":
            if c == 0x03:
                proc = self._proc
                if proc is not None and proc.poll() is None:
                    self.interrupts += 1
                    proc.send_signal(signal.SIGINT)
            return  # a board would hand other bytes to the program's stdin
        if self._mode == "friendly":
            if c == 0x01:
                self._mode = "raw"
                self._line.clear()
                self._send(BANNER)
            elif c in (0x03, 0x0D):
                self._send(FRIENDLY_PROMPT)
            return
        # raw REPL, waiting for a command
        if c == 0x01:
            self._line.clear()
            self._send(BANNER)
        elif c == 0x02:
            self._mode = "friendly"
            self._send(FRIENDLY_PROMPT)
        elif c == 0x03:
            self._line.clear()
        elif c == 0x04:
            code = bytes(self._line)
            self._line.clear()
            if not code:
                self.soft_resets += 1
                self._send(b"OK\r\nMPY: soft reboot\r\n" + BANNER)
            else:
                self._send(b"OK")
                self._run(code)
        else:
            self._line.append(c)

    # -- running a command ------------------------------------------------------

    def _run(self, code):
        self.commands.append(code.decode("utf-8", "replace"))
        fd, path = tempfile.mkstemp(suffix=".py", prefix="fake-board-")
        with os.fdopen(fd, "wb") as f:
            f.write(code)
        self._mode = "running"
        self._proc = subprocess.Popen([self.micropython, path], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, cwd=self.workdir)
        threading.Thread(target=self._pump, args=(self._proc, path), daemon=True).start()

    def _pump(self, proc, path):
        err = []
        t_err = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
        t_err.start()
        out = proc.stdout
        while True:
            chunk = out.read1(4096)
            if not chunk:
                break
            self._send(_crlf(chunk))
        proc.wait()
        t_err.join(10)
        os.unlink(path)
        stderr = err[0] if err else b""
        self._proc = None
        self._mode = "raw"
        self._send(b"\x04" + _crlf(stderr) + b"\x04>")
