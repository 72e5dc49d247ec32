//! The sans-IO pusher (`client::Pusher`) driven by the fuzzer as a hostile
//! receiving server would drive it: after `open` and the connection, the input
//! is arbitrary server bytes cut into pieces, replies shaped like a server's
//! (to the request the pusher last sent, or with another CSeq: 200 with a
//! session and transport, 401 with a Digest or Basic challenge, 454, 404,
//! requests of the server's own) also cut anywhere, interleaved with H.264
//! access units and G.711 audio pushed by the script, the output taken in
//! pieces of any size (or not at all), time passing, the connection closing
//! or failing to connect, reconnections, `close` and `open` again.
//!
//! Checked after every step: nothing panics; the next deadline is later than
//! the last time given to `handle_timeout` (a deadline in the past spins the
//! loop thread); server bytes arrive only while the pusher wants to read, as
//! the runtime polls; the bytes queued for the connection stay within
//! `queue_bytes` + one frame + `CONTROL_BYTES` (the queue bound the script
//! sets, a frame larger than the whole queue still going alone); the output
//! is whole RTSP requests, replies to the server's requests and `$` frames of
//! RTP/RTCP version 2, on a connection that was not torn down mid-message;
//! datagrams go to the server's address and are RTP/RTCP version 2.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use canmv_rtsp::client::{Event, Input, PushConfig, Pusher};
use canmv_rtsp::rtsp::url::parse_push_url;
use canmv_rtsp::rtsp::{parse_input, Input as Parsed, Limits, Lower, Method};
use canmv_rtsp::session::{AudioCodec, Track, VideoCodec};
use canmv_rtsp_fuzz::Cursor;
use libfuzzer_sys::fuzz_target;

const MAX_STEPS: usize = 300;
const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8554);
const SEED: [u8; 32] = [0x5a; 32];
/// Requests and other control bytes that may be queued besides media: the
/// handshake request in flight (ANNOUNCE with its SDP, under 1 KB, plus a
/// Digest `Authorization` of a few hundred bytes), a TEARDOWN queued behind
/// it by `close`, a keepalive, RTCP sender reports (two tracks, under 100
/// bytes each, every 5 s) and the pusher's replies to the server's own
/// requests (about 60 bytes each). 8 KB is several times all of that; what
/// goes past it grows with what the server sends or with time, without bound.
const CONTROL_BYTES: usize = 8 * 1024;
const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

struct Server {
    /// What the pusher wrote on the current connection and is not read yet.
    wire: Vec<u8>,
    /// Method and CSeq of the last request read from the pusher.
    last: Option<(Method, u32)>,
    /// The pusher asked for a connection and has no answer yet.
    connect_pending: bool,
    /// There is a connection (answered with `handle_connected`).
    connected: bool,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let knobs = input.byte();
    let lower = if knobs & 1 != 0 { Lower::Udp } else { Lower::Tcp };
    let audio = [None, Some(AudioCodec::Pcmu), Some(AudioCodec::Pcma)][usize::from((knobs >> 1) % 3)];
    let url = if knobs & 8 != 0 { "rtsp://user:pass@127.0.0.1:8554/live/cam" } else { "rtsp://127.0.0.1:8554/live/cam" };
    // Connections are answered at once unless the input takes its time.
    let answer_at_once = knobs & 16 == 0;
    let queue_bytes = 512 + usize::from(input.byte()) * 64;
    let open_timeout_us = 100_000 * (1 + u64::from(input.byte() % 64));
    let config = PushConfig {
        url: parse_push_url(url).expect("URL"),
        lower,
        codec: VideoCodec::H264,
        audio,
        open_timeout_us,
        queue_bytes,
    };
    let mut p = Pusher::new(config, SEED);
    let mut sets = SPS.to_vec();
    sets.splice(0..0, [0, 0, 0, 1]);
    sets.extend_from_slice(&[0, 0, 0, 1]);
    sets.extend_from_slice(PPS);
    if knobs & 32 != 0 {
        assert!(p.learn_parameter_sets(&sets));
    }

