//! The whole sans-IO server driven by the fuzzer: up to four connections get
//! arbitrary bytes split at arbitrary points, well-formed requests as players
//! send them (with the session IDs the server handed out, its own and other
//! connections'), interleaved frames; the producer pushes frames; time moves;
//! connections close and reopen; output is written back in pieces of any size.
//! The limits are small (picked by the input) so queues overflow and limits
//! bite; authentication may be on (for `user:pass`, or for nobody).
//!
//! Checked: nothing panics; each connection's output is a sequence of whole
//! RTSP responses and `$` frames holding RTP/RTCP version 2 (a connection the
//! server closed may end inside one, not one still open after a full drain);
//! every datagram goes to the address of a connected peer and is RTP/RTCP
//! version 2; client counts stay within the configured limits; with
//! authentication on and no user, no media, session or body reaches anyone;
//! after the server handles time `t`, its next deadline is later than `t`;
//! the back channel (when the session has one) never holds more than its bound.
#![no_main]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use canmv_rtsp::backchannel;
use canmv_rtsp::net::inbox::Inbox;
use canmv_rtsp::rtsp::auth::Authenticator;
use canmv_rtsp::rtsp::Limits;
use canmv_rtsp::server::{Config, ConnId, Event, Input, Server};
use canmv_rtsp::session::{AudioCodec, SessionOptions, Track, VideoCodec};
use canmv_rtsp_fuzz::{read_messages, Cursor, Message};
use libfuzzer_sys::fuzz_target;

const SLOTS: usize = 4;
const MAX_STEPS: usize = 300;
const SESSION: &str = "cam";
/// A JPEG the MJPEG session can be fed (also a seed of the `jpeg` target).
const JPEG: &[u8] = include_bytes!("../corpus/jpeg/420-dri.jpg");

/// The server's generator gets the same seed for every input, so a crash reproduces.
const SEED: [u8; 32] = [0x42; 32];

struct Slot {
    /// The server's id while open.
    id: Option<ConnId>,
    open: bool,
    peer: SocketAddr,
    /// What the server wrote to this connection that is not read yet.
    received: Vec<u8>,
    cseq: u32,
    /// Session IDs the server gave this connection.
    sessions: Vec<String>,
    /// Authentication lets nobody in: no media, no session may reach this peer.
    locked: bool,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let codec = [VideoCodec::H264, VideoCodec::H265, VideoCodec::Mjpeg][usize::from(input.byte() % 3)];
    let audio = [None, Some(AudioCodec::Pcmu), Some(AudioCodec::Pcma)][usize::from(input.byte() % 3)];
    let backchannel = [None, Some(AudioCodec::Pcmu), Some(AudioCodec::Pcma)][usize::from(input.byte() % 3)];
    let options = SessionOptions { backchannel, ..SessionOptions::default() };
    let (config, auth) = small_config(&mut input);
    let (max_clients, per_session) = (config.max_clients, config.max_clients_per_session);
    let mut server = Server::new(config, SEED);
    // Producer calls take the runtime's path: checked and queued by the inbox.
    let mut inbox = Inbox::default();
    let locked = auth == Auth::Locked;
    match auth {
        Auth::Off => {}
        // No user at all: whatever a request carries, nobody gets in.
        Auth::Locked => server.set_auth(Some(Authenticator::new("canmv", &[], true))),
        Auth::User => server.set_auth(Some(Authenticator::new("canmv", &[("user", "pass")], true))),
    }
    server.set_udp_ports(6970);
    let _ = server.create_session(SESSION, codec, audio, options);

