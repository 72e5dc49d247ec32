//! The server's runtime: sockets, the poll loop on its own thread, the lock
//! that hands the sans-IO [`Server`] core between that thread and the script's
//! calls, and the producer's [`Inbox`], under a lock of its own so that a
//! `send*data` call never waits while the loop writes to clients.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use super::os::{self, Fd, Io};
use super::sync::Mutex;
use super::thread::Thread;
use super::inbox::{Inbox, Refusal};
use crate::rtsp::auth::Authenticator;
use crate::server::{Config, ConnId, Event, Input, Server};
use crate::small_map::SmallMap;
use crate::session::Track;

/// Everything the loop thread and the script's calls share, under one lock.
pub struct State {
    pub core: Server,
    sockets: Sockets,
}

/// The descriptors of an initialised server.
struct Sockets {
    listener: Fd,
    /// The second listener (`http_port`), served exactly like the first; -1 without one.
    http_listener: Fd,
    rtp: Fd,
    rtcp: Fd,
    /// The RTP socket takes segmented sends (Linux's UDP GSO).
    rtp_segments: bool,
    port: u16,
    conns: SmallMap<ConnId, Fd>,
}

impl Sockets {
    fn none() -> Self {
        Sockets { listener: -1, http_listener: -1, rtp: -1, rtcp: -1, rtp_segments: false, port: 0, conns: SmallMap::new() }
    }

    fn close_all(&mut self) {
        for fd in self.conns.values() {
            os::close(*fd);
        }
        self.conns.clear();
        os::close(self.listener);
        os::close(self.http_listener);
        os::close(self.rtp);
        os::close(self.rtcp);
        *self = Sockets::none();
    }
}

struct Shared {
    state: Mutex<State>,
    /// Producer calls not yet handed to the core. Lock order: `state`, then `inbox`.
    inbox: Mutex<Inbox>,
    wake_read: Fd,
    wake_write: Fd,
    /// A wake byte is in the pipe and the loop has not yet taken the lock to
    /// act on it: further producer calls need not write another (one syscall
    /// saved per call while the loop is busy).
    wake_pending: AtomicBool,
    stop: AtomicBool,
    /// The loop thread runs (else producer calls hand themselves to the core).
    running: AtomicBool,
    /// A client plays: producer calls wake the loop (else their data waits
    /// for a batch to fill, or the next turn, at most a loop timeout away).
    playing: AtomicBool,
}

/// Hands every queued producer call to the core, oldest first (`state`
/// held). Whether there were any.
fn drain_inbox(inbox: &Mutex<Inbox>, core: &mut Server) -> bool {
    let pushes = inbox.lock().take();
    if pushes.is_empty() {
        return false;
    }
    for push in &pushes {
        core.handle_media(push);
    }
    inbox.lock().recycle(pushes);
    true
}

/// A server: its state, and the loop thread while started.
pub struct Runtime {
    shared: Arc<Shared>,
    thread: Mutex<Option<Thread>>,
}

/// How long the loop sleeps at most with nothing to do (timeouts are coarse).
const IDLE_POLL_MS: i32 = 500;
const RECV_BUF: usize = 64 * 1024;
/// Datagrams read from each UDP socket per turn of the loop (the rest wait for the next).
const MAX_DATAGRAMS_PER_TURN: usize = 64;

