package node

import (
	"context"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/libs/log"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
)

// RunSigner serves pv's signatures to the node at addr until ctx ends.
func RunSigner(ctx context.Context, addr, chainID string, pv cmttypes.PrivValidator, logger log.Logger) error {
	protocol, address := "tcp", addr
	if i := len("tcp://"); len(addr) > i && addr[:i] == "tcp://" {
		address = addr[i:]
	} else if len(addr) > 7 && addr[:7] == "unix://" {
		protocol, address = "unix", addr[7:]
	}
	var dialer privval.SocketDialer
	if protocol == "unix" {
		dialer = privval.DialUnixFn(address)
	} else {
		// The connection is encrypted (CometBFT's secret connection) under a
		// fresh identity key; the node accepts the signer by the validator
		// key it signs with.
		dialer = privval.DialTCPFn(address, 3*time.Second, ed25519.GenPrivKey())
	}
	// Redial without end: a signer outlives node restarts.
	endpoint := privval.NewSignerDialerEndpoint(logger, dialer,
		privval.SignerDialerEndpointConnRetries(1<<30), privval.SignerDialerEndpointRetryWaitInterval(200*time.Millisecond))
	ss := privval.NewSignerServer(endpoint, chainID, pv)
	if err := ss.Start(); err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	<-ctx.Done()
	return ss.Stop()
}
