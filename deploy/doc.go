// Package deploy holds what an operator installs besides the binary, and
// the tests that check it; it has no Go code of its own.
//
//   - container/: Containerfile (two stages: a Go builder, then FROM scratch
//     with the static binary, uid 10001, /home/normledger as a volume, the
//     ports, SIGTERM) and Containerfile.prebuilt, the same runtime stage over
//     a binary built by make release.
//   - systemd/: normledger.service (hardened; exit 6, an upgrade is needed,
//     is not restarted) and normledger-cosmovisor.service (the node under
//     cosmovisor, which handles exit 6 by switching binaries).
//   - tmkms/: an example tmkms.toml for a validator key held in an HSM,
//     signing through the node's priv_validator_laddr.
//   - nginx/ and monitoring/: the reverse proxy and the Prometheus and
//     Grafana files, each with its own package and tests.
//
// The tests (deploy_test.go; skipped with -short):
//
//   - TestReleaseReproducible: make release in two copies of the source tree
//     gives the same bytes, the SUMS check, and each SBOM lists every module
//     its binary embeds (go version -m).
//   - TestContainerImage: builds Containerfile.prebuilt with podman and runs
//     a node in it (init, start, /readyz, SIGTERM, exit 0); skipped without
//     podman unless NORMLEDGER_REQUIRE_OPS=1.
//   - TestSystemdUnits: systemd-analyze verify on both units, and their
//     exposure score (systemd-analyze security --offline=yes).
//   - TestTmkmsConfig: the example parses as tmkms's configuration.
package deploy
