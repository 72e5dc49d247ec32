//! RTSP 1.0 (RFC 2326) message handling, sans-IO: parse requests and
//! interleaved frames from bytes, format responses, parse Transport headers
//! and request URLs; check Basic/Digest authentication. The pusher's side:
//! parse responses, build requests, answer challenges, read push URLs and
//! Session headers.

pub mod auth;
pub mod request;
pub mod response;
pub mod session_header;
pub mod transport;
pub mod url;

pub use request::{parse_http_head, parse_input, Input, Limits, Method, ParseError, Request};
pub use response::Response;
pub use transport::Lower;
