package node

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	cmtcfg "github.com/cometbft/cometbft/config"
	sm "github.com/cometbft/cometbft/state"
	cmtstore "github.com/cometbft/cometbft/store"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// Offline export and restore of the application state (`normledger
// snapshot export|restore`), for a stopped node.
//
// An export is one file holding a state-sync snapshot of one height: the
// same manifest and chunks (store.SnapshotFormat) that Snapshots serves to
// peers, cut by the same store.ExportSnapshot, behind a header that says
// what it is, and closed by a SHA-256 of everything before it:
//
//	"normledger-state-export 1\n"
//	header: one line of JSON (ExportHeader) and "\n"
//	frames: 'C' chunk, one per chunk in order, then 'M' the manifest;
//	        each a tag byte, a 4-byte big-endian length and the bytes
//	'E' and the SHA-256 of every byte before the digest
//
// The same state gives the same file, byte for byte.
//
// A restore goes the state-sync way too: the manifest must hash to the app
// hash (store.VerifyManifest), every chunk to what the manifest says, the
// restored tree to the app hash (store.Restorer), and only then does the
// result replace the node's empty state (Store.Install). Before any of
// that, the whole file must match its SHA-256, so a damaged file is refused
// before the home is touched. The replacement runs under a durable marker
// (RestoreMarkerFile) that says what moves where: a failure is undone, and
// after a crash midway nothing starts on the home until a restore run
// again has undone it.
//
// All three offline commands (export, restore, rollback) run only as the
// owner of the home's data directory, and hold the home's lock
// (LockHome), which a node holds for its whole run.
//
// What is restored is the application's state only (AppStateFiles); the
// node's CometBFT data (blocks, consensus state, the validator's signing
// state) stays. On its next start CometBFT finds the application at the
// export's height and replays its stored blocks after it into the
// application, checking the app hash each block commits to; this is why a
// restore needs CometBFT's data to reach the export's height (a new node
// joins by state sync instead, or from a copy of a whole stopped home).

// ExportFormat names the file format on its first line.
const ExportFormat = "normledger-state-export"

// ExportVersion is the file format's version.
const ExportVersion = 1

// ExportHeader is an export's header line.
type ExportHeader struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// ChainID is the chain's id (the home's genesis says it; so does the
	// state).
	ChainID string `json:"chain_id"`
	// Height is the state's height: the state after block Height, whose
	// root the header of block Height+1 carries as its app hash.
	Height int64 `json:"height"`
	// AppHash is that root, in hex.
	AppHash string `json:"app_hash"`
	// SnapshotFormat is the manifest's and chunks' format.
	SnapshotFormat uint32 `json:"snapshot_format"`
}

// AppStateFiles are what "the application's state" is in a data
// directory: the state database, the content index beside it, the record
// log, the commit marker, the state-synced marker and a restore's work
// directory. Wiping the application's state means removing these and
// nothing else; CometBFT's databases, its WAL, priv_validator_state.json,
// the node's snapshots, its checkpoints and upgrade-info.json stay.
var AppStateFiles = []string{"appstate.db", "appindex.db", store.LogDir, "appstate.commit", "appstate.restored", restoreWorkDir}

// ErrNodeRunning says a home's databases are locked by a running node.
var ErrNodeRunning = errors.New("the node is running")

// ErrHomeInUse says another normledger process holds the home's lock
// (HomeLockFile): a node, or an export, restore or rollback.
var ErrHomeInUse = errors.New("the home is in use by another normledger process")

// ErrWrongUser says an offline command runs as another user than the one
// who owns the home's data directory.
var ErrWrongUser = errors.New("run it as the node's user")

// ErrTestCrash, returned by RestoreOptions.Fault, makes a restore stop
// where it is as a killed process would: nothing undone (fault tests).
var ErrTestCrash = errors.New("simulated crash (fault tests)")

// ErrBadExport is wrapped by every error about an export file that is
// damaged, not an export, or does not verify.
var ErrBadExport = errors.New("not a valid normledger state export")

