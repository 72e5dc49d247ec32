//! The RTSP server, sans-IO, in the shape of str0m's `Rtc`:
//!
//! - inputs: network events ([`Server::handle_accept`], [`Server::handle_input`]
//!   with bytes read, bytes written, a peer gone, an RTCP datagram), a
//!   producer's media ([`Server::handle_media`]), control calls (create or
//!   destroy a session, settings, stats) and the time
//!   ([`Server::handle_timeout`], [`Server::set_wall_clock`]);
//! - outputs: per connection the bytes to write ([`Server::poll_transmit`])
//!   and whether to read ([`Server::interest`]), runs of datagrams
//!   ([`Server::poll_datagrams`], a UDP segment size each), connections to
//!   close ([`Server::poll_event`]) and one next deadline
//!   ([`Server::poll_timeout`], the earliest timer of the timer table).
//!
//! The I/O layer only moves bytes and time between these and the sockets:
//! when to parse again, what to send first and when something expires are
//! decided here. Connections, clients and media sessions have stable ids
//! (a generation-checked slab), so an id kept across calls never names
//! something else.
//!
//! - `mod.rs`: the state, media sessions, fan-out, network input, timeouts;
//! - `methods.rs`: the RTSP methods;
//! - `output.rs`: per-connection output queues and the datagram queue;
//! - `reports.rs`: RTCP sender reports and BYE;
//! - `tunnel.rs`: RTSP over HTTP (the QuickTime tunnel's GET and POST halves);
//! - `backchannel.rs`: the ONVIF audio back channel (who talks, RTP in, the script's reads);
//! - `slab.rs`: stable ids; `timers.rs`: the timer table.

mod backchannel;
mod methods;
mod output;
mod reports;
mod slab;
mod timers;
mod tunnel;

pub use backchannel::RecvError;

use output::{drop_queued_packets, push_bytes, Conn, Sent, Wire};
use slab::{Key, Slab};
use timers::{ClientTimer, ClientTimers, ConnTimer};

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::backchannel::Backchannel;
use crate::small_map::SmallMap;
use crate::rtp::rtcp;
use crate::rtsp::auth::Authenticator;
use crate::rtsp::{self, ParseError, Response};
use crate::session::{
    self, AudioCodec, FanoutCounters, Frame, FrameRef, MediaSession, SessionOptions, Track, VideoCodec, TRACK_VIDEO,
};

/// A TCP connection, from `handle_accept` until it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(Key);

/// A media session (`createsession`), until it is destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(Key);

/// A client (an RTSP session: one player watching one media session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct ClientId(Key);

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
    New(SessionId),
    /// A session of that name existed: left unchanged (codecs and options too), as CanMV does.
    Existing(SessionId),
}


pub(crate) const METHODS: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
const SERVER_NAME: &str = "canmv-rtsp";
/// How long a closing connection may take to read what it was sent.
const CLOSE_GRACE_US: u64 = 5_000_000;

/// Something from the network, for [`Server::handle_input`].
#[derive(Debug)]
pub enum Input<'a> {
    /// Bytes read from a connection.
    Received { conn: ConnId, data: &'a [u8] },
    /// The first `bytes` of what `poll_transmit` gave for a connection were written.
    Written { conn: ConnId, bytes: usize },
    /// The peer closed the connection, or its socket failed: its fd is gone.
    Closed { conn: ConnId },
    /// A datagram on the server's RTCP socket.
    Rtcp { from: SocketAddr, data: &'a [u8] },
    /// A datagram on the server's RTP socket (a client's back-channel audio).
    Rtp { from: SocketAddr, data: &'a [u8] },
    /// The run `poll_datagrams` gave was sent (or lost: UDP never waits).
    DatagramsSent { count: usize },
}

/// Something the I/O layer must act on, from [`Server::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The connection is finished (its output written, or abandoned): close its socket.
    Close(ConnId),
}

/// What the I/O layer should wait for on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interest {
    pub read: bool,
    pub write: bool,
}

/// What the core holds ([`Server::footprint`], for the simulator).
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct Footprint {
    pub connections: usize,
    pub clients: usize,
    /// Bytes queued on all connections, and on the fullest one.
    pub queued_bytes: usize,
    pub max_queued_bytes: usize,
    pub datagrams: usize,
    /// GOP caches and audio beside them, all sessions.
    pub cached_bytes: usize,
}

