//! What the fuzz targets check the crate's output with, written from the RFCs
//! rather than from the crate: an RTP fixed-header reader (RFC 3550 5.1), a
//! naive Annex-B splitter (H.264 Annex B.2), a reader for the byte stream a
//! server writes to an RTSP connection (RFC 2326 section 7 and 10.12), and a
//! cursor over the fuzzer's input.

/// One RTP packet as the crate writes it: version 2, no padding, no
/// extension, no CSRCs (so the payload starts at byte 12).
#[derive(Debug)]
pub struct Rtp<'a> {
    pub marker: bool,
    pub pt: u8,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

pub fn read_rtp(packet: &[u8]) -> Result<Rtp<'_>, String> {
    let Some((header, payload)) = packet.split_first_chunk::<12>() else {
        return Err(format!("RTP packet of {} bytes, shorter than its header", packet.len()));
    };
    if header[0] != 0x80 {
        return Err(format!("RTP first byte {:#04x}: want V=2, P=0, X=0, CC=0", header[0]));
    }
    Ok(Rtp {
        marker: header[1] & 0x80 != 0,
        pt: header[1] & 0x7f,
        seq: u16::from_be_bytes([header[2], header[3]]),
        ts: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ssrc: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        payload,
    })
}

/// NAL units of an Annex-B stream, the slow and obvious way: cut at every
/// `00 00 01` (searching again after it), drop the zero bytes that end each
/// piece (`trailing_zero_8bits`, and the first zero of a 4-byte start code),
/// skip empty pieces.
pub fn reference_nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut cuts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            cuts.push(i);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([data.len()]) {
        let mut piece = &data[start..end];
        while let [rest @ .., 0] = piece {
            piece = rest;
        }
        if !piece.is_empty() {
            nals.push(piece);
        }
        start = (end + 3).min(data.len());
    }
    nals
}

/// One message a server writes on an RTSP connection.
#[derive(Debug)]
pub enum Message {
    Response { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    Interleaved { channel: u8, data: Vec<u8> },
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        match self {
            Message::Response { headers, .. } => {
                headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
            }
            Message::Interleaved { .. } => None,
        }
    }
}

/// Reads the message at the front of `buf`: `Ok(Some((message, length)))`,
/// `Ok(None)` when `buf` is a valid beginning of a message that has not
/// arrived whole, `Err` when it cannot be the start of one.
///
/// A response is `RTSP/1.0 <3 digits> <reason>` (or `HTTP/1.x`, from the
/// tunnel) CRLF, header lines
/// `<token>: <text>` CRLF, an empty line, then `Content-Length` bytes of body.
/// An interleaved frame is `$`, channel, 16-bit length, data.
pub fn read_message(buf: &[u8]) -> Result<Option<(Message, usize)>, String> {
    let Some(&first) = buf.first() else { return Ok(None) };
    if first == b'$' {
        let Some(&[_, channel, hi, lo]) = buf.first_chunk::<4>() else { return Ok(None) };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(data) = buf.get(4..4 + len) else { return Ok(None) };
        return Ok(Some((Message::Interleaved { channel, data: data.to_vec() }, 4 + len)));
    }
    // HTTP too: the tunnel's GET reply, and its refusals of what is not a tunnel.
    const VERSIONS: [&[u8]; 3] = [b"RTSP/1.0 ", b"HTTP/1.0 ", b"HTTP/1.1 "];
    if !VERSIONS.iter().any(|v| buf.starts_with(&v[..v.len().min(buf.len())])) {
        return Err(format!("output starts with {:?}, neither a response nor '$'", show(buf)));
    }
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &buf[pos..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            check_line_text(rest.strip_suffix(b"\r").unwrap_or(rest))?;
            return Ok(None);
        };
        let line = rest[..lf].strip_suffix(b"\r").ok_or_else(|| format!("bare LF after {:?}", show(&rest[..lf])))?;
        check_line_text(line)?;
        pos += lf + 1;
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let status_line = lines.first().ok_or("response without a status line")?;
    let status = read_status_line(status_line)?;
    let mut headers = Vec::new();
    for line in &lines[1..] {
        let colon = line.iter().position(|&b| b == b':').ok_or_else(|| format!("header line {:?}", show(line)))?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(format!("header name {:?}", show(name)));
        }
        let value = String::from_utf8_lossy(&line[colon + 1..]).trim().to_string();
        headers.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    let lengths: Vec<&str> =
        headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("Content-Length")).map(|(_, v)| v.as_str()).collect();
    let body_len = match lengths.as_slice() {
        [] => 0,
        [one] => one.parse::<usize>().map_err(|_| format!("Content-Length {one:?}"))?,
        _ => return Err("two Content-Length headers".into()),
    };
    let Some(body) = buf.get(pos..pos + body_len) else { return Ok(None) };
    Ok(Some((Message::Response { status, headers, body: body.to_vec() }, pos + body_len)))
}

