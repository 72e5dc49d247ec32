//! H.265 over RTP (RFC 7798): single NAL unit packets and fragmentation units.
use super::packet::{PacketBuf, RtpStream, PACKET_OVERHEAD};

pub const NAL_VPS: u8 = 32;
pub const NAL_SPS: u8 = 33;
pub const NAL_PPS: u8 = 34;
pub const NAL_PREFIX_SEI: u8 = 39;

/// `nal_unit_type`: bits 1..6 of the first header byte; 0 for input shorter than the 2-byte header.
pub fn nal_type(nal: &[u8]) -> u8 {
    match nal {
        [first, _, ..] => (first >> 1) & 0x3f,
        _ => 0,
    }
}

/// Coded slice segments (types 0..=31) carry the picture.
pub fn is_vcl(nal: &[u8]) -> bool {
    nal.len() >= NAL_HEADER_LEN && nal_type(nal) <= 31
}

/// IRAP pictures (types 16..=23: BLA, IDR, CRA): a decoder can start here.
pub fn is_irap(nal: &[u8]) -> bool {
    matches!(nal_type(nal), 16..=23)
}

/// True when a VCL NAL unit starts a new picture: `first_slice_segment_in_pic_flag`
/// (the first bit after the 2-byte NAL header) is 1. False for short input.
pub fn starts_picture(nal: &[u8]) -> bool {
    nal.get(NAL_HEADER_LEN).is_some_and(|b| b & 0x80 != 0)
}

/// Appends the RTP packets for one NAL unit: a single NAL unit packet when it
/// fits in `stream.max_payload`, else fragmentation units (RFC 7798 4.4.3:
/// PayloadHdr with type 49 and the original LayerId/TID, FU header S|E|FuType),
/// each payload at most `max_payload` bytes. `marker` on the last packet
/// written when set. All packets get timestamp `ts`. Nothing for a NAL unit
/// shorter than its 2-byte header.
///
/// A `max_payload` below 4 is treated as 4, the smallest FU (PayloadHdr, FU
/// header and one byte).
pub fn packetize_nal(stream: &mut RtpStream, nal: &[u8], ts: u32, marker: bool, out: &mut PacketBuf) {
    let [header0, header1, body @ ..] = nal else {
        return;
    };
    let max_payload = stream.max_payload.max(FU_OVERHEAD + 1);
    if nal.len() <= max_payload {
        stream.write_packet(out, ts, marker, &[nal]);
        return;
    }
    // The NAL header is not sent: the receiver rebuilds it from the
    // PayloadHdr (F, LayerId, TID) and the FU header (type).
    let fragment_len = max_payload - FU_OVERHEAD;
    let fragments = body.len().div_ceil(fragment_len);
    out.data.reserve(body.len().saturating_add(fragments.saturating_mul(FU_OVERHEAD + PACKET_OVERHEAD)));
    out.packets.reserve(fragments);
    // Type sits in bits 1..6 of the first byte; F and the top LayerId bit are kept.
    let payload_hdr = [(header0 & 0x81) | (NAL_FU << 1), *header1];
    let fu_type = (header0 >> 1) & 0x3f;
    let mut chunks = body.chunks(fragment_len).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let mut fu_header = fu_type;
        if first {
            fu_header |= FU_START;
        }
        if last {
            fu_header |= FU_END;
        }
        stream.write_packet(out, ts, marker && last, &[&payload_hdr, &[fu_header], chunk]);
        first = false;
    }
}

