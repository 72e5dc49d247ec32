//! The RTSP server state machine, sans-IO. The I/O layer feeds it
//! connections, bytes, datagrams and time; it answers with bytes to write per
//! connection, datagrams to send, connections to close and a next deadline.
//! The media sessions live here too, so a producer call fans a frame out to
//! every playing client under one lock, sharing the packets by reference.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use crate::rtp::rtcp;
use crate::rtsp::{self, transport, url, Input, Lower, Method, ParseError, Request, Response};
use crate::sdp;
use crate::session::{AudioCodec, Frame, FrameRef, MediaSession, PushError, VideoCodec, TRACK_AUDIO, TRACK_VIDEO};

pub type ConnId = u64;

/// Settings a script may change (keyword-only options, later issues).
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: rtsp::Limits,
    /// Seconds without a request or RTCP report before a client is dropped.
    pub session_timeout_s: u32,
    /// Bytes queued for one TCP connection before its client is cut back to the next keyframe.
    pub max_queued_bytes: usize,
    /// Interval of RTCP sender reports to each playing client (RFC 3550: at least every 5 s here).
    pub sender_report_interval_us: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: rtsp::Limits::default(),
            session_timeout_s: 60,
            max_queued_bytes: 4 * 1024 * 1024,
            sender_report_interval_us: 4_000_000,
        }
    }
}

pub const METHODS: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER";
const SERVER_NAME: &str = "canmv-rtsp";
/// RTCP CNAME of our streams (RFC 3550 6.5.1: one per sender, shared by its tracks so players sync them).
const CNAME: &str = "canmv-rtsp";
/// Datagrams queued for the loop thread at most.
const MAX_DATAGRAM_BACKLOG: usize = 16 * 1024;

/// One piece of a TCP connection's output.
enum Chunk {
    Bytes(Vec<u8>),
    /// An RTP packet of a shared frame behind a 4-byte interleaved header.
    Packet {
        header: [u8; 4],
        frame: FrameRef,
        index: usize,
    },
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Packet { frame, index, .. } => 4 + frame.packets.packet(*index).len(),
        }
    }
}

struct Conn {
    peer: SocketAddr,
    local: SocketAddr,
    input: Vec<u8>,
    out: VecDeque<Chunk>,
    /// Bytes of `out` not yet written (the head chunk's `sent` taken off).
    queued: usize,
    /// Bytes of the head chunk already written.
    sent: usize,
    /// Close once the output is flushed.
    closing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackTransport {
    Udp { rtp: SocketAddr, rtcp: SocketAddr },
    Tcp { rtp_channel: u8, rtcp_channel: u8 },
}

/// An RTSP session: one client watching one media session.
struct Client {
    id: String,
    conn: ConnId,
    peer_ip: IpAddr,
    media: u32,
    tracks: [Option<TrackTransport>; 2],
    playing: bool,
    /// Skipping frames until a GOP start (joined with no cache, or cut back).
    waiting_keyframe: bool,
    last_seen_us: u64,
    frames_dropped: u64,
    /// When the next RTCP sender report is due (while playing).
    next_report_us: u64,
}

/// A datagram to send from the server's RTP (or RTCP) socket.
pub struct Datagram {
    pub to: SocketAddr,
    pub rtcp: bool,
    pub frame: FrameRef,
    pub index: usize,
}

impl Datagram {
    pub fn bytes(&self) -> &[u8] {
        self.frame.packets.packet(self.index)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub clients: u32,
    pub playing: u32,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub frames_dropped: u64,
    pub keyframe_waits: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    packets_sent: u64,
    bytes_sent: u64,
    frames_dropped: u64,
    keyframe_waits: u64,
}

pub struct Server {
    config: Config,
    sessions: Vec<MediaSession>,
    counters: BTreeMap<u32, Counters>,
    conns: BTreeMap<ConnId, Conn>,
    clients: Vec<Client>,
    udp_out: VecDeque<Datagram>,
    /// RTP/RTCP ports of the server's UDP pair, for SETUP replies.
    udp_ports: (u16, u16),
    next_media_id: u32,
    random: fn(&mut [u8]),
    /// Wall-clock minus monotonic time, µs (see `set_wall_clock`).
    wall_offset_us: i64,
}

impl Server {
    /// `random` fills a buffer with unpredictable bytes (OS entropy in the I/O layer).
    pub fn new(config: Config, random: fn(&mut [u8])) -> Self {
        Server {
            config,
            sessions: Vec::new(),
            counters: BTreeMap::new(),
            conns: BTreeMap::new(),
            clients: Vec::new(),
            udp_out: VecDeque::new(),
            udp_ports: (0, 0),
            next_media_id: 1,
            random,
            wall_offset_us: 0,
        }
    }

