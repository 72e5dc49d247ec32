//! RTSP response formatting (OWNED BY HELPER: rtsp/sdp).
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
        todo!("helper")
    }
}

/// Reason phrase of RFC 2326 section 7.1.1 for a status code.
pub fn reason(status: u16) -> &'static str {
    let _ = status;
    todo!("helper")
}
