//! H.265 over RTP (RFC 7798): single NAL unit packets and fragmentation units.
use super::packet::{PacketBuf, RtpStream};

pub const NAL_VPS: u8 = 32;
pub const NAL_SPS: u8 = 33;
pub const NAL_PPS: u8 = 34;
pub const NAL_AUD: u8 = 35;
pub const NAL_PREFIX_SEI: u8 = 39;

/// `nal_unit_type`: bits 1..6 of the first header byte; 0 for input shorter than the 2-byte header.
pub fn nal_type(nal: &[u8]) -> u8 {
    let _ = nal;
    todo!("helper")
}

/// Coded slice segments (types 0..=31) carry the picture.
pub fn is_vcl(nal: &[u8]) -> bool {
    let _ = nal;
    todo!("helper")
}

/// IRAP pictures (types 16..=23: BLA, IDR, CRA): a decoder can start here.
pub fn is_irap(nal: &[u8]) -> bool {
    let _ = nal;
    todo!("helper")
}

/// True when a VCL NAL unit starts a new picture: `first_slice_segment_in_pic_flag`
/// (the first bit after the 2-byte NAL header) is 1. False for short input.
pub fn starts_picture(nal: &[u8]) -> bool {
    let _ = nal;
    todo!("helper")
}

/// Appends the RTP packets for one NAL unit: a single NAL unit packet when it
/// fits in `stream.max_payload`, else fragmentation units (RFC 7798 4.4.3:
/// PayloadHdr with type 49 and the original LayerId/TID, FU header S|E|FuType),
/// each payload at most `max_payload` bytes. `marker` on the last packet
/// written when set. All packets get timestamp `ts`. Nothing for a NAL unit
/// shorter than its 2-byte header.
pub fn packetize_nal(stream: &mut RtpStream, nal: &[u8], ts: u32, marker: bool, out: &mut PacketBuf) {
    let _ = (stream, nal, ts, marker, out);
    todo!("helper")
}
