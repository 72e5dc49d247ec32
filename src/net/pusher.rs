//! The pusher's runtime: its connection (and UDP pair), a poll loop on its
//! own thread, the lock that hands the sans-IO [`Pusher`] core between that
//! thread and the script's calls, and the producer's queue, under a lock of
//! its own and bounded in bytes, so that a push never waits for the network.
//! `open` and `close` are the only calls that wait: for the core's
//! `Event::Opened` / `Event::Closed`, which the loop passes on through a pipe.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use super::os::{self, Fd, Io};
use super::sync::Mutex;
use super::thread::Thread;
use crate::client::{Event, Input, PushConfig, PushStats, Pusher};
use crate::rtsp::Lower;
use crate::session::{validate, PushError, Track};

/// How long the loop sleeps at most with nothing to do.
const IDLE_POLL_MS: i32 = 500;
const RECV_BUF: usize = 16 * 1024;
/// `close` waits this much longer than the core's TEARDOWN grace, at most.
const CLOSE_WAIT_US: u64 = 2_000_000;

/// Why a push is refused before anything is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushRefusal {
    /// Not initialised.
    NotInitialised,
    /// Initialised but not open (the data's parameter sets are learnt all the same).
    NotOpen,
    Push(PushError),
}

/// One producer call waiting for the loop.
struct Call {
    track: Track,
    data: Vec<u8>,
    script_ts: u64,
    now_us: u64,
}

/// The producer's queue: copies of the pushed data, bounded in bytes.
#[derive(Default)]
struct Queue {
    calls: VecDeque<Call>,
    bytes: usize,
    limit: usize,
    /// Video calls dropped because the queue was full, not yet told to the core.
    overflowed: u64,
    /// What `push` checks the data against (from the config).
    codec: Option<(crate::session::VideoCodec, bool)>,
    /// The core is open (recording or reconnecting): pushes are taken.
    open: bool,
}

struct State {
    core: Option<Pusher>,
    sockets: Sockets,
    /// The core's `Opened` / `Closed` events, for the caller waiting on them.
    results: VecDeque<Event>,
}

/// The descriptors of the link: the RTSP connection and, for UDP, the RTP/RTCP pair.
struct Sockets {
    conn: Fd,
    /// `conn`'s connection is still being made.
    connecting: bool,
    rtp: Fd,
    rtcp: Fd,
    udp_port: Option<u16>,
}

impl Sockets {
    const NONE: Sockets = Sockets { conn: -1, connecting: false, rtp: -1, rtcp: -1, udp_port: None };

    fn close_all(&mut self) {
        for fd in [self.conn, self.rtp, self.rtcp] {
            os::close(fd);
        }
        *self = Sockets::NONE;
    }
}

struct Shared {
    /// Lock order: `state`, then `queue`.
    state: Mutex<State>,
    queue: Mutex<Queue>,
    wake_read: Fd,
    wake_write: Fd,
    /// The loop writes here when it has a result for `open` or `close`.
    done_read: Fd,
    done_write: Fd,
    /// A wake byte is in the pipe and the loop has not taken it yet.
    wake_pending: AtomicBool,
    stop: AtomicBool,
}

pub struct PusherRuntime {
    shared: Arc<Shared>,
    thread: Mutex<Option<Thread>>,
}

