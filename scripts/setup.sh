#!/usr/bin/env bash
# `make setup`: installs what the build, the demo and the tests need, and
# fetches the MicroPython source. Idempotent; only checks when all is present.
#
#   - Debian packages (apt-get, only when root; otherwise says what is missing)
#   - cbindgen (pinned, so the generated header is stable), nightly rust-src
#   - Python test dependencies (pytest, pyserial; matplotlib for make soak's plot)
#   - MicroPython source in .deps/micropython (or MICROPY_DIR)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

CBINDGEN_VERSION=0.29.4

debian_packages=(
    ffmpeg
    gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-rtsp
    gir1.2-gst-rtsp-server-1.0 gir1.2-gst-plugins-base-1.0 python3-gst-1.0
    gcc-riscv64-linux-gnu libc6-dev-riscv64-cross qemu-user
    valgrind dpkg-dev libffi-dev pkg-config xz-utils
    python3-pytest
)
# For the python3 on PATH, when it is not Debian's (Debian's gets python3-pytest).
# An entry is the module to import, or import=package when pip names it otherwise.
python_modules=(pytest serial=pyserial matplotlib)

missing_debian_packages() {
    local pkg status
    for pkg in "${debian_packages[@]}"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
        [[ $status == installed ]] || echo "$pkg"
    done
}

mapfile -t missing < <(missing_debian_packages)
if ((${#missing[@]} > 0)); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "Installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "Missing Debian packages (run 'make setup' as root, or install them): ${missing[*]}" >&2
    fi
fi

if ! command -v cargo >/dev/null; then
    echo "cargo not found: install Rust with rustup (stable and nightly toolchains)" >&2
    exit 1
fi

if ! cbindgen --version 2>/dev/null | grep -qF "$CBINDGEN_VERSION"; then
    echo "Installing cbindgen $CBINDGEN_VERSION"
    cargo install cbindgen --locked --version "$CBINDGEN_VERSION"
fi

if command -v rustup >/dev/null; then
    if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -qx 'rust-src'; then
        echo "Installing the nightly toolchain's rust-src (for make k230)"
        rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
        rustup component add rust-src --toolchain nightly
    fi
else
    echo "rustup not found: make k230 needs a nightly toolchain with rust-src" >&2
fi

for entry in "${python_modules[@]}"; do
    module=${entry%%=*}
    package=${entry#*=}
    if ! python3 -c "import $module" 2>/dev/null; then
        echo "Installing Python module $package for $(command -v python3)"
        python3 -m pip install --quiet "$package" || {
            echo "pip could not install $package: install it for $(command -v python3)" >&2
            exit 1
        }
    fi
done

scripts/fetch-micropython.sh
