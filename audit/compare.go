package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"github.com/normledger/normledger/verifiers"
	"github.com/normledger/normledger/verifiers/checkpoint"
	"github.com/normledger/normledger/verifiers/remote"
)

// auditCheckpoints checks every checkpoint the node published up to height
// to: its certificate (header verified by the light client), that it names
// the log the re-execution has at its height, and which registered
// witnesses cosigned it.
func auditCheckpoints(ctx context.Context, api API, mem *store.Store, lc *remote.LightClient, chainID string, to int64, rep *Report) error {
	res, err := api.ListCheckpoints(ctx, to, 200)
	if err != nil {
		return nil //nolint:nilerr // a node of an older version serves none
	}
	v, err := mem.At(0)
	if err != nil {
		return err
	}
	ms, err := v.Members()
	if err != nil {
		return err
	}
	policy, err := checkpoint.CosignerPolicy(checkpoint.RegistryWitnesses(ms))
	if err != nil {
		return err
	}
	for i := len(res.Checkpoints) - 1; i >= 0; i-- {
		info := res.Checkpoints[i]
		c, err := checkpoint.Open([]byte(info.Note), chainID, policy, func(lb *cmttypes.LightBlock) error { return lc.CheckHeader(ctx, lb) })
		if err != nil {
			rep.add(info.Height, "published checkpoint does not verify", "", err.Error())
			continue
		}
		mv, err := mem.At(c.Height)
		if err != nil {
			return err
		}
		size, root, err := mv.LogState()
		if err != nil {
			return err
		}
		if c.Height != info.Height || c.Size != size || !bytes.Equal(c.Root, root) {
			rep.add(info.Height, "published checkpoint names another log than the re-execution", fmt.Sprintf("%d %X", size, root), fmt.Sprintf("%d %X", c.Size, c.Root))
			continue
		}
		rep.Checkpoints = append(rep.Checkpoints, CheckpointCoverage{Height: c.Height, Size: c.Size, Cosigners: c.Cosigners})
	}
	return nil
}

// checkLog compares the record log the node proves at height h with the
// one rebuilt from the blocks, and checks the node's consistency proof from
// the previous height's log.
func checkLog(ctx context.Context, api API, mem *store.Store, h int64, next *cmttypes.LightBlock, prev *verifiers.LogState, rep *Report) error {
	v, err := mem.At(h)
	if err != nil {
		return err
	}
	size, root, err := v.LogState()
	if err != nil {
		return fmt.Errorf("rebuilt log at %d: %w", h, err)
	}
	mine := verifiers.LogState{Height: h, Size: size, Root: root}
	res, err := api.GetLog(ctx, h, true)
	if err != nil {
		return fmt.Errorf("log at %d: %w", h, err)
	}
	theirs, err := verifiers.ProvenLog(next.AppHash, res.Proof, h)
	switch {
	case err != nil:
		rep.add(h, "the node's log state does not verify against header "+fmt.Sprint(h+1), "", err.Error())
	case theirs.Size != mine.Size || !bytes.Equal(theirs.Root, mine.Root) || res.Size != mine.Size || !bytes.Equal(res.Root, mine.Root):
		rep.add(h, "record log differs from the one rebuilt from the blocks", fmt.Sprintf("%d %X", mine.Size, mine.Root), fmt.Sprintf("%d %X", res.Size, res.Root))
	default:
		rep.LogRootsMatched++
	}
	if mine.Size != prev.Size {
		c, err := api.GetLogConsistency(ctx, prev.Size, mine.Size)
		if err != nil {
			rep.add(h, fmt.Sprintf("no consistency proof %d -> %d", prev.Size, mine.Size), "", err.Error())
		} else if err := verifiers.Consistent(*prev, mine, c.Hashes); err != nil {
			rep.add(h, fmt.Sprintf("consistency proof %d -> %d does not verify", prev.Size, mine.Size), "", err.Error())
		} else {
			rep.LogConsistencyVerified++
		}
	}
	*prev = mine
	return nil
}

