//! RTSP authentication, sans-IO: Basic (RFC 7617) and Digest (RFC 7616,
//! with the RFC 2617 and RFC 2069 forms that ffmpeg and GStreamer send).
//!
//! The server challenges a connection with a nonce of its own and later asks
//! `check` whether an `Authorization` header answers that nonce. Challenge
//! order (RFC 7616 3.7, most preferred first): Digest SHA-256, Digest MD5,
//! Basic. Clients that keep only one Digest challenge keep the last one
//! (ffmpeg's httpauth.c and GStreamer's rtspsrc both overwrite their Digest
//! parameters per header), so MD5 must come after SHA-256 for ffmpeg, which
//! cannot answer SHA-256. GStreamer always answers MD5 without qop.
//!
//! The client side (the pusher): [`pick_challenge`] reads a 401's
//! `WWW-Authenticate` headers and [`Challenge::authorization`] answers one.
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine as _};
use md5::Md5;
use sha2::{Digest as _, Sha256};

/// Parameters in one Digest header beyond this are refused (bounds the work).
const MAX_PARAMS: usize = 32;

pub struct Authenticator {
    realm: String,
    users: Vec<(String, String)>,
    allow_basic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    fn hex(self, parts: &[&[u8]]) -> String {
        match self {
            Algorithm::Md5 => {
                let mut h = Md5::new();
                parts.iter().for_each(|p| h.update(p));
                hex(&h.finalize())
            }
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                parts.iter().for_each(|p| h.update(p));
                hex(&h.finalize())
            }
        }
    }
}

/// Whether `name` can be a user's name: not empty, no `:` (Basic carries
/// `name:password`, RFC 7617 2) and no control character (it travels in a
/// header).
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c == ':' || c.is_ascii_control())
}

impl Authenticator {
    /// As [`Authenticator::new`] for users a script gives: None when `users`
    /// is empty (that would let nobody in) or a name is not a
    /// [`valid_user_name`]. Any password is allowed.
    pub fn for_users(realm: &str, users: &[(&str, &str)], allow_basic: bool) -> Option<Self> {
        (!users.is_empty() && users.iter().all(|(u, _)| valid_user_name(u)))
            .then(|| Authenticator::new(realm, users, allow_basic))
    }

    /// `realm` as shown to users; `users`: (name, password) pairs; `allow_basic`:
    /// also accept Basic (off = Digest only). A pair with an empty name is
    /// ignored, so `rtsp://:@host` (or `Basic Og==`) never gets in.
    pub fn new(realm: &str, users: &[(&str, &str)], allow_basic: bool) -> Self {
        Authenticator {
            realm: realm.chars().filter(|c| !c.is_control()).collect(),
            users: users
                .iter()
                .filter(|(u, _)| !u.is_empty())
                .map(|(u, p)| (String::from(*u), String::from(*p)))
                .collect(),
            allow_basic,
        }
    }

    /// The `WWW-Authenticate` header values for a 401, one header each, most
    /// preferred first: Digest SHA-256, Digest MD5, then Basic if allowed.
    pub fn challenges(&self, nonce: &str) -> Vec<String> {
        let realm = quote(&self.realm);
        let nonce = quote(nonce);
        let mut out = Vec::with_capacity(3);
        for algorithm in ["SHA-256", "MD5"] {
            out.push(format!("Digest realm={realm}, nonce={nonce}, algorithm={algorithm}, qop=\"auth\""));
        }
        if self.allow_basic {
            out.push(format!("Basic realm={realm}"));
        }
        out
    }

    /// Whether an `Authorization` header value authorises `method` given the
    /// `nonce` this connection was challenged with.
    pub fn check(&self, method: &str, authorization: &str, nonce: &str) -> bool {
        let value = authorization.trim();
        let (scheme, rest) = match value.find(|c: char| c.is_ascii_whitespace()) {
            Some(at) => (value.get(..at).unwrap_or(""), value.get(at..).unwrap_or("").trim()),
            None => (value, ""),
        };
        if scheme.eq_ignore_ascii_case("Basic") {
            self.allow_basic && self.check_basic(rest)
        } else if scheme.eq_ignore_ascii_case("Digest") {
            self.check_digest(method, rest, nonce)
        } else {
            false
        }
    }

    fn password_of(&self, user: &[u8]) -> Option<&str> {
        self.users.iter().find(|(u, _)| u.as_bytes() == user).map(|(_, p)| p.as_str())
    }

    fn check_basic(&self, token: &str) -> bool {
        let Some(decoded) = base64_decode(token) else { return false };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else { return false };
        let (user, password) = (decoded.get(..colon).unwrap_or(&[]), decoded.get(colon + 1..).unwrap_or(&[]));
        match self.password_of(user) {
            Some(expected) => constant_time_eq(expected.as_bytes(), password),
            None => false,
        }
    }

    fn check_digest(&self, method: &str, params: &str, nonce: &str) -> bool {
        let Some(params) = parse_params(params) else { return false };
        let get = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let (Some(username), Some(realm), Some(got_nonce), Some(uri), Some(response)) =
            (get("username"), get("realm"), get("nonce"), get("uri"), get("response"))
        else {
            return false;
        };
        if nonce.is_empty() || got_nonce != nonce || realm != self.realm {
            return false;
        }
        let Some((algorithm, session)) = parse_algorithm(get("algorithm")) else { return false };
        let userhash = match get("userhash") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(_) => return false,
        };
        let password = if userhash {
            // RFC 7616 3.4.4: the username field is H(user ":" realm).
            let claimed = username.to_ascii_lowercase();
            let named = |(u, _): &&(String, String)| {
                let hashed = algorithm.hex(&[u.as_bytes(), b":", self.realm.as_bytes()]);
                constant_time_eq(hashed.as_bytes(), claimed.as_bytes())
            };
            self.users.iter().find(named).map(|(u, p)| (u.as_str(), p.as_str()))
        } else {
            self.password_of(username.as_bytes()).map(|p| (username, p))
        };
        let Some((user, password)) = password else { return false };
        let cnonce = get("cnonce");
        let mut ha1 = algorithm.hex(&[user.as_bytes(), b":", realm.as_bytes(), b":", password.as_bytes()]);
        if session {
            let Some(cnonce) = cnonce else { return false };
            ha1 = algorithm.hex(&[ha1.as_bytes(), b":", nonce.as_bytes(), b":", cnonce.as_bytes()]);
        }
        let ha2 = algorithm.hex(&[method.as_bytes(), b":", uri.as_bytes()]);
        let expected = match get("qop") {
            // RFC 2069: no qop, no client nonce.
            None => algorithm.hex(&[ha1.as_bytes(), b":", nonce.as_bytes(), b":", ha2.as_bytes()]),
            Some(qop) if qop.eq_ignore_ascii_case("auth") => {
                let (Some(nc), Some(cnonce)) = (get("nc"), cnonce) else { return false };
                algorithm.hex(&[
                    ha1.as_bytes(),
                    b":",
                    nonce.as_bytes(),
                    b":",
                    nc.as_bytes(),
                    b":",
                    cnonce.as_bytes(),
                    b":",
                    qop.as_bytes(),
                    b":",
                    ha2.as_bytes(),
                ])
            }
            // auth-int would need the body hashed; RTSP requests here have none worth it.
            Some(_) => return false,
        };
        constant_time_eq(expected.as_bytes(), response.to_ascii_lowercase().as_bytes())
    }
}

