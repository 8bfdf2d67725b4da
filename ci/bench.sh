#!/usr/bin/env bash
# ci/bench.sh: mmkit against the usual tools, on tmpfs and on the disk.
#
# Not part of the tests. Measures, on a generated pcap, a generated
# seed-layout file and a pcapng (editcap -F pcapng of a generated pcap)
# (1 GiB each; --quick: 128 MiB):
#   split:  mmkit split (--write kernel, --write mmap; fsync by default, and
#           --no-sync to show what durability costs) vs cp, split -b 100M,
#           tcpdump -r IN -w OUT -C 100 (pcap only)
#   stream: cat IN | mmkit split - (fsync by default, and --no-sync) vs
#           cat IN | tcpdump -r - -C 100 and cat IN | cat > OUT, the
#           pipe-to-file limit (pcap, pcapng; tcpdump on pcap only)
#   check:  mmkit check vs cat IN >/dev/null
#   copy:   mmkit copy --method mmap|read|kernel|auto vs cp
#   memory: peak RSS (/usr/bin/time -v) of every command, and of mmkit split
#           with default settings on a 4 GiB sparse input (--quick: 512 MiB)
#   read vs mmap: `mmkit bench` on each filesystem
# Several runs (round-robin over the tools, so drift hits all of them),
# medians, ratios against baselines measured in the same run. Warm page
# cache: caches are not dropped (not reliably possible here); inputs are read
# once before timing, outputs are removed and `sync`ed between runs, untimed.
#
# Writes under --out (default docs/bench): raw.csv (every run), results.csv
# (medians and ratios), targets.txt (the ratio table), summary.md (the tables
# in Markdown), machine.txt (CPU model, kernel, memory, filesystems, tools,
# load; printed first; the CPU model also heads targets.txt and summary.md),
# readmmap-<fs>.{csv,txt,dat} (mmkit bench), and
# tools.{svg,png}, readmmap.{svg,png} (gnuplot, docs/bench/plot.gp).
# Full run: about 7 minutes on the 2-vCPU build machine; --quick: about 1.
#
# Usage: ci/bench.sh [--quick] [--runs N] [--size SIZE] [--big SIZE]
#                    [--fs "tmpfs disk"] [--layouts "pcap seed pcapng"]
#                    [--out DIR] [--no-build] [--no-readmmap] [--no-big]
# Environment: BENCH_TMPFS (default /dev/shm), BENCH_DISK (default /var/tmp),
#              MMKIT (binary to use; default target/release/mmkit, built here).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=0
RUNS=""
SIZE=""
BIG=""
FSES="tmpfs disk"
LAYOUTS="pcap seed pcapng"
BIGRUN=1
OUT="docs/bench"
BUILD=1
READMMAP=1

die() {
    echo "bench.sh: $*" >&2
    exit 1
}

while (($#)); do
    case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS=${2:?--runs needs a number}; shift ;;
    --size) SIZE=${2:?--size needs a size}; shift ;;
    --big) BIG=${2:?--big needs a size}; shift ;;
    --fs) FSES=${2:?--fs needs a list}; shift ;;
    --layouts) LAYOUTS=${2:?--layouts needs a list}; shift ;;
    --no-big) BIGRUN=0 ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --no-build) BUILD=0 ;;
    --no-readmmap) READMMAP=0 ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

if ((QUICK)); then
    : "${RUNS:=3}" "${SIZE:=128M}" "${BIG:=512M}"
    BENCH_MAX=16M
    BENCH_RUNS=3
else
    : "${RUNS:=5}" "${SIZE:=1G}" "${BIG:=4G}"
    BENCH_MAX=1G
    BENCH_RUNS=5
fi
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"

# ---- tools ----------------------------------------------------------------