/// One producer call, checked and copied, for [`Server::handle_media`]
/// (made by the producer's inbox in `net/`, and by the tests the same way).
#[derive(Debug)]
pub struct MediaInput {
    /// The media session (one destroyed meanwhile ignores it).
    pub session: SessionId,
    pub track: Track,
    pub data: Vec<u8>,
    pub script_ts: u64,
    /// Monotonic time of the call.
    pub now_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackTransport {
    Udp { rtp: SocketAddr, rtcp: SocketAddr },
    Tcp { rtp_channel: u8, rtcp_channel: u8 },
}

/// An RTSP session: one client watching one media session.
struct Client {
    /// The RTSP session id (unguessable, from the server's generator).
    id: String,
    conn: ConnId,
    media: SessionId,
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
    /// Where it sends back-channel audio from, once it set that track up.
    backchannel: Option<TrackTransport>,
    /// It holds its session's back channel: only its audio is taken.
    talking: bool,
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

    fn uses_tcp(&self) -> bool {
        self.transports().any(|t| matches!(t, TrackTransport::Tcp { .. }))
    }

    /// Every track it set up, the back channel included.
    fn transports(&self) -> impl Iterator<Item = &TrackTransport> {
        self.tracks.iter().chain(core::iter::once(&self.backchannel)).flatten()
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
    /// Back-channel audio taken, and dropped (see `backchannel::Backchannel`).
    pub backchannel_bytes: u64,
    pub backchannel_dropped: u64,
}

/// What `getstats` tells about one client.
#[derive(Debug, Clone, Copy)]
pub struct ClientStats {
    pub peer: SocketAddr,
    /// RTP over the RTSP connection (else UDP).
    pub tcp: bool,
    /// RTSP over HTTP (the tunnel's GET carries its RTP; `tcp` is true too).
    pub tunnelled: bool,
    pub playing: bool,
    pub waiting_keyframe: bool,
    /// Times its queue was cut back to the next keyframe.
    pub frames_dropped: u64,
    /// It holds its session's back channel.
    pub talking: bool,
}

pub struct Server {
    config: Config,
    sessions: Slab<MediaSession>,
    /// Each session's id by name: a name is looked up once, where a call or request names it.
    session_names: SmallMap<String, SessionId>,
    clients: Slab<Client>,
    /// Connections and the datagram queue: everything waiting to go out.
    wire: Wire,
    /// Connections finished since the I/O layer last asked.
    events: VecDeque<Event>,
    /// RTP/RTCP ports of the server's UDP pair, for SETUP replies.
    udp_ports: (u16, u16),
    next_media_id: u32,
    /// Session ids, nonces, SSRCs and first sequence numbers: a CSPRNG
    /// seeded once, so a run with a fixed seed is reproducible.
    rng: Box<dyn RngCore + Send>,
    /// Wall-clock minus monotonic time, µs (see `set_wall_clock`).
    wall_offset_us: i64,
    /// Users who may watch, when authentication is on.
    auth: Option<Authenticator>,
    /// Bumped whenever a session is made or removed (the producer's directory follows it).
    session_generation: u64,
}

impl Server {
    /// A server whose every random draw comes from ChaCha20 seeded with
    /// `seed` (the I/O layer seeds it once from the OS).
    pub fn new(config: Config, seed: [u8; 32]) -> Self {
        Server::with_rng(config, Box::new(ChaCha20Rng::from_seed(seed)))
    }

    /// A server drawing from `rng` (tests that need particular numbers).
    pub(crate) fn with_rng(config: Config, rng: Box<dyn RngCore + Send>) -> Self {
        Server {
            config,
            sessions: Slab::default(),
            session_names: SmallMap::new(),
            clients: Slab::default(),
            wire: Wire::default(),
            events: VecDeque::new(),
            udp_ports: (0, 0),
            next_media_id: 1,
            rng,
            wall_offset_us: 0,
            auth: None,
            session_generation: 0,
        }
    }

    pub fn set_udp_ports(&mut self, rtp: u16) {
        self.udp_ports = (rtp, rtp.wrapping_add(1));
    }

