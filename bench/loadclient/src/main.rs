//! loadclient: many RTSP players in one process, for `make bench`.
//!
//!   loadclient --url rtsp://127.0.0.1:PORT/PATH [--clients N] [--transport tcp|udp]
//!       [--seconds S] [--warmup S] [--fps F] [--setup-timeout S] [--setup-deadline S] [--ramp N]
//!       [--keepalive S] [--arrivals FILE] [--json FILE] [--stdin-stop 1]
//!   loadclient --url ... --join K [--join-gap-ms MS] [--transport tcp|udp] [--json FILE]
//!
//! Stream mode: N clients do OPTIONS, DESCRIBE, SETUP (video track; TCP
//! interleaved or UDP client ports), PLAY, at most --ramp of them setting up at
//! once; one that has not got PLAY's answer within --setup-timeout fails. When all
//! play (or --setup-deadline, default twice that, passes) it prints `PLAYING <n>`,
//! after --warmup `WINDOW-START <µs>`, after --seconds `WINDOW-END <µs>` (µs on
//! CLOCK_MONOTONIC), then tears every client down and writes a JSON summary.
//! Counts (packets, sequence gaps, marker-bit frames) are per client, for the
//! window; --arrivals writes `client,rtp_ts,arrival_us` for every access unit's
//! last packet that arrived in the window.
//!
//! Join mode: K clients starting --join-gap-ms apart (on a fixed schedule, so
//! they fall at different points of the GOP), each measuring from sending PLAY
//! to the arrival of the last packet of the first decodable frame (an IDR
//! picture received whole, with SPS and PPS from the SDP or in band), then leaving.
//!
//! --stdin-stop 1: a line on stdin (or its end) ends the window before --seconds.
//!
//! One thread, epoll, one receive buffer per TCP connection and one shared
//! datagram buffer: nothing is allocated per packet. Every wait is bounded.

mod rtp;
mod rtsp;
mod sys;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::fd::RawFd;

use rtp::Track;

const TCP_BUF: usize = 256 * 1024;
const UDP_RCVBUF: i32 = 2 * 1024 * 1024;
const KIND_TCP: u64 = 0;
const KIND_RTP: u64 = 1;
const KIND_RTCP: u64 = 2;
/// stdin (with --stdin-stop 1): a line or end of file ends the window early.
const TOKEN_STDIN: u64 = u64::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Tcp,
    Udp,
}

