#!/usr/bin/env bash
# ci/qemu-user-matrix.sh [PART...]: mmkit on emulated CPUs (qemu-user-static).
#
# Parts (default: all, in this order):
#   controls   negative controls (ci/controls): naive pointer-cast decoding,
#              a store into an unbacked mapping, a read past EOF must die of
#              SIGBUS where the CPU punishes them; mmkit on the same inputs
#              must not. This is what proves the matrix can fail.
#   scenario   gen -> split -> check -> join on seed/pcap/custom layouts,
#              both endians, odd layouts, on every target; every target's
#              generated file and pieces must be byte-identical to x86_64's.
#              Streams: some of those files fed through a pipe to `split -`
#              (--size, --records, --write mmap): the pieces must be those of
#              a file split, check clean, join back identical, and equal
#              x86_64's. pcapng: committed fixtures (two interfaces, big-
#              endian, two sections, DSB, ISB, mixed byte orders) split as a
#              file and from a pipe, checked, joined back identical, and a
#              copy cut inside a block recovered; all of it equal to x86_64's.
#   big        32-bit large files: on mipsel and armv7, check, split a 4200M
#              sparse generated file and join it back identical (cmp), with
#              pread + copy_file_range, and with mmap when the emulator can
#              map beyond 4 GiB (probe: mmkit-controls mmap-high); copy it
#              with --method read and with copy_file_range's pread/pwrite
#              fallback (MMKIT_NO_COPY_RANGE=1), cmp identical.
#   soak       ci/soak.sh quick (SOAK_QUICK=1) on mipsel: a steady pcap
#              producer into `split - --ring 2 --exec gzip` for 20 wraps,
#              every record back in order, at most ring + 1 pieces on disk,
#              SIGHUP exit 129 (and, as root, a full tmpfs: exit 5)
#   tests      the crate's test suite (unit + integration) built for mips,
#              mipsel, armv5te and armv7 and run under qemu-user, with the
#              integration tests spawning the binary under QEMU as well.
#
# Prints one PASS/FAIL/SKIP line per check and "N passed, M failed" last;
# exits 1 when anything failed.
#
# Environment:
#   MMKIT_DIST           dist dir from ci/cross-build.sh (default <repo>/dist);
#                        missing binaries are built by calling it
#   MMKIT_MATRIX_TMP     scratch dir (default <repo>/target/qemu-matrix)
#   MMKIT_MATRIX_TMPFS=1 mount a tmpfs on the scratch dir for the big part
#                        (needs ~9 GB of RAM; default: use the disk)
#   MMKIT_MATRIX_TARGETS targets of the scenario/controls (default: all six;
#                        armv7-unknown-linux-musleabihf, built by
#                        ci/musl-build.sh, may be added to the scenario)
#   MMKIT_TEST_TARGETS   targets of the tests part (default: mips mipsel
#                        armv5te armv7)
#   MMKIT_BIG_SIZE       size of the big file (default 4200M)
#   MMKIT_BIG_ONLY=copy  big part: only the copy checks (copy --method read and
#                        the pread/pwrite fallback of copy_file_range)
#   MMKIT_BIG_COPY_TIMEOUT  seconds allowed per big copy (default 900)
#   MMKIT_QEMU_TEST_TIMEOUT seconds per run of one test binary in the tests part
#                        (default 300; a hung binary runs once more: ci/qemu-test-runner.sh)
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=${MMKIT_DIST:-$REPO/dist}
TMP=${MMKIT_MATRIX_TMP:-$REPO/target/qemu-matrix}
BIG_SIZE=${MMKIT_BIG_SIZE:-4200M}
ALL_TARGETS=(
    x86_64-unknown-linux-gnu
    mips-unknown-linux-gnu
    mipsel-unknown-linux-gnu
    armv5te-unknown-linux-gnueabi
    armv7-unknown-linux-gnueabihf
    aarch64-unknown-linux-gnu
)
REF=x86_64-unknown-linux-gnu
read -ra TARGETS <<<"${MMKIT_MATRIX_TARGETS:-${ALL_TARGETS[*]}}"
read -ra TEST_TARGETS <<<"${MMKIT_TEST_TARGETS:-mips-unknown-linux-gnu mipsel-unknown-linux-gnu armv5te-unknown-linux-gnueabi armv7-unknown-linux-gnueabihf}"
PARTS=("$@")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(controls scenario big soak tests)

# No core files from QEMU or from the controls.
ulimit -c 0

npass=0
nfail=0
nskip=0
pass() {
    npass=$((npass + 1))
    printf 'PASS %s: %s\n' "$1" "$2"
}
fail() {
    nfail=$((nfail + 1))
    printf 'FAIL %s: %s\n' "$1" "$2"
}
skip() {
    nskip=$((nskip + 1))
    printf 'SKIP %s: %s\n' "$1" "$2"
}
log() { printf 'qemu-user-matrix: %s\n' "$*" >&2; }

short() { # short name of a target
    case $1 in
    mips-*) echo mips ;;
    mipsel-*) echo mipsel ;;
    armv5te-*) echo armv5te ;;
    armv7-*-musl*) echo armv7-musl ;;
    armv7-*) echo armv7 ;;
    aarch64-*) echo aarch64 ;;
    x86_64-*) echo x86_64 ;;
    *) echo "$1" ;;
    esac
}

