//! The Transport header (RFC 2326 section 12.39).
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
    /// `server_port=a-b` (a server's SETUP reply, for the pusher). A bad
    /// value is ignored (None), so a client's odd header is still served.
    pub server_port: Option<(u16, u16)>,
    /// `ssrc=` (hex, 1 to 8 digits), as a server's reply may carry it; a bad value is ignored.
    pub ssrc: Option<u32>,
}

/// Parses a Transport header: comma-separated alternatives, in the client's order
/// of preference. Alternatives with a profile other than RTP/AVP[/UDP|/TCP] are
/// skipped. `Err(())` if no alternative could be parsed at all.
// `()`: there is only one way to fail (nothing could be parsed); the server answers it with 461.
#[allow(clippy::result_unit_err)]
pub fn parse_transport(value: &str) -> Result<Vec<TransportSpec>, ()> {
    let specs: Vec<TransportSpec> = split_unquoted(value, b',').into_iter().filter_map(parse_spec).collect();
    if specs.is_empty() {
        Err(())
    } else {
        Ok(specs)
    }
}

/// Splits on `sep` where it is not inside a double-quoted string
/// (`mode="PLAY,RECORD"` is one parameter).
fn split_unquoted(text: &str, sep: u8) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == sep && !in_quotes {
            // `sep` is ASCII, so `start..i` lies on char boundaries.
            parts.push(text.get(start..i).unwrap_or(""));
            start = i + 1;
        }
    }
    parts.push(text.get(start..).unwrap_or(""));
    parts
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).trim()
}

fn parse_number<T: core::str::FromStr>(text: &str) -> Option<T> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `a-b`, or `a` meaning `a` and `a+1` (RTP and RTCP).
fn parse_pair<T>(text: &str, next: impl Fn(T) -> Option<T>) -> Option<(T, T)>
where
    T: core::str::FromStr + Copy,
{
    match text.split_once('-') {
        Some((a, b)) => Some((parse_number(a)?, parse_number(b)?)),
        None => {
            let a = parse_number(text)?;
            Some((a, next(a)?))
        }
    }
}

/// One alternative; `None` when its profile is not ours or a number is out of range.
fn parse_spec(alternative: &str) -> Option<TransportSpec> {
    let params = split_unquoted(alternative, b';');
    let mut params = params.iter().map(|p| p.trim());
    let protocol = params.next()?;
    let lower = if protocol.eq_ignore_ascii_case("RTP/AVP") || protocol.eq_ignore_ascii_case("RTP/AVP/UDP") {
        Lower::Udp
    } else if protocol.eq_ignore_ascii_case("RTP/AVP/TCP") {
        Lower::Tcp
    } else {
        return None;
    };
    let mut spec =
        TransportSpec {
        lower,
        unicast: true,
        client_port: None,
        interleaved: None,
        destination: None,
        record: false,
        server_port: None,
        ssrc: None,
    };
    for param in params {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote(v))),
            None => (param, None),
        };
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("unicast") {
            spec.unicast = true;
        } else if is("multicast") {
            spec.unicast = false;
        } else if is("client_port") {
            // Port 0 cannot be sent to.
            let ports = parse_pair(value?, |p: u16| p.checked_add(1))?;
            if ports.0 == 0 || ports.1 == 0 {
                return None;
            }
            spec.client_port = Some(ports);
        } else if is("interleaved") {
            spec.interleaved = Some(parse_pair(value?, |c: u8| c.checked_add(1))?);
        } else if is("destination") {
            spec.destination = value.filter(|v| !v.is_empty()).map(String::from);
        } else if is("mode") {
            let modes = split_unquoted(value?, b',');
            let has = |m: &str| modes.iter().any(|x| unquote(x).eq_ignore_ascii_case(m));
            spec.record = has("RECORD") && !has("PLAY");
        } else if is("server_port") {
            spec.server_port = value.and_then(|v| parse_pair(v, |p: u16| p.checked_add(1))).filter(|p| p.0 != 0 && p.1 != 0);
        } else if is("ssrc") {
            spec.ssrc = value
                .filter(|v| (1..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|v| u32::from_str_radix(v, 16).ok());
        }
        // Other parameters (ttl, source, port, layers, append) do not change what we send.
    }
    Some(spec)
}

