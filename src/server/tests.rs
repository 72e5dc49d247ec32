//! The RTSP server driven with bytes and time only: requests go in as bytes,
//! replies and RTP come out as bytes, time is a number. Every expected value
//! comes from RFC 2326 (RTSP 1.0), RFC 6184 (H.264 over RTP), RFC 3550 (RTP)
//! or API.md, never from the server's own output.

use super::*;
use crate::net::inbox::{Inbox, Refusal};
use crate::rtsp::auth::Authenticator;
use crate::session::VideoCodec;
use crate::test_media::{annexb, idr, p_slice, slice, AUD, FRAME_US, PPS, SPS, SPS_MAIN};
use rtp_rs::RtpReader;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

mod backchannel;

// ---------------------------------------------------------------- the rig

const LOCAL: &str = "127.0.0.1:8554";
const URL: &str = "rtsp://127.0.0.1:8554/test";
const SERVER_RTP_PORT: u16 = 6970;

/// Different bytes on every call (splitmix64 over a shared counter), like OS entropy.
fn test_random(buf: &mut [u8]) {
    static STATE: AtomicU64 = AtomicU64::new(0x5eed);
    for chunk in buf.chunks_mut(8) {
        let mut z = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let n = chunk.len();
        chunk.copy_from_slice(&z.to_le_bytes()[..n]);
    }
}

/// All ones: sequence numbers start at 65535 and the RTP clock at 2^32-1, so both wrap at once.
fn random_all_ones(buf: &mut [u8]) {
    buf.fill(0xff);
}

/// A test's own number for a connection (the core's `ConnId`s are its own).
type Tid = u64;

/// The test generators as the server's `RngCore`.
struct FnRng(fn(&mut [u8]));

impl RngCore for FnRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        (self.0)(&mut b);
        u32::from_ne_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        (self.0)(&mut b);
        u64::from_ne_bytes(b)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        (self.0)(dst)
    }
}

fn peer(id: Tid) -> SocketAddr {
    SocketAddr::new("127.0.0.1".parse().unwrap(), 40_000 + id as u16)
}

#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The session id of the `Session:` header (RFC 2326 12.37: `id;timeout=n`).
    fn session(&self) -> String {
        let value = self.header("Session").unwrap_or_else(|| panic!("no Session in {self:?}"));
        value.split(';').next().unwrap().trim().to_string()
    }
}

#[derive(Debug)]
enum Out {
    Reply(Reply),
    Frame { channel: u8, data: Vec<u8> },
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits a connection's output into RTSP responses and `$` interleaved frames (RFC 2326 10.12).
fn parse_outputs(mut rest: &[u8]) -> Vec<Out> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest[0] == b'$' {
            assert!(rest.len() >= 4, "truncated interleaved header");
            let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
            assert!(rest.len() >= 4 + len, "truncated interleaved frame");
            out.push(Out::Frame { channel: rest[1], data: rest[4..4 + len].to_vec() });
            rest = &rest[4 + len..];
            continue;
        }
        let end =
            find(rest, b"\r\n\r\n").unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(rest)));
        let head = std::str::from_utf8(&rest[..end]).expect("response head is text");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("RTSP/1.0"), "{status_line}");
        let status: u16 = parts.next().unwrap().parse().unwrap();
        assert!(parts.next().is_some_and(|reason| !reason.is_empty()), "reason phrase in {status_line}");
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap_or_else(|| panic!("bad header line {l:?}"));
                (k.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
            .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
        let body = rest[end + 4..end + 4 + len].to_vec();
        rest = &rest[end + 4 + len..];
        out.push(Out::Reply(Reply { status, headers, body }));
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
struct Pkt {
    seq: u16,
    ts: u32,
    marker: bool,
    pt: u8,
    ssrc: u32,
    payload: Vec<u8>,
}

fn rtp(bytes: &[u8]) -> Pkt {
    let r = RtpReader::new(bytes).unwrap_or_else(|e| panic!("not RTP: {e:?}"));
    assert_eq!(r.version(), 2);
    assert_eq!(r.csrc_count(), 0);
    Pkt {
        seq: u16::from(r.sequence_number()),
        ts: r.timestamp(),
        marker: r.mark(),
        pt: r.payload_type(),
        ssrc: r.ssrc(),
        payload: r.payload().to_vec(),
    }
}

/// Where an RTCP packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RtcpTo {
    Channel(Tid, u8),
    Udp(SocketAddr),
}

fn is_rtcp(data: &[u8]) -> bool {
    data.len() >= 8 && (200..=204).contains(&data[1])
}

struct Rig {
    s: Server,
    now: u64,
    script_ts: u64,
    cseq: u32,
    /// Interleaved frames received per connection, in order.
    frames: BTreeMap<Tid, Vec<(u8, Vec<u8>)>>,
    /// RTP datagrams sent, in order: destination, RTCP flag (always false here) and bytes.
    datagrams: Vec<(SocketAddr, bool, Vec<u8>)>,
    /// RTCP sent, in order, on interleaved channels or as datagrams: where to and bytes.
    rtcp: Vec<(RtcpTo, Vec<u8>)>,
    /// Connections whose output nobody reads (a stalled TCP peer).
    stalled: BTreeSet<Tid>,
    /// Access units pushed, as NAL units.
    sent: Vec<Vec<Vec<u8>>>,
    /// The core's id of each open connection.
    ids: BTreeMap<Tid, ConnId>,
    /// Producer calls go through the runtime's inbox, as on the board.
    inbox: Inbox,
    /// A connection that is gone (what a test's unknown number stands for).
    gone: ConnId,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(Config::default(), test_random)
    }

    fn with(config: Config, random: fn(&mut [u8])) -> Rig {
        let mut s = Server::with_rng(config, Box::new(FnRng(random)));
        let gone = s.handle_accept(peer(0), LOCAL.parse().unwrap(), 0);
        s.handle_input(Input::Closed { conn: gone }, 0);
        s.set_udp_ports(SERVER_RTP_PORT);
        s.create_session("test", VideoCodec::H264, None, SessionOptions::default()).unwrap();
        Rig {
            s,
            now: 1_000_000,
            script_ts: 0,
            cseq: 0,
            frames: BTreeMap::new(),
            datagrams: Vec::new(),
            rtcp: Vec::new(),
            stalled: BTreeSet::new(),
            sent: Vec::new(),
            ids: BTreeMap::new(),
            inbox: Inbox::default(),
            gone,
        }
    }

    fn open(&mut self, id: Tid) {
        self.open_from(id, peer(id));
    }

    fn open_from(&mut self, id: Tid, from: SocketAddr) {
        let conn = self.s.handle_accept(from, LOCAL.parse().unwrap(), self.now);
        assert!(self.ids.insert(id, conn).is_none(), "connection {id} opened twice");
    }

    /// The core's id of test connection `id` (a stale one for a connection gone).
    fn conn(&self, id: Tid) -> ConnId {
        match self.ids.get(&id) {
            Some(c) => *c,
            None => self.gone,
        }
    }

    fn conn_data(&mut self, id: Tid, bytes: &[u8], now: u64) {
        let conn = self.conn(id);
        self.s.handle_input(Input::Received { conn, data: bytes }, now);
    }

    fn conn_closed(&mut self, id: Tid) {
        let conn = self.conn(id);
        self.s.handle_input(Input::Closed { conn }, self.now);
        self.ids.remove(&id);
    }

    /// Every connection the core still has, by test number.
    fn conn_ids(&self) -> Vec<Tid> {
        self.ids.keys().copied().collect()
    }

    /// The connections the core is finished with (the I/O layer closes them).
    fn take_finished(&mut self) -> Vec<Tid> {
        let mut done = Vec::new();
        while let Some(Event::Close(conn)) = self.s.poll_event() {
            let id = *self.ids.iter().find(|(_, c)| **c == conn).expect("a close for a connection the test opened").0;
            self.ids.remove(&id);
            done.push(id);
        }
        done.sort();
        done
    }

    fn has_output(&self, id: Tid) -> bool {
        self.s.interest(self.conn(id)).write
    }

    fn wants_input(&self, id: Tid) -> bool {
        self.s.interest(self.conn(id)).read
    }

    fn pending_output<'a>(&'a self, id: Tid, parts: &mut Vec<&'a [u8]>, max: usize) {
        self.s.poll_transmit(self.conn(id), parts, max);
    }

    fn output_written(&mut self, id: Tid, n: usize) {
        let conn = self.conn(id);
        self.s.handle_input(Input::Written { conn, bytes: n }, self.now);
    }

    /// The next queued datagram: (to, from the RTCP socket, bytes).
    fn pop_datagram(&mut self) -> Option<(SocketAddr, bool, Vec<u8>)> {
        let mut parts: [&[u8]; 1] = [&[]];
        let run = self.s.poll_datagrams(&mut parts)?;
        assert_eq!(run.count, 1);
        let d = (run.to, run.rtcp, parts[0].to_vec());
        self.s.handle_input(Input::DatagramsSent { count: 1 }, self.now);
        Some(d)
    }

    fn rtcp_in(&mut self, from: SocketAddr, data: &[u8], now: u64) {
        self.s.handle_input(Input::Rtcp { from, data }, now);
    }

    /// A producer call the way the runtime makes it: checked and queued by
    /// the inbox, then handed to the core.
    fn push(&mut self, name: &str, track: Track, data: &[u8], ts: u64, now: u64) -> Result<(), Refusal> {
        self.inbox.directory.sync(&self.s);
        self.inbox.accept(name, track, data, ts, now)?;
        let calls = self.inbox.take();
        for call in &calls {
            self.s.handle_media(call);
        }
        self.inbox.recycle(calls);
        Ok(())
    }

    fn push_video(&mut self, name: &str, data: &[u8], ts: u64, now: u64) -> Result<(), Refusal> {
        self.push(name, Track::Video, data, ts, now)
    }

    fn push_audio(&mut self, name: &str, data: &[u8], ts: u64, now: u64) -> Result<(), Refusal> {
        self.push(name, Track::Audio, data, ts, now)
    }

    fn client_stats(&self, name: Option<&str>, index: usize) -> Option<ClientStats> {
        self.s.client_stats(name)?.get(index).copied()
    }

    /// Everything the connection has to write, written in full.
    fn read(&mut self, id: Tid) -> Vec<Out> {
        let bytes = self.read_bytes(id);
        parse_outputs(&bytes)
    }

    /// Everything the connection has to write, written in full, as bytes.
    fn read_bytes(&mut self, id: Tid) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..100_000 {
            let mut parts = Vec::new();
            self.pending_output(id, &mut parts, 64);
            if parts.is_empty() {
                break;
            }
            let n: usize = parts.iter().map(|p| p.len()).sum();
            for p in parts {
                bytes.extend_from_slice(p);
            }
            self.output_written(id, n);
        }
        assert!(!self.has_output(id), "output left after writing everything");
        bytes
    }

    fn send_raw(&mut self, id: Tid, bytes: &[u8]) -> Vec<Out> {
        self.conn_data(id, bytes, self.now);
        self.read(id)
    }

    /// Sends one request and returns its reply; packets that follow the reply are kept in `frames`.
    fn request(&mut self, id: Tid, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.cseq += 1;
        let cseq = self.cseq;
        let mut text = format!("{method} {uri} RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: unit-test\r\n");
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        let mut reply = None;
        for out in self.send_raw(id, text.as_bytes()) {
            match out {
                Out::Reply(r) => {
                    assert!(reply.is_none(), "two replies to one request");
                    reply = Some(r);
                }
                Out::Frame { channel, data } => {
                    // Output was drained before the request: any packet now was queued by it.
                    // (RTCP may precede: TEARDOWN's BYE.)
                    assert!(reply.is_some() || is_rtcp(&data), "{method}: an RTP packet came before the reply");
                    self.keep_frame(id, channel, data);
                }
            }
        }
        let reply = reply.unwrap_or_else(|| panic!("no reply to {method} {uri}"));
        assert_eq!(reply.header("CSeq"), Some(cseq.to_string().as_str()), "CSeq echoed (RFC 2326 12.17)");
        reply
    }

    /// Reads every connection and the datagram queue, as an I/O layer would.
    fn flush(&mut self) {
        for id in self.conn_ids() {
            if self.stalled.contains(&id) {
                continue;
            }
            for out in self.read(id) {
                match out {
                    Out::Frame { channel, data } => self.keep_frame(id, channel, data),
                    Out::Reply(r) => panic!("unasked reply {r:?}"),
                }
            }
        }
        while let Some((to, from_rtcp, bytes)) = self.pop_datagram() {
            assert_eq!(from_rtcp, is_rtcp(&bytes), "datagram sent from the wrong socket");
            if from_rtcp {
                self.rtcp.push((RtcpTo::Udp(to), bytes));
            } else {
                self.datagrams.push((to, false, bytes));
            }
        }
    }

    /// RTP to `frames`, RTCP (RFC 5761 4: packet types 200..=204) to `rtcp`.
    fn keep_frame(&mut self, id: Tid, channel: u8, data: Vec<u8>) {
        if is_rtcp(&data) {
            self.rtcp.push((RtcpTo::Channel(id, channel), data));
        } else {
            self.frames.entry(id).or_default().push((channel, data));
        }
    }

    fn setup_tcp(&mut self, id: Tid, path: &str) -> String {
        let r = self.request(
            id,
            "SETUP",
            &format!("rtsp://127.0.0.1:8554/{path}/trackID=0"),
            &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")],
        );
        assert_eq!(r.status, 200, "{r:?}");
        r.session()
    }

    fn setup_udp(&mut self, id: Tid, path: &str, client_rtp: u16) -> String {
        let transport = format!("RTP/AVP;unicast;client_port={}-{}", client_rtp, client_rtp + 1);
        let r =
            self.request(id, "SETUP", &format!("rtsp://127.0.0.1:8554/{path}/trackID=0"), &[("Transport", &transport)]);
        assert_eq!(r.status, 200, "{r:?}");
        r.session()
    }

    fn play(&mut self, id: Tid, path: &str, session: &str) -> Reply {
        let r = self.request(id, "PLAY", &format!("rtsp://127.0.0.1:8554/{path}/"), &[("Session", session)]);
        assert_eq!(r.status, 200, "{r:?}");
        r
    }

    /// A TCP client of `test` that is playing.
    fn tcp_player(&mut self, id: Tid) -> String {
        self.open(id);
        let sid = self.setup_tcp(id, "test");
        self.play(id, "test", &sid);
        sid
    }

    /// Pushes one call of Annex-B data at the next frame time (script and arrival time advance together).
    fn push_call(&mut self, nals: &[Vec<u8>]) {
        self.now += FRAME_US;
        self.script_ts += FRAME_US;
        self.push_video("test", &annexb(nals), self.script_ts, self.now).unwrap();
        self.flush();
    }

    /// Pushes access unit `k` of the test stream as one call.
    fn push_au(&mut self, k: usize) {
        let au = test_au(k);
        self.push_call(&au);
        self.sent.push(au);
    }

    fn sent_nals(&self, aus: core::ops::Range<usize>) -> Vec<Vec<u8>> {
        self.sent[aus].iter().flatten().cloned().collect()
    }

    fn tcp_packets(&self, id: Tid, channel: u8) -> Vec<Pkt> {
        self.frames
            .get(&id)
            .map_or(Vec::new(), |f| f.iter().filter(|(c, _)| *c == channel).map(|(_, d)| rtp(d)).collect())
    }

    fn udp_packets(&self, to: SocketAddr) -> Vec<Pkt> {
        self.datagrams.iter().filter(|(a, rtcp, _)| *a == to && !rtcp).map(|(_, _, d)| rtp(d)).collect()
    }

    fn stats(&self) -> Stats {
        self.s.stats(Some("test")).unwrap()
    }
}

// ------------------------------------------------------ the H.264 stream

const GOP_LEN: usize = 5;

/// Access unit `k`: every GOP_LEN-th one is SPS+PPS+IDR (the IDR over the 1400-byte payload, so FU-A),
/// the others one P slice, small or just over one packet.
fn test_au(k: usize) -> Vec<Vec<u8>> {
    if k.is_multiple_of(GOP_LEN) {
        vec![SPS.to_vec(), PPS.to_vec(), idr(k, 4000)]
    } else {
        vec![p_slice(k, if k.is_multiple_of(2) { 300 } else { 1500 })]
    }
}

fn nal_type(nal: &[u8]) -> u8 {
    nal[0] & 0x1f
}