# runner TARGET: the command prefix that runs a TARGET binary here
runner() {
    case $1 in
    mips-*) echo qemu-mips-static ;;
    mipsel-*) echo qemu-mipsel-static ;;
    armv5te-*) echo "qemu-arm-static -cpu arm926" ;;
    armv7-*) echo "qemu-arm-static -cpu cortex-a7" ;;
    aarch64-*) echo qemu-aarch64-static ;;
    *) echo "" ;;
    esac
}

# SIGBUS: qemu-user re-raises the guest's fatal signal as the host signal,
# so the shell sees 128 + 7 on the x86_64 host for every guest.
SIGBUS_RC=135

# ------------------------------------------------------------------ setup
# ensure_apt comes from ci/lib.sh
ensure_apt qemu-user-static coreutils diffutils

# ensure_dist [--no-controls] TARGET...: build what is missing from dist/
ensure_dist() {
    local need=() musl=0 t controls=1
    if [ "${1:-}" = --no-controls ]; then
        controls=0
        shift
    fi
    for t in "$@"; do
        if [ ! -x "$DIST/$t/mmkit" ] || { [ $controls = 1 ] && [ ! -x "$DIST/$t/mmkit-controls" ]; }; then
            case $t in
            armv7-unknown-linux-musleabihf) musl=1 ;;
            *) need+=("$t") ;;
            esac
        fi
    done
    if [ ${#need[@]} -gt 0 ]; then
        log "building ${need[*]} with ci/cross-build.sh"
        MMKIT_DIST=$DIST bash "$REPO/ci/cross-build.sh" "${need[@]}" >&2
    fi
    if [ $musl = 1 ]; then
        log "building armv7-unknown-linux-musleabihf with ci/musl-build.sh"
        MMKIT_DIST=$DIST bash "$REPO/ci/musl-build.sh" armv7-unknown-linux-musleabihf >&2
    fi
}

mkdir -p "$TMP"
TMP=$(cd "$TMP" && pwd)

# run_t TARGET PROG ARGS...: run a dist binary of TARGET; sets RC, OUT (stdout
# and stderr, one line) and OUT_FULL (the same, untouched) without failing the
# script.
run_t() {
    local t=$1 prog=$2 r
    shift 2
    r=$(runner "$t")
    # RUN_TIMEOUT=SECS: kill a run that takes longer (exit 124), e.g. a
    # copy that would loop forever.
    [ -n "${RUN_TIMEOUT:-}" ] && r="timeout $RUN_TIMEOUT $r"
    set +e
    # shellcheck disable=SC2086 # the runner is a word list on purpose
    if [ -n "${RUN_STDIN:-}" ]; then
        OUT=$($r "$DIST/$t/$prog" "$@" 2>&1 < <(cat -- "$RUN_STDIN"))
    else
        OUT=$($r "$DIST/$t/$prog" "$@" 2>&1)
    fi
    RC=$?
    set -e
    OUT_FULL=$OUT
    OUT=$(printf '%s' "$OUT" | tr '\n' ' ' | cut -c1-300)
}

# run_t_in IN TARGET PROG ARGS...: run_t with standard input a pipe that IN
# is fed through (as `cat IN | PROG`, so PROG sees a pipe, not the regular
# file `<IN` would give it; RC and OUT are PROG's).
run_t_in() {
    if [ ! -r "$1" ]; then
        RC=127
        OUT="run_t_in: cannot read $1"
        return 0
    fi
    local RUN_STDIN=$1
    shift
    run_t "$@"
}

# first_diff A B: cmp's first line about A and B; never fails (a failing
# command substitution in an assignment would end the script under set -e)
first_diff() {
    cmp "$1" "$2" 2>&1 | head -1 || true
}

# check_why: after a `check` run, the files it did not find clean and their
# problem lines (not the reports of the clean ones), else OUT
check_why() {
    local w
    w=$(printf '%s\n' "$OUT_FULL" | awk '/^[^ ].*: / && !/: OK$/ {print} /^  problem:/ {print}' |
        tr '\n' ' ' | cut -c1-300 || true)
    printf '%s\n' "${w:-$OUT}"
}

# ------------------------------------------------------------- controls
part_controls() {
    ensure_dist "${TARGETS[@]}"
    local d=$TMP/controls t s
    rm -rf "$d"
    mkdir -p "$d"
    # a seed file with a 137-byte header: every record starts at an odd
    # offset, the first magic is at 137, the first length at 145 (1 mod 8)
    "$DIST/$REF/mmkit" -q gen "$d/odd.seed" --layout seed --header-len 137 \
        --size 256K --min-payload 1 --max-payload 999 --seed 3
    # a file whose last page is partial
    head -c 10000 "$d/odd.seed" >"$d/partial.bin"
    for t in "${TARGETS[@]}"; do
        s=$(short "$t")
        local cdir=$d/$s
        mkdir -p "$cdir"

        # (a) u32 by pointer cast at an odd offset: MIPS `lw` traps.
        run_t "$t" mmkit-controls u32-safe "$d/odd.seed" 137
        local safe=$OUT safe_rc=$RC
        if [ "$safe_rc" = 0 ] && [ -n "$safe" ]; then
            pass "$s control-u32-safe" "read_unaligned at offset 137 survives ($safe)"
        else
            fail "$s control-u32-safe" "read_unaligned at 137 must survive: exit $RC $OUT"
        fi
        run_t "$t" mmkit-controls u32 "$d/odd.seed" 137
        case $s in
        mips | mipsel) expect_bus "$s control-u32-odd" "u32 pointer cast at offset 137" ;;
        *) expect_same "$s control-u32-odd" "u32 pointer cast at offset 137" "$safe" ;;
        esac

        # (b) u64 by pointer cast: LDRD needs word alignment on ARMv7 (and
        # doubleword alignment on ARMv5TE); MIPS32 uses two `lw`.
        run_t "$t" mmkit-controls u64-safe "$d/odd.seed" 138
        safe=$OUT
        run_t "$t" mmkit-controls u64 "$d/odd.seed" 138
        case $s in
        mips | mipsel | armv5te | armv7) expect_bus "$s control-u64-2mod8" "u64 pointer cast at offset 138" ;;
        *) expect_same "$s control-u64-2mod8" "u64 pointer cast at offset 138" "$safe" ;;
        esac
        run_t "$t" mmkit-controls u64-safe "$d/odd.seed" 140
        safe=$OUT
        run_t "$t" mmkit-controls u64 "$d/odd.seed" 140
        # At 4 mod 8 it survives everywhere under qemu-user 7.2: ARMv7 LDRD
        # needs only word alignment, and QEMU does not model ARMv5TE's
        # doubleword rule (real ARMv5 hardware may trap or fix it up).
        expect_same "$s control-u64-4mod8" "u64 pointer cast at offset 140 (4-byte aligned)" "$safe"

        # (c) store into a mapping of a fresh empty file (no ftruncate).
        run_t "$t" mmkit-controls empty-write "$cdir/empty.out"
        expect_bus "$s control-empty-write" "store into a mapping of a 0-byte file"
        # (d) read the first page wholly past EOF.
        run_t "$t" mmkit-controls past-eof "$d/partial.bin"
        expect_bus "$s control-past-eof" "read one page past EOF of a 10000-byte file"

        # mmkit on the same inputs: no bus error.
        run_t "$t" mmkit -q check --layout seed --header-len 137 "$d/odd.seed"
        expect_rc "$s mmkit-check-odd" "mmkit check of the 137-byte-header file" 0
        mkdir -p "$cdir/pieces"
        run_t "$t" mmkit -q split "$d/odd.seed" -o "$cdir/pieces" --size 40K --write mmap \
            --layout seed --header-len 137
        expect_rc "$s mmkit-split-odd-mmap" "mmkit split --write mmap of the same file" 0
        run_t "$t" mmkit -q copy --method mmap "$d/odd.seed" "$cdir/copy.out"
        if [ "$RC" = 0 ] && cmp -s "$d/odd.seed" "$cdir/copy.out"; then
            pass "$s mmkit-copy-mmap" "copy --method mmap to a new file: exit 0, identical"
        else
            fail "$s mmkit-copy-mmap" "copy --method mmap to a new file: exit $RC $OUT"
        fi
        : >"$cdir/empty.src"
        run_t "$t" mmkit -q copy --method mmap "$cdir/empty.src" "$cdir/empty.copy"
        if [ "$RC" = 0 ] && [ -f "$cdir/empty.copy" ] && [ ! -s "$cdir/empty.copy" ]; then
            pass "$s mmkit-copy-mmap-empty" "copy --method mmap of a 0-byte file: exit 0, empty output"
        else
            fail "$s mmkit-copy-mmap-empty" "copy --method mmap of a 0-byte file: exit $RC $OUT"
        fi
        run_t "$t" mmkit -q check --layout seed --header-len 137 "$d/partial.bin"
        expect_rc "$s mmkit-check-truncated" "mmkit check of the file cut at 10000 bytes (malformed, no SIGBUS)" 3
    done
}

