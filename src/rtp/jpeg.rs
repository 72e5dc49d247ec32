//! JPEG over RTP (RFC 2435): parse a baseline JPEG and packetize its scan.
use alloc::vec::Vec;

use super::packet::{PacketBuf, RtpStream, PACKET_OVERHEAD};

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
    /// The quantization tables in RFC 2435 table-id order, 64 bytes each (8-bit
    /// precision, zig-zag order as in DQT): `[0]` the luma table, `[1]` the one
    /// Cb and Cr share. [`parse`] always gives both, the same bytes twice when
    /// the JPEG uses one table for all components.
    pub qtables: Vec<&'a [u8]>,
    /// The entropy-coded scan data: after the SOS header, up to (not including) EOI.
    pub scan: &'a [u8],
}

/// Parses a baseline JPEG (SOI, DQT, SOF0, DHT, DRI, SOS, EOI; APPn/COM skipped).
///
/// SOF1 (extended sequential, 8-bit samples) is read like SOF0. The scan ends
/// at the first marker that is not a restart marker: EOI there, anything after
/// it ignored; with no EOI at all the scan runs to the end of `data`.
pub fn parse(data: &[u8]) -> Result<JpegImage<'_>, JpegError> {
    use JpegError::{Malformed, Unsupported};
    if !data.starts_with(&[0xff, SOI]) {
        return Err(Malformed("no SOI marker"));
    }
    let mut pos = 2;
    let mut qtables: [Option<&[u8]>; 4] = [None; 4];
    // [class: DC, AC][table id]
    let mut huffman = [[HuffmanTable::Unset; 4]; 2];
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0u16;
    loop {
        let (marker, after_marker) = read_marker(data, pos)?;
        match marker {
            TEM => {
                pos = after_marker;
                continue;
            }
            SOI => return Err(Malformed("second SOI marker")),
            EOI => return Err(Malformed("EOI before any scan")),
            RST0..=RST7 => return Err(Malformed("restart marker outside a scan")),
            _ => {}
        }
        let (body, next) = read_segment(data, after_marker)?;
        match marker {
            DQT => read_dqt(body, &mut qtables)?,
            DHT => read_dht(body, &mut huffman)?,
            DRI => restart_interval = read_dri(body)?,
            SOF0 | SOF1 => {
                if frame.is_some() {
                    return Err(Malformed("two frame headers"));
                }
                frame = Some(read_sof(body)?);
            }
            0xc2 | 0xc6 | 0xca | 0xce => return Err(Unsupported("progressive JPEG")),
            0xc3 | 0xc7 | 0xcb | 0xcf => return Err(Unsupported("lossless JPEG")),
            0xc5 | 0xde | 0xdf => return Err(Unsupported("hierarchical JPEG")),
            0xc9 | 0xcc | 0xcd => return Err(Unsupported("arithmetic coding")),
            SOS => {
                let frame = frame.ok_or(Malformed("SOS before SOF"))?;
                check_scan_header(body, &frame, &huffman)?;
                let scan = scan_data(data, next)?;
                let table = |id: u8| qtables.get(usize::from(id)).copied().flatten();
                let luma = table(frame.luma_qtable).ok_or(Malformed("quantization table used but not defined"))?;
                let chroma = table(frame.chroma_qtable).ok_or(Malformed("quantization table used but not defined"))?;
                let mut rtp_type = frame.rtp_type;
                if restart_interval != 0 {
                    rtp_type += RTP_TYPE_RESTART;
                }
                return Ok(JpegImage {
                    width: frame.width,
                    height: frame.height,
                    rtp_type,
                    restart_interval,
                    qtables: alloc::vec![luma, chroma],
                    scan,
                });
            }
            // APPn, COM and anything else with a length: nothing RFC 2435 carries.
            _ => {}
        }
        pos = next;
    }
}

/// Appends the RTP packets of one image: the 8-byte main JPEG header (type-specific 0,
/// fragment offset, type, Q = 255, width/8, height/8), the restart marker header for
/// types 64..127, and on the first packet (offset 0) the quantization table header
/// with the tables in-band; each payload at most `stream.max_payload`; marker on the
/// last packet; all packets timestamp `ts`.
///
/// A `max_payload` too small for the headers plus one scan byte is treated as that
/// size. Writes nothing for an image no RFC 2435 packet can describe (which
/// [`parse`] never returns): an empty scan, one of 16 MiB or more (24-bit fragment
/// offset), or tables longer than 65535 bytes.
pub fn packetize(stream: &mut RtpStream, image: &JpegImage<'_>, ts: u32, out: &mut PacketBuf) {
    let scan = image.scan;
    if scan.is_empty() || scan.len() > MAX_SCAN_LEN {
        return;
    }
    let tables_len = image.qtables.iter().fold(0usize, |acc, t| acc.saturating_add(t.len()));
    let Ok(tables_len_u16) = u16::try_from(tables_len) else {
        return;
    };
    let has_restart_header = (RTP_TYPE_RESTART..128).contains(&image.rtp_type);
    // F = 1, L = 1, restart count 0x3FFF: packets are not cut at restart
    // intervals, so the receiver must reassemble the whole frame.
    let [ri_hi, ri_lo] = image.restart_interval.to_be_bytes();
    let restart_header = [ri_hi, ri_lo, 0xff, 0xff];
    let restart_part: &[u8] = if has_restart_header { &restart_header } else { &[] };
    let [len_hi, len_lo] = tables_len_u16.to_be_bytes();
    // MBZ, precision (bit i set = table i is 16-bit; all 8-bit here), length.
    let qtable_header = [0, 0, len_hi, len_lo];
    let width8 = blocks_of_8(image.width);
    let height8 = blocks_of_8(image.height);

    let repeated_header = MAIN_HEADER_LEN + restart_part.len();
    let first_header = repeated_header + QTABLE_HEADER_LEN + tables_len;
    let first_room = stream.max_payload.saturating_sub(first_header).max(1);
    let room = stream.max_payload.saturating_sub(repeated_header).max(1);
    let packets = 1 + scan.len().saturating_sub(first_room).div_ceil(room);
    out.data.reserve(
        scan.len()
            .saturating_add(first_header)
            .saturating_add(packets.saturating_mul(repeated_header + PACKET_OVERHEAD)),
    );
    out.packets.reserve(packets);

    let mut offset = 0usize;
    while offset < scan.len() {
        let first = offset == 0;
        let end = offset.saturating_add(if first { first_room } else { room }).min(scan.len());
        let Some(chunk) = scan.get(offset..end) else {
            return;
        };
        // offset < MAX_SCAN_LEN = 2^24, so the low three bytes hold it all.
        let [_, off_hi, off_mid, off_lo] = (offset as u32).to_be_bytes();
        let main_header = [0, off_hi, off_mid, off_lo, image.rtp_type, Q_IN_BAND, width8, height8];
        let last = end == scan.len();
        if first {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(4 + image.qtables.len());
            parts.extend_from_slice(&[&main_header, restart_part, &qtable_header]);
            parts.extend(image.qtables.iter().copied());
            parts.push(chunk);
            stream.write_packet(out, ts, last, &parts);
        } else {
            stream.write_packet(out, ts, last, &[&main_header, restart_part, chunk]);
        }
        offset = end;
    }
}

