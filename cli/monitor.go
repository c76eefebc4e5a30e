package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/normledger/normledger/monitor"
	"github.com/spf13/cobra"
)

func monitorCmd(e *env) *cobra.Command {
	var o monitor.Options
	var metricsAddr string
	tf := &trustFlags{}
	cmd := &cobra.Command{
		Use:   "monitor --member ID --witness URL [--genesis FILE]",
		Short: "Follow the chain for one member and report proven events about it (stdout, webhook)",
		Long: `monitor follows the chain through --node, verifying headers with the light
client (cross-checked with every --witness), and reports events about the
member, each proven against a verified header:

  record:<id>        a new record names the member (author, co-signer,
                     recipient or subject)
  finding:<id>       a new finding concerns it
  challenge:<id>     a new challenge of one of its records
  due_soon:<ob>      an open obligation it owes falls due within --within of
                     block time
  overdue:<ob>       an obligation it owes became overdue
  owed_overdue:<ob>  an obligation owed to it became overdue

One line per event (-o json: one JSON object per line); with --webhook each
event is also POSTed as JSON, retried with exponential backoff (1 s to 30 s)
until the receiver answers 2xx, in order. The position and the ids reported
are kept in --state (default <home>/monitor-<member>.json), written
atomically, so a restart neither loses nor repeats events (a crash between a
delivery and its record repeats that one delivery: receivers deduplicate by
id). Obligation listings do not prove completeness; see docs/monitor.md.

With --webhook-secret-file the calls are signed as Standard Webhooks
(standardwebhooks.com: webhook-id, the same on every retry of an event;
webhook-timestamp; webhook-signature, HMAC-SHA256 with each whsec_ secret in
the file). --metrics-laddr serves Prometheus metrics at /metrics.

Trust root on the first run: --genesis FILE, or --trust-height and
--trust-hash, or the newest header in normledger verify's trust store
(--trust-store, default <home>/light). The monitor keeps its own trust store
next to the state file (<state>.light).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Member == "" {
				return errors.New("--member is required")
			}
			o.Node, o.Out, o.Err, o.JSON = e.cfg.Node, e.out, e.err, e.cfg.Output == "json"
			o.Genesis, o.TrustHeight, o.TrustHash, o.TrustPeriod = tf.genesis, tf.height, tf.hash, tf.period
			o.SharedTrustStore = tf.store
			if o.SharedTrustStore == "" {
				o.SharedTrustStore = filepath.Join(e.cfg.Home, "light")
			}
			if o.StatePath == "" {
				if err := os.MkdirAll(e.cfg.Home, 0o700); err != nil {
					return err
				}
				o.StatePath = monitor.DefaultStatePath(e.cfg.Home, o.Member)
			}
			if metricsAddr != "" {
				l, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return fmt.Errorf("--metrics-laddr: %w", err)
				}
				o.MetricsListener = l // monitor.Run closes it
			}
			ctx, stop := signalContext(cmd.Context())
			defer stop()
			o.Version = Version
			err := monitor.Run(ctx, o)
			if oe := (*monitor.OnceError)(nil); errors.As(err, &oe) {
				return verifyExit(oe.Err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Member, "member", "", "member id to monitor (required)")
	f.DurationVar(&o.Within, "within", 24*time.Hour, "report obligations the member owes that fall due within this long of block time")
	f.DurationVar(&o.Interval, "interval", 5*time.Second, "how often to poll the node for new heights")
	f.StringVar(&o.Webhook, "webhook", "", "also POST each event as JSON to this URL (retried until it answers 2xx)")
	f.StringVar(&o.WebhookSecretFile, "webhook-secret-file", "", "sign the webhook calls (Standard Webhooks) with the whsec_ secret(s) in this file (mode 600 or 640)")
	f.StringVar(&metricsAddr, "metrics-laddr", "", "serve Prometheus metrics at http://ADDR/metrics (host:port; empty: off)")
	f.StringVar(&o.StatePath, "state", "", "state file (default <home>/monitor-<member>.json; its trust store is <state>.light)")
	f.BoolVar(&o.Once, "once", false, "process up to the newest attested height, deliver, and exit (for cron)")
	f.StringArrayVar(&o.Witnesses, "witness", nil, "REST URL of another node to cross-check headers with (repeatable, at least one)")
	tf.add(cmd, true)
	f.Lookup("trust-store").Usage = "normledger verify's trust store, whose newest header is the trust root on the first run (default <home>/light)"
	return cmd
}
