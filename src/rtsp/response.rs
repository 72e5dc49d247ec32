//! RTSP responses: formatting ours (the server), parsing a server's (the
//! client, with the requests and interleaved frames a server may send too).
use alloc::string::String;
use alloc::vec::Vec;

use super::request::{
    self, is_rtsp1_version, parse_message, trim_bytes, Expect, Limits, Message, ParseError, Request, StartLine,
};

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }
    /// Adds a header (builder style).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Sets the body and its Content-Type.
    pub fn body(self, content_type: &str, body: Vec<u8>) -> Self {
        let mut r = self.header("Content-Type", content_type);
        r.body = body;
        r
    }
    /// `RTSP/1.0 <status> <reason>\r\n`, headers, `Content-Length` when there is a body, blank line, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.body.len());
        out.extend_from_slice(b"RTSP/1.0 ");
        out.extend_from_slice(alloc::format!("{:03} ", self.status).as_bytes());
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        let mut has_length = false;
        for (name, value) in &self.headers {
            has_length |= name.eq_ignore_ascii_case("Content-Length");
            push_header_text(&mut out, name);
            out.extend_from_slice(b": ");
            push_header_text(&mut out, value);
            out.extend_from_slice(b"\r\n");
        }
        if !self.body.is_empty() && !has_length {
            out.extend_from_slice(alloc::format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Copies header text, turning CR/LF into spaces: values may carry text from
/// outside (stream names, echoed request headers), which must not start a new line.
pub(super) fn push_header_text(out: &mut Vec<u8>, text: &str) {
    out.extend(text.bytes().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
}

/// Reason phrase of RFC 2326 section 7.1.1 for a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        250 => "Low on Storage Space",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Time-out",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Large",
        415 => "Unsupported Media Type",
        451 => "Parameter Not Understood",
        452 => "Conference Not Found",
        453 => "Not Enough Bandwidth",
        454 => "Session Not Found",
        455 => "Method Not Valid in This State",
        456 => "Header Field Not Valid for Resource",
        457 => "Invalid Range",
        458 => "Parameter Is Read-Only",
        459 => "Aggregate operation not allowed",
        460 => "Only aggregate operation allowed",
        461 => "Unsupported transport",
        462 => "Destination unreachable",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        505 => "RTSP Version not supported",
        551 => "Option not supported",
        _ => "Unknown",
    }
}

/// A response as a client receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// 100..=599.
    pub status: u16,
    /// The reason phrase as sent (lossy UTF-8, trimmed; may be empty).
    pub reason: String,
    /// In order, names as sent, values trimmed (folded lines joined).
    pub headers: Vec<(String, String)>,
    /// The `Content-Length` bytes after the head (empty without one).
    pub body: Vec<u8>,
}

