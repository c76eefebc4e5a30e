package cli

// Text output: how read commands show their answers to people when
// --output is text. Every function here is pure: it takes the node's
// protobuf answer (and, where it matters, the block time the answer was
// read at) and writes to w. Lists are tables (text/tabwriter), single
// objects are "key: value" blocks, enums are shown by their short names
// ("overdue", "pledge"), and every answer ends with the state height it was
// read at and, for a partial page, the token of the next one. JSON output
// (-o json) does not come through here.

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/normledger/normledger/ledger/enum"
)

// shortIDLen is how many hex characters of an obligation or record id a
// table shows; -o json, or the single-object commands, show whole ids.
const shortIDLen = 12

// maxListedIDs caps how many ids one compliance figure lists in text.
const maxListedIDs = 10

// --- small formatting helpers -------------------------------------------

func shortID(id string) string {
	if len(id) > shortIDLen {
		return id[:shortIDLen]
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinOrDash(ss []string) string { return orDash(strings.Join(ss, ", ")) }

// idList shows ids short, at most maxListedIDs of them.
func idList(ids []string) string {
	if len(ids) == 0 {
		return "-"
	}
	out := make([]string, 0, maxListedIDs+1)
	for i, id := range ids {
		if i == maxListedIDs {
			out = append(out, fmt.Sprintf("... +%d more (-o json lists all)", len(ids)-maxListedIDs))
			break
		}
		out = append(out, shortID(id))
	}
	return strings.Join(out, " ")
}

// plural is "1 obligation", "2 obligations".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// bytesText is bytes in hex, cut short when long.
func bytesText(b []byte) string {
	if len(b) == 0 {
		return "-"
	}
	if len(b) <= 32 {
		return hex.EncodeToString(b)
	}
	return fmt.Sprintf("%s... (%d bytes)", hex.EncodeToString(b[:16]), len(b))
}

// table writes rows (the first is the header) aligned in columns.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// footer ends an answer: the state height it was read at (with the block
// time when known) and the next page's token.
func footer(w io.Writer, height int64, blockTime time.Time, next string) {
	if height > 0 {
		if blockTime.IsZero() {
			fmt.Fprintf(w, "read at height %d\n", height)
		} else {
			fmt.Fprintf(w, "read at height %d (block time %s)\n", height, blockTime.UTC().Format(time.RFC3339))
		}
	}
	if next != "" {
		fmt.Fprintf(w, "more: --page-token %s\n", next)
	}
}

// --- key: value blocks ----------------------------------------------------

// field is one line of a key: value block, or with kids a nested block.
type field struct {
	key, value string
	kids       []field
	nested     bool // a block header, even when kids is empty
}

// kvMinWidth is the width of "key:" plus padding in top-level blocks, so
// values line up as they always have ("status:     passed").
const kvMinWidth = 12

// writeFields writes a block: the values of sibling lines line up after
// the longest key; nested blocks are indented two spaces.
func writeFields(w io.Writer, indent string, fs []field, minWidth int) {
	width := minWidth
	for _, f := range fs {
		if !f.nested && len(f.key)+2 > width {
			width = len(f.key) + 2
		}
	}
	for _, f := range fs {
		if f.nested {
			if len(f.kids) == 0 {
				fmt.Fprintf(w, "%s%s: -\n", indent, f.key)
				continue
			}
			fmt.Fprintf(w, "%s%s:\n", indent, f.key)
			writeFields(w, indent+"  ", f.kids, 0)
			continue
		}
		v := strings.ReplaceAll(strings.TrimRight(f.value, "\n"), "\n", "\n"+indent+strings.Repeat(" ", width))
		fmt.Fprintf(w, "%s%-*s%s\n", indent, width, f.key+":", v)
	}
}

// messageFields lists the set fields of m in declaration order: scalars by
// value, enums by short name, timestamps in RFC 3339 (UTC), bytes in hex,
// messages as nested blocks. It shows a decoded record body.
func messageFields(m protoreflect.Message) []field {
	var out []field
	fds := m.Descriptor().Fields()
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if !m.Has(fd) {
			continue
		}
		name := string(fd.Name())
		v := m.Get(fd)
		switch {
		case fd.IsList():
			l := v.List()
			if fd.Kind() == protoreflect.MessageKind && !isTimestamp(fd.Message()) {
				for j := 0; j < l.Len(); j++ {
					out = append(out, field{key: fmt.Sprintf("%s[%d]", name, j), kids: messageFields(l.Get(j).Message()), nested: true})
				}
				continue
			}
			parts := make([]string, 0, l.Len())
			for j := 0; j < l.Len(); j++ {
				parts = append(parts, scalarText(fd, l.Get(j)))
			}
			out = append(out, field{key: name, value: strings.Join(parts, ", ")})
		case fd.IsMap():
			var kids []field
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				kids = append(kids, field{key: k.String(), value: scalarText(fd.MapValue(), mv)})
				return true
			})
			sort.Slice(kids, func(a, b int) bool { return kids[a].key < kids[b].key })
			out = append(out, field{key: name, kids: kids, nested: true})
		case fd.Kind() == protoreflect.MessageKind && !isTimestamp(fd.Message()):
			out = append(out, field{key: name, kids: messageFields(v.Message()), nested: true})
		default:
			out = append(out, field{key: name, value: scalarText(fd, v)})
		}
	}
	return out
}

func isTimestamp(md protoreflect.MessageDescriptor) bool {
	return md.FullName() == "google.protobuf.Timestamp"
}

// scalarText formats one value of a non-message field (or a timestamp).
func scalarText(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return enum.NameOf(fd.Enum(), v.Enum())
	case protoreflect.BytesKind:
		return bytesText(v.Bytes())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := v.Message()
		if !isTimestamp(m.Descriptor()) {
			return fmt.Sprint(m.Interface())
		}
		secs := m.Get(m.Descriptor().Fields().ByName("seconds")).Int()
		nanos := m.Get(m.Descriptor().Fields().ByName("nanos")).Int()
		return time.Unix(secs, nanos).UTC().Format(time.RFC3339)
	case protoreflect.StringKind:
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}

// --- records ----------------------------------------------------------------

// --- members ------------------------------------------------------------------

// --- obligations ----------------------------------------------------------------

// --- compliance -------------------------------------------------------------------

// --- checkpoints ------------------------------------------------------------------

// --- governance ---------------------------------------------------------------------

// --- keyring ----------------------------------------------------------------------
