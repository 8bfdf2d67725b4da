#!/usr/bin/env bash
# Runs every test of mmkit: formatting and lints, the host test suite (unit,
# integration, property, peer tests), the static cross builds, the QEMU
# user-mode matrix, the OpenWrt packages and the QEMU system boots.
#
#   ci/test-all.sh            everything (what .ci/run calls)
#   ci/test-all.sh host       only the host stages (fmt, clippy, cargo test)
#
# Installs the Debian packages it needs (ci/deps.sh). Prints one line per
# stage and a final "summary: N passed, M failed" line; exits non-zero when
# any stage fails.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ONLY=${1:-all}

# The rustup toolchain (host builds, clippy, rustfmt) lives in ~/.cargo/bin.
if [ -d "$HOME/.cargo/bin" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
bash ci/deps.sh || { echo "ci/deps.sh failed"; exit 1; }

# Build cache: a fresh clone (CI) has no target/; point it at a cache kept
# outside the clone so the std builds of earlier runs (build-std, one
# directory per target) are reused. A cold cache works too, only slower.
# MMKIT_BUILD_CACHE=none disables this.
CACHE=${MMKIT_BUILD_CACHE:-/var/cache/mmkit-build}
if [ "$CACHE" != none ] && [ ! -e target ] && mkdir -p "$CACHE/target" 2>/dev/null; then
    ln -s "$CACHE/target" target
    echo "build cache: target -> $CACHE/target"
fi

pass=0
fail=0
failed=()
stage() {
    local name=$1
    shift
    local t0=$SECONDS
    echo "=== stage $name: $*"
    if "$@"; then
        pass=$((pass + 1))
        echo "=== stage $name: PASS ($((SECONDS - t0)) s)"
    else
        fail=$((fail + 1))
        failed+=("$name")
        echo "=== stage $name: FAIL ($((SECONDS - t0)) s)"
    fi
}

stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --all-targets -- -D warnings
stage host-tests cargo test -- --include-ignored
if [ "$ONLY" = all ]; then
    stage cross-build bash ci/cross-build.sh
    stage mips-softfloat bash ci/mips-softfloat.sh
    stage musl-build bash ci/musl-build.sh
    stage size-budget bash -c 'bash ci/size-budget.sh --self-test >/dev/null && bash ci/size-budget.sh'
    stage qemu-user bash ci/qemu-user-matrix.sh
    stage openwrt bash openwrt/ci.sh
    stage qemu-system bash ci/qemu-system.sh
fi

echo
echo "stages failed: ${failed[*]:-none}; total time $((SECONDS)) s"
echo "summary: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
