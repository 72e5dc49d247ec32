"""The Python API (shared API.md), call by call and error row by error row, in
the real MicroPython unix port.

Each test runs a MicroPython snippet whose `attempt(label, f, *args)` prints
either `label RET <repr>` or `label EXC <ExceptionName> <errno>`; the test
asserts on those lines. Every snippet ends by printing END-OF-SCRIPT, and the
interpreter must exit with code 0: no call may crash it.
"""

import errno
import random
import re

import pytest

import helpers
# the snippet runner (PRELUDE's attempt(), the outcomes) is shared with other suites
from helpers import API_END as END, API_PRELUDE as PRELUDE, run_api as api


URL_RE = re.compile(r"^rtsp://(\d+\.\d+\.\d+\.\d+)(?::(\d+))?/(.+)$")


# --- names ----------------------------------------------------------------------

def test_media_type_constants():
    r = api('''
attempt("h264", lambda: mm.multi_media_type.media_h264)
attempt("h265", lambda: mm.multi_media_type.media_h265)
attempt("mjpeg", lambda: mm.multi_media_type.media_mjpeg)
''')
    r.returns("h264", 0)
    r.returns("h265", 1)
    r.returns("mjpeg", 2)


def test_rtspserver_test_hello_world():
    r = api('''
attempt("method", mm.rtsp_server().rtspserver_test)
attempt("module", mm.rtspserver_test)
''')
    r.returns("method", "hello world")
    r.returns("module", "hello world")


def test_every_documented_name_exists():
    names = ["rtspserver_create", "rtspserver_destroy", "rtspserver_init", "rtspserver_deinit",
             "rtspserver_createsession", "rtspserver_destroysession", "rtspserver_getrtspurl",
             "rtspserver_start", "rtspserver_stop", "rtspserver_sendvideodata",
             "rtspserver_sendaudiodata", "rtspserver_sendvideodata_byphyaddr",
             "rtspserver_test", "rtspserver_getstats", "rtspserver_recvaudiodata"]
    r = api(f'''
s = mm.rtsp_server()
for n in {names!r}:
    attempt("method_" + n, lambda: callable(getattr(s, n)))
    attempt("module_" + n, lambda: callable(getattr(mm, n)))
''')
    for n in names:
        r.returns("method_" + n, True)
        r.returns("module_" + n, True)


# --- create / destroy / init / deinit ---------------------------------------------

def test_create_and_destroy_on_an_object(port):
    r = api(f'''
s = mm.rtsp_server()
attempt("create", s.rtspserver_create)
attempt("destroy_fresh", s.rtspserver_destroy)
s = mm.rtsp_server()
attempt("init", s.rtspserver_init, {port})
attempt("session", s.rtspserver_createsession, "cam", 0, False)
attempt("start", s.rtspserver_start)
attempt("send", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 0)
attempt("destroy_running", s.rtspserver_destroy)
s2 = mm.rtsp_server()
attempt("init_after_destroy", s2.rtspserver_init, {port})
s2.rtspserver_destroy()
''')
    r.returns("create", 0)
    r.returns("destroy_fresh", 0)
    r.returns("init", 0)
    r.returns("session", 0)
    r.returns("start", None)
    r.returns("send", 0)
    r.returns("destroy_running", 0)
    r.returns("init_after_destroy", 0)  # destroy closed the listener


def test_init_port_range_and_types(port):
    r = api(f'''
s = mm.rtsp_server()
attempt("port_0", s.rtspserver_init, 0)
attempt("port_65536", s.rtspserver_init, 65536)
attempt("port_minus_1", s.rtspserver_init, -1)
attempt("port_str", s.rtspserver_init, "{port}")
attempt("port_none", s.rtspserver_init, None)
attempt("port_float", s.rtspserver_init, 8554.5)
attempt("port_ok", s.rtspserver_init, {port})
attempt("again", s.rtspserver_init, {port})
s.rtspserver_destroy()
''')
    for label in ("port_0", "port_65536", "port_minus_1"):
        r.raises(label, "ValueError")
    for label in ("port_str", "port_none", "port_float"):
        r.raises(label, "TypeError")
    r.returns("port_ok", 0)
    r.negative_errno("again")  # already listening: not a silent success


def test_init_port_in_use_gives_negative_errno(port):
    r = api(f'''
a = mm.rtsp_server()
b = mm.rtsp_server()
attempt("first", a.rtspserver_init, {port})
attempt("second", b.rtspserver_init, {port})
a.rtspserver_destroy()
attempt("after_free", b.rtspserver_init, {port})
b.rtspserver_destroy()
''')
    r.returns("first", 0)
    r.negative_errno("second", errno.EADDRINUSE)
    r.returns("after_free", 0)


def test_init_port_held_by_another_process(port):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", port))
        holder.listen(1)
        r = api(f'''
attempt("init", mm.rtsp_server().rtspserver_init, {port})
''')
    r.negative_errno("init", errno.EADDRINUSE)


def test_deinit_then_init_again(port):
    r = api(f'''
s = mm.rtsp_server()
attempt("deinit_fresh", s.rtspserver_deinit)
attempt("init", s.rtspserver_init, {port})
attempt("session", s.rtspserver_createsession, "cam", 0, False)
attempt("start", s.rtspserver_start)
attempt("deinit", s.rtspserver_deinit)
attempt("deinit_again", s.rtspserver_deinit)
attempt("url_after_deinit", s.rtspserver_getrtspurl, "cam")
attempt("send_after_deinit", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 0)
attempt("init2", s.rtspserver_init, {port})
attempt("session2", s.rtspserver_createsession, "cam", 0, False)
attempt("start2", s.rtspserver_start)
attempt("send2", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 0)
attempt("url2", s.rtspserver_getrtspurl, "cam")
attempt("destroy", s.rtspserver_destroy)
''')
    r.returns("deinit_fresh", None)
    r.returns("init", 0)
    r.returns("session", 0)
    r.returns("deinit", None)
    r.returns("deinit_again", None)
    r.raises("url_after_deinit", "ValueError")  # deinit frees every session
    r.negative_errno("send_after_deinit")
    r.returns("init2", 0)
    r.returns("session2", 0)
    r.returns("start2", None)
    r.returns("send2", 0)
    assert r.ret("url2").endswith(f":{port}/cam")
    r.returns("destroy", 0)


# --- sessions --------------------------------------------------------------------------

def test_createsession_types_and_values(port):
    r = api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
