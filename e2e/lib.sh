# Shared by e2e/build and e2e/build-plugins (sourced, not run): where things go and how one binary is built.
# Each binary is rebuilt only when its module's go.mod/go.sum, package, flags or the Go version change.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$E2E_DIR")"
MODULES="$E2E_DIR/modules"
# ../shared/e2e-vendor beside the repository (for a git worktree: beside its main checkout).
vendor_dir() {
  local main
  main="$(dirname "$(git -C "$REPO_DIR" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo "$REPO_DIR/.git")")"
  for dir in "$(dirname "$REPO_DIR")/shared/e2e-vendor" "$(dirname "$main")/shared/e2e-vendor"; do
    [[ -d "$dir" ]] && { echo "$dir"; return; }
  done
  echo "$(dirname "$REPO_DIR")/shared/e2e-vendor"
}
VENDOR="${PLATFORM_E2E_VENDOR:-$(vendor_dir)}"
CACHE="${PLATFORM_E2E_CACHE:-$HOME/.cache/platform-e2e}"
BIN="$CACHE/bin"
SRC="$CACHE/src"
STAMPS="$CACHE/stamps"
SUMMARY="$CACHE/build-summary.txt"
GO="${GO:-/usr/local/go/bin/go}"

# The committed go.sum files are complete: a build that needs anything else fails instead of resolving anew.
# So the checksum database (unreachable here) adds nothing; every download is checked against go.sum.
export GOTOOLCHAIN=local GOSUMDB=off GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
export PATH="$(dirname "$GO"):$PATH"
mkdir -p "$BIN" "$SRC" "$STAMPS"

note() { printf '%-28s %s\n' "$1" "$2" | tee -a "$SUMMARY"; }

# module_version DIR MODULE: the version a wrapper pins, read from its go.mod (no network).
module_version() { (cd "$1" && "$GO" list -m -f '{{.Version}}' "$2"); }
module_dir() { (cd "$1" && "$GO" mod download -json "$2@$(module_version "$1" "$2")" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); }

# build NAME MODULE_DIR PACKAGE LDFLAGS: go build PACKAGE from MODULE_DIR into $BIN/NAME unless cached.
build() {
  local name="$1" moddir="$2" pkg="$3" ldflags="$4" key
  key="$( { "$GO" version; cat "$moddir/go.mod" "$moddir/go.sum"; echo "$pkg $ldflags $GOFLAGS"; } | sha256sum | cut -c1-16)"
  if [[ -x "$BIN/$name" && "$(cat "$STAMPS/$name" 2>/dev/null)" == "$key" ]]; then
    note "$name" "cache hit"
    return
  fi
  local start=$SECONDS
  (cd "$moddir" && nice -n 19 "$GO" build -ldflags "-s -w $ldflags" -o "$BIN/$name.tmp" "$pkg")
  mv "$BIN/$name.tmp" "$BIN/$name"
  echo "$key" > "$STAMPS/$name"
  note "$name" "built in $((SECONDS - start))s"
}
