package stix_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/interop/stix"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// benchChain holds n incident disclosures (with impacts and TLP), 50 a block.
func benchChain(b *testing.B, n int) stix.Input {
	c := newChain(b)
	var txs [][]byte
	for i := 0; i < n; i++ {
		aware := t0.Add(-time.Duration(1+i%50) * time.Minute)
		txs = append(txs, c.sign("xbb", &pb.Record{Tlp: pb.Tlp(1 + i%5), Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
			IncidentRef: fmt.Sprintf("XBB-%d", i), Stage: pb.DisclosureStage(1 + i%3), Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
			Sectors: []pb.Sector{pb.Sector(1 + i%13)}, AffectedStates: []string{"xbb"}, DetectedAt: timestamppb.New(aware.Add(-time.Minute)),
			AwareAt: timestamppb.New(aware), Impacts: []string{"Service degraded", "Data encrypted"}, Severity: pb.Severity(1 + i%4),
			Summary: fmt.Sprintf("Incident %d at a regional operator.", i)}}}))
		if len(txs) == 50 {
			c.block(txs...)
			txs = nil
		}
	}
	if len(txs) > 0 {
		c.block(txs...)
	}
	return c.input()
}

// BenchmarkExport reports records exported per second (export and write).
func BenchmarkExport(b *testing.B) {
	in := benchChain(b, 1000)
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		bun, _, err := stix.Export(in, stix.Filter{})
		if err != nil {
			b.Fatal(err)
		}
		bz, err := bun.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		size = len(bz)
	}
	b.ReportMetric(float64(len(in.Records)*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(size), "bundle-bytes")
}

// BenchmarkImport reports incidents imported (checked and mapped) per second.
func BenchmarkImport(b *testing.B) {
	in := benchChain(b, 1000)
	bun, _, err := stix.Export(in, stix.Filter{})
	if err != nil {
		b.Fatal(err)
	}
	bz, _ := bun.Marshal()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := stix.Import(bz, stix.ImportOptions{Author: "xbb"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(in.Records)*b.N)/b.Elapsed().Seconds(), "incidents/s")
}

// BenchmarkRecordObjects reports records a second through the object
// stream (what a TAXII server computes for each record it indexes or
// serves: an export of the record alone).
func BenchmarkRecordObjects(b *testing.B) {
	in := benchChain(b, 1000)
	recs := in.Records
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, r := range recs {
			if _, err := stix.RecordObjects(in, r, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
}
