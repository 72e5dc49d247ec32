"""Authentication (issue 4, "Security"): rtspserver_init(port, users=...,
auth_basic=...). Players authenticate with rtsp://user:pass@...; a wrong or
missing password gets 401 and no media; OPTIONS stays open; Digest (SHA-256
and MD5, RFC 7616) always, Basic (RFC 7617) only with auth_basic=True.

The raw Digest answers here are computed from RFC 7616 section 3.4.1, not
from the server's code.
"""

import base64
import hashlib
import re
import secrets

import pytest

import helpers
from helpers import CLIP, CLIP_SIZE, RtspConnection, Streamer, stats_line

CLIP_FRAMES = 90
USER, PASSWORD = "user", "pass"


def assert_every_frame(client, count=CLIP_FRAMES, label=None):
    frames = helpers.parse_frames(client)
    assert len(frames) == count and frames[0] == (*CLIP_SIZE, "I"), (
        f"{label or client.name} decoded {len(frames)} of {count} frames\n{client.stderr}")


# --- players with credentials ----------------------------------------------------------------

@pytest.mark.parametrize("users_form", ["tuple", "list"])
def test_ffprobe_with_credentials_decodes_every_frame(port, users_form):
    """users=("user", "pass") (or [("user", "pass")]): ffprobe with
    rtsp://user:pass@... over TCP and over UDP decodes every frame."""
    streamer = Streamer(port, [("test", CLIP, 2)], users=[(USER, PASSWORD)], users_form=users_form)
    clients = [helpers.ffprobe_frames(streamer.urls["test"], t, userinfo=f"{USER}:{PASSWORD}")
               for t in ("tcp", "udp")]
    try:
        streamer.finish()
        for c in clients:
            helpers.finish_client(c)
    finally:
        for c in clients:
            c.stop()
        streamer.stop()
    for c in clients:
        assert_every_frame(c)
    assert stats_line(streamer)["clients"] == 2


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_gstreamer_with_credentials_decodes_every_frame(port, tmp_path, protocol):
    out = tmp_path / "out.yuv"
    streamer = Streamer(port, [("test", CLIP, 1)], users=[(USER, PASSWORD)])
    client = None
    try:
        url = helpers.loopback_url(streamer.urls["test"], f"{USER}:{PASSWORD}")
        client = helpers.gst_i420(url, ["rtph264depay", "!", "avdec_h264"], out, f"gst-{protocol}",
                                  protocols=protocol)
        streamer.finish()
        helpers.finish_gst(client)
    finally:
        if client is not None:
            client.stop()
        streamer.stop()
    helpers.assert_i420_frames(client, out, CLIP_FRAMES, CLIP_SIZE)


def test_several_users_each_work(port):
    """users={"alice": ..., "bob": ...}: each decodes every frame with their own
    password; a name with the other's password gets 401."""
    users = [("alice", "alice-secret"), ("bob", "b0b:with colon")]
    streamer = Streamer(port, [("test", CLIP, 2)], users=users, users_form="dict")
    clients = [helpers.ffprobe_frames(streamer.urls["test"], "tcp", f"ffprobe-{name}",
                                      userinfo=f"{name}:{password.replace(' ', '%20')}")
               for name, password in users]
    crossed = helpers.ffprobe_frames(streamer.urls["test"], "tcp", "ffprobe-crossed",
                                     userinfo="alice:b0b%3Awith%20colon")
    try:
        streamer.finish()
        for c in clients + [crossed]:
            helpers.finish_client(c)
    finally:
        for c in clients + [crossed]:
            c.stop()
        streamer.stop()
    for c in clients:
        assert_every_frame(c)
    assert crossed.proc.returncode != 0 and not helpers.parse_frames(crossed)
    assert re.search(r"401|Unauthorized", crossed.stderr), crossed.stderr


