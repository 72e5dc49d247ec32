//! JPEG over RTP (RFC 2435): parse a baseline JPEG and packetize its scan.
use alloc::vec::Vec;

use super::packet::{PacketBuf, RtpStream};

/// Why a JPEG image cannot be sent as RFC 2435 describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JpegError {
    /// No SOI, truncated, or a marker segment that does not parse.
    Malformed(&'static str),
    /// Valid JPEG that RFC 2435 cannot carry (progressive, 4:4:4, a side over
    /// 2040 pixels, more than two quantization tables, non-standard Huffman tables...).
    Unsupported(&'static str),
}

/// What the RTP/JPEG header needs from one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegImage<'a> {
    pub width: u16,
    pub height: u16,
    /// RFC 2435 type: 0 (4:2:2) or 1 (4:2:0), plus 64 when a restart interval is present.
    pub rtp_type: u8,
    /// From DRI; 0 when none.
    pub restart_interval: u16,
    /// The quantization tables in table-id order, 64 bytes each (8-bit precision).
    pub qtables: Vec<&'a [u8]>,
    /// The entropy-coded scan data: after the SOS header, up to (not including) EOI.
    pub scan: &'a [u8],
}

/// Parses a baseline JPEG (SOI, DQT, SOF0, DHT, DRI, SOS, EOI; APPn/COM skipped).
pub fn parse(data: &[u8]) -> Result<JpegImage<'_>, JpegError> {
    let _ = data;
    todo!("helper")
}

/// Appends the RTP packets of one image: the 8-byte main JPEG header (type-specific 0,
/// fragment offset, type, Q = 255, width/8, height/8), the restart marker header for
/// types 64..127, and on the first packet (offset 0) the quantization table header
/// with the tables in-band; each payload at most `stream.max_payload`; marker on the
/// last packet; all packets timestamp `ts`.
pub fn packetize(stream: &mut RtpStream, image: &JpegImage<'_>, ts: u32, out: &mut PacketBuf) {
    let _ = (stream, image, ts, out);
    todo!("helper")
}
