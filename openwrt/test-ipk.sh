#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016 # single-quoted make syntax and bash -c snippets are literal
# Checks the OpenWrt packages in dist/ipk/ the way a router would see them, then proves the
# checker can fail by feeding it deliberately broken packages.
#
# Usage: openwrt/test-ipk.sh [--dist DIR] [--ipk DIR] [--allow-missing] [--no-self-test]
#                            [--opkg PATH | --no-opkg] [--assume-fpu-emulator]
#   --dist DIR       where the static binaries are (default: $MMKIT_DIST, else dist/)
#   --ipk DIR        where the packages are (default: <dist>/ipk)
#   --allow-missing  an architecture without a package is SKIP instead of FAIL
#   --no-self-test   skip the broken-package self-test
#   --opkg PATH      the real opkg (OpenWrt's opkg-lede, built for the host) that installs,
#                    lists, describes and removes each package in an offline root; default:
#                    $OPKG, else built once from ../shared/third-party (pm_tools in
#                    ipk-lib.sh); without one those checks are SKIP with the reason
#   --no-opkg        skip the opkg checks
#   --assume-fpu-emulator  run the MIPS binaries on a 24Kf (with FPU) instead of a 24Kc:
#                    only right for routers whose kernel has CONFIG_MIPS_FP_SUPPORT=y
# Prints PASS/FAIL/SKIP lines and ends with "N passed, M failed, K skipped";
# exits 1 when anything failed, 2 on usage errors.
set -euo pipefail

# shellcheck source=ipk-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/ipk-lib.sh"

dist="${MMKIT_DIST:-$IPK_ROOT/dist}"
ipkdir=""
allow_missing=0
self_test=1
fpu_emulator=0
opkg=${OPKG:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--dist) [ $# -ge 2 ] || usage; dist=$2; shift 2 ;;
	--ipk) [ $# -ge 2 ] || usage; ipkdir=$2; shift 2 ;;
	--allow-missing) allow_missing=1; shift ;;
	--no-self-test) self_test=0; shift ;;
	--opkg) [ $# -ge 2 ] || usage; opkg=$2; shift 2 ;;
	--no-opkg) opkg=none; shift ;;
	--assume-fpu-emulator) fpu_emulator=1; shift ;;
	*) usage ;;
	esac
done
ipkdir=${ipkdir:-$dist/ipk}
# Absolute paths: the checks cd into scratch directories.
if [ -d "$dist" ]; then dist=$(cd "$dist" && pwd); fi
if [ -d "$ipkdir" ]; then ipkdir=$(cd "$ipkdir" && pwd); fi
ipk_need tar:tar gzip:gzip od:coreutils git:git readelf:binutils ar:binutils busybox:busybox-static \
	qemu-mips-static:qemu-user-static qemu-mipsel-static:qemu-user-static \
	qemu-arm-static:qemu-user-static qemu-aarch64-static:qemu-user-static

