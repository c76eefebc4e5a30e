package enum_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

func TestName(t *testing.T) {
	for _, c := range []struct {
		v    protoreflect.Enum
		want string
	}{
		{pb.ObligationStatus_OBLIGATION_STATUS_OVERDUE, "overdue"},
		{pb.RecordKind_RECORD_KIND_HARM_ASSESSMENT, "harm_assessment"},
		{pb.ObligationKind_OBLIGATION_KIND_REMEDIATE, "remediate"},
		{pb.Sector_SECTOR_HEALTH, "health"},
		{pb.MemberClass_MEMBER_CLASS_NEUTRAL_BODY, "neutral_body"},
		{pb.ProposalStatus_PROPOSAL_STATUS_VOTING, "voting"},
		{pb.RecordKind_RECORD_KIND_UNSPECIFIED, "unspecified"},
		{pb.RecordKind(999), "999"},
	} {
		if got := enum.Name(c.v); got != c.want {
			t.Errorf("Name(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// Every enum of normledger.v1 has a zero value <PREFIX>UNSPECIFIED, so
// Name and Parse know its prefix, and every value's short name parses back
// (but the zero value's).
func TestEveryEnumRoundTrips(t *testing.T) {
	n := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("normledger.v1", func(fd protoreflect.FileDescriptor) bool {
		var visit func(es protoreflect.EnumDescriptors)
		visit = func(es protoreflect.EnumDescriptors) {
			for i := 0; i < es.Len(); i++ {
				d := es.Get(i)
				n++
				if enum.Prefix(d) == "" {
					t.Errorf("%s: zero value %s is not <PREFIX>UNSPECIFIED", d.FullName(), d.Values().ByNumber(0).Name())
				}
				for j := 0; j < d.Values().Len(); j++ {
					v := d.Values().Get(j)
					name := enum.Name(dynEnum{d, v.Number()})
					if v.Number() == 0 {
						// UNSPECIFIED names nothing a user or a filter can mean.
						if _, ok := enum.Parse(d, name); ok {
							t.Errorf("%s: Parse(%q) accepted the zero value", v.FullName(), name)
						}
						if _, ok := enum.Value(d, name); ok {
							t.Errorf("%s: Value(%q) accepted the zero value", v.FullName(), name)
						}
						continue
					}
					if got, ok := enum.Parse(d, name); !ok || got != v.Number() {
						t.Errorf("%s: Parse(%q) = %d, %v", v.FullName(), name, got, ok)
					}
					if got, ok := enum.Value(d, strings.ToUpper(name)); !ok || got != v.Number() {
						t.Errorf("%s: Value(%q) = %d, %v", v.FullName(), name, got, ok)
					}
					if got := enum.Short(d, string(v.Name())); got != name {
						t.Errorf("%s: Short of the full name = %q", v.FullName(), got)
					}
					if got, ok := enum.Parse(d, string(v.Name())); !ok || got != v.Number() {
						t.Errorf("%s: Parse of the full name = %d, %v", v.FullName(), got, ok)
					}
				}
			}
		}
		visit(fd.Enums())
		for i := 0; i < fd.Messages().Len(); i++ {
			visit(fd.Messages().Get(i).Enums())
		}
		return true
	})
	if n < 10 {
		t.Fatalf("only %d enums found", n)
	}
	if _, ok := enum.Value(pb.Sector(0).Descriptor(), "SECTOR_HEALTH"); ok {
		t.Error("Value takes short names only")
	}
	if _, ok := enum.Parse(pb.Sector(0).Descriptor(), "no_such_sector"); ok {
		t.Error("an unknown name parsed")
	}
	if got, ok := enum.Parse(pb.Sector(0).Descriptor(), "Emergency-Services"); !ok || pb.Sector(got) != pb.Sector_SECTOR_EMERGENCY_SERVICES {
		t.Errorf("Parse(Emergency-Services) = %v, %v", got, ok)
	}
}

type dynEnum struct {
	d protoreflect.EnumDescriptor
	n protoreflect.EnumNumber
}

func (e dynEnum) Descriptor() protoreflect.EnumDescriptor { return e.d }
func (e dynEnum) Type() protoreflect.EnumType             { return nil }
func (e dynEnum) Number() protoreflect.EnumNumber         { return e.n }
