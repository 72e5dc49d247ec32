//! The pusher's sans-IO RTSP client (`mm.rtsp_pusher`): it publishes one
//! media session to a receiving server (mediamtx, ZLMediaKit, gst-rtsp-server,
//! ffmpeg in listen mode) with OPTIONS, ANNOUNCE, SETUP `mode=record` and
//! RECORD, keeps the session alive, and reconnects with a backoff when the
//! link dies. It has the server's shape:
//! - inputs: [`Pusher::open`], [`Pusher::close`], [`Pusher::handle_connected`],
//!   [`Pusher::handle_connect_failed`], [`Pusher::handle_input`],
//!   [`Pusher::handle_media`], [`Pusher::handle_timeout`], [`Pusher::set_wall_clock`];
//! - outputs: [`Pusher::poll_event`] (connect, disconnect, the open's result),
//!   [`Pusher::poll_transmit`] and [`Pusher::interest`] for the TCP
//!   connection, [`Pusher::poll_datagram`] for the UDP transport, and one
//!   deadline, [`Pusher::poll_timeout`].
//!
//! Media goes through the same [`MediaSession`] as the server's (Annex-B
//! splitting, packetizers, parameter sets, clocks), so the SDP it announces
//! and the RTP it sends are the server's own.

mod link;
#[cfg(test)]
mod tests;

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;

use bytes::Bytes;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::rtp::packet::RTP_HEADER_LEN;
use crate::rtp::rtcp;
use crate::rtsp::auth::{nonce_from, pick_challenge};
use crate::rtsp::response::{parse_server_input, ResponseHead, ServerInput};
use crate::rtsp::transport::{format_record_tcp, format_record_udp, parse_transport};
use crate::rtsp::url::PushUrl;
use crate::rtsp::request::client_request;
use crate::rtsp::session_header::parse_session_header;
use crate::rtsp::{Limits, Lower, Method, Request};
use crate::sdp::{build_sdp, SdpSession};
use crate::session::{
    default_channel, AudioCodec, Frame, FrameRef, MediaSession, PushError, SentCount, Track, VideoCodec,
    TRACK_VIDEO,
};
use crate::timer::{TimerKind, TimerTable};
use link::Link;

const USER_AGENT: &str = "canmv-rtsp";
/// A connection that takes none of our queued bytes for this long is dead.
const STUCK_US: u64 = 10_000_000;
/// How long `close` waits for the TEARDOWN to go out before it disconnects anyway.
const TEARDOWN_GRACE_US: u64 = 1_000_000;
const SENDER_REPORT_US: u64 = 5_000_000;
/// Reconnection backoff: from the first to the longest wait, doubling.
const BACKOFF_FIRST_US: u64 = 500_000;
const BACKOFF_MAX_US: u64 = 10_000_000;
/// Recording this long resets the backoff to its first step.
const BACKOFF_RESET_US: u64 = 30_000_000;
/// The longest keepalive interval, whatever the server's session timeout.
const KEEPALIVE_MAX_US: u64 = 30_000_000;

/// What the pusher is set up to do (from `rtsppusher_init`).
#[derive(Debug, Clone)]
pub struct PushConfig {
    pub url: PushUrl,
    pub lower: Lower,
    pub codec: VideoCodec,
    pub audio: Option<AudioCodec>,
    /// How long `open` (and each reconnection attempt) may take, µs.
    pub open_timeout_us: u64,
    /// Bytes queued for the link at most; past it frames are dropped up to the next keyframe.
    pub queue_bytes: usize,
}

/// Where the pusher is, as `rtsppusher_getstats` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    /// Set up, not open (or closed, or the open failed).
    Ready,
    /// `open` in progress: connecting and the handshake.
    Connecting,
    Recording,
    /// The link died after an open: waiting to reconnect, or reconnecting.
    Reconnecting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushStats {
    pub state: PushState,
    /// Frames (access units, JPEG images, audio chunks) handed to the link.
    pub frames_sent: u64,
    /// Bytes of RTP (with interleaved headers over TCP) and RTCP written.
    pub bytes_sent: u64,
    /// Video frames not sent: the link was down, slower than the encoder, or waiting for a keyframe.
    pub frames_dropped: u64,
    /// Successful reconnections after the link died.
    pub reconnects: u64,
    /// The last error, a negative errno (0: none yet).
    pub last_error: i32,
}