// compareAnswers checks the node's records and compliance at height to
// against the re-executed state; at is the time of the verified header to
// (a pledge's state is a function of the pledge and that time).
func compareAnswers(ctx context.Context, api API, mem *store.Store, to int64, at time.Time, rep *Report) error {
	v, err := mem.At(to)
	if err != nil {
		return err
	}
	// Records: every one the node lists must be the re-executed one, and no more or fewer.
	mine, err := v.AllRecords(store.Filter{})
	if err != nil {
		return err
	}
	var theirs []*pb.StoredRecord
	tok := ""
	for {
		res, err := api.Records(ctx, &pb.ListRecordsRequest{Height: to, Limit: store.MaxPageSize, PageToken: tok})
		if err != nil {
			return fmt.Errorf("records: %w", err)
		}
		theirs = append(theirs, res.Records...)
		if res.NextPageToken == "" {
			break
		}
		tok = res.NextPageToken
	}
	if len(theirs) != len(mine) {
		rep.add(to, "number of records the node lists", fmt.Sprint(len(mine)), fmt.Sprint(len(theirs)))
	}
	for i := 0; i < len(mine) && i < len(theirs); i++ {
		// The served record with its reading aids (decoded transaction,
		// signers), which no proof covers, must also be what the
		// re-execution gives.
		if !proto.Equal(ledger.Readable(mine[i]), theirs[i]) {
			rep.add(to, fmt.Sprintf("record %d (%s) as the node serves it", mine[i].Seq, mine[i].Id),
				describeRecord(mine[i]), describeRecord(theirs[i]))
		}
		rep.RecordsCompared++
	}
	// Evidence of validator misbehaviour: what the re-execution committed
	// is what the node serves.
	evs, err := v.EvidenceList("")
	if err != nil {
		return err
	}
	for _, e := range evs {
		rep.Evidence = append(rep.Evidence, EvidenceEntry{ID: e.Id, Type: enum.Name(e.Type),
			Validator: fmt.Sprintf("%X", e.ValidatorAddress), Member: e.Member, Height: e.Height, CommittedHeight: e.CommittedHeight})
	}
	if got, err := api.EvidenceList(ctx, "", to, false); err != nil {
		rep.add(to, "evidence: node did not answer", "", err.Error())
	} else {
		if len(got.Evidence) != len(evs) {
			rep.add(to, "number of pieces of evidence the node lists", fmt.Sprint(len(evs)), fmt.Sprint(len(got.Evidence)))
		}
		for i := 0; i < len(evs) && i < len(got.Evidence); i++ {
			if !proto.Equal(evs[i], got.Evidence[i]) {
				rep.add(to, "evidence "+evs[i].Id+" as the node serves it", compact(evs[i]), compact(got.Evidence[i]))
			}
		}
	}
	// Compliance of every member and every pledge.
	members, err := v.Members()
	if err != nil {
		return err
	}
	for _, m := range members {
		want, err := v.MemberCompliance(m.Id)
		if err != nil {
			return err
		}
		rep.Compliance = append(rep.Compliance, want)
		got, err := api.MemberCompliance(ctx, m.Id, to)
		if err != nil {
			rep.add(to, "compliance of "+m.Id+": node did not answer", "", err.Error())
			continue
		}
		for _, d := range diffCompliance(want, got.Compliance) {
			rep.add(to, "compliance of "+m.Id+": "+d.What, d.Want, d.Got)
		}
		rep.MembersCompared++
	}
	for _, r := range mine {
		if r.Kind != pb.RecordKind_RECORD_KIND_PLEDGE {
			continue
		}
		want, err := v.PledgeCompliance(r.Id)
		if err != nil {
			return err
		}
		got, err := api.PledgeCompliance(ctx, r.Id, to)
		if err != nil {
			rep.add(to, "compliance of pledge "+r.Id+": node did not answer", "", err.Error())
			continue
		}
		tx, err := ledger.DecodeTx(r.Tx, 0)
		if err != nil {
			return err
		}
		want.State = ledger.PledgeStateAt(tx.Body.Record.GetPledge(), at)
		want.StateTime = timestamppb.New(at)
		if !proto.Equal(want, got.Compliance) {
			rep.add(to, "compliance of pledge "+r.Id, compact(want), compact(got.Compliance))
		}
		rep.PledgesCompared++
	}
	return nil
}

func describeRecord(r *pb.StoredRecord) string {
	return fmt.Sprintf("seq %d id %s kind %s author %s height %d tx %d bytes", r.Seq, r.Id, ledger.KindNameOf(r.Kind), r.Author, r.Height, len(r.Tx))
}

func compact(m proto.Message) string {
	bz, _ := protojson.MarshalOptions{EmitUnpopulated: false}.Marshal(m)
	var buf bytes.Buffer
	json.Compact(&buf, bz)
	return buf.String()
}

// diffCompliance names the figures that differ.
func diffCompliance(want, got *pb.MemberCompliance) []Discrepancy {
	if got == nil {
		return []Discrepancy{{What: "missing", Want: compact(want)}}
	}
	var out []Discrepancy
	pair := func(name string, a, b proto.Message) {
		if !proto.Equal(a, b) {
			out = append(out, Discrepancy{What: name, Want: compact(a), Got: compact(b)})
		}
	}
	pair("on-time rate", want.OnTime, got.OnTime)
	pair("median time to acknowledge", want.TimeToAcknowledge, got.TimeToAcknowledge)
	pair("median time to disclose", want.TimeToDisclose, got.TimeToDisclose)
	pair("median time to remediate", want.TimeToRemediate, got.TimeToRemediate)
	pair("open challenges", want.OpenChallenges, got.OpenChallenges)
	pair("overdue obligations", want.Overdue, got.Overdue)
	for i := range want.Obligations {
		if i >= len(got.Obligations) {
			out = append(out, Discrepancy{What: "obligations by status: missing " + want.Obligations[i].Status.String()})
			continue
		}
		pair("obligations "+want.Obligations[i].Status.String(), want.Obligations[i], got.Obligations[i])
	}
	for i := range want.Findings {
		if i >= len(got.Findings) {
			out = append(out, Discrepancy{What: "findings: missing " + want.Findings[i].Determination.String()})
			continue
		}
		pair("findings "+want.Findings[i].Determination.String(), want.Findings[i], got.Findings[i])
	}
	if len(out) == 0 && !proto.Equal(want, got) {
		out = append(out, Discrepancy{What: "figures", Want: compact(want), Got: compact(got)})
	}
	return out
}