struct Args {
    host: Ipv4Addr,
    port: u16,
    url: String,
    clients: usize,
    transport: Transport,
    seconds: f64,
    warmup: f64,
    fps: f64,
    setup_timeout: f64,
    setup_deadline: f64,
    ramp: usize,
    keepalive: f64,
    arrivals: Option<String>,
    json: Option<String>,
    join: usize,
    join_gap_ms: u64,
    stdin_stop: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("loadclient: {msg}");
    eprintln!(
        "usage: loadclient --url rtsp://127.0.0.1:PORT/PATH [--clients N] [--transport tcp|udp] \
         [--seconds S] [--warmup S] [--fps F] [--setup-timeout S] [--setup-deadline S] [--ramp N] [--keepalive S] \
         [--arrivals FILE] [--json FILE] | --join K [--join-gap-ms MS]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        host: Ipv4Addr::LOCALHOST,
        port: 554,
        url: String::new(),
        clients: 1,
        transport: Transport::Tcp,
        seconds: 5.0,
        warmup: 1.0,
        fps: 30.0,
        setup_timeout: 20.0,
        setup_deadline: 0.0,
        ramp: 32,
        keepalive: 20.0,
        arrivals: None,
        json: None,
        join: 0,
        join_gap_ms: 700,
        stdin_stop: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let key = argv[i].as_str();
        let Some(val) = argv.get(i + 1) else { usage(&format!("{key} needs a value")) };
        let num = |v: &str| -> f64 { v.parse().unwrap_or_else(|_| usage(&format!("{key}: not a number: {v}"))) };
        match key {
            "--url" => a.url = val.clone(),
            "--clients" => a.clients = num(val) as usize,
            "--transport" => {
                a.transport = match val.as_str() {
                    "tcp" => Transport::Tcp,
                    "udp" => Transport::Udp,
                    _ => usage("--transport is tcp or udp"),
                }
            }
            "--seconds" => a.seconds = num(val),
            "--warmup" => a.warmup = num(val),
            "--fps" => a.fps = num(val),
            "--setup-timeout" => a.setup_timeout = num(val),
            "--setup-deadline" => a.setup_deadline = num(val),
            "--ramp" => a.ramp = (num(val) as usize).max(1),
            "--keepalive" => a.keepalive = num(val),
            "--arrivals" => a.arrivals = Some(val.clone()),
            "--json" => a.json = Some(val.clone()),
            "--join" => a.join = num(val) as usize,
            "--join-gap-ms" => a.join_gap_ms = num(val) as u64,
            "--stdin-stop" => a.stdin_stop = val == "1",
            _ => usage(&format!("unknown option {key}")),
        }
        i += 2;
    }
    // Traffic stays on loopback: the URL must name 127.0.0.1 or localhost.
    let rest = a.url.strip_prefix("rtsp://").unwrap_or_else(|| usage("--url must start with rtsp://"));
    let hostport = rest.split('/').next().unwrap_or("");
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().unwrap_or_else(|_| usage("bad port in --url"))),
        None => (hostport, 554),
    };
    if host != "127.0.0.1" && host != "localhost" {
        usage("only loopback URLs (127.0.0.1, localhost)");
    }
    a.port = port;
    if a.setup_deadline <= 0.0 {
        a.setup_deadline = 2.0 * a.setup_timeout;
    }
    if a.clients == 0 && a.join == 0 {
        usage("--clients must be at least 1");
    }
    a
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Waiting,
    Connecting,
    Options,
    Describe,
    Setup,
    Play,
    Playing,
    Done,
    Failed,
}

struct Client {
    id: usize,
    phase: Phase,
    fd: RawFd,
    rtp_fd: RawFd,
    rtcp_fd: RawFd,
    rtp_port: u16,
    cseq: u32,
    inbuf: Vec<u8>,
    inlen: usize,
    out: Vec<u8>,
    base: String,
    setup_url: String,
    session: String,
    channel: u8,
    track: Track,
    started_us: u64,
    play_sent_us: u64,
    playing_us: u64,
    next_keepalive_us: u64,
    fail: Option<String>,
}

impl Client {
    fn new(id: usize, capacity: usize, url: &str, tcp: bool) -> Client {
        Client {
            id,
            phase: Phase::Waiting,
            fd: -1,
            rtp_fd: -1,
            rtcp_fd: -1,
            rtp_port: 0,
            cseq: 0,
            inbuf: if tcp { vec![0; TCP_BUF] } else { vec![0; 64 * 1024] },
            inlen: 0,
            out: Vec::with_capacity(1024),
            base: url.to_string(),
            setup_url: String::new(),
            session: String::new(),
            channel: 0,
            track: Track::new(capacity),
            started_us: 0,
            play_sent_us: 0,
            playing_us: 0,
            next_keepalive_us: 0,
            fail: None,
        }
    }

    fn active(&self) -> bool {
        !matches!(self.phase, Phase::Waiting | Phase::Done | Phase::Failed)
    }
}

struct Bench {
    args: Args,
    ep: sys::Epoll,
    clients: Vec<Client>,
    in_window: bool,
    record: bool,
    udp_buf: Vec<u8>,
    stop_requested: bool,
}

fn token(id: usize, kind: u64) -> u64 {
    ((id as u64) << 2) | kind
}

impl Bench {
    fn start_client(&mut self, id: usize, now: u64) {
        let c = &mut self.clients[id];
        c.started_us = now;
        match sys::tcp_connect(self.args.host, self.args.port) {
            Ok(fd) => {
                c.fd = fd;
                c.phase = Phase::Connecting;
                if let Err(e) = self.ep.add(fd, (libc::EPOLLOUT | libc::EPOLLIN) as u32, token(id, KIND_TCP)) {
                    self.fail(id, format!("epoll add: {e}"));
                }
            }
            Err(e) => self.fail(id, format!("connect: {e}")),
        }
    }