/// All the whole messages of `stream`, and how many bytes are left over (a
/// valid start of one more message).
pub fn read_messages(stream: &[u8]) -> Result<(Vec<Message>, usize), String> {
    let mut messages = Vec::new();
    let mut pos = 0;
    while let Some((message, len)) = read_message(&stream[pos..])? {
        messages.push(message);
        pos += len;
    }
    Ok((messages, stream.len() - pos))
}

fn read_status_line(line: &[u8]) -> Result<u16, String> {
    let bad = || format!("status line {:?}", show(line));
    // HTTP too: the tunnel's GET reply, and its refusals of what is not a tunnel.
    let rest = [&b"RTSP/1.0 "[..], b"HTTP/1.0 ", b"HTTP/1.1 "]
        .iter()
        .find_map(|p| line.strip_prefix(*p))
        .ok_or_else(bad)?;
    let (code, reason) = rest.split_at_checked(3).ok_or_else(bad)?;
    if !code.iter().all(u8::is_ascii_digit) || !reason.starts_with(b" ") || reason.len() < 2 {
        return Err(bad());
    }
    let status: u16 = std::str::from_utf8(code).map_err(|_| bad())?.parse().map_err(|_| bad())?;
    if !(100..600).contains(&status) {
        return Err(bad());
    }
    Ok(status)
}

/// Header text: no control bytes but HTAB (CR and LF only end lines).
fn check_line_text(line: &[u8]) -> Result<(), String> {
    if line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!("control byte in line {:?}", show(line)));
    }
    Ok(())
}

fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned()
}

/// The fuzzer's input read front to back; past its end every read gives zeros.
pub struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { rest: data }
    }
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
    pub fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        head
    }
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.rest.len())
    }
}