/// What the I/O layer must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Close any connection and open a TCP connection to this address (and,
    /// for the UDP transport, a pair of UDP sockets); then call
    /// `handle_connected` or `handle_connect_failed`.
    Connect(SocketAddr),
    /// Close the connection (and the UDP sockets).
    Disconnect,
    /// `open` is over: 0, or the negative errno it returns.
    Opened(i32),
    /// `close` is over (the TEARDOWN went out, or its grace period ended).
    Closed,
}

/// Input from the connection.
pub enum Input<'a> {
    Received(&'a [u8]),
    Written(usize),
    /// The peer closed the connection, or it failed.
    Closed,
}

/// Whether to poll the connection for reading and writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interest {
    pub read: bool,
    pub write: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Options,
    Announce,
    Setup(usize),
    Record,
    Keepalive,
    Teardown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ready,
    /// The TCP connection is being made.
    Connecting,
    /// Connected; the handshake's request `Step` is outstanding.
    Handshake,
    Recording,
    /// The link died; a new attempt at the Backoff timer.
    Backoff,
    /// TEARDOWN sent; disconnect when it is answered or its grace period ends.
    TearingDown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The connection and handshake must be over by then.
    Deadline = 0,
    /// The next keepalive request.
    Keepalive = 1,
    /// A reply (to a keepalive) is due by then.
    Reply = 2,
    /// The next reconnection attempt.
    Backoff = 3,
    /// The next RTCP sender reports.
    Report = 4,
    /// Queued output made no progress since before this.
    Stuck = 5,
    /// The TEARDOWN's grace period ends.
    TeardownGrace = 6,
}

impl TimerKind for Timer {
    fn slot(self) -> usize {
        self as usize
    }
}

/// The request in flight, kept to send again with credentials after a 401.
struct Pending {
    step: Step,
    cseq: u32,
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<(&'static str, Vec<u8>)>,
    /// Sent with an answer to the server's challenge.
    authorized: bool,
}

pub struct Pusher {
    config: PushConfig,
    media: MediaSession,
    rng: ChaCha20Rng,
    phase: Phase,
    /// The open in progress is the script's `open` (else a reconnection).
    opening: bool,
    /// Opened once: a dead link is reconnected.
    opened: bool,
    peer: Option<SocketAddr>,
    link: Option<Link>,
    pending: Option<Pending>,
    timers: TimerTable<7>,
    events: VecDeque<Event>,
    /// Frames are dropped until the next keyframe (the start, a reconnection, an overflow).
    waiting_keyframe: bool,
    /// Per track since the link started: the RTP and monotonic time of its
    /// first frame until the first sender report has described it (so that
    /// report maps exactly what the receiver saw first), then None with
    /// `reported` set.
    first_media: [Option<(u32, u64)>; 2],
    reported: [bool; 2],
    /// RTP packets and payload octets sent per track (RFC 3550 6.4.1: the
    /// sender's counts; frames dropped before the link are not in them).
    sent: [SentCount; 2],
    backoff_us: u64,
    recording_since: u64,
    wall_offset_us: i64,
    stats: PushStats,
}

/// A 2xx status.
fn success(status: u16) -> bool {
    (200..300).contains(&status)
}

impl Pusher {
    pub fn new(config: PushConfig, seed: [u8; 32]) -> Pusher {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let media = {
            let mut random = || rng.next_u32();
            MediaSession::new(0, "", config.codec, config.audio, &mut random)
        };
        Pusher {
            config,
            media,
            rng,
            phase: Phase::Ready,
            opening: false,
            opened: false,
            peer: None,
            link: None,
            pending: None,
            timers: TimerTable::new(),
            events: VecDeque::new(),
            waiting_keyframe: true,
            first_media: [None; 2],
            reported: [false; 2],
            sent: [SentCount::default(); 2],
            backoff_us: BACKOFF_FIRST_US,
            recording_since: 0,
            wall_offset_us: 0,
            stats: PushStats {
                state: PushState::Ready,
                frames_sent: 0,
                bytes_sent: 0,
                frames_dropped: 0,
                reconnects: 0,
                last_error: 0,
            },
        }
    }

