// Package store is the only user of IAVL: it keeps ledger state in one
// versioned IAVL tree whose root hash is the app hash, lays out keys and
// indexes so that every answer (including list queries and absence) is
// provable, and serves immutable views of committed versions.
//
// Key layout (all keys are IAVL entries, so all are provable):
//
//	meta/chain_id                      chain id
//	meta/params                        Params
//	meta/count                         number of records, u64be
//	m/<member>                         Member
//	n/<member>                         next sequence, u64be
//	r/<seq u64be>                      StoredRecord (sequential keys: fast appends)
//	i/<id 32 bytes>                    seq u64be (id -> seq index)
//	k/<kind>/<seq u64be>               id (32 bytes)
//	a/<author>/<seq u64be>             id
//	s/<subject member>/<seq u64be>     id
//	c/<sector>/<seq u64be>             id
//	h/<author>/<content hash 32 bytes> id (duplicate detection)
//
// Allowed imports: ledger, proto/gen, IAVL, ics23, the standard library.
package store