expect_bus() { # NAME WHAT (uses RC, OUT)
    if [ "$RC" = "$SIGBUS_RC" ]; then
        pass "$1" "$2: killed by SIGBUS (exit $RC)"
    elif [ "$RC" = 0 ]; then
        fail "$1" "$2: SURVIVED (exit 0: $OUT); the matrix expected SIGBUS"
    else
        fail "$1" "$2: exit $RC ($OUT), want $SIGBUS_RC (SIGBUS)"
    fi
}
expect_same() { # NAME WHAT SAFE-OUTPUT: survives with read_unaligned's value
    if [ "$RC" = 0 ] && [ "$OUT" = "$3" ]; then
        pass "$1" "$2: survives here, same value as read_unaligned ($OUT)"
    else
        fail "$1" "$2: exit $RC '$OUT', want survival with '$3'"
    fi
}
expect_rc() { # NAME WHAT RC
    if [ "$RC" = "$3" ]; then
        pass "$1" "$2: exit $RC"
    else
        fail "$1" "$2: exit $RC ($OUT), want $3"
    fi
}

# ------------------------------------------------------------- scenario
# name|gen flags|split size|layout flags for split/check/join
CASES=(
    "seed-le|--layout seed --size 3M --seed 11|700K|--layout seed"
    "seed-be|--layout seed --endian be --size 3M --seed 12|700K|--layout seed --endian be"
    "seed-odd|--layout seed --header-len 137 --min-payload 1 --max-payload 999 --size 2M --seed 13|333K|--layout seed --header-len 137"
    "seed-odd-be|--layout seed --endian be --header-len 137 --min-payload 1 --max-payload 999 --size 2M --seed 14|333K|--layout seed --endian be --header-len 137"
    "pcap-le|--layout pcap --size 3M --seed 15|1M|--layout pcap"
    "pcap-be|--layout pcap --endian be --size 3M --seed 16|1M|--layout pcap"
    "pcap-odd|--layout pcap --min-payload 1 --max-payload 333 --size 2M --seed 17|250001|--layout pcap"
    "custom-odd|--layout custom --header-len 5 --rec-header-len 7 --len-offset 3 --len-width 2 --len-endian be --no-magic --min-payload 1 --max-payload 777 --size 1M --seed 18|100001|--layout custom --header-len 5 --rec-header-len 7 --len-offset 3 --len-width 2 --len-endian be --no-magic"
)

