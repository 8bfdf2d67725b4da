# shellcheck shell=bash
# Shared helpers for the ci/ scripts (sourced, not run).

# ensure_apt PKG...: install the Debian packages that are missing (one
# `apt-get update` at most; nothing at all when everything is there).
ensure_apt() {
    local missing=() p
    for p in "$@"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
