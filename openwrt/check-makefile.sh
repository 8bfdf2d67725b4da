#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016 # single-quoted make syntax and bash -c snippets are literal
# Keeps openwrt/Makefile honest without the OpenWrt SDK.
#
# Usage: openwrt/check-makefile.sh [--fix] [--self-test] [--makefile FILE] [--rust-package-mk FILE]...
#   --fix                   rewrite PKG_VERSION from Cargo.toml (then check as usual)
#   --self-test             also check broken copies of the Makefile and require new FAILs
#   --makefile FILE         check FILE instead of openwrt/Makefile
#   --rust-package-mk FILE  also compare with a real lang/rust/rust-package.mk (from an
#                           openwrt/packages checkout); may be given more than once
# Checks: PKG_VERSION equals Cargo.toml's version; PKG_NAME equals the crate and binary name;
# every variable the Makefile sets is one that OpenWrt's package.mk or the packages feed's
# rust-package.mk reads (list below, with where it comes from); the ripgrep-style structure
# (includes, DEPENDS:=$(RUST_ARCH_DEPENDS), RustBinPackage before BuildPackage, our own
# Package/mmkit/install of the binary and the register maps in /etc/mmkit); license
# identifiers and license files; and GNU make parses it against stub OpenWrt includes.
# Prints PASS/FAIL lines and "N passed, M failed"; exits 1 on any failure, 2 on usage errors.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
mk="$here/Makefile"
cargo="$root/Cargo.toml"
export LC_ALL=C
# shellcheck source=ipk-lib.sh
. "$here/ipk-lib.sh"
ipk_need make:make git:git

# ---- what a package Makefile may set ----
# Read by OpenWrt core (include/package.mk, download.mk, package-defaults.mk, rules.mk) for
# every package: identity, source download, metadata, build scheduling.
CORE_VARS="PKG_NAME PKG_VERSION PKG_RELEASE PKG_SOURCE PKG_SOURCE_URL PKG_SOURCE_PROTO
PKG_SOURCE_VERSION PKG_SOURCE_SUBDIR PKG_SOURCE_DATE PKG_HASH PKG_MIRROR_HASH PKG_MAINTAINER
PKG_LICENSE PKG_LICENSE_FILES PKG_CPE_ID PKG_BUILD_DEPENDS PKG_BUILD_PARALLEL PKG_BUILD_DIR
PKG_FLAGS"
# Read by lang/rust/rust-package.mk (+ rust-values.mk) of openwrt/packages; identical on
# master, openwrt-25.12 and openwrt-24.10 as of 2026-08 (packages commits 0521bb56,
# 57654a9f, 42525d32). RUST_PKG_LOCKED and MAKE_PATH arrived in 2025-08 (older 24.10 feeds
# ignore them); CARGO_PKG_PROFILE is set by rust-values.mk and may be overridden after it.
RUST_VARS="RUST_PKG_FEATURES RUST_PKG_LOCKED CARGO_PKG_PROFILE MAKE_PATH"
# Fields of `define Package/<name>` (include/package-defaults.mk, Package/Default).
PKG_FIELDS="SECTION CATEGORY SUBMENU TITLE DEPENDS URL PKGARCH PROVIDES CONFLICTS"
# Our own knobs (documented in openwrt/Makefile and openwrt/README.md).
OWN_PREFIX=MMKIT_

fix=0
self_test=0
real_mks=()
while [ $# -gt 0 ]; do
	case "$1" in
	--fix) fix=1; shift ;;
	--self-test) self_test=1; shift ;;
	--makefile) [ $# -ge 2 ] || usage; mk=$2; shift 2 ;;
	--rust-package-mk) [ $# -ge 2 ] || usage; real_mks+=("$2"); shift 2 ;;
	*) usage ;;
	esac
done

