package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var pj = protojson.MarshalOptions{Indent: "  ", UseProtoNames: true}

func protoJSON(m proto.Message) json.RawMessage {
	bz, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", err.Error()))
	}
	return bz
}

// recordView is how the CLI shows a stored record: what the ledger assigned,
// who signed, and the record itself decoded from the signed tx.
type recordView struct {
	ID        string          `json:"id"`
	Seq       uint64          `json:"seq"`
	Height    int64           `json:"height"`
	BlockTime string          `json:"block_time"`
	Kind      string          `json:"kind"`
	Author    string          `json:"author"`
	KeyID     string          `json:"key_id"`
	Sequence  uint64          `json:"sequence"`
	CoSigners []string        `json:"co_signers,omitempty"`
	Record    json.RawMessage `json:"record"`
	Tx        []byte          `json:"tx"`
	// Flags warn that a signing key was later revoked as compromised.
	Flags []json.RawMessage `json:"flags,omitempty"`
}

// flagText describes a record flag for people.
func flagText(f *pb.RecordFlag) string {
	since := ""
	if f.CompromisedSinceHeight > 0 {
		since = fmt.Sprintf(" since height %d", f.CompromisedSinceHeight)
	}
	if f.CompromisedSinceTime != nil {
		since += " since " + f.CompromisedSinceTime.AsTime().UTC().Format("2006-01-02T15:04:05Z")
	}
	return fmt.Sprintf("%s: key %s of %s was revoked as compromised%s (by record %s); this signature may not be %s's", f.Reason, f.KeyId, f.Member, since, f.RevokedBy, f.Member)
}

func viewOf(sr *pb.StoredRecord, flags []*pb.RecordFlag) (recordView, error) {
	tx, err := ledger.DecodeTx(sr.Tx, 0)
	if err != nil {
		return recordView{}, fmt.Errorf("stored record %s: %w", sr.Id, err)
	}
	v := recordView{
		ID: sr.Id, Seq: sr.Seq, Height: sr.Height, BlockTime: sr.BlockTime.AsTime().UTC().Format("2006-01-02T15:04:05Z"),
		Kind: ledger.KindNameOf(sr.Kind), Author: sr.Author, KeyID: tx.Body.KeyId, Sequence: tx.Body.Sequence,
		Record: protoJSON(tx.Body.Record), Tx: sr.Tx,
	}
	for _, cs := range tx.CoSignatures {
		v.CoSigners = append(v.CoSigners, cs.Signer)
	}
	for _, f := range flags {
		if f.RecordId == sr.Id {
			v.Flags = append(v.Flags, protoJSON(f))
		}
	}
	return v, nil
}

// printRecords prints a page of records as JSON (text output is textRecords).
func printRecords(w io.Writer, recs []*pb.StoredRecord, flags []*pb.RecordFlag, next string) error {
	views := make([]recordView, 0, len(recs))
	for _, r := range recs {
		v, err := viewOf(r, flags)
		if err != nil {
			return err
		}
		views = append(views, v)
	}
	return printJSON(w, map[string]any{"records": views, "next_page_token": next})
}
