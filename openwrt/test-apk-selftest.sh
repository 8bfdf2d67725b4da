# shellcheck shell=bash
# shellcheck disable=SC2153,SC2154 # apk, dist and OTHER are set by test-apk.sh
# Self-test of openwrt/test-apk.sh (sourced by it): builds broken variants of one good
# package with the real `apk mkpkg`, one defect at a time, and requires check_apk to report
# at least one FAIL for each that the good package does not get.
# Uses from test-apk.sh: check_apk, ok, bad, skp, TMP, PKG, VERSION, OTHER, apk, dist.

# st_apk_fails FILE ARCH: the sorted FAIL lines check_apk reports (without the demo run).
st_apk_fails() {
	{ (ST_QUICK=1 check_apk "$1" "$2" "") 2>&1 || true; } | { grep '^FAIL' || true; } | sort
}

# st_apk_build ID ARCH BINARY HOOK SED: a package built like build-apk.sh does, except that
# HOOK (a command run in the staged tree) and SED (applied to the --info arguments, one per
# line) break it. Prints its path.
st_apk_build() {
	local id=$1 arch=$2 bin=$3 hook=$4 edit=$5 stage="$TMP/st/$1/stage" out
	rm -rf "$TMP/st/$id"
	apk_stage "$bin" "$stage"
	if [ -n "$hook" ]; then (cd "$stage" && eval "$hook"); fi
	mapfile -t info < <(apk_info_args "$arch" | sed -e "$edit")
	mkdir -p "$TMP/st/$id/$arch"
	out="$TMP/st/$id/$arch/$(apk_name)"
	SOURCE_DATE_EPOCH=$ST_EPOCH apk_mkpkg "$apk" "$stage" "$out" -- "${info[@]}" >/dev/null 2>&1 || true
	echo "$out"
}

# st_apk_reject WHAT FILE: FILE must get a FAIL the good package does not get.
st_apk_reject() {
	local what=$1 file=$2 new
	if [ ! -s "$file" ]; then
		bad "[self-test] could not build the broken package: $what"
		return 0
	fi
	new=$(comm -13 <(echo "$ST_BASE_FAILS") <(st_apk_fails "$file" "$ST_ARCH") | head -n 1)
	if [ -n "$new" ]; then
		ok "[self-test] rejects $what ($(cut -c 7- <<<"$new" | cut -c 1-90))"
	else
		bad "[self-test] a package with $what passes every check"
	fi
}

