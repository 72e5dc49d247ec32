//! What a player sees in the RTP packets of one H.264 track: packets, losses
//! (sequence gaps), frames (marker bits, RFC 6184 §5.1: the last packet of an
//! access unit) and when a picture first becomes decodable.

/// Counters, kept for the whole run and for the measurement window.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub packets: u64,
    pub bytes: u64,
    /// Packets missing from the sequence (forward gaps).
    pub lost: u64,
    /// Packets that came with an older sequence number than one already seen.
    pub late: u64,
    /// Access units ended by a marker bit.
    pub frames: u64,
    /// Changes of the RTP timestamp (a second, marker-independent frame count).
    pub ts_changes: u64,
}

/// The arrival of one access unit's last packet.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub rtp_ts: u32,
    pub t_us: u64,
}

pub struct Track {
    started: bool,
    next_seq: u16,
    last_ts: u32,
    pub last_frame_ts: Option<u32>,
    pub total: Counts,
    pub window: Counts,
    /// Preallocated; never grows while packets flow (`overflow` counts what did not fit).
    pub arrivals: Vec<Arrival>,
    pub overflow: u64,
    // Decodability of the access unit in progress.
    au_clean: bool,
    au_idr: bool,
    sps: bool,
    pps: bool,
    prev_marker: bool,
    pub params_in_sdp: bool,
    pub first_decodable_us: Option<u64>,
}

impl Track {
    pub fn new(arrival_capacity: usize) -> Track {
        Track {
            started: false,
            next_seq: 0,
            last_ts: 0,
            last_frame_ts: None,
            total: Counts::default(),
            window: Counts::default(),
            arrivals: Vec::with_capacity(arrival_capacity),
            overflow: 0,
            au_clean: false,
            au_idr: false,
            sps: false,
            pps: false,
            prev_marker: false,
            params_in_sdp: false,
            first_decodable_us: None,
        }
    }

    /// One RTP packet (header included) arrived at `t_us`.
    pub fn packet(&mut self, pkt: &[u8], t_us: u64, in_window: bool, record: bool) {
        if pkt.len() < 12 || pkt[0] >> 6 != 2 {
            return;
        }
        let marker = pkt[1] & 0x80 != 0;
        let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
        let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let mut gap = 0u64;
        let mut late = false;
        if !self.started {
            self.started = true;
            self.last_ts = ts;
            self.next_seq = seq.wrapping_add(1);
        } else {
            let delta = seq.wrapping_sub(self.next_seq) as i16;
            if delta >= 0 {
                gap = delta as u64;
                self.next_seq = seq.wrapping_add(1);
            } else {
                late = true;
            }
        }
        let ts_changed = ts != self.last_ts;
        self.last_ts = ts;
        for c in [Some(&mut self.total), in_window.then_some(&mut self.window)].into_iter().flatten() {
            c.packets += 1;
            c.bytes += pkt.len() as u64;
            c.lost += gap;
            c.late += late as u64;
            c.ts_changes += ts_changed as u64;
            c.frames += marker as u64;
        }
        self.inspect(pkt, gap > 0, marker, t_us);
        if marker {
            self.last_frame_ts = Some(ts);
            if record {
                if self.arrivals.len() < self.arrivals.capacity() {
                    self.arrivals.push(Arrival { rtp_ts: ts, t_us });
                } else {
                    self.overflow += 1;
                }
            }
        }
    }

