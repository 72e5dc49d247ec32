//! Request URL matching.
//!
//! Players send the same stream in many spellings: `rtsp://host:port/name`,
//! with a trailing slash, with a query string, with the address or the host
//! name they used, with a track control appended (`.../name/trackID=1`), or
//! an absolute path (`/name`). `*` is the OPTIONS wildcard.

/// What a request URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// The session path without leading/trailing slashes, without query and
    /// without a track control segment; may contain inner slashes. Empty for `*` or `/`.
    pub path: &'a str,
    /// `Some(n)` when the last segment was a track control `trackID=n`
    /// (also accepted: `track<n>` and `streamid=<n>`).
    pub track: Option<u8>,
}

/// `None` when the URI is not `*`, an absolute path, or an `rtsp://`/`rtsps://`/`rtspu://` URL.
pub fn parse_target(uri: &str) -> Option<Target<'_>> {
    if uri == "*" {
        return Some(Target { path: "", track: None });
    }
    let path_and_query = if uri.starts_with('/') { uri } else { split_url(uri)?.2 };
    let path = path_and_query.split(['?', '#']).next().unwrap_or("").trim_matches('/');
    let (parent, last) = match path.rsplit_once('/') {
        Some((parent, last)) => (parent, last),
        None => ("", path),
    };
    match track_number(last) {
        Some(n) => Some(Target { path: parent.trim_end_matches('/'), track: Some(n) }),
        None => Some(Target { path, track: None }),
    }
}

/// Splits an `rtsp://`, `rtsps://` or `rtspu://` URL into its scheme (lower
/// case), authority (with any userinfo) and the rest (path, query, fragment).
fn split_url(uri: &str) -> Option<(&'static str, &str, &str)> {
    let (scheme, after) = uri.split_once("://")?;
    let scheme = ["rtsp", "rtsps", "rtspu"].into_iter().find(|s| s.eq_ignore_ascii_case(scheme))?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    Some((scheme, authority, rest))
}

/// `trackID=<n>`, `track<n>` or `streamid=<n>` (case-insensitive).
fn track_number(segment: &str) -> Option<u8> {
    let digits = ["trackID=", "streamid=", "track"].into_iter().find_map(|prefix| {
        let head = segment.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix).then(|| segment.get(prefix.len()..)).flatten()
    })?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The URL a client should use as `Content-Base` for `path`: the scheme and