    pub fn config(&self) -> &PushConfig {
        &self.config
    }

    pub fn stats(&self) -> PushStats {
        let state = match self.phase {
            Phase::Ready | Phase::TearingDown => PushState::Ready,
            Phase::Recording => PushState::Recording,
            _ if self.opening => PushState::Connecting,
            _ => PushState::Reconnecting,
        };
        PushStats { state, ..self.stats }
    }

    /// Recording, or reconnecting after an open: media is taken (and sent, or counted as dropped).
    pub fn is_open(&self) -> bool {
        self.opened && !matches!(self.phase, Phase::Ready | Phase::TearingDown)
    }

    /// The link waits for a keyframe: the script should ask its encoder for one.
    pub fn need_keyframe(&self) -> bool {
        self.phase == Phase::Recording && self.waiting_keyframe && self.config.codec != VideoCodec::Mjpeg
    }

    /// The wall clock (µs since 1970) at monotonic time `now_us`, for sender reports.
    pub fn set_wall_clock(&mut self, now_us: u64, wall_us: u64) {
        self.wall_offset_us = wall_us as i64 - now_us as i64;
    }

    /// Starts the script's `open` towards `peer` (the URL's host, resolved).
    /// Its result comes as `Event::Opened`. Already open: `Opened(0)` at once.
    pub fn open(&mut self, peer: SocketAddr, now_us: u64) {
        if self.is_open() {
            self.events.push_back(Event::Opened(0));
            return;
        }
        self.peer = Some(peer);
        self.opening = true;
        self.backoff_us = BACKOFF_FIRST_US;
        self.connect(now_us);
    }

    /// The script's `close`: TEARDOWN if a session is set up, then disconnect.
    /// Ends with `Event::Closed`.
    pub fn close(&mut self, now_us: u64) {
        if self.opening {
            self.events.push_back(Event::Opened(-libc::ECANCELED));
        }
        self.opened = false;
        self.opening = false;
        let has_session = self.link.as_ref().is_some_and(|l| l.session.is_some());
        if has_session && matches!(self.phase, Phase::Recording | Phase::Handshake) {
            self.phase = Phase::TearingDown;
            self.timers = TimerTable::new();
            self.timers.set(Timer::TeardownGrace, now_us + TEARDOWN_GRACE_US);
            self.pending = None;
            self.send_request(Step::Teardown, Method::Teardown, self.config.url.request_uri(), Vec::new(), None);
        } else {
            self.finish_close();
        }
    }

    fn finish_close(&mut self) {
        self.drop_link();
        self.phase = Phase::Ready;
        self.timers = TimerTable::new();
        self.events.push_back(Event::Closed);
    }

    fn connect(&mut self, now_us: u64) {
        let Some(peer) = self.peer else { return };
        self.drop_link();
        self.phase = Phase::Connecting;
        self.timers = TimerTable::new();
        self.timers.set(Timer::Deadline, now_us + self.config.open_timeout_us);
        self.events.push_back(Event::Connect(peer));
    }

    fn drop_link(&mut self) {
        if self.link.take().is_some() || self.phase == Phase::Connecting {
            self.events.push_back(Event::Disconnect);
        }
        self.pending = None;
    }

