//! Just enough RTSP (RFC 2326) for a player: requests out, responses in, and
//! the SDP facts a player needs (the video track's control URL, whether the
//! parameter sets are given out of band).

/// One parsed response: status and the headers a player acts on.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    pub cseq: Option<u32>,
    pub session: Option<String>,
    pub transport: Option<String>,
    pub content_base: Option<String>,
    pub body: String,
}

/// Finds a complete response at the start of `buf`: Some((response, bytes used)),
/// None while incomplete, Err for something that is not RTSP.
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, &'static str> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > 16 * 1024 {
            return Err("response head over 16 KB");
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "response head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    if !parts.next().is_some_and(|v| v.starts_with("RTSP/")) {
        return Err("not an RTSP status line");
    }
    let status = parts.next().and_then(|s| s.parse().ok()).ok_or("bad status code")?;
    let mut r = Response { status, ..Response::default() };
    let mut content_length = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "cseq" => r.cseq = value.parse().ok(),
            "session" => r.session = Some(value.split(';').next().unwrap_or("").trim().to_string()),
            "transport" => r.transport = Some(value.to_string()),
            "content-base" => r.content_base = Some(value.to_string()),
            "content-length" => content_length = value.parse().map_err(|_| "bad Content-Length")?,
            _ => {}
        }
    }
    if content_length > 64 * 1024 {
        return Err("body over 64 KB");
    }
    let total = head_end + 4 + content_length;
    if buf.len() < total {
        return Ok(None);
    }
    r.body = String::from_utf8_lossy(&buf[head_end + 4..total]).into_owned();
    Ok(Some((r, total)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Appends one request to `out`.
pub fn request(out: &mut Vec<u8>, method: &str, url: &str, cseq: u32, extra: &[(&str, &str)]) {
    use std::io::Write;
    let _ = write!(out, "{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: canmv-rtsp-loadclient\r\n");
    for (k, v) in extra {
        let _ = write!(out, "{k}: {v}\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// What DESCRIBE's SDP tells a player about the first video track.
#[derive(Debug, Default)]
pub struct VideoTrack {
    pub control: String,
    /// `sprop-parameter-sets` names an SPS and a PPS (H.264, RFC 6184 §8.1).
    pub params_in_sdp: bool,
}

pub fn video_track(sdp: &str) -> Option<VideoTrack> {
    let mut in_video = false;
    let mut track: Option<VideoTrack> = None;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(m) = line.strip_prefix("m=") {
            if track.is_some() {
                break;
            }
            in_video = m.starts_with("video");
            if in_video {
                track = Some(VideoTrack::default());
            }
            continue;
        }
        let Some(t) = track.as_mut().filter(|_| in_video) else { continue };
        if let Some(c) = line.strip_prefix("a=control:") {
            t.control = c.trim().to_string();
        } else if let Some(fmtp) = line.strip_prefix("a=fmtp:") {
            t.params_in_sdp = sprop_has_sps_and_pps(fmtp);
        }
    }
    track
}

fn sprop_has_sps_and_pps(fmtp: &str) -> bool {
    let Some(start) = fmtp.find("sprop-parameter-sets=") else { return false };
    let value = fmtp[start + "sprop-parameter-sets=".len()..].split(';').next().unwrap_or("");
    let (mut sps, mut pps) = (false, false);
    for set in value.split(',') {
        // The NAL header is the first byte: its base64 first character and
        // the top two bits of the second give the low 5 bits (the type).
        let b: Vec<u8> = set.trim().bytes().take(2).collect();
        if b.len() < 2 {
            continue;
        }
        let (Some(hi), Some(lo)) = (b64(b[0]), b64(b[1])) else { continue };
        match ((hi << 2) | (lo >> 4)) & 0x1f {
            7 => sps = true,
            8 => pps = true,
            _ => {}
        }
    }
    sps && pps
}

fn b64(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// The SETUP URL of a track: an absolute control, or the control resolved
/// against Content-Base (else the request URL), as RFC 2326 C.1.1 says.
pub fn track_url(base: &str, control: &str) -> String {
    if control.starts_with("rtsp://") {
        return control.to_string();
    }
    if control.is_empty() || control == "*" {
        return base.to_string();
    }
    if base.ends_with('/') {
        format!("{base}{control}")
    } else {
        format!("{base}/{control}")
    }
}

/// The first channel of `interleaved=a-b` in a Transport reply.
pub fn interleaved_channel(transport: &str) -> Option<u8> {
    let start = transport.find("interleaved=")? + "interleaved=".len();
    transport[start..].split(['-', ';']).next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_with_body_waits_for_all_of_it() {
        let msg = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 4\r\nSession: ab12;timeout=60\r\n\r\nv=0\n";
        assert!(parse_response(&msg[..msg.len() - 1]).unwrap().is_none());
        let (r, used) = parse_response(msg).unwrap().unwrap();
        assert_eq!((r.status, r.cseq, used), (200, Some(3), msg.len()));
        assert_eq!(r.session.as_deref(), Some("ab12"));
        assert_eq!(r.body, "v=0\n");
    }

    #[test]
    fn sdp_video_control_and_sprop() {
        // SPS header 0x67 is "Z..." in base64, PPS 0x68 is "aO..."
        let sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                   a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z2QAH6zZ,aOvjyyLA\r\n\
                   a=control:stream=0\r\nm=audio 0 RTP/AVP 0\r\na=control:stream=1\r\n";
        let t = video_track(sdp).unwrap();
        assert_eq!(t.control, "stream=0");
        assert!(t.params_in_sdp);
        assert!(!video_track("m=video 0 RTP/AVP 96\r\na=fmtp:96 sprop-parameter-sets=Z2QAH6zZ\r\n")
            .unwrap()
            .params_in_sdp);
    }

    #[test]
    fn urls_and_channels() {
        assert_eq!(track_url("rtsp://h/a/", "stream=0"), "rtsp://h/a/stream=0");
        assert_eq!(track_url("rtsp://h/a", "track1"), "rtsp://h/a/track1");
        assert_eq!(track_url("rtsp://h/a", "rtsp://h/b/t"), "rtsp://h/b/t");
        assert_eq!(interleaved_channel("RTP/AVP/TCP;unicast;interleaved=4-5;ssrc=1"), Some(4));
    }
}
