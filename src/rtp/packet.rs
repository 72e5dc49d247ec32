//! RTP fixed header and the packet buffer (OWNED BY HELPER: rtp).
use alloc::vec::Vec;

/// Where one RTP packet sits inside [`PacketBuf::data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketRef {
    pub start: u32,
    pub len: u32,
}

/// Many RTP packets back to back in one buffer.
#[derive(Debug, Default, Clone)]
pub struct PacketBuf {
    pub data: Vec<u8>,
    pub packets: Vec<PacketRef>,
}

impl PacketBuf {
    pub fn new() -> Self {
        Self::default()
    }
    /// The bytes of packet `i` (a whole RTP packet, header included).
    pub fn packet(&self, i: usize) -> &[u8] {
        let p = self.packets[i];
        &self.data[p.start as usize..(p.start + p.len) as usize]
    }
    pub fn len(&self) -> usize {
        self.packets.len()
    }
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
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
    pub fn write_packet(&mut self, out: &mut PacketBuf, ts: u32, marker: bool, payload: &[&[u8]]) {
        let _ = (out, ts, marker, payload);
        todo!("helper")
    }
}
