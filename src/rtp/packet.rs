//! RTP fixed header and the packet buffer.
use alloc::vec::Vec;
use bytes::Bytes;

/// Where one RTP packet sits inside [`PacketBuf::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRef {
    pub start: u32,
    pub len: u32,
}

impl PacketRef {
    fn range(self) -> core::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }
}

/// Many RTP packets back to back in one buffer, each behind the 4 bytes of
/// an RFC 2326 10.12 interleaved header (`$`, channel, length): a TCP client
/// gets the whole buffer in one piece, a UDP client each packet alone.
#[derive(Debug, Default, Clone)]
pub struct PacketBuf {
    pub data: Vec<u8>,
    pub packets: Vec<PacketRef>,
}

/// The interleaved header in front of each packet in a [`PacketBuf`].
pub const INTERLEAVED_HEADER_LEN: usize = 4;
/// What each packet adds to a [`PacketBuf`] beside its payload.
pub const PACKET_OVERHEAD: usize = INTERLEAVED_HEADER_LEN + RTP_HEADER_LEN;

impl PacketBuf {
    pub fn new() -> Self {
        Self::default()
    }

    /// One packet made elsewhere (an RTCP compound packet).
    pub fn from_packet(packet: &[u8]) -> Self {
        let mut out = PacketBuf::new();
        out.data.reserve(INTERLEAVED_HEADER_LEN + packet.len());
        out.push_header(packet.len());
        let start = out.data.len() as u32;
        out.data.extend_from_slice(packet);
        out.packets.push(PacketRef { start, len: packet.len() as u32 });
        out
    }

    /// Puts `channel` in every packet's interleaved header.
    pub fn set_channel(&mut self, channel: u8) {
        for p in &self.packets {
            if let Some(byte) = (p.start as usize).checked_sub(3).and_then(|i| self.data.get_mut(i)) {
                *byte = channel;
            }
        }
    }

    /// The interleaved header of a packet of `len` bytes (channel 0 until `set_channel`).
    fn push_header(&mut self, len: usize) {
        let [hi, lo] = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
        self.data.extend_from_slice(&[b'$', 0, hi, lo]);
    }

    /// The buffer made shareable: every client gets slices of it, no copies.
    pub fn freeze(self) -> Packets {
        Packets { data: Bytes::from(self.data), packets: self.packets }
    }
}

/// What the packetizers wrote, read back before freezing: for the tests and
/// the fuzz targets (the server reads the frozen [`Packets`]).
#[cfg(any(test, feature = "std"))]
impl PacketBuf {
    /// Every packet behind its interleaved header.
    pub fn interleaved(&self) -> &[u8] {
        &self.data
    }
    /// The bytes of packet `i` (a whole RTP packet, header included).
    pub fn packet(&self, i: usize) -> &[u8] {
        &self.data[self.packets[i].range()]
    }
    pub fn len(&self) -> usize {
        self.packets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }
}

/// A [`PacketBuf`] once written: the same layout in a reference-counted
/// buffer, whose packets go out as [`Bytes`] slices of it.
#[derive(Debug, Clone)]
pub struct Packets {
    pub data: Bytes,
    pub packets: Vec<PacketRef>,
}

impl Packets {
    /// Every packet behind its interleaved header.
    pub fn interleaved(&self) -> &Bytes {
        &self.data
    }
    /// The bytes of packet `i` (a whole RTP packet, header included).
    pub fn packet(&self, i: usize) -> &[u8] {
        &self.data[self.packets[i].range()]
    }
    /// Packet `i` as a slice sharing the buffer.
    pub fn share(&self, i: usize) -> Bytes {
        self.data.slice(self.packets[i].range())
    }
    pub fn len(&self) -> usize {
        self.packets.len()
    }
}

