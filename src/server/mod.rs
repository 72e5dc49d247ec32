//! The RTSP server state machine, sans-IO. The I/O layer feeds it
//! connections, bytes, datagrams and time; it answers with bytes to write per
//! connection, datagrams to send, connections to close and a next deadline.
//! The media sessions live here too: the loop thread hands it each producer
//! call (`push`), and it fans the frame out to every playing client, sharing
//! the packets by reference.
//!
//! - `mod.rs`: the state, media sessions, fan-out, input, timeouts;
//! - `methods.rs`: the RTSP methods;
//! - `output.rs`: per-connection output queues and the datagram queue;
//! - `reports.rs`: RTCP sender reports and BYE.

mod methods;
mod output;
mod reports;
mod timers;

use output::{drop_queued_packets, enqueue, push_bytes, Conn};
use timers::{ClientTimer, ClientTimers, ConnTimer};

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use crate::handoff::{Push, Track};
use crate::rtp::rtcp;
use crate::rtsp::auth::Authenticator;
use crate::rtsp::{self, Input, ParseError, Response};
use crate::session::{
    self, AudioCodec, Frame, FrameRef, MediaSession, PushError, SessionOptions, VideoCodec, TRACK_VIDEO,
};

pub type ConnId = u64;

/// Settings a script may change (keyword-only options of `rtspserver_init`).
#[derive(Debug, Clone)]
pub struct Config {
    pub limits: rtsp::Limits,
    /// Seconds without a request or RTCP report before a client is dropped;
    /// also how long a connection may sit without a request and without a client.
    pub session_timeout_s: u32,
    /// Bytes queued for one TCP connection before its client is cut back to the next keyframe.
    pub max_queued_bytes: usize,
    /// A cut-back connection whose queue has not drained for this long is dropped.
    pub stuck_timeout_us: u64,
    /// Interval of RTCP sender reports to each playing client (RFC 3550: at least every 5 s here).
    pub sender_report_interval_us: u64,
    /// RTSP sessions (clients) on the whole server; SETUP past it: 503.
    pub max_clients: usize,
    /// Clients of one media session; SETUP past it: 453.
    pub max_clients_per_session: usize,
    /// Media sessions (`createsession`) on the server.
    pub max_sessions: usize,
    /// TCP connections; past it the oldest connection without a client makes
    /// room, else the newcomer gets 503.
    pub max_connections: usize,
    /// RTP over the RTSP connection only: a UDP SETUP gets 461 (players then retry over TCP).
    pub tcp_only: bool,
}

impl Config {
    /// When something last heard of at `now_us` times out: the first
    /// instant more than a session timeout later.
    fn timeout_after(&self, now_us: u64) -> u64 {
        now_us + u64::from(self.session_timeout_s) * 1_000_000 + 1
    }

    /// When a connection that stalled at `now_us` counts as stuck.
    fn stuck_after(&self, now_us: u64) -> u64 {
        now_us + self.stuck_timeout_us + 1
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: rtsp::Limits::default(),
            session_timeout_s: 60,
            max_queued_bytes: 4 * 1024 * 1024,
            stuck_timeout_us: 10_000_000,
            sender_report_interval_us: 4_000_000,
            max_clients: 32,
            max_clients_per_session: 16,
            max_sessions: 16,
            max_connections: 64,
            tcp_only: false,
        }
    }
}

/// Why a media session could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateError {
    /// `Config::max_sessions` reached.
    TooMany,
    /// Not a usable URL path (see [`session::valid_name`]).
    BadName,
}

/// What `create_session` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    /// A session of that name existed: left unchanged (codecs and options too), as CanMV does.
    Existing,
}

pub const METHODS: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
const SERVER_NAME: &str = "canmv-rtsp";
/// RTCP CNAME of our streams (RFC 3550 6.5.1: one per sender, shared by its tracks so players sync them).
const CNAME: &str = "canmv-rtsp";
/// How long a closing connection may take to read what it was sent.
const CLOSE_GRACE_US: u64 = 5_000_000;
/// Datagrams queued for the loop thread at most.
const MAX_DATAGRAM_BACKLOG: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackTransport {
    Udp { rtp: SocketAddr, rtcp: SocketAddr },
    Tcp { rtp_channel: u8, rtcp_channel: u8 },
}

