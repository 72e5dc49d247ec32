//! The pusher's side of the world: the real `client::Pusher` core, fed by a
//! virtual camera, publishing to a simulated receiving server that accepts,
//! refuses (401, 404, 5xx, a closed port), stalls, resets and restarts.
//! The receiver checks what arrives: each recording starts at a keyframe,
//! and skips only to a keyframe.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use canmv_rtsp::client::{Event, Input, PushConfig, PushState, Pusher};
use canmv_rtsp::rtsp::url::parse_push_url;
use canmv_rtsp::rtsp::{parse_input, Input as Parsed, Limits, Lower, Method, Request};
use canmv_rtsp::session::{AudioCodec, Track, VideoCodec};

use crate::media::{starts_keyframe, Encoder};
use crate::rng::Rng;
use crate::world::SECOND;

/// How the receiver treats the next connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Accept,
    /// The port is closed (the server is down or restarting).
    Refuse,
    Unauthorized,
    NotFound,
    ServerError,
    /// Accepts the connection and never answers.
    Stall,
}

struct RxConn {
    input: Vec<u8>,
    mode: Mode,
    recording: bool,
    /// Per track: the next sequence number, once started.
    next_seq: [Option<u16>; 2],
    /// A skip waits for a keyframe before it counts as a resumption.
    frames: u64,
}

pub struct PushWorld {
    pusher: Pusher,
    encoder: Encoder,
    fps: u64,
    peer: SocketAddr,
    mode: Mode,
    conn: Option<RxConn>,
    /// The script's open succeeded and it has not closed.
    opened: bool,
    opening: bool,
    frames_received: u64,
    frame_no: u64,
    /// (second, handle_timeout calls in it).
    timeouts: (u64, u64),
    failure: Option<String>,
    queue_bytes: usize,
    max_frame: usize,
    udp: bool,
}

fn codec_name(c: VideoCodec) -> &'static str {
    match c {
        VideoCodec::H264 => "h264",
        VideoCodec::H265 => "h265",
        VideoCodec::Mjpeg => "mjpeg",
    }
}

impl PushWorld {
    pub fn new(rng: &mut Rng, fps: u64) -> PushWorld {
        let codec = *rng.pick(&[VideoCodec::H264, VideoCodec::H265, VideoCodec::Mjpeg]);
        let audio = *rng.pick(&[None, Some(AudioCodec::Pcmu)]);
        let udp = rng.chance(0.4);
        let queue_bytes = *rng.pick(&[64 * 1024, 256 * 1024, 2 * 1024 * 1024]) as usize;
        let url = if rng.chance(0.3) { "rtsp://sim:pw@127.0.0.2:8554/live/cam" } else { "rtsp://127.0.0.2:8554/live/cam" };
        let config = PushConfig {
            url: parse_push_url(url).expect("the simulator's URL"),
            lower: if udp { Lower::Udp } else { Lower::Tcp },
            codec,
            audio,
            open_timeout_us: 5 * SECOND,
            queue_bytes,
        };
        let _ = codec_name(codec);
        PushWorld {
            pusher: Pusher::new(config, rng.seed32()),
            encoder: Encoder::new(rng, codec, audio, fps),
            fps,
            peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 8554),
            mode: Mode::Accept,
            conn: None,
            opened: false,
            opening: false,
            frames_received: 0,
            frame_no: 0,
            timeouts: (0, 0),
            failure: None,
            queue_bytes,
            max_frame: 0,
            udp,
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.pusher.poll_timeout()
    }

    pub fn frames_received(&self) -> u64 {
        self.frames_received
    }

    pub fn reconnects(&self) -> u64 {
        self.pusher.stats().reconnects
    }

