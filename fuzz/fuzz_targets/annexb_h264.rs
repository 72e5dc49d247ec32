//! Annex-B splitting and H.264 packetization (RFC 6184, packetization-mode 1)
//! on arbitrary bytes, checked by a receiver written here from the RFC.
//! See `check_annexb` for the properties.
#![no_main]

use canmv_rtsp::rtp::h264::packetize_nal;
use canmv_rtsp_fuzz::{check_annexb, check_fu_flags, Rtp};
use libfuzzer_sys::fuzz_target;

/// FU indicator and FU header, and one byte of the NAL unit.
const SMALLEST_FU: usize = 3;
const FU_A: u8 = 28;

fuzz_target!(|data: &[u8]| {
    check_annexb(data, SMALLEST_FU, 1, packetize_nal, depacketize);
});

/// FU-A (RFC 6184 5.8): indicator F|NRI|28, header S|E|R|type, fragment.
/// The NAL header is F|NRI from the indicator and the type from the header.
fn depacketize(packets: &[Rtp<'_>]) -> Result<Vec<u8>, String> {
    let mut nal = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let [indicator, header, fragment @ ..] = p.payload else {
            return Err(format!("FU-A of {} bytes", p.payload.len()));
        };
        if indicator & 0x1f != FU_A {
            return Err(format!("packet {i} of {} has NAL type {}, not FU-A", packets.len(), indicator & 0x1f));
        }
        if header & 0x20 != 0 {
            return Err("FU header R bit set".into());
        }
        check_fu_flags(i, packets.len(), header & 0x80 != 0, header & 0x40 != 0)?;
        if fragment.is_empty() {
            return Err(format!("empty fragment {i}"));
        }
        let nal_header = (indicator & 0xe0) | (header & 0x1f);
        match nal.first() {
            None => nal.push(nal_header),
            Some(&first) if first != nal_header => return Err(format!("fragment {i} names another NAL header")),
            Some(_) => {}
        }
        nal.extend_from_slice(fragment);
    }
    Ok(nal)
}
