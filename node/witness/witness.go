// Package witness is a neutral body's C2SP tlog-witness: it cosigns a
// log's checkpoints (tlog-cosignature/v1, Ed25519) only if each is
// consistent with the last one it cosigned, which it keeps crash-safely,
// so it never cosigns two inconsistent checkpoints (docs/witnesses.md).
//
// A normledger log's checkpoints are authenticated by their commit
// certificate, checked with a light client; any other C2SP log can be
// witnessed with its Ed25519 verifier key.
package witness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/types"
	tlogformat "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/store/tlog/logproof"
	"github.com/normledger/normledger/verifiers/checkpoint"
)

// Log is a log the witness cosigns for.
type Log struct {
	Origin string
	// ChainID and CheckHeader make it a normledger log: checkpoints carry a
	// commit certificate whose header CheckHeader (a light client) must
	// accept. Otherwise Verifier (a signed-note verifier of the log's key)
	// authenticates them.
	ChainID     string
	CheckHeader func(*types.LightBlock) error
	Verifier    note.Verifier
}

// Config configures a witness.
type Config struct {
	// Dir holds the witness state: one file per origin.
	Dir string
	// Name is the witness's cosigner name; Key its Ed25519 key.
	Name string
	Key  ed25519.PrivateKey
	Logs []Log
	// MaxBody bounds a request body (default 64 KiB); BodyTimeout the time
	// to read it (default 10 s).
	MaxBody     int64
	BodyTimeout time.Duration
	Logger      *slog.Logger
	// Version is the binary's version, for normledger_build_info.
	Version string
	// Persisted, if set, is called after a new state is on disk and before
	// the cosignature is returned (fault tests kill the process there).
	Persisted func()
}

// Witness is a running witness.
type Witness struct {
	cfg    Config
	signer note.Signer
	logs   map[string]*logState
	log    *slog.Logger
	mx     *metrics

	dmu       sync.Mutex
	delivered map[string]uint64 // follower mode: node -> size delivered
}

// State is what the witness keeps per log: the last checkpoint it cosigned.
type State struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// Note is the checkpoint as cosigned (its body and signatures).
	Note string `json:"note,omitempty"`
}

type logState struct {
	Log
	mu    sync.Mutex // held from the size check to the persisted update
	state State
	file  string
}

// New opens a witness, loading the state of every log.
func New(cfg Config) (*Witness, error) {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	s, err := checkpoint.NewCosigner(cfg.Name, cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("witness key: %w", err)
	}
	w := &Witness{cfg: cfg, signer: s, logs: map[string]*logState{}, log: cfg.Logger, delivered: map[string]uint64{}, mx: newMetrics(cfg.Version)}
	for _, l := range cfg.Logs {
		ls := &logState{Log: l, file: filepath.Join(cfg.Dir, stateFile(l.Origin))}
		ls.state = State{Origin: l.Origin, Root: logproof.Hasher.EmptyRoot()}
		bz, err := os.ReadFile(ls.file)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			if err := json.Unmarshal(bz, &ls.state); err != nil || ls.state.Origin != l.Origin || len(ls.state.Root) != 32 {
				return nil, fmt.Errorf("witness state %s is damaged: refusing to start (it could cosign a fork): %v", ls.file, err)
			}
		}
		w.logs[l.Origin] = ls
		w.mx.addLog(l.Origin, ls.state.Size)
	}
	// Temporary files a crash left are never state.
	ents, _ := os.ReadDir(cfg.Dir)
	for _, e := range ents {
		if atomicfile.IsTemp(e.Name()) {
			os.Remove(filepath.Join(cfg.Dir, e.Name()))
		}
	}
	return w, nil
}

func stateFile(origin string) string {
	return strings.NewReplacer("/", "_", ":", "_").Replace(origin) + ".json"
}

// VerifierKey is the witness's signed-note verifier key (for policies).
func (w *Witness) VerifierKey() string {
	return checkpoint.VerifierKey(w.cfg.Name, w.cfg.Key.Public().(ed25519.PublicKey))
}

