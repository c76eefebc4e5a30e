package ledger_test

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/ledger/fixture"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Transcript output: the changes of a block start or a record, rendered
// readably and in a stable order (see transcript_test.go).

// changes renders ch: what the record indexes, then each kind of state
// entry it writes, sorted.
func (w *world) changes(ch *ledger.Changes) []string {
	var out []string
	list := func(title string, items []string) {
		if len(items) > 0 {
			out = append(out, title+": "+strings.Join(items, " "))
		}
	}
	list("subjects", ch.Subjects)
	var sectors []string
	for _, s := range ch.Sectors {
		sectors = append(sectors, enum.Name(s))
	}
	list("sectors", sectors)
	var refs []string
	for _, r := range ch.References {
		refs = append(refs, w.name(r))
	}
	slices.Sort(refs) // by name, not by id
	list("refs", refs)
	list("pledgors", ch.Pledgors)

	var obs []string
	for _, o := range ch.Obligations {
		obs = append(obs, w.obligationChange(o))
	}
	slices.Sort(obs)
	out = append(out, obs...)

	members := slices.Clone(ch.Members)
	slices.SortStableFunc(members, func(a, b *pb.Member) int { return strings.Compare(a.Id, b.Id) })
	for _, m := range members {
		out = append(out, w.memberChange(m)...)
	}
	var props []string
	for _, p := range ch.Proposals {
		props = append(props, w.proposalChange(p))
	}
	slices.Sort(props)
	out = append(out, props...)
	var votes []string
	for _, v := range ch.Votes {
		line := "vote " + w.name(v.ProposalId) + "/" + v.Elector + ": " + enum.Name(v.Option)
		if !v.Counted {
			line += ", not counted (decided before)"
		}
		votes = append(votes, line)
	}
	slices.Sort(votes)
	out = append(out, votes...)
	if p := ch.Params; p != nil {
		out = append(out, fmt.Sprintf("params: max_tx_bytes %d, max_clock_skew_seconds %d, ack_window_hours %d (from the next block)",
			p.MaxTxBytes, p.MaxClockSkewSeconds, p.AckWindowHours))
	}
	if r := ch.GovernanceRules; r != nil {
		out = append(out, w.rulesChange(r)...)
	}
	if u := ch.Upgrade; u != nil {
		line := fmt.Sprintf("upgrade: app version %d", ledger.AppVersionOf(u))
		if p := u.Pending; p != nil {
			line += fmt.Sprintf(", pending %s at height %d (app version %d) by %s", p.Name, p.Height, p.AppVersion, w.name(u.PendingProposal))
		}
		for _, a := range u.Applied {
			line += fmt.Sprintf(", applied %s at height %d", a.Name, a.Height)
		}
		out = append(out, line)
	}
	if len(ch.Evidence) > 0 {
		out = append(out, fmt.Sprintf("evidence: %d", len(ch.Evidence)))
	}
	for _, c := range ch.Cases {
		out = append(out, w.caseChange(c)...)
	}
	return out
}

