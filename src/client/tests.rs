//! The pusher's core against a scripted receiving server: what it sends is
//! read back with the server's own request parser, and the replies are what
//! gst-rtsp-server, mediamtx and ffmpeg's listen mode answer.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::rtsp::auth::Authenticator;
use crate::rtsp::url::parse_push_url;
use crate::rtsp::{parse_input, Input as Parsed};
use crate::test_media::{annexb, idr, p_slice, PPS, SPS, TEST_SEED};

const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8554);
const SECOND: u64 = 1_000_000;

fn config(url: &str, lower: Lower) -> PushConfig {
    PushConfig {
        url: parse_push_url(url).expect("test URL"),
        lower,
        codec: VideoCodec::H264,
        audio: None,
        open_timeout_us: 5 * SECOND,
        queue_bytes: 256 * 1024,
    }
}

/// A pusher and the scripted server's view of it.
struct Rig {
    p: Pusher,
    now: u64,
    /// What the pusher wrote and the server has not parsed yet.
    wire: Vec<u8>,
}

/// What the server read: requests, and interleaved packets by channel.
#[derive(Default)]
struct Read {
    requests: Vec<Request>,
    packets: Vec<(u8, Vec<u8>)>,
}

impl Rig {
    fn new(cfg: PushConfig) -> Rig {
        Rig { p: Pusher::new(cfg, TEST_SEED), now: 1_000 * SECOND, wire: Vec::new() }
    }

    fn events(&mut self) -> Vec<Event> {
        core::iter::from_fn(|| self.p.poll_event()).collect()
    }

    /// Opens and accepts the connection.
    fn connect(&mut self, udp_port: Option<u16>) {
        self.p.open(PEER, self.now);
        assert_eq!(self.events(), [Event::Connect(PEER)]);
        self.p.handle_connected(udp_port, self.now);
    }

    /// Everything the pusher has to write, written in full.
    fn read(&mut self) -> Read {
        loop {
            let mut parts = Vec::new();
            self.p.poll_transmit(&mut parts, 64);
            if parts.is_empty() {
                break;
            }
            let n: usize = parts.iter().map(|p| p.len()).sum();
            for part in parts {
                self.wire.extend_from_slice(part);
            }
            self.p.handle_input(Input::Written(n), self.now);
        }
        let mut read = Read::default();
        while let Ok(Some((item, used))) = parse_input(&self.wire, &Limits::default()) {
            match item {
                Parsed::Request(r) => read.requests.push(r),
                Parsed::Interleaved { channel, data } => read.packets.push((channel, data)),
            }
            self.wire.drain(..used);
        }
        read
    }

    /// The one request the pusher sent.
    fn request(&mut self) -> Request {
        let mut read = self.read();
        assert_eq!(read.requests.len(), 1, "one request at a time");
        read.requests.remove(0)
    }

    fn reply(&mut self, req: &Request, status: &str, headers: &str) {
        let cseq = req.header("CSeq").expect("CSeq").to_string();
        let text = format!("RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{headers}\r\n");
        self.p.handle_input(Input::Received(text.as_bytes()), self.now);
    }

    /// OPTIONS, ANNOUNCE, SETUP (each track), RECORD, all answered 200. Returns the requests.
    fn handshake(&mut self) -> Vec<Request> {
        let mut seen = Vec::new();
        loop {
            let req = self.request();
            match req.method {
                Method::Options => self.reply(&req, "200 OK", "Public: ANNOUNCE, SETUP, RECORD, TEARDOWN\r\n"),
                Method::Announce => self.reply(&req, "200 OK", ""),
                Method::Setup => {
                    let transport = req.header("Transport").unwrap_or("").to_string();
                    let answer = if transport.contains("client_port") {
                        format!("Transport: {transport};server_port=7000-7001\r\n")
                    } else {
                        format!("Transport: {transport}\r\n")
                    };
                    self.reply(&req, "200 OK", &format!("Session: 4f3a;timeout=20\r\n{answer}"));
                }
                Method::Record => {
                    self.reply(&req, "200 OK", "");
                    seen.push(req);
                    return seen;
                }
                ref m => panic!("unexpected {m:?}"),
            }
            seen.push(req);
        }
    }

