//! SDP (RFC 4566) for a media session's DESCRIBE answer (OWNED BY HELPER: rtsp/sdp).
//!
//! Each track's `a=control:` is `trackID=<index>` relative to `Content-Base`.
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Debug, Clone)]
pub enum TrackFormat {
    /// RFC 6184: payload type, and the parameter sets seen so far (NAL units
    /// without start codes). `profile-level-id` comes from SPS bytes 1..4.
    H264 { pt: u8, sps: Option<Vec<u8>>, pps: Option<Vec<u8>> },
    /// RFC 7798 (issue 3).
    H265 { pt: u8, vps: Option<Vec<u8>>, sps: Option<Vec<u8>>, pps: Option<Vec<u8>> },
    /// RFC 2435, static payload type 26 (issue 3).
    Jpeg,
    /// G.711 µ-law, static payload type 0, 8000 Hz mono.
    Pcmu,
    /// G.711 A-law, static payload type 8, 8000 Hz mono.
    Pcma,
}

#[derive(Debug, Clone)]
pub struct SdpSession<'a> {
    /// `s=` line.
    pub name: &'a str,
    /// `o=` session id and version (numbers).
    pub id: u64,
    pub version: u64,
    /// The server address as the client reached it, for `o=` (`IN IP4 a.b.c.d` or `IN IP6 ..`).
    pub origin_addr: &'a str,
    pub tracks: &'a [TrackFormat],
}

/// Builds the SDP text: v=, o=, s=, c=IN IP4 0.0.0.0 (or IP6 ::), t=0 0,
/// a=control:*, a=range:npt=now- (live), then per track m=, a=rtpmap (dynamic
/// types), a=fmtp (`packetization-mode=1;profile-level-id=..;sprop-parameter-sets=..`),
/// a=control:trackID=<i>. CRLF line endings.
pub fn build_sdp(s: &SdpSession<'_>) -> String {
    let _ = s;
    todo!("helper")
}

/// Standard base64 with padding (RFC 4648), for sprop parameters.
pub fn base64(data: &[u8]) -> String {
    let _ = data;
    todo!("helper")
}