/// The sender state of one RTP stream (one track): payload type, SSRC, next
/// sequence number, and the largest payload per packet.
#[derive(Debug, Clone)]
pub struct RtpStream {
    pub pt: u8,
    pub ssrc: u32,
    /// Sequence number the next packet gets.
    pub seq: u16,
    /// Largest RTP payload (bytes after the 12-byte header); 1400 by default.
    pub max_payload: usize,
}

impl RtpStream {
    pub fn new(pt: u8, ssrc: u32, first_seq: u16) -> Self {
        RtpStream { pt, ssrc, seq: first_seq, max_payload: 1400 }
    }

    /// Appends one packet to `out`: the 12-byte header (V=2, no padding, no
    /// extension, no CSRC, `marker`, `self.pt`, `self.seq`, `ts`, `self.ssrc`)
    /// followed by the concatenation of `payload` parts; then increments `seq`
    /// (wrapping).
    ///
    /// Only the low 7 bits of `pt` are used, so a bad `pt` cannot set the
    /// marker bit. A packet whose offset or length would not fit the `u32`s of
    /// [`PacketRef`] (a 4 GiB buffer) is not written and `seq` is unchanged.
    pub fn write_packet(&mut self, out: &mut PacketBuf, ts: u32, marker: bool, payload: &[&[u8]]) {
        let payload_len = payload.iter().fold(0usize, |acc, part| acc.saturating_add(part.len()));
        let total = payload_len.saturating_add(RTP_HEADER_LEN);
        let (Ok(start), Ok(len)) = (u32::try_from(out.data.len() + INTERLEAVED_HEADER_LEN), u32::try_from(total))
        else {
            return;
        };
        if start.checked_add(len).is_none() {
            return;
        }
        // `reserve` grows geometrically, so appending many packets stays linear.
        out.data.reserve(INTERLEAVED_HEADER_LEN + total);
        out.push_header(total);
        let [seq_hi, seq_lo] = self.seq.to_be_bytes();
        out.data.extend_from_slice(&[RTP_VERSION << 6, (u8::from(marker) << 7) | (self.pt & 0x7f), seq_hi, seq_lo]);
        out.data.extend_from_slice(&ts.to_be_bytes());
        out.data.extend_from_slice(&self.ssrc.to_be_bytes());
        for part in payload {
            out.data.extend_from_slice(part);
        }
        out.packets.push(PacketRef { start, len });
        self.seq = self.seq.wrapping_add(1);
    }
}

/// Size of the RTP fixed header without CSRCs (RFC 3550 section 5.1).
pub const RTP_HEADER_LEN: usize = 12;
const RTP_VERSION: u8 = 2;

/// An RTP packet a client sent (the back channel), as far as a receiver needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpIn<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Past the CSRCs and the header extension, without padding.
    pub payload: &'a [u8],
}