impl Runtime {
    pub fn new() -> Result<Runtime, i32> {
        let (wake_read, wake_write) = os::pipe()?;
        let state = State { core: Server::new(Config::default(), os::random_seed()), sockets: Sockets::none() };
        Ok(Runtime {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                inbox: Mutex::new(Inbox::default()),
                wake_read,
                wake_write,
                wake_pending: AtomicBool::new(false),
                stop: AtomicBool::new(false),
                running: AtomicBool::new(false),
                playing: AtomicBool::new(false),
            }),
            thread: Mutex::new(None),
        })
    }

    /// Runs `f` on the core under the lock (after the producer calls queued
    /// before it, so `f` sees their effect), then wakes the loop to act on it.
    pub fn with_core<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R {
        let r = {
            let mut st = self.shared.state.lock();
            drain_inbox(&self.shared.inbox, &mut st.core);
            let r = f(&mut st.core);
            self.shared.inbox.lock().directory.sync(&st.core);
            r
        };
        self.wake();
        r
    }

    /// Runs `f` on the core for a question (stats, a URL, whether a client
    /// waits for a keyframe): after the queued producer calls, as `with_core`,
    /// but the loop is woken only if those calls have packets for a player.
    /// A script may ask every frame; it costs no system call.
    pub fn read_core<R>(&self, f: impl FnOnce(&Server) -> R) -> R {
        let (r, drained) = {
            let mut st = self.shared.state.lock();
            let drained = drain_inbox(&self.shared.inbox, &mut st.core);
            (f(&st.core), drained)
        };
        if drained && self.shared.playing.load(Ordering::SeqCst) {
            self.wake();
        }
        r
    }

    /// Runs `f` on the core for something the script takes out of it (the
    /// back channel's audio): nothing for the loop to act on, so it is not
    /// woken and the producer's queue is left to it. Cheap to call every frame.
    pub fn take_from_core<R>(&self, f: impl FnOnce(&mut Server) -> R) -> R {
        f(&mut self.shared.state.lock().core)
    }

    fn wake(&self) {
        if !self.shared.wake_pending.swap(true, Ordering::AcqRel) {
            os::wake(self.shared.wake_write);
        }
    }

    /// One producer call: checked against the inbox's directory and queued
    /// without the server's lock. The loop is woken while a client plays, or
    /// once a batch has queued up; with no loop thread, or a loop that has
    /// fallen behind, the call hands the queue to the core itself.
    pub fn push(&self, name: &str, track: Track, data: &[u8], script_ts: u64) -> Result<(), Refusal> {
        let now = os::now_us();
        let (batch_full, over_limit) = {
            let mut inbox = self.shared.inbox.lock();
            inbox.accept(name, track, data, script_ts, now)?;
            (inbox.batch_full(), inbox.over_limit())
        };
        let running = self.shared.running.load(Ordering::SeqCst);
        if over_limit || !running {
            drain_inbox(&self.shared.inbox, &mut self.shared.state.lock().core);
        }
        if running && (batch_full || self.shared.playing.load(Ordering::SeqCst)) {
            self.wake();
        }
        Ok(())
    }

    /// The RTSP port, once initialised.
    pub fn port(&self) -> Option<u16> {
        let st = self.shared.state.lock();
        (st.sockets.listener >= 0).then_some(st.sockets.port)
    }

    /// Binds the listener, the second one on `http_port` (0: none; its
    /// connections are served exactly like the first's) and the UDP pair, then
    /// installs `config` and `auth` (None: no authentication). 0 or a negative
    /// errno; on failure nothing changed. `deinit` restores the defaults.
    pub fn init(&self, port: u16, http_port: u16, config: Config, auth: Option<Authenticator>) -> i32 {
        let mut st = self.shared.state.lock();
        if st.sockets.listener >= 0 {
            return -libc::EALREADY;
        }
        let listener = match os::tcp_listen(port) {
            Ok(fd) => fd,
            Err(e) => return e,
        };
        let http_listener = match http_port {
            0 => -1,
            _ => match os::tcp_listen(http_port) {
                Ok(fd) => fd,
                Err(e) => {
                    os::close(listener);
                    return e;
                }
            },
        };
        let (rtp, rtcp, rtp_port) = match os::udp_pair() {
            Ok(p) => p,
            Err(e) => {
                os::close(listener);
                os::close(http_listener);
                return e;
            }
        };
        st.sockets.listener = listener;
        st.sockets.http_listener = http_listener;
        st.sockets.rtp = rtp;
        st.sockets.rtp_segments = os::udp_segmentation(rtp);
        st.sockets.rtcp = rtcp;
        st.sockets.port = port;
        st.core.set_udp_ports(rtp_port);
        st.core.set_config(config);
        st.core.set_auth(auth);
        0
    }

    /// Stops, closes every socket and forgets every session.
    pub fn deinit(&self) {
        self.stop();
        let mut st = self.shared.state.lock();
        st.sockets.close_all();
        st.core = Server::new(Config::default(), os::random_seed());
        // Calls queued for the old sessions go with them.
        self.shared.inbox.lock().reset();
    }

    /// Starts the loop thread. 0, -ENOTCONN when not initialised, or the thread error.
    pub fn start(&self) -> i32 {
        let mut thread = self.thread.lock();
        if thread.is_some() {
            return 0;
        }
        if self.port().is_none() {
            return -libc::ENOTCONN;
        }
        self.shared.stop.store(false, Ordering::SeqCst);
        self.shared.running.store(true, Ordering::SeqCst);
        let shared = self.shared.clone();
        match Thread::spawn(Box::new(move || run(&shared))) {
            Ok(t) => {
                *thread = Some(t);
                0
            }
            Err(e) => {
                self.shared.running.store(false, Ordering::SeqCst);
                -e
            }
        }
    }

    /// Stops the loop thread and waits for it. Idempotent.
    pub fn stop(&self) {
        let mut thread = self.thread.lock();
        if let Some(t) = thread.take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            os::wake(self.shared.wake_write);
            t.join();
            self.shared.running.store(false, Ordering::SeqCst);
            self.shared.playing.store(false, Ordering::SeqCst);
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.deinit();
        os::close(self.shared.wake_read);
        os::close(self.shared.wake_write);
    }
}

