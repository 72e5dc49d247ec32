#!/usr/bin/env bash
# Fetches Debian's `micropython` source package into .deps/micropython.
#
# The mirror is the one this machine's apt already uses; apt runs with a private
# sources list and list directory, so the system's apt configuration is never
# touched. MICROPY_DIR=/path/to/micropython skips all of this.
set -euo pipefail

suite=${MICROPY_SUITE:-trixie}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps=$repo_root/.deps
dest=$deps/micropython

if [[ -n ${MICROPY_DIR:-} ]]; then
    if [[ ! -f $MICROPY_DIR/py/mpconfig.h ]]; then
        echo "MICROPY_DIR=$MICROPY_DIR is not a MicroPython tree (no py/mpconfig.h)" >&2
        exit 1
    fi
    echo "Using MicroPython from MICROPY_DIR=$MICROPY_DIR"
    exit 0
fi

if [[ -f $dest/py/mpconfig.h ]]; then
    exit 0
fi

# The first non-security archive URI in the machine's own apt sources
# (deb822 `URIs:` lines first, then one-line `deb` entries).
mirror_uri() {
    local f line uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        while read -r line; do
            for uri in ${line#*:}; do
                [[ $uri == *security* ]] && continue
                echo "$uri"
                return 0
            done
        done < <(grep -iE '^[[:space:]]*URIs:' "$f")
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        # `deb [options] URI suite components`
        uri=$(sed -nE 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f" |
            grep -v security | head -n 1 || true)
        if [[ -n $uri ]]; then
            echo "$uri"
            return 0
        fi
    done
    return 1
}

uri=$(mirror_uri) || {
    echo "No Debian archive URI found in /etc/apt/sources.list{,.d}; set MICROPY_DIR=/path/to/micropython instead" >&2
    exit 1
}

apt_dir=$deps/apt
download=$deps/micropython-src
mkdir -p "$apt_dir/lists/partial" "$download"
echo "deb-src $uri $suite main" >"$apt_dir/sources.list"

apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "APT::Get::List-Cleanup=0"
)
# As root, apt would drop to its _apt user, who cannot write into this tree.
if [[ $(id -u) -eq 0 ]]; then
    apt_opts+=(-o "APT::Sandbox::User=root")
fi

echo "Fetching the micropython source package ($suite) from the machine's apt mirror"
apt-get "${apt_opts[@]}" -qq update
(cd "$download" && apt-get "${apt_opts[@]}" -qq source --download-only micropython)

orig=$(ls "$download"/micropython_*.orig.tar.* 2>/dev/null | head -n 1 || true)
if [[ -z $orig ]]; then
    echo "apt-get source gave no micropython orig tarball in $download" >&2
    exit 1
fi

# Unpack the upstream tree (Debian's patches only concern its own packaging).
tmp=$(mktemp -d "$deps/unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xf "$orig" -C "$tmp"
top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
if [[ ! -f $top/py/mpconfig.h ]]; then
    echo "$orig does not hold a MicroPython tree" >&2
    exit 1
fi
rm -rf "$dest"
mv "$top" "$dest"
echo "MicroPython source ready in $dest ($(basename "$orig"))"
