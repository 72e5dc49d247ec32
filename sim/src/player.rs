//! Virtual players: each speaks RTSP to the real server core over a
//! simulated connection, with one of the behaviours real players show, and
//! checks what it receives: every frame in order from a keyframe, no gap it
//! was not told about, RTP-Info and sender reports consistent with the packets.

use std::collections::VecDeque;

use canmv_rtsp::rtsp::auth::{pick_challenge, Challenge};
use canmv_rtsp::rtsp::response::{parse_server_input, ServerInput};
use canmv_rtsp::rtsp::session_header::parse_session_header;
use canmv_rtsp::rtsp::Limits;
use canmv_rtsp::server::ConnId;
use canmv_rtsp::session::VideoCodec;

use crate::media::starts_keyframe;

/// How a player keeps its session alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keepalive {
    GetParameter,
    Options,
    SetParameter,
    /// RTCP receiver reports alone (over UDP, or interleaved over TCP).
    RtcpOnly,
    /// Nothing at all: the server must drop it after the session timeout.
    Nothing,
}

#[derive(Debug, Clone)]
pub struct Behaviour {
    pub tcp: bool,
    pub keepalive: Keepalive,
    /// Reads a little at a time: may be cut back to keyframes, may be dropped when stuck.
    pub slow: bool,
    /// Stops reading for a while now and then (a TCP window at zero), then
    /// reads again: cut back, or dropped when stuck for the stuck timeout.
    pub stalls: bool,
    /// Requests delivered one byte per read.
    pub byte_by_byte: bool,
    /// OPTIONS and DESCRIBE sent together.
    pub pipelined: bool,
    /// PAUSE and PLAY again now and then.
    pub pause_play: bool,
    /// TEARDOWN when leaving (else it vanishes: the connection just closes).
    pub teardown: bool,
    /// Answers the server's challenge with a wrong password.
    pub wrong_password: bool,
    /// Sends these bytes (from the fuzz corpora) instead of RTSP, then leaves.
    pub hostile: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Handshake,
    Playing,
    Paused,
    /// TEARDOWN sent or about to close.
    Leaving,
    /// Refused, told to go (session gone, 454, closed): leaves without a check.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Options,
    Describe,
    Setup(usize),
    Play,
    Pause,
    Keepalive,
    Teardown,
}

/// What one track has received, for the checks.
#[derive(Debug, Clone, Default)]
pub struct TrackCheck {
    /// RTP-Info of the last PLAY: where the next packet must start.
    rtp_info: Option<(u16, u32)>,
    /// After a PAUSE: the sequence number that would continue the stream.
    resume_from: Option<u16>,
    /// The first packet since the last PLAY was sent (its reply may come later).
    first_seen: Option<(u16, u32)>,
    next_seq: Option<u16>,
    last_ts: Option<u32>,
    /// The last sender report: NTP (µs since 1970), RTP time, and the wall-clock epoch it was in.
    last_sr: Option<(u64, u32, u64)>,
    pub packets: u64,
    pub frames: u64,
}

/// Where a byte stream from the server is.
enum ReadState {
    Idle,
    /// An interleaved header so far.
    Header([u8; 4], usize),
    /// The payload of channel `channel`: its first bytes, how many so far, and the length.
    Payload { channel: u8, head: [u8; 24], have: usize, len: usize },
    /// A response (text) so far.
    Text,
}

