#!/usr/bin/env bash
# Checks that libcanmv_rtsp.a needs from outside only the C library symbols
# listed in docs/k230-symbols.txt (the ones the K230's musl userland provides).
#
#   scripts/check-undefined-symbols.sh ARCHIVE [LIST]
#
# A symbol counts when some member of the archive references it and no member
# defines it. readelf reads each member's ELF symbol table (host `nm` does not
# know riscv64 objects and reports nothing). Fails when the archive needs a
# symbol the list lacks (a new libc dependency: check that RT-Smart's musl has
# it, then add it) or when the list names one the archive no longer needs.
set -euo pipefail

archive=$1
list=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/docs/k230-symbols.txt}

readelf=riscv64-linux-gnu-readelf
command -v "$readelf" >/dev/null || readelf=readelf
command -v "$readelf" >/dev/null || {
    echo "readelf not found: run 'make setup' (binutils)" >&2
    exit 1
}
[[ -f $archive ]] || { echo "$archive: no such archive (run make k230)" >&2; exit 1; }
[[ -f $list ]] || { echo "$list: no such list" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Symbol table rows: Num: Value Size Type Bind Vis Ndx Name
"$readelf" -sW "$archive" | awk -v und="$tmp/und" -v def="$tmp/def" '
    $1 ~ /^[0-9]+:$/ && NF >= 8 && ($5 == "GLOBAL" || $5 == "WEAK") {
        print $8 > ($7 == "UND" ? und : def)
    }'
touch "$tmp/und" "$tmp/def"
sort -u "$tmp/und" -o "$tmp/und"
sort -u "$tmp/def" -o "$tmp/def"
comm -23 "$tmp/und" "$tmp/def" >"$tmp/needed"
sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list" | sort -u >"$tmp/listed"

if [[ ! -s $tmp/needed ]]; then
    echo "$archive: no undefined symbols found; is it a riscv64 ELF archive?" >&2
    exit 1
fi

new=$(comm -23 "$tmp/needed" "$tmp/listed")
gone=$(comm -13 "$tmp/needed" "$tmp/listed")
if [[ -n $new ]]; then
    echo "$archive needs symbols that $list does not list:" >&2
    sed 's/^/    /' <<<"$new" >&2
    echo "Each must exist in the K230's RT-Smart musl userland (see docs/k230.md);" \
        "once checked, add it to $list. Otherwise keep the code off it (src/net/os.rs)." >&2
fi
if [[ -n $gone ]]; then
    echo "$list lists symbols $archive no longer needs: remove them from the list:" >&2
    sed 's/^/    /' <<<"$gone" >&2
fi
if [[ -n $new || -n $gone ]]; then
    exit 1
fi
echo "undefined symbols: the $(wc -l <"$tmp/needed") listed in $(basename "$list"), nothing else"