attempt("int_h264", s.rtspserver_createsession, "a", 0, False)
attempt("str_h264", s.rtspserver_createsession, "b", "h264", False)
attempt("str_h265", s.rtspserver_createsession, "c", "h265", False)
attempt("str_mjpeg", s.rtspserver_createsession, "d", "mjpeg", False)
attempt("const_h265", s.rtspserver_createsession, "e", mm.multi_media_type.media_h265, True)
attempt("type_3", s.rtspserver_createsession, "f", 3, False)
attempt("type_minus_1", s.rtspserver_createsession, "g", -1, False)
attempt("type_vp8", s.rtspserver_createsession, "h", "vp8", False)
attempt("type_none", s.rtspserver_createsession, "i", None, False)
attempt("type_float", s.rtspserver_createsession, "j", 0.0, False)
attempt("type_list", s.rtspserver_createsession, "k", [0], False)
attempt("name_int", s.rtspserver_createsession, 5, 0, False)
attempt("name_none", s.rtspserver_createsession, None, 0, False)
attempt("name_empty", s.rtspserver_createsession, "", 0, False)
attempt("name_space", s.rtspserver_createsession, "a b", 0, False)
attempt("url_f", s.rtspserver_getrtspurl, "f")
s.rtspserver_destroy()
''')
    r.returns("int_h264", 0)
    r.returns("str_h264", 0)
    for label in ("str_h265", "str_mjpeg", "const_h265"):
        r.returns(label, 0)
    for label in ("type_3", "type_minus_1", "type_vp8"):
        r.raises(label, "ValueError")
    for label in ("type_none", "type_float", "type_list", "name_int", "name_none"):
        r.raises(label, "TypeError")
    for label in ("name_empty", "name_space"):  # not a usable URL path: refused either way
        got = r[label]
        assert got[0] == "EXC" and got[1] == "ValueError" or got[0] == "RET" and got[1] < 0, got
    r.raises("url_f", "ValueError")  # the refused session does not exist


def test_createsession_existing_name_is_left_unchanged(port, tmp_path):
    """Same name again (as MJPEG): 0, and the session still describes itself as H.264."""
    stop = tmp_path / "stop"
    proc = helpers.Background([helpers.micropython(), "-c", PRELUDE + f'''
s = mm.rtsp_server()
attempt("init", s.rtspserver_init, {port})
attempt("first", s.rtspserver_createsession, "cam", 0, False)
attempt("again", s.rtspserver_createsession, "cam", 2, False)
s.rtspserver_start()
print("READY")
deadline = time.ticks_add(time.ticks_ms(), 15000)
import os
while time.ticks_diff(deadline, time.ticks_ms()) > 0:
    try:
        os.stat({str(stop)!r})
        break
    except OSError:
        time.sleep_ms(20)
s.rtspserver_destroy()
print({END!r})
'''], "micropython")
    try:
        proc.wait_line("READY", 15)
        status, _, sdp = helpers.rtsp_request(port, "DESCRIBE", "cam", {"Accept": "application/sdp"})
    finally:
        stop.touch()
        code = proc.wait(15)
        proc.stop()
    assert code == 0 and END in proc.stdout, proc.stdout + proc.stderr
    assert "first RET 0" in proc.lines and "again RET 0" in proc.lines, proc.stdout
    assert status == 200
    assert re.search(r"^a=rtpmap:\d+ H264/90000", sdp, re.M), sdp
    assert "JPEG" not in sdp and not re.search(r"^m=video \d+ RTP/AVP 26\b", sdp, re.M), sdp


def test_createsession_audio_codec_keyword(port):
    """audio_codec: keyword-only, "pcmu" or "pcma" (case-sensitive like the video
    type names); other strings ValueError, other types TypeError, checked even
    when audio is off; on the object and the module-level function alike."""
    module_port = helpers.free_port()
    r = api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
def kw(label, name, enable_audio, codec):
    attempt(label, lambda: s.rtspserver_createsession(name, 0, enable_audio, audio_codec=codec))
kw("pcmu", "a", True, "pcmu")
kw("pcma", "b", True, "pcma")
kw("pcma_h265", "b265", True, "pcma")
kw("off_pcma", "c", False, "pcma")
kw("upper", "d", True, "PCMA")
kw("g711", "e", True, "g711")
kw("empty", "f", True, "")
kw("int", "g", True, 8)
kw("none", "h", True, None)
kw("bytes", "i", True, b"pcma")
kw("off_bogus", "j", False, "bogus")
kw("off_int", "k", False, 2)
attempt("positional", s.rtspserver_createsession, "l", 0, True, "pcma")
attempt("unknown_kw", lambda: s.rtspserver_createsession("m", 0, True, codec="pcma"))
attempt("too_few", lambda: s.rtspserver_createsession("n", 0, audio_codec="pcma"))
ulaw = bytes(range(160))
attempt("send_a", s.rtspserver_sendaudiodata, "a", ulaw, len(ulaw), 0)
attempt("send_b", s.rtspserver_sendaudiodata, "b", ulaw, len(ulaw), 0)
attempt("send_c", s.rtspserver_sendaudiodata, "c", ulaw, len(ulaw), 0)
attempt("url_upper", s.rtspserver_getrtspurl, "d")
s.rtspserver_destroy()
attempt("m_create", mm.rtspserver_create)
attempt("m_init", mm.rtspserver_init, {module_port})
attempt("m_pcma", lambda: mm.rtspserver_createsession("cam", "h264", True, audio_codec="pcma"))
attempt("m_upper", lambda: mm.rtspserver_createsession("cam2", "h264", True, audio_codec="Pcmu"))
attempt("m_int", lambda: mm.rtspserver_createsession("cam3", "h264", True, audio_codec=1))
attempt("m_send", mm.rtspserver_sendaudiodata, "cam", ulaw, len(ulaw), 0)
attempt("m_destroy", mm.rtspserver_destroy)
''')
    for label in ("pcmu", "pcma", "pcma_h265", "off_pcma", "m_create", "m_init", "m_pcma",
                  "m_destroy"):
        r.returns(label, 0)
    for label in ("upper", "g711", "empty", "off_bogus", "m_upper"):
        r.raises(label, "ValueError")
    for label in ("int", "none", "bytes", "off_int", "positional", "unknown_kw", "too_few",
                  "m_int"):
        r.raises(label, "TypeError")
    r.raises("url_upper", "ValueError")  # the refused session was not created
    r.returns("send_a", 0)
    r.returns("send_b", 0)
    r.returns("m_send", 0)
    r.negative_errno("send_c")  # enable_audio False: no audio track, whatever the codec


def test_createsession_audio_codec_in_the_sdp(port, tmp_path):
    """DESCRIBE shows what the keyword chose: PCMU (payload type 0) by default and
    for "pcmu", PCMA (payload type 8) for "pcma", no audio track at all when
    enable_audio is False."""
    stop = tmp_path / "stop"
    proc = helpers.Background([helpers.micropython(), "-c", PRELUDE + f'''
s = mm.rtsp_server()
attempt("init", s.rtspserver_init, {port})
attempt("default", s.rtspserver_createsession, "default", 0, True)
attempt("mu", lambda: s.rtspserver_createsession("mu", 0, True, audio_codec="pcmu"))
attempt("a", lambda: s.rtspserver_createsession("a", 0, True, audio_codec="pcma"))
attempt("off", lambda: s.rtspserver_createsession("off", 0, False, audio_codec="pcma"))
s.rtspserver_start()
print("READY")
deadline = time.ticks_add(time.ticks_ms(), 15000)
import os
while time.ticks_diff(deadline, time.ticks_ms()) > 0:
    try:
        os.stat({str(stop)!r})
        break
    except OSError:
        time.sleep_ms(20)
s.rtspserver_destroy()
print({END!r})
'''], "micropython")
    sdps = {}
    try:
        proc.wait_line("READY", 15)
        for name in ("default", "mu", "a", "off"):
            status, _, sdp = helpers.rtsp_request(port, "DESCRIBE", name,
                                                  {"Accept": "application/sdp"})
            assert status == 200, (name, status)
            sdps[name] = sdp
    finally:
        stop.touch()
        code = proc.wait(15)
        proc.stop()
    assert code == 0 and END in proc.stdout, proc.stdout + proc.stderr
    for label in ("init", "default", "mu", "a", "off"):
        assert f"{label} RET 0" in proc.lines, proc.stdout
    for name in ("default", "mu"):
        assert re.search(r"^m=audio 0 RTP/AVP 0\s*$", sdps[name], re.M), sdps[name]
        assert re.search(r"^a=rtpmap:0 PCMU/8000", sdps[name], re.M), sdps[name]
    assert re.search(r"^m=audio 0 RTP/AVP 8\s*$", sdps["a"], re.M), sdps["a"]
    assert re.search(r"^a=rtpmap:8 PCMA/8000", sdps["a"], re.M), sdps["a"]
    assert "PCMU" not in sdps["a"], sdps["a"]
    assert "m=audio" not in sdps["off"], sdps["off"]
    for sdp in sdps.values():
        assert len(re.findall(r"^m=video ", sdp, re.M)) == 1, sdp