    let mut peers: BTreeSet<IpAddr> = BTreeSet::new();
    let mut slots: Vec<Slot> = (0..SLOTS)
        .map(|i| {
            let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i as u8)), 40000 + i as u16);
            Slot { id: None, open: false, peer, received: Vec::new(), cseq: 0, sessions: Vec::new(), locked }
        })
        .collect();
    let mut now: u64 = 1_000_000;
    let mut frame_no: u64 = 0;
    open(&mut server, &mut slots[0], &mut peers, now);

    for _ in 0..MAX_STEPS {
        if input.is_empty() {
            break;
        }
        let op = input.byte();
        let s = usize::from(op >> 4) % SLOTS;
        now += 1_000;
        match op & 0x0f {
            // Raw bytes, in two pieces.
            0 | 1 => {
                let n = usize::from(input.byte());
                let bytes = input.take(n);
                let cut = usize::from(input.byte()).min(bytes.len());
                receive(&mut server, &slots[s], &bytes[..cut], now);
                receive(&mut server, &slots[s], &bytes[cut..], now);
            }
            // A request as a player sends it, split at a point the input picks.
            2 | 3 => {
                let kind = input.byte();
                let foreign = usize::from(input.byte()) % SLOTS;
                let sid = slots[foreign].sessions.last().cloned();
                slots[s].cseq += 1;
                let text = request(kind, slots[s].cseq, sid.as_deref(), auth != Auth::Off);
                let cut = usize::from(input.byte()) % (text.len() + 1);
                receive(&mut server, &slots[s], &text.as_bytes()[..cut], now);
                receive(&mut server, &slots[s], &text.as_bytes()[cut..], now);
            }
            4 => {
                frame_no += 1;
                let size = usize::from(input.byte()) * 24;
                let frame = video_frame(codec, input.byte(), size);
                push(&mut server, &mut inbox, Track::Video, &frame, frame_no * 33_333, now);
            }
            5 => {
                let n = usize::from(input.byte());
                push(&mut server, &mut inbox, Track::Video, input.take(n), frame_no * 33_333, now);
            }
            6 => {
                let n = usize::from(input.byte()) * 4;
                push(&mut server, &mut inbox, Track::Audio, &vec![0xd5; n], frame_no * 33_333, now);
            }
            7 => {
                now += u64::from(input.byte()) * 100_000;
                server.handle_timeout(now);
                // A deadline left in the past would spin the loop thread.
                let next = server.poll_timeout();
                assert!(next.is_none_or(|t| t > now), "after handle_timeout({now}) the next deadline is {next:?}");
            }
            8 => {
                let max_parts = 1 + usize::from(input.byte() % 8);
                let budget = usize::from(input.u16());
                drain(&mut server, &mut slots[s], max_parts, budget);
            }
            9 => drain_all(&mut server, &mut slots),
            10 => {
                if slots[s].open {
                    if let Some(conn) = slots[s].id.take() {
                        server.handle_input(Input::Closed { conn }, now);
                    }
                    slots[s].open = false;
                } else {
                    open(&mut server, &mut slots[s], &mut peers, now);
                }
            }
            11 => finish(&mut server, &mut slots),
            12 => {
                // RTCP to the RTCP socket, or RTP (back-channel audio) to the RTP socket.
                let n = usize::from(input.byte());
                let which = input.byte();
                let from = SocketAddr::new(slots[s].peer.ip(), 5000 + u16::from(which % 8));
                let mut data = input.take(n).to_vec();
                if which & 0x40 != 0 {
                    // A well-formed G.711 RTP header in front: the back channel's path past the parser.
                    let (seq, pt) = (input.u16().to_be_bytes(), if which & 0x20 != 0 { 8 } else { 0 });
                    data.splice(0..0, [0x80, pt, seq[0], seq[1], 0, 0, seq[0], 0, 0, 0, 0, 7]);
                }
                let data = &data[..];
                if which & 0x80 == 0 {
                    server.handle_input(Input::Rtcp { from, data }, now);
                } else {
                    server.handle_input(Input::Rtp { from, data }, now);
                }
                let mut heard = vec![0u8; backchannel::CAPACITY + 1];
                if let Ok(n) = server.recv_backchannel(SESSION, &mut heard[..(backchannel::CAPACITY + 1) * usize::from(which % 4) / 3]) {
                    assert!(n <= backchannel::CAPACITY, "the back channel gave {n} bytes at once");
                }
            }
            13 => {
                let channel = input.byte();
                let n = input.byte();
                let mut frame = vec![b'$', channel, 0, n];
                frame.extend_from_slice(input.take(usize::from(n)));
                receive(&mut server, &slots[s], &frame, now);
            }
            14 => check_datagrams(&mut server, &peers, locked),
            _ => {
                if input.byte() & 1 == 0 {
                    server.destroy_session(SESSION);
                } else {
                    let _ = server.create_session(SESSION, codec, audio, options);
                }
            }
        }
        if let Some(st) = server.stats(None) {
            assert!(st.clients as usize <= max_clients, "{} clients, limit {max_clients}", st.clients);
        }
        if let Some(st) = server.stats(Some(SESSION)) {
            assert!(st.clients as usize <= per_session, "{} clients in a session, limit {per_session}", st.clients);
        }
    }

    // Let every connection drain fully, then read what each received.
    for _ in 0..4 {
        drain_all(&mut server, &mut slots);
        finish(&mut server, &mut slots);
    }
    check_datagrams(&mut server, &peers, locked);
    for slot in &mut slots {
        read_new(slot);
        if slot.open {
            assert!(slot.received.is_empty(), "connection {:?} drained, but its output ends inside a message", slot.id);
        }
    }
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Off,
    /// Authentication on with no user: only OPTIONS may succeed.
    Locked,
    /// Authentication on for `user:pass`, which the canned requests send (Basic).
    User,
}

