//! A mutex over `pthread_mutex_t`. Not a spinlock: on RT-Smart's strict
//! priority scheduling a spinning high-priority thread would starve the holder.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Locking it twice on one thread deadlocks: `PTHREAD_MUTEX_INITIALIZER` is
/// the normal (non-recursive) type on musl and glibc, so a second guard for
/// the same value is never handed out.
pub struct Mutex<T> {
    // Boxed: a pthread mutex must not move once initialised. ManuallyDrop:
    // leaked rather than freed if it is still locked when dropped (see Drop).
    raw: ManuallyDrop<Box<UnsafeCell<libc::pthread_mutex_t>>>,
    // Set while a guard holds the lock (written only under it), so that Drop
    // can tell a mutex left locked by a forgotten guard without trylock (one
    // more libc symbol to vouch for on RT-Smart).
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: sending the mutex sends the `T` inside (hence `T: Send`); the
// pthread mutex is boxed, so its address stays put, and no guard borrows it
// while it is moved.
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: a shared `Mutex` only gives access to `T` through a guard, one at
// a time under the pthread mutex, so threads hand `T` to each other (`T:
// Send`) but never share it at once (no `T: Sync` needed), as std's Mutex.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        let raw = ManuallyDrop::new(Box::new(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER)));
        Mutex { raw, locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        // SAFETY: `raw` is an initialised mutex that never moves (boxed) and
        // is destroyed only in `drop`, which no `&self` outlives.
        let rc = unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        // A guard for a lock not taken would be a data race: never hand one out.
        assert!(rc == 0, "pthread_mutex_lock failed");
        self.locked.store(true, Ordering::Relaxed);
        MutexGuard { mutex: self, not_send: PhantomData }
    }
}

impl<T> Drop for Mutex<T> {
    fn drop(&mut self) {
        // A guard that was `mem::forget`-ten leaves the mutex locked, and
        // destroying a locked mutex is undefined: then leak it (as std does).
        if *self.locked.get_mut() {
            return;
        }
        // SAFETY: no guard holds the lock (`locked` is false, and `&mut self`
        // rules out a new one), so the mutex is unlocked and may be destroyed;
        // nothing touches `raw` after it is dropped here.
        unsafe {
            libc::pthread_mutex_destroy(self.raw.get());
            ManuallyDrop::drop(&mut self.raw);
        }
    }
}

/// Holds the lock; unlocks it when dropped.
///
/// Not `Send`: a pthread mutex must be unlocked by the thread that locked it
/// (unlocking it elsewhere is undefined), so the guard stays on its thread.
/// `Sync` only when `T: Sync`, since a shared guard hands out `&T`.
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    not_send: PhantomData<*const ()>,
}

// SAFETY: `&MutexGuard` gives only `&T` (through `Deref`), which other threads
// may hold at once exactly when `T: Sync`; the marker that makes the guard
// `!Send` would otherwise also make it `!Sync`.
unsafe impl<T: Sync> Sync for MutexGuard<'_, T> {}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this the only reference.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.locked.store(false, Ordering::Relaxed);
        // SAFETY: this guard locked the mutex in `lock`, on this thread (the
        // guard is `!Send`), and unlocks it once.
        unsafe { libc::pthread_mutex_unlock(self.mutex.raw.get()) };
    }
}

/// Compile-time checks of the marker traits above, in every build. Each
/// `AmbiguousIf*` trait has a blanket impl for every type and a second one
/// for types with the marker trait: naming `some_item` through it is
/// ambiguous (error E0283, "type annotations needed") exactly when the type
/// has the marker, so these fail to build if the guard becomes `Send`, or
/// `Sync` for a `T` that is not.
#[allow(dead_code)]
const _: () = {
    trait AmbiguousIfSend<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    struct IsSend;
    impl<T: ?Sized + Send> AmbiguousIfSend<IsSend> for T {}

    trait AmbiguousIfSync<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    struct IsSync;
    impl<T: ?Sized + Sync> AmbiguousIfSync<IsSync> for T {}

    fn is_sync<T: Sync>() {}
    fn is_send<T: Send>() {}

    fn checks() {
        // The guard never leaves its thread, whatever `T` is.
        let _ = <MutexGuard<'static, u32> as AmbiguousIfSend<_>>::some_item;
        // A guard over a `Send + !Sync` value (`Cell`) is not `Sync`...
        let _ = <MutexGuard<'static, core::cell::Cell<u32>> as AmbiguousIfSync<_>>::some_item;
        // ...while one over a `Sync` value is.
        is_sync::<MutexGuard<'static, u32>>();
        // The mutex itself is `Send` and `Sync` for `T: Send`, even `!Sync` ones.
        is_send::<Mutex<core::cell::Cell<u32>>>();
        is_sync::<Mutex<core::cell::Cell<u32>>>();
    }
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::vec::Vec;

    #[test]
    fn serialises_threads() {
        let counter = Arc::new(Mutex::new(0u32));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 40_000);
    }

    #[test]
    fn dropping_a_mutex_whose_guard_was_forgotten_leaks_it() {
        let mutex = Mutex::new(Vec::from([1u8, 2, 3]));
        core::mem::forget(mutex.lock());
        // Still locked: Drop must neither destroy it nor hang; the value is still dropped.
        drop(mutex);
        let mutex = Mutex::new(7u8);
        *mutex.lock() += 1;
        assert_eq!(*mutex.lock(), 8);
    }
}
