package ledger_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Transcript input: record bodies as JSON with short enum names, relative
// times and references (see transcript_test.go).

var (
	recordDesc    = (&pb.Record{}).ProtoReflect().Descriptor()
	timestampName = (&timestamppb.Timestamp{}).ProtoReflect().Descriptor().FullName()
)

// record builds a record of kind from the JSON body in input and the
// record fields in kv, resolved at block time now.
func (w *world) record(kind string, kv map[string]string, input []string, now time.Time) (*pb.Record, error) {
	fd := recordDesc.Fields().ByName(protoreflect.Name(kind))
	if fd == nil || fd.ContainingOneof() == nil {
		return nil, fmt.Errorf("no record kind %q", kind)
	}
	var bodyJSON any = map[string]any{}
	if len(input) > 0 {
		dec := json.NewDecoder(strings.NewReader(strings.Join(input, "\n")))
		dec.UseNumber()
		if err := dec.Decode(&bodyJSON); err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
	}
	m := map[string]any{kind: bodyJSON}
	if refs, ok := kv["refs"]; ok {
		var list []any
		for _, r := range strings.Split(refs, ",") {
			list = append(list, r)
		}
		m["refs"] = list
	}
	if tlp, ok := kv["tlp"]; ok {
		m["tlp"] = tlp
	}
	if s, ok := kv["schema"]; ok {
		m["schema_version"] = json.Number(s)
	}
	if t, ok := kv["client-time"]; ok {
		m["client_time"] = t
	}
	resolved, err := w.resolveMessage(recordDesc, m, now)
	if err != nil {
		return nil, err
	}
	bz, err := json.Marshal(resolved)
	if err != nil {
		return nil, err
	}
	rec := new(pb.Record)
	if err := protojson.Unmarshal(bz, rec); err != nil {
		return nil, fmt.Errorf("record %s: %w", bz, err)
	}
	return rec, nil
}

// resolveMessage rewrites the JSON of a message of md: short enum names,
// relative times and references (see transcript_test.go).
func (w *world) resolveMessage(md protoreflect.MessageDescriptor, v any, now time.Time) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, nil // protojson says what is wrong
	}
	out := make(map[string]any, len(m)+1)
	if md.FullName() == recordDesc.FullName() {
		out["schema_version"] = json.Number("1")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first error is the same every run
	for _, k := range keys {
		x := m[k]
		fd := md.Fields().ByName(protoreflect.Name(k))
		if fd == nil {
			fd = md.Fields().ByJSONName(k)
		}
		if fd == nil {
			out[k] = x // protojson refuses it
			continue
		}
		if list, ok := x.([]any); ok && fd.IsList() {
			res := make([]any, len(list))
			for i, e := range list {
				r, err := w.resolveField(fd, e, now)
				if err != nil {
					return nil, err
				}
				res[i] = r
			}
			out[string(fd.Name())] = res
			continue
		}
		r, err := w.resolveField(fd, x, now)
		if err != nil {
			return nil, err
		}
		out[string(fd.Name())] = r
	}
	return out, nil
}

func (w *world) resolveField(fd protoreflect.FieldDescriptor, x any, now time.Time) (any, error) {
	s, isString := x.(string)
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if n, ok := enum.Parse(fd.Enum(), s); isString && ok {
			return string(fd.Enum().Values().ByNumber(n).Name()), nil
		}
		if isString && s == enum.NameOf(fd.Enum(), 0) {
			// "unspecified": the zero value, written on purpose (a rejection).
			return string(fd.Enum().Values().ByNumber(0).Name()), nil
		}
	case protoreflect.MessageKind:
		switch {
		case isString && fd.Message().FullName() == timestampName:
			t, err := parseWhen(now, s)
			if err != nil {
				return nil, err
			}
			return t.UTC().Format(time.RFC3339Nano), nil
		case isString && strings.HasPrefix(s, "$body:"):
			b, ok := w.bodies[strings.TrimPrefix(s, "$body:")]
			if !ok {
				return nil, fmt.Errorf("no body %q", s)
			}
			return b.json, nil
		}
		return w.resolveMessage(fd.Message(), x, now)
	case protoreflect.StringKind:
		if isString && strings.HasPrefix(s, "$") {
			return w.ref(s[1:])
		}
	case protoreflect.BytesKind:
		if isString && strings.HasPrefix(s, "$") {
			b, err := w.bytesRef(s[1:])
			return base64.StdEncoding.EncodeToString(b), err
		}
	}
	return x, nil
}

// ref resolves a string reference: LABEL, ob:KIND:LABEL:DEBTOR or keyid:NAME.
func (w *world) ref(s string) (string, error) {
	parts := strings.Split(s, ":")
	switch {
	case parts[0] == "ob" && len(parts) == 4:
		k, ok := enum.Parse(pb.ObligationKind(0).Descriptor(), parts[1])
		if !ok {
			return "", fmt.Errorf("no obligation kind %q", parts[1])
		}
		src, err := w.ref(parts[2])
		if err != nil {
			return "", err
		}
		id := ledger.ObligationID(pb.ObligationKind(k), src, parts[3])
		w.names[id] = parts[1] + "/" + parts[2] + "/" + parts[3]
		return id, nil
	case parts[0] == "keyid" && len(parts) == 2:
		return ledger.KeyID(w.nameKey(parts[1])), nil
	case len(parts) == 1:
		id, ok := w.ids[s]
		if !ok {
			return "", fmt.Errorf("no record labelled %q", s)
		}
		return id, nil
	}
	return "", fmt.Errorf("bad reference $%s", s)
}

// bytesRef resolves a bytes reference: pub:NAME, validator:NAME, text:TEXT,
// commit:BODY:SALT or ping:MEMBER:NONCE (a ping commitment).
func (w *world) bytesRef(s string) ([]byte, error) {
	kind, arg, _ := strings.Cut(s, ":")
	switch kind {
	case "pub":
		return w.nameKey(arg), nil
	case "validator":
		return w.nameValidator(arg), nil
	case "text":
		return []byte(arg), nil
	case "commit":
		name, salt, _ := strings.Cut(arg, ":")
		b, ok := w.bodies[name]
		if !ok {
			return nil, fmt.Errorf("no body %q", name)
		}
		return ledger.SealCommitment([]byte(salt), b.rec)
	case "ping":
		member, nonce, _ := strings.Cut(arg, ":")
		return ledger.PingCommitment(member, []byte(nonce)), nil
	}
	return nil, fmt.Errorf("bad bytes reference $%s", s)
}
