//! What a `no_std` staticlib must provide itself: an allocator and a panic handler.

use core::alloc::{GlobalAlloc, Layout};

/// The C heap: the same `malloc` MicroPython's firmware links against.
struct CAlloc;

// SAFETY: malloc/posix_memalign/free satisfy GlobalAlloc's contract: they return
// blocks of at least the requested size and alignment, or null on failure.
unsafe impl GlobalAlloc for CAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= 16 {
            // SAFETY: plain malloc; 16-byte alignment is guaranteed on our targets.
            unsafe { libc::malloc(layout.size()) as *mut u8 }
        } else {
            let mut p: *mut libc::c_void = core::ptr::null_mut();
            // SAFETY: align is a power of two and a multiple of pointer size here.
            let rc = unsafe { libc::posix_memalign(&mut p, layout.align(), layout.size()) };
            if rc == 0 {
                p as *mut u8
            } else {
                core::ptr::null_mut()
            }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: ptr came from malloc/posix_memalign above.
        unsafe { libc::free(ptr as *mut libc::c_void) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= 16 {
            // SAFETY: ptr came from malloc with the same (small) alignment.
            unsafe { libc::realloc(ptr as *mut libc::c_void, new_size) as *mut u8 }
        } else {
            // SAFETY: fall back to alloc+copy+free for over-aligned blocks.
            unsafe {
                let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
                if !new.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[global_allocator]
static ALLOCATOR: CAlloc = CAlloc;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort() never returns and is always safe to call.
    unsafe { libc::abort() }
}

/// Rust's prebuilt `core`/`alloc` for host targets are compiled for unwinding,
/// and their unwind tables name this personality routine, which only `std`
/// defines. With panic = "abort" nothing ever unwinds, so it is never called;
/// it only satisfies the linker. (The board build compiles core/alloc with
/// panic = "abort" itself and has no such reference.)
#[no_mangle]
extern "C" fn rust_eh_personality() {}
