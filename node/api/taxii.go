package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// A read-only TAXII 2.1 server (OASIS TAXII Version 2.1, sections 4 and
// 5): discovery, one API root, collections, objects, an object and its
// versions, manifests. What a collection holds is the ledger's object
// stream (interop/stix/stream.go): the STIX objects each record of the
// log adds, in log order, with the reference objects (identities, the
// extension definition, TLP marking definitions) placed by the time they
// changed. Every node computes the same stream from the same log:
// date_added is the block time of the record's block (to the
// microsecond, the precision TAXII timestamps are written in), and next is
// a position in that order, so a client may continue on another node.

const (
	taxiiMedia        = "application/taxii+json;version=2.1"
	stixMedia         = "application/stix+json;version=2.1"
	taxiiDefaultLimit = 100
	taxiiMaxLimit     = 1000
	// taxiiMaxScan bounds the records one request examines; a page may end
	// early (more: true) when a collection's objects are sparse.
	taxiiMaxScan = 2000
	// taxiiMaxContent is the API root's max_content_length (the server
	// accepts no content: it is read-only; this bounds a request body).
	taxiiMaxContent = 1 << 20
)

// taxiiCollection is one collection: the objects of one TLP marking (or
// all, or those with none).
type taxiiCollection struct {
	alias, title, desc string
	marking            string // marking-definition id; "" with all/unmarked
	all, unmarked      bool
}

var taxiiCollections = func() []taxiiCollection {
	cs := []taxiiCollection{{alias: "all", title: "normledger: every record", all: true,
		desc: "Every object the ledger's records make, whatever their TLP marking."}}
	for _, t := range []struct {
		tlp   pb.Tlp
		alias string
		name  string
	}{
		{pb.Tlp_TLP_CLEAR, "tlp-clear", "TLP:CLEAR"}, {pb.Tlp_TLP_GREEN, "tlp-green", "TLP:GREEN"},
		{pb.Tlp_TLP_AMBER, "tlp-amber", "TLP:AMBER"}, {pb.Tlp_TLP_AMBER_STRICT, "tlp-amber-strict", "TLP:AMBER+STRICT"},
		{pb.Tlp_TLP_RED, "tlp-red", "TLP:RED"},
	} {
		raw, _ := stix.OfficialMarking(t.tlp)
		var m struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &m)
		cs = append(cs, taxiiCollection{alias: t.alias, title: "normledger: " + t.name, marking: m.ID,
			desc: "The objects of records marked " + t.name + " by their authors (an amendment: the strictest of its original's, its own and its new version's)."})
	}
	return append(cs, taxiiCollection{alias: "unmarked", title: "normledger: no TLP marking", unmarked: true,
		desc: "The objects of records whose authors set no TLP marking."})
}()

// taxiiCollectionID is a collection's id: the same on every node of a chain.
func taxiiCollectionID(chainID, alias string) string {
	return uuid.NewSHA1(stix.Namespace, []byte("taxii-collection\x00"+chainID+"\x00"+alias)).String()
}

func (c *taxiiCollection) holds(marking string) bool {
	switch {
	case c.all:
		return true
	case c.unmarked:
		return marking == ""
	}
	return marking == c.marking
}

// streamKey orders the stream: by date_added, record objects before
// reference objects of the same time, then by log position and place in
// the record, or by object id.
type streamKey struct {
	t     int64 // date_added, Unix microseconds
	class uint8 // 0: a record's object, 1: a reference object
	seq   uint64
	k     int
	id    string
}

func (a streamKey) less(b streamKey) bool {
	switch {
	case a.t != b.t:
		return a.t < b.t
	case a.class != b.class:
		return a.class < b.class
	case a.seq != b.seq:
		return a.seq < b.seq
	case a.k != b.k:
		return a.k < b.k
	}
	return a.id < b.id
}