/// Reply for UDP: `RTP/AVP;unicast;client_port=a-b;server_port=c-d;ssrc=XXXXXXXX`
pub fn format_udp(client_port: (u16, u16), server_port: (u16, u16), ssrc: Option<u32>) -> String {
    let mut out = alloc::format!(
        "RTP/AVP;unicast;client_port={}-{};server_port={}-{}",
        client_port.0,
        client_port.1,
        server_port.0,
        server_port.1
    );
    push_ssrc(&mut out, ssrc);
    out
}

/// `;ssrc=` for a stream the server sends (none for one it receives).
fn push_ssrc(out: &mut String, ssrc: Option<u32>) {
    if let Some(ssrc) = ssrc {
        out.push_str(&alloc::format!(";ssrc={:08X}", ssrc));
    }
}

/// The pusher's SETUP over TCP: `RTP/AVP/TCP;unicast;interleaved=a-b;mode=record`.
pub fn format_record_tcp(interleaved: (u8, u8)) -> String {
    alloc::format!("RTP/AVP/TCP;unicast;interleaved={}-{};mode=record", interleaved.0, interleaved.1)
}

/// The pusher's SETUP over UDP: `RTP/AVP;unicast;client_port=a-b;mode=record`.
pub fn format_record_udp(client_port: (u16, u16)) -> String {
    alloc::format!("RTP/AVP;unicast;client_port={}-{};mode=record", client_port.0, client_port.1)
}

