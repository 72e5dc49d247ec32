//! RTSP over HTTP, the QuickTime tunnel (what ffmpeg's `-rtsp_transport
//! http`, GStreamer's `rtsph://`, VLC and NVRs use), on the RTSP port itself:
//! a connection whose first bytes are `GET ` or `POST ` is HTTP.
//!
//! - a `GET` with `x-sessioncookie` and `Accept: application/x-rtsp-tunnelled`
//!   is the server-to-client half: it gets `HTTP/1.0 200 OK` and then every
//!   RTSP reply and interleaved packet of the tunnel, as a plain connection
//!   would. The RTSP state (clients, nonce, timers) lives on it;
//! - a `POST` with the same cookie carries base64 RTSP requests (split
//!   anywhere, each base64 group padded or not), decoded onto the GET's input
//!   and parsed there exactly as a plain connection's. There may be several,
//!   one after another; each may close after a request. It gets no reply.
//!
//! Refusals, each an HTTP status and a close of that connection only: a head
//! that is not a tunnel's (400), over the head limit (431, 414), a cookie
//! longer than [`MAX_COOKIE`] (400), a second GET with a live GET's cookie
//! (409), invalid base64 on a POST (400), a POST whose GET has not come within
//! [`POST_WAIT_US`] (404; GStreamer sends both at once, so the POST may be
//! read first). RTSP errors inside the tunnel (413 for 64 KB of headers) go
//! down the GET, which then closes with its POSTs.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::output::{push_bytes, Conn};
use super::timers::ConnTimer;
use super::{ConnId, Server};
use crate::rtsp::{self, auth, ParseError};

/// Longest `x-sessioncookie` value taken (QuickTime's are 22 characters, ffmpeg's 16, GStreamer's 23).
pub(super) const MAX_COOKIE: usize = 128;
/// How long a POST waits for the GET with its cookie.
pub(super) const POST_WAIT_US: u64 = 2_000_000;

/// What a connection is, told apart by its first bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) enum Role {
    /// Too few bytes read to tell.
    #[default]
    Undecided,
    /// Plain RTSP.
    Rtsp,
    /// An HTTP request whose head has not all arrived.
    HttpHead,
    /// A tunnel's server-to-client half.
    Get { cookie: String },
    /// A tunnel's client-to-server half: base64 for the GET `get` (None: not
    /// arrived yet, the raw body waits in the POST's own input), and the
    /// part of a base64 group read so far.
    Post { cookie: String, get: Option<ConnId>, base64: Base64Groups },
}

impl Role {
    /// A POST's GET, once it has come.
    pub(super) fn get(&self) -> Option<ConnId> {
        match self {
            Role::Post { get, .. } => *get,
            _ => None,
        }
    }
}

/// What a connection's first bytes say it is: None while they could still be either.
fn sniff(input: &[u8]) -> Option<Role> {
    for m in [&b"GET "[..], b"POST "] {
        if input.starts_with(m) {
            return Some(Role::HttpHead);
        }
        if m.starts_with(input) {
            return None;
        }
    }
    Some(Role::Rtsp)
}

/// A POST's base64 (RFC 4648, standard alphabet), decoded a group of four
/// characters at a time as they come, in any split, whitespace skipped, with
/// the decoder `Authorization: Basic` uses: each group may end in padding
/// (clients encode each request on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Base64Groups {
    group: [u8; 4],
    n: usize,
}

impl Base64Groups {
    /// Decodes `text` onto `out`; Err on a byte that is not base64 (at once)
    /// or a group that is not (padding inside it: once it is whole).
    pub(super) fn decode(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
        for &c in text {
            match c {
                b'\r' | b'\n' | b' ' | b'\t' => continue,
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => {}
                _ => return Err(()),
            }
            self.group[self.n] = c;
            self.n += 1;
            if self.n == 4 {
                self.n = 0;
                auth::base64_decode_group(&self.group, out).ok_or(())?;
            }
        }
        Ok(())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        409 => "Conflict",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        _ => "Bad Request",
    }
}