// encode is the key as a next token: opaque to clients, the same on
// every node.
func (a streamKey) encode() string {
	s := fmt.Sprintf("%d.%d.%d.%d.%s", a.t, a.class, a.seq, a.k, a.id)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeStreamKey(s string) (streamKey, error) {
	bz, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return streamKey{}, errors.New("next is not a token this server issued")
	}
	f := strings.SplitN(string(bz), ".", 5)
	if len(f) != 5 {
		return streamKey{}, errors.New("next is not a token this server issued")
	}
	var k streamKey
	var c uint64
	var e1, e2, e3, e4 error
	k.t, e1 = strconv.ParseInt(f[0], 10, 64)
	c, e2 = strconv.ParseUint(f[1], 10, 8)
	k.seq, e3 = strconv.ParseUint(f[2], 10, 64)
	k.k, e4 = strconv.Atoi(f[3])
	k.class, k.id = uint8(c), f[4]
	if errors.Join(e1, e2, e3, e4) != nil || k.class > 1 || k.k < 0 || k.class == 0 && k.seq < 1 {
		return streamKey{}, errors.New("next is not a token this server issued")
	}
	return k, nil
}

// streamEntry is one object version in the stream.
type streamEntry struct {
	key streamKey
	obj stix.StreamObject
	// retraction: made by a retraction (a revoked or restored version).
	retraction bool
}

func micros(t time.Time) int64 { return t.UTC().UnixMicro() }

// taxiiTime writes a TAXII timestamp (UTC, microseconds, Z).
func taxiiTime(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.000000Z")
}

// taxii serves the TAXII routes of one node.
type taxii struct {
	svc *Server
	// build serializes extending the index; mu guards versions and
	// indexed (held only to read or append, never while computing).
	build sync.Mutex
	mu    sync.Mutex
	// versions maps an object id to the log positions that add a version
	// of it, ascending; built up to indexed records as requests need it.
	versions map[string][]uint64
	indexed  uint64
	cache    map[uint64]cachedEntries
}

func newTaxii(svc *Server) *taxii {
	return &taxii{svc: svc, versions: map[string][]uint64{}, cache: map[uint64]cachedEntries{}}
}

// taxiiCacheRecords bounds the records whose entries are kept.
const taxiiCacheRecords = 50000

// cachedEntries are a record's entries (computed with taxiiBase), kept:
// they depend only on records before it, which never change.
type cachedEntries struct {
	es []streamEntry
	at time.Time
}

func (t *taxii) cached(seq uint64) (cachedEntries, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.cache[seq]
	return c, ok
}

func (t *taxii) keep(seq uint64, c cachedEntries) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.cache) >= taxiiCacheRecords {
		clear(t.cache) // simple and bounded: the next requests fill it again
	}
	t.cache[seq] = c
}

// taxiiError writes a TAXII error message (section 3.6.1).
func taxiiError(w http.ResponseWriter, status int, title, desc string) {
	w.Header().Set("Content-Type", taxiiMedia)
	w.WriteHeader(status)
	bz, _ := json.Marshal(map[string]string{"title": title, "description": desc, "http_status": strconv.Itoa(status)})
	w.Write(bz)
}

func taxiiWrite(w http.ResponseWriter, v any) {
	bz, err := json.Marshal(v)
	if err != nil {
		taxiiError(w, http.StatusInternalServerError, "Internal error", err.Error())
		return
	}
	w.Header().Set("Content-Type", taxiiMedia)
	w.Write(bz)
}

// acceptsTAXII says the request's Accept header admits the TAXII 2.1
// media type (no header, a wildcard, or application/taxii+json without a
// version or with 2.1).
func acceptsTAXII(r *http.Request) bool {
	h := r.Header.Values("Accept")
	if len(h) == 0 {
		return true
	}
	for _, v := range h {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q := params["q"]; q == "0" || q == "0.0" || q == "0.00" || q == "0.000" {
				continue
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if v, ok := params["version"]; !ok || v == "2.1" {
					return true
				}
			}
		}
	}
	return false
}

