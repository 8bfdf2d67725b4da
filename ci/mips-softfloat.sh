#!/usr/bin/env bash
# ci/mips-softfloat.sh [mipsel|mips ...]: static **soft-float** MIPS32r2
# binaries of mmkit that run on FPU-less cores (24Kc, 74Kc, 1004Kc: the
# OpenWrt mipsel_24kc / mips_24kc routers, whose kernels have no FPU
# emulator). The static-glibc builds of ci/cross-build.sh die there of
# SIGILL: Debian's glibc is hard-float and executes FPU instructions at start.
#
#   mipsel -> dist/mipsel-unknown-linux-musl/mmkit  (little endian)
#   mips   -> dist/mips-unknown-linux-musl/mmkit    (big endian)
#
# Recipe (docs/mips-softfloat.md):
#   1. musl's source from Debian (`apt-get source musl`, through a private
#      apt configuration with one deb-src line: the system's apt sources are
#      not touched), built as a soft-float static libc with Debian's
#      mips(el)-linux-gnu-gcc -msoft-float -march=mips32r2, with musl's
#      oldmalloc (smaller than its default mallocng).
#   2. a stub libunwind.a (ci/mips-softfloat/unwind-stub.c): std for musl
#      links -lunwind; gcc's libgcc_eh is hard-float and glibc-only. And
#      ci/mips-softfloat/setname.c replaces musl's pthread_setname_np, whose
#      snprintf linked all of printf (~13 KB) into the binary.
#   3. rustc's own soft-float targets {mips,mipsel}-unknown-linux-musl with
#      -Z build-std (Debian's rustc-web 1.96 + rust-web-src, RUSTC_BOOTSTRAP=1)
#      and a linker wrapper (ci/mips-softfloat/cc.in) that links our crt
#      files and libc.a only: no gcc start files, no libgcc, no glibc. Soft
#      float arithmetic comes from Rust's compiler_builtins.
#   4. checks: static, `readelf -A` says "FP ABI: Soft float", objdump finds
#      no FPU instruction, and under `qemu-*-static -cpu 24Kc` (no FPU)
#      --version and gen/split/check/join/cmp work.
#
# Caches (reused between runs), all under target/mips-softfloat/: src/ (musl
# source), apt/ (the private apt lists), <arch>/ (musl sysroot and build logs,
# stub unwinder, linker wrapper), cargo/ (cargo target dir: its own, so that this script
# never waits for cargo's lock on ci/cross-build.sh's target/cross).
#
# Environment:
#   MMKIT_DIST          output directory (default <repo>/dist)
#   MMKIT_SF_CARGO_DIR  cargo target dir (default <repo>/target/mips-softfloat/cargo)
#   MMKIT_OPT_LEVEL     release opt-level override (default z)
#   MMKIT_STD_FEATURES  -Z build-std-features (default optimize_for_size;
#                       "-" for std's defaults)
#   MMKIT_PANIC         immediate-abort (default: smallest; a panic, which no
#                       input should cause, ends with SIGTRAP and no message) or abort
#   MMKIT_RUSTFLAGS     extra rustc flags (default: -Z location-detail=none
#                       -C force-unwind-tables=no)
#   MMKIT_NO_APT=1      do not check/install apt packages
#   MMKIT_NO_SMOKE=1    skip the gen/split/check/join run under QEMU
#   MMKIT_DEBIAN_MIRROR deb-src mirror (default: the first Debian archive URI of
#                       this system's apt sources)
# Exit status: 0 all requested targets built and checked, 1 otherwise.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=${MMKIT_DIST:-$REPO/dist}
WORK=$REPO/target/mips-softfloat
CROSS_DIR=${MMKIT_SF_CARGO_DIR:-$WORK/cargo}
OPT_LEVEL=${MMKIT_OPT_LEVEL:-z}
STD_FEATURES=${MMKIT_STD_FEATURES:-optimize_for_size}
PANIC=${MMKIT_PANIC:-immediate-abort}
RUSTFLAGS_EXTRA=${MMKIT_RUSTFLAGS--Z location-detail=none -C force-unwind-tables=no}
# The archive this machine's apt already uses (deb822 .sources or one-line lists).
system_mirror() {
    {
        grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
        grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}'
    } | grep -v -- '-security' | grep '/debian/*$' | head -n1 || true
}
MIRROR=${MMKIT_DEBIAN_MIRROR:-$(system_mirror)}
# -mtune only schedules; the ISA is the Rust targets' (mips32r2, soft-float)
MUSL_CFLAGS="-msoft-float -march=mips32r2 -mtune=24kc -Os -pipe"
# musl's older allocator: 1,004 bytes less in the mipsel mmkit than the
# default mallocng
MUSL_MALLOC=oldmalloc
# FPU instructions (coprocessor 1), as objdump prints them
FPU_RE='\s(lwc1|swc1|ldc1|sdc1|lwxc1|swxc1|ldxc1|sdxc1|mtc1|mfc1|mthc1|mfhc1|cfc1|ctc1|bc1[tf]l?|(add|sub|mul|div|sqrt|abs|neg|mov|madd|msub|recip|rsqrt)\.[sdp]|cvt\.\S+|trunc\.\S+|round\.\S+|ceil\.\S+|floor\.\S+|c\.\w+\.[sdp]|mov[nzft]\.[sd])\s'