/// RFC 6184 receiver, packetization-mode 1 without aggregation: single NAL unit
/// packets (types 1..=23) and FU-A (28). Strict: a gap or a timestamp change
/// inside a fragmented NAL unit, a fragment without start, S and E together, or
/// an unfinished NAL unit at the end all fail.
fn depacketize(pkts: &[Pkt]) -> Vec<Vec<u8>> {
    let mut units = Vec::new();
    let mut pending: Option<(Vec<u8>, u32, u16)> = None;
    for (i, p) in pkts.iter().enumerate() {
        let first = *p.payload.first().unwrap_or_else(|| panic!("packet {i}: empty payload"));
        assert_eq!(first & 0x80, 0, "packet {i}: forbidden_zero_bit");
        match first & 0x1f {
            1..=23 => {
                assert!(pending.is_none(), "packet {i}: single NAL unit inside a fragmented one");
                units.push(p.payload.clone());
            }
            28 => {
                assert!(p.payload.len() > 2, "packet {i}: FU-A without data");
                let (indicator, header) = (p.payload[0], p.payload[1]);
                let (start, end) = (header & 0x80 != 0, header & 0x40 != 0);
                assert!(!(start && end), "packet {i}: S and E together");
                assert_eq!(header & 0x20, 0, "packet {i}: R bit");
                if start {
                    assert!(pending.is_none(), "packet {i}: start before the previous end");
                    let mut nal = vec![(indicator & 0xe0) | (header & 0x1f)];
                    nal.extend_from_slice(&p.payload[2..]);
                    pending = Some((nal, p.ts, p.seq.wrapping_add(1)));
                } else {
                    let (mut nal, ts, next) =
                        pending.take().unwrap_or_else(|| panic!("packet {i}: fragment without start"));
                    assert_eq!((p.seq, p.ts), (next, ts), "packet {i}: fragment out of sequence");
                    assert_eq!(nal[0] & 0x1f, header & 0x1f, "packet {i}: fragment of another NAL unit");
                    nal.extend_from_slice(&p.payload[2..]);
                    if end {
                        units.push(nal);
                    } else {
                        pending = Some((nal, ts, p.seq.wrapping_add(1)));
                    }
                }
            }
            other => panic!("packet {i}: NAL type {other} not used in packetization-mode=1 here"),
        }
    }
    assert!(pending.is_none(), "the last NAL unit never ended");
    units
}

/// RFC 3550 5.1: the sequence number increments by one for each packet sent.
fn assert_consecutive(pkts: &[Pkt]) {
    for w in pkts.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence gap after {}", w[0].seq);
    }
}

/// RFC 6184 5.1: the marker is set on the last packet of an access unit only;
/// one timestamp per access unit. `aus` is the number of access units in `pkts`.
fn assert_markers(pkts: &[Pkt], aus: usize) {
    let mut runs = 0;
    for (i, p) in pkts.iter().enumerate() {
        let last_of_run = pkts.get(i + 1).is_none_or(|next| next.ts != p.ts);
        runs += usize::from(last_of_run);
        assert_eq!(
            p.marker, last_of_run,
            "packet {i} (seq {}): marker {} but last of its timestamp: {}",
            p.seq, p.marker, last_of_run
        );
    }
    assert_eq!(runs, aus, "one timestamp per access unit");
}