#[derive(Clone, Copy)]
enum Source {
    Wake,
    Listener,
    Rtp,
    Rtcp,
    Conn(ConnId),
}

/// The loop: poll, then under the lock take input, send output, close what finished.
fn run(shared: &Shared) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut fds = Vec::new();
    let mut sources = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        let timeout = {
            let st = shared.state.lock();
            fds.clear();
            sources.clear();
            let mut watch = |fd: Fd, events: i16, src: Source| {
                if fd >= 0 {
                    fds.push(os::pollfd(fd, events));
                    sources.push(src);
                }
            };
            watch(shared.wake_read, os::POLLIN, Source::Wake);
            watch(st.sockets.listener, os::POLLIN, Source::Listener);
            watch(st.sockets.http_listener, os::POLLIN, Source::Listener);
            watch(st.sockets.rtp, os::POLLIN, Source::Rtp);
            watch(st.sockets.rtcp, os::POLLIN, Source::Rtcp);
            for (id, fd) in st.sockets.conns.iter() {
                let interest = st.core.interest(*id);
                let out = if interest.write { os::POLLOUT } else { 0 };
                let input = if interest.read { os::POLLIN } else { 0 };
                watch(*fd, input | out, Source::Conn(*id));
            }
            // Stored before the inbox is looked at: a producer call queued
            // after that look sees `playing` and wakes the loop.
            let playing = st.core.has_playing_client();
            shared.playing.store(playing, Ordering::SeqCst);
            // Datagrams queued while the loop was not looking (a question
            // that handed the inbox over) go out now as well.
            if (playing && !shared.inbox.lock().is_empty()) || st.core.has_datagrams() {
                0
            } else {
                // Rounded up: a deadline under a millisecond away must not
                // become a 0 ms poll that spins until it passes.
                match st.core.poll_timeout() {
                    Some(t) => t.saturating_sub(os::now_us()).div_ceil(1000).min(IDLE_POLL_MS as u64) as i32,
                    None => IDLE_POLL_MS,
                }
            }
        };
        os::poll(&mut fds, timeout);
        let mut st = shared.state.lock();
        let now = os::now_us();
        st.core.set_wall_clock(now, os::wallclock_us());
        // Media first: a DESCRIBE or PLAY read below sees every frame sent before it.
        drain_inbox(&shared.inbox, &mut st.core);
        for (pfd, src) in fds.iter().zip(sources.iter()) {
            if pfd.revents == 0 {
                continue;
            }
            match *src {
                Source::Wake => {
                    os::drain(shared.wake_read);
                    // Under the lock: whatever was pushed before this is flushed below.
                    shared.wake_pending.store(false, Ordering::Release);
                }
                Source::Listener => accept_all(&mut st, pfd.fd, now),
                // A bounded number per turn: a flood of datagrams cannot hold the loop.
                Source::Rtp | Source::Rtcp => {
                    for _ in 0..MAX_DATAGRAMS_PER_TURN {
                        let Some((n, from)) = os::recv_from(pfd.fd, &mut buf) else { break };
                        let data = &buf[..n];
                        let input = match *src {
                            Source::Rtp => Input::Rtp { from, data },
                            _ => Input::Rtcp { from, data },
                        };
                        st.core.handle_input(input, now);
                    }
                }
                // Only if the connection still has this socket: one closed earlier
                // in this turn (to make room for a newcomer) may have had its
                // descriptor number reused by the newcomer, whose bytes are not its.
                Source::Conn(id) if st.sockets.conns.get(&id) == Some(&pfd.fd) => {
                    if pfd.revents & (os::POLLIN | os::POLLERR) != 0 {
                        read_conn(&mut st, id, pfd.fd, &mut buf, now);
                    }
                }
                Source::Conn(_) => {}
            }
        }
        st.core.handle_timeout(now);
        flush(&mut st, now);
    }
}

