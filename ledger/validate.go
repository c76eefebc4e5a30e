package ledger

import (
	"crypto/sha256"
	"slices"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Field limits. They are part of the protocol: changing one changes which
// transactions are valid, so only ever loosen them with a new schema version.
const (
	MaxIDLen       = 64    // member ids, references, short codes
	MaxTitleLen    = 256   // titles, names, methodology names
	MaxSummaryLen  = 4096  // summaries, notes, grounds, reasons
	MaxTextLen     = 16384 // pledge text
	MaxListLen     = 64    // any repeated field
	MaxRefs        = 32    // Record.refs
	MinSaltLen     = 16
	MaxSaltLen     = 64
	MaxCiphertext  = 16384
	MaxMemberIDLen = 32
)

// validator checks fields of one record against block time; it collects
// nothing and stops at the first problem.
type validator struct {
	reg       *Registry
	st        State // only for the app version, which few checks need
	blockTime time.Time
	skew      time.Duration
	// held are the paths the record being validated withholds (app
	// version 11): a withheld required field is not missing.
	held map[string]bool
}

func isMemberID(s string) bool {
	if len(s) < 2 || len(s) > MaxMemberIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		default:
			return false
		}
	}
	return true
}

// IsMemberID reports whether s has the shape of a member id.
func IsMemberID(s string) bool { return isMemberID(s) }

// IsRecordID reports whether s has the shape of a record id (64 lowercase hex).
func IsRecordID(s string) bool { return isRecordID(s) }

func isRecordID(s string) bool { return isLowerHex(s, 64) }

// IsObligationID reports whether s has the shape of an obligation id.
func IsObligationID(s string) bool { return isObligationID(s) }

func isObligationID(s string) bool { return isLowerHex(s, 32) }

// isLowerHex reports whether s is exactly n lowercase hex characters.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isCountryCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// isToken accepts short printable references such as norm references
// ("UN-GGE-2015-13f") and incident references.
// IsToken reports whether s is a valid token (a norm or incident reference).
func IsToken(s string) bool { return isToken(s) }

func isToken(s string) bool {
	if s == "" || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '#':
		default:
			return false
		}
	}
	return true
}

func checkText(field, s string, max int) error {
	if len(s) > max {
		return errf(CodeFieldTooLong, "%s is %d bytes, limit %d", field, len(s), max)
	}
	if !utf8.ValidString(s) {
		return errf(CodeBadFormat, "%s is not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f {
			return errf(CodeBadFormat, "%s contains a control character", field)
		}
	}
	return nil
}

func reqText(field, s string, max int) error {
	if s == "" {
		return errf(CodeMissingField, "%s is required", field)
	}
	return checkText(field, s, max)
}

func checkListLen(field string, n, max int) error {
	if n > max {
		return errf(CodeFieldTooLong, "%s has %d entries, limit %d", field, n, max)
	}
	return nil
}

// memberIDs checks a list of member ids: shape, no duplicates, at least min.
func memberIDs(field string, ids []string, min int) error {
	if len(ids) < min {
		if len(ids) == 0 {
			return errf(CodeMissingField, "%s is required", field)
		}
		return errf(CodeMissingField, "%s needs at least %d entries", field, min)
	}
	if err := checkListLen(field, len(ids), MaxListLen); err != nil {
		return err
	}
	for i, id := range ids {
		if !isMemberID(id) {
			return errf(CodeBadFormat, "%s[%d] %q is not a member id", field, i, id)
		}
		if slices.Contains(ids[:i], id) {
			return errf(CodeBadFormat, "%s lists %q twice", field, id)
		}
	}
	return nil
}

func recordIDs(field string, ids []string, min, max int) error {
	if len(ids) < min {
		return errf(CodeMissingField, "%s is required", field)
	}
	if err := checkListLen(field, len(ids), max); err != nil {
		return err
	}
	for i, id := range ids {
		if !isRecordID(id) {
			return errf(CodeBadFormat, "%s[%d] is not a record id (64 lowercase hex)", field, i)
		}
		if slices.Contains(ids[:i], id) {
			return errf(CodeBadFormat, "%s lists %s twice", field, id)
		}
	}
	return nil
}

// digestField checks a required SHA-256 digest: present, 32 bytes.
func digestField(field string, b []byte) error {
	if len(b) == 0 {
		return errf(CodeMissingField, "%s is required (SHA-256, 32 bytes)", field)
	}
	if len(b) != sha256.Size {
		return errf(CodeBadFormat, "%s must be 32 bytes (SHA-256), got %d", field, len(b))
	}
	return nil
}

func recordID(field, id string) error {
	if id == "" {
		return errf(CodeMissingField, "%s is required", field)
	}
	if !isRecordID(id) {
		return errf(CodeBadFormat, "%s is not a record id (64 lowercase hex)", field)
	}
	return nil
}

