#!/usr/bin/env bash
# ci/musl-build.sh [TARGET...]: static **musl** builds of mmkit for the ARM,
# aarch64 and x86_64 OpenWrt packages (OpenWrt's userland is musl; a static
# musl binary is much smaller than a static glibc one).
#
#   armv7-unknown-linux-musleabihf  arm_cortex-a7_neon-vfpv4 (Debian armhf)
#   armv5te-unknown-linux-musleabi  arm_arm926ej-s           (Debian armel)
#   aarch64-unknown-linux-musl      aarch64_cortex-a53       (Debian arm64)
#   x86_64-unknown-linux-musl       x86_64                   (Debian amd64)
#
# Default: all four. (The MIPS ones are soft-float: ci/mips-softfloat.sh.)
#
# How: Debian has no musl cross toolchain, but musl-dev:<arch> holds
# crt1.o/crti.o/crtn.o/libc.a. The package is downloaded and unpacked into
# target/musl-sysroot/<arch> (not installed), and Debian's <triple>-gcc links
# against it through a specs file that replaces glibc's start files and libc.
# Rust's std for musl links `-lunwind`:
#   - ARM: libgcc_eh.a of the same gcc, the ARM EHABI unwinder, which only
#     needs `__gnu_Unwind_Find_exidx` (musl has it);
#   - aarch64, x86_64: gcc-12's DWARF unwinder references glibc's
#     `_dl_find_object`, so a do-nothing unwinder (ci/mips-softfloat/
#     unwind-stub.c) is linked instead. Nothing unwinds: the build uses
#     panic=immediate-abort (MMKIT_PANIC), backtraces are simply empty.
# ci/mips-softfloat/setname.c replaces musl's pthread_setname_np, whose snprintf
# linked all of printf into the binary (as in ci/mips-softfloat.sh).
#
# Output: dist/<target>/mmkit, checked static and run (--version) under
# qemu-user with the package's CPU. Exit 0 when every target built.
# Environment: MMKIT_DIST, MMKIT_OPT_LEVEL, MMKIT_STD_FEATURES, MMKIT_PANIC,
# MMKIT_RUSTFLAGS as in ci/cross-build.sh; MMKIT_CROSS_DIR (cargo target dir,
# default target/cross-musl), MMKIT_MUSL_SYSROOT (default target/musl-sysroot),
# MMKIT_NO_APT=1 (do not check/install apt packages).
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=${MMKIT_DIST:-$REPO/dist}
CROSS_DIR=${MMKIT_CROSS_DIR:-$REPO/target/cross-musl}
SYSROOTS=${MMKIT_MUSL_SYSROOT:-$REPO/target/musl-sysroot}
OPT_LEVEL=${MMKIT_OPT_LEVEL:-z}
STD_FEATURES=${MMKIT_STD_FEATURES:-optimize_for_size}
PANIC=${MMKIT_PANIC:-immediate-abort}
RUSTFLAGS_EXTRA=${MMKIT_RUSTFLAGS--Z location-detail=none -C force-unwind-tables=no -C link-arg=-Wl,-z,norelro}
ALL_TARGETS=(
    armv7-unknown-linux-musleabihf
    armv5te-unknown-linux-musleabi
    aarch64-unknown-linux-musl
    x86_64-unknown-linux-musl
)
log() { printf 'musl-build: %s\n' "$*" >&2; }

# target -> "debian-arch gcc-triple musl-multiarch-dir unwinder qemu-command"
target_info() {
    case $1 in
    armv7-unknown-linux-musleabihf) echo "armhf arm-linux-gnueabihf arm-linux-musleabihf libgcc_eh qemu-arm-static:-cpu:cortex-a7" ;;
    armv5te-unknown-linux-musleabi) echo "armel arm-linux-gnueabi arm-linux-musleabi libgcc_eh qemu-arm-static:-cpu:arm926" ;;
    aarch64-unknown-linux-musl) echo "arm64 aarch64-linux-gnu aarch64-linux-musl stub qemu-aarch64-static:-cpu:cortex-a53" ;;
    x86_64-unknown-linux-musl) echo "amd64 x86_64-linux-gnu x86_64-linux-musl stub -" ;;
    *) return 1 ;;
    esac
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    target_info "$t" >/dev/null || { log "unknown target $t (known: ${ALL_TARGETS[*]})"; exit 2; }
done

