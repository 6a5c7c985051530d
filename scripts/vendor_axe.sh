#!/usr/bin/env bash
# Refresh the axe-core that the browser tests inject into pages (tests/browser/vendor/), from the
# npm registry. The version is pinned here (move it by editing AXE_VERSION, running this, and
# committing the result); tests never download anything when they run.
set -euo pipefail

AXE_VERSION=4.14.1
cd "$(dirname "$0")/.."
dest=tests/browser/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tarball="$(cd "$work" && npm pack --silent "axe-core@${AXE_VERSION}")"
tar -xzf "$work/$tarball" -C "$work" package/axe.min.js package/LICENSE
mkdir -p "$dest"
cp "$work/package/axe.min.js" "$dest/axe.min.js"
cp "$work/package/LICENSE" "$dest/axe-core.LICENSE"  # MPL-2.0: the licence travels with the file
echo "$AXE_VERSION" >"$dest/axe-core.version"
echo "vendored axe-core ${AXE_VERSION} into ${dest}/"