// CheckStopped returns ErrNodeRunning (naming the database) if a process
// holds any of home's databases: the application's, or CometBFT's. It
// only probes the locks (LevelDB's flock on DIR/LOCK), creating nothing,
// and holds none: what keeps a node from starting during an offline
// command is the home's lock (LockHome); this check catches a node of a
// binary that does not take it.
func CheckStopped(home string, ccfg *cmtcfg.Config) error {
	data := filepath.Join(home, "data")
	dirs := []string{filepath.Join(data, "appstate.db"), filepath.Join(data, "appindex.db")}
	ccfg = cometConfig(home, ccfg)
	for _, n := range []string{"blockstore", "state"} {
		dirs = append(dirs, filepath.Join(ccfg.DBDir(), n+".db"))
	}
	for _, d := range dirs {
		f, err := os.Open(filepath.Join(d, "LOCK"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is locked by another process; stop the node first (%s)", ErrNodeRunning, d, toItself)
		}
		if err != nil {
			return fmt.Errorf("probe the lock of %s: %w", d, err)
		}
	}
	return nil
}

// toItself is why an offline command refuses a home another process uses.
const toItself = "an export, a restore or a rollback needs the home to itself"

// HomeLockFile, in a home's data directory, is the file whose lock (flock,
// exclusive) a node holds for its whole run and an export, a restore or a
// rollback for its whole work, so that one normledger process at a time
// works on a home: a node started during a restore fails at once instead
// of opening a state being replaced, and a restore started while a node
// runs refuses before it touches anything. The holder writes its pid, what
// it is and since when into the file, for the message of the one refused.
const HomeLockFile = "normledger.lock"

// HomeLock is a held home lock.
type HomeLock struct {
	f *os.File
}

type lockHolder struct {
	PID   int    `json:"pid"`
	What  string `json:"what"`
	Since string `json:"since"`
}

// homeInUseError is ErrHomeInUse, and ErrNodeRunning when the holder is (or
// may be) a node.
type homeInUseError struct {
	msg  string
	node bool
}

func (e *homeInUseError) Error() string { return e.msg }

func (e *homeInUseError) Is(target error) bool {
	return target == ErrHomeInUse || (e.node && target == ErrNodeRunning)
}

// LockHome takes home's lock (data/normledger.lock, created if need be)
// for what ("node", "snapshot restore", ...), without waiting: if another
// process holds it (or another holder in this process), it fails at once
// with ErrHomeInUse (and ErrNodeRunning when the holder is a node), saying
// which process holds it. Release gives it back; so does the process's
// end, however it ends.
func LockHome(home, what string) (*HomeLock, error) {
	data := filepath.Join(home, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(data, HomeLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("the home's lock: %w (was a normledger command run on this home as another user? the files in %s must be the node's user's)", err, data)
	}
	if err != nil {
		return nil, fmt.Errorf("the home's lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return nil, homeInUse(home, path, what)
	}
	// Who holds it, for whoever is refused; best effort.
	bz, _ := json.Marshal(lockHolder{PID: os.Getpid(), What: what, Since: time.Now().UTC().Format(time.RFC3339)})
	if f.Truncate(0) == nil {
		f.WriteAt(append(bz, '\n'), 0)
	}
	return &HomeLock{f: f}, nil
}

// homeInUse describes the holder of the lock at path to what was refused.
func homeInUse(home, path, what string) error {
	var h lockHolder
	holder, node := "it does not say which", true
	if bz, err := os.ReadFile(path); err == nil && json.Unmarshal(bytes.TrimSpace(bz), &h) == nil && h.PID > 0 {
		holder = fmt.Sprintf("pid %d: %s, since %s", h.PID, h.What, h.Since)
		node = h.What == "node"
	}
	var advice string
	switch {
	case what == "node" && node:
		advice = "another node runs on this home; stop it first"
	case what == "node":
		advice = "wait until it has finished, then start the node"
	case node:
		advice = "stop the node first: " + toItself
	default:
		advice = "wait until it has finished (" + toItself + ")"
	}
	return &homeInUseError{node: node,
		msg: fmt.Sprintf("the home %s is in use by another normledger process (%s; %s is locked): %s", home, holder, path, advice)}
}

// Release gives the lock back (the file stays). Safe on nil and twice.
func (l *HomeLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Truncate(0)
	l.f.Close() // closing the file releases the flock
	l.f = nil
}

// HomeOwner says who owns dir: its uid, and its user name if the user
// database knows it ("" if not). A uid below 0 means unknown (no check).
type HomeOwner func(dir string) (uid int, name string, err error)

// fileOwner is the HomeOwner of the file system.
func fileOwner(dir string) (int, string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return -1, "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, "", nil
	}
	return int(st.Uid), userName(int(st.Uid)), nil
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return ""
}

// checkOwner refuses to run command on home unless the effective uid is
// the owner of home's data directory: every file an export, a restore or a
// rollback creates there (a database, its LOCK, the record log, the commit
// marker) would otherwise belong to another user, root most often (the
// runbook's commands run after `systemctl stop`), and the node, running as
// its own user, could not open them (EACCES, which the store reports as a
// damaged database). owner nil is fileOwner.
func checkOwner(home, command string, owner HomeOwner) error {
	if owner == nil {
		owner = fileOwner
	}
	data := filepath.Join(home, "data")
	uid, name, err := owner(data)
	if err != nil {
		return fmt.Errorf("the home's data directory: %w", err)
	}
	euid := os.Geteuid()
	if uid < 0 || uid == euid {
		return nil
	}
	who, sudo := fmt.Sprintf("uid %d", uid), fmt.Sprintf("'#%d'", uid)
	if name != "" {
		who, sudo = fmt.Sprintf("user %s (uid %d)", name, uid), name
	}
	me := fmt.Sprintf("uid %d", euid)
	if n := userName(euid); n != "" {
		me = fmt.Sprintf("%s (uid %d)", n, euid)
	}
	return fmt.Errorf("%s belongs to %s, but this command runs as %s: files it created there would belong to %s, and the node, running as %s, could not open them; %w, e.g. `sudo -u %s normledger %s ...`",
		data, who, me, me, who, ErrWrongUser, sudo, command)
}

// offline readies home for an offline command: it must run as the owner
// of the home's data directory, take the home's lock (held until the
// returned lock is released), and find every database free and no
// interrupted restore or rollback (CheckInterrupted) but one the command
// itself finishes (a restore undoes an interrupted restore, a rollback
// finishes an interrupted rollback).
func offline(home, command string, ccfg *cmtcfg.Config, owner HomeOwner) (*HomeLock, error) {
	if err := checkOwner(home, command, owner); err != nil {
		return nil, err
	}
	lock, err := LockHome(home, command)
	if err != nil {
		return nil, err
	}
	err = CheckStopped(home, ccfg)
	if err == nil {
		err = checkInterrupted(home, command)
	}
	if err != nil {
		lock.Release()
		return nil, err
	}
	return lock, nil
}

func cometConfig(home string, ccfg *cmtcfg.Config) *cmtcfg.Config {
	if ccfg != nil {
		return ccfg
	}
	c := cmtcfg.DefaultConfig()
	c.SetRoot(home)
	return c
}

// ExportOptions configure ExportState.
type ExportOptions struct {
	// Height is the height to export; 0 exports the latest.
	Height int64
	// ChunkHeight bounds a chunk's subtree height (0: store.DefaultChunkHeight).
	ChunkHeight int
	// Comet is the home's CometBFT configuration (its genesis file and
	// database directory); nil means the defaults under the home.
	Comet *cmtcfg.Config
	// Owner says who owns the home's data directory (tests); nil reads
	// the file system.
	Owner HomeOwner
	// FrameLimit lowers the bound on a chunk's or the manifest's size
	// (tests); 0, or more than a restore reads (MaxExportFrame), is
	// MaxExportFrame.
	FrameLimit int64
}

// The chunk heights an export accepts: those whose chunks state sync
// carries too. CometBFT's state-sync reactor takes a chunk of at most 16 MB
// (its chunk channel's message size), and a subtree of height h has up to
// 2^h leaves: at the ~1.5 KiB a leaf store.DefaultChunkHeight is sized for
// (2^10 leaves, ~1.5 MiB), height 13 makes chunks of up to ~12 MiB, 14 of
// ~24 MiB. Whatever the height, a chunk over MaxExportFrame fails the
// export.
const (
	MinChunkHeight = 1
	MaxChunkHeight = 13
)

// MaxExportFrame bounds a chunk or the manifest in an export: a restore
// refuses a larger frame (before the file's SHA-256 is known, a length is
// all it has), so an export refuses to write one.
const MaxExportFrame = 256 << 20

// CheckChunkHeight returns an error unless h is 0 (the default) or within
// MinChunkHeight..MaxChunkHeight.
func CheckChunkHeight(h int) error {
	if h != 0 && (h < MinChunkHeight || h > MaxChunkHeight) {
		return fmt.Errorf("chunk height %d: must be %d to %d (default %d): state sync carries chunks of at most 16 MB", h, MinChunkHeight, MaxChunkHeight, store.DefaultChunkHeight)
	}
	return nil
}

// ExportResult describes a finished export.
type ExportResult struct {
	ExportHeader
	Chunks int    `json:"chunks"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// ExportStateFile exports the application state of the stopped node at
// home into path, replacing it atomically (nothing is left at path if the
// export fails).
func ExportStateFile(home, path string, o ExportOptions) (*ExportResult, error) {
	if err := CheckChunkHeight(o.ChunkHeight); err != nil {
		return nil, err
	}
	ccfg := cometConfig(home, o.Comet)
	lock, err := offline(home, "snapshot export", ccfg, o.Owner)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	pr, pw := io.Pipe()
	var res *ExportResult
	done := make(chan error, 1)
	go func() {
		r, err := exportState(home, pw, ccfg, o)
		res = r
		pw.CloseWithError(err)
		done <- err
	}()
	werr := atomicfile.Write(path, 0o600, pr)
	pr.CloseWithError(werr) // unblock the exporter if the file write failed
	if err := <-done; err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, fmt.Errorf("write %s: %w", path, werr)
	}
	return res, nil
}

// ExportState writes an export of the application state of the stopped
// node at home to w. It runs only as the owner of the home's data
// directory (ErrWrongUser), and holds the home's lock throughout.
func ExportState(home string, w io.Writer, o ExportOptions) (*ExportResult, error) {
	if err := CheckChunkHeight(o.ChunkHeight); err != nil {
		return nil, err
	}
	ccfg := cometConfig(home, o.Comet)
	lock, err := offline(home, "snapshot export", ccfg, o.Owner)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	return exportState(home, w, ccfg, o)
}

// exportState is ExportState on a home already locked.
func exportState(home string, w io.Writer, ccfg *cmtcfg.Config, o ExportOptions) (*ExportResult, error) {
	gen, err := cmttypes.GenesisDocFromFile(ccfg.GenesisFile())
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	data := filepath.Join(home, "data")
	if _, err := os.Stat(filepath.Join(data, "appstate.db")); err != nil {
		return nil, fmt.Errorf("%s holds no application state: %w", data, err)
	}
	st, err := store.Open(data, store.Options{})
	if err != nil {
		return nil, fmt.Errorf("application state: %w", err)
	}
	defer st.Close()
	h := o.Height
	if h == 0 {
		h = st.Version()
	}
	if h <= 0 {
		return nil, fmt.Errorf("%s holds no committed state to export", data)
	}
	view, err := st.At(h)
	if err != nil {
		return nil, fmt.Errorf("height %d: %w (the state keeps heights %d to %d)", h, err, st.EarliestVersion(), st.Version())
	}
	if cid, err := view.ChainID(); err != nil || cid != gen.ChainID {
		return nil, fmt.Errorf("the state at height %d is of chain %q, the home's genesis of %q (%v)", h, cid, gen.ChainID, err)
	}
	chunkHeight := o.ChunkHeight
	if chunkHeight <= 0 {
		chunkHeight = store.DefaultChunkHeight
	}
	hdr := ExportHeader{Format: ExportFormat, Version: ExportVersion, ChainID: gen.ChainID, Height: h,
		AppHash: strings.ToUpper(hex.EncodeToString(view.RootHash())), SnapshotFormat: store.SnapshotFormat}
	hbz, err := json.Marshal(hdr)
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: io.MultiWriter(bw, sum)}
	fmt.Fprintf(cw, "%s %d\n%s\n", ExportFormat, ExportVersion, hbz)
	limit := int64(MaxExportFrame)
	if o.FrameLimit > 0 && o.FrameLimit < limit {
		limit = o.FrameLimit
	}
	frames := 0
	frame := func(tag byte, bz []byte) error {
		// A restore refuses a larger frame; and a length past 4 GiB would
		// wrap in its four bytes.
		if int64(len(bz)) > limit {
			what, hint := fmt.Sprintf("chunk %d", frames), "a smaller --chunk-height (smaller chunks)"
			if tag == 'M' {
				what, hint = "the manifest", "a larger --chunk-height (fewer chunks)"
			}
			return fmt.Errorf("%s is %d bytes, more than the %d a restore reads: export with %s than %d", what, len(bz), limit, hint, chunkHeight)
		}
		frames++
		var fh [5]byte
		fh[0] = tag
		binary.BigEndian.PutUint32(fh[1:], uint32(len(bz)))
		if _, err := cw.Write(fh[:]); err != nil {
			return err
		}
		_, err := cw.Write(bz)
		return err
	}
	m, mbz, err := snapshotTo(st, h, chunkHeight, func(_ int, chunk []byte) error { return frame('C', chunk) })
	if err != nil {
		return nil, err
	}
	if err := frame('M', mbz); err != nil {
		return nil, err
	}
	if _, err := cw.Write([]byte{'E'}); err != nil {
		return nil, err
	}
	digest := sum.Sum(nil)
	if _, err := bw.Write(digest); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return &ExportResult{ExportHeader: hdr, Chunks: store.ChunkCount(m), Bytes: cw.n + int64(len(digest)),
		SHA256: hex.EncodeToString(digest)}, nil
}

func chunks(n int) string {
	if n == 1 {
		return "1 chunk"
	}
	return fmt.Sprintf("%d chunks", n)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Header bound; a frame's is MaxExportFrame: a chunk is at most a few MiB
// (store.DefaultChunkHeight, the log's 1 MiB chunks), a manifest about 100
// bytes a chunk.
const maxExportHeader = 64 << 10

// exportFile is an export that matched its SHA-256, framed.
type exportFile struct {
	f        *os.File
	hdr      ExportHeader
	appHash  []byte
	m        *pb.SnapshotManifest
	chunks   []frameAt // in order
	manifest frameAt
	sha256   string
}

type frameAt struct{ off, n int64 }

func (e *exportFile) read(fr frameAt) ([]byte, error) {
	bz := make([]byte, fr.n)
	if _, err := e.f.ReadAt(bz, fr.off); err != nil {
		return nil, err
	}
	return bz, nil
}

// openExport reads the export at path once through, requiring its
// SHA-256 to match and its frames to be whole, then decodes its header
// and manifest and checks them against each other and the manifest's tree
// against the header's app hash. It allocates nothing the file's lengths
// say before the digest matched.
func openExport(path string) (_ *exportFile, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadExport, path, fmt.Sprintf(format, args...))
	}
	// Every byte consumed goes through the hash, the digest excepted.
	sum := sha256.New()
	br := bufio.NewReaderSize(f, 1<<20)
	var pos int64
	readByte := func() (byte, error) {
		c, err := br.ReadByte()
		if err == nil {
			sum.Write([]byte{c})
			pos++
		}
		return c, err
	}
	readLine := func(max int) (string, error) {
		var b []byte
		for len(b) <= max {
			c, err := readByte()
			if err != nil {
				return "", err
			}
			if c == '\n' {
				return string(b), nil
			}
			b = append(b, c)
		}
		return "", errors.New("line too long")
	}
	magic, err := readLine(64)
	if err != nil || magic != fmt.Sprintf("%s %d", ExportFormat, ExportVersion) {
		return nil, bad("it does not start with %q (is it an export of this format version?)", fmt.Sprintf("%s %d", ExportFormat, ExportVersion))
	}
	hline, err := readLine(maxExportHeader)
	if err != nil {
		return nil, bad("header line: %v", err)
	}
	e := &exportFile{f: f, manifest: frameAt{off: -1}}
	var manifests int
	for end := false; !end; {
		tag, err := readByte()
		if err != nil {
			return nil, bad("truncated after %d bytes (no end mark)", pos)
		}
		switch tag {
		case 'C', 'M':
			var lb [4]byte
			if _, err := io.ReadFull(br, lb[:]); err != nil {
				return nil, bad("truncated in a frame at byte %d", pos)
			}
			sum.Write(lb[:])
			pos += 4
			n := int64(binary.BigEndian.Uint32(lb[:]))
			if n > MaxExportFrame {
				return nil, bad("a frame at byte %d claims %d bytes", pos, n)
			}
			if c, err := io.CopyN(sum, br, n); err != nil {
				return nil, bad("truncated: a frame at byte %d claims %d bytes, %d follow", pos, n, c)
			}
			if tag == 'C' {
				if manifests > 0 {
					return nil, bad("a chunk after the manifest")
				}
				e.chunks = append(e.chunks, frameAt{pos, n})
			} else {
				manifests++
				e.manifest = frameAt{pos, n}
			}
			pos += n
		case 'E':
			end = true
		default:
			return nil, bad("unknown frame %q at byte %d", tag, pos-1)
		}
	}
	want := sum.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(br, got); err != nil {
		return nil, bad("truncated: the SHA-256 at its end is missing")
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, bad("bytes after its SHA-256")
	}
	if !bytes.Equal(got, want) {
		return nil, bad("its content hashes to %X but it says %X: the file is damaged (corrupted or truncated in transfer or storage)", want, got)
	}
	e.sha256 = hex.EncodeToString(want)
	// Whole and as written: now what it says must hold together.
	dec := json.NewDecoder(strings.NewReader(hline))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e.hdr); err != nil {
		return nil, bad("header: %v", err)
	}
	if e.hdr.Format != ExportFormat || e.hdr.Version != ExportVersion {
		return nil, bad("header says format %q version %d", e.hdr.Format, e.hdr.Version)
	}
	if e.hdr.SnapshotFormat != store.SnapshotFormat {
		return nil, bad("snapshot format %d; this binary restores format %d", e.hdr.SnapshotFormat, store.SnapshotFormat)
	}
	if e.appHash, err = hex.DecodeString(e.hdr.AppHash); err != nil || len(e.appHash) != sha256.Size {
		return nil, bad("header app hash %q", e.hdr.AppHash)
	}
	if manifests != 1 {
		return nil, bad("%d manifests", manifests)
	}
	mbz, err := e.read(e.manifest)
	if err != nil {
		return nil, err
	}
	if e.m, err = parseManifest(mbz, e.hdr.Height, len(e.chunks)); err != nil {
		return nil, bad("%v", err)
	}
	if err := store.VerifyManifest(e.m, e.appHash); err != nil {
		return nil, bad("%v", err)
	}
	return e, nil
}

// VerifyExport checks the export at path on its own, touching no home:
// its SHA-256, its manifest against its app hash, and every chunk, by
// restoring it into a temporary directory that is then removed. It says
// nothing about which chain's history the app hash belongs to (a restore
// checks that against the home's blocks).
func VerifyExport(path string) (*ExportResult, error) {
	e, err := openExport(path)
	if err != nil {
		return nil, err
	}
	defer e.f.Close()
	tmp, err := os.MkdirTemp("", "normledger-verify-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	r, err := store.NewRestorer(filepath.Join(tmp, "restore"), e.m)
	if err != nil {
		return nil, err
	}
	defer r.Abort()
	for i, fr := range e.chunks {
		bz, err := e.read(fr)
		if err != nil {
			return nil, err
		}
		if err := r.Apply(i, bz); err != nil {
			return nil, fmt.Errorf("%w: %s: chunk %d: %v", ErrBadExport, path, i, err)
		}
	}
	if err := r.Finish(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadExport, path, err)
	}
	st, _ := e.f.Stat()
	return &ExportResult{ExportHeader: e.hdr, Chunks: len(e.chunks), Bytes: st.Size(), SHA256: e.sha256}, nil
}

// RestoreOptions configure RestoreState.
type RestoreOptions struct {
	// Comet is the home's CometBFT configuration; nil means the defaults
	// under the home.
	Comet *cmtcfg.Config
	// Force restores over a home that holds application state: that state
	// is first moved aside, whole, into data/app-state-<time>/ (moved back
	// if the restore fails). An empty state is not moved (there is nothing
	// to keep).
	Force bool
	// Unverified restores although the export's app hash cannot be
	// checked against the home's chain (its block store has no block
	// Height+1 and CometBFT's state is not at Height, or there is no
	// CometBFT state): only for a home whose CometBFT data is gone and
	// will be re-synced. Without it such a restore is refused
	// (ErrUnverified). The chain id is checked against the home's genesis
	// either way.
	Unverified bool
	// Owner says who owns the home's data directory (tests); nil reads
	// the file system.
	Owner HomeOwner
	// Now names the moved-aside directory (tests); nil is time.Now.
	Now func() time.Time
	// Fault is for fault tests only: it is called at each step after the
	// restore marker is written ("marker"; "aside <file>" after each file
	// moved aside; "aside", "opened", "installed", "synced"). An error
	// fails the restore there, undone as any failure is; ErrTestCrash
	// stops it there as a killed process would, undoing nothing.
	Fault func(step string) error
}

// RestoreReport says what a restore did and which checks it made.
type RestoreReport struct {
	ChainID string `json:"chain_id"`
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	Chunks  int    `json:"chunks"`
	SHA256  string `json:"sha256"`
	// Checks lists the verifications that passed, in order.
	Checks []string `json:"checks"`
	// AppHashSource says what the restored state's root was checked
	// against beyond the export itself: "block_store" (the header of
	// block Height+1 in the home's CometBFT block store), "comet_state"
	// (CometBFT's state, when the block store ends at Height), or ""
	// (nothing: Unverified, and Unchecked says why).
	AppHashSource string `json:"app_hash_source"`
	// Unchecked says why the app hash could not be checked against the
	// home's chain (only with Unverified).
	Unchecked string `json:"unchecked,omitempty"`
	// CometHeight is the height CometBFT's data reaches: the node replays
	// blocks Height+1 to CometHeight into the restored state when it
	// starts.
	CometHeight int64 `json:"comet_height"`
	// MovedAside is where Force moved the previous application state.
	MovedAside string `json:"moved_aside,omitempty"`
	// Undone says what this restore undid before it began: a restore that
	// was interrupted (RestoreMarkerFile) and left the application state
	// half replaced ("" if there was none).
	Undone string `json:"undone,omitempty"`
}

// ErrUnverified says a restore was refused because the export's app hash
// could not be checked against the home's chain (RestoreOptions.Unverified).
var ErrUnverified = errors.New("the export's app hash cannot be checked against the home's chain")

// ErrRestoreInterrupted says a home holds RestoreMarkerFile: a restore
// began to replace its application state and did not finish.
var ErrRestoreInterrupted = errors.New("a restore of the application state was interrupted")

// RestoreMarkerFile, in a home's data directory, says a restore is
// replacing the application state: RestoreState writes it (fsynced)
// before it moves or removes anything, and removes it last, once the
// restored state is installed and durable. While it exists nothing
// starts on the home (node.New, an export, a rollback refuse:
// checkNoRestore); the next `snapshot restore` undoes what it says.
const RestoreMarkerFile = "restore-in-progress"

// restoreMarker is RestoreMarkerFile: what the restore moves where, so
// that whatever step it stopped at can be undone.
type restoreMarker struct {
	Export  string `json:"export"`
	SHA256  string `json:"sha256"`
	Height  int64  `json:"height"`
	AppHash string `json:"app_hash"`
	Started string `json:"started"`
	PID     int    `json:"pid"`
	// Aside is the directory, in the data directory, that the previous
	// application state goes to ("": it was empty, nothing is kept).
	Aside string `json:"aside,omitempty"`
	// Moved are the application state files (AppStateFiles) that were in
	// the data directory when the restore began, all of which go to Aside.
	// Any other application state file found there later is the
	// restore's.
	Moved []string `json:"moved,omitempty"`
}

// RestoreState restores the export at path into the stopped node at home,
// whose application state must be empty (or Force). Nothing in the home
// changes unless every check passes: the file's SHA-256, its manifest
// against its app hash, the export's chain id against the home's genesis,
// the app hash against the home's chain (its CometBFT block store's header
// of block Height+1, or its CometBFT state; unless Unverified, a restore
// whose app hash neither can confirm is refused), every chunk against the
// manifest, the restored tree's root against the app hash.
//
// It runs only as the owner of the home's data directory (ErrWrongUser)
// and holds the home's lock (LockHome) throughout. The replacement itself
// runs under RestoreMarkerFile: a failure undoes it (the previous state
// back, whatever the restore created removed); a crash leaves the marker,
// so that the node refuses to start, and the next RestoreState undoes the
// interrupted restore first (Undone says so), then restores.
func RestoreState(home, path string, o RestoreOptions) (_ *RestoreReport, err error) {
	ccfg := cometConfig(home, o.Comet)
	lock, err := offline(home, "snapshot restore", ccfg, o.Owner)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	data := filepath.Join(home, "data")
	rep := &RestoreReport{}
	if rep.Undone, err = undoInterrupted(data); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && rep.Undone != "" {
			err = fmt.Errorf("%w (before that, %s)", err, rep.Undone)
		}
	}()
	e, err := openExport(path)
	if err != nil {
		return nil, err
	}
	defer e.f.Close()
	rep.ChainID, rep.Height, rep.AppHash, rep.Chunks, rep.SHA256 = e.hdr.ChainID, e.hdr.Height, e.hdr.AppHash, len(e.chunks), e.sha256
	rep.Checks = append(rep.Checks, "the file's SHA-256 "+e.sha256,
		fmt.Sprintf("the manifest's tree of %s hashes to the export's app hash %s", chunks(len(e.chunks)), e.hdr.AppHash))
	gen, err := cmttypes.GenesisDocFromFile(ccfg.GenesisFile())
	if err != nil {
		return nil, fmt.Errorf("the home's genesis: %w", err)
	}
	if gen.ChainID != e.hdr.ChainID {
		return nil, fmt.Errorf("the export is of chain %q, the home's genesis of chain %q", e.hdr.ChainID, gen.ChainID)
	}
	rep.Checks = append(rep.Checks, fmt.Sprintf("the home's genesis is of chain %q", gen.ChainID))
	unchecked, err := checkAgainstComet(ccfg, e, rep)
	if err != nil {
		return nil, err
	}
	if unchecked != "" {
		if !o.Unverified {
			return nil, fmt.Errorf("%w: the export's app hash %s at height %d is neither in the header of block %d nor in CometBFT's state (%s), so nothing says it is this chain's: a state of another history under the node's blocks makes CometBFT's handshake fail; restore an export of a lower height (the block after it carries its app hash), or, only for a home whose CometBFT data is gone and will be re-synced, restore with --unverified",
				ErrUnverified, e.hdr.AppHash, e.hdr.Height, e.hdr.Height+1, unchecked)
		}
		rep.Unchecked = unchecked
	}
	// Refuse a home with state before the (long) restore, and before
	// creating anything in it.
	v, verr := appStateVersion(data)
	// A state to move aside: one at a height, one that does not open, or
	// what is left of one (a commit marker, an index without the database:
	// the store would refuse to open the restored state beside them).
	var left []string
	for _, n := range AppStateFiles {
		if _, err := os.Lstat(filepath.Join(data, n)); err == nil && n != restoreWorkDir {
			left = append(left, n)
		}
	}
	keep := verr != nil || v != 0 || len(left) > 0
	if keep && !o.Force {
		if verr == nil && v == 0 {
			return nil, fmt.Errorf("the home holds what is left of an application state (%s in %s): use --force to move it aside (into %s), or remove it",
				strings.Join(left, ", "), data, filepath.Join(data, "app-state-<time>"))
		}
		if verr != nil {
			return nil, fmt.Errorf("the home's application state does not open (%v): restore with --force to move it aside", verr)
		}
		return nil, fmt.Errorf("the home holds application state at height %d: a restore goes into an empty application state; use --force to move the present one aside (into %s), or wipe it (%s in %s)",
			v, filepath.Join(data, "app-state-<time>"), strings.Join(AppStateFiles, ", "), data)
	}
	// The restore, in a database of its own (as a state sync restores).
	work := filepath.Join(data, restoreWorkDir)
	r, err := store.NewRestorer(work, e.m)
	if err != nil {
		return nil, err
	}
	for i, fr := range e.chunks {
		bz, err := e.read(fr)
		if err == nil {
			err = r.Apply(i, bz)
			if err != nil {
				err = fmt.Errorf("%w: %s: chunk %d: %v", ErrBadExport, path, i, err)
			}
		}
		if err != nil {
			r.Abort()
			return nil, err
		}
	}
	if err := r.Finish(); err != nil {
		r.Abort()
		return nil, fmt.Errorf("%w: %s: %v", ErrBadExport, path, err)
	}
	rep.Checks = append(rep.Checks, fmt.Sprintf("%s matching the manifest, the restored tree's root the app hash", chunks(len(e.chunks))))

	// The replacement, under the marker: from here every failure is undone.
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	mk := &restoreMarker{Export: path, SHA256: e.sha256, Height: e.hdr.Height, AppHash: e.hdr.AppHash,
		Started: now().UTC().Format(time.RFC3339), PID: os.Getpid()}
	if abs, err := filepath.Abs(path); err == nil {
		mk.Export = abs
	}
	if keep {
		if mk.Aside, err = asideName(data, now()); err != nil {
			os.RemoveAll(work)
			return nil, err
		}
		for _, n := range AppStateFiles {
			if _, err := os.Lstat(filepath.Join(data, n)); err == nil && n != restoreWorkDir {
				mk.Moved = append(mk.Moved, n)
			}
		}
	}
	if err := writeRestoreMarker(data, mk); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	fault := func(step string) error {
		if o.Fault == nil {
			return nil
		}
		return o.Fault(step)
	}
	var st *store.Store
	fail := func(err error) (*RestoreReport, error) {
		if st != nil {
			st.Close()
		}
		if errors.Is(err, ErrTestCrash) {
			return nil, err
		}
		undone, uerr := undoRestore(data, mk)
		if uerr != nil {
			return nil, fmt.Errorf("%w; and undoing the restore failed: %v", err, uerr)
		}
		return nil, fmt.Errorf("%w; the restore was undone: %s", err, undone)
	}
	if err := fault("marker"); err != nil {
		return fail(err)
	}
	if mk.Aside != "" {
		rep.MovedAside = filepath.Join(data, mk.Aside)
		if err := moveAside(data, mk, fault); err != nil {
			return fail(err)
		}
	}
	if err := fault("aside"); err != nil {
		return fail(err)
	}
	if st, err = store.Open(data, store.Options{}); err != nil {
		st = nil
		return fail(fmt.Errorf("application state: %w", err))
	}
	if v := st.Version(); v != 0 {
		return fail(fmt.Errorf("the home holds application state at height %d", v))
	}
	if err := fault("opened"); err != nil {
		return fail(err)
	}
	if err := st.Install(work); err != nil {
		return fail(fmt.Errorf("install the restored state: %w", err))
	}
	if err := fault("installed"); err != nil {
		return fail(err)
	}
	if st.Version() != e.hdr.Height || !bytes.Equal(st.Hash(), e.appHash) {
		return fail(fmt.Errorf("the installed state is height %d with root %X, not %d with %s", st.Version(), st.Hash(), e.hdr.Height, e.hdr.AppHash))
	}
	err = st.Close()
	st = nil
	if err != nil {
		return fail(err)
	}
	// Install renamed the restored state into place without syncing the
	// directory: durable before the marker goes.
	if err := atomicfile.SyncDir(data); err != nil {
		return fail(err)
	}
	if err := fault("synced"); err != nil {
		return fail(err)
	}
	if err := removeRestoreMarker(data); err != nil {
		return nil, fmt.Errorf("the restored state is installed, but %w; the node will not start until it is gone (a new restore undoes this one and restores again)", err)
	}
	return rep, nil
}

// asideName is a new data/app-state-<time> directory's name.
func asideName(data string, now time.Time) (string, error) {
	base := "app-state-" + now.UTC().Format("20060102T150405Z")
	for i := 1; i < 1000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(filepath.Join(data, name)); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		}
	}
	return "", fmt.Errorf("%s: no free name for the application state to move aside to", filepath.Join(data, base))
}

// moveAside moves the files mk.Moved into the new mk.Aside, durably.
func moveAside(data string, mk *restoreMarker, fault func(string) error) error {
	aside := filepath.Join(data, mk.Aside)
	if err := os.Mkdir(aside, 0o700); err != nil {
		return fmt.Errorf("move the application state aside: %w", err)
	}
	for _, n := range mk.Moved {
		if err := os.Rename(filepath.Join(data, n), filepath.Join(aside, n)); err != nil {
			return fmt.Errorf("move %s aside: %w", n, err)
		}
		if err := fault("aside " + n); err != nil {
			return err
		}
	}
	if err := atomicfile.SyncDir(aside); err != nil {
		return err
	}
	return atomicfile.SyncDir(data)
}

// undoRestore undoes what the restore mk describes did, whatever step it
// stopped at: every application state file that was not there before is
// removed (the restore's work directory, what store.Open and Install
// created), every one that was moved aside comes back (one not yet moved
// is still in place), the aside directory goes, the directory is synced,
// and the marker goes last. It returns what the data directory holds now.
func undoRestore(data string, mk *restoreMarker) (string, error) {
	moved := map[string]bool{}
	for _, n := range mk.Moved {
		moved[n] = true
	}
	aside := ""
	if mk.Aside != "" {
		aside = filepath.Join(data, mk.Aside)
	}
	var errs []error
	for _, n := range AppStateFiles {
		p := filepath.Join(data, n)
		if !moved[n] || aside == "" {
			if err := os.RemoveAll(p); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		a := filepath.Join(aside, n)
		if _, err := os.Lstat(a); errors.Is(err, fs.ErrNotExist) {
			continue // not moved yet: still in place
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Rename(a, p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && aside != "" {
		if err := os.Remove(aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := atomicfile.SyncDir(data); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		where := ""
		if aside != "" {
			where = fmt.Sprintf(" (what of the previous application state was moved aside is in %s)", aside)
		}
		return "", fmt.Errorf("%w%s; %s stays", errors.Join(errs...), where, filepath.Join(data, RestoreMarkerFile))
	}
	if err := removeRestoreMarker(data); err != nil {
		return "", err
	}
	if aside != "" {
		return fmt.Sprintf("the previous application state is back in %s (from %s)", data, aside), nil
	}
	return fmt.Sprintf("the application state in %s is empty again, as before it", data), nil
}

// undoInterrupted undoes the restore data's RestoreMarkerFile describes,
// if there is one, and says what it did ("" if there was nothing to do).
func undoInterrupted(data string) (string, error) {
	mk, err := readRestoreMarker(data)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	undone, err := undoRestore(data, mk)
	if err != nil {
		return "", fmt.Errorf("%w: undo it: %v", ErrRestoreInterrupted, err)
	}
	return fmt.Sprintf("the restore of %s (height %d) begun at %s was interrupted and is undone: %s", mk.Export, mk.Height, mk.Started, undone), nil
}

func writeRestoreMarker(data string, mk *restoreMarker) error {
	bz, err := json.MarshalIndent(mk, "", "  ")
	if err != nil {
		return err
	}
	// Durable (fsynced, the directory too) before anything moves.
	if err := atomicfile.WriteFile(filepath.Join(data, RestoreMarkerFile), append(bz, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the restore marker: %w", err)
	}
	return nil
}

func removeRestoreMarker(data string) error {
	p := filepath.Join(data, RestoreMarkerFile)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if err := atomicfile.SyncDir(data); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// readRestoreMarker reads data's RestoreMarkerFile (fs.ErrNotExist if
// there is none).
func readRestoreMarker(data string) (*restoreMarker, error) {
	p := filepath.Join(data, RestoreMarkerFile)
	bz, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	mk := new(restoreMarker)
	if err := json.Unmarshal(bz, mk); err != nil || (mk.Aside != "" && (filepath.Base(mk.Aside) != mk.Aside || !strings.HasPrefix(mk.Aside, "app-state-"))) {
		return nil, fmt.Errorf("%w: %s does not read (%v): look at %s (an app-state-* directory holds a state moved aside) before removing it", ErrRestoreInterrupted, p, err, data)
	}
	return mk, nil
}

// checkNoRestore returns ErrRestoreInterrupted, saying what to do, if
// home's data directory holds RestoreMarkerFile: a restore stopped
// midway (killed, a power loss), and the application state may be half
// replaced. Without this check a node would start on it, and on an
// empty one replay the chain from genesis without a word.
func checkNoRestore(home string) error {
	data := filepath.Join(home, "data")
	mk, err := readRestoreMarker(data)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	prev, force := "it was empty", ""
	if mk.Aside != "" {
		prev, force = "the previous one is in "+filepath.Join(data, mk.Aside), " --force"
	}
	return fmt.Errorf("%w: %s says a restore of %s (height %d, begun at %s by pid %d) did not finish: the application state in %s may be half replaced (%s); nothing starts on it: run `normledger snapshot restore --home %s %s%s` again (as the node's user): it first undoes the interrupted restore, putting the previous application state back, then restores the export",
		ErrRestoreInterrupted, filepath.Join(data, RestoreMarkerFile), mk.Export, mk.Height, mk.Started, mk.PID, data, prev, home, mk.Export, force)
}

// CheckInterrupted refuses a home where a restore or a rollback began
// and did not finish (their markers, RestoreMarkerFile and
// RollbackMarkerFile): the application state may be half replaced, or one
// height behind CometBFT's. The node checks it at start.
func CheckInterrupted(home string) error { return checkInterrupted(home, "") }

// checkInterrupted is CheckInterrupted but for the operation command
// finishes itself.
func checkInterrupted(home, command string) error {
	if command != "snapshot restore" {
		if err := checkNoRestore(home); err != nil {
			return err
		}
	}
	if command != "rollback" {
		return checkNoRollback(home)
	}
	return nil
}

// appStateVersion is the height of the application state in data (0: none
// or empty), opening nothing that is not there.
func appStateVersion(data string) (int64, error) {
	if _, err := os.Stat(filepath.Join(data, "appstate.db")); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(data, store.LogDir)); err == nil {
			return 0, fmt.Errorf("%s has a record log but no state database", data)
		}
		return 0, nil
	}
	st, err := store.Open(data, store.Options{})
	if err != nil {
		return 0, err
	}
	v := st.Version()
	return v, st.Close()
}

// checkAgainstComet checks the export's app hash against the home's
// CometBFT data and requires that data to let the node start from the
// export's height: CometBFT replays its stored blocks after the
// application's height into it, and cannot go back. If the data holds no
// app hash for the export's height (no block Height+1, CometBFT's state
// elsewhere or absent), it returns why, and the caller decides.
func checkAgainstComet(ccfg *cmtcfg.Config, e *exportFile, rep *RestoreReport) (unchecked string, err error) {
	h := e.hdr.Height
	bsdb, err := openCometDB(ccfg, "blockstore")
	if err != nil {
		return "", err
	}
	if bsdb == nil {
		return "", fmt.Errorf("the home has no CometBFT block store (%s): a restore puts the application state back under the node's own chain data, which its next start replays on top; a new node joins by state sync (or from a copy of a whole stopped home)",
			filepath.Join(ccfg.DBDir(), "blockstore.db"))
	}
	defer bsdb.Close()
	bs := cmtstore.NewBlockStore(bsdb)
	base, top := bs.Base(), bs.Height()
	rep.CometHeight = top
	if top < h {
		return "", fmt.Errorf("the home's CometBFT block store ends at height %d, before the export's height %d: CometBFT could not start on a newer application state (it replays forward only); export a height up to %d",
			top, h, top)
	}
	if base > h+1 {
		return "", fmt.Errorf("the home's CometBFT block store starts at height %d: the blocks from %d that the node must replay into the restored state are pruned", base, h+1)
	}
	if meta := bs.LoadBlockMeta(h + 1); meta != nil {
		if !bytes.Equal(meta.Header.AppHash, e.appHash) {
			return "", fmt.Errorf("%w: the export's app hash at height %d is %s, but the home's block %d says %X: the export is of another history",
				ErrBadExport, h, e.hdr.AppHash, h+1, meta.Header.AppHash)
		}
		rep.AppHashSource = "block_store"
		rep.Checks = append(rep.Checks, fmt.Sprintf("the home's block store: the header of block %d carries app hash %s", h+1, e.hdr.AppHash))
		return "", nil
	}
	why := fmt.Sprintf("the home's block store ends at height %d", top)
	sdb, err := openCometDB(ccfg, "state")
	if err != nil {
		return "", err
	}
	if sdb == nil {
		return why + fmt.Sprintf(" and it has no CometBFT state (%s)", filepath.Join(ccfg.DBDir(), "state.db")), nil
	}
	defer sdb.Close()
	state, err := sm.NewStore(sdb, sm.StoreOptions{}).Load()
	if err != nil {
		return "", fmt.Errorf("CometBFT state: %w", err)
	}
	if state.LastBlockHeight != h {
		return why + fmt.Sprintf(" and CometBFT's state is at height %d", state.LastBlockHeight), nil
	}
	if !bytes.Equal(state.AppHash, e.appHash) {
		return "", fmt.Errorf("%w: the export's app hash at height %d is %s, but the home's CometBFT state says %X", ErrBadExport, h, e.hdr.AppHash, state.AppHash)
	}
	rep.AppHashSource = "comet_state"
	rep.Checks = append(rep.Checks, fmt.Sprintf("the home's CometBFT state after block %d: app hash %s", h, e.hdr.AppHash))
	return "", nil
}

// openCometDB opens one of CometBFT's databases of the home read-only
// (nil if it does not exist).
func openCometDB(ccfg *cmtcfg.Config, name string) (dbm.DB, error) {
	dir := ccfg.DBDir()
	if _, err := os.Stat(filepath.Join(dir, name+".db")); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if ccfg.DBBackend != "" && ccfg.DBBackend != string(dbm.GoLevelDBBackend) {
		db, err := dbm.NewDB(name, dbm.BackendType(ccfg.DBBackend), dir)
		if err != nil {
			return nil, fmt.Errorf("open CometBFT's %s: %w", name, err)
		}
		return db, nil
	}
	db, err := dbm.NewGoLevelDBWithOpts(name, dir, &opt.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open CometBFT's %s: %w", name, err)
	}
	return db, nil
}
