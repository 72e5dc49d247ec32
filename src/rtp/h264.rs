//! H.264 over RTP (RFC 6184), packetization-mode 1.
use super::packet::{PacketBuf, RtpStream, PACKET_OVERHEAD};

pub const NAL_IDR: u8 = 5;
pub const NAL_SEI: u8 = 6;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

/// `nal_unit_type` (low 5 bits of the first byte); 0 for an empty NAL unit.
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Coded slice NAL units (types 1..=5): these carry the picture.
pub fn is_vcl(nal: &[u8]) -> bool {
    matches!(nal_type(nal), 1..=5)
}

/// True when a VCL NAL unit starts a new picture: `first_mb_in_slice == 0`,
/// i.e. the first bit of the slice header (an ue(v)) is 1.
/// False when the NAL unit is too short to hold a slice header.
pub fn starts_picture(nal: &[u8]) -> bool {
    // ue(v) codes 0 as the single bit `1`; any other value starts with a `0`.
    nal.get(1).is_some_and(|b| b & 0x80 != 0)
}

/// Appends the RTP packets for one NAL unit to `out`: a single NAL unit packet
/// when it fits in `stream.max_payload`, else FU-A fragments (FU indicator =
/// F|NRI|28, FU header = S|E|R|type) each at most `max_payload` bytes.
/// `marker` goes on the last packet written (the caller sets it for the last
/// NAL unit of an access unit). All packets get timestamp `ts`.
///
/// An empty NAL unit writes nothing. A `max_payload` below 3 is treated as 3,
/// the smallest FU-A (indicator, header and one byte).
pub fn packetize_nal(stream: &mut RtpStream, nal: &[u8], ts: u32, marker: bool, out: &mut PacketBuf) {
    let Some((&header, body)) = nal.split_first() else {
        return;
    };
    let max_payload = stream.max_payload.max(FU_A_OVERHEAD + 1);
    if nal.len() <= max_payload {
        stream.write_packet(out, ts, marker, &[nal]);
        return;
    }
    // The NAL header is not sent: the receiver rebuilds it from the FU
    // indicator (F, NRI) and the FU header (type).
    let fragment_len = max_payload - FU_A_OVERHEAD;
    let fragments = body.len().div_ceil(fragment_len);
    out.data.reserve(body.len().saturating_add(fragments.saturating_mul(FU_A_OVERHEAD + PACKET_OVERHEAD)));
    out.packets.reserve(fragments);
    let fu_indicator = (header & 0xe0) | NAL_FU_A;
    let nal_type = header & 0x1f;
    let mut chunks = body.chunks(fragment_len).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let mut fu_header = nal_type;
        if first {
            fu_header |= FU_START;
        }
        if last {
            fu_header |= FU_END;
        }
        stream.write_packet(out, ts, marker && last, &[&[fu_indicator, fu_header], chunk]);
        first = false;
    }
}