// caseChange renders a case's new state against its old one: the stage,
// the step just recorded with its flags, measures and milestones.
func (w *world) caseChange(c *pb.CaseState) []string {
	old := w.g.st.cases[c.Id]
	name := "case " + w.name(c.Id)
	var out []string
	if old == nil {
		line := fmt.Sprintf("%s: new, %s v %s, stage %s, not_before %s", name, c.Complainant, c.Respondent, enum.Name(c.Stage), stamp(c.NotBefore.AsTime()))
		if c.Urgent {
			line += ", urgent"
		}
		out = append(out, line)
	} else if old.Stage != c.Stage {
		out = append(out, fmt.Sprintf("%s: stage %s -> %s", name, enum.Name(old.Stage), enum.Name(c.Stage)))
	}
	if n := len(c.History); n > 0 && (old == nil || len(old.History) < n) {
		e := c.History[n-1]
		line := fmt.Sprintf("%s: + %s by %s", name, e.Step, e.By)
		if len(e.Flags) > 0 {
			line += " [" + strings.Join(e.Flags, " ") + "]"
		}
		if e.Ref != "" {
			line += " ref " + w.name(e.Ref)
		}
		out = append(out, line)
	}
	for i, m := range c.Measures {
		switch {
		case old == nil || i >= len(old.Measures):
			out = append(out, fmt.Sprintf("%s: measure %s %s by %s against %s, level %d (allowed %d)", name, w.name(m.RecordId),
				enum.Name(m.Type), m.Author, m.Target, m.Level, m.AllowedLevel))
		case old.Measures[i].StandDownId == "" && m.StandDownId != "":
			out = append(out, fmt.Sprintf("%s: measure %s stood down to level %d", name, w.name(m.RecordId), m.ReturnLevel))
		}
	}
	if old != nil && !old.Remediated && c.Remediated {
		out = append(out, name+": remediated")
	}
	if c.Outcome != 0 && (old == nil || old.Outcome == 0) {
		out = append(out, fmt.Sprintf("%s: closed %s", name, enum.Name(c.Outcome)))
	}
	return out
}

func (w *world) obName(o *pb.Obligation) string {
	n := enum.Name(o.Kind) + "/" + w.name(o.SourceRecord) + "/" + o.Debtor
	w.names[o.Id] = n
	return n
}

func (w *world) obligationChange(o *pb.Obligation) string {
	name := w.obName(o)
	old := w.g.st.obligations[o.Id]
	if old == nil {
		creditors := strings.Join(o.Creditors, " ")
		if creditors == "" {
			creditors = "none"
		}
		line := fmt.Sprintf("obligation %s: new %s, due %s, creditors %s", name, enum.Name(o.Status), stamp(o.Due.AsTime()), creditors)
		if len(o.Basis) > 0 {
			var basis []string
			for _, b := range o.Basis {
				basis = append(basis, w.name(b))
			}
			line += ", basis " + strings.Join(basis, " ")
		}
		return line
	}
	return fmt.Sprintf("obligation %s: %s -> %s", name, enum.Name(old.Status), enum.Name(o.Status))
}

func (w *world) memberText(m *pb.Member) string {
	var keys []string
	for _, k := range m.Keys {
		s := k.KeyId + " " + enum.Name(k.Status)
		if k.ValidFromHeight > 0 {
			s += fmt.Sprintf(" from %d", k.ValidFromHeight)
		}
		if k.ValidUntilHeight > 0 {
			s += fmt.Sprintf(" until %d", k.ValidUntilHeight)
		}
		keys = append(keys, s)
	}
	line := fmt.Sprintf("%s: %s", m.Id, enum.Name(m.Class))
	if m.CountryCode != "" {
		line += " " + m.CountryCode
	}
	line += ", " + enum.Name(m.Status)
	if len(m.Roles) > 0 {
		line += ", roles " + strings.Join(m.Roles, " ")
	}
	line += ", keys " + strings.Join(keys, ", ")
	if len(m.ValidatorPubKey) > 0 {
		line += fmt.Sprintf(", validator %s power %d", hex.EncodeToString(m.ValidatorPubKey), m.ValidatorPower)
	}
	return line
}

func (w *world) memberChange(m *pb.Member) []string {
	old := w.g.st.members[m.Id]
	var out []string
	if old == nil {
		out = append(out, "member new "+w.memberText(m))
	}
	for _, h := range m.History[len(old.GetHistory()):] {
		line := "member " + m.Id + ": " + h.Change
		if h.RecordId != "" {
			line += " (by " + w.name(h.RecordId) + ")"
		}
		out = append(out, line)
	}
	if old != nil && len(m.History) == len(old.History) {
		out = append(out, "member "+m.Id+": "+w.memberText(m))
	}
	return out
}