pass=0
fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
in_list() { # in_list WORD LIST
	local w
	for w in $2; do [ "$w" = "$1" ] && return 0; done
	return 1
}
mkval() { sed -n "s/^$1:=//p" "$mk" | head -n 1; }
# A key of Cargo.toml's [package] section.
cargo_key() {
	awk -v key="$1" '
		/^\[/ { in_pkg = ($0 == "[package]") }
		in_pkg && $1 == key && $2 == "=" {
			sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
		}' "$cargo"
}

cargo_version=$(cargo_key version)
if [ "$fix" = 1 ] && [ -n "$cargo_version" ]; then
	sed -i "s/^PKG_VERSION:=.*/PKG_VERSION:=$cargo_version/" "$mk"
	echo "check-makefile: PKG_VERSION set to $cargo_version"
fi

# ---- version and name ----
check "PKG_VERSION ($(mkval PKG_VERSION)) equals Cargo.toml version ($cargo_version)" \
	test -n "$cargo_version" -a "$(mkval PKG_VERSION)" = "$cargo_version"
check "PKG_RELEASE is a positive integer ($(mkval PKG_RELEASE))" \
	bash -c '[[ "$1" =~ ^[1-9][0-9]*$ ]]' _ "$(mkval PKG_RELEASE)"
check "PKG_NAME ($(mkval PKG_NAME)) equals the crate name ($(cargo_key name))" \
	test "$(mkval PKG_NAME)" = "$(cargo_key name)"
# RustBinPackage installs every file cargo put in bin/ to /usr/bin: only the mmkit binary.
bins=$(awk '/^\[\[bin\]\]/ { b = 1; next } /^\[/ { b = 0 } b && $1 == "name" { gsub(/"/, "", $3); print $3 }' "$cargo" | tr '\n' ' ')
check "Cargo.toml builds exactly one binary, named like the package (got: ${bins:-default})" \
	bash -c '[ -z "$1" ] || [ "$1" = "$2 " ]' _ "$bins" "$(mkval PKG_NAME)"

# ---- variables ----
top_vars=$(awk '
	/^define / { d = 1; next } /^endef/ { d = 0; next }
	!d && match($0, /^[A-Za-z_][A-Za-z0-9_]*[[:space:]]*(:=|\?=|\+=|=)/) {
		v = substr($0, 1, RLENGTH); sub(/[[:space:]]*[:?+]?=$/, "", v); print v
	}' "$mk" | sort -u)
for v in $top_vars; do
	if in_list "$v" "$CORE_VARS"; then
		ok "$v is read by OpenWrt's package.mk/download.mk"
	elif in_list "$v" "$RUST_VARS"; then
		ok "$v is read by the feed's rust-package.mk"
	elif [ "${v#"$OWN_PREFIX"}" != "$v" ]; then
		ok "$v is our own knob (${OWN_PREFIX}*)"
	else
		bad "$v is set but neither OpenWrt's package.mk nor rust-package.mk reads it (typo?)"
	fi
done
fields=$(awk '/^define Package\/[^/]*$/ { d = 1; next } /^endef/ { d = 0 }
	d && match($0, /^[[:space:]]+[A-Z_]+:=/) { v = substr($0, 1, RLENGTH - 2); gsub(/[[:space:]]/, "", v); print v }' "$mk")
for v in $fields; do
	check "Package field $v is one package-defaults.mk knows" in_list "$v" "$PKG_FIELDS"
done
for v in PKG_NAME PKG_VERSION PKG_RELEASE PKG_SOURCE_PROTO PKG_SOURCE_URL PKG_SOURCE_VERSION \
	PKG_SOURCE PKG_MAINTAINER PKG_LICENSE PKG_LICENSE_FILES PKG_BUILD_DEPENDS PKG_BUILD_PARALLEL; do
	check "$v is set" grep -q "^$v:=." "$mk"
done
check "PKG_BUILD_DEPENDS:=rust/host" grep -qx 'PKG_BUILD_DEPENDS:=rust/host' "$mk"
check "PKG_BUILD_PARALLEL:=1" grep -qx 'PKG_BUILD_PARALLEL:=1' "$mk"

# ---- structure (as utils/ripgrep/Makefile, with the feed path of an external feed) ----
line_of() { { grep -nxF -- "$1" "$mk" || true; } | head -n 1 | cut -d: -f1; }
l_rules=$(line_of 'include $(TOPDIR)/rules.mk')
l_pkg=$(line_of 'include $(INCLUDE_DIR)/package.mk')
l_rust=$(line_of 'include $(TOPDIR)/feeds/packages/lang/rust/rust-package.mk')
l_rbp=$(line_of '$(eval $(call RustBinPackage,mmkit))')
l_bp=$(line_of '$(eval $(call BuildPackage,mmkit))')
check "includes rules.mk, then package.mk, then feeds/packages/lang/rust/rust-package.mk" \
	test -n "$l_rules" -a -n "$l_pkg" -a -n "$l_rust" -a "${l_rules:-0}" -lt "${l_pkg:-0}" -a "${l_pkg:-0}" -lt "${l_rust:-0}"
check "RustBinPackage is called before BuildPackage, both at the end" \
	test -n "$l_rbp" -a -n "$l_bp" -a "${l_rbp:-0}" -lt "${l_bp:-0}" -a "${l_bp:-0}" -eq "$(wc -l <"$mk")"
check "Package/mmkit DEPENDS starts with \$(RUST_ARCH_DEPENDS)" \
	grep -qE '^[[:space:]]+DEPENDS:=\$\(RUST_ARCH_DEPENDS\)' "$mk"
check "Package/mmkit/description is defined" grep -qx 'define Package/mmkit/description' "$mk"
# Own install: RustBinPackage only supplies one when none is defined before its call, so
# ours must also install the binary; the register maps go to /etc/mmkit (see ipk-lib.sh).
inst=$(mk_define Package/mmkit/install "$mk")
l_inst=$(line_of 'define Package/mmkit/install')
check "Package/mmkit/install is defined before the RustBinPackage call" \
	test -n "$l_inst" -a -n "$l_rbp" -a "${l_inst:-0}" -lt "${l_rbp:-0}"
inst_line() { grep -qxF -- "$(printf '\t%s' "$1")" <<<"$inst"; }
check "Package/mmkit/install: \$(INSTALL_DIR) \$(1)/usr/bin" inst_line '$(INSTALL_DIR) $(1)/usr/bin'
check "Package/mmkit/install: \$(INSTALL_BIN) \$(PKG_INSTALL_DIR)/bin/mmkit \$(1)/usr/bin/ (cargo install --root \$(PKG_INSTALL_DIR))" \
	inst_line '$(INSTALL_BIN) $(PKG_INSTALL_DIR)/bin/mmkit $(1)/usr/bin/'
check "Package/mmkit/install: \$(INSTALL_DIR) \$(1)/etc/mmkit" inst_line '$(INSTALL_DIR) $(1)/etc/mmkit'
check "Package/mmkit/install: \$(INSTALL_DATA) \$(PKG_BUILD_DIR)/regmaps/*.regs \$(1)/etc/mmkit/" \
	inst_line '$(INSTALL_DATA) $(PKG_BUILD_DIR)/regmaps/*.regs $(1)/etc/mmkit/'
check "Package/mmkit/install has exactly these 4 lines (got $(grep -c . <<<"$inst"))" \
	test "$(grep -c . <<<"$inst")" = 4
regs_in_git=$(git -C "$root" ls-files -- 'regmaps/*.regs' 2>/dev/null | wc -l)
check "regmaps/*.regs are committed (the SDK builds from the git commit; $regs_in_git found)" \
	test "$regs_in_git" -ge 1
check "no Package/mmkit/conffiles (the register maps are package data, not user config)" \
	bash -c '! grep -q "^define Package/mmkit/conffiles" "$1"' _ "$mk"
check "recipe-free: no line starts with spaces then a tab" bash -c '! grep -qP "^ +\t" "$1"' _ "$mk"

# ---- license ----
spdx_words() { sed 's/[()/ ]\{1,\}/\n/g' | { grep -vxE 'OR|AND|WITH|' || true; } | sort -u | tr '\n' ' '; }
cargo_lic=$(cargo_key license | spdx_words)
mk_lic=$(mkval PKG_LICENSE | spdx_words)
check "PKG_LICENSE names the licenses of Cargo.toml ($mk_lic vs $cargo_lic)" test "$mk_lic" = "$cargo_lic"
for f in $(mkval PKG_LICENSE_FILES); do
	check "license file $f (PKG_LICENSE_FILES) exists at the top of the checkout" test -s "$root/$f"
done

# ---- GNU make parses it; the values it ends up with ----
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
mkdir -p "$stub/include" "$stub/feeds/packages/lang/rust"
: >"$stub/rules.mk"
cat >"$stub/include/package.mk" <<'EOF'
# Stub: records calls; `make dump` prints what OpenWrt would see.
CALLS :=
BuildPackage = CALLS += BuildPackage:$(1)$(eval $(Package/$(1)))
dump:
	@: $(foreach v,$(DUMP_VARS),$(info $(v)=$($(v))))
EOF
cat >"$stub/feeds/packages/lang/rust/rust-package.mk" <<'EOF'
# Stub of the feed's rust-package.mk: only what a package Makefile uses from it.
RUST_ARCH_DEPENDS := @(RUST_ARCH_STUB)
RustBinPackage = CALLS += RustBinPackage:$(1)
EOF
vars="PKG_NAME PKG_VERSION PKG_RELEASE PKG_SOURCE_PROTO PKG_SOURCE_URL PKG_SOURCE_VERSION PKG_SOURCE PKG_SOURCE_SUBDIR CALLS DEPENDS SECTION CATEGORY TITLE"
if dumped=$(env -u MMKIT_GIT_URL -u MMKIT_GIT_COMMIT make --no-print-directory -s -C "$here" -f "$mk" \
	TOPDIR="$stub" INCLUDE_DIR="$stub/include" DUMP_VARS="$vars" dump 2>&1); then
	ok "GNU make parses openwrt/Makefile"
	dv() { sed -n "s/^$1=//p" <<<"$dumped" | head -n 1; }
	check "expanded PKG_VERSION ($(dv PKG_VERSION)) equals Cargo.toml version" test "$(dv PKG_VERSION)" = "$cargo_version"
	check "calls: RustBinPackage then BuildPackage ($(dv CALLS))" \
		test "$(dv CALLS)" = "RustBinPackage:mmkit BuildPackage:mmkit"
	check "expanded DEPENDS is \$(RUST_ARCH_DEPENDS) ($(dv DEPENDS))" test "$(dv DEPENDS)" = "@(RUST_ARCH_STUB)"
	check "default PKG_SOURCE_URL is this checkout ($(dv PKG_SOURCE_URL))" test "$(dv PKG_SOURCE_URL)" = "file://$root"
	if head=$(git -C "$root" rev-parse HEAD 2>/dev/null); then
		check "default PKG_SOURCE_VERSION is HEAD ($(dv PKG_SOURCE_VERSION))" test "$(dv PKG_SOURCE_VERSION)" = "$head"
		check "PKG_SOURCE names version and commit ($(dv PKG_SOURCE))" \
			test "$(dv PKG_SOURCE)" = "mmkit-$cargo_version-$head.tar.xz"
	fi
	check "PKG_SOURCE_SUBDIR is mmkit-<version> (the default PKG_BUILD_DIR name)" \
		test "$(dv PKG_SOURCE_SUBDIR)" = "mmkit-$cargo_version"
	check "Package/mmkit has SECTION, CATEGORY and TITLE" \
		test -n "$(dv SECTION)" -a -n "$(dv CATEGORY)" -a -n "$(dv TITLE)"
else
	bad "GNU make parses openwrt/Makefile: $dumped"
fi

# ---- against a real rust-package.mk, when one is given ----
for real in ${real_mks[@]+"${real_mks[@]}"}; do
	if [ ! -f "$real" ]; then
		bad "$real exists"
		continue
	fi
	values="$(dirname "$real")/rust-values.mk"
	read_by_real=$(cat "$real" "$values" 2>/dev/null | { grep -oE '\$\(?[A-Z_][A-Z0-9_]*' || true; } | tr -d '$(' | sort -u)
	for v in $RUST_VARS; do # informational: older feeds read fewer of them
		if in_list "$v" "$read_by_real"; then
			echo "NOTE: $v (listed here) is read by $real"
		else
			echo "NOTE: $v (listed here) is not read by $real (an older feed?)"
		fi
	done
	for v in $top_vars; do
		case "$v" in RUST_* | CARGO_*)
			check "$v (set in openwrt/Makefile) is read by $real" in_list "$v" "$read_by_real" ;;
		esac
	done
	check "$real defines RustBinPackage" grep -q '^define RustBinPackage' "$real"
	check "RUST_ARCH_DEPENDS allows mips, mipsel, arm, aarch64, x86_64" \
		bash -c 'l=$(grep "^RUST_ARCH_DEPENDS" "$1"); for a in "(aarch64" "|arm|" "|mips|" "|mipsel|" "|x86_64)"; do [[ "$l" == *"$a"* ]] || exit 1; done' _ "$values"
done

# ---- self-test: each broken copy must produce a FAIL the real Makefile does not ----
if [ "$self_test" = 1 ]; then
	st_dir="$stub/selftest"
	mkdir -p "$st_dir"
	base_fails=$("${BASH_SOURCE[0]}" --makefile "$mk" 2>&1 | grep '^FAIL' | sort || true)
	st_case() { # st_case "what" sed-script
		local what=$1 copy="$st_dir/Makefile.$((pass + fail))" new
		sed "$2" "$mk" >"$copy"
		if cmp -s "$copy" "$mk"; then
			bad "[self-test] mutation '$what' changed nothing"
			return
		fi
		new=$(comm -13 <(echo "$base_fails") \
			<("${BASH_SOURCE[0]}" --makefile "$copy" 2>&1 | grep '^FAIL' | sort || true) | head -n 1)
		if [ -n "$new" ]; then
			ok "[self-test] rejects $what (${new#FAIL: })"
		else
			bad "[self-test] accepted $what"
		fi
	}
	st_case "a PKG_VERSION that is not Cargo.toml's" 's/^PKG_VERSION:=.*/PKG_VERSION:=9.9.9/'
	st_case "a misspelt PKG_LICENCE_FILES" 's/^PKG_LICENSE_FILES:=/PKG_LICENCE_FILES:=/'
	st_case "a misspelt RUST_PKG_FEATURE" 's/^PKG_BUILD_PARALLEL:=1/&\nRUST_PKG_FEATURE:=foo/'
	st_case "DEPENDS without \$(RUST_ARCH_DEPENDS)" 's/DEPENDS:=$(RUST_ARCH_DEPENDS)/DEPENDS:=+libc/'
	st_case "BuildPackage before RustBinPackage" \
		'/call RustBinPackage/{h;d};/call BuildPackage/{p;x}'
	st_case "an install without the register maps" '/INSTALL_DATA.*regmaps/d'
	st_case "an install without the binary" '/INSTALL_BIN/d'
	st_case "an install that puts the maps in /etc/config" 's|$(1)/etc/mmkit/$|$(1)/etc/config/|'
	st_case "a missing endef (make syntax error)" '0,/^endef$/{/^endef$/d}'
	st_case "a license Cargo.toml does not have" 's/^PKG_LICENSE:=.*/PKG_LICENSE:=GPL-2.0-only/'
	st_case "the rust-package.mk include of the in-tree feed path" \
		's|^include $(TOPDIR)/feeds/packages/lang/rust/rust-package.mk|include ../../lang/rust/rust-package.mk|'
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
