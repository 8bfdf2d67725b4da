# shellcheck shell=dash
# On-device figures (sourced by /init with lib.sh after the checks of the
# iomem=relaxed boots; /etc/mmkit-figures holds MMKIT_QEMU_FIGURES: 0 = off,
# 1 = the CI default, full = bigger inputs and the whole `bench --quick`,
# icount = as 1, the boot runs under `-icount shift=0`).
# On files in a tmpfs made here with `mmkit gen` (a pcap and a seed-layout
# file), it times
#   mmkit check FILE           against  busybox cat FILE >/dev/null
#                                       busybox dd if=FILE of=/dev/null bs=128k
#   mmkit check --access mmap|read      (the fixed modes, against dd)
#   mmkit split FILE (pieces)  against  busybox cp FILE COPY
# one command after the other in each round (3 rounds; full: 5), takes each
# ratio within its round and prints the median over the rounds; then it runs
# `mmkit bench --quick` and prints its read()/mmap ratios. Output, for ci/qemu-system.sh:
#   MMKIT-BENCH <name> <ratio|-> <detail>
# Informational only: a timing is never a pass/fail check. Emulation distorts
# absolute time; the ratios compare two programs on the same emulated CPU.
#
# busybox cat hands the file to sendfile(), so its bytes are never copied to
# user space; dd reads them with read() as GNU cat does: check/dd is the
# ratio comparable with ci/bench.sh's check/cat.
#
# The clock is independent of mmkit: busybox ash's $EPOCHREALTIME (the
# kernel's wall clock in microseconds, read without a fork; busybox `date`
# has no %N), else /proc/uptime (10 ms).
: "${ARCH:?}"

FIG_MODE=$(cat /etc/mmkit-figures 2>/dev/null)
case $FIG_MODE in
full) FIG_SIZE=64M FIG_PIECE=16M FIG_BENCH="" FIG_RUNS=5 ;;
*) FIG_SIZE=32M FIG_PIECE=8M FIG_BENCH="--max 4M --scan-size 4M" FIG_RUNS=3 ;;
esac
D=/mnt/fig

bench() { echo "MMKIT-BENCH $*"; }

# now: sets NOW to the microseconds since FIG_BASE (whole seconds), without
# a fork and within 32-bit shell arithmetic.
if [ -n "${EPOCHREALTIME:-}" ]; then
    FIG_CLOCK='EPOCHREALTIME (1 us)'
    clock() { CLK=$EPOCHREALTIME; }
else
    FIG_CLOCK='/proc/uptime (10 ms)'
    clock() { read -r CLK _ </proc/uptime; }
