//! Incremental RTSP request parser.
//!
//! Contract used by the server (`server/mod.rs`):
//! - `parse_input(buf, limits)` looks at the front of a connection's receive
//!   buffer. `Ok(None)`: need more bytes. `Ok(Some((input, consumed)))`: one
//!   request or one interleaved frame (`$`, channel, u16 length, data), and how
//!   many bytes it took (leading CR/LF between messages are skipped and counted).
//!   `Err(e)`: the connection's input is unusable (malformed / too large).
//! - Header names are case-insensitive; values are trimmed.
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Options,
    Describe,
    Setup,
    Play,
    Pause,
    Teardown,
    GetParameter,
    SetParameter,
    Announce,
    Record,
    Redirect,
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    /// The `Content-Length` bytes after the head. No method of ours reads a
    /// body (SET_PARAMETER's is ignored); the parser's tests and fuzz target do.
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    pub body: Vec<u8>,
}

impl Request {
    /// First header of that name (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header of that name (case-insensitive), in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Request line + headers, bytes.
    pub max_head: usize,
    /// Content-Length, bytes.
    pub max_body: usize,
    /// Number of header lines.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_head: 8192, max_body: 65536, max_headers: 64 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not RTSP: the reason, for logs and tests.
    Malformed(&'static str),
    /// Head or body over `Limits`.
    TooLarge,
    /// The request line alone is over the head limit: its URI is too long (RTSP's 414).
    UriTooLong,
}

#[derive(Debug, Clone)]
pub enum Input {
    Request(Request),
    Interleaved { channel: u8, data: Vec<u8> },
}

/// RFC 2616 `token` characters (RFC 2326 reuses them for methods and header names).
pub(super) fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

/// Bytes that never appear in an RTSP head: controls other than HTAB (CR/LF are line ends).
fn is_forbidden_in_head(b: u8) -> bool {
    (b < 0x20 && b != b'\t' && b != b'\r' && b != b'\n') || b == 0x7f
}

impl Method {
    /// The method's name as on the request line (what Digest authentication hashes).
    pub fn as_str(&self) -> &str {
        match self {
            Method::Options => "OPTIONS",
            Method::Describe => "DESCRIBE",
            Method::Setup => "SETUP",
            Method::Play => "PLAY",
            Method::Pause => "PAUSE",
            Method::Teardown => "TEARDOWN",
            Method::GetParameter => "GET_PARAMETER",
            Method::SetParameter => "SET_PARAMETER",
            Method::Announce => "ANNOUNCE",
            Method::Record => "RECORD",
            Method::Redirect => "REDIRECT",
            Method::Other(name) => name,
        }
    }
}

fn method_from(name: &str) -> Method {
    match name {
        "OPTIONS" => Method::Options,
        "DESCRIBE" => Method::Describe,
        "SETUP" => Method::Setup,
        "PLAY" => Method::Play,
        "PAUSE" => Method::Pause,
        "TEARDOWN" => Method::Teardown,
        "GET_PARAMETER" => Method::GetParameter,
        "SET_PARAMETER" => Method::SetParameter,
        "ANNOUNCE" => Method::Announce,
        "RECORD" => Method::Record,
        "REDIRECT" => Method::Redirect,
        other => Method::Other(other.into()),
    }
}

/// `HTTP/1.<digits>`.
fn is_http1_version(v: &[u8]) -> bool {
    match v.strip_prefix(b"HTTP/1.") {
        Some(minor) => !minor.is_empty() && minor.iter().all(u8::is_ascii_digit),
        None => false,
    }
}

/// `RTSP/1.<digits>`.
pub(super) fn is_rtsp1_version(v: &[u8]) -> bool {
    match v.strip_prefix(b"RTSP/1.") {
        Some(minor) => !minor.is_empty() && minor.iter().all(u8::is_ascii_digit),
        None => false,
    }
}

/// Checks the start of a request line that has no line end yet, so that
/// garbage is refused before a whole head's worth of it is buffered.
fn check_partial_request_line(line: &[u8]) -> Result<(), ParseError> {
    let method_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    if !line[..method_len].iter().all(|&b| is_token(b)) {
        return Err(ParseError::Malformed("bad method"));
    }
    Ok(())
}

fn parse_request_line(line: &[u8], http: bool) -> Result<(Method, String), ParseError> {
    let first_sp = line.iter().position(|&b| b == b' ').ok_or(ParseError::Malformed("no URI"))?;
    let last_sp = line.iter().rposition(|&b| b == b' ').unwrap_or(first_sp);
    let method = &line[..first_sp];
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return Err(ParseError::Malformed("bad method"));
    }
    if last_sp == first_sp {
        return Err(ParseError::Malformed("no version"));
    }
    let version = &line[last_sp + 1..];
    if http {
        if !is_http1_version(version) {
            return Err(ParseError::Malformed("not HTTP/1.x"));
        }
    } else if !is_rtsp1_version(version) {
        return Err(ParseError::Malformed("not RTSP/1.x"));
    }
    let uri = trim_bytes(&line[first_sp + 1..last_sp]);
    if uri.is_empty() || uri.iter().any(|&b| b == b' ' || b == b'\t') {
        return Err(ParseError::Malformed("bad URI"));
    }
    let uri = core::str::from_utf8(uri).map_err(|_| ParseError::Malformed("URI not UTF-8"))?;
    let method = core::str::from_utf8(method).map_err(|_| ParseError::Malformed("bad method"))?;
    Ok((method_from(method), uri.into()))
}

