# shellcheck shell=dash
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

# run CMD...: runs CMD; sets RC, OUT (stdout) and ERR (stderr on one line).
run() {
    OUT=$("$@" 2>/tmp/.stderr)
    RC=$?
    ERR=$(tr '\n' ' ' </tmp/.stderr | cut -c1-400)
}

# contains HAYSTACK NEEDLE (case-insensitive)
contains() {
    printf '%s' "$1" | grep -qiF -- "$2"
}

# hexeq A B: A and B are numbers (0x.. or decimal) with the same value.
hexeq() {
    case $1 in '' | *[!0-9a-fA-FxX]*) return 1 ;; esac
    case $2 in '' | *[!0-9a-fA-FxX]*) return 1 ;; esac
    [ $(($1)) -eq $(($2)) ]
}

# hex N WIDTH: N formatted the way busybox devmem prints WIDTH bits.
hex() {
    printf "0x%0$(($2 / 4))X" "$(($1))"
}

# devmem_agree NAME ADDR WIDTH WANT: mmkit and busybox devmem print the same
# text for a read, and it is the value WANT.
devmem_agree() {
    name=$1
    a=$(hex "$2" 32)
    w=$3
    want=$(hex "$4" "$w")
    run busybox devmem "$a" "$w"
    bb=$OUT
    bbrc=$RC
    run mmkit devmem "$a" "$w"
    if [ "$RC" = 0 ] && [ "$bbrc" = 0 ] && [ "$OUT" = "$bb" ] && [ "$OUT" = "$want" ]; then
        pass "$name" "devmem $a $w: mmkit $OUT = busybox $bb = expected $want"
    else
        fail "$name" "devmem $a $w: mmkit '$OUT' (exit $RC, $ERR) busybox '$bb' (exit $bbrc) expected $want"
    fi
}

# dead_address ADDR TEXT: at a physical address where no device answers,
# busybox devmem dies of SIGBUS while mmkit reports the bus error (naming
# TEXT, the address as it prints it) and exits 7, for a read and a write.
dead_address() {
    run busybox devmem "$1" 32
    if [ "$RC" = "$SIGBUS_RC" ]; then
        pass dead-addr-busybox "busybox devmem $1: killed by SIGBUS (exit $RC), as expected"
    else
        fail dead-addr-busybox "busybox devmem $1: exit $RC, want $SIGBUS_RC (SIGBUS); out '$OUT' err '$ERR'"
    fi
    run mmkit devmem "$1" 32
    if [ "$RC" = 7 ] && contains "$ERR" "bus error" && contains "$ERR" "$2"; then
        pass dead-addr-mmkit "exit 7: $ERR"
    else
        fail dead-addr-mmkit "exit $RC (want 7 and a bus-error message naming the address): out '$OUT' err '$ERR'"
    fi
    run mmkit devmem "$1" 32 0x1
    if [ "$RC" = 7 ]; then
        pass dead-addr-mmkit-write "write: exit 7: $ERR"
    else
        fail dead-addr-mmkit-write "write: exit $RC (want 7): out '$OUT' err '$ERR'"
    fi
}

# md_agree NAME ADDR LEN WIDTH: `mmkit md -w WIDTH ADDR+LEN` shows, value by
# value, what busybox devmem reads at WIDTH bits (line layout:
# "ADDR: v v v v  ascii").
md_agree() {
    name=$1
    a=$(hex "$2" 32)
    len=$3
    w=$4
    want=""
    off=0
    while [ $off -lt "$len" ]; do
        run busybox devmem "$(hex $(($2 + off)) 32)" "$w"
        want="$want $((OUT))"
        off=$((off + w / 8))
    done
    run mmkit md -w "$w" "$a+$len"
    mdrc=$RC
    got=""
    # the values: fields after "ADDR:" up to the ASCII column (two spaces)
    vals=$(printf '%s\n' "$OUT" | sed -n 's/^[0-9a-fA-F]*: \(.*\)$/\1/p' | sed 's/  .*$//')
    for v in $vals; do
        got="$got $((0x$v))"
    done
    if [ "$mdrc" = 0 ] && [ -n "$got" ] && [ "$got" = "$want" ]; then
        pass "$name" "md -w $w $a+$len = busybox devmem reads:$want"
    else
        fail "$name" "md -w $w $a+$len (exit $mdrc): got$got, busybox:$want; output: $(printf '%s' "$OUT" | tr '\n' '|') $ERR"
    fi
}

# accesses NAME WANT CMD...: the register accesses the mmkit command CMD
# makes, as its `trace` test hook lists them (`R|W ADDR WIDTH`, joined with
# ", "), are exactly WANT, and it exits 0.
accesses() {
    name=$1
    want=$2
    shift 2
    run env MMKIT_REGS_TEST=trace "$@"
    got=$(sed -n 's/^mmkit-trace: //p' /tmp/.stderr | tr '\n' ',' | sed 's/,$//; s/,/, /g')
    if [ "$RC" = 0 ] && [ "$got" = "$want" ]; then
        pass "$name" "$*: $got"
    else
        fail "$name" "$*: exit $RC, accesses '$got', want '$want': $ERR"
    fi
}

# ignored_write NAME ADDR VALUE READS: write VALUE to a register that ignores
# writes and always reads READS. busybox and mmkit write once and exit 0
# (nothing is read back); `mmkit devmem --verify` reads READS back, exit 9.
ignored_write() {
    a=$(hex "$2" 32)
    run busybox devmem "$a" 32 "$3"
    bbrc=$RC
    run mmkit devmem "$a" 32 "$3"
    if [ "$bbrc" = 0 ] && [ "$RC" = 0 ] && [ -z "$OUT" ]; then
        pass "$1-write" "devmem $a 32 $3: mmkit exit 0, no output, as busybox (no read-back)"
    else
        fail "$1-write" "devmem $a 32 $3: mmkit exit $RC '$OUT' ($ERR), busybox exit $bbrc; want 0 and no output from both"
    fi
    run mmkit devmem --verify "$a" 32 "$3"
    if [ "$RC" = 9 ] && contains "$ERR" "read back $(hex "$4" 32)"; then
        pass "$1-verify" "devmem --verify $a 32 $3: exit 9: $ERR"
    else
        fail "$1-verify" "devmem --verify $a 32 $3: exit $RC, want 9 and 'read back $(hex "$4" 32)': $ERR"
    fi
}