@pytest.mark.parametrize("userinfo", [f"{USER}:wrong", None, f"nobody:{PASSWORD}"])
def test_no_media_without_the_right_password(port, userinfo):
    """A wrong password, no credentials, an unknown user: ffprobe (TCP and UDP)
    fails with 401 and the server sends nothing to anyone."""
    streamer = Streamer(port, [("test", CLIP, 0)], users=[(USER, PASSWORD)], frames=CLIP_FRAMES)
    clients = [helpers.ffprobe_frames(streamer.urls["test"], t, userinfo=userinfo) for t in ("tcp", "udp")]
    try:
        for c in clients:
            helpers.finish_client(c, timeout=15)
        streamer.finish()
    finally:
        for c in clients:
            c.stop()
        streamer.stop()
    for c in clients:
        assert c.proc.returncode != 0 and not helpers.parse_frames(c), c.stdout
        assert re.search(r"401|Unauthorized", c.stderr), f"{c.name}: {c.stderr}"
    stats = stats_line(streamer)
    assert stats["clients"] == 0 and stats["packets_sent"] == 0 and stats["bytes_sent"] == 0, stats


# --- raw requests ----------------------------------------------------------------------------------

def challenges(conn):
    """{scheme or "Digest <algorithm>": {param: value}} of the last response's WWW-Authenticate headers."""
    found = {}
    for name, value in conn.header_lines:
        if name.lower() != "www-authenticate":
            continue
        scheme, _, rest = value.partition(" ")
        params = {m.group(1).lower(): m.group(3) if m.group(3) is not None else m.group(2)
                  for m in re.finditer(r'(\w+)=("([^"]*)"|[^,\s]+)', rest)}
        key = f"Digest {params.get('algorithm', 'MD5')}" if scheme == "Digest" else scheme
        found[key] = params
    return found


