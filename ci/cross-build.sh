#!/usr/bin/env bash
# ci/cross-build.sh [TARGET...]: static release binaries of mmkit (and of the
# test-only negative controls in ci/controls) for the device families mmkit
# ships for, without docker:
#
#   mips-unknown-linux-gnu        big-endian MIPS32 (OpenWrt ath79-class)
#   mipsel-unknown-linux-gnu      little-endian MIPS32 (ramips-class)
#   armv5te-unknown-linux-gnueabi ARMv5 soft-float (Kirkwood, DaVinci)
#   armv7-unknown-linux-gnueabihf ARMv7 hard-float
#   aarch64-unknown-linux-gnu     ARMv8 64-bit
#   x86_64-unknown-linux-gnu      PC / x86 routers / the reference run
#
# Recipe: Debian's rustc-web/cargo-web/rust-web-src (1.96, /usr/bin/cargo),
# `-Z build-std` with RUSTC_BOOTSTRAP=1, Debian's cross gcc as the linker and
# `-C target-feature=+crt-static` (static glibc: nothing is loaded at run
# time, so the binary also runs on musl systems such as OpenWrt).
#
# Output: dist/<target>/mmkit, dist/<target>/mmkit-controls, a size table on
# stdout and in dist/sizes.txt (stripped bytes). These glibc builds drive the
# QEMU user matrix; the packages carry the musl builds (ci/mips-softfloat.sh,
# ci/musl-build.sh), whose 600 KiB budget openwrt/ci.sh enforces. Over
# 1.5 MiB for mipsel, the script lists what the binary is made of and exits 3.
#
# Environment:
#   MMKIT_DIST            output directory (default <repo>/dist)
#   MMKIT_CROSS_DIR       cargo target dir (default <repo>/target/cross; one
#                         subdirectory per target, reused between runs)
#   MMKIT_OPT_LEVEL       release opt-level override (default z)
#   MMKIT_STD_FEATURES    -Z build-std-features (default optimize_for_size;
#                         set to "-" for std's defaults)
#   MMKIT_PANIC           immediate-abort (default: -130 KiB on mipsel; a panic
#                         then dies of SIGTRAP/SIGILL without a message) or
#                         abort (panic message printed, then SIGABRT)
#   MMKIT_RUSTFLAGS       extra rustc flags; default "-Z location-detail=none
#                         -C force-unwind-tables=no -C link-arg=-Wl,-z,norelro";
#                         set it empty to drop them
#   MMKIT_NO_CONTROLS=1   skip the negative-control program
#   MMKIT_NO_APT=1        do not check/install apt packages
#   MMKIT_SIZE_REPORT     1: list what the mipsel binary is made of (sections,
#                         largest symbols of an unstripped build: slow, a
#                         second build); 0: never; default: when over budget
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=${MMKIT_DIST:-$REPO/dist}
CROSS_DIR=${MMKIT_CROSS_DIR:-$REPO/target/cross}
OPT_LEVEL=${MMKIT_OPT_LEVEL:-z}
STD_FEATURES=${MMKIT_STD_FEATURES:-optimize_for_size}
PANIC=${MMKIT_PANIC:-immediate-abort}
# Size flags (see docs/building.md): no panic location strings, no unwind
# tables (nothing unwinds with panic=immediate-abort), no RELRO padding.
# MMKIT_RUSTFLAGS= (empty) turns them off.
RUSTFLAGS_EXTRA=${MMKIT_RUSTFLAGS--Z location-detail=none -C force-unwind-tables=no -C link-arg=-Wl,-z,norelro}
BUDGET_MIPSEL=1572864

ALL_TARGETS=(
    mips-unknown-linux-gnu
    mipsel-unknown-linux-gnu
    armv5te-unknown-linux-gnueabi
    armv7-unknown-linux-gnueabihf
    aarch64-unknown-linux-gnu
    x86_64-unknown-linux-gnu
)

