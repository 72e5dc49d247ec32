//! SDP (RFC 4566) for a media session's DESCRIBE answer.
//!
//! Each track's `a=control:` is `trackID=<index>` relative to `Content-Base`.
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine as _;

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

/// The back channel's `trackID`, whether or not the session has an audio
/// track: its control never names the camera's own audio.
pub const BACKCHANNEL_TRACK: usize = 2;

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
    /// An ONVIF audio back channel (the client sends, the camera receives):
    /// `a=control:trackID=2` and `a=sendonly` (ONVIF Streaming Specification
    /// 5.3: the direction as the client sees it), the other tracks then
    /// `a=recvonly`. Only for a client whose DESCRIBE asked for it.
    pub backchannel: Option<TrackFormat>,
}

/// Builds the SDP text: v=, o=, s=, c=IN IP4 0.0.0.0 (or IP6 ::), t=0 0,
/// a=control:*, a=range:npt=now- (live), then per track m=, a=rtpmap (dynamic
/// types), a=fmtp (`packetization-mode=1;profile-level-id=..;sprop-parameter-sets=..`),
/// a=control:trackID=<i>. CRLF line endings.
pub fn build_sdp(s: &SdpSession<'_>) -> String {
    use core::fmt::Write;
    // Writing into a String cannot fail.
    let mut out = String::with_capacity(512);
    let addr = one_token(s.origin_addr.trim_start_matches('[').trim_end_matches(']'));
    let (addr_type, any_addr) = if addr.contains(':') { ("IP6", "::") } else { ("IP4", "0.0.0.0") };
    let addr = if addr.is_empty() { any_addr } else { addr.as_str() };
    let name = one_line(s.name);
    // RFC 4566 section 5.3: a single space when there is no meaningful name.
    let name = if name.trim().is_empty() { " " } else { name.as_str() };
    let _ = write!(out, "v=0\r\no=- {} {} IN {addr_type} {addr}\r\ns={name}\r\n", s.id, s.version);
    let _ = write!(out, "c=IN {addr_type} {any_addr}\r\nt=0 0\r\n");
    out.push_str("a=tool:canmv-rtsp\r\na=type:broadcast\r\na=control:*\r\na=range:npt=now-\r\n");
    let backchannel = s.backchannel.iter().map(|t| (BACKCHANNEL_TRACK, t));
    for (index, track) in s.tracks.iter().enumerate().chain(backchannel) {
        match track {
            TrackFormat::H264 { pt, sps, pps } => {
                let _ = write!(out, "m=video 0 RTP/AVP {pt}\r\na=rtpmap:{pt} H264/90000\r\n");
                let _ = write!(out, "a=fmtp:{pt} packetization-mode=1");
                if let Some(&[_, profile, constraints, level, ..]) = sps.as_deref() {
                    let _ = write!(out, ";profile-level-id={profile:02X}{constraints:02X}{level:02X}");
                }
                if let (Some(sps), Some(pps)) = (sps, pps) {
                    let _ = write!(out, ";sprop-parameter-sets={},{}", base64(sps), base64(pps));
                }
                out.push_str("\r\n");
            }
            TrackFormat::H265 { pt, vps, sps, pps } => {
                let _ = write!(out, "m=video 0 RTP/AVP {pt}\r\na=rtpmap:{pt} H265/90000\r\n");
                let sprops: Vec<String> = [("sprop-vps", vps), ("sprop-sps", sps), ("sprop-pps", pps)]
                    .into_iter()
                    .filter_map(|(key, nal)| nal.as_ref().map(|nal| alloc::format!("{key}={}", base64(nal))))
                    .collect();
                if !sprops.is_empty() {
                    let _ = write!(out, "a=fmtp:{pt} {}\r\n", sprops.join(";"));
                }
            }
            TrackFormat::Jpeg => out.push_str("m=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n"),
            TrackFormat::Pcmu => out.push_str("m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"),
            TrackFormat::Pcma => out.push_str("m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"),
        }
        let _ = write!(out, "a=control:trackID={index}\r\n");
        // Directions only beside a back channel (as ONVIF's examples and
        // gst-rtsp-server write them); a plain SDP stays as players know it.
        if s.backchannel.is_some() {
            out.push_str(if index == BACKCHANNEL_TRACK { "a=sendonly\r\n" } else { "a=recvonly\r\n" });
        }
    }
    out
}

/// Text from outside (a stream name given from Python) on one SDP line: controls become spaces.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// An address as one SDP field: no spaces or controls.
fn one_token(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect()
}