pass=0
fail=0
skip=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
skp() { echo "SKIP: $*"; skip=$((skip + 1)); }
check() { # check "description" command... -> PASS or FAIL
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export LC_ALL=C

# Expected values, written out here rather than taken from the builder, so that a bug
# there cannot hide itself. The version is read from Cargo.toml independently.
PKG=mmkit
SECTION=utils
SOURCE=feeds/mmkit/utils/mmkit
CARGO_VERSION=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$IPK_ROOT/Cargo.toml" | head -n 1)
VERSION="$CARGO_VERSION-r$(sed -n 's/^PKG_RELEASE:=//p' "$IPK_MAKEFILE")"
# The register maps every package ships as /etc/mmkit/<name> (0644), equal to regmaps/<name>.
REGMAPS="qemu-arm-virt.regs qemu-mips-malta.regs"
FIELDS="Package Version Source SourceName License LicenseFiles Section SourceDateEpoch Maintainer Architecture Installed-Size Description"
declare -A WANT_ELF=( # bits, byte order, e_machine (EM_MIPS 8, EM_ARM 40, EM_AARCH64 183, EM_X86_64 62)
	[mipsel_24kc]="32 lsb 8" [mips_24kc]="32 msb 8" [arm_cortex-a7_neon-vfpv4]="32 lsb 40"
	[aarch64_cortex-a53]="64 lsb 183" [arm_arm926ej-s]="32 lsb 40" [x86_64]="64 lsb 62"
)
# MIPS: a 24Kc has no FPU, and OpenWrt's kernels are built without the FPU emulator
# (target/linux/generic/config-6.6: "# CONFIG_MIPS_FP_SUPPORT is not set"), so one
# hard-float instruction kills the program with SIGILL there, as under `-cpu 24Kc`.
declare -A QEMU=( # how to run the binary on the package's CPU
	[mipsel_24kc]="qemu-mipsel-static -cpu 24Kc" [mips_24kc]="qemu-mips-static -cpu 24Kc"
	[arm_cortex-a7_neon-vfpv4]="qemu-arm-static -cpu cortex-a7"
	[aarch64_cortex-a53]="qemu-aarch64-static -cpu cortex-a53" [arm_arm926ej-s]="qemu-arm-static -cpu arm926"
	[x86_64]=""
)

# gzip member written by `gzip -n`: magic 1f 8b, deflate, no FNAME flag, MTIME 0.
gzip_is_plain() {
	local h
	h=$(od -An -tx1 -N 8 "$1" | tr -d ' \n')
	[ "${h:0:6}" = 1f8b08 ] && [ $((0x${h:6:2} & 0x08)) -eq 0 ] && [ "${h:8:8}" = 00000000 ]
}
# First tar header of a gzip'd tar has the GNU magic "ustar  \0".
tar_is_gnu() {
	[ "$(gzip -dc "$1" 2>/dev/null | head -c 512 | od -An -tx1 -j 257 -N 8 | tr -d ' \n')" = 7573746172202000 ]
}
# "perms owner size mtime-epoch name" per member; numeric owners, UTC.
tar_list() {
	TZ=UTC tar --numeric-owner --full-time -tvzf "$1" | while read -r perms owner size day time name; do
		echo "$perms $owner $size $(date -u -d "$day $time" +%s) $name"
	done
}
plain_gnu_tgz() { gzip_is_plain "$1" && tar_is_gnu "$1"; }
field() { sed -n "s/^$1: *//p" "$2" | head -n 1; }

# check_ipk FILE [BINARY]: all checks of one package; BINARY is the dist binary it should hold.
check_ipk() {
	local f=$1 bin=${2:-} base arch tag w members fields epoch size elf bits order machine flags link
	base=$(basename "$f")
	arch=${base#"${PKG}_${VERSION}_"}
	arch=${arch%.ipk}
	tag="[$arch]"
	if [ -z "${WANT_ELF[$arch]:-}" ] || [ "$base" != "${PKG}_${VERSION}_${arch}.ipk" ]; then
		bad "$tag file name $base is not ${PKG}_${VERSION}_<known arch>.ipk"
		return 0
	fi
	w="$TMP/unpack.$arch.$RANDOM"
	mkdir -p "$w/outer" "$w/control" "$w/root"

	# Outer archive: what opkg reads first.
	check "$tag outer file is gzip written with -n (no name, no time stamp)" gzip_is_plain "$f"
	check "$tag outer archive is a GNU tar" tar_is_gnu "$f"
	members=$(tar -tzf "$f" 2>/dev/null | tr '\n' ' ' || true)
	check "$tag members in order ./debian-binary ./data.tar.gz ./control.tar.gz (got: ${members:-none})" \
		test "$members" = "./debian-binary ./data.tar.gz ./control.tar.gz "
	# Unpack with busybox tar when there is one: that is the tar on the router.
	if command -v busybox >/dev/null; then
		(cd "$w/outer" && gzip -dc "$f" | busybox tar -xf -) 2>/dev/null || true
	else
		(cd "$w/outer" && tar -xzf "$f") 2>/dev/null || true
	fi
	if [ ! -f "$w/outer/control.tar.gz" ] || [ ! -f "$w/outer/data.tar.gz" ]; then
		bad "$tag unpacks to control.tar.gz and data.tar.gz"
		return 0
	fi
	check "$tag debian-binary is exactly \"2.0\\n\"" \
		test "$(od -An -tx1 "$w/outer/debian-binary" | tr -d ' \n')" = 322e300a
	(cd "$w/control" && gzip -dc ../outer/control.tar.gz | tar -xf -) 2>/dev/null || true
	(cd "$w/root" && gzip -dc ../outer/data.tar.gz | tar -xf -) 2>/dev/null || true
	if [ ! -f "$w/control/control" ]; then
		bad "$tag control.tar.gz holds ./control"
		return 0
	fi

	# Control file.
	local c="$w/control/control"
	fields=$(sed -n 's/^\([A-Za-z-]*\):.*/\1/p' "$c" | tr '\n' ' ')
	check "$tag control fields are, in order: $FIELDS (got: $fields)" test "$fields" = "$FIELDS "
	check "$tag Package: $PKG" test "$(field Package "$c")" = "$PKG"
	check "$tag Version: $VERSION (Cargo.toml + PKG_RELEASE)" test "$(field Version "$c")" = "$VERSION"
	check "$tag no dependencies (static binary): Depends absent or empty" \
		test -z "$(field Depends "$c")"
	check "$tag Source: $SOURCE" test "$(field Source "$c")" = "$SOURCE"
	check "$tag SourceName: $PKG" test "$(field SourceName "$c")" = "$PKG"
	check "$tag License is PKG_LICENSE of openwrt/Makefile" \
		test "$(field License "$c")" = "$(sed -n 's/^PKG_LICENSE:=//p' "$IPK_MAKEFILE")"
	check "$tag LicenseFiles is PKG_LICENSE_FILES of openwrt/Makefile" \
		test "$(field LicenseFiles "$c")" = "$(sed -n 's/^PKG_LICENSE_FILES:=//p' "$IPK_MAKEFILE")"
	check "$tag Section: $SECTION" test "$(field Section "$c")" = "$SECTION"
	epoch=$(field SourceDateEpoch "$c")
	check "$tag SourceDateEpoch is a number ($epoch)" test -n "$epoch" -a -z "${epoch//[0-9]/}"
	check "$tag Maintainer is PKG_MAINTAINER" \
		test "$(field Maintainer "$c")" = "$(sed -n 's/^PKG_MAINTAINER:=//p' "$IPK_MAKEFILE")"
	check "$tag Architecture: $arch" test "$(field Architecture "$c")" = "$arch"
	size=$(gzip -dc "$w/outer/data.tar.gz" | wc -c)
	check "$tag Installed-Size is the uncompressed data tar size ($size)" \
		test "$(field Installed-Size "$c")" = "$size"
	check "$tag Description is set and every continuation line starts with a space" \
		bash -c '[ -n "$(sed -n "s/^Description: *//p" "$1")" ] &&
			! sed -n "/^Description:/,\$p" "$1" | tail -n +2 | grep -qv "^ ."' _ "$c"
	check "$tag control ends with a newline and has no empty lines" \
		bash -c '[ "$(tail -c 1 "$1" | od -An -tx1 | tr -d " ")" = 0a ] && ! grep -q "^$" "$1"' _ "$c"

	# Inner archives: format, names, modes, owners, time stamps.
	local inner
	for inner in control data; do
		check "$tag $inner.tar.gz is gzip -n and GNU tar" plain_gnu_tgz "$w/outer/$inner.tar.gz"
	done
	local want_data want_ctrl got_data got_ctrl
	local m
	want_data="drwxr-xr-x 0/0 $epoch ./|drwxr-xr-x 0/0 $epoch ./etc/|drwxr-xr-x 0/0 $epoch ./etc/mmkit/|"
	for m in $REGMAPS; do want_data+="-rw-r--r-- 0/0 $epoch ./etc/mmkit/$m|"; done
	want_data+="drwxr-xr-x 0/0 $epoch ./usr/|drwxr-xr-x 0/0 $epoch ./usr/bin/|-rwxr-xr-x 0/0 $epoch ./usr/bin/mmkit|"
	got_data=$(tar_list "$w/outer/data.tar.gz" | awk '{print $1, $2, $4, $5}' | tr '\n' '|')
	check "$tag data.tar.gz is exactly ./ ./etc/ ./etc/mmkit/ (0755) ./etc/mmkit/{${REGMAPS// /,}} (0644) ./usr/ ./usr/bin/ ./usr/bin/mmkit (0755), 0:0, mtime SourceDateEpoch (got: $got_data)" \
		test "$got_data" = "$want_data"
	for m in $REGMAPS; do
		check "$tag /etc/mmkit/$m is byte-identical to regmaps/$m" \
			cmp -s "$w/root/etc/mmkit/$m" "$IPK_ROOT/regmaps/$m"
	done
	want_ctrl="drwxr-xr-x 0/0 $epoch ./|-rw-r--r-- 0/0 $epoch ./control|"
	got_ctrl=$(tar_list "$w/outer/control.tar.gz" | awk '{print $1, $2, $4, $5}' | tr '\n' '|')
	check "$tag control.tar.gz is exactly ./ ./control (0644), 0:0, mtime SourceDateEpoch (got: $got_ctrl)" \
		test "$got_ctrl" = "$want_ctrl"
	got_data=$(tar_list "$f" | awk '{print $1, $2, $4}' | sort -u | tr '\n' '|')
	check "$tag outer members are 0644, 0:0, mtime SourceDateEpoch (got: $got_data)" \
		test "$got_data" = "-rw-r--r-- 0/0 $epoch|"

	# The binary: right CPU, byte order, ABI, statically linked, runs on that CPU.
	local exe="$w/root/usr/bin/mmkit"
	if [ ! -f "$exe" ]; then
		bad "$tag holds /usr/bin/mmkit"
		return 0
	fi
	if ! elf=$(elf_describe "$exe"); then
		bad "$tag /usr/bin/mmkit is an ELF file"
		return 0
	fi
	read -r bits order machine flags link <<<"$elf"
	check "$tag ELF class/byte order/machine is ${WANT_ELF[$arch]} (got: $bits $order $machine)" \
		test "$bits $order $machine" = "${WANT_ELF[$arch]}"
	check "$tag binary is static (no PT_INTERP)" test "$link" = static
	case "$arch" in
	mips*)
		# EF_MIPS_ARCH: 0x50000000 MIPS32, 0x70000000 MIPS32r2 (24Kc); no MIPS64/r6.
		check "$tag MIPS ISA is MIPS32 or MIPS32r2 (e_flags $flags)" \
			test $((flags & 0xf0000000)) -eq $((0x50000000)) -o $((flags & 0xf0000000)) -eq $((0x70000000))
		;;
	arm_*)
		check "$tag ARM EABI version 5 (e_flags $flags)" test $((flags & 0xff000000)) -eq $((0x05000000))
		local cpu vfp
		if [ "$arch" = arm_cortex-a7_neon-vfpv4 ]; then
			check "$tag hard-float ABI (EF_ARM_ABI_FLOAT_HARD set)" test $((flags & 0x400)) -ne 0
		else
			check "$tag soft-float ABI (EF_ARM_ABI_FLOAT_HARD clear)" test $((flags & 0x400)) -eq 0
		fi
		if command -v readelf >/dev/null; then
			cpu=$(readelf -A "$exe" 2>/dev/null | sed -n 's/^ *Tag_CPU_arch: *//p' | head -n 1)
			vfp=$(readelf -A "$exe" 2>/dev/null | sed -n 's/^ *Tag_ABI_VFP_args: *//p' | head -n 1)
			if [ "$arch" = arm_cortex-a7_neon-vfpv4 ]; then
				check "$tag built for ARMv7 (Tag_CPU_arch: ${cpu:-none})" test "$cpu" = v7
				check "$tag passes floats in VFP registers (Tag_ABI_VFP_args: ${vfp:-none})" \
					test "$vfp" = "VFP registers"
			else
				check "$tag needs no more than ARMv5TE (Tag_CPU_arch: ${cpu:-none})" \
					bash -c 'case "$1" in v4|v4T|v5T|v5TE|v5TEJ) ;; *) exit 1 ;; esac' _ "$cpu"
			fi
		else
			skp "$tag ARM build attributes (no readelf)"
		fi
		;;
	esac
	if [ -n "$bin" ] && [ -f "$bin" ]; then
		check "$tag /usr/bin/mmkit is byte-identical to $bin" cmp -s "$exe" "$bin"
	fi
	size=$(wc -c <"$exe")
	budget=$(budget_bytes "$arch")
	check "$tag /usr/bin/mmkit is within the budget of $((budget / 1024)) KiB ($size bytes)" test "$size" -le "$budget"
	local q=${QEMU[$arch]}
	if [ "$fpu_emulator" = 1 ] && [[ "$q" == *24Kc ]]; then
		q="${q%24Kc}24Kf"
		skp "$tag runs on a 24Kc without FPU: not checked (--assume-fpu-emulator)"
	fi
	if [ -z "$q" ] || command -v "${q%% *}" >/dev/null; then
		# shellcheck disable=SC2086 # $q is a command with options
		check "$tag /usr/bin/mmkit --help runs on ${q:-this CPU}${q:+ (qemu-user)}" \
			bash -c 'out=$("$@" --help 2>&1) && [ -n "$out" ]' _ $q "$exe"
		# shellcheck disable=SC2086
		check "$tag mmkit --version runs and prints \"$PKG $CARGO_VERSION\" (the version packaged)" \
			bash -c '[ "$("${@:2}" --version 2>&1 | head -n 1)" = "$1" ]' _ "$PKG $CARGO_VERSION" $q "$exe"
	else
		skp "$tag running the binary (${q%% *} not installed)"
	fi
	rm -rf "$w"
}

