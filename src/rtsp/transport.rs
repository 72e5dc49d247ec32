//! The Transport header (RFC 2326 section 12.39) (OWNED BY HELPER: rtsp/sdp).
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lower {
    Udp,
    Tcp,
}

/// One transport alternative offered by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportSpec {
    /// `RTP/AVP` (UDP) or `RTP/AVP/TCP`. Other profiles are not parsed into a spec.
    pub lower: Lower,
    /// false when the client asked for `multicast`.
    pub unicast: bool,
    pub client_port: Option<(u16, u16)>,
    pub interleaved: Option<(u8, u8)>,
    /// `destination=` as given, if any (we refuse a third address).
    pub destination: Option<String>,
    /// `mode=record` (or "RECORD") asked: we only serve PLAY.
    pub record: bool,
}

/// Parses a Transport header: comma-separated alternatives, in the client's order
/// of preference. Alternatives with a profile other than RTP/AVP[/UDP|/TCP] are
/// skipped. `Err(())` if no alternative could be parsed at all.
pub fn parse_transport(value: &str) -> Result<Vec<TransportSpec>, ()> {
    let _ = value;
    todo!("helper")
}

/// Reply for UDP: `RTP/AVP;unicast;client_port=a-b;server_port=c-d;ssrc=XXXXXXXX`
pub fn format_udp(client_port: (u16, u16), server_port: (u16, u16), ssrc: u32) -> String {
    let _ = (client_port, server_port, ssrc);
    todo!("helper")
}

/// Reply for TCP: `RTP/AVP/TCP;unicast;interleaved=a-b;ssrc=XXXXXXXX`
pub fn format_tcp(interleaved: (u8, u8), ssrc: u32) -> String {
    let _ = (interleaved, ssrc);
    todo!("helper")
}
