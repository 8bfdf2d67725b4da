# Helpers for the guest checks (busybox ash). Sourced by /init.

# result STATUS NAME DETAIL...: one machine-readable line for the host.
result() {
    st=$1
    nm=$2
    shift 2
    echo "MMKIT-RESULT $st $nm $*"
}
pass() { result PASS "$@"; }
fail() { result FAIL "$@"; }
skip() { result SKIP "$@"; }

# run CMD...: runs CMD; sets RC, OUT (stdout, trimmed) and ERR (stderr on one line).
run() {
    OUT=$("$@" 2>/tmp/.stderr)
    RC=$?
    ERR=$(tr '\n' ' ' </tmp/.stderr | cut -c1-300)
}

# check NAME COND-DESCRIPTION: pass if the previous `test` succeeded.
# usage: if [ ... ]; then pass n d; else fail n d; fi  -- ok() wraps that.
ok() {
    name=$1
    detail=$2
    shift 2
    if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}

# hexeq A B: true if A and B are the same number (0x.. or decimal).
hexeq() {
    [ -n "$1" ] && [ -n "$2" ] && [ $(($1)) -eq $(($2)) ] 2>/dev/null
}