/// Width or height in the 8-pixel units of the main header, rounded up;
/// 255 (2040 pixels) at most.
fn blocks_of_8(pixels: u16) -> u8 {
    u8::try_from(pixels.div_ceil(8)).unwrap_or(u8::MAX)
}

const SOI: u8 = 0xd8;
const EOI: u8 = 0xd9;
const SOS: u8 = 0xda;
const DQT: u8 = 0xdb;
const DRI: u8 = 0xdd;
const DHT: u8 = 0xc4;
const SOF0: u8 = 0xc0;
const SOF1: u8 = 0xc1;
const RST0: u8 = 0xd0;
const RST7: u8 = 0xd7;
const TEM: u8 = 0x01;

const MAIN_HEADER_LEN: usize = 8;
const QTABLE_HEADER_LEN: usize = 4;
/// Q values 128..=255 carry the tables in-band; 255 also tells receivers the
/// tables may change from frame to frame.
const Q_IN_BAND: u8 = 255;
const RTP_TYPE_RESTART: u8 = 64;
/// The main header's 8-bit width and height count 8-pixel blocks.
const MAX_SIDE: u16 = 2040;
/// The fragment offset has 24 bits.
const MAX_SCAN_LEN: usize = 0xff_ffff;

/// What SOF says, reduced to what RFC 2435 can carry.
#[derive(Debug, Clone, Copy)]
struct Frame {
    width: u16,
    height: u16,
    /// 0 (4:2:2) or 1 (4:2:0).
    rtp_type: u8,
    component_ids: [u8; 3],
    luma_qtable: u8,
    chroma_qtable: u8,
}

/// The content of one Huffman table slot, as far as RFC 2435 cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HuffmanTable {
    /// No DHT defined it: MJPEG convention, slot 0 luminance, slot 1 chrominance.
    Unset,
    Standard(StandardTable),
    Custom,
}

/// The four tables of JPEG Annex K.3, which RFC 2435 receivers rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StandardTable {
    DcLuminance,
    DcChrominance,
    AcLuminance,
    AcChrominance,
}

/// The marker at `pos` (after any 0xFF fill bytes) and the index after it.
fn read_marker(data: &[u8], pos: usize) -> Result<(u8, usize), JpegError> {
    if data.get(pos) != Some(&0xff) {
        return Err(JpegError::Malformed("expected a marker"));
    }
    let mut i = pos + 1;
    while data.get(i) == Some(&0xff) {
        i += 1;
    }
    match data.get(i) {
        None => Err(JpegError::Malformed("truncated before a marker")),
        Some(0) => Err(JpegError::Malformed("expected a marker")),
        Some(&marker) => Ok((marker, i + 1)),
    }
}

/// The body of the marker segment whose length field is at `pos`, and the
/// index after the segment.
fn read_segment(data: &[u8], pos: usize) -> Result<(&[u8], usize), JpegError> {
    let len = match data.get(pos..pos.saturating_add(2)) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => return Err(JpegError::Malformed("truncated segment length")),
    };
    if len < 2 {
        return Err(JpegError::Malformed("segment length below 2"));
    }
    let end = pos.saturating_add(len);
    let body = data.get(pos + 2..end).ok_or(JpegError::Malformed("truncated segment"))?;
    Ok((body, end))
}

fn read_dqt<'a>(mut body: &'a [u8], tables: &mut [Option<&'a [u8]>; 4]) -> Result<(), JpegError> {
    while let Some((&pq_tq, rest)) = body.split_first() {
        match pq_tq >> 4 {
            0 => {}
            1 => return Err(JpegError::Unsupported("16-bit quantization tables")),
            _ => return Err(JpegError::Malformed("bad quantization table precision")),
        }
        let slot =
            tables.get_mut(usize::from(pq_tq & 0x0f)).ok_or(JpegError::Malformed("quantization table id over 3"))?;
        let (table, rest) = rest.split_at_checked(64).ok_or(JpegError::Malformed("truncated quantization table"))?;
        *slot = Some(table);
        body = rest;
    }
    Ok(())
}

