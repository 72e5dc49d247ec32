//! Media time: the script's timestamps or arrival times, on one monotonic
//! clock (µs), and from there on each track's RTP clock.
//!
//! API.md: a track's µs timestamps are presentation times, used as they are,
//! even where they go down in decode order (B-frames); once one repeats
//! unchanged from one access unit (or audio chunk) to the next (CanMV's
//! examples pass a constant 1000) the track is stamped with arrival time instead.

/// The offset that puts a session's script timestamps on the monotonic clock,
/// shared by its tracks so that audio and video stamped by one encoder clock
/// stay in sync.
#[derive(Debug, Clone, Default)]
pub struct TimeBase {
    offset: Option<i64>,
}

/// A second track whose timestamps are further than this from the first
/// track's mapping runs on another clock: it gets an offset of its own.
const SAME_CLOCK_WINDOW_US: i64 = 1_000_000;

impl TimeBase {
    fn offset_for(&mut self, script_ts: u64, now_us: u64) -> i64 {
        let own = now_us as i64 - script_ts as i64;
        match self.offset {
            Some(shared) if (shared - own).abs() <= SAME_CLOCK_WINDOW_US => shared,
            Some(_) => own,
            None => *self.offset.insert(own),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MediaClock {
    rate: u32,
    rtp_base: u32,
    offset: Option<i64>,
    last_script_ts: Option<u64>,
    use_arrival: bool,
    /// The latest time stamped so far (B-frames may stamp earlier ones after it).
    last_us: u64,
    /// Arrival time of the last stamp (0: nothing stamped yet).
    last_arrival_us: u64,
    /// Arrival mode: the current run of regular arrivals, its first arrival
    /// and how many intervals it spans (its mean is the frame interval).
    run_start_us: u64,
    run_intervals: u64,
}

/// How far PLAY's RTP-Info time may sit before the first packet, so that
/// arrival jitter never puts the first packet before it.
const START_MARGIN_US: u64 = 50_000;

/// How far a presentation time may step back in decode order and still be
/// B-frame reordering (x264's deepest pyramids reorder well under a second).
/// A larger step back is a new clock (an encoder restarted): its times are
/// put on the monotonic clock afresh, at arrival.
const MAX_REORDER_US: u64 = 1_000_000;

impl MediaClock {
    /// A clock of `rate` Hz whose RTP time starts from the random `rtp_base`.
    pub fn new(rate: u32, rtp_base: u32) -> Self {
        MediaClock {
            rate,
            rtp_base,
            offset: None,
            last_script_ts: None,
            use_arrival: false,
            last_us: 0,
            last_arrival_us: 0,
            run_start_us: 0,
            run_intervals: 0,
        }
    }

    /// The monotonic time (µs) of a new access unit stamped `script_ts` arriving at `now_us`.
    pub fn stamp(&mut self, script_ts: u64, now_us: u64, base: &mut TimeBase) -> u64 {
        let last_script_ts = self.last_script_ts.replace(script_ts);
        if last_script_ts == Some(script_ts) {
            self.use_arrival = true;
        }
        let t = if self.use_arrival {
            // Never back in time: a switch to arrival mode can't rewind.
            self.smoothed_arrival(now_us).max(self.last_us)
        } else {
            if last_script_ts.is_some_and(|last| last > script_ts.saturating_add(MAX_REORDER_US)) {
                // Onward from the latest stamp by the time since it arrived.
                let resumed = self.last_us + now_us.saturating_sub(self.last_arrival_us);
                self.offset = Some(resumed as i64 - script_ts as i64);
            }
            let offset = *self.offset.get_or_insert_with(|| base.offset_for(script_ts, now_us));
            (script_ts as i64 + offset).max(0) as u64
        };
        self.last_us = t.max(self.last_us);
        self.last_arrival_us = now_us;
        t
    }

    /// Arrival time with the scheduler's jitter taken out (API.md: RTP
    /// timestamps advance by the true frame interval). The interval is the
    /// mean over the current run of regular arrivals; each stamp lands on the
    /// previous one plus that interval, pulled a sixteenth of the way toward
    /// the real arrival so it follows the source's clock. An arrival off by
    /// more than half an interval (a skipped frame, a stall) is taken as it
    /// is, and one far outside the run's rhythm (a new rate) starts a new run.
    fn smoothed_arrival(&mut self, now_us: u64) -> u64 {
        let delta = now_us.saturating_sub(self.last_arrival_us);
        if self.last_arrival_us == 0 || self.run_intervals == 0 {
            self.start_run(now_us, u64::from(self.last_arrival_us != 0));
            return now_us;
        }
        let interval = now_us.saturating_sub(self.run_start_us) / (self.run_intervals + 1);
        let mean_before = self.last_arrival_us.saturating_sub(self.run_start_us) / self.run_intervals;
        if delta > 3 * mean_before || delta < mean_before / 3 {
            self.start_run(now_us, 0);
            return now_us;
        }
        self.run_intervals += 1;
        let predicted = self.last_us + interval;
        let error = now_us as i64 - predicted as i64;
        if error.unsigned_abs() > interval / 2 {
            return now_us;
        }
        (predicted as i64 + error / 16) as u64
    }

    /// A run of arrivals begins at `now_us` (with `intervals` already in it:
    /// 1 when the previous arrival opens it).
    fn start_run(&mut self, now_us: u64, intervals: u64) {
        self.run_start_us = if intervals == 0 { now_us } else { self.last_arrival_us };
        self.run_intervals = intervals;
    }

    /// A time no later than that of the next access unit: where a client that
    /// starts now and waits for the next packets begins (PLAY's RTP-Info).
    pub fn next_lower_bound(&self, now_us: u64) -> u64 {
        if self.last_arrival_us == 0 {
            return now_us.saturating_sub(START_MARGIN_US);
        }
        // The source's clock runs on with real time since the last stamp.
        let predicted = self.last_us + now_us.saturating_sub(self.last_arrival_us);
        predicted.saturating_sub(START_MARGIN_US).max(self.last_us)
    }

    /// RTP timestamp of monotonic time `t_us`.
    pub fn rtp_time(&self, t_us: u64) -> u32 {
        // floor(t_us * rate / 10^6) exactly, without a 128-bit division (a
        // library routine on riscv64): whole seconds, then the remainder,
        // whose product stays under 10^6 * 2^32. Only the low 32 bits count.
        let rate = u64::from(self.rate);
        let ticks = (t_us / 1_000_000).wrapping_mul(rate).wrapping_add(t_us % 1_000_000 * rate / 1_000_000);
        self.rtp_base.wrapping_add(ticks as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_time_is_the_exact_floor_for_any_time() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for rate in [90_000u32, 8_000] {
            let clock = MediaClock::new(rate, 0x1234_5678);
            for i in 0..20_000u64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let t = if i % 2 == 0 { x } else { x % 100_000_000_000 };
                let want = ((t as u128 * rate as u128 / 1_000_000) as u64 as u32).wrapping_add(0x1234_5678);
                assert_eq!(clock.rtp_time(t), want, "t = {t}, rate = {rate}");
            }
        }
    }

    /// Constant script timestamps (arrival mode) with arrivals `arrivals_us`: the stamped times.
    fn stamped(arrivals_us: &[u64]) -> Vec<u64> {
        let mut clock = MediaClock::new(90_000, 0);
        let mut base = TimeBase::default();
        arrivals_us.iter().map(|&t| clock.stamp(1000, t, &mut base)).collect()
    }

    fn deltas(times: &[u64]) -> Vec<i64> {
        times.windows(2).map(|w| w[1] as i64 - w[0] as i64).collect()
    }

    /// 30 fps arrivals shaken by up to ±6 ms of scheduler jitter (deterministic).
    fn jittery_30fps(frames: usize, start: u64) -> Vec<u64> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..frames as u64)
            .map(|k| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let jitter = (state % 12_001) as i64 - 6_000;
                (start as i64 + (k * 1_000_000 / 30) as i64 + jitter) as u64
            })
            .collect()
    }