log() { printf 'cross-build: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# gnu triple prefix of Debian's cross toolchain for a Rust target
gcc_prefix() {
    case $1 in
    mips-unknown-linux-gnu) echo mips-linux-gnu ;;
    mipsel-unknown-linux-gnu) echo mipsel-linux-gnu ;;
    armv5te-unknown-linux-gnueabi) echo arm-linux-gnueabi ;;
    armv7-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
    x86_64-unknown-linux-gnu) echo x86_64-linux-gnu ;;
    *) return 1 ;;
    esac
}

# apt packages a target needs
apt_pkgs_for() {
    case $1 in
    x86_64-unknown-linux-gnu) echo gcc libc6-dev binutils ;;
    *)
        local p
        p=$(gcc_prefix "$1")
        echo "gcc-$p libc6-dev-$(debian_arch "$1")-cross binutils-$p"
        ;;
    esac
}

debian_arch() {
    case $1 in
    mips-unknown-linux-gnu) echo mips ;;
    mipsel-unknown-linux-gnu) echo mipsel ;;
    armv5te-unknown-linux-gnueabi) echo armel ;;
    armv7-unknown-linux-gnueabihf) echo armhf ;;
    aarch64-unknown-linux-gnu) echo arm64 ;;
    x86_64-unknown-linux-gnu) echo amd64 ;;
    esac
}

# ensure_apt comes from ci/lib.sh

# the CARGO_TARGET_<T>_* prefix for a target
env_prefix() {
    local t=${1^^}
    echo "CARGO_TARGET_${t//-/_}"
}

# cargo_cross TARGET MANIFEST_DIR CARGO-SUBCOMMAND-ARGS...: run Debian's cargo
# with build-std for TARGET. Extra env comes from the caller.
cargo_cross() {
    local target=$1 dir=$2
    shift 2
    local flags=(-C target-feature=+crt-static) std=(-Z "build-std=std,panic_abort") lenv=()
    # x86_64 is the host: setting its linker would also change the fingerprint
    # of the host units (build scripts, proc macros) shared by all targets and
    # make every other target rebuild std. Its default linker (cc) is right.
    if [ "$target" != x86_64-unknown-linux-gnu ]; then
        lenv=("$(env_prefix "$target")_LINKER=$(gcc_prefix "$target")-gcc")
    fi
    if [ "$PANIC" = immediate-abort ]; then
        flags+=(-Z unstable-options -C panic=immediate-abort)
    fi
    if [ -n "$RUSTFLAGS_EXTRA" ]; then
        read -ra extra <<<"$RUSTFLAGS_EXTRA"
        flags+=("${extra[@]}")
    fi
    if [ "$STD_FEATURES" != - ]; then
        std+=(-Z "build-std-features=$STD_FEATURES")
    fi
    (
        cd "$dir"
        env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_DIR="$CROSS_DIR" \
            CARGO_PROFILE_RELEASE_OPT_LEVEL="$OPT_LEVEL" \
            "${lenv[@]}" \
            RUSTFLAGS="${flags[*]}" \
            /usr/bin/cargo "$@" "${std[@]}" --target "$target"
    )
}

stripped_size() { # TARGET FILE
    local strip tmp n
    strip="$(gcc_prefix "$1")-strip"
    command -v "$strip" >/dev/null || strip="strip"
    tmp=$(mktemp)
    "$strip" -o "$tmp" "$2"
    n=$(stat -c %s "$tmp")
    rm -f "$tmp"
    echo "$n"
}

# ------------------------------------------------------------------ main
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    gcc_prefix "$t" >/dev/null || die "unknown target $t (known: ${ALL_TARGETS[*]})"
done

if [ "${MMKIT_NO_APT:-0}" != 1 ]; then
    pkgs=(rustc-web cargo-web rust-web-src)
    for t in "${targets[@]}"; do
        read -ra more <<<"$(apt_pkgs_for "$t")"
        pkgs+=("${more[@]}")
    done
    ensure_apt "${pkgs[@]}"