    let mut server = Server { wire: Vec::new(), last: None, connect_pending: false, connected: false };
    let mut now: u64 = 1_000_000;
    let mut last_timeout: u64 = 0;
    let mut frame_no: u64 = 0;
    // The largest frame (as interleaved bytes, bounded from its size) pushed so far.
    let mut largest_frame: usize = 0;
    p.open(PEER, now);
    events(&mut p, &mut server, lower, answer_at_once, now);

    for _ in 0..MAX_STEPS {
        if input.is_empty() {
            break;
        }
        let op = input.byte();
        now += 1_000;
        match op % 16 {
            // Arbitrary server bytes, in two pieces (a repeated piece when the top bit is set).
            0 | 1 => {
                let n = usize::from(input.byte());
                let mut bytes = input.take(n).to_vec();
                if op & 0x80 != 0 {
                    bytes = bytes.repeat(1 + usize::from(input.byte()));
                }
                let cut = usize::from(input.u16()).min(bytes.len());
                receive(&mut p, &bytes[..cut], now);
                receive(&mut p, &bytes[cut..], now);
            }
            // A reply as a server writes it (or several), cut at a point the input picks.
            2..=4 => {
                let kind = input.byte();
                let extra = input.byte();
                let text = reply(&server, kind, extra, lower).repeat(if op & 0x80 != 0 { 1 + usize::from(extra % 64) } else { 1 });
                let cut = usize::from(input.u16()) % (text.len() + 1);
                receive(&mut p, &text[..cut], now);
                receive(&mut p, &text[cut..], now);
            }
            // A keyframe (with its parameter sets unless the header gave them) or a P frame.
            5 | 6 => {
                frame_no += 1;
                let size = usize::from(input.byte()) * 32;
                let keyframe = input.byte() & 3 == 0;
                let au = access_unit(keyframe, size, knobs & 32 == 0);
                // FU-A: 4 + 12 + 2 bytes per packet of at most ~1400 payload bytes.
                largest_frame = largest_frame.max(au.len() + 18 * (au.len() / 1000 + 2) + sets.len());
                let _ = p.handle_media(Track::Video, &au, frame_no * 33_333, now);
            }
            7 => {
                let n = 1 + usize::from(input.byte()) * 4;
                largest_frame = largest_frame.max(n + 16);
                let _ = p.handle_media(Track::Audio, &vec![0xd5; n], frame_no * 33_333, now);
            }
            // The server reads some of what the pusher wrote.
            8 => {
                let max_parts = 1 + usize::from(input.byte() % 8);
                let budget = usize::from(input.u16());
                write(&mut p, &mut server, max_parts, budget, now);
            }
            9 => {
                for _ in 0..1_000 {
                    if !p.interest().write {
                        break;
                    }
                    write(&mut p, &mut server, 64, usize::MAX, now);
                }
            }
            10 => {
                now += u64::from(input.byte()) * 50_000 + if op & 0x80 != 0 { 5_000_000 } else { 0 };
                p.handle_timeout(now);
                last_timeout = now;
            }
            11 => match input.byte() % 4 {
                0 => p.handle_input(Input::Closed, now),
                1 => p.handle_connect_failed(-111, now), // -ECONNREFUSED
                2 if server.connect_pending => {
                    server.connect_pending = false;
                    server.connected = true;
                    p.handle_connected((lower == Lower::Udp).then_some(5000), now);
                }
                _ => p.handle_connected(Some(5002), now),
            },
            12 => p.close(now),
            13 => p.open(PEER, now),
            14 => {
                let mut parts = 0;
                while let Some((to, _rtcp, bytes)) = p.poll_datagram() {
                    assert_eq!(to.ip(), PEER.ip(), "a datagram to {to}, not to the server");
                    assert!(bytes.len() >= 8 && bytes[0] >> 6 == 2, "datagram that is not RTP/RTCP v2");
                    parts += 1;
                    assert!(parts < 100_000, "datagrams without end");
                }
            }
            _ => match input.byte() % 4 {
                0 => {
                    let n = usize::from(input.byte());
                    let _ = p.handle_media(Track::Video, input.take(n), frame_no * 33_333, now);
                }
                1 => p.handle_overflow(1 + u64::from(input.byte() % 4)),
                2 => {
                    let n = usize::from(input.byte());
                    let _ = p.learn_parameter_sets(input.take(n));
                }
                _ => p.set_wall_clock(now, 1_700_000_000_000_000 + now),
            },
        }
        events(&mut p, &mut server, lower, answer_at_once, now);
        let _ = p.stats();
        let next = p.poll_timeout();
        assert!(
            next.is_none_or(|t| t > last_timeout),
            "after handle_timeout({last_timeout}) the next deadline is {next:?} (op {op})"
        );
        let mut parts = Vec::new();
        p.poll_transmit(&mut parts, usize::MAX);
        let queued: usize = parts.iter().map(|s| s.len()).sum();
        let bound = queue_bytes + largest_frame + CONTROL_BYTES;
        if queued > bound {
            let heads: Vec<String> = parts.iter().map(|s| format!("{}:{:?}", s.len(), String::from_utf8_lossy(&s[..s.len().min(12)]))).collect();
            panic!("{queued} bytes queued for the link, over queue_bytes {queue_bytes} + frame {largest_frame} + {CONTROL_BYTES}: {heads:?}");
        }
    }
});

