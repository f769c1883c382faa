#!/usr/bin/env bash
# Builds the web apps into frontend/dist (what the server and nginx serve), installing the
# toolchain first where it is missing. Installs are skipped when the right version is
# present, so a second run only rebuilds. Usage: frontend/build.sh [--tools-only]
set -euo pipefail
cd "$(dirname "$0")"

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132   # wasm-opt; Debian's binaryen cannot read what rustc 1.95 emits
# The wasm-bindgen CLI must equal the library in Cargo.lock (pinned with `=` in Cargo.toml).
BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' ../Cargo.lock)
TOOLS="$PWD/.tools"
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

has_version() { command -v "$1" >/dev/null && "$1" --version 2>/dev/null | grep -qF "$2"; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
has_version trunk "$TRUNK_VERSION" || cargo install --locked "trunk@$TRUNK_VERSION"
# Without --locked: the CLI's own lock file names a crate version the registry here lacks.
has_version wasm-bindgen "$BINDGEN_VERSION" || cargo install "wasm-bindgen-cli@$BINDGEN_VERSION"
has_version wasm-opt "version $BINARYEN_VERSION" ||
    npm install --silent --no-audit --no-fund --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"

[ "${1:-}" = "--tools-only" ] && exit 0
# Its own target folder, so that a build started from a running `cargo test` never waits on
# the test's lock.
export CARGO_TARGET_DIR="$PWD/../target/web"
# The app (and its Markdown worker) into dist, then the admin console, the account pages, the
# embedded chat and the live rooms into dist/admin, dist/account, dist/embed and dist/rooms.
trunk build --release --offline=true
for app in admin account embed rooms; do
    trunk build --release --offline=true --dist "dist/$app" --public-url "/$app/" "$app.html"
done
# Precompressed copies at the highest level, for nginx's gzip_static.
gzip -9 --keep --force dist/*.wasm dist/*.js dist/*.css dist/{admin,account,embed,rooms}/*.{wasm,js,css}