    /// For a report: the pusher's stats and the world's view of it.
    pub fn describe(&self) -> String {
        format!("{:?} opened {} opening {} mode {:?} conn {}", self.pusher.stats(), self.opened, self.opening, self.mode, self.conn.is_some())
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(format!("pusher: {why}"));
        }
    }

    /// The receiver's script: restarts, refusals and stalls now and then; the
    /// script opens again after a failed open. Returns when it acts next.
    pub fn event(&mut self, now: u64, rng: &mut Rng) -> u64 {
        if !self.opened && !self.opening {
            // The script tries again (the receiver may have changed its mind meanwhile).
            if rng.chance(0.5) {
                self.mode = Mode::Accept;
            }
            self.opening = true;
            self.pusher.open(self.peer, now);
            return now + rng.exp(60 * SECOND);
        }
        let roll = rng.range(0, 10);
        self.mode = match roll {
            0..=4 => Mode::Accept,
            5 => Mode::Refuse,
            6 => Mode::Unauthorized,
            7 => Mode::NotFound,
            8 => Mode::ServerError,
            _ => Mode::Stall,
        };
        if rng.chance(0.5) && self.conn.is_some() {
            // The server restarts (or the link resets): the connection is gone.
            self.conn = None;
            self.pusher.handle_input(Input::Closed, now);
        }
        if rng.chance(0.05) && self.opened {
            self.pusher.close(now);
            self.opened = false;
        }
        now + rng.exp(120 * SECOND)
    }

    pub fn produce(&mut self, now: u64, rng: &mut Rng) {
        let frame = self.encoder.next(self.pusher.need_keyframe());
        self.frame_no += 1;
        for call in frame.calls {
            self.max_frame = self.max_frame.max(call.len());
            let _ = self.pusher.handle_media(Track::Video, &call, now, now);
        }
        if self.encoder.audio.is_some() && rng.chance(0.9) {
            let chunk = self.encoder.audio_chunk(SECOND / self.fps, self.frame_no);
            let _ = self.pusher.handle_media(Track::Audio, &chunk, now, now);
        }
    }

    /// Runs the pusher and the receiver up to `now`.
    pub fn step(&mut self, now: u64, wall: u64, rng: &mut Rng) -> Result<(), String> {
        self.pusher.set_wall_clock(now, wall);
        if self.pusher.poll_timeout().is_some_and(|t| t <= now) {
            self.pusher.handle_timeout(now);
            let sec = now / SECOND;
            if self.timeouts.0 != sec {
                self.timeouts = (sec, 0);
            }
            self.timeouts.1 += 1;
            if self.timeouts.1 > 64 {
                return Err("pusher: its deadline fired over 64 times in one second: it spins".into());
            }
            if let Some(t) = self.pusher.poll_timeout() {
                if t <= now {
                    return Err(format!("pusher: after handle_timeout({now}) the next deadline is {t}"));
                }
            }
        }
        for _ in 0..1000 {
            let mut busy = self.events(now, rng);
            busy |= self.transmit(now, rng);
            if !busy {
                break;
            }
        }
        match self.failure.take() {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }

    fn events(&mut self, now: u64, rng: &mut Rng) -> bool {
        let mut any = false;
        while let Some(ev) = self.pusher.poll_event() {
            any = true;
            match ev {
                Event::Connect(to) => {
                    if to != self.peer {
                        self.fail(format!("connects to {to}"));
                    }
                    self.conn = None;
                    if self.mode == Mode::Refuse {
                        self.pusher.handle_connect_failed(-111, now);
                    } else {
                        let udp_port = if self.udp { Some(40_000) } else { None };
                        self.conn = Some(RxConn { input: Vec::new(), mode: self.mode, recording: false, next_seq: [None; 2], frames: 0 });
                        self.pusher.handle_connected(udp_port, now);
                    }
                }
                Event::Disconnect => self.conn = None,
                Event::Opened(r) => {
                    self.opening = false;
                    self.opened = r == 0;
                }
                Event::Closed => {}
            }
        }
        let _ = rng;
        any
    }

    /// The pusher's output to the receiver (and its replies back). Whether anything moved.
    fn transmit(&mut self, now: u64, rng: &mut Rng) -> bool {
        let mut moved = false;
        if self.conn.is_some() && self.pusher.interest().write {
            let mut parts = Vec::new();
            self.pusher.poll_transmit(&mut parts, 64);
            let bytes: Vec<u8> = parts.concat();
            drop(parts);
            let backlog = bytes.len();
            let bound = self.queue_bytes + self.max_frame + 8 * 1024;
            if backlog > bound {
                self.fail(format!("{backlog} bytes queued for the link (bound {bound})"));
            }
            // A stalled receiver reads nothing; otherwise all, or part of it.
            let stalled = self.conn.as_ref().is_some_and(|c| c.mode == Mode::Stall);
            let n = if stalled { 0 } else if rng.chance(0.05) { rng.range(0, bytes.len() as u64 + 1) as usize } else { bytes.len() };
            if n > 0 {
                if let Some(c) = self.conn.as_mut() {
                    c.input.extend_from_slice(&bytes[..n]);
                }
                self.pusher.handle_input(Input::Written(n), now);
                moved = true;
                self.receive(now);
            }
        }
        while let Some((to, rtcp, data)) = self.pusher.poll_datagram() {
            moved = true;
            if to.ip() != self.peer.ip() {
                self.fail(format!("a datagram to {to}"));
            }
            if !rtcp && !rng.chance(0.02) {
                let track = usize::from(to.port() == 7002);
                self.on_rtp(track, &data);
            }
        }
        moved
    }

    /// The receiver parses what it got and answers as its mode says.
    fn receive(&mut self, now: u64) {
        loop {
            let Some(c) = self.conn.as_mut() else { return };
            let parsed = parse_input(&c.input, &Limits::default());
            let (item, used) = match parsed {
                Ok(Some(x)) => x,
                Ok(None) => return,
                Err(e) => return self.fail(format!("sent something that is not RTSP: {e:?}")),
            };
            c.input.drain(..used);
            match item {
                Parsed::Request(req) => self.answer(&req, now),
                Parsed::Interleaved { channel, data } => {
                    if channel % 2 == 0 {
                        self.on_rtp(usize::from(channel / 2), &data);
                    }
                }
            }
        }
    }

    fn answer(&mut self, req: &Request, now: u64) {
        let Some(c) = self.conn.as_mut() else { return };
        let cseq = req.header("CSeq").unwrap_or("0").to_string();
        let status = match (c.mode, &req.method) {
            (Mode::Unauthorized, _) => "401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"rx\", nonce=\"abc123\"",
            (Mode::NotFound, Method::Announce) => "404 Not Found",
            (Mode::ServerError, Method::Setup) => "500 Internal Server Error",
            _ => "200 OK",
        };
        let mut extra = String::new();
        if req.method == Method::Setup && status.starts_with("200") {
            let transport = req.header("Transport").unwrap_or("");
            let track = usize::from(req.uri.ends_with("trackID=1"));
            if transport.contains("client_port") {
                extra = format!("Session: rx1;timeout=30\r\nTransport: {transport};server_port={}-{}\r\n", 7000 + 2 * track, 7001 + 2 * track);
            } else {
                extra = format!("Session: rx1;timeout=30\r\nTransport: {transport}\r\n");
            }
        }
        if req.method == Method::Record && status.starts_with("200") {
            c.recording = true;
            c.next_seq = [None; 2];
        }
        let reply = format!("RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{extra}\r\n");
        self.pusher.handle_input(Input::Received(reply.as_bytes()), now);
    }

    fn on_rtp(&mut self, track: usize, packet: &[u8]) {
        let Some(c) = self.conn.as_mut() else { return };
        if !c.recording || packet.len() < 13 || track > 1 {
            return;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let payload = &packet[12..];
        let key = track == 0 && starts_keyframe(self.encoder.codec, payload);
        let why = match c.next_seq[track] {
            None if track == 0 && !key => Some(format!("a recording starts mid-GOP (seq {seq})")),
            // Over UDP the simulated network loses some; over TCP a skip is a drop to a keyframe.
            Some(expected) if expected != seq && !self.udp && track == 0 && !key => {
                Some(format!("a skip from seq {} to {seq} resumes mid-GOP", expected.wrapping_sub(1)))
            }
            _ => None,
        };
        c.next_seq[track] = Some(seq.wrapping_add(1));
        if track == 0 && packet[1] & 0x80 != 0 {
            c.frames += 1;
            self.frames_received += 1;
        }
        if let Some(w) = why {
            self.fail(w);
        }
    }

    /// Once a virtual second: connected, or reconnecting with a timer set.
    pub fn check(&self) -> Result<(), String> {
        let s = self.pusher.stats();
        if self.opened {
            match s.state {
                PushState::Recording => {}
                PushState::Reconnecting | PushState::Connecting if self.pusher.poll_timeout().is_some() => {}
                state => return Err(format!("pusher: opened, but {state:?} with no timer set ({s:?})")),
            }
        }
        Ok(())
    }
}