    pub fn set_udp_ports(&mut self, rtp: u16) {
        self.udp_ports = (rtp, rtp.wrapping_add(1));
    }

    // ---- media sessions (the script's side) ----

    /// Adds a session; an existing name is left unchanged (CanMV behaviour).
    pub fn create_session(&mut self, name: &str, codec: VideoCodec, audio: Option<AudioCodec>) {
        if self.sessions.iter().any(|s| s.name == name) {
            return;
        }
        let id = self.next_media_id;
        self.next_media_id += 1;
        let random = self.random;
        let mut next = move || {
            let mut b = [0u8; 4];
            random(&mut b);
            u32::from_ne_bytes(b)
        };
        self.sessions.push(MediaSession::new(id, name, codec, audio, &mut next));
        self.counters.insert(id, Counters::default());
    }

    /// Removes a session; its clients' connections are flushed and closed. False if unknown.
    pub fn destroy_session(&mut self, name: &str) -> bool {
        let Some(pos) = self.sessions.iter().position(|s| s.name == name) else { return false };
        let media_id = self.sessions[pos].id;
        let leaving: Vec<usize> = (0..self.clients.len()).filter(|&ci| self.clients[ci].media == media_id).collect();
        for &ci in &leaving {
            self.send_bye(ci);
        }
        self.sessions.remove(pos);
        self.counters.remove(&media_id);
        let conns: Vec<ConnId> = self.clients.iter().filter(|c| c.media == media_id).map(|c| c.conn).collect();
        self.clients.retain(|c| c.media != media_id);
        for id in conns {
            if let Some(conn) = self.conns.get_mut(&id) {
                conn.closing = true;
            }
        }
        true
    }

    pub fn session_names(&self) -> impl Iterator<Item = &str> {
        self.sessions.iter().map(|s| s.name.as_str())
    }

    pub fn has_session(&self, name: &str) -> bool {
        self.sessions.iter().any(|s| s.name == name)
    }

    /// Packetizes one producer call and queues it for every playing client.
    pub fn push_video(&mut self, name: &str, data: &[u8], script_ts: u64, now_us: u64) -> Result<(), PushError> {
        let media = self.sessions.iter_mut().find(|s| s.name == name).ok_or(PushError::Invalid)?;
        let frames = media.push_video(data, script_ts, now_us)?;
        let id = media.id;
        for frame in &frames {
            self.fan_out(id, frame);
        }
        Ok(())
    }

    pub fn session_index(&self, name: &str) -> Option<usize> {
        self.sessions.iter().position(|s| s.name == name)
    }

    /// Packs one producer call of G.711 audio and queues it for every playing client.
    pub fn push_audio(&mut self, name: &str, data: &[u8], script_ts: u64, now_us: u64) -> Result<(), PushError> {
        let media = self.sessions.iter_mut().find(|s| s.name == name).ok_or(PushError::Invalid)?;
        let frame = media.push_audio(data, script_ts, now_us)?;
        let id = media.id;
        self.fan_out(id, &frame);
        Ok(())
    }