/// The check shared by the H.264 and H.265 targets. The input is a knob byte
/// (packet size), a 16-bit first sequence number, then an Annex-B stream.
///
/// The splitter must agree with [`reference_nal_units`]. Each NAL unit is
/// packetized on its own with the marker on the last one, and then checked:
/// every packet is a well-formed RTP packet of the stream (payload type, SSRC,
/// timestamp, consecutive sequence numbers, marker only on the very last
/// packet), no larger than 12 + max(`max_payload`, `smallest`), and
/// `depacketize` (the target's receiver) rebuilds the NAL unit from its packets.
/// A NAL unit of fewer than `min_nal` bytes must give no packet at all.
pub fn check_annexb(
    data: &[u8],
    smallest: usize,
    min_nal: usize,
    packetize: fn(&mut canmv_rtsp::rtp::RtpStream, &[u8], u32, bool, &mut canmv_rtsp::rtp::PacketBuf),
    depacketize: fn(&[Rtp<'_>]) -> Result<Vec<u8>, String>,
) {
    use canmv_rtsp::rtp::{annexb, PacketBuf, RtpStream};
    const PT: u8 = 96;
    const SSRC: u32 = 0x1234_5678;
    let mut input = Cursor::new(data);
    let knob = input.byte();
    // Mostly tiny packets (many fragments, and sizes under the smallest FU); sometimes the default.
    let max_payload = if knob & 0x80 != 0 { 1400 } else { usize::from(knob & 0x3f) };
    let effective = max_payload.max(smallest);
    let first_seq = input.u16();
    let ts = u32::from(knob).wrapping_mul(0x0101_0101);
    let bytes = input.rest();

    let nals: Vec<&[u8]> = annexb::nal_units(bytes).collect();
    // What a producer call is refused for (no NAL unit) must agree with the split.
    assert_eq!(annexb::has_nal_unit(bytes), !nals.is_empty(), "has_nal_unit disagrees with nal_units");
    let expected = reference_nal_units(bytes);
    if nals != expected {
        let at = nals.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(nals.len().min(expected.len()));
        let offset = |n: Option<&&[u8]>| n.map(|n| n.as_ptr() as usize - bytes.as_ptr() as usize);
        let len = |n: Option<&&[u8]>| n.map(|n| n.len());
        panic!(
            "nal_units disagrees with a naive start-code search: {} NAL units, not {}; first difference at \
             unit {at}: (offset, length) {:?}, {:?} expected",
            nals.len(),
            expected.len(),
            offset(nals.get(at)).zip(len(nals.get(at))),
            offset(expected.get(at)).zip(len(expected.get(at))),
        );
    }

    let mut stream = RtpStream::new(PT, SSRC, first_seq);
    stream.max_payload = max_payload;
    let mut seq = first_seq;
    for (i, nal) in nals.iter().enumerate() {
        let last_nal = i + 1 == nals.len();
        let mut out = PacketBuf::new();
        packetize(&mut stream, nal, ts, last_nal, &mut out);
        // Each packet behind its interleaved header (`$`, channel, length), back to back.
        let mut next_start = 0u32;
        for p in &out.packets {
            let header = next_start as usize;
            assert_eq!(p.start as usize, header + 4, "packets are not back to back behind their headers");
            let [hi, lo] = (p.len as u16).to_be_bytes();
            assert_eq!(out.data[header..header + 4], [b'$', 0, hi, lo], "interleaved header of a packet");
            next_start = p.start + p.len;
        }
        assert_eq!(next_start as usize, out.data.len(), "bytes in the buffer outside any packet");
        if nal.len() < min_nal {
            assert!(out.is_empty(), "{} packets for a {}-byte NAL unit", out.len(), nal.len());
            continue;
        }
        assert!(!out.is_empty(), "no packet for a {}-byte NAL unit", nal.len());
        let mut packets = Vec::new();
        for k in 0..out.len() {
            let bytes = out.packet(k);
            assert!(
                bytes.len() <= 12 + effective,
                "packet of {} bytes, max_payload {max_payload} (at least {smallest})",
                bytes.len()
            );
            let rtp = read_rtp(bytes).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((rtp.pt, rtp.ssrc, rtp.ts), (PT, SSRC, ts));
            assert_eq!(rtp.seq, seq, "sequence numbers not consecutive");
            seq = seq.wrapping_add(1);
            assert_eq!(rtp.marker, last_nal && k + 1 == out.len(), "marker on packet {k} of NAL unit {i}");
            packets.push(rtp);
        }
        // RFC 6184 5.6 / RFC 7798 4.4.1: a NAL unit that fits goes alone, unchanged.
        if nal.len() <= effective {
            assert_eq!(packets.len(), 1, "a {}-byte NAL unit that fits in {effective} was fragmented", nal.len());
            assert_eq!(packets[0].payload, *nal, "single NAL unit packet is not the NAL unit");
        } else {
            let rebuilt = depacketize(&packets).unwrap_or_else(|e| panic!("NAL unit {i}: {e}"));
            assert_eq!(rebuilt, *nal, "fragments do not rebuild NAL unit {i}");
        }
    }
    assert_eq!(stream.seq, seq, "the stream's next sequence number");
}

/// Start/End bits of a run of fragmentation units: S on the first only, E on the last only.
pub fn check_fu_flags(index: usize, count: usize, start: bool, end: bool) -> Result<(), String> {
    if start != (index == 0) || end != (index + 1 == count) {
        return Err(format!("fragment {index} of {count}: S={start} E={end}"));
    }
    Ok(())
}
