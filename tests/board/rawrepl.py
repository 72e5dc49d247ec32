"""MicroPython's raw REPL over a serial line (pyserial), as mpremote speaks it.

The protocol (py/pyexec.c, pyexec_raw_repl):
  - Ctrl-C Ctrl-C stops whatever runs; Ctrl-A enters the raw REPL, which
    answers "raw REPL; CTRL-B to exit\\r\\n>";
  - the code follows, ended by Ctrl-D; the board answers "OK", then runs it:
    its stdout as it comes, Ctrl-D, the exception text if it raised (the
    "stderr" part), Ctrl-D, and ">" for the next command;
  - Ctrl-C while code runs raises KeyboardInterrupt in it; Ctrl-D on an empty
    command is a soft reset; Ctrl-B goes back to the friendly REPL.

Output is returned as text with the board's "\\r\\n" turned into "\\n".
"""

import time

EOT = b"\x04"
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"


class ReplError(Exception):
    """The board did not answer as the protocol says (or not in time)."""


class Result:
    """What one command printed: stdout, and the exception text (stderr)."""

    def __init__(self, stdout, stderr):
        self.stdout = stdout
        self.stderr = stderr

    @property
    def lines(self):
        return self.stdout.splitlines()

    def __repr__(self):
        return f"Result(stdout={self.stdout!r}, stderr={self.stderr!r})"


def _text(data):
    return data.decode("utf-8", "replace").replace("\r\n", "\n")


class RawRepl:
    """One board behind `port`, a pyserial object (read/write/timeout/in_waiting).

    `chunk`/`chunk_delay`: code is written in pieces with a pause between
    them, as mpremote does, so boards without flow control keep up."""

    def __init__(self, port, chunk=256, chunk_delay=0.01):
        self.port = port
        self.chunk = chunk
        self.chunk_delay = chunk_delay
        self._buf = b""
        self._running = False
        self._out_done = False
        self._stdout = b""
        self._seen = 0  # bytes of _stdout already handed out as lines

    # -- bytes -----------------------------------------------------------

    def _write(self, data):
        self.port.write(data)
        self.port.flush()

    def _fill(self, deadline):
        """Reads what is there (waits up to the port's timeout); False after the deadline."""
        if time.monotonic() > deadline:
            return False
        waiting = getattr(self.port, "in_waiting", 0)
        data = self.port.read(waiting or 1)
        if data:
            self._buf += data
        return True

    def _read_until(self, marker, timeout, what):
        deadline = time.monotonic() + timeout
        while marker not in self._buf:
            if not self._fill(deadline):
                raise ReplError(f"no {what} within {timeout} s; got {self._buf[-200:]!r}")
        head, _, self._buf = self._buf.partition(marker)
        return head

    # -- raw REPL ---------------------------------------------------------

    def enter(self, timeout=10):
        """Stops any running program and enters the raw REPL."""
        self._write(b"\r\x03\x03")
        time.sleep(0.1)
        self._drain(0.2)
        self._write(b"\r\x01")
        self._read_until(RAW_BANNER, timeout, "raw REPL banner")
        self._running = False

    def _drain(self, quiet):
        """Discards input until the line has been quiet for `quiet` seconds."""
        deadline = time.monotonic() + 5
        last = time.monotonic()
        while time.monotonic() - last < quiet and time.monotonic() < deadline:
            before = len(self._buf)
            self._fill(deadline)
            if len(self._buf) != before:
                last = time.monotonic()
        self._buf = b""

    def exit(self):
        """Back to the friendly REPL."""
        self._write(b"\x02")

    def start(self, code, timeout=10):
        """Sends `code` and waits for the board's OK; the program then runs."""
        if self._running:
            raise ReplError("a program is still running")
        data = code.encode() if isinstance(code, str) else code
        if EOT in data:
            raise ValueError("code must not contain Ctrl-D")
        for i in range(0, len(data), self.chunk):
            self._write(data[i:i + self.chunk])
            if self.chunk_delay:
                time.sleep(self.chunk_delay)
        self._write(EOT)
        answer = self._read_until(b"OK", timeout, "OK after the code")
        if answer.strip(b"\r\n>"):
            raise ReplError(f"unexpected bytes before OK: {answer!r}")
        self._running = True
        self._out_done = False
        self._stdout = b""
        self._seen = 0

    def _pump(self, deadline):
        """Moves the running program's stdout into _stdout, waiting for more;
        False once its end mark came. TimeoutError after the deadline."""
        if self._out_done:
            return False
        if EOT in self._buf:
            out, _, self._buf = self._buf.partition(EOT)
            self._stdout += out
            self._out_done = True
            return False
        self._stdout += self._buf
        self._buf = b""
        if not self._fill(deadline):
            raise TimeoutError
        return True

    def wait_line(self, prefix, timeout):
        """The next stdout line starting with `prefix`, while the program goes
        on running. Raises ReplError if it ends first or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            while True:
                end = self._stdout.find(b"\n", self._seen)
                if end < 0:
                    break
                line = _text(self._stdout[self._seen:end]).rstrip("\r")
                self._seen = end + 1
                if line.startswith(prefix):
                    return line
            if self._out_done:
                rest = _text(self._stdout[self._seen:])
                self._seen = len(self._stdout)
                if rest and rest.startswith(prefix):
                    return rest
                raise ReplError(f"program ended without a line starting with {prefix!r}; "
                                f"stdout: {_text(self._stdout)!r}")
            try:
                self._pump(deadline)
            except TimeoutError:
                raise ReplError(f"no line starting with {prefix!r} within {timeout} s; "
                                f"stdout so far: {_text(self._stdout)!r}") from None

    def finish(self, timeout):
        """Waits for the program to end; returns its Result."""
        if not self._running:
            raise ReplError("no program running")
        deadline = time.monotonic() + timeout
        try:
            while self._pump(deadline):
                pass
        except TimeoutError:
            raise ReplError(f"program still running after {timeout} s; "
                            f"stdout so far: {_text(self._stdout)!r}") from None
        remaining = max(1.0, deadline - time.monotonic())
        stderr = self._read_until(EOT, remaining, "end of the exception part")
        self._read_until(b">", remaining, "prompt after the program")
        self._running = False
        return Result(_text(self._stdout), _text(stderr))

    def interrupt(self, timeout=10):
        """Ctrl-C: KeyboardInterrupt in the running program; returns its Result."""
        self._write(b"\x03")
        return self.finish(timeout)

    def exec(self, code, timeout=30):
        """Runs `code` to the end; returns its Result. On timeout the program
        is interrupted and ReplError raised."""
        self.start(code)
        try:
            return self.finish(timeout)
        except ReplError:
            self._write(b"\x03")
            try:
                self.finish(5)
            except ReplError:
                pass
            self._running = False
            raise

    def soft_reset(self, timeout=15):
        """Ctrl-D on an empty command: the board restarts its interpreter and
        comes back in the raw REPL."""
        if self._running:
            raise ReplError("a program is still running")
        self._write(EOT)
        self._read_until(b"OK", timeout, "OK for the soft reset")
        self._read_until(RAW_BANNER, timeout, "raw REPL banner after the soft reset")