impl ResponseHead {
    /// First header of that name (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// Every header of that name (case-insensitive), in order: several
    /// `WWW-Authenticate` headers, for example.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.headers.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a server sends a client.
#[derive(Debug, Clone)]
pub enum ServerInput {
    Response(ResponseHead),
    /// A server may ask too (OPTIONS or GET_PARAMETER as a keepalive,
    /// ANNOUNCE, REDIRECT); the client answers with its CSeq.
    Request(Request),
    /// A `$` frame (RTCP receiver reports, mostly): the payload is the last
    /// `len` bytes of the consumed ones and was not copied. The pusher skips
    /// them; the parser's tests read the fields.
    #[cfg_attr(not(test), allow(dead_code))]
    Interleaved { channel: u8, len: usize },
}

/// `RTSP/1.x NNN reason`; the reason may be missing.
pub(super) fn parse_status_line(line: &[u8]) -> Result<StartLine, ParseError> {
    let sp = line.iter().position(|&b| b == b' ').ok_or(ParseError::Malformed("no status code"))?;
    if !is_rtsp1_version(&line[..sp]) {
        return Err(ParseError::Malformed("not RTSP/1.x"));
    }
    let rest = &line[sp + 1..];
    let code_end = rest.iter().position(|&b| b == b' ' || b == b'\t').unwrap_or(rest.len());
    let code = &rest[..code_end];
    let status = match *code {
        [a, b, c] if code.iter().all(u8::is_ascii_digit) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(ParseError::Malformed("bad status code")),
    };
    if !(100..=599).contains(&status) {
        return Err(ParseError::Malformed("bad status code"));
    }
    let reason = String::from_utf8_lossy(trim_bytes(&rest[code_end..])).into_owned();
    Ok(StartLine::Status { status, reason })
}

/// The client's `parse_input`: the same contract (`Ok(None)`: need more;
/// otherwise one message and the bytes it took, leading CR/LF counted;
/// `Err`: the connection's input is unusable). A message starting `RTSP/` is
/// a response, anything else must be a request; an interleaved frame is
/// returned only once all its bytes are buffered.
pub fn parse_server_input(buf: &[u8], limits: &Limits) -> Result<Option<(ServerInput, usize)>, ParseError> {
    let Some((message, consumed)) = parse_message(buf, limits, Expect::ServerInput)? else { return Ok(None) };
    let input = match message {
        Message::Interleaved { channel, len } => ServerInput::Interleaved { channel, len },
        Message::Head { start: StartLine::Status { status, reason }, headers, body } => {
            ServerInput::Response(ResponseHead { status, reason, headers, body })
        }
        Message::Head { start: StartLine::Request { method, uri }, headers, body } => {
            ServerInput::Request(request::Request { method, uri, headers, body })
        }
    };
    Ok(Some((input, consumed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::request::{parse_input, Input, Method};

    #[test]
    fn status_line_headers_blank_line() {
        let r = Response::new(200).header("CSeq", "3").header("Public", "OPTIONS, DESCRIBE");
        assert_eq!(r.to_bytes(), b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nPublic: OPTIONS, DESCRIBE\r\n\r\n");
    }

    #[test]
    fn body_gets_content_type_and_length() {
        let sdp = b"v=0\r\n".to_vec();
        let r = Response::new(200).header("CSeq", "2").body("application/sdp", sdp);
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert_eq!(
            text,
            "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
        );
    }

    #[test]
    fn explicit_content_length_not_doubled() {
        let mut r = Response::new(200).header("Content-Length", "3");
        r.body = b"abc".to_vec();
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert_eq!(text.matches("Content-Length").count(), 1);
        assert!(text.ends_with("\r\n\r\nabc"));
    }

    #[test]
    fn header_values_cannot_inject_lines() {
        let r = Response::new(404).header("X-Name", "a\r\nSession: evil");
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with("Session")).count(), 0);
        assert!(text.starts_with("RTSP/1.0 404 Not Found\r\n"));
    }

    #[test]
    fn output_has_rtsp_shape() {
        // Each line is CRLF-terminated and the head ends with one blank line;
        // the request parser's head rules apply to responses too, past the status line.
        let r = Response::new(454).header("CSeq", "7").body("text/plain", b"x".to_vec());
        let bytes = r.to_bytes();
        let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(&bytes[head_end..], b"x");
        let head = core::str::from_utf8(&bytes[..head_end - 4]).unwrap();
        let mut lines = head.split("\r\n");
        assert_eq!(lines.next(), Some("RTSP/1.0 454 Session Not Found"));
        for l in lines {
            assert!(l.contains(": "), "{l}");
        }
        // Rewritten as a request, the same head and body parse back.
        let as_request =
            [b"SET_PARAMETER * RTSP/1.0".as_slice(), &bytes[bytes.iter().position(|&b| b == b'\r').unwrap()..]]
                .concat();
        match parse_input(&as_request, &Limits::default()) {
            Ok(Some((Input::Request(req), used))) => {
                assert_eq!(used, as_request.len());
                assert_eq!(req.body, b"x");
                assert_eq!(req.header("CSeq"), Some("7"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reasons_of_rfc_2326() {
        let table = [
            (200, "OK"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (406, "Not Acceptable"),
            (408, "Request Time-out"),
            (412, "Precondition Failed"),
            (413, "Request Entity Too Large"),
            (414, "Request-URI Too Large"),
            (415, "Unsupported Media Type"),
            (451, "Parameter Not Understood"),
            (452, "Conference Not Found"),
            (453, "Not Enough Bandwidth"),
            (454, "Session Not Found"),
            (455, "Method Not Valid in This State"),
            (456, "Header Field Not Valid for Resource"),
            (457, "Invalid Range"),
            (458, "Parameter Is Read-Only"),
            (459, "Aggregate operation not allowed"),
            (460, "Only aggregate operation allowed"),
            (461, "Unsupported transport"),
            (462, "Destination unreachable"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (504, "Gateway Time-out"),
            (505, "RTSP Version not supported"),
            (551, "Option not supported"),
        ];
        for (code, text) in table {
            assert_eq!(reason(code), text, "{code}");
        }
        for code in [0, 199, 299, 450, 463, 599, 999, u16::MAX] {
            assert_eq!(reason(code), "Unknown", "{code}");
        }
        let line = Response::new(799).to_bytes();
        assert!(line.starts_with(b"RTSP/1.0 799 Unknown\r\n"));
    }

    fn parse(buf: &[u8]) -> Result<Option<(ServerInput, usize)>, ParseError> {
        parse_server_input(buf, &Limits::default())
    }

    /// One complete response that takes the whole buffer.
    fn one_response(text: &[u8]) -> ResponseHead {
        match parse(text) {
            Ok(Some((ServerInput::Response(r), used))) => {
                assert_eq!(used, text.len(), "consumed bytes");
                r
            }
            other => panic!("expected a response, got {other:?}"),
        }
    }

    // As mediamtx (gortsplib) answers an ANNOUNCE without credentials.
    const MEDIAMTX_401: &[u8] = b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nServer: gortsplib\r\n\
        WWW-Authenticate: Digest realm=\"mediamtx\", nonce=\"2f5b7b0d6a8c4e1f9a3b5c7d9e1f3a5b\"\r\n\
        WWW-Authenticate: Basic realm=\"mediamtx\"\r\n\r\n";
    const SETUP_200: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 4\r\n\
        Transport: RTP/AVP/TCP;unicast;interleaved=0-1;mode=record\r\nSession: 7bd1c5a1;timeout=60\r\n\r\n";
    const DESCRIBE_200: &[u8] = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Type: application/sdp\r\n\
        Content-Length: 10\r\n\r\nv=0\r\ns=x\r\n";

    #[test]
    fn responses_from_servers() {
        let r = one_response(MEDIAMTX_401);
        assert_eq!(r.status, 401);
        assert_eq!(r.reason, "Unauthorized");
        assert_eq!(r.header("cseq"), Some("2"));
        let challenges: Vec<&str> = r.headers_named("www-authenticate").collect();
        assert_eq!(
            challenges,
            ["Digest realm=\"mediamtx\", nonce=\"2f5b7b0d6a8c4e1f9a3b5c7d9e1f3a5b\"", "Basic realm=\"mediamtx\""]
        );
        assert_eq!(r.headers_named("X-None").count(), 0);
        let r = one_response(SETUP_200);
        assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
        assert_eq!(r.header("Session"), Some("7bd1c5a1;timeout=60"));
        assert!(r.body.is_empty());
        let r = one_response(DESCRIBE_200);
        assert_eq!(r.body, b"v=0\r\ns=x\r\n");
        // RTSP/1.1, no reason, odd reason text, LF-only line ends.
        let r = one_response(b"RTSP/1.1 454\nCSeq: 9\n\n");
        assert_eq!((r.status, r.reason.as_str()), (454, ""));
        let r = one_response(b"RTSP/1.0 200 \xc3\xa9 fine  \r\n\r\n");
        assert_eq!(r.reason, "\u{e9} fine");
        assert_eq!(one_response(b"RTSP/1.0 100 Continue\r\n\r\n").status, 100);
        assert_eq!(one_response(b"RTSP/1.0 599 x\r\n\r\n").status, 599);
    }

    #[test]
    fn our_own_responses_parse_back() {
        let ours = Response::new(461).header("CSeq", "5").body("text/plain", b"no".to_vec());
        let r = one_response(&ours.to_bytes());
        assert_eq!((r.status, r.reason.as_str()), (461, "Unsupported transport"));
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert_eq!(r.body, b"no");
    }

    #[test]
    fn requests_from_the_server() {
        let text = b"GET_PARAMETER rtsp://cam/live RTSP/1.0\r\nCSeq: 1\r\n\r\n";
        match parse(text) {
            Ok(Some((ServerInput::Request(r), used))) => {
                assert_eq!(used, text.len());
                assert_eq!(r.method, Method::GetParameter);
                assert_eq!(r.header("CSeq"), Some("1"));
            }
            other => panic!("{other:?}"),
        }
        let text = b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 2\r\n\r\nab";
        assert!(matches!(parse(text), Ok(Some((ServerInput::Request(r), n))) if r.body == b"ab" && n == text.len()));
    }

    #[test]
    fn pipelined_with_interleaved_frames() {
        let mut buf = b"\r\n".to_vec();
        buf.extend_from_slice(SETUP_200);
        buf.extend_from_slice(&[b'$', 1, 0, 3, 0x81, 0xc9, 0x00]); // an RTCP receiver report, cut short
        buf.extend_from_slice(DESCRIBE_200);
        buf.extend_from_slice(b"RTSP/1.0 2");
        let (first, used) = parse(&buf).unwrap().unwrap();
        assert!(matches!(first, ServerInput::Response(ref r) if r.header("CSeq") == Some("4")));
        assert_eq!(used, 2 + SETUP_200.len());
        let mut pos = used;
        let (second, used) = parse(&buf[pos..]).unwrap().unwrap();
        assert!(matches!(second, ServerInput::Interleaved { channel: 1, len: 3 }));
        assert_eq!(used, 7);
        assert_eq!(&buf[pos + used - 3..pos + used], &[0x81, 0xc9, 0x00], "payload is the last len bytes");
        pos += used;
        let (third, used) = parse(&buf[pos..]).unwrap().unwrap();
        assert!(matches!(third, ServerInput::Response(ref r) if r.body == b"v=0\r\ns=x\r\n"));
        pos += used;
        assert!(matches!(parse(&buf[pos..]), Ok(None)));
    }

    #[test]
    fn split_at_every_offset() {
        for text in [MEDIAMTX_401, SETUP_200, DESCRIBE_200, &[b'$', 0, 1, 0][..]] {
            for cut in 0..text.len() {
                assert!(matches!(parse(&text[..cut]), Ok(None)), "cut {cut} of {:?}", String::from_utf8_lossy(text));
            }
        }
        let mut frame = std::vec![b'$', 0, 0xff, 0xff];
        frame.resize(4 + 0xffff, 0);
        assert!(matches!(parse(&frame[..frame.len() - 1]), Ok(None)));
        assert!(matches!(parse(&frame), Ok(Some((ServerInput::Interleaved { channel: 0, len: 0xffff }, 65539)))));
    }

    fn malformed(text: &[u8]) -> bool {
        matches!(parse(text), Err(ParseError::Malformed(_)))
    }

    #[test]
    fn bad_status_lines() {
        for bad in [
            &b"RTSP/1.0 20 OK\r\n\r\n"[..],
            b"RTSP/1.0 2000 OK\r\n\r\n",
            b"RTSP/1.0 099 x\r\n\r\n",
            b"RTSP/1.0 600 x\r\n\r\n",
            b"RTSP/1.0 999 x\r\n\r\n",
            b"RTSP/1.0 +20 x\r\n\r\n",
            b"RTSP/1.0 2a0 x\r\n\r\n",
            b"RTSP/1.0  200 OK\r\n\r\n",
            b"RTSP/1.0 OK\r\n\r\n",
            b"RTSP/1.0\r\n\r\n",
            b"RTSP/1.0 \r\n\r\n",
            b"RTSP/2.0 200 OK\r\n\r\n",
            b"RTSP/1. 200 OK\r\n\r\n",
            b"RTSP/ 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"rtsp/1.0 200 OK\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nCSeq 1\r\n\r\n",
            b"RTSP/1.0 200 OK\r\nContent-Length: x\r\n\r\n",
            b"RTSP/1.0 200 O\x00K\r\n\r\n",
            b"\x16\x03\x01",
            b"RTSP/1.0 200 OK\r\n folded first\r\n\r\n",
        ] {
            assert!(malformed(bad), "{:?} -> {:?}", String::from_utf8_lossy(bad), parse(bad));
        }
    }

    #[test]
    fn limits_apply() {
        let small = Limits { max_head: 64, max_body: 4, max_headers: 2 };
        let mut long = b"RTSP/1.0 200 ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 80));
        // A status line over the limit is too large (not "URI too long").
        assert_eq!(parse_server_input(&long, &small).unwrap_err(), ParseError::TooLarge);
        let body = b"RTSP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(parse_server_input(body, &small).unwrap_err(), ParseError::TooLarge);
        let headers = b"RTSP/1.0 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(parse_server_input(headers, &small).unwrap_err(), ParseError::TooLarge);
        assert_eq!(parse_server_input(&[b'\n'; 65], &small).unwrap_err(), ParseError::TooLarge);
    }

    #[test]
    fn no_input_panics() {
        let mut all = MEDIAMTX_401.to_vec();
        all.extend_from_slice(DESCRIBE_200);
        for i in 0..all.len() {
            let keep = all[i];
            for b in [0u8, b'\r', b'\n', b' ', b':', b'$', b'0', b'9', 0xff] {
                all[i] = b;
                let _ = parse(&all);
                let _ = parse(&all[..i]);
                let _ = parse(&all[i..]);
            }
            all[i] = keep;
        }
    }

    #[test]
    fn request_parser_refuses_responses_still() {
        assert!(matches!(parse_input(SETUP_200, &Limits::default()), Err(ParseError::Malformed(_))));
        assert!(matches!(parse_input(b"GET_PARAMETER * RTSP/1.0\r\n\r\n", &Limits::default()), Ok(Some((Input::Request(_), _)))));
    }
}