/// One challenge a client can answer: Digest (MD5 or SHA-256, with or
/// without `-sess`, with `qop=auth` or the RFC 2069 form) or Basic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    realm: String,
    digest: Option<DigestChallenge>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DigestChallenge {
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    session: bool,
    /// The challenge named its algorithm: the answer names it too.
    algorithm_named: bool,
    /// `qop` offered `auth`: answer with qop, nc and cnonce. Without qop, the
    /// RFC 2069 form.
    qop_auth: bool,
    stale: bool,
}

/// The challenges' order of preference: higher is better.
fn challenge_rank(c: &Challenge) -> u8 {
    match &c.digest {
        Some(d) if d.algorithm == Algorithm::Sha256 => 3,
        Some(_) => 2,
        None => 1,
    }
}

/// The challenge to answer among all `WWW-Authenticate` header values of a
/// 401: Digest SHA-256, then Digest MD5, then Basic; the first of equal ones.
/// Each value may hold several comma-separated challenges (RFC 7235 4.1).
/// A Digest `algorithm` parameter (RFC 7616 3.3; none means MD5): the hash
/// and whether it is a `-sess` variant. None for an algorithm we do not have.
fn parse_algorithm(value: Option<&str>) -> Option<(Algorithm, bool)> {
    match value.map(str::trim) {
        None => Some((Algorithm::Md5, false)),
        Some(a) if a.eq_ignore_ascii_case("MD5") => Some((Algorithm::Md5, false)),
        Some(a) if a.eq_ignore_ascii_case("MD5-sess") => Some((Algorithm::Md5, true)),
        Some(a) if a.eq_ignore_ascii_case("SHA-256") => Some((Algorithm::Sha256, false)),
        Some(a) if a.eq_ignore_ascii_case("SHA-256-sess") => Some((Algorithm::Sha256, true)),
        Some(_) => None,
    }
}

/// Unknown schemes, algorithms and `qop` values without `auth` are skipped,
/// as are challenges with malformed or repeated parameters, and Digest
/// without `realm` or `nonce`. `None` when nothing is left.
pub fn pick_challenge<'a>(www_authenticate: impl Iterator<Item = &'a str>) -> Option<Challenge> {
    let mut best: Option<Challenge> = None;
    for value in www_authenticate {
        for (scheme, params) in split_challenges(value) {
            let Some(challenge) = parse_challenge(scheme, params) else { continue };
            if best.as_ref().is_none_or(|b| challenge_rank(&challenge) > challenge_rank(b)) {
                best = Some(challenge);
            }
        }
    }
    best
}

/// Splits a `WWW-Authenticate` value into (scheme, parameter text) pairs. A
/// list element that is a token not followed by `=` starts a challenge; the
/// elements after it, up to the next such token, are its parameters. Commas
/// inside quoted strings do not split.
fn split_challenges(value: &str) -> Vec<(&str, &str)> {
    let bytes = value.as_bytes();
    // (scheme start, scheme end) of each challenge.
    let mut starts: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    let mut element_start = true;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' {
            // Skip a quoted string, with its escapes.
            i += 1;
            while let Some(&q) = bytes.get(i) {
                i += if q == b'\\' { 2 } else { 1 };
                if q == b'"' {
                    break;
                }
            }
            element_start = false;
            continue;
        }
        if b == b',' {
            element_start = true;
            i += 1;
            continue;
        }
        if b == b' ' || b == b'\t' || !element_start {
            i += 1;
            continue;
        }
        element_start = false;
        let token_end = i + bytes[i..].iter().take_while(|&&t| t.is_ascii() && is_tchar(char::from(t))).count();
        let after = bytes[token_end..].iter().position(|&t| t != b' ' && t != b'\t').map(|n| token_end + n);
        let is_param = after.is_some_and(|a| bytes.get(a) == Some(&b'='));
        if token_end > i && !is_param {
            starts.push((i, token_end));
        }
        i = token_end.max(i + 1);
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &(start, end)) in starts.iter().enumerate() {
        let params_end = starts.get(n + 1).map_or(value.len(), |next| next.0);
        // Token bytes are ASCII, so these are char boundaries.
        if let (Some(scheme), Some(params)) = (value.get(start..end), value.get(end..params_end)) {
            out.push((scheme, params));
        }
    }
    out
}

fn parse_challenge(scheme: &str, params: &str) -> Option<Challenge> {
    let params = parse_params(params)?;
    let get = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    if scheme.eq_ignore_ascii_case("Basic") {
        return Some(Challenge { realm: get("realm").unwrap_or("").into(), digest: None });
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return None;
    }
    let (realm, nonce) = (get("realm")?, get("nonce")?);
    let (algorithm, session) = parse_algorithm(get("algorithm"))?;
    let qop_auth = match get("qop") {
        None => false,
        Some(list) if list.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")) => true,
        // Only auth-int (or something unknown) offered: we cannot answer it.
        Some(_) => return None,
    };
    Some(Challenge {
        realm: realm.into(),
        digest: Some(DigestChallenge {
            nonce: nonce.into(),
            opaque: get("opaque").map(String::from),
            algorithm,
            session,
            algorithm_named: get("algorithm").is_some(),
            qop_auth,
            stale: get("stale").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        }),
    })
}

