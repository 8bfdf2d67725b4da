#!/bin/sh
# ci/qemu-test-runner.sh QEMU [QEMU-ARGS...] TEST-BINARY [ARGS...]: the cargo
# runner of the QEMU user-mode test part (ci/qemu-user-matrix.sh). Runs one
# test binary under QEMU with a time limit, and once more if it hangs.
#
# Why: qemu-user can deadlock a multi-threaded guest's fork — the child of a
# test that spawns mmkit sits in a futex before it ever reaches exec (seen
# once on armv5te: tests/edges.rs waited 12 minutes for such a child). That
# is the emulator, not mmkit: the same binary passes on the next run. A hang
# is reported on stderr, the binary's process group is killed (the stuck
# child with it) and the binary runs again; a second hang, or any failure,
# is the binary's result. A genuine failure is never retried.
#
# MMKIT_QEMU_TEST_TIMEOUT  seconds per run of one test binary (default 300; the longest binary takes under a minute)
limit=${MMKIT_QEMU_TEST_TIMEOUT:-300}
for attempt in 1 2; do
    # timeout runs the binary in its own process group and signals the
    # whole group: the hung child goes too.
    timeout -k 10 "$limit" "$@"
    rc=$?
    if [ "$rc" != 124 ] && [ "$rc" != 137 ]; then
        exit "$rc"
    fi
    echo "qemu-test-runner: $* did not finish in $limit s (attempt $attempt of 2; a qemu-user fork deadlock hangs a child before exec)" >&2
done
exit "$rc"
