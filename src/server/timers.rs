//! The core's timers: one small table per connection and per client. Each
//! timer is set, moved or cleared where the state it guards changes, and the
//! server's next deadline is the earliest timer set, nothing else. A timer
//! that falls due is cleared as it fires (`fire`), so after the server has
//! handled time `t`, every timer left is later than `t` (or was set again,
//! for later, by its handler): a deadline cannot stay in the past and spin
//! the loop (quinn-proto's `TimerTable` works the same way).

/// What a connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConnTimer {
    /// No request and no client for a session timeout: close it.
    Idle = 0,
    /// A client cut back to the next keyframe whose queue has not drained
    /// (or replies nobody reads): drop it.
    Stuck = 1,
    /// Closing, with output its peer may never read: first fire starts the
    /// grace period, the second discards the output so it can close.
    CloseGrace = 2,
}

/// What a client (an RTSP session) waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientTimer {
    /// No request and no RTCP report for a session timeout: drop it.
    Expiry = 0,
    /// The next RTCP sender report (while playing, once its first packets are queued).
    Report = 1,
}

pub(super) use crate::timer::{TimerKind, TimerTable};

pub(super) type ConnTimers = TimerTable<3>;
pub(super) type ClientTimers = TimerTable<2>;

impl TimerKind for ConnTimer {
    fn slot(self) -> usize {
        self as usize
    }
}

impl TimerKind for ClientTimer {
    fn slot(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fired_timer_is_cleared_and_the_next_is_the_earliest_left() {
        let mut t = ConnTimers::new();
        assert_eq!(t.next(), None);
        t.set(ConnTimer::Idle, 50);
        t.set(ConnTimer::Stuck, 20);
        assert_eq!(t.next(), Some(20));
        assert!(!t.fire(ConnTimer::Stuck, 19));
        assert!(t.fire(ConnTimer::Stuck, 20));
        assert_eq!(t.get(ConnTimer::Stuck), None);
        assert!(!t.fire(ConnTimer::Stuck, 100), "fires once");
        assert_eq!(t.next(), Some(50));
        t.set_if_unset(ConnTimer::Idle, 70);
        assert_eq!(t.get(ConnTimer::Idle), Some(50), "set_if_unset keeps an earlier start");
        t.clear(ConnTimer::Idle);
        assert_eq!(t.next(), None);
    }
}