    /// Follows the access unit in progress: did it start at its beginning, is it
    /// an IDR picture, are SPS and PPS known, was any of it lost?
    fn inspect(&mut self, pkt: &[u8], lost_before: bool, marker: bool, t_us: u64) {
        let cc = (pkt[0] & 0x0f) as usize;
        let mut off = 12 + 4 * cc;
        if pkt[0] & 0x10 != 0 {
            // header extension: 4 bytes, then its length in 32-bit words
            if pkt.len() < off + 4 {
                return;
            }
            off += 4 + 4 * u16::from_be_bytes([pkt[off + 2], pkt[off + 3]]) as usize;
        }
        let Some(payload) = pkt.get(off..) else { return };
        let Some(&nal) = payload.first() else { return };
        let starts_au = self.prev_marker || !self.started_any();
        if starts_au {
            // A picture's first packet, or a parameter set / AUD / SEI before it.
            self.au_clean = begins_access_unit(payload);
            self.au_idr = false;
        }
        if lost_before {
            self.au_clean = false;
        }
        match nal & 0x1f {
            5 => self.au_idr = true,
            7 => self.sps = true,
            8 => self.pps = true,
            24 => {
                // STAP-A: 16-bit size, then each NAL unit
                let mut p = 1;
                while p + 2 < payload.len() {
                    let size = u16::from_be_bytes([payload[p], payload[p + 1]]) as usize;
                    match payload[p + 2] & 0x1f {
                        5 => self.au_idr = true,
                        7 => self.sps = true,
                        8 => self.pps = true,
                        _ => {}
                    }
                    p += 2 + size;
                }
            }
            28 => {
                if payload.get(1).is_some_and(|fu| fu & 0x1f == 5) {
                    self.au_idr = true;
                }
            }
            _ => {}
        }
        self.prev_marker = marker;
        if marker
            && self.first_decodable_us.is_none()
            && self.au_clean
            && self.au_idr
            && (self.params_in_sdp || (self.sps && self.pps))
        {
            self.first_decodable_us = Some(t_us);
        }
    }

    fn started_any(&self) -> bool {
        self.total.packets > 1
    }
}

/// Whether a packet's payload can be the first of an access unit (RFC 6184
/// packet types; H.264 7.4.1.2.3: parameter sets, AUD and SEI come first, else
/// a slice with first_mb_in_slice 0, whose ue(v) code is the single bit 1).
fn begins_access_unit(payload: &[u8]) -> bool {
    let slice_starts_picture = |b: Option<&u8>| b.is_some_and(|b| b & 0x80 != 0);
    match payload.first().map(|n| n & 0x1f) {
        Some(6..=9) | Some(24) => true,
        Some(1) | Some(5) => slice_starts_picture(payload.get(1)),
        // FU-A: start bit set, a slice type, its first payload byte
        Some(28) => payload.get(1).is_some_and(|fu| {
            fu & 0x80 != 0 && (matches!(fu & 0x1f, 6..=9) || slice_starts_picture(payload.get(2)))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 96 | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn gaps_frames_and_wraparound() {
        let mut t = Track::new(8);
        t.packet(&pkt(65534, 0, true, &[0x41, 0x80]), 1, true, true);
        t.packet(&pkt(65535, 3000, false, &[0x41, 0x80]), 2, true, true);
        t.packet(&pkt(2, 3000, true, &[0x41, 0x00]), 3, true, true); // 0 and 1 missing
        t.packet(&pkt(1, 3000, false, &[0x41, 0x00]), 4, true, true); // late
        assert_eq!((t.window.packets, t.window.lost, t.window.late, t.window.frames), (4, 2, 1, 2));
        assert_eq!(t.arrivals.len(), 2);
        assert_eq!(t.window.ts_changes, 1);
    }

    #[test]
    fn idr_decodable_only_when_whole_and_with_parameter_sets() {
        let mut t = Track::new(8);
        // joins in the middle of an IDR's fragments: not decodable
        t.packet(&pkt(10, 0, false, &[0x7c, 0x05, 0xaa]), 1, true, true);
        t.packet(&pkt(11, 0, true, &[0x7c, 0x45, 0xaa]), 2, true, true);
        assert_eq!(t.first_decodable_us, None);
        // SPS, PPS, then a whole FU-A IDR with a lost middle packet: not decodable
        t.packet(&pkt(12, 3000, false, &[0x67, 0x42]), 3, true, true);
        t.packet(&pkt(13, 3000, false, &[0x68, 0xce]), 4, true, true);
        t.packet(&pkt(14, 3000, false, &[0x7c, 0x85, 0x88]), 5, true, true);
        t.packet(&pkt(16, 3000, true, &[0x7c, 0x45, 0xaa]), 6, true, true);
        assert_eq!(t.first_decodable_us, None);
        // the next one whole
        t.packet(&pkt(17, 6000, false, &[0x7c, 0x85, 0x88]), 7, true, true);
        t.packet(&pkt(18, 6000, true, &[0x7c, 0x45, 0xaa]), 8, true, true);
        assert_eq!(t.first_decodable_us, Some(8));
    }
}