    fn push(&mut self, nals: &[&[u8]]) {
        self.p.handle_media(Track::Video, &annexb(nals), 0, self.now).expect("valid media");
    }

    /// Advances the clock to `t` and handles the timers, checking that no deadline stays in the past.
    fn advance_to(&mut self, t: u64) {
        self.now = t;
        self.p.handle_timeout(t);
        if let Some(next) = self.p.poll_timeout() {
            assert!(next > t, "deadline {next} not after now {t}");
        }
    }
}

#[test]
fn the_handshake_announces_sets_up_and_records() {
    let mut r = Rig::new(config("rtsp://127.0.0.1:8554/live/cam", Lower::Tcp));
    assert!(r.p.learn_parameter_sets(&annexb(&[SPS, PPS])));
    r.connect(None);
    let reqs = r.handshake();
    let methods: Vec<&str> = reqs.iter().map(|q| q.method.as_str()).collect();
    assert_eq!(methods, ["OPTIONS", "ANNOUNCE", "SETUP", "RECORD"]);
    assert_eq!(reqs[1].uri, "rtsp://127.0.0.1:8554/live/cam");
    assert_eq!(reqs[1].header("Content-Type"), Some("application/sdp"));
    let sdp = String::from_utf8(reqs[1].body.clone()).expect("SDP text");
    assert!(sdp.contains("sprop-parameter-sets="), "{sdp}");
    assert!(sdp.contains("a=control:trackID=0"), "{sdp}");
    assert_eq!(reqs[2].uri, "rtsp://127.0.0.1:8554/live/cam/trackID=0");
    assert_eq!(reqs[2].header("Transport"), Some("RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"));
    assert_eq!(reqs[2].header("Session"), None);
    assert_eq!(reqs[3].header("Session"), Some("4f3a"));
    assert_eq!(r.events(), [Event::Opened(0)]);
    assert_eq!(r.p.stats().state, PushState::Recording);
    assert!(r.p.need_keyframe());
}

#[test]
fn media_starts_at_a_keyframe_with_its_parameter_sets() {
    let mut r = Rig::new(config("rtsp://127.0.0.1/cam", Lower::Tcp));
    r.p.learn_parameter_sets(&annexb(&[SPS, PPS]));
    r.connect(None);
    r.handshake();
    r.events();
    r.push(&[&p_slice(1, 300)]);
    assert!(r.read().packets.is_empty(), "nothing before the keyframe");
    assert_eq!(r.p.stats().frames_dropped, 1);
    // The encoder's keyframe without SPS/PPS in front: the pusher adds them.
    r.push(&[&idr(2, 3000)]);
    r.push(&[&p_slice(3, 300)]);
    assert!(!r.p.need_keyframe());
    let read = r.read();
    assert!(read.packets.iter().all(|(ch, _)| *ch == 0 || *ch == 1));
    let rtp: Vec<&Vec<u8>> = read.packets.iter().filter(|(ch, _)| *ch == 0).map(|(_, d)| d).collect();
    let nal_types: Vec<u8> = rtp.iter().map(|d| d[12] & 0x1f).collect();
    assert_eq!(&nal_types[..3], &[7, 8, 28], "SPS, PPS, then the IDR in FU-A: {nal_types:?}");
    assert_eq!(r.p.stats().frames_sent, 2);
}