    /// The TCP connection is up; `udp_port` is the local RTP port (RTCP the
    /// next one) for the UDP transport.
    pub fn handle_connected(&mut self, udp_port: Option<u16>, now_us: u64) {
        if self.phase != Phase::Connecting {
            return;
        }
        if self.config.lower == Lower::Udp && udp_port.is_none() {
            return self.fail(-libc::EADDRNOTAVAIL, now_us);
        }
        self.link = Some(Link::new(udp_port));
        self.phase = Phase::Handshake;
        let uri = self.config.url.request_uri();
        self.send_request(Step::Options, Method::Options, uri, Vec::new(), None);
    }

    /// The connection could not be made: a negative errno.
    pub fn handle_connect_failed(&mut self, errno: i32, now_us: u64) {
        if self.phase == Phase::Connecting {
            self.fail(errno, now_us);
        }
    }

    /// Something went wrong with the open or the link: the script's `open`
    /// fails with `errno`; a link that was recording is tried again later.
    fn fail(&mut self, errno: i32, now_us: u64) {
        self.stats.last_error = errno;
        self.drop_link();
        self.timers = TimerTable::new();
        if self.opening {
            self.opening = false;
            self.phase = Phase::Ready;
            self.events.push_back(Event::Opened(errno));
        } else if self.opened {
            self.phase = Phase::Backoff;
            self.timers.set(Timer::Backoff, now_us + self.backoff_us);
            self.backoff_us = (self.backoff_us * 2).min(BACKOFF_MAX_US);
        } else {
            self.phase = Phase::Ready;
        }
    }

    pub fn handle_input(&mut self, input: Input<'_>, now_us: u64) {
        match input {
            Input::Received(data) => {
                let Some(link) = self.link.as_mut() else { return };
                link.input.extend_from_slice(data);
                self.parse_input(now_us);
            }
            Input::Written(n) => {
                self.stats.bytes_sent += n as u64;
                let Some(link) = self.link.as_mut() else { return };
                link.written(n);
                if link.has_output() {
                    self.timers.set(Timer::Stuck, now_us + STUCK_US);
                } else {
                    self.timers.clear(Timer::Stuck);
                }
                // Input held back while the queue was full.
                if !link.input.is_empty() && !self.queue_full() {
                    self.parse_input(now_us);
                }
            }
            Input::Closed => {
                if self.phase == Phase::TearingDown {
                    self.finish_close();
                } else if self.link.is_some() {
                    self.fail(-libc::ECONNRESET, now_us);
                }
            }
        }
    }

    /// The link has more queued than `queue_bytes`: the server's input waits
    /// (it is neither read nor parsed) until the link drains, so a server that
    /// asks (each request of its own is answered on the link) and never reads
    /// cannot make the queue grow.
    fn queue_full(&self) -> bool {
        self.link.as_ref().is_some_and(|l| l.backlog() > self.config.queue_bytes)
    }

    fn parse_input(&mut self, now_us: u64) {
        let limits = Limits::default();
        loop {
            if self.queue_full() {
                return;
            }
            let Some(link) = self.link.as_mut() else { return };
            let (item, used) = match parse_server_input(&link.input, &limits) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return,
                Err(_) => return self.fail(-libc::EPROTO, now_us),
            };
            link.input.drain(..used);
            match item {
                // RTCP receiver reports from the server: nothing to act on.
                ServerInput::Interleaved { .. } => {}
                ServerInput::Request(req) => self.answer_server_request(&req),
                ServerInput::Response(resp) => self.handle_response(resp, now_us),
            }
        }
    }

    /// A server may ask too (OPTIONS, GET_PARAMETER as a keepalive): 200 for those, else 501.
    fn answer_server_request(&mut self, req: &Request) {
        let Some(link) = self.link.as_mut() else { return };
        let status = match req.method {
            Method::Options | Method::GetParameter => "200 OK",
            _ => "501 Not Implemented",
        };
        let cseq = req.header("CSeq").unwrap_or("0");
        let text = format!("RTSP/1.0 {status}\r\nCSeq: {cseq}\r\nUser-Agent: {USER_AGENT}\r\n\r\n");
        link.queue(Bytes::from(text.into_bytes()));
    }

