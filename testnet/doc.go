// Package testnet generates and runs local multi-validator normledger
// networks as separate OS processes, seeds scenarios and injects faults.
package testnet
