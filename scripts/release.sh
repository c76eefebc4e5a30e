#!/usr/bin/env bash
# Builds the release artifacts into build/release (make release):
#
#   normledger-VERSION-linux-amd64            static binaries (CGO_ENABLED=0)
#   normledger-VERSION-linux-arm64
#   normledger-VERSION-linux-ARCH.cdx.json    an SBOM of each binary: CycloneDX
#                                             1.6 JSON of the Go modules it links
#                                             (cyclonedx-gomod app, pinned in
#                                             tools/go.mod), with versions, purls,
#                                             module hashes and detected licenses
#   SHA256SUMS                                sha256sum's format: verify with
#                                             sha256sum -c SHA256SUMS
#
# The build is reproducible: the same source, Go version and VERSION give
# the same bytes, whoever builds where (deploy/deploy_test.go builds twice in
# two copies of the tree and compares). To that end the binaries are built
# with -trimpath, no VCS stamp, an empty build id and stripped symbols, and
# nothing from the environment (GOFLAGS, GOAMD64, GOARM64 and GOEXPERIMENT
# are set here); the SBOMs carry no serial number, and their timestamp is
# SOURCE_DATE_EPOCH; every file's mtime is SOURCE_DATE_EPOCH too.
#
# Settings (environment):
#   VERSION            what `normledger version` reports and the file names
#                      carry (default: git describe --always --dirty, else dev)
#   SOURCE_DATE_EPOCH  the SBOMs' timestamp and the files' mtime (default: the
#                      commit time of HEAD, else 0)
#   PLATFORMS          GOOS/GOARCH pairs (default: linux/amd64 linux/arm64)
#   RELEASE_DIR        where to write (default: build/release; emptied first)
#   GO                 the go command (default: go)
#
# To check a release: sha256sum -c SHA256SUMS, then
# `go version -m normledger-VERSION-linux-amd64` shows the Go version and
# module versions the binary was built from, to compare with the SBOM.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD 2>/dev/null || echo 0)}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64}
RELEASE_DIR=${RELEASE_DIR:-build/release}
export SOURCE_DATE_EPOCH

case "$VERSION" in
  "" | */* | *[[:space:]]*) echo "release: VERSION '$VERSION' must be non-empty, without / or spaces" >&2; exit 1 ;;
esac
case "$SOURCE_DATE_EPOCH" in
  "" | *[!0-9]*) echo "release: SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' must be seconds since 1970" >&2; exit 1 ;;
esac

# The directory is replaced as a whole: refuse anything that is not a
# directory of its own (".", "/", the repository, a home).
case "$(cd "$(dirname "$RELEASE_DIR")" 2>/dev/null && pwd)/$(basename "$RELEASE_DIR")" in
  "$PWD" | "$PWD/." | "$PWD/.." | / | /. | "$HOME" )
    echo "release: RELEASE_DIR '$RELEASE_DIR' must be a directory of its own (it is removed and rebuilt)" >&2; exit 1 ;;
esac
if [ "$RELEASE_DIR" = "." ] || [ "$RELEASE_DIR" = ".." ] || [ "$RELEASE_DIR" = "/" ]; then
  echo "release: RELEASE_DIR '$RELEASE_DIR' must be a directory of its own (it is removed and rebuilt)" >&2; exit 1
fi
rm -rf "$RELEASE_DIR"
mkdir -p "$RELEASE_DIR"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "release $VERSION ($($GO version | cut -d' ' -f3), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH) into $RELEASE_DIR"

# The SBOM generator, built for this host from the pinned tools module.
env CGO_ENABLED=0 GOOS= GOARCH= GOFLAGS=-mod=readonly GOEXPERIMENT= \
  $GO -C tools build -trimpath -o "$work/cyclonedx-gomod" github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod

for platform in $PLATFORMS; do
  os=${platform%/*}
  arch=${platform#*/}
  name=normledger-$VERSION-$os-$arch
  echo "  $name"
  # The same environment for the build and for the SBOM's module selection.
  target=(CGO_ENABLED=0 "GOOS=$os" "GOARCH=$arch" GOFLAGS=-mod=readonly GOAMD64=v1 GOARM64=v8.0 GOEXPERIMENT=)
  env "${target[@]}" $GO build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X github.com/normledger/normledger/cli.Version=$VERSION" \
    -o "$RELEASE_DIR/$name" ./cmd/normledger
  env "${target[@]}" "$work/cyclonedx-gomod" app -json -licenses -noserial -notimestamp \
    -main cmd/normledger -output "$work/$name.cdx.json" . 2>"$work/sbom.log" ||
    { cat "$work/sbom.log" >&2; exit 1; }
  # The SBOM's timestamp from SOURCE_DATE_EPOCH; without the generator's own
  # hashes (they depend on the host that built it, not on the release).
  env GOOS= GOARCH= GOFLAGS=-mod=readonly $GO run scripts/sbomnormalize.go <"$work/$name.cdx.json" >"$RELEASE_DIR/$name.cdx.json"
  chmod 0755 "$RELEASE_DIR/$name"
  chmod 0644 "$RELEASE_DIR/$name.cdx.json"
done

(cd "$RELEASE_DIR" && LC_ALL=C sha256sum -- $(LC_ALL=C ls)) >"$work/SHA256SUMS"
install -m 0644 "$work/SHA256SUMS" "$RELEASE_DIR/SHA256SUMS"
find "$RELEASE_DIR" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
cat "$RELEASE_DIR/SHA256SUMS"