def test_createsession_backchannel_keywords(port):
    """backchannel (any truth value) and backchannel_codec ("pcmu" or "pcma",
    case-sensitive; another string ValueError, another type TypeError, the
    message naming backchannel_codec), checked even when backchannel is false;
    keyword-only; an existing name is left as it was, back channel included
    (recvaudiodata tells: -EINVAL without one, 0 with one); on the object and
    the module-level function alike."""
    module_port = helpers.free_port()
    r = api(f'''
def message(f):
    try:
        f()
    except Exception as e:
        return type(e).__name__ + ": " + str(e)
s = mm.rtsp_server()
s.rtspserver_init({port})
def bc(label, name, backchannel, codec):
    attempt(label, lambda: s.rtspserver_createsession(name, 0, False, backchannel=backchannel,
                                                      backchannel_codec=codec))
def recv(label, name):
    attempt(label, s.rtspserver_recvaudiodata, name, bytearray(16))
bc("pcmu", "a", True, "pcmu")
bc("pcma", "b", True, "pcma")
bc("off_pcma", "c", False, "pcma")
bc("upper", "d", True, "PCMU")
bc("g711", "e", True, "g711")
bc("empty", "f", True, "")
bc("off_upper", "g", False, "PCMA")
bc("int", "h", True, 0)
bc("none", "i", True, None)
bc("bytes", "j", True, b"pcmu")
bc("off_int", "k", False, 8)
attempt("upper_msg", lambda: message(lambda: s.rtspserver_createsession("d", 0, False, backchannel=True,
                                                                         backchannel_codec="PCMU")))
attempt("int_msg", lambda: message(lambda: s.rtspserver_createsession("h", 0, False, backchannel_codec=0)))
attempt("default_codec", lambda: s.rtspserver_createsession("l", 0, True, backchannel=True))
for label, value in (("truth_1", 1), ("truth_str", "yes"), ("truth_list", [0]), ("false_0", 0),
                     ("false_empty", ""), ("false_none", None)):
    attempt(label, lambda: s.rtspserver_createsession(label, "h264", False, backchannel=value))
attempt("with_audio_pcma", lambda: s.rtspserver_createsession("m", 2, True, audio_codec="pcma",
                                                              gop_cache=False, backchannel=True,
                                                              backchannel_codec="pcmu"))
attempt("positional", s.rtspserver_createsession, "n", 0, False, True)
attempt("unknown_kw", lambda: s.rtspserver_createsession("n", 0, False, back_channel=True))
for name in ("a", "b", "l", "m", "truth_1", "truth_str", "truth_list"):
    recv("recv_" + name, name)
for name in ("c", "false_0", "false_empty", "false_none"):
    recv("recv_" + name, name)
for name in ("d", "e", "f", "g", "h", "i", "j", "k", "n"):  # refused: never made
    recv("recv_refused_" + name, name)
# an existing name: 0, left unchanged, its back channel (or none) included
attempt("plain", s.rtspserver_createsession, "plain", 0, False)
attempt("plain_again_bc", lambda: s.rtspserver_createsession("plain", 0, False, backchannel=True))
recv("recv_plain", "plain")
attempt("talk_again_off", lambda: s.rtspserver_createsession("a", 0, False, backchannel=False))
recv("recv_a_again", "a")
attempt("bad_codec_existing", lambda: s.rtspserver_createsession("plain", 0, False, backchannel=True,
                                                                  backchannel_codec="PCMA"))
s.rtspserver_destroy()
attempt("m_create", mm.rtspserver_create)
attempt("m_init", mm.rtspserver_init, {module_port})
attempt("m_bc", lambda: mm.rtspserver_createsession("cam", "h264", True, backchannel=True, backchannel_codec="pcma"))
attempt("m_upper", lambda: mm.rtspserver_createsession("cam2", "h264", True, backchannel_codec="Pcma"))
attempt("m_int", lambda: mm.rtspserver_createsession("cam3", "h264", True, backchannel_codec=1))
attempt("m_recv", mm.rtspserver_recvaudiodata, "cam", bytearray(16))
attempt("m_destroy", mm.rtspserver_destroy)
''')
    for label in ("pcmu", "pcma", "off_pcma", "default_codec", "truth_1", "truth_str", "truth_list",
                  "false_0", "false_empty", "false_none", "with_audio_pcma", "plain",
                  "plain_again_bc", "talk_again_off", "m_create", "m_init", "m_bc", "m_destroy"):
        r.returns(label, 0)
    for label in ("upper", "g711", "empty", "off_upper", "bad_codec_existing", "m_upper"):
        r.raises(label, "ValueError")
    for label in ("int", "none", "bytes", "off_int", "positional", "unknown_kw", "m_int"):
        r.raises(label, "TypeError")
    assert r.ret("upper_msg").startswith("ValueError: ") and "backchannel_codec" in r.ret("upper_msg"), r["upper_msg"]
    assert r.ret("int_msg").startswith("TypeError: ") and "backchannel_codec" in r.ret("int_msg"), r["int_msg"]
    for name in ("a", "b", "l", "m", "truth_1", "truth_str", "truth_list"):
        r.returns("recv_" + name, 0)  # a back channel, nothing heard yet
    for name in ("c", "false_0", "false_empty", "false_none"):
        r.negative_errno("recv_" + name, errno.EINVAL)  # made without one
    for name in ("d", "e", "f", "g", "h", "i", "j", "k", "n"):
        r.negative_errno("recv_refused_" + name, errno.ENOENT)  # a refused call made nothing
    r.negative_errno("recv_plain", errno.EINVAL)  # the second createsession added none
    r.returns("recv_a_again", 0)  # nor took one away
    r.returns("m_recv", 0)


def test_destroysession(port):
    r = api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("cam", 0, False)
attempt("unknown", s.rtspserver_destroysession, "nope")
attempt("name_int", s.rtspserver_destroysession, 1)
attempt("existing", s.rtspserver_destroysession, "cam")
attempt("twice", s.rtspserver_destroysession, "cam")
attempt("send_after", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 0)
attempt("recreate", s.rtspserver_createsession, "cam", 0, False)
s.rtspserver_destroy()
s2 = mm.rtsp_server()
attempt("uninitialised", s2.rtspserver_destroysession, "cam")
''')
    r.negative_errno("unknown", errno.ENOENT)
    r.raises("name_int", "TypeError")
    r.returns("existing", 0)
    r.negative_errno("twice", errno.ENOENT)
    r.negative_errno("send_after")
    r.returns("recreate", 0)
    r.negative_errno("uninitialised")


# --- URLs ----------------------------------------------------------------------------

def test_getrtspurl_format(port):
    r = api(f'''