    fn fan_out(&mut self, media: u32, frame: &FrameRef) {
        let Some(session) = self.sessions.iter().find(|s| s.id == media) else { return };
        let counters = self.counters.entry(media).or_default();
        for client in self.clients.iter_mut().filter(|c| c.media == media && c.playing) {
            let Some(transport) = client.tracks[frame.track] else { continue };
            let Some(conn) = self.conns.get_mut(&client.conn) else { continue };
            if matches!(transport, TrackTransport::Tcp { .. }) && conn.queued > self.config.max_queued_bytes {
                // Cut back to the next keyframe rather than send a broken GOP
                // (which may be this very frame, just below).
                let (packets, bytes) = drop_queued_packets(conn);
                counters.packets_sent = counters.packets_sent.saturating_sub(packets);
                counters.bytes_sent = counters.bytes_sent.saturating_sub(bytes);
                client.waiting_keyframe = true;
                client.frames_dropped += 1;
                counters.frames_dropped += 1;
                counters.keyframe_waits += 1;
            }
            if frame.track == TRACK_VIDEO && client.waiting_keyframe {
                if !frame.gop_start {
                    continue;
                }
                // The GOP cache now holds this keyframe and what came ahead of it.
                client.waiting_keyframe = false;
                for f in session.start_frames() {
                    enqueue(conn, &mut self.udp_out, counters, transport, f);
                }
                continue;
            }
            enqueue(conn, &mut self.udp_out, counters, transport, frame);
        }
    }

    pub fn stats(&self, name: Option<&str>) -> Option<Stats> {
        let ids: Vec<u32> = match name {
            Some(n) => alloc::vec![self.sessions.iter().find(|s| s.name == n)?.id],
            None => self.sessions.iter().map(|s| s.id).collect(),
        };
        let mut st = Stats::default();
        for c in self.clients.iter().filter(|c| ids.contains(&c.media)) {
            st.clients += 1;
            st.playing += u32::from(c.playing);
        }
        for id in &ids {
            if let Some(k) = self.counters.get(id) {
                st.packets_sent += k.packets_sent;
                st.bytes_sent += k.bytes_sent;
                st.frames_dropped += k.frames_dropped;
                st.keyframe_waits += k.keyframe_waits;
            }
        }
        Some(st)
    }

    // ---- connections (the network's side) ----

    pub fn conn_opened(&mut self, id: ConnId, peer: SocketAddr, local: SocketAddr) {
        self.conns.insert(
            id,
            Conn { peer, local, input: Vec::new(), out: VecDeque::new(), queued: 0, sent: 0, closing: false },
        );
    }

    /// The peer closed or the socket failed: its RTSP sessions end at once.
    pub fn conn_closed(&mut self, id: ConnId) {
        self.conns.remove(&id);
        self.clients.retain(|c| c.conn != id);
    }

    /// Every connection, for shutdown.
    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// Bytes received on a connection.
    pub fn conn_data(&mut self, id: ConnId, data: &[u8], now_us: u64) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        if conn.closing {
            return;
        }
        conn.input.extend_from_slice(data);
        loop {
            let Some(conn) = self.conns.get_mut(&id) else { return };
            match rtsp::parse_input(&conn.input, &self.config.limits) {
                Ok(None) => return,
                Ok(Some((input, used))) => {
                    conn.input.drain(..used);
                    match input {
                        Input::Request(req) => self.handle_request(id, &req, now_us),
                        Input::Interleaved { channel, data } => self.interleaved_in(id, channel, &data, now_us),
                    }
                }
                Err(e) => {
                    let status = if e == ParseError::TooLarge { 413 } else { 400 };
                    let resp = Response::new(status).header("Server", SERVER_NAME).header("Connection", "close");
                    conn.input.clear();
                    push_bytes(conn, resp.to_bytes());
                    conn.closing = true;
                    return;
                }
            }
        }
    }

    /// RTCP from a client on one of its interleaved RTCP channels: a report keeps it alive.
    fn interleaved_in(&mut self, id: ConnId, channel: u8, data: &[u8], now_us: u64) {
        if !rtcp::parse_client_report(data).is_some_and(|r| r.report) {
            return;
        }
        for c in self.clients.iter_mut().filter(|c| c.conn == id) {
            let mine = c
                .tracks
                .iter()
                .flatten()
                .any(|t| matches!(t, TrackTransport::Tcp { rtcp_channel, .. } if *rtcp_channel == channel));
            if mine {
                c.last_seen_us = now_us;
            }
        }
    }

