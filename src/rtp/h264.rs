//! H.264 over RTP (RFC 6184), packetization-mode 1 (OWNED BY HELPER: rtp).
use super::packet::{PacketBuf, RtpStream};

pub const NAL_SLICE: u8 = 1;
pub const NAL_IDR: u8 = 5;
pub const NAL_SEI: u8 = 6;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

/// `nal_unit_type` (low 5 bits of the first byte); 0 for an empty NAL unit.
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Coded slice NAL units (types 1..=5): these carry the picture.
pub fn is_vcl(nal: &[u8]) -> bool {
    matches!(nal_type(nal), 1..=5)
}

/// True when a VCL NAL unit starts a new picture: `first_mb_in_slice == 0`,
/// i.e. the first bit of the slice header (an ue(v)) is 1.
pub fn starts_picture(nal: &[u8]) -> bool {
    let _ = nal;
    todo!("helper")
}

/// Appends the RTP packets for one NAL unit to `out`: a single NAL unit packet
/// when it fits in `stream.max_payload`, else FU-A fragments (FU indicator =
/// F|NRI|28, FU header = S|E|R|type) each at most `max_payload` bytes.
/// `marker` goes on the last packet written (the caller sets it for the last
/// NAL unit of an access unit). All packets get timestamp `ts`.
pub fn packetize_nal(stream: &mut RtpStream, nal: &[u8], ts: u32, marker: bool, out: &mut PacketBuf) {
    let _ = (stream, nal, ts, marker, out);
    todo!("helper")
}