impl PusherRuntime {
    pub fn new() -> Result<PusherRuntime, i32> {
        let (wake_read, wake_write) = os::pipe()?;
        let (done_read, done_write) = match os::pipe() {
            Ok(p) => p,
            Err(e) => {
                os::close(wake_read);
                os::close(wake_write);
                return Err(e);
            }
        };
        let state = State { core: None, sockets: Sockets::NONE, results: VecDeque::new() };
        Ok(PusherRuntime {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                queue: Mutex::new(Queue::default()),
                wake_read,
                wake_write,
                done_read,
                done_write,
                wake_pending: AtomicBool::new(false),
                stop: AtomicBool::new(false),
            }),
            thread: Mutex::new(None),
        })
    }

    /// Wakes the loop: one byte in the pipe until the loop takes it (a push
    /// while a wake is pending costs no system call).
    fn wake(&self) {
        if !self.shared.wake_pending.swap(true, Ordering::AcqRel) {
            os::wake(self.shared.wake_write);
        }
    }

    /// Sets the pusher up and starts its loop thread. -EALREADY when it is set up already.
    pub fn init(&self, config: PushConfig) -> i32 {
        let mut thread = self.thread.lock();
        {
            let mut st = self.shared.state.lock();
            if st.core.is_some() {
                return -libc::EALREADY;
            }
            let mut q = self.shared.queue.lock();
            *q = Queue { limit: config.queue_bytes, codec: Some((config.codec, config.audio.is_some())), ..Queue::default() };
            drop(q);
            st.core = Some(Pusher::new(config, os::random_seed()));
        }
        if thread.is_none() {
            self.shared.stop.store(false, Ordering::SeqCst);
            let shared = self.shared.clone();
            match Thread::spawn(Box::new(move || run(&shared))) {
                Ok(t) => *thread = Some(t),
                Err(e) => {
                    self.shared.state.lock().core = None;
                    *self.shared.queue.lock() = Queue::default();
                    return -e;
                }
            }
        }
        0
    }

    /// Closes (TEARDOWN) if open, stops the loop, forgets the setup. Idempotent.
    pub fn deinit(&self) {
        self.close();
        if let Some(t) = self.thread.lock().take() {
            self.shared.stop.store(true, Ordering::SeqCst);
            self.wake();
            t.join();
        }
        let mut st = self.shared.state.lock();
        st.sockets.close_all();
        st.core = None;
        st.results.clear();
        *self.shared.queue.lock() = Queue::default();
    }

    /// Waits until the loop reports an event `wanted` accepts, or `until_us` passes.
    fn wait_for(&self, until_us: u64, wanted: impl Fn(&Event) -> Option<i32>) -> Option<i32> {
        loop {
            {
                let mut st = self.shared.state.lock();
                while let Some(ev) = st.results.pop_front() {
                    if let Some(r) = wanted(&ev) {
                        return Some(r);
                    }
                }
            }
            let now = os::now_us();
            if now >= until_us {
                return None;
            }
            let ms = (until_us - now).div_ceil(1000).min(IDLE_POLL_MS as u64) as i32;
            let mut fds = [os::pollfd(self.shared.done_read, os::POLLIN)];
            os::poll(&mut fds, ms);
            os::drain(self.shared.done_read);
        }
    }

    /// The handshake, waiting at most the configured timeout: 0 or a negative errno.
    pub fn open(&self) -> i32 {
        let (host, port, timeout_us) = {
            let st = self.shared.state.lock();
            let Some(core) = st.core.as_ref() else { return -libc::ENOTCONN };
            let c = core.config();
            (c.url.host.clone(), c.url.port, c.open_timeout_us)
        };
        // Outside the lock: a name may take a while to resolve.
        let peer = match os::resolve(&host, port) {
            Ok(peer) => peer,
            Err(e) => return e,
        };
        {
            let mut st = self.shared.state.lock();
            st.results.clear();
            let Some(core) = st.core.as_mut() else { return -libc::ENOTCONN };
            core.open(peer, os::now_us());
        }
        self.wake();
        let until = os::now_us() + timeout_us + 1_000_000;
        let r = self.wait_for(until, |ev| if let Event::Opened(r) = ev { Some(*r) } else { None });
        match r {
            Some(r) => r,
            None => {
                // The core bounds the handshake itself; this is only a backstop.
                self.close();
                -libc::ETIMEDOUT
            }
        }
    }

    /// TEARDOWN (when a session is set up), then disconnect; waits briefly for it to go out.
    pub fn close(&self) {
        {
            let mut st = self.shared.state.lock();
            st.results.clear();
            let Some(core) = st.core.as_mut() else { return };
            // What the script pushed before `close` goes out before the TEARDOWN.
            drain_queue(&self.shared.queue, core);
            core.close(os::now_us());
        }
        self.wake();
        if self.thread.lock().is_some() {
            let until = os::now_us() + CLOSE_WAIT_US;
            let _ = self.wait_for(until, |ev| matches!(ev, Event::Closed).then_some(0));
        }
    }

    /// `pushvideoheader`: parameter sets for the SDP and later keyframes.
    pub fn push_header(&self, data: &[u8]) -> Result<(), PushRefusal> {
        let mut st = self.shared.state.lock();
        let core = st.core.as_mut().ok_or(PushRefusal::NotInitialised)?;
        if core.learn_parameter_sets(data) {
            Ok(())
        } else {
            Err(PushRefusal::Push(PushError::Invalid))
        }
    }

    /// One producer call: checked and queued without the core's lock. A full
    /// queue drops the call (the core then waits for the next keyframe). Not
    /// open: nothing is copied or queued, but the parameter sets the data
    /// carries are kept, for the SDP of a later `open`.
    pub fn push(&self, track: Track, data: &[u8], script_ts: u64) -> Result<(), PushRefusal> {
        let now_us = os::now_us();
        {
            let mut q = self.shared.queue.lock();
            let (codec, audio) = q.codec.ok_or(PushRefusal::NotInitialised)?;
            validate(codec, audio, track, data).map_err(PushRefusal::Push)?;
            if q.open {
                if q.bytes + data.len() > q.limit && !q.calls.is_empty() {
                    if track == Track::Video {
                        q.overflowed += 1;
                    }
                    return Ok(());
                }
                q.bytes += data.len();
                q.calls.push_back(Call { track, data: data.to_vec(), script_ts, now_us });
                drop(q);
                self.wake();
                return Ok(());
            }
        }
        if track == Track::Video {
            if let Some(core) = self.shared.state.lock().core.as_mut() {
                core.learn_parameter_sets(data);
            }
        }
        Err(PushRefusal::NotOpen)
    }

    pub fn need_keyframe(&self) -> bool {
        let mut st = self.shared.state.lock();
        let Some(core) = st.core.as_mut() else { return false };
        drain_queue(&self.shared.queue, core);
        core.need_keyframe()
    }

    /// None when not initialised.
    pub fn stats(&self) -> Option<PushStats> {
        let mut st = self.shared.state.lock();
        let core = st.core.as_mut()?;
        drain_queue(&self.shared.queue, core);
        Some(core.stats())
    }
}