# Streams (issue 12): a CASES input fed through a pipe to `split -`.
# id|name of the CASES entry (its gen and layout flags)|split flags
STREAM_CASES=(
    "seed-le-size|seed-le|--size 700K"
    "seed-be-size|seed-be|--size 700K"
    "seed-be-records|seed-be|--records 400"
    "seed-odd-be-mmap|seed-odd-be|--size 333K --write mmap"
    "pcap-le-mmap|pcap-le|--size 1M --write mmap"
    "pcap-be-size|pcap-be|--size 1M"
    "pcap-be-records|pcap-be|--size 1M --records 500"
    "custom-odd-size|custom-odd|--size 100001"
)

# pcapng (issue 13): committed fixtures (tests/pcapng/make-fixtures.sh; every
# SHB there says Section Length -1, so a join must be byte-identical).
# fixture|split flags (file and stream)|extra flags of a second stream split
PCAPNG_FIXTURES=$REPO/tests/pcapng/fixtures
PCAPNG_CASES=(
    "two-interfaces|--size 4K|"              # mergecap: Ethernet us + Raw IP ns
    "big-endian|--size 4K --write mmap|"     # big-endian section
    "multi-section|--size 5000|--records 4"  # two SHBs: the prefix changes mid-file
    "secrets|--size 3K|"                     # DSB: repeated in every piece's prefix
    "isb|--size 2500|--records 3"            # ISBs at the end
    "mixed-endian|--size 4K|"                # LE section (with DSB), then a BE one
)

# pieces_of DIR: the pieces in DIR (not the manifest), sorted, into PIECES
pieces_of() {
    mapfile -t PIECES < <(find "$1" -type f ! -name "*.manifest" | LC_ALL=C sort)
}

# same_pieces DIR-A DIR-B: the pieces of A and B have the same contents in the
# same order (names aside)
same_pieces() {
    local a b
    a=$(cd "$1" && find . -type f ! -name "*.manifest" | LC_ALL=C sort | xargs -r sha256sum | cut -c1-64)
    b=$(cd "$2" && find . -type f ! -name "*.manifest" | LC_ALL=C sort | xargs -r sha256sum | cut -c1-64)
    [ -n "$a" ] && [ "$a" = "$b" ]
}

# stream_names DIR PREFIX EXT: every piece in DIR is PREFIX.NNNNNN.EXT, numbered
# from 000000 without a gap
stream_names() {
    local n=0 p
    pieces_of "$1"
    for p in "${PIECES[@]}"; do
        [ "${p##*/}" = "$(printf '%s.%06d.%s' "$2" "$n" "$3")" ] || return 1
        n=$((n + 1))
    done
    [ $n -gt 0 ]
}

# vs_ref LABEL REL WHAT: this target's $TMP/scenario/<s>/REL/sums must equal
# x86_64's (S is the target's short name)
vs_ref() {
    local ref mine=$TMP/scenario/$s/$2/sums
    ref=$TMP/scenario/$(short "$REF")/$2/sums
    if [ ! -f "$ref" ]; then
        fail "$1 = x86_64" "no x86_64 reference run"
    elif cmp -s "$ref" "$mine"; then
        pass "$1 = x86_64" "$3 byte-identical to x86_64 (sha256 of $(wc -l <"$mine") files)"
    else
        fail "$1 = x86_64" "checksums differ from x86_64: $(diff "$ref" "$mine" | head -4 | tr '\n' ' ')"
    fi
}