fn read_dht(mut body: &[u8], tables: &mut [[HuffmanTable; 4]; 2]) -> Result<(), JpegError> {
    while let Some((&tc_th, rest)) = body.split_first() {
        let (counts, rest) = rest.split_at_checked(16).ok_or(JpegError::Malformed("truncated Huffman table"))?;
        let n = counts.iter().map(|&c| usize::from(c)).sum();
        let (values, rest) = rest.split_at_checked(n).ok_or(JpegError::Malformed("truncated Huffman table"))?;
        let slot = tables
            .get_mut(usize::from(tc_th >> 4))
            .and_then(|class| class.get_mut(usize::from(tc_th & 0x0f)))
            .ok_or(JpegError::Malformed("bad Huffman table class or id"))?;
        let candidates = if tc_th >> 4 == 0 {
            [StandardTable::DcLuminance, StandardTable::DcChrominance]
        } else {
            [StandardTable::AcLuminance, StandardTable::AcChrominance]
        };
        *slot = candidates
            .into_iter()
            .find(|t| t.counts() == counts && t.values() == values)
            .map_or(HuffmanTable::Custom, HuffmanTable::Standard);
        body = rest;
    }
    Ok(())
}

fn read_dri(body: &[u8]) -> Result<u16, JpegError> {
    match body {
        &[hi, lo] => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(JpegError::Malformed("DRI length is not 4")),
    }
}

fn read_sof(body: &[u8]) -> Result<Frame, JpegError> {
    use JpegError::{Malformed, Unsupported};
    let (&[precision, h_hi, h_lo, w_hi, w_lo, count], components) =
        body.split_first_chunk::<6>().ok_or(Malformed("truncated SOF"))?;
    if components.len() != usize::from(count) * 3 {
        return Err(Malformed("SOF length does not match its component count"));
    }
    if precision != 8 {
        return Err(Unsupported("sample precision other than 8 bits"));
    }
    let [y, cb, cr] = match components {
        [y0, y1, y2, b0, b1, b2, r0, r1, r2] => [[*y0, *y1, *y2], [*b0, *b1, *b2], [*r0, *r1, *r2]],
        [_, _, _] => return Err(Unsupported("grayscale JPEG")),
        _ => return Err(Unsupported("component count other than 3 (YCbCr)")),
    };
    // Sampling factors: H in the high nibble, V in the low one.
    let rtp_type = match (y[1], cb[1], cr[1]) {
        (0x21, 0x11, 0x11) => 0,
        (0x22, 0x11, 0x11) => 1,
        (a, b, c) if a == b && b == c => return Err(Unsupported("4:4:4 sampling (only 4:2:2 and 4:2:0)")),
        _ => return Err(Unsupported("sampling other than Y 2x1 or 2x2 with chroma 1x1")),
    };
    if [y[2], cb[2], cr[2]].iter().any(|&t| t > 3) {
        return Err(Malformed("quantization table id over 3"));
    }
    if cb[2] != cr[2] {
        return Err(Unsupported("Cb and Cr use different quantization tables (more than two)"));
    }
    let height = u16::from_be_bytes([h_hi, h_lo]);
    let width = u16::from_be_bytes([w_hi, w_lo]);
    if width == 0 || height == 0 {
        return Err(Unsupported("zero width or height (DNL)"));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Unsupported("width or height over 2040 pixels"));
    }
    Ok(Frame { width, height, rtp_type, component_ids: [y[0], cb[0], cr[0]], luma_qtable: y[2], chroma_qtable: cb[2] })
}

/// Checks that the scan is the one RFC 2435 receivers rebuild: all three
/// components interleaved in frame order, luma coded with the standard
/// luminance Huffman tables and chroma with the chrominance ones.
fn check_scan_header(body: &[u8], frame: &Frame, huffman: &[[HuffmanTable; 4]; 2]) -> Result<(), JpegError> {
    use JpegError::{Malformed, Unsupported};
    let (&count, rest) = body.split_first().ok_or(Malformed("truncated SOS"))?;
    if rest.len() != usize::from(count) * 2 + 3 {
        return Err(Malformed("SOS length does not match its component count"));
    }
    let [y0, y1, b0, b1, r0, r1, ss, se, ah_al] = *rest else {
        return Err(Unsupported("scan without all three components (non-interleaved)"));
    };
    if (ss, se, ah_al) != (0, 63, 0) {
        return Err(Malformed("scan is not a sequential full-spectrum scan"));
    }
    if [y0, b0, r0] != frame.component_ids {
        return Err(Unsupported("scan components not in frame order"));
    }
    let resolve = |class: usize, id: u8, unset_as: [StandardTable; 2]| match huffman
        .get(class)
        .and_then(|c| c.get(usize::from(id)))
    {
        Some(HuffmanTable::Standard(t)) => Ok(*t),
        Some(HuffmanTable::Custom) => Err(Unsupported("non-standard Huffman tables")),
        Some(HuffmanTable::Unset) => {
            unset_as.get(usize::from(id)).copied().ok_or(Malformed("Huffman table used but not defined"))
        }
        None => Err(Malformed("Huffman table id over 3")),
    };
    let dc = [StandardTable::DcLuminance, StandardTable::DcChrominance];
    let ac = [StandardTable::AcLuminance, StandardTable::AcChrominance];
    let wanted = [(y1, dc[0], ac[0]), (b1, dc[1], ac[1]), (r1, dc[1], ac[1])];
    for (td_ta, want_dc, want_ac) in wanted {
        if resolve(0, td_ta >> 4, dc)? != want_dc || resolve(1, td_ta & 0x0f, ac)? != want_ac {
            return Err(Unsupported("non-standard Huffman tables"));
        }
    }
    Ok(())
}

/// The entropy-coded data from `start` to the first marker other than RSTn
/// (0xFF 0x00 is a stuffed 0xFF byte); that marker must be EOI. With no
/// marker at all, the rest of `data`.
fn scan_data(data: &[u8], start: usize) -> Result<&[u8], JpegError> {
    let rest = data.get(start..).ok_or(JpegError::Malformed("truncated before the scan"))?;
    let mut i = 0;
    let end = loop {
        let Some(ff) = rest.get(i..).and_then(|r| r.iter().position(|&b| b == 0xff)).map(|p| i + p) else {
            break rest.len();
        };
        let mut j = ff + 1;
        while rest.get(j) == Some(&0xff) {
            j += 1;
        }
        match rest.get(j) {
            // Fill bytes at the very end: a truncated file.
            None => break ff,
            Some(0 | RST0..=RST7) => i = j + 1,
            Some(&EOI) => break ff,
            Some(_) => return Err(JpegError::Malformed("marker other than EOI after the scan")),
        }
    };
    let scan = rest.get(..end).ok_or(JpegError::Malformed("truncated scan"))?;
    if scan.is_empty() {
        return Err(JpegError::Malformed("empty scan"));
    }
    if scan.len() > MAX_SCAN_LEN {
        return Err(JpegError::Unsupported("scan of 16 MiB or more"));
    }
    Ok(scan)
}

