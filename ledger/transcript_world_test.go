package ledger_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// world is the ledger a transcript drives (see transcript_test.go): a
// govNet, one tx per block, and the names the transcript gives records,
// obligations and keys.
type world struct {
	t      *testing.T
	g      *govNet
	ids    map[string]string // label -> record id
	names  map[string]string // record, obligation, key and validator key ids -> printed name
	bodies map[string]body
	label  string   // of the record being applied
	out    []string // changes the hook rendered in the current block
}

// body is a named record body: resolved JSON and the record it decodes to.
type body struct {
	json any
	rec  *pb.Record
}

var transcriptT0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// do runs one case and returns its output. A malformed command fails the
// test: it is a mistake in the transcript, not an output.
func (w *world) do(path string, c *transcriptCase) []string {
	w.t.Helper()
	fields := strings.Fields(c.cmd)
	var pos []string
	kv := map[string]string{}
	for i := 1; i < len(fields); i++ {
		switch k, v, ok := strings.Cut(fields[i], "="); {
		case ok:
			kv[k] = v
		case fields[i] == "at" && i+1 < len(fields):
			kv["at"] = fields[i+1]
			i++
		default:
			pos = append(pos, fields[i])
		}
	}
	fail := func(format string, args ...any) []string {
		w.t.Fatalf("%s:%d: %s: %s", path, c.line, c.cmd, fmt.Sprintf(format, args...))
		return nil
	}
	if fields[0] != "members" && w.g == nil {
		return fail("the first command must be members")
	}
	allowed := map[string][]string{
		"members":     {"states", "validators", "at", "version"},
		"apply":       {"as", "at", "refs", "tlp", "schema", "client-time", "key", "cosign", "seq"},
		"obligations": {"debtor", "kind"},
	}[fields[0]]
	for k := range kv {
		if !slices.Contains(allowed, k) {
			return fail("%s takes no argument %q", fields[0], k)
		}
	}
	var out []string
	var err error
	switch fields[0] {
	case "members":
		out, err = w.members(kv)
	case "apply":
		if len(pos) != 2 {
			return fail("want apply AUTHOR KIND")
		}
		out, err = w.apply(pos[0], pos[1], kv, c.input)
	case "body":
		if len(pos) != 2 {
			return fail("want body NAME KIND")
		}
		out, err = w.body(pos[0], pos[1], c.input)
	case "advance":
		if len(pos) != 1 {
			return fail("want advance TIME")
		}
		out, err = w.advance(pos[0])
	case "obligations":
		out = w.obligations(kv)
	case "proposal":
		if len(pos) != 1 {
			return fail("want proposal LABEL")
		}
		out, err = w.proposal(pos[0])
	default:
		return fail("unknown command")
	}
	if err != nil {
		return fail("%v", err)
	}
	for i, l := range out {
		out[i] = w.readable(l)
		if strings.TrimSpace(out[i]) == "" {
			out[i] = "<empty>" // a blank line would end the output
		}
	}
	return out
}

func (w *world) members(kv map[string]string) ([]string, error) {
	states, err := strconv.Atoi(kv["states"])
	if err != nil {
		return nil, fmt.Errorf("states: %w", err)
	}
	validators, err := strconv.Atoi(kv["validators"])
	if err != nil {
		return nil, fmt.Errorf("validators: %w", err)
	}
	w.g = newGovNet(w.t, states, validators, nil)
	w.g.now = transcriptT0
	if at, ok := kv["at"]; ok {
		if w.g.now, err = parseWhen(transcriptT0, at); err != nil {
			return nil, err
		}
	}
	if v, ok := kv["version"]; ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("version: %w", err)
		}
		// A chain started at app version n (the directory needs 9).
		w.g.st.upgrade = &pb.UpgradeState{AppVersion: n}
	}
	w.g.before = w.hook
	ms, _ := w.g.st.Members()
	var out []string
	for _, m := range ms {
		w.nameKey(m.Id)
		w.nameValidator(m.Id)
		out = append(out, w.memberText(m))
	}
	return out, nil
}

func (w *world) apply(author, kind string, kv map[string]string, input []string) ([]string, error) {
	at, err := w.when(kv)
	if err != nil {
		return nil, err
	}
	rec, err := w.record(kind, kv, input, at)
	if err != nil {
		return nil, err
	}
	if _, dup := w.ids[kv["as"]]; dup {
		return nil, fmt.Errorf("label %q is taken", kv["as"])
	}
	g := w.g
	keys := []string{author}
	var coSigners []string
	if cs, ok := kv["cosign"]; ok {
		coSigners = strings.Split(cs, ",")
		keys = append(keys, coSigners...)
	}
	for _, k := range keys {
		if _, ok := g.keys[k]; !ok {
			g.keys[k] = fixture.SeededKey(k) // a member admitted by a vote
			w.nameKey(k)
		}
	}
	if name, ok := kv["key"]; ok {
		defer func(own ed25519.PrivKey) { g.keys[author] = own }(g.keys[author])
		g.keys[author] = fixture.SeededKey(name)
		w.nameKey(name)
	}
	next := g.seq[author]
	if s, ok := kv["seq"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("seq %q", s)
		}
		g.seq[author] = n - 1
	}
	tx := g.sign(author, rec, coSigners...)
	w.label, w.out = kv["as"], nil
	errs := g.block(at.Sub(g.now), tx)
	out := w.out
	if err := errs[0]; err != nil {
		g.seq[author] = next
		out = append(out, "rejected: "+err.Error())
	}
	return out, nil
}