    // ---- control calls (the script's side) ----

    /// The session of that name.
    pub fn session_id(&self, name: &str) -> Option<SessionId> {
        self.session_names.get(name).copied()
    }

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
        if let Some(id) = self.session_id(name) {
            return Ok(Created::Existing(id));
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(CreateError::TooMany);
        }
        let media_id = self.next_media_id;
        self.next_media_id += 1;
        let rng = &mut self.rng;
        let mut next = || rng.next_u32();
        let mut session = MediaSession::new(media_id, name, codec, audio, &mut next);
        session.set_gop_cache(options.gop_cache);
        session.backchannel = options.backchannel.map(|c| Backchannel::new(c.payload_type()));
        let id = SessionId(self.sessions.insert(session));
        self.session_names.insert(String::from(name), id);
        self.session_generation += 1;
        Ok(Created::New(id))
    }

    /// Turns authentication on (Some) or off (None) for requests from now on.
    pub fn set_auth(&mut self, auth: Option<Authenticator>) {
        self.auth = auth;
    }

    /// Changes the settings; limits apply to what comes next (nobody is dropped).
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// Whether a late joiner of `name` gets the cached GOP (true, the default)
    /// or waits for the next keyframe. False if there is no such session.
    /// (Scripts set it when they create the session: `SessionOptions`.)
    #[cfg(test)]
    pub fn set_gop_cache(&mut self, name: &str, enabled: bool) -> bool {
        let Some(id) = self.session_id(name) else { return false };
        self.sessions.get_mut(id.0).map(|s| s.set_gop_cache(enabled)).is_some()
    }

    /// Whether a playing client of `name` waits for a keyframe that no cache
    /// can give it: the script should ask its encoder for one. None if unknown.
    /// `name` None: any session.
    pub fn need_keyframe(&self, name: Option<&str>) -> Option<bool> {
        let media = self.sessions_named(name)?;
        Some(self.clients.values().any(|c| media.is_none_or(|m| c.media == m) && c.playing && c.waiting_keyframe))
    }

    /// Removes a session; its clients' connections are flushed and closed. False if unknown.
    pub fn destroy_session(&mut self, name: &str) -> bool {
        let Some(id) = self.session_names.remove(name) else { return false };
        let leaving: Vec<ClientId> =
            self.clients.iter().filter(|(_, c)| c.media == id).map(|(k, _)| ClientId(k)).collect();
        for &ci in &leaving {
            self.send_bye(ci);
        }
        self.sessions.remove(id.0);
        self.session_generation += 1;
        for ci in leaving {
            if let Some(client) = self.clients.remove(ci.0) {
                if let Some(conn) = self.wire.conns.get_mut(client.conn.0) {
                    conn.close();
                }
            }
        }
        true
    }

    /// The first session made and still there (`getrtspurl` without a name).
    pub fn first_session(&self) -> Option<&str> {
        self.sessions.values().min_by_key(|s| s.id).map(|s| s.name.as_str())
    }

    /// Changes whenever a session is made or removed.
    pub fn session_generation(&self) -> u64 {
        self.session_generation
    }

    /// (name, id, video codec, has audio) of every session.
    pub fn session_list(&self) -> impl Iterator<Item = (&str, SessionId, VideoCodec, bool)> + '_ {
        self.sessions.iter().map(|(k, s)| (s.name.as_str(), SessionId(k), s.codec, s.audio.is_some()))
    }

    /// Whether any client is playing (producer calls then wake the loop).
    pub fn has_playing_client(&self) -> bool {
        self.clients.values().any(|c| c.playing)
    }

    /// `name` None: every session (`Some(None)`); else that one, or None if unknown.
    fn sessions_named(&self, name: Option<&str>) -> Option<Option<SessionId>> {
        match name {
            Some(n) => Some(Some(self.session_id(n)?)),
            None => Some(None),
        }
    }

