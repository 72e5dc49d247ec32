//! The client RTCP reader on arbitrary bytes.
//!
//! Checked: it never panics; it accepts only a compound packet as RFC 3550
//! appendix A.2 validates one, walked here independently (version 2, RTCP
//! packet types, lengths that add up to the datagram exactly, padding only on
//! the last packet); what it reports (a report present, a BYE present, the
//! sender SSRC of the first SR/RR) is what the packets say; one byte short of
//! an accepted datagram is refused.
#![no_main]

use canmv_rtsp::rtp::rtcp::parse_client_report;
use libfuzzer_sys::fuzz_target;

const SR: u8 = 200;
const RR: u8 = 201;
const BYE: u8 = 203;

fuzz_target!(|data: &[u8]| {
    let Some(report) = parse_client_report(data) else { return };
    assert!(!data.is_empty());
    assert!(parse_client_report(&data[..data.len() - 1]).is_none(), "accepted with its last byte cut");
    let mut rest = data;
    let (mut any_report, mut any_bye, mut first_ssrc) = (false, false, None);
    while !rest.is_empty() {
        assert!(rest.len() >= 4, "{} bytes left over after the last packet", rest.len());
        let (first, pt) = (rest[0], rest[1]);
        assert_eq!(first >> 6, 2, "version");
        assert!((192..=223).contains(&pt), "packet type {pt}");
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        assert!(len <= rest.len(), "length {len} past the end ({} left)", rest.len());
        if first & 0x20 != 0 {
            assert_eq!(len, rest.len(), "padding on a packet that is not the last");
        }
        if pt == SR || pt == RR {
            assert!(len >= 8, "SR/RR without an SSRC");
            any_report = true;
            first_ssrc.get_or_insert(u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]));
        }
        any_bye |= pt == BYE;
        rest = &rest[len..];
    }
    assert_eq!(report.report, any_report);
    assert_eq!(report.bye, any_bye);
    assert_eq!(report.sender_ssrc, first_ssrc);
});