#[test]
fn digest_credentials_from_the_url_answer_a_401() {
    let mut r = Rig::new(config("rtsp://cam:s%40cret@127.0.0.1/live", Lower::Tcp));
    let auth = Authenticator::new("rec", &[("cam", "s@cret")], false);
    let nonce = "0a4f113b";
    r.connect(None);
    let mut authorized = 0;
    loop {
        let req = r.request();
        match req.header("Authorization") {
            Some(a) if auth.check(req.method.as_str(), a, nonce) => authorized += 1,
            _ => {
                let challenge = format!("WWW-Authenticate: Digest realm=\"rec\", nonce=\"{nonce}\", algorithm=SHA-256\r\n");
                r.reply(&req, "401 Unauthorized", &challenge);
                continue;
            }
        }
        let m = req.method.clone();
        match m {
            Method::Setup => r.reply(&req, "200 OK", "Session: 1\r\nTransport: RTP/AVP/TCP;interleaved=0-1\r\n"),
            _ => r.reply(&req, "200 OK", ""),
        }
        if m == Method::Record {
            break;
        }
    }
    assert_eq!(authorized, 4, "every request after the challenge carries a valid answer");
    assert_eq!(r.events(), [Event::Opened(0)]);
}

#[test]
fn open_errors_are_the_errnos_a_script_can_act_on() {
    let cases: [(&str, &str, i32); 4] = [
        ("rtsp://u:wrong@127.0.0.1/x", "401 Unauthorized", -libc::EACCES),
        ("rtsp://127.0.0.1/x", "401 Unauthorized", -libc::EACCES),
        ("rtsp://127.0.0.1/x", "404 Not Found", -libc::ENOENT),
        ("rtsp://127.0.0.1/x", "500 Internal Server Error", -libc::EPROTO),
    ];
    for (url, status, errno) in cases {
        let mut r = Rig::new(config(url, Lower::Tcp));
        r.connect(None);
        let opts = r.request();
        r.reply(&opts, "200 OK", "");
        for _ in 0..2 {
            let req = r.request();
            assert_eq!(req.method, Method::Announce);
            r.reply(&req, status, "WWW-Authenticate: Basic realm=\"x\"\r\n");
            if r.p.phase == Phase::Ready {
                break;
            }
        }
        assert_eq!(r.events(), [Event::Disconnect, Event::Opened(errno)], "{url} {status}");
        assert_eq!(r.p.stats().state, PushState::Ready);
        assert_eq!(r.p.stats().last_error, errno);
        assert_eq!(r.p.poll_timeout(), None, "nothing left to wait for");
    }
}

#[test]
fn garbage_a_silent_server_and_a_close_fail_the_open() {
    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.connect(None);
    r.request();
    r.p.handle_input(Input::Received(b"HTTP/1.1 400 Bad Request\r\n\r\n"), r.now);
    assert_eq!(r.events(), [Event::Disconnect, Event::Opened(-libc::EPROTO)]);

    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.connect(None);
    r.request();
    let deadline = r.p.poll_timeout().expect("the open is bounded");
    assert_eq!(deadline, r.now + 5 * SECOND);
    r.advance_to(deadline);
    assert_eq!(r.events(), [Event::Disconnect, Event::Opened(-libc::ETIMEDOUT)]);

    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.connect(None);
    r.p.handle_input(Input::Closed, r.now);
    assert_eq!(r.events(), [Event::Disconnect, Event::Opened(-libc::ECONNRESET)]);

    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.p.open(PEER, r.now);
    r.events();
    r.p.handle_connect_failed(-libc::ECONNREFUSED, r.now);
    assert_eq!(r.events(), [Event::Disconnect, Event::Opened(-libc::ECONNREFUSED)]);
}