/// An RTSP session: one client watching one media session.
struct Client {
    id: String,
    conn: ConnId,
    media: u32,
    tracks: [Option<TrackTransport>; 2],
    playing: bool,
    /// Skipping frames until a GOP start (joined with no cache, or cut back).
    waiting_keyframe: bool,
    frames_dropped: u64,
    /// Expiry (moved by every sign of life) and the next sender report.
    timers: ClientTimers,
    /// Per track: None until packets are queued for it; then the RTP and
    /// monotonic time of the first of them, which its first sender report
    /// describes (see `Client::media_queued`).
    first_media: [Option<(u32, u64)>; 2],
    /// Per track: its first sender report has gone out (later ones describe "now").
    reported: [bool; 2],
    /// Waiting for a keyframe because its queue was cut back (frames it skips are lost to it).
    cut_back: bool,
    /// Paused: the video sequence number it stopped before. A PLAY then
    /// resumes there from the GOP cache (no packet twice), else at the next keyframe.
    resume_from: Option<u16>,
}

/// A datagram to send from the server's RTP (or RTCP) socket.
pub struct Datagram {
    pub to: SocketAddr,
    pub rtcp: bool,
    pub frame: FrameRef,
    pub index: usize,
}

impl Client {
    /// A request or an RTCP report from it: it is alive for another session timeout.
    fn seen(&mut self, now_us: u64, config: &Config) {
        self.timers.set(ClientTimer::Expiry, config.timeout_after(now_us));
    }

    /// `frame` was queued for it: on a track's first packets, its first
    /// sender report goes right behind them and maps the RTP time of that
    /// first frame (not of "now") to wall-clock time. Strict players such as
    /// retina take their time line from the first thing they read, and over
    /// UDP that may be the report, ahead of packets sent before it: a report
    /// of "now" ahead of a cached GOP (or of a frame stamped a moment before)
    /// then makes every packet look like a jump back in time.
    fn media_queued(&mut self, frame: &Frame, now_us: u64) {
        if self.first_media[frame.track].is_none() {
            self.first_media[frame.track] = Some((frame.rtp_time, frame.time_us));
            self.timers.set(ClientTimer::Report, now_us);
        }
    }
}

impl Datagram {
    pub fn bytes(&self) -> &[u8] {
        self.frame.packets.packet(self.index)
    }

    /// Whether `next` is the packet after `self` of the same frame, to the same address.
    pub fn followed_by(&self, next: &Datagram) -> bool {
        next.to == self.to
            && next.rtcp == self.rtcp
            && next.index == self.index + 1
            && alloc::sync::Arc::ptr_eq(&next.frame, &self.frame)
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

/// What `getstats` tells about one client.
#[derive(Debug, Clone, Copy)]
pub struct ClientStats {
    pub peer: SocketAddr,
    /// RTP over the RTSP connection (else UDP).
    pub tcp: bool,
    pub playing: bool,
    pub waiting_keyframe: bool,
    /// Times its queue was cut back to the next keyframe.
    pub frames_dropped: u64,
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
    /// Users who may watch, when authentication is on.
    auth: Option<Authenticator>,
    /// Bumped whenever a session is made or removed (see `handoff::Directory`).
    session_generation: u64,
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
            auth: None,
            session_generation: 0,
        }
    }

    pub fn set_udp_ports(&mut self, rtp: u16) {
        self.udp_ports = (rtp, rtp.wrapping_add(1));
    }

    // ---- media sessions (the script's side) ----

    /// Adds a session; an existing name is left unchanged (CanMV behaviour).
    pub fn create_session(
        &mut self,
        name: &str,
        codec: VideoCodec,
        audio: Option<AudioCodec>,
        options: SessionOptions,
    ) -> Result<Created, CreateError> {
        if !session::valid_name(name) {
            return Err(CreateError::BadName);
        }
        if self.sessions.iter().any(|s| s.name == name) {
            return Ok(Created::Existing);
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(CreateError::TooMany);
        }
        let id = self.next_media_id;
        self.next_media_id += 1;
        let random = self.random;
        let mut next = move || {
            let mut b = [0u8; 4];
            random(&mut b);
            u32::from_ne_bytes(b)
        };
        let mut session = MediaSession::new(id, name, codec, audio, &mut next);
        session.set_gop_cache(options.gop_cache);
        self.sessions.push(session);
        self.counters.insert(id, Counters::default());
        self.session_generation += 1;
        Ok(Created::New)
    }

