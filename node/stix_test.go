package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/cli"
	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/node/api"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// GET /v1/stix/bundle serves the export of the attested state, the same
// bytes normledger export stix writes from the same node; bad parameters
// are 4xx JSON errors.
func TestSTIXBundle(t *testing.T) {
	n, c, ms := startNode(t, api.Config{})
	ctx := context.Background()
	now := time.Now().UTC()
	res := fileAttested(t, c, &pb.Record{SchemaVersion: 1, Tlp: pb.Tlp_TLP_AMBER, Body: &pb.Record_IncidentDisclosure{IncidentDisclosure: &pb.IncidentDisclosure{
		IncidentRef: "XBB-77", Stage: pb.DisclosureStage_DISCLOSURE_STAGE_EARLY_WARNING, Role: pb.IncidentRole_INCIDENT_ROLE_VICTIM,
		Sectors: []pb.Sector{pb.Sector_SECTOR_WATER}, AffectedStates: []string{"xbb"},
		DetectedAt: timestamppb.New(now.Add(-2 * time.Hour)), AwareAt: timestamppb.New(now.Add(-time.Hour)),
		Impacts: []string{"Water treatment plant on manual control"}, Severity: pb.Severity_SEVERITY_HIGH, Summary: "Intrusion into plant SCADA."}}}, ms["xbb"].Signer())
	base := "http://" + n.RESTAddress()
	get := func(q string) (int, string, []byte) {
		resp, err := http.Get(base + "/v1/stix/bundle" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		bz, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), bz
	}
	st, ct, rest := get("")
	if st != 200 || ct != "application/stix+json;version=2.1" {
		t.Fatalf("%d %s %s", st, ct, rest)
	}
	if !bytes.Contains(rest, []byte(res.ID)) || !bytes.Contains(rest, []byte(stix.IncidentCoreExtension)) {
		t.Fatalf("the bundle lacks the incident:\n%s", rest)
	}
	// The CLI's export of the same node is the same bundle.
	var out, errOut bytes.Buffer
	root := cli.NewRootCmd(&out, &errOut, strings.NewReader(""))
	root.SetArgs([]string{"export", "stix", "--node", base, "--home", t.TempDir()})
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("export: %v\n%s", err, errOut.String())
	}
	if !bytes.Equal(out.Bytes(), rest) {
		t.Fatalf("CLI and REST exports differ:\n%s\n---\n%s", out.String(), rest)
	}
	if !strings.Contains(errOut.String(), "exported 1 records") {
		t.Fatalf("report: %s", errOut.String())
	}
	// It imports back (dry run of the library the CLI uses).
	imp, err := stix.Import(rest, stix.ImportOptions{Author: "xbb"})
	if err != nil || len(imp.Records) != 1 || imp.Records[0].GetIncidentDisclosure().IncidentRef != "XBB-77" {
		t.Fatalf("import: %v %+v", err, imp)
	}
	st, ct, misp := get("?format=misp&kind=incident_disclosure")
	var events struct {
		Response []struct {
			Event struct {
				Info string `json:"info"`
				Tag  []struct {
					Name string `json:"name"`
				} `json:"Tag"`
			} `json:"Event"`
		} `json:"response"`
	}
	if st != 200 || ct != "application/json" || json.Unmarshal(misp, &events) != nil || len(events.Response) != 1 ||
		events.Response[0].Event.Tag[0].Name != "tlp:amber" {
		t.Fatalf("misp: %d %s %s", st, ct, misp)
	}
	for _, c := range []struct {
		q    string
		want int
		code string
	}{
		{"?kind=notification", 400, "bad_format"},
		{"?kind=nonsense", 400, "bad_format"},
		{"?kinds=pledge", 400, "unknown_parameter"},
		{"?since=yesterday", 400, ""},
		{"?format=xml", 400, "bad_format"},
		{"?height=99999999", 404, "height_too_high"},
		{"?member=xaa", 200, ""},
	} {
		st, _, bz := get(c.q)
		if st != c.want || !bytes.Contains(bz, []byte(c.code)) {
			t.Errorf("%s: %d %s, want %d %s", c.q, st, bz, c.want, c.code)
		}
		if st != 200 && !json.Valid(bz) {
			t.Errorf("%s: error is not JSON: %s", c.q, bz)
		}
	}
}
