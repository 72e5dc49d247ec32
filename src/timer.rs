//! A timer table: one deadline slot per kind of timer, shared by the server's
//! connections and clients and by the pusher. Each timer is set, moved or
//! cleared where the state it guards changes; the next wake-up is the
//! earliest one set. A timer that falls due is cleared as it fires (`fire`),
//! so after time `t` has been handled every timer left is later than `t`
//! (or was set again, for later, by its handler): a deadline cannot stay in
//! the past and spin the loop (quinn-proto's `TimerTable` works the same way).

/// Deadlines in µs on the monotonic clock, one slot per kind of timer.
#[derive(Debug, Clone, Copy)]
pub struct TimerTable<const N: usize> {
    at: [Option<u64>; N],
}

/// A timer kind is an index into its table.
pub trait TimerKind: Copy {
    fn slot(self) -> usize;
}

impl<const N: usize> TimerTable<N> {
    pub fn new() -> Self {
        TimerTable { at: [None; N] }
    }

    /// Sets or moves a timer.
    pub fn set(&mut self, kind: impl TimerKind, at_us: u64) {
        self.at[kind.slot()] = Some(at_us);
    }

    /// Sets a timer unless it is already set (a condition that began earlier keeps its start).
    pub fn set_if_unset(&mut self, kind: impl TimerKind, at_us: u64) {
        self.at[kind.slot()].get_or_insert(at_us);
    }

    pub fn clear(&mut self, kind: impl TimerKind) {
        self.at[kind.slot()] = None;
    }

    #[cfg(test)]
    pub fn get(&self, kind: impl TimerKind) -> Option<u64> {
        self.at[kind.slot()]
    }

    /// Whether the timer is due at `now_us`; if so it is cleared, and its
    /// handler sets it again (for later) only if it is still needed.
    pub fn fire(&mut self, kind: impl TimerKind, now_us: u64) -> bool {
        let slot = &mut self.at[kind.slot()];
        if slot.is_some_and(|t| t <= now_us) {
            *slot = None;
            return true;
        }
        false
    }

    /// The earliest timer set.
    pub fn next(&self) -> Option<u64> {
        self.at.iter().flatten().copied().min()
    }
}

