#!/usr/bin/env bash
# ci/mips-softfloat/runner.sh: a MMKIT_TEST_RUNNER that runs the host-built
# integration tests against another mmkit binary, e.g. the soft-float musl
# build under an FPU-less CPU:
#
#   MMKIT_SF_EXEC="qemu-mipsel-static -cpu 24Kc $PWD/dist/mipsel-unknown-linux-musl/mmkit" \
#   MMKIT_TEST_RUNNER=$PWD/ci/mips-softfloat/runner.sh cargo test --tests
#
# tests/common/mod.rs spawns `RUNNER <host mmkit> ARGS...`: the host binary
# (first argument) is dropped and MMKIT_SF_EXEC (split on blanks) runs ARGS.
set -euo pipefail
[ -n "${MMKIT_SF_EXEC:-}" ] || {
    echo "runner.sh: set MMKIT_SF_EXEC (e.g. 'qemu-mipsel-static -cpu 24Kc /path/mmkit')" >&2
    exit 125
}
shift
read -ra cmd <<<"$MMKIT_SF_EXEC"
exec "${cmd[@]}" "$@"
