#!/usr/bin/env bash
# ci/soak.sh BINARY: a ring of a live stream under a steady producer.
#
# A producer writes a pcap stream, then a pcapng one (editcap -F pcapng),
# a chunk every few ms, into `BINARY split - --ring 5 --exec CMD` with CMD
# gzip -9, then mv, then rm, long enough to wrap the ring at least 20
# times. Each CMD also looks at the disk (the distinct piece numbers, the
# piece being written included) and, for gzip and mv, links what it left
# into a directory the ring does not bound. Then: a full disk (a small
# tmpfs, root only) and SIGHUP. Asserted:
#   * every record the producer wrote is in the pieces, in order (the
#     gunzipped or renamed pieces join back to the input; after SIGHUP, to
#     a prefix of it ending at a record); with rm only the ring's bound;
#   * no look saw more than ring + 1 = 6 pieces, and the ring holds 5;
#   * exit codes: 0 at the end of the stream, 5 for the full disk, 129
#     for SIGHUP.
#
# Environment: SOAK_RUNNER (e.g. qemu-mipsel-static) prefixes BINARY;
# SOAK_QUICK=1: a ring of 2, gzip only, pcap only, a smaller input (a few
# seconds under QEMU); SOAK_FULL_DISK=0 leaves out the full-disk step;
# SOAK_TMP scratch dir (default: a new one under /tmp, removed at the end).
# Prints one PASS/FAIL/SKIP line per check; exits 1 when anything failed.
set -euo pipefail
BIN=${1:?usage: ci/soak.sh BINARY}
read -ra RUN <<<"${SOAK_RUNNER:-}"
M=("${RUN[@]}" "$BIN")
if [ "${SOAK_QUICK:-0}" = 1 ]; then
    SIZE=320K PIECE=8K CHUNK=8192 RING=2 HOWS=(gzip)
else
    SIZE=3M PIECE=24K CHUNK=16384 RING=5 HOWS=(gzip mv rm)