impl Drop for PusherRuntime {
    fn drop(&mut self) {
        self.deinit();
        for fd in [self.shared.wake_read, self.shared.wake_write, self.shared.done_read, self.shared.done_write] {
            os::close(fd);
        }
    }
}

/// Hands the queued calls to the core, oldest first (`state` held).
fn drain_queue(queue: &Mutex<Queue>, core: &mut Pusher) {
    let (calls, overflowed) = {
        let mut q = queue.lock();
        q.bytes = 0;
        (core::mem::take(&mut q.calls), core::mem::take(&mut q.overflowed))
    };
    if overflowed > 0 {
        core.handle_overflow(overflowed);
    }
    for call in calls {
        // The data was checked when it was queued; what the packetizer still
        // refuses is dropped like a bad frame from the encoder.
        let _ = core.handle_media(call.track, &call.data, call.script_ts, call.now_us);
    }
    queue.lock().open = core.is_open();
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Wake,
    Conn,
    Udp,
}

fn run(shared: &Shared) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut fds = Vec::with_capacity(4);
    let mut sources = Vec::with_capacity(4);
    while !shared.stop.load(Ordering::SeqCst) {
        let timeout = {
            let st = shared.state.lock();
            fds.clear();
            sources.clear();
            fds.push(os::pollfd(shared.wake_read, os::POLLIN));
            sources.push(Source::Wake);
            let (interest, deadline, datagrams) = match st.core.as_ref() {
                Some(core) => (core.interest(), core.poll_timeout(), core.has_datagrams()),
                None => (Default::default(), None, false),
            };
            if st.sockets.conn >= 0 {
                let events = if st.sockets.connecting {
                    os::POLLOUT
                } else {
                    (if interest.read { os::POLLIN } else { 0 }) | (if interest.write { os::POLLOUT } else { 0 })
                };
                fds.push(os::pollfd(st.sockets.conn, events));
                sources.push(Source::Conn);
            }
            for fd in [st.sockets.rtp, st.sockets.rtcp] {
                if fd >= 0 {
                    fds.push(os::pollfd(fd, os::POLLIN));
                    sources.push(Source::Udp);
                }
            }
            if datagrams || !shared.queue.lock().calls.is_empty() {
                0
            } else {
                // Rounded up: a deadline under a millisecond away must not spin.
                match deadline {
                    Some(t) => t.saturating_sub(os::now_us()).div_ceil(1000).min(IDLE_POLL_MS as u64) as i32,
                    None => IDLE_POLL_MS,
                }
            }
        };
        os::poll(&mut fds, timeout);
        let mut guard = shared.state.lock();
        let st = &mut *guard;
        let now = os::now_us();
        let Some(core) = st.core.as_mut() else {
            os::drain(shared.wake_read);
            continue;
        };
        core.set_wall_clock(now, os::wallclock_us());
        drain_queue(&shared.queue, core);
        let sockets = &mut st.sockets;
        for (pfd, src) in fds.iter().zip(sources.iter()) {
            if pfd.revents == 0 {
                continue;
            }
            match src {
                Source::Wake => {
                    os::drain(shared.wake_read);
                    // Under the lock: whatever was pushed before this is drained below or was above.
                    shared.wake_pending.store(false, Ordering::Release);
                }
                // RTCP receiver reports (and anything else) from the server: not needed.
                Source::Udp => while os::recv_from(pfd.fd, &mut buf).is_some() {},
                Source::Conn if pfd.fd != sockets.conn => {}
                Source::Conn if sockets.connecting => {
                    let r = os::connect_result(sockets.conn);
                    if r == 0 {
                        sockets.connecting = false;
                        core.handle_connected(sockets.udp_port, now);
                    } else {
                        sockets.close_all();
                        core.handle_connect_failed(r, now);
                    }
                }
                Source::Conn => {
                    if pfd.revents & (os::POLLIN | os::POLLERR) != 0 {
                        match os::recv(sockets.conn, &mut buf) {
                            Io::Done(n) => core.handle_input(Input::Received(&buf[..n]), now),
                            Io::WouldBlock => {}
                            Io::Closed => {
                                sockets.close_all();
                                core.handle_input(Input::Closed, now);
                            }
                        }
                    }
                }
            }
        }
        core.handle_timeout(now);
        // Acting on an event (a failed connect) or a write (a closed peer) may make more.
        loop {
            events(st, shared, now);
            flush(st, now);
            if !st.core.as_ref().is_some_and(Pusher::has_events) {
                break;
            }
        }
        if let Some(core) = st.core.as_ref() {
            shared.queue.lock().open = core.is_open();
        }
    }
}