if [ "${MMKIT_NO_APT:-0}" != 1 ]; then
    pkgs=(rustc-web cargo-web rust-web-src qemu-user-static file)
    added=0
    for t in "${targets[@]}"; do
        read -r darch triple _ <<<"$(target_info "$t")"
        if [ "$darch" = "$(dpkg --print-architecture)" ]; then
            pkgs+=(gcc binutils)
            continue
        fi
        pkgs+=("gcc-$triple")
        if ! dpkg --print-foreign-architectures | grep -qx "$darch"; then
            dpkg --add-architecture "$darch"
            added=1
        fi
    done
    if [ "$added" = 1 ]; then apt-get update -qq || log "warning: apt-get update failed (using the lists there are)"; fi
    ensure_apt "${pkgs[@]}"
fi

# sysroot TARGET: unpacks musl-dev:<arch>, writes the specs file, the unwinder and
# the linker wrapper $SYSROOTS/<arch>/cc.
sysroot() {
    local t=$1 darch triple mdir unwind sr lib
    read -r darch triple mdir unwind _ <<<"$(target_info "$t")"
    sr=$SYSROOTS/$darch
    lib=$sr/usr/lib/$mdir
    if [ ! -f "$lib/libc.a" ]; then
        log "fetching musl-dev:$darch into $sr"
        rm -rf "$sr"
        mkdir -p "$sr/deb"
        (cd "$sr/deb" && apt-get download "musl-dev:$darch" >&2)
        dpkg-deb -x "$sr"/deb/musl-dev_*_"$darch".deb "$sr"
    fi
    mkdir -p "$sr/extra"
    if [ "$unwind" = libgcc_eh ]; then
        cp -f "$("$triple-gcc" -print-file-name=libgcc_eh.a)" "$sr/extra/libunwind.a"
    else
        "$triple-gcc" -O2 -ffreestanding -fno-asynchronous-unwind-tables -c \
            "$REPO/ci/mips-softfloat/unwind-stub.c" -o "$sr/extra/unwind-stub.o"
        rm -f "$sr/extra/libunwind.a"
        "$triple-ar" rcs "$sr/extra/libunwind.a" "$sr/extra/unwind-stub.o"
    fi
    # musl's pthread_setname_np formats its /proc path with snprintf, which links all of
    # printf (~12 KB): ci/mips-softfloat/setname.c replaces it, linked as an object (so
    # libc.a's is never pulled in), compiled against musl's headers only
    "$triple-gcc" -nostdinc -isystem "$sr/usr/include/$mdir" -Os -Wall -Wextra -Werror \
        -fno-asynchronous-unwind-tables -c "$REPO/ci/mips-softfloat/setname.c" -o "$sr/extra/setname.o"
    # gcc specs: musl's start files and libc instead of glibc's (static, no PIE)
    cat >"$sr/musl.specs" <<EOF
%rename cpp_options old_cpp_options

*cpp_options:
-nostdinc -isystem $sr/usr/include/$mdir -isystem include%s %(old_cpp_options)

*link_libgcc:
-L$lib -L$sr/extra -L .%s

*libgcc:
libgcc.a%s %:if-exists(libgcc_eh.a%s)

*startfile:
$lib/crt1.o $lib/crti.o crtbeginT.o%s $sr/extra/setname.o

*endfile:
crtend.o%s $lib/crtn.o

*link:
-nostdlib -static
EOF
    if [ "$unwind" = stub ]; then
        # libgcc_eh.a would bring gcc's DWARF unwinder (and _dl_find_object) back
        sed -i 's/^libgcc\.a%s %:if-exists(libgcc_eh\.a%s)$/libgcc.a%s/' "$sr/musl.specs"
    fi
    cat >"$sr/cc" <<EOF
#!/bin/sh
exec $triple-gcc -specs=$sr/musl.specs "\$@"
EOF
    chmod +x "$sr/cc"
    echo "$sr/cc"
}