fn small_config(input: &mut Cursor<'_>) -> (Config, Auth) {
    let mut config = Config::default();
    let knobs = input.byte();
    if knobs & 1 != 0 {
        config.max_queued_bytes = 512 + usize::from(input.byte()) * 64;
    }
    if knobs & 2 != 0 {
        config.limits = Limits {
            max_head: 64 + usize::from(input.byte()) * 8,
            max_body: usize::from(input.byte()),
            max_headers: 1 + usize::from(input.byte() % 16),
        };
    }
    if knobs & 4 != 0 {
        config.max_connections = 1 + usize::from(input.byte() % SLOTS as u8);
        config.max_clients = 1 + usize::from(input.byte() % 4);
        config.max_clients_per_session = 1 + usize::from(input.byte() % 4);
    }
    if knobs & 8 != 0 {
        config.session_timeout_s = 1 + u32::from(input.byte() % 8);
        config.stuck_timeout_us = 100_000 * (1 + u64::from(input.byte()));
        config.sender_report_interval_us = 100_000 * (1 + u64::from(input.byte()));
    }
    config.tcp_only = knobs & 16 != 0;
    let auth = match (knobs >> 5) & 3 {
        1 => Auth::Locked,
        2 => Auth::User,
        _ => Auth::Off,
    };
    (config, auth)
}

fn open(server: &mut Server, slot: &mut Slot, peers: &mut BTreeSet<IpAddr>, now: u64) {
    slot.open = true;
    slot.received.clear();
    slot.sessions.clear();
    peers.insert(slot.peer.ip());
    slot.id = Some(server.handle_accept(slot.peer, SocketAddr::from((Ipv4Addr::LOCALHOST, 8554)), now));
}

/// Bytes from the peer, while its connection is open.
fn receive(server: &mut Server, slot: &Slot, data: &[u8], now: u64) {
    if let Some(conn) = slot.id {
        server.handle_input(Input::Received { conn, data }, now);
    }
}

/// A producer call as the runtime makes it: the inbox checks and queues it, the core takes it.
fn push(server: &mut Server, inbox: &mut Inbox, track: Track, data: &[u8], ts: u64, now: u64) {
    inbox.directory.sync(server);
    if inbox.accept(SESSION, track, data, ts, now).is_ok() {
        let calls = inbox.take();
        for call in &calls {
            server.handle_media(call);
        }
        inbox.recycle(calls);
    }
}

/// Writes up to `budget` bytes of the connection's output, as a socket would.
fn drain(server: &mut Server, slot: &mut Slot, max_parts: usize, budget: usize) {
    let Some(conn) = slot.id.filter(|_| slot.open) else { return };
    let mut parts = Vec::new();
    server.poll_transmit(conn, &mut parts, max_parts);
    let mut written = 0;
    for part in parts {
        let n = part.len().min(budget - written);
        slot.received.extend_from_slice(&part[..n]);
        written += n;
        if written == budget {
            break;
        }
    }
    server.handle_input(Input::Written { conn, bytes: written }, 0);
    read_new(slot);
}