pub struct Player {
    pub id: u64,
    pub conn: Option<ConnId>,
    pub session: String,
    /// The simulator's incarnation of that session when the player joined.
    pub session_gen: u64,
    pub codec: VideoCodec,
    pub b: Behaviour,
    pub phase: Phase,
    /// The player's own address (its RTP port; RTCP the next one).
    pub ip: [u8; 4],
    pub port: u16,
    cseq: u32,
    pending: VecDeque<(u32, Step)>,
    pub rtsp_session: Option<String>,
    tracks_in_sdp: usize,
    challenge: Option<Challenge>,
    auth_tries: u32,
    nc: u32,
    read: ReadState,
    text: Vec<u8>,
    /// How much of `text` holds no complete head.
    text_scanned: usize,
    pub tracks: [TrackCheck; 2],
    /// Last request or RTCP report that reached the server (µs).
    pub last_alive: u64,
    /// The session timeout the server gave in SETUP's `Session` header.
    timeout_us: u64,
    /// When the world ticks it next (it ticks it earlier when a keepalive falls due before).
    pub scheduled_tick: u64,
    pub next_keepalive: u64,
    pub leave_at: u64,
    /// Set when the server closed it or told it the session is gone (it must not be served past that).
    pub told_to_go: bool,
    /// Requests queued for the server (the world delivers them).
    pub outbox: Vec<u8>,
    /// RTCP reports to send (track), for the world to route.
    pub rtcp_out: Vec<usize>,
    /// A check failed: the reason.
    pub failure: Option<String>,
    /// Packets it had at the last timeout check.
    pub checked_packets: u64,
    /// A stalling reader reads nothing until then.
    pub stalled_until: u64,
    /// It sent fuzz-corpus bytes: whatever comes back is not checked.
    hostile: bool,
    /// Its last requests and replies, for a failure's report.
    recent: VecDeque<String>,
}

pub const USER: &str = "sim";
/// The wall-clock epoch while a jump is recent: sender reports are not compared.
pub const UNSETTLED: u64 = u64::MAX;
pub const PASSWORD: &str = "sim-password";

