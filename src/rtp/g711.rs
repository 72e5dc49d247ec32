//! G.711 (µ-law PCMU / A-law PCMA) over RTP (RFC 3551): 8000 Hz, one byte per sample.
use super::packet::{PacketBuf, RtpStream};

pub const PT_PCMU: u8 = 0;
pub const PT_PCMA: u8 = 8;
pub const CLOCK_RATE: u32 = 8000;

/// Appends `samples` as packets of at most `stream.max_payload` bytes (split
/// evenly, never a packet over the MTU); the first gets timestamp `ts`, each
/// next one `ts` plus the samples before it. No marker (continuous audio).
pub fn packetize(stream: &mut RtpStream, samples: &[u8], ts: u32, out: &mut PacketBuf) {
    let _ = (stream, samples, ts, out);
    todo!("helper")
}