s = mm.rtsp_server()
attempt("no_port_yet", s.rtspserver_getrtspurl, "cam")
s.rtspserver_init({port})
attempt("no_session_yet", s.rtspserver_getrtspurl)
s.rtspserver_createsession("first", 0, False)
s.rtspserver_createsession("second", "h264", False)
attempt("first", s.rtspserver_getrtspurl, "first")
attempt("second", s.rtspserver_getrtspurl, "second")
attempt("default", s.rtspserver_getrtspurl)
attempt("unknown", s.rtspserver_getrtspurl, "third")
attempt("name_int", s.rtspserver_getrtspurl, 3)
s.rtspserver_destroy()
''')
    urls = {}
    for label in ("first", "second"):
        url = r.ret(label)
        m = URL_RE.match(url)
        assert m, f"{url!r} is not rtsp://<ip>:<port>/<name>"
        ip, url_port, name = m.groups()
        assert url_port == str(port) and name == label, url
        urls[label] = url
        local = helpers.local_ipv4_addresses()
        assert ip in local, f"{ip} is not one of this machine's addresses {local}"
        if local <= {"127.0.0.1"}:
            assert ip == "127.0.0.1"
    r.returns("default", urls["first"])  # no name: the first session
    r.raises("unknown", "ValueError")
    r.raises("name_int", "TypeError")
    for label in ("no_port_yet", "no_session_yet"):  # no URL to give: an error, not a crash
        assert r[label][0] == "EXC", r[label]


def test_getrtspurl_omits_port_554():
    r = api('''
s = mm.rtsp_server()
attempt("init", s.rtspserver_init, 554)
s.rtspserver_createsession("cam", 0, False)
attempt("url", s.rtspserver_getrtspurl, "cam")
s.rtspserver_destroy()
''')
    got = r.ret("init")
    if got != 0:
        pytest.skip(f"binding port 554 failed here ({got}): the ':554 left out' check did not run")
    m = URL_RE.match(r.ret("url"))
    assert m and m.group(2) is None and m.group(3) == "cam", r.ret("url")


# --- start / stop ------------------------------------------------------------------------

def test_start_and_stop_states(port):
    r = api(f'''
s = mm.rtsp_server()
attempt("stop_fresh", s.rtspserver_stop)
attempt("start_before_init", s.rtspserver_start)
s.rtspserver_init({port})
attempt("start", s.rtspserver_start)
attempt("start_again", s.rtspserver_start)
attempt("stop", s.rtspserver_stop)
attempt("stop_again", s.rtspserver_stop)
attempt("restart", s.rtspserver_start)
s.rtspserver_deinit()
attempt("start_after_deinit", s.rtspserver_start)
attempt("stop_after_deinit", s.rtspserver_stop)
s.rtspserver_destroy()
''')
    r.returns("stop_fresh", None)
    r.raises("start_before_init", "OSError")
    r.returns("start", None)
    r.returns("start_again", None)
    r.returns("stop", None)
    r.returns("stop_again", None)
    r.returns("restart", None)
    r.raises("start_after_deinit", "OSError")
    r.returns("stop_after_deinit", None)


# --- sending ------------------------------------------------------------------------------

def test_sendvideodata_buffer_types_and_size(port):
    r = api(f'''
import uctypes
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("cam", 0, False)
s.rtspserver_start()
ts = 0
def send(label, data, size):
    global ts
    ts += 33333
    attempt(label, s.rtspserver_sendvideodata, "cam", data, size, ts)
send("bytes", AUD, len(AUD))
send("bytearray", bytearray(AUD), len(AUD))
send("memoryview", memoryview(AUD), len(AUD))
send("memoryview_slice", memoryview(b"xx" + AUD)[2:], len(AUD))
send("str", "\\x00\\x00\\x00\\x01\\x09\\x10", 6)
buf = bytearray(AUD)
send("bytearray_at", uctypes.bytearray_at(uctypes.addressof(buf), len(buf)), len(buf))
send("size_prefix", AUD + b"junk", len(AUD))
send("size_0", AUD, 0)
send("size_over", AUD, len(AUD) + 1)
send("size_negative", AUD, -1)
send("size_str", AUD, "6")
send("data_int", 12345, 4)
send("data_none", None, 0)
send("data_list", [0, 0, 1], 3)
attempt("name_int", s.rtspserver_sendvideodata, 7, AUD, len(AUD), 0)
attempt("ts_str", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), "0")
attempt("ts_none", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), None)
attempt("const_ts", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 1000)
attempt("const_ts_again", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 1000)
attempt("unknown_session", s.rtspserver_sendvideodata, "nope", AUD, len(AUD), 0)
s.rtspserver_stop()
attempt("stopped", s.rtspserver_sendvideodata, "cam", AUD, len(AUD), 2000000)
s.rtspserver_destroy()
s2 = mm.rtsp_server()
attempt("uninitialised", s2.rtspserver_sendvideodata, "cam", AUD, len(AUD), 0)
''')
    for label in ("bytes", "bytearray", "memoryview", "memoryview_slice", "str", "bytearray_at",
                  "size_prefix", "const_ts", "const_ts_again", "stopped"):
        r.returns(label, 0)
    assert isinstance(r.ret("size_0"), int)  # allowed size; nothing to send
    r.raises("size_over", "ValueError")
    r.raises("size_negative", "ValueError")
    for label in ("size_str", "data_int", "data_none", "data_list", "name_int", "ts_str", "ts_none"):
        r.raises(label, "TypeError")
    r.negative_errno("unknown_session", errno.ENOENT)
    r.negative_errno("uninitialised")


def test_sendaudiodata(port):
    r = api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("video_only", 0, False)
s.rtspserver_createsession("with_audio", 0, True)
s.rtspserver_start()
ulaw = bytes([0xff]) * 160
attempt("no_audio", s.rtspserver_sendaudiodata, "video_only", ulaw, len(ulaw), 0)
attempt("unknown", s.rtspserver_sendaudiodata, "nope", ulaw, len(ulaw), 0)
attempt("with_audio", s.rtspserver_sendaudiodata, "with_audio", ulaw, len(ulaw), 0)
attempt("size_over", s.rtspserver_sendaudiodata, "with_audio", ulaw, 161, 0)
attempt("size_negative", s.rtspserver_sendaudiodata, "with_audio", ulaw, -1, 0)
attempt("data_int", s.rtspserver_sendaudiodata, "with_audio", 5, 1, 0)
attempt("name_int", s.rtspserver_sendaudiodata, 5, ulaw, len(ulaw), 0)
s.rtspserver_destroy()
''')
    r.negative_errno("no_audio")
    r.negative_errno("unknown", errno.ENOENT)
    r.returns("with_audio", 0)
    r.raises("size_over", "ValueError")
    r.raises("size_negative", "ValueError")
    r.raises("data_int", "TypeError")
    r.raises("name_int", "TypeError")


# --- the back channel: recvaudiodata ------------------------------------------------------

