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
}

func viewOf(sr *pb.StoredRecord) (recordView, error) {
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
	return v, nil
}

func printRecords(w io.Writer, output string, recs []*pb.StoredRecord, next string) error {
	views := make([]recordView, 0, len(recs))
	for _, r := range recs {
		v, err := viewOf(r)
		if err != nil {
			return err
		}
		views = append(views, v)
	}
	if output == "json" {
		return printJSON(w, map[string]any{"records": views, "next_page_token": next})
	}
	fmt.Fprintf(w, "%-64s  %6s  %6s  %-20s  %-20s  %s\n", "ID", "SEQ", "HEIGHT", "KIND", "AUTHOR", "BLOCK TIME")
	for _, v := range views {
		fmt.Fprintf(w, "%-64s  %6d  %6d  %-20s  %-20s  %s\n", v.ID, v.Seq, v.Height, v.Kind, v.Author, v.BlockTime)
	}
	if next != "" {
		fmt.Fprintf(w, "more: --page-token %s\n", next)
	}
	return nil
}
