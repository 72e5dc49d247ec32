"""The board suite: the module on a CanMV K230 board, driven through
MicroPython's raw REPL over its serial port, checked from the PC.

    pytest tests/board --port /dev/ttyACM0              # a board
    pytest tests/board --target unix                    # the local unix port

--target unix puts the unix port (MICROPYTHON, else build/micropython) behind
a pseudo-terminal that speaks the raw REPL (fake_board.py), so the same
serial code path is used; URLs are then reached at 127.0.0.1.

Board options: --baud (115200), --board-dir (a writable directory on the
board, /sdcard), --board-host (the address the PC reaches the board at; by
default the host in the URL the board reports), --rtsp-port (first port the
board's servers use, 8554).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from board import Board, RtspPorts, SETUP_HINT, micropython_path, serial_module  # noqa: E402
from rawrepl import RawRepl  # noqa: E402


def pytest_addoption(parser):
    group = parser.getgroup("board", "CanMV board over the raw REPL")
    group.addoption("--target", choices=("serial", "unix"), default=None,
                    help="serial: a board on --port; unix: the local unix port behind a pty "
                         "(default: serial when --port is given, else unix)")
    group.addoption("--port", default=None, help="the board's serial device, e.g. /dev/ttyACM0")
    group.addoption("--baud", type=int, default=115200, help="serial speed (default 115200)")
    group.addoption("--board-dir", default="/sdcard",
                    help="writable directory on the board for test files (default /sdcard)")
    group.addoption("--board-host", default=None,
                    help="address the PC reaches the board at (default: the host of its URL)")
    group.addoption("--rtsp-port", type=int, default=8554,
                    help="first RTSP port used on a board (default 8554)")


def _target(config):
    target = config.getoption("--target")
    if target is None:
        target = "serial" if config.getoption("--port") else "unix"
    return target


def pytest_report_header(config):
    target = _target(config)
    if target == "serial":
        return [f"board: serial {config.getoption('--port')} at {config.getoption('--baud')} baud"]
    return [f"board: unix port {micropython_path()} behind a pseudo-terminal"]


@pytest.fixture(scope="session")
def board(request, tmp_path_factory):
    config = request.config
    serial = serial_module()
    target = _target(config)
    fake = None
    if target == "serial":
        port = config.getoption("--port")
        if not port:
            pytest.fail("--target serial needs --port DEVICE")
        line = serial.Serial(port, config.getoption("--baud"), timeout=0.05)
        repl = RawRepl(line)
        scratch = config.getoption("--board-dir")
        host = config.getoption("--board-host")
    else:
        from fake_board import FakeBoard
        mpy = micropython_path()
        if mpy is None:
            pytest.fail(f"MicroPython unix port not found (MICROPYTHON or build/micropython): {SETUP_HINT}")
        work = tmp_path_factory.mktemp("board")
        fake = FakeBoard(mpy, workdir=str(work))
        line = serial.Serial(fake.device, timeout=0.05)
        repl = RawRepl(line, chunk=4096, chunk_delay=0)
        scratch = str(work)
        host = "127.0.0.1"
    repl.enter()
    b = Board(repl, target, scratch, host)
    b.fake = fake
    try:
        yield b
    finally:
        b.stop()
        try:
            repl.exit()
        finally:
            line.close()
            if fake is not None:
                fake.close()


@pytest.fixture(scope="session")
def rtsp_ports(request):
    return RtspPorts(_target(request.config), request.config.getoption("--rtsp-port"))


@pytest.fixture
def rtsp_port(rtsp_ports):
    return rtsp_ports.take()


@pytest.fixture(autouse=True)
def _board_idle_after_test(request):
    """A test that failed with a program still running leaves the board idle."""
    yield
    if "board" in request.fixturenames:
        request.getfixturevalue("board").stop()