impl Player {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u64,
        session: &str,
        session_gen: u64,
        codec: VideoCodec,
        b: Behaviour,
        ip: [u8; 4],
        port: u16,
        now: u64,
        leave_at: u64,
    ) -> Player {
        Player {
            id,
            conn: None,
            session: session.to_string(),
            session_gen,
            codec,
            b,
            phase: Phase::Handshake,
            ip,
            port,
            cseq: 0,
            pending: VecDeque::new(),
            rtsp_session: None,
            tracks_in_sdp: 0,
            challenge: None,
            auth_tries: 0,
            nc: 0,
            read: ReadState::Idle,
            text: Vec::new(),
            text_scanned: 0,
            tracks: Default::default(),
            last_alive: now,
            timeout_us: 60_000_000,
            scheduled_tick: 0,
            next_keepalive: u64::MAX,
            leave_at,
            told_to_go: false,
            outbox: Vec::new(),
            rtcp_out: Vec::new(),
            failure: None,
            checked_packets: 0,
            stalled_until: 0,
            hostile: false,
            recent: VecDeque::new(),
        }
    }

    fn url(&self) -> String {
        format!("rtsp://127.0.0.1:8554/{}", self.session)
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            let recent: Vec<&str> = self.recent.iter().map(String::as_str).collect();
            self.failure = Some(format!("player {} ({:?}): {why}; its last exchanges: {}", self.id, self.b, recent.join(" | ")));
        }
    }

    /// Its behaviour and last exchanges, for a failure's report.
    pub fn describe(&self) -> String {
        let recent: Vec<&str> = self.recent.iter().map(String::as_str).collect();
        format!("{:?}; its last exchanges: {}", self.b, recent.join(" | "))
    }

    fn remember(&mut self, what: String) {
        if self.recent.len() == 12 {
            self.recent.pop_front();
        }
        self.recent.push_back(what);
    }

    /// Queues a request (the world hands `outbox` to the server).
    fn request(&mut self, step: Step, method: &str, uri: &str, extra: &str) {
        self.cseq += 1;
        let mut text = format!("{method} {uri} RTSP/1.0\r\nCSeq: {}\r\nUser-Agent: sim\r\n", self.cseq);
        if let Some(s) = &self.rtsp_session {
            if !matches!(step, Step::Options | Step::Describe) {
                text.push_str(&format!("Session: {s}\r\n"));
            }
        }
        if let Some(c) = &self.challenge {
            self.nc += 1;
            let password = if self.b.wrong_password { "wrong" } else { PASSWORD };
            let auth = c.authorization(USER, password, method, uri, "0a1b2c3d", self.nc);
            text.push_str(&format!("Authorization: {auth}\r\n"));
        }
        text.push_str(extra);
        text.push_str("\r\n");
        self.outbox.extend_from_slice(text.as_bytes());
        self.pending.push_back((self.cseq, step));
        self.remember(format!("{method} {}", self.cseq));
    }

    /// The first requests, once connected.
    pub fn start(&mut self) {
        if let Some(bytes) = self.b.hostile.take() {
            self.hostile = true;
            self.outbox.extend_from_slice(&bytes);
            self.phase = Phase::Done;
            return;
        }
        let url = self.url();
        self.request(Step::Options, "OPTIONS", &url, "");
        if self.b.pipelined {
            self.request(Step::Describe, "DESCRIBE", &url, "Accept: application/sdp\r\n");
        }
    }

    fn setup(&mut self, track: usize) {
        let uri = format!("{}/trackID={track}", self.url());
        let transport = if self.b.tcp {
            format!("Transport: RTP/AVP/TCP;unicast;interleaved={}-{}\r\n", 2 * track, 2 * track + 1)
        } else {
            let p = self.port + 2 * track as u16;
            format!("Transport: RTP/AVP;unicast;client_port={}-{}\r\n", p, p + 1)
        };
        self.request(Step::Setup(track), "SETUP", &uri, &transport);
    }

    fn play(&mut self) {
        // The stream (re)starts with the first packet after this request,
        // which may come before the reply (over UDP): checked as a start.
        for track in &mut self.tracks {
            track.resume_from = track.next_seq.take();
            track.first_seen = None;
            track.rtp_info = None;
        }
        let url = self.url();
        self.request(Step::Play, "PLAY", &url, "Range: npt=0.000-\r\n");
    }

    /// A keepalive, a PAUSE/PLAY, or leaving, as its time comes (the world calls it at `next_keepalive`).
    pub fn tick(&mut self, now: u64, wants_pause: bool) {
        if !matches!(self.phase, Phase::Playing | Phase::Paused) {
            return;
        }
        // A keepalive at half the session timeout, as ffmpeg sends them.
        if now < self.next_keepalive {
            return;
        }
        self.next_keepalive = now + self.timeout_us / 2;
        if self.phase == Phase::Paused {
            // After the PAUSE's reply only: over TCP, what was sent before
            // the pause comes ahead of that reply.
            if !self.pending.is_empty() {
                return;
            }
            self.phase = Phase::Playing;
            return self.play();
        }
        if wants_pause && self.b.pause_play && self.pending.is_empty() {
            self.phase = Phase::Paused;
            let url = self.url();
            return self.request(Step::Pause, "PAUSE", &url, "");
        }
        let url = self.url();
        match self.b.keepalive {
            Keepalive::GetParameter => self.request(Step::Keepalive, "GET_PARAMETER", &url, ""),
            Keepalive::Options => self.request(Step::Keepalive, "OPTIONS", &url, ""),
            Keepalive::SetParameter => {
                self.request(Step::Keepalive, "SET_PARAMETER", &url, "Content-Type: text/parameters\r\nContent-Length: 0\r\n")
            }
            Keepalive::RtcpOnly => {
                for t in 0..self.tracks_in_sdp {
                    self.rtcp_out.push(t);
                }
                self.remember(format!("RTCP at {now}"));
            }
            Keepalive::Nothing => {}
        }
    }

    /// Leaving: TEARDOWN (the world closes the connection after it), or vanishing.
    pub fn leave(&mut self) {
        if self.b.teardown && self.rtsp_session.is_some() && self.phase != Phase::Done {
            let url = self.url();
            self.request(Step::Teardown, "TEARDOWN", &url, "");
        }
        self.phase = Phase::Leaving;
    }

    /// Bytes from the server, in order.
    pub fn receive(&mut self, mut data: &[u8], now: u64, wall_epoch: u64) {
        while !data.is_empty() {
            match &mut self.read {
                ReadState::Idle => {
                    if data[0] == b'$' {
                        self.read = ReadState::Header([0; 4], 0);
                    } else {
                        self.read = ReadState::Text;
                    }
                }
                ReadState::Header(h, have) => {
                    let n = (4 - *have).min(data.len());
                    h[*have..*have + n].copy_from_slice(&data[..n]);
                    *have += n;
                    data = &data[n..];
                    if *have == 4 {
                        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
                        self.read = ReadState::Payload { channel: h[1], head: [0; 24], have: 0, len };
                    }
                }
                ReadState::Payload { channel, head, have, len } => {
                    let n = (*len - *have).min(data.len());
                    if *have < head.len() {
                        let k = n.min(head.len() - *have);
                        head[*have..*have + k].copy_from_slice(&data[..k]);
                    }
                    *have += n;
                    data = &data[n..];
                    if *have == *len {
                        let (channel, head, len) = (*channel, *head, *len);
                        self.read = ReadState::Idle;
                        let track = usize::from(channel / 2);
                        if track < 2 {
                            let shown = len.min(head.len());
                            if channel % 2 == 0 {
                                self.on_rtp(track, &head[..shown], now);
                            } else {
                                self.on_rtcp(track, &head[..shown], wall_epoch);
                            }
                        }
                    }
                }
                ReadState::Text => {
                    // Up to the end of what is there; a complete message is parsed out below.
                    let end = data.iter().position(|&b| b == b'$').unwrap_or(data.len());
                    self.text.extend_from_slice(&data[..end]);
                    data = &data[end..];
                    self.parse_text(now);
                    if !self.text.is_empty() && !data.is_empty() {
                        // A `$` inside a body (SDP has none): keep reading text.
                        self.text.push(data[0]);
                        data = &data[1..];
                        self.parse_text(now);
                    }
                    if self.text.is_empty() {
                        self.read = ReadState::Idle;
                    }
                }
            }
        }
    }

    fn parse_text(&mut self, now: u64) {
        // Parsed only once a head is complete (a slow reader gets a reply in
        // many pieces: parsing each time would cost its square).
        let from = self.text_scanned.saturating_sub(3);
        if !self.text[from..].windows(4).any(|w| w == b"\r\n\r\n") {
            self.text_scanned = self.text.len();
            return;
        }
        self.text_scanned = 0;
        loop {
            let parsed = parse_server_input(&self.text, &Limits::default());
            match parsed {
                Ok(Some((ServerInput::Response(resp), used))) => {
                    self.text.drain(..used);
                    self.on_response(resp, now);
                }
                Ok(Some((_, used))) => {
                    self.text.drain(..used);
                }
                Ok(None) => return,
                Err(e) => {
                    if !self.hostile {
                        self.fail(format!("unparsable reply from the server: {e:?}"));
                    }
                    self.text.clear();
                    return;
                }
            }
        }
    }

    fn on_response(&mut self, resp: canmv_rtsp::rtsp::response::ResponseHead, now: u64) {
        // Hostile, or done (its session went: the name may already be a new
        // session it knows nothing of): nothing more is checked or asked.
        if self.hostile || self.phase == Phase::Done {
            return;
        }
        let info = resp.header("RTP-Info").map(|i| format!(" RTP-Info {i}")).unwrap_or_default();
        let next: Vec<Option<u16>> = self.tracks.iter().map(|t| t.next_seq).collect();
        self.remember(format!("{} for {:?}{info} (next seq {next:?})", resp.status, resp.header("CSeq")));
        let Some((cseq, step)) = self.pending.pop_front() else {
            return self.fail(format!("a reply to nothing: {} {:?} (cseq {})", resp.status, resp.headers, self.cseq));
        };
        if resp.header("CSeq").and_then(|c| c.trim().parse::<u32>().ok()) != Some(cseq) {
            return self.fail(format!("reply CSeq {:?} for request {cseq}", resp.header("CSeq")));
        }
        if resp.status == 401 {
            self.auth_tries += 1;
            if self.auth_tries > 2 || self.b.wrong_password && self.challenge.is_some() {
                // Refused: what a player with the wrong password gets.
                self.phase = Phase::Done;
                return;
            }
            self.challenge = pick_challenge(resp.headers_named("WWW-Authenticate"));
            if self.challenge.is_none() {
                return self.fail("401 without a challenge we can answer".into());
            }
            // Again, with an answer.
            return self.retry(step);
        }
        if self.b.wrong_password && self.challenge.is_some() && resp.status == 200 && step != Step::Options {
            return self.fail(format!("a wrong password was let in ({step:?})"));
        }
        match (step, resp.status) {
            (Step::Options, 200) => {
                if !self.b.pipelined {
                    let url = self.url();
                    self.request(Step::Describe, "DESCRIBE", &url, "Accept: application/sdp\r\n");
                }
            }
            (Step::Describe, 200) => {
                let sdp = String::from_utf8_lossy(&resp.body);
                self.tracks_in_sdp = sdp.matches("m=").count().min(2);
                if self.tracks_in_sdp == 0 {
                    return self.fail(format!("an SDP without media: {sdp}"));
                }
                self.setup(0);
            }
            (Step::Setup(t), 200) => {
                if self.rtsp_session.is_none() {
                    match resp.header("Session").and_then(parse_session_header) {
                        Some((id, timeout)) => {
                            self.rtsp_session = Some(id);
                            // What the server says, as players read it (RFC 2326: 60 s if not).
                            self.timeout_us = u64::from(timeout.unwrap_or(60)) * 1_000_000;
                        }
                        None => return self.fail("SETUP without a Session".into()),
                    }
                }
                if t + 1 < self.tracks_in_sdp {
                    self.setup(t + 1);
                } else {
                    self.play();
                }
            }
            (Step::Play, 200) => {
                let info = resp.header("RTP-Info").unwrap_or("").to_string();
                for (t, entry) in info.split(',').enumerate().take(2) {
                    let field = |name: &str| {
                        entry.split(';').find_map(|kv| kv.trim().strip_prefix(name)).and_then(|v| v.parse::<u64>().ok())
                    };
                    if let (Some(seq), Some(ts)) = (field("seq="), field("rtptime=")) {
                        self.tracks[t].rtp_info = Some((seq as u16, ts as u32));
                    }
                }
                for t in 0..2 {
                    let check = &mut self.tracks[t];
                    if let (Some(info), Some(first)) = (check.rtp_info, check.first_seen) {
                        check.rtp_info = None;
                        if let Some(why) = before_rtp_info(t, first, info) {
                            self.fail(why);
                        }
                    }
                }
                if self.phase == Phase::Handshake {
                    self.phase = Phase::Playing;
                }
                // The first keepalive half a session timeout after PLAY (the world ticks it then).
                self.next_keepalive = now + self.timeout_us / 2;
            }
            (Step::Pause, 200) | (Step::Keepalive, 200) | (Step::Teardown, 200) => {}
            // The session went (destroysession, or the client timed out): told.
            (_, 404 | 454) => {
                self.told_to_go = true;
                self.phase = Phase::Done;
            }
            (_, 503 | 453) => self.phase = Phase::Done,
            (step, status) => self.fail(format!("{step:?} answered {status}")),
        }
    }

    fn retry(&mut self, step: Step) {
        let url = self.url();
        match step {
            Step::Options => self.request(Step::Options, "OPTIONS", &url, ""),
            Step::Describe => self.request(Step::Describe, "DESCRIBE", &url, "Accept: application/sdp\r\n"),
            Step::Setup(t) => self.setup(t),
            Step::Play => self.play(),
            _ => self.phase = Phase::Done,
        }
    }

    fn on_rtp(&mut self, track: usize, packet: &[u8], _now: u64) {
        if self.phase == Phase::Done {
            return;
        }
        if packet.len() < 14 {
            return self.fail(format!("a short RTP packet on track {track}"));
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let marker = packet[1] & 0x80 != 0;
        let starts_key = track == 0 && starts_keyframe(self.codec, &packet[12..]);
        let slow = self.b.slow || self.b.stalls;
        let check = &mut self.tracks[track];
        let mut why = None;
        match check.next_seq {
            None => {
                // The first packet since PLAY: where RTP-Info said, and (video) at a keyframe.
                check.first_seen = Some((seq, ts));
                if let Some(info) = check.rtp_info.take() {
                    why = before_rtp_info(track, (seq, ts), info);
                }
                let continues = check.resume_from.take() == Some(seq);
                if track == 0 && !starts_key && !continues {
                    why = Some(format!("{:?} video starts mid-GOP (seq {seq}, payload {:02x?})", self.codec, &packet[12..packet.len().min(16)]));
                }
            }
            Some(expected) if expected != seq => {
                // Only a player that cannot keep up is cut back, and then to a keyframe.
                if !slow {
                    why = Some(format!("track {track}: seq {seq} after {}, a gap it was not told about", expected.wrapping_sub(1)));
                } else if track == 0 && !starts_key {
                    why = Some(format!("a cut-back resumed mid-GOP (seq {seq})"));
                }
            }
            Some(_) => {}
        }
        if let Some(last) = check.last_ts {
            if (ts.wrapping_sub(last) as i32) < 0 {
                why = Some(format!("track {track}: RTP time went back from {last} to {ts}"));
            }
        }
        check.next_seq = Some(seq.wrapping_add(1));
        check.last_ts = Some(ts);
        check.packets += 1;
        if marker || track == 1 {
            check.frames += 1;
        }
        if let Some(w) = why {
            self.fail(w);
        }
    }

    fn on_rtcp(&mut self, track: usize, packet: &[u8], wall_epoch: u64) {
        // A sender report: consistent with the one before it on the same wall clock.
        if packet.len() < 20 || packet[1] != 200 {
            return;
        }
        let secs = u64::from(u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]));
        let frac = u64::from(u32::from_be_bytes([packet[12], packet[13], packet[14], packet[15]]));
        let ntp_us = secs * 1_000_000 + ((frac * 1_000_000) >> 32);
        let rtp = u32::from_be_bytes([packet[16], packet[17], packet[18], packet[19]]);
        let rate: i64 = if track == 0 { 90_000 } else { 8_000 };
        let check = &mut self.tracks[track];
        // Around a wall-clock jump a report may have been made on either
        // side of it (a slow reader gets it late): start the comparison again.
        if wall_epoch == UNSETTLED {
            check.last_sr = None;
            return;
        }
        if let Some((ntp0, rtp0, epoch0)) = check.last_sr {
            if epoch0 == wall_epoch && ntp_us >= ntp0 {
                let want = (ntp_us - ntp0) as i64 * rate / 1_000_000;
                let got = rtp.wrapping_sub(rtp0) as i32 as i64;
                // Within 20 ms of its clock: the reports map RTP time to wall time one way.
                if (got - want).abs() > rate / 50 {
                    let why = format!("track {track}: sender reports disagree: {got} RTP ticks over {} µs", ntp_us - ntp0);
                    check.last_sr = Some((ntp_us, rtp, wall_epoch));
                    return self.fail(why);
                }
            }
        }
        check.last_sr = Some((ntp_us, rtp, wall_epoch));
    }

    /// RTP arriving over UDP (what the server sent, before the network's faults).
    pub fn on_datagram(&mut self, track: usize, rtcp: bool, bytes: &[u8], now: u64, wall_epoch: u64) {
        if rtcp {
            self.on_rtcp(track, bytes, wall_epoch);
        } else {
            let shown = bytes.len().min(24);
            self.on_rtp(track, &bytes[..shown], now);
        }
    }

    /// A receiver report from this player (for RTCP keepalive), as bytes.
    pub fn receiver_report(&self, track: usize) -> Vec<u8> {
        let ssrc = 0x5100_0000 | self.id as u32;
        let mut rr = vec![0x80, 201, 0, 1];
        rr.extend_from_slice(&ssrc.to_be_bytes());
        // SDES CNAME, so the compound packet is as players send it.
        rr.extend_from_slice(&[0x81, 202, 0, 2]);
        rr.extend_from_slice(&ssrc.to_be_bytes());
        rr.extend_from_slice(&[1, 1, b'p', 0]);
        let _ = track;
        rr
    }

    pub fn frames(&self) -> u64 {
        self.tracks[0].frames
    }
}

/// RTP-Info gives where the stream starts: exactly when the player is served
/// from the cache or the stream at once; a lower bound when it waits for the
/// next keyframe (the frames before it are not its own). Never a packet from
/// before it.
fn before_rtp_info(track: usize, (seq, ts): (u16, u32), (s, t): (u16, u32)) -> Option<String> {
    if seq.wrapping_sub(s) >= 0x8000 || ts.wrapping_sub(t) >= 0x8000_0000 {
        Some(format!("track {track} starts at seq {seq} ts {ts}, before RTP-Info's {s}/{t}"))
    } else {
        None
    }
}
