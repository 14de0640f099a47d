#!/usr/bin/env bash
# Renders an HTML report of `conformance run --report html=FILE` (or a gradebook's
# index.html) in headless Debian chromium and writes a PNG screenshot beside it:
#   docs/ci/screenshot-report.sh report.html [report.png]
# conformance/tests/reports.rs does the same in a test (skipped when chromium is absent).
set -euo pipefail
page="$(realpath "$1")"
shot="${2:-${page%.html}.png}"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$profile" --window-size=1000,1400 \
    --screenshot="$shot" "file://$page" 2>/dev/null
echo "wrote $shot"