# opkg_root ROOT: an empty offline root as include/rootfs.mk prepares it.
opkg_root() {
	rm -rf "$1"
	mkdir -p "$1/var/lock" "$1/usr/lib/opkg" "$1/tmp"
}

# opkg_run ROOT ARCH opkg-args...: the real opkg the way OpenWrt's image build runs it
# (include/rootfs.mk: offline root, no scripts, the root's own arch list).
opkg_run() {
	local r=$1 arch=$2
	shift 2
	IPKG_NO_SCRIPT=1 IPKG_INSTROOT="$r" TMPDIR="$r/tmp" "$opkg" --offline-root "$r" \
		--force-postinstall --add-dest root:/ --add-arch all:100 --add-arch "$arch:200" "$@"
}

# opkg_check FILE ARCH: install, list, describe, run, remove with the real opkg; a root of
# another architecture must refuse the package. OPKG_QUICK=1 (self-test) skips the demo run.
opkg_check() {
	local f=$1 arch=$2 r="$TMP/opkg-root.$2" log tag="[$2][opkg]" q other got
	opkg_root "$r"
	if log=$(opkg_run "$r" "$arch" install "$f" 2>&1) &&
		[ -x "$r/usr/bin/mmkit" ] && grep -q '^Status: install user installed' "$r/usr/lib/opkg/status"; then
		ok "$tag opkg --offline-root install puts /usr/bin/mmkit in place and marks it installed"
	else
		bad "$tag opkg --offline-root install: $(tr '\n' ' ' <<<"$log")"
		rm -rf "$r"
		return 0
	fi
	local m want="" maps_ok=1
	for m in $REGMAPS; do
		want+="/etc/mmkit/$m "
		if ! cmp -s "$r/etc/mmkit/$m" "$IPK_ROOT/regmaps/$m" ||
			[ "$(stat -c %a "$r/etc/mmkit/$m" 2>/dev/null)" != 644 ]; then maps_ok=0; fi
	done
	want+="/usr/bin/mmkit "
	check "$tag installed /etc/mmkit/{${REGMAPS// /,}} are 0644 and equal regmaps/ byte for byte" \
		test "$maps_ok" = 1
	got=$(opkg_run "$r" "$arch" files "$PKG" 2>&1 | grep '^/' | sed "s|^$r/*|/|" | sort | tr '\n' ' ')
	check "$tag opkg files mmkit lists exactly $want(got: $got)" test "$got" = "$want"
	# opkg info parses the whole control file when it comes from a feed index: a local feed
	# (Packages.gz as scripts/ipkg-make-index.sh writes it), opkg update, opkg info.
	local feed="$TMP/feed.$arch" fr="$TMP/feed-root.$arch"
	rm -rf "$feed"
	mkdir -p "$feed"
	cp "$f" "$feed/"
	{
		tar -xzOf "$f" ./control.tar.gz | tar -xzOf - ./control
		printf 'Filename: %s
Size: %s
SHA256sum: %s

' "$(basename "$f")" "$(wc -c <"$f")" \
			"$(sha256sum <"$f" | cut -c 1-64)"
	} >"$feed/Packages"
	gzip -n -k "$feed/Packages"
	printf 'src/gz mmkit file://%s\ndest root /\nlists_dir ext /var/opkg-lists\n' "$feed" >"$feed/opkg.conf"
	opkg_root "$fr"
	log=$({ opkg_run "$fr" "$arch" -f "$feed/opkg.conf" update &&
		opkg_run "$fr" "$arch" -f "$feed/opkg.conf" info "$PKG"; } 2>&1) || true
	check "$tag opkg info (from a local feed) prints no error (a short Source: garbles it)" \
		bash -c '! grep -q "ERROR\|Collected errors" <<<"$1" && grep -q "^Package: mmkit" <<<"$1"' _ "$log"
	check "$tag opkg info shows Section: $SECTION and the whole Maintainer" \
		bash -c 'grep -qx "Section: $2" <<<"$1" && grep -qxF "Maintainer: $3" <<<"$1"' \
		_ "$log" "$SECTION" "$(sed -n 's/^PKG_MAINTAINER:=//p' "$IPK_MAKEFILE")"
	rm -rf "$feed" "$fr"
	q=${QEMU[$arch]}
	if [ "$fpu_emulator" = 1 ] && [[ "$q" == *24Kc ]]; then q="${q%24Kc}24Kf"; fi
	if [ "${OPKG_QUICK:-0}" != 1 ]; then
		mkdir -p "$r/tmp/demo"
		# shellcheck disable=SC2086 # $q is a command with options
		if log=$(TMPDIR="$r/tmp/demo" $q "$r/usr/bin/mmkit" demo 2>&1); then
			ok "$tag installed mmkit demo runs on ${q:-this CPU} (exit 0)"
		else
			bad "$tag installed mmkit demo on ${q:-this CPU}: $(tail -n 3 <<<"$log" | tr '\n' ' ')"
		fi
	fi
	if log=$(opkg_run "$r" "$arch" remove "$PKG" 2>&1) && [ ! -e "$r/usr/bin/mmkit" ] &&
		[ -z "$(ls -A "$r/etc/mmkit" 2>/dev/null)" ] &&
		! grep -q '^Package: mmkit' "$r/usr/lib/opkg/status"; then
		ok "$tag opkg remove deletes /usr/bin/mmkit, the register maps and its status entry"
	else
		bad "$tag opkg remove: $(tr '\n' ' ' <<<"$log")"
	fi
	# A root of another architecture must refuse it.
	for other in "${IPK_ARCHES[@]}"; do [ "$other" = "$arch" ] || break; done
	[ "$arch" != mipsel_24kc ] || other=mips_24kc
	opkg_root "$r"
	if log=$(opkg_run "$r" "$other" install "$f" 2>&1) || [ -e "$r/usr/bin/mmkit" ]; then
		bad "$tag an $other root refuses it (it installed)"
	else
		ok "$tag an $other root refuses it ($(grep -o 'incompatible with the architectures' <<<"$log" | head -n 1))"
	fi
	rm -rf "$r"
}