/// Standard base64 with padding (RFC 4648 4), for sprop parameters.
pub fn base64(data: &[u8]) -> String {
    // `encode_slice`, not `encode`: the latter's `expect` on a `FromUtf8Error`
    // links about 2 KB of `Debug` formatting into the board build.
    let mut out = alloc::vec![0; ::base64::encoded_len(data.len(), true).unwrap_or(0)];
    let written = ::base64::engine::general_purpose::STANDARD.encode_slice(data, &mut out).unwrap_or(0);
    out.truncate(written);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sdp_types::{AddrType, Media, Session};
    use std::vec;

    // A Baseline SPS (profile 66, constraint_set1, level 3.0) and a PPS as an encoder emits them.
    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
    // x264 High profile level 3.1 SPS.
    const HIGH_SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
        0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
    ];

    fn session<'a>(tracks: &'a [TrackFormat], addr: &'a str) -> SdpSession<'a> {
        SdpSession { name: "test", id: 1234567890, version: 1, origin_addr: addr, tracks, backchannel: None }
    }

    fn parse(text: &str) -> Session {
        assert!(text.ends_with("\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'), "bare LF in {text:?}");
        Session::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e:?} in {text}"))
    }

    fn attr<'a>(m: &'a Media, name: &'a str) -> Option<&'a str> {
        m.get_first_attribute_value(name).flatten()
    }

    #[test]
    fn base64_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        // Both characters past Z/z/9 and all bit patterns.
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(base64(&[0x00, 0x00, 0x00]), "AAAA");
    }

    #[test]
    fn h264_session_as_a_player_reads_it() {
        let tracks = [TrackFormat::H264 { pt: 96, sps: Some(SPS.to_vec()), pps: Some(PPS.to_vec()) }];
        let text = build_sdp(&session(&tracks, "192.168.1.10"));
        let sdp = parse(&text);
        assert_eq!(sdp.origin.sess_id, "1234567890");
        assert_eq!(sdp.origin.sess_version, 1);
        assert_eq!(sdp.origin.addrtype, AddrType::Ip4);
        assert_eq!(sdp.origin.unicast_address, "192.168.1.10");
        assert_eq!(sdp.session_name, "test");
        let c = sdp.connection.as_ref().unwrap();
        assert_eq!((c.addrtype.clone(), c.connection_address.as_str()), (AddrType::Ip4, "0.0.0.0"));
        assert_eq!(sdp.times.len(), 1);
        assert_eq!((sdp.times[0].start_time, sdp.times[0].stop_time), (0, 0));
        assert_eq!(sdp.get_first_attribute_value("control"), Some(Some("*")));
        assert_eq!(sdp.get_first_attribute_value("range"), Some(Some("npt=now-")));
        assert_eq!(sdp.get_first_attribute_value("tool"), Some(Some("canmv-rtsp")));

        assert_eq!(sdp.medias.len(), 1);
        let m = &sdp.medias[0];
        assert_eq!((m.media.as_str(), m.port, m.proto.as_str(), m.fmt.as_str()), ("video", 0, "RTP/AVP", "96"));
        assert_eq!(attr(m, "rtpmap"), Some("96 H264/90000"));
        assert_eq!(
            attr(m, "fmtp"),
            Some("96 packetization-mode=1;profile-level-id=42C01E;sprop-parameter-sets=Z0LAHg==,aM48gA==")
        );
        assert_eq!(attr(m, "control"), Some("trackID=0"));
    }

    #[test]
    fn h264_profile_level_id_from_real_sps() {
        let tracks = [TrackFormat::H264 { pt: 97, sps: Some(HIGH_SPS.to_vec()), pps: None }];
        let sdp = parse(&build_sdp(&session(&tracks, "10.0.0.1")));
        let m = &sdp.medias[0];
        assert_eq!(m.fmt, "97");
        assert_eq!(attr(m, "rtpmap"), Some("97 H264/90000"));
        // Without the PPS there are no parameter sets to give.
        assert_eq!(attr(m, "fmtp"), Some("97 packetization-mode=1;profile-level-id=64001F"));
    }

    #[test]
    fn h264_without_parameter_sets() {
        for (sps, pps) in [(None, None), (None, Some(PPS.to_vec())), (Some(vec![0x67, 0x42]), None)] {
            let tracks = [TrackFormat::H264 { pt: 96, sps, pps }];
            let sdp = parse(&build_sdp(&session(&tracks, "10.0.0.1")));
            assert_eq!(attr(&sdp.medias[0], "fmtp"), Some("96 packetization-mode=1"));
        }
        // A short SPS gives no profile-level-id but still travels.
        let tracks = [TrackFormat::H264 { pt: 96, sps: Some(vec![0x67, 0x42]), pps: Some(PPS.to_vec()) }];
        let sdp = parse(&build_sdp(&session(&tracks, "10.0.0.1")));
        assert_eq!(attr(&sdp.medias[0], "fmtp"), Some("96 packetization-mode=1;sprop-parameter-sets=Z0I=,aM48gA=="));
    }

    #[test]
    fn h265_sprops() {
        let vps = vec![0x40, 0x01, 0x0c];
        let sps = vec![0x42, 0x01];
        let pps = vec![0x44, 0x01, 0xc1];
        let tracks = [
            TrackFormat::H265 { pt: 98, vps: Some(vps.clone()), sps: Some(sps.clone()), pps: Some(pps.clone()) },
            TrackFormat::H265 { pt: 99, vps: None, sps: Some(sps), pps: None },
            TrackFormat::H265 { pt: 100, vps: None, sps: None, pps: None },
        ];
        let sdp = parse(&build_sdp(&session(&tracks, "10.0.0.1")));
        assert_eq!(sdp.medias.len(), 3);
        assert_eq!(attr(&sdp.medias[0], "rtpmap"), Some("98 H265/90000"));
        assert_eq!(attr(&sdp.medias[0], "fmtp"), Some("98 sprop-vps=QAEM;sprop-sps=QgE=;sprop-pps=RAHB"));
        assert_eq!(attr(&sdp.medias[1], "fmtp"), Some("99 sprop-sps=QgE="));
        assert_eq!(attr(&sdp.medias[2], "rtpmap"), Some("100 H265/90000"));
        assert!(!sdp.medias[2].has_attribute("fmtp"));
        for (i, m) in sdp.medias.iter().enumerate() {
            assert_eq!(attr(m, "control"), Some(std::format!("trackID={i}").as_str()));
        }
    }

    #[test]
    fn static_payload_types() {
        let tracks = [TrackFormat::Jpeg, TrackFormat::Pcmu, TrackFormat::Pcma];
        let sdp = parse(&build_sdp(&session(&tracks, "10.0.0.1")));
        let got: Vec<(&str, &str, Option<&str>, Option<&str>)> = sdp
            .medias
            .iter()
            .map(|m| (m.media.as_str(), m.fmt.as_str(), attr(m, "rtpmap"), attr(m, "control")))
            .collect();
        assert_eq!(
            got,
            vec![
                ("video", "26", Some("26 JPEG/90000"), Some("trackID=0")),
                ("audio", "0", Some("0 PCMU/8000"), Some("trackID=1")),
                ("audio", "8", Some("8 PCMA/8000"), Some("trackID=2")),
            ]
        );
        assert!(sdp.medias.iter().all(|m| m.proto == "RTP/AVP" && m.port == 0));
    }

    #[test]
    fn video_and_audio_together() {
        let tracks = [TrackFormat::H264 { pt: 96, sps: None, pps: None }, TrackFormat::Pcma];
        let sdp = parse(&build_sdp(&session(&tracks, "10.0.0.1")));
        assert_eq!(sdp.medias.len(), 2);
        assert_eq!(attr(&sdp.medias[1], "control"), Some("trackID=1"));
    }

    #[test]
    fn ipv6_origin() {
        let tracks = [TrackFormat::Pcmu];
        for addr in ["::1", "[::1]"] {
            let sdp = parse(&build_sdp(&session(&tracks, addr)));
            assert_eq!(sdp.origin.addrtype, AddrType::Ip6);
            assert_eq!(sdp.origin.unicast_address, "::1");
            let c = sdp.connection.unwrap();
            assert_eq!((c.addrtype, c.connection_address.as_str()), (AddrType::Ip6, "::"));
        }
    }

    #[test]
    fn session_level_lines_in_rfc_order() {
        let text = build_sdp(&session(&[], "10.0.0.1"));
        let kinds: String = text.lines().map(|l| l.as_bytes()[0] as char).collect();
        assert_eq!(&kinds[..5], "vosct");
        assert!(kinds[5..].chars().all(|k| k == 'a'));
        assert_eq!(parse(&text).medias.len(), 0);
    }

    #[test]
    fn names_from_outside_stay_on_one_line() {
        let tracks = [TrackFormat::Pcmu];
        let mut s = session(&tracks, "10.0.0.1");
        s.name = "cam\r\nm=audio 9 RTP/AVP 0";
        let sdp = parse(&build_sdp(&s));
        assert_eq!(sdp.medias.len(), 1);
        assert!(sdp.session_name.starts_with("cam"));
        s.name = "";
        let text = build_sdp(&s);
        assert!(text.contains("\r\ns= \r\n"), "RFC 4566: a single space for no name");
        s.origin_addr = "";
        assert!(build_sdp(&s).contains("o=- 1234567890 1 IN IP4 0.0.0.0\r\n"));
    }

    #[test]
    fn the_back_channel_is_track_2_and_sendonly() {
        let tracks = [TrackFormat::Jpeg];
        let sdp = build_sdp(&SdpSession { backchannel: Some(TrackFormat::Pcma), ..session(&tracks, "10.0.0.1") });
        let parsed = parse(&sdp);
        assert_eq!(parsed.medias.len(), 2);
        let back = &parsed.medias[1];
        assert_eq!((back.media.as_str(), back.fmt.as_str()), ("audio", "8"));
        assert_eq!(back.get_first_attribute_value("control"), Some(Some("trackID=2")));
        assert_eq!(back.get_first_attribute_value("rtpmap"), Some(Some("8 PCMA/8000")));
        assert!(back.has_attribute("sendonly"));
        // The camera's own tracks: the client only receives them.
        assert!(parsed.medias[0].has_attribute("recvonly") && !parsed.medias[0].has_attribute("sendonly"));
        // Without a back channel, no direction at all.
        let plain = parse(&build_sdp(&session(&tracks, "10.0.0.1")));
        assert!(!plain.medias[0].has_attribute("recvonly"));
    }
}
