// Package normledger is the module root; it holds only repository-wide
// tests (dependency directions). See README.md.
package normledger
