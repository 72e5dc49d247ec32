//! What goes out: each TCP connection's queue of RTSP replies and
//! interleaved packets (shared frames, never copied per client), and the
//! queue of datagrams for the RTP/RTCP sockets.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use super::timers::{ConnTimer, ConnTimers};
use super::{ConnId, Counters, Datagram, Server, TrackTransport, MAX_DATAGRAM_BACKLOG};

/// Replies queued on one connection past which the server stops reading it.
pub(super) const MAX_QUEUED_REPLY_BYTES: usize = 64 * 1024;
use crate::rtp::packet::INTERLEAVED_HEADER_LEN;
use crate::session::FrameRef;

/// One piece of a TCP connection's output.
pub(super) enum Chunk {
    Bytes(Vec<u8>),
    /// An RTP packet of a shared frame behind a 4-byte interleaved header
    /// (for a client on a channel of its own choosing).
    Packet {
        header: [u8; 4],
        frame: FrameRef,
        index: usize,
    },
    /// Every packet of a shared frame behind the frame's own interleaved
    /// headers (the usual channels): one queue entry and one slice per frame.
    Frame {
        frame: FrameRef,
        bytes: usize,
    },
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Packet { frame, index, .. } => 4 + frame.packets.packet(*index).len(),
            Chunk::Frame { bytes, .. } => *bytes,
        }
    }
}

pub(super) struct Conn {
    pub(super) peer: SocketAddr,
    pub(super) local: SocketAddr,
    pub(super) input: Vec<u8>,
    pub(super) out: VecDeque<Chunk>,
    /// Bytes of `out` not yet written (the head chunk's `sent` taken off).
    pub(super) queued: usize,
    /// Bytes of the head chunk already written.
    pub(super) sent: usize,
    /// Bytes of RTSP replies in `out` (for backpressure on requests).
    pub(super) reply_bytes: usize,
    /// Close once the output is flushed.
    pub(super) closing: bool,
    /// Last request from the peer (or when it connected): who makes room past `max_connections`.
    pub(super) last_request_us: u64,
    /// The nonce this connection was challenged with (authentication on).
    pub(super) nonce: Option<String>,
    /// Idle, stuck and close-grace deadlines (see `timers`).
    pub(super) timers: ConnTimers,
    /// Closing, and the grace period for its peer to read the rest has begun.
    pub(super) close_grace_started: bool,
}

impl Conn {
    /// Forgets everything queued (the connection is closing and will not be read).
    pub(super) fn discard_output(&mut self) {
        self.out.clear();
        self.queued = 0;
        self.sent = 0;
        self.reply_bytes = 0;
    }

    /// Closes once its output is written (or the grace period ends); nothing
    /// more is read from it or queued for it.
    pub(super) fn close(&mut self) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.timers.clear(ConnTimer::Idle);
        self.timers.clear(ConnTimer::Stuck);
        // Output its peer may never read: due at once, so the next tick (or
        // `conn_timers`, which runs last in `handle_timeout`) starts the grace period.
        if !self.out.is_empty() {
            self.timers.set(ConnTimer::CloseGrace, 0);
        }
    }

    /// A connection opened at `now_us`, closed at `idle_at` unless it asks for something.
    pub(super) fn new(peer: SocketAddr, local: SocketAddr, now_us: u64, idle_at: u64) -> Conn {
        let mut timers = ConnTimers::new();
        timers.set(ConnTimer::Idle, idle_at);
        Conn {
            peer,
            local,
            input: Vec::new(),
            out: VecDeque::new(),
            queued: 0,
            sent: 0,
            reply_bytes: 0,
            closing: false,
            last_request_us: now_us,
            nonce: None,
            timers,
            close_grace_started: false,
        }
    }
}

/// One interleaved packet as slices, `skip` bytes of it already written.
fn push_interleaved<'a>(parts: &mut Vec<&'a [u8]>, header: &'a [u8; 4], pkt: &'a [u8], skip: usize) {
    if skip < 4 {
        parts.push(&header[skip..]);
        parts.push(pkt);
    } else {
        parts.push(&pkt[skip - 4..]);
    }
}