def test_recvaudiodata_argument_rows(port):
    """name: a str (else TypeError); buf: a writable buffer (bytearray, memoryview
    of one, array, uctypes.bytearray_at), else TypeError (bytes, str, a memoryview
    of bytes, None, an int, a list); exactly two positional arguments; an unknown
    name -ENOENT, a session without back channel -EINVAL, an empty buffer 0."""
    r = api(f'''
import array, uctypes
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("door", 0, True, backchannel=True)
s.rtspserver_createsession("plain", 0, True)
s.rtspserver_start()
raw = bytearray(8)
for label, buf in (("bytearray", bytearray(160)), ("memoryview", memoryview(bytearray(160))),
                   ("memoryview_slice", memoryview(bytearray(160))[10:20]),
                   ("array_b", array.array("B", [0] * 16)), ("array_h", array.array("h", [0] * 16)),
                   ("bytearray_at", uctypes.bytearray_at(uctypes.addressof(raw), len(raw))),
                   ("empty", bytearray()), ("empty_slice", memoryview(bytearray(4))[2:2]),
                   ("bytes", b"1234"), ("empty_bytes", b""), ("str", "1234"),
                   ("memoryview_of_bytes", memoryview(b"1234")), ("none", None), ("int", 160),
                   ("list", [0] * 4), ("tuple", (0, 0))):
    attempt("buf_" + label, s.rtspserver_recvaudiodata, "door", buf)
attempt("name_bytes", s.rtspserver_recvaudiodata, b"door", bytearray(4))
attempt("name_int", s.rtspserver_recvaudiodata, 1, bytearray(4))
attempt("name_none", s.rtspserver_recvaudiodata, None, bytearray(4))
attempt("name_bad_buf_bad", s.rtspserver_recvaudiodata, 1, b"")
attempt("unknown", s.rtspserver_recvaudiodata, "nope", bytearray(4))
attempt("unknown_bad_buf", s.rtspserver_recvaudiodata, "nope", b"1234")
attempt("name_empty", s.rtspserver_recvaudiodata, "", bytearray(4))
attempt("name_long", s.rtspserver_recvaudiodata, "x" * 300, bytearray(4))
attempt("no_backchannel", s.rtspserver_recvaudiodata, "plain", bytearray(4))
attempt("no_backchannel_empty", s.rtspserver_recvaudiodata, "plain", bytearray())
attempt("no_args", lambda: s.rtspserver_recvaudiodata())
attempt("one_arg", lambda: s.rtspserver_recvaudiodata("door"))
attempt("three_args", lambda: s.rtspserver_recvaudiodata("door", bytearray(4), 4))
attempt("keyword", lambda: s.rtspserver_recvaudiodata("door", buf=bytearray(4)))
attempt("m_one_arg", lambda: mm.rtspserver_recvaudiodata("door"))
attempt("m_three_args", lambda: mm.rtspserver_recvaudiodata("door", bytearray(4), 4))
attempt("m_bytes", lambda: mm.rtspserver_recvaudiodata("door", b"1234"))
attempt("m_name_int", lambda: mm.rtspserver_recvaudiodata(3, bytearray(4)))
attempt("stats", s.rtspserver_getstats, "door")
attempt("alive", s.rtspserver_sendaudiodata, "door", b"\\xff" * 160, 160, 0)
s.rtspserver_destroy()
''')
    for label in ("bytearray", "memoryview", "memoryview_slice", "array_b", "array_h", "bytearray_at",
                  "empty", "empty_slice"):
        r.returns("buf_" + label, 0)  # nobody talks yet: nothing to copy
    for label in ("bytes", "empty_bytes", "str", "memoryview_of_bytes", "none", "int", "list", "tuple"):
        r.raises("buf_" + label, "TypeError")
    for label in ("name_bytes", "name_int", "name_none", "name_bad_buf_bad", "unknown_bad_buf",
                  "no_args", "one_arg", "three_args", "keyword", "m_one_arg", "m_three_args",
                  "m_bytes", "m_name_int"):
        r.raises(label, "TypeError")  # the arguments are checked before the server is asked
    for label in ("unknown", "name_empty", "name_long"):
        r.negative_errno(label, errno.ENOENT)
    r.negative_errno("no_backchannel", errno.EINVAL)
    r.negative_errno("no_backchannel_empty", errno.EINVAL)  # the session is checked even for 0 bytes
    stats = r.ret("stats")
    assert (stats["backchannel_bytes"], stats["backchannel_dropped"], stats["backchannel_client"]) == (0, 0, None)
    r.returns("alive", 0)


def test_recvaudiodata_in_every_state(port):
    """The session decides, not the server's state: 0 for a back-channel session
    made before init, after init, started, stopped; -ENOENT once destroysession
    or deinit freed it; after rtspserver_destroy() the negative errno the other
    calls give (-ENODEV), on an object and on the module's default server (also
    before mm.rtspserver_create())."""
    module_port = helpers.free_port()
    r = api(f'''
buf = bytearray(160)
s = mm.rtsp_server()
attempt("fresh", s.rtspserver_recvaudiodata, "door", buf)
attempt("session_before_init", lambda: s.rtspserver_createsession("door", 0, False, backchannel=True))
attempt("before_init", s.rtspserver_recvaudiodata, "door", buf)
attempt("init", s.rtspserver_init, {port})
attempt("before_start", s.rtspserver_recvaudiodata, "door", buf)
s.rtspserver_start()
attempt("started", s.rtspserver_recvaudiodata, "door", buf)
s.rtspserver_stop()
attempt("stopped", s.rtspserver_recvaudiodata, "door", buf)
attempt("destroysession", s.rtspserver_destroysession, "door")
attempt("after_destroysession", s.rtspserver_recvaudiodata, "door", buf)
attempt("again", lambda: s.rtspserver_createsession("door", 0, False, backchannel=True))
attempt("recreated", s.rtspserver_recvaudiodata, "door", buf)
s.rtspserver_start()
s.rtspserver_deinit()
attempt("after_deinit", s.rtspserver_recvaudiodata, "door", buf)
attempt("send_after_deinit", s.rtspserver_sendaudiodata, "door", buf, 160, 0)
attempt("destroy", s.rtspserver_destroy)
attempt("after_destroy", s.rtspserver_recvaudiodata, "door", buf)
attempt("send_after_destroy", s.rtspserver_sendaudiodata, "door", buf, 160, 0)
attempt("destroysession_after_destroy", s.rtspserver_destroysession, "door")
attempt("bad_buf_after_destroy", s.rtspserver_recvaudiodata, "door", b"")
attempt("m_before_create", mm.rtspserver_recvaudiodata, "door", buf)
attempt("m_send_before_create", mm.rtspserver_sendaudiodata, "door", buf, 160, 0)
attempt("m_create", mm.rtspserver_create)
attempt("m_unknown", mm.rtspserver_recvaudiodata, "door", buf)
attempt("m_init", mm.rtspserver_init, {module_port})
attempt("m_session", lambda: mm.rtspserver_createsession("door", 0, True, backchannel=True))
attempt("m_plain", mm.rtspserver_createsession, "plain", 0, True)
mm.rtspserver_start()
attempt("m_recv", mm.rtspserver_recvaudiodata, "door", buf)
attempt("m_recv_memoryview", mm.rtspserver_recvaudiodata, "door", memoryview(buf)[:10])
attempt("m_recv_plain", mm.rtspserver_recvaudiodata, "plain", buf)
attempt("m_recv_unknown", mm.rtspserver_recvaudiodata, "nope", buf)
attempt("m_stats", mm.rtspserver_getstats)
attempt("m_destroysession", mm.rtspserver_destroysession, "door")
attempt("m_after_destroysession", mm.rtspserver_recvaudiodata, "door", buf)
attempt("m_destroy", mm.rtspserver_destroy)
attempt("m_after_destroy", mm.rtspserver_recvaudiodata, "door", buf)
attempt("m_send_after_destroy", mm.rtspserver_sendaudiodata, "door", buf, 160, 0)
attempt("m_bad_buf_after_destroy", mm.rtspserver_recvaudiodata, "door", None)
''')
    r.negative_errno("fresh", errno.ENOENT)
    for label in ("session_before_init", "init", "destroysession", "again", "destroy", "m_create",
                  "m_init", "m_session", "m_plain", "m_destroysession", "m_destroy"):
        r.returns(label, 0)
    for label in ("before_init", "before_start", "started", "stopped", "recreated", "m_recv",
                  "m_recv_memoryview"):
        r.returns(label, 0)
    for label in ("after_destroysession", "after_deinit", "m_unknown", "m_recv_unknown",
                  "m_after_destroysession"):
        r.negative_errno(label, errno.ENOENT)
    r.negative_errno("m_recv_plain", errno.EINVAL)
    # after destroy (and before the default server exists): what sendaudiodata and destroysession say
    for label, like in (("after_destroy", "send_after_destroy"), ("m_before_create", "m_send_before_create"),
                        ("m_after_destroy", "m_send_after_destroy")):
        r.negative_errno(label, errno.ENODEV)
        r.returns(like, r.ret(label))
    r.negative_errno("destroysession_after_destroy", errno.ENODEV)
    r.negative_errno("send_after_deinit", errno.ENOENT)
    for label in ("bad_buf_after_destroy", "m_bad_buf_after_destroy"):
        r.raises(label, "TypeError")  # the arguments are checked first, whatever the state
    stats = r.ret("m_stats")
    assert (stats["backchannel_bytes"], stats["backchannel_dropped"], stats["backchannel_client"]) == (0, 0, None)


