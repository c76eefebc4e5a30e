// Package cli holds the normledger cobra commands. It is the only package
// that reads viper: it merges flags, NORMLEDGER_* environment variables and
// config/app.toml (in that order of precedence) into typed configurations
// and hands them to node, the keyring and the RPC client.
package cli
