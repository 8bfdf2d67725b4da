# shellcheck shell=bash
# The tables below are used by the scripts that source this file.
# shellcheck disable=SC2034
# Shared helpers for openwrt/build-ipk.sh and openwrt/test-ipk.sh (sourced, not run).
#
# Format facts (read from OpenWrt's scripts/ipkg-build and include/package-pack.mk; this is
# our own implementation): an .ipk is a gzip'd GNU tar holding ./debian-binary ("2.0\n"),
# ./data.tar.gz and ./control.tar.gz in that order; both inner archives are gzip'd GNU tars of
# "." (names start with "./"), built with --numeric-owner --sort=name --mtime=<epoch> and
# `gzip -n`; Installed-Size is the byte count of the uncompressed data tar.

IPK_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IPK_ROOT=$(cd "$IPK_LIB_DIR/.." && pwd)
IPK_MAKEFILE="$IPK_LIB_DIR/Makefile"

# OpenWrt package architecture -> Rust target whose static binary it carries
# (dist/<target>/mmkit): the smallest static build that runs on that CPU, static musl
# everywhere: ci/mips-softfloat.sh for MIPS (soft-float), ci/musl-build.sh for the rest.
IPK_ARCHES=(mipsel_24kc mips_24kc arm_cortex-a7_neon-vfpv4 aarch64_cortex-a53 arm_arm926ej-s x86_64)
declare -gA IPK_TARGET=(
	[mipsel_24kc]=mipsel-unknown-linux-musl
	[mips_24kc]=mips-unknown-linux-musl
	[arm_cortex-a7_neon-vfpv4]=armv7-unknown-linux-musleabihf
	[aarch64_cortex-a53]=aarch64-unknown-linux-musl
	[arm_arm926ej-s]=armv5te-unknown-linux-musleabi
	[x86_64]=x86_64-unknown-linux-musl
)
# The script that builds each package's binary (named in "missing binary" messages).
declare -gA IPK_BUILDER=(
	[mipsel_24kc]="ci/mips-softfloat.sh mipsel" [mips_24kc]="ci/mips-softfloat.sh mips"
	[arm_cortex-a7_neon-vfpv4]="ci/musl-build.sh armv7-unknown-linux-musleabihf"
	[aarch64_cortex-a53]="ci/musl-build.sh aarch64-unknown-linux-musl"
	[arm_arm926ej-s]="ci/musl-build.sh armv5te-unknown-linux-musleabi"
	[x86_64]="ci/musl-build.sh x86_64-unknown-linux-musl"
)
# Budget per packaged binary: 600 KiB (test-ipk.sh and test-apk.sh check it).
# Expected ELF header per package arch: "<class bits> <lsb|msb> <e_machine>".
# EM_MIPS 8, EM_ARM 40, EM_AARCH64 183, EM_X86_64 62.
declare -gA IPK_ELF=(
	[mipsel_24kc]="32 lsb 8"
	[mips_24kc]="32 msb 8"
	[arm_cortex-a7_neon-vfpv4]="32 lsb 40"
	[aarch64_cortex-a53]="64 lsb 183"
	[arm_arm926ej-s]="32 lsb 40"
	[x86_64]="64 lsb 62"
)

# Feed name and package path the README tells SDK users to use (feed "mmkit", package in
# utils/mmkit, like utils/ripgrep of the packages feed); the SDK writes
# "Source: feeds/<feed>/<path>" into the control file (and "origin" of an .apk), so the
# prebuilt packages say the same. It must not be shorter than the "SourceDateEpoch: N"
# line minus "Source" and one more character (20 characters for a 10-digit N): opkg takes
# every field whose name starts with "Source" for Source and overwrites the first value in
# place, printing "ERROR: truncating field" and garbling `opkg info` when the new value is
# longer (libopkg/pkg.c, pkg_set_raw). ipk_control refuses a Source that is too short.
IPK_SOURCE_FIELD="feeds/mmkit/utils/mmkit"
# Used when there is no git history to take SOURCE_DATE_EPOCH from (2026-01-01T00:00:00Z).
IPK_FALLBACK_EPOCH=1767225600