/// Reply for TCP: `RTP/AVP/TCP;unicast;interleaved=a-b;ssrc=XXXXXXXX`
pub fn format_tcp(interleaved: (u8, u8), ssrc: Option<u32>) -> String {
    let mut out = alloc::format!("RTP/AVP/TCP;unicast;interleaved={}-{}", interleaved.0, interleaved.1);
    push_ssrc(&mut out, ssrc);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    fn udp(ports: (u16, u16)) -> TransportSpec {
        TransportSpec {
            lower: Lower::Udp,
            unicast: true,
            client_port: Some(ports),
            interleaved: None,
            destination: None,
            record: false,
            server_port: None,
            ssrc: None,
        }
    }

    fn tcp(channels: (u8, u8)) -> TransportSpec {
        TransportSpec { lower: Lower::Tcp, interleaved: Some(channels), client_port: None, ..udp((1, 2)) }
    }

    #[test]
    fn ffmpeg_udp_and_tcp() {
        assert_eq!(parse_transport("RTP/AVP/UDP;unicast;client_port=5000-5001"), Ok(std::vec![udp((5000, 5001))]));
        assert_eq!(parse_transport("RTP/AVP/TCP;unicast;interleaved=0-1"), Ok(std::vec![tcp((0, 1))]));
        // ffmpeg's second track over TCP.
        assert_eq!(parse_transport("RTP/AVP/TCP;unicast;interleaved=2-3"), Ok(std::vec![tcp((2, 3))]));
    }

    #[test]
    fn vlc_live555_udp() {
        assert_eq!(parse_transport("RTP/AVP;unicast;client_port=56452-56453"), Ok(std::vec![udp((56452, 56453))]));
        // live555 with --rtsp-tcp.
        assert_eq!(parse_transport("RTP/AVP/TCP;unicast;interleaved=0-1"), Ok(std::vec![tcp((0, 1))]));
    }

    #[test]
    fn gstreamer_alternatives_in_order() {
        let specs = parse_transport(
            "RTP/AVP/UDP;unicast;client_port=5000-5001,RTP/AVP/UDP;multicast,RTP/AVP/TCP;unicast;interleaved=0-1",
        )
        .unwrap();
        assert_eq!(specs.len(), 3);
        assert_eq!(specs[0], udp((5000, 5001)));
        assert_eq!(specs[1].lower, Lower::Udp);
        assert!(!specs[1].unicast);
        assert_eq!(specs[1].client_port, None);
        assert_eq!(specs[2], tcp((0, 1)));

        // Bare `RTP/AVP/TCP` without channels: the server picks them.
        let specs = parse_transport("RTP/AVP;unicast;client_port=40000-40001, RTP/AVP/TCP").unwrap();
        assert_eq!(specs[1].lower, Lower::Tcp);
        assert_eq!(specs[1].interleaved, None);
    }

    #[test]
    fn single_numbers_mean_a_pair() {
        assert_eq!(parse_transport("RTP/AVP;unicast;client_port=6970").unwrap()[0].client_port, Some((6970, 6971)));
        assert_eq!(parse_transport("RTP/AVP/TCP;interleaved=4").unwrap()[0].interleaved, Some((4, 5)));
        // No a+1 past the top: that alternative is dropped.
        assert_eq!(parse_transport("RTP/AVP;unicast;client_port=65535"), Err(()));
        assert_eq!(parse_transport("RTP/AVP/TCP;interleaved=255"), Err(()));
        assert_eq!(parse_transport("RTP/AVP/TCP;interleaved=254-255").unwrap()[0].interleaved, Some((254, 255)));
    }

    #[test]
    fn mode_destination_and_unknown_params() {
        let s = &parse_transport("RTP/AVP;unicast;client_port=5000-5001;mode=record").unwrap()[0];
        assert!(s.record);
        let s = &parse_transport("RTP/AVP;unicast;client_port=5000-5001;mode=\"RECORD\"").unwrap()[0];
        assert!(s.record);
        let s = &parse_transport("RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY\"").unwrap()[0];
        assert!(!s.record);
        let s = &parse_transport("RTP/AVP;unicast;client_port=5000-5001;MODE=play").unwrap()[0];
        assert!(!s.record);
        // A quoted mode list is not split into alternatives.
        let specs = parse_transport("RTP/AVP;unicast;client_port=5000-5001;mode=\"PLAY,RECORD\"").unwrap();
        assert_eq!(specs.len(), 1);
        assert!(!specs[0].record);

        let s = &parse_transport(
            "RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=3456-3457;ssrc=1234ABCD;source=10.0.0.1;layers=1;append",
        )
        .unwrap()[0];
        assert!(!s.unicast);
        assert_eq!(s.destination.as_deref(), Some("224.2.0.1"));
        assert_eq!(s.client_port, None);
        assert!(!s.record);
    }

    #[test]
    fn tolerant_spelling() {
        let specs = parse_transport(" rtp/avp/udp ; Unicast ; Client_Port = 5000 - 5001 ").unwrap();
        assert_eq!(specs, std::vec![udp((5000, 5001))]);
        // Unicast unless the client asks for multicast.
        assert!(parse_transport("RTP/AVP").unwrap()[0].unicast);
    }

    #[test]
    fn other_profiles_are_skipped() {
        let specs = parse_transport(
            "RTP/SAVP;unicast;client_port=1000-1001,RTP/AVPF;unicast,RTP/AVP;unicast;client_port=2000-2001",
        )
        .unwrap();
        assert_eq!(specs, std::vec![udp((2000, 2001))]);
        assert_eq!(parse_transport("RAW/RAW/UDP;unicast;client_port=1000-1001"), Err(()));
        assert_eq!(parse_transport("MP2T/H2221/UDP;unicast;destination=1.2.3.4;client_port=1000"), Err(()));
    }

    #[test]
    fn bad_numbers_skip_that_alternative() {
        for bad in [
            "RTP/AVP;unicast;client_port=70000-70001",
            "RTP/AVP;unicast;client_port=-1-0",
            "RTP/AVP;unicast;client_port=abc-def",
            "RTP/AVP;unicast;client_port=",
            "RTP/AVP;unicast;client_port",
            "RTP/AVP;unicast;client_port=0-1",
            "RTP/AVP;unicast;client_port=5000-",
            "RTP/AVP;unicast;client_port=+5000",
            "RTP/AVP;unicast;client_port=99999999999999999999999",
            "RTP/AVP/TCP;interleaved=256-257",
            "RTP/AVP/TCP;interleaved=0-x",
        ] {
            assert_eq!(parse_transport(bad), Err(()), "{bad}");
        }
        let specs =
            parse_transport("RTP/AVP;unicast;client_port=70000-70001,RTP/AVP/TCP;unicast;interleaved=0-1").unwrap();
        assert_eq!(specs, std::vec![tcp((0, 1))]);
    }

    #[test]
    fn garbage() {
        for bad in ["", " ", ",,,", ";;;", "\"", "\u{0}\u{ff}", "é;ü,ß=ö", "RTP", "RTP/AVP/SCTP;unicast", "\"RTP/AVP\""]
        {
            assert_eq!(parse_transport(bad), Err(()), "{bad:?}");
        }
        // Unbalanced quotes and odd bytes never panic.
        let _ = parse_transport("RTP/AVP;mode=\"play;client_port=1-2,RTP/AVP/TCP");
        let _ = parse_transport("RTP/AVP;client_port=1é-2");
    }

    #[test]
    fn replies() {
        assert_eq!(
            format_udp((5000, 5001), (6970, 6971), Some(0x1a2b)),
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=00001A2B"
        );
        assert_eq!(format_tcp((0, 1), Some(0xDEADBEEF)), "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=DEADBEEF");
        // A client reading our reply gets back what it asked for, and our ports and SSRC.
        let back = parse_transport(&format_udp((5000, 5001), (6970, 6971), Some(1))).unwrap();
        let want = TransportSpec { server_port: Some((6970, 6971)), ssrc: Some(1), ..udp((5000, 5001)) };
        assert_eq!(back, std::vec![want]);
        let back = parse_transport(&format_tcp((2, 3), Some(u32::MAX))).unwrap();
        assert_eq!(back, std::vec![TransportSpec { ssrc: Some(u32::MAX), ..tcp((2, 3)) }]);
        // A stream the client sends (the back channel): no SSRC of ours.
        assert_eq!(format_tcp((4, 5), None), "RTP/AVP/TCP;unicast;interleaved=4-5");
        assert!(format_udp((5000, 5001), (6970, 6971), None).ends_with("server_port=6970-6971"));
    }

    #[test]
    fn record_requests_and_server_replies() {
        assert_eq!(format_record_tcp((0, 1)), "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record");
        assert_eq!(format_record_tcp((2, 3)), "RTP/AVP/TCP;unicast;interleaved=2-3;mode=record");
        assert_eq!(format_record_udp((5000, 5001)), "RTP/AVP;unicast;client_port=5000-5001;mode=record");
        // Our requests read back as what they ask.
        let s = &parse_transport(&format_record_tcp((4, 5))).unwrap()[0];
        assert_eq!((s.lower, s.interleaved, s.record), (Lower::Tcp, Some((4, 5)), true));
        let s = &parse_transport(&format_record_udp((40000, 40001))).unwrap()[0];
        assert_eq!((s.lower, s.client_port, s.record), (Lower::Udp, Some((40000, 40001)), true));

        // Servers' replies (mediamtx, ZLMediaKit, gst-rtsp-server, live555 spellings).
        let s = &parse_transport("RTP/AVP;unicast;client_port=5000-5001;server_port=8000-8001;ssrc=4E5A3F1B").unwrap()[0];
        assert_eq!(s.server_port, Some((8000, 8001)));
        assert_eq!(s.ssrc, Some(0x4E5A_3F1B));
        let s = &parse_transport("RTP/AVP/UDP;unicast;client_port=5000-5001;server_port=30000-30001;mode=record").unwrap()[0];
        assert_eq!((s.server_port, s.record, s.ssrc), (Some((30000, 30001)), true, None));
        let s = &parse_transport("RTP/AVP/TCP;unicast;interleaved=0-1;mode=\"RECORD\"").unwrap()[0];
        assert_eq!((s.interleaved, s.record, s.server_port), (Some((0, 1)), true, None));
        let s = &parse_transport("RTP/AVP;unicast;destination=10.0.0.2;source=10.0.0.1;client_port=5000-5001;server_port=6970").unwrap()[0];
        assert_eq!(s.server_port, Some((6970, 6971)));
        assert_eq!(parse_transport("RTP/AVP;unicast;ssrc=1").unwrap()[0].ssrc, Some(1));
        // A bad server_port or ssrc is ignored, not fatal: the server's view of a client is unchanged.
        for bad in [
            "server_port=0-1",
            "server_port=70000-70001",
            "server_port=x",
            "server_port",
            "server_port=65535",
            "ssrc=123456789",
            "ssrc=xyz",
            "ssrc=",
            "ssrc=-1",
        ] {
            let specs = parse_transport(&format!("RTP/AVP;unicast;client_port=5000-5001;{bad}")).unwrap();
            assert_eq!(specs, std::vec![udp((5000, 5001))], "{bad}");
        }
    }
}