/// Reads an RTP packet (RFC 3550 section 5.1): version 2, CSRCs, a header
/// extension and padding that fit inside it. `None` for anything else, RTCP
/// included (payload types 72..=76 with the marker: RFC 5761 section 4).
pub fn parse_rtp(data: &[u8]) -> Option<RtpIn<'_>> {
    let header: [u8; RTP_HEADER_LEN] = data.get(..RTP_HEADER_LEN)?.try_into().ok()?;
    if header[0] >> 6 != RTP_VERSION || (64..=95).contains(&(header[1] & 0x7f)) {
        return None;
    }
    let csrcs = usize::from(header[0] & 0x0f);
    let mut start = RTP_HEADER_LEN + 4 * csrcs;
    if header[0] & 0x10 != 0 {
        let ext = data.get(start..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    let mut end = data.len();
    if header[0] & 0x20 != 0 {
        let padding = usize::from(*data.last()?);
        end = end.checked_sub(padding).filter(|_| padding > 0)?;
    }
    Some(RtpIn {
        payload_type: header[1] & 0x7f,
        marker: header[1] & 0x80 != 0,
        seq: u16::from_be_bytes([header[2], header[3]]),
        timestamp: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ssrc: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        payload: data.get(start..end)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::RtpReader;

    #[test]
    fn parse_rtp_reads_what_write_packet_wrote() {
        let mut stream = RtpStream::new(0, 0x0102_0304, 65535);
        let mut out = PacketBuf::new();
        stream.write_packet(&mut out, 160, true, &[b"abc"]);
        let p = parse_rtp(out.packet(0)).unwrap();
        assert_eq!((p.payload_type, p.marker, p.seq, p.timestamp, p.ssrc), (0, true, 65535, 160, 0x0102_0304));
        assert_eq!(p.payload, b"abc");
    }

    #[test]
    fn parse_rtp_skips_csrcs_extension_and_padding() {
        // V=2, P=1, X=1, CC=1; PT 8.
        let mut p = std::vec![0xb1, 8, 0, 7, 0, 0, 0, 9, 0, 0, 0, 1];
        p.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 5, 5, 5, 5]); // extension of one word
        p.extend_from_slice(b"xy");
        p.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let r = parse_rtp(&p).unwrap();
        assert_eq!((r.payload_type, r.seq, r.timestamp), (8, 7, 9));
        assert_eq!(r.payload, b"xy");
    }

    #[test]
    fn parse_rtp_refuses_what_is_not_rtp() {
        assert_eq!(parse_rtp(&[]), None);
        assert_eq!(parse_rtp(&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]), None, "short header");
        assert_eq!(parse_rtp(&[0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), None, "version 1");
        // An RTCP receiver report (PT 201: 0xc9, marker and 73).
        assert_eq!(parse_rtp(&[0x80, 0xc9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]), None);
        // CSRCs past the end; an extension past the end; padding larger than the packet, or zero.
        assert_eq!(parse_rtp(&[0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(parse_rtp(&[0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]), None);
        assert_eq!(parse_rtp(&[0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200]), None);
        assert_eq!(parse_rtp(&[0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]), None);
    }

    #[test]
    fn header_fields_parse_as_rfc3550() {
        let mut stream = RtpStream::new(96, 0xdead_beef, 1000);
        let mut out = PacketBuf::new();
        stream.write_packet(&mut out, 0x1234_5678, true, &[b"ab", b"", b"cde"]);
        stream.write_packet(&mut out, 90_000, false, &[b"xyz"]);
        assert_eq!(out.len(), 2);

        let p0 = RtpReader::new(out.packet(0)).unwrap();
        assert_eq!(p0.version(), 2);
        assert_eq!(p0.padding(), None);
        assert!(p0.extension().is_none());
        assert_eq!(p0.csrc_count(), 0);
        assert!(p0.mark());
        assert_eq!(p0.payload_type(), 96);
        assert_eq!(u16::from(p0.sequence_number()), 1000);
        assert_eq!(p0.timestamp(), 0x1234_5678);
        assert_eq!(p0.ssrc(), 0xdead_beef);
        assert_eq!(p0.payload(), b"abcde");

        let p1 = RtpReader::new(out.packet(1)).unwrap();
        assert!(!p1.mark());
        assert_eq!(u16::from(p1.sequence_number()), 1001);
        assert_eq!(p1.timestamp(), 90_000);
        assert_eq!(p1.payload(), b"xyz");
        assert_eq!(stream.seq, 1002);
    }

    #[test]
    fn header_bytes_are_big_endian() {
        let mut stream = RtpStream::new(33, 0x0102_0304, 0x0a0b);
        let mut out = PacketBuf::new();
        stream.write_packet(&mut out, 0x1122_3344, true, &[]);
        assert_eq!(out.packet(0), &[0x80, 0x80 | 33, 0x0a, 0x0b, 0x11, 0x22, 0x33, 0x44, 0x01, 0x02, 0x03, 0x04]);
    }

    #[test]
    fn sequence_number_wraps_to_zero() {
        let mut stream = RtpStream::new(96, 7, 65534);
        let mut out = PacketBuf::new();
        for _ in 0..4 {
            stream.write_packet(&mut out, 0, false, &[b"p"]);
        }
        let seqs: Vec<u16> =
            (0..out.len()).map(|i| u16::from(RtpReader::new(out.packet(i)).unwrap().sequence_number())).collect();
        assert_eq!(seqs, [65534, 65535, 0, 1]);
        assert_eq!(stream.seq, 2);
    }

    #[test]
    fn payload_type_cannot_set_marker() {
        let mut stream = RtpStream::new(0xe0, 1, 0);
        let mut out = PacketBuf::new();
        stream.write_packet(&mut out, 0, false, &[b"x"]);
        let p = RtpReader::new(out.packet(0)).unwrap();
        assert!(!p.mark());
        assert_eq!(p.payload_type(), 0x60);
    }

    #[test]
    fn packets_sit_back_to_back_behind_interleaved_headers() {
        let mut stream = RtpStream::new(96, 1, 0);
        let mut out = PacketBuf::new();
        let sizes = [0usize, 1, 1400, 7];
        for (i, n) in sizes.iter().enumerate() {
            let body = vec![i as u8; *n];
            stream.write_packet(&mut out, 0, false, &[&body]);
        }
        out.set_channel(2);
        // Read the buffer as a TCP client would (RFC 2326 10.12): `$`,
        // channel, 16-bit length, then that many bytes of RTP.
        let mut rest = out.interleaved();
        for (i, n) in sizes.iter().enumerate() {
            let (&[dollar, channel, hi, lo], after) = rest.split_first_chunk::<4>().unwrap();
            assert_eq!((dollar, channel), (b'$', 2));
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            assert_eq!(len, 12 + n);
            let (packet, after) = after.split_at(len);
            assert_eq!(packet, out.packet(i), "packet {i} as UDP sends it");
            let p = RtpReader::new(packet).unwrap();
            assert!(p.payload().iter().all(|&b| b == i as u8));
            assert_eq!(p.payload().len(), *n);
            rest = after;
        }
        assert!(rest.is_empty());
    }

    #[test]
    fn a_packet_made_elsewhere_gets_a_header_too() {
        let mut out = PacketBuf::from_packet(&[0x80, 0xc8, 0, 6]);
        out.set_channel(1);
        assert_eq!(out.interleaved(), [b'$', 1, 0, 4, 0x80, 0xc8, 0, 6]);
        assert_eq!(out.packet(0), [0x80, 0xc8, 0, 6]);
    }

    #[test]
    fn frozen_packets_are_slices_of_one_buffer() {
        let mut stream = RtpStream::new(96, 1, 0);
        let mut out = PacketBuf::new();
        stream.write_packet(&mut out, 0, false, &[b"ab"]);
        stream.write_packet(&mut out, 0, true, &[b"cde"]);
        let written = out.data.clone();
        let frozen = out.freeze();
        assert_eq!(frozen.interleaved()[..], written[..]);
        assert_eq!(frozen.len(), 2);
        for i in 0..2 {
            let shared = frozen.share(i);
            assert_eq!(&shared[..], frozen.packet(i));
            // the same memory: behind the packet's interleaved header in the frame's buffer
            let offset = shared.as_ptr() as usize - frozen.data.as_ptr() as usize;
            assert_eq!(offset, frozen.packets[i].start as usize);
        }
    }

    #[test]
    fn buffer_growth_is_amortized() {
        let mut stream = RtpStream::new(96, 1, 0);
        let mut out = PacketBuf::new();
        let body = [0x55u8; 100];
        let mut reallocations = 0;
        let mut capacity = out.data.capacity();
        for _ in 0..10_000 {
            stream.write_packet(&mut out, 0, false, &[&body]);
            if out.data.capacity() != capacity {
                reallocations += 1;
                capacity = out.data.capacity();
            }
        }
        // 1.12 MB written: geometric growth needs about 20 reallocations.
        assert!(reallocations < 40, "{reallocations} reallocations");
    }
}