// State returns the last cosigned checkpoint of origin.
func (w *Witness) State(origin string) (State, bool) {
	ls, ok := w.logs[origin]
	if !ok {
		return State{}, false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.state, true
}

// Error is an add-checkpoint failure with its HTTP status.
type Error struct {
	Status int
	Msg    string
	// Size is the latest cosigned size (for 409).
	Size uint64
	why  string // the refusal reason, where the status does not tell it (metrics)
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
}

func bad(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Request is a parsed add-checkpoint body.
type Request struct {
	Old   uint64
	Proof [][]byte
	Note  []byte
}

// ParseRequest reads an add-checkpoint body: "old N", up to 63 base64
// hashes, an empty line, the checkpoint note.
func ParseRequest(body []byte) (*Request, error) {
	first, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok || !bytes.HasPrefix(first, []byte("old ")) {
		return nil, errors.New("the body must start with an old size line")
	}
	num := string(first[4:])
	old, err := strconv.ParseUint(num, 10, 64)
	if err != nil || (len(num) > 1 && num[0] == '0') {
		return nil, fmt.Errorf("old size %q is not a decimal without leading zeros", num)
	}
	r := &Request{Old: old}
	for {
		line, more, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, errors.New("no empty line before the checkpoint")
		}
		rest = more
		if len(line) == 0 {
			break
		}
		if len(r.Proof) == 63 {
			return nil, errors.New("more than 63 consistency proof lines")
		}
		h, err := base64.StdEncoding.DecodeString(string(line))
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("consistency proof line %d is not a base64 hash", len(r.Proof)+1)
		}
		r.Proof = append(r.Proof, h)
	}
	r.Note = rest
	return r, nil
}

// AddCheckpoint checks a request and, if it holds, persists the new state
// and returns the witness's cosignature line.
func (w *Witness) AddCheckpoint(r *Request) ([]byte, error) {
	// The origin is the note's first line; unknown logs are 404.
	origin, _, _ := bytes.Cut(r.Note, []byte("\n"))
	ls, ok := w.logs[string(origin)]
	if !ok {
		err := bad(http.StatusNotFound, "unknown log origin %q", origin)
		w.mx.refusal("", err)
		return nil, err
	}
	sig, err := w.addCheckpoint(ls, r)
	if err != nil {
		w.mx.refusal(ls.Origin, err)
	}
	return sig, err
}

func (w *Witness) addCheckpoint(ls *logState, r *Request) ([]byte, error) {
	n, err := ls.open(r.Note)
	if err != nil {
		return nil, err
	}
	var c tlogformat.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil || len(c.Hash) != 32 {
		return nil, bad(http.StatusBadRequest, "malformed checkpoint body: %v", err)
	}
	if r.Old > c.Size {
		return nil, bad(http.StatusBadRequest, "old size %d exceeds the checkpoint's %d", r.Old, c.Size)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	st := ls.state
	if r.Old != st.Size {
		e := bad(http.StatusConflict, "old size %d is not the last cosigned size %d", r.Old, st.Size)
		e.Size = st.Size
		return nil, e
	}
	if r.Old == c.Size {
		if len(r.Proof) != 0 {
			e := bad(http.StatusUnprocessableEntity, "a consistency proof between equal sizes must be empty")
			e.why = ReasonMalformed
			return nil, e
		}
		if !bytes.Equal(c.Hash, st.Root) {
			e := bad(http.StatusConflict, "a checkpoint of size %d with root %X, but %X was cosigned at that size", c.Size, c.Hash, st.Root)
			e.Size, e.why = st.Size, ReasonInconsistent
			return nil, e
		}
	} else if err := logproof.VerifyConsistency(r.Old, c.Size, r.Proof, st.Root, c.Hash); err != nil {
		w.log.Warn("inconsistent checkpoint refused", "origin", ls.Origin, "old", r.Old, "size", c.Size, "err", err)
		return nil, bad(http.StatusUnprocessableEntity, "consistency proof %d -> %d does not verify: %v", r.Old, c.Size, err)
	}
	next := State{Origin: ls.Origin, Size: c.Size, Root: c.Hash, Note: string(r.Note)}
	if err := writeState(ls.file, next); err != nil {
		return nil, bad(http.StatusInternalServerError, "persist: %v", err)
	}
	ls.state = next
	if w.cfg.Persisted != nil {
		w.cfg.Persisted()
	}
	sig, err := checkpoint.Cosign(w.signer, []byte(n.Text))
	if err != nil {
		return nil, bad(http.StatusInternalServerError, "cosign: %v", err)
	}
	w.log.Info("cosigned", "origin", ls.Origin, "size", c.Size)
	w.mx.cosigned.WithLabelValues(ls.Origin).Inc()
	w.mx.size.WithLabelValues(ls.Origin).Set(float64(c.Size))
	w.mx.lastTime.WithLabelValues(ls.Origin).SetToCurrentTime()
	return sig, nil
}

// open verifies a checkpoint note's log signature: 403 if none verifies.
func (ls *logState) open(msg []byte) (*note.Note, error) {
	if ls.ChainID != "" {
		c, err := checkpoint.Open(msg, ls.ChainID, nil, ls.CheckHeader)
		if err != nil {
			if errors.Is(err, checkpoint.ErrCheckpoint) && strings.Contains(err.Error(), "malformed") {
				return nil, bad(http.StatusBadRequest, "%v", err)
			}
			return nil, bad(http.StatusForbidden, "%v", err)
		}
		text, _, _ := bytes.Cut(c.Note, []byte("\n\n"))
		return &note.Note{Text: string(text) + "\n"}, nil
	}
	n, err := note.Open(msg, note.VerifierList(ls.Verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified), errors.As(err, &invalid):
			return nil, bad(http.StatusForbidden, "no valid signature by the log's key: %v", err)
		}
		return nil, bad(http.StatusBadRequest, "malformed note: %v", err)
	}
	return n, nil
}

