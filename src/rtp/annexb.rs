//! Annex-B byte stream splitting (H.264 / H.265) (OWNED BY HELPER: rtp).

/// Iterator over the NAL units of one Annex-B buffer, start codes removed.
///
/// Start codes are `00 00 01` or `00 00 00 01`. Bytes before the first start
/// code, if any, form a NAL unit of their own (lenient with encoders that drop
/// the first start code). Trailing zero bytes before a start code
/// (`trailing_zero_8bits`) and at the end of the buffer are removed. Empty NAL
/// units are skipped.
pub struct NalUnits<'a> {
    rest: &'a [u8],
}

pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    NalUnits { rest: data }
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let _ = &self.rest;
        todo!("helper")
    }
}
