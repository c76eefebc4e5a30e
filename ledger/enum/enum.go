// Package enum names the ledger's protobuf enum values the way the state
// layout, the REST filters and every readable output do: the value's name
// without the prefix its enum's values share, lower-cased
// (OBLIGATION_STATUS_OVERDUE -> "overdue", RECORD_KIND_HARM_ASSESSMENT ->
// "harm_assessment"). The prefix is read from the enum's zero value
// (<PREFIX>UNSPECIFIED), so no table repeats it. It imports only protobuf.
package enum

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Prefix is the prefix every value of d shares: the name of its zero value
// without UNSPECIFIED ("OBLIGATION_STATUS_"), or "" when the zero value is
// not named so.
func Prefix(d protoreflect.EnumDescriptor) string {
	zero := d.Values().ByNumber(0)
	if zero == nil || !strings.HasSuffix(string(zero.Name()), "UNSPECIFIED") {
		return ""
	}
	return strings.TrimSuffix(string(zero.Name()), "UNSPECIFIED")
}

// Name is v's short name: its value name without Prefix, lower-cased. A
// number its enum does not define is named by the number.
func Name(v protoreflect.Enum) string { return NameOf(v.Descriptor(), v.Number()) }

// NameOf is the short name of value n of d.
func NameOf(d protoreflect.EnumDescriptor, n protoreflect.EnumNumber) string {
	val := d.Values().ByNumber(n)
	if val == nil {
		return strconv.Itoa(int(n))
	}
	return strings.ToLower(strings.TrimPrefix(string(val.Name()), Prefix(d)))
}

// Names lists the short names of d's values but the zero value, in number
// order.
func Names(d protoreflect.EnumDescriptor) []string {
	var ns []protoreflect.EnumNumber
	for i := 0; i < d.Values().Len(); i++ {
		if n := d.Values().Get(i).Number(); n != 0 && !slices.Contains(ns, n) {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = NameOf(d, n)
	}
	return out
}

// Parse finds the value of d named s: a short name ("overdue") or the full
// value name ("OBLIGATION_STATUS_OVERDUE"), in either case, '-' read as
// '_'. It reports false for an unknown name and for the zero value
// (UNSPECIFIED names nothing a user can mean).
func Parse(d protoreflect.EnumDescriptor, s string) (protoreflect.EnumNumber, bool) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
	if s == "" {
		return 0, false
	}
	p := Prefix(d)
	return named(d, p+strings.TrimPrefix(s, p))
}

// Value is the inverse of Name: the value of d whose short name is short
// (in either case). It reports false for an unknown name and for the zero
// value.
func Value(d protoreflect.EnumDescriptor, short string) (protoreflect.EnumNumber, bool) {
	return named(d, Prefix(d)+strings.ToUpper(short))
}

// named is the non-zero value of d called name.
func named(d protoreflect.EnumDescriptor, name string) (protoreflect.EnumNumber, bool) {
	if v := d.Values().ByName(protoreflect.Name(name)); v != nil && v.Number() != 0 {
		return v.Number(), true
	}
	return 0, false
}

// Short normalises a name given for a value of d in a query filter to a
// short name: s without the enum's prefix if it has it, lower-cased
// ("OBLIGATION_STATUS_OVERDUE" and "Overdue" -> "overdue"). It does not
// check that the name exists; the caller refuses an unknown one as it
// refuses any.
func Short(d protoreflect.EnumDescriptor, s string) string {
	u := strings.ToUpper(s)
	return strings.ToLower(strings.TrimPrefix(u, Prefix(d)))
}