func (w *world) proposalChange(p *pb.ProposalState) string {
	name := w.name(p.Id)
	old := w.g.st.proposals[p.Id]
	if old == nil {
		line := fmt.Sprintf("proposal %s: new %s on %s, deadline %s, electorate %s, rule %s", name, enum.Name(p.Status),
			enum.Name(p.Action), stamp(p.Deadline.AsTime()), strings.Join(p.Electorate, " "), ruleText(p.Rule))
		if p.Status != pb.ProposalStatus_PROPOSAL_STATUS_VOTING {
			line += "; " + p.Outcome
		}
		return line
	}
	var parts []string
	if old.Status != p.Status {
		parts = append(parts, enum.Name(old.Status)+" -> "+enum.Name(p.Status)+" ("+p.Outcome+")")
	} else if tallyText(old.Tally) != tallyText(p.Tally) {
		parts = append(parts, "tally "+tallyText(p.Tally))
	}
	if p.VotingClosed && !old.VotingClosed {
		parts = append(parts, "voting closed")
	}
	if len(parts) == 0 {
		parts = append(parts, "unchanged")
	}
	return "proposal " + name + ": " + strings.Join(parts, "; ")
}

func (w *world) rulesChange(r *pb.GovernanceRules) []string {
	old := w.g.st.rules
	var out []string
	if old.GetMinVotingHours() != r.MinVotingHours || old.GetMaxVotingHours() != r.MaxVotingHours {
		out = append(out, fmt.Sprintf("governance rules: voting lasts %d to %d hours", r.MinVotingHours, r.MaxVotingHours))
	}
	for _, rule := range r.Rules {
		if prev := ledger.RuleFor(old, rule.Action); prev == nil || ruleText(prev) != ruleText(rule) {
			out = append(out, "governance rules: "+enum.Name(rule.Action)+" needs "+ruleText(rule))
		}
	}
	if len(out) == 0 {
		out = append(out, "governance rules: unchanged")
	}
	return out
}

func ruleText(r *pb.ThresholdRule) string {
	var classes []string
	for _, c := range r.Electorate {
		classes = append(classes, enum.Name(c))
	}
	s := fmt.Sprintf("%d/%d", r.ThresholdNumerator, r.ThresholdDenominator)
	if r.Unanimous {
		s = "all"
	}
	s += " of " + strings.Join(classes, " ")
	if r.VetoDenominator > 0 {
		s += fmt.Sprintf(", veto %d/%d", r.VetoNumerator, r.VetoDenominator)
	}
	if r.QuorumDenominator > 0 {
		s += fmt.Sprintf(", quorum %d/%d", r.QuorumNumerator, r.QuorumDenominator)
	}
	return s
}

func tallyText(t *pb.Tally) string {
	return fmt.Sprintf("%d yes, %d no, %d abstain, %d not voted of %d", t.GetYes(), t.GetNo(), t.GetAbstain(), t.GetNotVoted(), t.GetElectorate())
}

// name is how the output names a record or proposal id.
func (w *world) name(id string) string {
	if n, ok := w.names[id]; ok {
		return n
	}
	return id
}

func (w *world) nameKey(name string) []byte {
	pub := fixture.SeededKey(name).PubKey().Bytes()
	w.names[ledger.KeyID(pub)] = "key:" + name
	return pub
}

func (w *world) nameValidator(name string) []byte {
	pub := fixture.SeededValidatorKey(name).PubKey().Bytes()
	w.names[hex.EncodeToString(pub)] = "validator:" + name
	w.names[strings.ToUpper(hex.EncodeToString(pub))] = "validator:" + name
	return pub
}

// readable replaces the ids the transcript named in a line of output,
// longest first so that no name replaces part of a longer id.
func (w *world) readable(line string) string {
	ids := make([]string, 0, len(w.names))
	for id := range w.names {
		if strings.Contains(line, id) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	for _, id := range ids {
		line = strings.ReplaceAll(line, id, w.names[id])
	}
	return line
}
