//! The simulated world: a virtual clock, a simulated network, the real
//! server core (and the real pusher core, see `receiver.rs`), a virtual
//! camera and a crowd of virtual players, every choice drawn from one seed.
//! Time jumps from one event to the next: the core's deadline, the next
//! frame, a player's next action. The invariants are checked after every step.

use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::cmp::Reverse;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use canmv_rtsp::rtsp::auth::Authenticator;
use canmv_rtsp::server::{Config, ConnId, Created, Event, Input, MediaInput, Server};
use canmv_rtsp::session::{AudioCodec, SessionOptions, Track, VideoCodec};

use crate::media::Encoder;
use crate::player::{Behaviour, Keepalive, Phase, Player};
use crate::receiver::PushWorld;
use crate::rng::Rng;

pub const SECOND: u64 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    pub seconds: u64,
    pub clients: usize,
    pub fps: u64,
}

/// What a run did, for the report.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub virtual_us: u64,
    pub frames_delivered: u64,
    pub lifecycles: u64,
    pub steps: u64,
    pub pushed_frames: u64,
    pub pusher_reconnects: u64,
}

pub struct Failure {
    pub at_us: u64,
    pub message: String,
    pub trace: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Frame,
    Spawn,
    Player(u64),
    Churn,
    WallJump,
    Pusher,
}

struct SimSession {
    name: String,
    gen: u64,
    encoder: Encoder,
    frame_no: u64,
    /// Constant script timestamps (CanMV's 1000), else real ones.
    constant_ts: bool,
}

pub struct World {
    p: Params,
    rng: Rng,
    now: u64,
    end: u64,
    wall_offset: i64,
    wall_epoch: u64,
    last_wall_jump: Option<u64>,
    server: Server,
    config: Config,
    sessions: Vec<SimSession>,
    session_gen: u64,
    players: BTreeMap<u64, Player>,
    conns: BTreeMap<ConnId, u64>,
    udp: BTreeMap<SocketAddr, (u64, usize, bool)>,
    next_player: u64,
    heap: BinaryHeap<Reverse<(u64, u64, Ev)>>,
    order: u64,
    trace: VecDeque<String>,
    summary: Summary,
    datagram_loss: f64,
    push: Option<PushWorld>,
    corpus: Vec<Vec<u8>>,
    /// handle_timeout calls in the current virtual second (a spinning deadline shows as many).
    timeouts_this_second: (u64, u64),
    /// Reused by `pump`: the connections with output.
    scratch: Vec<(ConnId, u64)>,
    /// Every connection may have output (media, timers, a session change).
    dirty_all: bool,
    /// Connections that may have output: a request reached them, or output was left unread.
    dirty: Vec<ConnId>,
}

const TRACE_LINES: usize = 60;
/// Bytes on one connection the core may hold: its queue bound, one frame over
/// it (a frame is queued whole), and the replies allowed beside media.
const MAX_FRAME: usize = 64 * 1024;