fn drain_all(server: &mut Server, slots: &mut [Slot]) {
    for slot in slots.iter_mut() {
        // Bounded: each round writes at least one chunk while there is output.
        for _ in 0..10_000 {
            if !slot.open || !slot.id.is_some_and(|c| server.interest(c).write) {
                break;
            }
            drain(server, slot, 64, usize::MAX);
        }
    }
}

fn finish(server: &mut Server, slots: &mut [Slot]) {
    while let Some(Event::Close(id)) = server.poll_event() {
        let slot = slots.iter_mut().find(|s| s.open && s.id == Some(id));
        let slot = slot.unwrap_or_else(|| panic!("a close for {id:?}, which is not an open connection"));
        slot.open = false;
        slot.id = None;
    }
}

/// Reads the whole messages received since last time (the output must be
/// nothing else) and remembers the Session IDs they give, for later requests.
/// Only the start of an unfinished message is kept in `received`.
fn read_new(slot: &mut Slot) {
    let locked = slot.locked;
    let (messages, left) = read_messages(&slot.received).unwrap_or_else(|e| panic!("connection {:?}: {e}", slot.id));
    slot.received.drain(..slot.received.len() - left);
    for m in &messages {
        match m {
            Message::Interleaved { data, .. } => {
                assert!(data.first().is_some_and(|b| b >> 6 == 2), "interleaved frame that is not RTP/RTCP v2");
                assert!(!locked, "media sent while authentication lets nobody in");
            }
            Message::Response { status, body, .. } => {
                if locked && *status < 300 {
                    assert!(
                        body.is_empty() && m.header("Session").is_none(),
                        "{status} with a session or a body to a stranger"
                    );
                }
            }
        }
        if let Some(value) = m.header("Session") {
            let id = value.split(';').next().unwrap_or("").trim().to_string();
            if !slot.sessions.contains(&id) {
                slot.sessions.push(id);
            }
        }
    }
    if slot.sessions.len() > 8 {
        slot.sessions.drain(..slot.sessions.len() - 8);
    }
}

fn check_datagrams(server: &mut Server, peers: &BTreeSet<IpAddr>, locked: bool) {
    loop {
        let mut parts: [&[u8]; 8] = [&[]; 8];
        let Some(run) = server.poll_datagrams(&mut parts) else { break };
        assert!(!locked, "datagram sent while authentication lets nobody in");
        assert!(peers.contains(&run.to.ip()), "datagram to {}, which no RTSP peer is (reflection)", run.to);
        assert_ne!(run.to.port(), 0, "datagram to port 0");
        assert!((1..=parts.len()).contains(&run.count), "a run of {} datagrams", run.count);
        for (i, bytes) in parts[..run.count].iter().enumerate() {
            assert!(bytes.len() >= 8 && bytes[0] >> 6 == 2, "datagram that is not RTP/RTCP v2: {bytes:02x?}");
            let last = i + 1 == run.count;
            assert!(bytes.len() == run.segment_size || (last && bytes.len() < run.segment_size), "segment sizes");
        }
        server.handle_input(Input::DatagramsSent { count: run.count }, 0);
    }
}