    fn fail(&mut self, id: usize, why: String) {
        let c = &mut self.clients[id];
        if matches!(c.phase, Phase::Done | Phase::Failed) {
            return;
        }
        c.fail = Some(format!("{:?}: {why}", c.phase));
        c.phase = Phase::Failed;
        Self::close_client(c);
    }

    fn close_client(c: &mut Client) {
        for fd in [&mut c.fd, &mut c.rtp_fd, &mut c.rtcp_fd] {
            sys::close(*fd);
            *fd = -1;
        }
    }

    fn send_request(&mut self, id: usize, method: &str, url: &str, extra: &[(&str, &str)]) {
        let c = &mut self.clients[id];
        c.cseq += 1;
        c.out.clear();
        rtsp::request(&mut c.out, method, url, c.cseq, extra);
        // A request of a few hundred bytes on a socket that is not backed up
        // goes out whole; anything else is a failure of this client.
        match sys::write(c.fd, &c.out) {
            Ok(n) if n == c.out.len() => {}
            Ok(_) => self.fail(id, format!("{method}: short write")),
            Err(e) => self.fail(id, format!("{method}: {e}")),
        }
    }

    fn on_connected(&mut self, id: usize) {
        let err = sys::socket_error(self.clients[id].fd);
        if err != 0 {
            return self.fail(id, format!("connect: {}", io::Error::from_raw_os_error(err)));
        }
        let fd = self.clients[id].fd;
        if let Err(e) = self.ep.modify(fd, libc::EPOLLIN as u32, token(id, KIND_TCP)) {
            return self.fail(id, format!("epoll mod: {e}"));
        }
        self.clients[id].phase = Phase::Options;
        let url = self.args.url.clone();
        self.send_request(id, "OPTIONS", &url, &[]);
    }