impl World {
    pub fn new(p: Params, corpus: Vec<Vec<u8>>) -> World {
        let mut rng = Rng::new(p.seed);
        let config = Config {
            session_timeout_s: *rng.pick(&[5, 10, 30, 60]),
            max_clients: p.clients * 2 + 8,
            max_clients_per_session: p.clients * 2 + 8,
            max_connections: p.clients * 3 + 16,
            max_queued_bytes: *rng.pick(&[64 * 1024, 256 * 1024, 4 * 1024 * 1024]),
            tcp_only: rng.chance(0.1),
            ..Config::default()
        };
        let mut server = Server::new(config.clone(), rng.seed32());
        server.set_udp_ports(6970);
        if rng.chance(0.2) {
            server.set_auth(Authenticator::for_users("sim", &[(crate::player::USER, crate::player::PASSWORD)], false));
        }
        let end = p.seconds * SECOND;
        let datagram_loss = *rng.pick(&[0.0, 0.01, 0.05]);
        let push = if rng.chance(0.5) { Some(PushWorld::new(&mut rng, p.fps)) } else { None };
        let mut w = World {
            rng,
            now: 0,
            end,
            wall_offset: 1_700_000_000 * SECOND as i64,
            wall_epoch: 0,
            last_wall_jump: None,
            server,
            config,
            sessions: Vec::new(),
            session_gen: 0,
            players: BTreeMap::new(),
            conns: BTreeMap::new(),
            udp: BTreeMap::new(),
            next_player: 0,
            heap: BinaryHeap::new(),
            order: 0,
            trace: VecDeque::new(),
            summary: Summary::default(),
            datagram_loss,
            push,
            corpus,
            timeouts_this_second: (0, 0),
            scratch: Vec::new(),
            dirty_all: true,
            dirty: Vec::new(),
            p,
        };
        let n = w.rng.range(1, 4);
        for _ in 0..n {
            w.create_session();
        }
        w.schedule(0, Ev::Frame);
        for i in 0..w.p.clients as u64 {
            // The crowd arrives over the first minute.
            let at = w.rng.range(0, 60 * SECOND) + i;
            w.schedule(at, Ev::Spawn);
        }
        let churn = w.rng.exp(600 * SECOND);
        w.schedule(churn, Ev::Churn);
        let jump = w.rng.exp(3600 * SECOND);
        w.schedule(jump, Ev::WallJump);
        if w.push.is_some() {
            w.schedule(0, Ev::Pusher);
        }
        w
    }

    fn schedule(&mut self, at: u64, ev: Ev) {
        self.order += 1;
        self.heap.push(Reverse((at, self.order, ev)));
    }

    fn note(&mut self, line: String) {
        if self.trace.len() == TRACE_LINES {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("{:>12.6}s {line}", self.now as f64 / 1e6));
    }

    fn create_session(&mut self) {
        let codec = *self.rng.pick(&[VideoCodec::H264, VideoCodec::H265, VideoCodec::Mjpeg]);
        let audio = *self.rng.pick(&[None, Some(AudioCodec::Pcmu), Some(AudioCodec::Pcma)]);
        self.session_gen += 1;
        let name = format!("cam{}", self.rng.range(0, 6));
        let options = SessionOptions { gop_cache: self.rng.chance(0.7), backchannel: None };
        match self.server.create_session(&name, codec, audio, options) {
            Ok(Created::New(_)) => {
                let encoder = Encoder::new(&mut self.rng, codec, audio, self.p.fps);
                let constant_ts = self.rng.chance(0.3);
                self.note(format!("session {name} {codec:?} {audio:?} created"));
                self.sessions.push(SimSession { name, gen: self.session_gen, encoder, frame_no: 0, constant_ts });
            }
            Ok(Created::Existing(_)) | Err(_) => {}
        }
    }

    fn destroy_session(&mut self, i: usize) {
        let s = self.sessions.remove(i);
        self.note(format!("session {} destroyed", s.name));
        self.server.destroy_session(&s.name);
        // Its players are told (their connections close): none of them may be served again.
        for p in self.players.values_mut() {
            if p.session == s.name && p.session_gen <= s.gen {
                p.told_to_go = true;
                p.phase = Phase::Done;
            }
        }
    }

    /// The wall-clock epoch players compare sender reports in (none for a
    /// while after a jump: reports made before it still arrive).
    fn epoch(&self) -> u64 {
        match self.last_wall_jump {
            Some(t) if self.now < t + self.config.stuck_timeout_us + 30 * SECOND => crate::player::UNSETTLED,
            _ => self.wall_epoch,
        }
    }

    fn wall(&self) -> u64 {
        (self.now as i64 + self.wall_offset).max(0) as u64
    }