# A back-channel talker inside the script (MicroPython sockets; the server runs in its own thread):
# test_leaks' RTSP client (mpy_rtsp_client.py), which does DESCRIBE with the ONVIF Require tag,
# SETUP of trackID=2 interleaved on channels 4-5, PLAY.
BC_TALKER = f"sys.path.append({str(helpers.TESTS)!r})\n" + r'''
import struct
from mpy_rtsp_client import Player
TAG = "www.onvif.org/ver20/backchannel"

class Talker(Player):
    def __init__(self, port):
        Player.__init__(self, port, timeout=10)

    def talk_setup(self, path):
        """DESCRIBE, SETUP trackID=2, PLAY: the DESCRIBE's SDP, or the first status that is not 200."""
        status, _, sdp = self.request("DESCRIBE", path, [("Require", TAG), ("Accept", "application/sdp")])
        if status != 200:
            return status
        status, h, _ = self.request("SETUP", path + "/trackID=2",
                                    [("Require", TAG), ("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5")])
        if status != 200:
            return status
        self.session = h["session"].split(";")[0]
        status, _, _ = self.request("PLAY", path + "/", [("Session", self.session)])
        return sdp if status == 200 else status

    def send_rtp(self, seq, payload, pt=0):
        packet = struct.pack(">BBHII", 0x80, pt, seq, seq * len(payload), 0x5EED) + payload
        self.sock.send(b"$\x04" + struct.pack(">H", len(packet)) + packet)

def wait_heard(s, name, count):
    t0 = time.ticks_ms()
    while s.rtspserver_getstats(name)["backchannel_bytes"] < count:
        if time.ticks_diff(time.ticks_ms(), t0) > 10000:
            return False
        time.sleep_ms(5)
    return True
'''


def test_recvaudiodata_writes_into_the_buffer_given(port):
    """A talker (TCP interleaved, PCMA) sends 320 bytes; the script reads them in
    pieces into memoryview slices of one bytearray, which are written in place
    (the bytes around them untouched), an empty buffer takes nothing, and the
    rest comes in order. getstats names the talker; a session that got
    backchannel=True only on a second createsession has none (551 to the
    talker, -EINVAL to the script)."""
    r = api(BC_TALKER + f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("door", 0, True, backchannel=True, backchannel_codec="pcma")
s.rtspserver_createsession("plain", 0, True)
attempt("plain_again", lambda: s.rtspserver_createsession("plain", 0, True, backchannel=True))
s.rtspserver_start()
t = Talker({port})
sdp = t.talk_setup("door")
# per media section: sendonly, PCMA, trackID=2 (the video, the PCMU audio, then the back channel)
attempt("sdp", lambda: [("a=sendonly" in m, "a=rtpmap:8 PCMA/8000" in m, "a=control:trackID=2" in m)
                        for m in sdp.split("m=")[1:]])
attempt("talking", lambda: [c["talking"] for c in s.rtspserver_getstats("door")["per_client"]])
spoken = bytes(range(1, 161)) + bytes(range(161, 256)) + bytes(range(1, 66))  # 320 bytes, no A-law silence
t.send_rtp(1, spoken[:160], pt=8)
t.send_rtp(2, spoken[160:], pt=8)
attempt("heard", lambda: wait_heard(s, "door", 320))
buf = bytearray(b"\\xaa" * 32)
mv = memoryview(buf)
attempt("empty", s.rtspserver_recvaudiodata, "door", bytearray())
attempt("empty_slice", s.rtspserver_recvaudiodata, "door", mv[3:3])
attempt("slice_5_9", s.rtspserver_recvaudiodata, "door", mv[5:9])
attempt("buf_after_first", lambda: bytes(buf))
attempt("slice_20_", s.rtspserver_recvaudiodata, "door", mv[20:])
attempt("buf_after_second", lambda: bytes(buf))
rest = bytearray(400)
attempt("rest", s.rtspserver_recvaudiodata, "door", rest)
attempt("in_order", lambda: bytes(buf[5:9]) + bytes(buf[20:]) + bytes(rest[:304]) == spoken)
attempt("drained", s.rtspserver_recvaudiodata, "door", rest)
attempt("stats", s.rtspserver_getstats, "door")
attempt("server_stats", lambda: s.rtspserver_getstats()["backchannel_bytes"])
attempt("plain_recv", s.rtspserver_recvaudiodata, "plain", rest)
t2 = Talker({port})
attempt("plain_talk", lambda: t2.talk_setup("plain"))
t.sock.close()
t2.sock.close()
s.rtspserver_destroy()
''')
    r.returns("plain_again", 0)
    r.returns("sdp", [(False, False, False), (False, False, False), (True, True, True)])
    r.returns("talking", [True])
    r.returns("heard", True)
    r.returns("empty", 0)
    r.returns("empty_slice", 0)
    r.returns("slice_5_9", 4)
    r.returns("buf_after_first", b"\xaa" * 5 + bytes([1, 2, 3, 4]) + b"\xaa" * 23)
    r.returns("slice_20_", 12)
    r.returns("buf_after_second", b"\xaa" * 5 + bytes([1, 2, 3, 4]) + b"\xaa" * 11 + bytes(range(5, 17)))
    r.returns("rest", 320 - 16)
    r.returns("in_order", True)
    r.returns("drained", 0)
    stats = r.ret("stats")
    assert (stats["backchannel_bytes"], stats["backchannel_dropped"]) == (320, 0), stats
    assert stats["backchannel_client"]["peer"] == "127.0.0.1", stats
    assert stats["backchannel_client"]["port"] == stats["per_client"][0]["port"], stats
    r.returns("server_stats", 320)
    r.negative_errno("plain_recv", errno.EINVAL)
    r.returns("plain_talk", 551)  # the second createsession added no back channel


def test_sendvideodata_byphyaddr_is_unsupported_off_the_board(port):
    r = api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("cam", 0, False)
attempt("byphyaddr", s.rtspserver_sendvideodata_byphyaddr, "cam", 0x10000000, 100, 0)
attempt("module", mm.rtspserver_sendvideodata_byphyaddr, "cam", 0x10000000, 100, 0)
s.rtspserver_destroy()
''')
    name, code = r.exc("byphyaddr")
    assert name == "OSError" and code == errno.EOPNOTSUPP, (name, code)
    assert r.exc("module")[0] == "OSError"


