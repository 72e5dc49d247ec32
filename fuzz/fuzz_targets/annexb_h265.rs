//! Annex-B splitting and H.265 packetization (RFC 7798) on arbitrary bytes,
//! checked by a receiver written here from the RFC. See `check_annexb` for
//! the properties.
#![no_main]

use canmv_rtsp::rtp::h265::packetize_nal;
use canmv_rtsp_fuzz::{check_annexb, check_fu_flags, Rtp};
use libfuzzer_sys::fuzz_target;

/// PayloadHdr (2) and FU header, and one byte of the NAL unit.
const SMALLEST_FU: usize = 4;
/// The 2-byte NAL unit header: anything shorter is not a NAL unit.
const NAL_HEADER_LEN: usize = 2;
const FU: u8 = 49;

fuzz_target!(|data: &[u8]| {
    check_annexb(data, SMALLEST_FU, NAL_HEADER_LEN, packetize_nal, depacketize);
});

/// Fragmentation units (RFC 7798 4.4.3): PayloadHdr with type 49 and the NAL
/// unit's F, LayerId and TID; FU header S|E|FuType; fragment.
fn depacketize(packets: &[Rtp<'_>]) -> Result<Vec<u8>, String> {
    let mut nal = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let [ph0, ph1, fu_header, fragment @ ..] = p.payload else {
            return Err(format!("FU of {} bytes", p.payload.len()));
        };
        if (ph0 >> 1) & 0x3f != FU {
            return Err(format!("packet {i} of {} has PayloadHdr type {}, not FU", packets.len(), (ph0 >> 1) & 0x3f));
        }
        check_fu_flags(i, packets.len(), fu_header & 0x80 != 0, fu_header & 0x40 != 0)?;
        if fragment.is_empty() {
            return Err(format!("empty fragment {i}"));
        }
        let header = [(ph0 & 0x81) | ((fu_header & 0x3f) << 1), *ph1];
        match nal.first_chunk::<2>() {
            None => nal.extend_from_slice(&header),
            Some(first) if *first != header => return Err(format!("fragment {i} names another NAL header")),
            Some(_) => {}
        }
        nal.extend_from_slice(fragment);
    }
    Ok(nal)
}
