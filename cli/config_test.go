package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/normledger/normledger/cli/operator"
)

// Precedence: flag > NORMLEDGER_* environment > config/app.toml > default.
func TestConfigPrecedence(t *testing.T) {
	home := t.TempDir()
	cfgOf := func(env map[string]string, args ...string) *Config {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		var got *Config
		root := NewRootCmd(&bytes.Buffer{}, &bytes.Buffer{}, strings.NewReader(""))
		root.SetArgs(append([]string{"version", "--home", home}, args...))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		got = lastConfig
		return got
	}
	// Defaults: the client talks to the REST API, not CometBFT's RPC.
	if c := cfgOf(nil); c.Node != "http://127.0.0.1:1317" || c.KeyringBackend != "file" || c.Log.Level != "info" || c.App.VerifyOnStart != "auto" {
		t.Fatalf("defaults: %+v", c)
	}
	// File beats default.
	os.MkdirAll(filepath.Join(home, "config"), 0o755)
	if err := operator.WriteAppToml(home, "chain-x", "http://127.0.0.1:2000", "test"); err != nil {
		t.Fatal(err)
	}
	if c := cfgOf(nil); c.Node != "http://127.0.0.1:2000" || c.KeyringBackend != "test" || c.ChainID != "chain-x" {
		t.Fatalf("file: %+v", c)
	}
	// Environment beats file.
	if c := cfgOf(map[string]string{"NORMLEDGER_NODE": "http://127.0.0.1:3000", "NORMLEDGER_LOG_LEVEL": "debug", "NORMLEDGER_APP_VERIFY_ON_START": "always"}); c.Node != "http://127.0.0.1:3000" || c.Log.Level != "debug" || c.App.VerifyOnStart != "always" {
		t.Fatalf("env: %+v", c)
	}
	// Flag beats environment.
	if c := cfgOf(map[string]string{"NORMLEDGER_NODE": "http://127.0.0.1:3000"}, "--node", "http://127.0.0.1:4000"); c.Node != "http://127.0.0.1:4000" {
		t.Fatalf("flag: %+v", c)
	}
}

// A key app.toml does not know is an error naming it (and the key it most
// likely meant), not a setting silently ignored; the shipped template and
// every key it writes are known.
func TestConfigUnknownKeys(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "config"), 0o755)
	if err := operator.WriteAppToml(home, "chain-x", "http://127.0.0.1:2000", "test"); err != nil {
		t.Fatal(err)
	}
	run := func() error {
		root := NewRootCmd(&bytes.Buffer{}, &bytes.Buffer{}, strings.NewReader(""))
		root.SetArgs([]string{"version", "--home", home})
		return root.Execute()
	}
	if err := run(); err != nil {
		t.Fatalf("the shipped template: %v", err)
	}
	path := filepath.Join(home, "config", "app.toml")
	bz, _ := os.ReadFile(path)
	typo := strings.Replace(string(bz), "rest_laddr =", "rest_ladr =", 1)
	typo = strings.Replace(typo, "[app]\n", "[app]\nkeep_recnet = 100\n", 1)
	typo += "\n[apy]\nfoo = 1\n\n[telemetry]\n\n[checkpoints.extra]\n"
	if err := os.WriteFile(path, []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run()
	if err == nil {
		t.Fatal("app.toml with unknown keys accepted")
	}
	for _, want := range []string{`"api.rest_ladr" (did you mean "api.rest_laddr"?)`, `"app.keep_recnet" (did you mean "app.keep_recent"?)`, `"apy.foo"`, `"telemetry"`, `"checkpoints.extra"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if ExitCode(err) != ExitError {
		t.Errorf("exit status %d, want %d", ExitCode(err), ExitError)
	}
}

// config.toml is CometBFT's, read by normledger: a key it does not know is
// refused the same way.
func TestCometConfigUnknownKeys(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, "config"), 0o755)
	c := cmtcfg.DefaultConfig()
	c.SetRoot(home)
	path := filepath.Join(home, "config", "config.toml")
	cmtcfg.WriteConfigFile(path, c)
	if _, err := operator.LoadCometConfig(home); err != nil {
		t.Fatalf("CometBFT's own template: %v", err)
	}
	bz, _ := os.ReadFile(path)
	bad := strings.Replace(string(bz), "timeout_commit =", "timeout_comit =", 1)
	os.WriteFile(path, []byte(bad), 0o644)
	_, err := operator.LoadCometConfig(home)
	if err == nil || !strings.Contains(err.Error(), `"consensus.timeout_comit"`) {
		t.Fatalf("config.toml typo: %v", err)
	}
}
