//! RTCP (RFC 3550 section 6): sender reports, SDES CNAME, BYE; and a reader
//! for what clients send (receiver reports, BYE).
use alloc::vec::Vec;

/// NTP timestamp (64-bit fixed point, seconds since 1900) of a wall-clock time
/// in µs since 1970.
pub fn ntp_from_unix_us(unix_us: u64) -> u64 {
    let _ = unix_us;
    todo!("helper")
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
pub fn sender_report(out: &mut Vec<u8>, info: &SenderInfo, cname: &str) {
    let _ = (out, info, cname);
    todo!("helper")
}

/// Appends a compound packet: an empty RR, SDES CNAME, then BYE for `ssrc`
/// (RFC 3550 6.1: a compound packet starts with SR or RR).
pub fn bye(out: &mut Vec<u8>, ssrc: u32, cname: &str) {
    let _ = (out, ssrc, cname);
    todo!("helper")
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
pub fn parse_client_report(data: &[u8]) -> Option<ClientReport> {
    let _ = data;
    todo!("helper")
}