/// Accepts every waiting connection. When the server is full, the
/// connection that makes room is closed (its socket too) before the next is
/// accepted, so a burst of connections holds no more sockets than
/// `max_connections` while some connection without a client can make room
/// (when every one has a client, a newcomer is accepted to be told 503 and
/// closed); past the first, a connection is known to wait (the listener
/// polled) before one is closed for it.
fn accept_all(st: &mut State, listener: Fd, now: u64) {
    let mut waiting = true; // the listener was readable
    loop {
        if st.core.is_full() {
            if !waiting && !readable(listener) {
                return;
            }
            st.core.make_room();
            close_finished(st);
        }
        waiting = false;
        let Some((fd, peer, local)) = os::accept(listener) else { return };
        let id = st.core.handle_accept(peer, local, now);
        st.sockets.conns.insert(id, fd);
    }
}

/// Whether a connection waits on the listener (a poll that does not wait).
fn readable(listener: Fd) -> bool {
    let mut fds = [os::pollfd(listener, os::POLLIN)];
    os::poll(&mut fds, 0);
    fds[0].revents & os::POLLIN != 0
}

/// Closes the sockets of the connections the core is finished with.
fn close_finished(st: &mut State) {
    while let Some(Event::Close(id)) = st.core.poll_event() {
        if let Some(fd) = st.sockets.conns.remove(&id) {
            os::close(fd);
        }
    }
}

fn read_conn(st: &mut State, id: ConnId, fd: Fd, buf: &mut [u8], now: u64) {
    // One read per wake-up: a flooding client can't starve the others.
    match os::recv(fd, buf) {
        Io::Done(n) => st.core.handle_input(Input::Received { conn: id, data: &buf[..n] }, now),
        Io::WouldBlock => {}
        Io::Closed => close_conn(st, id),
    }
}

/// Sends the queued datagrams: each run the core gives in one segmented
/// send while the system takes them, else one `sendto` each. A full send
/// buffer drops them: UDP clients must never stall the loop.
fn send_datagrams(st: &mut State) {
    loop {
        let count = {
            let mut parts: [&[u8]; os::MAX_IOV] = [&[]; os::MAX_IOV];
            let slots = if st.sockets.rtp_segments { os::MAX_IOV } else { 1 };
            let Some(run) = st.core.poll_datagrams(&mut parts[..slots]) else { return };
            let fd = if run.rtcp { st.sockets.rtcp } else { st.sockets.rtp };
            if run.count > 1 && os::send_segments(fd, &parts[..run.count], &run.to).is_none() {
                // No segmentation after all: this run and the rest go one by one.
                st.sockets.rtp_segments = false;
                continue;
            }
            if run.count == 1 {
                let _ = os::send_to(fd, parts[0], &run.to);
            }
            run.count
        };
        st.core.handle_input(Input::DatagramsSent { count }, 0);
    }
}

fn close_conn(st: &mut State, id: ConnId) {
    st.core.handle_input(Input::Closed { conn: id }, 0);
    if let Some(fd) = st.sockets.conns.remove(&id) {
        os::close(fd);
    }
}

/// Writes what every connection has queued, sends datagrams, closes the
/// connections the core is finished with.
fn flush(st: &mut State, now: u64) {
    let ids: Vec<(ConnId, Fd)> = st.sockets.conns.iter().map(|(id, fd)| (*id, *fd)).collect();
    for (id, fd) in ids {
        while st.core.interest(id).write {
            let mut parts = Vec::with_capacity(os::MAX_IOV);
            st.core.poll_transmit(id, &mut parts, os::MAX_IOV);
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let result = os::send_vectored(fd, &parts);
            drop(parts);
            match result {
                Io::Done(n) => {
                    st.core.handle_input(Input::Written { conn: id, bytes: n }, now);
                    if n < total {
                        break; // the socket buffer is full: POLLOUT will tell when to go on
                    }
                }
                Io::WouldBlock => break,
                Io::Closed => {
                    close_conn(st, id);
                    break;
                }
            }
        }
    }
    send_datagrams(st);
    close_finished(st);
}

