#!/usr/bin/env bash
# What libcanmv_rtsp.a adds to a linked riscv64 program, in text + data bytes.
#
#   scripts/riscv64-linked-size.sh ARCHIVE HEADER
#
# The archive totals overstate it: the archive carries whole objects of core,
# alloc and compiler_builtins of which the linker keeps only what is used. So a
# tiny program that takes the address of every entry point in HEADER is linked
# twice with --gc-sections: once against the archive, once with a local dummy
# function in every slot (same table, same code around it). The difference is
# the library plus the parts of core/alloc/compiler_builtins it pulls in. libc
# is linked dynamically, so the C library functions it calls (docs/k230-symbols.txt)
# are not counted: the firmware's MicroPython links them anyway.
set -euo pipefail

archive=$1
header=$2
cc=${RISCV64_CC:-riscv64-linux-gnu-gcc}
size=${RISCV64_SIZE:-riscv64-linux-gnu-size}
for tool in "$cc" "$size"; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found: run 'make setup' (Debian's gcc-riscv64-linux-gnu)" >&2
        exit 1
    }
done

mapfile -t entry_points < <(grep -oE '\bcanmv_rtsp_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
if ((${#entry_points[@]} == 0)); then
    echo "no canmv_rtsp_* functions found in $header" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    echo '#include <stdint.h>'
    echo '#ifdef WITH_LIB'
    echo "#include \"$(realpath "$header")\""
    echo '#define ENTRY(f) ((void (*)(void))(uintptr_t)&f)'
    echo '#else'
    echo 'static void dummy(void) {}'
    echo '#define ENTRY(f) dummy'
    echo '#endif'
    echo 'void (*const volatile entry_points[])(void) = {'
    printf '    ENTRY(%s),\n' "${entry_points[@]}"
    echo '};'
    echo 'int main(void) { return entry_points[0] == 0; }'
} >"$tmp/probe.c"

flags=(-Os -ffunction-sections -fdata-sections -Wl,--gc-sections)
"$cc" "${flags[@]}" -o "$tmp/without" "$tmp/probe.c"
"$cc" "${flags[@]}" -DWITH_LIB -o "$tmp/with" "$tmp/probe.c" "$archive" -lpthread

text_data() { "$size" "$1" | awk 'NR == 2 { print $1, $2 }'; }
read -r text0 data0 < <(text_data "$tmp/without")
read -r text1 data1 < <(text_data "$tmp/with")
text=$((text1 - text0))
data=$((data1 - data0))
echo "the archive adds $((text + data)) bytes to a linked program (text $text + data $data;" \
    "${#entry_points[@]} entry points, --gc-sections, libc not counted)"
