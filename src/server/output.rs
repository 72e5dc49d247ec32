//! What goes out: each TCP connection's queue of RTSP replies and
//! interleaved packets (`Bytes` slices of the frames' shared buffers, never
//! copied per client), and the queue of datagrams for the RTP/RTCP sockets.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use bytes::Bytes;

use super::slab::{Key, Slab};
use super::timers::{ConnTimer, ConnTimers};
use super::tunnel::Role;
use super::{ConnId, Server, TrackTransport};
use crate::rtp::packet::INTERLEAVED_HEADER_LEN;
use crate::session::Frame;

/// Replies queued on one connection past which the server stops reading it.
pub(super) const MAX_QUEUED_REPLY_BYTES: usize = 64 * 1024;
/// Datagrams queued for the loop thread at most.
const MAX_DATAGRAM_BACKLOG: usize = 16 * 1024;

/// The frame a queued packet comes from: which one (a number `Wire::enqueue`
/// gives each frame it queues) and what it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Origin {
    frame: u32,
    track: usize,
    rtcp: bool,
}

/// One piece of a TCP connection's output.
pub(super) enum Chunk {
    Bytes(Vec<u8>),
    /// An RTP packet (a slice of its frame's buffer) behind a 4-byte
    /// interleaved header (for a client on a channel of its own choosing).
    Packet {
        header: [u8; 4],
        packet: Bytes,
        origin: Origin,
    },
    /// Every packet of a frame behind the frame's own interleaved headers
    /// (the usual channels): one queue entry and one slice per frame.
    Frame {
        data: Bytes,
        packets: usize,
        origin: Origin,
    },
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::Packet { packet, .. } => INTERLEAVED_HEADER_LEN + packet.len(),
            Chunk::Frame { data, .. } => data.len(),
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
    /// Plain RTSP or a half of an HTTP tunnel (told by its first bytes).
    pub(super) role: Role,
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
            role: Role::default(),
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

/// Everything waiting to go out: the connections (with their output
/// queues) and the datagrams for the RTP/RTCP sockets.
#[derive(Default)]
pub(super) struct Wire {
    pub(super) conns: Slab<Conn>,
    datagrams: VecDeque<Datagram>,
    /// Frames queued so far (wrapping): tells the packets of one from the next.
    frames: u32,
}

/// A datagram to send from the server's RTP (or RTCP) socket: one packet
/// (a slice of its frame's buffer) and the frame it comes from.
struct Datagram {
    to: SocketAddr,
    rtcp: bool,
    packet: Bytes,
    frame: u32,
}

impl Datagram {
    fn bytes(&self) -> &[u8] {
        &self.packet
    }

    /// Whether `next` is the next packet of the same frame to the same
    /// address (a frame's datagrams are queued in order, and the backlog
    /// limit only ever cuts off the rest of a frame).
    fn followed_by(&self, next: &Datagram) -> bool {
        next.to == self.to && next.rtcp == self.rtcp && next.frame == self.frame
    }
}

/// A run of datagrams for one send (see `Server::poll_datagrams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramRun {
    pub to: SocketAddr,
    /// From the RTCP socket (else the RTP socket).
    pub rtcp: bool,
    /// Datagrams in the run: every one `segment_size` bytes but the last, which may be shorter.
    pub count: usize,
    pub segment_size: usize,
}

/// What queuing a frame added to the sent counters: RTP packets and bytes (RTCP is not counted).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Sent {
    pub(super) packets: u64,
    pub(super) bytes: u64,
}

impl core::ops::AddAssign for Sent {
    fn add_assign(&mut self, other: Sent) {
        self.packets += other.packets;
        self.bytes += other.bytes;
    }
}

/// Largest UDP payload of one segmented send (the IPv4 datagram limit, with room for headers).
const MAX_SEGMENTED_BYTES: usize = 65_000;

impl Wire {
    /// Datagrams queued for the loop thread (for the simulator's bounds).
    #[cfg(feature = "std")]
    pub(super) fn datagram_count(&self) -> usize {
        self.datagrams.len()
    }