def test_sendvideodata_returns_quickly_without_clients(port):
    """The producer never waits: 300 calls return in well under a second in total
    (bounds generous enough for a loaded machine; a blocking call would take far longer)."""
    r = api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("cam", 0, False)
s.rtspserver_start()
data = open({str(helpers.CLIP)!r}, "rb").read()
t0 = time.ticks_us()
worst = 0
bad = 0
for i in range(300):
    a = time.ticks_us()
    if s.rtspserver_sendvideodata("cam", data, min(len(data), 4096), i * 33333) != 0:
        bad += 1
    worst = max(worst, time.ticks_diff(time.ticks_us(), a))
attempt("total_us", lambda: time.ticks_diff(time.ticks_us(), t0))
attempt("worst_us", lambda: worst)
attempt("bad", lambda: bad)
s.rtspserver_destroy()
''')
    r.returns("bad", 0)
    assert r.ret("total_us") < 1_000_000
    assert r.ret("worst_us") < 250_000


# --- stats ---------------------------------------------------------------------------------

STATS_KEYS = {"clients", "playing", "packets_sent", "bytes_sent", "frames_dropped", "keyframe_waits",
              "backchannel_bytes", "backchannel_dropped", "backchannel_client", "per_client"}


def test_getstats(port):
    r = api(f'''
s = mm.rtsp_server()
s.rtspserver_init({port})
s.rtspserver_createsession("cam", 0, False)
s.rtspserver_start()
s.rtspserver_sendvideodata("cam", AUD, len(AUD), 0)
attempt("session", s.rtspserver_getstats, "cam")
attempt("server", s.rtspserver_getstats)
attempt("unknown", s.rtspserver_getstats, "nope")
attempt("name_int", s.rtspserver_getstats, 4)
s.rtspserver_destroy()
''')
    for label in ("session", "server"):
        stats = r.ret(label)
        assert isinstance(stats, dict) and set(stats) == STATS_KEYS, stats
        assert stats.pop("per_client") == [], stats  # no client (test_options checks the entries)
        assert stats.pop("backchannel_client") is None, stats  # nobody talks (no back channel here)
        assert all(isinstance(v, int) and v >= 0 for v in stats.values()), stats
        assert stats["clients"] == 0 and stats["playing"] == 0, stats
        assert stats["packets_sent"] == 0 and stats["bytes_sent"] == 0, stats  # nobody to send to
        assert stats["backchannel_bytes"] == 0 and stats["backchannel_dropped"] == 0, stats
    unknown = r["unknown"]  # no such session: an error (exception or negative errno), no dict
    assert (unknown[0] == "EXC" and unknown[1] in ("OSError", "ValueError")
            or unknown[0] == "RET" and isinstance(unknown[1], int) and unknown[1] < 0), unknown
    r.raises("name_int", "TypeError")


# --- module-level functions -------------------------------------------------------------------

def test_module_level_functions(port):
    r = api(f'''
attempt("init_before_create", mm.rtspserver_init, {port})
attempt("create", mm.rtspserver_create)
attempt("init", mm.rtspserver_init, {port})
attempt("session", mm.rtspserver_createsession, "cam", mm.multi_media_type.media_h264, False)
attempt("start", mm.rtspserver_start)
attempt("url", mm.rtspserver_getrtspurl, "cam")
attempt("url_default", mm.rtspserver_getrtspurl)
attempt("send", mm.rtspserver_sendvideodata, "cam", AUD, len(AUD), 1000)
attempt("send_size_over", mm.rtspserver_sendvideodata, "cam", AUD, 99, 1000)
attempt("send_unknown", mm.rtspserver_sendvideodata, "nope", AUD, len(AUD), 1000)
attempt("stats", mm.rtspserver_getstats, "cam")
attempt("destroysession", mm.rtspserver_destroysession, "cam")
attempt("stop", mm.rtspserver_stop)
attempt("deinit", mm.rtspserver_deinit)
attempt("destroy", mm.rtspserver_destroy)
attempt("start_after_destroy", mm.rtspserver_start)
attempt("send_after_destroy", mm.rtspserver_sendvideodata, "cam", AUD, len(AUD), 1000)
attempt("destroy_again", mm.rtspserver_destroy)
attempt("create_again", mm.rtspserver_create)
attempt("init_again", mm.rtspserver_init, {port})
attempt("destroy_last", mm.rtspserver_destroy)
''')
    r.returns("create", 0)
    r.returns("init", 0)
    r.returns("session", 0)
    r.returns("start", None)
    m = URL_RE.match(r.ret("url"))
    assert m and m.group(2) == str(port) and m.group(3) == "cam", r.ret("url")
    r.returns("url_default", r.ret("url"))
    r.returns("send", 0)
    r.raises("send_size_over", "ValueError")
    r.negative_errno("send_unknown", errno.ENOENT)
    assert set(r.ret("stats")) == STATS_KEYS
    r.returns("destroysession", 0)
    r.returns("stop", None)
    r.returns("deinit", None)
    r.returns("destroy", 0)
    r.returns("create_again", 0)
    r.returns("init_again", 0)  # the default server's port was freed by destroy
    r.returns("destroy_last", 0)
    # No default server: an error of the documented kinds, never a crash.
    for label in ("init_before_create", "start_after_destroy", "send_after_destroy", "destroy_again"):
        got = r[label]
        assert got[0] == "RET" or got[1] in ("OSError", "ValueError"), (label, got)
    for label in ("init_before_create", "send_after_destroy"):  # nothing to act on: not success
        assert r[label][0] == "EXC" or r[label][1] != 0, (label, r[label])


# --- garbage collection ---------------------------------------------------------------------

def test_gc_of_a_running_server_frees_its_port(port):
    r = api(f'''
def make_running_server():
    s = mm.rtsp_server()
    s.rtspserver_init({port})
    s.rtspserver_createsession("cam", 0, False)
    s.rtspserver_start()
    s.rtspserver_sendvideodata("cam", AUD, len(AUD), 0)

def scrub_stack(n):
    # overwrite stack slots that might still hold the dead object's address
    return 0 if n == 0 else scrub_stack(n - 1) + 1

make_running_server()
ok = -1
for attempt_no in range(20):
    scrub_stack(50)
    gc.collect()
    s2 = mm.rtsp_server()
    ok = s2.rtspserver_init({port})
    if ok == 0:
        break
    del s2
    time.sleep_ms(50)
attempt("reinit", lambda: ok)
attempt("alive", lambda: sum(range(10)))
for i in range(5):
    junk = [bytearray(1000) for _ in range(100)]
    gc.collect()
attempt("still_alive", lambda: "yes")
''')
    r.returns("reinit", 0)
    r.returns("alive", 45)
    r.returns("still_alive", "yes")


def test_gc_of_many_servers(port):
    r = api(f'''