# ipk_need TOOL:DEBIAN-PACKAGE...: installs (apt-get, once) the packages of missing tools.
ipk_need() {
	local spec pkgs=()
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null || pkgs+=("${spec#*:}")
	done
	[ ${#pkgs[@]} -gt 0 ] || return 0
	mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
	if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
		echo "openwrt: missing ${pkgs[*]} (install them: apt-get install ${pkgs[*]})" >&2
		return 0
	fi
	echo "openwrt: installing ${pkgs[*]}" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
}

# Version of the [package] section of Cargo.toml (the single source of the version).
cargo_version() {
	awk '
		/^\[/ { in_pkg = ($0 == "[package]") }
		in_pkg && /^[[:space:]]*version[[:space:]]*=/ {
			sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
		}' "$IPK_ROOT/Cargo.toml"
}

# Value of a simple `NAME:=value` line of openwrt/Makefile (first one).
mk_var() {
	sed -n "s/^$1:=//p" "${2:-$IPK_MAKEFILE}" | head -n 1
}

# Body of `define NAME` ... `endef` in openwrt/Makefile.
mk_define() {
	awk -v name="define $1" '
		$0 == name { on = 1; next }
		on && $0 == "endef" { exit }
		on { print }' "${2:-$IPK_MAKEFILE}"
}

# A field (`  NAME:=value`) inside `define Package/mmkit`.
mk_pkg_field() {
	mk_define Package/mmkit | sed -n "s/^[[:space:]]*$1:=//p" | head -n 1
}

# Full package version the way OpenWrt 24.10+ writes it: PKG_VERSION-rPKG_RELEASE.
ipk_version() {
	echo "$(cargo_version)-r$(mk_var PKG_RELEASE)"
}

# SOURCE_DATE_EPOCH if set, else the time of the last commit, else a fixed date.
ipk_epoch() {
	local e=${SOURCE_DATE_EPOCH:-}
	if [ -z "$e" ]; then
		e=$(git -C "$IPK_ROOT" log -1 --format=%ct 2>/dev/null || true)
	fi
	echo "${e:-$IPK_FALLBACK_EPOCH}"
}

# Unsigned integer of N bytes at OFFSET in FILE, byte order lsb|msb.
elf_uint() {
	local file=$1 off=$2 n=$3 order=$4 v=0 i
	local -a b
	read -r -a b < <(od -An -tu1 -v -j "$off" -N "$n" "$file" | tr -s ' \n' '  ')
	[ "${#b[@]}" -eq "$n" ] || return 1
	if [ "$order" = lsb ]; then
		for ((i = n - 1; i >= 0; i--)); do v=$(((v << 8) | b[i])); done
	else
		for ((i = 0; i < n; i++)); do v=$(((v << 8) | b[i])); done
	fi
	echo "$v"
}

# Prints "<bits> <lsb|msb> <e_machine> <e_flags hex> <static|dynamic>" for an ELF file,
# or fails when it is not one. "dynamic" means it has a PT_INTERP program header.
elf_describe() {
	local f=$1 magic cls data bits order machine flags phoff phentsize phnum i ptype link=static
	magic=$(od -An -tx1 -N 4 "$f" 2>/dev/null | tr -d ' \n')
	[ "$magic" = 7f454c46 ] || return 1
	cls=$(elf_uint "$f" 4 1 lsb) || return 1
	data=$(elf_uint "$f" 5 1 lsb) || return 1
	case "$cls" in 1) bits=32 ;; 2) bits=64 ;; *) return 1 ;; esac
	case "$data" in 1) order=lsb ;; 2) order=msb ;; *) return 1 ;; esac
	machine=$(elf_uint "$f" 18 2 "$order") || return 1
	if [ "$bits" = 32 ]; then
		flags=$(elf_uint "$f" 36 4 "$order") || return 1
		phoff=$(elf_uint "$f" 28 4 "$order") || return 1
		phentsize=$(elf_uint "$f" 42 2 "$order") || return 1
		phnum=$(elf_uint "$f" 44 2 "$order") || return 1
	else
		flags=$(elf_uint "$f" 48 4 "$order") || return 1
		phoff=$(elf_uint "$f" 32 8 "$order") || return 1
		phentsize=$(elf_uint "$f" 54 2 "$order") || return 1
		phnum=$(elf_uint "$f" 56 2 "$order") || return 1
	fi
	for ((i = 0; i < phnum; i++)); do
		ptype=$(elf_uint "$f" $((phoff + i * phentsize)) 4 "$order") || return 1
		if [ "$ptype" = 3 ]; then link=dynamic; fi
	done
	printf '%s %s %s 0x%08x %s\n' "$bits" "$order" "$machine" "$flags" "$link"
}