/// Bytes from the server, read as the runtime reads them: while the pusher
/// wants to read (`interest().read` off for a full queue holds the server back).
fn receive(p: &mut Pusher, data: &[u8], now: u64) {
    if p.interest().read {
        p.handle_input(Input::Received(data), now);
    }
}

/// Acts on the pusher's events as the runtime does.
fn events(p: &mut Pusher, server: &mut Server, lower: Lower, answer_at_once: bool, now: u64) {
    for _ in 0..16 {
        let Some(ev) = p.poll_event() else { return };
        match ev {
            Event::Connect(to) => {
                assert_eq!(to, PEER);
                server.wire.clear();
                server.last = None;
                server.connected = false;
                server.connect_pending = true;
                if answer_at_once {
                    server.connect_pending = false;
                    server.connected = true;
                    p.handle_connected((lower == Lower::Udp).then_some(5000), now);
                }
            }
            Event::Disconnect => {
                // What was written is read to the end: a torn-down link may stop inside a message.
                read_wire(server);
                server.wire.clear();
                server.connected = false;
                server.connect_pending = false;
            }
            Event::Opened(r) => assert!(r <= 0, "Opened({r})"),
            Event::Closed => {}
        }
    }
    panic!("16 events in a row");
}

/// The server takes up to `budget` bytes of the pusher's output.
fn write(p: &mut Pusher, server: &mut Server, max_parts: usize, budget: usize, now: u64) {
    let mut parts = Vec::new();
    p.poll_transmit(&mut parts, max_parts);
    if parts.is_empty() {
        return;
    }
    let mut written = 0;
    for part in &parts {
        let n = part.len().min(budget - written);
        server.wire.extend_from_slice(&part[..n]);
        written += n;
        if written == budget {
            break;
        }
    }
    p.handle_input(Input::Written(written), now);
    read_wire(server);
}

/// Reads the whole messages on the wire: requests (the last one remembered),
/// the pusher's replies to the server's requests, `$` frames of RTP/RTCP v2.
fn read_wire(server: &mut Server) {
    let limits = Limits { max_head: 1 << 20, max_body: 1 << 20, max_headers: 1024 };
    loop {
        if server.wire.starts_with(b"RTSP/1.0 ") || b"RTSP/1.0 ".starts_with(&server.wire) && !server.wire.is_empty() {
            let Some(end) = server.wire.windows(4).position(|w| w == b"\r\n\r\n") else { return };
            let head = String::from_utf8_lossy(&server.wire[..end]).into_owned();
            assert!(head.starts_with("RTSP/1.0 200 OK\r\n") || head.starts_with("RTSP/1.0 501 Not Implemented\r\n"), "{head:?}");
            server.wire.drain(..end + 4);
            continue;
        }
        match parse_input(&server.wire, &limits) {
            Ok(Some((Parsed::Request(req), used))) => {
                let cseq = req.header("CSeq").and_then(|c| c.parse::<u32>().ok()).expect("a request without a CSeq");
                server.last = Some((req.method.clone(), cseq));
                server.wire.drain(..used);
            }
            Ok(Some((Parsed::Interleaved { data, .. }, used))) => {
                assert!(data.len() >= 8 && data[0] >> 6 == 2, "interleaved frame that is not RTP/RTCP v2");
                server.wire.drain(..used);
            }
            Ok(None) => return,
            Err(e) => panic!("the pusher wrote something that is not RTSP: {e:?} at {:?}", String::from_utf8_lossy(&server.wire[..server.wire.len().min(64)])),
        }
    }
}

