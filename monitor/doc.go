// Package monitor is the daemon behind `normledger monitor`: it follows the
// chain for one member through a node's REST API, verifies every header
// with CometBFT's light client (verifiers/remote) and every answer with
// package verifiers, and reports events about the member (docs/monitor.md)
// as lines, JSON or webhook calls, keeping its position and a queue of
// undelivered events in a state file so that a restart neither loses nor
// repeats one.
//
// Each step goes from the last processed state height H to the newest
// attested height T:
//
//   - records: the author and subject index listings after the last record
//     seen in each, proven complete (verifiers.List), so none is skipped;
//   - obligations: the debtor and creditor index listings of the
//     obligations due in [block time of H, block time of T + within), each
//     proven (the listings do not prove completeness), plus the open
//     obligations due before the window that it watches by id. An
//     obligation due before block time of H was settled by then: the sweep
//     of the first block past its due time makes it overdue, so its status
//     as of H is final as far as becoming overdue goes.
//
// The step's events go into the state file's queue together with the new
// position (one atomic write), then are delivered in order, each marked
// delivered (another write) only after it was printed and flushed or the
// webhook answered 2xx. A crash before the first write repeats the step; a
// crash between a delivery and its mark repeats that one delivery.
//
// Allowed imports: client, ledger, ledger/layout, ledger/enum, proto/gen
// (messages), verifiers, verifiers/remote, internal/*. Not cli, node, app.
package monitor