# Known source problem on 64-bit musl, where statfs.f_type is `unsigned long` (u64):
# src/bench/scratch.rs converts it with `i64::from()`, which only compiles where it is
# signed or 32-bit (glibc, 32-bit musl). src/ belongs to another change in progress, so
# until it is fixed there, such targets build from a copy of the crate (Cargo.toml,
# Cargo.lock, src/) with that one expression written as a cast instead: the same value,
# the magic is masked to its low 32 bits right after. A warning says so; once the
# expression is gone from src/, no copy is made and the tree is built as it is.
F_TYPE_EXPR='i64::from(s.filesystem_type().0)'
source_dir() { # source_dir TARGET -> the directory to build in
    local t=$1 copy
    case $t in
    aarch64-* | x86_64-*) ;;
    *) echo "$REPO"; return 0 ;;
    esac
    if ! grep -qF "$F_TYPE_EXPR" "$REPO/src/bench/scratch.rs" 2>/dev/null; then
        echo "$REPO"
        return 0
    fi
    copy=$CROSS_DIR/src-64bit-musl
    local stage f
    stage=$(mktemp -d)
    cp -a "$REPO/Cargo.toml" "$REPO/Cargo.lock" "$REPO/src" "$stage/"
    sed -i 's/i64::from(s\.filesystem_type()\.0)/(s.filesystem_type().0 as i64)/' "$stage/src/bench/scratch.rs"
    if grep -qF "$F_TYPE_EXPR" "$stage/src/bench/scratch.rs"; then
        log "could not rewrite $F_TYPE_EXPR in the copy"
        rm -rf "$stage"
        return 1
    fi
    # Update the copy file by file, so that unchanged files keep their time stamps and a
    # warm build stays warm.
    mkdir -p "$copy"
    while IFS= read -r f; do
        if ! cmp -s "$stage/$f" "$copy/$f"; then
            mkdir -p "$(dirname "$copy/$f")"
            cp -p "$stage/$f" "$copy/$f"
        fi
    done < <(cd "$stage" && find . -type f)
    while IFS= read -r f; do
        [ -e "$stage/$f" ] || rm -f "$copy/$f"
    done < <(cd "$copy" && find . -type f)
    rm -rf "$stage"
    log "WARNING: $t builds from a copy of src/ with $F_TYPE_EXPR in src/bench/scratch.rs" \
        "written as '(s.filesystem_type().0 as i64)' (u64 on 64-bit musl; see ci/musl-build.sh)"
    echo "$copy"
}

flags="-C target-feature=+crt-static -C link-self-contained=no -C relocation-model=static"
[ "$PANIC" = immediate-abort ] && flags="$flags -Z unstable-options -C panic=immediate-abort"
flags="$flags $RUSTFLAGS_EXTRA"
std=(-Z "build-std=std,panic_abort")
[ "$STD_FEATURES" = - ] || std+=(-Z "build-std-features=$STD_FEATURES")
# One cargo run per source directory, all its targets at once (--target a --target b):
# the host-side crates (proc macros, build scripts) are compiled once, and the two cores
# stay busy with two std builds side by side.
start=$SECONDS
failed=0
linkers=()
declare -A group=()
for t in "${targets[@]}"; do
    cc=$(sysroot "$t")
    linkers+=("CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$t")_LINKER=$cc")
    if [ -z "${copy_made:-}" ] || [[ $t != aarch64-* && $t != x86_64-* ]]; then
        if ! src=$(source_dir "$t"); then
            failed=$((failed + 1))
            continue
        fi
        [ "$src" = "$REPO" ] || copy_made=$src
    else
        src=$copy_made
    fi
    group[$src]="${group[$src]:-} $t"
done
declare -A broken=()
for src in "${!group[@]}"; do
    read -r -a ts <<<"${group[$src]}"
    targs=()
    for t in "${ts[@]}"; do targs+=(--target "$t"); done
    log "building ${ts[*]} in $src"
    if ! (
        cd "$src"
        env RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1 \
            CARGO_TARGET_DIR="$CROSS_DIR" \
            CARGO_PROFILE_RELEASE_OPT_LEVEL="$OPT_LEVEL" \
            "${linkers[@]}" \
            RUSTFLAGS="$flags" \
            /usr/bin/cargo build --release --locked --bin mmkit "${std[@]}" "${targs[@]}"
    ); then
        log "${ts[*]}: build FAILED"
        for t in "${ts[@]}"; do broken[$t]=1; done
    fi
done
for t in "${targets[@]}"; do
    [[ " ${group[*]:-} " == *" $t "* ]] || continue
    if [ -n "${broken[$t]:-}" ]; then
        failed=$((failed + 1))
        continue
    fi
    read -r _ _ _ _ qemu <<<"$(target_info "$t")"
    mkdir -p "$DIST/$t"
    install -m 0755 "$CROSS_DIR/$t/release/mmkit" "$DIST/$t/mmkit"
    if ! file -b "$DIST/$t/mmkit" | grep -Eq 'statically linked|static-pie linked'; then
        log "$t: not static: $(file -b "$DIST/$t/mmkit")"
        failed=$((failed + 1))
        continue
    fi
    run=()
    [ "$qemu" = - ] || read -r -a run <<<"${qemu//:/ }"
    if ! "${run[@]}" "$DIST/$t/mmkit" --version >&2; then
        log "$t: does not run (${run[*]:-native})"
        failed=$((failed + 1))
        continue
    fi
    log "$t: $(stat -c %s "$DIST/$t/mmkit") bytes stripped"
done
log "$((${#targets[@]} - failed)) of ${#targets[@]} built in $((SECONDS - start)) s"
[ "$failed" -eq 0 ]