/// A server's reply to the last request read (or a request of its own), picked by `kind`.
fn reply(server: &Server, kind: u8, extra: u8, lower: Lower) -> Vec<u8> {
    let (method, cseq) = server.last.clone().unwrap_or((Method::Options, 1));
    // Sometimes an older or a wrong CSeq.
    let cseq = match extra % 8 {
        0 => cseq.wrapping_sub(1),
        1 => cseq + 7,
        _ => cseq,
    };
    let timeout = match extra >> 4 {
        0 => String::new(),
        t => format!(";timeout={}", t * 4),
    };
    let session = format!("Session: 7bd1c5a1{timeout}\r\n");
    let text = match kind % 12 {
        0..=3 => match method {
            Method::Setup => {
                let transport = match lower {
                    Lower::Tcp if extra & 8 != 0 => "RTP/AVP/TCP;unicast;interleaved=6-7;mode=record".to_string(),
                    Lower::Tcp => "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record".to_string(),
                    Lower::Udp => "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;mode=record".to_string(),
                };
                format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nTransport: {transport}\r\n{session}\r\n")
            }
            Method::Options => {
                format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, ANNOUNCE, SETUP, RECORD, TEARDOWN\r\n\r\n")
            }
            _ => format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{session}\r\n"),
        },
        4 => format!(
            "RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: Digest realm=\"m\", nonce=\"{:02x}abc\"{}\r\n\r\n",
            extra,
            if extra & 1 != 0 { ", stale=TRUE" } else { "" }
        ),
        5 => format!(
            "RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: Digest realm=\"m\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\"\r\nWWW-Authenticate: Basic realm=\"m\"\r\n\r\n"
        ),
        6 => format!("RTSP/1.0 454 Session Not Found\r\nCSeq: {cseq}\r\n\r\n"),
        7 => format!("RTSP/1.0 404 Not Found\r\nCSeq: {cseq}\r\n\r\n"),
        8 => format!("OPTIONS rtsp://127.0.0.1:8554/live/cam RTSP/1.0\r\nCSeq: {}\r\n\r\n", extra),
        9 => format!("GET_PARAMETER * RTSP/1.0\r\nCSeq: {}\r\nContent-Length: 2\r\n\r\nab", extra),
        10 => format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: {}\r\n\r\n{}", extra, "x".repeat(usize::from(extra))),
        _ => {
            // An RTCP receiver report in a `$` frame.
            let mut frame = vec![b'$', extra % 8, 0, 8, 0x80, 0xc9, 0, 1, 0, 0, 0, 1];
            frame.truncate(4 + 8);
            return frame;
        }
    };
    text.into_bytes()
}

/// An H.264 access unit: parameter sets (when `with_sets`) and an IDR, or a P slice; `size` bytes of slice data.
fn access_unit(keyframe: bool, size: usize, with_sets: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut nal = |bytes: &[u8], len: usize| {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(bytes);
        // 0xAA: no start code can appear in the slice bytes.
        out.extend(std::iter::repeat_n(0xaa, len));
    };
    if keyframe {
        if with_sets {
            nal(SPS, 0);
            nal(PPS, 0);
        }
        nal(&[0x65, 0x88], size);
    } else {
        nal(&[0x41, 0x9a], size);
    }
    out
}