    /// Turns authentication on (Some) or off (None) for requests from now on.
    pub fn set_auth(&mut self, auth: Option<Authenticator>) {
        self.auth = auth;
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the settings; limits apply to what comes next (nobody is dropped).
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// Whether a late joiner of `name` gets the cached GOP (true, the default)
    /// or waits for the next keyframe. False if there is no such session.
    pub fn set_gop_cache(&mut self, name: &str, enabled: bool) -> bool {
        self.sessions.iter_mut().find(|s| s.name == name).map(|s| s.set_gop_cache(enabled)).is_some()
    }

    /// Whether a playing client of `name` waits for a keyframe that no cache
    /// can give it: the script should ask its encoder for one. None if unknown.
    /// `name` None: any session.
    pub fn need_keyframe(&self, name: Option<&str>) -> Option<bool> {
        let media = match name {
            Some(n) => Some(self.sessions.iter().find(|s| s.name == n)?.id),
            None => None,
        };
        Some(self.clients.iter().any(|c| media.is_none_or(|m| c.media == m) && c.playing && c.waiting_keyframe))
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
        self.session_generation += 1;
        let conns: Vec<ConnId> = self.clients.iter().filter(|c| c.media == media_id).map(|c| c.conn).collect();
        self.clients.retain(|c| c.media != media_id);
        for id in conns {
            if let Some(conn) = self.conns.get_mut(&id) {
                conn.close();
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

    /// Changes whenever a session is made or removed.
    pub fn session_generation(&self) -> u64 {
        self.session_generation
    }

    /// (name, id, video codec, has audio) of every session.
    pub fn session_list(&self) -> impl Iterator<Item = (&str, u32, VideoCodec, bool)> + '_ {
        self.sessions.iter().map(|s| (s.name.as_str(), s.id, s.codec, s.audio.is_some()))
    }

    /// Whether any client is playing (producer calls then wake the loop).
    pub fn has_playing_client(&self) -> bool {
        self.clients.iter().any(|c| c.playing)
    }

    /// Packetizes one producer call and queues it for every playing client.
    pub fn push_video(&mut self, name: &str, data: &[u8], script_ts: u64, now_us: u64) -> Result<(), PushError> {
        let id = self.sessions.iter().find(|s| s.name == name).ok_or(PushError::Invalid)?.id;
        self.push_media(id, Track::Video, data, script_ts, now_us)
    }

    /// Packs one producer call of G.711 audio and queues it for every playing client.
    pub fn push_audio(&mut self, name: &str, data: &[u8], script_ts: u64, now_us: u64) -> Result<(), PushError> {
        let id = self.sessions.iter().find(|s| s.name == name).ok_or(PushError::Invalid)?.id;
        self.push_media(id, Track::Audio, data, script_ts, now_us)
    }

    /// A producer call handed over through the `handoff::Inbox`; one for a
    /// session destroyed since is ignored.
    pub fn push(&mut self, push: &Push) {
        let _ = self.push_media(push.media, push.track, &push.data, push.script_ts, push.now_us);
    }

    fn push_media(
        &mut self,
        media: u32,
        track: Track,
        data: &[u8],
        script_ts: u64,
        now_us: u64,
    ) -> Result<(), PushError> {
        let session = self.sessions.iter_mut().find(|s| s.id == media).ok_or(PushError::Invalid)?;
        match track {
            Track::Video => {
                for frame in session.push_video(data, script_ts, now_us)? {
                    self.fan_out(media, &frame, now_us);
                }
            }
            Track::Audio => {
                let frame = session.push_audio(data, script_ts, now_us)?;
                self.fan_out(media, &frame, now_us);
            }
        }
        Ok(())
    }

    fn fan_out(&mut self, media: u32, frame: &FrameRef, now_us: u64) {
        let Some(session) = self.sessions.iter().find(|s| s.id == media) else { return };
        let counters = self.counters.entry(media).or_default();
        for client in self.clients.iter_mut().filter(|c| c.media == media && c.playing) {
            let Some(transport) = client.tracks[frame.track] else { continue };
            let Some(conn) = self.conns.get_mut(&client.conn).filter(|c| !c.closing) else { continue };
            if matches!(transport, TrackTransport::Tcp { .. }) && conn.queued > self.config.max_queued_bytes {
                // Cut back to the next keyframe rather than send a broken GOP
                // (which may be this very frame, just below).
                let dropped = drop_queued_packets(conn);
                counters.packets_sent = counters.packets_sent.saturating_sub(dropped.packets);
                counters.bytes_sent = counters.bytes_sent.saturating_sub(dropped.bytes);
                client.waiting_keyframe = true;
                client.cut_back = true;
                conn.timers.set_if_unset(ConnTimer::Stuck, self.config.stuck_after(now_us));
                client.frames_dropped += dropped.video_frames;
                counters.frames_dropped += dropped.video_frames;
                counters.keyframe_waits += 1;
            }
            if frame.track == TRACK_VIDEO && client.waiting_keyframe {
                if !frame.gop_start {
                    // A frame lost to the cut-back (a new player's wait loses nothing it had).
                    if client.cut_back {
                        client.frames_dropped += 1;
                        counters.frames_dropped += 1;
                    }
                    continue;
                }
                // The GOP cache now holds this keyframe and what came ahead of it.
                client.waiting_keyframe = false;
                client.cut_back = false;
                for f in session.current_gop() {
                    enqueue(conn, &mut self.udp_out, counters, transport, f);
                }
                if let Some(first) = session.current_gop().first() {
                    client.media_queued(first, now_us);
                }
                continue;
            }
            enqueue(conn, &mut self.udp_out, counters, transport, frame);
            client.media_queued(frame, now_us);
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

    /// Every client of a session (or of any session, `name` None), in one
    /// pass. None for an unknown session.
    pub fn client_list(&self, name: Option<&str>) -> Option<Vec<ClientStats>> {
        let media = match name {
            Some(n) => Some(self.sessions.iter().find(|s| s.name == n)?.id),
            None => None,
        };
        let list = self
            .clients
            .iter()
            .filter(|c| media.is_none_or(|m| c.media == m))
            .filter_map(|c| Some((c, self.conns.get(&c.conn)?.peer)))
            .map(|(c, peer)| ClientStats {
                peer,
                tcp: c.tracks.iter().flatten().any(|t| matches!(t, TrackTransport::Tcp { .. })),
                playing: c.playing,
                // Set up but not yet playing is not waiting for anything.
                waiting_keyframe: c.playing && c.waiting_keyframe,
                frames_dropped: c.frames_dropped,
            });
        Some(list.collect())
    }

    /// One client of [`Server::client_list`], by position.
    #[cfg(test)]
    pub fn client_stats(&self, name: Option<&str>, index: usize) -> Option<ClientStats> {
        self.client_list(name)?.into_iter().nth(index)
    }

    // ---- connections (the network's side) ----

    /// A new TCP connection. Past `max_connections`, the connection that has
    /// waited longest without a client is closed to make room; when there is
    /// none, the newcomer gets 503 and is closed.
    pub fn conn_opened(&mut self, id: ConnId, peer: SocketAddr, local: SocketAddr, now_us: u64) {
        let open = self.conns.values().filter(|c| !c.closing).count();
        let mut conn = Conn::new(peer, local, now_us, self.config.timeout_after(now_us));
        if open >= self.config.max_connections {
            let idle = self
                .conns
                .iter()
                .filter(|(cid, c)| !c.closing && !self.clients.iter().any(|cl| cl.conn == **cid))
                .min_by_key(|(_, c)| c.last_request_us)
                .map(|(cid, _)| *cid);
            match idle {
                Some(victim) => {
                    if let Some(v) = self.conns.get_mut(&victim) {
                        v.discard_output();
                        v.close();
                    }
                }
                None => {
                    let resp = Response::new(503).header("Server", SERVER_NAME).header("Connection", "close");
                    push_bytes(&mut conn, resp.to_bytes());
                    conn.close();
                }
            }
        }
        self.conns.insert(id, conn);
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
        self.process_input(id, now_us);
    }

    /// Answers what a connection has sent, for as long as its unread replies
    /// stay under the backpressure limit (`wants_input`); the I/O layer calls
    /// this again once the peer has read, for what is still buffered.
    pub fn process_input(&mut self, id: ConnId, now_us: u64) {
        let mut consumed = 0;
        while self.wants_input(id) {
            let Some(conn) = self.conns.get_mut(&id) else { return };
            let rest = conn.input.get(consumed..).unwrap_or_default();
            match rtsp::parse_input(rest, &self.config.limits) {
                Ok(None) => break,
                Ok(Some((input, used))) => {
                    consumed += used;
                    match input {
                        Input::Request(req) => {
                            conn.last_request_us = now_us;
                            conn.timers.set(ConnTimer::Idle, self.config.timeout_after(now_us));
                            self.handle_request(id, &req, now_us);
                        }
                        Input::Interleaved { channel, data } => self.interleaved_in(id, channel, &data, now_us),
                    }
                }
                Err(e) => {
                    let status = match e {
                        ParseError::UriTooLong => 414,
                        ParseError::TooLarge => 413,
                        _ => 400,
                    };
                    let resp = Response::new(status).header("Server", SERVER_NAME).header("Connection", "close");
                    conn.input.clear();
                    push_bytes(conn, resp.to_bytes());
                    conn.close();
                    // Its RTSP sessions end with it: no media after the last reply.
                    self.clients.retain(|c| c.conn != id);
                    return;
                }
            }
        }
        // One move for everything answered (not one per pipelined request).
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.input.drain(..consumed.min(conn.input.len()));
        }
    }

    /// Whether a connection holds received bytes it has not answered yet.
    pub fn has_buffered_input(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_some_and(|c| !c.input.is_empty())
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
                c.seen(now_us, &self.config);
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
                c.seen(now_us, &self.config);
            }
        }
    }

    /// Tells the core the wall-clock time (µs since 1970) at monotonic time
    /// `now_us`, for the NTP timestamps of sender reports.
    pub fn set_wall_clock(&mut self, now_us: u64, wall_us: u64) {
        self.wall_offset_us = wall_us as i64 - now_us as i64;
    }

    /// Handles every timer due at `now_us` (sender reports, expiries, idle,
    /// stuck and closing connections). Each fired timer is cleared, and set
    /// again only for later, so afterwards `next_deadline` is after `now_us`.
    pub fn handle_timeout(&mut self, now_us: u64) {
        // Replies nobody reads stall a connection as surely as media nobody reads.
        let stuck_at = self.config.stuck_after(now_us);
        for conn in self.conns.values_mut().filter(|c| !c.closing && c.reply_bytes >= output::MAX_QUEUED_REPLY_BYTES) {
            conn.timers.set_if_unset(ConnTimer::Stuck, stuck_at);
        }
        self.client_timers(now_us);
        self.conn_timers(now_us);
        debug_assert!(self.next_deadline().is_none_or(|t| t > now_us), "a timer left in the past");
    }

    fn client_timers(&mut self, now_us: u64) {
        let mut ci = 0;
        while ci < self.clients.len() {
            if self.clients[ci].timers.fire(ClientTimer::Expiry, now_us) {
                // Silent for a session timeout: gone, and its connection with it if that was its last client.
                let conn_id = self.clients.remove(ci).conn;
                if !self.clients.iter().any(|c| c.conn == conn_id) {
                    if let Some(conn) = self.conns.get_mut(&conn_id) {
                        conn.close();
                    }
                }
                continue;
            }
            if self.clients[ci].timers.fire(ClientTimer::Report, now_us) {
                self.send_sender_reports(ci, now_us);
            }
            ci += 1;
        }
    }

    fn conn_timers(&mut self, now_us: u64) {
        let mut dead = Vec::new();
        for (id, conn) in self.conns.iter_mut() {
            if conn.timers.fire(ConnTimer::Idle, now_us) {
                if self.clients.iter().any(|c| c.conn == *id) {
                    // Its clients keep it (they time out on their own); look again a timeout later.
                    conn.timers.set(ConnTimer::Idle, self.config.timeout_after(now_us));
                } else {
                    dead.push(*id);
                }
            }
            if conn.timers.fire(ConnTimer::Stuck, now_us) {
                if conn.out.is_empty() {
                    // Cut back and waiting for a keyframe further away than the
                    // stuck timeout: nothing to write is not a peer that stopped reading.
                    conn.timers.set(ConnTimer::Stuck, self.config.stuck_after(now_us));
                } else {
                    dead.push(*id);
                }
            }
            if conn.timers.fire(ConnTimer::CloseGrace, now_us) && !conn.out.is_empty() {
                // A closing connection whose peer will not read the rest (say,
                // a 503 nobody reads) is closed anyway after a grace period.
                if conn.close_grace_started {
                    conn.discard_output();
                } else {
                    conn.close_grace_started = true;
                    conn.timers.set(ConnTimer::CloseGrace, now_us + CLOSE_GRACE_US);
                }
            }
        }
        for id in dead {
            self.clients.retain(|c| c.conn != id);
            if let Some(conn) = self.conns.get_mut(&id) {
                // Nothing more will be read from it: drop what is queued.
                conn.discard_output();
                conn.close();
            }
        }
    }

    /// When `handle_timeout` next has work: the earliest timer set, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        let conns = self.conns.values().filter_map(|c| c.timers.next());
        let clients = self.clients.iter().filter_map(|c| c.timers.next());
        conns.chain(clients).min()
    }
}

#[cfg(test)]
mod tests;
