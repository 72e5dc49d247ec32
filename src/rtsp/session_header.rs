//! The Session header (RFC 2326 section 12.37) as a client reads it:
//! `Session: 12345678;timeout=60`.
use alloc::string::String;

/// Session identifiers longer than this are refused (a server's garbage
/// would otherwise be echoed in every request).
const MAX_ID_LEN: usize = 256;

/// The session id and its `timeout` in seconds, if given. `None` when the id
/// is empty, longer than 256 bytes, or holds anything but visible ASCII. A
/// `timeout` that is missing, not a number, zero or too large is `None` (the
/// caller keeps its default: RFC 2326 says 60 seconds); other parameters are ignored.
pub fn parse_session_header(value: &str) -> Option<(String, Option<u32>)> {
    let mut parts = value.split(';');
    let id = parts.next()?.trim();
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let mut timeout = None;
    for param in parts {
        let Some((name, v)) = param.split_once('=') else { continue };
        if name.trim().eq_ignore_ascii_case("timeout") {
            let v = v.trim().trim_matches('"');
            timeout = (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<u32>().ok())
                .flatten()
                .filter(|&t| t > 0);
        }
    }
    Some((id.into(), timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn parsed(value: &str) -> Option<(String, Option<u32>)> {
        parse_session_header(value)
    }

    #[test]
    fn servers_session_headers() {
        assert_eq!(parsed("12345678;timeout=60"), Some(("12345678".to_string(), Some(60))));
        assert_eq!(parsed("7bd1c5a1"), Some(("7bd1c5a1".to_string(), None)));
        // gst-rtsp-server, live555, ZLMediaKit, mediamtx spellings.
        assert_eq!(parsed("pQwYmJ2G0ZpY3jNx; timeout=60"), Some(("pQwYmJ2G0ZpY3jNx".to_string(), Some(60))));
        assert_eq!(parsed("000022B8;timeout=65"), Some(("000022B8".to_string(), Some(65))));
        assert_eq!(parsed(" KPo7ivN_ ;Timeout = 30 "), Some(("KPo7ivN_".to_string(), Some(30))));
        assert_eq!(parsed("abc;timeout=\"45\""), Some(("abc".to_string(), Some(45))));
        assert_eq!(parsed("a.b-c$d+e;foo=bar;timeout=10;x"), Some(("a.b-c$d+e".to_string(), Some(10))));
        assert_eq!(parsed("abc;"), Some(("abc".to_string(), None)));
    }

    #[test]
    fn bad_timeouts_are_ignored() {
        for value in ["s;timeout=", "s;timeout=abc", "s;timeout=-5", "s;timeout=0", "s;timeout=99999999999", "s;timeout=6 0", "s;timeout=+6"] {
            assert_eq!(parsed(value), Some(("s".to_string(), None)), "{value}");
        }
        assert_eq!(parsed("s;timeout=4294967295"), Some(("s".to_string(), Some(u32::MAX))));
    }

    #[test]
    fn bad_ids_are_refused() {
        let long = "x".repeat(257);
        for value in ["", " ", ";timeout=60", "a b", "a\tb", "a\u{0}b", "s\u{e9}ssion", "a\u{7f}", long.as_str()] {
            assert_eq!(parsed(value), None, "{value:?}");
        }
        let max = "x".repeat(256);
        assert_eq!(parsed(&max).map(|(id, _)| id.len()), Some(256));
    }
}