    #[test]
    fn arrival_jitter_is_smoothed_to_the_frame_interval() {
        let times = stamped(&jittery_30fps(300, 5_000_000));
        // After a few frames to learn the interval, every duration is 33.3 ms within 1.5 ms
        // although arrivals moved by up to ±6 ms (API.md: RTP advances by the true interval).
        for (k, d) in deltas(&times).iter().enumerate().skip(10) {
            assert!((d - 33_333).abs() <= 1_500, "frame {k}: {d} µs");
        }
        // And the stamps stay on the source's clock: no drift away from real time.
        let last_real = 5_000_000 + 299 * 1_000_000 / 30;
        assert!((times[299] as i64 - last_real as i64).abs() < 10_000, "{} vs {last_real}", times[299]);
    }

    #[test]
    fn a_gap_or_a_new_rate_is_followed_at_once() {
        let mut arrivals: Vec<u64> = (0..30).map(|k| 1_000_000 + k * 33_333).collect();
        let after_gap = arrivals[29] + 500_000; // the script stalled half a second
        arrivals.extend((0..30).map(|k| after_gap + k * 66_667)); // then 15 fps
        let times = stamped(&arrivals);
        let d = deltas(&times);
        assert_eq!(d[29], 500_000, "the gap is kept");
        for (k, d) in d.iter().enumerate().skip(33) {
            assert!((d - 66_667).abs() <= 2_000, "frame {k}: {d} µs at 15 fps");
        }
    }

