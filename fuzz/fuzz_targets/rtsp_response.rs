//! The pusher's parser of what a server sends (`parse_server_input`:
//! responses, the server's own requests, interleaved frames) on arbitrary
//! bytes, read whole and fed in pieces cut at points the input picks.
//!
//! Input: a knob byte (bit 0: small limits), a count of cuts (0..=7) and that
//! many 16-bit cut points, then the stream.
//!
//! Checked: it never panics; what it says it consumed lies within the buffer
//! and is not empty; the messages read from the whole stream, one after the
//! other, are the same (and end the same way: need more, or the same error)
//! as those read when the stream arrives in pieces and is parsed after each
//! piece as the pusher does (append, parse while whole messages are there);
//! a message parses the same from exactly its consumed bytes and one byte
//! fewer is "need more"; an interleaved frame's payload is the last `len`
//! consumed bytes, behind its `$`, channel and length.
#![no_main]

use canmv_rtsp::rtsp::response::{parse_server_input, ServerInput};
use canmv_rtsp::rtsp::{Limits, ParseError};
use canmv_rtsp_fuzz::Cursor;
use libfuzzer_sys::fuzz_target;

/// Whole messages read before the parser stopped, and how it stopped.
#[derive(Debug, PartialEq)]
struct Reading {
    messages: Vec<String>,
    end: String,
}

fn describe(input: &ServerInput) -> String {
    format!("{input:?}")
}

/// Reads `buf` message by message from the start, checking each message alone.
fn read_all(buf: &[u8], limits: &Limits) -> Reading {
    let mut messages = Vec::new();
    let mut pos = 0;
    loop {
        match parse_server_input(&buf[pos..], limits) {
            Ok(Some((input, used))) => {
                let rest = &buf[pos..];
                assert!(used > 0 && used <= rest.len(), "consumed {used} of {}", rest.len());
                check_alone(&input, &rest[..used], limits);
                messages.push(describe(&input));
                pos += used;
            }
            Ok(None) => return Reading { messages, end: "need more".into() },
            Err(e) => return Reading { messages, end: error_kind(&e) },
        }
    }
}

/// An error, whatever it is: where a stream is cut may change which rule
/// refuses it first (a head over the limit is TooLarge whole, but its first
/// bytes alone may already be Malformed); either ends the connection.
fn error_kind(_: &ParseError) -> String {
    "error".into()
}

/// A message parses the same from exactly its bytes; one byte fewer is "need more".
fn check_alone(input: &ServerInput, message: &[u8], limits: &Limits) {
    let again = parse_server_input(message, limits).expect("its own bytes parse").expect("and are whole");
    assert_eq!(again.1, message.len(), "the same message is a different length alone");
    assert_eq!(describe(&again.0), describe(input));
    assert!(
        matches!(parse_server_input(&message[..message.len() - 1], limits), Ok(None)),
        "one byte short of a whole message must be 'need more'"
    );
    if let ServerInput::Interleaved { channel, len } = *input {
        let leading = message.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        assert_eq!(message[leading], b'$');
        assert_eq!(message[leading + 1], channel);
        assert_eq!(usize::from(u16::from_be_bytes([message[leading + 2], message[leading + 3]])), len);
        assert_eq!(message.len(), leading + 4 + len, "the payload is the last len bytes");
    }
}

/// The pusher's way: each piece is appended to what is left, then parsed
/// while whole messages are there; an error ends the connection.
fn read_in_pieces(stream: &[u8], cuts: &[usize], limits: &Limits) -> Reading {
    let mut messages = Vec::new();
    let mut buffer: Vec<u8> = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain([&stream.len()]) {
        buffer.extend_from_slice(&stream[from..to]);
        from = to;
        loop {
            match parse_server_input(&buffer, limits) {
                Ok(Some((input, used))) => {
                    assert!(used > 0 && used <= buffer.len(), "consumed {used} of {}", buffer.len());
                    messages.push(describe(&input));
                    buffer.drain(..used);
                }
                Ok(None) => break,
                Err(e) => return Reading { messages, end: error_kind(&e) },
            }
        }
    }
    Reading { messages, end: "need more".into() }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor::new(data);
    let knobs = input.byte();
    let limits = if knobs & 1 == 0 {
        Limits::default()
    } else {
        Limits { max_head: 64 + usize::from(input.byte()) * 4, max_body: usize::from(input.byte()) * 8, max_headers: 1 + usize::from(input.byte() % 16) }
    };
    let count = usize::from(input.byte() % 8);
    let mut cuts: Vec<usize> = (0..count).map(|_| usize::from(input.u16())).collect();
    let stream = input.rest();
    for cut in &mut cuts {
        *cut %= stream.len() + 1;
    }
    cuts.sort_unstable();
    let whole = read_all(stream, &limits);
    let pieces = read_in_pieces(stream, &cuts, &limits);
    assert_eq!(whole, pieces, "cut at {cuts:?}");
});