    /// A datagram on the server's RTCP socket: a receiver report from a
    /// client's own RTCP port keeps that client alive.
    pub fn rtcp_in(&mut self, from: SocketAddr, data: &[u8], now_us: u64) {
        if !rtcp::parse_client_report(data).is_some_and(|r| r.report) {
            return;
        }
        for c in self.clients.iter_mut() {
            if c.tracks.iter().flatten().any(|t| matches!(t, TrackTransport::Udp { rtcp, .. } if *rtcp == from)) {
                c.last_seen_us = now_us;
            }
        }
    }

    /// Tells the core the wall-clock time (µs since 1970) at monotonic time
    /// `now_us`, for the NTP timestamps of sender reports.
    pub fn set_wall_clock(&mut self, now_us: u64, wall_us: u64) {
        self.wall_offset_us = wall_us as i64 - now_us as i64;
    }

    /// Sends RTCP sender reports that are due, and drops clients that were
    /// silent past the session timeout.
    pub fn handle_timeout(&mut self, now_us: u64) {
        for ci in 0..self.clients.len() {
            let c = &self.clients[ci];
            if c.playing && c.next_report_us <= now_us {
                self.send_sender_reports(ci, now_us);
            }
        }
        self.expire_clients(now_us);
    }

    fn expire_clients(&mut self, now_us: u64) {
        let limit = u64::from(self.config.session_timeout_s) * 1_000_000;
        let expired: Vec<ConnId> =
            self.clients.iter().filter(|c| now_us.saturating_sub(c.last_seen_us) > limit).map(|c| c.conn).collect();
        if expired.is_empty() {
            return;
        }
        self.clients.retain(|c| now_us.saturating_sub(c.last_seen_us) <= limit);
        for id in expired {
            if !self.clients.iter().any(|c| c.conn == id) {
                if let Some(conn) = self.conns.get_mut(&id) {
                    conn.closing = true;
                }
            }
        }
    }

    /// When `handle_timeout` next has work: a sender report or a client expiry.
    pub fn next_deadline(&self) -> Option<u64> {
        let limit = u64::from(self.config.session_timeout_s) * 1_000_000;
        let expiry = self.clients.iter().map(|c| c.last_seen_us + limit + 1);
        let reports = self.clients.iter().filter(|c| c.playing).map(|c| c.next_report_us);
        expiry.chain(reports).min()
    }

    /// RTCP sender reports for each track of a playing client: the NTP time of
    /// `now` beside the RTP time of `now` on that track's clock, which is what
    /// lets a player line audio up with video.
    fn send_sender_reports(&mut self, ci: usize, now_us: u64) {
        let wall_us = (now_us as i64 + self.wall_offset_us).max(0) as u64;
        let client = &mut self.clients[ci];
        client.next_report_us = now_us.saturating_add(self.config.sender_report_interval_us);
        let Some(media) = self.sessions.iter().find(|s| s.id == client.media) else { return };
        let Some(conn) = self.conns.get_mut(&client.conn) else { return };
        let counters = self.counters.entry(media.id).or_default();
        for (track, transport) in client.tracks.iter().enumerate() {
            let Some(transport) = *transport else { continue };
            let info = rtcp::SenderInfo {
                ssrc: media.streams[track].ssrc,
                ntp: rtcp::ntp_from_unix_us(wall_us),
                rtp_time: media.clocks[track].rtp_time(now_us),
                packets: media.sent[track].packets,
                octets: media.sent[track].octets,
            };
            let mut bytes = Vec::new();
            rtcp::sender_report(&mut bytes, &info, CNAME);
            enqueue(conn, &mut self.udp_out, counters, transport, &Frame::rtcp(track, bytes));
        }
    }

