package witness

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/normledger/normledger/ledger/store/tlog"
	"github.com/normledger/normledger/verifiers/checkpoint"
)

const origin = "example.org/testlog"

// testLog is a generic C2SP log (an in-memory record log and an Ed25519
// note key) for exercising the witness.
type testLog struct {
	t      *testing.T
	l      *tlog.Log
	signer note.Signer
	vkey   string
}

func newTestLog(t *testing.T, seed string) *testLog {
	t.Helper()
	s := sha256.Sum256([]byte(seed))
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat(s[:], 4)), origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{t: t, l: tlog.OpenMem(), signer: signer, vkey: vkey}
}

func (tl *testLog) add(entries ...string) {
	for _, e := range entries {
		if _, err := tl.l.Append([]byte(e)); err != nil {
			tl.t.Fatal(err)
		}
	}
	if err := tl.l.Flush(); err != nil {
		tl.t.Fatal(err)
	}
	tl.l.MarkCommitted(tl.l.Size())
}

// checkpoint is the signed note of the log's current state.
func (tl *testLog) checkpoint() []byte {
	msg, err := note.Sign(&note.Note{Text: string(checkpoint.Body(origin, tl.l.Size(), tl.l.Root()))}, tl.signer)
	if err != nil {
		tl.t.Fatal(err)
	}
	return msg
}

func (tl *testLog) proof(from uint64) [][]byte {
	if from == 0 {
		return nil
	}
	p, err := tl.l.ConsistencyProof(from, tl.l.Size())
	if err != nil {
		tl.t.Fatal(err)
	}
	return p
}

