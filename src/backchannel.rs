//! The ONVIF audio back channel's receive side: G.711 RTP from the one
//! client that talks, turned into the payload bytes a script reads
//! (`recvaudiodata`), in order, with what was lost filled with silence.
//!
//! It is not a jitter buffer: a packet that comes after a later one is
//! dropped (G.711 in 20 ms packets on a LAN rarely reorders, and a script
//! that plays as it reads would have played past it anyway). The buffer is
//! bounded (`CAPACITY`): a client that sends faster than the script reads
//! loses the oldest audio, never memory. Sans-IO: bytes in, bytes out.

use alloc::collections::VecDeque;

use crate::rtp::g711;
use crate::rtp::packet::parse_rtp;

/// About 2 s of 8000 Hz G.711: what a script that stops reading for a moment keeps.
pub const CAPACITY: usize = 2 * g711::CLOCK_RATE as usize;
/// The largest payload taken from one packet (a quarter second): anything
/// larger is no G.711 stream a talking client would send.
pub const MAX_PAYLOAD: usize = 2048;
/// RFC 3550 A.1's limits: a packet this far ahead is taken as a jump (no
/// silence for it), one at most this far behind as late (dropped); between
/// them (further behind) as a restarted stream.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
/// A loss longer than this many samples is not filled: the talker stopped
/// and came back (or jumped its clock), and silence would only delay it.
const MAX_FILL: u32 = g711::CLOCK_RATE;

/// Why a packet was not taken (its payload counts as dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not RTP, or another payload type than the back channel's.
    NotOurs,
    /// Payload larger than [`MAX_PAYLOAD`].
    Oversized,
    /// Older than (or the same as) a packet already taken.
    Late,
}

/// The stream position the next packet should have.
#[derive(Debug, Clone, Copy)]
struct Expected {
    ssrc: u32,
    seq: u16,
    timestamp: u32,
}

#[derive(Debug)]
pub struct Backchannel {
    /// `g711::PT_PCMU` or `g711::PT_PCMA`.
    pub payload_type: u8,
    buf: VecDeque<u8>,
    next: Option<Expected>,
    /// Payload bytes taken (silence filled in not included).
    pub bytes: u64,
    /// Bytes of audio lost here: the oldest when the buffer overflowed, and
    /// the payload of packets not taken (refused, or from a client that does
    /// not hold the back channel: see `drop_payload`).
    pub dropped: u64,
}

impl Backchannel {
    pub fn new(payload_type: u8) -> Self {
        Backchannel { payload_type, buf: VecDeque::new(), next: None, bytes: 0, dropped: 0 }
    }

    /// One RTP packet from the talking client: its payload is appended,
    /// after silence for the samples of packets lost before it.
    pub fn push_rtp(&mut self, packet: &[u8]) -> Result<usize, Refused> {
        let Some(rtp) = parse_rtp(packet).filter(|p| p.payload_type == self.payload_type) else {
            self.drop_payload(packet);
            return Err(Refused::NotOurs);
        };
        if rtp.payload.len() > MAX_PAYLOAD {
            self.dropped += rtp.payload.len() as u64;
            return Err(Refused::Oversized);
        }
        let mut fill = 0;
        if let Some(next) = self.next.filter(|n| n.ssrc == rtp.ssrc) {
            let ahead = rtp.seq.wrapping_sub(next.seq);
            if ahead >= u16::MAX - MAX_MISORDER {
                self.dropped += rtp.payload.len() as u64;
                return Err(Refused::Late);
            }
            // Lost packets: the samples they held, by the clock (G.711 has one
            // byte per sample). A larger jump either way is a restarted stream
            // (or a stray packet): it is taken from where it is, like a new
            // SSRC, so one odd packet cannot make the rest look late.
            let gap = rtp.timestamp.wrapping_sub(next.timestamp);
            if ahead > 0 && ahead < MAX_DROPOUT && gap <= MAX_FILL {
                fill = gap as usize;
            }
        }
        // A new SSRC is a new stream: it starts where it starts, nothing to fill.
        self.next = Some(Expected {
            ssrc: rtp.ssrc,
            seq: rtp.seq.wrapping_add(1),
            timestamp: rtp.timestamp.wrapping_add(rtp.payload.len() as u32),
        });
        let silence = g711::silence(self.payload_type);
        self.append(core::iter::repeat_n(silence, fill.min(CAPACITY)));
        self.append(rtp.payload.iter().copied());
        self.bytes += rtp.payload.len() as u64;
        Ok(rtp.payload.len())
    }