fn rtp_info(reply: &Reply) -> Vec<BTreeMap<String, String>> {
    let value = reply.header("RTP-Info").unwrap_or_else(|| panic!("no RTP-Info in {reply:?}"));
    value
        .split(',')
        .map(|stream| {
            stream
                .split(';')
                .map(|kv| {
                    let (k, v) = kv.trim().split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .collect()
}

/// (seq, rtptime) of the first RTP-Info entry.
fn rtp_info_start(reply: &Reply) -> (u16, u32) {
    let info = &rtp_info(reply)[0];
    (info["seq"].parse().unwrap(), info["rtptime"].parse().unwrap())
}

/// Transport reply parameters (RFC 2326 12.39).
fn transport_params(reply: &Reply) -> Vec<String> {
    reply.header("Transport").unwrap().split(';').map(|s| s.trim().to_string()).collect()
}

// ------------------------------------------------------------ OPTIONS etc.

#[test]
fn options_lists_the_methods_it_answers() {
    let mut rig = Rig::new();
    rig.open(1);
    for uri in ["*", URL] {
        let r = rig.request(1, "OPTIONS", uri, &[]);
        assert_eq!(r.status, 200);
        assert!(r.header("Public").is_some());
    }
    let r = rig.request(1, "OPTIONS", "*", &[]);
    let public: Vec<String> = r.header("Public").unwrap().split(',').map(|m| m.trim().to_string()).collect();
    for needed in ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN", "GET_PARAMETER"] {
        assert!(public.iter().any(|m| m == needed), "{needed} missing from Public: {public:?}");
    }
    // Every listed method is answered, each on its own connection with its own session.
    for (i, method) in public.iter().enumerate() {
        let id = 100 + i as Tid;
        rig.open(id);
        let sid = rig.setup_udp(id, "test", 5000);
        let r = rig.request(
            id,
            method,
            URL,
            &[("Session", &sid), ("Transport", "RTP/AVP;unicast;client_port=5000-5001"), ("Accept", "application/sdp")],
        );
        assert_eq!(r.status, 200, "{method} listed in Public but answered {r:?}");
    }
}

#[test]
fn methods_not_implemented_get_501_and_are_not_listed() {
    let mut rig = Rig::new();
    rig.open(1);
    let public = rig.request(1, "OPTIONS", "*", &[]).header("Public").unwrap().to_string();
    let listed: Vec<&str> = public.split(',').map(str::trim).collect();
    let sid = rig.setup_udp(1, "test", 5000);
    for method in ["ANNOUNCE", "RECORD", "REDIRECT", "FOO", "options"] {
        assert!(!listed.contains(&method), "{method} listed");
        let r = rig.request(1, method, URL, &[("Session", &sid)]);
        assert_eq!(r.status, 501, "{method}");
    }
    // The connection and the session are still usable.
    assert_eq!(rig.request(1, "OPTIONS", "*", &[]).status, 200);
    assert_eq!(rig.request(1, "PLAY", URL, &[("Session", &sid)]).status, 200);
}

#[test]
fn missing_cseq_is_400() {
    let mut rig = Rig::new();
    rig.open(1);
    let outs = rig.send_raw(1, b"OPTIONS * RTSP/1.0\r\nUser-Agent: x\r\n\r\n");
    let [Out::Reply(r)] = &outs[..] else { panic!("{outs:?}") };
    assert_eq!(r.status, 400);
}

#[test]
fn malformed_requests_get_400_and_the_connection_closes_after_the_reply() {
    let cases: [&[u8]; 6] = [
        b"HELLO\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nCSeq: 1\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: many\r\n\r\n",
        b"OPT(ONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
    ];
    for (i, bytes) in cases.into_iter().enumerate() {
        let mut rig = Rig::new();
        rig.open(1);
        rig.open(2);
        rig.conn_data(1, bytes, rig.now);
        // Not closed before the reply is written.
        assert!(rig.take_finished().is_empty(), "case {i}");
        let outs = rig.read(1);
        let [Out::Reply(r)] = &outs[..] else { panic!("case {i}: {outs:?}") };
        assert_eq!(r.status, 400, "case {i}");
        // What follows on that connection is ignored, and then it is closed.
        assert!(rig.send_raw(1, b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n").is_empty(), "case {i}");
        assert_eq!(rig.take_finished(), vec![1], "case {i}");
        assert_eq!(rig.conn_ids(), vec![2], "case {i}");
    }
}

#[test]
fn oversized_head_is_413_and_closes() {
    let mut rig = Rig::new();
    rig.open(1);
    let max = Config::default().limits.max_head;
    let mut request = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', max + 100));
    // Even without the end of the head ever arriving.
    rig.conn_data(1, &request, rig.now);
    let outs = rig.read(1);
    let [Out::Reply(r)] = &outs[..] else { panic!("{outs:?}") };
    assert_eq!(r.status, 413);
    assert_eq!(rig.take_finished(), vec![1]);
}

#[test]
fn an_over_long_uri_is_414_and_closes() {
    let mut rig = Rig::new();
    rig.open(1);
    let mut request = b"DESCRIBE rtsp://127.0.0.1:8554/".to_vec();
    request.extend(std::iter::repeat_n(b'a', 10 * 1024));
    request.extend_from_slice(b" RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    rig.conn_data(1, &request, rig.now);
    let outs = rig.read(1);
    let [Out::Reply(r)] = &outs[..] else { panic!("{outs:?}") };
    // RFC 2326 7.1.1 and RFC 7826 17.4.15: the status for a request URI over the server's limit.
    assert_eq!(r.status, 414);
    assert_eq!(rig.take_finished(), vec![1]);
}

#[test]
fn pipelined_and_split_requests_are_answered_in_order() {
    let mut rig = Rig::new();
    rig.open(1);
    let both = b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\nDESCRIBE rtsp://127.0.0.1:8554/nope RTSP/1.0\r\nCSeq: 8\r\n\r\n";
    // One byte at a time, then both at once.
    let mut outs = Vec::new();
    for b in both.iter() {
        outs.extend(rig.send_raw(1, std::slice::from_ref(b)));
    }
    outs.extend(rig.send_raw(1, both));
    let replies: Vec<(u16, String)> = outs
        .into_iter()
        .map(|o| match o {
            Out::Reply(r) => (r.status, r.header("CSeq").unwrap().to_string()),
            Out::Frame { .. } => panic!("frame"),
        })
        .collect();
    let expected = [(200, "7"), (404, "8"), (200, "7"), (404, "8")].map(|(s, c)| (s, c.to_string()));
    assert_eq!(replies, expected);
}

// ---------------------------------------------------------------- DESCRIBE

struct Fmtp {
    pt: String,
    params: BTreeMap<String, String>,
}

/// The H.264 media of a DESCRIBE body, as a player reads it.
fn h264_media(reply: &Reply) -> (sdp_types::Session, Fmtp) {
    let sdp = sdp_types::Session::parse(&reply.body).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(sdp.medias.len(), 1);
    let m = &sdp.medias[0];
    assert_eq!((m.media.as_str(), m.proto.as_str()), ("video", "RTP/AVP"));
    let pt = m.fmt.clone();
    let pt_num: u8 = pt.parse().unwrap();
    assert!((96..=127).contains(&pt_num), "dynamic payload type (RFC 3551)");
    assert_eq!(m.get_first_attribute_value("rtpmap"), Some(Some(format!("{pt} H264/90000").as_str())));
    let fmtp = m.get_first_attribute_value("fmtp").unwrap().unwrap().to_string();
    let (fmtp_pt, params) = fmtp.split_once(' ').unwrap();
    let params = params
        .split(';')
        .map(|kv| {
            let (k, v) = kv.trim().split_once('=').unwrap();
            (k.to_ascii_lowercase(), v.to_string())
        })
        .collect();
    assert_eq!(m.get_first_attribute_value("control"), Some(Some("trackID=0")));
    (sdp, Fmtp { pt: fmtp_pt.to_string(), params })
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|e| panic!("not base64: {text}: {e}"))
}

#[test]
fn describe_unknown_path_is_404() {
    let mut rig = Rig::new();
    rig.open(1);
    for uri in ["rtsp://127.0.0.1:8554/nope", "rtsp://127.0.0.1:8554/", "rtsp://127.0.0.1:8554/test/more", "/tes"] {
        assert_eq!(rig.request(1, "DESCRIBE", uri, &[]).status, 404, "{uri}");
    }
}

#[test]
fn describe_gives_sdp_with_parameter_sets_once_they_were_pushed() {
    let mut rig = Rig::new();
    rig.open(1);
    let r = rig.request(1, "DESCRIBE", URL, &[("Accept", "application/sdp")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/sdp"));
    assert_eq!(r.header("Content-Base"), Some("rtsp://127.0.0.1:8554/test/"));
    let (before, fmtp) = h264_media(&r);
    assert_eq!(fmtp.pt, before.medias[0].fmt);
    assert_eq!(fmtp.params.get("packetization-mode").map(String::as_str), Some("1"));
    assert!(!fmtp.params.contains_key("sprop-parameter-sets"), "no parameter sets seen yet");

    // The encoder's first pack: parameter sets alone, then the IDR.
    rig.push_call(&[SPS.to_vec(), PPS.to_vec()]);
    rig.push_call(&[idr(0, 2000)]);
    let r = rig.request(1, "DESCRIBE", URL, &[]);
    let (after, fmtp) = h264_media(&r);
    assert_eq!(fmtp.params.get("packetization-mode").map(String::as_str), Some("1"));
    // RFC 6184 8.1: profile_idc, the constraint byte and level_idc of the SPS, in hex.
    assert!(fmtp.params["profile-level-id"].eq_ignore_ascii_case("42C01E"), "{}", fmtp.params["profile-level-id"]);
    let sets: Vec<Vec<u8>> = fmtp.params["sprop-parameter-sets"].split(',').map(base64_decode).collect();
    assert_eq!(sets, vec![SPS.to_vec(), PPS.to_vec()]);
    // RFC 4566 5.2: the version changes when the description does.
    assert!(after.origin.sess_version > before.origin.sess_version);
    assert_eq!(after.origin.sess_id, before.origin.sess_id);

    // New parameter sets: the next DESCRIBE tells them.
    rig.push_call(&[SPS_MAIN.to_vec(), PPS.to_vec(), idr(1, 2000)]);
    let (newer, fmtp) = h264_media(&rig.request(1, "DESCRIBE", URL, &[]));
    assert!(fmtp.params["profile-level-id"].eq_ignore_ascii_case("4D401F"));
    let sets: Vec<Vec<u8>> = fmtp.params["sprop-parameter-sets"].split(',').map(base64_decode).collect();
    assert_eq!(sets, vec![SPS_MAIN.to_vec(), PPS.to_vec()]);
    assert!(newer.origin.sess_version > after.origin.sess_version);
}

#[test]
fn content_base_uses_the_host_the_client_used() {
    let mut rig = Rig::new();
    rig.open(1);
    for (uri, base) in [
        ("rtsp://camera.local:8554/test", "rtsp://camera.local:8554/test/"),
        ("rtsp://192.168.7.2:8554/test/", "rtsp://192.168.7.2:8554/test/"),
        ("rtsp://127.0.0.1:8554/test?token=1", "rtsp://127.0.0.1:8554/test/"),
        ("rtsp://[::1]:8554/test", "rtsp://[::1]:8554/test/"),
        // An absolute path names no host: the address the client connected to.
        ("/test", "rtsp://127.0.0.1:8554/test/"),
    ] {
        let r = rig.request(1, "DESCRIBE", uri, &[]);
        assert_eq!(r.status, 200, "{uri}");
        assert_eq!(r.header("Content-Base"), Some(base), "{uri}");
    }
    // Credentials are not sent back.
    let r = rig.request(1, "DESCRIBE", "rtsp://admin:secret@127.0.0.1:8554/test", &[]);
    assert_eq!(r.status, 200);
    let base = r.header("Content-Base").unwrap();
    assert!(base.ends_with("/test/") && !base.contains("secret"), "{base}");
}

// --------------------------------------------------------- URL spellings

#[test]
fn every_spelling_of_the_stream_url_works_for_setup_and_play() {
    let spellings = [
        "rtsp://127.0.0.1:8554/test",
        "rtsp://127.0.0.1:8554/test/",
        "rtsp://127.0.0.1:8554/test?user=a&x=1",
        "rtsp://127.0.0.1:8554/test/?x=1",
        "rtsp://camera.local:8554/test",
        "rtsp://admin:pw@127.0.0.1:8554/test",
        "/test",
    ];
    let mut rig = Rig::new();
    for (i, url) in spellings.iter().enumerate() {
        let id = i as Tid + 1;
        rig.open(id);
        assert_eq!(rig.request(id, "DESCRIBE", url, &[]).status, 200, "DESCRIBE {url}");
        // SETUP on the aggregate URL, and on the track URL that a=control gives.
        let (path, query) = url.split_once('?').map_or((*url, ""), |(p, q)| (p, q));
        let track_url =
            format!("{}/trackID=0{}{}", path.trim_end_matches('/'), if query.is_empty() { "" } else { "?" }, query);
        for setup_url in [url.to_string(), track_url] {
            let r = rig.request(id, "SETUP", &setup_url, &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]);
            assert_eq!(r.status, 200, "SETUP {setup_url}");
            let sid = r.session();
            let r = rig.request(id, "PLAY", url, &[("Session", &sid)]);
            assert_eq!(r.status, 200, "PLAY {url}");
            assert_eq!(rig.request(id, "TEARDOWN", url, &[("Session", &sid)]).status, 200, "TEARDOWN {url}");
        }
    }
}

// ------------------------------------------------------------------ SETUP

#[test]
fn setup_udp_answers_client_and_server_ports_and_a_session() {
    let mut rig = Rig::new();
    rig.open(1);
    rig.open(2);
    let r =
        rig.request(1, "SETUP", &format!("{URL}/trackID=0"), &[("Transport", "RTP/AVP;unicast;client_port=5000-5001")]);
    assert_eq!(r.status, 200);
    let t = transport_params(&r);
    assert_eq!(t[0], "RTP/AVP", "{t:?}");
    assert!(t.contains(&"unicast".to_string()), "{t:?}");
    assert!(t.contains(&"client_port=5000-5001".to_string()), "{t:?}");
    let server_port = format!("server_port={}-{}", SERVER_RTP_PORT, SERVER_RTP_PORT + 1);
    assert!(t.contains(&server_port), "{t:?}");
    let session = r.header("Session").unwrap();
    let (id1, timeout) = session.split_once(';').unwrap();
    assert_eq!(timeout.trim(), format!("timeout={}", Config::default().session_timeout_s));
    assert_eq!(Config::default().session_timeout_s, 60);
    assert_eq!(id1.len(), 16, "{id1}");
    assert!(id1.chars().all(|c| c.is_ascii_hexdigit()), "{id1}");

    // RTP/AVP/UDP is the same lower transport spelled out.
    let r = rig.request(
        2,
        "SETUP",
        &format!("{URL}/trackID=0"),
        &[("Transport", "RTP/AVP/UDP;unicast;client_port=6000-6001")],
    );
    assert_eq!(r.status, 200);
    assert!(transport_params(&r).contains(&"client_port=6000-6001".to_string()));
    let id2 = r.session();
    assert_eq!(id2.len(), 16);
    assert_ne!(id1, id2, "each client its own session");
}

#[test]
fn setup_tcp_echoes_the_interleaved_channels_and_sends_on_them() {
    let mut rig = Rig::new();
    rig.open(1);
    let r =
        rig.request(1, "SETUP", &format!("{URL}/trackID=0"), &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]);
    assert_eq!(r.status, 200);
    let t = transport_params(&r);
    assert_eq!(t[0], "RTP/AVP/TCP");
    assert!(t.contains(&"interleaved=0-1".to_string()), "{t:?}");

    // Channels of the client's choosing are used as given.
    rig.open(2);
    let r =
        rig.request(2, "SETUP", &format!("{URL}/trackID=0"), &[("Transport", "RTP/AVP/TCP;unicast;interleaved=6-7")]);
    assert_eq!(r.status, 200);
    assert!(transport_params(&r).contains(&"interleaved=6-7".to_string()));
    let sid = r.session();
    rig.play(2, "test", &sid);
    rig.push_au(0);
    let channels: BTreeSet<u8> = rig.frames[&2].iter().map(|(c, _)| *c).collect();
    assert_eq!(channels, BTreeSet::from([6]));
    assert_eq!(depacketize(&rig.tcp_packets(2, 6)), rig.sent_nals(0..1));
}

#[test]
fn setup_takes_the_first_acceptable_transport_alternative() {
    let mut rig = Rig::new();
    rig.open(1);
    let offer = "RTP/AVP;multicast, RTP/SAVP;unicast;client_port=4000-4001, RTP/AVP;unicast;client_port=5000-5001, RTP/AVP/TCP;unicast;interleaved=0-1";
    let r = rig.request(1, "SETUP", URL, &[("Transport", offer)]);
    assert_eq!(r.status, 200);
    let t = transport_params(&r);
    assert_eq!(t[0], "RTP/AVP");
    assert!(t.contains(&"client_port=5000-5001".to_string()), "{t:?}");
}

#[test]
fn setup_refusals() {
    let mut rig = Rig::new();
    rig.open(1); // peer 127.0.0.1
    let track = format!("{URL}/trackID=0");
    for (transport, status) in [
        // No UDP reflection: RTP goes to the RTSP peer only.
        ("RTP/AVP;unicast;destination=127.0.0.2;client_port=5000-5001", 461),
        ("RTP/AVP;unicast;destination=10.1.2.3;client_port=5000-5001", 461),
        ("RTP/AVP;multicast", 461),
        ("RTP/AVP;multicast;destination=239.1.1.1;port=5000-5001", 461),
        ("RTP/SAVP;unicast;client_port=5000-5001", 461),
        ("RAW/RAW/UDP;unicast;client_port=5000-5001", 461),
        // The peer's own address is the default destination anyway.
        ("RTP/AVP;unicast;destination=127.0.0.1;client_port=5000-5001", 200),
    ] {
        let r = rig.request(1, "SETUP", &track, &[("Transport", transport)]);
        assert_eq!(r.status, status, "{transport}");
    }
    assert_eq!(rig.request(1, "SETUP", &track, &[]).status, 461, "no Transport");
    let record = rig.request(1, "SETUP", &track, &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record")]);
    assert_ne!(record.status, 200, "we only serve PLAY");

    let tcp = [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")];
    let unknown = [("Transport", tcp[0].1), ("Session", "0123456789ABCDEF")];
    assert_eq!(rig.request(1, "SETUP", &track, &unknown).status, 454);
    assert_eq!(rig.request(1, "SETUP", &format!("{URL}/trackID=1"), &tcp).status, 404, "no audio track");
    assert_eq!(rig.request(1, "SETUP", &format!("{URL}/trackID=7"), &tcp).status, 404);
    assert_eq!(rig.request(1, "SETUP", "rtsp://127.0.0.1:8554/nope/trackID=0", &tcp).status, 404);
    assert_eq!(rig.request(1, "SETUP", "rtsp://127.0.0.1:8554/nope", &tcp).status, 404);
    // None of the refusals left a client behind.
    assert_eq!(rig.stats().clients, 1);
}

#[test]
fn setup_with_another_connections_session_is_refused() {
    let mut rig = Rig::new();
    rig.open(1);
    rig.open(2);
    let sid = rig.setup_tcp(1, "test");
    let r = rig.request(
        2,
        "SETUP",
        &format!("{URL}/trackID=0"),
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"), ("Session", &sid)],
    );
    assert_eq!(r.status, 454);
}

// ------------------------------------------------------------------- PLAY

#[test]
fn play_refusals() {
    let mut rig = Rig::new();
    rig.open(1);
    rig.open(2);
    let sid = rig.setup_tcp(1, "test");
    assert_eq!(rig.request(1, "PLAY", URL, &[]).status, 454, "no Session");
    assert_eq!(rig.request(1, "PLAY", URL, &[("Session", "0123456789ABCDEF")]).status, 454);
    // Nobody touches a session that another connection set up.
    for method in ["PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER"] {
        assert_eq!(rig.request(2, method, URL, &[("Session", &sid)]).status, 454, "{method}");
    }
    // A UDP session from another host either.
    rig.open_from(3, "127.0.0.5:40000".parse().unwrap());
    let udp_sid = rig.setup_udp(1, "test", 5000);
    for method in ["PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER"] {
        assert_eq!(rig.request(3, method, URL, &[("Session", &udp_sid)]).status, 454, "{method}");
    }
    // Both sessions are intact: they play.
    assert_eq!(rig.request(1, "PLAY", URL, &[("Session", &sid)]).status, 200);
    assert_eq!(rig.request(1, "PLAY", URL, &[("Session", &udp_sid)]).status, 200);
    assert_eq!(rig.stats().playing, 2);
}

#[test]
fn play_rtp_info_names_the_first_packet_mid_gop() {
    let mut rig = Rig::new();
    for k in 0..3 {
        rig.push_au(k);
    }
    rig.open(1);
    let sid = rig.setup_tcp(1, "test");
    let r = rig.play(1, "test", &sid);
    let info = rtp_info(&r);
    assert_eq!(info.len(), 1);
    assert_eq!(info[0]["url"], format!("{URL}/trackID=0"));
    let (seq, rtptime) = rtp_info_start(&r);
    // `request` checked that the reply came before every `$` frame.
    let pkts = rig.tcp_packets(1, 0);
    assert!(!pkts.is_empty(), "the cached GOP is sent at once");
    assert_eq!((pkts[0].seq, pkts[0].ts), (seq, rtptime));
    assert_eq!(r.session(), sid);
    assert!(r.header("Range").is_some_and(|v| v.starts_with("npt=")));
}

#[test]
fn play_rtp_info_names_the_first_packet_when_waiting_for_a_keyframe() {
    let mut rig = Rig::new();
    rig.open(1);
    let sid = rig.setup_tcp(1, "test");
    let r = rig.play(1, "test", &sid);
    let (seq, rtptime) = rtp_info_start(&r);
    rig.push_au(0);
    let pkts = rig.tcp_packets(1, 0);
    assert_eq!(pkts[0].seq, seq);
    // The live stream starts at npt 0 = rtptime: the first picture is not before it.
    assert!(pkts[0].ts.wrapping_sub(rtptime) < 1 << 31, "first packet {} before rtptime {rtptime}", pkts[0].ts);
}

#[test]
fn play_between_parameter_sets_and_idr_names_the_first_packet() {
    let mut rig = Rig::new();
    rig.push_call(&[p_slice(0, 500)]);
    rig.push_call(&[SPS.to_vec(), PPS.to_vec()]);
    rig.open(1);
    let sid = rig.setup_tcp(1, "test");
    let r = rig.play(1, "test", &sid);
    let (seq, rtptime) = rtp_info_start(&r);
    rig.push_call(&[idr(1, 3000)]);
    let pkts = rig.tcp_packets(1, 0);
    let nals = depacketize(&pkts);
    assert_eq!(nal_type(&nals[0]), 7, "starts with the SPS");
    // RFC 2326 12.33: seq is the first packet of the stream.
    assert_eq!(pkts[0].seq, seq);
    assert!(pkts[0].ts.wrapping_sub(rtptime) < 1 << 31);
}

// ----------------------------------------------------------------- fan-out

#[test]
fn fan_out_early_late_and_udp_clients() {
    let mut rig = Rig::new();
    rig.tcp_player(1); // before any media
    rig.open(3);
    let sid3 = rig.setup_udp(3, "test", 5000);
    rig.play(3, "test", &sid3);
    for k in 0..3 {
        rig.push_au(k);
    }
    rig.tcp_player(2); // mid-GOP
    for k in 3..(2 * GOP_LEN + 2) {
        rig.push_au(k);
    }
    let total = rig.sent.len();

    let early = rig.tcp_packets(1, 0);
    assert_consecutive(&early);
    assert_eq!(depacketize(&early), rig.sent_nals(0..total));
    assert_markers(&early, total);

    let late = rig.tcp_packets(2, 0);
    assert_consecutive(&late);
    let late_nals = depacketize(&late);
    assert_eq!(nal_type(&late_nals[0]), 7, "a late joiner starts with the SPS");
    assert_eq!(late_nals, rig.sent_nals(0..total), "the cached GOP then live");
    // Everybody gets the same packets of one RTP stream.
    assert_eq!(late, early);

    // UDP: to the peer's address and the client's RTP port.
    assert!(rig.datagrams.iter().all(|(to, rtcp, _)| *to == SocketAddr::new(peer(3).ip(), 5000) && !rtcp));
    let udp = rig.udp_packets(SocketAddr::new(peer(3).ip(), 5000));
    assert_eq!(udp, early);

    let ssrcs: BTreeSet<u32> = early.iter().map(|p| p.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "one SSRC per stream");
    // The SSRC the SETUP reply announced (RFC 2326 12.39).
    assert!(early.iter().all(|p| p.pt >= 96));
}

#[test]
fn ssrc_is_the_one_announced_in_setup() {
    let mut rig = Rig::new();
    rig.open(1);
    let r = rig.request(1, "SETUP", URL, &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]);
    let ssrc = transport_params(&r).into_iter().find_map(|p| p.strip_prefix("ssrc=").map(String::from)).unwrap();
    rig.play(1, "test", &r.session());
    rig.push_au(0);
    let pkts = rig.tcp_packets(1, 0);
    assert_eq!(u32::from_str_radix(&ssrc, 16).unwrap(), pkts[0].ssrc);
}

#[test]
fn a_client_that_joins_before_any_keyframe_starts_at_the_next_idr() {
    let mut rig = Rig::new();
    // An encoder that was started mid-stream: P slices first.
    rig.push_call(&[p_slice(0, 800)]);
    rig.push_call(&[p_slice(1, 800)]);
    rig.tcp_player(1);
    rig.open(2);
    let sid = rig.setup_udp(2, "test", 5000);
    rig.play(2, "test", &sid);
    rig.push_call(&[p_slice(2, 800)]);
    assert!(rig.tcp_packets(1, 0).is_empty(), "nothing undecodable");
    assert!(rig.datagrams.is_empty());
    assert_eq!(rig.stats().keyframe_waits, 2);
    // Encoder packs: the parameter sets come alone, then the IDR slice.
    rig.push_call(&[SPS.to_vec(), PPS.to_vec()]);
    rig.push_call(&[idr(3, 3000)]);
    rig.push_call(&[p_slice(4, 800)]);
    let expected = vec![SPS.to_vec(), PPS.to_vec(), idr(3, 3000), p_slice(4, 800)];
    for pkts in [rig.tcp_packets(1, 0), rig.udp_packets(SocketAddr::new(peer(2).ip(), 5000))] {
        assert_consecutive(&pkts);
        assert_eq!(depacketize(&pkts), expected);
        assert_markers(&pkts, 2);
    }
}

#[test]
fn sequence_numbers_and_timestamps_wrap() {
    // Sequence numbers start at 65535 and the RTP clock base is 2^32-1.
    let mut rig = Rig::with(Config::default(), random_all_ones);
    rig.tcp_player(1);
    for k in 0..3 {
        rig.push_au(k);
    }
    let pkts = rig.tcp_packets(1, 0);
    assert!(pkts.iter().any(|p| p.seq == 0xffff) && pkts.iter().any(|p| p.seq == 0));
    assert_consecutive(&pkts);
    assert_eq!(depacketize(&pkts), rig.sent_nals(0..3));
    assert_markers(&pkts, 3);
}

// ------------------------------------------------------ marker and timing

#[test]
fn marker_and_timestamp_with_every_grouping_of_calls() {
    let mut rig = Rig::new();
    rig.tcp_player(1);
    // Encoder packs: parameter sets, then the IDR slice.
    rig.push_call(&[SPS.to_vec(), PPS.to_vec()]);
    rig.push_call(&[idr(0, 5000)]);
    // One NAL unit per call.
    rig.push_call(&[AUD.to_vec()]);
    rig.push_call(&[p_slice(1, 200)]);
    // A whole access unit per call, with an AUD and two slices of one picture
    // (the second slice has first_mb_in_slice != 0).
    rig.push_call(&[AUD.to_vec(), slice(0x41, 0x9a, 2, 2000), slice(0x41, 0x40, 3, 2000)]);
    rig.push_call(&[AUD.to_vec(), SPS.to_vec(), PPS.to_vec(), idr(4, 300)]);
    let pkts = rig.tcp_packets(1, 0);
    assert_consecutive(&pkts);
    assert_markers(&pkts, 4);
    // The parameter sets share the IDR's timestamp and carry no marker.
    let nals = depacketize(&pkts);
    assert_eq!(nals.len(), 12);
    assert!(!pkts[0].marker && !pkts[1].marker);
    assert_eq!(pkts[0].ts, pkts[2].ts);
    assert_ne!(pkts[2].ts, pkts.last().unwrap().ts);
}

/// Pushes `n` P frames with the given script timestamps and arrival times; returns
/// the RTP timestamp of each access unit as a player sees it.
fn timestamps(script_and_arrival: &[(u64, u64)]) -> Vec<u32> {
    let mut rig = Rig::new();
    rig.tcp_player(1);
    for (k, &(ts, now)) in script_and_arrival.iter().enumerate() {
        let nals = if k == 0 { vec![SPS.to_vec(), PPS.to_vec(), idr(0, 500)] } else { vec![p_slice(k, 500)] };
        rig.push_video("test", &annexb(&nals), ts, now).unwrap();
    }
    rig.flush();
    let pkts = rig.tcp_packets(1, 0);
    assert_markers(&pkts, script_and_arrival.len());
    pkts.iter().filter(|p| p.marker).map(|p| p.ts).collect()
}

fn deltas(ts: &[u32]) -> Vec<i64> {
    ts.windows(2).map(|w| i64::from(w[1].wrapping_sub(w[0]) as i32)).collect()
}

#[test]
fn script_timestamps_give_the_frame_interval_whatever_the_arrival() {
    // 30 fps in script time; arrivals in bursts, late and early.
    let arrivals = [0u64, 1_000, 2_000, 150_000, 150_100, 150_200, 151_000, 400_000, 400_001, 400_002, 410_000];
    let pushes: Vec<(u64, u64)> =
        arrivals.iter().enumerate().map(|(k, &a)| (k as u64 * FRAME_US, 5_000_000 + a)).collect();
    for d in deltas(&timestamps(&pushes)) {
        assert!((2999..=3001).contains(&d), "90 kHz x 33.333 ms = 3000 ticks, got {d}");
    }
    // A script clock that starts far from zero (an encoder's pts).
    let pushes: Vec<(u64, u64)> = (0..10u64).map(|k| (7_000_000_000 + k * 40_000, 2_000_000 + k * 10)).collect();
    for d in deltas(&timestamps(&pushes)) {
        assert!((3599..=3601).contains(&d), "25 fps: 3600 ticks, got {d}");
    }
}

#[test]
fn constant_script_timestamps_follow_arrival_time() {
    // CanMV's examples pass 1000 for every frame.
    let pushes: Vec<(u64, u64)> = (0..10u64).map(|k| (1000, 2_000_000 + k * 33_000)).collect();
    for d in deltas(&timestamps(&pushes)) {
        assert!((2969..=2971).contains(&d), "90 kHz x 33 ms = 2970 ticks, got {d}");
    }
}

#[test]
fn rtp_timestamps_follow_presentation_time_and_never_rewind_on_arrival_time() {
    // Script timestamps that step back (B-frame order), repeat, leap ahead, restart; arrivals steady.
    let script = [0u64, 33_333, 66_666, 10_000, 20_000, 20_000, 5_000_000, 100, 200, 300];
    let pushes: Vec<(u64, u64)> =
        script.iter().enumerate().map(|(k, &ts)| (ts, 1_000_000 + k as u64 * 33_000)).collect();
    let d = deltas(&timestamps(&pushes));
    // RFC 6184 5.1: the RTP timestamp is the presentation time, down as well as up (90 kHz).
    assert!((d[2] - (10_000 - 66_666) * 9 / 100).abs() <= 1, "step back kept: {}", d[2]);
    assert!((d[3] - 900).abs() <= 1, "{}", d[3]);
    // Then a repeated timestamp (CanMV's constant): arrival time, which never goes back.
    for (i, d) in d.iter().enumerate().skip(4) {
        assert!(*d >= 0, "timestamp went back {d} at access unit {}", i + 1);
    }
}

// --------------------------------------- TEARDOWN, GET_PARAMETER, PAUSE

#[test]
fn teardown_stops_that_client_only() {
    let mut rig = Rig::new();
    let sid1 = rig.tcp_player(1);
    rig.tcp_player(2);
    rig.open(3);
    let sid3 = rig.setup_udp(3, "test", 5000);
    rig.play(3, "test", &sid3);
    rig.push_au(0);
    let r = rig.request(1, "TEARDOWN", URL, &[("Session", &sid1)]);
    assert_eq!(r.status, 200);
    let r = rig.request(3, "TEARDOWN", URL, &[("Session", &sid3)]);
    assert_eq!(r.status, 200);
    assert_eq!(rig.stats().clients, 1);
    let (before1, before3) = (rig.tcp_packets(1, 0).len(), rig.datagrams.len());
    for k in 1..4 {
        rig.push_au(k);
    }
    assert_eq!(rig.tcp_packets(1, 0).len(), before1, "no packets after TEARDOWN");
    assert_eq!(rig.datagrams.len(), before3, "no datagrams after TEARDOWN");
    assert_eq!(depacketize(&rig.tcp_packets(2, 0)), rig.sent_nals(0..4));
    // The session is gone.
    assert_eq!(rig.request(1, "PLAY", URL, &[("Session", &sid1)]).status, 454);
    // The connection is still open for a new session.
    assert_eq!(rig.request(1, "OPTIONS", "*", &[]).status, 200);
    assert!(rig.take_finished().is_empty());
}

#[test]
fn get_parameter_with_and_without_session() {
    let mut rig = Rig::new();
    let sid = rig.tcp_player(1);
    let r = rig.request(1, "GET_PARAMETER", URL, &[]);
    assert_eq!(r.status, 200);
    let r = rig.request(1, "GET_PARAMETER", URL, &[("Session", &sid)]);
    assert_eq!(r.status, 200);
    assert_eq!(r.session(), sid);
    assert_eq!(rig.request(1, "GET_PARAMETER", URL, &[("Session", "FFFFFFFFFFFFFFFF")]).status, 454);
}

#[test]
fn pause_stops_packets_and_play_resumes_where_it_stopped() {
    let mut rig = Rig::new();
    let sid = rig.tcp_player(1);
    for k in 0..3 {
        rig.push_au(k);
    }
    let r = rig.request(1, "PAUSE", URL, &[("Session", &sid)]);
    assert_eq!(r.status, 200);
    assert_eq!(rig.stats().playing, 0);
    assert_eq!(rig.stats().clients, 1);
    let before = rig.tcp_packets(1, 0);
    rig.push_au(3);
    rig.push_au(4);
    assert_eq!(rig.tcp_packets(1, 0).len(), before.len(), "no packets while paused");
    let r = rig.play(1, "test", &sid);
    let (seq, rtptime) = rtp_info_start(&r);
    rig.push_au(5);
    rig.push_au(6);
    let resumed = rig.tcp_packets(1, 0).split_off(before.len());
    assert_eq!((resumed[0].seq, resumed[0].ts), (seq, rtptime), "RTP-Info of the resumed PLAY");
    // The same GOP goes on: the frames sent during the pause come from the
    // cache, with no packet twice and none missing.
    assert_eq!(resumed[0].seq, before.last().unwrap().seq.wrapping_add(1));
    assert_consecutive(&resumed);
    assert_eq!(depacketize(&resumed), rig.sent_nals(3..7));
}

#[test]
fn reports_stop_while_paused_and_come_back_after_play() {
    let mut rig = av_rig();
    rig.push_video("av", &annexb(&test_au(0)), 0, rig.now).unwrap();
    let sid = av_player(&mut rig, 1);
    let run = |rig: &mut Rig, seconds: u64| {
        for _ in 0..seconds * 10 {
            rig.now += 100_000;
            rig.push_video("av", &annexb(&test_au(1)), 0, rig.now).unwrap();
            rig.flush();
            rig.request(1, "GET_PARAMETER", "rtsp://127.0.0.1:8554/av/", &[("Session", &sid)]);
            rig.s.handle_timeout(rig.now);
            rig.flush();
        }
        reports_on(rig, 1, 1).len()
    };
    let playing = run(&mut rig, 9);
    assert!(playing >= 3, "{playing} reports in 9 s of play");
    rig.request(1, "PAUSE", "rtsp://127.0.0.1:8554/av/", &[("Session", &sid)]);
    assert_eq!(run(&mut rig, 9), playing, "no report while paused");
    rig.play(1, "av", &sid);
    let resumed = run(&mut rig, 9) - playing;
    assert!(resumed >= 3, "{resumed} reports in 9 s after PLAY again");
}

#[test]
fn a_cut_back_client_waiting_longer_than_the_stuck_timeout_for_a_keyframe_stays() {
    // A reader that was slow for a moment, then a GOP far longer than the
    // stuck timeout. (Sender reports, written every 4 s, would clear the stall
    // anyway: off here, so only the stall rule itself is tested.)
    let config = Config {
        max_queued_bytes: 20_000,
        stuck_timeout_us: 3_000_000,
        sender_report_interval_us: 1 << 50,
        ..Config::default()
    };
    let mut rig = Rig::with(config, test_random);
    rig.tcp_player(1);
    rig.push_au(0);
    rig.s.handle_timeout(rig.now); // its one sender report
    rig.flush();
    rig.stalled.insert(1);
    for k in 1..5 {
        rig.push_au(k);
    }
    rig.push_call(&[p_slice(5, 30_000)]); // over 20 KB unread
    rig.push_call(&[p_slice(6, 300)]); // cut back to the next keyframe
    assert_eq!(rig.client_stats(Some("test"), 0).map(|c| c.waiting_keyframe), Some(true));
    rig.stalled.remove(&1);
    rig.flush();
    // 10 s of P slices (no keyframe) while it reads everything it is sent:
    // nothing. It keeps its session with RTCP alone (as GStreamer over TCP
    // does), so no reply is written either.
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 1];
    let mut interleaved_rr = vec![b'$', 1, 0, rr.len() as u8];
    interleaved_rr.extend_from_slice(&rr);
    for k in 0..300 {
        rig.push_call(&[p_slice(7 + k, 300)]);
        if k % 30 == 0 {
            rig.send_raw(1, &interleaved_rr);
        }
        rig.s.handle_timeout(rig.now);
    }
    assert_eq!(rig.stats().clients, 1, "dropped as stuck while it had nothing to read");
    assert!(rig.take_finished().is_empty());
}

#[test]
fn a_pause_over_a_gop_boundary_resumes_at_the_new_keyframe() {
    let mut rig = Rig::new();
    let sid = rig.tcp_player(1);
    for k in 0..3 {
        rig.push_au(k);
    }
    rig.request(1, "PAUSE", URL, &[("Session", &sid)]);
    let before = rig.tcp_packets(1, 0).len();
    for k in 3..GOP_LEN + 2 {
        rig.push_au(k);
    }
    let r = rig.play(1, "test", &sid);
    let (seq, rtptime) = rtp_info_start(&r);
    let resumed = rig.tcp_packets(1, 0).split_off(before);
    assert_eq!((resumed[0].seq, resumed[0].ts), (seq, rtptime), "RTP-Info of the resumed PLAY");
    assert_consecutive(&resumed);
    // The frames of the GOP it missed are not in the cache: it starts at the keyframe.
    assert_eq!(depacketize(&resumed), rig.sent_nals(GOP_LEN..GOP_LEN + 2));
}

// ------------------------------------------------------------- timeouts

#[test]
fn silent_clients_time_out_and_live_ones_stay() {
    // Sender reports out of the way: the deadlines here are the expiries.
    let mut rig = Rig::with(Config { sender_report_interval_us: 1 << 50, ..Config::default() }, test_random);
    let t0 = rig.now;
    rig.tcp_player(1); // silent
    let sid2 = rig.tcp_player(2); // GET_PARAMETER keepalive
    rig.open(3); // UDP, RTCP receiver reports from its RTCP port
    let sid3 = rig.setup_udp(3, "test", 5000);
    rig.play(3, "test", &sid3);
    rig.tcp_player(4); // RTCP on its interleaved channel 1
    rig.open(5); // UDP, "RTCP" from the wrong port and the wrong host: silent
    let sid5 = rig.setup_udp(5, "test", 5002);
    rig.play(5, "test", &sid5);
    rig.tcp_player(6); // interleaved data on a channel that is not its own: silent
    assert_eq!(rig.stats().clients, 6);
    let deadline = rig.s.poll_timeout().unwrap();
    assert!(deadline > t0 + 60_000_000 && deadline <= t0 + 61_000_000, "first expiry 60 s after the last sign of life");

    let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 1]; // an RTCP receiver report with no report block
    let mut interleaved_rr = vec![b'$', 1, 0, rr.len() as u8];
    interleaved_rr.extend_from_slice(&rr);
    let mut foreign = vec![b'$', 9, 0, rr.len() as u8];
    foreign.extend_from_slice(&rr);
    for step in 1..=9u64 {
        rig.now = t0 + step * 10_000_000;
        rig.request(2, "GET_PARAMETER", URL, &[("Session", &sid2)]);
        rig.rtcp_in(SocketAddr::new(peer(3).ip(), 5001), &rr, rig.now);
        rig.rtcp_in(SocketAddr::new(peer(5).ip(), 5002), &rr, rig.now);
        rig.rtcp_in("127.0.0.9:5003".parse().unwrap(), &rr, rig.now);
        rig.send_raw(4, &interleaved_rr);
        rig.send_raw(6, &foreign);
        rig.s.handle_timeout(rig.now);
        // Clients kept alive by RTCP alone leave no deadline behind (it spun the loop once).
        let next = rig.s.poll_timeout();
        assert!(next.is_some_and(|t| t > rig.now), "next deadline {next:?} at {}", rig.now);
        let clients = rig.stats().clients;
        if step <= 6 {
            // Silent for at most 60 s: still there.
            assert_eq!(clients, 6, "at {step}0 s");
        } else {
            assert_eq!(clients, 3, "at {step}0 s");
        }
    }
    // Their connections are closed (once their output is written).
    rig.flush();
    let mut closed = rig.take_finished();
    closed.sort();
    assert_eq!(closed, vec![1, 5, 6]);
    // The others still get packets.
    rig.push_au(0);
    assert_eq!(depacketize(&rig.tcp_packets(2, 0)), rig.sent_nals(0..1));
    assert_eq!(depacketize(&rig.tcp_packets(4, 0)), rig.sent_nals(0..1));
    assert_eq!(depacketize(&rig.udp_packets(SocketAddr::new(peer(3).ip(), 5000))), rig.sent_nals(0..1));
    assert!(rig.udp_packets(SocketAddr::new(peer(5).ip(), 5002)).is_empty());
}

#[test]
fn any_request_with_the_session_keeps_it_alive() {
    let mut rig = Rig::new();
    let sid = rig.tcp_player(1);
    let t0 = rig.now;
    rig.now = t0 + 50_000_000;
    rig.request(1, "PLAY", URL, &[("Session", &sid)]);
    rig.now = t0 + 100_000_000;
    rig.request(1, "PAUSE", URL, &[("Session", &sid)]);
    rig.s.handle_timeout(rig.now);
    assert_eq!(rig.stats().clients, 1);
    // Pings that players use, each naming the session (answered 200, not 501).
    for method in ["OPTIONS", "SET_PARAMETER", "GET_PARAMETER"] {
        rig.now += 50_000_000;
        assert_eq!(rig.request(1, method, URL, &[("Session", &sid)]).status, 200, "{method}");
        rig.s.handle_timeout(rig.now);
        assert_eq!(rig.stats().clients, 1, "alive after {method}");
    }
    rig.s.handle_timeout(rig.now + 60_000_001);
    assert_eq!(rig.stats().clients, 0);
}

// ------------------------------------------- closing and destroying

#[test]
fn conn_closed_removes_its_clients() {
    let mut rig = Rig::new();
    rig.tcp_player(1);
    rig.open(2);
    let sid = rig.setup_udp(2, "test", 5000);
    rig.play(2, "test", &sid);
    assert_eq!(rig.stats().clients, 2);
    rig.conn_closed(1);
    rig.conn_closed(2);
    let st = rig.stats();
    assert_eq!((st.clients, st.playing), (0, 0));
    rig.push_au(0);
    assert!(rig.datagrams.is_empty(), "no RTP to a client whose RTSP connection is gone");
    assert!(rig.conn_ids().is_empty());
    assert_eq!(rig.s.poll_timeout(), None);
}

#[test]
fn a_connection_closed_with_a_destroyed_session_gets_nothing_more_and_goes() {
    // One connection: a UDP client of `test` and a TCP client of `other`; its peer stops reading.
    let mut rig = Rig::with(Config { session_timeout_s: 10, ..Config::default() }, test_random);
    rig.s.create_session("other", VideoCodec::H264, None, SessionOptions::default()).unwrap();
    rig.push_video("other", &annexb(&test_au(0)), rig.now, rig.now).unwrap();
    rig.open(1);
    let sid = rig.setup_udp(1, "test", 5000);
    rig.play(1, "test", &sid);
    let sid = rig.setup_tcp(1, "other");
    rig.play(1, "other", &sid);
    rig.s.handle_timeout(rig.now);
    rig.flush();
    rig.stalled.insert(1);
    // The script ends `test` in the loop turn where the `other` client's next report falls due.
    rig.now = rig.s.poll_timeout().unwrap();
    assert!(rig.s.destroy_session("test")); // its BYE goes out as a datagram
    for _ in 0..100 {
        rig.s.handle_timeout(rig.now);
        rig.flush();
        rig.take_finished();
        rig.now += 1_000_000;
    }
    assert!(rig.conn_ids().is_empty(), "the closing connection is still there 100 s later");
    assert_eq!(rig.s.poll_timeout(), None);
}

#[test]
fn destroy_session_closes_its_clients_and_spares_the_others() {
    let mut rig = Rig::new();
    rig.s.create_session("other", VideoCodec::H264, None, SessionOptions::default()).unwrap();
    rig.tcp_player(1);
    rig.open(2);
    let sid = rig.setup_tcp(2, "other");
    rig.play(2, "other", &sid);
    rig.open(3); // no session at all
    assert!(rig.s.destroy_session("test"));
    assert!(!rig.s.destroy_session("test"));
    assert!(rig.s.session_id("test").is_none());
    assert_eq!(rig.push_video("test", &annexb(&test_au(0)), 0, rig.now), Err(Refusal::NoSession));
    rig.flush();
    assert_eq!(rig.take_finished(), vec![1]);
    // The other session's client keeps receiving.
    for k in 0..3 {
        let au = test_au(k);
        rig.now += FRAME_US;
        rig.push_video("other", &annexb(&au), k as u64 * FRAME_US, rig.now).unwrap();
        rig.sent.push(au);
    }
    rig.flush();
    assert_eq!(depacketize(&rig.tcp_packets(2, 0)), rig.sent_nals(0..3));
    let st = rig.s.stats(Some("other")).unwrap();
    assert_eq!(st.clients, 1);
    assert!(rig.s.stats(Some("test")).is_none());
    // A path that is gone is 404 for the next player.
    assert_eq!(rig.request(3, "DESCRIBE", URL, &[]).status, 404);
}

#[test]
fn sessions_have_separate_streams() {
    let mut rig = Rig::new();
    rig.s.create_session("other", VideoCodec::H264, None, SessionOptions::default()).unwrap();
    // Creating an existing name again changes nothing.
    rig.s.create_session("test", VideoCodec::H264, None, SessionOptions::default()).unwrap();
    assert_eq!(rig.s.session_list().map(|(name, ..)| name).collect::<Vec<_>>(), vec!["test", "other"]);
    rig.tcp_player(1);
    rig.open(2);
    let sid = rig.setup_tcp(2, "other");
    rig.play(2, "other", &sid);
    rig.push_au(0);
    assert!(rig.tcp_packets(2, 0).is_empty(), "other's client gets none of test's packets");
    assert_eq!(depacketize(&rig.tcp_packets(1, 0)), rig.sent_nals(0..1));
    // PLAY on the other session with this one's id is refused: a session belongs to one stream.
    rig.open(3);
    let sid3 = rig.setup_tcp(3, "test");
    let r = rig.request(
        3,
        "SETUP",
        "rtsp://127.0.0.1:8554/other/trackID=0",
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"), ("Session", &sid3)],
    );
    assert_ne!(r.status, 200);
}

// --------------------------------------------------------- slow client

#[test]
fn a_stalled_tcp_client_is_cut_back_to_a_keyframe_and_the_others_get_everything() {
    let config = Config { max_queued_bytes: 20_000, ..Config::default() };
    let mut rig = Rig::with(config, test_random);
    rig.tcp_player(1); // keeps up
    rig.tcp_player(2); // stalls
    rig.stalled.insert(2);
    rig.push_au(0);
    // The stalled peer takes 7 bytes (half of a packet), then nothing more.
    let mut parts = Vec::new();
    rig.pending_output(2, &mut parts, 64);
    let mut taken: Vec<u8> = parts.concat();
    taken.truncate(7);
    rig.output_written(2, 7);
    for k in 1..(6 * GOP_LEN + 2) {
        rig.push_au(k);
    }
    let total = rig.sent.len();
    let fast = rig.tcp_packets(1, 0);
    assert_consecutive(&fast);
    assert_eq!(depacketize(&fast), rig.sent_nals(0..total));
    let st = rig.stats();
    assert!(st.frames_dropped > 0, "{st:?}");

    // The stalled peer resumes: its byte stream is still well formed.
    rig.stalled.remove(&2);
    let mut parts = Vec::new();
    rig.pending_output(2, &mut parts, usize::MAX);
    let mut rest: Vec<u8> = parts.concat();
    let n = rest.len();
    rig.output_written(2, n);
    taken.append(&mut rest);
    let mut pkts = Vec::new();
    for out in parse_outputs(&taken) {
        match out {
            Out::Frame { channel: 0, data } => pkts.push(rtp(&data)),
            other => panic!("{other:?}"),
        }
    }
    // Runs of consecutive sequence numbers: the first is the start of the
    // stream, every later one starts at a GOP (SPS or IDR first).
    let mut runs: Vec<Vec<Pkt>> = Vec::new();
    for p in pkts {
        match runs.last_mut() {
            Some(run) if run.last().unwrap().seq.wrapping_add(1) == p.seq => run.push(p),
            _ => runs.push(vec![p]),
        }
    }
    assert!(runs.len() >= 2, "the stalled client was cut back");
    for (i, run) in runs.iter().enumerate().skip(1) {
        let first = &run[0].payload;
        let kind = if first[0] & 0x1f == 28 { first[1] & 0x1f } else { first[0] & 0x1f };
        assert!(matches!(kind, 5 | 7), "run {i} starts with NAL type {kind}");
    }
    // The frame it had begun to read was finished (frames are queued whole);
    // the live tail is whole from its SPS on.
    assert_eq!(depacketize(&runs[0]), rig.sent_nals(0..1));
    let last = depacketize(runs.last().unwrap());
    assert_eq!(nal_type(&last[0]), 7);
    assert!(rig.sent_nals(0..total).ends_with(&last));
    // Bounded: the queue limit plus about a GOP, not the whole stream.
    let gop_bytes: usize = rig.sent_nals(0..GOP_LEN).iter().map(|n| n.len() + 32).sum();
    assert!(n <= 20_000 + 2 * gop_bytes, "{n} bytes queued");
}

// ------------------------------------------------------------------ stats

#[test]
fn stats_count_what_was_sent() {
    let mut rig = Rig::new();
    let sid1 = rig.tcp_player(1);
    rig.tcp_player(2);
    rig.open(3);
    let sid3 = rig.setup_udp(3, "test", 5000);
    rig.play(3, "test", &sid3);
    rig.open(4);
    rig.setup_tcp(4, "test"); // set up, not playing
    let st = rig.stats();
    assert_eq!((st.clients, st.playing, st.packets_sent, st.bytes_sent), (4, 3, 0, 0));
    for k in 0..7 {
        rig.push_au(k);
    }
    rig.request(1, "PAUSE", URL, &[("Session", &sid1)]);
    rig.push_au(7);
    let st = rig.stats();
    assert_eq!((st.clients, st.playing), (4, 2));
    let mut received: Vec<Vec<u8>> = rig.frames.values().flatten().map(|(_, d)| d.clone()).collect();
    received.extend(rig.datagrams.iter().map(|(_, _, d)| d.clone()));
    assert_eq!(st.packets_sent, received.len() as u64);
    assert_eq!(st.bytes_sent, received.iter().map(|d| d.len() as u64).sum::<u64>(), "RTP bytes");
    assert_eq!(st.frames_dropped, 0);
    // Server-wide stats add up the sessions.
    let all = rig.s.stats(None).unwrap();
    assert_eq!((all.clients, all.packets_sent), (st.clients, st.packets_sent));
    assert!(rig.s.stats(Some("nope")).is_none());
}

#[test]
fn stats_after_a_cut_back_count_only_what_went_out() {
    let config = Config { max_queued_bytes: 20_000, ..Config::default() };
    let mut rig = Rig::with(config, test_random);
    rig.tcp_player(1);
    rig.stalled.insert(1);
    for k in 0..(6 * GOP_LEN + 2) {
        rig.push_au(k);
    }
    rig.stalled.clear();
    rig.flush();
    let st = rig.stats();
    assert!(st.frames_dropped > 0);
    let received = &rig.frames[&1];
    assert!(!received.is_empty());
    assert_eq!(st.packets_sent, received.len() as u64, "dropped packets are not counted as sent");
    assert_eq!(st.bytes_sent, received.iter().map(|(_, d)| d.len() as u64).sum::<u64>());
}

// ------------------------------------------------------------------ RTCP

/// An RTCP sender report's fields (RFC 3550 6.4.1), read by hand.
#[derive(Debug)]
struct Sr {
    ssrc: u32,
    ntp: u64,
    rtp_time: u32,
    packets: u32,
    octets: u32,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn read_sr(data: &[u8]) -> Option<Sr> {
    (data.len() >= 28 && data[0] >> 6 == 2 && data[1] == 200).then(|| Sr {
        ssrc: be32(&data[4..]),
        ntp: (u64::from(be32(&data[8..])) << 32) | u64::from(be32(&data[12..])),
        rtp_time: be32(&data[16..]),
        packets: be32(&data[20..]),
        octets: be32(&data[24..]),
    })
}

/// The packet types of a compound RTCP packet, in order.
fn rtcp_types(data: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = data;
    while rest.len() >= 4 {
        types.push(rest[1]);
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        rest = &rest[len.min(rest.len())..];
    }
    types
}

/// NTP time of `unix_us`, from RFC 3550 4 and RFC 5905 (seconds since 1900, 32.32 fixed point).
fn ntp_of(unix_us: u64) -> u64 {
    let secs = unix_us / 1_000_000 + 2_208_988_800;
    let frac = ((unix_us % 1_000_000) << 32) / 1_000_000;
    (secs << 32) | frac
}

const WALL_AT_START_US: u64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z

fn av_rig() -> Rig {
    let mut rig = Rig::new();
    rig.s.create_session("av", VideoCodec::H264, Some(AudioCodec::Pcmu), SessionOptions::default()).unwrap();
    rig.s.set_wall_clock(rig.now, WALL_AT_START_US);
    rig
}

/// A TCP client of `av` with video on channels 0-1 and audio on 2-3, playing.
fn av_player(rig: &mut Rig, id: Tid) -> String {
    rig.open(id);
    let base = "rtsp://127.0.0.1:8554/av";
    let r =
        rig.request(id, "SETUP", &format!("{base}/trackID=0"), &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]);
    assert_eq!(r.status, 200, "{r:?}");
    let sid = r.session();
    let r = rig.request(
        id,
        "SETUP",
        &format!("{base}/trackID=1"),
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"), ("Session", &sid)],
    );
    assert_eq!(r.status, 200, "{r:?}");
    rig.play(id, "av", &sid);
    sid
}

fn reports_on(rig: &Rig, id: Tid, channel: u8) -> Vec<Sr> {
    rig.rtcp.iter().filter(|(to, _)| *to == RtcpTo::Channel(id, channel)).filter_map(|(_, d)| read_sr(d)).collect()
}

#[test]
fn a_sender_report_per_track_follows_the_first_media_never_precedes_it() {
    let mut rig = av_rig();
    rig.now += 5_000;
    rig.push_video("av", &annexb(&test_au(0)), 0, rig.now).unwrap();
    rig.push_audio("av", &[0xff; 160], 0, rig.now).unwrap();
    av_player(&mut rig, 1);
    // PLAY queued the cached frames and no report: a report ahead of them
    // would carry a later RTP time than the packets that follow it.
    assert!(rig.rtcp.is_empty(), "a report before the first RTP packet");
    assert!(!rig.tcp_packets(1, 0).is_empty() && !rig.tcp_packets(1, 2).is_empty());
    // Right behind them (the same loop turn), one report per track, on its odd (RTCP) channel.
    assert_eq!(rig.s.poll_timeout(), Some(rig.now));
    rig.s.handle_timeout(rig.now);
    rig.flush();
    let out = rig.rtcp.iter().filter(|(to, _)| matches!(to, RtcpTo::Channel(1, _))).count();
    assert_eq!(out, 2);
    assert_eq!(reports_on(&rig, 1, 1).len(), 1);
    assert_eq!(reports_on(&rig, 1, 3).len(), 1);
    // RFC 3550 6.1: SR first, then SDES with a CNAME.
    assert!(rig.rtcp.iter().all(|(_, d)| rtcp_types(d) == [200, 202]));
}

#[test]
fn sender_reports_map_each_tracks_rtp_clock_to_the_same_wall_clock() {
    let mut rig = av_rig();
    // Script timestamps in µs on one clock for both tracks.
    let t0 = rig.now;
    rig.push_video("av", &annexb(&test_au(0)), 10_000, t0).unwrap();
    rig.push_audio("av", &[0xff; 160], 10_000, t0).unwrap();
    av_player(&mut rig, 1);
    rig.s.handle_timeout(rig.now);
    rig.flush();
    let first_video = rig.tcp_packets(1, 0)[0].ts;
    let first_audio = rig.tcp_packets(1, 2)[0].ts;
    // 4 s later the next reports fall due.
    rig.now = t0 + 4_000_000;
    rig.s.handle_timeout(rig.now);
    rig.flush();
    let (video, audio) = (reports_on(&rig, 1, 1), reports_on(&rig, 1, 3));
    assert_eq!((video.len(), audio.len()), (2, 2), "one at PLAY and one 4 s later");
    let (v, a) = (&video[1], &audio[1]);
    // Same instant, same NTP time on both tracks: what lets a player sync them.
    assert_eq!(v.ntp, a.ntp);
    assert_eq!(v.ntp, ntp_of(WALL_AT_START_US + 4_000_000));
    // 4 s after the frames were stamped: 4 s of ticks on each clock (±1 for rounding).
    let dv = v.rtp_time.wrapping_sub(first_video) as i64;
    let da = a.rtp_time.wrapping_sub(first_audio) as i64;
    assert!((dv - 360_000).abs() <= 1, "video ticks {dv}");
    assert!((da - 32_000).abs() <= 1, "audio ticks {da}");
    // Counts: every RTP packet and payload octet the stream sent (RFC 3550 6.4.1).
    let video_pkts = rig.tcp_packets(1, 0);
    assert_eq!(v.packets as usize, video_pkts.len());
    assert_eq!(v.octets as usize, video_pkts.iter().map(|p| p.payload.len()).sum::<usize>());
    assert_eq!((a.packets, a.octets), (1, 160));
    assert_eq!(v.ssrc, video_pkts[0].ssrc);
}

#[test]
fn reports_follow_at_least_every_five_seconds_while_playing() {
    let mut rig = av_rig();
    rig.push_video("av", &annexb(&test_au(0)), 0, rig.now).unwrap();
    av_player(&mut rig, 1);
    let start = rig.now;
    let mut times = vec![start];
    while rig.now < start + 30_000_000 {
        rig.now = rig.s.poll_timeout().unwrap().max(rig.now + 1);
        let before = reports_on(&rig, 1, 1).len();
        rig.s.handle_timeout(rig.now);
        rig.flush();
        if reports_on(&rig, 1, 1).len() > before {
            times.push(rig.now);
        }
        // Keep the client alive meanwhile.
        let sid = rig.s.clients.values().next().expect("a client").id.clone();
        rig.request(1, "GET_PARAMETER", "rtsp://127.0.0.1:8554/av/", &[("Session", &sid)]);
    }
    assert!(times.len() >= 7, "{} reports in 30 s", times.len());
    assert!(times.windows(2).all(|w| w[1] - w[0] <= 5_000_000), "{times:?}");
}

#[test]
fn teardown_and_session_end_say_bye_on_every_track() {
    let mut rig = av_rig();
    let sid = av_player(&mut rig, 1);
    av_player(&mut rig, 2);
    rig.rtcp.clear();
    rig.request(1, "TEARDOWN", "rtsp://127.0.0.1:8554/av/", &[("Session", &sid)]);
    rig.flush();
    let byes: Vec<RtcpTo> = rig.rtcp.iter().filter(|(_, d)| rtcp_types(d).contains(&203)).map(|(to, _)| *to).collect();
    assert_eq!(byes, [RtcpTo::Channel(1, 1), RtcpTo::Channel(1, 3)]);
    rig.rtcp.clear();
    assert!(rig.s.destroy_session("av"));
    rig.flush();
    let byes: Vec<RtcpTo> = rig.rtcp.iter().filter(|(_, d)| rtcp_types(d).contains(&203)).map(|(to, _)| *to).collect();
    assert_eq!(byes, [RtcpTo::Channel(2, 1), RtcpTo::Channel(2, 3)]);
    // RFC 3550 6.1: a compound packet starts with SR or RR.
    assert!(rig.rtcp.iter().all(|(_, d)| matches!(rtcp_types(d).first(), Some(200 | 201))));
}

#[test]
fn udp_clients_get_reports_on_their_rtcp_port_from_the_rtcp_socket() {
    let mut rig = Rig::new();
    rig.s.set_wall_clock(rig.now, WALL_AT_START_US);
    rig.open(1);
    let sid = rig.setup_udp(1, "test", 6000);
    rig.play(1, "test", &sid);
    rig.push_au(0);
    rig.s.handle_timeout(rig.now);
    rig.flush();
    let to = SocketAddr::new(peer(1).ip(), 6001);
    assert_eq!(rig.rtcp.iter().filter(|(t, d)| *t == RtcpTo::Udp(to) && read_sr(d).is_some()).count(), 1);
}

// ------------------------------------------------------------------ limits

fn setup_reply(rig: &mut Rig, id: Tid, transport: &str) -> Reply {
    rig.open(id);
    rig.request(id, "SETUP", &format!("{URL}/trackID=0"), &[("Transport", transport)])
}

#[test]
fn clients_past_the_server_limit_get_503_and_past_the_session_limit_453() {
    let config = Config { max_clients: 3, max_clients_per_session: 2, ..Config::default() };
    let mut rig = Rig::with(config, test_random);
    rig.s.create_session("other", VideoCodec::H264, None, SessionOptions::default()).unwrap();
    let tcp = "RTP/AVP/TCP;unicast;interleaved=0-1";
    assert_eq!(setup_reply(&mut rig, 1, tcp).status, 200);
    assert_eq!(setup_reply(&mut rig, 2, tcp).status, 200);
    assert_eq!(setup_reply(&mut rig, 3, tcp).status, 453, "third client of one session");
    rig.open(4);
    let r = rig.request(4, "SETUP", "rtsp://127.0.0.1:8554/other/trackID=0", &[("Transport", tcp)]);
    assert_eq!(r.status, 200);
    rig.open(5);
    let r = rig.request(5, "SETUP", "rtsp://127.0.0.1:8554/other/trackID=0", &[("Transport", tcp)]);
    assert_eq!(r.status, 503, "fourth client of the server");
    // Nothing else is disturbed: the first clients are still there and answered.
    assert_eq!(rig.request(1, "GET_PARAMETER", URL, &[]).status, 200);
    assert_eq!(rig.stats().clients, 2);
}

#[test]
fn sessions_past_the_limit_are_refused_and_existing_names_still_succeed() {
    let mut s = Server::with_rng(Config { max_sessions: 2, ..Config::default() }, Box::new(FnRng(test_random)));
    let opts = SessionOptions::default();
    let a = match s.create_session("a", VideoCodec::H264, None, opts) {
        Ok(Created::New(id)) => id,
        other => panic!("first session: {other:?}"),
    };
    assert!(matches!(s.create_session("b", VideoCodec::H265, None, opts), Ok(Created::New(_))));
    assert_eq!(s.create_session("c", VideoCodec::Mjpeg, None, opts), Err(CreateError::TooMany));
    assert_eq!(s.create_session("a", VideoCodec::Mjpeg, None, opts), Ok(Created::Existing(a)), "an existing name: 0, unchanged");
    assert!(s.destroy_session("a"));
    for bad in ["", "/a", "a b", "a/trackID=1"] {
        assert_eq!(s.create_session(bad, VideoCodec::H264, None, opts), Err(CreateError::BadName));
    }
    assert!(matches!(s.create_session("c", VideoCodec::Mjpeg, None, opts), Ok(Created::New(_))));
}

#[test]
fn tcp_only_answers_udp_with_461_and_picks_tcp_among_alternatives() {
    let mut rig = Rig::with(Config { tcp_only: true, ..Config::default() }, test_random);
    assert_eq!(setup_reply(&mut rig, 1, "RTP/AVP;unicast;client_port=5000-5001").status, 461);
    let r = setup_reply(&mut rig, 2, "RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1");
    assert_eq!(r.status, 200);
    assert!(r.header("Transport").unwrap().starts_with("RTP/AVP/TCP"), "{r:?}");
}

#[test]
fn past_the_connection_limit_the_oldest_idle_connection_makes_room() {
    let mut rig = Rig::with(Config { max_connections: 3, ..Config::default() }, test_random);
    rig.tcp_player(1);
    rig.now += 1_000;
    rig.open(2); // idle, oldest without a client
    rig.now += 1_000;
    rig.open(3); // idle
    rig.now += 1_000;
    rig.open(4); // over the limit: 2 goes
    rig.flush();
    assert_eq!(rig.take_finished(), vec![2]);
    // A newcomer can still talk.
    assert_eq!(rig.request(4, "OPTIONS", URL, &[]).status, 200);
    // All with clients: a newcomer is refused with 503, and the players are untouched.
    let mut rig = Rig::with(Config { max_connections: 2, ..Config::default() }, test_random);
    rig.tcp_player(1);
    rig.tcp_player(2);
    rig.open(3);
    let out = rig.read(3);
    assert!(matches!(&out[..], [Out::Reply(r)] if r.status == 503), "{out:?}");
    assert_eq!(rig.take_finished(), vec![3]);
    rig.push_au(0);
    assert_eq!(depacketize(&rig.tcp_packets(1, 0)), rig.sent_nals(0..1));
    assert_eq!(depacketize(&rig.tcp_packets(2, 0)), rig.sent_nals(0..1));
}

#[test]
fn room_is_made_before_a_newcomer_is_accepted() {
    // The I/O layer asks for room before it accepts: the connection that
    // makes room is finished at once, so its socket goes before the newcomer's comes.
    let mut rig = Rig::with(Config { max_connections: 3, ..Config::default() }, test_random);
    let sid = rig.tcp_player(1);
    rig.now += 1_000;
    for (i, id) in [2, 3].into_iter().enumerate() {
        rig.open(id); // 2 as a tunnel's GET, 3 plain: both idle, 2 the older
        if i == 0 {
            let (head, _) = http_reply(&rig.send_raw_bytes(2, tunnel_get("room").as_bytes()));
            assert!(head.starts_with("HTTP/1.0 200"));
        }
        rig.now += 1_000;
    }
    assert!(rig.s.is_full());
    assert!(rig.s.make_room());
    assert!(!rig.s.is_full());
    assert_eq!(rig.take_finished(), vec![2]);
    // Not full: nothing is closed.
    assert!(rig.s.make_room());
    assert_eq!(rig.take_finished(), Vec::<Tid>::new());
    rig.open(4);
    assert!(!rig.has_output(4));
    assert!(rig.s.make_room());
    assert_eq!(rig.take_finished(), vec![3]);
    rig.open(5);
    // Full of connections with clients: no room, and a newcomer gets 503.
    rig.setup_tcp(4, "test");
    rig.setup_tcp(5, "test");
    assert!(rig.s.is_full());
    assert!(!rig.s.make_room());
    assert_eq!(rig.take_finished(), Vec::<Tid>::new());
    rig.open(6);
    let out = rig.read(6);
    assert!(matches!(&out[..], [Out::Reply(r)] if r.status == 503), "{out:?}");
    assert_eq!(rig.take_finished(), vec![6]);
    assert_eq!(rig.request(1, "GET_PARAMETER", URL, &[("Session", &sid)]).status, 200);
}

#[test]
fn a_connection_that_never_asks_for_anything_is_closed_after_the_session_timeout() {
    let mut rig = Rig::new();
    rig.open(1);
    let sid = rig.tcp_player(2);
    let t0 = rig.now;
    for step in 1..=7u64 {
        rig.now = t0 + step * 10_000_000;
        rig.request(2, "GET_PARAMETER", URL, &[("Session", &sid)]);
        rig.s.handle_timeout(rig.now);
        rig.flush();
    }
    assert_eq!(rig.take_finished(), vec![1]);
    assert_eq!(rig.stats().clients, 1);
}

#[test]
fn a_client_that_stays_stuck_is_dropped_and_the_others_keep_everything() {
    let config = Config { max_queued_bytes: 20_000, stuck_timeout_us: 3_000_000, ..Config::default() };
    let mut rig = Rig::with(config, test_random);
    let sid1 = rig.tcp_player(1);
    rig.tcp_player(2);
    rig.stalled.insert(2);
    for k in 0..150 {
        rig.push_au(k);
        if k == 60 {
            // Before it goes, the stats name it: frames lost, waiting for a keyframe.
            let stuck = rig.client_stats(Some("test"), 1).unwrap();
            assert_eq!(stuck.peer, peer(2));
            assert!(stuck.tcp && stuck.playing && stuck.frames_dropped > 0, "{stuck:?}");
            assert_eq!(rig.client_stats(Some("test"), 0).unwrap().frames_dropped, 0);
            assert!(rig.client_stats(Some("test"), 2).is_none());
        }
        if k % 30 == 0 {
            // Both stay alive as far as RTSP goes.
            rig.request(1, "GET_PARAMETER", URL, &[("Session", &sid1)]);
            rig.s.handle_timeout(rig.now);
        }
    }
    rig.flush();
    assert_eq!(rig.take_finished(), vec![2], "the stuck connection is closed");
    assert_eq!(rig.stats().clients, 1);
    assert_eq!(depacketize(&rig.tcp_packets(1, 0)), rig.sent_nals(0..150));
}

#[test]
fn without_the_gop_cache_a_late_joiner_waits_and_the_script_is_told() {
    let mut rig = Rig::new();
    assert!(rig.s.set_gop_cache("test", false));
    assert!(!rig.s.set_gop_cache("nope", false));
    for k in 0..2 {
        rig.push_au(k);
    }
    assert_eq!(rig.s.need_keyframe(Some("test")), Some(false), "nobody waits yet");
    rig.tcp_player(1);
    assert!(rig.tcp_packets(1, 0).is_empty(), "no cached GOP is sent");
    assert_eq!(rig.s.need_keyframe(Some("test")), Some(true));
    for k in 2..GOP_LEN + 1 {
        rig.push_au(k);
    }
    assert_eq!(rig.s.need_keyframe(Some("test")), Some(false));
    let got = depacketize(&rig.tcp_packets(1, 0));
    assert_eq!(got, rig.sent_nals(GOP_LEN..GOP_LEN + 1), "starts at the next keyframe with its parameter sets");
    assert_eq!(rig.s.need_keyframe(Some("nope")), None);
}

#[test]
fn with_the_gop_cache_a_late_joiner_needs_no_keyframe() {
    let mut rig = Rig::new();
    for k in 0..3 {
        rig.push_au(k);
    }
    rig.tcp_player(1);
    assert_eq!(rig.s.need_keyframe(Some("test")), Some(false));
    assert_eq!(depacketize(&rig.tcp_packets(1, 0)), rig.sent_nals(0..3));
}

// ------------------------------------------------------------ authentication

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The nonce of the first Digest challenge of a 401.
fn nonce_of(reply: &Reply) -> String {
    let challenge = reply.header("WWW-Authenticate").expect("a challenge");
    let start = challenge.find("nonce=\"").unwrap() + 7;
    challenge[start..].split('"').next().unwrap().to_string()
}

/// An RFC 2069-form Digest answer (what GStreamer sends), computed from RFC 2617 3.2.2.
fn digest_answer(user: &str, password: &str, method: &str, uri: &str, nonce: &str) -> String {
    let ha1 = md5_hex(&format!("{user}:canmv-rtsp:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"canmv-rtsp\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\""
    )
}

fn auth_rig(allow_basic: bool) -> Rig {
    let mut rig = Rig::new();
    rig.s.set_auth(Some(Authenticator::new("canmv-rtsp", &[("viewer", "s3cret")], allow_basic)));
    rig
}

#[test]
fn with_authentication_on_only_options_is_open_and_a_401_offers_digest() {
    let mut rig = auth_rig(false);
    rig.open(1);
    assert_eq!(rig.request(1, "OPTIONS", URL, &[]).status, 200);
    let r = rig.request(1, "DESCRIBE", URL, &[]);
    assert_eq!(r.status, 401);
    let challenges: Vec<&str> =
        r.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("WWW-Authenticate")).map(|(_, v)| v.as_str()).collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges.iter().all(|c| c.starts_with("Digest ")));
    assert!(challenges[1].contains("algorithm=MD5"), "MD5 last: ffmpeg keeps the last Digest challenge");
    // Nothing but OPTIONS gets through without a user.
    for method in ["SETUP", "PLAY", "GET_PARAMETER", "TEARDOWN", "PAUSE"] {
        assert_eq!(rig.request(1, method, URL, &[("Transport", "RTP/AVP/TCP;interleaved=0-1")]).status, 401);
    }
    assert_eq!(rig.stats().clients, 0);
}

#[test]
fn the_right_digest_answer_plays_and_a_wrong_password_gets_401_and_no_media() {
    let mut rig = auth_rig(false);
    rig.open(1);
    let nonce = nonce_of(&rig.request(1, "DESCRIBE", URL, &[]));
    let answer = |method: &str, uri: &str| digest_answer("viewer", "s3cret", method, uri, &nonce);
    assert_eq!(rig.request(1, "DESCRIBE", URL, &[("Authorization", &answer("DESCRIBE", URL))]).status, 200);
    let setup_uri = format!("{URL}/trackID=0");
    let r = rig.request(
        1,
        "SETUP",
        &setup_uri,
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"), ("Authorization", &answer("SETUP", &setup_uri))],
    );
    assert_eq!(r.status, 200);
    let sid = r.session();
    let r = rig.request(1, "PLAY", URL, &[("Session", &sid), ("Authorization", &answer("PLAY", URL))]);
    assert_eq!(r.status, 200);
    rig.push_au(0);
    assert_eq!(depacketize(&rig.tcp_packets(1, 0)), rig.sent_nals(0..1));

    // Another connection with the wrong password: 401 at every step, no client, no packet.
    rig.open(2);
    let nonce = nonce_of(&rig.request(2, "DESCRIBE", URL, &[]));
    let wrong = |method: &str, uri: &str| digest_answer("viewer", "guess", method, uri, &nonce);
    assert_eq!(rig.request(2, "DESCRIBE", URL, &[("Authorization", &wrong("DESCRIBE", URL))]).status, 401);
    let r = rig.request(
        2,
        "SETUP",
        &setup_uri,
        &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"), ("Authorization", &wrong("SETUP", &setup_uri))],
    );
    assert_eq!(r.status, 401);
    // A right answer to a nonce this connection was never given is refused too.
    let r = rig.request(2, "DESCRIBE", URL, &[("Authorization", &answer("DESCRIBE", URL))]);
    assert_eq!(r.status, 401);
    rig.push_au(1);
    assert!(rig.tcp_packets(2, 0).is_empty());
    assert_eq!(rig.stats().clients, 1);
}

#[test]
fn basic_is_accepted_only_when_allowed() {
    let basic = format!("Basic {}", crate::sdp::base64(b"viewer:s3cret"));
    let mut rig = auth_rig(false);
    rig.open(1);
    rig.request(1, "DESCRIBE", URL, &[]);
    assert_eq!(rig.request(1, "DESCRIBE", URL, &[("Authorization", &basic)]).status, 401);
    let mut rig = auth_rig(true);
    rig.open(1);
    let r = rig.request(1, "DESCRIBE", URL, &[]);
    assert!(r.headers.iter().any(|(k, v)| k == "WWW-Authenticate" && v.starts_with("Basic ")));
    assert_eq!(rig.request(1, "DESCRIBE", URL, &[("Authorization", &basic)]).status, 200);
}

// ------------------------------------------------------- misbehaving peers

#[test]
fn a_udp_session_cannot_be_touched_from_another_connection_even_on_the_same_host() {
    let mut rig = Rig::new();
    rig.open(1);
    let sid = rig.setup_udp(1, "test", 5000);
    rig.play(1, "test", &sid);
    // Same address as the owner (peer(1) and this one share 127.0.0.1), another connection.
    rig.open_from(2, SocketAddr::new(peer(1).ip(), 40000));
    for method in ["PAUSE", "TEARDOWN", "PLAY", "GET_PARAMETER"] {
        assert_eq!(rig.request(2, method, URL, &[("Session", &sid)]).status, 454, "{method}");
    }
    assert_eq!(rig.stats().playing, 1);
}

#[test]
fn a_peer_that_pipelines_requests_and_never_reads_stops_being_read() {
    let mut rig = Rig::new();
    rig.open(1);
    rig.stalled.insert(1);
    let describe = "DESCRIBE rtsp://127.0.0.1:8554/test RTSP/1.0\\r\\nCSeq: 1\\r\\n\\r\\n".replace("\\r\\n", "\r\n");
    let mut sent = 0;
    while rig.wants_input(1) && sent < 100_000 {
        rig.conn_data(1, describe.as_bytes(), rig.now);
        sent += 1;
    }
    assert!(!rig.wants_input(1), "still reading after {sent} unread replies");
    assert!(sent < 1000, "{sent} replies queued before backpressure");
    // Once it reads, it is read again.
    let replies = rig.read(1);
    assert_eq!(replies.len(), sent);
    assert!(rig.wants_input(1));
}

#[test]
fn a_closing_connection_that_never_reads_is_closed_after_a_grace_period() {
    let mut rig = Rig::with(Config { max_connections: 1, ..Config::default() }, test_random);
    rig.tcp_player(1);
    rig.open(2); // refused: 503 queued, never read
    rig.stalled.insert(2);
    rig.flush();
    assert!(rig.take_finished().is_empty(), "not before its reply went out or the grace ran out");
    rig.s.handle_timeout(rig.now);
    rig.now += 6_000_000;
    rig.s.handle_timeout(rig.now);
    assert_eq!(rig.take_finished(), vec![2]);
}

#[test]
fn basic_credentials_sent_before_any_challenge_are_accepted() {
    let mut rig = auth_rig(true);
    rig.open(1);
    let basic = format!("Basic {}", crate::sdp::base64(b"viewer:s3cret"));
    assert_eq!(rig.request(1, "DESCRIBE", URL, &[("Authorization", &basic)]).status, 200);
    let wrong = format!("Basic {}", crate::sdp::base64(b"viewer:guess"));
    rig.open(2);
    assert_eq!(rig.request(2, "DESCRIBE", URL, &[("Authorization", &wrong)]).status, 401);
}

#[test]
fn a_peer_that_never_reads_its_replies_is_dropped_after_the_stuck_timeout() {
    let mut rig = Rig::with(Config { stuck_timeout_us: 10_000_000, ..Config::default() }, test_random);
    rig.open(1);
    let describe = "DESCRIBE rtsp://127.0.0.1:8554/test RTSP/1.0\r\nCSeq: 1\r\n\r\n".repeat(2000);
    rig.conn_data(1, describe.as_bytes(), rig.now);
    assert!(!rig.wants_input(1));
    let t0 = rig.now;
    for step in 1..=12u64 {
        rig.now = t0 + step * 1_000_000;
        rig.s.handle_timeout(rig.now);
        if step <= 10 {
            assert!(rig.take_finished().is_empty(), "at {step} s");
        }
    }
    assert_eq!(rig.take_finished(), vec![1]);
}

#[test]
fn one_connection_cannot_take_every_client_slot() {
    let mut rig = Rig::new();
    rig.open(1);
    let tcp = [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")];
    let statuses: Vec<u16> =
        (0..6).map(|_| rig.request(1, "SETUP", &format!("{URL}/trackID=0"), &tcp).status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 453, 453]);
    // Another player still gets in.
    assert_eq!(setup_reply(&mut rig, 2, "RTP/AVP/TCP;unicast;interleaved=0-1").status, 200);
}

#[test]
fn after_a_malformed_request_a_playing_connection_gets_its_400_and_nothing_more() {
    let mut rig = Rig::new();
    rig.tcp_player(1);
    rig.push_au(0);
    let before = rig.tcp_packets(1, 0).len();
    let out = rig.send_raw(1, b"\x00\x01garbage\r\n\r\n");
    assert!(matches!(&out[..], [Out::Reply(r)] if r.status == 400), "{out:?}");
    rig.push_au(1);
    assert_eq!(rig.tcp_packets(1, 0).len(), before, "media after the connection was condemned");
    assert_eq!(rig.stats().clients, 0);
    assert_eq!(rig.take_finished(), vec![1]);
}

// ------------------------------------------------- timers: never in the past

/// A small seeded generator (splitmix64), so a failing sequence replays from its seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One random step a client, the producer or time can take. Returns a label for the failure trace.
fn random_step(rig: &mut Rig, dice: &mut Dice, sessions: &mut BTreeMap<Tid, String>) -> String {
    const CONNS: u64 = 6;
    let id = 1 + dice.below(CONNS);
    let open = rig.ids.contains_key(&id);
    let sid = sessions.get(&id).cloned();
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 1];
    let request = |rig: &mut Rig, method: &str, path: &str, headers: &[(&str, &str)]| {
        rig.cseq += 1;
        let mut text = format!("{method} rtsp://127.0.0.1:8554/{path} RTSP/1.0\r\nCSeq: {}\r\n", rig.cseq);
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        rig.conn_data(id, text.as_bytes(), rig.now);
    };
    let label = match dice.below(18) {
        0 if !open => {
            rig.open(id);
            "open"
        }
        0 | 1 => {
            if dice.below(2) == 0 {
                request(rig, "SETUP", "test/trackID=0", &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]);
            } else {
                let t = format!("RTP/AVP;unicast;client_port={}-{}", 5000 + 2 * id, 5001 + 2 * id);
                request(rig, "SETUP", "test/trackID=0", &[("Transport", &t)]);
            }
            "setup"
        }
        2 => {
            request(rig, "PLAY", "test/", &[("Session", sid.as_deref().unwrap_or("x"))]);
            "play"
        }
        3 => {
            request(rig, "PAUSE", "test/", &[("Session", sid.as_deref().unwrap_or("x"))]);
            "pause"
        }
        4 => {
            request(rig, "TEARDOWN", "test/", &[("Session", sid.as_deref().unwrap_or("x"))]);
            "teardown"
        }
        5 => {
            let method = ["GET_PARAMETER", "OPTIONS", "SET_PARAMETER", "DESCRIBE"][dice.below(4) as usize];
            request(rig, method, "test", &[("Session", sid.as_deref().unwrap_or("x"))]);
            "keepalive"
        }
        6 => {
            let mut frame = vec![b'$', 1, 0, rr.len() as u8];
            frame.extend_from_slice(&rr);
            rig.conn_data(id, &frame, rig.now);
            "interleaved rtcp"
        }
        7 => {
            rig.rtcp_in(SocketAddr::new(peer(id).ip(), 5001 + 2 * id as u16), &rr, rig.now);
            "udp rtcp"
        }
        8 => {
            rig.conn_data(id, b"GARBAGE\r\n\r\n", rig.now);
            "garbage"
        }
        9 => {
            rig.conn_closed(id);
            "peer closed"
        }
        10 => {
            // The reader stalls or comes back.
            if !rig.stalled.remove(&id) {
                rig.stalled.insert(id);
            }
            "stall toggle"
        }
        13 => {
            // A second session on the same connection (its own client).
            let t = if dice.below(2) == 0 {
                "RTP/AVP/TCP;unicast;interleaved=0-1".to_string()
            } else {
                format!("RTP/AVP;unicast;client_port={}-{}", 6000 + 2 * id, 6001 + 2 * id)
            };
            request(rig, "SETUP", "other/trackID=0", &[("Transport", &t)]);
            request(rig, "PLAY", "other/", &[("Session", sid.as_deref().unwrap_or("x"))]);
            "other session"
        }
        14 => {
            // The script ends a session while clients watch, and makes it again.
            rig.s.destroy_session("test");
            let _ = rig.s.create_session("test", VideoCodec::H264, None, SessionOptions::default());
            "destroy and recreate"
        }
        11 | 12 => {
            let k = rig.sent.len();
            let au = test_au(k);
            rig.now += FRAME_US;
            rig.script_ts += FRAME_US;
            let _ = rig.push_video("test", &annexb(&au), rig.script_ts, rig.now);
            rig.sent.push(au);
            "push"
        }
        _ => {
            // Time passes: mostly a little, sometimes past every timeout at once.
            rig.now += match dice.below(8) {
                0 => 20_000_000 + dice.below(100_000_000),
                1..=3 => dice.below(3_000_000),
                _ => dice.below(100_000),
            };
            "time"
        }
    };
    // Replies name the RTSP session a connection set up.
    if !rig.stalled.contains(&id) && rig.ids.contains_key(&id) {
        for out in rig.read(id) {
            if let Out::Reply(r) = out {
                if let Some(s) = r.header("Session") {
                    sessions.insert(id, s.split(';').next().unwrap_or("").to_string());
                }
            }
        }
    }
    label.to_string()
}

/// After the core has handled time `t`, its next deadline is later than `t`,
/// or there is none: a deadline left in the past makes the loop spin (on the
/// board, under strict priorities, it starves every thread below it).
#[test]
fn after_handling_time_the_next_deadline_is_in_the_future() {
    for seed in 0..400u64 {
        let config = Config {
            session_timeout_s: 3,
            stuck_timeout_us: 2_000_000,
            max_queued_bytes: 20_000,
            sender_report_interval_us: 1_000_000,
            max_connections: 4,
            ..Config::default()
        };
        let mut rig = Rig::with(config, test_random);
        rig.s.create_session("other", VideoCodec::H264, None, SessionOptions::default()).unwrap();
        let mut dice = Dice(seed);
        let mut sessions = BTreeMap::new();
        let mut trace = Vec::new();
        for _ in 0..400 {
            trace.push(random_step(&mut rig, &mut dice, &mut sessions));
            rig.s.handle_timeout(rig.now);
            rig.flush();
            rig.take_finished();
            let next = rig.s.poll_timeout();
            let recent = &trace[trace.len().saturating_sub(12)..];
            assert!(
                next.is_none_or(|t| t > rig.now),
                "seed {seed}: after handle_timeout({}) the next deadline is {next:?}, not later; steps: {recent:?}",
                rig.now,
            );
            // And none is missing: whatever can end has a timer that ends it.
            for (id, c) in rig.s.wire.conns.iter() {
                if c.closing {
                    let graced = c.out.is_empty() || c.timers.get(ConnTimer::CloseGrace).is_some();
                    assert!(graced, "seed {seed}: closing connection {id} with output and no grace timer: {recent:?}");
                } else {
                    let idle = c.timers.get(ConnTimer::Idle).is_some();
                    assert!(idle, "seed {seed}: open connection {id} without an idle timer: {recent:?}");
                }
            }
            for c in rig.s.clients.values() {
                assert!(c.timers.get(ClientTimer::Expiry).is_some(), "seed {seed}: a client that never expires");
                let reporting = !c.playing || c.first_media.iter().all(Option::is_none);
                assert!(
                    reporting || c.timers.get(ClientTimer::Report).is_some(),
                    "seed {seed}: a playing client with media and no report timer: {recent:?}"
                );
            }
        }
    }
}

// ------------------------------------------- what strict players check

/// One thing a player received on a track, in arrival order.
#[derive(Debug, Clone, Copy)]
enum Seen {
    Rtp { seq: u16, ts: u32 },
    Report { rtp_time: u32, ntp: u64 },
}

/// What RFC 3550 and strict players (retina, Moonfire NVR's client) hold a
/// stream to: the first packet is the one RTP-Info names, no sender report
/// comes before it, and no packet after a report goes back behind the
/// report's RTP time by more than `jitter` ticks. Over UDP a player may read
/// the report before packets sent ahead of it (they come on another socket),
/// so no packet at all is older than the first report; and every report maps
/// RTP time to NTP time on one line (`rate` ticks a second).
/// `exact`: the client starts from the cache, so RTP-Info knows its first
/// packet; else (waiting for the next keyframe with the cache off) its first
/// packet is at or after what RTP-Info names, which players count as skipped.
fn assert_consistent_timeline(label: &str, seen: &[Seen], rtp_info: (u16, u32), jitter: u32, exact: bool, rate: u64) {
    let Some(Seen::Rtp { seq, ts }) = seen.first().copied() else {
        panic!("{label}: the first thing received is {:?}, not an RTP packet", seen.first())
    };
    if exact {
        assert_eq!((seq, ts), rtp_info, "{label}: the first packet is not the one RTP-Info names");
    } else {
        assert!(seq.wrapping_sub(rtp_info.0) < 1 << 15, "{label}: first packet {seq} before RTP-Info's {rtp_info:?}");
        assert!(ts.wrapping_sub(rtp_info.1) < 1 << 31, "{label}: first packet at {ts} before RTP-Info's {rtp_info:?}");
    }
    let reports: Vec<(u32, u64)> = seen
        .iter()
        .filter_map(|s| if let Seen::Report { rtp_time, ntp } = *s { Some((rtp_time, ntp)) } else { None })
        .collect();
    let Some(&(first_report, first_ntp)) = reports.first() else { panic!("{label}: no sender report at all") };
    let mut report: Option<u32> = None;
    for item in seen {
        match *item {
            Seen::Report { rtp_time, .. } => report = Some(rtp_time),
            Seen::Rtp { seq, ts } => {
                if let Some(r) = report {
                    let behind = r.wrapping_sub(ts) as i32;
                    assert!(behind <= jitter as i32, "{label}: packet {seq} at {ts} is {behind} ticks behind a report");
                }
                let before_first = first_report.wrapping_sub(ts) as i32;
                assert!(before_first <= 0, "{label}: packet {seq} at {ts} is older than the first report");
            }
        }
    }
    for &(rtp_time, ntp) in &reports[1..] {
        let ticks = i64::from(rtp_time.wrapping_sub(first_report) as i32);
        let ntp_ticks = (((ntp - first_ntp) as u128 * u128::from(rate)) >> 32) as i64;
        assert!((ticks - ntp_ticks).abs() <= 2, "{label}: reports disagree: {ticks} RTP ticks for {ntp_ticks} of NTP");
    }
}

/// A player that joins in the middle of a GOP (or before any keyframe, or
/// with the cache off) over TCP and over UDP: every track's timeline is one
/// that retina accepts, while the producer goes on and reports fall due.
#[test]
fn late_joiners_get_reports_only_behind_packets_they_have() {
    for (transport, cached, join_at) in [("tcp", true, 3), ("udp", true, 3), ("tcp", false, 3), ("udp", true, 0)] {
        let label = format!("{transport}, gop cache {cached}, join after {join_at} access units");
        let mut rig = av_rig();
        rig.s.set_gop_cache("av", cached);
        let push = |rig: &mut Rig, k: usize| {
            rig.now += FRAME_US;
            rig.script_ts += FRAME_US;
            rig.push_video("av", &annexb(&test_au(k)), rig.script_ts, rig.now).unwrap();
            rig.push_audio("av", &[0xff; 266], rig.script_ts, rig.now).unwrap();
        };
        for k in 0..join_at {
            push(&mut rig, k);
        }
        rig.flush();
        rig.open(1);
        let mut sid = String::new();
        for track in 0..2u8 {
            let transport_hdr = if transport == "tcp" {
                format!("RTP/AVP/TCP;unicast;interleaved={}-{}", 2 * track, 2 * track + 1)
            } else {
                format!("RTP/AVP;unicast;client_port={}-{}", 7000 + 2 * u16::from(track), 7001 + 2 * u16::from(track))
            };
            let mut headers = vec![("Transport", transport_hdr.as_str())];
            if track == 1 {
                headers.push(("Session", &sid));
            }
            let r = rig.request(1, "SETUP", &format!("rtsp://127.0.0.1:8554/av/trackID={track}"), &headers);
            assert_eq!(r.status, 200, "{label}: {r:?}");
            sid = r.session();
        }
        // PLAY by hand: everything the connection (or the UDP socket) sends is logged in order.
        let mut seen: [Vec<Seen>; 2] = [Vec::new(), Vec::new()];
        let log = |rig: &mut Rig, seen: &mut [Vec<Seen>; 2], replies: &mut Vec<Reply>| {
            for out in rig.read(1) {
                match out {
                    Out::Reply(r) => replies.push(r),
                    Out::Frame { channel, data } => {
                        let track = usize::from(channel / 2);
                        seen[track].push(match read_sr(&data) {
                            Some(sr) => Seen::Report { rtp_time: sr.rtp_time, ntp: sr.ntp },
                            None => Seen::Rtp { seq: rtp(&data).seq, ts: rtp(&data).ts },
                        });
                    }
                }
            }
            while let Some(d) = rig.pop_datagram() {
                let (to, _, bytes) = d;
                let track = usize::from((to.port() - 7000) / 2);
                seen[track].push(match read_sr(&bytes) {
                    Some(sr) => Seen::Report { rtp_time: sr.rtp_time, ntp: sr.ntp },
                    None => Seen::Rtp { seq: rtp(&bytes).seq, ts: rtp(&bytes).ts },
                });
            }
        };
        let mut replies = Vec::new();
        rig.cseq += 1;
        let play = format!("PLAY rtsp://127.0.0.1:8554/av/ RTSP/1.0\r\nCSeq: {}\r\nSession: {sid}\r\n\r\n", rig.cseq);
        rig.conn_data(1, play.as_bytes(), rig.now);
        // The loop handles time after every turn, and time goes on for 12 s, with reports every 4 s.
        for k in join_at..join_at + 360 {
            rig.s.handle_timeout(rig.now);
            log(&mut rig, &mut seen, &mut replies);
            push(&mut rig, k);
        }
        rig.s.handle_timeout(rig.now);
        log(&mut rig, &mut seen, &mut replies);
        let info = rtp_info(&replies[0]);
        for (track, jitter, rate) in [(0, 0, 90_000), (1, 0, 8_000)] {
            let start = (info[track]["seq"].parse().unwrap(), info[track]["rtptime"].parse().unwrap());
            let exact = join_at > 0 && (cached || track == 1);
            assert_consistent_timeline(&format!("{label}, track {track}"), &seen[track], start, jitter, exact, rate);
        }
    }
}

/// Found by the simulator (seed 10020 of `make sim-ci`'s 30 fps worlds): a
/// late joiner whose queue could not hold the cached GOP was sent it anyway,
/// cut back at once, and skipped from the middle of that GOP to the next
/// keyframe: a gap RTP-Info had not told it of. It now waits for the next
/// keyframe, as a client of a session without the cache does (RTP-Info's
/// seq and rtptime a lower bound of where it starts).
#[test]
fn a_cached_gop_larger_than_the_queue_is_not_sent_to_a_late_joiner() {
    let config = Config { max_queued_bytes: 8 * 1024, ..Config::default() };
    let mut rig = Rig::with(config, test_random);
    for k in 0..4 {
        rig.push_au(k); // one GOP so far: about 8.6 KB
    }
    rig.open(2);
    let sid = rig.setup_tcp(2, "test");
    let reply = rig.play(2, "test", &sid);
    let (seq, _) = rtp_info_start(&reply);
    for k in 4..(2 * GOP_LEN + 1) {
        rig.push_au(k);
    }
    let late = rig.tcp_packets(2, 0);
    assert_consecutive(&late);
    assert!(late[0].seq.wrapping_sub(seq) < 0x8000, "nothing before RTP-Info's seq {seq}: {}", late[0].seq);
    let nals = depacketize(&late);
    assert_eq!(nal_type(&nals[0]), 7, "it starts at the next keyframe's SPS");
    let want = rig.sent_nals(GOP_LEN..2 * GOP_LEN + 1);
    assert!(nals == want, "{} NAL units, not the {} from the next keyframe on: part of the cached GOP?", nals.len(), want.len());
    assert_eq!(rig.stats().frames_dropped, 0, "never cut back");
}

// ---- RTSP over HTTP (the QuickTime tunnel, `tunnel.rs`) ----

const COOKIE: &str = "awkqgcrtkriijycxcqthwac";

/// GStreamer's GET (HTTP/1.0; ffmpeg's is HTTP/1.1 with a few more headers).
fn tunnel_get(cookie: &str) -> String {
    format!(
        "GET /test HTTP/1.0\r\nx-sessioncookie: {cookie}\r\nAccept: application/x-rtsp-tunnelled\r\n\
         Cache-Control: no-cache\r\nPragma: no-cache\r\nHost: 127.0.0.1:8554\r\n\r\n"
    )
}

fn tunnel_post(cookie: &str) -> String {
    format!(
        "POST /test HTTP/1.0\r\nx-sessioncookie: {cookie}\r\nContent-Type: application/x-rtsp-tunnelled\r\n\
         Content-Length: 32767\r\nExpires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n"
    )
}

/// The HTTP status line and head of what a connection was sent, and what follows the head.
fn http_reply(bytes: &[u8]) -> (String, Vec<u8>) {
    let end = find(bytes, b"\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(bytes)));
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), bytes[end + 4..].to_vec())
}

