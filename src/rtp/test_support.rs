//! What the packetizers' tests share: deterministic random bytes, and RTP
//! packets read back with `rtp-rs` with their fixed header checked.

use super::PacketBuf;
use rtp_rs::RtpReader;

/// `len` pseudo-random bytes (xorshift64), the same for the same seed.
pub fn xorshift_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The packets of a buffer, field by field.
pub struct Sent {
    pub seqs: Vec<u16>,
    pub timestamps: Vec<u32>,
    pub markers: Vec<bool>,
    pub payloads: Vec<Vec<u8>>,
}

impl Sent {
    pub fn payload_lens(&self) -> Vec<usize> {
        self.payloads.iter().map(Vec::len).collect()
    }
}

/// Parses every packet with `rtp-rs`, asserting version 2, payload type `pt`,
/// SSRC `ssrc`, and no padding, extension or CSRC (we never send them).
pub fn read_packets(out: &PacketBuf, pt: u8, ssrc: u32) -> Sent {
    let mut sent = Sent { seqs: vec![], timestamps: vec![], markers: vec![], payloads: vec![] };
    for i in 0..out.len() {
        let rtp = RtpReader::new(out.packet(i)).unwrap();
        assert_eq!(rtp.version(), 2, "packet {i}");
        assert_eq!(rtp.payload_type(), pt, "packet {i}");
        assert_eq!(rtp.ssrc(), ssrc, "packet {i}");
        assert_eq!(rtp.padding(), None, "packet {i}");
        assert!(rtp.extension().is_none(), "packet {i}");
        assert_eq!(rtp.csrc_count(), 0, "packet {i}");
        sent.seqs.push(u16::from(rtp.sequence_number()));
        sent.timestamps.push(rtp.timestamp());
        sent.markers.push(rtp.mark());
        sent.payloads.push(rtp.payload().to_vec());
    }
    sent
}