// register adds the TAXII routes to mux; base gives the scheme and host
// the client reached the node at.
func (t *taxii) register(mux *http.ServeMux, base func(*http.Request) string) {
	wrap := func(h func(w http.ResponseWriter, r *http.Request, base string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !acceptsTAXII(r) {
				taxiiError(w, http.StatusNotAcceptable, "Not acceptable", "this server answers "+taxiiMedia)
				return
			}
			h(w, r, base(r))
		}
	}
	readOnly := func(w http.ResponseWriter, r *http.Request) {
		taxiiError(w, http.StatusForbidden, "Read only", "the ledger's collections cannot be written through TAXII (can_write is false): records are signed transactions (docs/signing.md)")
	}
	mux.HandleFunc("GET /taxii2/{$}", wrap(t.discovery))
	mux.HandleFunc("GET /taxii2/api/{$}", wrap(t.apiRoot))
	mux.HandleFunc("GET /taxii2/api/status/{id}/{$}", wrap(func(w http.ResponseWriter, r *http.Request, _ string) {
		taxiiError(w, http.StatusNotFound, "Unknown status", "this server accepts no objects, so it has no status resources")
	}))
	mux.HandleFunc("GET /taxii2/api/collections/{$}", wrap(t.collections))
	mux.HandleFunc("GET /taxii2/api/collections/{id}/{$}", wrap(t.collection))
	mux.HandleFunc("GET /taxii2/api/collections/{id}/objects/{$}", wrap(func(w http.ResponseWriter, r *http.Request, base string) {
		t.objects(w, r, base, false)
	}))
	mux.HandleFunc("GET /taxii2/api/collections/{id}/manifest/{$}", wrap(func(w http.ResponseWriter, r *http.Request, base string) {
		t.objects(w, r, base, true)
	}))
	mux.HandleFunc("GET /taxii2/api/collections/{id}/objects/{object}/{$}", wrap(t.object))
	mux.HandleFunc("GET /taxii2/api/collections/{id}/objects/{object}/versions/{$}", wrap(t.objectVersions))
	mux.HandleFunc("POST /taxii2/api/collections/{id}/objects/{$}", readOnly)
	mux.HandleFunc("DELETE /taxii2/api/collections/{id}/objects/{object}/{$}", readOnly)
	mux.HandleFunc("/taxii2/", func(w http.ResponseWriter, r *http.Request) {
		taxiiError(w, http.StatusNotFound, "Not found", "no TAXII endpoint at "+r.URL.Path+" (TAXII URLs end in /)")
	})
}

func (t *taxii) discovery(w http.ResponseWriter, r *http.Request, base string) {
	root := base + "/taxii2/api/"
	taxiiWrite(w, map[string]any{
		"title":       "normledger",
		"description": "The STIX 2.1 objects of a normledger chain's records, read only. Each object links to its signed record and merkle proof on this node.",
		"default":     root,
		"api_roots":   []string{root},
	})
}

func (t *taxii) apiRoot(w http.ResponseWriter, r *http.Request, base string) {
	taxiiWrite(w, map[string]any{
		"title":              "normledger " + t.chainID(r),
		"description":        "Collections by TLP marking of the records of chain " + t.chainID(r) + ".",
		"versions":           []string{taxiiMedia},
		"max_content_length": taxiiMaxContent,
	})
}

func (t *taxii) chainID(r *http.Request) string {
	if g, err := t.svc.chain.Genesis(r.Context()); err == nil && g.Genesis != nil {
		return g.Genesis.ChainID
	}
	return ""
}

func (t *taxii) collectionJSON(chainID string, c *taxiiCollection) map[string]any {
	return map[string]any{"id": taxiiCollectionID(chainID, c.alias), "alias": c.alias, "title": c.title,
		"description": c.desc, "can_read": true, "can_write": false, "media_types": []string{stixMedia}}
}

func (t *taxii) collections(w http.ResponseWriter, r *http.Request, _ string) {
	chainID := t.chainID(r)
	var out []map[string]any
	for i := range taxiiCollections {
		out = append(out, t.collectionJSON(chainID, &taxiiCollections[i]))
	}
	taxiiWrite(w, map[string]any{"collections": out})
}

// findCollection resolves the {id} of a request (its id, or its alias).
func (t *taxii) findCollection(w http.ResponseWriter, r *http.Request) (*taxiiCollection, bool) {
	chainID, id := t.chainID(r), r.PathValue("id")
	for i := range taxiiCollections {
		c := &taxiiCollections[i]
		if id == taxiiCollectionID(chainID, c.alias) || id == c.alias {
			return c, true
		}
	}
	taxiiError(w, http.StatusNotFound, "Unknown collection", fmt.Sprintf("no collection %q: GET /taxii2/api/collections/ lists them", id))
	return nil, false
}