# ---- the packages ----
echo "test-ipk: packages in $ipkdir, version $VERSION"
if [ "$opkg" = none ]; then
	opkg=""
	echo "test-ipk: real opkg checks off (--no-opkg)"
elif [ -z "$opkg" ]; then
	OPKG="" pm_tools
	opkg=$OPKG_BIN
	[ -n "$opkg" ] || skp "[opkg] real opkg checks: no opkg: $PM_WHY"
fi
if [ -n "$opkg" ]; then echo "test-ipk: opkg $opkg"; fi
first_pkg=""
present=0
for arch in "${IPK_ARCHES[@]}"; do
	f="$ipkdir/${PKG}_${VERSION}_${arch}.ipk"
	bin="$dist/${IPK_TARGET[$arch]}/mmkit"
	if [ ! -f "$f" ]; then
		if [ "$allow_missing" = 1 ]; then
			skp "[$arch] no package $f"
		else
			bad "[$arch] package $f exists (run openwrt/build-ipk.sh after ${IPK_BUILDER[$arch]})"
		fi
		continue
	fi
	present=$((present + 1))
	first_pkg=${first_pkg:-$f}
	check_ipk "$f" "$bin"
	if [ -n "$opkg" ]; then opkg_check "$f" "$arch"; fi
done

# ---- reproducible: rebuild in another umask and time zone, compare bytes ----
if [ "$present" -gt 0 ]; then
	rebuilt="$TMP/rebuilt"
	# Same SOURCE_DATE_EPOCH as the packages (a commit made since would change the default).
	pkg_epoch=$(tar -xzOf "$first_pkg" ./control.tar.gz | tar -xzOf - ./control | sed -n 's/^SourceDateEpoch: //p')
	if (umask 077 && export SOURCE_DATE_EPOCH="$pkg_epoch" TZ=Pacific/Kiritimati &&
		"$IPK_LIB_DIR/build-ipk.sh" --dist "$dist" --out "$rebuilt") \
		>"$TMP/rebuild.log" 2>&1 || [ -n "$(ls -A "$rebuilt" 2>/dev/null)" ]; then
		for f in "$ipkdir/${PKG}_${VERSION}"_*.ipk; do
			[ -f "$f" ] || continue
			check "[reproducible] rebuilding $(basename "$f") (umask 077, other TZ) gives identical bytes" \
				cmp -s "$f" "$rebuilt/$(basename "$f")"
		done
	else
		bad "[reproducible] rebuild ran: $(tail -n 3 "$TMP/rebuild.log")"
	fi