    pub fn run(mut self) -> Result<Summary, Failure> {
        let mut second = 0;
        while self.now < self.end {
            let next_event = self.heap.peek().map(|Reverse((t, _, _))| *t);
            let next_core = self.server.poll_timeout();
            let next_push = self.push.as_ref().and_then(PushWorld::poll_timeout);
            // A timer an input set for "at once" may lie in the past: it is
            // handled now. Only after handle_timeout must the next one be later.
            let next = [next_event, next_core, next_push].into_iter().flatten().min().unwrap_or(self.end);
            self.now = next.clamp(self.now, self.end);
            self.summary.steps += 1;
            self.server.set_wall_clock(self.now, self.wall());
            if next_core.is_some_and(|t| t <= self.now) {
                self.server.handle_timeout(self.now);
                self.dirty_all = true;
                self.count_timeout()?;
                if let Some(t) = self.server.poll_timeout() {
                    if t <= self.now {
                        return Err(self.failure(format!("server: after handle_timeout({}) the next deadline is {t}", self.now)));
                    }
                }
            }
            while let Some(Reverse((t, _, ev))) = self.heap.peek().copied() {
                if t > self.now {
                    break;
                }
                self.heap.pop();
                self.dispatch(ev);
            }
            let (now, wall) = (self.now, self.wall());
            if let Some(push) = self.push.as_mut() {
                if let Err(e) = push.step(now, wall, &mut self.rng) {
                    return Err(self.failure(e));
                }
            }
            self.pump()?;
            if self.now / SECOND != second {
                second = self.now / SECOND;
                self.check_bounds()?;
            }
        }
        self.summary.virtual_us = self.now;
        if let Some(push) = &self.push {
            if std::env::var("SIM_DEBUG").is_ok() {
                eprintln!("pusher: {}", push.describe());
            }
            self.summary.pushed_frames = push.frames_received();
            self.summary.pusher_reconnects = push.reconnects();
        }
        Ok(self.summary)
    }

    fn count_timeout(&mut self) -> Result<(), Failure> {
        let sec = self.now / SECOND;
        if self.timeouts_this_second.0 != sec {
            self.timeouts_this_second = (sec, 0);
        }
        self.timeouts_this_second.1 += 1;
        // Timers fire per client and connection, a few per second each at most.
        let bound = 64 + 16 * (self.players.len() as u64 + 4);
        if self.timeouts_this_second.1 > bound {
            return Err(self.failure(format!("the server's deadline fired {} times in one second: it spins", bound)));
        }
        Ok(())
    }

    fn failure(&self, message: String) -> Failure {
        Failure { at_us: self.now, message, trace: self.trace.iter().cloned().collect() }
    }

    fn dispatch(&mut self, ev: Ev) {
        // Media, a session made or destroyed, the wall clock: any connection may have output.
        if !matches!(ev, Ev::Player(_) | Ev::Spawn | Ev::Pusher) {
            self.dirty_all = true;
        }
        match ev {
            Ev::Frame => self.produce(),
            Ev::Spawn => self.spawn(),
            Ev::Player(id) => self.player_tick(id),
            Ev::Churn => {
                if !self.sessions.is_empty() && self.rng.chance(0.5) {
                    let i = self.rng.range(0, self.sessions.len() as u64) as usize;
                    self.destroy_session(i);
                }
                if self.sessions.len() < 4 {
                    self.create_session();
                }
                let at = self.now + self.rng.exp(600 * SECOND);
                self.schedule(at, Ev::Churn);
            }
            Ev::WallJump => {
                // The wall clock jumps (NTP, a user setting it); the monotonic one never does.
                let jump = self.rng.range(1, 7200) as i64 * SECOND as i64;
                self.wall_offset += if self.rng.chance(0.5) { jump } else { -jump };
                self.wall_epoch += 1;
                self.last_wall_jump = Some(self.now);
                self.note(format!("wall clock jumps by {} s", jump / SECOND as i64));
                let at = self.now + self.rng.exp(3600 * SECOND);
                self.schedule(at, Ev::WallJump);
            }
            Ev::Pusher => {
                if let Some(push) = self.push.as_mut() {
                    let at = push.event(self.now, &mut self.rng);
                    self.schedule(at, Ev::Pusher);
                }
            }
        }
    }

