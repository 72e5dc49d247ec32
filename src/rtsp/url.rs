//! Request URL matching.
//!
//! Players send the same stream in many spellings: `rtsp://host:port/name`,
//! with a trailing slash, with a query string, with the address or the host
//! name they used, with a track control appended (`.../name/trackID=1`), or
//! an absolute path (`/name`). `*` is the OPTIONS wildcard.
//!
//! The pusher's side: [`parse_push_url`] reads the `rtsp://` URL a script
//! gives for a media server, and [`PushUrl`] writes the request URIs.
use alloc::string::String;
use alloc::vec::Vec;

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

/// The media server a pusher publishes to, from `rtsp://[user[:password]@]host[:port]/path[?query]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUrl {
    /// A name, an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    /// 554 when the URL has none.
    pub port: u16,
    /// Percent-decoded; `None` without userinfo.
    pub user: Option<String>,
    /// Percent-decoded; `None` when the userinfo has no `:`.
    pub password: Option<String>,
    /// Path and query exactly as given (percent escapes kept), starting with
    /// `/`; never `/` alone. A fragment (`#...`) is dropped.
    pub path: String,
}

/// Why a push URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    Scheme,
    NoHost,
    Port,
    Userinfo,
    NoPath,
    Characters,
}

impl UrlError {
    /// For the script's `ValueError`.
    pub fn reason(&self) -> &'static str {
        match self {
            UrlError::Scheme => "url must start with rtsp://",
            UrlError::NoHost => "url needs a host: a name, an IPv4 address or an [IPv6] address",
            UrlError::Port => "url port must be a number from 1 to 65535",
            UrlError::Userinfo => {
                "url user or password is malformed (a non-empty user name without ':', and %XX escapes of UTF-8)"
            }
            UrlError::NoPath => "url needs a stream path after the host, such as rtsp://host/live",
            UrlError::Characters => "url must not contain spaces, control characters or characters not allowed in a host",
        }
    }
}

/// The default RTSP port (RFC 2326 3.2).
const DEFAULT_PORT: u16 = 554;

pub fn parse_push_url(url: &str) -> Result<PushUrl, UrlError> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Characters);
    }
    let (scheme, after) = url.split_once("://").ok_or(UrlError::Scheme)?;
    if !scheme.eq_ignore_ascii_case("rtsp") {
        return Err(UrlError::Scheme);
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let (host, port) = split_host_port(host_port)?;
    let (user, password) = match userinfo {
        None | Some("") => (None, None),
        Some(userinfo) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            let user = percent_decode(user).ok_or(UrlError::Userinfo)?;
            if !super::auth::valid_user_name(&user) {
                return Err(UrlError::Userinfo);
            }
            let password = match password {
                Some(p) => Some(percent_decode(p).ok_or(UrlError::Userinfo)?),
                None => None,
            };
            (Some(user), password)
        }
    };
    let path = rest.split('#').next().unwrap_or("");
    let path_only = path.split('?').next().unwrap_or("");
    if path_only.trim_matches('/').is_empty() {
        return Err(UrlError::NoPath);
    }
    Ok(PushUrl { host: host.into(), port, user, password, path: path.into() })
}