impl StandardTable {
    /// BITS: how many codes of each length 1..=16.
    fn counts(self) -> &'static [u8; 16] {
        match self {
            StandardTable::DcLuminance => &DC_LUMINANCE_COUNTS,
            StandardTable::DcChrominance => &DC_CHROMINANCE_COUNTS,
            StandardTable::AcLuminance => &AC_LUMINANCE_COUNTS,
            StandardTable::AcChrominance => &AC_CHROMINANCE_COUNTS,
        }
    }
    /// HUFFVAL: the symbols in code order.
    fn values(self) -> &'static [u8] {
        match self {
            StandardTable::DcLuminance | StandardTable::DcChrominance => &DC_VALUES,
            StandardTable::AcLuminance => &AC_LUMINANCE_VALUES,
            StandardTable::AcChrominance => &AC_CHROMINANCE_VALUES,
        }
    }
}

// JPEG (ITU-T T.81) Annex K.3, tables K.3 to K.6.
const DC_LUMINANCE_COUNTS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMINANCE_COUNTS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMINANCE_COUNTS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_LUMINANCE_VALUES: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, //
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, //
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, //
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, //
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, //
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, //
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, //
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, //
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, //
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, //
    0xf9, 0xfa,
];
const AC_CHROMINANCE_COUNTS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMINANCE_VALUES: [u8; 162] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, //
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, //
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, //
    0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, //
    0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, //
    0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, //
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, //
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, //
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, //
    0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, //
    0xf9, 0xfa,
];

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::RtpReader;

    // Made by ffmpeg: see tests/data/jpeg/README.md.
    const YUV420: &[u8] = include_bytes!("../../tests/data/jpeg/420.jpg");
    const YUV422: &[u8] = include_bytes!("../../tests/data/jpeg/gst-422.jpg");
    const GST_420: &[u8] = include_bytes!("../../tests/data/jpeg/gst-420.jpg");
    /// 4:2:2 as Y 2x2 / chroma 1x2: not the MCU layout of RFC 2435 type 0.
    const FFMPEG_422: &[u8] = include_bytes!("../../tests/data/jpeg/422-ffmpeg.jpg");
    const YUV444: &[u8] = include_bytes!("../../tests/data/jpeg/444.jpg");
    const OPTIMAL_HUFFMAN: &[u8] = include_bytes!("../../tests/data/jpeg/420-optimal-huffman.jpg");
    const TWO_TABLES: &[u8] = include_bytes!("../../tests/data/jpeg/420-two-tables.jpg");
    const DRI_420: &[u8] = include_bytes!("../../tests/data/jpeg/420-dri.jpg");
    const ODD_SIZE: &[u8] = include_bytes!("../../tests/data/jpeg/420-70x38.jpg");

    const CARRIABLE: [&[u8]; 6] = [YUV420, YUV422, GST_420, TWO_TABLES, DRI_420, ODD_SIZE];

    /// `data` with a DRI segment added before SOF. Its scan has no RSTn
    /// markers, so it would not decode: for the RTP headers only.
    fn with_dri(data: &[u8], interval: u16) -> Vec<u8> {
        let mut out = data.to_vec();
        let [hi, lo] = interval.to_be_bytes();
        out.splice(segment(data, SOF0).start..segment(data, SOF0).start, [0xff, 0xdd, 0, 4, hi, lo]);
        out
    }

    fn find(data: &[u8], pattern: &[u8]) -> usize {
        data.windows(pattern.len()).position(|w| w == pattern).unwrap()
    }

    /// Where `part` (a sub-slice of `data`) starts inside `data`.
    fn offset_in(data: &[u8], part: &[u8]) -> usize {
        let offset = part.as_ptr() as usize - data.as_ptr() as usize;
        assert!(offset + part.len() <= data.len());
        offset
    }

    /// Byte range of the whole segment (marker included) of the first `marker`.
    fn segment(data: &[u8], marker: u8) -> core::ops::Range<usize> {
        let start = find(data, &[0xff, marker]);
        let len = usize::from(u16::from_be_bytes([data[start + 2], data[start + 3]]));
        start..start + 2 + len
    }

    fn replace_segment(data: &[u8], marker: u8, with: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        out.splice(segment(data, marker), with.iter().copied());
        out
    }

    fn patched(data: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        out[at..at + bytes.len()].copy_from_slice(bytes);
        out
    }

    /// Offset of the SOF0 sample precision byte (P, Y, X, Nf, then components).
    fn sof_body(data: &[u8]) -> usize {
        segment(data, SOF0).start + 4
    }

    /// What an RFC 2435 receiver learns from one frame.
    #[derive(Debug, PartialEq, Eq)]
    struct Received {
        rtp_type: u8,
        width8: u8,
        height8: u8,
        restart_interval: Option<u16>,
        qtables: Vec<Vec<u8>>,
        scan: Vec<u8>,
    }

    /// Receiver side of RFC 2435 section 3.1 for one frame with Q = 255:
    /// main header, restart marker header for types 64..127, quantization
    /// table header in the packet at offset 0. Refuses what a receiver would
    /// have to drop: a gap in fragment offsets or sequence numbers, a header
    /// that changes within the frame, a marker bit before the end or none.
    fn depacketize(out: &PacketBuf) -> Result<Received, String> {
        let mut got: Option<Received> = None;
        let mut first_seq_ts: Option<(u16, u32)> = None;
        for i in 0..out.len() {
            let rtp = RtpReader::new(out.packet(i)).map_err(|e| format!("packet {i}: {e:?}"))?;
            let seq = u16::from(rtp.sequence_number());
            match first_seq_ts {
                None => first_seq_ts = Some((seq, rtp.timestamp())),
                Some((s0, ts0)) => {
                    if seq != s0.wrapping_add(i as u16) || rtp.timestamp() != ts0 {
                        return Err(format!("packet {i}: sequence or timestamp break"));
                    }
                }
            }
            if rtp.mark() != (i == out.len() - 1) {
                return Err(format!("packet {i}: marker {}", rtp.mark()));
            }
            let p = rtp.payload();
            if p.len() < 8 {
                return Err(format!("packet {i}: no main header"));
            }
            let (type_specific, offset) = (p[0], u32::from_be_bytes([0, p[1], p[2], p[3]]) as usize);
            let (rtp_type, q, width8, height8) = (p[4], p[5], p[6], p[7]);
            if type_specific != 0 || q != 255 {
                return Err(format!("packet {i}: type-specific {type_specific} Q {q}"));
            }
            let mut rest = &p[8..];
            let mut restart_interval = None;
            if (64..128).contains(&rtp_type) {
                if rest.len() < 4 {
                    return Err(format!("packet {i}: no restart header"));
                }
                let flags_count = u16::from_be_bytes([rest[2], rest[3]]);
                if flags_count != 0xffff {
                    return Err(format!("packet {i}: F/L/count {flags_count:#x}, frame not reassembled whole"));
                }
                restart_interval = Some(u16::from_be_bytes([rest[0], rest[1]]));
                rest = &rest[4..];
            }
            if offset == 0 {
                if got.is_some() {
                    return Err(format!("packet {i}: second offset 0"));
                }
                if rest.len() < 4 || rest[0] != 0 || rest[1] != 0 {
                    return Err(format!("packet {i}: bad quantization table header"));
                }
                let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
                if len == 0 || len % 64 != 0 || rest.len() < 4 + len {
                    return Err(format!("packet {i}: quantization table length {len}"));
                }
                let qtables = rest[4..4 + len].chunks(64).map(<[u8]>::to_vec).collect();
                got = Some(Received { rtp_type, width8, height8, restart_interval, qtables, scan: vec![] });
                rest = &rest[4 + len..];
            }
            let Some(frame) = got.as_mut() else {
                return Err(format!("packet {i}: frame does not start at offset 0"));
            };
            if (frame.rtp_type, frame.width8, frame.height8, frame.restart_interval)
                != (rtp_type, width8, height8, restart_interval)
            {
                return Err(format!("packet {i}: header changed within the frame"));
            }
            if offset != frame.scan.len() {
                return Err(format!("packet {i}: offset {offset}, expected {}", frame.scan.len()));
            }
            if rest.is_empty() {
                return Err(format!("packet {i}: no scan data"));
            }
            frame.scan.extend_from_slice(rest);
        }
        got.ok_or_else(|| "no packets".into())
    }

    fn send(image: &JpegImage<'_>, max_payload: usize, seq: u16, ts: u32) -> PacketBuf {
        let mut stream = RtpStream::new(26, 0x1234_5678, seq);
        stream.max_payload = max_payload;
        let mut out = PacketBuf::new();
        packetize(&mut stream, image, ts, &mut out);
        assert_eq!(stream.seq, seq.wrapping_add(out.len() as u16));
        out
    }

    fn expect_received(image: &JpegImage<'_>, got: &Received) {
        assert_eq!(got.rtp_type, image.rtp_type);
        assert_eq!(usize::from(got.width8), usize::from(image.width).div_ceil(8));
        assert_eq!(usize::from(got.height8), usize::from(image.height).div_ceil(8));
        assert_eq!(got.restart_interval, (image.rtp_type >= 64).then_some(image.restart_interval));
        assert_eq!(got.qtables, image.qtables.iter().map(|t| t.to_vec()).collect::<Vec<_>>());
        assert_eq!(got.scan, image.scan);
    }

    #[test]
    fn fixtures_give_rfc2435_types_sizes_and_restart_intervals() {
        // (image, type, width, height, restart interval): ffmpeg writes DRI 4
        // with slices, one restart interval per row of four 16-pixel MCUs.
        let dri_422 = with_dri(YUV422, 300);
        let cases: [(&[u8], u8, u16, u16, u16); 7] = [
            (YUV420, 1, 64, 48, 0),
            (YUV422, 0, 64, 48, 0),
            (GST_420, 1, 64, 48, 0),
            (TWO_TABLES, 1, 64, 48, 0),
            (DRI_420, 65, 64, 48, 4),
            (&dri_422, 64, 64, 48, 300),
            (ODD_SIZE, 1, 70, 38, 0),
        ];
        for (i, (data, rtp_type, width, height, restart_interval)) in cases.into_iter().enumerate() {
            let image = parse(data).unwrap_or_else(|e| panic!("case {i}: {e:?}"));
            assert_eq!(
                (image.rtp_type, image.width, image.height, image.restart_interval),
                (rtp_type, width, height, restart_interval),
                "case {i}"
            );
            assert_eq!(image.qtables.len(), 2, "case {i}");
        }
    }

    #[test]
    fn tables_are_the_dqt_bytes() {
        // 420.jpg: SOI, APP0 (18 bytes), COM (18 bytes), then at 38 one DQT
        // with table 0, used by all three components.
        assert_eq!(YUV420[38..43], [0xff, 0xdb, 0x00, 0x43, 0x00]);
        let image = parse(YUV420).unwrap();
        assert_eq!(image.qtables, [&YUV420[43..107], &YUV420[43..107]]);

        // -force_duplicated_matrix: one DQT holding table 0 then table 1, but
        // SOF still gives table 0 to every component; table 1 is unused.
        assert_eq!(TWO_TABLES[38..43], [0xff, 0xdb, 0x00, 0x84, 0x00]);
        assert_eq!(TWO_TABLES[107], 0x01);
        let distinct = patched(TWO_TABLES, 108, &[0x55]);
        let image = parse(&distinct).unwrap();
        assert_eq!(image.qtables, [&distinct[43..107], &distinct[43..107]]);
        // Cb and Cr on table 1.
        let sof = sof_body(&distinct);
        assert_eq!(distinct[sof + 6..sof + 15], [1, 0x22, 0, 2, 0x11, 0, 3, 0x11, 0]);
        let chroma_on_1 = patched(&distinct, sof + 6, &[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        let image = parse(&chroma_on_1).unwrap();
        assert_eq!(image.qtables, [&distinct[43..107], &distinct[108..172]]);
        assert_eq!(image.qtables[1][0], 0x55);

        // libjpeg: SOI, APP0, then two DQT segments, tables 0 and 1.
        for data in [GST_420, YUV422] {
            assert_eq!(data[20..25], [0xff, 0xdb, 0x00, 0x43, 0x00]);
            assert_eq!(data[89..94], [0xff, 0xdb, 0x00, 0x43, 0x01]);
            let image = parse(data).unwrap();
            assert_eq!(image.qtables, [&data[25..89], &data[94..158]]);
            assert_ne!(image.qtables[0], image.qtables[1]);
        }
    }

    #[test]
    fn luma_table_comes_first_whatever_its_id() {
        // libjpeg: table 0 (luma) at 25..89, table 1 (chroma) at 94..158.
        let sof = sof_body(GST_420);
        assert_eq!(GST_420[sof + 6..sof + 15], [1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        // Swap the ids in SOF: Y on table 1, Cb and Cr on table 0.
        let swapped = patched(GST_420, sof + 6, &[1, 0x22, 1, 2, 0x11, 0, 3, 0x11, 0]);
        let image = parse(&swapped).unwrap();
        assert_eq!(image.qtables, [&GST_420[94..158], &GST_420[25..89]]);
    }

    #[test]
    fn scan_runs_from_after_the_sos_header_to_eoi() {
        for (i, data) in CARRIABLE.into_iter().enumerate() {
            let image = parse(data).unwrap();
            // SOS with three components: FF DA, length 12 (counted from the length field).
            let sos = find(data, &[0xff, 0xda, 0x00, 0x0c]);
            assert_eq!(offset_in(data, image.scan), sos + 14, "image {i}");
            assert_eq!(&data[data.len() - 2..], [0xff, 0xd9], "image {i}");
            assert_eq!(offset_in(data, image.scan) + image.scan.len(), data.len() - 2, "image {i}");
        }
        // Restart markers belong to the scan.
        let image = parse(DRI_420).unwrap();
        for rst in [0xd0, 0xd1] {
            assert!(image.scan.windows(2).any(|w| w == [0xff, rst]), "RST{}", rst - 0xd0);
        }
    }

    #[test]
    fn bytes_after_eoi_are_ignored_and_a_missing_eoi_takes_the_rest() {
        let whole = parse(YUV420).unwrap().scan;
        let mut trailing = YUV420.to_vec();
        trailing.extend_from_slice(&[0x00, 0x12, 0xff, 0xd9, 0x34, 0xff, 0xd9, 0xff]);
        assert_eq!(parse(&trailing).unwrap().scan, whole);

        let no_eoi = &YUV420[..YUV420.len() - 2];
        assert_eq!(parse(no_eoi).unwrap().scan, whole);
        // Cut in the middle of the scan: what is there is the scan.
        let cut = &YUV420[..1000];
        let image = parse(cut).unwrap();
        assert_eq!(offset_in(cut, image.scan) + image.scan.len(), 1000);
    }

    #[test]
    fn accepts_2040_pixels_sof1_and_the_implicit_standard_huffman_tables() {
        let sof = sof_body(YUV420);
        // Y (height) then X (width), big-endian.
        let wide = patched(YUV420, sof + 1, &[0x07, 0xf8, 0x07, 0xf8]);
        let image = parse(&wide).unwrap();
        assert_eq!((image.width, image.height), (2040, 2040));

        let extended = patched(YUV420, segment(YUV420, SOF0).start + 1, &[SOF1]);
        assert_eq!(parse(&extended).unwrap(), parse(YUV420).unwrap());

        // MJPEG without DHT: the decoder assumes the Annex K tables.
        let no_dht = replace_segment(YUV420, DHT, &[]);
        let image = parse(&no_dht).unwrap();
        assert_eq!(image.scan, parse(YUV420).unwrap().scan);
        assert_eq!(image.rtp_type, 1);

        // DRI 0 means no restart intervals.
        let dri = segment(DRI_420, DRI);
        let zero = patched(DRI_420, dri.start + 4, &[0, 0]);
        let image = parse(&zero).unwrap();
        assert_eq!((image.rtp_type, image.restart_interval), (1, 0));
    }

    #[test]
    fn refuses_what_rfc2435_cannot_carry() {
        use JpegError::Unsupported;
        let unsupported = |data: &[u8]| match parse(data) {
            Err(Unsupported(why)) => why,
            other => panic!("expected Unsupported, got {other:?}"),
        };
        assert!(unsupported(YUV444).contains("4:4:4"));
        assert!(unsupported(FFMPEG_422).contains("sampling"));
        assert_eq!(unsupported(OPTIMAL_HUFFMAN), "non-standard Huffman tables");

        let sof_marker = segment(YUV420, SOF0).start + 1;
        assert!(unsupported(&patched(YUV420, sof_marker, &[0xc2])).contains("progressive"));
        assert!(unsupported(&patched(YUV420, sof_marker, &[0xc3])).contains("lossless"));
        assert!(unsupported(&patched(YUV420, sof_marker, &[0xc9])).contains("arithmetic"));

        let sof = sof_body(YUV420);
        assert!(unsupported(&patched(YUV420, sof + 3, &[0x08, 0x00])).contains("2040")); // width 2048
        assert!(unsupported(&patched(YUV420, sof + 1, &[0x07, 0xf9])).contains("2040")); // height 2041
        assert!(unsupported(&patched(YUV420, sof + 1, &[0x00, 0x00])).contains("zero")); // height 0 (DNL)
        assert!(unsupported(&patched(YUV420, sof, &[12])).contains("precision"));
        assert!(unsupported(&patched(YUV420, sof + 7, &[0x12])).contains("sampling")); // Y 1x2

        let gray = replace_segment(YUV420, SOF0, &[0xff, 0xc0, 0, 11, 8, 0, 48, 0, 64, 1, 1, 0x11, 0]);
        assert!(unsupported(&gray).contains("grayscale"));

        // The same table at 16-bit precision: Pq = 1, 128 bytes.
        let mut dqt16 = vec![0xff, 0xdb, 0x00, 0x83, 0x10];
        dqt16.extend(YUV420[43..107].iter().flat_map(|&q| [0, q]));
        assert!(unsupported(&replace_segment(YUV420, DQT, &dqt16)).contains("16-bit"));

        // Cb on table 1, Cr on table 0: three components, two chroma tables.
        let sof = sof_body(GST_420);
        assert_eq!(GST_420[sof + 14], 1);
        assert!(unsupported(&patched(GST_420, sof + 14, &[0])).contains("more than two"));
        // A third table defined and given to Cr.
        let mut three = GST_420.to_vec();
        let mut dqt2 = vec![0xff, 0xdb, 0x00, 0x43, 0x02];
        dqt2.extend_from_slice(&GST_420[25..89]);
        three.splice(20..20, dqt2);
        let sof = sof_body(&three);
        assert!(unsupported(&patched(&three, sof + 14, &[2])).contains("more than two"));

        // One value of the standard AC luminance table changed (two symbols swapped).
        let dht = segment(YUV420, DHT);
        let ac_lum = dht.start + find(&YUV420[dht.clone()], &[0x10, 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d]);
        let values = ac_lum + 17;
        assert_eq!(YUV420[values..values + 4], [0x01, 0x02, 0x03, 0x00]);
        assert_eq!(unsupported(&patched(YUV420, values, &[0x02, 0x01])), "non-standard Huffman tables");
        // Luma coded with the chrominance tables (SOS Td/Ta of Y = 1/1).
        let sos = find(YUV420, &[0xff, 0xda, 0x00, 0x0c]);
        assert_eq!(YUV420[sos + 5..sos + 7], [1, 0x00]);
        assert_eq!(unsupported(&patched(YUV420, sos + 6, &[0x11])), "non-standard Huffman tables");
    }

    #[test]
    fn malformed_input_is_an_error() {
        let malformed = |data: &[u8]| matches!(parse(data), Err(JpegError::Malformed(_)));
        assert!(malformed(&[]));
        assert!(malformed(&[0xff]));
        assert!(malformed(&[0xff, 0xd8]));
        assert!(malformed(b"GIF89a not a jpeg at all"));
        assert!(malformed(&YUV420[1..]));
        // Every cut before the first scan byte.
        let scan_start = offset_in(YUV420, parse(YUV420).unwrap().scan);
        for len in 0..=scan_start {
            assert!(malformed(&YUV420[..len]), "cut at {len}");
        }
        assert!(malformed(&replace_segment(YUV420, DQT, &[])));
        assert!(malformed(&replace_segment(YUV420, SOF0, &[])));
        // A scan that is only EOI, and a segment length pointing past the end.
        let empty_scan = [&YUV420[..scan_start], &[0xff, 0xd9][..]].concat();
        assert!(malformed(&empty_scan));
        assert!(malformed(&patched(YUV420, 40, &[0xff, 0xff])));
        assert!(malformed(&patched(YUV420, 40, &[0x00, 0x01])));
        // A marker inside the entropy-coded data that is neither RSTn nor EOI.
        assert!(malformed(&patched(YUV420, scan_start + 10, &[0xff, 0xc4])));
    }

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// Whatever `parse` accepts must be sendable and come back intact.
    fn check_accepted(data: &[u8]) {
        if let Ok(image) = parse(data) {
            offset_in(data, image.scan);
            assert!(!image.scan.is_empty());
            assert!(matches!(image.rtp_type, 0 | 1 | 64 | 65));
            assert!((1..=2040).contains(&image.width) && (1..=2040).contains(&image.height));
            assert!(image.qtables.iter().all(|t| t.len() == 64 && offset_in(data, t) < data.len()));
            let out = send(&image, 300, 1, 2);
            expect_received(&image, &depacketize(&out).unwrap());
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let all = [YUV420, YUV422, GST_420, FFMPEG_422, YUV444, OPTIMAL_HUFFMAN, TWO_TABLES, DRI_420, ODD_SIZE];
        for data in all {
            for len in 0..=data.len() {
                check_accepted(&data[..len]);
            }
        }
        // Every bit of the headers of two images, and random bits of the scan.
        for data in [DRI_420, YUV422] {
            let scan_start = offset_in(data, parse(data).unwrap().scan);
            for bit in 0..(scan_start + 16) * 8 {
                check_accepted(&patched(data, bit / 8, &[data[bit / 8] ^ (1 << (bit % 8))]));
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut data = YUV420.to_vec();
            for _ in 0..1 + xorshift(&mut state) % 4 {
                let at = (xorshift(&mut state) as usize) % data.len();
                data[at] = xorshift(&mut state) as u8;
            }
            check_accepted(&data);
        }
        // Random bytes after an SOI, with markers sprinkled in.
        for _ in 0..2000 {
            let len = (xorshift(&mut state) % 300) as usize;
            let mut data = vec![0xff, 0xd8];
            data.extend((0..len).map(|_| match xorshift(&mut state) % 6 {
                0 => 0xff,
                _ => xorshift(&mut state) as u8,
            }));
            check_accepted(&data);
        }
    }

    #[test]
    fn packets_round_trip_through_an_rfc2435_receiver() {
        let dri_422 = with_dri(YUV422, 1);
        for (i, data) in CARRIABLE.into_iter().chain([&dri_422[..]]).enumerate() {
            let image = parse(data).unwrap();
            for max_payload in [1400, 600, 200, 145, 144, 141, 64, 0] {
                let out = send(&image, max_payload, 65533, 0xdead_beef);
                let got = depacketize(&out).unwrap_or_else(|e| panic!("image {i} max {max_payload}: {e}"));
                expect_received(&image, &got);
                // Headers (8, restart 4, table header 4 + 128) plus at least one byte.
                let restart = if image.rtp_type >= 64 { 4 } else { 0 };
                let first_floor = 8 + restart + 4 + 128 + 1;
                for k in 0..out.len() {
                    let rtp = RtpReader::new(out.packet(k)).unwrap();
                    assert_eq!((rtp.payload_type(), rtp.ssrc(), rtp.timestamp()), (26, 0x1234_5678, 0xdead_beef));
                    let floor = if k == 0 { first_floor } else { 8 + restart + 1 };
                    assert!(rtp.payload().len() <= max_payload.max(floor), "image {i} max {max_payload} packet {k}");
                }
                if max_payload >= first_floor {
                    let overhead = 12 + 8 + restart;
                    let fewest = (image.scan.len() + 132 + overhead - 12).div_ceil(max_payload - 8 - restart);
                    assert!(out.len() <= fewest + 1, "image {i} max {max_payload}: {} packets", out.len());
                }
            }
        }
    }

    #[test]
    fn header_bytes_follow_rfc2435_section_3_1() {
        // 70x38, 4:2:0: width 72/8 = 9, height 40/8 = 5; type 1, no restart header.
        let image = parse(ODD_SIZE).unwrap();
        let out = send(&image, 1400, 0, 0);
        assert_eq!(out.len(), 2);
        let p0 = RtpReader::new(out.packet(0)).unwrap().payload().to_vec();
        assert_eq!(p0[..12], [0, 0, 0, 0, 1, 255, 9, 5, 0, 0, 0, 128]);
        assert_eq!(p0[12..76], *image.qtables[0]);
        assert_eq!(p0[76..140], *image.qtables[1]);
        assert_eq!(p0[140..], image.scan[..1400 - 140]);
        let p1 = RtpReader::new(out.packet(1)).unwrap().payload().to_vec();
        assert_eq!(p1[..8], [0, 0, 0x04, 0xec, 1, 255, 9, 5]); // offset 1260
        assert_eq!(p1[8..], image.scan[1260..]);

        // Type 65: restart interval 4, F = L = 1, count 0x3FFF, in every packet.
        let image = parse(DRI_420).unwrap();
        let out = send(&image, 600, 0, 0);
        let p0 = RtpReader::new(out.packet(0)).unwrap().payload().to_vec();
        assert_eq!(p0[..16], [0, 0, 0, 0, 65, 255, 8, 6, 0, 4, 0xff, 0xff, 0, 0, 0, 128]);
        for k in 1..out.len() {
            let p = RtpReader::new(out.packet(k)).unwrap().payload().to_vec();
            assert_eq!([p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]], [65, 255, 8, 6, 0, 4, 0xff, 0xff]);
            assert_ne!(p[12..14], [0, 0], "table header only in the first packet");
        }
    }

    #[test]
    fn fragment_offsets_count_scan_bytes() {
        let image = parse(YUV420).unwrap();
        assert_eq!(image.scan.len(), YUV420.len() - 560 - 2);
        let out = send(&image, 500, 0, 0);
        // First packet: 500 - 8 - 4 - 128 = 360 scan bytes; then 492 each.
        let offsets_and_lens: Vec<(u32, usize)> = (0..out.len())
            .map(|k| {
                let p = RtpReader::new(out.packet(k)).unwrap().payload().to_vec();
                (u32::from_be_bytes([0, p[1], p[2], p[3]]), p.len())
            })
            .collect();
        assert_eq!(offsets_and_lens, [(0, 500), (360, 500), (852, 8 + 1034 - 852)]);
        let markers: Vec<bool> = (0..out.len()).map(|k| RtpReader::new(out.packet(k)).unwrap().mark()).collect();
        assert_eq!(markers, [false, false, true]);
    }

    #[test]
    fn one_table_is_sent_as_given() {
        let mut image = parse(YUV420).unwrap();
        image.qtables.truncate(1);
        let got = depacketize(&send(&image, 1400, 0, 0)).unwrap();
        assert_eq!(got.qtables, [image.qtables[0].to_vec()]);
        assert_eq!(got.scan, image.scan);
    }

    #[test]
    fn nothing_is_sent_for_an_image_no_packet_can_describe() {
        let mut image = parse(YUV420).unwrap();
        image.scan = &[];
        let out = send(&image, 1400, 7, 0);
        assert!(out.is_empty() && out.data.is_empty());
        let big = vec![0u8; 0x100_0000];
        image.scan = &big;
        assert!(send(&image, 1400, 7, 0).is_empty());
        image.scan = &big[1..];
        let out = send(&image, 60_000, 7, 0);
        expect_received(&image, &depacketize(&out).unwrap());
    }

    #[test]
    fn depacketizer_rejects_broken_frames() {
        // The test receiver must be able to fail, or the round trips prove nothing.
        let image = parse(DRI_420).unwrap();
        let out = send(&image, 300, 0, 0);
        assert!(out.len() >= 4);
        assert!(depacketize(&out).is_ok());
        for drop in [0, 1, out.len() - 1] {
            let mut broken = out.clone();
            broken.packets.remove(drop);
            assert!(depacketize(&broken).is_err(), "packet {drop} dropped");
        }
        let mut swapped = out.clone();
        swapped.packets.swap(1, 2);
        assert!(depacketize(&swapped).is_err());
    }
}