#[test]
fn a_dead_link_reconnects_with_backoff_and_resumes_at_a_keyframe() {
    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.p.learn_parameter_sets(&annexb(&[SPS, PPS]));
    r.connect(None);
    r.handshake();
    r.events();
    r.push(&[SPS, PPS, &idr(0, 2000)]);
    r.read();
    let mut waits = Vec::new();
    for attempt in 0..4 {
        r.p.handle_input(Input::Closed, r.now);
        assert_eq!(r.p.stats().state, PushState::Reconnecting);
        // Frames while the link is down are dropped and counted.
        let dropped = r.p.stats().frames_dropped;
        r.push(&[&p_slice(attempt, 200)]);
        assert_eq!(r.p.stats().frames_dropped, dropped + 1);
        let at = r.p.poll_timeout().expect("a reconnection is due");
        waits.push(at - r.now);
        r.advance_to(at);
        assert!(r.events().contains(&Event::Connect(PEER)));
        if attempt < 3 {
            // The server is still down.
            r.p.handle_connect_failed(-libc::ECONNREFUSED, r.now);
        }
    }
    assert_eq!(waits, [SECOND / 2, SECOND, 2 * SECOND, 4 * SECOND]);
    r.p.handle_connected(None, r.now);
    r.handshake();
    assert_eq!(r.p.stats().reconnects, 1);
    assert_eq!(r.p.stats().state, PushState::Recording);
    assert!(r.events().iter().all(|e| !matches!(e, Event::Opened(_))), "a reconnection is not an open");
    assert!(r.p.need_keyframe());
    r.push(&[&p_slice(9, 200)]);
    assert!(r.read().packets.is_empty());
    r.push(&[&idr(10, 2000)]);
    let read = r.read();
    assert_eq!(read.packets.first().map(|(_, d)| d[12] & 0x1f), Some(7), "resumes with the SPS");
}

#[test]
fn a_slow_link_drops_to_the_next_keyframe_and_counts() {
    let mut cfg = config("rtsp://127.0.0.1/x", Lower::Tcp);
    cfg.queue_bytes = 64 * 1024;
    let mut r = Rig::new(cfg);
    r.connect(None);
    r.handshake();
    r.push(&[SPS, PPS, &idr(0, 20_000)]);
    // The server reads nothing: the queue fills.
    for n in 1..10 {
        r.p.handle_media(Track::Video, &annexb(&[&p_slice(n, 20_000)]), 0, r.now).expect("valid");
    }
    let s = r.p.stats();
    assert!(s.frames_dropped >= 6, "{s:?}");
    assert!(r.p.need_keyframe());
    let mut parts = Vec::new();
    r.p.poll_transmit(&mut parts, 64);
    let queued: usize = parts.iter().map(|p| p.len()).sum();
    assert!(queued <= 64 * 1024 + 1024, "queue bounded: {queued}");
    drop(parts);
    // Drained, the next P-frame still waits; the keyframe goes.
    r.read();
    r.push(&[&p_slice(11, 2000)]);
    assert!(r.read().packets.is_empty());
    r.push(&[SPS, PPS, &idr(12, 2000)]);
    assert!(!r.read().packets.is_empty());
}

#[test]
fn audio_on_a_stuck_link_stays_within_the_queue() {
    // Found by the rtsp_pusher fuzz target: audio chunks were queued whatever
    // the backlog, so a server that reads nothing (or a byte now and then, so
    // the link never counts as stuck) let the queue grow without bound.
    let mut cfg = config("rtsp://127.0.0.1/x", Lower::Tcp);
    cfg.audio = Some(AudioCodec::Pcmu);
    cfg.queue_bytes = 8 * 1024;
    let mut r = Rig::new(cfg);
    r.connect(None);
    r.handshake();
    r.push(&[SPS, PPS, &idr(0, 2000)]);
    for n in 0..500 {
        r.p.handle_media(Track::Audio, &[0xd5; 320], n * 40_000, r.now).expect("valid audio");
        if n % 50 == 0 {
            // The server takes one byte: the link is slow, not stuck.
            let mut parts = Vec::new();
            r.p.poll_transmit(&mut parts, 1);
            r.wire.push(parts[0][0]);
            r.p.handle_input(Input::Written(1), r.now);
        }
    }
    let mut parts = Vec::new();
    r.p.poll_transmit(&mut parts, usize::MAX);
    let queued: usize = parts.iter().map(|p| p.len()).sum();
    assert!(queued <= 8 * 1024, "{queued} bytes queued, queue_bytes 8192");
    drop(parts);
    // Drained, audio flows again.
    assert!(r.read().packets.len() > 10);
    r.p.handle_media(Track::Audio, &[0xd5; 320], 500 * 40_000, r.now).expect("valid audio");
    let got = r.read().packets;
    assert_eq!(got.iter().map(|(c, d)| (*c, d.len())).collect::<Vec<_>>(), [(2, 332)]);
}