    /// Queues every packet of `frame` for one client's transport on `conn`.
    pub(super) fn enqueue(&mut self, conn: ConnId, t: TrackTransport, frame: &Frame) -> Sent {
        let mut sent = Sent::default();
        // Nothing more for a connection on its way out (it may wait for its
        // peer to read the rest, under a grace timer set when it began closing).
        let Some(conn) = self.conns.get_mut(conn.0).filter(|c| !c.closing) else { return sent };
        self.frames = self.frames.wrapping_add(1);
        let origin = Origin { frame: self.frames, track: frame.track, rtcp: frame.rtcp };
        let packets = &frame.packets;
        if let TrackTransport::Tcp { rtp_channel, rtcp_channel } = t {
            let channel = if frame.rtcp { rtcp_channel } else { rtp_channel };
            if channel == frame.default_channel() {
                let data = packets.interleaved().clone();
                if !frame.rtcp {
                    sent.packets += packets.len() as u64;
                    sent.bytes += (data.len() - INTERLEAVED_HEADER_LEN * packets.len()) as u64;
                }
                conn.queued += data.len();
                conn.out.push_back(Chunk::Frame { data, packets: packets.len(), origin });
                return sent;
            }
        }
        for index in 0..packets.len() {
            let len = packets.packet(index).len();
            if !frame.rtcp {
                sent.packets += 1;
                sent.bytes += len as u64;
            }
            match t {
                TrackTransport::Tcp { rtp_channel, rtcp_channel } => {
                    let channel = if frame.rtcp { rtcp_channel } else { rtp_channel };
                    let header = [b'$', channel, (len >> 8) as u8, len as u8];
                    conn.queued += INTERLEAVED_HEADER_LEN + len;
                    conn.out.push_back(Chunk::Packet { header, packet: packets.share(index), origin });
                }
                TrackTransport::Udp { rtp, rtcp } => {
                    // Bounded even while the loop is stopped: UDP loses the excess, as it would on the wire.
                    if self.datagrams.len() < MAX_DATAGRAM_BACKLOG {
                        let to = if frame.rtcp { rtcp } else { rtp };
                        let packet = packets.share(index);
                        self.datagrams.push_back(Datagram { to, rtcp: frame.rtcp, packet, frame: origin.frame });
                    }
                }
            }
        }
        sent
    }

    /// `n` bytes of a connection's output were written.
    pub(super) fn written(&mut self, id: Key, mut n: usize, max_queued_bytes: usize) {
        let Some(conn) = self.conns.get_mut(id) else { return };
        conn.queued = conn.queued.saturating_sub(n);
        // Draining again: the peer is slow, not stuck.
        if conn.queued <= max_queued_bytes {
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

    /// The first `count` datagrams were sent (or lost).
    pub(super) fn datagrams_sent(&mut self, count: usize) {
        let count = count.min(self.datagrams.len());
        self.datagrams.drain(..count);
    }

    /// How many datagrams from the front of the queue one segmented send
    /// carries (at most `max`): consecutive packets of one frame to one
    /// address, all as long as the first but the last, which may be shorter.
    fn segment_run(&self, max: usize) -> usize {
        let mut queue = self.datagrams.iter();
        let Some(first) = queue.next() else { return 0 };
        let segment = first.bytes().len();
        let (mut count, mut total, mut last) = (1, segment, first);
        for next in queue {
            let len = next.bytes().len();
            if count >= max || total + len > MAX_SEGMENTED_BYTES || len > segment || !last.followed_by(next) {
                break;
            }
            count += 1;
            if len < segment {
                break; // a shorter packet ends the run
            }
            total += len;
            last = next;
        }
        count
    }
}

impl Server {
    /// The output of a connection as slices, for one vectored write; then
    /// `Input::Written` with what the socket took.
    pub fn poll_transmit<'a>(&'a self, id: ConnId, parts: &mut Vec<&'a [u8]>, max_parts: usize) {
        let Some(conn) = self.wire.conns.get(id.0) else { return };
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
                Chunk::Packet { header, packet, .. } => {
                    push_interleaved(parts, header, packet, skip);
                    skip = 0;
                }
                Chunk::Frame { data, .. } => {
                    parts.push(data.get(skip..).unwrap_or_default());
                    skip = 0;
                }
            }
        }
    }

    /// The next run of queued datagrams for one send, its packets in
    /// `parts` (as many as fit: give one slot where the socket cannot
    /// segment, up to the system's iovec limit where it can); then
    /// `Input::DatagramsSent` with the run's count.
    pub fn poll_datagrams<'a>(&'a self, parts: &mut [&'a [u8]]) -> Option<DatagramRun> {
        let count = self.wire.segment_run(parts.len());
        let first = self.wire.datagrams.front()?;
        for (part, d) in parts.iter_mut().zip(self.wire.datagrams.iter().take(count)) {
            *part = d.bytes();
        }
        Some(DatagramRun { to: first.to, rtcp: first.rtcp, count, segment_size: first.bytes().len() })
    }

    /// Datagrams are waiting (queued while the loop was not looking, say by a question that drained the inbox).
    pub fn has_datagrams(&self) -> bool {
        !self.wire.datagrams.is_empty()
    }
}

pub(super) fn push_bytes(conn: &mut Conn, bytes: Vec<u8>) {
    conn.queued += bytes.len();
    conn.reply_bytes += bytes.len();
    conn.out.push_back(Chunk::Bytes(bytes));
}