    pub fn stats(&self, name: Option<&str>) -> Option<Stats> {
        let media = self.sessions_named(name)?;
        let mut st = Stats::default();
        for c in self.clients.values().filter(|c| media.is_none_or(|m| c.media == m)) {
            st.clients += 1;
            st.playing += u32::from(c.playing);
        }
        for (_, s) in self.sessions.iter().filter(|(k, _)| media.is_none_or(|m| m.0 == *k)) {
            let c = &s.counters;
            st.packets_sent += c.packets_sent;
            st.bytes_sent += c.bytes_sent;
            st.frames_dropped += c.frames_dropped;
            st.keyframe_waits += c.keyframe_waits;
            if let Some(bc) = &s.backchannel {
                st.backchannel_bytes += bc.bytes;
                st.backchannel_dropped += bc.dropped;
            }
        }
        Some(st)
    }

    /// Every client of a session (or of any session, `name` None), in one pass.
    pub fn client_stats(&self, name: Option<&str>) -> Option<Vec<ClientStats>> {
        let media = self.sessions_named(name)?;
        let list = self
            .clients
            .values()
            .filter(|c| media.is_none_or(|m| c.media == m))
            .filter_map(|c| {
                Some(ClientStats {
                    peer: self.wire.conns.get(c.conn.0)?.peer,
                    tcp: c.uses_tcp(),
                    tunnelled: self.is_tunnel(c.conn),
                    playing: c.playing,
                    // Set up but not yet playing is not waiting for anything.
                    waiting_keyframe: c.playing && c.waiting_keyframe,
                    frames_dropped: c.frames_dropped,
                    talking: c.talking,
                })
            })
            .collect();
        Some(list)
    }

    // ---- media (the producer's side) ----

    /// Packetizes one producer call and queues it for every playing client
    /// of its session. A call for a session destroyed since is ignored; one
    /// the packetizer refuses (checked by `session::validate` before it was
    /// queued, so rare) sends nothing.
    pub fn handle_media(&mut self, input: &MediaInput) {
        let Some(session) = self.sessions.get_mut(input.session.0) else { return };
        let frames = match input.track {
            Track::Video => session.push_video(&input.data, input.script_ts, input.now_us),
            Track::Audio => session.push_audio(&input.data, input.script_ts, input.now_us).map(|f| alloc::vec![f]),
        };
        for frame in frames.unwrap_or_default() {
            self.fan_out(input.session, &frame, input.now_us);
        }
    }

