//! H.264 test material shared by the session and server tests: real
//! parameter sets, slices that start a picture, and Annex-B framing.

/// Baseline profile (66), constraint_set0/1, level 3.0.
pub const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44];
/// Main profile (77), level 3.1: a stream whose parameters change.
pub const SPS_MAIN: &[u8] = &[0x67, 0x4d, 0x40, 0x1f, 0xe8, 0x80, 0x6c, 0x1e, 0xf3, 0x78];
pub const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
pub const AUD: &[u8] = &[0x09, 0xf0];
pub const SEI: &[u8] = &[0x06, 0x05, 0x01, 0xaa, 0x80];
pub const FRAME_US: u64 = 33_333;

/// A coded slice: NAL header, a slice-header byte, then filler that never
/// holds a zero byte (so no start code can appear inside).
pub fn slice(nal_header: u8, second: u8, n: usize, len: usize) -> Vec<u8> {
    let mut v = vec![nal_header, second];
    v.extend((2..len).map(|i| ((i * 31 + n * 7) % 255 + 1) as u8));
    v
}

/// IDR slice with first_mb_in_slice = 0 (ue(v) `1`: first bit set).
pub fn idr(n: usize, len: usize) -> Vec<u8> {
    slice(0x65, 0x88, n, len)
}

/// Non-IDR (P) slice with first_mb_in_slice = 0.
pub fn p_slice(n: usize, len: usize) -> Vec<u8> {
    slice(0x41, 0x9a, n, len)
}

/// Annex-B, with 4- and 3-byte start codes in turn.
pub fn annexb<N: AsRef<[u8]>>(nals: &[N]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, nal) in nals.iter().enumerate() {
        out.extend_from_slice(if i % 2 == 0 { &[0, 0, 0, 1][..] } else { &[0, 0, 1][..] });
        out.extend_from_slice(nal.as_ref());
    }
    out
}

/// A fixed seed for the server's generator: tests are reproducible.
pub const TEST_SEED: [u8; 32] = [0x5e; 32];
