package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