func (t *taxii) collection(w http.ResponseWriter, r *http.Request, _ string) {
	if c, ok := t.findCollection(w, r); ok {
		taxiiWrite(w, t.collectionJSON(t.chainID(r), c))
	}
}

// taxiiMatch is a request's filters (section 3.4).
type taxiiMatch struct {
	ids, types, specs []string
	version           []string // last (default), first, all, or timestamps
	limit             int
	hasAfter          bool
	after             streamKey // added_after or next: serve what sorts after it
}

func (m *taxiiMatch) wantsVersion(v string, first, last bool) bool {
	for _, x := range m.version {
		switch x {
		case "all":
			return true
		case "first":
			if first {
				return true
			}
		case "last":
			if last {
				return true
			}
		default:
			// A timestamp: the same instant, however many digits.
			a, err1 := time.Parse(time.RFC3339Nano, x)
			b, err2 := time.Parse(time.RFC3339Nano, v)
			if err1 == nil && err2 == nil && a.Equal(b) {
				return true
			}
		}
	}
	return false
}

func (m *taxiiMatch) matches(o stix.StreamObject) bool {
	return (len(m.ids) == 0 || slices.Contains(m.ids, o.ID)) &&
		(len(m.types) == 0 || slices.Contains(m.types, o.Type)) &&
		(len(m.specs) == 0 || slices.Contains(m.specs, o.SpecVersion))
}

// parseMatch reads the query of an objects, manifest, object or versions
// request; allowed names the parameters the endpoint takes.
func parseMatch(q url.Values, allowed ...string) (*taxiiMatch, error) {
	m := &taxiiMatch{limit: taxiiDefaultLimit, version: []string{"last"}}
	for name := range q {
		// A match[...] filter this server does not know is ignored (a
		// client may send filters of a later TAXII); any other unknown
		// parameter is a mistake worth naming.
		if !slices.Contains(allowed, name) && !(strings.HasPrefix(name, "match[") && strings.HasSuffix(name, "]") &&
			!slices.Contains([]string{"match[id]", "match[type]", "match[version]", "match[spec_version]"}, name)) {
			return nil, fmt.Errorf("unknown parameter %q (this endpoint takes %s)", name, strings.Join(allowed, ", "))
		}
	}
	list := func(name string) []string {
		var out []string
		for _, v := range q[name] {
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					out = append(out, s)
				}
			}
		}
		return out
	}
	m.ids, m.types, m.specs = list("match[id]"), list("match[type]"), list("match[spec_version]")
	if v := list("match[version]"); len(v) > 0 {
		for _, x := range v {
			if x != "all" && x != "first" && x != "last" {
				if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
					return nil, fmt.Errorf("match[version] %q is not last, first, all or a timestamp", x)
				}
			}
		}
		m.version = v
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("limit %q is not a positive integer", s)
		}
		m.limit = min(n, taxiiMaxLimit)
	}
	if s := q.Get("added_after"); s != "" {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("added_after %q is not a timestamp", s)
		}
		// Everything added after it: the greatest key of that microsecond.
		m.after, m.hasAfter = streamKey{t: micros(at), class: 2}, true
	}
	if s := q.Get("next"); s != "" {
		k, err := decodeStreamKey(s)
		if err != nil {
			return nil, err
		}
		if !m.hasAfter || m.after.less(k) {
			m.after, m.hasAfter = k, true
		}
	}
	return m, nil
}

// source is what one request reads: the newest attested view and what
// every record's objects are computed with.
type taxiiSource struct {
	t     *taxii
	v     *store.View
	in    stix.Input // BaseURL: taxiiBase, replaced in answers (raw)
	base  []byte     // scheme://host as the client reached the node, as in a JSON string
	count uint64
	refs  []streamEntry // sorted by key
}

// taxiiBase stands for the node's address in the objects computed (and
// cached) for every client; raw writes the client's in its place.
const taxiiBase = "https://node.normledger.invalid"

// raw is an object as written to the client: its links name the node as
// the client reached it.
func (s *taxiiSource) raw(o json.RawMessage) json.RawMessage {
	return bytes.ReplaceAll(o, []byte(taxiiBase), s.base)
}

