//! G.711 (µ-law PCMU / A-law PCMA) over RTP (RFC 3551): 8000 Hz, one byte per sample.
use super::packet::{PacketBuf, RtpStream, PACKET_OVERHEAD};

pub const PT_PCMU: u8 = 0;
pub const PT_PCMA: u8 = 8;
pub const CLOCK_RATE: u32 = 8000;

/// The code of a zero sample in the law of payload type `pt` (µ-law unless A-law).
pub fn silence(pt: u8) -> u8 {
    if pt == PT_PCMA {
        0xd5
    } else {
        0xff
    }
}

/// Appends `samples` as packets of at most `stream.max_payload` bytes (split
/// evenly, never a packet over the MTU); the first gets timestamp `ts`, each
/// next one `ts` plus the samples before it. No marker (continuous audio).
///
/// "Evenly": the fewest packets that fit, their sizes differing by at most one
/// byte (3000 bytes with 1400 at most give three of 1000). Empty input writes
/// nothing; a `max_payload` of 0 is treated as 1.
pub fn packetize(stream: &mut RtpStream, samples: &[u8], ts: u32, out: &mut PacketBuf) {
    if samples.is_empty() {
        return;
    }
    let max_payload = stream.max_payload.max(1);
    let packets = samples.len().div_ceil(max_payload);
    // The first `longer` packets carry one byte more than the others.
    let (base, longer) = (samples.len() / packets, samples.len() % packets);
    out.data.reserve(samples.len().saturating_add(packets.saturating_mul(PACKET_OVERHEAD)));
    out.packets.reserve(packets);
    let mut rest = samples;
    let mut packet_ts = ts;
    for k in 0..packets {
        let len = if k < longer { base + 1 } else { base };
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        stream.write_packet(out, packet_ts, false, &[chunk]);
        // One sample per byte at 8000 Hz: the RTP clock advances by the byte count.
        packet_ts = packet_ts.wrapping_add(chunk.len() as u32);
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::test_support::{read_packets, xorshift_bytes};

    /// Audio as sent: payload sizes, timestamps, sequence numbers, the payloads joined.
    struct Sent {
        sizes: Vec<usize>,
        timestamps: Vec<u32>,
        seqs: Vec<u16>,
        joined: Vec<u8>,
    }

    fn read(out: &PacketBuf, pt: u8, ssrc: u32) -> Sent {
        let packets = read_packets(out, pt, ssrc);
        assert!(packets.markers.iter().all(|m| !m), "audio carries no marker");
        Sent {
            sizes: packets.payload_lens(),
            joined: packets.payloads.concat(),
            timestamps: packets.timestamps,
            seqs: packets.seqs,
        }
    }

    #[test]
    fn splits_into_the_fewest_equal_packets() {
        let cases: [(usize, usize, &[usize]); 7] = [
            (3000, 1400, &[1000, 1000, 1000]),
            (2801, 1400, &[934, 934, 933]),
            (1400, 1400, &[1400]),
            (1401, 1400, &[701, 700]),
            (160, 1400, &[160]),
            (1, 1400, &[1]),
            (10, 3, &[3, 3, 2, 2]),
        ];
        for (len, max_payload, expected) in cases {
            let input = xorshift_bytes(len as u64, len);
            let mut stream = RtpStream::new(PT_PCMU, 0x5eed, 100);
            stream.max_payload = max_payload;
            let mut out = PacketBuf::new();
            packetize(&mut stream, &input, 0, &mut out);
            let sent = read(&out, PT_PCMU, 0x5eed);
            assert_eq!(sent.sizes, expected, "{len} bytes, max {max_payload}");
            assert_eq!(sent.joined, input);
        }
    }

    #[test]
    fn timestamps_advance_by_samples_and_wrap() {
        let input = xorshift_bytes(7, 3000);
        let mut stream = RtpStream::new(PT_PCMA, 9, 65535);
        let mut out = PacketBuf::new();
        packetize(&mut stream, &input, u32::MAX - 1500, &mut out);
        let sent = read(&out, PT_PCMA, 9);
        assert_eq!(sent.timestamps, [u32::MAX - 1500, u32::MAX - 500, 499]);
        assert_eq!(sent.seqs, [65535, 0, 1]);
        assert_eq!(stream.seq, 2);
        // The next chunk continues where this one ended: 3000 samples later.
        let mut next = PacketBuf::new();
        packetize(&mut stream, &input[..160], (u32::MAX - 1500).wrapping_add(3000), &mut next);
        assert_eq!(read(&next, PT_PCMA, 9).timestamps, [1499]);
    }

    #[test]
    fn random_chunks_arrive_byte_identical_and_fit() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..200 {
            let pt = if round % 2 == 0 { PT_PCMU } else { PT_PCMA };
            let max_payload = 1 + (next() % 2000) as usize;
            let input = xorshift_bytes(next(), (next() % 20_000) as usize);
            let ts = next() as u32;
            let mut stream = RtpStream::new(pt, round, next() as u16);
            let first_seq = stream.seq;
            stream.max_payload = max_payload;
            let mut out = PacketBuf::new();
            packetize(&mut stream, &input, ts, &mut out);
            let sent = read(&out, pt, round);
            assert_eq!(sent.joined, input, "round {round}");
            assert!(sent.sizes.iter().all(|&n| n > 0 && n <= max_payload), "round {round}");
            assert_eq!(sent.sizes.len(), input.len().div_ceil(max_payload), "round {round}");
            let (min, max) = (sent.sizes.iter().min(), sent.sizes.iter().max());
            if let (Some(min), Some(max)) = (min, max) {
                assert!(max - min <= 1, "round {round}: {min}..{max}");
            }
            let mut expected_ts = ts;
            for (k, (&t, &n)) in sent.timestamps.iter().zip(&sent.sizes).enumerate() {
                assert_eq!(t, expected_ts, "round {round} packet {k}");
                assert_eq!(sent.seqs[k], first_seq.wrapping_add(k as u16));
                expected_ts = expected_ts.wrapping_add(n as u32);
            }
        }
    }

    #[test]
    fn empty_input_writes_nothing() {
        let mut stream = RtpStream::new(PT_PCMU, 1, 42);
        let mut out = PacketBuf::new();
        packetize(&mut stream, &[], 0, &mut out);
        assert!(out.is_empty() && out.data.is_empty());
        assert_eq!(stream.seq, 42);
    }

    #[test]
    fn zero_max_payload_sends_one_sample_per_packet() {
        let mut stream = RtpStream::new(PT_PCMU, 1, 0);
        stream.max_payload = 0;
        let mut out = PacketBuf::new();
        packetize(&mut stream, &[1, 2, 3], 10, &mut out);
        let sent = read(&out, PT_PCMU, 1);
        assert_eq!(sent.sizes, [1, 1, 1]);
        assert_eq!(sent.timestamps, [10, 11, 12]);
    }
}