def digest_answer(challenge, method, uri, user, password):
    """An Authorization value for one Digest challenge (RFC 7616 3.4.1, qop=auth)."""
    algorithm = challenge.get("algorithm", "MD5")
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]

    def hexdigest(text):
        return h(text.encode()).hexdigest()

    realm, nonce = challenge["realm"], challenge["nonce"]
    cnonce, nc = secrets.token_hex(8), "00000001"
    ha1 = hexdigest(f"{user}:{realm}:{password}")
    ha2 = hexdigest(f"{method}:{uri}")
    response = hexdigest(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"')


def basic_answer(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def auth_server(port, request):
    """A streaming server with one user; request.param: auth_basic."""
    streamer = Streamer(port, [("test", CLIP, 0)], users=[(USER, PASSWORD)], auth_basic=request.param,
                        frames=CLIP_FRAMES * 20)
    yield port
    streamer.stop()


@pytest.mark.parametrize("auth_server", [False, True], indirect=True)
def test_options_open_everything_else_challenged(auth_server):
    """OPTIONS needs no credentials; DESCRIBE without them gets 401 with Digest
    challenges for SHA-256 and MD5 (RFC 7616 3.7: each its own header), and a
    Basic one only when auth_basic is on."""
    with RtspConnection(auth_server) as c:
        status, hdrs, _ = c.request("OPTIONS", c.url("test"))
        assert status == 200 and "DESCRIBE" in hdrs.get("public", ""), (status, hdrs)
        status, _, body = c.request("DESCRIBE", c.url("test"))
        assert status == 401 and "m=video" not in body
        offered = challenges(c)
    basic = "Basic" in offered
    with RtspConnection(auth_server) as c:
        c.request("OPTIONS", c.url("test"))
        basic_on = c.request("DESCRIBE", c.url("test"))[0] == 401 and "Basic" in challenges(c)
    assert {"Digest SHA-256", "Digest MD5"} <= set(offered), offered
    assert all(p.get("qop") == "auth" and p.get("nonce") and p.get("realm") for k, p in offered.items()
               if k.startswith("Digest")), offered
    assert basic == basic_on


@pytest.mark.parametrize("auth_server", [False], indirect=True)
@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_digest_by_hand(auth_server, algorithm):
    """A Digest answer computed from RFC 7616 gets the SDP, and then SETUP and
    PLAY (each answered anew) work; the same with a wrong password gets 401, and
    a correct answer to another connection's nonce, or to no nonce at all on a
    connection not yet challenged, is refused."""
    url = f"rtsp://127.0.0.1:{auth_server}/test"
    with RtspConnection(auth_server) as c, RtspConnection(auth_server) as other:
        assert c.request("DESCRIBE", url)[0] == 401
        challenge = challenges(c)[f"Digest {algorithm}"]
        wrong = digest_answer(challenge, "DESCRIBE", url, USER, "wrong")
        assert c.request("DESCRIBE", url, {"Authorization": wrong})[0] == 401
        challenge = challenges(c)[f"Digest {algorithm}"]
        right = digest_answer(challenge, "DESCRIBE", url, USER, PASSWORD)
        assert other.request("DESCRIBE", url)[0] == 401  # other has a nonce of its own
        assert other.request("DESCRIBE", url, {"Authorization": right})[0] == 401, (
            "a Digest answer to another connection's nonce was accepted")
        status, _, sdp = c.request("DESCRIBE", url, {"Authorization": right})
        assert status == 200 and "m=video" in sdp
    # a nonce the server never gave (here: none at all) proves nothing fresh: it
    # could be replayed on every new connection
    with RtspConnection(auth_server) as fresh:
        made_up = digest_answer({**challenge, "nonce": ""}, "DESCRIBE", url, USER, PASSWORD)
        status = fresh.request("DESCRIBE", url, {"Authorization": made_up})[0]
        assert status == 401, f"a Digest answer to an empty nonce, before any challenge: {status}"
    with RtspConnection(auth_server) as c:
        assert c.request("DESCRIBE", url)[0] == 401
        challenge = challenges(c)[f"Digest {algorithm}"]
        track = f"{url}/trackID=0"
        status, hdrs, _ = c.request("SETUP", track, {
            "Transport": "RTP/AVP/TCP;unicast;interleaved=0-1",
            "Authorization": digest_answer(challenge, "SETUP", track, USER, PASSWORD)})
        assert status == 200, hdrs
        session = hdrs["session"].split(";")[0]
        status, _, _ = c.request("PLAY", url, {
            "Session": session, "Authorization": digest_answer(challenge, "PLAY", url, USER, PASSWORD)})
        assert status == 200
        # media follows: the next answered request comes after some RTP
        for _ in range(20):
            if c.interleaved_frames:
                break
            c.request("GET_PARAMETER", url, {
                "Session": session,
                "Authorization": digest_answer(challenge, "GET_PARAMETER", url, USER, PASSWORD)})
        assert c.interleaved_frames > 0, "no RTP after an authenticated PLAY"


@pytest.mark.parametrize("auth_server", [True], indirect=True)
def test_basic_when_allowed(auth_server):
    """auth_basic=True: after the challenge a Basic Authorization (RFC 7617)
    gets 200, a wrong one 401."""
    url = f"rtsp://127.0.0.1:{auth_server}/test"
    with RtspConnection(auth_server) as c:
        assert c.request("DESCRIBE", url)[0] == 401
        assert c.request("DESCRIBE", url, {"Authorization": basic_answer(USER, "wrong")})[0] == 401
        assert c.request("DESCRIBE", url, {"Authorization": basic_answer(USER, PASSWORD)})[0] == 200


@pytest.mark.parametrize("auth_server", [True], indirect=True)
def test_basic_up_front(auth_server):
    """auth_basic=True: Basic credentials sent with the first request of a new
    connection, before any challenge (RFC 7617 2.1 lets a client do so, and
    curl-style clients do), get 200."""
    url = f"rtsp://127.0.0.1:{auth_server}/test"
    with RtspConnection(auth_server) as c:
        status = c.request("DESCRIBE", url, {"Authorization": basic_answer(USER, PASSWORD)})[0]
    assert status == 200, f"Basic credentials sent up front on a new connection: {status}"


@pytest.mark.parametrize("auth_server", [False], indirect=True)
def test_basic_refused_when_not_allowed(auth_server):
    """auth_basic=False: a correct Basic Authorization gets 401, up front or after the challenge."""
    url = f"rtsp://127.0.0.1:{auth_server}/test"
    with RtspConnection(auth_server) as c:
        assert c.request("DESCRIBE", url, {"Authorization": basic_answer(USER, PASSWORD)})[0] == 401
        assert "Basic" not in challenges(c)
        assert c.request("DESCRIBE", url, {"Authorization": basic_answer(USER, PASSWORD)})[0] == 401
