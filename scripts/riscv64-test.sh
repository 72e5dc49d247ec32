#!/usr/bin/env bash
# `make test-riscv64`: the module on riscv64, the board's instruction set, under
# emulation.
#
#   1. the Rust staticlib for riscv64gc-unknown-linux-gnu (the unix port links
#      glibc; the board's musl build is `make k230`), with the nightly
#      toolchain's -Z build-std=core,alloc and the release profile (panic=abort);
#   2. MicroPython's unix port with the module, by Debian's riscv64-linux-gnu-gcc,
#      linked statically so qemu-user needs no riscv64 sysroot, in build/riscv64/;
#   3. the API suite and the H.264 streaming suite (ffprobe, ffmpeg, GStreamer
#      on the host) against build/riscv64/micropython-qemu, a wrapper that runs
#      it with qemu-riscv64 explicitly (binfmt_misc may not be registered),
#      then the board suite (tests/board) in unix mode on the same binary.
#
# Extra arguments go to the first pytest run (e.g. -k ffprobe). MICROPY_DIR, CARGO and
# CARGO_TARGET_DIR are honoured as by the Makefile.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
started=$SECONDS

scripts/fetch-micropython.sh
micropy_dir=${MICROPY_DIR:-$repo_root/.deps/micropython}
cargo=${CARGO:-cargo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo_root/target}
rust_target=riscv64gc-unknown-linux-gnu
cross=riscv64-linux-gnu-
out=$repo_root/build/riscv64
lib=$CARGO_TARGET_DIR/$rust_target/release/libcanmv_rtsp.a

for tool in "${cross}gcc" qemu-riscv64 "${cross}readelf"; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found: run 'make setup' (gcc-riscv64-linux-gnu, qemu-user)" >&2
        exit 1
    }
done

echo "== riscv64: Rust staticlib ($rust_target, nightly build-std)"
"$cargo" +nightly build -Z build-std=core,alloc --target "$rust_target" --release
touch "$lib"

echo "== riscv64: MicroPython unix port with the module (${cross}gcc, static)"
jobs=()
[[ ${MAKEFLAGS:-} == *jobserver* ]] || jobs=(-j"$(nproc 2>/dev/null || echo 2)")
# The port does not relink when only the archive changed: remove its binary.
rm -f "$out/port/micropython-multimedia"
# GIT_CEILING_DIRECTORIES: the tree under .deps/ must not take its version
# from this repository's git history. Debian's tarball strips the libraries
# behind btree, ssl and ffi.
GIT_CEILING_DIRECTORIES=$(dirname "$micropy_dir") \
    make -C "$micropy_dir/ports/unix" "${jobs[@]}" \
    CROSS_COMPILE="$cross" \
    USER_C_MODULES="$repo_root" CANMV_RTSP_LIB="$lib" \
    BUILD="$out/port" PROG=micropython-multimedia \
    MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 FROZEN_MANIFEST= \
    LDFLAGS_EXTRA=-static
cp "$out/port/micropython-multimedia" "$out/micropython.tmp"
mv -f "$out/micropython.tmp" "$out/micropython"
if ! "${cross}readelf" -h "$out/micropython" | grep -q 'Machine:.*RISC-V'; then
    echo "$out/micropython is not a RISC-V executable" >&2
    exit 1
fi
printf '#!/bin/sh\n# build/riscv64/micropython under user-mode emulation.\nexec qemu-riscv64 "%s" "$@"\n' \
    "$out/micropython" >"$out/micropython-qemu"
chmod +x "$out/micropython-qemu"
qemu-riscv64 "$out/micropython" -c 'import multimedia; print("riscv64 module:", multimedia.rtspserver_test())'

# The shim with CanMV's port flags (src/canmv/port/Makefile: -Wall -Werror
# -std=gnu99 -march=rv64imafdcv ...), as is and with its K230 branch, which
# gets the MPP declarations from a stand-in of mpi_sys_api.h.
echo "== riscv64: the shim with CanMV's compiler flags, plain and -DCANMV_K230"
canmv_flags=(-march=rv64imafdcv -mabi=lp64d -mcmodel=medany -std=gnu99 -Os
    -fdata-sections -ffunction-sections -Wall -Werror -Wno-int-conversion -Wno-array-bounds)
shim_includes=(-I"$micropy_dir" -I"$micropy_dir/ports/unix" -I"$micropy_dir/ports/unix/variants/standard"
    -I"$out/port" -I"$repo_root/include")
for variant in plain k230; do
    extra=()
    [[ $variant == k230 ]] && extra=(-DCANMV_K230 -I"$repo_root/tests/board/k230-stub")
    "${cross}gcc" -c -o "$out/modmultimedia-$variant.o" "${canmv_flags[@]}" "${shim_includes[@]}" \
        "${extra[@]}" micropython/modmultimedia.c
    echo "modmultimedia.c compiles with CanMV's flags ($variant)"
done
built=$SECONDS

echo "== riscv64: API and H.264 streaming suites under qemu-riscv64"
MICROPYTHON=$out/micropython-qemu python3 -m pytest -v \
    tests/python/test_api.py tests/python/test_stream_h264.py "$@"
echo "== riscv64: the board suite (raw REPL over a pty) under qemu-riscv64"
MICROPYTHON=$out/micropython-qemu python3 -m pytest -v tests/board --target unix

echo "test-riscv64: build $((built - started)) s, tests $((SECONDS - built)) s, total $((SECONDS - started)) s"
