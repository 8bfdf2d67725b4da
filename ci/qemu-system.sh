#!/usr/bin/env bash
# QEMU system tests on real (Debian) kernels: registers through /dev/mem, bus
# errors, alignment traps, the empty-file mmap bus error and ipk installation.
#
# Boots ARM virt (cortex-a15, Debian armmp kernel) and MIPS Malta (24Kc,
# Debian 4kc-malta kernel), each with and without iomem=relaxed, from an
# initramfs holding busybox-static, the static mmkit, the negative-control
# program (ci/controls), the ipk if dist/ipk has one, and
# ci/qemu-system/{init,lib.sh,checks-*.sh}. The guest prints
#   MMKIT-RESULT PASS|FAIL|SKIP <name> <detail>
# lines and a final `MMKIT-DONE` marker on the serial console, then powers off;
# this script turns them into PASS/FAIL lines, prints "N passed, M failed" and
# exits 1 if anything failed (a guest that hangs or never prints the marker is a
# failure). See docs/qemu-system.md.
#
# The relaxed boots then time mmkit against busybox on files in the guest's
# tmpfs (ci/qemu-system/figures.sh) and print `MMKIT-BENCH <name> <ratio>
# <detail>` lines: informational figures, never pass/fail. They are printed
# as `BENCH <boot>/<name> ...` and written to <work>/figures.txt.
#
# Usage: ci/qemu-system.sh [BOOT...]   BOOT: arm-relaxed arm-strict mips-relaxed
#                                            mips-strict (default: all four)
# Environment:
#   MMKIT_QEMU_CACHE    downloaded .debs and unpacked kernels (default /var/cache/mmkit-qemu)
#   MMKIT_QEMU_WORK     initramfs trees, console logs (default <repo>/target/qemu-system)
#   MMKIT_QEMU_TIMEOUT  seconds per boot before it counts as hung (default 300)
#   MMKIT_QEMU_JOBS     boots run at the same time (default 2)
#   MMKIT_DIST          where <target>/mmkit, <target>/mmkit-controls, ipk/ are (default <repo>/dist)
#   MMKIT_QEMU_FIGURES  on-device figures in the relaxed boots: 1 (default: 32 MiB inputs,
#                       `bench --quick --max 4M --scan-size 4M`), full (64 MiB, `bench --quick`),
#                       icount (as 1, with the relaxed boots under `-icount shift=0`: guest time
#                       counts instructions, 1 ns each, so the figures do not depend on the
#                       host's load; these boots then run only the figures, no checks), 0 (none)
#   MMKIT_QEMU_INJECT   self-test of the harness (must make it fail): "hang" (the guest
#                       stops before its marker), "fake-mmkit" (/bin/mmkit is a script
#                       that prints 0 for everything)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/ci/qemu-system
CACHE=${MMKIT_QEMU_CACHE:-/var/cache/mmkit-qemu}
WORK=${MMKIT_QEMU_WORK:-$ROOT/target/qemu-system}
TIMEOUT=${MMKIT_QEMU_TIMEOUT:-300}
JOBS=${MMKIT_QEMU_JOBS:-2}
FIGURES=${MMKIT_QEMU_FIGURES:-1}
DIST=${MMKIT_DIST:-$ROOT/dist}

ARM_TARGET=armv7-unknown-linux-gnueabihf
MIPS_TARGET=mipsel-unknown-linux-gnu
ARM_IPK_ARCH=arm_cortex-a7_neon-vfpv4
MIPS_IPK_ARCH=mipsel_24kc

log() { printf 'qemu-system: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 2
}

if [ $# -eq 0 ]; then
    set -- arm-relaxed arm-strict mips-relaxed mips-strict
fi
BOOTS=("$@")
for b in "${BOOTS[@]}"; do
    case $b in
    arm-relaxed | arm-strict | mips-relaxed | mips-strict) ;;
    *) die "unknown boot '$b' (arm-relaxed, arm-strict, mips-relaxed, mips-strict)" ;;
    esac
done
case $FIGURES in
0 | 1 | full | icount) ;;
*) die "unknown MMKIT_QEMU_FIGURES '$FIGURES' (0, 1, full, icount)" ;;
esac

T0=$(date +%s)