func newWitness(t *testing.T, dir string, tl *testLog) *Witness {
	t.Helper()
	v, err := note.NewVerifier(tl.vkey)
	if err != nil {
		t.Fatal(err)
	}
	seed := sha256.Sum256([]byte("witness key"))
	w, err := New(Config{Dir: dir, Name: "witness.example/w1", Key: ed25519.NewKeyFromSeed(seed[:]),
		Logs: []Log{{Origin: origin, Verifier: v}}, MaxBody: 16 << 10, BodyTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func post(t *testing.T, url string, b []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	bz, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(bz)
}

// The witness cosigns a consistent sequence, keeps its state across a
// restart, and answers every bad request with the status the spec gives,
// changing nothing.
func TestAddCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tl := newTestLog(t, "log")
	w := newWitness(t, dir, tl)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()

	tl.add("a", "b", "c")
	code, out := post(t, srv.URL, addCheckpointBody(0, nil, tl.checkpoint()))
	if code != 200 || !strings.HasPrefix(out, "— witness.example/w1 ") {
		t.Fatalf("first checkpoint: %d %q", code, out)
	}
	// The cosignature verifies with transparency-dev's cosignature verifier.
	c, err := checkpoint.ParsePolicy(fmt.Sprintf("witness witness.example/w1 %s\nquorum witness.example/w1\n", w.VerifierKey()))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Satisfied([]string{"witness.example/w1"}) {
		t.Fatal("policy")
	}
	cp3 := tl.checkpoint()
	tl.add("d", "e")
	good := addCheckpointBody(3, tl.proof(3), tl.checkpoint())
	if code, out := post(t, srv.URL, good); code != 200 {
		t.Fatalf("second checkpoint: %d %q", code, out)
	}
	// The same checkpoint again: cosigned again (equal size, equal root).
	if code, _ := post(t, srv.URL, addCheckpointBody(5, nil, tl.checkpoint())); code != 200 {
		t.Fatalf("same checkpoint again: %d", code)
	}

	fork := newTestLog(t, "log") // the same key, another history
	fork.add("a", "b", "c", "X", "Y", "Z")
	other := newTestLog(t, "another key")
	other.add("a", "b", "c", "d", "e", "f")
	tl.add("f")
	next := tl.checkpoint()
	sigless := bytes.SplitN(next, []byte("\n\n"), 2)[0]
	badSig := bytes.Replace(next, []byte("— "+origin+" "), []byte("— "+origin+" AAAA"), 1)
	wrongOrigin := bytes.Replace(next, []byte(origin), []byte("example.org/other"), 1)
	proof := tl.proof(5)
	cut := proof[:len(proof)-1]
	flipped := append([][]byte(nil), proof...)
	flipped[0] = bytes.Repeat([]byte{9}, 32)
	for _, tc := range []struct {
		name string
		body []byte
		want int
	}{
		{"not a request", []byte("hello"), 400},
		{"old size with a leading zero", addCheckpointBody(5, proof, next)[0:0:0], 400},
		{"no empty line", []byte("old 5\n" + string(next)), 400},
		{"a proof line that is not a hash", []byte("old 5\nnot-base64!\n\n" + string(next)), 400},
		{"malformed note", addCheckpointBody(5, proof, sigless), 400},
		{"unknown origin", addCheckpointBody(5, proof, wrongOrigin), 404},
		{"unknown key", addCheckpointBody(5, other.proof(5), other.checkpoint()), 403},
		{"bad signature", addCheckpointBody(5, proof, badSig), 403},
		{"old size larger than the new one", addCheckpointBody(7, nil, next), 400},
		{"old size not the last cosigned", addCheckpointBody(3, tl.proof(3), next), 409},
		{"bad consistency proof", addCheckpointBody(5, flipped, next), 422},
		{"truncated consistency proof", addCheckpointBody(5, cut, next), 422},
		{"a fork of the same size", addCheckpointBody(5, nil, func() []byte { f := newTestLog(t, "log"); f.add("a", "b", "c", "X", "Y"); return f.checkpoint() }()), 409},
		{"a fork, with its own proof", addCheckpointBody(5, fork.proof(5), fork.checkpoint()), 422},
		{"oversized body", addCheckpointBody(5, proof, append(next, bytes.Repeat([]byte("x"), 20<<10)...)), 413},
	} {
		if tc.name == "old size with a leading zero" {
			tc.body = []byte(strings.Replace(string(addCheckpointBody(5, proof, next)), "old 5", "old 05", 1))
		}
		code, out := post(t, srv.URL, tc.body)
		if code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, code, out, tc.want)
		}
		if st, _ := w.State(origin); st.Size != 5 {
			t.Fatalf("%s changed the state to %d", tc.name, st.Size)
		}
	}
	// 409 says the size the witness holds, as text/x.tlog.size.
	resp, err := http.Post(srv.URL+"/add-checkpoint", "text/plain", bytes.NewReader(addCheckpointBody(3, tl.proof(3), next)))
	if err != nil {
		t.Fatal(err)
	}
	bz, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 409 || string(bz) != "5\n" || resp.Header.Get("Content-Type") != "text/x.tlog.size" {
		t.Fatalf("409: %q %q", bz, resp.Header.Get("Content-Type"))
	}
	// A slow body: 408, nothing changed.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	b := addCheckpointBody(5, proof, next)
	fmt.Fprintf(conn, "POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nContent-Length: %d\r\n\r\n%s", len(b), b[:10])
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, _ := io.ReadAll(conn)
	conn.Close()
	if !bytes.Contains(reply, []byte(" 408 ")) {
		t.Fatalf("slow body: %q", reply)
	}
	// Restarted, it holds size 5 and refuses the fork, takes the honest one.
	w2 := newWitness(t, dir, tl)
	if st, _ := w2.State(origin); st.Size != 5 || !bytes.Equal(st.Root, mustRoot(t, tl, 5)) {
		t.Fatalf("after a restart: %+v", st)
	}
	if _, err := w2.AddCheckpoint(mustParse(t, addCheckpointBody(5, fork.proof(5), fork.checkpoint()))); err == nil {
		t.Fatal("restarted witness cosigned the fork")
	}
	if _, err := w2.AddCheckpoint(mustParse(t, addCheckpointBody(5, proof, next))); err != nil {
		t.Fatal(err)
	}
	_ = cp3
}

func mustRoot(t *testing.T, tl *testLog, size uint64) []byte {
	r, err := tl.l.RootAt(size)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustParse(t *testing.T, b []byte) *Request {
	r, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// BenchmarkCosign: add-checkpoint requests one witness answers per second
// (consistency proof check, state persisted with fsync, cosignature).
func BenchmarkCosign(b *testing.B) {
	t := &testing.T{}
	tl := newTestLog(t, "bench")
	w := newWitness(t, b.TempDir(), tl)
	ctx := context.Background()
	_ = ctx
	tl.add("genesis")
	if _, err := w.AddCheckpoint(mustParse(t, addCheckpointBody(0, nil, tl.checkpoint()))); err != nil {
		b.Fatal(err)
	}
	reqs := make([]*Request, b.N)
	for i := range reqs {
		old := tl.l.Size()
		tl.add(fmt.Sprintf("entry %d", i))
		reqs[i] = mustParse(t, addCheckpointBody(old, tl.proof(old), tl.checkpoint()))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.AddCheckpoint(reqs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cosignatures/s")
}