log() { printf 'mips-softfloat: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# per short name: Rust triple, gcc prefix, qemu, musl subarch
triple_of() { echo "$1-unknown-linux-musl"; }
prefix_of() { echo "$1-linux-gnu"; }
qemu_of() { echo "qemu-$1-static"; }

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(mipsel mips)
for a in "${targets[@]}"; do
    case $a in mipsel | mips) ;; *) die "unknown target '$a' (mipsel or mips)" ;; esac
done

# ------------------------------------------------------------------ apt
# ensure_apt comes from ci/lib.sh
if [ "${MMKIT_NO_APT:-0}" != 1 ]; then
    pkgs=(rustc-web cargo-web rust-web-src qemu-user-static dpkg-dev make xz-utils binutils)
    for a in "${targets[@]}"; do
        pkgs+=("gcc-$(prefix_of "$a")" "binutils-$(prefix_of "$a")")
    done
    ensure_apt "${pkgs[@]}"
fi
[ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] || die "rust-web-src missing"

# ------------------------------------------------------------------ musl source
# A private apt configuration: one deb-src line for this system's suite.
fetch_musl_source() {
    local codename apt src=$WORK/src
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
    apt=$WORK/apt
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$src"
    if [ -z "$MIRROR" ]; then
        echo "mips-softfloat: no Debian archive in this system's apt sources; set MMKIT_DEBIAN_MIRROR" >&2
        exit 1
    fi
    printf 'deb-src %s %s main\n' "$MIRROR" "$codename" >"$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
    log "fetching musl source from $MIRROR ($codename)"
    apt-get "${opts[@]}" -qq update >&2
    (cd "$src" && apt-get "${opts[@]}" -qq source --download-only musl >&2)
}
musl_src_dir() { # newest unpacked musl-* directory, or nothing
    [ -d "$WORK/src" ] || return 0
    find "$WORK/src" -maxdepth 1 -type d -name 'musl-*' | sort -V | tail -n1
}
MUSL=$(musl_src_dir)
if [ -z "$MUSL" ] || [ ! -f "$MUSL/VERSION" ]; then
    fetch_musl_source
    dsc=$(find "$WORK/src" -maxdepth 1 -name 'musl_*.dsc' | sort -V | tail -n1)
    [ -n "$dsc" ] || die "apt-get source musl gave no .dsc"
    v=$(basename "$dsc" .dsc)
    v=${v#musl_}
    rm -rf "$WORK/src/musl-$v"
    (cd "$WORK/src" && dpkg-source -x "$dsc" "musl-$v" >&2)
    MUSL=$WORK/src/musl-$v
fi
MUSL_VERSION=$(cat "$MUSL/VERSION")
log "musl $MUSL_VERSION ($MUSL)"

# ------------------------------------------------------------------ per target
# build_musl A: soft-float static musl for A into $WORK/A/sysroot (cached;
# the stamp holds what it was built from and with).
build_musl() {
    local a=$1 prefix b sys stamp want
    prefix=$(prefix_of "$a")
    b=$WORK/$a/musl-build
    sys=$WORK/$a/sysroot
    stamp="$sys/.stamp"
    want="musl=$MUSL_VERSION cc=$("$prefix-gcc" -dumpfullversion) cflags=$MUSL_CFLAGS malloc=$MUSL_MALLOC"
    if [ -f "$sys/lib/libc.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    log "$a: building musl $MUSL_VERSION ($MUSL_CFLAGS, $MUSL_MALLOC)"
    rm -rf "$b" "$sys"
    mkdir -p "$b"
    (
        cd "$b"
        "$MUSL/configure" --target="$prefix" --prefix="$sys" --disable-shared \
            --disable-wrapper --with-malloc="$MUSL_MALLOC" \
            CC="$prefix-gcc" CFLAGS="$MUSL_CFLAGS" >configure.log 2>&1 ||
            {
                cat configure.log >&2
                exit 1
            }
        grep -q "configured for mips variant: $a-sf" configure.log ||
            die "$a: musl did not configure soft-float: $(grep 'mips variant' configure.log)"
        make -j"$(nproc)" -s install >make.log 2>&1 || {
            tail -n 30 make.log >&2
            exit 1
        }
    ) || die "$a: musl build failed (logs in $b)"
    # keep the logs, drop the objects (~25 MB per target)
    mv -f "$b/configure.log" "$b/make.log" "$WORK/$a/"
    rm -rf "$b"
    local nfpu
    nfpu=$("$prefix-objdump" -d "$sys/lib/libc.a" | grep -cE "$FPU_RE" || true)
    [ "$nfpu" = 0 ] || die "$a: musl libc.a contains $nfpu FPU instructions"
    printf '%s' "$want" >"$stamp"
}

# make_link_env A: stub libunwind.a and the linker wrapper in $WORK/A
make_link_env() {
    local a=$1 prefix d=$WORK/$1
    prefix=$(prefix_of "$a")
    mkdir -p "$d/stub"
    "$prefix-gcc" -ffreestanding -msoft-float -march=mips32r2 -Os -Wall -Wextra -Werror \
        -c "$REPO/ci/mips-softfloat/unwind-stub.c" -o "$d/stub/unwind-stub.o"
    rm -f "$d/stub/libunwind.a"
    "$prefix-ar" rcs "$d/stub/libunwind.a" "$d/stub/unwind-stub.o"
    # against our musl's headers only (not the cross gcc's glibc ones)
    "$prefix-gcc" -nostdinc -isystem "$d/sysroot/include" -msoft-float -march=mips32r2 -Os \
        -Wall -Wextra -Werror -c "$REPO/ci/mips-softfloat/setname.c" -o "$d/stub/setname.o"
    sed -e "s|@PREFIX@|$prefix|g; s|@SYSROOT@|$d/sysroot|g; s|@STUBDIR@|$d/stub|g" \
        "$REPO/ci/mips-softfloat/cc.in" >"$d/cc.tmp"
    chmod +x "$d/cc.tmp"
    mv -f "$d/cc.tmp" "$d/cc"
}

cargo_build() { # A
    local a=$1 t envp flags std
    t=$(triple_of "$a")
    envp=${t^^}
    envp="CARGO_TARGET_${envp//-/_}_LINKER"
    flags="-C target-feature=+crt-static -C link-self-contained=no -C relocation-model=static"
    [ "$PANIC" = immediate-abort ] && flags="$flags -Z unstable-options -C panic=immediate-abort"
    flags="$flags $RUSTFLAGS_EXTRA"
    std=(-Z "build-std=std,panic_abort")
    [ "$STD_FEATURES" = - ] || std+=(-Z "build-std-features=$STD_FEATURES")
    (
        cd "$REPO"
        env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_DIR="$CROSS_DIR" \
            CARGO_PROFILE_RELEASE_OPT_LEVEL="$OPT_LEVEL" \
            "$envp=$WORK/$a/cc" \
            RUSTFLAGS="$flags" \
            /usr/bin/cargo build --release --locked --bin mmkit "${std[@]}" --target "$t"
    )
}

# check_binary A FILE: static, soft-float ABI, no FPU instruction, runs on 24Kc
check_binary() {
    local a=$1 f=$2 prefix q n out
    prefix=$(prefix_of "$a")
    q=$(qemu_of "$a")
    # (capture first: `cmd | grep -q` under pipefail fails when grep exits early)
    out=$(file -b "$f")
    [[ $out == *'statically linked'* ]] || die "$a: not static: $out"
    out=$("$prefix-readelf" -A "$f")
    [[ $out == *'FP ABI: Soft float'* ]] || die "$a: readelf -A does not say soft float"
    n=$("$prefix-objdump" -d "$f" | grep -cE "$FPU_RE" || true)
    [ "$n" = 0 ] || {
        "$prefix-objdump" -d "$f" | grep -E "$FPU_RE" | head -n 5 >&2
        die "$a: $n FPU instructions in $f"
    }
    out=$("$q" -cpu 24Kc "$f" --version) || die "$a: --version failed under $q -cpu 24Kc"
    [[ $out == "mmkit "* ]] || die "$a: unexpected --version output: $out"
    log "$a: $out; static, soft-float, 0 FPU instructions"
    [ "${MMKIT_NO_SMOKE:-0}" = 1 ] && return 0
    local tmp
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/mmkit-sf.XXXXXX")
    (
        set -e
        cd "$tmp"
        run() { "$q" -cpu 24Kc "$f" "$@" >/dev/null; }
        run gen x.seed --size 2M
        mkdir d
        run split x.seed -o d --size 300K
        run check d/*
        run join d/* -o y.seed
        cmp x.seed y.seed
        run gen x.pcap --layout pcap --size 1M --endian be
        mkdir p
        run split x.pcap -o p --size 200K --write mmap
        run check p/*
        run join p/* -o y.pcap
        cmp x.pcap y.pcap
        run copy x.seed z.seed --method mmap
        cmp x.seed z.seed
    ) || {
        rm -rf "$tmp"
        die "$a: gen/split/check/join failed under $q -cpu 24Kc"
    }
    rm -rf "$tmp"
    log "$a: gen/split/check/join/copy (seed, pcap be) OK under $q -cpu 24Kc"
}

mkdir -p "$DIST" "$WORK"
for a in "${targets[@]}"; do
    start=$SECONDS
    t=$(triple_of "$a")
    build_musl "$a"
    make_link_env "$a"
    log "$a: building mmkit for $t"
    cargo_build "$a" || die "$a: cargo build failed"
    mkdir -p "$DIST/$t"
    install -m 0755 "$CROSS_DIR/$t/release/mmkit" "$DIST/$t/mmkit.tmp"
    mv -f "$DIST/$t/mmkit.tmp" "$DIST/$t/mmkit"
    check_binary "$a" "$DIST/$t/mmkit"
    tmp=$(mktemp)
    "$(prefix_of "$a")-strip" -o "$tmp" "$DIST/$t/mmkit"
    printf '%s\t%s bytes stripped\t%s s\n' "$t" "$(stat -c %s "$tmp")" "$((SECONDS - start))"
    rm -f "$tmp"
done