/// `host[:port]` or `[v6][:port]`: the host (no brackets) and the port.
fn split_host_port(host_port: &str) -> Result<(&str, u16), UrlError> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (v6, after) = bracketed.split_once(']').ok_or(UrlError::NoHost)?;
        if v6.parse::<core::net::Ipv6Addr>().is_err() {
            return Err(UrlError::NoHost);
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(UrlError::Port)?),
        };
        (v6, port)
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let is_v6 = host_port.starts_with('[');
    if !is_v6 && !host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
        return Err(UrlError::Characters);
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u16>().ok().filter(|&n| n != 0).ok_or(UrlError::Port)?
        }
        Some(_) => return Err(UrlError::Port),
    };
    Ok((host, port))
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = core::str::from_utf8(hex).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl PushUrl {
    /// `rtsp://host[:port]/path[?query]`, without the userinfo (credentials
    /// travel in `Authorization`); IPv6 in brackets; the port only when it is
    /// not 554.
    pub fn request_uri(&self) -> String {
        let mut uri = String::from("rtsp://");
        if self.host.contains(':') {
            uri.push('[');
            uri.push_str(&self.host);
            uri.push(']');
        } else {
            uri.push_str(&self.host);
        }
        if self.port != DEFAULT_PORT {
            uri.push_str(&alloc::format!(":{}", self.port));
        }
        uri.push_str(&self.path);
        uri
    }

    /// The URI of a track whose SDP `a=control` is `control`: the path, one
    /// `/`, the control, then the query (`rtsp://h/live/trackID=0?user=a`).
    /// An absolute control (`rtsp://...`) is returned as is; `*` or an empty
    /// control is the request URI itself.
    pub fn control_uri(&self, control: &str) -> String {
        let control = control.trim();
        if control.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("rtsp://")) {
            return control.into();
        }
        let control = control.trim_start_matches('/');
        if control.is_empty() || control == "*" {
            return self.request_uri();
        }
        let base = self.request_uri();
        let (path, query) = match base.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (base.as_str(), None),
        };
        let mut uri = String::with_capacity(base.len() + control.len() + 1);
        uri.push_str(path.trim_end_matches('/'));
        uri.push('/');
        uri.push_str(control);
        if let Some(query) = query {
            uri.push('?');
            uri.push_str(query);
        }
        uri
    }
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

    fn push(url: &str) -> PushUrl {
        match parse_push_url(url) {
            Ok(p) => p,
            Err(e) => panic!("{url}: {e:?}"),
        }
    }

    fn pu(host: &str, port: u16, user: Option<&str>, password: Option<&str>, path: &str) -> PushUrl {
        PushUrl { host: host.into(), port, user: user.map(Into::into), password: password.map(Into::into), path: path.into() }
    }

    #[test]
    fn push_urls() {
        assert_eq!(push("rtsp://192.168.1.10:8554/live/cam"), pu("192.168.1.10", 8554, None, None, "/live/cam"));
        assert_eq!(push("RTSP://media.example.com/cam"), pu("media.example.com", 554, None, None, "/cam"));
        assert_eq!(push("rtsp://[::1]:8554/cam/"), pu("::1", 8554, None, None, "/cam/"));
        assert_eq!(push("rtsp://[fe80::1:2]/cam"), pu("fe80::1:2", 554, None, None, "/cam"));
        assert_eq!(push("rtsp://admin:secret@cam.local:10554/a"), pu("cam.local", 10554, Some("admin"), Some("secret"), "/a"));
        // The query stays (mediamtx and ZLMediaKit read credentials or a secret from it); a fragment goes.
        assert_eq!(
            push("rtsp://h:8554/live/test?user=a&pass=b#frag"),
            pu("h", 8554, None, None, "/live/test?user=a&pass=b")
        );
        assert_eq!(push("rtsp://h/live/%E2%82%AC"), pu("h", 554, None, None, "/live/%E2%82%AC"));
        assert_eq!(push("rtsp://h/k\u{e4}mera"), pu("h", 554, None, None, "/k\u{e4}mera"));
        assert_eq!(push("rtsp://h:65535/x").port, 65535);
        assert_eq!(push("rtsp://h:00554/x").port, 554);
        assert_eq!(push("rtsp://my_host-1.lan/x").host, "my_host-1.lan");
    }

    #[test]
    fn push_url_userinfo() {
        // The last '@' separates; the first ':' splits user and password.
        assert_eq!(push("rtsp://u:p@ss@h/x"), pu("h", 554, Some("u"), Some("p@ss"), "/x"));
        assert_eq!(push("rtsp://u:a:b@h/x").password.as_deref(), Some("a:b"));
        assert_eq!(push("rtsp://u%40mail:p%2F%3F%23%25@h/x"), pu("h", 554, Some("u@mail"), Some("p/?#%"), "/x"));
        assert_eq!(push("rtsp://us%C3%A9r:%e2%82%ac@h/x").user.as_deref(), Some("us\u{e9}r"));
        assert_eq!(push("rtsp://us%C3%A9r:%e2%82%ac@h/x").password.as_deref(), Some("\u{20ac}"));
        assert_eq!(push("rtsp://u@h/x"), pu("h", 554, Some("u"), None, "/x"));
        assert_eq!(push("rtsp://u:@h/x"), pu("h", 554, Some("u"), Some(""), "/x"));
        assert_eq!(push("rtsp://@h/x"), pu("h", 554, None, None, "/x"));
        assert_eq!(push("rtsp://u:p@[::1]:1/x"), pu("::1", 1, Some("u"), Some("p"), "/x"));
        for bad in [
            "rtsp://:p@h/x",        // no user name
            "rtsp://%3A:p@h/x",     // ':' in the decoded name
            "rtsp://a%3Ab@h/x",     // the same without password
            "rtsp://u%0A:p@h/x",    // a control character in the name
            "rtsp://u:%zz@h/x",     // broken escape
            "rtsp://u:%4@h/x",      // cut escape
            "rtsp://u:%@h/x",
            "rtsp://u:%ff%fe@h/x",  // not UTF-8
            "rtsp://%C3:p@h/x",
        ] {
            assert_eq!(parse_push_url(bad), Err(UrlError::Userinfo), "{bad}");
        }
    }

    #[test]
    fn push_url_errors() {
        let cases: &[(&str, UrlError)] = &[
            ("", UrlError::Scheme),
            ("h/x", UrlError::Scheme),
            ("rtsps://h/x", UrlError::Scheme),
            ("rtspu://h/x", UrlError::Scheme),
            ("http://h/x", UrlError::Scheme),
            ("rtsp:/h/x", UrlError::Scheme),
            ("://h/x", UrlError::Scheme),
            ("rtsp:///x", UrlError::NoHost),
            ("rtsp://u:p@/x", UrlError::NoHost),
            ("rtsp://:8554/x", UrlError::NoHost),
            ("rtsp://[]/x", UrlError::NoHost),
            ("rtsp://[::1/x", UrlError::NoHost),
            ("rtsp://[not:v6]/x", UrlError::NoHost),
            ("rtsp://[::1%25eth0]/x", UrlError::NoHost),
            ("rtsp://::1/x", UrlError::NoHost),
            ("rtsp://h:0/x", UrlError::Port),
            ("rtsp://h:65536/x", UrlError::Port),
            ("rtsp://h:99999999999999999999/x", UrlError::Port),
            ("rtsp://h:/x", UrlError::Port),
            ("rtsp://h:+80/x", UrlError::Port),
            ("rtsp://h:8o/x", UrlError::Port),
            ("rtsp://h:1:2/x", UrlError::Port),
            ("rtsp://[::1]8554/x", UrlError::Port),
            ("rtsp://[::1]:/x", UrlError::Port),
            ("rtsp://h", UrlError::NoPath),
            ("rtsp://h/", UrlError::NoPath),
            ("rtsp://h:8554///", UrlError::NoPath),
            ("rtsp://h?x=1", UrlError::NoPath),
            ("rtsp://h/?x=1", UrlError::NoPath),
            ("rtsp://h#x", UrlError::NoPath),
            ("rtsp://h/a b", UrlError::Characters),
            (" rtsp://h/x", UrlError::Characters),
            ("rtsp://h/x\n", UrlError::Characters),
            ("rtsp://h/x\r\nCSeq: 1", UrlError::Characters),
            ("rtsp://h/x\u{0}", UrlError::Characters),
            ("rtsp://h/x\u{7f}", UrlError::Characters),
            ("rtsp://h/x\u{85}", UrlError::Characters),
            ("rtsp://h/x\u{a0}", UrlError::Characters),
            ("rtsp://u:p w@h/x", UrlError::Characters),
            ("rtsp://h\u{e4}/x", UrlError::Characters),
            ("rtsp://h$t/x", UrlError::Characters),
            ("rtsp://h%41/x", UrlError::Characters),
        ];
        for (url, want) in cases {
            assert_eq!(parse_push_url(url), Err(*want), "{url:?}");
        }
        for e in [UrlError::Scheme, UrlError::NoHost, UrlError::Port, UrlError::Userinfo, UrlError::NoPath, UrlError::Characters] {
            assert!(e.reason().starts_with("url "), "{e:?}");
            assert!(!e.reason().ends_with('.'));
        }
    }

    #[test]
    fn push_url_never_panics() {
        let url = "rtsp://us%C3%A9r:p@[::1]:8554/live/k\u{e4}m?x=%zz#f";
        let _ = push(url);
        for (i, _) in url.char_indices() {
            let _ = parse_push_url(&url[..i]);
            let _ = parse_push_url(&url[i..]);
            for c in ['%', '@', ':', '[', ']', '/', '?', '#', '\u{e4}', '0'] {
                let mut s = String::from(&url[..i]);
                s.push(c);
                s.push_str(&url[i..]);
                if let Ok(p) = parse_push_url(&s) {
                    let _ = p.control_uri("trackID=0");
                    assert!(p.path.starts_with('/'));
                    assert!(p.port != 0);
                }
            }
        }
    }

    #[test]
    fn request_and_control_uris() {
        let p = push("rtsp://admin:secret@192.168.1.10:8554/live/cam");
        assert_eq!(p.request_uri(), "rtsp://192.168.1.10:8554/live/cam");
        assert_eq!(p.control_uri("trackID=0"), "rtsp://192.168.1.10:8554/live/cam/trackID=0");
        assert_eq!(p.control_uri("/streamid=1"), "rtsp://192.168.1.10:8554/live/cam/streamid=1");
        assert_eq!(p.control_uri("*"), "rtsp://192.168.1.10:8554/live/cam");
        assert_eq!(p.control_uri(""), "rtsp://192.168.1.10:8554/live/cam");
        assert_eq!(p.control_uri("rtsp://other/x/trackID=1"), "rtsp://other/x/trackID=1");
        assert_eq!(p.control_uri("RTSP://other/x"), "RTSP://other/x");
        // Trailing slash: one slash before the control.
        let p = push("rtsp://h:554/live/");
        assert_eq!(p.request_uri(), "rtsp://h/live/");
        assert_eq!(p.control_uri("trackID=1"), "rtsp://h/live/trackID=1");
        // Query: the control goes into the path.
        let p = push("rtsp://[::1]:8554/live/test/?user=a&pass=b");
        assert_eq!(p.request_uri(), "rtsp://[::1]:8554/live/test/?user=a&pass=b");
        assert_eq!(p.control_uri("trackID=0"), "rtsp://[::1]:8554/live/test/trackID=0?user=a&pass=b");
        let p = push("rtsp://[2001:db8::5]/x?a=b?c");
        assert_eq!(p.control_uri("t"), "rtsp://[2001:db8::5]/x/t?a=b?c");
        // Our own server reads the track back from it.
        let p = push("rtsp://u:p@127.0.0.1:8554/live/main?token=1");
        assert_eq!(parse_target(&p.control_uri("trackID=1")), t("live/main", Some(1)));
        assert_eq!(parse_target(&p.request_uri()), t("live/main", None));
    }
}