    /// One frame (and its audio) from every session's camera, and the pusher's.
    fn produce(&mut self) {
        let interval = SECOND / self.p.fps;
        for i in 0..self.sessions.len() {
            let want_key = self.server.need_keyframe(Some(&self.sessions[i].name)).unwrap_or(false);
            let s = &mut self.sessions[i];
            let frame = s.encoder.next(want_key);
            s.frame_no += 1;
            let ts = if s.constant_ts { 1000 } else { self.now };
            let id = match self.server.session_id(&s.name) {
                Some(id) => id,
                None => continue,
            };
            for call in frame.calls {
                let input = MediaInput { session: id, track: Track::Video, data: call, script_ts: ts, now_us: self.now };
                self.server.handle_media(&input);
            }
            if s.encoder.audio.is_some() {
                let data = s.encoder.audio_chunk(interval, s.frame_no);
                let input = MediaInput { session: id, track: Track::Audio, data, script_ts: ts, now_us: self.now };
                self.server.handle_media(&input);
            }
        }
        if let Some(push) = self.push.as_mut() {
            push.produce(self.now, &mut self.rng);
        }
        let at = self.now + interval;
        self.schedule(at, Ev::Frame);
    }

    fn behaviour(&mut self) -> Behaviour {
        let r = &mut self.rng;
        let hostile = if !self.corpus.is_empty() && r.chance(0.02) {
            Some(self.corpus[r.range(0, self.corpus.len() as u64) as usize].clone())
        } else {
            None
        };
        Behaviour {
            tcp: self.config.tcp_only || r.chance(0.6),
            keepalive: *r.pick(&[
                Keepalive::GetParameter,
                Keepalive::Options,
                Keepalive::SetParameter,
                Keepalive::RtcpOnly,
                Keepalive::RtcpOnly,
                Keepalive::Nothing,
            ]),
            slow: r.chance(0.05),
            stalls: r.chance(0.05),
            byte_by_byte: r.chance(0.05),
            pipelined: r.chance(0.2),
            pause_play: r.chance(0.2),
            teardown: r.chance(0.7),
            wrong_password: r.chance(0.05),
            hostile,
        }
    }