/// NAL unit type of a fragmentation unit, mode A (RFC 6184 section 5.8).
const NAL_FU_A: u8 = 28;
const FU_START: u8 = 0x80;
const FU_END: u8 = 0x40;
/// FU indicator and FU header.
const FU_A_OVERHEAD: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::annexb::nal_units;
    use crate::rtp::test_support::{read_packets, xorshift_bytes};
    use rtp_rs::RtpReader;

    /// Receiver side of RFC 6184 section 5.8, for packetization-mode 1
    /// without aggregation: single NAL unit packets (types 1..=23) and FU-A
    /// (type 28). Rejects what a receiver would have to drop: a fragment with
    /// no start, a new start before the end, S and E together, a gap in
    /// sequence numbers or a timestamp change inside a fragmented NAL unit.
    fn depacketize(out: &PacketBuf) -> Result<Vec<Vec<u8>>, String> {
        let mut units = Vec::new();
        // (NAL unit so far, RTP timestamp, sequence number expected next)
        let mut pending: Option<(Vec<u8>, u32, u16)> = None;
        for i in 0..out.len() {
            let rtp = RtpReader::new(out.packet(i)).map_err(|e| format!("packet {i}: {e:?}"))?;
            let payload = rtp.payload();
            let seq = u16::from(rtp.sequence_number());
            let Some(&first) = payload.first() else {
                return Err(format!("packet {i}: empty payload"));
            };
            match first & 0x1f {
                1..=23 => {
                    if pending.is_some() {
                        return Err(format!("packet {i}: single NAL inside a fragmented one"));
                    }
                    units.push(payload.to_vec());
                }
                28 => {
                    let (fu_indicator, fu_header) = match payload {
                        [ind, hdr, rest @ ..] if !rest.is_empty() => (*ind, *hdr),
                        _ => return Err(format!("packet {i}: FU-A without fragment")),
                    };
                    let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
                    if start && end {
                        return Err(format!("packet {i}: S and E both set"));
                    }
                    if fu_header & 0x20 != 0 {
                        return Err(format!("packet {i}: R bit set"));
                    }
                    let fragment = &payload[2..];
                    if start {
                        if pending.is_some() {
                            return Err(format!("packet {i}: start before previous end"));
                        }
                        let mut nal = vec![(fu_indicator & 0xe0) | (fu_header & 0x1f)];
                        nal.extend_from_slice(fragment);
                        pending = Some((nal, rtp.timestamp(), seq.wrapping_add(1)));
                    } else {
                        let Some((mut nal, ts, expected_seq)) = pending.take() else {
                            return Err(format!("packet {i}: fragment without start"));
                        };
                        if seq != expected_seq || rtp.timestamp() != ts {
                            return Err(format!("packet {i}: out of sequence fragment"));
                        }
                        if (nal[0] & 0x1f) != (fu_header & 0x1f) || (nal[0] & 0xe0) != (fu_indicator & 0xe0) {
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
                other => return Err(format!("packet {i}: unexpected NAL type {other}")),
            }
        }
        match pending {
            Some(_) => Err("last NAL unit never ended".into()),
            None => Ok(units),
        }
    }

    /// A NAL unit of `len` random bytes with a valid header: F=0, any NRI, type 1 or 5.
    fn random_nal(seed: u64, len: usize) -> Vec<u8> {
        let mut nal = xorshift_bytes(seed, len);
        if let Some(h) = nal.first_mut() {
            *h = (*h & 0x60) | if seed.is_multiple_of(2) { NAL_IDR } else { 1 /* non-IDR slice */ };
        }
        nal
    }

    #[test]
    fn starts_picture_reads_first_mb_in_slice() {
        // IDR slice, first_mb_in_slice = 0 (ue "1"), slice_type 7 ("0001000").
        assert!(starts_picture(&[0x65, 0x88, 0x84, 0x00, 0x33]));
        // P slice from an x264 stream: first_mb_in_slice = 0, slice_type 5.
        assert!(starts_picture(&[0x41, 0x9a, 0x21, 0x6c]));
        // Second slice of an IDR picture: first_mb_in_slice = 1 ("010"),
        // slice_type 7 ("0001000") -> bits 0100 0010 00.. = 0x42 0x..
        assert!(!starts_picture(&[0x65, 0x42, 0x00, 0x80]));
        // first_mb_in_slice = 396 (ue with 8 leading zeros) -> first byte 0x00.
        assert!(!starts_picture(&[0x41, 0x00, 0xc6, 0x80]));
        assert!(!starts_picture(&[]));
        assert!(!starts_picture(&[0x65]));
    }

    #[test]
    fn small_nal_units_are_single_packets() {
        let mut stream = RtpStream::new(96, 0x1111, 10);
        stream.max_payload = 100;
        let mut out = PacketBuf::new();
        let one_byte = [0x09u8];
        let fits = random_nal(3, 100);
        packetize_nal(&mut stream, &one_byte, 5, false, &mut out);
        packetize_nal(&mut stream, &fits, 5, true, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(RtpReader::new(out.packet(0)).unwrap().payload(), &one_byte);
        assert_eq!(RtpReader::new(out.packet(1)).unwrap().payload(), &fits[..]);
        let h = read_packets(&out, 96, 0x1111);
        assert_eq!(h.seqs, [10, 11]);
        assert_eq!(h.markers, [false, true]);
        assert_eq!(h.timestamps, [5, 5]);
    }

    #[test]
    fn empty_nal_unit_writes_nothing() {
        let mut stream = RtpStream::new(96, 1, 42);
        let mut out = PacketBuf::new();
        packetize_nal(&mut stream, &[], 0, true, &mut out);
        assert!(out.is_empty());
        assert!(out.data.is_empty());
        assert_eq!(stream.seq, 42);
    }

    #[test]
    fn round_trip_through_an_rfc6184_receiver() {
        for max_payload in [100usize, 1400] {
            let sizes = [1, max_payload - 1, max_payload, max_payload + 1, 2 * max_payload, 200 * 1024];
            for (n, &size) in sizes.iter().enumerate() {
                for marker in [false, true] {
                    let nal = random_nal(n as u64 * 31 + max_payload as u64, size);
                    let mut stream = RtpStream::new(97, 0xfeed_f00d, 65530);
                    stream.max_payload = max_payload;
                    let mut out = PacketBuf::new();
                    packetize_nal(&mut stream, &nal, 0x8000_0001, marker, &mut out);

                    assert_eq!(depacketize(&out).unwrap(), std::slice::from_ref(&nal), "size {size}");
                    let h = read_packets(&out, 97, 0xfeed_f00d);
                    let count = out.len();
                    assert_eq!(count > 1, size > max_payload, "size {size}");
                    for (k, seq) in h.seqs.iter().enumerate() {
                        assert_eq!(*seq, 65530u16.wrapping_add(k as u16));
                    }
                    assert_eq!(stream.seq, 65530u16.wrapping_add(count as u16));
                    assert!(h.timestamps.iter().all(|&ts| ts == 0x8000_0001));
                    assert!(h.payload_lens().iter().all(|&len| len <= max_payload));
                    for (k, m) in h.markers.iter().enumerate() {
                        assert_eq!(*m, marker && k == count - 1, "size {size} packet {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn fragments_carry_f_nri_and_type() {
        // F=1, NRI=3, type 5: a receiver must get the same header byte back.
        let mut nal = xorshift_bytes(9, 50);
        nal[0] = 0xe5;
        let mut stream = RtpStream::new(96, 1, 0);
        stream.max_payload = 20;
        let mut out = PacketBuf::new();
        packetize_nal(&mut stream, &nal, 0, true, &mut out);
        // 49 body bytes in fragments of 18.
        assert_eq!(out.len(), 3);
        let fu: Vec<[u8; 2]> = (0..out.len())
            .map(|i| {
                let p = RtpReader::new(out.packet(i)).unwrap().payload().to_vec();
                [p[0], p[1]]
            })
            .collect();
        assert_eq!(fu, [[0xfc, 0x85], [0xfc, 0x05], [0xfc, 0x45]]);
        assert_eq!(depacketize(&out).unwrap(), [nal]);
    }

    #[test]
    fn tiny_max_payload_still_round_trips() {
        for max_payload in 0..=4 {
            for size in [1usize, 2, 3, 4, 5, 17] {
                let nal = random_nal(size as u64, size);
                let mut stream = RtpStream::new(96, 1, 0);
                stream.max_payload = max_payload;
                let mut out = PacketBuf::new();
                packetize_nal(&mut stream, &nal, 0, true, &mut out);
                assert_eq!(depacketize(&out).unwrap(), [nal], "max {max_payload} size {size}");
                let h = read_packets(&out, 96, 1);
                assert!(h.payload_lens().iter().all(|&len| len <= max_payload.max(3)));
            }
        }
    }

    #[test]
    fn random_sizes_round_trip() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..200 {
            let max_payload = 3 + (next() % 1500) as usize;
            let nals: Vec<Vec<u8>> =
                (0..1 + next() % 5).map(|k| random_nal(next(), 1 + (next() % 5000) as usize + k as usize)).collect();
            let mut stream = RtpStream::new(96, 7, next() as u16);
            stream.max_payload = max_payload;
            let first_seq = stream.seq;
            let mut out = PacketBuf::new();
            for (k, nal) in nals.iter().enumerate() {
                packetize_nal(&mut stream, nal, round, k == nals.len() - 1, &mut out);
            }
            assert_eq!(depacketize(&out).unwrap(), nals, "round {round}");
            let h = read_packets(&out, 96, 7);
            assert!(h.payload_lens().iter().all(|&len| len <= max_payload));
            assert_eq!(h.markers.iter().filter(|&&m| m).count(), 1);
            assert_eq!(h.markers.last(), Some(&true));
            for (k, seq) in h.seqs.iter().enumerate() {
                assert_eq!(*seq, first_seq.wrapping_add(k as u16));
            }
        }
    }

    #[test]
    fn access_unit_from_annex_b_to_rtp() {
        let sps = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let mut idr = random_nal(2, 5000);
        idr[0] = 0x65;
        idr[1] |= 0x80; // first_mb_in_slice = 0
                        // Annex-B never carries 00 00 0x inside a NAL unit (emulation prevention).
        for i in 2..idr.len() {
            if idr[i - 2] == 0 && idr[i - 1] == 0 && idr[i] <= 3 {
                idr[i] = 0x55;
            }
        }
        let mut annexb = vec![0, 0, 0, 1];
        annexb.extend_from_slice(&sps);
        annexb.extend_from_slice(&[0, 0, 0, 1]);
        annexb.extend_from_slice(&pps);
        annexb.extend_from_slice(&[0, 0, 1]);
        annexb.extend_from_slice(&idr);

        let nals: Vec<&[u8]> = nal_units(&annexb).collect();
        assert_eq!(nals, [&sps[..], &pps[..], &idr[..]]);
        assert!(starts_picture(nals[2]) && is_vcl(nals[2]));
        assert!(!is_vcl(nals[0]) && !is_vcl(nals[1]));

        let mut stream = RtpStream::new(96, 0xabcd, 65535);
        let mut out = PacketBuf::new();
        for (k, nal) in nals.iter().enumerate() {
            packetize_nal(&mut stream, nal, 3000, k == nals.len() - 1, &mut out);
        }
        // SPS, PPS, then 5000 bytes in FU-A of at most 1398 bytes of fragment.
        assert_eq!(out.len(), 2 + 4);
        let h = read_packets(&out, 96, 0xabcd);
        assert_eq!(h.seqs, [65535, 0, 1, 2, 3, 4]);
        assert_eq!(h.markers, [false, false, false, false, false, true]);
        let got = depacketize(&out).unwrap();
        assert_eq!(got, [sps.to_vec(), pps.to_vec(), idr]);
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
    }
}