impl Server {
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
                    push_interleaved(parts, header, frame.packets.packet(*index), skip);
                    skip = 0;
                }
                Chunk::Frame { frame, .. } => {
                    parts.push(frame.packets.interleaved().get(skip..).unwrap_or_default());
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
        // Draining again: the peer is slow, not stuck.
        if conn.queued <= self.config.max_queued_bytes {
            conn.timers.clear(ConnTimer::Stuck);
        }
        while let Some(head) = conn.out.front() {
            let left = head.len() - conn.sent;
            if n < left {
                conn.sent += n;
                return;
            }
            n -= left;
            conn.sent = 0;
            if let Some(Chunk::Bytes(b)) = conn.out.pop_front() {
                conn.reply_bytes -= b.len();
            }
        }
    }

    /// Connections to close now: marked closing and fully flushed.
    /// Whether to read more from a connection: not while it has more replies
    /// queued than a reader would ever leave unread (a client that pipelines
    /// requests and never reads the answers gets TCP backpressure, and the
    /// server's memory stays bounded).
    pub fn wants_input(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_some_and(|c| !c.closing && c.reply_bytes < MAX_QUEUED_REPLY_BYTES)
    }

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

    /// The queued datagrams, in the order `pop_datagram` gives them.
    pub fn datagrams(&self) -> impl Iterator<Item = &Datagram> + '_ {
        self.udp_out.iter()
    }
}

pub(super) fn push_bytes(conn: &mut Conn, bytes: Vec<u8>) {
    conn.queued += bytes.len();
    conn.reply_bytes += bytes.len();
    conn.out.push_back(Chunk::Bytes(bytes));
}

/// Queues every packet of `frame` for one client's transport.
pub(super) fn enqueue(
    conn: &mut Conn,
    udp_out: &mut VecDeque<Datagram>,
    counters: &mut Counters,
    t: TrackTransport,
    frame: &FrameRef,
) {
    // Nothing more for a connection on its way out (it may wait for its
    // peer to read the rest, under a grace timer set when it began closing).
    if conn.closing {
        return;
    }
    if let TrackTransport::Tcp { rtp_channel, rtcp_channel } = t {
        let channel = if frame.rtcp { rtcp_channel } else { rtp_channel };
        if channel == frame.default_channel() {
            let bytes = frame.packets.interleaved().len();
            if !frame.rtcp {
                counters.packets_sent += frame.packets.len() as u64;
                counters.bytes_sent += (bytes - INTERLEAVED_HEADER_LEN * frame.packets.len()) as u64;
            }
            conn.queued += bytes;
            conn.out.push_back(Chunk::Frame { frame: frame.clone(), bytes });
            return;
        }
    }
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
pub(super) fn drop_queued_packets(conn: &mut Conn) -> Dropped {
    let head_started = conn.sent > 0;
    let mut kept = VecDeque::new();
    let mut dropped = Dropped::default();
    let mut last_video: Option<*const crate::session::Frame> = None;
    for (i, chunk) in conn.out.drain(..).enumerate() {
        let (frame, packets, bytes) = match &chunk {
            // A half-written chunk stays: the byte stream must stay whole.
            _ if i == 0 && head_started => {
                kept.push_back(chunk);
                continue;
            }
            Chunk::Bytes(_) => {
                kept.push_back(chunk);
                continue;
            }
            Chunk::Packet { frame, index, .. } => (frame, 1, frame.packets.packet(*index).len()),
            Chunk::Frame { frame, bytes } => (frame, frame.packets.len(), bytes - 4 * frame.packets.len()),
        };
        if !frame.rtcp {
            dropped.packets += packets as u64;
            dropped.bytes += bytes as u64;
        }
        // A frame's packets sit together in the queue: count each frame once.
        let this = alloc::sync::Arc::as_ptr(frame);
        if frame.track == crate::session::TRACK_VIDEO && !frame.rtcp && last_video != Some(this) {
            dropped.video_frames += 1;
            last_video = Some(this);
        }
    }
    conn.queued = kept.iter().map(|c| c.len()).sum::<usize>() - conn.sent;
    conn.out = kept;
    dropped
}

/// What a cut-back threw away: RTP packets and bytes (they were counted as
/// sent) and whole video frames (for the stats).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Dropped {
    pub(super) packets: u64,
    pub(super) bytes: u64,
    pub(super) video_frames: u64,
}
