# Shared by scripts/test and scripts/demo: messages, Python and the project's virtualenv.
# Expects REPO_ROOT and PIP_EXTRAS to be set by the caller.

VENV="$REPO_ROOT/.venv"
PIP_STAMP="$VENV/.streetlight-pip-stamp"

say() { printf 'streetlight: %s\n' "$*"; }
die() { printf 'streetlight: error: %s\n' "$*" >&2; exit 1; }

pick_python() {
    local py
    for py in "${STREETLIGHT_PYTHON:-}" python3.11 python3; do
        if [[ -z $py ]] || ! command -v "$py" >/dev/null 2>&1; then
            continue
        fi
        if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    return 1
}


setup_venv() {
    if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        local py
        py=$(pick_python) || die "no Python >= 3.11 found (set STREETLIGHT_PYTHON)"
        say "creating virtualenv .venv with $py ..."
        rm -rf "$VENV"
        "$py" -m venv "$VENV"
    fi
    local want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1) $PIP_EXTRAS"
    if [[ -f $PIP_STAMP && $(cat "$PIP_STAMP") == "$want" ]]; then
        return 0
    fi
    say "installing the project into .venv (pip install -e '$PIP_EXTRAS') ..."
    rm -f "$PIP_STAMP"
    "$VENV/bin/python" -m pip install -q -e "$PIP_EXTRAS"
    echo "$want" >"$PIP_STAMP"
}

# The web console's browser libraries (npm packages, into api/console/node_modules; see
# scripts/console-assets). Installs Node.js and npm with apt-get when missing and root.
# Returns non-zero, with a message, when they cannot be installed.
console_assets() {
    if ! command -v npm >/dev/null 2>&1; then
        if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
            say "npm is missing: install Node.js and npm to get the console's map and charts"
            return 1
        fi
        say "installing nodejs and npm (for the console's libraries) ..."
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || return 1
    fi
    "$REPO_ROOT/scripts/console-assets"
}
