#!/usr/bin/env bash
# Copies the photos of one role of Calibration/images/split.tsv from the model cache into a
# folder, so `calibrate --images` / `eval --images` can read them.
# Usage: Tools/split-images.sh calibration|evaluation DESTINATION
set -euo pipefail
role="$1"
destination="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${AIMET_SWIFT_CACHE:-$HOME/.cache/aimet-swift}"
mkdir -p "$destination"
count=0
while IFS=$'\t' read -r line_role photo source file; do
    [[ -z "$line_role" || "$line_role" == \#* || "$line_role" != "$role" ]] && continue
    extension="${file##*.}"
    cp "$cache/$file" "$destination/$photo.$extension"
    count=$((count + 1))
done < "$here/Calibration/images/split.tsv"
if [[ $count -eq 0 ]]; then echo "no '$role' photos in the split" >&2; exit 1; fi
