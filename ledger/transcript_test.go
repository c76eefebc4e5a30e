package ledger_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Transcript tests, in the style of etcd raft's testdata: each file in
// testdata/*.txt holds the rules of one family as a sequence of commands,
// each followed by "----" and the output it must give, replayed on a fresh
// ledger by TestTranscripts. Rewrite the outputs after an intended change
// with
//
//	go test ./ledger -run TestTranscripts -rewrite
//
// and read the diff. A case is a command line, optional input lines (a
// record body as JSON), "----" and the output, up to a blank line; lines
// starting with # between cases are comments. Commands:
//
//	members states=N validators=M [at=TIME]
//	    a fresh ledger: fixture.Dev(N) (states xaa.. with the governance
//	    role, the neutral body observatory, the verifier lumen), the first
//	    M states running a validator of power 10; block time TIME
//	    (default 2026-12-01T09:00:00Z).
//	apply AUTHOR KIND [as=LABEL] [at TIME] [refs=$A,$B] [tlp=T] [schema=N]
//	      [client-time=TIME] [key=NAME] [cosign=M,N] [seq=N]
//	    one block at TIME (default: the last block's time) holding one
//	    record of KIND whose body is the JSON input, signed by AUTHOR with
//	    the key named NAME (default AUTHOR), co-signed by M and N, with
//	    sequence N (default the next). Prints the block start's changes
//	    ("begin:"), then "ok: LABEL KIND by AUTHOR (block H, TIME)" and
//	    the changes, or "rejected: " and the error, led by its code name.
//	body NAME KIND
//	    keeps the JSON input as a record body named NAME (for sealing and
//	    revealing), resolved at the current block time.
//	advance TIME
//	    one empty block at TIME; prints what its start changed.
//	obligations [debtor=M] [kind=K]
//	    the obligations in state, by name.
//	proposal LABEL
//	    the proposal's state.
//
// TIME is RFC 3339 or relative to the last block's time (+25h, +3d, +1d2h).
// In JSON input, enums take short names ("information"), timestamps take
// TIME, records get schema_version 1 unless given, and strings starting
// with $ are references: $LABEL (a record's id), $ob:KIND:LABEL:DEBTOR (an
// obligation's id), $keyid:NAME; in bytes fields $pub:NAME,
// $validator:NAME, $text:TEXT, $commit:BODY:SALT; in record fields
// $body:NAME. Keys named NAME are fixture.SeededKey(NAME). In the output,
// records are named by label (unlabelled ones r<seq>), obligations
// KIND/SOURCE/DEBTOR, keys key:NAME and validator keys validator:NAME.
//
// This file reads, compares and rewrites transcripts; the ledger and its
// commands are in transcript_world_test.go, the JSON input in
// transcript_input_test.go, the rendered changes in
// transcript_output_test.go.

var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of the transcripts in testdata/*.txt")

func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no transcripts in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runTranscript(t, f) })
	}
}

// transcriptCase is one command of a transcript and its expected output.
type transcriptCase struct {
	line  int      // of the command, for messages
	pre   []string // blank and comment lines before the command
	cmd   string
	input []string
	want  []string
	got   []string
}

func runTranscript(t *testing.T, path string) {
	bz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases, tail, err := parseTranscript(string(bz))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	w := &world{t: t, ids: map[string]string{}, names: map[string]string{}, bodies: map[string]body{}}
	failed := false
	for _, c := range cases {
		c.got = w.do(path, c)
		if !*rewrite && !slices.Equal(c.got, c.want) {
			failed = true
			t.Errorf("%s:%d: %s\noutput differs (- want, + got):\n%s", path, c.line, c.cmd, lineDiff(c.want, c.got))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(formatTranscript(cases, tail)), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if failed {
		t.Log("if the change is intended: go test ./ledger -run TestTranscripts -rewrite")
	}
}

func parseTranscript(text string) (cases []*transcriptCase, tail []string, err error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	var pre []string
	for i := 0; i < len(lines); {
		if l := lines[i]; strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			i++
			continue
		}
		c := &transcriptCase{line: i + 1, pre: pre, cmd: lines[i]}
		pre = nil
		for i++; i < len(lines) && lines[i] != "----"; i++ {
			if strings.TrimSpace(lines[i]) == "" {
				return nil, nil, fmt.Errorf("line %d: blank line between %q and its ----", i+1, c.cmd)
			}
			c.input = append(c.input, lines[i])
		}
		if i == len(lines) {
			return nil, nil, fmt.Errorf("line %d: %q has no ---- line", c.line, c.cmd)
		}
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
			c.want = append(c.want, lines[i])
		}
		cases = append(cases, c)
	}
	return cases, pre, nil
}

func formatTranscript(cases []*transcriptCase, tail []string) string {
	var b strings.Builder
	for _, c := range cases {
		for _, group := range [][]string{c.pre, {c.cmd}, c.input, {"----"}, c.got} {
			for _, l := range group {
				b.WriteString(l + "\n")
			}
		}
	}
	for _, l := range tail {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// lineDiff is a line diff of want and got (longest common subsequence).
func lineDiff(want, got []string) string {
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			b.WriteString("  " + want[i] + "\n")
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			b.WriteString("- " + want[i] + "\n")
			i++
		default:
			b.WriteString("+ " + got[j] + "\n")
			j++
		}
	}
	return b.String()
}