    /// RTCP BYE on each of a client's tracks: its stream ends here.
    fn send_bye(&mut self, ci: usize) {
        let client = &self.clients[ci];
        let Some(media) = self.sessions.iter().find(|s| s.id == client.media) else { return };
        let Some(conn) = self.conns.get_mut(&client.conn) else { return };
        let counters = self.counters.entry(media.id).or_default();
        for (track, transport) in client.tracks.iter().enumerate() {
            let Some(transport) = *transport else { continue };
            let mut bytes = Vec::new();
            rtcp::bye(&mut bytes, media.streams[track].ssrc, CNAME);
            enqueue(conn, &mut self.udp_out, counters, transport, &Frame::rtcp(track, bytes));
        }
    }

    /// The output of a connection as slices, for one vectored write.
    pub fn pending_output<'a>(&'a self, id: ConnId, parts: &mut Vec<&'a [u8]>, max_parts: usize) {
        let Some(conn) = self.conns.get(&id) else { return };
        let mut skip = conn.sent;
        for chunk in conn.out.iter() {
            if parts.len() + 2 > max_parts {
                break;
            }
            match chunk {
                Chunk::Bytes(b) => {
                    parts.push(&b[skip..]);
                    skip = 0;
                }
                Chunk::Packet { header, frame, index } => {
                    let pkt = frame.packets.packet(*index);
                    if skip < 4 {
                        parts.push(&header[skip..]);
                        parts.push(pkt);
                    } else {
                        parts.push(&pkt[skip - 4..]);
                    }
                    skip = 0;
                }
            }
        }
    }

    pub fn has_output(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_some_and(|c| !c.out.is_empty())
    }