func tokens(field string, list []string, min int) error {
	if len(list) < min {
		return errf(CodeMissingField, "%s is required", field)
	}
	if err := checkListLen(field, len(list), MaxListLen); err != nil {
		return err
	}
	for i, s := range list {
		if !isToken(s) {
			return errf(CodeBadFormat, "%s[%d] %q is not a valid reference", field, i, s)
		}
	}
	return nil
}

func textList(field string, list []string, max int) error {
	if err := checkListLen(field, len(list), MaxListLen); err != nil {
		return err
	}
	for i, s := range list {
		if err := reqText(field, s, max); err != nil {
			return wrapf(CodeOf(err), err, "%s[%d]", field, i)
		}
	}
	return nil
}

func geoScope(field string, list []string, min int) error {
	if len(list) < min {
		return errf(CodeMissingField, "%s is required", field)
	}
	if err := checkListLen(field, len(list), MaxListLen); err != nil {
		return err
	}
	for i, s := range list {
		if s != "GLOBAL" && !isCountryCode(s) {
			return errf(CodeBadFormat, "%s[%d] %q is neither an ISO 3166-1 alpha-3 code nor GLOBAL", field, i, s)
		}
	}
	return nil
}

// enumReq checks that e is a defined, non-zero value.
func enumReq(field string, e protoreflect.Enum) error {
	n := e.Number()
	if n == 0 {
		return errf(CodeBadEnum, "%s is unspecified", field)
	}
	if e.Descriptor().Values().ByNumber(n) == nil {
		return errf(CodeBadEnum, "%s has undefined value %d", field, n)
	}
	return nil
}

// enumOpt allows zero but not undefined values.
func enumOpt(field string, e protoreflect.Enum) error {
	if e.Number() == 0 {
		return nil
	}
	return enumReq(field, e)
}

// enumList checks a repeated enum: defined, non-zero, no repeats.
func enumList[E interface {
	protoreflect.Enum
	comparable
}](field string, list []E, min int) error {
	if len(list) < min {
		return errf(CodeMissingField, "%s is required", field)
	}
	if err := checkListLen(field, len(list), MaxListLen); err != nil {
		return err
	}
	for i, e := range list {
		if err := enumReq(field, e); err != nil {
			return err
		}
		if slices.Contains(list[:i], e) {
			return errf(CodeBadEnum, "%s lists %v twice", field, e)
		}
	}
	return nil
}

// ts checks that a timestamp, if present, is valid; required says whether it must be.
func ts(field string, t *timestamppb.Timestamp, required bool) error {
	if t == nil {
		if required {
			return errf(CodeMissingField, "%s is required", field)
		}
		return nil
	}
	if err := t.CheckValid(); err != nil {
		return wrapf(CodeBadTime, err, "%s is not a valid time", field)
	}
	if t.Seconds < 0 {
		return errf(CodeBadTime, "%s is before 1970", field)
	}
	if t.Seconds >= MaxTimeSeconds {
		return errf(CodeBadTime, "%s is after the year 2199", field)
	}
	return nil
}

// MaxTimeSeconds bounds every time in a record (2200-01-01T00:00:00Z), well
// inside the range that orders correctly as Unix nanoseconds in index keys.
const MaxTimeSeconds = 7258118400

// past checks that an event time is not beyond block time plus the allowed skew.
func (v *validator) past(field string, t *timestamppb.Timestamp, required bool) error {
	if err := ts(field, t, required); err != nil || t == nil {
		return err
	}
	if t.AsTime().After(v.blockTime.Add(v.skew)) {
		return errf(CodeBadTime, "%s %s is in the future (block time %s)", field,
			t.AsTime().UTC().Format(time.RFC3339), v.blockTime.UTC().Format(time.RFC3339))
	}
	return nil
}

// future checks that a deadline lies after block time.
func (v *validator) future(field string, t *timestamppb.Timestamp, required bool) error {
	if err := ts(field, t, required); err != nil || t == nil {
		return err
	}
	if !t.AsTime().After(v.blockTime) {
		return errf(CodeBadTime, "%s %s has already passed (block time %s)", field,
			t.AsTime().UTC().Format(time.RFC3339), v.blockTime.UTC().Format(time.RFC3339))
	}
	return nil
}

// order checks that a <= b when both are present.
func order(aField string, a *timestamppb.Timestamp, bField string, b *timestamppb.Timestamp) error {
	if a == nil || b == nil {
		return nil
	}
	if b.AsTime().Before(a.AsTime()) {
		return errf(CodeBadTime, "%s is before %s", bField, aField)
	}
	return nil
}

// chain checks that present times are in non-decreasing order.
func chain(fields []string, times []*timestamppb.Timestamp) error {
	lastIdx := -1
	for i, t := range times {
		if t == nil {
			continue
		}
		if lastIdx >= 0 {
			if err := order(fields[lastIdx], times[lastIdx], fields[i], t); err != nil {
				return err
			}
		}
		lastIdx = i
	}
	return nil
}
