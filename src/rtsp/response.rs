//! RTSP response formatting.
use alloc::string::String;
use alloc::vec::Vec;

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
fn push_header_text(out: &mut Vec<u8>, text: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::request::{parse_input, Input, Limits};

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
}
