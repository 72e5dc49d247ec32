//! A mutex over `pthread_mutex_t`. Not a spinlock: on RT-Smart's strict
//! priority scheduling a spinning high-priority thread would starve the holder.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};

pub struct Mutex<T> {
    // Boxed: a pthread mutex must not move once initialised.
    raw: Box<UnsafeCell<libc::pthread_mutex_t>>,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by the pthread mutex.
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: as above; `lock` hands out one guard at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    pub fn new(value: T) -> Self {
        let raw = Box::new(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER));
        Mutex { raw, value: UnsafeCell::new(value) }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        // SAFETY: `raw` is an initialised mutex that never moves (boxed).
        unsafe { libc::pthread_mutex_lock(self.raw.get()) };
        MutexGuard { mutex: self }
    }
}

impl<T> Drop for Mutex<T> {
    fn drop(&mut self) {
        // SAFETY: no guard can outlive `self`, so the mutex is unlocked here.
        unsafe { libc::pthread_mutex_destroy(self.raw.get()) };
    }
}

pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

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
        // SAFETY: this guard locked the mutex in `lock`.
        unsafe { libc::pthread_mutex_unlock(self.mutex.raw.get()) };
    }
}
