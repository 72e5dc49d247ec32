//! RTCP (RFC 3550 section 6): sender reports, SDES CNAME, BYE; and a reader
//! for what clients send (receiver reports, BYE).
use alloc::vec::Vec;

const RTCP_VERSION: u8 = 2;
const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;
const SDES_CNAME: u8 = 1;
/// Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch).
const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;
/// A CNAME item's length is one octet.
const MAX_CNAME_LEN: usize = 255;
/// Bytes of one reception report block (RFC 3550 6.4.1).
const REPORT_BLOCK_LEN: usize = 24;

/// RTCP CNAME of our streams (RFC 3550 6.5.1: one per sender, shared by its tracks so players sync them).
pub const CNAME: &str = "canmv-rtsp";

/// NTP timestamp (64-bit fixed point, seconds since 1900) of a wall-clock time
/// in µs since 1970.
pub fn ntp_from_unix_us(unix_us: u64) -> u64 {
    // The seconds field wraps every 2^32 s (NTP eras), so keep the low 32 bits.
    let seconds = (unix_us / 1_000_000 + NTP_UNIX_OFFSET_S) & 0xffff_ffff;
    // < 1e6 * 2^32, no overflow.
    let fraction = ((unix_us % 1_000_000) << 32) / 1_000_000;
    (seconds << 32) | fraction
}

/// Sender information of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    pub ssrc: u32,
    pub ntp: u64,
    pub rtp_time: u32,
    pub packets: u32,
    pub octets: u32,
}

/// Appends a compound packet: SR (no report blocks) followed by SDES with a CNAME item.
///
/// A CNAME longer than 255 bytes is cut at the last character boundary that fits.
pub fn sender_report(out: &mut Vec<u8>, info: &SenderInfo, cname: &str) {
    write_header(out, 0, PT_SR, 28);
    out.extend_from_slice(&info.ssrc.to_be_bytes());
    out.extend_from_slice(&info.ntp.to_be_bytes());
    out.extend_from_slice(&info.rtp_time.to_be_bytes());
    out.extend_from_slice(&info.packets.to_be_bytes());
    out.extend_from_slice(&info.octets.to_be_bytes());
    write_sdes_cname(out, info.ssrc, cname);
}

/// Appends a compound packet: an empty RR, SDES CNAME, then BYE for `ssrc`
/// (RFC 3550 6.1: a compound packet starts with SR or RR).
pub fn bye(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    write_header(out, 0, PT_RR, 8);
    out.extend_from_slice(&ssrc.to_be_bytes());
    write_sdes_cname(out, ssrc, cname);
    write_header(out, 1, PT_BYE, 8);
    out.extend_from_slice(&ssrc.to_be_bytes());
}

/// The common first word: V=2, P=0, `count` (RC/SC), `pt`, and the length of a
/// packet of `total_len` bytes (a multiple of 4) in 32-bit words minus one.
fn write_header(out: &mut Vec<u8>, count: u8, pt: u8, total_len: usize) {
    let words_minus_one = (total_len / 4).saturating_sub(1);
    let length = u16::try_from(words_minus_one).unwrap_or(u16::MAX);
    out.push((RTCP_VERSION << 6) | (count & 0x1f));
    out.push(pt);
    out.extend_from_slice(&length.to_be_bytes());
}