# scenario_stream TARGET ID CASE SPLIT-FLAGS: gen CASE's file, `cat in.rec |
# mmkit split - --prefix st` it, check, join (cmp identical), and compare the
# pieces with a file split of the same bytes with the same flags.
scenario_stream() {
    local t=$1 id=$2 base=$3 sflags=$4 c name gflags psize lflags='' found=0 ext
    for c in "${CASES[@]}"; do
        IFS='|' read -r name gflags psize lflags <<<"$c"
        if [ "$name" = "$base" ]; then
            found=1
            break
        fi
    done
    if [ $found = 0 ]; then
        fail "$s stream $id" "no case $base in CASES"
        return 0
    fi
    case " $lflags " in
    *" --layout pcap "*) ext=pcap ;;
    *) ext=dat ;;
    esac
    local d=$TMP/scenario/$s/stream-$id ok=1 why=''
    mkdir -p "$d/stream" "$d/file"
    # shellcheck disable=SC2086 # flag lists
    {
        run_t "$t" mmkit -q gen "$d/in.rec" $gflags
        [ "$RC" = 0 ] || { ok=0; why="gen: exit $RC $OUT"; }
        if [ $ok = 1 ]; then
            run_t_in "$d/in.rec" "$t" mmkit -q split - --prefix st -o "$d/stream" $sflags $lflags
            [ "$RC" = 0 ] || { ok=0; why="cat in.rec | split - $sflags: exit $RC $OUT"; }
        fi
        PIECES=()
        if [ $ok = 1 ]; then
            pieces_of "$d/stream"
            if [ ${#PIECES[@]} -lt 2 ]; then
                ok=0
                why="split - made ${#PIECES[@]} pieces, want >= 2"
            elif ! stream_names "$d/stream" st "$ext"; then
                ok=0
                why="stream pieces not named st.NNNNNN.$ext from 000000: ${PIECES[*]##*/}"
            fi
        fi
        local streamed=("${PIECES[@]}")
        if [ $ok = 1 ]; then
            run_t "$t" mmkit -q split "$d/in.rec" -o "$d/file" $sflags $lflags
            [ "$RC" = 0 ] || { ok=0; why="split FILE $sflags: exit $RC $OUT"; }
        fi
        if [ $ok = 1 ] && ! same_pieces "$d/file" "$d/stream"; then
            ok=0
            why="stream pieces differ from a file split of the same bytes ($sflags)"
        fi
        if [ $ok = 1 ]; then
            run_t "$t" mmkit -q check $lflags "${streamed[@]}"
            [ "$RC" = 0 ] || { ok=0; why="check of the stream pieces: exit $RC $(check_why)"; }
        fi
        if [ $ok = 1 ]; then
            run_t "$t" mmkit -q join $lflags "${streamed[@]}" -o "$d/joined.rec"
            [ "$RC" = 0 ] || { ok=0; why="join of the stream pieces: exit $RC $OUT"; }
        fi
    }
    if [ $ok = 1 ] && ! cmp -s "$d/in.rec" "$d/joined.rec"; then
        ok=0
        why="joined stream pieces differ from the input: $(first_diff "$d/in.rec" "$d/joined.rec")"
    fi
    if [ $ok = 0 ]; then
        fail "$s stream $id" "$why"
        return 0
    fi
    (cd "$d" && sha256sum in.rec "${streamed[@]#"$d"/}") >"$d/sums"
    pass "$s stream $id" "cat | split - $sflags: ${#streamed[@]} pieces = file split's, check, join identical"
    [ "$t" = "$REF" ] || vs_ref "$s stream $id" "stream-$id" "input and stream pieces"
}

# scenario_pcapng TARGET FIXTURE SPLIT-FLAGS EXTRA: split the fixture as a file
# and from a pipe (the same pieces), and once more from a pipe with EXTRA
# flags too; check and join every set (cmp identical: the fixtures' SHBs say
# -1); recover a copy cut inside a block; compare all outputs with x86_64's.
scenario_pcapng() {
    local t=$1 fx=$2 sflags=$3 extra=$4 in=$PCAPNG_FIXTURES/$2.pcapng
    local d=$TMP/scenario/$s/pcapng-$2 ok why kind dir n=0 sets=() cut size
    if [ ! -f "$in" ]; then
        fail "$s pcapng $fx" "fixture $in is missing"
        return 0
    fi
    mkdir -p "$d/file" "$d/stream"
    sets=(file stream)
    if [ -n "$extra" ]; then
        mkdir -p "$d/stream-extra"
        sets+=(stream-extra)
    fi
    local all=1
    for kind in "${sets[@]}"; do
        ok=1 why=''
        dir=$d/$kind
        # shellcheck disable=SC2086 # flag lists
        case $kind in
        file) run_t "$t" mmkit -q split "$in" -o "$dir" $sflags ;;
        stream) run_t_in "$in" "$t" mmkit -q split - --prefix ng -o "$dir" $sflags ;;
        stream-extra) run_t_in "$in" "$t" mmkit -q split - --prefix ng -o "$dir" $sflags $extra ;;
        esac
        [ "$RC" = 0 ] || { ok=0; why="split: exit $RC $OUT"; }
        PIECES=()
        if [ $ok = 1 ]; then
            pieces_of "$dir"
            n=${#PIECES[@]}
            [ "$n" -ge 2 ] || { ok=0; why="split made $n pieces, want >= 2"; }
        fi
        if [ $ok = 1 ] && [ "$kind" != file ] && ! stream_names "$dir" ng pcapng; then
            ok=0
            why="stream pieces not named ng.NNNNNN.pcapng from 000000: ${PIECES[*]##*/}"
        fi
        if [ $ok = 1 ] && [ "$kind" = stream ] && ! same_pieces "$d/file" "$dir"; then
            ok=0
            why="stream pieces differ from the file split's"
        fi
        if [ $ok = 1 ]; then
            run_t "$t" mmkit -q check "${PIECES[@]}"
            [ "$RC" = 0 ] || { ok=0; why="check of the pieces: exit $RC $(check_why)"; }
        fi
        if [ $ok = 1 ]; then
            run_t "$t" mmkit -q join "${PIECES[@]}" -o "$d/joined-$kind.pcapng"
            [ "$RC" = 0 ] || { ok=0; why="join: exit $RC $OUT"; }
        fi
        if [ $ok = 1 ] && ! cmp -s "$in" "$d/joined-$kind.pcapng"; then
            ok=0
            why="joined file differs from the fixture: $(first_diff "$in" "$d/joined-$kind.pcapng")"
        fi
        local how="split $fx.pcapng $sflags"
        [ "$kind" = file ] || how="cat $fx.pcapng | split - $sflags"
        [ "$kind" = stream-extra ] && how="$how $extra"
        if [ $ok = 1 ]; then
            pass "$s pcapng $fx $kind" "$how: $n pieces, check, join cmp identical"
        else
            fail "$s pcapng $fx $kind" "$how: $why"
            all=0
        fi
    done

    # recover: cut at an odd offset, so inside a block (blocks are 4-aligned)
    ok=1 why=''
    size=$(stat -c %s "$in")
    cut=$(((size * 2 / 3) | 1))
    head -c "$cut" "$in" >"$d/cut.pcapng"
    run_t "$t" mmkit recover "$d/cut.pcapng" -o "$d/recovered.pcapng"
    [ "$RC" = 0 ] || { ok=0; why="recover: exit $RC $OUT"; }
    # the report, without this target's directory, is compared too
    printf '%s\n' "${OUT_FULL//"$d/"/}" >"$d/recover.report"
    local kept=0
    if [ $ok = 1 ]; then
        kept=$(stat -c %s "$d/recovered.pcapng" 2>/dev/null || echo 0)
        if [ "$kept" -le 0 ] || [ "$kept" -ge "$cut" ]; then
            ok=0
            why="recovered $kept bytes of a file cut at $cut, want 0 < kept < $cut"
        elif ! cmp -s -n "$kept" "$in" "$d/recovered.pcapng"; then
            ok=0
            why="the recovered $kept bytes are not the fixture's first $kept"
        fi
    fi
    if [ $ok = 1 ]; then
        run_t "$t" mmkit -q check "$d/recovered.pcapng"
        [ "$RC" = 0 ] || { ok=0; why="check of the recovered file: exit $RC $(check_why)"; }
    fi
    if [ $ok = 1 ]; then
        pass "$s pcapng $fx recover" "cut at $cut of $size bytes: kept $kept bytes, the fixture's prefix, check clean"
    else
        fail "$s pcapng $fx recover" "cut at $cut of $size bytes: $why"
        all=0
    fi

    [ $all = 1 ] || return 0
    (cd "$d" && find "${sets[@]}" joined-*.pcapng recovered.pcapng recover.report -type f ! -name "*.manifest" |
        LC_ALL=C sort | xargs sha256sum) >"$d/sums"
    [ "$t" = "$REF" ] || vs_ref "$s pcapng $fx" "pcapng-$fx" "pieces (file, stream), joined, recovered and the recover report"
}

