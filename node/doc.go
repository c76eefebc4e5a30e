// Package node assembles a normledger process: CometBFT in-process (goleveldb
// stores under the node's home), the ABCI app over ledger/store, and logging;
// it starts and stops them cleanly. It also lays out a node's home directory.
//
// It receives typed configuration; only cli reads viper.
package node
