//! Request URL matching (OWNED BY HELPER: rtsp/sdp).
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
    let _ = uri;
    todo!("helper")
}

/// The URL a client should use as `Content-Base` for `path`: the scheme and
/// authority (host:port) the client itself used in `request_uri`, then `/path/`.
/// Falls back to `rtsp://<fallback_host>/path/` when the request URI has no authority.
pub fn content_base(request_uri: &str, fallback_host: &str, path: &str) -> alloc::string::String {
    let _ = (request_uri, fallback_host, path);
    todo!("helper")
}