#[test]
fn a_server_that_asks_and_never_reads_cannot_grow_the_queue() {
    // Each request of the server's own is answered on the link: one that sends
    // requests and reads no answer had the pusher queue answers without bound
    // (about 60 bytes out for every 35 in). Past the queue bound the pusher
    // stops reading (and parsing what it has read) until the link drains.
    let mut cfg = config("rtsp://127.0.0.1/x", Lower::Tcp);
    cfg.queue_bytes = 8 * 1024;
    let mut r = Rig::new(cfg);
    r.connect(None);
    r.handshake();
    let ask = b"OPTIONS * RTSP/1.0\r\nCSeq: 5\r\n\r\n".repeat(100);
    let mut asked = 0;
    for _ in 0..100 {
        // As the runtime does: the connection is read only while the pusher wants to read.
        if r.p.interest().read {
            r.p.handle_input(Input::Received(&ask), r.now);
            asked += 100;
        }
    }
    assert!(asked < 10_000, "every request read");
    let mut parts = Vec::new();
    r.p.poll_transmit(&mut parts, usize::MAX);
    let queued: usize = parts.iter().map(|p| p.len()).sum();
    assert!(queued <= 8 * 1024 + 128, "{queued} bytes queued, queue_bytes 8192");
    drop(parts);
    assert!(!r.p.interest().read, "still reading with the queue full");
    // The server reads: every request read is answered, reading resumes.
    r.read();
    let answers = r.wire.windows(9).filter(|w| w == b"CSeq: 5\r\n").count();
    assert_eq!(answers, asked);
    assert!(r.p.interest().read);
    assert_eq!(r.p.stats().state, PushState::Recording);
}

#[test]
fn udp_sends_datagrams_to_the_server_ports_and_sender_reports() {
    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Udp));
    r.connect(Some(6000));
    let reqs = r.handshake();
    assert_eq!(reqs[2].header("Transport"), Some("RTP/AVP;unicast;client_port=6000-6001;mode=record"));
    // Dropped (before the first keyframe): not in the sender report's counts.
    r.push(&[&p_slice(0, 3000)]);
    r.push(&[SPS, PPS, &idr(0, 3000)]);
    let mut rtp = 0;
    while let Some((to, rtcp, bytes)) = r.p.poll_datagram() {
        assert!(!rtcp);
        assert_eq!(to, SocketAddr::new(PEER.ip(), 7000));
        assert_eq!(bytes[0] >> 6, 2, "RTP version 2");
        rtp += 1;
    }
    assert!(rtp >= 3);
    r.advance_to(r.now + 1);
    let sr = r.p.poll_datagram().expect("a sender report after the first packets");
    assert_eq!((sr.0, sr.1, sr.2[1]), (SocketAddr::new(PEER.ip(), 7001), true, 200));
    let packets = u32::from_be_bytes([sr.2[20], sr.2[21], sr.2[22], sr.2[23]]);
    assert_eq!(packets, rtp, "the report counts what was sent");
}

#[test]
fn keepalives_go_out_within_the_session_timeout_and_a_silent_server_is_left() {
    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.connect(None);
    r.handshake();
    r.events();
    let start = r.now;
    // Session timeout 20 s: a keepalive every 10 s.
    r.advance_to(start + 10 * SECOND);
    let ka = r.request();
    assert_eq!((ka.method.clone(), ka.header("Session")), (Method::Options, Some("4f3a")));
    r.reply(&ka, "200 OK", "");
    r.advance_to(start + 20 * SECOND);
    let ka = r.request();
    assert_eq!(ka.method, Method::Options);
    // No answer: the link is dead after the reply timeout.
    let due = r.p.poll_timeout().expect("reply due");
    r.advance_to(due);
    assert_eq!(r.p.stats().state, PushState::Reconnecting);
    assert_eq!(r.p.stats().last_error, -libc::ETIMEDOUT);
}