/// An HTTP status, then a close (nothing more is read from it).
pub(super) fn refuse(conn: &mut Conn, status: u16) {
    conn.input = Vec::new();
    conn.discard_output();
    let text = format!("HTTP/1.0 {status} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", reason(status));
    push_bytes(conn, text.into_bytes());
    conn.close();
}

impl Server {
    /// Bytes read on a connection that is not plain RTSP (or not yet known):
    /// true when they were taken care of here.
    pub(super) fn tunnel_received(&mut self, id: ConnId, data: &[u8], now_us: u64) -> bool {
        let Some(conn) = self.wire.conns.get_mut(id.0) else { return true };
        match conn.role {
            Role::Rtsp => return false,
            // Nothing more is expected from a GET's peer.
            Role::Get { .. } => return true,
            Role::Post { .. } => {
                self.post_body(id, data, now_us);
                return true;
            }
            Role::Undecided | Role::HttpHead => {}
        }
        conn.input.extend_from_slice(data);
        if conn.role == Role::Undecided {
            match sniff(&conn.input) {
                None => return true,
                Some(Role::Rtsp) => {
                    conn.role = Role::Rtsp;
                    self.process_input(id, now_us);
                    return true;
                }
                Some(role) => conn.role = role,
            }
        }
        self.http_head(id, now_us);
        true
    }

    /// Refuses an HTTP request: its status, then a close.
    fn http_refuse(&mut self, id: ConnId, status: u16) {
        if let Some(conn) = self.wire.conns.get_mut(id.0) {
            refuse(conn, status);
        }
    }

    /// An HTTP head, once whole: a tunnel's GET or POST, else refused.
    fn http_head(&mut self, id: ConnId, now_us: u64) {
        let Some(conn) = self.wire.conns.get_mut(id.0) else { return };
        let (req, used) = match rtsp::parse_http_head(&conn.input, &self.config.limits) {
            Ok(None) => return,
            Ok(Some(head)) => head,
            Err(ParseError::TooLarge) => return self.http_refuse(id, 431),
            Err(ParseError::UriTooLong) => return self.http_refuse(id, 414),
            Err(ParseError::Malformed(_)) => return self.http_refuse(id, 400),
        };
        let mut body = core::mem::take(&mut conn.input);
        body.drain(..used.min(body.len()));
        let cookie = match req.header("x-sessioncookie") {
            Some(c) if !c.is_empty() && c.len() <= MAX_COOKIE => String::from(c),
            _ => return self.http_refuse(id, 400),
        };
        let tunnelled = |h: Option<&str>| h.is_some_and(|v| v.to_ascii_lowercase().contains("application/x-rtsp-tunnelled"));
        match req.method.as_str() {
            "GET" if tunnelled(req.header("Accept")) => {
                if self.tunnel_get(&cookie).is_some() {
                    return self.http_refuse(id, 409);
                }
                let Some(conn) = self.wire.conns.get_mut(id.0) else { return };
                conn.role = Role::Get { cookie: cookie.clone() };
                conn.last_request_us = now_us;
                conn.timers.set(ConnTimer::Idle, self.config.timeout_after(now_us));
                let reply = "HTTP/1.0 200 OK\r\nServer: canmv-rtsp\r\nContent-Type: application/x-rtsp-tunnelled\r\n\
                             Cache-Control: no-cache\r\nPragma: no-cache\r\nConnection: close\r\n\r\n";
                push_bytes(conn, reply.as_bytes().to_vec());
                // POSTs read before their GET (GStreamer sends both at once).
                let waiting: Vec<ConnId> = self
                    .wire
                    .conns
                    .iter()
                    .filter(|(_, c)| !c.closing && matches!(&c.role, Role::Post { cookie: k, get: None, .. } if *k == cookie))
                    .map(|(k, _)| ConnId(k))
                    .collect();
                for post in waiting {
                    let Some(p) = self.wire.conns.get_mut(post.0) else { continue };
                    if let Role::Post { get, .. } = &mut p.role {
                        *get = Some(id);
                    }
                    p.timers.set(ConnTimer::Idle, self.config.timeout_after(now_us));
                    let raw = core::mem::take(&mut p.input);
                    self.post_body(post, &raw, now_us);
                }
            }
            "POST" => {
                let get = self.tunnel_get(&cookie);
                let Some(conn) = self.wire.conns.get_mut(id.0) else { return };
                conn.role = Role::Post { cookie, get, base64: Base64Groups::default() };
                conn.last_request_us = now_us;
                if get.is_none() {
                    conn.timers.set(ConnTimer::Idle, now_us + POST_WAIT_US);
                }
                self.post_body(id, &body, now_us);
            }
            _ => self.http_refuse(id, 400),
        }
    }