    /// `n` bytes of the connection's output were written.
    pub fn output_written(&mut self, id: ConnId, mut n: usize) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        conn.queued = conn.queued.saturating_sub(n);
        while let Some(head) = conn.out.front() {
            let left = head.len() - conn.sent;
            if n < left {
                conn.sent += n;
                return;
            }
            n -= left;
            conn.sent = 0;
            conn.out.pop_front();
        }
    }

    /// Connections to close now: marked closing and fully flushed.
    pub fn take_finished(&mut self) -> Vec<ConnId> {
        let done: Vec<ConnId> =
            self.conns.iter().filter(|(_, c)| c.closing && c.out.is_empty()).map(|(id, _)| *id).collect();
        for id in &done {
            self.conn_closed(*id);
        }
        done
    }

    /// Datagrams to send, oldest first.
    pub fn pop_datagram(&mut self) -> Option<Datagram> {
        self.udp_out.pop_front()
    }

    // ---- RTSP methods ----

    fn handle_request(&mut self, id: ConnId, req: &Request, now_us: u64) {
        let Some(cseq) = req.header("CSeq").map(|s| s.to_string()) else {
            return self.reply(id, Response::new(400), None);
        };
        let resp = match req.method {
            Method::Options => Ok(Response::new(200).header("Public", METHODS)),
            Method::Describe => self.describe(id, req),
            Method::Setup => self.setup(id, req, now_us),
            Method::Play => match self.play(id, req, now_us) {
                // The reply goes out before the first packet on an interleaved connection.
                Ok((resp, start)) => {
                    self.reply(id, resp, Some(&cseq));
                    if let Some(ci) = start {
                        self.start_client(ci, now_us);
                    }
                    return;
                }
                Err(e) => Err(e),
            },
            Method::Pause => self.pause(id, req, now_us),
            Method::Teardown => self.teardown(id, req),
            Method::GetParameter => self.keepalive(id, req, now_us),
            _ => Err(Response::new(501).header("Public", METHODS)),
        };
        let resp = resp.unwrap_or_else(|e| e);
        self.reply(id, resp, Some(&cseq));
    }

    fn reply(&mut self, id: ConnId, resp: Response, cseq: Option<&str>) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let mut resp = resp;
        if let Some(cseq) = cseq {
            resp.headers.insert(0, ("CSeq".into(), cseq.into()));
        }
        resp.headers.push(("Server".into(), SERVER_NAME.into()));
        push_bytes(conn, resp.to_bytes());
    }

    fn find_media(&self, path: &str) -> Option<usize> {
        self.sessions.iter().position(|s| s.name == path)
    }

    fn describe(&mut self, id: ConnId, req: &Request) -> Result<Response, Response> {
        let target = url::parse_target(&req.uri).ok_or_else(|| Response::new(400))?;
        let idx = self.find_media(target.path).ok_or_else(|| Response::new(404))?;
        let conn = self.conns.get(&id).ok_or_else(|| Response::new(500))?;
        let local_ip = conn.local.ip().to_string();
        let media = &self.sessions[idx];
        let tracks = media.track_formats();
        let body = sdp::build_sdp(&sdp::SdpSession {
            name: &media.name,
            id: u64::from(media.id) + 0x1000_0000,
            version: media.sdp_version,
            origin_addr: &local_ip,
            tracks: &tracks,
        });
        let authority = host_port(&conn.local);
        let base = url::content_base(&req.uri, &authority, &media.name);
        Ok(Response::new(200).header("Content-Base", &base).body("application/sdp", body.into_bytes()))
    }

    fn setup(&mut self, id: ConnId, req: &Request, now_us: u64) -> Result<Response, Response> {
        let target = url::parse_target(&req.uri).ok_or_else(|| Response::new(400))?;
        // `rtsp://host/name/trackID=1`, or the session URL itself for its first track.
        let idx = self.find_media(target.path).ok_or_else(|| Response::new(404))?;
        let track = usize::from(target.track.unwrap_or(0));
        let (media_id, track_count) = (self.sessions[idx].id, self.sessions[idx].track_count());
        if track >= track_count {
            return Err(Response::new(404));
        }
        let conn = self.conns.get(&id).ok_or_else(|| Response::new(500))?;
        let peer = conn.peer;
        let specs = req
            .header("Transport")
            .and_then(|t| transport::parse_transport(t).ok())
            .ok_or_else(|| Response::new(461))?;
        let chosen = specs
            .iter()
            .find(|s| {
                s.unicast
                    && !s.record
                    && acceptable_destination(s.destination.as_deref(), peer.ip())
                    && (s.lower == Lower::Tcp || s.client_port.is_some())
            })
            .ok_or_else(|| Response::new(461))?;
        let (tt, reply) = match chosen.lower {
            Lower::Tcp => {
                let base = (track * 2) as u8;
                let (a, b) = chosen.interleaved.unwrap_or((base, base + 1));
                (TrackTransport::Tcp { rtp_channel: a, rtcp_channel: b }, (a, b, 0, 0))
            }
            Lower::Udp => {
                let (a, b) = chosen.client_port.ok_or_else(|| Response::new(461))?;
                let ip = peer.ip();
                (TrackTransport::Udp { rtp: SocketAddr::new(ip, a), rtcp: SocketAddr::new(ip, b) }, (0, 0, a, b))
            }
        };
        // An existing RTSP session adds a track; a new one gets an unguessable id.
        let client_idx = match req.header("Session").map(session_id) {
            Some(sid) => {
                let pos = self.clients.iter().position(|c| c.id == sid).ok_or_else(|| Response::new(454))?;
                let c = &self.clients[pos];
                if c.conn != id {
                    return Err(Response::new(454));
                }
                if c.media != media_id {
                    return Err(Response::new(459));
                }
                pos
            }
            None => {
                let sid = self.new_session_id();
                self.clients.push(Client {
                    id: sid,
                    conn: id,
                    peer_ip: peer.ip(),
                    media: media_id,
                    tracks: [None, None],
                    playing: false,
                    waiting_keyframe: true,
                    last_seen_us: now_us,
                    frames_dropped: 0,
                    next_report_us: 0,
                });
                self.clients.len() - 1
            }
        };
        let client = &mut self.clients[client_idx];
        client.tracks[track] = Some(tt);
        client.last_seen_us = now_us;
        let ssrc = self.sessions[idx].streams[track].ssrc;
        let transport_reply = match tt {
            TrackTransport::Tcp { .. } => transport::format_tcp((reply.0, reply.1), ssrc),
            TrackTransport::Udp { .. } => transport::format_udp((reply.2, reply.3), self.udp_ports, ssrc),
        };
        let session_hdr = format!("{};timeout={}", client.id, self.config.session_timeout_s);
        Ok(Response::new(200).header("Transport", &transport_reply).header("Session", &session_hdr))
    }

    fn new_session_id(&self) -> String {
        let mut b = [0u8; 8];
        (self.random)(&mut b);
        let mut s = String::with_capacity(16);
        for x in b {
            s.push_str(&format!("{:02X}", x));
        }
        s
    }

    /// The client named by the request's Session header, owned by this connection.
    fn client_of(&self, id: ConnId, req: &Request) -> Result<usize, Response> {
        let sid = req.header("Session").map(session_id).ok_or_else(|| Response::new(454))?;
        let peer_ip = self.conns.get(&id).map(|c| c.peer.ip());
        self.clients
            .iter()
            .position(|c| {
                c.id == sid
                    && (c.conn == id
                        || Some(c.peer_ip) == peer_ip
                            && c.tracks.iter().flatten().all(|t| matches!(t, TrackTransport::Udp { .. })))
            })
            .ok_or_else(|| Response::new(454))
    }

    /// The PLAY reply, and the client to start when it was not playing yet.
    fn play(&mut self, id: ConnId, req: &Request, now_us: u64) -> Result<(Response, Option<usize>), Response> {
        let ci = self.client_of(id, req)?;
        let media_id = self.clients[ci].media;
        let mi = self.sessions.iter().position(|s| s.id == media_id).ok_or_else(|| Response::new(454))?;
        let conn = self.conns.get(&id).ok_or_else(|| Response::new(500))?;
        let authority = host_port(&conn.local);
        let base = url::content_base(&req.uri, &authority, &self.sessions[mi].name);
        let media = &self.sessions[mi];
        let mut rtp_info = String::new();
        for (track, t) in self.clients[ci].tracks.iter().enumerate() {
            if t.is_none() {
                continue;
            }
            let (seq, rtptime) = media.start_point(track);
            if !rtp_info.is_empty() {
                rtp_info.push(',');
            }
            rtp_info.push_str(&format!("url={}trackID={};seq={};rtptime={}", base, track, seq, rtptime));
        }
        let client = &mut self.clients[ci];
        client.last_seen_us = now_us;
        let was_playing = client.playing;
        client.playing = true;
        let session_hdr = format!("{};timeout={}", client.id, self.config.session_timeout_s);
        let resp = Response::new(200)
            .header("Range", "npt=0.000-")
            .header("RTP-Info", &rtp_info)
            .header("Session", &session_hdr);
        Ok((resp, (!was_playing).then_some(ci)))
    }

    /// Sends a new player the cached GOP, or makes it wait for the next keyframe.
    fn start_client(&mut self, ci: usize, now_us: u64) {
        // Sender reports first: a player maps the first packets to wall-clock time with them.
        self.send_sender_reports(ci, now_us);
        let client = &mut self.clients[ci];
        let Some(media) = self.sessions.iter().find(|s| s.id == client.media) else { return };
        let Some(conn) = self.conns.get_mut(&client.conn) else { return };
        let counters = self.counters.entry(media.id).or_default();
        let Some(video) = client.tracks[TRACK_VIDEO] else {
            client.waiting_keyframe = false;
            return;
        };
        if media.start_frames().is_empty() {
            client.waiting_keyframe = true;
            counters.keyframe_waits += 1;
            return;
        }
        client.waiting_keyframe = false;
        for f in media.start_frames() {
            enqueue(conn, &mut self.udp_out, counters, video, f);
        }
        if let Some(audio) = client.tracks[TRACK_AUDIO] {
            for f in media.start_audio() {
                enqueue(conn, &mut self.udp_out, counters, audio, f);
            }
        }
    }

    fn pause(&mut self, id: ConnId, req: &Request, now_us: u64) -> Result<Response, Response> {
        let ci = self.client_of(id, req)?;
        let client = &mut self.clients[ci];
        client.playing = false;
        client.last_seen_us = now_us;
        let session_hdr = format!("{};timeout={}", client.id, self.config.session_timeout_s);
        Ok(Response::new(200).header("Session", &session_hdr))
    }

    fn teardown(&mut self, id: ConnId, req: &Request) -> Result<Response, Response> {
        let ci = self.client_of(id, req)?;
        self.send_bye(ci);
        self.clients.remove(ci);
        Ok(Response::new(200))
    }

    fn keepalive(&mut self, id: ConnId, req: &Request, now_us: u64) -> Result<Response, Response> {
        if req.header("Session").is_none() {
            return Ok(Response::new(200));
        }
        let ci = self.client_of(id, req)?;
        let client = &mut self.clients[ci];
        client.last_seen_us = now_us;
        let session_hdr = format!("{};timeout={}", client.id, self.config.session_timeout_s);
        Ok(Response::new(200).header("Session", &session_hdr))
    }
}