#[test]
fn close_tears_down_and_disconnects() {
    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.connect(None);
    r.handshake();
    r.events();
    r.p.close(r.now);
    let td = r.request();
    assert_eq!((td.method.clone(), td.header("Session")), (Method::Teardown, Some("4f3a")));
    r.reply(&td, "200 OK", "");
    assert_eq!(r.events(), [Event::Disconnect, Event::Closed]);
    assert_eq!(r.p.stats().state, PushState::Ready);
    assert_eq!(r.p.poll_timeout(), None);
    // A server that never answers the TEARDOWN: the grace period ends it.
    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.connect(None);
    r.handshake();
    r.events();
    r.p.close(r.now);
    r.request();
    let due = r.p.poll_timeout().expect("grace period");
    r.advance_to(due);
    assert_eq!(r.events(), [Event::Disconnect, Event::Closed]);
}

#[test]
fn requests_from_the_server_and_its_rtcp_are_answered_or_ignored() {
    let mut r = Rig::new(config("rtsp://127.0.0.1/x", Lower::Tcp));
    r.connect(None);
    r.handshake();
    r.events();
    let rr = [b'$', 1, 0, 8, 0x80, 201, 0, 1, 0, 0, 0, 1];
    r.p.handle_input(Input::Received(&rr), r.now);
    r.p.handle_input(Input::Received(b"GET_PARAMETER rtsp://127.0.0.1/x RTSP/1.0\r\nCSeq: 9\r\n\r\n"), r.now);
    let mut parts = Vec::new();
    r.p.poll_transmit(&mut parts, 8);
    let text: Vec<u8> = parts.concat();
    assert!(text.starts_with(b"RTSP/1.0 200 OK\r\nCSeq: 9\r\n"), "{}", String::from_utf8_lossy(&text));
    assert_eq!(r.p.stats().state, PushState::Recording);
}

#[test]
fn hostile_replies_never_panic_and_never_leave_a_past_deadline() {
    let replies: [&[u8]; 7] = [
        b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 99999999\r\n\r\n",
        b"RTSP/1.0 999 What\r\nCSeq: 2\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: \r\n\r\n",
        b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: x\r\nTransport: nonsense\r\n\r\n",
        b"\x00\x01\x02\x03garbage",
        b"$\x00\xff\xff",
        b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm\r\n\r\n",
    ];
    for reply in replies {
        let mut r = Rig::new(config("rtsp://a:b@127.0.0.1/x", Lower::Udp));
        r.connect(Some(6000));
        let opts = r.request();
        r.reply(&opts, "200 OK", "");
        r.request();
        r.p.handle_input(Input::Received(reply), r.now);
        for step in 1..=12 {
            r.advance_to(r.now + step * SECOND);
        }
        let state = r.p.stats().state;
        assert_eq!(state, PushState::Ready, "{}", String::from_utf8_lossy(reply));
    }
}

#[test]
fn audio_is_set_up_on_its_own_channels_and_does_not_wait_for_a_keyframe() {
    let mut cfg = config("rtsp://127.0.0.1/x", Lower::Tcp);
    cfg.audio = Some(AudioCodec::Pcmu);
    let mut r = Rig::new(cfg);
    r.connect(None);
    let reqs = r.handshake();
    let setups: Vec<(&str, Option<&str>)> =
        reqs.iter().filter(|q| q.method == Method::Setup).map(|q| (q.uri.as_str(), q.header("Transport"))).collect();
    assert_eq!(
        setups,
        [
            ("rtsp://127.0.0.1/x/trackID=0", Some("RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")),
            ("rtsp://127.0.0.1/x/trackID=1", Some("RTP/AVP/TCP;unicast;interleaved=2-3;mode=record")),
        ]
    );
    r.p.handle_media(Track::Audio, &[0x7f; 160], 0, r.now).expect("G.711");
    let read = r.read();
    assert_eq!(read.packets.len(), 1);
    assert_eq!((read.packets[0].0, read.packets[0].1.len()), (2, 12 + 160));
    assert!(r.p.need_keyframe(), "video still waits");
}
