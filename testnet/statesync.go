package testnet

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/normledger/normledger/cli/operator"
	"github.com/normledger/normledger/client"
)

// AddStateSyncNode adds a full node that joins by state sync: it trusts the
// header of height trustHeight as rpcFrom[0] serves it (a researcher's
// shortcut for the hash an operator would get out of band) and verifies
// snapshots through the RPC of rpcFrom (at least two nodes).
func (n *Network) AddStateSyncNode(ctx context.Context, ports Ports, trustHeight int64, rpcFrom []NodeInfo) (NodeInfo, error) {
	if len(rpcFrom) < 2 {
		return NodeInfo{}, fmt.Errorf("state sync needs two RPC servers")
	}
	c, err := client.New(rpcFrom[0].RESTURL())
	if err != nil {
		return NodeInfo{}, err
	}
	var lb *cmttypes.LightBlock
	for try := 0; ; try++ {
		if lb, err = c.LightBlock(ctx, trustHeight); err == nil {
			break
		}
		if try == 50 {
			return NodeInfo{}, fmt.Errorf("trusted header %d: %w", trustHeight, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	info, err := n.addNode(ports, "")
	if err != nil {
		return NodeInfo{}, err
	}
	var rpcs []string
	for _, r := range rpcFrom {
		rpcs = append(rpcs, "http://"+r.RPC)
	}
	if err := operator.EnableStateSync(info.Home, rpcs, trustHeight, hex.EncodeToString(lb.Hash())); err != nil {
		return NodeInfo{}, err
	}
	return info, nil
}