/// `Session: 0123ABCD;timeout=60` → `0123ABCD`.
fn session_id(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// RTP over UDP goes only to the RTSP peer itself: no reflection to a third host.
fn acceptable_destination(dest: Option<&str>, peer: IpAddr) -> bool {
    match dest {
        None => true,
        Some(d) => d.trim().parse::<IpAddr>().is_ok_and(|ip| ip == peer),
    }
}

fn host_port(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

fn push_bytes(conn: &mut Conn, bytes: Vec<u8>) {
    conn.queued += bytes.len();
    conn.out.push_back(Chunk::Bytes(bytes));
}

/// Queues every packet of `frame` for one client's transport.
fn enqueue(
    conn: &mut Conn,
    udp_out: &mut VecDeque<Datagram>,
    counters: &mut Counters,
    t: TrackTransport,
    frame: &FrameRef,
) {
    for index in 0..frame.packets.len() {
        let len = frame.packets.packet(index).len();
        if !frame.rtcp {
            counters.packets_sent += 1;
            counters.bytes_sent += len as u64;
        }
        match t {
            TrackTransport::Tcp { rtp_channel, rtcp_channel } => {
                let channel = if frame.rtcp { rtcp_channel } else { rtp_channel };
                let header = [b'$', channel, (len >> 8) as u8, len as u8];
                conn.queued += 4 + len;
                conn.out.push_back(Chunk::Packet { header, frame: frame.clone(), index });
            }
            TrackTransport::Udp { rtp, rtcp } => {
                // Bounded even while the loop is stopped: UDP loses the excess, as it would on the wire.
                if udp_out.len() < MAX_DATAGRAM_BACKLOG {
                    let to = if frame.rtcp { rtcp } else { rtp };
                    udp_out.push_back(Datagram { to, rtcp: frame.rtcp, frame: frame.clone(), index });
                }
            }
        }
    }
}

/// Drops every queued packet not yet started; RTSP replies and a half-written packet stay.
/// Returns the number of RTP packets and RTP bytes dropped (they were counted as sent).
fn drop_queued_packets(conn: &mut Conn) -> (u64, u64) {
    let head_started = conn.sent > 0;
    let mut kept = VecDeque::new();
    let (mut packets, mut bytes) = (0, 0);
    for (i, chunk) in conn.out.drain(..).enumerate() {
        match chunk {
            Chunk::Packet { frame, index, .. } if !(i == 0 && head_started) => {
                if !frame.rtcp {
                    packets += 1;
                    bytes += frame.packets.packet(index).len() as u64;
                }
            }
            chunk => kept.push_back(chunk),
        }
    }
    conn.queued = kept.iter().map(|c| c.len()).sum::<usize>() - conn.sent;
    conn.out = kept;
    (packets, bytes)
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