fi
{ [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ]; } || die "/usr/bin/cargo or /usr/bin/rustc missing (apt-get install rustc-web cargo-web rust-web-src)"
[ -f /usr/lib/rustlib/src/rust/library/Cargo.lock ] || die "rust-web-src missing: no /usr/lib/rustlib/src/rust/library"

mkdir -p "$DIST" "$CROSS_DIR"
declare -A SIZE CSIZE SECS
for t in "${targets[@]}"; do
    start=$SECONDS
    log "$t: building mmkit"
    cargo_cross "$t" "$REPO" build --release --locked --bin mmkit ||
        die "$t: mmkit build failed"
    if [ "${MMKIT_NO_CONTROLS:-0}" != 1 ]; then
        log "$t: building mmkit-controls (test-only)"
        cargo_cross "$t" "$REPO/ci/controls" build --release ||
            die "$t: controls build failed"
    fi
    mkdir -p "$DIST/$t"
    out="$CROSS_DIR/$t/release"
    install -m 0755 "$out/mmkit" "$DIST/$t/mmkit.tmp"
    mv -f "$DIST/$t/mmkit.tmp" "$DIST/$t/mmkit"
    SIZE[$t]=$(stripped_size "$t" "$DIST/$t/mmkit")
    CSIZE[$t]=-
    if [ "${MMKIT_NO_CONTROLS:-0}" != 1 ]; then
        install -m 0755 "$out/mmkit-controls" "$DIST/$t/mmkit-controls.tmp"
        mv -f "$DIST/$t/mmkit-controls.tmp" "$DIST/$t/mmkit-controls"
        CSIZE[$t]=$(stripped_size "$t" "$DIST/$t/mmkit-controls")
    fi
    SECS[$t]=$((SECONDS - start))
    file -b "$DIST/$t/mmkit" 2>/dev/null | grep -Eq 'statically linked|static-pie linked' ||
        die "$t: $DIST/$t/mmkit is not statically linked: $(file -b "$DIST/$t/mmkit" 2>&1)"
done

over=0
{
    printf '%-32s %10s %9s %8s %s\n' target bytes MiB build_s note
    for t in "${targets[@]}"; do
        note=
        if [ "$t" = mipsel-unknown-linux-gnu ]; then
            if [ "${SIZE[$t]}" -le "$BUDGET_MIPSEL" ]; then
                note="within the 1.5 MiB guard"
            else
                note="OVER the 1.5 MiB guard"
                over=1
            fi
        fi
        printf '%-32s %10s %9s %8s %s\n' "$t" "${SIZE[$t]}" \
            "$(awk -v b="${SIZE[$t]}" 'BEGIN{printf "%.3f", b/1048576}')" "${SECS[$t]}" "$note"
    done
    echo "(stripped static binaries; opt-level=$OPT_LEVEL, build-std-features=$STD_FEATURES, panic=$PANIC, flags: ${RUSTFLAGS_EXTRA:-none};" \
        "mmkit-controls, test-only:$(for t in "${targets[@]}"; do printf ' %s' "${CSIZE[$t]}"; done))"
} >"$DIST/sizes.txt"
cat "$DIST/sizes.txt"

report=${MMKIT_SIZE_REPORT:-auto}
if { [ "$over" = 1 ] && [ "$report" = auto ]; } || [ "$report" = 1 ]; then
    t=mipsel-unknown-linux-gnu
    log "size report for $t: sections of the stripped binary"
    mipsel-linux-gnu-size -A "$DIST/$t/mmkit" | sort -k2 -n -r | head -12 >&2
    log "largest symbols (unstripped build in $CROSS_DIR-sizes)"
    (
        CROSS_DIR="$CROSS_DIR-sizes"
        export CARGO_PROFILE_RELEASE_STRIP=false
        cargo_cross "$t" "$REPO" build --release --locked --bin mmkit >&2
        mipsel-linux-gnu-nm --size-sort -S -r -C "$CROSS_DIR/$t/release/mmkit" | head -30 >&2
    )
fi
if [ "$over" = 1 ]; then
    log "error: mipsel binary is over the 1.5 MiB guard (see the report above)"
    exit 3
fi
log "done: $DIST"