fi
clock
FIG_BASE=${CLK%.*}
[ "$FIG_MODE" != icount ] || FIG_CLOCK="$FIG_CLOCK, virtual: -icount shift=0, 1 ns per instruction"
now() {
    clock
    clk_s=${CLK%.*}
    clk_u=${CLK#*.}000000
    clk_u=${clk_u%"${clk_u#??????}"}
    clk_u=${clk_u#"${clk_u%%[!0]*}"}
    NOW=$(((clk_s - FIG_BASE) * 1000000 + ${clk_u:-0}))
}

# timed CMD...: runs CMD (stdout to /dev/null); sets US to its wall time in
# microseconds, RC to its exit code; failures are counted in NERR, the
# first one is kept in ERRS.
timed() {
    now
    t0=$NOW
    "$@" >/dev/null 2>/tmp/.fig-stderr
    RC=$?
    now
    US=$((NOW - t0))
    if [ "$RC" != 0 ]; then
        NERR=$((NERR + 1))
        [ -n "$ERRS" ] || ERRS="$* exit $RC: $(head -c 200 /tmp/.fig-stderr | tr '\n' ' ')"
    fi
}

# pair NAME FILE: FIG_RUNS rounds of cat, dd, check (auto, mmap, read), cp
# and split on FILE.
pair() {
    nm=$1
    f=$2
    ERRS="" NERR=0
    times=""
    r=1
    while [ "$r" -le "$FIG_RUNS" ]; do
        timed /bin/busybox cat "$f"
        tcat=$US
        timed /bin/busybox dd if="$f" of=/dev/null bs=128k
        tdd=$US
        timed mmkit -q check "$f"
        tck=$US
        timed mmkit -q check --access mmap "$f"
        tckm=$US
        timed mmkit -q check --access read "$f"
        tckr=$US
        rm -rf "$D/o" && mkdir -p "$D/o"
        timed /bin/busybox cp "$f" "$D/o/copy"
        tcp=$US
        rm -rf "$D/o" && mkdir -p "$D/o"
        timed mmkit -q split "$f" -o "$D/o" --size "$FIG_PIECE"
        tsp=$US
        pieces=$(find "$D/o" -type f ! -name '*.manifest' | wc -l)
        rm -rf "$D/o"
        times="$times $tcat:$tdd:$tck:$tcp:$tsp:$tckm:$tckr"
        r=$((r + 1))
    done
    # per round: check/cat, check/dd, split/cp; medians of those and of the
    # baselines' times
    echo "$times" | awk -v nm="$nm" -v pieces="$pieces" -v piece="$FIG_PIECE" '
    function med(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function show(name, r, base, what,   i, runs) {
        runs = ""
        for (i = 1; i <= NF; i++) runs = runs sprintf(" %.2f", r[i])
        printf "MMKIT-BENCH %s-%s %.2f runs:%s; %s median %.0f ms\n", nm, name, med(r, NF), runs, what, med(base, NF) / 1000
    }
    {
        for (i = 1; i <= NF; i++) {
            split($i, t, ":")
            cat[i] = t[1]; dd[i] = t[2]; cp[i] = t[4]
            ck[i] = t[3] / t[1]; cd[i] = t[3] / t[2]; sp[i] = t[5] / t[4]
            cm[i] = t[6] / t[2]; cr[i] = t[7] / t[2]; dd2[i] = dd3[i] = t[2]
        }
        show("check/cat", ck, cat, "busybox cat (sendfile)")
        show("check/dd", cd, dd, "busybox dd bs=128k")
        show("check-mmap/dd", cm, dd2, "--access mmap; busybox dd")
        show("check-read/dd", cr, dd3, "--access read; busybox dd")
        show("split/cp", sp, cp, pieces " pieces of " piece "; busybox cp")
    }'
    [ "$NERR" = 0 ] || bench "$nm-errors" - "$NERR commands failed (the ratios above mean nothing); first: $ERRS"
    # What `--access auto` chose and measured, from one more verbose run.
    mmkit -v check "$f" 2>&1 >/dev/null | sed -n 's/^mmkit: debug: [^:]*: --access auto //p' |
        while IFS= read -r l; do bench "$nm-auto" - "$l"; done
}

mkdir -p "$D"
if mount -t tmpfs -o size=160m tmpfs "$D"; then
    now
    fig_t0=$NOW
    bench cpu - "$(awk -F': *' '/^(model name|cpu model)/ { print $2; exit }' /proc/cpuinfo)," \
        "$(grep -c '^processor' /proc/cpuinfo) CPU, $(uname -m), kernel $(uname -r), clock $FIG_CLOCK"
    for layout in pcap seed; do
        f=$D/in.$layout
        ERRS="" NERR=0
        timed mmkit -q gen "$f" --layout "$layout" --size "$FIG_SIZE" --seed 7 -f
        if [ "$RC" = 0 ]; then
            pair "$layout-$FIG_SIZE" "$f"
        else
            bench "$layout-gen" - "$ERRS"
        fi
        rm -f "$f"
    done

    # mmkit bench --quick, summarised from its CSV: read()/mmap wall ratios
    # of the medians (above 1: the mapping is faster).
    ERRS="" NERR=0
    # shellcheck disable=SC2086
    timed mmkit bench --quick $FIG_BENCH --dir "$D" --csv "$D/bench.csv"
    if [ "$RC" = 0 ]; then
        awk -F, -v took="$US" -v args="--quick${FIG_BENCH:+ $FIG_BENCH}" '
        $1 == "notes" || $1 == "sweep" { m[$1, $3] = $7; if ($1 == "sweep") big = $2 }
        $1 == "scan" || $1 == "walk" {
            if ($3 ~ /^read/) m[$1, "read"] = $7; else if ($3 == "mmap") m[$1, "mmap"] = $7
            size[$1] = $2
        }
        function line(part, what) {
            if (m[part, "mmap"] > 0)
                printf "MMKIT-BENCH bench-%s %.2f read/mmap: %s\n", part, m[part, "read"] / m[part, "mmap"], what
        }
        END {
            line("notes", "10000 integers read, +1, written back")
            line("sweep", sprintf("every integer of %g MiB incremented in place", big / 1048576))
            line("scan", sprintf("sum of every integer of %g MiB", size["scan"] / 1048576))
            line("walk", sprintf("one integer per KiB of %g MiB", size["walk"] / 1048576))
            printf "MMKIT-BENCH bench-took - mmkit bench %s: %.1f s\n", args, took / 1e6
        }' "$D/bench.csv"
    else
        bench bench-quick - "$ERRS"
    fi
    now
    fig_ds=$(((NOW - fig_t0) / 100000))
    bench figures-took - "$((fig_ds / 10)).$((fig_ds % 10)) s in the guest"
    cd / || true
    umount "$D"
else
    bench error - "cannot mount a tmpfs on $D"
fi