/// Drops every queued packet not yet started; RTSP replies and a half-written packet stay.
/// Returns the number of RTP packets and RTP bytes dropped (they were counted as sent).
pub(super) fn drop_queued_packets(conn: &mut Conn) -> Dropped {
    let head_started = conn.sent > 0;
    let mut kept = VecDeque::new();
    let mut dropped = Dropped::default();
    let mut last_video: Option<u32> = None;
    for (i, chunk) in conn.out.drain(..).enumerate() {
        let (origin, packets, bytes) = match &chunk {
            // A half-written chunk stays: the byte stream must stay whole.
            _ if i == 0 && head_started => {
                kept.push_back(chunk);
                continue;
            }
            Chunk::Bytes(_) => {
                kept.push_back(chunk);
                continue;
            }
            Chunk::Packet { packet, origin, .. } => (origin, 1, packet.len()),
            Chunk::Frame { data, packets, origin } => (origin, *packets, data.len() - INTERLEAVED_HEADER_LEN * packets),
        };
        if !origin.rtcp {
            dropped.packets += packets as u64;
            dropped.bytes += bytes as u64;
        }
        // A frame's packets sit together in the queue: count each frame once.
        if origin.track == crate::session::TRACK_VIDEO && !origin.rtcp && last_video != Some(origin.frame) {
            dropped.video_frames += 1;
            last_video = Some(origin.frame);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::packet::{PacketBuf, RtpStream};

    /// A wire whose datagram queue holds one frame with packets of these payload sizes, to `to`.
    fn queue(sizes: &[usize], to: &str) -> Wire {
        let mut wire = Wire::default();
        add_frame(&mut wire, sizes, to);
        wire
    }

    fn add_frame(wire: &mut Wire, sizes: &[usize], to: &str) {
        let mut stream = RtpStream::new(96, 1, 0);
        let mut packets = PacketBuf::new();
        for &n in sizes {
            stream.write_packet(&mut packets, 0, false, &[&alloc::vec![7u8; n]]);
        }
        let frame = Frame::new(0, packets, false, (0, 0), 0, false);
        let to: SocketAddr = to.parse().unwrap();
        wire.frames += 1;
        for index in 0..sizes.len() {
            wire.datagrams.push_back(Datagram {
                to,
                rtcp: false,
                packet: frame.packets.share(index),
                frame: wire.frames,
            });
        }
    }

    /// As many slots as the loop gives (`net::os::MAX_IOV`).
    const SLOTS: usize = 64;

    #[test]
    fn a_segmented_send_carries_equal_packets_and_a_shorter_last_one() {
        let a = "127.0.0.1:5000";
        // parameter sets, then fragments of one slice: SPS and the shorter PPS
        // go together, a longer packet cannot follow a short one
        assert_eq!(queue(&[20, 8, 1400, 1400, 1400, 700], a).segment_run(SLOTS), 2);
        assert_eq!(queue(&[8, 20, 1400], a).segment_run(SLOTS), 1);
        assert_eq!(queue(&[1400, 1400, 1400, 700], a).segment_run(SLOTS), 4);
        assert_eq!(queue(&[1400, 700, 1400], a).segment_run(SLOTS), 2, "nothing after a short one");
        assert_eq!(queue(&[700, 1400], a).segment_run(SLOTS), 1, "none longer than the first");
        assert_eq!(queue(&[1000; 100], a).segment_run(SLOTS), SLOTS);
        assert_eq!(queue(&[1400; 100], a).segment_run(SLOTS), 46, "46 x 1412 bytes fit in 65000");
        assert_eq!(queue(&[], a).segment_run(SLOTS), 0);
        // the kernel's 64 KB limit: 13 packets of 5000 bytes (plus headers) do not fit
        assert_eq!(queue(&[5000; 20], a).segment_run(SLOTS), 12);
        assert_eq!(queue(&[1400; 10], a).segment_run(1), 1, "one slot: one datagram per send");
    }

    #[test]
    fn a_segmented_send_is_one_frame_to_one_address() {
        let mut wire = queue(&[1400, 1400], "127.0.0.1:5000");
        add_frame(&mut wire, &[1400, 1400], "127.0.0.1:5000"); // the next frame
        assert_eq!(wire.segment_run(SLOTS), 2);
        let mut wire = queue(&[1400, 1400], "127.0.0.1:5000");
        wire.datagrams[1].to = "127.0.0.1:6000".parse().unwrap(); // another client's copy
        assert_eq!(wire.segment_run(SLOTS), 1);
    }

    #[test]
    fn a_run_is_polled_with_its_bytes_and_taken_off_once_sent() {
        let mut wire = queue(&[1400, 1400, 321], "127.0.0.1:5000");
        add_frame(&mut wire, &[99], "127.0.0.1:6000");
        let mut server = crate::server::Server::new(Default::default(), [1; 32]);
        server.wire = wire;
        let run = {
            let mut parts: [&[u8]; SLOTS] = [&[]; SLOTS];
            let run = server.poll_datagrams(&mut parts).unwrap();
            assert_eq!(parts[..3].iter().map(|p| p.len()).collect::<Vec<_>>(), [1412, 1412, 333]);
            run
        };
        assert_eq!((run.count, run.segment_size, run.to.port(), run.rtcp), (3, 1412, 5000, false));
        server.handle_input(crate::server::Input::DatagramsSent { count: run.count }, 0);
        let run = server.poll_datagrams(&mut [&[] as &[u8]; SLOTS]).unwrap();
        assert_eq!((run.count, run.segment_size, run.to.port()), (1, 111, 6000));
        server.handle_input(crate::server::Input::DatagramsSent { count: 1 }, 0);
        assert!(server.poll_datagrams(&mut [&[] as &[u8]; SLOTS]).is_none() && !server.has_datagrams());
    }
}