    fn on_tcp_readable(&mut self, id: usize, now: u64) {
        // A few reads per wake-up keep one busy connection from starving the rest.
        for _ in 0..4 {
            let c = &mut self.clients[id];
            if c.fd < 0 {
                return;
            }
            if c.inlen == c.inbuf.len() {
                return self.fail(id, "receive buffer full of one message".into());
            }
            match sys::read(c.fd, &mut c.inbuf[c.inlen..]) {
                Ok(0) => {
                    let why = "server closed the connection".to_string();
                    return self.fail(id, why);
                }
                Ok(n) => {
                    let asked = c.inbuf.len() - c.inlen;
                    c.inlen += n;
                    if let Err(e) = self.parse_tcp(id, now) {
                        return self.fail(id, e);
                    }
                    if n < asked {
                        return; // drained
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => return self.fail(id, format!("read: {e}")),
            }
        }
    }

    /// Consumes every whole message at the front of the connection's buffer.
    fn parse_tcp(&mut self, id: usize, now: u64) -> Result<(), String> {
        let mut pos = 0;
        let result = loop {
            let c = &mut self.clients[id];
            let buf = &c.inbuf[pos..c.inlen];
            if buf.is_empty() {
                break Ok(());
            }
            if buf[0] == b'$' {
                if buf.len() < 4 {
                    break Ok(());
                }
                let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
                if buf.len() < 4 + len {
                    break Ok(());
                }
                if buf[1] == c.channel {
                    c.track.packet(&buf[4..4 + len], now, self.in_window, self.record);
                }
                pos += 4 + len;
                continue;
            }
            match rtsp::parse_response(buf) {
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.to_string()),
                Ok(Some((resp, used))) => {
                    pos += used;
                    if let Err(e) = self.on_response(id, resp, now) {
                        break Err(e);
                    }
                }
            }
        };
        let c = &mut self.clients[id];
        c.inbuf.copy_within(pos..c.inlen, 0);
        c.inlen -= pos;
        result
    }

    fn on_response(&mut self, id: usize, r: rtsp::Response, now: u64) -> Result<(), String> {
        let phase = self.clients[id].phase;
        if matches!(phase, Phase::Playing | Phase::Done) {
            return Ok(()); // keep-alive answers
        }
        if r.status != 200 {
            return Err(format!("status {}", r.status));
        }
        match phase {
            Phase::Options => {
                self.clients[id].phase = Phase::Describe;
                let url = self.args.url.clone();
                self.send_request(id, "DESCRIBE", &url, &[("Accept", "application/sdp")]);
            }
            Phase::Describe => {
                let track = rtsp::video_track(&r.body).ok_or("no video track in the SDP")?;
                let c = &mut self.clients[id];
                if let Some(base) = r.content_base {
                    c.base = base;
                }
                c.setup_url = rtsp::track_url(&c.base, &track.control);
                c.track.params_in_sdp = track.params_in_sdp;
                c.phase = Phase::Setup;
                let transport = match self.args.transport {
                    Transport::Tcp => "RTP/AVP/TCP;unicast;interleaved=0-1".to_string(),
                    Transport::Udp => {
                        let (rtp, port) = sys::udp_bind(0, UDP_RCVBUF).map_err(|e| format!("udp: {e}"))?;
                        c.rtp_fd = rtp;
                        c.rtp_port = port;
                        let rtcp = sys::udp_bind(port.wrapping_add(1), 256 * 1024)
                            .or_else(|_| sys::udp_bind(0, 256 * 1024))
                            .map_err(|e| format!("udp: {e}"))?;
                        c.rtcp_fd = rtcp.0;
                        self.ep.add(rtp, libc::EPOLLIN as u32, token(id, KIND_RTP)).map_err(|e| e.to_string())?;
                        self.ep.add(rtcp.0, libc::EPOLLIN as u32, token(id, KIND_RTCP)).map_err(|e| e.to_string())?;
                        format!("RTP/AVP;unicast;client_port={}-{}", port, rtcp.1)
                    }
                };
                let url = self.clients[id].setup_url.clone();
                self.send_request(id, "SETUP", &url, &[("Transport", &transport)]);
            }
            Phase::Setup => {
                let c = &mut self.clients[id];
                c.session = r.session.ok_or("SETUP reply without Session")?;
                if self.args.transport == Transport::Tcp {
                    c.channel = r.transport.as_deref().and_then(rtsp::interleaved_channel).unwrap_or(0);
                }
                c.phase = Phase::Play;
                let (url, session) = (c.base.clone(), c.session.clone());
                c.play_sent_us = sys::now_us();
                self.send_request(id, "PLAY", &url, &[("Session", &session), ("Range", "npt=0.000-")]);
            }
            Phase::Play => {
                let keepalive_us = (self.args.keepalive * 1e6) as u64;
                let c = &mut self.clients[id];
                c.phase = Phase::Playing;
                c.playing_us = now;
                // spread the keep-alives over the interval
                c.next_keepalive_us = now + keepalive_us / 2 + (id as u64 * 7919) % keepalive_us.max(1) / 2;
            }
            _ => {}
        }
        Ok(())
    }

    fn on_udp_readable(&mut self, id: usize, kind: u64, now: u64) {
        let c = &mut self.clients[id];
        let fd = if kind == KIND_RTP { c.rtp_fd } else { c.rtcp_fd };
        if fd < 0 {
            return;
        }
        loop {
            match sys::read(fd, &mut self.udp_buf) {
                Ok(n) => {
                    if kind == KIND_RTP {
                        c.track.packet(&self.udp_buf[..n], now, self.in_window, self.record);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => return,
            }
        }
    }

    fn teardown(&mut self, id: usize) {
        if self.clients[id].phase == Phase::Playing {
            let (url, session) = (self.clients[id].base.clone(), self.clients[id].session.clone());
            self.send_request(id, "TEARDOWN", &url, &[("Session", &session)]);
        }
        let c = &mut self.clients[id];
        if c.phase != Phase::Failed {
            c.phase = Phase::Done;
        }
        Self::close_client(c);
    }

    /// One turn of the loop: waits at most `timeout_ms`, serves what is ready.
    fn turn(&mut self, timeout_ms: i32) -> io::Result<()> {
        let mut ready: [(u64, u32); 256] = [(0, 0); 256];
        let mut n = 0;
        for ev in self.ep.wait(timeout_ms)? {
            ready[n] = ev;
            n += 1;
            if n == ready.len() {
                break;
            }
        }
        let now = sys::now_us();
        for &(tok, events) in &ready[..n] {
            if tok == TOKEN_STDIN {
                self.stop_requested = true;
                continue;
            }
            let id = (tok >> 2) as usize;
            let kind = tok & 3;
            if id >= self.clients.len() {
                continue;
            }
            match kind {
                KIND_TCP => {
                    if self.clients[id].phase == Phase::Connecting {
                        if events & (libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                            self.on_connected(id);
                        }
                    } else if events & (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0 {
                        self.on_tcp_readable(id, now);
                    }
                }
                _ => self.on_udp_readable(id, kind, now),
            }
        }
        Ok(())
    }

    fn keepalives(&mut self, now: u64) {
        let interval = (self.args.keepalive * 1e6) as u64;
        for id in 0..self.clients.len() {
            let c = &self.clients[id];
            if c.phase == Phase::Playing && now >= c.next_keepalive_us {
                let (url, session) = (c.base.clone(), c.session.clone());
                self.clients[id].next_keepalive_us = now + interval;
                self.send_request(id, "GET_PARAMETER", &url, &[("Session", &session)]);
            }
        }
    }

    fn setup_timeouts(&mut self, ids: std::ops::Range<usize>, now: u64) {
        let limit = (self.args.setup_timeout * 1e6) as u64;
        for id in ids {
            let c = &self.clients[id];
            if c.active() && c.phase != Phase::Playing && now.saturating_sub(c.started_us) > limit {
                self.fail(id, "setup timed out".into());
            }
        }
    }
}

fn quantiles(mut v: Vec<u64>) -> (u64, u64, u64) {
    v.sort_unstable();
    if v.is_empty() {
        return (0, 0, 0);
    }
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn emit(json: &Option<String>, text: &str) -> io::Result<()> {
    match json {
        Some(path) => std::fs::write(path, text),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn say(line: &str) {
    println!("{line}");
    let _ = io::stdout().flush();
}

fn run_stream(args: Args) -> io::Result<()> {
    let n = args.clients;
    let tcp = args.transport == Transport::Tcp;
    let capacity = ((args.seconds + 1.0) * args.fps * 2.0) as usize + 64;
    let clients = (0..n).map(|id| Client::new(id, capacity, &args.url, tcp)).collect();
    let mut b = Bench {
        ep: sys::Epoll::new(1024)?,
        clients,
        in_window: false,
        record: false,
        udp_buf: vec![0; 65536],
        stop_requested: false,
        args,
    };
    if b.args.stdin_stop {
        b.ep.add(0, libc::EPOLLIN as u32, TOKEN_STDIN)?;
    }
    let t0 = sys::now_us();
    let mut next = 0;
    // Clients start in order, so those still setting up lie in [first_unsettled, next).
    let mut first_unsettled = 0;
    let settled = |c: &Client| matches!(c.phase, Phase::Playing | Phase::Failed);
    // Set up: at most --ramp clients between connect and PLAY's answer.
    loop {
        let now = sys::now_us();
        b.setup_timeouts(first_unsettled..next, now);
        while first_unsettled < next && settled(&b.clients[first_unsettled]) {
            first_unsettled += 1;
        }
        let inflight = b.clients[first_unsettled..next].iter().filter(|c| !settled(c)).count();
        let mut room = b.args.ramp.saturating_sub(inflight);
        while room > 0 && next < n {
            b.start_client(next, now);
            next += 1;
            room -= 1;
        }
        if first_unsettled == n || now - t0 > (b.args.setup_deadline * 1e6) as u64 {
            break;
        }
        b.turn(5)?;
    }
    let setup_s = (sys::now_us() - t0) as f64 / 1e6;
    let playing = b.clients.iter().filter(|c| c.phase == Phase::Playing).count();
    say(&format!("PLAYING {playing} {setup_s:.3}"));

    let warm_end = sys::now_us() + (b.args.warmup * 1e6) as u64;
    while sys::now_us() < warm_end {
        b.turn(5)?;
        b.keepalives(sys::now_us());
    }
    b.in_window = true;
    b.record = b.args.arrivals.is_some();
    let cpu0 = sys::cpu_seconds();
    let w0 = sys::now_us();
    say(&format!("WINDOW-START {w0}"));
    let w_end = w0 + (b.args.seconds * 1e6) as u64;
    loop {
        let now = sys::now_us();
        if now >= w_end || b.stop_requested {
            break;
        }
        b.keepalives(now);
        let wait_ms = ((w_end - now) / 1000).clamp(1, 20) as i32;
        b.turn(wait_ms)?;
    }
    b.in_window = false;
    let w1 = sys::now_us();
    let cpu1 = sys::cpu_seconds();
    say(&format!("WINDOW-END {w1}"));
    let window_s = (w1 - w0) as f64 / 1e6;

    // Lag: how far each client's newest frame is behind the newest any client
    // has (all clients share the session's RTP clock).
    let newest: Vec<Option<u32>> = b.clients.iter().map(|c| c.track.last_frame_ts).collect();
    let reference = newest.iter().flatten().copied().reduce(|a, x| if (x.wrapping_sub(a) as i32) > 0 { x } else { a });
    let expected = (window_s * b.args.fps).floor() as u64;
    let mut frames = Vec::new();
    let mut lag_ms_max = 0.0f64;
    let (mut lost, mut late, mut bytes, mut all_frames, mut lossy) = (0u64, 0u64, 0u64, 0usize, 0usize);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_client = String::new();
    for (id, c) in b.clients.iter().enumerate() {
        let w = c.track.window;
        let lag_ms = match (reference, c.track.last_frame_ts) {
            (Some(r), Some(t)) => (r.wrapping_sub(t) as i32).max(0) as f64 / 90.0,
            _ => f64::INFINITY,
        };
        if c.phase == Phase::Playing {
            frames.push(w.frames);
            lost += w.lost;
            late += w.late;
            bytes += w.bytes;
            lossy += (w.lost > 0) as usize;
            lag_ms_max = lag_ms_max.max(lag_ms);
            // every frame of the window (±2 for where its edges fall), none lost, not lagging
            if w.lost == 0 && w.frames + 2 >= expected && lag_ms <= 500.0 {
                all_frames += 1;
            }
        } else if let Some(f) = &c.fail {
            let key = f.chars().take(60).collect::<String>();
            *reasons.entry(key).or_default() += 1;
        }
        if id > 0 {
            per_client.push(',');
        }
        per_client.push_str(&format!(
            "[{},{},{},{}]",
            w.frames,
            w.lost,
            w.packets,
            if lag_ms.is_finite() { format!("{lag_ms:.1}") } else { "null".into() }
        ));
    }
    let (fmin, fmed, fmax) = quantiles(frames);
    let overflow: u64 = b.clients.iter().map(|c| c.track.overflow).sum();

    if let Some(path) = &b.args.arrivals {
        let mut out = io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(out, "client,rtp_ts,arrival_us")?;
        for c in &b.clients {
            for a in &c.track.arrivals {
                writeln!(out, "{},{},{}", c.id, a.rtp_ts, a.t_us)?;
            }
        }
        out.flush()?;
    }

    for id in 0..n {
        b.teardown(id);
    }
    let reasons_json: Vec<String> = reasons.iter().map(|(k, v)| format!("{}:{}", json_str(k), v)).collect();
    let client_cpu = cpu1 - cpu0;
    let text = format!(
        "{{\"mode\":\"stream\",\"transport\":\"{}\",\"clients\":{},\"playing\":{},\"setup_seconds\":{:.3},\
         \"window_seconds\":{:.3},\"expected_frames\":{},\"frames_min\":{},\"frames_median\":{},\"frames_max\":{},\
         \"lost\":{},\"late\":{},\"clients_with_loss\":{},\"clients_all_frames\":{},\"max_lag_ms\":{:.1},\
         \"mbit_per_client\":{:.3},\"client_cpu_seconds\":{:.3},\"client_cpu_fraction\":{:.3},\
         \"arrival_overflow\":{},\"fail_reasons\":{{{}}},\"per_client\":[{}]}}",
        if tcp { "tcp" } else { "udp" },
        n,
        playing,
        setup_s,
        window_s,
        expected,
        fmin,
        fmed,
        fmax,
        lost,
        late,
        lossy,
        all_frames,
        if lag_ms_max.is_finite() { lag_ms_max } else { -1.0 },
        if playing > 0 { bytes as f64 * 8.0 / 1e6 / window_s / playing as f64 } else { 0.0 },
        client_cpu,
        client_cpu / window_s,
        overflow,
        reasons_json.join(","),
        per_client
    );
    emit(&b.args.json, &text)
}

fn run_join(args: Args) -> io::Result<()> {
    let k = args.join;
    let tcp = args.transport == Transport::Tcp;
    let clients = (0..k).map(|id| Client::new(id, 16, &args.url, tcp)).collect();
    let mut b = Bench {
        ep: sys::Epoll::new(256)?,
        clients,
        in_window: true,
        record: false,
        udp_buf: vec![0; 65536],
        stop_requested: false,
        args,
    };
    let wait_limit = (b.args.setup_timeout * 1e6) as u64;
    let gap = b.args.join_gap_ms * 1000;
    // Joins on a fixed schedule, not one after the other's end: a chain of
    // "join, wait for the IDR, leave, wait" would lock onto the GOP's phase.
    let t0 = sys::now_us();
    let mut started = 0;
    let mut finished = vec![false; k];
    let mut results = vec![String::new(); k];
    while finished.iter().any(|f| !f) {
        let now = sys::now_us();
        while started < k && now >= t0 + started as u64 * gap {
            b.start_client(started, now);
            started += 1;
        }
        for id in 0..started {
            if finished[id] {
                continue;
            }
            let c = &b.clients[id];
            let done = c.phase == Phase::Failed || c.track.first_decodable_us.is_some();
            if !done && now - c.started_us <= wait_limit {
                continue;
            }
            results[id] = match (c.phase, c.track.first_decodable_us) {
                (Phase::Playing, Some(t)) => format!(
                    "{{\"ok\":true,\"play_to_decodable_ms\":{:.3},\"frames_until_decodable\":{},\"setup_ms\":{:.3},\"join_at_ms\":{:.1}}}",
                    (t.saturating_sub(c.play_sent_us)) as f64 / 1000.0,
                    c.track.total.frames,
                    (c.play_sent_us - c.started_us) as f64 / 1000.0,
                    (c.started_us - t0) as f64 / 1000.0
                ),
                _ => format!(
                    "{{\"ok\":false,\"why\":{}}}",
                    json_str(c.fail.as_deref().unwrap_or("no decodable frame before the deadline"))
                ),
            };
            say(&format!("JOIN {id} {}", results[id]));
            finished[id] = true;
            b.teardown(id);
        }
        b.turn(2)?;
        b.setup_timeouts(0..started, sys::now_us());
    }
    let text = format!(
        "{{\"mode\":\"join\",\"transport\":\"{}\",\"joins\":[{}]}}",
        if tcp { "tcp" } else { "udp" },
        results.join(",")
    );
    emit(&b.args.json, &text)
}

fn main() {
    let args = parse_args();
    let r = if args.join > 0 { run_join(args) } else { run_stream(args) };
    if let Err(e) = r {
        eprintln!("loadclient: {e}");
        std::process::exit(1);
    }
}
