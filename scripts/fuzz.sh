#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each and reports,
# per target: inputs executed, speed, corpus size, and whether it crashed.
#
#   scripts/fuzz.sh [TARGET...]        all targets when none is named
#
# Environment:
#   FUZZ_SECONDS     time per target (default 60)
#   FUZZ_TARGET_DIR  cargo target dir (default fuzz/target)
#   FUZZ_SANITIZER   cargo fuzz --sanitizer (default none: the code under test
#                    has no `unsafe`, so ASan would only halve the speed)
#   FUZZ_KEEP_CORPUS a directory: merge what each run found into DIR/<target>
#
# Each run starts from a temporary copy of fuzz/corpus/<target> (the checked-in
# seeds stay as they are). A crash leaves its input under
# fuzz/artifacts/<target>/ with the log beside it; the script then exits 1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ_DIR="$ROOT/fuzz"
SECONDS_PER=${FUZZ_SECONDS:-60}
TARGET_DIR=${FUZZ_TARGET_DIR:-$FUZZ_DIR/target}
SANITIZER=${FUZZ_SANITIZER:-none}
ALL_TARGETS=(rtsp_request rtsp_server rtsp_response rtsp_pusher annexb_h264 annexb_h265 jpeg rtcp)

# Largest input per target: past each parser's limits, small enough to mutate fast.
max_len() {
    case "$1" in
        rtsp_request) echo 10000 ;; # Limits::default().max_head is 8192
        rtsp_server) echo 4096 ;;
        rtsp_response) echo 10000 ;; # past Limits::default().max_head (8192)
        rtsp_pusher) echo 4096 ;;
        annexb_h264 | annexb_h265) echo 4096 ;;
        jpeg) echo 8192 ;;
        rtcp) echo 1024 ;;
        *) echo 4096 ;;
    esac
}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# cargo fuzz needs nightly-only rustc flags. Without a nightly toolchain the
# stable one accepts them under RUSTC_BOOTSTRAP (it ships the sanitizer runtimes too).
TOOLCHAIN=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
    TOOLCHAIN=(+nightly)
else
    echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
fi

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=("${ALL_TARGETS[@]}")
fi

cd "$FUZZ_DIR"
FUZZ_ARGS=(--sanitizer "$SANITIZER" --target-dir "$TARGET_DIR")
echo "fuzz: building ${TARGETS[*]}" >&2
for t in "${TARGETS[@]}"; do
    cargo "${TOOLCHAIN[@]}" fuzz build "${FUZZ_ARGS[@]}" "$t" >&2
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/canmv-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

crashed=()
printf '%-14s %12s %10s %16s  %s\n' target runs runs/s "corpus (seeds)" result
for t in "${TARGETS[@]}"; do
    corpus="$WORK/$t"
    mkdir -p "$corpus"
    seeds=0
    if [ -d "$FUZZ_DIR/corpus/$t" ]; then
        cp -R "$FUZZ_DIR/corpus/$t/." "$corpus/"
        seeds=$(find "$corpus" -type f | wc -l)
    fi
    artifacts="$FUZZ_DIR/artifacts/$t"
    mkdir -p "$artifacts"
    log="$WORK/$t.log"
    rc=0
    # libFuzzer stops itself at max_total_time; the outer timeout only guards a wedged run.
    timeout --kill-after=30 $((SECONDS_PER + 120)) \
        cargo "${TOOLCHAIN[@]}" fuzz run "${FUZZ_ARGS[@]}" "$t" "$corpus" -- \
        -max_total_time="$SECONDS_PER" -rss_limit_mb=2048 -timeout=20 -max_len="$(max_len "$t")" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    size=$(find "$corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        cp "$log" "$artifacts/last-crash.log"
        result="CRASH (exit $rc): ${artifact:-no artifact written} (log: fuzz/artifacts/$t/last-crash.log)"
        crashed+=("$t")
    fi
    printf '%-14s %12s %10s %16s  %s\n' "$t" "${runs:-?}" "${speed:-?}" "$size ($seeds)" "$result"
    if [ "$rc" -ne 0 ]; then
        # The panic message and the input, for the report.
        grep -m1 -A3 -E "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log" | sed 's/^/    /' || true
        grep -m1 -A2 "^Base64:" "$log" | sed 's/^/    /' || true
    fi
    if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
        mkdir -p "$FUZZ_KEEP_CORPUS/$t"
        cp -R "$corpus/." "$FUZZ_KEEP_CORPUS/$t/"
    fi
done

if [ ${#crashed[@]} -gt 0 ]; then
    echo "fuzz: crashes in: ${crashed[*]}" >&2
    exit 1
fi