# usage: prints the calling script's header comment (its usage text) and exits 2.
usage() {
	awk 'NR > 1 && !/^#/ { exit } NR > 1 && !/shellcheck/ { sub(/^# ?/, ""); print }' "$0" >&2
	exit 2
}

# pkg_binary WHO ARCH DIST: the binary to package for ARCH, checked before it ships:
# prints its path and returns 0; returns 1 (with a SKIP message) when it was not built,
# 2 (with a FAIL message) when it is not a static ELF of ARCH's CPU and byte order.
pkg_binary() {
	local who=$1 arch=$2 dist=$3 bin desc bits order machine _flags link
	bin="$dist/${IPK_TARGET[$arch]}/mmkit"
	if [ ! -f "$bin" ]; then
		echo "$who: SKIP $arch: $bin not found (build it with ${IPK_BUILDER[$arch]})" >&2
		return 1
	fi
	if ! desc=$(elf_describe "$bin"); then
		echo "$who: FAIL $arch: $bin is not an ELF file" >&2
		return 2
	fi
	read -r bits order machine _flags link <<<"$desc"
	if [ "$bits $order $machine" != "${IPK_ELF[$arch]}" ] || [ "$link" != static ]; then
		echo "$who: FAIL $arch: $bin is '$bits-bit $order e_machine=$machine $link'," \
			"expected '${IPK_ELF[$arch]}' static" >&2
		return 2
	fi
	printf '%s\n' "$bin"
}

# The register maps shipped in every package, as /etc/mmkit/<name> (0644): data of the
# package, not user configuration, so no conffiles (openwrt/README.md). The feed Makefile
# installs the same files: regmaps/*.regs of the checkout.
ipk_regmaps() {
	local f
	for f in "$IPK_ROOT"/regmaps/*.regs; do
		[ -f "$f" ] && echo "$f"
	done
	return 0
}

# ipk_stage_regmaps DIR: DIR/etc/mmkit/<map>.regs, directories 0755, files 0644.
ipk_stage_regmaps() {
	local d=$1 f
	mkdir -p "$d/etc/mmkit"
	while IFS= read -r f; do
		cp "$f" "$d/etc/mmkit/"
		chmod 0644 "$d/etc/mmkit/$(basename "$f")"
	done < <(ipk_regmaps)
	chmod 0755 "$d/etc" "$d/etc/mmkit"
}

# Deterministic gzip'd GNU tar of the current directory's "." (ipkg-build's inner archives).
_ipk_tar_dot() {
	local epoch=$1 out=$2
	tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$epoch" -cf - . | gzip -n >"$out"
}

# Writes the control file of one package to stdout. Field order follows
# include/package-pack.mk; empty fields (Depends: a static binary needs nothing) are left
# out, as OpenWrt's addfield does. Description lines get one leading space each.
ipk_control() {
	local arch=$1 size=$2 epoch=$3 maintainer
	echo "Package: $(mk_var PKG_NAME)"
	echo "Version: $(ipk_version)"
	# SourceName and SourceDateEpoch overwrite Source in opkg (see IPK_SOURCE_FIELD).
	if [ "${#IPK_SOURCE_FIELD}" -lt $((${#epoch} + 10)) ]; then
		echo "ipk_control: Source '$IPK_SOURCE_FIELD' is shorter than 'ateEpoch: $epoch': opkg info would garble it" >&2
		return 1
	fi
	echo "Source: $IPK_SOURCE_FIELD"
	echo "SourceName: $(mk_var PKG_NAME)"
	echo "License: $(mk_var PKG_LICENSE)"
	echo "LicenseFiles: $(mk_var PKG_LICENSE_FILES)"
	echo "Section: $(mk_pkg_field SECTION)"
	echo "SourceDateEpoch: $epoch"
	maintainer=$(mk_var PKG_MAINTAINER)
	if [ -n "$maintainer" ]; then echo "Maintainer: $maintainer"; fi
	echo "Architecture: $arch"
	echo "Installed-Size: $size"
	printf 'Description: '
	mk_define Package/mmkit/description | sed -e 's/^[[:space:]]*/ /'
}