impl Rig {
    /// Opens a tunnel: GET on `get`, checks its 200, then the POST head on `post`.
    fn open_tunnel(&mut self, get: Tid, post: Tid) {
        self.open(get);
        let bytes = self.send_raw_bytes(get, tunnel_get(COOKIE).as_bytes());
        let (head, rest) = http_reply(&bytes);
        assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
        for h in ["Content-Type: application/x-rtsp-tunnelled", "Cache-Control: no-cache", "Pragma: no-cache", "Connection: close"] {
            assert!(head.contains(h), "{h} in {head}");
        }
        assert!(rest.is_empty());
        self.open(post);
        self.conn_data(post, tunnel_post(COOKIE).as_bytes(), self.now);
        assert!(!self.has_output(post), "a POST gets no reply");
    }

    fn send_raw_bytes(&mut self, id: Tid, bytes: &[u8]) -> Vec<u8> {
        self.conn_data(id, bytes, self.now);
        self.read_bytes(id)
    }

    /// One request through a tunnel, its base64 written in pieces of `split`
    /// characters on `post`; its reply read from `get`.
    fn tunnel_request(&mut self, get: Tid, post: Tid, split: usize, method: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.cseq += 1;
        let mut text = format!("{method} {uri} RTSP/1.0\r\nCSeq: {}\r\n", self.cseq);
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        let encoded = crate::sdp::base64(text.as_bytes());
        for piece in encoded.as_bytes().chunks(split) {
            self.conn_data(post, piece, self.now);
        }
        assert!(!self.has_output(post), "a POST gets no reply");
        let mut reply = None;
        for out in self.read(get) {
            match out {
                Out::Reply(r) => reply = Some(r),
                Out::Frame { channel, data } => self.keep_frame(get, channel, data),
            }
        }
        let reply = reply.unwrap_or_else(|| panic!("no reply to {method} through the tunnel"));
        assert_eq!(reply.header("CSeq"), Some(self.cseq.to_string().as_str()));
        reply
    }
}

