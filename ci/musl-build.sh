#!/usr/bin/env bash
# ci/musl-build.sh: experimental static **musl** build of mmkit for
# armv7-unknown-linux-musleabihf (OpenWrt arm_cortex-a7_neon-vfpv4 uses musl),
# to compare with the static-glibc build of ci/cross-build.sh.
#
# How: Debian has no musl cross toolchain, but musl-dev:armhf (hard-float,
# like the Rust target) holds crt1.o/crti.o/crtn.o/libc.a. The package is
# downloaded and unpacked into target/musl-sysroot (not installed), and
# Debian's arm-linux-gnueabihf-gcc links against it through a specs file
# that replaces glibc's start files and libc. Rust's std for musl links
# `-lunwind`; libgcc_eh.a from the same gcc provides the ARM EHABI
# unwinder, which only needs `__gnu_Unwind_Find_exidx` (musl has it).
#
# Output: dist/armv7-unknown-linux-musleabihf/mmkit. Exit 0 on success.
# Same environment knobs as ci/cross-build.sh (MMKIT_DIST, MMKIT_OPT_LEVEL,
# MMKIT_STD_FEATURES, MMKIT_PANIC).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=${MMKIT_DIST:-$REPO/dist}
T=armv7-unknown-linux-musleabihf
CROSS_DIR=${MMKIT_CROSS_DIR:-$REPO/target/cross-musl}
SYSROOT=$REPO/target/musl-sysroot/armhf
OPT_LEVEL=${MMKIT_OPT_LEVEL:-z}
STD_FEATURES=${MMKIT_STD_FEATURES:-optimize_for_size}
PANIC=${MMKIT_PANIC:-immediate-abort}
RUSTFLAGS_EXTRA=${MMKIT_RUSTFLAGS--Z location-detail=none -C force-unwind-tables=no -C link-arg=-Wl,-z,norelro}
log() { printf 'musl-build: %s\n' "$*" >&2; }

need=()
for p in rustc-web cargo-web rust-web-src gcc-arm-linux-gnueabihf qemu-user-static; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || need+=("$p")
done
if ! dpkg --print-foreign-architectures | grep -qx armhf; then
    dpkg --add-architecture armhf
    need+=(update-only)
fi
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    pkgs=()
    for p in "${need[@]}"; do [ "$p" = update-only ] || pkgs+=("$p"); done
    [ ${#pkgs[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
fi

LIB=$SYSROOT/usr/lib/arm-linux-musleabihf
if [ ! -f "$LIB/libc.a" ]; then
    log "fetching musl-dev:armhf into $SYSROOT"
    rm -rf "$SYSROOT"
    mkdir -p "$SYSROOT/deb"
    (cd "$SYSROOT/deb" && apt-get download musl-dev:armhf >&2)
    dpkg-deb -x "$SYSROOT"/deb/musl-dev_*_armhf.deb "$SYSROOT"
fi

# -lunwind: the ARM EHABI unwinder of libgcc_eh
mkdir -p "$SYSROOT/extra"
cp -f "$(arm-linux-gnueabihf-gcc -print-file-name=libgcc_eh.a)" "$SYSROOT/extra/libunwind.a"

# gcc specs: musl's start files and libc instead of glibc's (static, no PIE)
cat >"$SYSROOT/musl.specs" <<EOF
%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem $SYSROOT/usr/include/arm-linux-musleabihf -isystem include%s %(old_cpp_options)

*link_libgcc:
-L$LIB -L$SYSROOT/extra -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
$LIB/crt1.o $LIB/crti.o crtbeginT.o%s

*endfile:
crtend.o%s $LIB/crtn.o

*link:
-nostdlib -static
EOF
cat >"$SYSROOT/cc" <<EOF
#!/bin/sh
exec arm-linux-gnueabihf-gcc -specs=$SYSROOT/musl.specs "\$@"
EOF
chmod +x "$SYSROOT/cc"

flags="-C target-feature=+crt-static -C link-self-contained=no -C relocation-model=static"
[ "$PANIC" = immediate-abort ] && flags="$flags -Z unstable-options -C panic=immediate-abort"
flags="$flags $RUSTFLAGS_EXTRA"
std=(-Z "build-std=std,panic_abort")
[ "$STD_FEATURES" = - ] || std+=(-Z "build-std-features=$STD_FEATURES")
start=$SECONDS
(
    cd "$REPO"
    env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_DIR="$CROSS_DIR" \
        CARGO_PROFILE_RELEASE_OPT_LEVEL="$OPT_LEVEL" \
        CARGO_TARGET_ARMV7_UNKNOWN_LINUX_MUSLEABIHF_LINKER="$SYSROOT/cc" \
        RUSTFLAGS="$flags" \
        /usr/bin/cargo build --release --locked --bin mmkit "${std[@]}" --target "$T"
)
mkdir -p "$DIST/$T"
install -m 0755 "$CROSS_DIR/$T/release/mmkit" "$DIST/$T/mmkit"
file -b "$DIST/$T/mmkit" | grep -Eq 'statically linked|static-pie linked' || {
    log "not static: $(file -b "$DIST/$T/mmkit")"
    exit 1
}
qemu-arm-static -cpu cortex-a7 "$DIST/$T/mmkit" --version >&2
log "$T: $(stat -c %s "$DIST/$T/mmkit") bytes stripped, built in $((SECONDS - start)) s"
