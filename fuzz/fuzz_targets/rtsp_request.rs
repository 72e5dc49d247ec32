//! The incremental RTSP request parser on arbitrary bytes.
//!
//! Checked: it never panics; what it says it consumed lies within the input and
//! is not empty; a request is parsed the same from exactly its consumed bytes,
//! and one byte fewer is "need more" (incremental parsing agrees with itself);
//! written out again as a plain RTSP request it reads back the same method, URI,
//! headers and body; an interleaved frame is the `$`, channel, length and data
//! at its offset. The Transport header and the URI of a request go through
//! `parse_transport` and `parse_target`, which must not panic either and give
//! back only what the text held. An `Authorization` header never lets in a
//! user that does not exist, nor Basic where only Digest is allowed.
#![no_main]

use canmv_rtsp::rtsp::auth::Authenticator;
use canmv_rtsp::rtsp::transport::parse_transport;
use canmv_rtsp::rtsp::url::parse_target;
use canmv_rtsp::rtsp::{parse_input, Input, Limits, Method, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(Some((input, consumed))) = parse_input(data, &limits) else { return };
    assert!(consumed > 0 && consumed <= data.len(), "consumed {consumed} of {}", data.len());
    let message = &data[..consumed];
    let again = parse_input(message, &limits).expect("its own consumed bytes parse").expect("and are whole");
    assert_eq!(again.1, consumed, "the same message is a different length alone");
    assert!(
        matches!(parse_input(&message[..consumed - 1], &limits), Ok(None)),
        "one byte short of a whole message must be 'need more'"
    );
    let leading = data.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    match (input, again.0) {
        (Input::Request(request), Input::Request(same)) => {
            assert_same(&request, &same);
            check_rewritten(&request);
            check_headers(&request);
        }
        (Input::Interleaved { channel, data: payload }, Input::Interleaved { channel: c2, data: p2 }) => {
            assert_eq!(data[leading], b'$');
            assert_eq!(channel, data[leading + 1]);
            let len = usize::from(u16::from_be_bytes([data[leading + 2], data[leading + 3]]));
            assert_eq!(payload.len(), len);
            assert_eq!(payload, &data[leading + 4..leading + 4 + len]);
            assert_eq!(consumed, leading + 4 + len);
            assert_eq!((channel, payload), (c2, p2));
        }
        _ => panic!("a request and an interleaved frame from the same bytes"),
    }
});

fn assert_same(a: &Request, b: &Request) {
    assert_eq!(a.method, b.method);
    assert_eq!(a.uri, b.uri);
    assert_eq!(a.headers, b.headers);
    assert_eq!(a.body, b.body);
}

fn method_name(m: &Method) -> &str {
    match m {
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

/// Writes the request as a client would (one header per line, CRLF) and reads it back.
fn check_rewritten(request: &Request) {
    assert!(!request.uri.is_empty() && !request.uri.contains([' ', '\t', '\r', '\n']), "URI {:?}", request.uri);
    let mut text = format!("{} {} RTSP/1.0\r\n", method_name(&request.method), request.uri).into_bytes();
    for (name, value) in &request.headers {
        assert!(!name.is_empty() && !name.contains([' ', ':', '\r', '\n']), "header name {name:?}");
        assert!(!value.contains(['\r', '\n']) && value.trim_matches([' ', '\t']) == value, "header value {value:?}");
        text.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    text.extend_from_slice(b"\r\n");
    text.extend_from_slice(&request.body);
    // Invalid UTF-8 was replaced by U+FFFD (3 bytes) and bare LFs became CRLF: the head may grow.
    let roomy = Limits { max_head: usize::MAX / 2, ..Limits::default() };
    let (input, consumed) = parse_input(&text, &roomy).expect("rewritten request parses").expect("and is whole");
    assert_eq!(consumed, text.len());
    let Input::Request(reread) = input else { panic!("rewritten request read as an interleaved frame") };
    assert_same(request, &reread);
}

fn check_headers(request: &Request) {
    if let Some(value) = request.header("Transport") {
        if let Ok(specs) = parse_transport(value) {
            assert!(!specs.is_empty(), "Ok with no transport");
            for spec in specs {
                if let Some((rtp, rtcp)) = spec.client_port {
                    assert!(rtp != 0 && rtcp != 0, "client_port {rtp}-{rtcp}: port 0 cannot be sent to");
                }
                if let Some(dest) = &spec.destination {
                    assert!(value.contains(dest.as_str()), "destination {dest:?} not in {value:?}");
                }
            }
        }
    }
    if let Some(value) = request.header("Authorization") {
        check_authorization(request, value);
    }
    if let Some(target) = parse_target(&request.uri) {
        assert!(request.uri.contains(target.path), "path {:?} not in {:?}", target.path, request.uri);
        assert!(!target.path.starts_with('/') && !target.path.ends_with('/'), "path {:?}", target.path);
    }
}

/// Whatever the header says: no user list lets nobody in, an empty user name
/// is never a user, and Basic is refused when it is not allowed.
fn check_authorization(request: &Request, value: &str) {
    const NONCE: &str = "0a1b2c3d";
    let method = method_name(&request.method);
    let nobody = Authenticator::new("canmv", &[], true);
    assert!(!nobody.check(method, value, NONCE), "authorised with no user: {value:?}");
    let empty_name = Authenticator::new("canmv", &[("", ""), ("", "x")], true);
    assert!(!empty_name.check(method, value, NONCE), "authorised as a user with no name: {value:?}");
    let digest_only = Authenticator::new("canmv", &[("user", "pass")], false);
    let authorised = digest_only.check(method, value, NONCE);
    let scheme = value.split_ascii_whitespace().next().unwrap_or("");
    assert!(!(authorised && scheme.eq_ignore_ascii_case("Basic")), "Basic accepted with Basic off: {value:?}");
}
