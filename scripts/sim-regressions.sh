#!/usr/bin/env bash
# Replays each seed of sim/regressions.txt against the core as it is (it must
# pass) and against the core built with that seed's bug put back (it must fail).
#
#   scripts/sim-regressions.sh SIM_BIN SIM_DIR
set -euo pipefail
sim_bin=$1
sim_dir=$2
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
while read -r name feature seed days clients fps; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    env=(SIM_SEED="$seed" SIM_SEEDS=1 SIM_DAYS="$days" SIM_CLIENTS="$clients" SIM_FPS="$fps")
    if ! env "${env[@]}" "$sim_bin" >/dev/null; then
        echo "sim-regressions: $name: seed $seed fails on the core as it is" >&2
        status=1
        continue
    fi
    bug_target="$sim_dir/target-$feature"
    CARGO_TARGET_DIR="$bug_target" ${CARGO:-cargo} build --quiet --release --locked \
        --manifest-path sim/Cargo.toml --features "$feature"
    if env "${env[@]}" "$bug_target/release/canmv_rtsp-sim" >/dev/null 2>"$sim_dir/$name.log"; then
        echo "sim-regressions: $name: seed $seed passes with the bug put back ($feature): it no longer guards it" >&2
        status=1
        continue
    fi
    echo "sim-regressions: $name: seed $seed passes, and fails with the bug back: $(grep -m1 '^  ' "$sim_dir/$name.log" | sed 's/^ *//')"
done < sim/regressions.txt
exit $status