fi

# ---- self-test: broken packages must be rejected ----
if [ "$self_test" = 1 ]; then
	if [ -z "$first_pkg" ]; then
		skp "[self-test] needs one good package"
	else
		# shellcheck source=test-ipk-selftest.sh
		. "$IPK_LIB_DIR/test-ipk-selftest.sh"
		run_self_test "$first_pkg"
		# Same machine and byte order, different ABI/ISA: only flags, attributes and qemu differ.
		for pair in armv7-unknown-linux-musleabihf:arm_arm926ej-s armv5te-unknown-linux-musleabi:arm_cortex-a7_neon-vfpv4; do
			src_bin="$dist/${pair%%:*}/mmkit"
			if [ -f "$src_bin" ] && [ -f "$dist/${IPK_TARGET[${pair#*:}]}/mmkit" ]; then
				st_expect_reject "the ${pair%%:*} binary in a ${pair#*:} package" \
					"$(ipk_build "$src_bin" "${pair#*:}" "$TMP/st-${pair#*:}")" \
					"$(ipk_build "$dist/${IPK_TARGET[${pair#*:}]}/mmkit" "${pair#*:}" "$TMP/st-good-${pair#*:}")"
			else
				skp "[self-test] ${pair%%:*} binary in a ${pair#*:} package (no $src_bin)"
			fi
		done
	fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