def churn(i):
    s = mm.rtsp_server()
    s.rtspserver_init({port})
    s.rtspserver_createsession("cam%d" % i, 0, False)
    if i % 3 == 0:
        s.rtspserver_start()

for i in range(30):
    churn(i)
    gc.collect()
attempt("done", lambda: "ok")
''', timeout=60)
    r.returns("done", "ok")


# --- wrong order -------------------------------------------------------------------------------

def test_calls_in_the_wrong_order_never_crash(port):
    r = api(f'''
s = mm.rtsp_server()
steps = [
    ("stop", lambda: s.rtspserver_stop()),
    ("deinit", lambda: s.rtspserver_deinit()),
    ("session_before_init", lambda: s.rtspserver_createsession("x", 0, False)),
    ("send_before_init", lambda: s.rtspserver_sendvideodata("x", AUD, len(AUD), 0)),
    ("audio_before_init", lambda: s.rtspserver_sendaudiodata("x", AUD, len(AUD), 0)),
    ("recv_before_init", lambda: s.rtspserver_recvaudiodata("x", bytearray(8))),
    ("url_before_init", lambda: s.rtspserver_getrtspurl("x")),
    ("stats_before_init", lambda: s.rtspserver_getstats()),
    ("destroysession_before_init", lambda: s.rtspserver_destroysession("x")),
    ("init", lambda: s.rtspserver_init({port})),
    ("send_before_session", lambda: s.rtspserver_sendvideodata("x", AUD, len(AUD), 0)),
    ("session", lambda: s.rtspserver_createsession("x", 0, False)),
    ("send_before_start", lambda: s.rtspserver_sendvideodata("x", AUD, len(AUD), 0)),
    ("start", lambda: s.rtspserver_start()),
    ("deinit_running", lambda: s.rtspserver_deinit()),
    ("send_after_deinit", lambda: s.rtspserver_sendvideodata("x", AUD, len(AUD), 0)),
    ("recv_after_deinit", lambda: s.rtspserver_recvaudiodata("x", bytearray(8))),
    ("stop_after_deinit", lambda: s.rtspserver_stop()),
    ("destroysession_after_deinit", lambda: s.rtspserver_destroysession("x")),
    ("init_again", lambda: s.rtspserver_init({port})),
    ("session_again", lambda: s.rtspserver_createsession("x", 0, False)),
    ("start_again", lambda: s.rtspserver_start()),
    ("destroy_running", lambda: s.rtspserver_destroy()),
    # whatever a destroyed object does next, it must not crash
    ("destroy_again", lambda: s.rtspserver_destroy()),
    ("stop_after_destroy", lambda: s.rtspserver_stop()),
    ("deinit_after_destroy", lambda: s.rtspserver_deinit()),
    ("start_after_destroy", lambda: s.rtspserver_start()),
    ("send_after_destroy", lambda: s.rtspserver_sendvideodata("x", AUD, len(AUD), 0)),
    ("recv_after_destroy", lambda: s.rtspserver_recvaudiodata("x", bytearray(8))),
    ("url_after_destroy", lambda: s.rtspserver_getrtspurl()),
    ("stats_after_destroy", lambda: s.rtspserver_getstats()),
    ("session_after_destroy", lambda: s.rtspserver_createsession("x", 0, False)),
    ("init_after_destroy", lambda: s.rtspserver_init({port})),
    ("create_after_destroy", lambda: s.rtspserver_create()),
    ("final_destroy", lambda: s.rtspserver_destroy()),
]
for label, f in steps:
    attempt(label, f)
''')
    allowed = {"OSError", "ValueError"}
    for label, got in r.items():
        if got[0] == "EXC":
            assert got[1] in allowed, f"{label}: unexpected {got[1]}"
    r.returns("stop", None)
    r.returns("deinit", None)
    # a session may or may not be creatable before init; either way the answers agree
    created = r.ret("session_before_init")
    assert isinstance(created, int)
    for label in ("send_before_init", "destroysession_before_init"):
        got = r.ret(label)
        assert got == 0 if created == 0 else got < 0, (label, got)
    for label in ("send_before_session", "send_after_deinit", "destroysession_after_deinit"):
        r.negative_errno(label)
    # "x" never had a back channel: -EINVAL while it exists, -ENOENT once deinit freed it
    r.returns("recv_before_init", -errno.EINVAL if created == 0 else -errno.ENOENT)
    r.negative_errno("recv_after_deinit", errno.ENOENT)
    r.returns("recv_after_destroy", r.ret("send_after_destroy"))  # a destroyed object: as the send calls
    r.returns("init", 0)
    r.returns("session", 0)
    r.returns("start", None)
    r.returns("deinit_running", None)
    r.returns("stop_after_deinit", None)
    r.returns("init_again", 0)
    r.returns("session_again", 0)
    r.returns("destroy_running", 0)
    r.returns("final_destroy", 0)
    for label in ("send_after_destroy", "session_after_destroy", "init_after_destroy"):
        got = r[label]
        assert got[0] == "EXC" or got[1] != 0 or label == "init_after_destroy", (label, got)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_call_sequences_never_crash(port, seed):
    """300 calls drawn at random from the whole API, on two servers and the module."""
    rng = random.Random(seed)
    targets = ["a", "b", "mm"]
    names = ["cam", "other", "", "x" * 300]
    calls = []
    for i in range(300):
        t = rng.choice(targets)
        name = rng.choice(names)
        op = rng.choice([
            "rtspserver_create()", "rtspserver_destroy()", f"rtspserver_init({port})",
            "rtspserver_init(0)", "rtspserver_deinit()", "rtspserver_start()", "rtspserver_stop()",
            f"rtspserver_createsession({name!r}, {rng.choice([0, 1, 2, 'h264', 7])!r}, {rng.choice([True, False])})",
            f"rtspserver_destroysession({name!r})", f"rtspserver_getrtspurl({name!r})",
            "rtspserver_getrtspurl()", f"rtspserver_getstats({name!r})", "rtspserver_getstats()",
            f"rtspserver_sendvideodata({name!r}, AUD, {rng.choice([0, 6, 7])}, {i * 1000})",
            f"rtspserver_sendvideodata({name!r}, CLIP[:{rng.randrange(0, 5000)}], {rng.randrange(0, 5000)}, 1000)",
            f"rtspserver_sendaudiodata({name!r}, AUD, 6, {i * 1000})",
            f"rtspserver_createsession({name!r}, 0, {rng.choice([True, False])}, backchannel=True)",
            f"rtspserver_recvaudiodata({name!r}, bytearray({rng.choice([0, 160])}))",
            "rtspserver_test()",
        ])
        if t == "mm":
            calls.append(f"attempt('c{i}', lambda: mm.{op})")
        else:
            calls.append(f"attempt('c{i}', lambda: {t}.{op})")
    body = (f"CLIP = open({str(helpers.CLIP)!r}, 'rb').read()\n"
            "a = mm.rtsp_server()\nb = mm.rtsp_server()\n" + "\n".join(calls) +
            "\nfor s in (a, b): s.rtspserver_destroy()\nmm.rtspserver_destroy()\n"
            "del a, b\ngc.collect()\n")
    r = api(body, timeout=90)
    assert len(r) == 300, f"only {len(r)} of 300 calls reported"
    for label, got in r.items():
        if got[0] == "EXC":
            assert got[1] in ("OSError", "ValueError"), f"{label}: {got}"
