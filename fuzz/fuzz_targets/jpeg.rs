//! The RFC 2435 JPEG parser on arbitrary bytes, and the packetizer on what it accepts.
//!
//! Checked: `parse` never panics. What it accepts is something RFC 2435 can
//! carry (sides 1..=2040, type 0/1 (+64 with a restart interval), two 64-byte
//! tables) and its scan is a non-empty piece of the input holding no marker but
//! restart markers and stuffed bytes, followed by EOI or the end of the input.
//! Packetized at a tiny, a middling and the default payload size, a receiver
//! written here from RFC 2435 finds: RTP headers in order, main headers with the
//! image's type, Q = 255 and size in 8-pixel blocks, restart headers when the
//! type says so, the tables in-band once at offset 0, and fragment offsets that
//! cover the scan exactly, in order, with no gap or overlap.
#![no_main]

use canmv_rtsp::rtp::jpeg::{packetize, parse, JpegImage};
use canmv_rtsp::rtp::{PacketBuf, RtpStream};
use canmv_rtsp_fuzz::read_rtp;
use libfuzzer_sys::fuzz_target;

const PT_JPEG: u8 = 26;
const SSRC: u32 = 0x0bad_cafe;
const MAIN_HEADER: usize = 8;
const RESTART_HEADER: usize = 4;
const QTABLE_HEADER: usize = 4;

fuzz_target!(|data: &[u8]| {
    let Ok(image) = parse(data) else { return };
    check_image(data, &image);
    for max_payload in [0, 150, 1400] {
        check_packets(&image, max_payload);
    }
});

fn check_image(data: &[u8], image: &JpegImage<'_>) {
    assert!(
        (1..=2040).contains(&image.width) && (1..=2040).contains(&image.height),
        "{}x{}",
        image.width,
        image.height
    );
    assert!(matches!(image.rtp_type, 0 | 1 | 64 | 65), "type {}", image.rtp_type);
    assert_eq!(
        image.rtp_type >= 64,
        image.restart_interval != 0,
        "type {} with DRI {}",
        image.rtp_type,
        image.restart_interval
    );
    assert_eq!(image.qtables.len(), 2);
    assert!(image.qtables.iter().all(|t| t.len() == 64), "8-bit tables are 64 bytes");

    let start = (image.scan.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
    assert!(start <= data.len() && image.scan.len() <= data.len() - start, "scan outside the input");
    assert!(!image.scan.is_empty(), "empty scan");
    let scan = image.scan;
    let mut i = 0;
    while i < scan.len() {
        if scan[i] == 0xff {
            let mut j = i + 1;
            while scan.get(j) == Some(&0xff) {
                j += 1;
            }
            let next = scan.get(j).copied();
            assert!(matches!(next, Some(0x00 | 0xd0..=0xd7)), "marker {next:02x?} inside the scan at {}", start + i);
            i = j;
        }
        i += 1;
    }
    let after = &data[start + scan.len()..];
    let fill = after.iter().take_while(|&&b| b == 0xff).count();
    assert!(
        after.is_empty() || (fill > 0 && matches!(after.get(fill), None | Some(0xd9))),
        "scan ends before {:02x?}, not EOI or the end",
        &after[..after.len().min(4)]
    );
}

fn check_packets(image: &JpegImage<'_>, max_payload: usize) {
    let mut stream = RtpStream::new(PT_JPEG, SSRC, 65530);
    stream.max_payload = max_payload;
    let ts = 90_000;
    let mut out = PacketBuf::new();
    packetize(&mut stream, image, ts, &mut out);
    assert!(!out.is_empty(), "no packet for an image parse accepted");
    let restart = image.rtp_type >= 64;
    let repeated = MAIN_HEADER + if restart { RESTART_HEADER } else { 0 };
    let tables: Vec<u8> = image.qtables.concat();
    let mut scan = Vec::new();
    let mut seq = 65530u16;
    for k in 0..out.len() {
        let bytes = out.packet(k);
        let rtp = read_rtp(bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((rtp.pt, rtp.ssrc, rtp.ts, rtp.seq), (PT_JPEG, SSRC, ts, seq));
        seq = seq.wrapping_add(1);
        assert_eq!(rtp.marker, k + 1 == out.len(), "marker on packet {k} of {}", out.len());
        let p = rtp.payload;
        assert!(p.len() > repeated, "packet {k}: {} bytes, no room for data", p.len());
        let offset = u32::from_be_bytes([0, p[1], p[2], p[3]]) as usize;
        assert_eq!(p[0], 0, "type-specific");
        assert_eq!(offset, scan.len(), "packet {k}: fragment offset {offset}, data so far {}", scan.len());
        assert_eq!(p[4], image.rtp_type);
        assert_eq!(p[5], 255, "Q: tables in-band");
        assert_eq!(usize::from(p[6]), usize::from(image.width).div_ceil(8));
        assert_eq!(usize::from(p[7]), usize::from(image.height).div_ceil(8));
        let mut rest = &p[MAIN_HEADER..];
        if restart {
            let interval = u16::from_be_bytes([rest[0], rest[1]]);
            assert_eq!(interval, image.restart_interval);
            assert_eq!(&rest[2..4], &[0xff, 0xff], "F=1 L=1 count=0x3FFF: whole frame only");
            rest = &rest[RESTART_HEADER..];
        }
        let mut header_len = repeated;
        if offset == 0 {
            assert!(rest.len() > QTABLE_HEADER + tables.len(), "first packet too short for its tables");
            assert_eq!(&rest[..2], &[0, 0], "MBZ and precision (8-bit tables)");
            assert_eq!(usize::from(u16::from_be_bytes([rest[2], rest[3]])), tables.len());
            assert_eq!(&rest[QTABLE_HEADER..QTABLE_HEADER + tables.len()], &tables[..]);
            rest = &rest[QTABLE_HEADER + tables.len()..];
            header_len += QTABLE_HEADER + tables.len();
        }
        assert!(!rest.is_empty(), "packet {k} carries no scan data");
        let room = max_payload.max(header_len + 1);
        assert!(p.len() <= room, "packet {k}: payload {} over {room} (max_payload {max_payload})", p.len());
        scan.extend_from_slice(rest);
    }
    assert!(scan == image.scan, "fragments cover {} bytes, not the {}-byte scan", scan.len(), image.scan.len());
    assert_eq!(stream.seq, seq);
}