    /// The open GET with that cookie.
    fn tunnel_get(&self, cookie: &str) -> Option<ConnId> {
        self.wire
            .conns
            .iter()
            .find(|(_, c)| !c.closing && matches!(&c.role, Role::Get { cookie: k } if k == cookie))
            .map(|(k, _)| ConnId(k))
    }

    /// Decoded bytes a tunnel may hold ahead of its parser: past this its POSTs are not read.
    fn tunnel_backlog(&self) -> usize {
        self.config.limits.max_head + self.config.limits.max_body
    }

    /// Body bytes of a POST: decoded onto its GET's input, and parsed there.
    fn post_body(&mut self, id: ConnId, data: &[u8], now_us: u64) {
        if data.is_empty() {
            return;
        }
        let backlog = self.tunnel_backlog();
        let Some(conn) = self.wire.conns.get_mut(id.0) else { return };
        let Role::Post { get, base64: mut decoder, .. } = conn.role else { return };
        let Some(get) = get else {
            // Its GET has not come yet: kept as it came, within bounds.
            if conn.input.len() + data.len() > backlog {
                return self.http_refuse(id, 400);
            }
            conn.input.extend_from_slice(data);
            return;
        };
        conn.timers.set(ConnTimer::Idle, self.config.timeout_after(now_us));
        // Requests come through it: it is not the idle one to evict before its GET.
        conn.last_request_us = now_us;
        let mut decoded = Vec::new();
        let ok = decoder.decode(data, &mut decoded).is_ok();
        if let Role::Post { base64, .. } = &mut conn.role {
            *base64 = decoder;
        }
        if !ok {
            return self.http_refuse(id, 400);
        }
        match self.wire.conns.get_mut(get.0) {
            Some(g) if !g.closing => g.input.extend_from_slice(&decoded),
            // Its tunnel is gone.
            _ => {
                if let Some(conn) = self.wire.conns.get_mut(id.0) {
                    conn.input = Vec::new();
                    conn.close();
                }
                return;
            }
        }
        self.process_input(get, now_us);
    }

    /// Whether a POST's tunnel can take more (its GET's input under the backlog limit).
    pub(super) fn post_may_read(&self, id: ConnId) -> bool {
        let Some(conn) = self.wire.conns.get(id.0) else { return false };
        match &conn.role {
            Role::Post { get: Some(g), .. } => {
                self.wire.conns.get(g.0).is_some_and(|g| g.input.len() < self.tunnel_backlog())
            }
            _ => true,
        }
    }

    /// The connection whose clients keep this one: a POST's GET, else itself.
    pub(super) fn owner(&self, id: ConnId) -> ConnId {
        self.wire.conns.get(id.0).and_then(|c| c.role.get()).unwrap_or(id)
    }

    /// A GET is gone: its POSTs close with it.
    pub(super) fn close_posts_of(&mut self, get: ConnId) {
        for c in self.wire.conns.values_mut() {
            if matches!(c.role, Role::Post { get: Some(g), .. } if g == get) {
                c.input = Vec::new();
                c.close();
            }
        }
    }

    /// Whether the connection is a tunnel's GET (its clients use interleaved RTP only).
    pub(super) fn is_tunnel(&self, id: ConnId) -> bool {
        self.wire.conns.get(id.0).is_some_and(|c| matches!(c.role, Role::Get { .. }))
    }
}