fi
T=${SOAK_TMP:-$(mktemp -d /tmp/mmkit-soak.XXXXXX)}
mkdir -p "$T"
fails=0
pass() { printf 'PASS soak %s: %s\n' "$1" "$2"; }
fail() {
    fails=$((fails + 1))
    printf 'FAIL soak %s: %s\n' "$1" "$2"
}
skip() { printf 'SKIP soak %s: %s\n' "$1" "$2"; }
cleanup() {
    mountpoint -q "$T/full" 2>/dev/null && umount "$T/full"
    [ -n "${SOAK_TMP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# pace FILE: FILE on stdout, CHUNK bytes every 2 ms (a live capture's
# steady rate, not a file's burst).
pace() {
    local n i=0
    n=$((($(stat -c %s "$1") + CHUNK - 1) / CHUNK))
    while [ $i -lt "$n" ]; do
        dd if="$1" bs="$CHUNK" skip=$i count=1 status=none || return 0
        sleep 0.002
        i=$((i + 1))
    done
}

# look DIR LOG: the command that appends the count of distinct piece
# numbers in DIR (finished, or the hidden temporary being written) to LOG.
look() { printf "ls -A %s | grep -o 'p\\\\.[0-9][0-9]*' | sort -u | wc -l >> %s" "$1" "$2"; }

# joined DIR OUT: join DIR's pieces (in name order) into OUT.
joined() {
    local ps
    mapfile -t ps < <(find "$1" -type f | LC_ALL=C sort)
    [ ${#ps[@]} -gt 0 ] || return 1
    "${M[@]}" -q join "${ps[@]}" -o "$2" -f --no-sync >/dev/null 2>&1
}

# ring INPUT EXT CMD-NAME: one run of the ring with that command.
ring() {
    local in=$1 ext=$2 how=$3 d=$T/out arch=$T/arch log=$T/looks plain=$T/plain exec rc max n
    rm -rf "$d" "$arch" "$plain" "$log"
    mkdir -p "$d" "$arch" "$plain"
    case $how in
    gzip) exec="sh -c 'gzip -9 \"\$0\" && ln \"\$0.gz\" $arch/; $(look "$d" "$log")'" ;;
    mv) exec="sh -c 'mv \"\$0\" \"\$0.done\" && ln \"\$0.done\" $arch/; $(look "$d" "$log")'" ;;
    rm) exec="sh -c 'rm \"\$0\"; $(look "$d" "$log")'" ;;
    esac
    set +e
    pace "$in" | "${M[@]}" split - -o "$d" --size "$PIECE" --ring $RING --prefix p --exec "$exec" \
        >"$T/report" 2>&1
    rc=$?
    set -e
    local what="$ext $how"
    [ $rc = 0 ] || { fail "$what" "exit $rc: $(tail -c 300 "$T/report")"; return; }
    n=$(wc -l <"$log")
    [ "$n" -ge $((20 * RING)) ] || { fail "$what" "$n pieces: fewer than 20 wraps of the ring"; return; }
    max=$(sort -n "$log" | tail -1)
    [ "$max" -le $((RING + 1)) ] || { fail "$what" "a look saw $max pieces (ring $RING)"; return; }
    local kept
    kept=$(find "$d" -name 'p.[0-9]*' -printf '%f\n' | cut -d. -f2 | sort -u | wc -l)
    if [ "$how" = rm ]; then
        [ "$kept" = 0 ] || { fail "$what" "$kept pieces left"; return; }
        pass "$what" "$n pieces, at most $max on disk at any look"
        return
    fi
    [ "$kept" = $RING ] || { fail "$what" "the ring holds $kept pieces, not $RING"; return; }
    local f
    for f in "$arch"/*; do
        case $how in
        gzip) gzip -dc "$f" >"$plain/$(basename "$f" .gz)" ;;
        mv) cp "$f" "$plain/$(basename "$f" .done)" ;;
        esac
    done
    if ! joined "$plain" "$T/joined" || ! cmp -s "$in" "$T/joined"; then
        fail "$what" "the pieces do not join back to the input"
        return
    fi
    pass "$what" "$n pieces, at most $max on disk at any look, every record in order"
}

"${M[@]}" gen "$T/in.pcap" --layout pcap --size "$SIZE" >/dev/null
inputs=("$T/in.pcap:pcap")
if [ "${SOAK_QUICK:-0}" = 1 ]; then
    :
elif command -v editcap >/dev/null; then
    editcap -F pcapng "$T/in.pcap" "$T/in.pcapng"
    inputs+=("$T/in.pcapng:pcapng")
else
    skip pcapng "editcap is absent (apt-get install tshark)"
fi
for i in "${inputs[@]}"; do
    for how in "${HOWS[@]}"; do
        t0=$SECONDS
        ring "${i%%:*}" "${i##*:}" "$how"
        [ -z "${SOAK_TIMES:-}" ] || echo "  ($((SECONDS - t0)) s)"
    done
done

# A full disk: exit 5, the finished pieces clean.
if [ "${SOAK_FULL_DISK:-1}" = 0 ]; then
    skip "full disk" "SOAK_FULL_DISK=0"
elif [ "$(id -u)" = 0 ] && mkdir -p "$T/full" && mount -t tmpfs -o size=256k tmpfs "$T/full"; then
    set +e
    "${M[@]}" split - -o "$T/full" --size 64K --ring 5 --prefix p <"$T/in.pcap" >"$T/report" 2>&1
    rc=$?
    set -e
    mapfile -t ps < <(find "$T/full" -name 'p.[0-9]*.pcap' | LC_ALL=C sort)
    if [ $rc != 5 ]; then
        fail "full disk" "exit $rc, not 5: $(tail -c 300 "$T/report")"
    elif [ ${#ps[@]} = 0 ] || ! "${M[@]}" -q check "${ps[@]}" >/dev/null 2>&1; then
        fail "full disk" "the ${#ps[@]} pieces left are not clean"
    else
        pass "full disk" "exit 5, ${#ps[@]} clean pieces"
    fi
    umount "$T/full"
else
    skip "full disk" "needs root to mount a tmpfs"
fi

# SIGHUP in the middle of the stream: exit 129, the pieces join back to a
# prefix of the input that ends at a record.
rm -rf "$T/out" "$T/arch" "$T/plain"
mkdir -p "$T/out" "$T/arch" "$T/plain"
exec_hup="sh -c 'gzip -9 \"\$0\" && ln \"\$0.gz\" $T/arch/'"
pace "$T/in.pcap" | "${M[@]}" split - -o "$T/out" --size "$PIECE" --ring $RING --prefix p \
    --exec "$exec_hup" >"$T/report" 2>&1 &
pid=$!
deadline=$((SECONDS + 60))
while [ "$(find "$T/arch" -type f | wc -l)" -lt 3 ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.01
done
kill -HUP $pid
set +e
wait $pid
rc=$?
set -e
for f in "$T/arch"/*; do gzip -dc "$f" >"$T/plain/$(basename "$f" .gz)"; done
if [ $rc != 129 ]; then
    fail SIGHUP "exit $rc, not 129: $(tail -c 300 "$T/report")"
elif ! joined "$T/plain" "$T/joined"; then
    fail SIGHUP "the pieces do not join"
elif ! cmp -s -n "$(stat -c %s "$T/joined")" "$T/in.pcap" "$T/joined"; then
    fail SIGHUP "the pieces are not a prefix of the input"
elif ! "${M[@]}" -q check "$T/joined" >/dev/null 2>&1; then
    fail SIGHUP "the prefix does not end at a record"
else
    pass SIGHUP "exit 129, $(find "$T/arch" -type f | wc -l) pieces: a prefix of the input, whole records"
fi

[ $fails = 0 ]