func (w *world) body(name, kind string, input []string) ([]string, error) {
	rec, err := w.record(kind, nil, input, w.g.now)
	if err != nil {
		return nil, err
	}
	// Keep the resolved JSON, so that every use decodes to the same record.
	bz, err := protojson.Marshal(rec)
	if err != nil {
		return nil, err
	}
	var j any
	dec := json.NewDecoder(strings.NewReader(string(bz)))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		return nil, err
	}
	w.bodies[name] = body{json: j, rec: rec}
	return []string{"body " + name + ": " + ledger.KindNameOf(ledger.KindOf(rec))}, nil
}

func (w *world) advance(when string) ([]string, error) {
	at, err := w.when(map[string]string{"at": when})
	if err != nil {
		return nil, err
	}
	w.label, w.out = "", nil
	w.g.block(at.Sub(w.g.now))
	out := []string{fmt.Sprintf("block %d at %s", w.g.height, stamp(w.g.now))}
	if len(w.out) == 0 {
		return append(out, "no changes"), nil
	}
	return append(out, w.out...), nil
}

func (w *world) obligations(kv map[string]string) []string {
	var out []string
	for _, o := range w.g.st.obligations {
		if d, ok := kv["debtor"]; ok && o.Debtor != d {
			continue
		}
		if k, ok := kv["kind"]; ok && enum.Name(o.Kind) != k {
			continue
		}
		line := w.obName(o) + ": " + enum.Name(o.Status) + ", due " + stamp(o.Due.AsTime())
		if o.StatusRecord != "" {
			line += ", by " + w.name(o.StatusRecord)
		}
		out = append(out, line)
	}
	slices.Sort(out)
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func (w *world) proposal(label string) ([]string, error) {
	id, ok := w.ids[label]
	if !ok {
		return nil, fmt.Errorf("no record labelled %q", label)
	}
	p := w.g.st.proposals[id]
	if p == nil {
		return nil, fmt.Errorf("%s is not a proposal", label)
	}
	head := fmt.Sprintf("%s: %s on %s by %s, deadline %s", label, enum.Name(p.Status), enum.Name(p.Action), p.Proposer,
		stamp(p.Deadline.AsTime()))
	if p.VotingClosed {
		head += ", voting closed"
	}
	out := []string{head, "electorate " + strings.Join(p.Electorate, " ") + ", rule " + ruleText(p.Rule),
		"tally " + tallyText(p.Tally)}
	if p.Outcome != "" {
		out = append(out, "outcome "+p.Outcome)
	}
	return out, nil
}

// hook renders changes against the state before they are written.
func (w *world) hook(ch *ledger.Changes) {
	if ch.Record == nil {
		for _, l := range w.changes(ch) {
			w.out = append(w.out, "begin: "+l)
		}
		return
	}
	label := w.label
	if label == "" {
		label = "r" + strconv.FormatUint(ch.Record.Seq, 10)
	}
	w.ids[label] = ch.Record.Id
	w.names[ch.Record.Id] = label
	w.out = append(w.out, fmt.Sprintf("ok: %s %s by %s (block %d, %s)", label, ledger.KindNameOf(ch.Record.Kind), ch.Record.Author,
		ch.Record.Height, stamp(ch.Record.BlockTime.AsTime())))
	w.out = append(w.out, w.changes(ch)...)
}

func (w *world) when(kv map[string]string) (time.Time, error) {
	at, ok := kv["at"]
	if !ok {
		return w.g.now, nil
	}
	t, err := parseWhen(w.g.now, at)
	if err != nil {
		return t, err
	}
	if t.Before(w.g.now) {
		return t, fmt.Errorf("time runs forward: %s is before %s", stamp(t), stamp(w.g.now))
	}
	return t, nil
}

// parseWhen reads TIME: RFC 3339, or +/- a duration from now, which may
// lead with whole days ("3d", "1d12h").
func parseWhen(now time.Time, s string) (time.Time, error) {
	if s == "" || (s[0] != '+' && s[0] != '-') {
		return time.Parse(time.RFC3339, s)
	}
	rest := s[1:]
	var d time.Duration
	if days, after, ok := strings.Cut(rest, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return now, fmt.Errorf("time %q: %w", s, err)
		}
		d, rest = time.Duration(n)*24*time.Hour, after
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return now, fmt.Errorf("time %q: %w", s, err)
		}
		d += more
	}
	if s[0] == '-' {
		d = -d
	}
	return now.Add(d), nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