// writeState replaces a state file atomically and durably.
func writeState(path string, st State) error {
	bz, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, bz, 0o600)
}

// Handler serves POST /add-checkpoint (c2sp.org/tlog-witness).
func (w *Witness) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(rw)
		rc.SetReadDeadline(time.Now().Add(w.cfg.BodyTimeout))
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.cfg.MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			w.mx.refusal("", bad(http.StatusBadRequest, "%v", err))
			if errors.As(err, &tooBig) {
				http.Error(rw, fmt.Sprintf("body exceeds %d bytes", w.cfg.MaxBody), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(rw, "reading the body: "+err.Error(), http.StatusRequestTimeout)
			return
		}
		req, err := ParseRequest(body)
		if err != nil {
			w.mx.refusal("", bad(http.StatusBadRequest, "%v", err))
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		sig, err := w.AddCheckpoint(req)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = bad(http.StatusInternalServerError, "%v", err)
			}
			if e.Status == http.StatusConflict {
				rw.Header().Set("Content-Type", "text/x.tlog.size")
				rw.WriteHeader(http.StatusConflict)
				fmt.Fprintf(rw, "%d\n", e.Size)
				return
			}
			http.Error(rw, e.Msg, e.Status)
			return
		}
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(sig)
	})
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(rw, "ok")
	})
	return mux
}

// Submit sends a checkpoint note to a witness at base (its submission
// prefix) with a consistency proof from size old, and returns the
// cosignature lines, or the witness's size on 409.
func Submit(ctx context.Context, hc *http.Client, base string, old uint64, proof [][]byte, msg []byte) (sig []byte, conflict uint64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/add-checkpoint",
		bytes.NewReader(addCheckpointBody(old, proof, msg)))
	if err != nil {
		return nil, 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	bz, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	switch resp.StatusCode {
	case http.StatusOK:
		return bz, 0, nil
	case http.StatusConflict:
		n, err := strconv.ParseUint(strings.TrimSpace(string(bz)), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("witness %s: 409 without a size", base)
		}
		return nil, n, &Error{Status: 409, Size: n, Msg: "conflict"}
	}
	return nil, 0, &Error{Status: resp.StatusCode, Msg: strings.TrimSpace(firstLine(bz))}
}

// addCheckpointBody is an add-checkpoint request (c2sp.org/tlog-witness):
// the old size, the consistency proof's hashes in base64, a blank line and
// the checkpoint note.
func addCheckpointBody(old uint64, proof [][]byte, msg []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		fmt.Fprintf(&b, "%s\n", base64.StdEncoding.EncodeToString(h))
	}
	b.WriteString("\n")
	b.Write(msg)
	return b.Bytes()
}

func firstLine(bz []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(bz))
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}