ensure_tools() {
    local missing=()
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v tcpdump >/dev/null || missing+=(tcpdump)
    command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
    command -v split >/dev/null || missing+=(coreutils)
    command -v editcap >/dev/null || missing+=(tshark)
    if ((${#missing[@]})); then
        [[ $EUID -eq 0 ]] || die "missing ${missing[*]}: install them or run as root"
        echo "== installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
ensure_tools

if [[ -z ${MMKIT:-} ]]; then
    if ((BUILD)); then
        echo "== cargo build --release"
        cargo build --release --quiet
    fi
    MMKIT=$ROOT/target/release/mmkit
fi
[[ -x $MMKIT ]] || die "no mmkit binary at $MMKIT (build it or set MMKIT)"

# ---- work directories -----------------------------------------------------

declare -A BASE=([tmpfs]=${BENCH_TMPFS:-/dev/shm} [disk]=${BENCH_DISK:-/var/tmp})
declare -A WORK=()
cleanup() {
    local d
    for d in "${WORK[@]}"; do
        [[ -n $d && -d $d ]] && rm -rf -- "$d"
    done
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for fs in $FSES; do
    [[ -n ${BASE[$fs]:-} ]] || die "unknown filesystem kind '$fs' (use tmpfs, disk)"
    b=${BASE[$fs]}
    [[ -d $b && -w $b ]] || die "$b (for $fs) is not a writable directory"
    t=$(stat -f -c %T "$b")
    if [[ $fs == tmpfs && $t != tmpfs ]]; then
        echo "warning: $b is $t, not tmpfs (set BENCH_TMPFS)" >&2
    elif [[ $fs == disk && $t == tmpfs ]]; then
        echo "warning: $b is tmpfs, not a disk (set BENCH_DISK)" >&2
    fi
    WORK[$fs]=$(mktemp -d "$b/mmkit-bench.XXXXXX")
done

mkdir -p "$OUT"
RAW=$OUT/raw.csv
RES=$OUT/results.csv
TGT=$OUT/targets.txt
echo "fs,layout,size_bytes,tool,run,seconds,cpu_seconds,peak_rss_kib" >"$RAW"


# ---- machine description ----------------------------------------------------

# cpu_model: the CPU's name as the kernel or lscpu gives it: `model name`
# (x86, 32-bit ARM), `cpu model` (MIPS), lscpu's decoded "Model name" (arm64
# lists only implementer and part numbers), `uarch` (RISC-V), else uname -m;
# with the L2 cache size when lscpu knows it.
cpu_model() {
    local m l2
    m=$(awk -F': *' '/^(model name|cpu model|uarch)[[:space:]]*:/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    if [[ -z $m ]] && command -v lscpu >/dev/null; then
        m=$(lscpu 2>/dev/null | awk -F': *' '/^Model name:/ { print $2; exit }')
    fi
    [[ -n $m ]] || m="unknown $(uname -m) CPU"
    if command -v lscpu >/dev/null; then
        l2=$(lscpu 2>/dev/null | awk -F': *' '/^L2 cache:/ { print $2; exit }')
        [[ -z $l2 ]] || m="$m, L2 $l2"
    fi
    printf '%s\n' "$m"
}
CPU_MODEL="$(nproc) x $(cpu_model)"

{
    echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "mmkit:     $("$MMKIT" --version) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo "kernel:    $(uname -srm)"
    echo "cpu:       $CPU_MODEL"
    echo "memory:    $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    for fs in $FSES; do
        echo "$fs:$(printf '%*s' $((10 - ${#fs})) '')${BASE[$fs]} ($(stat -f -c %T "${BASE[$fs]}"), $(findmnt -n -o SOURCE --target "${BASE[$fs]}" 2>/dev/null | head -n 1 || echo '?'))"
    done
    echo "tools:     $(cp --version | head -1), $(tcpdump --version 2>&1 | head -1)"
    echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
    echo "settings:  input $SIZE per layout, $RUNS runs, warm page cache, big input $BIG (sparse)"
} >"$OUT/machine.txt"
cat "$OUT/machine.txt"

# ---- measuring --------------------------------------------------------------

# measure FS LAYOUT SIZE TOOL RUN CMD...: time one command (stdout to
# /dev/null), record wall time and peak RSS.
measure() {
    local fs=$1 layout=$2 size=$3 tool=$4 run=$5
    shift 5
    local tf=${WORK[$fs]}/time.txt ef=${WORK[$fs]}/stderr.txt t0 t1 rss secs cpu
    t0=$(date +%s%N)
    if ! /usr/bin/time -v -o "$tf" "$@" >/dev/null 2>"$ef"; then
        echo "FAILED ($tool): $*" >&2
        cat "$ef" "$tf" >&2 || true
        exit 1
    fi
    t1=$(date +%s%N)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$tf")
    secs=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.4f", d / 1e9 }')
    echo "$fs,$layout,$size,$tool,$run,$secs,$cpu,$rss" >>"$RAW"
    printf '  %-22s %8s s wall %6s s cpu %9s KiB peak RSS\n' "$tool" "$secs" "$cpu" "$rss"
}

# fresh DIR: remove and recreate an output directory, then sync (untimed).
fresh() {
    rm -rf -- "$1"
    mkdir -p -- "$1"
    sync
}

bench_layout() {
    local fs=$1 layout=$2
    local w=${WORK[$fs]} in size run tool tools
    in=$w/in.$layout
    echo "== $fs / $layout: generating $SIZE"
    if [[ $layout == pcapng ]]; then
        # editcap's pcapng of a generated pcap: one SHB, one IDB, EPBs.
        "$MMKIT" -q gen "$w/ng.pcap" --layout pcap --size "$SIZE" --seed 7
        editcap -F pcapng "$w/ng.pcap" "$in"
        rm -f -- "$w/ng.pcap"
    else
        "$MMKIT" -q gen "$in" --layout "$layout" --size "$SIZE" --seed 7
    fi
    size=$(stat -c %s "$in")
    cat "$in" >/dev/null # warm the cache
    tools=(cp cp-sync split-b mmkit-split-kernel mmkit-split-mmap cat mmkit-check
        mmkit-check-mmap mmkit-check-read mmkit-split-access-mmap mmkit-split-access-read)
    [[ $layout == pcapng ]] || tools+=(mmkit-copy-kernel mmkit-copy-mmap mmkit-copy-read mmkit-copy-auto)
    [[ $layout == pcap ]] && tools+=(tcpdump-C pipe-tcpdump)
    [[ $layout == seed ]] || tools+=(pipe-cat mmkit-split-stream mmkit-split-stream-nosync)
    tools+=(mmkit-split-nosync)
    for ((run = 1; run <= RUNS; run++)); do
        echo "-- $fs / $layout: run $run of $RUNS"
        for tool in "${tools[@]}"; do
            fresh "$w/o"
            case $tool in
            cp) measure "$fs" "$layout" "$size" "$tool" "$run" cp "$in" "$w/o/copy" ;;
            # cp, then fsync of the copy (coreutils sync FILE): what split's
            # durable default does, so the fair baseline on a disk.
            cp-sync) measure "$fs" "$layout" "$size" "$tool" "$run" sh -c 'cp "$1" "$2" && sync "$2"' _ "$in" "$w/o/copy" ;;
            split-b) measure "$fs" "$layout" "$size" "$tool" "$run" split -b 100M "$in" "$w/o/x" ;;
            tcpdump-C) measure "$fs" "$layout" "$size" "$tool" "$run" tcpdump -Z root -r "$in" -w "$w/o/t" -C 100 ;;
            mmkit-split-kernel) measure "$fs" "$layout" "$size" "$tool" "$run" "$MMKIT" -q split "$in" -o "$w/o" --size 100M --write kernel ;;
            mmkit-split-mmap) measure "$fs" "$layout" "$size" "$tool" "$run" "$MMKIT" -q split "$in" -o "$w/o" --size 100M --write mmap ;;
            mmkit-split-access-*) measure "$fs" "$layout" "$size" "$tool" "$run" "$MMKIT" -q split "$in" -o "$w/o" --size 100M --access "${tool##*-}" ;;
            mmkit-split-nosync) measure "$fs" "$layout" "$size" "$tool" "$run" "$MMKIT" -q split "$in" -o "$w/o" --size 100M --no-sync ;;
            pipe-cat) measure "$fs" "$layout" "$size" "$tool" "$run" sh -c 'cat "$1" | cat >"$2"' _ "$in" "$w/o/p" ;;
            pipe-tcpdump) measure "$fs" "$layout" "$size" "$tool" "$run" sh -c 'cat "$1" | tcpdump -Z root -r - -w "$2" -C 100 2>/dev/null' _ "$in" "$w/o/t" ;;
            mmkit-split-stream) measure "$fs" "$layout" "$size" "$tool" "$run" sh -c 'cat "$1" | "$2" -q split - -o "$3" --size 100MB' _ "$in" "$MMKIT" "$w/o" ;;
            mmkit-split-stream-nosync) measure "$fs" "$layout" "$size" "$tool" "$run" sh -c 'cat "$1" | "$2" -q split - -o "$3" --size 100MB --no-sync' _ "$in" "$MMKIT" "$w/o" ;;
            cat) measure "$fs" "$layout" "$size" "$tool" "$run" cat "$in" ;;
            mmkit-check) measure "$fs" "$layout" "$size" "$tool" "$run" "$MMKIT" -q check "$in" ;;
            mmkit-check-mmap | mmkit-check-read) measure "$fs" "$layout" "$size" "$tool" "$run" "$MMKIT" -q check "$in" --access "${tool##*-}" ;;
            mmkit-copy-*) measure "$fs" "$layout" "$size" "$tool" "$run" "$MMKIT" -q copy "$in" "$w/o/copy" --method "${tool#mmkit-copy-}" ;;
            esac
        done
    done
    rm -rf -- "$w/o" "$in"
}