    fn spawn(&mut self) {
        if self.sessions.is_empty() {
            let at = self.now + SECOND;
            return self.schedule(at, Ev::Spawn);
        }
        let i = self.rng.range(0, self.sessions.len() as u64) as usize;
        let (name, gen, codec) = (self.sessions[i].name.clone(), self.sessions[i].gen, self.sessions[i].encoder.codec);
        let b = self.behaviour();
        let id = self.next_player;
        self.next_player += 1;
        self.summary.lifecycles += 1;
        // Each player its own loopback address and port pair (per track).
        let ip = [127, 1 + (id >> 16) as u8 % 200, (id >> 8) as u8, id as u8];
        let port = 20_000 + (id % 10_000) as u16 * 4;
        // A life of a few minutes on average (at least one keepalive period).
        let life = self.rng.exp(240 * SECOND).max(2 * SECOND);
        let mut player = Player::new(id, &name, gen, codec, b, ip, port, self.now, self.now + life);
        let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port);
        let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8554);
        let conn = self.server.handle_accept(peer, local, self.now);
        player.conn = Some(conn);
        player.start();
        self.note(format!("player {id} joins {name} {:?}", player.b));
        for t in 0..2u16 {
            let rtp = SocketAddr::new(peer.ip(), port + 2 * t);
            let rtcp = SocketAddr::new(peer.ip(), port + 2 * t + 1);
            self.udp.insert(rtp, (id, t as usize, false));
            self.udp.insert(rtcp, (id, t as usize, true));
        }
        self.conns.insert(conn, id);
        self.players.insert(id, player);
        self.deliver_requests(id);
        let at = self.now + self.rng.range(SECOND / 2, 3 * SECOND);
        self.schedule(at, Ev::Player(id));
    }

    /// The player's next action: keepalive, PAUSE/PLAY, leaving; then its next tick.
    fn player_tick(&mut self, id: u64) {
        let wants_pause = self.rng.chance(0.05);
        let Some(p) = self.players.get_mut(&id) else { return };
        if p.phase == Phase::Done || self.now >= p.leave_at {
            return self.player_leave(id);
        }
        if p.phase == Phase::Handshake {
            // A handshake that stalls (a reply lost to a closed connection...) ends the life.
            if self.now > p.last_alive + 20 * SECOND {
                return self.player_leave(id);
            }
        } else {
            p.tick(self.now, wants_pause);
        }
        let next = p.next_keepalive.min(p.leave_at).min(self.now + 5 * SECOND).max(self.now + 1);
        p.scheduled_tick = next;
        self.deliver_requests(id);
        self.schedule(next, Ev::Player(id));
    }

    fn player_leave(&mut self, id: u64) {
        let Some(p) = self.players.get_mut(&id) else { return };
        if p.phase != Phase::Leaving && p.phase != Phase::Done && p.b.teardown {
            p.leave();
            self.deliver_requests(id);
            // Closes after the TEARDOWN's reply had time to come.
            let at = self.now + SECOND;
            return self.schedule(at, Ev::Player(id));
        }
        self.remove_player(id, true);
    }

    /// The player goes: its connection closes (its side), it stops everything.
    fn remove_player(&mut self, id: u64, close: bool) {
        let Some(p) = self.players.remove(&id) else { return };
        self.summary.frames_delivered += p.frames();
        if let Some(conn) = p.conn {
            self.conns.remove(&conn);
            if close {
                self.server.handle_input(Input::Closed { conn }, self.now);
            }
        }
        let peer_ip = IpAddr::V4(Ipv4Addr::from(p.ip));
        for k in 0..4u16 {
            self.udp.remove(&SocketAddr::new(peer_ip, p.port + k));
        }
        self.note(format!("player {id} leaves ({} frames)", p.frames()));
        // Another takes its place: the crowd stays SIM_CLIENTS strong.
        let at = self.now + self.rng.exp(10 * SECOND);
        self.schedule(at, Ev::Spawn);
    }

    /// Hands what a player wrote (requests, interleaved RTCP) to the server;
    /// its UDP receiver reports to the RTCP socket, through the lossy network.
    fn deliver_requests(&mut self, id: u64) {
        let Some(p) = self.players.get_mut(&id) else { return };
        let Some(conn) = p.conn else { return };
        if p.outbox.is_empty() && p.rtcp_out.is_empty() {
            return;
        }
        self.dirty.push(conn);
        let mut bytes = std::mem::take(&mut p.outbox);
        let rtcp: Vec<usize> = std::mem::take(&mut p.rtcp_out);
        let mut datagrams = Vec::new();
        for t in rtcp {
            let rr = p.receiver_report(t);
            if p.b.tcp {
                bytes.extend_from_slice(&[b'$', (2 * t + 1) as u8]);
                bytes.extend_from_slice(&(rr.len() as u16).to_be_bytes());
                bytes.extend_from_slice(&rr);
            } else {
                let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(p.ip)), p.port + 2 * t as u16 + 1);
                datagrams.push((from, rr));
            }
        }
        // Byte by byte during the handshake (the parser's hardest case); whole afterwards.
        let byte_by_byte = p.b.byte_by_byte && p.phase == Phase::Handshake;
        if !bytes.is_empty() {
            p.last_alive = self.now;
            if byte_by_byte {
                for b in bytes.chunks(1) {
                    self.server.handle_input(Input::Received { conn, data: b }, self.now);
                }
            } else {
                self.server.handle_input(Input::Received { conn, data: &bytes }, self.now);
            }
        }
        for (from, rr) in datagrams {
            if self.rng.chance(self.datagram_loss) {
                continue;
            }
            let copies = if self.rng.chance(0.01) { 2 } else { 1 };
            for _ in 0..copies {
                self.server.handle_input(Input::Rtcp { from, data: &rr }, self.now);
            }
            if let Some(p) = self.players.get_mut(&id) {
                p.last_alive = self.now;
            }
        }
    }

    /// Moves the server's output to the players: TCP within each reader's
    /// pace (short writes, slow readers), datagrams through the lossy network;
    /// closes what the server is done with.
    fn pump(&mut self) -> Result<(), Failure> {
        // Only connections that may have output: all after media, timers or a
        // session change; else those a request reached and those left unread.
        let mut conns = std::mem::take(&mut self.scratch);
        conns.clear();
        if std::mem::take(&mut self.dirty_all) {
            conns.extend(self.conns.iter().map(|(c, p)| (*c, *p)));
        } else {
            self.dirty.sort();
            self.dirty.dedup();
            conns.extend(self.dirty.iter().filter_map(|c| self.conns.get(c).map(|p| (*c, *p))));
        }
        self.dirty.clear();
        conns.retain(|(c, _)| self.server.interest(*c).write);
        let epoch = self.epoch();
        let (now, stuck_us) = (self.now, self.config.stuck_timeout_us);
        let timeout_us = u64::from(self.config.session_timeout_s) * SECOND;
        for &(conn, id) in &conns {
            // One lookup for the whole turn: the player's reads go straight to it.
            let Some(p) = self.players.get_mut(&id) else { continue };
            let rng = &mut self.rng;
            let mut budget = if p.b.slow {
                rng.range(0, 8 * 1024) as usize
            } else if p.b.stalls {
                // Now and then a stall of up to twice the stuck timeout.
                if p.stalled_until <= now && rng.chance(0.001) {
                    p.stalled_until = now + rng.range(SECOND, 2 * stuck_us);
                }
                if p.stalled_until > now {
                    0
                } else {
                    usize::MAX
                }
            } else {
                usize::MAX
            };
            while budget > 0 && self.server.interest(conn).write {
                let mut parts = Vec::with_capacity(64);
                self.server.poll_transmit(conn, &mut parts, 64);
                let total: usize = parts.iter().map(|p| p.len()).sum();
                // A short write now and then, as a full socket buffer gives.
                let mut n = total.min(budget);
                if rng.chance(0.01) {
                    n = rng.range(1, n as u64 + 1) as usize;
                }
                let mut left = n;
                for part in parts {
                    let k = part.len().min(left);
                    p.receive(&part[..k], now, epoch);
                    left -= k;
                    if left == 0 {
                        break;
                    }
                }
                self.server.handle_input(Input::Written { conn, bytes: n }, now);
                budget -= n;
                if n < total {
                    break;
                }
            }
            let checks = player_checks(p, id, now, timeout_us, stuck_us);
            if self.server.interest(conn).write {
                self.dirty.push(conn);
            }
            self.act_on(id, checks)?;
        }
        self.scratch = conns;
        loop {
            let epoch = self.epoch();
            let (count, served) = {
                let mut parts: Vec<&[u8]> = vec![&[]; 64];
                let Some(run) = self.server.poll_datagrams(&mut parts) else { break };
                let mut served = None;
                if let Some(&(id, track, rtcp)) = self.udp.get(&run.to) {
                    if let Some(p) = self.players.get_mut(&id) {
                        for d in &parts[..run.count] {
                            p.on_datagram(track, rtcp, d, self.now, epoch);
                        }
                        served = Some(id);
                    }
                }
                (run.count, served)
            };
            self.server.handle_input(Input::DatagramsSent { count }, self.now);
            if let Some(id) = served {
                self.check_player(id)?;
            }
        }
        while let Some(Event::Close(conn)) = self.server.poll_event() {
            if let Some(id) = self.conns.remove(&conn) {
                let alive_for = self.now.saturating_sub(self.players.get(&id).map_or(0, |p| p.last_alive));
                let timeout_us = u64::from(self.config.session_timeout_s) * SECOND;
                if let Some(p) = self.players.get_mut(&id) {
                    p.conn = None;
                    let live = p.phase == Phase::Playing
                        && !p.b.slow
                        && !p.b.stalls
                        && !p.told_to_go
                        && p.b.keepalive != Keepalive::Nothing
                        && p.b.tcp
                        && alive_for + 2 * SECOND < timeout_us;
                    if live {
                        let why = format!(
                            "player {id}, alive {alive_for} µs ago (session timeout {timeout_us} µs), was closed by the server; {}",
                            p.describe()
                        );
                        return Err(self.failure(why));
                    }
                }
                self.note(format!("server closed player {id}'s connection"));
                self.remove_player(id, false);
            }
        }
        Ok(())
    }

    /// After a player received something: its own checks, and the timeout rule.
    fn check_player(&mut self, id: u64) -> Result<(), Failure> {
        let timeout_us = u64::from(self.config.session_timeout_s) * SECOND;
        let stuck_us = self.config.stuck_timeout_us;
        let now = self.now;
        let Some(p) = self.players.get_mut(&id) else { return Ok(()) };
        let checks = player_checks(p, id, now, timeout_us, stuck_us);
        self.act_on(id, checks)
    }

    /// What `player_checks` found: a failure, an early tick, requests to send.
    fn act_on(&mut self, id: u64, (verdict, tick_at, requests): (Option<String>, Option<u64>, bool)) -> Result<(), Failure> {
        if let Some(why) = verdict {
            return Err(self.failure(why));
        }
        if let Some(at) = tick_at {
            self.schedule(at, Ev::Player(id));
        }
        if requests {
            self.deliver_requests(id);
        }
        Ok(())
    }

    /// Once a virtual second: what the core holds stays within its bounds,
    /// and every connection it has is one the world has open.
    fn check_bounds(&mut self) -> Result<(), Failure> {
        let f = self.server.footprint();
        if f.connections != self.conns.len() {
            return Err(self.failure(format!(
                "the server holds {} connections, the world has {} open",
                f.connections,
                self.conns.len()
            )));
        }
        let per_conn = self.config.max_queued_bytes + MAX_FRAME + 64 * 1024 + 16 * 1024;
        if f.max_queued_bytes > per_conn {
            return Err(self.failure(format!("a connection holds {} queued bytes (bound {per_conn})", f.max_queued_bytes)));
        }
        if f.clients > self.config.max_clients {
            return Err(self.failure(format!("{} clients past max_clients {}", f.clients, self.config.max_clients)));
        }
        let cache_bound = (8 * 1024 * 1024 + 1024 * 16 * 1024) * 8;
        if f.cached_bytes > cache_bound {
            return Err(self.failure(format!("GOP caches hold {} bytes", f.cached_bytes)));
        }
        if f.datagrams > 16 * 1024 {
            return Err(self.failure(format!("{} datagrams queued", f.datagrams)));
        }
        if let Some(push) = &self.push {
            push.check().map_err(|e| self.failure(e))?;
        }
        Ok(())
    }
}