    #[test]
    fn increasing_script_timestamps_are_not_smoothed() {
        let mut clock = MediaClock::new(90_000, 0);
        let mut base = TimeBase::default();
        let script = [0u64, 33_333, 70_000, 100_000, 133_333];
        let arrivals = [1_000_000u64, 1_040_000, 1_060_000, 1_110_000, 1_130_000];
        let times: Vec<u64> = script.iter().zip(arrivals).map(|(&s, a)| clock.stamp(s, a, &mut base)).collect();
        assert_eq!(deltas(&times), [33_333, 36_667, 30_000, 33_333]);
    }

    /// x264 with B-frames, one access unit per call in decode order, each with
    /// its presentation time: I0 P3 B1 B2 P6 B4 B5 ... at 30 fps.
    #[test]
    fn presentation_times_that_go_down_in_decode_order_are_kept() {
        let mut clock = MediaClock::new(90_000, 0);
        let mut base = TimeBase::default();
        let frame = 33_333u64;
        let pts_frames = [0u64, 3, 1, 2, 6, 4, 5, 9, 7, 8];
        let times: Vec<u64> = pts_frames
            .iter()
            .enumerate()
            .map(|(k, &p)| clock.stamp(7_000_000 + p * frame, 1_000_000 + k as u64 * frame, &mut base))
            .collect();
        // RTP steps at 90 kHz: +9000, -6000, +3000, +12000, -6000, ... (each within rounding).
        let steps: Vec<i64> = times.windows(2).map(|w| (w[1] as i64 - w[0] as i64) * 90 / 1000).collect();
        let expected: Vec<i64> = pts_frames.windows(2).map(|w| (w[1] as i64 - w[0] as i64) * 3000).collect();
        for (k, (got, want)) in steps.iter().zip(&expected).enumerate() {
            assert!((got - want).abs() <= 1, "step {k}: {got} ticks, {want} expected");
        }
    }

    #[test]
    fn a_repeated_timestamp_switches_to_arrival_time_and_a_restart_is_followed() {
        let mut clock = MediaClock::new(90_000, 0);
        let mut base = TimeBase::default();
        // A script clock that restarts from 0 (a new encoder): the stream goes on forward.
        let a = clock.stamp(50_000_000, 1_000_000, &mut base);
        let b = clock.stamp(50_033_333, 1_033_333, &mut base);
        let c = clock.stamp(0, 1_066_666, &mut base);
        let d = clock.stamp(33_333, 1_100_000, &mut base);
        assert_eq!((b - a, c - b, d - c), (33_333, 33_333, 33_333));
        // The same timestamp twice: arrival time from then on (CanMV's constant 1000).
        let e = clock.stamp(33_333, 1_133_333, &mut base);
        let f = clock.stamp(99_999_999, 1_166_666, &mut base);
        assert!(e >= d && f > e && f - e < 100_000, "{d} {e} {f}");
    }

    #[test]
    fn the_start_bound_never_passes_the_next_stamp() {
        let mut clock = MediaClock::new(90_000, 0);
        let mut base = TimeBase::default();
        assert_eq!(clock.next_lower_bound(2_000_000), 2_000_000 - START_MARGIN_US, "nothing stamped yet");
        for (k, t) in jittery_30fps(60, 3_000_000).into_iter().enumerate() {
            if k > 0 {
                // A client starting just before this arrival: its RTP-Info time is no later.
                let bound = clock.next_lower_bound(t - 1_000);
                let stamp = clock.stamp(1000, t, &mut base);
                assert!(bound <= stamp, "frame {k}: bound {bound} after stamp {stamp}");
                assert!(stamp - bound < 120_000, "frame {k}: bound {} µs early", stamp - bound);
            } else {
                clock.stamp(1000, t, &mut base);
            }
        }
    }
}