/// Acts on the core's events.
fn events(st: &mut State, shared: &Shared, now: u64) {
    loop {
        let Some(ev) = st.core.as_mut().and_then(Pusher::poll_event) else { return };
        match ev {
            Event::Connect(to) => {
                let sockets = &mut st.sockets;
                sockets.close_all();
                let udp = st.core.as_ref().is_some_and(|c| c.config().lower == Lower::Udp);
                let result = os::tcp_connect(&to).and_then(|fd| {
                    sockets.conn = fd;
                    sockets.connecting = true;
                    if udp {
                        let (rtp, rtcp, port) = os::udp_pair()?;
                        sockets.rtp = rtp;
                        sockets.rtcp = rtcp;
                        sockets.udp_port = Some(port);
                    }
                    Ok(())
                });
                if let Err(e) = result {
                    sockets.close_all();
                    if let Some(core) = st.core.as_mut() {
                        core.handle_connect_failed(e, now);
                    }
                }
            }
            Event::Disconnect => st.sockets.close_all(),
            Event::Opened(_) | Event::Closed => {
                // Before the waiting caller hears of it: a push right after
                // a successful `open` must find the queue open.
                if let Some(core) = st.core.as_ref() {
                    shared.queue.lock().open = core.is_open();
                }
                st.results.push_back(ev);
                os::wake(shared.done_write);
            }
        }
    }
}

/// Writes what the core has queued for the connection, sends its datagrams.
fn flush(st: &mut State, now: u64) {
    let (Some(core), sockets) = (st.core.as_mut(), &mut st.sockets) else { return };
    while sockets.conn >= 0 && !sockets.connecting && core.interest().write {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(os::MAX_IOV);
        core.poll_transmit(&mut parts, os::MAX_IOV);
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let result = os::send_vectored(sockets.conn, &parts);
        drop(parts);
        match result {
            Io::Done(n) => {
                core.handle_input(Input::Written(n), now);
                if n < total {
                    break;
                }
            }
            Io::WouldBlock => break,
            Io::Closed => {
                sockets.close_all();
                core.handle_input(Input::Closed, now);
                break;
            }
        }
    }
    while let Some((to, rtcp, bytes)) = core.poll_datagram() {
        let fd = if rtcp { sockets.rtcp } else { sockets.rtp };
        // A full send buffer drops the datagram: UDP never stalls the loop.
        let _ = os::send_to(fd, &bytes, &to);
    }
}