/// After a player received something: its own checks' verdict, and the
/// timeout rule (a client past its timeout is gone: no media for it; over TCP
/// what was queued may still come, a stuck timeout's worth). Returns the
/// failure, when to tick it early (a keepalive fell due before its next
/// tick, as when PLAY was just answered), and whether it has requests to send.
fn player_checks(p: &mut Player, id: u64, now: u64, timeout_us: u64, stuck_us: u64) -> (Option<String>, Option<u64>, bool) {
    if let Some(why) = p.failure.take() {
        return (Some(why), None, false);
    }
    let slack = if p.b.tcp { stuck_us + 2 * SECOND } else { 2 * SECOND };
    let silent = now.saturating_sub(p.last_alive);
    let packets = p.tracks[0].packets + p.tracks[1].packets;
    if p.phase == Phase::Playing && silent > timeout_us + slack && packets > p.checked_packets {
        return (Some(format!("player {id} silent for {silent} µs (timeout {timeout_us}) is still served")), None, false);
    }
    p.checked_packets = packets;
    let mut tick_at = None;
    if p.next_keepalive < p.scheduled_tick {
        let at = p.next_keepalive.max(now + 1);
        p.scheduled_tick = at;
        tick_at = Some(at);
    }
    (None, tick_at, !p.outbox.is_empty() || !p.rtcp_out.is_empty())
}