const NAL_HEADER_LEN: usize = 2;
/// Payload type of a fragmentation unit (RFC 7798 section 4.4.3).
const NAL_FU: u8 = 49;
const FU_START: u8 = 0x80;
const FU_END: u8 = 0x40;
/// PayloadHdr and FU header.
const FU_OVERHEAD: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::annexb::nal_units;
    use crate::rtp::test_support::{read_packets, xorshift_bytes};
    use rtp_rs::RtpReader;

    /// The fields of an RFC 7798 section 1.1.4 NAL unit header.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct NalHeader {
        forbidden_zero: bool,
        nal_type: u8,
        layer_id: u8,
        tid: u8,
    }

    fn parse_header(b0: u8, b1: u8) -> NalHeader {
        NalHeader {
            forbidden_zero: b0 & 0x80 != 0,
            nal_type: (b0 >> 1) & 0x3f,
            layer_id: ((b0 & 0x01) << 5) | (b1 >> 3),
            tid: b1 & 0x07,
        }
    }

    fn header_bytes(h: NalHeader) -> [u8; 2] {
        [(u8::from(h.forbidden_zero) << 7) | (h.nal_type << 1) | (h.layer_id >> 5), ((h.layer_id & 0x1f) << 3) | h.tid]
    }

    /// Receiver side of RFC 7798 without DONL (sprop-max-don-diff = 0):
    /// single NAL unit packets (section 4.4.1, the payload is the NAL unit)
    /// and fragmentation units (section 4.4.3, PayloadHdr type 49, FU header
    /// S|E|FuType, the NAL unit header rebuilt from PayloadHdr's F, LayerId,
    /// TID and the FuType). Rejects what a receiver would have to drop: TID 0,
    /// aggregation/PACI packets (never sent here), an FU with S and E both set
    /// or an empty fragment, a fragment with no start, a start before the
    /// previous end, a gap in sequence numbers, and a timestamp or header
    /// change inside one fragmented NAL unit.
    fn depacketize(out: &PacketBuf) -> Result<Vec<Vec<u8>>, String> {
        let mut units = Vec::new();
        // (NAL unit so far, RTP timestamp, sequence number expected next)
        let mut pending: Option<(Vec<u8>, u32, u16)> = None;
        for i in 0..out.len() {
            let rtp = RtpReader::new(out.packet(i)).map_err(|e| format!("packet {i}: {e:?}"))?;
            let payload = rtp.payload();
            let seq = u16::from(rtp.sequence_number());
            let (b0, b1) = match payload {
                [b0, b1, ..] => (*b0, *b1),
                _ => return Err(format!("packet {i}: payload shorter than PayloadHdr")),
            };
            let payload_hdr = parse_header(b0, b1);
            if payload_hdr.tid == 0 {
                return Err(format!("packet {i}: TID 0"));
            }
            match payload_hdr.nal_type {
                0..=47 => {
                    if pending.is_some() {
                        return Err(format!("packet {i}: single NAL inside a fragmented one"));
                    }
                    units.push(payload.to_vec());
                }
                49 => {
                    let (fu_header, fragment) = match payload {
                        [_, _, fu, rest @ ..] if !rest.is_empty() => (*fu, rest),
                        _ => return Err(format!("packet {i}: FU without fragment")),
                    };
                    let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
                    let fu_type = fu_header & 0x3f;
                    if start && end {
                        return Err(format!("packet {i}: S and E both set"));
                    }
                    if matches!(fu_type, 48..=50) {
                        return Err(format!("packet {i}: FuType {fu_type}"));
                    }
                    let original = NalHeader { nal_type: fu_type, ..payload_hdr };
                    if start {
                        if pending.is_some() {
                            return Err(format!("packet {i}: start before previous end"));
                        }
                        let mut nal = header_bytes(original).to_vec();
                        nal.extend_from_slice(fragment);
                        pending = Some((nal, rtp.timestamp(), seq.wrapping_add(1)));
                    } else {
                        let Some((mut nal, ts, expected_seq)) = pending.take() else {
                            return Err(format!("packet {i}: fragment without start"));
                        };
                        if seq != expected_seq || rtp.timestamp() != ts {
                            return Err(format!("packet {i}: out of sequence fragment"));
                        }
                        if parse_header(nal[0], nal[1]) != original {
                            return Err(format!("packet {i}: fragment of another NAL unit"));
                        }
                        nal.extend_from_slice(fragment);
                        if end {
                            units.push(nal);
                        } else {
                            pending = Some((nal, ts, seq.wrapping_add(1)));
                        }
                    }
                }
                other => return Err(format!("packet {i}: unexpected payload type {other}")),
            }
        }
        match pending {
            Some(_) => Err("last NAL unit never ended".into()),
            None => Ok(units),
        }
    }

    /// A NAL unit of `len` random bytes with a valid header: F=0, a slice
    /// type, LayerId and TID (1..=7) drawn from the seed.
    fn random_nal(seed: u64, len: usize) -> Vec<u8> {
        let mut nal = xorshift_bytes(seed, len);
        let header = header_bytes(NalHeader {
            forbidden_zero: false,
            nal_type: [1, 19, 21, 0][(seed % 4) as usize],
            layer_id: (seed / 4 % 64) as u8,
            tid: 1 + (seed / 256 % 7) as u8,
        });
        for (byte, h) in nal.iter_mut().zip(header) {
            *byte = h;
        }
        nal
    }

    #[test]
    fn header_fields_of_real_nal_units() {
        let cases: [([u8; 2], u8, bool, bool); 7] = [
            ([0x40, 0x01], NAL_VPS, false, false),
            ([0x42, 0x01], NAL_SPS, false, false),
            ([0x44, 0x01], NAL_PPS, false, false),
            ([0x4e, 0x01], NAL_PREFIX_SEI, false, false),
            ([0x26, 0x01], 19, true, true), // IDR_W_RADL
            ([0x02, 0x01], 1, true, false), // TRAIL_R
            ([0x2a, 0x01], 21, true, true), // CRA_NUT
        ];
        for (header, ty, vcl, irap) in cases {
            assert_eq!(nal_type(&header), ty, "{header:02x?}");
            assert_eq!(is_vcl(&header), vcl, "{header:02x?}");
            assert_eq!(is_irap(&header), irap, "{header:02x?}");
        }
        // AUD (type 35) and BLA_W_LP (type 16), the first IRAP type; RSV_IRAP_23 the last.
        assert_eq!(nal_type(&[0x46, 0x01, 0x50]), 35, "AUD");
        assert!(is_irap(&[0x20, 0x01]) && is_irap(&[0x2e, 0x01]));
        assert!(!is_irap(&[0x1e, 0x01]) && !is_irap(&[0x30, 0x01]));
        assert!(is_vcl(&[0x3e, 0x01]) && !is_vcl(&[0x40, 0x01]));
    }

    #[test]
    fn short_input_has_no_type() {
        for nal in [&[][..], &[0x26]] {
            assert_eq!(nal_type(nal), 0);
            assert!(!is_vcl(nal));
            assert!(!is_irap(nal));
            assert!(!starts_picture(nal));
        }
    }

    #[test]
    fn starts_picture_reads_first_slice_segment_flag() {
        assert!(starts_picture(&[0x26, 0x01, 0xaf, 0x08]));
        assert!(!starts_picture(&[0x02, 0x01, 0x2f, 0x08]));
        assert!(starts_picture(&[0x02, 0x01, 0x80]));
        assert!(!starts_picture(&[0x26, 0x01]));
    }

    #[test]
    fn short_nal_unit_writes_nothing() {
        let mut stream = RtpStream::new(96, 1, 42);
        let mut out = PacketBuf::new();
        packetize_nal(&mut stream, &[], 0, true, &mut out);
        packetize_nal(&mut stream, &[0x26], 0, true, &mut out);
        assert!(out.is_empty());
        assert!(out.data.is_empty());
        assert_eq!(stream.seq, 42);
    }

    #[test]
    fn round_trip_through_an_rfc7798_receiver() {
        for max_payload in [100usize, 1400] {
            let sizes = [2, 3, max_payload - 1, max_payload, max_payload + 1, 3 * max_payload, 200 * 1024];
            for (n, &size) in sizes.iter().enumerate() {
                for marker in [false, true] {
                    let nal = random_nal(n as u64 * 977 + max_payload as u64 + u64::from(marker), size);
                    let mut stream = RtpStream::new(98, 0xfeed_f00d, 65530);
                    stream.max_payload = max_payload;
                    let mut out = PacketBuf::new();
                    packetize_nal(&mut stream, &nal, 0x8000_0001, marker, &mut out);

                    let got = depacketize(&out).unwrap();
                    assert_eq!(got, std::slice::from_ref(&nal), "size {size}");
                    assert_eq!(parse_header(got[0][0], got[0][1]), parse_header(nal[0], nal[1]));
                    let h = read_packets(&out, 98, 0xfeed_f00d);
                    let count = out.len();
                    assert_eq!(count > 1, size > max_payload, "size {size}");
                    for (k, seq) in h.seqs.iter().enumerate() {
                        assert_eq!(*seq, 65530u16.wrapping_add(k as u16));
                    }
                    assert_eq!(stream.seq, 65530u16.wrapping_add(count as u16));
                    assert!(h.timestamps.iter().all(|&ts| ts == 0x8000_0001));
                    assert!(h.payloads.iter().all(|p| p.len() <= max_payload));
                    for (k, m) in h.markers.iter().enumerate() {
                        assert_eq!(*m, marker && k == count - 1, "size {size} packet {k}");
                    }
                    if count > 1 {
                        // Only the first FU starts and only the last one ends.
                        for (k, p) in h.payloads.iter().enumerate() {
                            assert_eq!((p[2] & 0x80 != 0, p[2] & 0x40 != 0), (k == 0, k == count - 1), "packet {k}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn fragments_carry_layer_id_tid_and_type() {
        // IDR_W_RADL with LayerId 0, TID 1: `26 01`; 40 body bytes in FUs of 17.
        let mut nal = xorshift_bytes(9, 42);
        nal[..2].copy_from_slice(&[0x26, 0x01]);
        let mut stream = RtpStream::new(96, 1, 0);
        stream.max_payload = 20;
        let mut out = PacketBuf::new();
        packetize_nal(&mut stream, &nal, 0, true, &mut out);
        let h = read_packets(&out, 96, 1);
        let fu: Vec<[u8; 3]> = h.payloads.iter().map(|p| [p[0], p[1], p[2]]).collect();
        // PayloadHdr type 49 (0x62 in the first byte), FU header S|E|19.
        assert_eq!(fu, [[0x62, 0x01, 0x93], [0x62, 0x01, 0x13], [0x62, 0x01, 0x53]]);
        assert_eq!(h.payloads.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 9]);
        assert_eq!(depacketize(&out).unwrap(), [nal]);

        // TRAIL_R with LayerId 33 (top bit in byte 0) and TID 3.
        let mut nal = xorshift_bytes(10, 30);
        nal[..2].copy_from_slice(&[0x03, 0x0b]);
        let mut out = PacketBuf::new();
        packetize_nal(&mut stream, &nal, 0, false, &mut out);
        let h = read_packets(&out, 96, 1);
        assert_eq!(&h.payloads[0][..3], [0x63, 0x0b, 0x81]);
        assert_eq!(&h.payloads[1][..3], [0x63, 0x0b, 0x41]);
        assert_eq!(h.markers, [false, false]);
        let got = depacketize(&out).unwrap();
        assert_eq!(
            parse_header(got[0][0], got[0][1]),
            NalHeader { forbidden_zero: false, nal_type: 1, layer_id: 33, tid: 3 }
        );
        assert_eq!(got, [nal]);
    }

    #[test]
    fn tiny_max_payload_still_round_trips() {
        for max_payload in 0..=5 {
            for size in [2usize, 3, 4, 5, 6, 17] {
                let nal = random_nal(size as u64, size);
                let mut stream = RtpStream::new(96, 1, 0);
                stream.max_payload = max_payload;
                let mut out = PacketBuf::new();
                packetize_nal(&mut stream, &nal, 0, true, &mut out);
                assert_eq!(depacketize(&out).unwrap(), [nal], "max {max_payload} size {size}");
                let h = read_packets(&out, 96, 1);
                assert!(h.payloads.iter().all(|p| p.len() <= max_payload.max(4)));
                assert_eq!(h.markers.iter().filter(|&&m| m).count(), 1);
            }
        }
    }

    #[test]
    fn random_access_units_round_trip() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..200 {
            let max_payload = 4 + (next() % 1500) as usize;
            let nals: Vec<Vec<u8>> =
                (0..1 + next() % 5).map(|_| random_nal(next(), 2 + (next() % 5000) as usize)).collect();
            let mut stream = RtpStream::new(96, 7, next() as u16);
            stream.max_payload = max_payload;
            let first_seq = stream.seq;
            let mut out = PacketBuf::new();
            for (k, nal) in nals.iter().enumerate() {
                packetize_nal(&mut stream, nal, round, k == nals.len() - 1, &mut out);
            }
            assert_eq!(depacketize(&out).unwrap(), nals, "round {round}");
            let h = read_packets(&out, 96, 7);
            assert!(h.payloads.iter().all(|p| p.len() <= max_payload));
            assert_eq!(h.markers.iter().filter(|&&m| m).count(), 1);
            assert_eq!(h.markers.last(), Some(&true));
            for (k, seq) in h.seqs.iter().enumerate() {
                assert_eq!(*seq, first_seq.wrapping_add(k as u16));
            }
        }
    }

    #[test]
    fn access_unit_from_annex_b_to_rtp() {
        // Parameter sets as x265 writes them (headers 40 01, 42 01, 44 01).
        let vps = [0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90];
        let sps = [0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x5d, 0xa0];
        let pps = [0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];
        let mut idr = random_nal(0, 5000);
        idr[..3].copy_from_slice(&[0x26, 0x01, 0xaf]);
        // Annex-B never carries 00 00 0x inside a NAL unit (emulation prevention).
        for i in 2..idr.len() {
            if idr[i - 2] == 0 && idr[i - 1] == 0 && idr[i] <= 3 {
                idr[i] = 0x55;
            }
        }
        let mut annexb = Vec::new();
        for nal in [&vps[..], &sps, &pps, &idr] {
            annexb.extend_from_slice(&[0, 0, 0, 1]);
            annexb.extend_from_slice(nal);
        }
        let nals: Vec<&[u8]> = nal_units(&annexb).collect();
        assert_eq!(nals, [&vps[..], &sps[..], &pps[..], &idr[..]]);
        assert_eq!(nals.iter().map(|n| nal_type(n)).collect::<Vec<_>>(), [NAL_VPS, NAL_SPS, NAL_PPS, 19]);
        assert!(is_vcl(nals[3]) && is_irap(nals[3]) && starts_picture(nals[3]));

        let mut stream = RtpStream::new(96, 0xabcd, 65535);
        let mut out = PacketBuf::new();
        for (k, nal) in nals.iter().enumerate() {
            packetize_nal(&mut stream, nal, 3000, k == nals.len() - 1, &mut out);
        }
        // VPS, SPS, PPS, then 4998 body bytes in FUs of at most 1397.
        assert_eq!(out.len(), 3 + 4);
        let h = read_packets(&out, 96, 0xabcd);
        assert_eq!(h.seqs, [65535, 0, 1, 2, 3, 4, 5]);
        assert_eq!(h.markers, [false, false, false, false, false, false, true]);
        assert_eq!(h.payloads[0], vps);
        assert_eq!(depacketize(&out).unwrap(), [vps.to_vec(), sps.to_vec(), pps.to_vec(), idr]);
    }

    #[test]
    fn depacketizer_rejects_broken_streams() {
        // The test receiver must be able to fail, or the round trips prove nothing.
        let nal = random_nal(4, 300);
        let mut stream = RtpStream::new(96, 1, 0);
        stream.max_payload = 100;
        let mut out = PacketBuf::new();
        packetize_nal(&mut stream, &nal, 0, true, &mut out);
        assert!(out.len() >= 3);
        let mut dropped_middle = out.clone();
        dropped_middle.packets.remove(1);
        assert!(depacketize(&dropped_middle).is_err());
        let mut dropped_last = out.clone();
        dropped_last.packets.pop();
        assert!(depacketize(&dropped_last).is_err());
        let mut dropped_first = out.clone();
        dropped_first.packets.remove(0);
        assert!(depacketize(&dropped_first).is_err());
        // A changed TID inside the fragmented NAL unit.
        let mut other_tid = out.clone();
        let second = other_tid.packets[1].start as usize + crate::rtp::packet::RTP_HEADER_LEN + 1;
        other_tid.data[second] ^= 0x03;
        assert!(depacketize(&other_tid).is_err());
    }
}
