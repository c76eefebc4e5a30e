package stix

import (
	"fmt"
	"strings"
	"time"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// ParseFilter reads the export parameters shared by the REST route and
// the CLI: kinds by short or full name, comma-separated.
func ParseFilter(since, member, kinds string) (Filter, error) {
	var f Filter
	if since != "" {
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			return f, fmt.Errorf("since %q is not an RFC 3339 time", since)
		}
		f.Since = t
	}
	f.Member = member
	reg := ledger.DefaultRegistry()
	for _, k := range strings.Split(kinds, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		kd := reg.KindByName(enum.Short(pb.RecordKind(0).Descriptor(), k))
		if kd == nil {
			return f, fmt.Errorf("kind %q is not a record kind", k)
		}
		if !exportKinds[kd.Enum] {
			var names []string
			for _, e := range ExportKinds() {
				names = append(names, reg.Kind(e).Name)
			}
			return f, fmt.Errorf("kind %q is not exported to STIX (exported: %s)", k, strings.Join(names, ", "))
		}
		f.Kinds = append(f.Kinds, kd.Enum)
	}
	return f, nil
}
