package node

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

// NewLogger builds the process logger: format "text" or "json", level
// "debug", "info", "warn" or "error".
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// cometLogger adapts slog to CometBFT's logger interface.
type cometLogger struct{ l *slog.Logger }

func (c cometLogger) Debug(msg string, kv ...any)  { c.l.Debug(msg, kv...) }
func (c cometLogger) Info(msg string, kv ...any)   { c.l.Info(msg, kv...) }
func (c cometLogger) Error(msg string, kv ...any)  { c.l.Error(msg, kv...) }
func (c cometLogger) With(kv ...any) cmtlog.Logger { return cometLogger{c.l.With(kv...)} }

// CometLogger adapts an slog logger for CometBFT components a command runs
// outside a node (the remote signer).
func CometLogger(l *slog.Logger) cmtlog.Logger { return cometLogger{l} }