# ---------------------------------------------------------------- host tools
# apt-get update at most once per run (also from $(...) subshells)
mkdir -p "$WORK"
APT_STAMP="$WORK/.apt-updated.$$"
trap 'rm -f "$APT_STAMP"' EXIT
apt_update_once() {
    if [ ! -e "$APT_STAMP" ]; then
        log "apt-get update"
        apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 ||
            log "warning: apt-get update reported errors; using the package lists it got"
        : >"$APT_STAMP"
    fi
}
need_root() {
    [ "$(id -u)" = 0 ] || die "needs root for apt-get (or install $* yourself)"
}
missing=()
command -v qemu-system-arm >/dev/null || missing+=(qemu-system-arm)
command -v qemu-system-mipsel >/dev/null || missing+=(qemu-system-mips)
command -v cpio >/dev/null || missing+=(cpio)
command -v gzip >/dev/null || missing+=(gzip)
command -v timeout >/dev/null || missing+=(coreutils)
if [ ${#missing[@]} -gt 0 ]; then
    need_root "${missing[*]}"
    apt_update_once
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "${missing[@]}" >&2
fi

# ------------------------------------------------------ kernels and busybox
# Foreign architectures so apt can resolve and download armhf/mipsel packages.
foreign=$(dpkg --print-foreign-architectures)
for a in armhf mipsel; do
    if ! printf '%s\n' "$foreign" | grep -qx "$a"; then
        need_root "the $a architecture"
        log "dpkg --add-architecture $a"
        dpkg --add-architecture "$a"
        rm -f "$APT_STAMP"
        apt_update_once
    fi
done
mkdir -p "$CACHE/debs"

# newest unpacked package in the cache matching NAME-GLOB and ARCH (or nothing)
newest_cached() {
    find "$CACHE/root" -mindepth 1 -maxdepth 1 -type d -name "${1}_*_$2" 2>/dev/null | sort -V | tail -n1
}

# resolve META:ARCH -> the concrete package it depends on (linux-image-6.1.0-NN-...);
# without usable apt lists, the newest kernel already in the cache.
resolve_kernel() {
    local meta=$1 flavour=$2 pkg cached
    pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    if [ -z "$pkg" ]; then
        apt_update_once
        pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    fi
    if [ -z "$pkg" ]; then
        cached=$(newest_cached "linux-image-[0-9]*-$flavour" "${meta##*:}")
        [ -n "$cached" ] || die "cannot resolve $meta with apt-cache depends, and nothing is cached"
        pkg=$(basename "$cached")
        pkg=${pkg%%_*}
        log "warning: apt cannot resolve $meta; using the cached $pkg"
    fi
    printf '%s\n' "${pkg%%:*}"
}

# fetch PKG:ARCH into the cache (once) and unpack it (only the members under
# PART, e.g. ./boot, if given); prints the unpack dir
fetch_deb() {
    local spec=$1 part=${2:-} name arch ver file dir
    name=${spec%%:*}
    arch=${spec##*:}
    ver=$(apt-cache policy "$spec" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
        apt_update_once
        ver=$(apt-cache policy "$spec" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    fi
    if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
        dir=$(newest_cached "$name" "$arch")
        [ -n "$dir" ] || die "apt knows no candidate for $spec, and nothing is cached"
        log "warning: apt knows no candidate for $spec; using the cached $(basename "$dir")"
        printf '%s\n' "$dir"
        return
    fi
    # apt-get download names files NAME_VERSION_ARCH.deb with ':' escaped as %3a
    file="$CACHE/debs/${name}_${ver//:/%3a}_${arch}.deb"
    if [ ! -s "$file" ]; then
        log "downloading $spec $ver"
        (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$spec=$ver" >&2)
        [ -s "$file" ] || die "apt-get download $spec did not produce $file"
    fi
    dir="$CACHE/root/${name}_${ver//:/%3a}_${arch}"
    if [ ! -d "$dir" ]; then
        rm -rf "$dir.tmp"
        mkdir -p "$dir.tmp"
        if [ -n "$part" ]; then
            dpkg-deb --fsys-tarfile "$file" | tar -x -C "$dir.tmp" "$part"
        else
            dpkg-deb -x "$file" "$dir.tmp"
        fi
        mv "$dir.tmp" "$dir"
    fi
    printf '%s\n' "$dir"
}

want_arm=0
want_mips=0
for b in "${BOOTS[@]}"; do
    case $b in
    arm-*) want_arm=1 ;;
    mips-*) want_mips=1 ;;
    esac
done

if [ $want_arm = 1 ]; then
    ARM_KPKG=$(resolve_kernel linux-image-armmp:armhf armmp)
    ARM_KDIR=$(fetch_deb "$ARM_KPKG:armhf" ./boot)
    ARM_KERNEL=$(find "$ARM_KDIR/boot" -name 'vmlinuz-*' | head -n1)
    ARM_BB=$(fetch_deb busybox-static:armhf)/bin/busybox
    [ -f "$ARM_KERNEL" ] || die "no vmlinuz in $ARM_KDIR"
    log "ARM kernel: $ARM_KPKG"
fi
if [ $want_mips = 1 ]; then
    MIPS_KPKG=$(resolve_kernel linux-image-4kc-malta:mipsel 4kc-malta)
    MIPS_KDIR=$(fetch_deb "$MIPS_KPKG:mipsel" ./boot)
    MIPS_KERNEL=$(find "$MIPS_KDIR/boot" -name 'vmlinuz-*' | head -n1)
    MIPS_BB=$(fetch_deb busybox-static:mipsel)/bin/busybox
    [ -f "$MIPS_KERNEL" ] || die "no vmlinuz in $MIPS_KDIR"
    log "MIPS kernel: $MIPS_KPKG"
fi

# ---------------------------------------------------------- mmkit binaries
targets=()
[ $want_arm = 1 ] && targets+=("$ARM_TARGET")
[ $want_mips = 1 ] && targets+=("$MIPS_TARGET")
build=()
for t in "${targets[@]}"; do
    if [ ! -x "$DIST/$t/mmkit" ] || [ ! -x "$DIST/$t/mmkit-controls" ]; then
        build+=("$t")
    fi
done
if [ ${#build[@]} -gt 0 ]; then
    if [ -x "$ROOT/ci/cross-build.sh" ]; then
        log "building ${build[*]} with ci/cross-build.sh"
        if ! "$ROOT/ci/cross-build.sh" "${build[@]}" >&2; then
            log "warning: ci/cross-build.sh failed; the guests will report what is missing"
        fi
    else
        log "warning: no $DIST/<target>/mmkit{,-controls} for ${build[*]} and no ci/cross-build.sh; the guests will report them missing"
    fi
fi

# ---------------------------------------------------------------- initramfs
# make_initrd ARCH BUSYBOX TARGET IPK_ARCH OUT
make_initrd() {
    local arch=$1 bb=$2 target=$3 ipkarch=$4 out=$5 tree ipk
    tree="$WORK/tree-$arch"
    rm -rf "$tree"
    mkdir -p "$tree"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,root,etc,tests,pkg}
    install -m 0755 "$bb" "$tree/bin/busybox"
    for f in "$DIST/$target/mmkit" "$DIST/$target/mmkit-controls"; do
        if [ -f "$f" ]; then install -m 0755 "$f" "$tree/bin/"; fi
    done
    # MIPS routers get the soft-float musl build (ci/mips-softfloat.sh):
    # test that one when it exists (the controls stay the glibc build).
    if [ "$arch" = mips ] && [ -x "$DIST/mipsel-unknown-linux-musl/mmkit" ]; then
        install -m 0755 "$DIST/mipsel-unknown-linux-musl/mmkit" "$tree/bin/mmkit"
    fi
    case ${MMKIT_QEMU_INJECT:-} in
    "") ;;
    hang) echo hang >"$tree/etc/mmkit-inject" ;;
    fake-mmkit) printf '#!/bin/sh\necho 0x00000000\n' >"$tree/bin/mmkit" ;;
    *) die "unknown MMKIT_QEMU_INJECT '$MMKIT_QEMU_INJECT' (hang, fake-mmkit)" ;;
    esac
    install -m 0755 "$HERE/init" "$tree/init"
    # the register maps, where the packages install them
    mkdir -p "$tree/etc/mmkit"
    install -m 0644 "$ROOT"/regmaps/*.regs "$tree/etc/mmkit/"
    install -m 0644 "$HERE"/lib.sh "$HERE"/checks-*.sh "$HERE"/figures.sh "$tree/tests/"
    echo "$arch" >"$tree/etc/mmkit-arch"
    echo "$FIGURES" >"$tree/etc/mmkit-figures"
    echo "$ipkarch" >"$tree/etc/mmkit-ipk-arch"
    ipk=$(find "$DIST/ipk" -maxdepth 1 -name "mmkit_*_${ipkarch}.ipk" 2>/dev/null | sort | tail -n1 || true)
    if [ -n "$ipk" ]; then cp "$ipk" "$tree/pkg/mmkit.ipk"; fi
    (cd "$tree" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc --owner 0:0 --quiet) | gzip -1 >"$out"
}

mkdir -p "$WORK"
[ $want_arm = 1 ] && make_initrd arm "$ARM_BB" "$ARM_TARGET" "$ARM_IPK_ARCH" "$WORK/initrd-arm.gz"
[ $want_mips = 1 ] && make_initrd mips "$MIPS_BB" "$MIPS_TARGET" "$MIPS_IPK_ARCH" "$WORK/initrd-mips.gz"

# -------------------------------------------------------------------- boots
# boot NAME -> console log in $WORK/NAME.log, qemu exit code in $WORK/NAME.rc
boot() {
    local name=$1 relaxed="" rc=0 icount=()
    case $name in *-relaxed) relaxed=" iomem=relaxed" ;; esac
    if [ -n "$relaxed" ] && [ "$FIGURES" = icount ]; then icount=(-icount shift=0); fi
    case $name in
    arm-*)
        timeout --kill-after=10 "$TIMEOUT" qemu-system-arm -M virt -cpu cortex-a15 -m 256 "${icount[@]}" \
            -nographic -nic none -no-reboot -kernel "$ARM_KERNEL" -initrd "$WORK/initrd-arm.gz" \
            -append "console=ttyAMA0$relaxed" </dev/null >"$WORK/$name.log" 2>&1 || rc=$?
        ;;
    mips-*)
        timeout --kill-after=10 "$TIMEOUT" qemu-system-mipsel -M malta -cpu 24Kc -m 256 "${icount[@]}" \
            -nographic -vga none -nic none -no-reboot -kernel "$MIPS_KERNEL" -initrd "$WORK/initrd-mips.gz" \
            -append "console=ttyS0$relaxed" </dev/null >"$WORK/$name.log" 2>&1 || rc=$?
        ;;
    esac
    echo "$rc" >"$WORK/$name.rc"
}

for b in "${BOOTS[@]}"; do rm -f "$WORK/$b.log" "$WORK/$b.rc" "$WORK/$b.secs"; done
log "booting ${BOOTS[*]} (timeout ${TIMEOUT}s each, $JOBS at a time)"
running=0
for b in "${BOOTS[@]}"; do
    (
        s=$(date +%s)
        boot "$b"
        echo $(($(date +%s) - s)) >"$WORK/$b.secs"
    ) &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

# ------------------------------------------------------------------ results
pass=0
fail=0
skip=0
for b in "${BOOTS[@]}"; do
    logf="$WORK/$b.log"
    [ -f "$logf" ] || : >"$logf"
    rc=$(cat "$WORK/$b.rc" 2>/dev/null || echo 255)
    secs=$(cat "$WORK/$b.secs" 2>/dev/null || echo '?')
    # Result lines; tolerate \r and kernel text glued in front of them.
    while read -r status name detail; do
        case $status in
        PASS) pass=$((pass + 1)) ;;
        FAIL) fail=$((fail + 1)) ;;
        SKIP) skip=$((skip + 1)) ;;
        *) continue ;;
        esac
        printf '%s %s/%s %s\n' "$status" "$b" "$name" "$detail"
    done < <(tr -d '\r' <"$logf" | sed -n 's/.*MMKIT-RESULT //p')
    if grep -aq 'MMKIT-DONE' "$logf"; then
        printf 'PASS %s/boot finished in %ss (qemu exit %s)\n' "$b" "$secs" "$rc"
        pass=$((pass + 1))
    else
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            why="guest hung: no MMKIT-DONE marker within ${TIMEOUT}s"
        else
            why="guest stopped without the MMKIT-DONE marker (qemu exit $rc)"
        fi
        printf 'FAIL %s/boot %s; last console lines:\n' "$b" "$why"
        tail -n 15 "$logf" | tr -d '\r' | sed 's/^/    | /'
        fail=$((fail + 1))
    fi
done
# ---------------------------------------------------------------- figures
# The guests' MMKIT-BENCH lines, informational (not counted above).
FIG="$WORK/figures.txt"
{
    echo "# on-device figures (ci/qemu-system/figures.sh): ratios of medians, pair by pair;"
    echo "# emulated CPUs (QEMU TCG): only the ratios mean something, not the times"
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); mmkit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "# host: $(nproc) x $(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-arm --version | head -n1)"
    echo "# kernels: ${ARM_KPKG:-} ${MIPS_KPKG:-}; MMKIT_QEMU_FIGURES=$FIGURES"
    for b in "${BOOTS[@]}"; do
        tr -d '\r' <"$WORK/$b.log" | sed -n "s|.*MMKIT-BENCH \([^ ]*\) |BENCH $b/\1 |p"
    done
} >"$FIG"
if grep -q '^BENCH' "$FIG"; then
    grep '^BENCH' "$FIG"
    printf 'figures (informational): %s\n' "$FIG"
fi

T1=$(date +%s)
printf '%d passed, %d failed, %d skipped (%ss wall; logs in %s)\n' \
    "$pass" "$fail" "$skip" "$((T1 - T0))" "$WORK"
[ "$fail" = 0 ]