    fn send_request(
        &mut self,
        step: Step,
        method: Method,
        uri: String,
        headers: Vec<(String, String)>,
        body: Option<(&'static str, Vec<u8>)>,
    ) {
        let Some(link) = self.link.as_mut() else { return };
        link.cseq += 1;
        let pending = Pending { step, cseq: link.cseq, method, uri, headers, body, authorized: false };
        self.pending = Some(pending);
        self.write_pending();
    }

    /// Writes the pending request, with an answer to the server's challenge once there is one.
    fn write_pending(&mut self) {
        let (Some(link), Some(p)) = (self.link.as_mut(), self.pending.as_mut()) else { return };
        let cseq = format!("{}", p.cseq);
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(p.headers.len() + 4);
        headers.push(("CSeq", &cseq));
        headers.push(("User-Agent", USER_AGENT));
        let authorization;
        if let (Some(challenge), Some(user)) = (link.challenge.as_ref(), self.config.url.user.as_deref()) {
            link.nc += 1;
            let mut random = [0u8; 16];
            self.rng.fill_bytes(&mut random);
            let cnonce = nonce_from(&random);
            let password = self.config.url.password.as_deref().unwrap_or("");
            authorization = challenge.authorization(user, password, p.method.as_str(), &p.uri, &cnonce, link.nc);
            headers.push(("Authorization", &authorization));
            p.authorized = true;
        }
        if let Some(session) = link.session.as_deref() {
            if p.step != Step::Setup(TRACK_VIDEO) {
                headers.push(("Session", session));
            }
        }
        for (k, v) in &p.headers {
            headers.push((k, v));
        }
        let body = p.body.as_ref().map(|(t, b)| (*t, b.as_slice()));
        let bytes = client_request(&p.method, &p.uri, p.cseq, &headers, body);
        link.queue(Bytes::from(bytes));
    }

    fn handle_response(&mut self, resp: ResponseHead, now_us: u64) {
        let Some(pending) = self.pending.as_ref() else { return };
        // A reply to an earlier request (one we gave up on) is not this one's.
        if let Some(cseq) = resp.header("CSeq") {
            if cseq.trim().parse::<u32>().ok() != Some(pending.cseq) {
                return;
            }
        }
        let step = pending.step;
        if resp.status == 401 && self.config.url.user.is_some() {
            let challenge = pick_challenge(resp.headers_named("WWW-Authenticate"));
            let retry = match &challenge {
                Some(c) => !pending.authorized || c.is_stale(),
                None => false,
            };
            if retry {
                if let (Some(link), Some(p)) = (self.link.as_mut(), self.pending.as_mut()) {
                    link.challenge = challenge;
                    link.nc = 0;
                    link.cseq += 1;
                    p.cseq = link.cseq;
                }
                return self.write_pending();
            }
        }
        self.pending = None;
        match step {
            Step::Teardown => self.finish_close(),
            Step::Keepalive => {
                self.timers.clear(Timer::Reply);
                // The server forgot the session (it restarted, or timed us out): start again.
                if resp.status == 454 || resp.status == 401 {
                    self.fail(-libc::ECONNRESET, now_us);
                }
            }
            // Some servers refuse OPTIONS (or do not know it): only a 401 matters, and was handled.
            Step::Options if resp.status != 401 => self.announce(),
            _ if !success(resp.status) => {
                let errno = match resp.status {
                    401 | 403 => -libc::EACCES,
                    404 => -libc::ENOENT,
                    _ => -libc::EPROTO,
                };
                self.fail(errno, now_us)
            }
            Step::Options => self.announce(),
            Step::Announce => self.setup(TRACK_VIDEO),
            Step::Setup(track) => match self.take_setup_reply(track, &resp) {
                Ok(()) if track + 1 < self.media.track_count() => self.setup(track + 1),
                Ok(()) => self.record(),
                Err(errno) => self.fail(errno, now_us),
            },
            Step::Record => self.start_recording(now_us),
        }
    }

    fn announce(&mut self) {
        let tracks = self.media.track_formats();
        let host = self.config.url.host.clone();
        let sdp = build_sdp(&SdpSession {
            name: "canmv",
            id: u64::from(self.rng.next_u32()),
            version: self.media.sdp_version,
            origin_addr: &host,
            tracks: &tracks,
            backchannel: None,
        });
        let uri = self.config.url.request_uri();
        self.send_request(Step::Announce, Method::Announce, uri, Vec::new(), Some(("application/sdp", sdp.into_bytes())));
    }

    fn setup(&mut self, track: usize) {
        let Some(link) = self.link.as_ref() else { return };
        let transport = match (self.config.lower, link.udp_port) {
            (Lower::Udp, Some(port)) => format_record_udp((port, port + 1)),
            _ => format_record_tcp((default_channel(track, false), default_channel(track, true))),
        };
        let uri = self.config.url.control_uri(&format!("trackID={track}"));
        self.send_request(Step::Setup(track), Method::Setup, uri, alloc::vec![("Transport".into(), transport)], None);
    }

    /// The session id, timeout and transport a SETUP reply gives.
    fn take_setup_reply(&mut self, track: usize, resp: &ResponseHead) -> Result<(), i32> {
        let Some(link) = self.link.as_mut() else { return Err(-libc::EPROTO) };
        if link.session.is_none() {
            let (id, timeout) = resp.header("Session").and_then(parse_session_header).ok_or(-libc::EPROTO)?;
            link.session = Some(id);
            if let Some(t) = timeout.filter(|t| *t > 0) {
                link.session_timeout_s = t;
            }
        }
        let spec = resp.header("Transport").and_then(|t| parse_transport(t).ok()).and_then(|mut s| {
            if s.is_empty() {
                None
            } else {
                Some(s.swap_remove(0))
            }
        });
        let entry = &mut link.tracks[track];
        match self.config.lower {
            Lower::Tcp => {
                let default = (default_channel(track, false), default_channel(track, true));
                entry.channels = spec.and_then(|s| s.interleaved).unwrap_or(default);
            }
            Lower::Udp => {
                entry.server_ports = Some(spec.and_then(|s| s.server_port).ok_or(-libc::EPROTO)?);
            }
        }
        Ok(())
    }

    fn record(&mut self) {
        let uri = self.config.url.request_uri();
        let headers = alloc::vec![("Range".into(), "npt=0.000-".into())];
        self.send_request(Step::Record, Method::Record, uri, headers, None);
    }

    fn start_recording(&mut self, now_us: u64) {
        self.phase = Phase::Recording;
        self.timers.clear(Timer::Deadline);
        self.waiting_keyframe = true;
        self.first_media = [None; 2];
        self.reported = [false; 2];
        self.recording_since = now_us;
        self.timers.set(Timer::Keepalive, now_us + self.keepalive_interval());
        if self.opening {
            self.opening = false;
            self.opened = true;
            self.events.push_back(Event::Opened(0));
        } else {
            self.stats.reconnects += 1;
        }
    }

    fn keepalive_interval(&self) -> u64 {
        let timeout_s = self.link.as_ref().map_or(60, |l| l.session_timeout_s);
        (u64::from(timeout_s) * 1_000_000 / 2).clamp(1_000_000, KEEPALIVE_MAX_US)
    }

    /// `pushvideoheader`: parameter sets for the SDP and the next keyframes. Whether there was one.
    pub fn learn_parameter_sets(&mut self, data: &[u8]) -> bool {
        self.media.learn_parameter_sets(data)
    }

    /// `count` video calls were dropped before they reached the core (its
    /// queue was full): the stream has a gap, so it waits for a keyframe.
    pub fn handle_overflow(&mut self, count: u64) {
        self.stats.frames_dropped += count;
        self.waiting_keyframe = true;
    }

    /// One producer call, on the loop thread (the runtime checked it with
    /// `session::validate` when it was made). An error for data the
    /// packetizers refuse: the same rules, not checked twice per frame.
    pub fn handle_media(&mut self, track: Track, data: &[u8], script_ts: u64, now_us: u64) -> Result<(), PushError> {
        match track {
            Track::Video => {
                // Starting at a keyframe: make sure its parameter sets go with it.
                let with_sets = if self.waiting_keyframe { self.media.with_parameter_sets(data) } else { None };
                let frames = self.media.push_video(with_sets.as_deref().unwrap_or(data), script_ts, now_us)?;
                for frame in frames {
                    self.send_video(&frame, now_us);
                }
                // Only the access unit in progress is needed (for the next start): no GOP kept.
                self.media.forget_gop();
            }
            Track::Audio => {
                let frame = self.media.push_audio(data, script_ts, now_us)?;
                // Audio does not wait for a video keyframe (every chunk decodes
                // alone), only for room: a chunk that does not fit is dropped.
                let fits = self.fits(frame.packets.interleaved().len());
                if self.phase == Phase::Recording && fits {
                    self.send_frame(&frame, now_us);
                }
            }
        }
        Ok(())
    }

    fn send_video(&mut self, frame: &FrameRef, now_us: u64) {
        if self.phase != Phase::Recording {
            // Before open nothing is counted: the parameter sets were learnt all the same.
            if self.opened {
                self.stats.frames_dropped += 1;
            }
            return;
        }
        // Slower than the encoder: skip to the next keyframe rather than send
        // a mosaic.
        let fits = self.fits(frame.packets.interleaved().len());
        if self.waiting_keyframe && !frame.gop_start || !fits {
            self.waiting_keyframe = true;
            self.stats.frames_dropped += 1;
            return;
        }
        if self.waiting_keyframe {
            self.waiting_keyframe = false;
            // The keyframe with the parameter sets sent ahead of it in its access unit.
            let gop: Vec<FrameRef> = self.media.current_gop().to_vec();
            if gop.last().is_some_and(|f| Arc::ptr_eq(f, frame)) {
                for f in &gop[..gop.len() - 1] {
                    self.send_frame(f, now_us);
                }
            }
        }
        self.send_frame(frame, now_us);
    }

    /// A frame of `size` bytes may be queued on the link: the queue stays
    /// within `queue_bytes`, but a frame larger than the whole queue still goes alone.
    fn fits(&self, size: usize) -> bool {
        let backlog = self.link.as_ref().map_or(0, Link::backlog);
        backlog == 0 || backlog + size <= self.config.queue_bytes
    }

    /// Queues a frame's packets on the link: interleaved over TCP, datagrams over UDP.
    fn send_frame(&mut self, frame: &FrameRef, now_us: u64) {
        let (Some(link), Some(peer)) = (self.link.as_mut(), self.peer) else { return };
        let track = frame.track;
        if track >= 2 {
            return;
        }
        let entry = link.tracks[track];
        match self.config.lower {
            Lower::Tcp => {
                let channel = if frame.rtcp { entry.channels.1 } else { entry.channels.0 };
                let data = frame.packets.interleaved().clone();
                if channel == frame.default_channel() {
                    link.queue(data);
                } else {
                    // The server chose other channels: a copy with them in the headers.
                    let mut copy = data.to_vec();
                    let mut at = 0;
                    while at + 4 <= copy.len() {
                        copy[at + 1] = channel;
                        let len = usize::from(u16::from_be_bytes([copy[at + 2], copy[at + 3]]));
                        at += 4 + len;
                    }
                    link.queue(Bytes::from(copy));
                }
                self.timers.set_if_unset(Timer::Stuck, now_us + STUCK_US);
            }
            Lower::Udp => {
                let Some((rtp_port, rtcp_port)) = entry.server_ports else { return };
                let to = SocketAddr::new(peer.ip(), if frame.rtcp { rtcp_port } else { rtp_port });
                for i in 0..frame.packets.len() {
                    let packet = frame.packets.share(i);
                    self.stats.bytes_sent += packet.len() as u64;
                    link.queue_datagram(to, frame.rtcp, packet);
                }
            }
        }
        if !frame.rtcp {
            self.stats.frames_sent += 1;
            // What the sender reports count: what went out, not what was packetized.
            let sent = &mut self.sent[track];
            for i in 0..frame.packets.len() {
                sent.packets = sent.packets.wrapping_add(1);
                let payload = frame.packets.packet(i).len().saturating_sub(RTP_HEADER_LEN);
                sent.octets = sent.octets.wrapping_add(payload as u32);
            }
            if !self.reported[track] && self.first_media[track].is_none() {
                self.first_media[track] = Some((frame.rtp_time, frame.time_us));
                self.timers.set_if_unset(Timer::Report, now_us);
            }
        }
    }

    fn send_sender_reports(&mut self, now_us: u64) {
        self.timers.set(Timer::Report, now_us + SENDER_REPORT_US);
        for track in 0..self.media.track_count() {
            let (rtp_time, at_us) = match self.first_media[track].take() {
                Some(first) => first,
                None if self.reported[track] => (self.media.clocks[track].rtp_time(now_us), now_us),
                None => continue,
            };
            self.reported[track] = true;
            let wall_us = (at_us as i64 + self.wall_offset_us).max(0) as u64;
            let info = rtcp::SenderInfo {
                ssrc: self.media.streams[track].ssrc,
                ntp: rtcp::ntp_from_unix_us(wall_us),
                rtp_time,
                packets: self.sent[track].packets,
                octets: self.sent[track].octets,
            };
            let mut bytes = Vec::new();
            rtcp::sender_report(&mut bytes, &info, rtcp::CNAME);
            self.send_frame(&Frame::rtcp(track, bytes), now_us);
        }
    }

    pub fn handle_timeout(&mut self, now_us: u64) {
        if self.timers.fire(Timer::Deadline, now_us) {
            self.fail(-libc::ETIMEDOUT, now_us);
        }
        if self.timers.fire(Timer::Backoff, now_us) {
            self.connect(now_us);
        }
        if self.timers.fire(Timer::TeardownGrace, now_us) {
            self.finish_close();
        }
        if self.timers.fire(Timer::Stuck, now_us) {
            self.fail(-libc::ETIMEDOUT, now_us);
        }
        if self.timers.fire(Timer::Reply, now_us) {
            self.fail(-libc::ETIMEDOUT, now_us);
        }
        if self.phase != Phase::Recording {
            return;
        }
        if now_us.saturating_sub(self.recording_since) >= BACKOFF_RESET_US {
            self.backoff_us = BACKOFF_FIRST_US;
        }
        if self.timers.fire(Timer::Keepalive, now_us) {
            self.timers.set(Timer::Keepalive, now_us + self.keepalive_interval());
            // One request at a time: a keepalive waits for the one before it.
            if self.pending.is_none() {
                self.timers.set(Timer::Reply, now_us + self.config.open_timeout_us.max(5_000_000));
                let uri = self.config.url.request_uri();
                self.send_request(Step::Keepalive, Method::Options, uri, Vec::new(), None);
            }
        }
        if self.timers.fire(Timer::Report, now_us) {
            self.send_sender_reports(now_us);
        }
    }

    /// The earliest timer set.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next()
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn interest(&self) -> Interest {
        match (&self.link, self.phase) {
            (Some(link), Phase::Handshake | Phase::Recording | Phase::TearingDown) => {
                Interest { read: !self.queue_full(), write: link.has_output() }
            }
            _ => Interest::default(),
        }
    }

    /// Up to `max` slices to write to the connection next.
    pub fn poll_transmit<'a>(&'a self, parts: &mut Vec<&'a [u8]>, max: usize) {
        if let Some(link) = self.link.as_ref() {
            link.transmit(parts, max);
        }
    }

    /// The next datagram for the UDP transport: where to, whether it is RTCP (from the RTCP socket), the bytes.
    pub fn poll_datagram(&mut self) -> Option<(SocketAddr, bool, Bytes)> {
        self.link.as_mut()?.next_datagram()
    }

    pub fn has_datagrams(&self) -> bool {
        self.link.as_ref().is_some_and(Link::has_datagrams)
    }
}