/// SDES with one chunk: `ssrc`, a CNAME item, then the null item that ends the
/// list plus the null octets up to the next 32-bit boundary (1..=4 zeros).
fn write_sdes_cname(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let text = truncate_to_char_boundary(cname, MAX_CNAME_LEN).as_bytes();
    // SSRC (4) + item type (1) + item length (1) + text.
    let items_end = 4 + 2 + text.len();
    let zeros = 4 - items_end % 4;
    write_header(out, 1, PT_SDES, 4 + items_end + zeros);
    out.extend_from_slice(&ssrc.to_be_bytes());
    // `text` is at most 255 bytes.
    out.push(SDES_CNAME);
    out.push(u8::try_from(text.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(text);
    out.resize(out.len() + zeros, 0);
}

fn truncate_to_char_boundary(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// What a client's compound RTCP packet says, as far as the server cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientReport {
    /// SSRC of the sender of the packet (from its RR or SR).
    pub sender_ssrc: Option<u32>,
    /// A receiver report (or sender report) was present: the client is alive.
    pub report: bool,
    /// A BYE was present: the client is leaving.
    pub bye: bool,
}

/// Validates a compound RTCP packet (RFC 3550 appendix A.2: version 2, lengths that
/// add up exactly; first packet SR or RR is not required from clients) and reads it.
/// `None` when it is not valid RTCP.
///
/// Also checked: the padding bit only on the last packet, with a padding count
/// that fits inside it; packet types in the RTCP range 192..=223 (RFC 5761
/// section 4, so a stray RTP packet is not taken for RTCP); SR, RR and BYE long
/// enough for the report blocks or sources their count field announces.
/// Other packet types (APP, feedback, XR, ...) are skipped.
pub fn parse_client_report(data: &[u8]) -> Option<ClientReport> {
    let mut report = ClientReport::default();
    let mut rest = data;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let header: [u8; 4] = rest.get(..4)?.try_into().ok()?;
        let [first, pt, len_hi, len_lo] = header;
        if first >> 6 != RTCP_VERSION || !(192..=223).contains(&pt) {
            return None;
        }
        let total = (usize::from(u16::from_be_bytes([len_hi, len_lo])) + 1) * 4;
        let packet = rest.get(..total)?;
        rest = rest.get(total..)?;
        let padded = first & 0x20 != 0;
        let padding = if padded {
            if !rest.is_empty() {
                return None;
            }
            let count = usize::from(*packet.last()?);
            if count == 0 || count > total - 4 {
                return None;
            }
            count
        } else {
            0
        };
        let body = packet.get(4..total - padding)?;
        let count = usize::from(first & 0x1f);
        match pt {
            PT_SR | PT_RR => {
                let fixed = if pt == PT_SR { 24 } else { 4 };
                if body.len() < fixed + count * REPORT_BLOCK_LEN {
                    return None;
                }
                let ssrc = u32::from_be_bytes(body.get(..4)?.try_into().ok()?);
                if report.sender_ssrc.is_none() {
                    report.sender_ssrc = Some(ssrc);
                }
                report.report = true;
            }
            PT_BYE => {
                if body.len() < count * 4 {
                    return None;
                }
                report.bye = true;
            }
            _ => {}
        }
    }
    Some(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sr(info: &SenderInfo, cname: &str) -> Vec<u8> {
        let mut out = Vec::new();
        sender_report(&mut out, info, cname);
        out
    }

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    /// RFC 3550 6.1: the length fields (words minus one) of the packets in a
    /// compound packet cover it exactly. Returns (first byte, PT, bytes) of each.
    fn split(compound: &[u8]) -> Vec<(u8, u8, &[u8])> {
        assert_eq!(compound.len() % 4, 0, "compound length {} not a multiple of 4", compound.len());
        let mut parts = Vec::new();
        let mut at = 0;
        while at < compound.len() {
            let words = usize::from(u16::from_be_bytes([compound[at + 2], compound[at + 3]])) + 1;
            let end = at + words * 4;
            assert!(end <= compound.len(), "length field at {at} overruns");
            parts.push((compound[at], compound[at + 1], &compound[at..end]));
            at = end;
        }
        parts
    }

    #[test]
    fn ntp_of_known_instants() {
        // 1970-01-01T00:00:00Z is 2208988800 s after 1900-01-01.
        assert_eq!(ntp_from_unix_us(0), 0x83AA_7E80_0000_0000);
        assert_eq!(ntp_from_unix_us(500_000), 0x83AA_7E80_8000_0000);
        assert_eq!(ntp_from_unix_us(250_000), 0x83AA_7E80_4000_0000);
        // 2026-01-01T00:00:00Z = unix 1767225600.
        assert_eq!(ntp_from_unix_us(1_767_225_600_000_000) >> 32, 3_976_214_400);
        assert_eq!(ntp_from_unix_us(1_767_225_600_000_000) & 0xffff_ffff, 0);
        // 1 µs is 4294.967296 units of 2^-32 s: truncated to 4294.
        assert_eq!(ntp_from_unix_us(1_767_225_600_000_001) & 0xffff_ffff, 4294);
        // 999999 µs: just below the next second.
        let f = ntp_from_unix_us(999_999) & 0xffff_ffff;
        assert!(f > 0xFFFF_E000 && f < 0x1_0000_0000, "{f:#x}");
        // 2036-02-07T06:28:16Z (unix 2085978496) starts NTP era 1: seconds wrap to 0.
        assert_eq!(ntp_from_unix_us(2_085_978_496_000_000) >> 32, 0);
        // Never panics at the extremes.
        let _ = ntp_from_unix_us(u64::MAX);
    }

    #[test]
    fn sender_report_layout_field_by_field() {
        let info = SenderInfo {
            ssrc: 0x1122_3344,
            ntp: 0x83AA_7E80_8000_0000,
            rtp_time: 0xDEAD_BEEF,
            packets: 3,
            octets: 4000,
        };
        let out = sr(&info, "ab");
        #[rustfmt::skip]
        let expected: [u8; 44] = [
            // SR: V=2 P=0 RC=0, PT=200, length 6 (7 words)
            0x80, 200, 0x00, 0x06,
            0x11, 0x22, 0x33, 0x44, // SSRC of sender
            0x83, 0xAA, 0x7E, 0x80, // NTP timestamp, most significant word
            0x80, 0x00, 0x00, 0x00, // NTP timestamp, least significant word
            0xDE, 0xAD, 0xBE, 0xEF, // RTP timestamp
            0x00, 0x00, 0x00, 0x03, // sender's packet count
            0x00, 0x00, 0x0F, 0xA0, // sender's octet count (4000)
            // SDES: V=2 P=0 SC=1, PT=202, length 3 (4 words)
            0x81, 202, 0x00, 0x03,
            0x11, 0x22, 0x33, 0x44, // chunk SSRC
            0x01, 0x02, b'a', b'b', // CNAME=1, length 2, text
            0x00, 0x00, 0x00, 0x00, // null item + padding to 32 bits
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn sender_report_appends() {
        let info = SenderInfo { ssrc: 7, ntp: 0, rtp_time: 0, packets: 0, octets: 0 };
        let mut out = vec![0xAA, 0xBB];
        sender_report(&mut out, &info, "x");
        assert_eq!(&out[..2], &[0xAA, 0xBB]);
        assert_eq!(out[2], 0x80);
        assert_eq!(out[3], 200);
    }

    #[test]
    fn cname_padding_for_lengths_0_to_8() {
        // (CNAME length, null octets after the text) worked out from 6.5: the
        // chunk is SSRC(4) + type(1) + length(1) + text, then 1..=4 zeros to a
        // 32-bit boundary.
        let table = [(0, 2), (1, 1), (2, 4), (3, 3), (4, 2), (5, 1), (6, 4), (7, 3), (8, 2)];
        for (n, zeros) in table {
            let cname: String = "abcdefgh"[..n].into();
            let info = SenderInfo { ssrc: 0xCAFE_F00D, ntp: 1, rtp_time: 2, packets: 3, octets: 4 };
            let out = sr(&info, &cname);
            let parts = split(&out);
            assert_eq!(parts.len(), 2, "n={n}");
            let (first, pt, sdes) = parts[1];
            assert_eq!((first, pt), (0x81, 202), "n={n}");
            assert_eq!(sdes.len(), 4 + 4 + 2 + n + zeros, "n={n}");
            assert_eq!(usize::from(u16::from_be_bytes([sdes[2], sdes[3]])), sdes.len() / 4 - 1, "n={n}");
            assert_eq!(be32(sdes, 4), 0xCAFE_F00D);
            assert_eq!(sdes[8], 1, "CNAME item type");
            assert_eq!(usize::from(sdes[9]), n);
            assert_eq!(&sdes[10..10 + n], cname.as_bytes());
            assert!(sdes[10 + n..].iter().all(|&b| b == 0), "n={n}");
        }
    }

    #[test]
    fn long_cname_is_truncated_to_255_bytes() {
        let info = SenderInfo { ssrc: 1, ntp: 0, rtp_time: 0, packets: 0, octets: 0 };
        let long = "c".repeat(300);
        let out = sr(&info, &long);
        let (_, _, sdes) = split(&out)[1];
        assert_eq!(sdes[9], 255);
        assert_eq!(&sdes[10..265], "c".repeat(255).as_bytes());
        // 10 + 255 = 265 → 3 zeros → 268 bytes, length 66.
        assert_eq!(sdes.len(), 268);
        assert_eq!(u16::from_be_bytes([sdes[2], sdes[3]]), 66);

        // Exactly 255 is kept whole.
        let out = sr(&info, &"d".repeat(255));
        assert_eq!(split(&out)[1].2[9], 255);

        // A 2-byte character straddling byte 255 is dropped whole (text stays UTF-8).
        let straddling = format!("{}é", "e".repeat(254));
        let out = sr(&info, &straddling);
        let (_, _, sdes) = split(&out)[1];
        assert_eq!(sdes[9], 254);
        assert!(core::str::from_utf8(&sdes[10..10 + 254]).is_ok());
    }

    #[test]
    fn lengths_are_multiples_of_four_and_fields_right() {
        for n in 0..40 {
            let info = SenderInfo { ssrc: n as u32, ntp: 5, rtp_time: 6, packets: 7, octets: 8 };
            let out = sr(&info, &"z".repeat(n));
            let parts = split(&out);
            assert_eq!(parts.len(), 2);
            assert_eq!(parts[0].2.len(), 28, "SR without report blocks is 7 words");
            assert_eq!(parts[0].2.len() + parts[1].2.len(), out.len());

            let mut b = Vec::new();
            bye(&mut b, n as u32, &"z".repeat(n));
            assert_eq!(split(&b).len(), 3);
        }
    }

    #[test]
    fn bye_layout() {
        let mut out = Vec::new();
        bye(&mut out, 0x0102_0304, "cam");
        #[rustfmt::skip]
        let expected: [u8; 32] = [
            // RR: V=2 P=0 RC=0, PT=201, length 1 (2 words), SSRC
            0x80, 201, 0x00, 0x01,
            0x01, 0x02, 0x03, 0x04,
            // SDES: SC=1, PT=202, length 3; chunk: SSRC, CNAME "cam", null, 0 pad
            // 4 + 2 + 3 = 9 → 3 zeros → 12-byte chunk
            0x81, 202, 0x00, 0x03,
            0x01, 0x02, 0x03, 0x04,
            0x01, 0x03, b'c', b'a',
            b'm', 0x00, 0x00, 0x00,
            // BYE: SC=1, PT=203, length 1, SSRC
            0x81, 203, 0x00, 0x01,
            0x01, 0x02, 0x03, 0x04,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn own_output_parses() {
        let info = SenderInfo { ssrc: 0x5555_AAAA, ntp: ntp_from_unix_us(1), rtp_time: 9, packets: 1, octets: 2 };
        for n in 0..12 {
            let out = sr(&info, &"q".repeat(n));
            let r = parse_client_report(&out).expect("own SR parses");
            assert_eq!(r, ClientReport { sender_ssrc: Some(0x5555_AAAA), report: true, bye: false });
            // Independent of our parser: every packet V=2, P=0, lengths add up.
            for (first, _, _) in split(&out) {
                assert_eq!(first >> 6, 2);
                assert_eq!(first & 0x20, 0);
            }
            let mut b = Vec::new();
            bye(&mut b, 42, &"q".repeat(n));
            let r = parse_client_report(&b).expect("own BYE parses");
            assert_eq!(r, ClientReport { sender_ssrc: Some(42), report: true, bye: true });
        }
    }

    /// ffmpeg's RTSP client (rtpdec.c): RR with one report block (SSRC of the
    /// client = our SSRC + 1 there, any value here), then SDES with the host
    /// name as CNAME, a null item and zero padding.
    #[rustfmt::skip]
    fn ffmpeg_rr() -> Vec<u8> {
        vec![
            0x81, 201, 0x00, 0x07,  // RR, RC=1, 8 words
            0x5A, 0x5A, 0x00, 0x01, // SSRC of packet sender
            0x11, 0x22, 0x33, 0x44, // SSRC of source (us)
            0x00, 0x00, 0x00, 0x00, // fraction lost, cumulative lost
            0x00, 0x01, 0x23, 0x45, // extended highest sequence number
            0x00, 0x00, 0x00, 0x10, // jitter
            0x00, 0x00, 0x00, 0x00, // LSR
            0x00, 0x00, 0x00, 0x00, // DLSR
            0x81, 202, 0x00, 0x03,  // SDES, SC=1, 4 words
            0x5A, 0x5A, 0x00, 0x01,
            0x01, 0x04, b'h', b'o', // CNAME "host"
            b's', b't', 0x00, 0x00, // null item, padding
        ]
    }

    #[test]
    fn parses_ffmpeg_receiver_report() {
        let r = parse_client_report(&ffmpeg_rr()).unwrap();
        assert_eq!(r, ClientReport { sender_ssrc: Some(0x5A5A_0001), report: true, bye: false });
    }

    #[test]
    fn parses_ffmpeg_punch_packet() {
        // ffmpeg's NAT punch: an empty RR with SSRC 0, alone.
        let r = parse_client_report(&[0x80, 201, 0x00, 0x01, 0, 0, 0, 0]).unwrap();
        assert_eq!(r, ClientReport { sender_ssrc: Some(0), report: true, bye: false });
    }

    /// GStreamer's rtpsession: RR with one report block, SDES with a CNAME and
    /// a TOOL item.
    #[rustfmt::skip]
    fn gstreamer_rr() -> Vec<u8> {
        let mut p = vec![
            0x81, 201, 0x00, 0x07,
            0xDE, 0xAD, 0x00, 0x07,
            0x11, 0x22, 0x33, 0x44,
            0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x9C, 0x41,
            0x00, 0x00, 0x00, 0x2A,
            0x7E, 0x80, 0x80, 0x00, // LSR: middle 32 bits of the SR's NTP time
            0x00, 0x00, 0x80, 0x00, // DLSR: 0.5 s in 1/65536 s
        ];
        // SDES chunk: SSRC(4) + CNAME(2+10) + TOOL(2+9) + null = 28 bytes; 32-byte packet, length 7.
        p.extend_from_slice(&[0x81, 202, 0x00, 0x07, 0xDE, 0xAD, 0x00, 0x07]);
        p.extend_from_slice(&[0x01, 10]);
        p.extend_from_slice(b"user@host1");
        p.extend_from_slice(&[0x06, 9]);
        p.extend_from_slice(b"GStreamer");
        p.push(0x00);
        assert_eq!(p.len(), 64);
        p
    }

    #[test]
    fn parses_gstreamer_receiver_report() {
        let r = parse_client_report(&gstreamer_rr()).unwrap();
        assert_eq!(r, ClientReport { sender_ssrc: Some(0xDEAD_0007), report: true, bye: false });
    }

    #[test]
    fn parses_rr_with_bye() {
        let mut p = gstreamer_rr();
        // BYE SC=1 with a reason "bye" (length octet + 3 bytes = one word).
        p.extend_from_slice(&[0x81, 203, 0x00, 0x02, 0xDE, 0xAD, 0x00, 0x07, 3, b'b', b'y', b'e']);
        let r = parse_client_report(&p).unwrap();
        assert_eq!(r, ClientReport { sender_ssrc: Some(0xDEAD_0007), report: true, bye: true });
    }

    #[test]
    fn parses_sr_from_a_client() {
        // A client that also sends (SR, RC=0) followed by an SDES.
        let mut p = vec![0x80, 200, 0x00, 0x06, 0x00, 0x00, 0xBE, 0xEF];
        p.extend_from_slice(&[0x83, 0xAA, 0x7E, 0x81, 0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 1, 0, 0, 0, 100]);
        p.extend_from_slice(&[0x81, 202, 0x00, 0x02, 0x00, 0x00, 0xBE, 0xEF, 0x01, 0x01, b'x', 0x00]);
        let r = parse_client_report(&p).unwrap();
        assert_eq!(r, ClientReport { sender_ssrc: Some(0xBEEF), report: true, bye: false });
    }

    #[test]
    fn first_report_gives_the_ssrc_and_other_types_are_skipped() {
        // APP (204, "name" + no data), then RR, then another RR, then RTPFB (205) and XR (207).
        let mut p = vec![0x80, 204, 0x00, 0x02, 0, 0, 0, 9, b'n', b'a', b'm', b'e'];
        p.extend_from_slice(&[0x80, 201, 0x00, 0x01, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x80, 201, 0x00, 0x01, 0, 0, 0, 2]);
        p.extend_from_slice(&[0x81, 205, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 5, 0x12, 0x34, 0x00, 0x00]);
        p.extend_from_slice(&[0x80, 207, 0x00, 0x01, 0, 0, 0, 1]);
        let r = parse_client_report(&p).unwrap();
        assert_eq!(r, ClientReport { sender_ssrc: Some(1), report: true, bye: false });
    }

    #[test]
    fn sdes_only_is_valid_but_not_a_report() {
        let p = [0x81, 202, 0x00, 0x02, 0, 0, 0, 5, 0x01, 0x01, b'x', 0x00];
        assert_eq!(parse_client_report(&p), Some(ClientReport::default()));
    }

    #[test]
    fn padding_on_the_last_packet_is_accepted() {
        let mut p = ffmpeg_rr();
        // SDES with P set and 4 padding octets (count 4 in the last one).
        let sdes_len = 16;
        let at = p.len() - sdes_len;
        p[at] |= 0x20;
        p[at + 3] += 1;
        p.extend_from_slice(&[0, 0, 0, 4]);
        assert!(parse_client_report(&p).unwrap().report);
        // A padding count of 0 or beyond the packet is invalid.
        let n = p.len();
        p[n - 1] = 0;
        assert_eq!(parse_client_report(&p), None);
        p[n - 1] = 21; // packet is 20 bytes, header 4: at most 16
        assert_eq!(parse_client_report(&p), None);
    }

    #[test]
    fn rejects_invalid() {
        // Empty, garbage, short.
        assert_eq!(parse_client_report(&[]), None);
        assert_eq!(parse_client_report(b"GET / HTTP/1.0\r\n\r\n"), None);
        assert_eq!(parse_client_report(&[0x80, 201]), None);
        assert_eq!(parse_client_report(&[0x80, 201, 0x00]), None);

        // Every truncation of a valid compound packet, except at the packet
        // boundary after the RR (32 bytes): the RR alone is a whole packet.
        let good = gstreamer_rr();
        for cut in 0..good.len() {
            let parsed = parse_client_report(&good[..cut]);
            if cut == 32 {
                assert!(parsed.is_some_and(|r| r.report), "RR alone");
            } else {
                assert_eq!(parsed, None, "cut at {cut}");
            }
        }
        // Trailing bytes past the last packet.
        let mut extra = good.clone();
        extra.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(parse_client_report(&extra), None);

        // A length field that overruns the datagram.
        let mut over = ffmpeg_rr();
        over[3] = 0x08;
        assert_eq!(parse_client_report(&over), None);
        let mut over = ffmpeg_rr();
        over[34] = 0xFF;
        assert_eq!(parse_client_report(&over), None);

        // Version 1 (and 0, 3) on any packet.
        for v in [0u8, 1, 3] {
            let mut p = ffmpeg_rr();
            p[0] = (p[0] & 0x3f) | (v << 6);
            assert_eq!(parse_client_report(&p), None, "version {v} first");
            let mut p = ffmpeg_rr();
            p[32] = (p[32] & 0x3f) | (v << 6);
            assert_eq!(parse_client_report(&p), None, "version {v} second");
        }

        // Padding bit on a packet that is not the last.
        let mut p = ffmpeg_rr();
        p[0] |= 0x20;
        assert_eq!(parse_client_report(&p), None);

        // RR whose RC announces more report blocks than it holds.
        let mut p = ffmpeg_rr();
        p[0] = 0x82;
        assert_eq!(parse_client_report(&p), None);
        // SR shorter than its sender info.
        assert_eq!(parse_client_report(&[0x80, 200, 0x00, 0x01, 0, 0, 0, 1]), None);
        // BYE announcing two sources, holding one.
        assert_eq!(parse_client_report(&[0x82, 203, 0x00, 0x01, 0, 0, 0, 1]), None);

        // An RTP packet sent to the RTCP port (V=2, PT 96, marker set or not).
        let rtp = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(parse_client_report(&rtp), None);
        let rtp = [0x80, 0xE0, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(parse_client_report(&rtp), None);
    }

    #[test]
    fn random_bytes_and_truncations_never_panic() {
        // xorshift64*: deterministic, bounded.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let seeds = [ffmpeg_rr(), gstreamer_rr(), {
            let mut b = Vec::new();
            bye(&mut b, 3, "cname");
            b
        }];
        for i in 0..20_000 {
            let len = (next() % 96) as usize;
            let mut buf: Vec<u8> = if i % 2 == 0 {
                (0..len).map(|_| next() as u8).collect()
            } else {
                // A valid packet with a few bytes flipped and a random cut.
                let mut b = seeds[i % seeds.len()].clone();
                for _ in 0..(next() % 4) {
                    let at = (next() as usize) % b.len();
                    b[at] = next() as u8;
                }
                b.truncate((next() as usize) % (b.len() + 1));
                b
            };
            if i % 3 == 0 && !buf.is_empty() {
                // Keep the first word RTCP-like so the deeper checks run.
                buf[0] = 0x80 | (buf[0] & 0x3f);
            }
            let _ = parse_client_report(&buf);
        }
    }
}
