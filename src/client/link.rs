//! One connection to the receiving server, as the pusher sees it: the bytes
//! read and not yet parsed, the bytes to write (requests and interleaved
//! media, `Bytes` slices of the frames' buffers), and the datagrams for the
//! UDP transport. A new connection starts with a new `Link`.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

use bytes::Bytes;

use crate::rtsp::auth::Challenge;

/// What the server told us in its SETUP replies, per track.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TrackLink {
    /// Interleaved channels (RTP, RTCP) over the RTSP connection.
    pub(super) channels: (u8, u8),
    /// The server's UDP ports (RTP, RTCP) for the UDP transport.
    pub(super) server_ports: Option<(u16, u16)>,
}

pub(super) struct Link {
    /// Received and not yet parsed.
    pub(super) input: Vec<u8>,
    out: VecDeque<Bytes>,
    /// Bytes of the head of `out` already written.
    head_sent: usize,
    /// Bytes of `out` not yet written.
    queued: usize,
    /// Datagrams for the UDP transport: (to, RTCP, bytes).
    datagrams: VecDeque<(SocketAddr, bool, Bytes)>,
    datagram_bytes: usize,
    /// The last CSeq sent.
    pub(super) cseq: u32,
    /// `Session:` id from the first SETUP reply.
    pub(super) session: Option<String>,
    /// The server's session timeout, seconds (`Session: id;timeout=N`).
    pub(super) session_timeout_s: u32,
    /// The server's challenge, once it has sent one: every later request carries an answer.
    pub(super) challenge: Option<Challenge>,
    /// Digest nonce count.
    pub(super) nc: u32,
    pub(super) tracks: [TrackLink; 2],
    /// Local UDP RTP port (RTCP the next one), for the UDP transport.
    pub(super) udp_port: Option<u16>,
}

impl Link {
    pub(super) fn new(udp_port: Option<u16>) -> Link {
        Link {
            input: Vec::new(),
            out: VecDeque::new(),
            head_sent: 0,
            queued: 0,
            datagrams: VecDeque::new(),
            datagram_bytes: 0,
            cseq: 0,
            session: None,
            session_timeout_s: 60,
            challenge: None,
            nc: 0,
            tracks: [TrackLink::default(); 2],
            udp_port,
        }
    }

    pub(super) fn queue(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.out.push_back(bytes);
    }

    /// Bytes waiting to be written (TCP) plus datagrams waiting to be sent.
    pub(super) fn backlog(&self) -> usize {
        self.queued + self.datagram_bytes
    }

    pub(super) fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Up to `max` slices to write next, in order.
    pub(super) fn transmit<'a>(&'a self, parts: &mut Vec<&'a [u8]>, max: usize) {
        for (i, chunk) in self.out.iter().take(max).enumerate() {
            let skip = if i == 0 { self.head_sent } else { 0 };
            parts.push(chunk.get(skip..).unwrap_or(&[]));
        }
    }

    /// `n` bytes of the output were written.
    pub(super) fn written(&mut self, mut n: usize) {
        self.queued = self.queued.saturating_sub(n);
        while let Some(head) = self.out.front() {
            let left = head.len() - self.head_sent;
            if n < left {
                self.head_sent += n;
                return;
            }
            n -= left;
            self.head_sent = 0;
            self.out.pop_front();
        }
    }

    pub(super) fn queue_datagram(&mut self, to: SocketAddr, rtcp: bool, bytes: Bytes) {
        self.datagram_bytes += bytes.len();
        self.datagrams.push_back((to, rtcp, bytes));
    }

    pub(super) fn next_datagram(&mut self) -> Option<(SocketAddr, bool, Bytes)> {
        let d = self.datagrams.pop_front()?;
        self.datagram_bytes -= d.2.len();
        Some(d)
    }

    pub(super) fn has_datagrams(&self) -> bool {
        !self.datagrams.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut link = Link::new(None);
        link.queue(Bytes::from_static(b"abc"));
        link.queue(Bytes::from_static(b"defg"));
        assert_eq!(link.backlog(), 7);
        link.written(2);
        let mut parts = Vec::new();
        link.transmit(&mut parts, 8);
        assert_eq!(parts, [&b"c"[..], &b"defg"[..]]);
        link.written(3);
        let mut parts = Vec::new();
        link.transmit(&mut parts, 8);
        assert_eq!(parts, [&b"fg"[..]]);
        link.written(2);
        assert!(!link.has_output());
        assert_eq!(link.backlog(), 0);
    }
}