    /// A packet not taken (say, from a client that does not hold the back
    /// channel): its payload counts as dropped (all of it, if it is no RTP).
    pub fn drop_payload(&mut self, packet: &[u8]) {
        let len = parse_rtp(packet).map_or(packet.len(), |p| p.payload.len());
        self.dropped += len as u64;
    }

    fn append(&mut self, bytes: impl ExactSizeIterator<Item = u8>) {
        let overflow = (self.buf.len() + bytes.len()).saturating_sub(CAPACITY);
        let from_old = overflow.min(self.buf.len());
        self.buf.drain(..from_old);
        // More than the capacity in one go keeps only its newest part.
        let skip = overflow - from_old;
        self.dropped += overflow as u64;
        self.buf.extend(bytes.skip(skip));
    }

    /// Moves the oldest bytes into `out`; how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.buf.len());
        for (dst, src) in out.iter_mut().zip(self.buf.drain(..n)) {
            *dst = src;
        }
        n
    }

    /// Bytes waiting to be read.
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// A new talker: whatever the last one left unread stays, but its stream
    /// position does not carry over.
    pub fn new_talker(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::{PacketBuf, RtpStream};
    use std::vec::Vec;

    /// Packets of `len` bytes from a stream, the payload bytes counting up from `first`.
    fn packets(stream: &mut RtpStream, ts: &mut u32, count: usize, len: usize, first: u8) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| {
                let payload: Vec<u8> = (0..len).map(|j| first.wrapping_add((i * len + j) as u8)).collect();
                let mut out = PacketBuf::new();
                stream.write_packet(&mut out, *ts, false, &[&payload]);
                *ts = ts.wrapping_add(len as u32);
                out.packet(0).to_vec()
            })
            .collect()
    }

    fn read_all(bc: &mut Backchannel) -> Vec<u8> {
        let mut out = std::vec![0u8; CAPACITY + 10];
        let n = bc.read(&mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn payload_comes_out_in_order_across_sequence_wrap() {
        let mut bc = Backchannel::new(g711::PT_PCMU);
        let (mut s, mut ts) = (RtpStream::new(0, 7, 65534), u32::MAX - 200);
        for p in packets(&mut s, &mut ts, 4, 160, 1) {
            assert_eq!(bc.push_rtp(&p), Ok(160));
        }
        let got = read_all(&mut bc);
        let want: Vec<u8> = (0..640).map(|i| 1u8.wrapping_add(i as u8)).collect();
        assert_eq!(got, want);
        assert_eq!((bc.bytes, bc.dropped, bc.buffered()), (640, 0, 0));
    }

    #[test]
    fn a_lost_packet_becomes_its_length_of_silence() {
        for pt in [g711::PT_PCMU, g711::PT_PCMA] {
            let mut bc = Backchannel::new(pt);
            let mut s = RtpStream::new(pt, 7, 10);
            let mut ts = 0;
            let ps = packets(&mut s, &mut ts, 4, 160, 0);
            for p in [&ps[0], &ps[2], &ps[3]] {
                bc.push_rtp(p).unwrap();
            }
            let got = read_all(&mut bc);
            assert_eq!(got.len(), 640);
            assert!(got[160..320].iter().all(|&b| b == g711::silence(pt)));
            assert_eq!(&got[320..], &ps[2][12..].iter().chain(&ps[3][12..]).copied().collect::<Vec<u8>>()[..]);
        }
    }

    #[test]
    fn late_and_repeated_packets_are_dropped_and_counted() {
        let mut bc = Backchannel::new(g711::PT_PCMU);
        let (mut s, mut ts) = (RtpStream::new(0, 7, 10), 0);
        let ps = packets(&mut s, &mut ts, 3, 160, 0);
        bc.push_rtp(&ps[0]).unwrap();
        bc.push_rtp(&ps[2]).unwrap();
        assert_eq!(bc.push_rtp(&ps[1]), Err(Refused::Late));
        assert_eq!(bc.push_rtp(&ps[2]), Err(Refused::Late));
        assert_eq!((bc.bytes, bc.dropped, bc.buffered()), (320, 320, 480));
    }

    #[test]
    fn faster_than_real_time_keeps_the_newest_two_seconds() {
        let mut bc = Backchannel::new(g711::PT_PCMU);
        let (mut s, mut ts) = (RtpStream::new(0, 7, 10), 0);
        for p in packets(&mut s, &mut ts, 1000, 160, 0) {
            bc.push_rtp(&p).unwrap();
        }
        assert_eq!(bc.buffered(), CAPACITY);
        assert_eq!(bc.dropped, 160_000 - CAPACITY as u64);
        let got = read_all(&mut bc);
        // The newest bytes: the last one is byte 159_999 of the stream.
        assert_eq!(*got.last().unwrap(), (159_999 % 256) as u8);
        assert_eq!(got[0], ((160_000 - CAPACITY) % 256) as u8);
    }

    #[test]
    fn foreign_oversized_and_other_law_packets_are_refused() {
        let mut bc = Backchannel::new(g711::PT_PCMU);
        assert_eq!(bc.push_rtp(b"not rtp at all"), Err(Refused::NotOurs));
        let (mut a, mut ts) = (RtpStream::new(8, 7, 10), 0);
        assert_eq!(bc.push_rtp(&packets(&mut a, &mut ts, 1, 160, 0)[0]), Err(Refused::NotOurs));
        let (mut s, mut ts) = (RtpStream::new(0, 7, 10), 0);
        assert_eq!(bc.push_rtp(&packets(&mut s, &mut ts, 1, MAX_PAYLOAD + 1, 0)[0]), Err(Refused::Oversized));
        assert_eq!(bc.buffered(), 0);
        assert_eq!(bc.dropped, 14 + 160 + MAX_PAYLOAD as u64 + 1);
    }

    #[test]
    fn a_long_gap_or_a_new_ssrc_adds_no_silence() {
        let mut bc = Backchannel::new(g711::PT_PCMU);
        let (mut s, mut ts) = (RtpStream::new(0, 7, 10), 0);
        bc.push_rtp(&packets(&mut s, &mut ts, 1, 160, 0)[0]).unwrap();
        s.seq = s.seq.wrapping_add(5);
        ts += 10 * MAX_FILL;
        bc.push_rtp(&packets(&mut s, &mut ts, 1, 160, 0)[0]).unwrap();
        let (mut other, mut ts2) = (RtpStream::new(0, 8, 999), 12345);
        bc.push_rtp(&packets(&mut other, &mut ts2, 1, 160, 0)[0]).unwrap();
        assert_eq!(bc.buffered(), 480);
    }

    #[test]
    fn one_stray_packet_far_ahead_does_not_silence_the_stream() {
        let mut bc = Backchannel::new(g711::PT_PCMU);
        let (mut s, mut ts) = (RtpStream::new(0, 7, 10), 0);
        let ps = packets(&mut s, &mut ts, 3, 160, 0);
        bc.push_rtp(&ps[0]).unwrap();
        let (mut stray, mut stray_ts) = (RtpStream::new(0, 7, 30_010), 4_000_000);
        bc.push_rtp(&packets(&mut stray, &mut stray_ts, 1, 160, 0)[0]).unwrap();
        // The stream goes on: taken again at once, without silence.
        assert_eq!(bc.push_rtp(&ps[1]), Ok(160));
        assert_eq!(bc.push_rtp(&ps[2]), Ok(160));
        assert_eq!(bc.push_rtp(&ps[1]), Err(Refused::Late));
        assert_eq!((bc.buffered(), bc.dropped), (640, 160));
    }

    #[test]
    fn reads_take_what_fits() {
        let mut bc = Backchannel::new(g711::PT_PCMU);
        let (mut s, mut ts) = (RtpStream::new(0, 7, 10), 0);
        bc.push_rtp(&packets(&mut s, &mut ts, 1, 160, 0)[0]).unwrap();
        let mut small = [0u8; 100];
        assert_eq!(bc.read(&mut small), 100);
        assert_eq!(bc.read(&mut small), 60);
        assert_eq!(small[59], 159);
        assert_eq!(bc.read(&mut small), 0);
        assert_eq!(bc.read(&mut []), 0);
    }
}