pub(super) fn trim_bytes(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if *first == b' ' || *first == b'\t' {
            b = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = b {
        if *last == b' ' || *last == b'\t' {
            b = rest;
        } else {
            break;
        }
    }
    b
}

/// The value of a Content-Length header: digits only.
fn parse_content_length(value: &str, limits: &Limits) -> Result<usize, ParseError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Malformed("bad Content-Length"));
    }
    // All digits: a parse failure can only be an overflow, which is over any limit.
    let n: usize = value.parse().map_err(|_| ParseError::TooLarge)?;
    if n > limits.max_body {
        return Err(ParseError::TooLarge);
    }
    Ok(n)
}

/// What a receive buffer holds: the server reads requests; the pusher reads
/// what a server sends, responses and requests. The head and body rules are
/// the same; only the first line differs. (A value, not a type parameter:
/// one copy of the parser on the board.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    Requests,
    ServerInput,
    /// An HTTP/1.x request head (the tunnel's GET and POST).
    Http,
}

/// A message's first line.
pub(super) enum StartLine {
    Request { method: Method, uri: String },
    Status { status: u16, reason: String },
}

impl Expect {
    /// Checks the start of a first line that has no line end yet, so that
    /// garbage is refused before a whole head's worth of it is buffered.
    fn check_partial(self, line: &[u8]) -> Result<(), ParseError> {
        if self == Expect::ServerInput && (line.starts_with(b"RTSP/") || b"RTSP/".starts_with(line)) {
            return Ok(());
        }
        check_partial_request_line(line)
    }

    /// Parses a whole first line (without its line end).
    fn parse(self, line: &[u8]) -> Result<StartLine, ParseError> {
        if self == Expect::ServerInput && line.starts_with(b"RTSP/") {
            return super::response::parse_status_line(line);
        }
        let (method, uri) = parse_request_line(line, self == Expect::Http)?;
        Ok(StartLine::Request { method, uri })
    }

    /// The error for a first line over the head limit: a request's is 414
    /// (RFC 2326 7.1.1).
    fn too_long(self) -> ParseError {
        match self {
            Expect::Requests | Expect::Http => ParseError::UriTooLong,
            Expect::ServerInput => ParseError::TooLarge,
        }
    }
}

struct Head {
    start: StartLine,
    headers: Vec<(String, String)>,
    /// Bytes of the start line, headers and the blank line.
    len: usize,
}