# ipk_build BINARY ARCH OUTDIR -> writes OUTDIR/<pkg>_<version>_<arch>.ipk, prints its path.
# Runs in a subshell so that its EXIT trap removes the work directory.
ipk_build() (
	set -euo pipefail
	local bin=$1 arch=$2 outdir=$3 epoch work name size out
	epoch=$(ipk_epoch)
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work/root/usr/bin" "$work/control" "$work/outer"
	cp "$bin" "$work/root/usr/bin/mmkit"
	ipk_stage_regmaps "$work/root"
	chmod 0755 "$work/root" "$work/root/usr" "$work/root/usr/bin" "$work/root/usr/bin/mmkit" \
		"$work/control"
	(cd "$work/root" && _ipk_tar_dot "$epoch" "$work/outer/data.tar.gz")
	size=$(gzip -dc "$work/outer/data.tar.gz" | wc -c)
	ipk_control "$arch" "$size" "$epoch" >"$work/control/control"
	chmod 0644 "$work/control/control"
	(cd "$work/control" && _ipk_tar_dot "$epoch" "$work/outer/control.tar.gz")
	printf '2.0\n' >"$work/outer/debian-binary"
	chmod 0644 "$work/outer/debian-binary" "$work/outer/data.tar.gz" "$work/outer/control.tar.gz"
	name="$(mk_var PKG_NAME)_$(ipk_version)_${arch}.ipk"
	mkdir -p "$outdir"
	out="$outdir/$name"
	(cd "$work/outer" && tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$epoch" -cf - ./debian-binary ./data.tar.gz ./control.tar.gz) |
		gzip -n >"$out.tmp"
	mv -f "$out.tmp" "$out"
	echo "$out"
)

# pm_tools: finds the real package managers for the tests and for build-apk.sh. Sets
# OPKG_BIN and APK_BIN (empty when not available) and PM_WHY (why not). Uses $OPKG / $APK
# when set, else builds them once with the third-party sources beside the checkout:
# ${MMKIT_THIRD_PARTY:-<repo>/../shared/third-party}/build.sh into
# ${MMKIT_TOOLS_PREFIX:-/var/cache/mmkit-third-party} (no network needed).
pm_tools() {
	local tp=${MMKIT_THIRD_PARTY:-$IPK_ROOT/../shared/third-party}
	local prefix=${MMKIT_TOOLS_PREFIX:-/var/cache/mmkit-third-party} log
	OPKG_BIN=${OPKG:-}
	APK_BIN=${APK:-}
	PM_WHY=""
	if [ -n "$OPKG_BIN" ] && [ -n "$APK_BIN" ]; then return 0; fi
	if [ -x "$prefix/bin/opkg" ] && [ -x "$prefix/bin/apk" ]; then
		:
	elif [ ! -f "$tp/build.sh" ]; then
		PM_WHY="no $tp/build.sh (the opkg and apk-tools sources are not beside this checkout; set MMKIT_THIRD_PARTY, or OPKG and APK)"
	else
		echo "openwrt: building opkg and apk-tools from $tp into $prefix" >&2
		if ! log=$(bash "$tp/build.sh" "$prefix" 2>&1); then
			PM_WHY="$tp/build.sh $prefix failed: $(tail -n 3 <<<"$log" | tr '\n' ' ')"
		fi
	fi
	if [ -z "$PM_WHY" ]; then
		OPKG_BIN=${OPKG_BIN:-$prefix/bin/opkg}
		APK_BIN=${APK_BIN:-$prefix/bin/apk}
	fi
	if [ -n "$OPKG_BIN" ] && [ ! -x "$OPKG_BIN" ]; then PM_WHY="$OPKG_BIN is not executable"; OPKG_BIN=""; fi
	if [ -n "$APK_BIN" ] && [ ! -x "$APK_BIN" ]; then PM_WHY="$APK_BIN is not executable"; APK_BIN=""; fi
	return 0
}

# ---- .apk (OpenWrt 25.12+, apk-tools v3) ----

# File name OpenWrt gives a package (include/package-pack.mk: <name>-<version>.apk, in
# bin/packages/<arch>/<feed>/): the arch is not part of the name, so each arch gets a
# directory, <out>/<arch>/mmkit-<version>.apk.
apk_name() {
	echo "$(mk_var PKG_NAME)-$(ipk_version).apk"
}

# Description as OpenWrt passes it to `apk mkpkg`: the define's lines joined by one space.
apk_description() {
	mk_define Package/mmkit/description | tr -s ' \t\n' '   ' | sed -e 's/^ //' -e 's/ $//'
}

# apk_info_args ARCH: the `--info KEY:VALUE` arguments, one per line, in the order
# package-pack.mk passes them (name, version, description, arch, license, origin, url,
# maintainer, depends). url is the Package's URL:= (none is set: empty, as OpenWrt passes
# it); depends is empty: a static binary needs nothing, not even libc.
apk_info_args() {
	local arch=$1
	printf '%s\n' --info "name:$(mk_var PKG_NAME)" --info "version:$(ipk_version)" \
		--info "description:$(apk_description)" --info "arch:$arch" \
		--info "license:$(mk_var PKG_LICENSE)" --info "origin:$IPK_SOURCE_FIELD" \
		--info "url:$(mk_pkg_field URL)" --info "maintainer:$(mk_var PKG_MAINTAINER)" \
		--info "depends:"
}

# apk_stage BINARY DIR: the package's files as OpenWrt installs them before `apk mkpkg`:
# /usr/bin/mmkit (0755), the register maps /etc/mmkit/*.regs (0644) and
# /lib/apk/packages/mmkit.list (0644, the package's files, one "/path" a line, sorted, as
# package-pack.mk writes it), directories 0755.
apk_stage() {
	local bin=$1 d=$2 name
	name=$(mk_var PKG_NAME)
	mkdir -p "$d/usr/bin" "$d/lib/apk/packages"
	cp "$bin" "$d/usr/bin/$name"
	ipk_stage_regmaps "$d"
	(cd "$d" && find ./etc ./usr -type f | sed 's|^\.||' | LC_ALL=C sort) >"$d/lib/apk/packages/$name.list"
	chmod 0755 "$d" "$d/usr" "$d/usr/bin" "$d/lib" "$d/lib/apk" "$d/lib/apk/packages" "$d/usr/bin/$name"
	chmod 0644 "$d/lib/apk/packages/$name.list"
}

# apk_mkpkg APK STAGE OUT [apk global options...] -- [mkpkg args...]: runs `apk mkpkg` on a
# staged tree with SOURCE_DATE_EPOCH as every file's mtime. The uid/gid of the files are
# looked up in an empty root, so 0 is "root" whatever the build machine's passwd says;
# files not owned by 0 (a build as non-root without fakeroot) become "nobody".
apk_mkpkg() {
	local apk=$1 stage=$2 out=$3 empty
	shift 3
	local glob=() rest=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do glob+=("$1"); shift; done
	[ $# -eq 0 ] || shift
	rest=("$@")
	local rc=0
	empty=$(mktemp -d)
	SOURCE_DATE_EPOCH=$(ipk_epoch) "$apk" --root "$empty" --quiet ${glob[@]+"${glob[@]}"} mkpkg \
		${rest[@]+"${rest[@]}"} --files "$stage" --output "$out" || rc=$?
	rm -rf "$empty"
	return "$rc"
}

# budget_bytes ARCH: the most bytes a packaged binary may have: 600 KiB for
# every architecture (the MIPS soft-float musl builds, the largest, are
# checked against it like the others).
budget_bytes() {
	echo 614400
}
