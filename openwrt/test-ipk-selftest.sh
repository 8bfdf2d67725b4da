# shellcheck shell=bash
# Self-test of openwrt/test-ipk.sh (sourced by it): takes one good package apart, breaks it
# in one way at a time, and requires check_ipk to report at least one FAIL for each.
# Uses from test-ipk.sh: check_ipk, field, ok, bad, skp, TMP, PKG, VERSION (and ipk-lib.sh).

# st_tgz DIR OUT [tar options...]: gzip'd GNU tar of DIR/. as the builder makes it; later
# options override earlier ones (e.g. --owner=1000, --format=ustar).
st_tgz() {
	local d=$1 o=$2
	shift 2
	(cd "$d" && tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$ST_EPOCH" "$@" -cf - .) | gzip -n >"$o"
}

# st_outer DIR OUT MEMBER...: gzip'd outer tar with the members in the given order.
st_outer() {
	local d=$1 o=$2
	shift 2
	(cd "$d" && tar --format=gnu --numeric-owner --owner=0 --group=0 \
		--mtime="@$ST_EPOCH" -cf - "$@") | gzip -n >"$o"
}

# st_fresh ID [ARCH]: a copy of the unpacked good package in $ST/ID; sets M (its dir) and
# OUT (the .ipk path to write, named for ARCH).
st_fresh() {
	M="$ST/$1"
	rm -rf "$M"
	cp -a "$ST/orig" "$M"
	mkdir -p "$M/pkg"
	OUT="$M/pkg/${PKG}_${VERSION}_${2:-$ST_ARCH}.ipk"
}

# st_pack [data tar options...]: repacks $M into $OUT in the normal way.
st_pack() {
	st_tgz "$M/root" "$M/outer/data.tar.gz" "$@"
	st_tgz "$M/control" "$M/outer/control.tar.gz"
	st_outer "$M/outer" "$OUT" ./debian-binary ./data.tar.gz ./control.tar.gz
}

# st_set_size: Installed-Size of the control file = current data tar size.
st_set_size() {
	local size
	size=$(gzip -dc "$M/outer/data.tar.gz" | wc -c)
	sed -i "s/^Installed-Size: .*/Installed-Size: $size/" "$M/control/control"
}

# st_fails FILE: the sorted FAIL lines check_ipk reports for FILE.
st_fails() {
	{ (check_ipk "$1" "") 2>&1 || true; } | { grep '^FAIL' || true; } | sort
}

# st_expect_reject WHAT FILE [GOOD]: FILE must get a FAIL that the good package (GOOD, default
# the one the self-test started from) does not get, so a defect of the good package itself
# cannot make a mutant look rejected.
st_expect_reject() {
	local what=$1 file=$2 good=${3:-$ST_GOOD} base new
	if [ "$good" = "$ST_GOOD" ]; then base=$ST_BASE_FAILS; else base=$(st_fails "$good"); fi
	new=$(comm -13 <(echo "$base") <(st_fails "$file") | head -n 1)
	if [ -n "$new" ]; then
		ok "[self-test] rejects $what ($(cut -c 7- <<<"$new" | cut -c 1-90))"
	else
		bad "[self-test] accepted $what"
	fi
}

run_self_test() {
	local good=$1 other out
	ST="$TMP/selftest"
	mkdir -p "$ST/orig/outer" "$ST/orig/control" "$ST/orig/root"
	ST_ARCH=$(basename "$good" .ipk)
	ST_ARCH=${ST_ARCH#"${PKG}_${VERSION}_"}
	(cd "$ST/orig/outer" && tar -xzf "$good")
	(cd "$ST/orig/control" && tar -xzf ../outer/control.tar.gz)
	(cd "$ST/orig/root" && tar -xzf ../outer/data.tar.gz)
	ST_EPOCH=$(field SourceDateEpoch "$ST/orig/control/control")

	ST_GOOD=$good
	ST_BASE_FAILS=$(st_fails "$good")

	# Control: repacking the good package unchanged gives exactly its own results.
	st_fresh same
	st_pack
	out=$(st_fails "$OUT")
	if [ "$out" = "$ST_BASE_FAILS" ]; then
		ok "[self-test] an unchanged repack of $(basename "$good") checks the same as the original"
	else
		bad "[self-test] an unchanged repack checks differently: $(comm -3 <(echo "$ST_BASE_FAILS") <(echo "$out") | head -n 1)"
	fi

	if command -v ar >/dev/null; then
		st_fresh ar
		(cd "$M/outer" && ar rc "$OUT" debian-binary control.tar.gz data.tar.gz)
		st_expect_reject "an ar archive (Debian-style .ipk, unreadable by OpenWrt's opkg)" "$OUT"
	else
		skp "[self-test] ar archive (no ar)"
	fi

	st_fresh order
	st_outer "$M/outer" "$OUT" ./debian-binary ./control.tar.gz ./data.tar.gz
	st_expect_reject "control.tar.gz before data.tar.gz" "$OUT"

	st_fresh plain-tar
	(cd "$M/outer" && tar --format=gnu -cf "$OUT" ./debian-binary ./data.tar.gz ./control.tar.gz)
	st_expect_reject "an outer tar that is not gzip'd" "$OUT"

	st_fresh size
	sed -i 's/^Installed-Size: \([0-9]*\)/Installed-Size: \11/' "$M/control/control"
	st_tgz "$M/control" "$M/outer/control.tar.gz"
	st_outer "$M/outer" "$OUT" ./debian-binary ./data.tar.gz ./control.tar.gz
	st_expect_reject "a wrong Installed-Size" "$OUT"

	st_fresh depends
	sed -i 's/^\(Version: .*\)$/\1\nDepends: libc/' "$M/control/control"
	st_pack
	st_expect_reject "a Depends: libc line" "$OUT"

	st_fresh version
	sed -i 's/^Version: .*/Version: 0.0.0-r0/' "$M/control/control"
	st_pack
	st_expect_reject "a control Version that is not Cargo.toml's" "$OUT"

	st_fresh owner
	st_pack --owner=1000 --group=1000
	st_expect_reject "files owned by 1000:1000" "$OUT"

	st_fresh mode
	chmod 0644 "$M/root/usr/bin/mmkit"
	st_pack
	st_expect_reject "/usr/bin/mmkit with mode 0644" "$OUT"

	st_fresh map-mode
	chmod 0755 "$M/root/etc/mmkit/qemu-arm-virt.regs"
	st_pack
	st_expect_reject "/etc/mmkit/qemu-arm-virt.regs with mode 0755" "$OUT"

	st_fresh map-missing
	rm "$M/root/etc/mmkit/qemu-mips-malta.regs"
	st_pack
	st_set_size
	st_pack
	st_expect_reject "no /etc/mmkit/qemu-mips-malta.regs" "$OUT"

	st_fresh map-content
	sed -i '$ s/$/ /' "$M/root/etc/mmkit/qemu-mips-malta.regs"
	st_pack
	st_set_size
	st_pack
	st_expect_reject "a /etc/mmkit/qemu-mips-malta.regs that differs from regmaps/" "$OUT"

	st_fresh names
	(cd "$M/root" && tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$ST_EPOCH" -cf - etc usr) | gzip -n >"$M/outer/data.tar.gz"
	st_set_size
	st_tgz "$M/control" "$M/outer/control.tar.gz"
	st_outer "$M/outer" "$OUT" ./debian-binary ./data.tar.gz ./control.tar.gz
	st_expect_reject "data tar names without ./" "$OUT"

	st_fresh ustar
	st_tgz "$M/root" "$M/outer/data.tar.gz" --format=ustar
	st_set_size
	st_tgz "$M/control" "$M/outer/control.tar.gz"
	st_outer "$M/outer" "$OUT" ./debian-binary ./data.tar.gz ./control.tar.gz
	st_expect_reject "a POSIX ustar data tar" "$OUT"

	st_fresh gzip-name
	(cd "$M/root" && tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$ST_EPOCH" -cf "$M/data.tar" .)
	gzip -c "$M/data.tar" >"$M/outer/data.tar.gz"
	st_set_size
	st_tgz "$M/control" "$M/outer/control.tar.gz"
	st_outer "$M/outer" "$OUT" ./debian-binary ./data.tar.gz ./control.tar.gz
	st_expect_reject "a data.tar.gz that records a file name and time (gzip without -n)" "$OUT"

	# The binary of another CPU under this package's name.
	case "$ST_ARCH" in mips_24kc) other=mipsel_24kc ;; *) other=mips_24kc ;; esac
	st_fresh wrong-arch "$other"
	sed -i "s/^Architecture: .*/Architecture: $other/" "$M/control/control"
	st_pack
	st_expect_reject "a $ST_ARCH binary in a $other package" "$OUT"

	# A dynamically linked binary: turn the first program header into PT_INTERP.
	st_fresh dynamic
	local desc order phoff
	desc=$(elf_describe "$M/root/usr/bin/mmkit")
	order=$(cut -d ' ' -f 2 <<<"$desc")
	if [ "$(cut -d ' ' -f 1 <<<"$desc")" = 32 ]; then
		phoff=$(elf_uint "$M/root/usr/bin/mmkit" 28 4 "$order")
	else
		phoff=$(elf_uint "$M/root/usr/bin/mmkit" 32 8 "$order")
	fi
	if [ "$order" = lsb ]; then
		printf '\003\000\000\000'
	else
		printf '\000\000\000\003'
	fi | dd of="$M/root/usr/bin/mmkit" bs=1 seek="$phoff" conv=notrunc status=none
	st_pack
	st_set_size
	st_pack
	st_expect_reject "a binary with a PT_INTERP (dynamically linked)" "$OUT"

	# With the real opkg: its own checks must be able to fail too.
	if [ -n "${opkg:-}" ]; then
		local base
		base=$(st_opkg_fails "$good")
		st_fresh short-source
		sed -i 's|^Source: .*|Source: feeds/mmkit/mmkit|' "$M/control/control"
		st_pack
		st_opkg_reject "Source: feeds/mmkit/mmkit (shorter than the SourceDateEpoch line)" "$OUT" "$base"
		st_fresh arch-all
		sed -i 's/^Architecture: .*/Architecture: all/' "$M/control/control"
		st_pack
		st_opkg_reject "Architecture: all (installs on every root)" "$OUT" "$base"
		st_fresh no-binary
		rm "$M/root/usr/bin/mmkit"
		st_pack
		st_set_size
		st_pack
		st_opkg_reject "no /usr/bin/mmkit in data.tar.gz" "$OUT" "$base"
		st_fresh no-map
		rm "$M/root/etc/mmkit/qemu-arm-virt.regs"
		st_pack
		st_set_size
		st_pack
		st_opkg_reject "no /etc/mmkit/qemu-arm-virt.regs in data.tar.gz" "$OUT" "$base"
	else
		skp "[self-test] opkg checks (no opkg)"
	fi
}

# st_opkg_fails FILE: the sorted FAIL lines of opkg_check (without the demo run).
st_opkg_fails() {
	{ (OPKG_QUICK=1 opkg_check "$1" "$ST_ARCH") 2>&1 || true; } | { grep '^FAIL' || true; } | sort
}

# st_opkg_reject WHAT FILE BASE: opkg_check must FAIL on FILE in a way it does not on the
# good package (whose FAIL lines are BASE).
st_opkg_reject() {
	local new
	new=$(comm -13 <(echo "$3") <(st_opkg_fails "$2") | head -n 1)
	if [ -n "$new" ]; then
		ok "[self-test][opkg] rejects $1 ($(cut -c 7- <<<"$new" | cut -c 1-90))"
	else
		bad "[self-test][opkg] accepted $1"
	fi
}