func (t *taxii) source(r *http.Request, base string) (*taxiiSource, error) {
	v, err := t.svc.view(0)
	if err != nil {
		return nil, err
	}
	n, err := v.RecordCount()
	if err != nil {
		return nil, err
	}
	ms, err := v.Members()
	if err != nil {
		return nil, err
	}
	in := stix.Input{Members: ms, BaseURL: taxiiBase}
	// The chain id names the collections and the genesis time dates the
	// reference objects: without them every answer would differ from
	// other nodes'.
	g, err := t.svc.chain.Genesis(r.Context())
	if err != nil || g.Genesis == nil {
		return nil, apiError(codes.Unavailable, ledger.CodeUnavailable, fmt.Sprintf("the genesis is not readable: %v", err))
	}
	in.ChainID, in.GenesisTime = g.Genesis.ChainID, g.Genesis.GenesisTime
	quoted, _ := json.Marshal(base)
	src := &taxiiSource{t: t, v: v, in: in, base: quoted[1 : len(quoted)-1], count: n}
	objs, err := stix.ReferenceObjects(in)
	if err != nil {
		return nil, err
	}
	// A member's identity was added when it last changed (exactly: the
	// identity's modified is in milliseconds).
	changed := map[string]time.Time{}
	for _, m := range ms {
		for _, h := range m.History {
			if h.Time != nil && h.Time.AsTime().After(changed[stix.MemberIdentity(m.Id)]) {
				changed[stix.MemberIdentity(m.Id)] = h.Time.AsTime()
			}
		}
	}
	for _, o := range objs {
		added := in.GenesisTime
		if t, ok := changed[o.ID]; ok && t.After(added) {
			added = t
		} else if v, err := time.Parse(time.RFC3339Nano, o.Version); err == nil && o.Type != "identity" && o.Type != "marking-definition" && v.After(added) {
			// The extension definition: a new version after an upgrade.
			added = v
		}
		src.refs = append(src.refs, streamEntry{key: streamKey{t: micros(added), class: 1, id: o.ID}, obj: o})
	}
	sort.Slice(src.refs, func(i, j int) bool { return src.refs[i].key.less(src.refs[j].key) })
	return src, src.t.index(src)
}

// recordEntries computes the object versions record seq adds.
func (s *taxiiSource) recordEntries(seq uint64) ([]streamEntry, error) {
	es, _, err := s.recordEntriesAt(seq)
	return es, err
}

// recordEntriesAt is recordEntries with the record's block time.
func (s *taxiiSource) recordEntriesAt(seq uint64) ([]streamEntry, time.Time, error) {
	if c, ok := s.t.cached(seq); ok {
		return c.es, c.at, nil
	}
	es, at, err := s.computeEntries(seq)
	if err == nil {
		s.t.keep(seq, cachedEntries{es, at})
	}
	return es, at, err
}