part_scenario() {
    ensure_dist --no-controls "${TARGETS[@]}"
    local t s c name gflags psize lflags d ok why wm
    rm -rf "$TMP/scenario"
    local order=("$REF")
    for t in "${TARGETS[@]}"; do [ "$t" = "$REF" ] || order+=("$t"); done
    for t in "${order[@]}"; do
        s=$(short "$t")
        for c in "${CASES[@]}"; do
            IFS='|' read -r name gflags psize lflags <<<"$c"
            for wm in mmap kernel; do
                d=$TMP/scenario/$s/$name-$wm
                mkdir -p "$d/pieces"
                ok=1
                why=
                # shellcheck disable=SC2086 # flag lists
                {
                    run_t "$t" mmkit -q gen "$d/in.rec" $gflags
                    [ "$RC" = 0 ] || { ok=0; why="gen: exit $RC $OUT"; }
                    if [ $ok = 1 ]; then
                        run_t "$t" mmkit -q split "$d/in.rec" -o "$d/pieces" --size "$psize" --write "$wm" $lflags
                        [ "$RC" = 0 ] || { ok=0; why="split: exit $RC $OUT"; }
                    fi
                    local pieces=()
                    if [ $ok = 1 ]; then
                        mapfile -t pieces < <(find "$d/pieces" -type f ! -name "*.manifest" | LC_ALL=C sort)
                        [ ${#pieces[@]} -ge 2 ] || { ok=0; why="split made ${#pieces[@]} pieces, want >= 2"; }
                    fi
                    if [ $ok = 1 ]; then
                        run_t "$t" mmkit -q check $lflags "$d/in.rec" "${pieces[@]}"
                        [ "$RC" = 0 ] || { ok=0; why="check: exit $RC $(check_why)"; }
                    fi
                    if [ $ok = 1 ]; then
                        run_t "$t" mmkit -q join $lflags "${pieces[@]}" -o "$d/joined.rec" --write "$wm"
                        [ "$RC" = 0 ] || { ok=0; why="join: exit $RC $OUT"; }
                    fi
                }
                if [ $ok = 1 ] && ! cmp -s "$d/in.rec" "$d/joined.rec"; then
                    ok=0
                    why="joined file differs from the input"
                fi
                if [ $ok = 1 ]; then
                    (cd "$d" && sha256sum in.rec pieces/*) >"$d/sums"
                    pass "$s $name $wm" "gen/split/check/join: ${#pieces[@]} pieces, join identical"
                else
                    fail "$s $name $wm" "$why"
                    continue
                fi
                [ "$t" = "$REF" ] && continue
                vs_ref "$s $name $wm" "$name-$wm" "input and $(($(wc -l <"$d/sums") - 1)) pieces"
            done
        done
        local id base sflags fx extra
        for c in "${STREAM_CASES[@]}"; do
            IFS='|' read -r id base sflags <<<"$c"
            scenario_stream "$t" "$id" "$base" "$sflags"
        done
        for c in "${PCAPNG_CASES[@]}"; do
            IFS='|' read -r fx sflags extra <<<"$c"
            scenario_pcapng "$t" "$fx" "$sflags" "$extra"
        done
    done
    rm -rf "$TMP/scenario"
}

# ------------------------------------------------------------------ big
# big_run NAME TARGET DIR ACCESS WRITE: gen a sparse > 4 GiB file, check it,
# split it, join it back, cmp. ACCESS: how input is read (mmap|read); WRITE:
# how outputs are written (mmap|kernel).
big_run() {
    local name=$1 t=$2 d=$3 access=$4 wm=$5
    local t0=$SECONDS ok=1 why='' bytes pieces=()
    rm -rf "${d:?}"/*
    mkdir -p "$d/pieces"
    run_t "$t" mmkit -q gen "$d/big.seed" --sparse --size "$BIG_SIZE" --seed 5
    [ "$RC" = 0 ] || { ok=0; why="gen: exit $RC $OUT"; }
    bytes=$(stat -c %s "$d/big.seed" 2>/dev/null || echo 0)
    if [ $ok = 1 ] && [ "$bytes" -le 4294967296 ]; then
        ok=0
        why="generated file is $bytes bytes, not > 4 GiB"
    fi
    if [ $ok = 1 ]; then
        run_t "$t" mmkit -q check --access "$access" "$d/big.seed"
        [ "$RC" = 0 ] || { ok=0; why="check --access $access: exit $RC $OUT"; }
    fi
    if [ $ok = 1 ]; then
        run_t "$t" mmkit -q split "$d/big.seed" -o "$d/pieces" --size 1100M --access "$access" --write "$wm"
        [ "$RC" = 0 ] || { ok=0; why="split: exit $RC $OUT"; }
    fi
    mapfile -t pieces < <(find "$d/pieces" -type f ! -name "*.manifest" | LC_ALL=C sort)
    if [ $ok = 1 ]; then
        run_t "$t" mmkit -q join "${pieces[@]}" -o "$d/joined.seed" --access "$access" --write "$wm"
        [ "$RC" = 0 ] || { ok=0; why="join: exit $RC $OUT"; }
    fi
    if [ $ok = 1 ] && ! cmp -s "$d/big.seed" "$d/joined.seed"; then
        ok=0
        why="joined file differs: $(first_diff "$d/big.seed" "$d/joined.seed")"
    fi
    if [ $ok = 1 ]; then
        pass "$name" "$bytes-byte sparse file, --access $access --write $wm: check, split into ${#pieces[@]} pieces, join, cmp identical ($((SECONDS - t0)) s)"
    else
        fail "$name" "--access $access --write $wm: $why ($((SECONDS - t0)) s)"
    fi
    rm -rf "${d:?}"/*
}

# big_copy NAME TARGET DIR: copy a sparse > 4 GiB file with `copy --method
# read` and with the kernel method's pread/pwrite fallback (forced with
# MMKIT_NO_COPY_RANGE=1), cmp each copy. On 32-bit CPUs a length whose low
# 32 bits are 0 once made these loops spin forever: each run has a timeout.
big_copy() {
    local name=$1 t=$2 d=$3 how t0 ok why bytes
    rm -rf "${d:?}"/*
    run_t "$t" mmkit -q gen "$d/big.seed" --sparse --size "$BIG_SIZE" --seed 6
    if [ "$RC" != 0 ]; then
        fail "$name" "gen: exit $RC $OUT"
        return 0
    fi
    bytes=$(stat -c %s "$d/big.seed")
    for how in read fallback; do
        t0=$SECONDS ok=1 why=''
        rm -f "$d/copy.seed"
        if [ $how = read ]; then
            RUN_TIMEOUT=${MMKIT_BIG_COPY_TIMEOUT:-900} run_t "$t" mmkit -q copy --method read "$d/big.seed" "$d/copy.seed"
        else
            MMKIT_NO_COPY_RANGE=1 RUN_TIMEOUT=${MMKIT_BIG_COPY_TIMEOUT:-900} \
                run_t "$t" mmkit -q copy --method kernel "$d/big.seed" "$d/copy.seed"
        fi
        [ "$RC" = 0 ] || { ok=0; why="exit $RC $OUT"; }
        [ "$RC" = 124 ] && why="timed out (an endless copy loop?)"
        if [ $ok = 1 ] && ! cmp -s "$d/big.seed" "$d/copy.seed"; then
            ok=0
            why="copy differs: $(first_diff "$d/big.seed" "$d/copy.seed")"
        fi
        if [ $ok = 1 ]; then
            pass "$name-$how" "copy of a $bytes-byte sparse file via $how (pread/pwrite), cmp identical ($((SECONDS - t0)) s)"
        else
            fail "$name-$how" "copy via $how: $why ($((SECONDS - t0)) s)"
        fi
        rm -f "$d/copy.seed"
    done
    rm -rf "${d:?}"/*
}

part_big() {
    local big_targets=(mipsel-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
    ensure_dist "${big_targets[@]}"
    local d=$TMP/big mounted=0 t s avail
    rm -rf "$d"
    mkdir -p "$d"
    if [ "${MMKIT_MATRIX_TMPFS:-0}" = 1 ]; then
        mount -t tmpfs -o size=10g tmpfs "$d" && mounted=1
    fi
    avail=$(df -Pk "$d" | awk 'NR==2 {print $4}')
    if [ "$avail" -lt $((10 * 1024 * 1024)) ]; then
        skip "big" "only $((avail / 1024)) MiB free under $d; the big part needs ~10 GiB (split + join of $BIG_SIZE)"
        if [ $mounted = 1 ]; then umount "$d"; fi
        return 0
    fi
    for t in "${big_targets[@]}"; do
        s=$(short "$t")
        # pread/pwrite/copy_file_range paths with 64-bit offsets
        [ "${MMKIT_BIG_ONLY:-}" = copy ] || big_run "$s big-read" "$t" "$d" read kernel
        # copy --method read and the copy_file_range fallback beyond 4 GiB
        big_copy "$s big-copy" "$t" "$d"
        [ "${MMKIT_BIG_ONLY:-}" = copy ] && continue
        # mmap paths beyond 4 GiB: only meaningful when the emulator passes
        # 64-bit mmap offsets through (qemu-user 7.2 truncates them to 32
        # bits for 32-bit guests; the qemu-system boots cover a real kernel)
        run_t "$t" mmkit-controls mmap-high "$d/probe"
        if [ "$RC" = 0 ]; then
            big_run "$s big-mmap" "$t" "$d" mmap mmap
        elif [ "$RC" = 1 ]; then
            skip "$s big-mmap" "this qemu-user cannot map beyond 4 GiB for a 32-bit guest: $OUT"
        else
            fail "$s big-mmap" "mmap-high probe: exit $RC $OUT"
        fi
    done
    if [ $mounted = 1 ]; then umount "$d"; fi
    rm -rf "$d"
}

# ---------------------------------------------------------------- tests
part_tests() {
    local t s r pfx log
    ensure_apt rustc-web cargo-web rust-web-src \
        gcc-mips-linux-gnu libc6-dev-mips-cross gcc-mipsel-linux-gnu libc6-dev-mipsel-cross \
        gcc-arm-linux-gnueabi libc6-dev-armel-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross
    for t in "${TEST_TARGETS[@]}"; do
        s=$(short "$t")
        r=$(runner "$t")
        pfx=${t^^}
        pfx=CARGO_TARGET_${pfx//-/_}
        local lk
        case $t in
        mips-*) lk=mips-linux-gnu-gcc ;;
        mipsel-*) lk=mipsel-linux-gnu-gcc ;;
        armv5te-*) lk=arm-linux-gnueabi-gcc ;;
        armv7-*) lk=arm-linux-gnueabihf-gcc ;;
        aarch64-*) lk=aarch64-linux-gnu-gcc ;;
        *) lk=gcc ;;
        esac
        log="$TMP/tests-$s.log"
        local t0=$SECONDS
        # A separate target dir: std built for the test profile (unwind)
        # must not sit next to the release (abort) std of cross-build.sh,
        # or rustc finds two `core`s.
        set +e
        (
            cd "$REPO"
            env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
                CARGO_TARGET_DIR="$REPO/target/cross-test" \
                CARGO_PROFILE_DEV_OPT_LEVEL=1 CARGO_PROFILE_DEV_DEBUG=0 \
                "${pfx}_LINKER=$lk" "${pfx}_RUNNER=$REPO/ci/qemu-test-runner.sh $r" \
                RUSTFLAGS="-C target-feature=+crt-static" \
                MMKIT_TEST_RUNNER="$r" MMKIT_TEST_TMP="$TMP" \
                /usr/bin/cargo test -Z build-std --target "$t" --locked --tests
        ) >"$log" 2>&1
        local rc=$?
        set -e
        local summary
        summary=$(grep -E '^test result:' "$log" | awk '{p+=$4; f+=$6; i+=$8} END {printf "%d passed, %d failed, %d ignored in %d test binaries", p, f, i, NR}')
        if [ $rc = 0 ]; then
            pass "$s cargo-test" "$summary under $r ($((SECONDS - t0)) s)"
        else
            fail "$s cargo-test" "exit $rc: $summary; $(grep -E '^(error|failures:|    [a-z_:]+$)|panicked' "$log" | head -5 | tr '\n' ' ') (log: $log)"
        fi
    done
}

# ------------------------------------------------------------------ soak
# The ring of a live stream on mipsel (ci/soak.sh, quick: a few seconds).
part_soak() {
    local t=mipsel-unknown-linux-gnu line t0=$SECONDS rc=0 out
    ensure_dist --no-controls "$t"
    set +e
    out=$(SOAK_RUNNER=$(runner "$t") SOAK_QUICK=1 bash "$REPO/ci/soak.sh" "$DIST/$t/mmkit" 2>&1)
    rc=$?
    set -e
    while IFS= read -r line; do
        case $line in
        "PASS soak "*) pass "mipsel ${line#PASS }" "($((SECONDS - t0)) s)" ;;
        "FAIL soak "*) fail "mipsel ${line#FAIL }" "" ;;
        "SKIP soak "*) skip "mipsel ${line#SKIP }" "" ;;
        esac
    done <<<"$out"
    [ $rc = 0 ] || grep -q '^FAIL' <<<"$out" || fail "mipsel soak" "exit $rc: $(tail -c 300 <<<"$out")"
}

for p in "${PARTS[@]}"; do
    case $p in
    controls | scenario | big | soak | tests) "part_$p" ;;
    *)
        echo "unknown part $p (controls scenario big soak tests)" >&2
        exit 2
        ;;
    esac
done
[ "$nskip" -eq 0 ] || echo "($nskip skipped)"
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