/// Parses the head at the front of `buf` (no leading CR/LF). `Ok(None)` when
/// its blank line has not arrived yet and nothing seen so far is wrong.
fn parse_head(buf: &[u8], limits: &Limits, expect: Expect) -> Result<Option<Head>, ParseError> {
    let mut start: Option<StartLine> = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut pos = 0;
    // Over the limit: the start line's own error while still in it, else 413.
    let over_limit = |in_start_line: bool| if in_start_line { expect.too_long() } else { ParseError::TooLarge };
    loop {
        let rest = &buf[pos..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            if rest.iter().any(|&b| is_forbidden_in_head(b)) {
                return Err(ParseError::Malformed("control byte in head"));
            }
            if start.is_none() {
                expect.check_partial(rest)?;
            }
            if buf.len() > limits.max_head {
                return Err(over_limit(start.is_none()));
            }
            return Ok(None);
        };
        let line_end = pos + lf + 1;
        if line_end > limits.max_head {
            return Err(over_limit(start.is_none()));
        }
        let mut line = &rest[..lf];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        if line.iter().any(|&b| is_forbidden_in_head(b) || b == b'\r') {
            return Err(ParseError::Malformed("control byte in head"));
        }
        pos = line_end;
        match start {
            None => start = Some(expect.parse(line)?),
            Some(_) if line.is_empty() => {
                let Some(start) = start else {
                    return Err(ParseError::Malformed("no start line"));
                };
                return Ok(Some(Head { start, headers, len: pos }));
            }
            Some(_) if line[0] == b' ' || line[0] == b'\t' => {
                // Obsolete line folding: the line continues the previous header's value.
                let Some((_, value)) = headers.last_mut() else {
                    return Err(ParseError::Malformed("continuation without header"));
                };
                let more = String::from_utf8_lossy(trim_bytes(line));
                if !more.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(&more);
                }
            }
            Some(_) => {
                let colon =
                    line.iter().position(|&b| b == b':').ok_or(ParseError::Malformed("header without colon"))?;
                let name = &line[..colon];
                if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
                    return Err(ParseError::Malformed("bad header name"));
                }
                if headers.len() >= limits.max_headers {
                    return Err(ParseError::TooLarge);
                }
                // Token bytes are ASCII, so the name is valid UTF-8.
                let name = String::from_utf8_lossy(name).into_owned();
                let value = String::from_utf8_lossy(trim_bytes(&line[colon + 1..])).into_owned();
                headers.push((name, value));
            }
        }
    }
}

/// One message at the front of a receive buffer, as `parse_message` found it.
pub(super) enum Message {
    /// A `$` frame; its payload is `buf[consumed - len..consumed]`.
    Interleaved { channel: u8, len: usize },
    /// A head and its `Content-Length` body.
    Head { start: StartLine, headers: Vec<(String, String)>, body: Vec<u8> },
}

/// The shared framing of `parse_input` and `response::parse_server_input`:
/// leading CR/LF skipped, then an interleaved frame (only once all its bytes
/// are buffered) or a head and its body. Returns the message and the bytes it
/// took, counting the skipped line ends.
pub(super) fn parse_message(
    buf: &[u8],
    limits: &Limits,
    expect: Expect,
) -> Result<Option<(Message, usize)>, ParseError> {
    let skip = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len());
    // Endless blank lines would otherwise be buffered forever.
    if skip > limits.max_head {
        return Err(ParseError::TooLarge);
    }
    let rest = &buf[skip..];
    if rest.is_empty() {
        return Ok(None);
    }
    if rest[0] == b'$' {
        let [_, channel, hi, lo, ..] = *rest else { return Ok(None) };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if rest.len() < 4 + len {
            return Ok(None);
        }
        return Ok(Some((Message::Interleaved { channel, len }, skip + 4 + len)));
    }
    let Some(head) = parse_head(rest, limits, expect)? else { return Ok(None) };
    let mut body_len: Option<usize> = None;
    for (name, value) in &head.headers {
        if name.eq_ignore_ascii_case("Content-Length") {
            let n = parse_content_length(value, limits)?;
            if body_len.is_some_and(|prev| prev != n) {
                return Err(ParseError::Malformed("conflicting Content-Length"));
            }
            body_len = Some(n);
        }
    }
    let body_len = body_len.unwrap_or(0);
    let body_end = head.len.checked_add(body_len).ok_or(ParseError::TooLarge)?;
    let Some(body) = rest.get(head.len..body_end) else { return Ok(None) };
    let message = Message::Head { start: head.start, headers: head.headers, body: body.to_vec() };
    Ok(Some((message, skip + body_end)))
}