impl Challenge {
    /// The `Authorization` header value answering this challenge for one
    /// request: `method` and `uri` exactly as on its request line. `cnonce`
    /// (a fresh random string, e.g. hex) and `nc` (1 for the first request
    /// on a nonce, then counting up) are used only when the challenge offered
    /// `qop=auth` or a `-sess` algorithm.
    pub fn authorization(&self, user: &str, password: &str, method: &str, uri: &str, cnonce: &str, nc: u32) -> String {
        let Some(d) = &self.digest else {
            use base64::engine::general_purpose::STANDARD;
            return format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        };
        let alg = d.algorithm;
        let mut ha1 = alg.hex(&[user.as_bytes(), b":", self.realm.as_bytes(), b":", password.as_bytes()]);
        if d.session {
            ha1 = alg.hex(&[ha1.as_bytes(), b":", d.nonce.as_bytes(), b":", cnonce.as_bytes()]);
        }
        let ha2 = alg.hex(&[method.as_bytes(), b":", uri.as_bytes()]);
        let nc = format!("{nc:08x}");
        let response = if d.qop_auth {
            let parts: [&[u8]; 11] = [
                ha1.as_bytes(),
                b":",
                d.nonce.as_bytes(),
                b":",
                nc.as_bytes(),
                b":",
                cnonce.as_bytes(),
                b":",
                b"auth",
                b":",
                ha2.as_bytes(),
            ];
            alg.hex(&parts)
        } else {
            alg.hex(&[ha1.as_bytes(), b":", d.nonce.as_bytes(), b":", ha2.as_bytes()])
        };
        let mut out = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\"",
            quote(user),
            quote(&self.realm),
            quote(&d.nonce),
            quote(uri)
        );
        if d.algorithm_named || d.session {
            let name = match (alg, d.session) {
                (Algorithm::Md5, false) => "MD5",
                (Algorithm::Md5, true) => "MD5-sess",
                (Algorithm::Sha256, false) => "SHA-256",
                (Algorithm::Sha256, true) => "SHA-256-sess",
            };
            out.push_str(", algorithm=");
            out.push_str(name);
        }
        if d.qop_auth {
            out.push_str(&format!(", qop=auth, nc={nc}, cnonce={}", quote(cnonce)));
        } else if d.session {
            out.push_str(&format!(", cnonce={}", quote(cnonce)));
        }
        if let Some(opaque) = &d.opaque {
            out.push_str(", opaque=");
            out.push_str(&quote(opaque));
        }
        out
    }

    /// `stale=true`: the server's nonce expired, the credentials were right;
    /// answer the new nonce once more rather than reporting bad credentials.
    pub fn is_stale(&self) -> bool {
        self.digest.as_ref().is_some_and(|d| d.stale)
    }

    /// Digest (true) or Basic (false).
    #[cfg(test)]
    pub fn is_digest(&self) -> bool {
        self.digest.is_some()
    }

    #[cfg(test)]
    pub fn realm(&self) -> &str {
        &self.realm
    }
}

/// A fresh nonce from 16 random bytes (hex).
pub fn nonce_from(random: &[u8; 16]) -> String {
    hex(random)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A quoted-string (RFC 9110 5.6.4): quotes and backslashes escaped, controls dropped.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Comma-separated `name=value` pairs, value a token or a quoted-string.
/// Liberal in spacing and empty list elements; `None` on anything malformed,
/// on a repeated name, or on more than `MAX_PARAMS` pairs.
fn parse_params(text: &str) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| is_tchar(*c)) {
            name.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if name.is_empty() || chars.next() != Some('=') {
            return None;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ',' && *c != '"') {
                value.push(c);
            }
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if !matches!(chars.peek(), None | Some(',')) {
            return None;
        }
        if out.len() >= MAX_PARAMS || out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&name)) {
            return None;
        }
        out.push((name, value));
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Standard-alphabet base64 (RFC 4648 4) as `Authorization: Basic` and the
/// RTSP-over-HTTP tunnel send it: padding may be left out (never more than the
/// encoding needs), non-zero bits in the last symbol are ignored (as the
/// hand-written decoder before it did), and any byte outside the alphabet, a
/// stray `=`, or a length no encoding has is refused.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// `text` decoded as [`BASE64_LENIENT`]; `None` for anything that is not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    BASE64_LENIENT.decode(text).ok()
}