#[test]
fn a_tunnelled_client_plays_like_a_plain_one_with_its_media_down_the_get() {
    let mut rig = Rig::new();
    rig.push_video("test", &annexb(&test_au(0)), 0, rig.now).unwrap();
    rig.open_tunnel(1, 2);
    assert_eq!(rig.tunnel_request(1, 2, 7, "OPTIONS", URL, &[]).status, 200);
    assert_eq!(rig.tunnel_request(1, 2, 1000, "DESCRIBE", URL, &[("Accept", "application/sdp")]).status, 200);
    // A tunnel's RTP goes down its GET: UDP is refused.
    let udp = rig.tunnel_request(1, 2, 5, "SETUP", &format!("{URL}/trackID=0"), &[("Transport", "RTP/AVP;unicast;client_port=5000-5001")]);
    assert_eq!(udp.status, 461);
    // The POST may close after a request; the next one comes on a new POST.
    rig.conn_closed(2);
    rig.open(3);
    rig.conn_data(3, tunnel_post(COOKIE).as_bytes(), rig.now);
    let r = rig.tunnel_request(1, 3, 3, "SETUP", &format!("{URL}/trackID=0"), &[("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]);
    assert_eq!(r.status, 200, "{r:?}");
    let sid = r.session();
    assert_eq!(rig.tunnel_request(1, 3, 64, "PLAY", URL, &[("Session", &sid)]).status, 200);
    // The cached GOP, then live frames, down the GET.
    rig.push_video("test", &annexb(&test_au(1)), FRAME_US, rig.now).unwrap();
    rig.flush();
    assert!(rig.frames.get(&1).is_some_and(|f| f.len() >= 2), "{:?}", rig.frames.keys());
    assert!(!rig.frames.contains_key(&3));
    let stats = rig.client_stats(None, 0).unwrap();
    assert!(stats.tunnelled && stats.tcp && stats.playing);
    // The GET gone: its client and POSTs with it.
    rig.conn_closed(1);
    assert_eq!(rig.stats().clients, 0);
    assert_eq!(rig.take_finished(), vec![3]);
}

#[test]
fn a_tunnelled_client_answers_digest_authentication() {
    let mut rig = auth_rig(false);
    rig.open_tunnel(1, 2);
    let r = rig.tunnel_request(1, 2, 9, "DESCRIBE", URL, &[]);
    assert_eq!(r.status, 401);
    let nonce = nonce_of(&r);
    let answer = digest_answer("viewer", "s3cret", "DESCRIBE", URL, &nonce);
    assert_eq!(rig.tunnel_request(1, 2, 11, "DESCRIBE", URL, &[("Authorization", &answer)]).status, 200);
}

#[test]
fn a_post_read_before_its_get_waits_for_it_and_one_without_a_get_gets_404() {
    let mut rig = Rig::new();
    // GStreamer sends both at once: the POST may be read first.
    rig.open(2);
    let options = format!("{}{}", tunnel_post(COOKIE), crate::sdp::base64(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"));
    rig.conn_data(2, options.as_bytes(), rig.now);
    assert!(!rig.has_output(2));
    rig.open(1);
    let bytes = rig.send_raw_bytes(1, tunnel_get(COOKIE).as_bytes());
    let (head, rest) = http_reply(&bytes);
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    match parse_outputs(&rest).as_slice() {
        [Out::Reply(r)] => assert_eq!(r.status, 200),
        other => panic!("{other:?}"),
    }
    // A POST whose cookie no GET has: 404 once it has waited.
    rig.open(3);
    rig.conn_data(3, tunnel_post("nobody").as_bytes(), rig.now);
    rig.now += tunnel::POST_WAIT_US + 1;
    rig.s.handle_timeout(rig.now);
    let (head, _) = http_reply(&rig.read_bytes(3));
    assert!(head.starts_with("HTTP/1.0 404"), "{head}");
    assert_eq!(rig.take_finished(), vec![3]);
    assert_eq!(rig.tunnel_request(1, 2, 4, "OPTIONS", URL, &[]).status, 200, "the other tunnel goes on");
}

#[test]
fn a_second_get_with_a_live_cookie_gets_409_and_the_first_goes_on() {
    let mut rig = Rig::new();
    rig.open_tunnel(1, 2);
    rig.open(3);
    let (head, _) = http_reply(&rig.send_raw_bytes(3, tunnel_get(COOKIE).as_bytes()));
    assert!(head.starts_with("HTTP/1.0 409"), "{head}");
    assert_eq!(rig.take_finished(), vec![3]);
    assert_eq!(rig.tunnel_request(1, 2, 4, "OPTIONS", URL, &[]).status, 200);
}

#[test]
fn long_cookies_and_heads_that_are_no_tunnel_are_refused() {
    let mut rig = Rig::new();
    let cases: [(String, &str); 5] = [
        (tunnel_get(&"c".repeat(10 * 1024)), "HTTP/1.0 431"),
        (tunnel_get(&"c".repeat(tunnel::MAX_COOKIE + 1)), "HTTP/1.0 400"),
        ("GET /test HTTP/1.1\r\nx-sessioncookie: abc\r\n\r\n".into(), "HTTP/1.0 400"),
        ("GET /test HTTP/1.1\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n".into(), "HTTP/1.0 400"),
        ("PUT /test HTTP/1.1\r\n\r\n".into(), "RTSP/1.0 400"),
    ];
    for (i, (text, status)) in cases.iter().enumerate() {
        let id = 10 + i as Tid;
        rig.open(id);
        let bytes = rig.send_raw_bytes(id, text.as_bytes());
        assert!(bytes.starts_with(status.as_bytes()), "{status}: {:?}", String::from_utf8_lossy(&bytes));
        assert_eq!(rig.take_finished(), vec![id]);
    }
    // `GET_PARAMETER` is RTSP, not HTTP.
    rig.open(1);
    assert_eq!(rig.request(1, "GET_PARAMETER", URL, &[]).status, 200);
}

#[test]
fn invalid_base64_closes_the_post_with_400_and_the_tunnel_goes_on() {
    let mut rig = Rig::new();
    rig.open_tunnel(1, 2);
    rig.conn_data(2, b"T1BUSU9O*", rig.now);
    let (head, _) = http_reply(&rig.read_bytes(2));
    assert!(head.starts_with("HTTP/1.0 400"), "{head}");
    assert_eq!(rig.take_finished(), vec![2]);
    // Padding in the middle of a group is invalid too.
    rig.open(3);
    rig.conn_data(3, format!("{}QQ=A", tunnel_post(COOKIE)).as_bytes(), rig.now);
    assert!(rig.read_bytes(3).starts_with(b"HTTP/1.0 400"));
    assert_eq!(rig.take_finished(), vec![3]);
    // What decoded before stays: the GET's input starts afresh only with what is whole.
    rig.open(4);
    rig.conn_data(4, tunnel_post(COOKIE).as_bytes(), rig.now);
    let bytes = rig.read_bytes(1);
    assert!(bytes.is_empty() || bytes.starts_with(b"RTSP/1.0 400"), "{:?}", String::from_utf8_lossy(&bytes));
}

#[test]
fn half_a_request_waits_for_its_rest_on_the_next_post() {
    let mut rig = Rig::new();
    rig.open_tunnel(1, 2);
    let text = b"OPTIONS rtsp://127.0.0.1:8554/test RTSP/1.0\r\nCSeq: 7\r\n\r\n";
    let (a, b) = text.split_at(20);
    rig.conn_data(2, crate::sdp::base64(a).as_bytes(), rig.now);
    assert!(rig.read_bytes(1).is_empty(), "no reply to half a request");
    rig.conn_closed(2);
    rig.open(3);
    rig.conn_data(3, format!("{}{}", tunnel_post(COOKIE), crate::sdp::base64(b)).as_bytes(), rig.now);
    match rig.read(1).as_slice() {
        [Out::Reply(r)] => assert_eq!((r.status, r.header("CSeq")), (200, Some("7"))),
        other => panic!("{other:?}"),
    }
    // Half a request and then nothing: the tunnel times out like an idle connection.
    rig.conn_data(3, crate::sdp::base64(a).as_bytes(), rig.now);
    rig.now += u64::from(Config::default().session_timeout_s) * 1_000_000 + 2;
    rig.s.handle_timeout(rig.now);
    assert_eq!(rig.take_finished(), vec![1, 3]);
}

#[test]
fn a_post_of_endless_headers_gets_413_down_the_get_and_others_go_on() {
    let mut rig = Rig::new();
    let plain = rig.tcp_player(9);
    rig.open_tunnel(1, 2);
    let mut text = String::from("OPTIONS rtsp://127.0.0.1:8554/test RTSP/1.0\r\nCSeq: 1\r\n");
    while text.len() < 64 * 1024 {
        text.push_str("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let encoded = crate::sdp::base64(text.as_bytes());
    for piece in encoded.as_bytes().chunks(1000) {
        if !rig.wants_input(2) {
            break;
        }
        rig.conn_data(2, piece, rig.now);
    }
    match rig.read(1).as_slice() {
        [Out::Reply(r)] => assert_eq!(r.status, 413),
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.take_finished(), vec![1, 2]);
    assert_eq!(rig.request(9, "GET_PARAMETER", URL, &[("Session", &plain)]).status, 200);
}

#[test]
fn gets_that_never_post_count_against_max_connections_and_time_out() {
    let config = Config { max_connections: 3, ..Config::default() };
    let mut rig = Rig::with(config, test_random);
    let plain = rig.tcp_player(9);
    for (i, id) in [1, 2].into_iter().enumerate() {
        rig.open(id);
        let cookie = format!("cookie{i}");
        let (head, _) = http_reply(&rig.send_raw_bytes(id, tunnel_get(&cookie).as_bytes()));
        assert!(head.starts_with("HTTP/1.0 200"));
        rig.now += 1;
    }
    // A fourth connection: the GET that waited longest without a client makes room.
    rig.open(3);
    assert_eq!(rig.take_finished(), vec![1]);
    assert!(!rig.has_output(3));
    // The other GET times out like any connection without a client.
    rig.now += u64::from(Config::default().session_timeout_s) * 1_000_000 + 2;
    rig.s.handle_timeout(rig.now);
    // (The player, without a keepalive, with them.)
    assert_eq!(rig.take_finished(), vec![2, 3, 9]);
    let _ = plain;
}

#[test]
fn a_tunnel_whose_get_is_not_read_stops_reading_its_post_and_resumes() {
    let mut rig = Rig::new();
    rig.open_tunnel(1, 2);
    let text = format!("OPTIONS {URL} RTSP/1.0\r\nCSeq: 1\r\n\r\n");
    let one = crate::sdp::base64(text.as_bytes());
    // Pipelined requests whose replies nobody reads: the GET stops parsing,
    // and once its input holds a backlog the POST is not read either.
    let mut sent = 0;
    while rig.wants_input(2) && sent < 100_000 {
        rig.conn_data(2, one.as_bytes(), rig.now);
        sent += 1;
    }
    assert!(!rig.wants_input(2), "the POST is still read after {sent} requests");
    let limits = Config::default().limits;
    // (Past the backlog by less than one read: the replies held what came first.)
    let backlog = limits.max_head + limits.max_body;
    assert!(sent * text.len() >= backlog && sent * text.len() < backlog + 64 * 1024 + text.len(), "{sent}");
    // Reading the GET answers what was held back, and the POST is read again.
    let mut replies = 0;
    for _ in 0..10_000 {
        let outs = rig.read(1);
        if outs.is_empty() {
            break;
        }
        replies += outs.iter().filter(|o| matches!(o, Out::Reply(r) if r.status == 200)).count();
    }
    assert_eq!(replies, sent);
    assert!(rig.wants_input(2));
}

#[test]
fn a_tunnel_whose_post_carries_requests_is_not_the_idle_one_evicted() {
    let mut rig = Rig::with(Config { max_connections: 3, ..Config::default() }, test_random);
    rig.open_tunnel(1, 2);
    rig.now += 1_000_000;
    rig.open(3); // idle since now
    rig.now += 1_000_000;
    // Between DESCRIBE and SETUP the tunnel has no client; its requests come through the POST.
    let r = rig.tunnel_request(1, 2, 7, "DESCRIBE", URL, &[]);
    assert_eq!(r.status, 200);
    rig.now += 1_000_000;
    rig.open(4); // over the limit: 3 has waited longest, not the tunnel's POST
    rig.flush();
    assert_eq!(rig.take_finished(), vec![3]);
    assert_eq!(rig.tunnel_request(1, 2, 7, "OPTIONS", URL, &[]).status, 200);
}