/// authority (host:port) the client itself used in `request_uri`, then `/path/`.
/// Falls back to `rtsp://<fallback_host>/path/` when the request URI has no authority.
/// The caller gives `fallback_host` as it must appear in a URL (`host:port`, IPv6 in brackets).
pub fn content_base(request_uri: &str, fallback_host: &str, path: &str) -> alloc::string::String {
    let (scheme, host) = match split_url(request_uri) {
        Some((scheme, authority, _)) => {
            // The password must not travel back in a header.
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (scheme, if host.is_empty() { fallback_host } else { host })
        }
        None => ("rtsp", fallback_host),
    };
    let path = path.trim_matches('/');
    let mut url = alloc::format!("{scheme}://{host}/");
    if !path.is_empty() {
        url.push_str(path);
        url.push('/');
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str, track: Option<u8>) -> Option<Target<'_>> {
        Some(Target { path, track })
    }

    #[test]
    fn spellings_of_one_stream() {
        for uri in [
            "rtsp://127.0.0.1:8554/test",
            "rtsp://127.0.0.1:8554/test/",
            "rtsp://127.0.0.1:8554/test?x=1",
            "rtsp://127.0.0.1:8554/test/?x=1&y=2",
            "rtsp://127.0.0.1/test",
            "rtsp://user:pass@127.0.0.1:8554/test",
            "rtsp://[::1]:8554/test",
            "RTSP://camera.local:554/test",
            "rtsps://h/test",
            "rtspu://h/test",
            "/test",
            "/test/",
            "//test//",
        ] {
            assert_eq!(parse_target(uri), t("test", None), "{uri}");
        }
    }

    #[test]
    fn track_controls() {
        assert_eq!(parse_target("rtsp://127.0.0.1:8554/test/trackID=0"), t("test", Some(0)));
        assert_eq!(parse_target("rtsp://[::1]:8554/test/trackID=1"), t("test", Some(1)));
        assert_eq!(parse_target("rtsp://h/test/trackid=1/"), t("test", Some(1)));
        assert_eq!(parse_target("rtsp://h/test/track2"), t("test", Some(2)));
        assert_eq!(parse_target("rtsp://h/test/streamid=0"), t("test", Some(0)));
        assert_eq!(parse_target("rtsp://h/test/trackID=1?token=abc"), t("test", Some(1)));
        assert_eq!(parse_target("/live/main/trackID=0"), t("live/main", Some(0)));
        // A track control straight under the root.
        assert_eq!(parse_target("rtsp://h:8554/trackID=0"), t("", Some(0)));
        // Not track controls: those stay part of the path.
        assert_eq!(parse_target("rtsp://h/test/trackID=256"), t("test/trackID=256", None));
        assert_eq!(parse_target("rtsp://h/test/trackID="), t("test/trackID=", None));
        assert_eq!(parse_target("rtsp://h/test/tracks"), t("test/tracks", None));
        assert_eq!(parse_target("rtsp://h/test/trackID=-1"), t("test/trackID=-1", None));
    }

    #[test]
    fn nested_paths_and_root() {
        assert_eq!(parse_target("rtsp://CamHost/live/main"), t("live/main", None));
        assert_eq!(parse_target("rtsp://CamHost/live/main/"), t("live/main", None));
        assert_eq!(parse_target("*"), t("", None));
        assert_eq!(parse_target("/"), t("", None));
        assert_eq!(parse_target("rtsp://h:8554"), t("", None));
        assert_eq!(parse_target("rtsp://h:8554/"), t("", None));
        assert_eq!(parse_target("rtsp://h:8554?x"), t("", None));
        // Percent-encoding is left as is.
        assert_eq!(parse_target("rtsp://h/my%20cam"), t("my%20cam", None));
        assert_eq!(parse_target("rtsp://h/kamera-ü"), t("kamera-ü", None));
    }

    #[test]
    fn not_a_target() {
        for uri in ["", "test", "http://h/test", "rtmp://h/test", "rtsp:/h/test", "rtsp:h/test", "**", "ü://x/y"] {
            assert_eq!(parse_target(uri), None, "{uri:?}");
        }
    }

    #[test]
    fn content_base_keeps_client_authority() {
        assert_eq!(content_base("rtsp://127.0.0.1:8554/test", "10.0.0.2:8554", "test"), "rtsp://127.0.0.1:8554/test/");
        assert_eq!(content_base("rtsp://127.0.0.1:8554/test/?x=1", "x", "test"), "rtsp://127.0.0.1:8554/test/");
        assert_eq!(content_base("rtsp://user:pass@cam:8554/test", "x", "test"), "rtsp://cam:8554/test/");
        assert_eq!(content_base("rtsp://[::1]:8554/test", "x", "test"), "rtsp://[::1]:8554/test/");
        assert_eq!(content_base("rtsp://CamHost/live/main", "x", "live/main"), "rtsp://CamHost/live/main/");
        assert_eq!(content_base("RTSP://h/test", "x", "/test/"), "rtsp://h/test/");
        assert_eq!(content_base("rtsp://h:8554", "x", ""), "rtsp://h:8554/");
    }

    #[test]
    fn content_base_fallback() {
        assert_eq!(content_base("/test", "192.168.1.5:8554", "test"), "rtsp://192.168.1.5:8554/test/");
        assert_eq!(content_base("*", "192.168.1.5:8554", "test"), "rtsp://192.168.1.5:8554/test/");
        assert_eq!(content_base("rtsp:///test", "[::1]:8554", "test"), "rtsp://[::1]:8554/test/");
    }

    #[test]
    fn content_base_plus_control_is_a_track_url() {
        // A player resolves `trackID=0` against Content-Base (RFC 2326 C.1.1):
        // the result must lead back to the same stream and track.
        let base = content_base("rtsp://user:pw@127.0.0.1:8554/live/main?x=1", "x", "live/main");
        let track_url = std::format!("{base}trackID=0");
        assert_eq!(parse_target(&track_url), t("live/main", Some(0)));
    }
}
