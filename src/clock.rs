//! Media time: the script's timestamps or arrival times, on one monotonic
//! clock (µs), and from there on each track's RTP clock.
//!
//! API.md: a track's µs timestamps are used while they increase from one
//! access unit (or audio chunk) to the next; once they don't (CanMV's examples
//! pass a constant 1000) the track is stamped with arrival time instead.

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
    last_us: u64,
}

impl MediaClock {
    /// A clock of `rate` Hz whose RTP time starts from the random `rtp_base`.
    pub fn new(rate: u32, rtp_base: u32) -> Self {
        MediaClock { rate, rtp_base, offset: None, last_script_ts: None, use_arrival: false, last_us: 0 }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The monotonic time (µs) of a new access unit stamped `script_ts` arriving at `now_us`.
    pub fn stamp(&mut self, script_ts: u64, now_us: u64, base: &mut TimeBase) -> u64 {
        if self.last_script_ts.is_some_and(|last| script_ts <= last) {
            self.use_arrival = true;
        }
        self.last_script_ts = Some(script_ts);
        let t = if self.use_arrival {
            now_us
        } else {
            let offset = *self.offset.get_or_insert_with(|| base.offset_for(script_ts, now_us));
            (script_ts as i64 + offset).max(0) as u64
        };
        // Never go back in time (a switch to arrival mode can't rewind).
        self.last_us = t.max(self.last_us);
        self.last_us
    }

    /// The time of the last access unit stamped.
    pub fn last_us(&self) -> u64 {
        self.last_us
    }

    /// RTP timestamp of monotonic time `t_us`.
    pub fn rtp_time(&self, t_us: u64) -> u32 {
        let ticks = (t_us as u128 * self.rate as u128 / 1_000_000) as u64;
        self.rtp_base.wrapping_add(ticks as u32)
    }
}