# run_apk_self_test ARCH GOOD-PACKAGE BINARY
run_apk_self_test() {
	local arch=$1 good=$2 bin=$3 other other_bin f
	ST_ARCH=$arch
	ST_EPOCH=$("$apk" adbdump "$good" | sed -n 's/^ *mtime: //p' | head -n 1)
	other=${OTHER[$arch]}
	# The good package rebuilt by the self-test's own builder must pass: else every
	# mutant below would be "rejected" for a reason of the builder's.
	f=$(st_apk_build good "$arch" "$bin" "" "")
	ST_BASE_FAILS=$(st_apk_fails "$good" "$arch")
	check "[self-test] the good $arch package passes every check" test -z "$ST_BASE_FAILS"
	check "[self-test] the self-test's builder makes the same bytes as build-apk.sh" cmp -s "$f" "$good"

	st_apk_reject "arch: $other in the $arch package" \
		"$(st_apk_build arch "$arch" "$bin" "" "s/^arch:.*/arch:$other/")"
	st_apk_reject "version 0.0.0-r1" "$(st_apk_build version "$arch" "$bin" "" 's/^version:.*/version:0.0.0-r1/')"
	st_apk_reject "an empty license" "$(st_apk_build license "$arch" "$bin" "" 's/^license:.*/license:/')"
	st_apk_reject "origin feeds/mmkit/mmkit" \
		"$(st_apk_build origin "$arch" "$bin" "" 's|^origin:.*|origin:feeds/mmkit/mmkit|')"
	st_apk_reject "depends: libc" "$(st_apk_build depends "$arch" "$bin" "" 's/^depends:.*/depends:libc/')"
	st_apk_reject "another maintainer" \
		"$(st_apk_build maint "$arch" "$bin" "" 's/^maintainer:.*/maintainer:Someone <x@example.invalid>/')"
	st_apk_reject "an empty description" "$(st_apk_build descr "$arch" "$bin" "" 's/^description:.*/description:/')"
	st_apk_reject "/usr/bin/mmkit mode 0644" "$(st_apk_build mode "$arch" "$bin" "chmod 0644 usr/bin/mmkit" "")"
	st_apk_reject "no /lib/apk/packages/mmkit.list" \
		"$(st_apk_build nolist "$arch" "$bin" "rm lib/apk/packages/mmkit.list" "")"
	st_apk_reject "no /etc/mmkit/qemu-mips-malta.regs (still in the .list)" \
		"$(st_apk_build nomap "$arch" "$bin" "rm etc/mmkit/qemu-mips-malta.regs" "")"
	st_apk_reject "a .list without the register maps" \
		"$(st_apk_build listmaps "$arch" "$bin" "sed -i '/^.etc.mmkit/d' lib/apk/packages/mmkit.list" "")"
	st_apk_reject "/etc/mmkit/qemu-arm-virt.regs mode 0755" \
		"$(st_apk_build mapmode "$arch" "$bin" "chmod 0755 etc/mmkit/qemu-arm-virt.regs" "")"
	st_apk_reject "a /etc/mmkit/qemu-arm-virt.regs that differs from regmaps/ (same size)" \
		"$(st_apk_build mapbytes "$arch" "$bin" "sed -i '1s/^#/;/' etc/mmkit/qemu-arm-virt.regs" "")"
	st_apk_reject "an extra file /usr/bin/extra" \
		"$(st_apk_build extra "$arch" "$bin" "echo x >usr/bin/extra && chmod 0755 usr/bin/extra" "")"
	if [ "$(id -u)" = 0 ]; then
		st_apk_reject "/usr/bin/mmkit owned by uid 1000" \
			"$(st_apk_build owner "$arch" "$bin" "chown 1000:1000 usr/bin/mmkit" "")"
	else
		skp "[self-test] owner 1000 (needs root to chown)"
	fi
	other_bin="$dist/${IPK_TARGET[$other]}/mmkit"
	if [ -f "$other_bin" ]; then
		st_apk_reject "the $other binary in the $arch package" \
			"$(st_apk_build cpu "$arch" "$other_bin" "" "")"
	else
		skp "[self-test] another CPU's binary (no $other_bin)"
	fi
	if [ -f /bin/true ] && [ "$(elf_describe /bin/true | awk '{print $5}')" = dynamic ]; then
		st_apk_reject "a dynamically linked binary (/bin/true)" "$(st_apk_build dynamic "$arch" /bin/true "" "")"
	else
		skp "[self-test] dynamic binary (/bin/true is not a dynamic ELF)"
	fi
	mkdir -p "$TMP/st/name/$arch"
	cp "$good" "$TMP/st/name/$arch/${PKG}_${VERSION}_$arch.apk"
	st_apk_reject "the .ipk-style file name" "$TMP/st/name/$arch/${PKG}_${VERSION}_$arch.apk"
	mkdir -p "$TMP/st/trunc/$arch"
	head -c $(($(wc -c <"$good") / 2)) "$good" >"$TMP/st/trunc/$arch/$(apk_name)"
	st_apk_reject "a package cut in half" "$TMP/st/trunc/$arch/$(apk_name)"
	mkdir -p "$TMP/st/tgz/$arch"
	(cd "$TMP/st/good/stage" && tar -czf "$TMP/st/tgz/$arch/$(apk_name)" .)
	st_apk_reject "a tar.gz (apk v2 style) instead of an ADB file" "$TMP/st/tgz/$arch/$(apk_name)"
}
