"""The serial transport (rawrepl.py) against a pseudo-terminal peer that
speaks the raw REPL and runs each command in the local unix port
(fake_board.py): what a board would answer, byte for byte on the line."""

import hashlib
import os
import time

import pytest

from board import Board, SETUP_HINT, micropython_path, serial_module
from fake_board import FakeBoard
from rawrepl import RawRepl, ReplError


@pytest.fixture
def peer(tmp_path):
    mpy = micropython_path()
    if mpy is None:
        pytest.fail(f"MicroPython unix port not found (MICROPYTHON or build/micropython): {SETUP_HINT}")
    with FakeBoard(mpy, workdir=str(tmp_path)) as fake:
        yield fake


@pytest.fixture
def repl(peer):
    serial = serial_module()
    line = serial.Serial(peer.device, 115200, timeout=0.05)
    r = RawRepl(line)  # the same chunking as for a real board
    r.enter()
    yield r
    line.close()


def test_a_command_returns_its_stdout(repl, peer):
    result = repl.exec("print(1 + 1)\nprint('two', 'words')")
    assert result.stdout == "2\ntwo words\n"
    assert result.stderr == ""
    assert peer.commands == ["print(1 + 1)\nprint('two', 'words')"]


def test_an_exception_arrives_in_the_second_part(repl):
    result = repl.exec("print('before')\nraise ValueError('bad value')")
    assert result.stdout == "before\n"
    assert "Traceback" in result.stderr and "ValueError: bad value" in result.stderr


def test_commands_in_a_row_keep_the_protocol_in_step(repl):
    for i in range(5):
        assert repl.exec(f"print({i} * 3)").stdout == f"{i * 3}\n"
    assert "NameError" in repl.exec("undefined_name").stderr
    assert repl.exec("print('after the error')").stdout == "after the error\n"


def test_long_code_and_long_output_arrive_whole(repl):
    payload = bytes(range(256)) * 80  # 20 KB, every byte value
    code = (f"data = {payload!r}\n"
            "import hashlib, binascii\n"
            "print(len(data), binascii.hexlify(hashlib.sha256(data).digest()).decode())\n"
            "for i in range(3000):\n"
            "    print('line %05d ' % i + 'x' * 60)\n")
    result = repl.exec(code, timeout=60)
    lines = result.stdout.splitlines()
    assert lines[0] == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}"
    assert lines[1:] == ["line %05d " % i + "x" * 60 for i in range(3000)]
    assert result.stderr == ""


def test_output_is_seen_while_the_program_runs(repl):
    started = time.monotonic()
    repl.start("import time\nprint('READY')\ntime.sleep(1.5)\nprint('DONE')")
    assert repl.wait_line("READY", 10) == "READY"
    seen = time.monotonic() - started
    assert seen < 1.4, f"READY came {seen:.2f} s after the start: not streamed"
    result = repl.finish(10)
    assert result.stdout == "READY\nDONE\n"


def test_wait_line_fails_when_the_program_ends_without_it(repl):
    repl.start("print('something else')")
    with pytest.raises(ReplError, match="ended without"):
        repl.wait_line("URL ", 10)
    assert repl.finish(10).stdout == "something else\n"
    assert repl.exec("print('ok')").stdout == "ok\n"


def test_ctrl_c_interrupts_a_running_program(repl, peer):
    repl.start("print('looping')\nwhile True:\n    pass")
    assert repl.wait_line("looping", 10) == "looping"
    result = repl.interrupt(10)
    assert "KeyboardInterrupt" in result.stderr
    assert peer.interrupts == 1
    assert repl.exec("print('alive')").stdout == "alive\n"


def test_a_program_past_its_timeout_is_interrupted(repl, peer):
    started = time.monotonic()
    with pytest.raises(ReplError, match="still running"):
        repl.exec("import time\nwhile True:\n    time.sleep(0.01)", timeout=1)
    assert time.monotonic() - started < 8
    assert peer.interrupts == 1
    assert repl.exec("print('next')").stdout == "next\n"


def test_soft_reset_comes_back_to_the_raw_repl(repl, peer):
    repl.soft_reset()
    assert peer.soft_resets == 1
    assert repl.exec("print('after reset')").stdout == "after reset\n"


def test_entering_twice_and_leaving(repl, peer):
    repl.exit()
    repl.enter()
    assert repl.exec("print(7)").stdout == "7\n"


def test_code_with_ctrl_d_is_refused(repl):
    with pytest.raises(ValueError):
        repl.start("print('\x04')")


def test_a_silent_line_is_a_clear_error(tmp_path):
    """Nothing answers: the transport says so instead of hanging."""
    serial = serial_module()
    master, slave = os.openpty()
    try:
        line = serial.Serial(os.ttyname(slave), timeout=0.05)
        started = time.monotonic()
        with pytest.raises(ReplError, match="raw REPL banner"):
            RawRepl(line).enter(timeout=1)
        assert time.monotonic() - started < 5
        line.close()
    finally:
        os.close(master)
        os.close(slave)


def test_put_file_writes_the_bytes(repl, tmp_path):
    data = os.urandom(5000) + b"\x00\x04\r\n" * 10
    board = Board(repl, "unix", str(tmp_path))
    path = board.put_file("blob.bin", data)
    assert (tmp_path / "blob.bin").read_bytes() == data
    out = board.check(f"import hashlib, binascii\n"
                      f"print(binascii.hexlify(hashlib.sha256(open({path!r}, 'rb').read()).digest()).decode())")
    assert out.strip() == hashlib.sha256(data).hexdigest()