// computeEntries is recordEntriesAt without the cache.
func (s *taxiiSource) computeEntries(seq uint64) ([]streamEntry, time.Time, error) {
	r, err := s.v.RecordBySeq(seq)
	if err != nil || r == nil {
		return nil, time.Time{}, fmt.Errorf("record %d: %v", seq, err)
	}
	added := r.BlockTime.AsTime()
	ids, err := stix.RecordRefs(r)
	if err != nil {
		return nil, added, err
	}
	var ctx []*pb.StoredRecord
	seen := map[string]bool{}
	var load func(ids []string, depth int) error
	load = func(ids []string, depth int) error {
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			c, err := s.v.Record(id)
			if err != nil {
				return err
			}
			if c == nil || c.Seq >= seq {
				continue
			}
			ctx = append(ctx, c)
			// A retraction's target is exported beside it: what the
			// target names is read too.
			if depth == 0 && r.Kind == pb.RecordKind_RECORD_KIND_RETRACTION {
				more, err := stix.RecordRefs(c)
				if err != nil {
					return err
				}
				if err := load(more, 1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := load(ids, 0); err != nil {
		return nil, added, err
	}
	// The earlier versions of the object this record makes a version of
	// (for a retraction: its target's).
	famRec := r
	if target, err := stix.RetractionTarget(r); err != nil {
		return nil, added, err
	} else if target != "" {
		famRec = nil
		for _, c := range ctx {
			if c.Id == target {
				famRec = c
			}
		}
	}
	var family []*pb.StoredRecord
	if famRec != nil {
		famID, err := stix.VersionedObjectID(famRec)
		if err != nil {
			return nil, added, err
		}
		for _, p := range s.positions(famID) {
			if p >= seq {
				continue
			}
			f, err := s.v.RecordBySeq(p)
			if err != nil || f == nil {
				return nil, added, fmt.Errorf("record %d: %v", p, err)
			}
			family = append(family, f)
		}
	}
	objs, err := stix.RecordObjects(s.in, r, ctx, family)
	if err != nil {
		return nil, added, err
	}
	out := make([]streamEntry, len(objs))
	for k, o := range objs {
		out[k] = streamEntry{key: streamKey{t: micros(added), seq: seq, k: k}, obj: o,
			retraction: r.Kind == pb.RecordKind_RECORD_KIND_RETRACTION}
	}
	return out, added, nil
}

// index extends the object-version index to the source's log size.
func (t *taxii) index(s *taxiiSource) error {
	t.build.Lock()
	defer t.build.Unlock()
	t.mu.Lock()
	from := t.indexed + 1
	t.mu.Unlock()
	for seq := from; seq <= s.count; seq++ {
		// A record's entries may read the index below it (a retraction's
		// target's versions): computed without holding mu.
		es, err := s.recordEntries(seq)
		if err != nil {
			return err
		}
		t.mu.Lock()
		for _, e := range es {
			if vs := t.versions[e.obj.ID]; len(vs) == 0 || vs[len(vs)-1] != seq {
				t.versions[e.obj.ID] = append(vs, seq)
			}
		}
		t.indexed = seq
		t.mu.Unlock()
	}
	return nil
}

// positions lists the log positions that add versions of object id, up to
// the source's log size.
func (s *taxiiSource) positions(id string) []uint64 {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	var out []uint64
	for _, seq := range s.t.versions[id] {
		if seq <= s.count {
			out = append(out, seq)
		}
	}
	return out
}

// firstLast says whether entry e is the first and the last version of its
// object that collection c holds.
func (s *taxiiSource) firstLast(c *taxiiCollection, e streamEntry) (first, last bool, err error) {
	if e.key.class == 1 {
		return true, true, nil // a reference object: only its current version is served
	}
	if ps := s.positions(e.obj.ID); len(ps) <= 1 {
		return true, true, nil
	}
	vs, err := s.versionsOf(c, e.obj.ID)
	if err != nil || len(vs) == 0 {
		return true, true, err
	}
	return vs[0].key == e.key, vs[len(vs)-1].key == e.key, nil
}

// firstAfter is the first log position whose block time, to the
// microsecond, is after us (count+1 when none): block times never
// decrease along the log.
func (s *taxiiSource) firstAfter(us int64) (uint64, error) {
	var ferr error
	i := sort.Search(int(s.count), func(i int) bool {
		if ferr != nil {
			return true
		}
		r, err := s.v.RecordBySeq(uint64(i) + 1)
		if err != nil || r == nil {
			ferr = fmt.Errorf("record %d: %v", i+1, err)
			return true
		}
		return micros(r.BlockTime.AsTime()) > us
	})
	return uint64(i) + 1, ferr
}

// page collects up to m.limit entries of collection c that sort after
// m.after (all, without it) and match m; more says there may be others.
func (s *taxiiSource) page(c *taxiiCollection, m *taxiiMatch) (out []streamEntry, more bool, last streamKey, err error) {
	after := m.after
	start := uint64(1)
	if m.hasAfter {
		if after.class == 0 {
			start = after.seq
		} else if start, err = s.firstAfter(after.t); err != nil {
			return nil, false, last, err
		}
	}
	refs := s.refs
	if m.hasAfter {
		refs = slices.DeleteFunc(slices.Clone(refs), func(e streamEntry) bool { return !after.less(e.key) })
	}
	var kerr error
	keep := func(e streamEntry) bool {
		if !m.matches(e.obj) {
			return false
		}
		held, err := s.holds(c, e)
		if err != nil || !held {
			kerr = errors.Join(kerr, err)
			return false
		}
		first, lastV, err := s.firstLast(c, e)
		if err != nil {
			kerr = errors.Join(kerr, err)
			return false
		}
		return m.wantsVersion(e.obj.Version, first, lastV)
	}
	// take adds e if it is kept; false when the page is full (e then
	// counts as a sign of more).
	take := func(e streamEntry) bool {
		if !keep(e) {
			last = e.key
			return true
		}
		if len(out) == m.limit {
			more = true
			return false
		}
		out = append(out, e)
		last = e.key
		return true
	}
	scanned := 0
	for seq := start; seq <= s.count; seq++ {
		if scanned == taxiiMaxScan {
			return out, true, last, kerr
		}
		scanned++
		es, at, err := s.recordEntriesAt(seq)
		if err != nil {
			return nil, false, last, err
		}
		// The reference objects added before this record's time.
		for rk := (streamKey{t: micros(at), seq: seq}); len(refs) > 0 && refs[0].key.less(rk); refs = refs[1:] {
			if !take(refs[0]) {
				return out, true, last, kerr
			}
		}
		if len(es) == 0 {
			// Nothing here; a page that ends at the work limit goes on
			// after this record.
			if k := (streamKey{t: micros(at), seq: seq, k: 1 << 30}); last.less(k) {
				last = k
			}
		}
		for _, e := range es {
			if m.hasAfter && !after.less(e.key) {
				continue
			}
			if !take(e) {
				return out, true, last, kerr
			}
		}
	}
	for _, e := range refs {
		if !take(e) {
			return out, true, last, kerr
		}
	}
	return out, false, last, kerr
}

// holds says collection c holds entry e: every collection holds the
// reference objects (what its objects refer to).
// A retraction's version (a revocation, or the version that stands again
// after a retracted amendment) also goes to every collection that held
// an earlier version of the object: its subscribers must learn of it,
// whatever the marking of the content that stands.
func (s *taxiiSource) holds(c *taxiiCollection, e streamEntry) (bool, error) {
	if e.key.class == 1 || c.holds(e.obj.Marking) {
		return true, nil
	}
	if !e.retraction {
		return false, nil
	}
	for _, p := range s.positions(e.obj.ID) {
		if p >= e.key.seq {
			break
		}
		es, err := s.recordEntries(p)
		if err != nil {
			return false, err
		}
		for _, x := range es {
			if x.obj.ID == e.obj.ID && c.holds(x.obj.Marking) {
				return true, nil
			}
		}
	}
	return false, nil
}

// dateHeaders sets X-TAXII-Date-Added-First and -Last of a page.
func dateHeaders(w http.ResponseWriter, es []streamEntry) {
	if len(es) == 0 {
		return
	}
	w.Header().Set("X-TAXII-Date-Added-First", taxiiTime(es[0].key.t))
	w.Header().Set("X-TAXII-Date-Added-Last", taxiiTime(es[len(es)-1].key.t))
}

func (t *taxii) sourceOrError(w http.ResponseWriter, r *http.Request, base string) *taxiiSource {
	src, err := t.source(r, base)
	if err != nil {
		st := status.Convert(err)
		taxiiError(w, runtime.HTTPStatusFromCode(st.Code()), "Unavailable", st.Message())
		return nil
	}
	return src
}

// objects serves the objects (or, manifest, the manifest) of a collection.
func (t *taxii) objects(w http.ResponseWriter, r *http.Request, base string, manifest bool) {
	c, ok := t.findCollection(w, r)
	if !ok {
		return
	}
	m, err := parseMatch(r.URL.Query(), "added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]")
	if err != nil {
		taxiiError(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	src := t.sourceOrError(w, r, base)
	if src == nil {
		return
	}
	es, more, last, err := src.page(c, m)
	if err != nil {
		taxiiError(w, http.StatusInternalServerError, "Internal error", err.Error())
		return
	}
	dateHeaders(w, es)
	w.Header().Set("X-Normledger-Height", strconv.FormatInt(src.v.Version(), 10))
	out := map[string]any{"more": more}
	if more {
		out["next"] = last.encode()
	}
	if manifest {
		rows := make([]map[string]string, 0, len(es))
		for _, e := range es {
			rows = append(rows, map[string]string{"id": e.obj.ID, "date_added": taxiiTime(e.key.t),
				"version": e.obj.Version, "media_type": stixMedia})
		}
		if len(rows) > 0 {
			out["objects"] = rows
		}
	} else {
		objs := make([]json.RawMessage, 0, len(es))
		for _, e := range es {
			objs = append(objs, src.raw(e.obj.Raw))
		}
		if len(objs) > 0 {
			out["objects"] = objs
		}
	}
	taxiiWrite(w, out)
}

// versionsOf returns every version of object id the collection holds, in
// stream order.
func (s *taxiiSource) versionsOf(c *taxiiCollection, id string) ([]streamEntry, error) {
	var out []streamEntry
	for _, e := range s.refs {
		if e.obj.ID == id {
			out = append(out, e)
		}
	}
	for _, seq := range s.positions(id) {
		es, err := s.recordEntries(seq)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.obj.ID != id {
				continue
			}
			if ok, err := s.holds(c, e); err != nil {
				return nil, err
			} else if ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// objectRequest reads an object or versions request (the query names
// allowed) and the versions of its object the collection holds; ok false
// when it has answered.
func (t *taxii) objectRequest(w http.ResponseWriter, r *http.Request, base string, allowed ...string) (*taxiiMatch, *taxiiSource, []streamEntry, bool) {
	c, ok := t.findCollection(w, r)
	if !ok {
		return nil, nil, nil, false
	}
	m, err := parseMatch(r.URL.Query(), allowed...)
	if err != nil {
		taxiiError(w, http.StatusBadRequest, "Bad request", err.Error())
		return nil, nil, nil, false
	}
	src := t.sourceOrError(w, r, base)
	if src == nil {
		return nil, nil, nil, false
	}
	vs, err := src.versionsOf(c, r.PathValue("object"))
	if err != nil {
		taxiiError(w, http.StatusInternalServerError, "Internal error", err.Error())
		return nil, nil, nil, false
	}
	if len(vs) == 0 {
		taxiiError(w, http.StatusNotFound, "Unknown object", fmt.Sprintf("collection %s holds no object %s", c.alias, r.PathValue("object")))
		return nil, nil, nil, false
	}
	return m, src, vs, true
}

func (t *taxii) object(w http.ResponseWriter, r *http.Request, base string) {
	m, src, vs, ok := t.objectRequest(w, r, base, "added_after", "limit", "next", "match[version]", "match[spec_version]")
	if !ok {
		return
	}
	var es []streamEntry
	for i, e := range vs {
		if m.hasAfter && !m.after.less(e.key) {
			continue
		}
		if m.matches(e.obj) && m.wantsVersion(e.obj.Version, i == 0, i == len(vs)-1) {
			es = append(es, e)
		}
	}
	more := false
	var last streamKey
	if len(es) > m.limit {
		es, more = es[:m.limit], true
	}
	if len(es) > 0 {
		last = es[len(es)-1].key
	}
	dateHeaders(w, es)
	out := map[string]any{"more": more}
	if more {
		out["next"] = last.encode()
	}
	objs := make([]json.RawMessage, 0, len(es))
	for _, e := range es {
		objs = append(objs, src.raw(e.obj.Raw))
	}
	if len(objs) > 0 {
		out["objects"] = objs
	}
	taxiiWrite(w, out)
}

func (t *taxii) objectVersions(w http.ResponseWriter, r *http.Request, base string) {
	m, _, vs, ok := t.objectRequest(w, r, base, "added_after", "limit", "next", "match[spec_version]")
	if !ok {
		return
	}
	var es []streamEntry
	for _, e := range vs {
		if (!m.hasAfter || m.after.less(e.key)) && m.matches(e.obj) {
			es = append(es, e)
		}
	}
	more := false
	if len(es) > m.limit {
		es, more = es[:m.limit], true
	}
	versions := make([]string, 0, len(es))
	for _, e := range es {
		versions = append(versions, e.obj.Version)
	}
	dateHeaders(w, es)
	out := map[string]any{"more": more}
	if more {
		out["next"] = es[len(es)-1].key.encode()
	}
	if len(versions) > 0 {
		out["versions"] = versions
	}
	taxiiWrite(w, out)
}
