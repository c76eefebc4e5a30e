// Command normledger runs and talks to a normledger node. See README.md.
package main

import (
	"context"
	"os"

	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/testnet"
)

func main() {
	os.Exit(cli.Execute(context.Background(), testnet.Command()))
}
