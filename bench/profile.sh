#!/usr/bin/env bash
# Profiles our server under load with callgrind (perf sampling is not available
# on every machine; callgrind counts instructions, exactly and repeatably).
#
#   bench/profile.sh [CLIENTS] [TRANSPORT] [SECONDS]     (defaults: 50 tcp 10)
#
# Builds an unstripped MicroPython with the module and line tables
# (build/bench/prof/: its own cargo target dir and port build, so the normal
# builds are untouched), streams build/bench/clip.264 (make bench makes it)
# to CLIENTS loopback clients of bench/loadclient for SECONDS, and prints the
# functions with the most instructions (inclusive and exclusive) per thread.
# The output files are build/bench/prof/callgrind.out-NN.
set -eu

clients=${1:-50}
transport=${2:-tcp}
seconds=${3:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
prof=$root/build/bench/prof
micropy_dir=${MICROPY_DIR:-$root/.deps/micropython}
clip=$root/build/bench/clip.264
loadclient=$root/build/bench/target/release/loadclient
for f in "$clip" "$loadclient"; do
    [[ -e $f ]] || { echo "$f is missing: run 'make bench' first" >&2; exit 1; }
done
mkdir -p "$prof"

CARGO_TARGET_DIR=$prof/target CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --manifest-path "$root/Cargo.toml"
# The port does not relink when only the archive changed.
rm -f "$prof/port/micropython-prof"
GIT_CEILING_DIRECTORIES=$(dirname "$micropy_dir") make -C "$micropy_dir/ports/unix" -j"$(nproc)" \
    USER_C_MODULES="$root" CANMV_RTSP_LIB="$prof/target/release/libcanmv_rtsp.a" \
    BUILD="$prof/port" PROG=micropython-prof STRIP=: CFLAGS_EXTRA=-g \
    MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_PY_FFI=0 FROZEN_MANIFEST= >/dev/null
bin=$prof/port/micropython-prof

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fifo=$prof/commands
rm -f "$fifo" "$prof"/callgrind.out*
mkfifo "$fifo"
# Under callgrind everything runs some 50 times slower: the producer still
# keeps its 30 fps grid, so the server's share of the work is what grows.
# Counting starts once the clip is loaded and streaming, and stops when the
# load client is done: it covers the clients' setup, 1 s of warm-up, the
# window and the teardown.
timeout $((seconds + 120)) valgrind --tool=callgrind --callgrind-out-file="$prof/callgrind.out" \
    --separate-threads=yes --instr-atstart=no "$bin" -X heapsize=64M "$root/bench/mpy_server.py" \
    --port "$port" --clip "$clip" --max $((clients + 16)) <"$fifo" >"$prof/server.out" 2>"$prof/valgrind.log" &
server=$!
exec 3>"$fifo"
for _ in $(seq 300); do grep -q READY "$prof/server.out" 2>/dev/null && break; sleep 0.1; done
echo STREAM >&3
sleep 1
vg=$(pgrep -P "$server")
callgrind_control -i on "$vg" >/dev/null
timeout $((seconds + 60)) "$loadclient" --url "rtsp://127.0.0.1:$port/bench" --clients "$clients" \
    --transport "$transport" --seconds "$seconds" --warmup 1 --setup-timeout 30 --json "$prof/load.json" >/dev/null
callgrind_control -i off "$vg" >/dev/null
echo STOP >&3
echo QUIT >&3
exec 3>&-
wait "$server" || true
rm -f "$fifo"
/usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); r.pop("per_client"); print(r)' "$prof/load.json"
grep -E "^(COST|SEND-FAILED)" "$prof/server.out" || true
# One file per thread (-01 the interpreter, which makes the producer calls;
# -02 the server's loop thread).
for out in "$prof"/callgrind.out-*; do
    total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { print $1 }')
    [[ ${total//,/} -gt 1000 ]] 2>/dev/null || continue
    echo "===== $(basename "$out"): $total instructions"
    echo "== exclusive (in the function itself) =="
    callgrind_annotate "$out" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '5,34p' || true
    echo "== inclusive =="
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '5,44p' || true
done