/// What ffmpeg, GStreamer and VLC send, one of them picked by `kind`.
fn request(kind: u8, cseq: u32, session: Option<&str>, credentials: bool) -> String {
    let url = "rtsp://127.0.0.1:8554/cam";
    let session_line = session.map(|s| format!("Session: {s}\r\n")).unwrap_or_default();
    let (line, extra) = match kind % 15 {
        0 => (format!("OPTIONS {url} RTSP/1.0"), "User-Agent: Lavf60.16.100\r\n".to_string()),
        1 => (format!("DESCRIBE {url} RTSP/1.0"), "Accept: application/sdp\r\n".to_string()),
        2 => (
            format!("SETUP {url}/trackID=0 RTSP/1.0"),
            format!("Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n{session_line}"),
        ),
        3 => (
            format!("SETUP {url}/trackID=1 RTSP/1.0"),
            format!("Transport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n{session_line}"),
        ),
        4 => (
            format!("SETUP {url}/trackID=0 RTSP/1.0"),
            format!("Transport: RTP/AVP;unicast;client_port=5000-5001\r\n{session_line}"),
        ),
        5 => (
            format!("SETUP {url}/trackID=1 RTSP/1.0"),
            format!("Transport: RTP/AVP;unicast;client_port=5002-5003\r\n{session_line}"),
        ),
        // Reflection attempt: RTP to a host that is not the peer.
        6 => (
            format!("SETUP {url}/trackID=0 RTSP/1.0"),
            format!("Transport: RTP/AVP;unicast;destination=127.0.0.200;client_port=5000-5001\r\n{session_line}"),
        ),
        7 => (format!("PLAY {url}/ RTSP/1.0"), format!("Range: npt=0.000-\r\n{session_line}")),
        8 => (format!("PAUSE {url}/ RTSP/1.0"), session_line),
        9 => (format!("TEARDOWN {url}/ RTSP/1.0"), session_line),
        10 => (format!("GET_PARAMETER {url}/ RTSP/1.0"), session_line),
        // ONVIF's back channel: asked for, set up over TCP and over UDP.
        12 => (format!("DESCRIBE {url} RTSP/1.0"), "Require: www.onvif.org/ver20/backchannel\r\n".to_string()),
        13 => (
            format!("SETUP {url}/trackID=2 RTSP/1.0"),
            format!("Transport: RTP/AVP/TCP;unicast;interleaved=4-5\r\n{session_line}"),
        ),
        11 => (
            format!("SET_PARAMETER {url} RTSP/1.0"),
            format!("Content-Type: text/parameters\r\nContent-Length: 10\r\n{session_line}"),
        ),
        _ => (
            format!("SETUP {url}/trackID=2 RTSP/1.0"),
            format!("Transport: RTP/AVP;unicast;client_port=5004-5005\r\n{session_line}"),
        ),
    };
    let body = if kind % 15 == 11 { "ping: 1\r\n\r\n" } else { "" };
    let body = &body[..body.len().min(10)];
    // `user:pass`, as ffmpeg sends it for rtsp://user:pass@host/ after a 401 offering Basic.
    let authorization = if credentials { "Authorization: Basic dXNlcjpwYXNz\r\n" } else { "" };
    format!("{line}\r\nCSeq: {cseq}\r\n{authorization}{extra}\r\n{body}")
}

/// A frame the session can packetize: parameter sets and a keyframe, or a
/// predicted picture (H.264/H.265 NAL units with `size` bytes of slice data),
/// or a JPEG.
fn video_frame(codec: VideoCodec, kind: u8, size: usize) -> Vec<u8> {
    let keyframe = kind & 1 == 0;
    let mut out = Vec::new();
    let mut nal = |header: &[u8], len: usize| {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(header);
        // 0xAA: no start code can appear in the slice bytes.
        out.extend(std::iter::repeat_n(0xaa, len));
    };
    match codec {
        VideoCodec::H264 if keyframe => {
            nal(&[0x67, 0x42, 0xc0, 0x1e], 8);
            nal(&[0x68, 0xce, 0x3c, 0x80], 0);
            nal(&[0x65, 0x88], size);
        }
        VideoCodec::H264 => nal(&[0x41, 0x9a], size),
        VideoCodec::H265 if keyframe => {
            nal(&[0x40, 0x01, 0x0c], 8);
            nal(&[0x42, 0x01, 0x01], 8);
            nal(&[0x44, 0x01, 0xc1], 4);
            nal(&[0x26, 0x01, 0xaf], size);
        }
        VideoCodec::H265 => nal(&[0x02, 0x01, 0xd0], size),
        VideoCodec::Mjpeg => out.extend_from_slice(JPEG),
    }
    out
}
