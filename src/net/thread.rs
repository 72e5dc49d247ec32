//! One joinable thread over `pthread_create`, running a boxed closure.

use alloc::boxed::Box;

pub struct Thread {
    id: libc::pthread_t,
}

/// The loop thread's stack: enough for the poll loop (its buffers are on the heap).
const STACK_SIZE: usize = 256 * 1024;

extern "C" fn trampoline(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `arg` is the Box<Box<dyn FnOnce() + Send>> leaked by `spawn`,
    // and pthread_create runs this once per thread, so it is taken back once.
    let f = unsafe { Box::from_raw(arg as *mut Box<dyn FnOnce() + Send>) };
    f();
    core::ptr::null_mut()
}

impl Thread {
    /// Starts `f` on a new thread; Err(errno) when the OS refuses.
    pub fn spawn(f: Box<dyn FnOnce() + Send>) -> Result<Thread, i32> {
        let arg = Box::into_raw(Box::new(f)) as *mut libc::c_void;
        // SAFETY: the closure is `Send` and `'static` (the default bound of
        // `Box<dyn ..>`), so the new thread borrows nothing from this one;
        // attr is initialised before use and destroyed after; `id` is written
        // by pthread_create on success; on failure `arg` was never handed to a
        // thread, so it is reclaimed here, once.
        unsafe {
            let mut attr: libc::pthread_attr_t = core::mem::zeroed();
            libc::pthread_attr_init(&mut attr);
            libc::pthread_attr_setstacksize(&mut attr, STACK_SIZE);
            let mut id: libc::pthread_t = core::mem::zeroed();
            let rc = libc::pthread_create(&mut id, &attr, trampoline, arg);
            libc::pthread_attr_destroy(&mut attr);
            if rc != 0 {
                drop(Box::from_raw(arg as *mut Box<dyn FnOnce() + Send>));
                return Err(rc);
            }
            Ok(Thread { id })
        }
    }

    pub fn join(self) {
        // SAFETY: `id` is a joinable thread that was not joined before (join consumes self).
        unsafe { libc::pthread_join(self.id, core::ptr::null_mut()) };
    }
}
