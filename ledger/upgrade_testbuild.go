//go:build upgradetest

package ledger

import (
	"google.golang.org/protobuf/proto"

	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// TestUpgradeName is the upgrade a binary built with -tags upgradetest
// has: the fault suite upgrades a running testnet to it.
const TestUpgradeName = "normledger-test-next"

// Its migration takes the chain one app version past CurrentAppVersion and doubles the default
// acknowledgement window (a rule the ledger derives deadlines from), so
// that blocks after the upgrade replay only under the new rules.
func init() {
	registerUpgrade(Upgrade{Name: TestUpgradeName, AppVersion: CurrentAppVersion + 1, Migrate: func(st State, b Block, ch *Changes) error {
		p := b.Params
		if ch.Params != nil {
			p = ch.Params
		}
		np := proto.Clone(p).(*pb.Params)
		np.AckWindowHours *= 2
		ch.Params = np
		return nil
	}})
}