for fs in $FSES; do
    for layout in $LAYOUTS; do
        bench_layout "$fs" "$layout"
    done
done

# Peak RSS on a big sparse input, default settings (on the disk when
# measured, else on the first filesystem).
BIGFS=disk
[[ " $FSES " == *" disk "* ]] || BIGFS=${FSES%% *}
w=${WORK[$BIGFS]}
if ((BIGRUN)); then
    echo "== $BIGFS / big: generating $BIG sparse seed-layout input"
    "$MMKIT" -q gen "$w/big.seed" --layout seed --size "$BIG" --sparse --seed 7
    bsize=$(stat -c %s "$w/big.seed")
    for tool in mmkit-split-default mmkit-split-mmap mmkit-check; do
        fresh "$w/o"
        case $tool in
        mmkit-split-default) measure "$BIGFS" big "$bsize" "$tool" 1 "$MMKIT" -q split "$w/big.seed" -o "$w/o" ;;
        mmkit-split-mmap) measure "$BIGFS" big "$bsize" "$tool" 1 "$MMKIT" -q split "$w/big.seed" -o "$w/o" --write mmap ;;
        mmkit-check) measure "$BIGFS" big "$bsize" "$tool" 1 "$MMKIT" -q check "$w/big.seed" ;;
        esac
    done
    rm -rf -- "$w/o" "$w/big.seed"
