//! Incremental RTSP request parser (OWNED BY HELPER: rtsp/sdp).
//!
//! Contract used by `server.rs`:
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
    pub body: Vec<u8>,
}

impl Request {
    /// First header of that name (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The CSeq as a number, if present and valid.
    pub fn cseq(&self) -> Option<u32> {
        self.header("CSeq").and_then(|v| v.trim().parse().ok())
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
}

#[derive(Debug, Clone)]
pub enum Input {
    Request(Request),
    Interleaved { channel: u8, data: Vec<u8> },
}

pub fn parse_input(buf: &[u8], limits: &Limits) -> Result<Option<(Input, usize)>, ParseError> {
    let _ = (buf, limits);
    todo!("helper")
}
