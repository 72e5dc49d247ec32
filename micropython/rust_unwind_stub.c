/*
 * Rust's prebuilt `core` and `alloc` for host targets are compiled for
 * unwinding: their unwind tables name `rust_eh_personality`, which only
 * Rust's `std` defines. The canmv_rtsp staticlib is `no_std` with
 * panic = "abort", so nothing ever unwinds and this is never called; it only
 * satisfies the linker. Weak, so a definition from the Rust side wins.
 * (The board build compiles core/alloc itself with panic = "abort" and has no
 * such reference.)
 */
#include <stdlib.h>

void rust_eh_personality(void);

__attribute__((weak)) void rust_eh_personality(void) {
    abort();
}