    fn fan_out(&mut self, media: SessionId, frame: &FrameRef, now_us: u64) {
        let Some(session) = self.sessions.get(media.0) else { return };
        let mut counters = FanoutCounters::default();
        let (mut sent, mut taken_back) = (Sent::default(), Sent::default());
        for (_, client) in self.clients.iter_mut().filter(|(_, c)| c.media == media && c.playing) {
            let Some(transport) = client.tracks[frame.track] else { continue };
            let Some(conn) = self.wire.conns.get_mut(client.conn.0).filter(|c| !c.closing) else { continue };
            if matches!(transport, TrackTransport::Tcp { .. }) && conn.queued > self.config.max_queued_bytes {
                // Cut back to the next keyframe rather than send a broken GOP
                // (which may be this very frame, just below).
                let dropped = drop_queued_packets(conn);
                taken_back += Sent { packets: dropped.packets, bytes: dropped.bytes };
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
                    sent += self.wire.enqueue(client.conn, transport, f);
                }
                if let Some(first) = session.current_gop().first() {
                    client.media_queued(first, now_us);
                }
                continue;
            }
            sent += self.wire.enqueue(client.conn, transport, frame);
            client.media_queued(frame, now_us);
        }
        self.count(media, sent, counters);
        self.take_back(media, taken_back);
    }

    /// Adds to a session's counters what was queued and what the fan-out held back.
    fn count(&mut self, media: SessionId, sent: Sent, held_back: FanoutCounters) {
        let Some(session) = self.sessions.get_mut(media.0) else { return };
        let c = &mut session.counters;
        c.packets_sent += sent.packets;
        c.bytes_sent += sent.bytes;
        c.frames_dropped += held_back.frames_dropped;
        c.keyframe_waits += held_back.keyframe_waits;
    }

    /// Takes packets a cut-back dropped off the session's sent counters (they were counted when queued).
    fn take_back(&mut self, media: SessionId, dropped: Sent) {
        let Some(session) = self.sessions.get_mut(media.0) else { return };
        let c = &mut session.counters;
        c.packets_sent = c.packets_sent.saturating_sub(dropped.packets);
        c.bytes_sent = c.bytes_sent.saturating_sub(dropped.bytes);
    }

    // ---- the network's side ----

    /// A new TCP connection. Past `max_connections`, the connection that has
    /// waited longest without a client is closed to make room (see
    /// [`Server::make_room`]); when there is none, the newcomer gets 503 and
    /// is closed.
    pub fn handle_accept(&mut self, peer: SocketAddr, local: SocketAddr, now_us: u64) -> ConnId {
        let mut conn = Conn::new(peer, local, now_us, self.config.timeout_after(now_us));
        if !self.make_room() {
            let resp = Response::new(503).header("Server", SERVER_NAME).header("Connection", "close");
            push_bytes(&mut conn, resp.to_bytes());
            conn.close();
        }
        ConnId(self.wire.conns.insert(conn))
    }

    /// Whether the open connections have reached `max_connections`.
    pub fn is_full(&self) -> bool {
        self.wire.conns.values().filter(|c| !c.closing).count() >= self.config.max_connections
    }

    /// Room for one more connection: when full, the connection that has
    /// waited longest without a client is closed (nothing more is written to
    /// it, so [`Server::poll_event`] gives its `Close` at once). False when
    /// full of connections with clients. The I/O layer calls it before it
    /// accepts, and closes the socket that made room first: while a
    /// connection without a client can make room, the server holds no more
    /// than `max_connections` sockets for its peers.
    pub fn make_room(&mut self) -> bool {
        if !self.is_full() {
            return true;
        }
        let idle = self
            .wire
            .conns
            .iter()
            .filter(|(k, c)| {
                let owner = self.owner(ConnId(*k));
                !c.closing && !self.clients.values().any(|cl| cl.conn == owner)
            })
            .min_by_key(|(_, c)| c.last_request_us)
            .map(|(k, _)| k);
        let Some(victim) = idle else { return false };
        if let Some(v) = self.wire.conns.get_mut(victim) {
            v.discard_output();
            v.close();
        }
        true
    }

    /// Bytes read, bytes written, a peer gone, an RTCP datagram, datagrams sent.
    pub fn handle_input(&mut self, input: Input<'_>, now_us: u64) {
        match input {
            Input::Received { conn, data } => self.received(conn, data, now_us),
            Input::Written { conn, bytes } => {
                self.wire.written(conn.0, bytes, self.config.max_queued_bytes);
                // Requests held back while the peer was not reading its replies.
                if self.interest(conn).read && self.wire.conns.get(conn.0).is_some_and(|c| !c.input.is_empty()) {
                    self.process_input(conn, now_us);
                }
            }
            Input::Closed { conn } => self.forget_conn(conn),
            Input::Rtcp { from, data } => self.rtcp_in(from, data, now_us),
            Input::Rtp { from, data } => self.rtp_in(from, data, now_us),
            Input::DatagramsSent { count } => self.wire.datagrams_sent(count),
        }
    }

    /// A connection and its RTSP sessions are gone.
    fn forget_conn(&mut self, conn: ConnId) {
        self.wire.conns.remove(conn.0);
        self.clients.retain(|_, c| c.conn != conn);
        self.close_posts_of(conn);
    }

    fn received(&mut self, id: ConnId, data: &[u8], now_us: u64) {
        let Some(conn) = self.wire.conns.get_mut(id.0) else { return };
        if conn.closing {
            return;
        }
        if self.tunnel_received(id, data, now_us) {
            return;
        }
        let Some(conn) = self.wire.conns.get_mut(id.0) else { return };
        conn.input.extend_from_slice(data);
        self.process_input(id, now_us);
    }

    /// Answers what a connection has sent, for as long as its unread replies
    /// stay under the backpressure limit (`Interest::read`); `Written` resumes
    /// it once the peer has read.
    fn process_input(&mut self, id: ConnId, now_us: u64) {
        let mut consumed = 0;
        while self.interest(id).read {
            let Some(conn) = self.wire.conns.get_mut(id.0) else { return };
            let rest = conn.input.get(consumed..).unwrap_or_default();
            match rtsp::parse_input(rest, &self.config.limits) {
                Ok(None) => break,
                Ok(Some((input, used))) => {
                    consumed += used;
                    match input {
                        rtsp::Input::Request(req) => {
                            conn.last_request_us = now_us;
                            conn.timers.set(ConnTimer::Idle, self.config.timeout_after(now_us));
                            self.handle_request(id, &req, now_us);
                        }
                        rtsp::Input::Interleaved { channel, data } => self.interleaved_in(id, channel, &data, now_us),
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
                    self.clients.retain(|_, c| c.conn != id);
                    return;
                }
            }
        }
        // One move for everything answered (not one per pipelined request).
        if let Some(conn) = self.wire.conns.get_mut(id.0) {
            conn.input.drain(..consumed.min(conn.input.len()));
        }
    }

    /// A client's interleaved packet: back-channel audio on the back
    /// channel's RTP channel; else RTCP, where a report keeps it alive.
    fn interleaved_in(&mut self, id: ConnId, channel: u8, data: &[u8], now_us: u64) {
        let talker = self.clients.iter().find(|(_, c)| {
            c.conn == id && matches!(c.backchannel, Some(TrackTransport::Tcp { rtp_channel, .. }) if rtp_channel == channel)
        });
        if let Some((k, _)) = talker {
            return self.backchannel_in(ClientId(k), data, now_us);
        }
        if !rtcp::parse_client_report(data).is_some_and(|r| r.report) {
            return;
        }
        for (_, c) in self.clients.iter_mut().filter(|(_, c)| c.conn == id) {
            let mine =
                c.transports().any(|t| matches!(t, TrackTransport::Tcp { rtcp_channel, .. } if *rtcp_channel == channel));
            if mine {
                c.seen(now_us, &self.config);
            }
        }
    }

    /// A datagram on the server's RTCP socket: a receiver report from a
    /// client's own RTCP port keeps that client alive.
    fn rtcp_in(&mut self, from: SocketAddr, data: &[u8], now_us: u64) {
        if !rtcp::parse_client_report(data).is_some_and(|r| r.report) {
            return;
        }
        for (_, c) in self.clients.iter_mut() {
            if c.transports().any(|t| matches!(t, TrackTransport::Udp { rtcp, .. } if *rtcp == from)) {
                c.seen(now_us, &self.config);
            }
        }
    }

    /// Tells the core the wall-clock time (µs since 1970) at monotonic time
    /// `now_us`, for the NTP timestamps of sender reports.
    pub fn set_wall_clock(&mut self, now_us: u64, wall_us: u64) {
        self.wall_offset_us = wall_us as i64 - now_us as i64;
    }

    // ---- outputs ----

    /// Whether to read from a connection (not while it has more replies
    /// queued than a reader would leave unread: a client that pipelines
    /// requests and never reads gets TCP backpressure) and whether it has
    /// output to write.
    pub fn interest(&self, id: ConnId) -> Interest {
        match self.wire.conns.get(id.0) {
            Some(c) => Interest {
                read: !c.closing && c.reply_bytes < output::MAX_QUEUED_REPLY_BYTES && self.post_may_read(id),
                write: !c.out.is_empty(),
            },
            None => Interest::default(),
        }
    }

    /// The connections to close, each once: finished ones are dropped from the core here.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() {
            let done: Vec<Key> = self.wire.conns.iter().filter(|(_, c)| c.closing && c.out.is_empty()).map(|(k, _)| k).collect();
            for k in done {
                self.forget_conn(ConnId(k));
                self.events.push_back(Event::Close(ConnId(k)));
            }
        }
        self.events.pop_front()
    }

    /// Handles every timer due at `now_us` (sender reports, expiries, idle,
    /// stuck and closing connections). Each fired timer is cleared, and set
    /// again only for later, so afterwards `poll_timeout` is after `now_us`.
    pub fn handle_timeout(&mut self, now_us: u64) {
        // Replies nobody reads stall a connection as surely as media nobody reads.
        let stuck_at = self.config.stuck_after(now_us);
        for conn in self.wire.conns.values_mut().filter(|c| !c.closing && c.reply_bytes >= output::MAX_QUEUED_REPLY_BYTES) {
            conn.timers.set_if_unset(ConnTimer::Stuck, stuck_at);
        }
        self.client_timers(now_us);
        self.conn_timers(now_us);
        debug_assert!(self.poll_timeout().is_none_or(|t| t > now_us), "a timer left in the past");
    }

    fn client_timers(&mut self, now_us: u64) {
        // Only the clients whose timer fired are collected (no allocation in
        // the loop's every turn); an expired client's report is moot.
        let mut due = Vec::new();
        for (k, client) in self.clients.iter_mut() {
            if client.timers.fire(ClientTimer::Expiry, now_us) {
                due.push((ClientId(k), ClientTimer::Expiry));
            } else if client.timers.fire(ClientTimer::Report, now_us) {
                due.push((ClientId(k), ClientTimer::Report));
            }
        }
        for (ci, timer) in due {
            match timer {
                ClientTimer::Expiry => {
                    // Silent for a session timeout: gone, and its connection with it if that was its last client.
                    let Some(client) = self.clients.remove(ci.0) else { continue };
                    if !self.clients.values().any(|c| c.conn == client.conn) {
                        if let Some(conn) = self.wire.conns.get_mut(client.conn.0) {
                            conn.close();
                        }
                    }
                }
                ClientTimer::Report => self.send_sender_reports(ci, now_us),
            }
        }
    }

    fn conn_timers(&mut self, now_us: u64) {
        let mut dead = Vec::new();
        for (id, conn) in self.wire.conns.iter_mut() {
            // A tunnel's POST lives as long as its GET's clients (`Server::owner`,
            // which this loop's borrow of the connections cannot call).
            let owner = conn.role.get().map_or(id, |g| g.0);
            if conn.timers.fire(ConnTimer::Idle, now_us) {
                if matches!(conn.role, tunnel::Role::Post { get: None, .. }) {
                    // A POST that waited in vain for its GET.
                    tunnel::refuse(conn, 404);
                } else if self.clients.values().any(|c| c.conn.0 == owner) {
                    // Its clients keep it (they time out on their own); look again a timeout later.
                    conn.timers.set(ConnTimer::Idle, self.config.timeout_after(now_us));
                    // The bug of issue 9, put back for the simulator's regression
                    // seed (sim/regressions.txt): the old deadline came from the
                    // last request, in the past for a client alive on RTCP alone.
                    #[cfg(feature = "regression-deadline-spin")]
                    conn.timers.set(ConnTimer::Idle, self.config.timeout_after(conn.last_request_us));
                } else {
                    dead.push(ConnId(id));
                }
            }
            if conn.timers.fire(ConnTimer::Stuck, now_us) {
                if conn.out.is_empty() {
                    // Cut back and waiting for a keyframe further away than the
                    // stuck timeout: nothing to write is not a peer that stopped reading.
                    conn.timers.set(ConnTimer::Stuck, self.config.stuck_after(now_us));
                } else {
                    dead.push(ConnId(id));
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
            self.clients.retain(|_, c| c.conn != id);
            if let Some(conn) = self.wire.conns.get_mut(id.0) {
                // Nothing more will be read from it: drop what is queued.
                conn.discard_output();
                conn.close();
            }
        }
    }

    /// What the core holds, for the simulator's invariants (sim/): not on the board.
    #[cfg(feature = "std")]
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint {
            connections: 0,
            clients: self.clients.values().count(),
            queued_bytes: 0,
            max_queued_bytes: 0,
            datagrams: self.wire.datagram_count(),
            cached_bytes: self.sessions.values().map(MediaSession::cached_bytes).sum(),
        };
        for conn in self.wire.conns.values() {
            f.connections += 1;
            f.queued_bytes += conn.queued;
            f.max_queued_bytes = f.max_queued_bytes.max(conn.queued);
        }
        f
    }

    /// When `handle_timeout` next has work: the earliest timer set, if any.
    pub fn poll_timeout(&self) -> Option<u64> {
        let conns = self.wire.conns.values().filter_map(|c| c.timers.next());
        let clients = self.clients.values().filter_map(|c| c.timers.next());
        conns.chain(clients).min()
    }

    /// Random bytes from the server's generator.
    fn random_bytes(&mut self, buf: &mut [u8]) {
        self.rng.fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests;