fi

# The read-vs-mmap experiment on each filesystem.
if ((READMMAP)); then
    for fs in $FSES; do
        echo "== $fs: mmkit bench --max $BENCH_MAX"
        "$MMKIT" bench --dir "${WORK[$fs]}" --max "$BENCH_MAX" --runs "$BENCH_RUNS" \
            --csv "$OUT/readmmap-$fs.csv" | tee "$OUT/readmmap-$fs.txt"
    done
fi
echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at the end)" >>"$OUT/machine.txt"

# ---- medians, ratios, targets -------------------------------------------------

# results.csv: one row per (fs, layout, tool): median and min wall time,
# median CPU time (user + sys), MiB/s, largest peak RSS, and the ratio of the
# median wall time to the baseline's (cp for split and copy, cat for check)
# measured in the same runs.
median_of() { # column number: print "fs,layout,tool,median" per group
    sort -t, -k1,1 -k2,2 -k4,4 -k"$1","$1"g <(tail -n +2 "$RAW") | awk -F, -v c="$1" '
    function flush() {
        if (n == 0) return
        print key, (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2, v[1], n
    }
    { k = $1 "," $2 "," $4; if (k != key) { flush(); key = k; n = 0 } v[++n] = $c }
    END { flush() }' OFS=,
}
median_of 6 >"$OUT/wall.tmp"
median_of 7 >"$OUT/cpu.tmp"
awk -F, '
FILENAME ~ /wall.tmp$/ { wall[$1 "," $2 "," $3] = $4; wmin[$1 "," $2 "," $3] = $5; runs[$1 "," $2 "," $3] = $6; next }
FILENAME ~ /cpu.tmp$/ { cpu[$1 "," $2 "," $3] = $4; next }
FNR == 1 { next }
{ k = $1 "," $2 "," $4; size[k] = $3; if ($8 + 0 > rss[k]) rss[k] = $8 + 0; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
END {
    print "fs,layout,size_bytes,tool,runs,median_s,min_s,cpu_median_s,mib_per_s,peak_rss_kib,baseline,ratio,cpu_ratio"
    for (i = 1; i <= n; i++) {
        k = order[i]; split(k, p, ",")
        b = ""
        if (p[3] ~ /^mmkit-(split|copy)/ || p[3] == "split-b" || p[3] == "tcpdump-C") b = "cp"
        if (p[3] ~ /^mmkit-split-stream/ || p[3] == "pipe-tcpdump") b = "pipe-cat"
        if (p[3] ~ /^mmkit-check/) b = "cat"
        bk = p[1] "," p[2] "," b
        r = ""; cr = ""
        if (b != "" && (bk in wall)) r = sprintf("%.3f", wall[k] / wall[bk])
        if (b != "" && (bk in cpu) && cpu[bk] > 0) cr = sprintf("%.3f", cpu[k] / cpu[bk])
        printf "%s,%s,%s,%s,%d,%.4f,%.4f,%.2f,%.1f,%d,%s,%s,%s\n", p[1], p[2], size[k], p[3], runs[k], wall[k], wmin[k], cpu[k], size[k] / 1048576 / wall[k], rss[k], b, r, cr
    }
}' "$OUT/wall.tmp" "$OUT/cpu.tmp" "$RAW" >"$RES"
rm -f "$OUT/wall.tmp" "$OUT/cpu.tmp"

# The ratio table against the targets (issue 2): split <= 1.15 x cp and
# <= 0.5 x tcpdump -C; check <= 1.0 x cat; peak RSS <= 16 MiB on the big input.
awk -F, '
NR == 1 { next }
{ m[$1 "," $2 "," $4] = $6; c[$1 "," $2 "," $4] = $8; rss[$1 "," $2 "," $4] = $10; seen[$1 "," $2] = 1 }
function line(fs, lay, what, a, b, target,   r, cr, ok) {
    if (!((fs "," lay "," a) in m) || !((fs "," lay "," b) in m)) return
    r = m[fs "," lay "," a] / m[fs "," lay "," b]
    cr = (c[fs "," lay "," b] > 0) ? sprintf("%6.2f", c[fs "," lay "," a] / c[fs "," lay "," b]) : "     -"
    if (target == 0) {
        printf "%-6s %-5s %-40s %6.2f %s  %-8s %s\n", fs, lay, what, r, cr, "-", "(what it costs)"
        return
    }
    ok = (r <= target) ? "met" : "MISSED"
    printf "%-6s %-5s %-40s %6.2f %s  <= %-5.2f %s\n", fs, lay, what, r, cr, target, ok
    if (ok == "MISSED") missed++
}
# The same with the verdict on the CPU-time ratio (what a one-core device pays).
function linec(fs, lay, what, a, b, target,   r, cr, ok) {
    if (!((fs "," lay "," a) in c) || !((fs "," lay "," b) in c) || c[fs "," lay "," b] <= 0) return
    r = m[fs "," lay "," a] / m[fs "," lay "," b]
    cr = c[fs "," lay "," a] / c[fs "," lay "," b]
    ok = (cr <= target) ? "met" : "MISSED"
    printf "%-6s %-5s %-40s %6.2f %6.2f  <= %-5.2f %s (CPU)\n", fs, lay, what, r, cr, target, ok
    if (ok == "MISSED") missed++
}
# --access auto against the faster of --access mmap and --access read
# (issue 16: at most 5% slower), wall and CPU medians.
function best(fs, lay, what, a, x, y,   bw, bc, r, cr, ok) {
    if (!((fs "," lay "," a) in m) || !((fs "," lay "," x) in m) || !((fs "," lay "," y) in m)) return
    bw = m[fs "," lay "," x]; if (m[fs "," lay "," y] < bw) bw = m[fs "," lay "," y]
    bc = c[fs "," lay "," x]; if (c[fs "," lay "," y] < bc) bc = c[fs "," lay "," y]
    r = m[fs "," lay "," a] / bw
    cr = (bc > 0) ? sprintf("%6.2f", c[fs "," lay "," a] / bc) : "     -"
    ok = (r <= 1.05) ? "met" : "MISSED"
    printf "%-6s %-5s %-40s %6.2f %s  <= %-5.2f %s\n", fs, lay, what, r, cr, 1.05, ok
    if (ok == "MISSED") missed++
}
END {
    printf "cpu: %s\n\n", cpu
    printf "%-6s %-5s %-40s %6s %6s  %-8s %s\n", "fs", "input", "measure", "wall", "cpu", "target", "verdict (wall-clock medians)"
    n = split("tmpfs disk", fss, " ")
    nl = split("pcap seed pcapng", lays, " ")
    for (i = 1; i <= n; i++) for (j = 1; j <= nl; j++) {
        fs = fss[i]; lay = lays[j]
        if (!((fs "," lay) in seen)) continue
        line(fs, lay, "mmkit split --write kernel / cp", "mmkit-split-kernel", "cp", 1.15)
        line(fs, lay, "mmkit split --write mmap / cp", "mmkit-split-mmap", "cp", 1.15)
        line(fs, lay, "mmkit split --write kernel / tcpdump -C", "mmkit-split-kernel", "tcpdump-C", 0.5)
        line(fs, lay, "mmkit split --write mmap / tcpdump -C", "mmkit-split-mmap", "tcpdump-C", 0.5)
        line(fs, lay, "mmkit check / cat", "mmkit-check", "cat", 1.0)
        line(fs, lay, "mmkit split (fsync, default) / --no-sync", "mmkit-split-kernel", "mmkit-split-nosync", 0)
        line(fs, lay, "cat | mmkit split - / cat | cat", "mmkit-split-stream", "pipe-cat", 1.2)
        line(fs, lay, "cat | mmkit split - / cat | tcpdump -C", "mmkit-split-stream", "pipe-tcpdump", 0.65)
        line(fs, lay, "cat | mmkit split - --no-sync / cat | cat", "mmkit-split-stream-nosync", "pipe-cat", 0)
        line(fs, lay, "mmkit copy --method auto / cp", "mmkit-copy-auto", "cp", 1.15)
        line(fs, lay, "mmkit check --access mmap / cat", "mmkit-check-mmap", "cat", 0)
        line(fs, lay, "mmkit check --access read / cat", "mmkit-check-read", "cat", 0)
        line(fs, lay, "mmkit split --access mmap / cp", "mmkit-split-access-mmap", "cp", 0)
        line(fs, lay, "mmkit split --access read / cp", "mmkit-split-access-read", "cp", 0)
        # The targets of issue 16: check <= 0.9 x cat; split <= 1.0 x cp in wall
        # time and <= 1.1 x in CPU time (the CPU column is the one for 1.1).
        line(fs, lay, "issue 16: mmkit check / cat", "mmkit-check", "cat", 0.9)
        line(fs, lay, "issue 16: mmkit split / cp (wall)", "mmkit-split-kernel", "cp", 1.0)
        linec(fs, lay, "issue 16: mmkit split / cp (CPU)", "mmkit-split-kernel", "cp", 1.1)
        line(fs, lay, "mmkit split (fsync) / cp && sync", "mmkit-split-kernel", "cp-sync", 1.0)
        best(fs, lay, "mmkit check (auto) / better fixed", "mmkit-check", "mmkit-check-mmap", "mmkit-check-read")
        best(fs, lay, "mmkit split (auto) / better fixed", "mmkit-split-kernel", "mmkit-split-access-mmap", "mmkit-split-access-read")
    }
    for (k in rss) {
        split(k, p, ",")
        if (p[3] == "mmkit-split-stream") {
            # The stream target (issue 12): the largest process of the
            # pipeline (cat or mmkit), at most 8 MiB.
            mib = rss[k] / 1024
            ok = (mib <= 8) ? "met" : "MISSED"
            printf "%-6s %-5s %-40s %6.1f %6s  <= %-5s %s\n", p[1], p[2], "peak RSS (MiB) cat | mmkit split -", mib, "", "8", ok
            if (ok == "MISSED") missed++
        }
        if (p[2] != "big") continue
        mib = rss[k] / 1024
        ok = (mib <= 16) ? "met" : "MISSED"
        printf "%-6s %-5s %-40s %6.1f %6s  <= %-5s %s\n", p[1], "big", "peak RSS (MiB) " p[3], mib, "", "16", ok
        if (ok == "MISSED") missed++
    }
    printf "\n%d target(s) missed\n", missed
}' cpu="$CPU_MODEL" "$RES" | tee "$TGT"

# Pair by pair: in each run, the tool's time over its baseline's measured
# just before it (same round), then the median of those ratios per input;
# drift and a noisy neighbour hit both sides of each pair.
awk -F, '
NR == 1 { next }
{ t[$1 "," $2 "," $4 "," $5] = $6; seen[$1 "," $2] = 1; if ($5 + 0 > runs) runs = $5 + 0 }
function med(a, n,   i, j, x) {
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function pair(g, what, a, b,   r, n, k, lo, hi) {
    n = 0; delete r
    for (k = 1; k <= runs; k++)
        if ((g "," a "," k) in t && (g "," b "," k) in t && t[g "," b "," k] > 0) r[++n] = t[g "," a "," k] / t[g "," b "," k]
    if (n == 0) return
    lo = r[1]; hi = r[1]; for (k = 2; k <= n; k++) { if (r[k] < lo) lo = r[k]; if (r[k] > hi) hi = r[k] }
    split(g, p, ",")
    printf "%-6s %-6s %-36s %6.3f  (%d pairs, %.3f..%.3f)\n", p[1], p[2], what, med(r, n), n, lo, hi
}
END {
    printf "\n%-6s %-6s %-36s %6s  %s\n", "fs", "input", "pair-by-pair ratio (median of runs)", "ratio", "(pairs, range)"
    for (g in seen) order[++ng] = g
    for (i = 2; i <= ng; i++) { x = order[i]; for (j = i - 1; j >= 1 && order[j] > x; j--) order[j + 1] = order[j]; order[j + 1] = x }
    for (i = 1; i <= ng; i++) {
        g = order[i]
        pair(g, "split --size 100M / cp", "mmkit-split-kernel", "cp")
        pair(g, "split --no-sync / cp", "mmkit-split-nosync", "cp")
        pair(g, "split (fsync) / cp && sync", "mmkit-split-kernel", "cp-sync")
        pair(g, "check / cat", "mmkit-check", "cat")
        pair(g, "cat | split - / cat | cat", "mmkit-split-stream", "pipe-cat")
    }
}' "$RAW" | tee -a "$TGT"

# Which --write mode is faster (medians over all inputs measured).
awk -F, 'NR > 1 && $4 == "mmkit-split-kernel" { k += $6 } NR > 1 && $4 == "mmkit-split-mmap" && $2 != "big" { m += $6 }
END { if (k > 0 && m > 0) printf "\nsplit --write kernel: %.3f s, --write mmap: %.3f s (sum of medians): %s is faster\n", k, m, (k <= m) ? "kernel" : "mmap" }' "$RES" | tee -a "$TGT"

# ---- plots --------------------------------------------------------------------

# tools.dat: one row per tool (fixed order), MiB/s per (fs, layout) column.
awk -F, '
NR == 1 { next }
$2 == "big" { next }
{ v[$4, $1 "-" $2] = $9; have[$1 "-" $2] = 1 }
END {
    nt = split("cp cp-sync split-b tcpdump-C mmkit-split-kernel mmkit-split-mmap mmkit-split-nosync cat mmkit-check mmkit-copy-kernel mmkit-copy-mmap mmkit-copy-read mmkit-copy-auto pipe-cat pipe-tcpdump mmkit-split-stream mmkit-split-stream-nosync mmkit-check-mmap mmkit-check-read mmkit-split-access-mmap mmkit-split-access-read", tools, " ")
    nc0 = split("tmpfs-pcap tmpfs-seed tmpfs-pcapng disk-pcap disk-seed disk-pcapng", all, " ")
    nc = 0
    for (c = 1; c <= nc0; c++) if (all[c] in have) cols[++nc] = all[c]
    printf "tool"; for (c = 1; c <= nc; c++) printf " %s", cols[c]; printf "\n"
    for (t = 1; t <= nt; t++) { printf "%s", tools[t]
        for (c = 1; c <= nc; c++) { x = v[tools[t], cols[c]]; printf " %s", (x == "") ? "-" : x }
        printf "\n" }
}' "$RES" >"$OUT/tools.dat"

# summary.md: the tables for docs/benchmarks.md, in Markdown.
{
    echo "CPU: $CPU_MODEL; $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "| fs | input | measure | wall ratio | CPU ratio | target | verdict |"
    echo "|---|---|---|---:|---:|---|---|"
    awk 'NR > 1 && NF >= 7 && $1 != "" && $NF ~ /met|MISSED/ {
        v = $NF; t = $(NF - 1); c = ($2 == "big" || $3 == "peak") ? "" : $(NF - 3); w = ($2 == "big" || $3 == "peak") ? $(NF - 3) : $(NF - 4)
        m = ""; last = ($2 == "big" || $3 == "peak") ? NF - 4 : NF - 5
        for (i = 3; i <= last; i++) m = m (i > 3 ? " " : "") $i
        gsub(/\|/, "\\|", m)
        if ($2 == "big" || $3 == "peak") { w = $(NF - 3); c = "" }
        printf "| %s | %s | %s | %s | %s | <= %s | %s |\n", $1, $2, m, w, c, t, v }' "$TGT"
    echo
    echo "| tool | $(head -n 1 "$OUT/tools.dat" | cut -d' ' -f2- | sed 's/ / | /g') |"
    echo "|---$(head -n 1 "$OUT/tools.dat" | cut -d' ' -f2- | sed 's/[^ ]*/|---:/g; s/ //g')|"
    tail -n +2 "$OUT/tools.dat" | awk '{ printf "| %s", $1; for (i = 2; i <= NF; i++) printf " | %s", ($i == "-") ? "-" : sprintf("%.0f", $i); print " |" }'
    echo
    echo "Peak RSS (KiB, largest over all runs):"
    echo
    echo "| fs | input | tool | peak RSS KiB |"
    echo "|---|---|---|---:|"
    awk -F, 'NR > 1 { printf "| %s | %s | %s | %s |\n", $1, $2, $4, $10 }' "$RES"
} >"$OUT/summary.md"

# readmmap.dat: size, read/mmap ratio per filesystem (from mmkit bench).
if ((READMMAP)); then
    for fs in $FSES; do
        awk -F, '$1 == "sweep" && $3 == "read" { r[$2] = $7 } $1 == "sweep" && $3 == "mmap" { m[$2] = $7; s[++n] = $2 }
        END { for (i = 1; i <= n; i++) printf "%s %.4f %.9f %.9f\n", s[i], r[s[i]] / m[s[i]], r[s[i]], m[s[i]] }' \
            "$OUT/readmmap-$fs.csv" >"$OUT/readmmap-$fs.dat"
    done
fi
if gnuplot -e "dir='$OUT'; fses='$FSES'; readmmap=$READMMAP" "$ROOT/docs/bench/plot.gp"; then
    echo "plots: $OUT/tools.svg $OUT/readmmap.svg"
else
    echo "warning: gnuplot failed; CSVs are still in $OUT" >&2
fi
echo "results: $RES, $RAW, $TGT, $OUT/machine.txt"