pub fn parse_input(buf: &[u8], limits: &Limits) -> Result<Option<(Input, usize)>, ParseError> {
    let Some((message, consumed)) = parse_message(buf, limits, Expect::Requests)? else { return Ok(None) };
    let input = match message {
        Message::Interleaved { channel, len } => {
            let data = buf.get(consumed - len..consumed).unwrap_or(&[]).to_vec();
            Input::Interleaved { channel, data }
        }
        Message::Head { start: StartLine::Request { method, uri }, headers, body } => {
            Input::Request(Request { method, uri, headers, body })
        }
        // `Expect::Requests` parses no status line.
        Message::Head { start: StartLine::Status { .. }, .. } => return Err(ParseError::Malformed("not a request")),
    };
    Ok(Some((input, consumed)))
}

/// An HTTP/1.x request head at the front of `buf` (the tunnel's GET or
/// POST, RFC 2326 has no such thing): the request (method `Other("GET")` or
/// `Other("POST")`, no body: what follows the head is the caller's) and the
/// bytes of the head. `Ok(None)` while its blank line has not arrived; over
/// `limits.max_head`: `TooLarge` (or `UriTooLong` in the request line).
pub fn parse_http_head(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, ParseError> {
    let Some(head) = parse_head(buf, limits, Expect::Http)? else { return Ok(None) };
    match head.start {
        StartLine::Request { method, uri } => {
            Ok(Some((Request { method, uri, headers: head.headers, body: Vec::new() }, head.len)))
        }
        StartLine::Status { .. } => Err(ParseError::Malformed("not a request")),
    }
}

/// A request as a client sends it: `METHOD uri RTSP/1.0`, `CSeq`, the given
/// headers in order, then `Content-Type` and `Content-Length` when there is a
/// body (even an empty one), the blank line and the body. Text cannot break
/// the message's shape: CR and LF in header values become spaces, bytes that
/// cannot be in a method or header name become `_`, and spaces or controls in
/// the URI are percent-encoded. `CSeq` in `headers` is dropped (ours is written). `Content-Length` in
/// `headers` is dropped (the body's own length is written).
pub fn client_request(
    method: &Method,
    uri: &str,
    cseq: u32,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Vec<u8> {
    let body_len = body.map_or(0, |(_, b)| b.len());
    let mut out = Vec::with_capacity(128 + uri.len() + body_len);
    out.extend(method.as_str().bytes().map(|b| if is_token(b) { b } else { b'_' }));
    out.push(b' ');
    for b in uri.bytes() {
        if b <= b' ' || b == 0x7f {
            out.extend_from_slice(alloc::format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(alloc::format!(" RTSP/1.0\r\nCSeq: {cseq}\r\n").as_bytes());
    let mut push = |name: &str, value: &str| {
        out.extend(name.bytes().map(|b| if is_token(b) { b } else { b'_' }));
        out.extend_from_slice(b": ");
        super::response::push_header_text(&mut out, value);
        out.extend_from_slice(b"\r\n");
    };
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("Content-Length") && !name.eq_ignore_ascii_case("CSeq") {
            push(name, value);
        }
    }
    if let Some((content_type, data)) = body {
        push("Content-Type", content_type);
        push("Content-Length", &alloc::format!("{}", data.len()));
    }
    out.extend_from_slice(b"\r\n");
    if let Some((_, data)) = body {
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn limits() -> Limits {
        Limits::default()
    }

    /// Parses one complete request and checks it took the whole buffer.
    fn one_request(text: &[u8]) -> Request {
        match parse_input(text, &limits()) {
            Ok(Some((Input::Request(r), used))) => {
                assert_eq!(used, text.len(), "consumed bytes");
                r
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }

    const FFMPEG_OPTIONS: &[u8] =
        b"OPTIONS rtsp://127.0.0.1:8554/test RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf60.16.100\r\n\r\n";
    const FFMPEG_DESCRIBE: &[u8] = b"DESCRIBE rtsp://127.0.0.1:8554/test RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: 2\r\nUser-Agent: Lavf60.16.100\r\n\r\n";
    const FFMPEG_SETUP: &[u8] = b"SETUP rtsp://127.0.0.1:8554/test/trackID=0 RTSP/1.0\r\nTransport: RTP/AVP/UDP;unicast;client_port=15890-15891\r\nCSeq: 3\r\nUser-Agent: Lavf60.16.100\r\n\r\n";
    const FFMPEG_PLAY: &[u8] = b"PLAY rtsp://127.0.0.1:8554/test/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: 4\r\nUser-Agent: Lavf60.16.100\r\nSession: 5D2A01C4\r\n\r\n";
    const GST_GET_PARAMETER: &[u8] = b"GET_PARAMETER rtsp://127.0.0.1:8554/test/ RTSP/1.0\r\nCSeq: 6\r\nUser-Agent: GStreamer/1.22.0\r\nSession: 5D2A01C4\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";
    const SET_PARAMETER: &[u8] = b"SET_PARAMETER rtsp://127.0.0.1:8554/test RTSP/1.0\r\nCSeq: 7\r\nContent-Type: text/parameters\r\nSession: 5D2A01C4\r\nContent-Length: 19\r\n\r\nbarparam: barstuff\n";

    #[test]
    fn options_from_ffmpeg() {
        let r = one_request(FFMPEG_OPTIONS);
        assert_eq!(r.method, Method::Options);
        assert_eq!(r.uri, "rtsp://127.0.0.1:8554/test");
        assert_eq!(r.header("CSeq"), Some("1"));
        assert_eq!(r.header("user-agent"), Some("Lavf60.16.100"));
        assert!(r.body.is_empty());
    }

    #[test]
    fn describe_with_accept() {
        let r = one_request(FFMPEG_DESCRIBE);
        assert_eq!(r.method, Method::Describe);
        assert_eq!(r.header("ACCEPT"), Some("application/sdp"));
        assert_eq!(r.header("CSeq"), Some("2"));
    }

    #[test]
    fn setup_with_transport() {
        let r = one_request(FFMPEG_SETUP);
        assert_eq!(r.method, Method::Setup);
        assert_eq!(r.uri, "rtsp://127.0.0.1:8554/test/trackID=0");
        assert_eq!(r.header("Transport"), Some("RTP/AVP/UDP;unicast;client_port=15890-15891"));
    }

    #[test]
    fn play_with_range_and_session() {
        let r = one_request(FFMPEG_PLAY);
        assert_eq!(r.method, Method::Play);
        assert_eq!(r.header("range"), Some("npt=0.000-"));
        assert_eq!(r.header("session"), Some("5D2A01C4"));
        assert_eq!(r.header("CSeq"), Some("4"));
    }

    #[test]
    fn get_parameter_with_empty_body() {
        let r = one_request(GST_GET_PARAMETER);
        assert_eq!(r.method, Method::GetParameter);
        assert!(r.body.is_empty());
        let with_zero = b"GET_PARAMETER rtsp://h/test RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 0\r\n\r\n";
        let r = one_request(with_zero);
        assert!(r.body.is_empty());
        assert_eq!(r.header("CSeq"), Some("9"));
    }

    #[test]
    fn set_parameter_with_body() {
        let r = one_request(SET_PARAMETER);
        assert_eq!(r.method, Method::SetParameter);
        assert_eq!(r.body, b"barparam: barstuff\n");
        assert_eq!(r.header("content-type"), Some("text/parameters"));
    }

    #[test]
    fn every_method_name() {
        let cases = [
            ("OPTIONS", Method::Options),
            ("DESCRIBE", Method::Describe),
            ("SETUP", Method::Setup),
            ("PLAY", Method::Play),
            ("PAUSE", Method::Pause),
            ("TEARDOWN", Method::Teardown),
            ("GET_PARAMETER", Method::GetParameter),
            ("SET_PARAMETER", Method::SetParameter),
            ("ANNOUNCE", Method::Announce),
            ("RECORD", Method::Record),
            ("REDIRECT", Method::Redirect),
            ("FOO", Method::Other("FOO".into())),
            // Method names are case-sensitive (RFC 2326 section 6.1).
            ("play", Method::Other("play".into())),
        ];
        for (name, want) in cases {
            let text = std::format!("{name} rtsp://h/test RTSP/1.0\r\nCSeq: 1\r\n\r\n");
            assert_eq!(one_request(text.as_bytes()).method, want, "{name}");
        }
    }

    #[test]
    fn lf_only_line_ends_and_header_details() {
        let r = one_request(b"OPTIONS * RTSP/1.0\nCSeq:   12  \nX-Empty:\nx-folded: a\n  b\n\n");
        assert_eq!(r.uri, "*");
        assert_eq!(r.header("CSeq"), Some("12"));
        assert_eq!(r.header("X-Empty"), Some(""));
        assert_eq!(r.header("X-Folded"), Some("a b"));
        assert_eq!(r.headers.len(), 3);
    }

    #[test]
    fn rtsp_1_x_versions() {
        assert_eq!(one_request(b"OPTIONS * RTSP/1.1\r\n\r\n").method, Method::Options);
        for bad in [&b"OPTIONS * RTSP/2.0\r\n\r\n"[..], b"OPTIONS * HTTP/1.1\r\n\r\n", b"OPTIONS * RTSP/1.\r\n\r\n"] {
            assert!(matches!(parse_input(bad, &limits()), Err(ParseError::Malformed(_))), "{bad:?}");
        }
    }

    #[test]
    fn split_at_every_offset() {
        let mut all = Vec::new();
        all.extend_from_slice(SET_PARAMETER);
        for cut in 0..all.len() {
            assert!(matches!(parse_input(&all[..cut], &limits()), Ok(None)), "prefix of {cut} bytes should need more");
        }
        for text in [FFMPEG_OPTIONS, FFMPEG_DESCRIBE, FFMPEG_SETUP, FFMPEG_PLAY, GST_GET_PARAMETER] {
            for cut in 0..text.len() {
                assert!(matches!(parse_input(&text[..cut], &limits()), Ok(None)), "cut {cut}");
            }
        }
        assert_eq!(one_request(&all).body, b"barparam: barstuff\n");
    }

    #[test]
    fn pipelined_requests_and_interleaved_frame() {
        let mut buf = Vec::new();
        buf.extend_from_slice(FFMPEG_OPTIONS);
        buf.extend_from_slice(b"\r\n"); // stray blank line between messages
        buf.extend_from_slice(&[b'$', 1, 0x00, 0x03, 0xAA, 0xBB, 0xCC]);
        buf.extend_from_slice(SET_PARAMETER);
        buf.extend_from_slice(b"GET_PAR"); // start of a next request

        let (first, used) = parse_input(&buf, &limits()).unwrap().unwrap();
        assert!(matches!(first, Input::Request(ref r) if r.method == Method::Options));
        assert_eq!(used, FFMPEG_OPTIONS.len());
        let mut pos = used;

        let (second, used) = parse_input(&buf[pos..], &limits()).unwrap().unwrap();
        match second {
            Input::Interleaved { channel, data } => {
                assert_eq!(channel, 1);
                assert_eq!(data, vec![0xAA, 0xBB, 0xCC]);
            }
            other => panic!("expected an interleaved frame, got {other:?}"),
        }
        assert_eq!(used, 2 + 7, "blank line and frame");
        pos += used;

        let (third, used) = parse_input(&buf[pos..], &limits()).unwrap().unwrap();
        assert!(matches!(third, Input::Request(ref r) if r.body == b"barparam: barstuff\n"));
        assert_eq!(used, SET_PARAMETER.len());
        pos += used;
        assert!(matches!(parse_input(&buf[pos..], &limits()), Ok(None)));
    }

    #[test]
    fn interleaved_frame_needs_all_bytes() {
        let frame = [b'$', 0, 0x01, 0x00];
        let mut full = frame.to_vec();
        full.extend(std::iter::repeat_n(7u8, 256));
        for cut in 0..full.len() {
            assert!(matches!(parse_input(&full[..cut], &limits()), Ok(None)), "cut {cut}");
        }
        match parse_input(&full, &limits()) {
            Ok(Some((Input::Interleaved { channel: 0, data }, 260))) => assert_eq!(data.len(), 256),
            other => panic!("{other:?}"),
        }
        // An empty frame is valid.
        assert!(matches!(
            parse_input(&[b'$', 3, 0, 0], &limits()),
            Ok(Some((Input::Interleaved { channel: 3, .. }, 4)))
        ));
    }

    #[test]
    fn blank_lines_alone_need_more() {
        assert!(matches!(parse_input(b"", &limits()), Ok(None)));
        assert!(matches!(parse_input(b"\r\n\r\n", &limits()), Ok(None)));
    }

    fn malformed(text: &[u8]) -> bool {
        matches!(parse_input(text, &limits()), Err(ParseError::Malformed(_)))
    }

    #[test]
    fn malformed_inputs() {
        let cases: &[&[u8]] = &[
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello, incomplete
            b"\x00\x00\x00\x00",
            b"\xff\xfe garbage\r\n\r\n",
            b"OPTIONS rtsp://h/test\r\n\r\n",             // no version
            b"OPTIONS\r\n\r\n",                           // no URI
            b"OPTIONS  RTSP/1.0\r\n\r\n",                 // empty URI
            b"OPT(IONS * RTSP/1.0\r\n\r\n",               // separator in method
            b"OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n",      // header without colon
            b"OPTIONS * RTSP/1.0\r\n: value\r\n\r\n",     // empty header name
            b"OPTIONS * RTSP/1.0\r\nCSeq: 1\x00\r\n\r\n", // NUL in a value
            b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: ten\r\n\r\n",
            b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n",
            b"OPTIONS * RTSP/1.0\r\nContent-Length: \r\n\r\n",
            b"OPTIONS * RTSP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"OPTIONS * RTSP/1.0\r\n folded first\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n", // a response is not a request
        ];
        for case in cases {
            assert!(malformed(case), "{:?} -> {:?}", String::from_utf8_lossy(case), parse_input(case, &limits()));
        }
    }

    #[test]
    fn garbage_refused_before_line_end() {
        // No line end yet, but the bytes cannot start a request.
        assert!(malformed(b"\x16\x03\x01"));
        assert!(malformed(b"OPT{"));
        assert!(malformed(b"OPTIONS rtsp://h/\x00"));
    }

    #[test]
    fn no_input_panics() {
        // Every prefix and every single-byte corruption of real requests.
        let mut buf = SET_PARAMETER.to_vec();
        for i in 0..buf.len() {
            let keep = buf[i];
            for b in [0u8, b'\r', b'\n', b' ', b':', b'$', 0xff] {
                buf[i] = b;
                let _ = parse_input(&buf, &limits());
                let _ = parse_input(&buf[..i], &limits());
            }
            buf[i] = keep;
        }
    }

    #[test]
    fn head_over_limit_with_and_without_end() {
        let small = Limits { max_head: 64, max_body: 16, max_headers: 4 };
        let mut head = b"OPTIONS * RTSP/1.0\r\nUser-Agent: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 100));
        // Not finished, no CRLF at all: refused once more than max_head bytes are buffered.
        assert!(matches!(parse_input(&head[..64], &small), Ok(None)));
        assert_eq!(parse_input(&head[..65], &small).unwrap_err(), ParseError::TooLarge);
        assert_eq!(parse_input(&head, &small).unwrap_err(), ParseError::TooLarge);
        // A request line over the limit is a URI too long (RFC 2326 7.1.1: 414), ended or not.
        let endless = std::vec![b'A'; 65];
        assert_eq!(parse_input(&endless, &small).unwrap_err(), ParseError::UriTooLong);
        let mut long_uri = b"DESCRIBE rtsp://h/".to_vec();
        long_uri.extend(std::iter::repeat_n(b'x', 60));
        assert!(matches!(parse_input(&long_uri, &small), Err(ParseError::UriTooLong)));
        long_uri.extend_from_slice(b" RTSP/1.0\r\nCSeq: 1\r\n\r\n");
        assert_eq!(parse_input(&long_uri, &small).unwrap_err(), ParseError::UriTooLong);
        // Finished.
        head.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_input(&head, &small).unwrap_err(), ParseError::TooLarge);
        // Endless blank lines.
        assert_eq!(parse_input(&std::vec![b'\n'; 65], &small).unwrap_err(), ParseError::TooLarge);
        // At the limit is fine.
        let exact = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
        let fit = Limits { max_head: exact.len(), ..small };
        assert!(matches!(parse_input(exact, &fit), Ok(Some(_))));
        let fit = Limits { max_head: exact.len() - 1, ..small };
        assert_eq!(parse_input(exact, &fit).unwrap_err(), ParseError::TooLarge);
    }

    #[test]
    fn body_over_limit() {
        let small = Limits { max_head: 1024, max_body: 16, max_headers: 8 };
        let ok = b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 16\r\n\r\n";
        assert!(matches!(parse_input(ok, &small), Ok(None)), "waits for the 16 bytes");
        let too_big = b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 17\r\n\r\n";
        assert_eq!(parse_input(too_big, &small).unwrap_err(), ParseError::TooLarge);
        let huge = b"SET_PARAMETER * RTSP/1.0\r\nContent-Length: 99999999999999999999999999\r\n\r\n";
        assert_eq!(parse_input(huge, &small).unwrap_err(), ParseError::TooLarge);
    }

    #[test]
    fn too_many_headers() {
        let small = Limits { max_head: 4096, max_body: 16, max_headers: 3 };
        let three = b"OPTIONS * RTSP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert!(matches!(parse_input(three, &small), Ok(Some(_))));
        let four = b"OPTIONS * RTSP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n";
        assert_eq!(parse_input(four, &small).unwrap_err(), ParseError::TooLarge, "even before the blank line");
    }

    #[test]
    fn client_request_shapes() {
        let options = client_request(&Method::Options, "rtsp://h:8554/live", 1, &[("User-Agent", "canmv")], None);
        assert_eq!(options, b"OPTIONS rtsp://h:8554/live RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: canmv\r\n\r\n");
        let sdp = b"v=0\r\n";
        let announce = client_request(
            &Method::Announce,
            "rtsp://h/live?user=a&pass=b",
            2,
            &[("Session", "x"), ("Content-Length", "99"), ("CSeq", "7")],
            Some(("application/sdp", sdp)),
        );
        assert_eq!(
            announce,
            &b"ANNOUNCE rtsp://h/live?user=a&pass=b RTSP/1.0\r\nCSeq: 2\r\nSession: x\r\n\
               Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"[..]
        );
        // What we send, our own server parser reads back.
        let r = one_request(&announce);
        assert_eq!(r.method, Method::Announce);
        assert_eq!(r.uri, "rtsp://h/live?user=a&pass=b");
        assert_eq!(r.header("CSeq"), Some("2"));
        assert_eq!(r.body, sdp);
        let get = client_request(&Method::GetParameter, "rtsp://h/live", u32::MAX, &[], Some(("text/parameters", b"")));
        let r = one_request(&get);
        assert_eq!(r.method, Method::GetParameter);
        assert_eq!(r.header("Content-Length"), Some("0"));
        assert_eq!(r.header("CSeq"), Some("4294967295"));
    }

    #[test]
    fn client_request_cannot_be_split() {
        let evil = client_request(
            &Method::Other("A B\r\n".into()),
            "rtsp://h/a b\r\nX: 1",
            3,
            &[("X-A\r\nX-Injected", "v\r\nX-Injected: 1")],
            None,
        );
        let r = one_request(&evil);
        assert_eq!(r.method, Method::Other("A_B__".into()));
        assert_eq!(r.uri, "rtsp://h/a%20b%0D%0AX:%201");
        assert_eq!(r.header("X-Injected"), None);
        assert_eq!(r.header("X-A__X-Injected"), Some("v  X-Injected: 1"));
        assert_eq!(r.headers.len(), 2);
    }
}