#[cfg(test)]
mod tests {
    //! The runtime on real loopback sockets with a real player (ffprobe).
    use super::*;
    use crate::rtp::{annexb, h264};
    use crate::session::{SessionOptions, VideoCodec};
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// Access units of an Annex-B file, split the way an encoder hands them over.
    fn access_units(data: &[u8]) -> Vec<Vec<u8>> {
        let mut aus: Vec<Vec<u8>> = Vec::new();
        let mut after_vcl = false;
        for nal in annexb::nal_units(data) {
            let vcl = h264::is_vcl(nal);
            if aus.is_empty() || (after_vcl && (!vcl || h264::starts_picture(nal))) {
                aus.push(Vec::new());
            }
            let au = aus.last_mut().expect("pushed above");
            au.extend_from_slice(&[0, 0, 0, 1]);
            au.extend_from_slice(nal);
            after_vcl = vcl;
        }
        aus
    }

    /// A runtime listening on a port nobody else holds (tests run in parallel).
    fn runtime_on_free_port() -> (Runtime, u16) {
        let rt = Runtime::new().unwrap();
        for _ in 0..20 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            if rt.init(port, 0, Config::default(), None) == 0 {
                return (rt, port);
            }
        }
        panic!("no free port after 20 tries");
    }

    fn stream_to_ffprobe(transport: &str) -> (usize, usize) {
        let clip = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/assets/clip.264")).unwrap();
        let aus = access_units(&clip);
        let (rt, port) = runtime_on_free_port();
        rt.with_core(|c| c.create_session("test", VideoCodec::H264, None, SessionOptions::default())).unwrap();
        assert_eq!(rt.start(), 0);
        let url = format!("rtsp://127.0.0.1:{port}/test");
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-rtsp_transport",
                transport,
                "-select_streams",
                "v",
                "-show_entries",
                "frame=pict_type",
                "-of",
                "csv",
                &url,
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("ffprobe (run `make setup`)");
        let t0 = Instant::now();
        while rt.with_core(|c| c.stats(Some("test")).unwrap().playing) == 0 {
            assert!(t0.elapsed() < Duration::from_secs(10), "ffprobe never started playing");
            std::thread::sleep(Duration::from_millis(10));
        }
        for (i, au) in aus.iter().enumerate() {
            assert_eq!(rt.push("test", Track::Video, au, i as u64 * 33_333), Ok(()));
            std::thread::sleep(Duration::from_millis(33));
        }
        std::thread::sleep(Duration::from_millis(300));
        rt.with_core(|c| c.destroy_session("test"));
        let out = probe.wait_with_output().unwrap();
        let frames = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("frame")).count();
        (aus.len(), frames)
    }

    /// The kernel cuts a segmented send into the very datagrams it was given.
    #[test]
    #[cfg(target_os = "linux")]
    fn segmented_datagrams_arrive_one_by_one_and_intact() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (rtp, rtcp, _) = os::udp_pair().unwrap();
        let packets: Vec<Vec<u8>> = [1400, 1400, 1400, 321].iter().enumerate().map(|(i, &n)| vec![i as u8; n]).collect();
        let parts: Vec<&[u8]> = packets.iter().map(|p| p.as_slice()).collect();
        // Every Linux since 4.18 segments (the one-by-one fallback is RT-Smart's).
        assert!(os::udp_segmentation(rtp), "no UDP segmentation on Linux");
        assert!(matches!(os::send_segments(rtp, &parts, &rx.local_addr().unwrap()), Some(Io::Done(_))));
        let mut buf = [0u8; 65536];
        for p in &parts {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], *p);
        }
        os::close(rtp);
        os::close(rtcp);
    }

    #[test]
    fn ffprobe_decodes_every_frame_over_tcp() {
        let (sent, decoded) = stream_to_ffprobe("tcp");
        assert_eq!(decoded, sent);
    }

    #[test]
    fn ffprobe_decodes_every_frame_over_udp() {
        let (sent, decoded) = stream_to_ffprobe("udp");
        assert_eq!(decoded, sent);
    }
}
