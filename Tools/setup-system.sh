#!/usr/bin/env bash
# Installs the system packages aimet-swift builds against, only when something is missing.
# Idempotent and quiet when everything is present. Debian/Ubuntu (apt) or macOS (Homebrew).
set -euo pipefail
if [[ "$(uname)" == "Darwin" ]]; then
    for formula in hdf5 openblas pkg-config libpng jpeg; do
        brew list "$formula" >/dev/null 2>&1 || brew install "$formula"
    done
    exit 0
fi
packages=(libhdf5-dev libopenblas-dev pkg-config python3-pip libpng-dev libjpeg-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ! python3 -m venv --help >/dev/null 2>&1; then missing+=(python3-venv); fi
if (( ${#missing[@]} )); then
    echo "installing system packages: ${missing[*]}"
    sudo_prefix=()
    [[ "$(id -u)" != 0 ]] && sudo_prefix=(sudo)
    "${sudo_prefix[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_prefix[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