/// One group of four base64 characters decoded as [`BASE64_LENIENT`] onto
/// `out` (the tunnel decodes its POSTs a group at a time, as they come:
/// any group may end in padding); `None` when it is not base64.
pub(crate) fn base64_decode_group(group: &[u8; 4], out: &mut Vec<u8>) -> Option<()> {
    let mut bytes = [0u8; 3];
    let n = BASE64_LENIENT.decode_slice(group, &mut bytes).ok()?;
    out.extend_from_slice(bytes.get(..n)?);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(data: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(data)
    }
    use std::string::ToString;
    use std::vec;

    // RFC 7616 3.9.1.
    const R7616_REALM: &str = "http-auth@example.org";
    const R7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const R7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616_auth() -> Authenticator {
        Authenticator::new(R7616_REALM, &[("Mufasa", "Circle of Life")], false)
    }

    fn rfc7616_header(algorithm: &str, response: &str) -> String {
        format!(
            "Digest username=\"Mufasa\", realm=\"{R7616_REALM}\", uri=\"/dir/index.html\", algorithm={algorithm}, \
             nonce=\"{R7616_NONCE}\", nc=00000001, cnonce=\"{R7616_CNONCE}\", qop=auth, response=\"{response}\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        )
    }

    const R7616_MD5: &str = "8ca523f5e9506fed4657c9700eebdbec";
    const R7616_SHA256: &str = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

    #[test]
    fn rfc7616_md5_and_sha256_examples() {
        let auth = rfc7616_auth();
        assert!(auth.check("GET", &rfc7616_header("MD5", R7616_MD5), R7616_NONCE));
        assert!(auth.check("GET", &rfc7616_header("SHA-256", R7616_SHA256), R7616_NONCE));
        // Each response belongs to its own algorithm.
        assert!(!auth.check("GET", &rfc7616_header("SHA-256", R7616_MD5), R7616_NONCE));
        assert!(!auth.check("GET", &rfc7616_header("MD5", R7616_SHA256), R7616_NONCE));
    }

    #[test]
    fn rfc7616_header_folded_over_lines_and_upper_case_hex() {
        let auth = rfc7616_auth();
        let folded = rfc7616_header("SHA-256", &R7616_SHA256.to_ascii_uppercase()).replace(", ", ",\r\n\t");
        assert!(auth.check("GET", &folded, R7616_NONCE));
    }

    #[test]
    fn rfc2617_example() {
        let auth = Authenticator::new("testrealm@host.com", &[("Mufasa", "Circle Of Life")], false);
        let header = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
            nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, nc=00000001, \
            cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
            opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        assert!(auth.check("GET", header, "dcd98b7102dd2f0e8b11d0f600bfb0c093"));
        assert!(!auth.check(
            "GET",
            &header.replace("nc=00000001", "nc=00000002"),
            "dcd98b7102dd2f0e8b11d0f600bfb0c093"
        ));
        assert!(!auth.check("GET", &header.replace("0a4f113b", "0a4f113c"), "dcd98b7102dd2f0e8b11d0f600bfb0c093"));
    }

    #[test]
    fn rfc2069_form_without_qop() {
        // RFC 2069 2.4 example with its erratum's response (H(H(A1):nonce:H(A2)), password "CircleOfLife").
        let auth = Authenticator::new("testrealm@host.com", &[("Mufasa", "CircleOfLife")], false);
        let header = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
            nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
            response=\"1949323746fe6a43ef61f9606e7febea\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        assert!(auth.check("GET", header, "dcd98b7102dd2f0e8b11d0f600bfb0c093"));
        // The same without qop but claiming qop=auth lacks nc/cnonce.
        assert!(!auth.check("GET", &format!("{header}, qop=auth"), "dcd98b7102dd2f0e8b11d0f600bfb0c093"));
    }

    #[test]
    fn sha256_without_qop_and_sess_variants() {
        // Values computed with Python hashlib from the RFC 7616 formulas.
        let auth = rfc7616_auth();
        let no_qop = format!(
            "Digest username=\"Mufasa\", realm=\"{R7616_REALM}\", uri=\"/dir/index.html\", algorithm=SHA-256, \
             nonce=\"{R7616_NONCE}\", response=\"a1306b0595a6c7fe96c448631fb5cfbd5107bd1fe1da729d978dd7446b812363\""
        );
        assert!(auth.check("GET", &no_qop, R7616_NONCE));
        let md5_sess = rfc7616_header("MD5-sess", "e783283f46242139c486a698fec7211d");
        assert!(auth.check("GET", &md5_sess, R7616_NONCE));
        let sha_sess =
            rfc7616_header("SHA-256-sess", "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7");
        assert!(auth.check("GET", &sha_sess, R7616_NONCE));
        assert!(!auth.check("GET", &rfc7616_header("SHA-512-256", R7616_SHA256), R7616_NONCE));
    }

    #[test]
    fn userhash() {
        // RFC 7616 3.4.4: username = SHA-256("Mufasa:http-auth@example.org").
        let hashed = "a947aad205e80e429958a387394944c6b496301e79f89d35a4cc23b6ee12b5b6";
        let auth = rfc7616_auth();
        let header =
            rfc7616_header("SHA-256", R7616_SHA256).replace("username=\"Mufasa\"", &format!("username=\"{hashed}\""));
        assert!(auth.check("GET", &format!("{header}, userhash=true"), R7616_NONCE));
        assert!(!auth.check("GET", &header, R7616_NONCE));
        assert!(!auth.check("GET", &format!("{header}, userhash=maybe"), R7616_NONCE));
    }

    #[test]
    fn wrong_password_user_nonce_method_realm() {
        let header = rfc7616_header("SHA-256", R7616_SHA256);
        assert!(!Authenticator::new(R7616_REALM, &[("Mufasa", "Circle of life")], false).check(
            "GET",
            &header,
            R7616_NONCE
        ));
        assert!(!Authenticator::new(R7616_REALM, &[("Simba", "Circle of Life")], false).check(
            "GET",
            &header,
            R7616_NONCE
        ));
        assert!(!Authenticator::new("other", &[("Mufasa", "Circle of Life")], false).check(
            "GET",
            &header,
            R7616_NONCE
        ));
        assert!(!Authenticator::new(R7616_REALM, &[], true).check("GET", &header, R7616_NONCE));
        let auth = rfc7616_auth();
        assert!(!auth.check("GET", &header, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0w"));
        assert!(!auth.check("GET", &header, ""));
        assert!(!auth.check("PLAY", &header, R7616_NONCE));
        assert!(!auth.check("GET", &header.replace("/dir/index.html", "/dir/index.htm"), R7616_NONCE));
        // The right user among several.
        let many = Authenticator::new(R7616_REALM, &[("Simba", "x"), ("Mufasa", "Circle of Life")], false);
        assert!(many.check("GET", &header, R7616_NONCE));
    }

    #[test]
    fn missing_fields_are_refused() {
        let auth = rfc7616_auth();
        let full = rfc7616_header("SHA-256", R7616_SHA256);
        assert!(auth.check("GET", &full, R7616_NONCE));
        for field in [
            "username=\"Mufasa\", ",
            "realm=\"http-auth@example.org\", ",
            "uri=\"/dir/index.html\", ",
            "nc=00000001, ",
            "qop=auth, ",
        ] {
            assert!(full.contains(field), "{field}");
            assert!(!auth.check("GET", &full.replacen(field, "", 1), R7616_NONCE), "without {field}");
        }
        let without_nonce = full.replacen(&format!("nonce=\"{R7616_NONCE}\", "), "", 1);
        assert!(!auth.check("GET", &without_nonce, R7616_NONCE));
        let without_cnonce = full.replacen(&format!("cnonce=\"{R7616_CNONCE}\", "), "", 1);
        assert!(!auth.check("GET", &without_cnonce, R7616_NONCE));
        let without_response = full.replacen(&format!("response=\"{R7616_SHA256}\", "), "", 1);
        assert!(!auth.check("GET", &without_response, R7616_NONCE));
        assert!(!auth.check("GET", "Digest", R7616_NONCE));
        assert!(!auth.check("GET", "Digest ", R7616_NONCE));
        assert!(!auth.check("GET", "", R7616_NONCE));
    }

    #[test]
    fn malformed_and_repeated_parameters_are_refused() {
        let auth = rfc7616_auth();
        let full = rfc7616_header("SHA-256", R7616_SHA256);
        // A second username after the good one must not be ignored or win.
        assert!(!auth.check("GET", &format!("{full}, username=\"Simba\""), R7616_NONCE));
        assert!(!auth.check("GET", &format!("{full}, USERNAME=\"Mufasa\""), R7616_NONCE));
        // Unterminated quoted string, missing '=', stray quote, stray token.
        assert!(!auth.check("GET", &format!("{full}, opaque=\"abc"), R7616_NONCE));
        assert!(!auth.check("GET", &format!("{full}, opaque"), R7616_NONCE));
        assert!(!auth.check("GET", &format!("{full}, x=a\"b\""), R7616_NONCE));
        assert!(!auth.check("GET", &full.replace("qop=auth", "qop=auth extra"), R7616_NONCE));
        assert!(!auth.check("GET", &full.replace("qop=auth", "qop=auth-int"), R7616_NONCE));
        // Too many parameters.
        let many: String = (0..40).map(|i| format!(", x{i}=1")).collect();
        assert!(!auth.check("GET", &format!("{full}{many}"), R7616_NONCE));
        // Empty list elements and odd spacing are fine (RFC 9110 5.6.1).
        assert!(auth.check("GET", &format!("{} ,, ", full.replace("qop=auth", "qop = auth")), R7616_NONCE));
        // Case-insensitive scheme, parameter names and algorithm token.
        let shouted = full.replacen("Digest", "DIGEST", 1).replace("algorithm=SHA-256", "ALGORITHM=sha-256");
        assert!(auth.check("GET", &shouted, R7616_NONCE));
    }

    #[test]
    fn quoted_strings_with_commas_and_escapes() {
        // Realm, user and password with a comma, a quote and a backslash.
        let realm = "cam, \"front\" \\ door";
        let auth = Authenticator::new(realm, &[("a,\"b\\", "p,\"w\\")], false);
        let nonce = "abc";
        let ha1 = Algorithm::Md5.hex(&[b"a,\"b\\:", realm.as_bytes(), b":p,\"w\\"]);
        let ha2 = Algorithm::Md5.hex(&[b"DESCRIBE:rtsp://h/x,y"]);
        let response = Algorithm::Md5.hex(&[ha1.as_bytes(), b":abc:", ha2.as_bytes()]);
        let header = format!(
            "Digest username=\"a,\\\"b\\\\\", realm=\"cam, \\\"front\\\" \\\\ door\", nonce=\"abc\", \
             uri=\"rtsp://h/x,y\", response=\"{response}\""
        );
        assert!(auth.check("DESCRIBE", &header, nonce));
        // The challenge quotes the realm the same way.
        assert_eq!(
            auth.challenges("n")[0],
            "Digest realm=\"cam, \\\"front\\\" \\\\ door\", nonce=\"n\", algorithm=SHA-256, qop=\"auth\""
        );
        // Escaped quote does not end the string: dropping the escape breaks parsing.
        assert!(!auth.check("DESCRIBE", &header.replacen("a,\\\"b", "a,\"b", 1), nonce));
    }

    #[test]
    fn garbage_never_authorises() {
        let auth = Authenticator::new("r", &[("u", "p"), ("", "")], true);
        let inputs = [
            "Basic",
            "Basic ",
            "Basic =",
            "Basic ====",
            "Basic !!!!",
            "Basic Og==",
            "Basic dQ",
            "Basic A",
            "Bearer abc",
            "Digest \u{0}",
            "Digest a=\u{fffd}\u{fffd}",
            "Digest username=\"\u{ff}\u{fe}\"",
            "Digest ,,,,,",
            "Digest =",
            "Digest \"",
            "Digest a=\"\\",
            "\u{1F600} \u{1F600}",
            "Digest\tusername",
            "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"\"",
            "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"\u{e9}\u{e9}\"",
        ];
        for input in inputs {
            assert!(!auth.check("OPTIONS", input, "n"), "{input:?}");
        }
        // The empty user configured above is ignored in Digest too; "u" still works.
        let empty_user = "Digest username=\"\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"\"";
        assert!(!auth.check("OPTIONS", empty_user, "n"));
        assert!(auth.check("OPTIONS", &format!("Basic {}", b64(b"u:p")), "n"));
        // Every prefix of a valid header cut before its response is complete
        // (what follows it, opaque, is optional).
        let header = rfc7616_header("SHA-256", R7616_SHA256);
        let good = rfc7616_auth();
        let complete = header.find(", opaque=").unwrap_or(header.len());
        assert!(good.check("GET", header.get(..complete).unwrap_or(""), R7616_NONCE));
        for cut in 0..complete {
            if let Some(prefix) = header.get(..cut) {
                assert!(!good.check("GET", prefix, R7616_NONCE), "{prefix}");
            }
        }
    }

    #[test]
    fn basic() {
        // RFC 7617 2: Aladdin / open sesame.
        let auth = Authenticator::new("WallyWorld", &[("Aladdin", "open sesame")], true);
        assert!(auth.check("DESCRIBE", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", ""));
        assert!(auth.check("DESCRIBE", "basic   QWxhZGRpbjpvcGVuIHNlc2FtZQ==  ", "n"));
        assert!(auth.check("DESCRIBE", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", "n"), "padding may be left out");
        // "Aladdin:open sesamf", "Aladdin:open sesame " and "aladdin:open sesame".
        assert!(!auth.check("DESCRIBE", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZg==", "n"));
        assert!(!auth.check("DESCRIBE", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZSA=", "n"));
        assert!(!auth.check("DESCRIBE", "Basic YWxhZGRpbjpvcGVuIHNlc2FtZQ==", "n"));
        // "Aladdin" without colon.
        assert!(!auth.check("DESCRIBE", "Basic QWxhZGRpbg==", "n"));
        // Password containing a colon: only the first colon separates (RFC 7617 2).
        let colon = Authenticator::new("r", &[("u", "a:b")], true);
        assert!(colon.check("PLAY", &format!("Basic {}", b64(b"u:a:b")), "n"));
        // Non-UTF-8 password bytes never match.
        assert!(!colon.check("PLAY", &format!("Basic {}", b64(b"u:\xff\xfe")), "n"));
    }

    #[test]
    fn base64_decode_accepts_what_clients_send() {
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(base64_decode("Zm9vYmFy").as_deref(), Some(&b"foobar"[..]));
        for padded in ["Zg==", "Zg=", "Zg"] {
            assert_eq!(base64_decode(padded).as_deref(), Some(&b"f"[..]), "{padded}");
        }
        assert_eq!(base64_decode("Zm8=").as_deref(), Some(&b"fo"[..]));
        // Bits past the last whole byte are ignored, as before the crate.
        assert_eq!(base64_decode("Zh==").as_deref(), Some(&b"f"[..]));
        assert_eq!(base64_decode("+/+/").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
    }

    #[test]
    fn base64_groups_decode_as_rfc4648_says() {
        let mut out = Vec::new();
        for group in [b"Zm9v", b"Zg==", b"Zm8=", b"+/+/"] {
            assert_eq!(base64_decode_group(group, &mut out), Some(()), "{group:?}");
        }
        assert_eq!(out, b"foo\x66fo\xfb\xff\xbf");
        for bad in [b"QQ=A", b"====", b"A===", b"Zm9*"] {
            assert_eq!(base64_decode_group(bad, &mut out), None, "{bad:?}");
        }
    }

    #[test]
    fn base64_decode_refuses_hostile_input() {
        // Bytes outside the standard alphabet: URL-safe, whitespace, controls, non-ASCII.
        for bad in
            ["Zm9v-mFy", "Zm9v_mFy", "Zm9v YmFy", "Zm9v\tYmFy", "Zm9v\r\nYmFy", "Zm9v\0YmFy", "Zm9vé", "Zm9v.", "*"]
        {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
        // Truncated: one symbol of a quantum cannot encode a byte.
        for bad in ["Z", "Zm9vY", "Z=", "Z==", "Zm9vY==="] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
        // Stray or excess padding, padding inside or in front of the data.
        for bad in ["=", "==", "====", "Zg===", "Zm8==", "Zm9v=", "Zg==Zg==", "=Zg==", "Z=g="] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
        // Huge: a megabyte of valid base64 decodes exactly; one bad byte at its end spoils it all.
        let plain: Vec<u8> = (0..768 * 1024).map(|i| (i * 7 % 251) as u8).collect();
        let encoded = b64(&plain);
        assert_eq!(encoded.len(), 1024 * 1024);
        assert_eq!(base64_decode(&encoded).as_deref(), Some(&plain[..]));
        assert_eq!(base64_decode(&format!("{encoded}!")), None);
        assert_eq!(base64_decode(&format!("{encoded}Z")), None);
        assert_eq!(base64_decode(&"=".repeat(1 << 20)), None);
        assert_eq!(base64_decode(&"\u{ff}".repeat(1 << 19)), None);
        // Through the authenticator: a clean refusal, never a panic.
        let auth = Authenticator::new("r", &[("u", "p")], true);
        for token in ["", "=", "Z", "dTpw=", "dTpw!", "dTp", "\u{ff}\u{fe}", &encoded] {
            assert!(!auth.check("DESCRIBE", &format!("Basic {token}"), "n"), "{token:.16}");
        }
        assert!(auth.check("DESCRIBE", "Basic dTpw", "n"));
    }

    #[test]
    fn basic_refused_when_not_allowed() {
        let auth = Authenticator::new("WallyWorld", &[("Aladdin", "open sesame")], false);
        assert!(!auth.check("DESCRIBE", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "n"));
        assert!(auth.challenges("n").iter().all(|c| !c.starts_with("Basic")));
    }

    #[test]
    fn challenges_order_and_format() {
        let auth = Authenticator::new("canmv", &[("user", "pass")], true);
        let nonce = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            auth.challenges(nonce),
            vec![
                format!("Digest realm=\"canmv\", nonce=\"{nonce}\", algorithm=SHA-256, qop=\"auth\""),
                format!("Digest realm=\"canmv\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\""),
                "Basic realm=\"canmv\"".to_string(),
            ]
        );
        // Header injection through the realm is impossible.
        let evil = Authenticator::new("a\r\nX-Evil: 1", &[], false);
        assert!(evil.challenges("n").iter().all(|c| !c.contains('\r') && !c.contains('\n')));
    }

    #[test]
    fn nonce_is_hex_of_the_bytes() {
        let bytes = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x0a, 0xa0, 0x55, 0xaa, 0x12, 0x34, 0x56, 0x78, 0x9a];
        assert_eq!(nonce_from(&bytes), "00017f80feff100aa055aa123456789a");
    }

    // Captured from real clients (Debian 12) against a fake 401 server on loopback that sent
    // `challenges("0123456789abcdef0123456789abcdef")` for realm "canmv", user "user", password "pass".
    const CAPTURED_NONCE: &str = "0123456789abcdef0123456789abcdef";
    // ffmpeg 5.1 (ffprobe): keeps the last Digest challenge (MD5), answers qop=auth.
    const FFMPEG_DIGEST: &str =
        "Digest username=\"user\", realm=\"canmv\", nonce=\"0123456789abcdef0123456789abcdef\", \
        uri=\"rtsp://127.0.0.1:18554/x\", response=\"05e82c7a3bff63902bde26d343f14c24\", algorithm=\"MD5\", \
        qop=\"auth\", cnonce=\"b016343485c953c3\", nc=00000001";
    // GStreamer 1.22 rtspsrc: MD5 without qop or algorithm (RFC 2069 form), whatever was offered.
    const GSTREAMER_DIGEST: &str =
        "Digest username=\"user\", realm=\"canmv\", nonce=\"0123456789abcdef0123456789abcdef\", \
        uri=\"rtsp://127.0.0.1:18556/x\", response=\"37e3a19c8219f90705d592c7c7daaa32\"";
    // Both, when only Basic was offered.
    const CLIENT_BASIC: &str = "Basic dXNlcjpwYXNz";
    // curl 7.88 (HTTP GET, same challenges): takes the first Digest challenge, SHA-256.
    const CURL_SHA256: &str = "Digest username=\"user\", realm=\"canmv\", nonce=\"0123456789abcdef0123456789abcdef\", \
        uri=\"/x\", cnonce=\"MzQ1Mjc3ZWQ1MTQ2YjBmM2VhMzUyN2UzZjllNmExZjU=\", nc=00000001, qop=auth, \
        response=\"4938e3046b502420ff6d02a87169ca7a1e7bd8cc7215e219d4f42f99a7c18cf4\", algorithm=SHA-256";

    #[test]
    fn ffmpeg_and_gstreamer_headers() {
        let auth = Authenticator::new("canmv", &[("user", "pass")], true);
        let wrong = Authenticator::new("canmv", &[("user", "pasS")], true);
        for header in [FFMPEG_DIGEST, GSTREAMER_DIGEST, CLIENT_BASIC] {
            assert!(auth.check("OPTIONS", header, CAPTURED_NONCE), "{header}");
            assert!(!wrong.check("OPTIONS", header, CAPTURED_NONCE), "{header}");
        }
        for header in [FFMPEG_DIGEST, GSTREAMER_DIGEST] {
            assert!(!auth.check("DESCRIBE", header, CAPTURED_NONCE), "{header}");
            assert!(!auth.check("OPTIONS", header, "0123456789abcdef0123456789abcdee"), "{header}");
        }
        assert!(auth.check("GET", CURL_SHA256, CAPTURED_NONCE));
        assert!(!wrong.check("GET", CURL_SHA256, CAPTURED_NONCE));
        let digest_only = Authenticator::new("canmv", &[("user", "pass")], false);
        assert!(digest_only.check("OPTIONS", FFMPEG_DIGEST, CAPTURED_NONCE));
        assert!(!digest_only.check("OPTIONS", CLIENT_BASIC, CAPTURED_NONCE));
    }

    #[test]
    fn user_names_for_users_are_checked() {
        for good in ["u", "Mufasa", "ü ser", "a@b.c"] {
            assert!(valid_user_name(good), "{good:?}");
        }
        for bad in ["", "a:b", ":", "a\nb", "a\tb", "\x7f", "\x00"] {
            assert!(!valid_user_name(bad), "{bad:?}");
        }
        assert!(Authenticator::for_users("r", &[("u", ""), ("v", "p:w")], false).is_some());
        assert!(Authenticator::for_users("r", &[], false).is_none());
        assert!(Authenticator::for_users("r", &[("u", "p"), ("a:b", "p")], true).is_none());
    }

    // The client side.

    fn pick(headers: &[&str]) -> Option<Challenge> {
        pick_challenge(headers.iter().copied())
    }

    #[test]
    fn client_answers_our_server_round_trip() {
        let server = Authenticator::new("canmv", &[("user", "p\u{e4}ss:\"w")], true);
        let nonce = "0123456789abcdef0123456789abcdef";
        let challenges = server.challenges(nonce);
        let all: Vec<&str> = challenges.iter().map(String::as_str).collect();
        // SHA-256 first, then MD5, then Basic; each answered and accepted.
        for (offered, want_digest) in [(&all[..], true), (&all[1..], true), (&all[2..], false)] {
            let c = pick(offered).expect("a challenge");
            assert_eq!(c.is_digest(), want_digest);
            assert_eq!(c.realm(), "canmv");
            assert!(!c.is_stale());
            for (method, uri, nc) in [("ANNOUNCE", "rtsp://h:8554/live?x=1", 1), ("SETUP", "rtsp://h/live/trackID=0", 2)] {
                let header = c.authorization("user", "p\u{e4}ss:\"w", method, uri, "0a4f113b", nc);
                assert!(server.check(method, &header, nonce), "{header}");
                assert!(!server.check("RECORD", &header, nonce) || !want_digest, "{header}");
                let wrong = c.authorization("user", "pass", method, uri, "0a4f113b", nc);
                assert!(!server.check(method, &wrong, nonce), "{wrong}");
            }
        }
        assert_eq!(pick(&all).map(|c| c.digest.map(|d| d.algorithm)), Some(Some(Algorithm::Sha256)));
        assert_eq!(pick(&all[1..]).map(|c| c.digest.map(|d| d.algorithm)), Some(Some(Algorithm::Md5)));
    }

    #[test]
    fn client_digest_variants_round_trip() {
        let server = Authenticator::new("r e,alm", &[("admin", "secret")], false);
        for params in [
            "",
            ", algorithm=MD5",
            ", algorithm=SHA-256",
            ", algorithm=\"SHA-256\"",
            ", algorithm=MD5-sess",
            ", algorithm=SHA-256-sess",
            ", qop=\"auth\"",
            ", qop=\"auth-int, auth\", algorithm=MD5-sess",
            ", qop=auth, algorithm=SHA-256-sess",
            ", algorithm=sha-256, qop=\"AUTH\", opaque=\"xyz\"",
        ] {
            let header = format!("Digest realm=\"r e,alm\", nonce=\"abc/def+==\"{params}");
            let c = pick(&[&header]).unwrap_or_else(|| panic!("{header}"));
            let answer = c.authorization("admin", "secret", "OPTIONS", "rtsp://10.0.0.1/cam", "c1", 7);
            assert!(server.check("OPTIONS", &answer, "abc/def+=="), "{header} -> {answer}");
            if params.contains("qop") {
                assert!(answer.contains(", qop=auth, nc=00000007, cnonce=\"c1\""), "{answer}");
            } else {
                assert!(!answer.contains("qop"), "{answer}");
            }
            assert_eq!(answer.contains("algorithm="), params.contains("algorithm"), "{answer}");
        }
    }

    #[test]
    fn client_rfc7616_example() {
        // RFC 7616 3.9.1: the two challenges as one response carries them (folded lines joined).
        let sha = format!(
            "Digest realm=\"{R7616_REALM}\", qop=\"auth, auth-int\", algorithm=SHA-256, \
             nonce=\"{R7616_NONCE}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        );
        let md5 = sha.replace("SHA-256", "MD5");
        for (headers, response, algorithm) in
            [(vec![&md5, &sha], R7616_SHA256, "SHA-256"), (vec![&md5], R7616_MD5, "MD5")]
        {
            let c = pick_challenge(headers.into_iter().map(String::as_str)).unwrap();
            let answer = c.authorization("Mufasa", "Circle of Life", "GET", "/dir/index.html", R7616_CNONCE, 1);
            assert_eq!(
                answer,
                format!(
                    "Digest username=\"Mufasa\", realm=\"{R7616_REALM}\", nonce=\"{R7616_NONCE}\", \
                     uri=\"/dir/index.html\", response=\"{response}\", algorithm={algorithm}, qop=auth, \
                     nc=00000001, cnonce=\"{R7616_CNONCE}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
                )
            );
            assert!(rfc7616_auth().check("GET", &answer, R7616_NONCE));
        }
    }

    #[test]
    fn client_rfc2617_example() {
        let c = pick(&["Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""])
        .unwrap();
        let answer = c.authorization("Mufasa", "Circle Of Life", "GET", "/dir/index.html", "0a4f113b", 1);
        assert!(answer.contains("response=\"6629fae49393a05397450978507c4ef1\""), "{answer}");
        assert!(!answer.contains("algorithm"), "not named by the server, not named back");
    }

    #[test]
    fn client_basic() {
        let c = pick(&["Basic realm=\"WallyWorld\""]).unwrap();
        assert!(!c.is_digest());
        assert_eq!(c.authorization("Aladdin", "open sesame", "ANNOUNCE", "rtsp://h/x", "", 1), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        // Basic without a realm still counts.
        assert_eq!(pick(&["Basic"]).map(|c| c.is_digest()), Some(false));
        assert_eq!(pick(&["basic  realm=x"]).map(|c| c.realm), Some("x".to_string()));
    }

    /// The answer to `header` as `server` would check it.
    fn answered(header: &[&str], realm: &str, nonce: &str) -> bool {
        let Some(c) = pick(header) else { return false };
        let answer = c.authorization("u", "p", "ANNOUNCE", "rtsp://srv:8554/live/cam", "f00d", 1);
        Authenticator::new(realm, &[("u", "p")], true).check("ANNOUNCE", &answer, nonce)
    }

    #[test]
    fn client_media_server_challenges() {
        // mediamtx (gortsplib): one header per challenge, Digest MD5 without qop, then Basic.
        let mediamtx = ["Digest realm=\"mediamtx\", nonce=\"6e6f6e6365313233\"", "Basic realm=\"mediamtx\""];
        assert!(pick(&mediamtx).unwrap().is_digest());
        assert!(answered(&mediamtx, "mediamtx", "6e6f6e6365313233"));
        // Newer gortsplib adds a SHA-256 challenge with a quoted algorithm.
        let mediamtx_sha = [
            "Digest realm=\"mediamtx\", nonce=\"n1\", algorithm=\"SHA-256\"",
            "Digest realm=\"mediamtx\", nonce=\"n1\"",
            "Basic realm=\"mediamtx\"",
        ];
        assert_eq!(pick(&mediamtx_sha).and_then(|c| c.digest).map(|d| d.algorithm), Some(Algorithm::Sha256));
        assert!(answered(&mediamtx_sha, "mediamtx", "n1"));
        // ZLMediaKit: no space after the comma.
        let zlm = ["Digest realm=\"ZLMediaKit\",nonce=\"59e8a7c3e1f44e12b6d4a4d5d9d0a1b2\""];
        assert!(answered(&zlm, "ZLMediaKit", "59e8a7c3e1f44e12b6d4a4d5d9d0a1b2"));
        // gst-rtsp-server: Basic and Digest as separate headers, Basic first.
        let gst = ["Basic realm=\"GStreamer RTSP Server\"", "Digest realm=\"GStreamer RTSP Server\", nonce=\"8Hk9c2Xz\""];
        assert!(pick(&gst).unwrap().is_digest());
        assert!(answered(&gst, "GStreamer RTSP Server", "8Hk9c2Xz"));
        // live555.
        let live555 = ["Digest realm=\"LIVE555 Streaming Media\", nonce=\"a3b1c2d4e5f60718293a4b5c6d7e8f90\""];
        assert!(answered(&live555, "LIVE555 Streaming Media", "a3b1c2d4e5f60718293a4b5c6d7e8f90"));
        // Several challenges in one header (RFC 7235 4.1), in either order.
        for one in [
            "Basic realm=\"m\", Digest realm=\"m\", nonce=\"n\", algorithm=MD5",
            "Digest realm=\"m\", nonce=\"n\", algorithm=MD5, Basic realm=\"m\"",
            "Digest realm=\"m\",nonce=\"n\",Basic realm=\"m\"",
            "Newauth realm=\"apps\", type=1, title=\"Login, Basic x\", Digest realm=\"m\", nonce=\"n\"",
            "Negotiate abc==, Digest realm=\"m\", nonce=\"n\"",
            ", ,Digest realm = \"m\" , nonce = n ,",
        ] {
            let c = pick(&[one]).unwrap_or_else(|| panic!("{one}"));
            assert!(c.is_digest(), "{one}");
            assert!(answered(&[one], "m", "n"), "{one}");
        }
        // A realm with a comma and a scheme name in quotes is one challenge.
        let c = pick(&["Digest realm=\"x, Basic y=\\\"z\\\"\", nonce=\"n\""]).unwrap();
        assert_eq!(c.realm(), "x, Basic y=\"z\"");
    }

    #[test]
    fn client_stale() {
        let c = pick(&["Digest realm=\"r\", nonce=\"n2\", stale=TRUE"]).unwrap();
        assert!(c.is_stale());
        assert!(!pick(&["Digest realm=\"r\", nonce=\"n2\", stale=false"]).unwrap().is_stale());
        assert!(!pick(&["Basic realm=\"r\""]).unwrap().is_stale());
    }

    #[test]
    fn client_skips_what_it_cannot_answer() {
        for none in [
            "",
            " , ",
            "Bearer realm=\"x\"",
            "Negotiate",
            "Negotiate abc==",
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256",
            "Digest realm=\"r\", nonce=\"n\", algorithm=",
            "Digest realm=\"r\"",
            "Digest nonce=\"n\"",
            "Digest",
            "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            "Digest realm=\"r\", nonce=\"n\", realm=\"s\"",
            "Digest realm=\"r\", nonce=\"n\", opaque=\"unterminated",
            "Digest realm=\"r\" nonce=\"n\"",
            "Basic realm=\"a\" junk",
            "=, =, \"",
            "\u{0}\u{ff}\u{1F600}",
        ] {
            assert_eq!(pick(&[none]), None, "{none:?}");
        }
        // An unusable challenge does not hide a usable one.
        let c = pick(&["Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256", "Basic realm=\"r\""]).unwrap();
        assert!(!c.is_digest());
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn client_parsing_never_panics() {
        let header = "Basic realm=\"m\", Digest realm=\"m\\\"x\", nonce=\"n\u{e9}\", qop=\"auth\", algorithm=SHA-256-sess, opaque=o";
        assert!(pick(&[header]).is_some());
        for (i, _) in header.char_indices() {
            for insert in ["\"", "\\", ",", "=", " ", "\u{e9}", "Digest "] {
                let mut s = String::from(&header[..i]);
                s.push_str(insert);
                s.push_str(&header[i..]);
                if let Some(c) = pick(&[&s, &header[..i], &header[i..]]) {
                    let a = c.authorization("u", "p", "M", "rtsp://h/x", "c", 1);
                    assert!(!a.contains('\r') && !a.contains('\n'));
                }
            }
        }
        // Huge input: bounded work, no panic.
        let long = "Digest realm=\"r\", ".repeat(10_000);
        assert_eq!(pick(&[&long]), None);
    }
}
