package api

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"sync"

	"google.golang.org/grpc/codes"

	"github.com/normledger/normledger/interop/stix"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/store"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// The MISP feed (interop/stix/mispfeed.go) of the newest attested state:
// GET /misp/manifest.json, /misp/hashes.csv and /misp/<uuid>.json, the
// layout MISP's "Add feed" (source format "MISP Feed") pulls from a URL.
// It is built once per log size and client origin (its ledger links name
// the node as the client reached it) and kept until records are added.

// mispFeedMaxRecords bounds the records a feed is made from.
const mispFeedMaxRecords = 100000

// mispFeedKinds are the kinds the MISP mapping reads.
var mispFeedKinds = []pb.RecordKind{
	pb.RecordKind_RECORD_KIND_INCIDENT_DISCLOSURE, pb.RecordKind_RECORD_KIND_AMENDMENT,
	pb.RecordKind_RECORD_KIND_ATTRIBUTION, pb.RecordKind_RECORD_KIND_RETRACTION,
}

// mispFeedCache keeps the feed per client origin (the links in it name
// the node as the client reached it), for the log size it was made from:
// a new block without records keeps it. Builds are one at a time.
type mispFeedCache struct {
	mu    sync.Mutex
	feeds map[string]*cachedFeed // by base URL
}

type cachedFeed struct {
	records uint64 // the log size it was made from
	height  int64
	feed    *stix.MISPFeed
}

// mispFeedOrigins bounds the origins whose feeds are kept.
const mispFeedOrigins = 8

var mispEventPath = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$`)

func (c *mispFeedCache) register(mux *http.ServeMux, svc *Server, base func(*http.Request) string) {
	mux.HandleFunc("GET /misp/{file}", func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawQuery) > 0 {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument, ledger.CodeBadFormat, "the MISP feed takes no parameters")
			return
		}
		file := r.PathValue("file")
		if file != "manifest.json" && file != "hashes.csv" && !mispEventPath.MatchString(file) {
			writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeNoRoute, "the MISP feed has manifest.json, hashes.csv and <event uuid>.json, not "+file)
			return
		}
		feed, height, err := c.get(r, svc, base(r))
		if err != nil {
			writeStatusError(w, err)
			return
		}
		w.Header().Set("X-Normledger-Height", strconv.FormatInt(height, 10))
		w.Header().Set("Cache-Control", "no-cache")
		switch file {
		case "manifest.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(feed.Manifest)
		case "hashes.csv":
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Write(feed.Hashes)
		default:
			ev, ok := feed.Events[file[:len(file)-len(".json")]]
			if !ok {
				writeError(w, http.StatusNotFound, codes.NotFound, ledger.CodeUnknownRecord, "the feed has no event "+file)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(ev)
		}
	})
}

func (c *mispFeedCache) get(r *http.Request, svc *Server, base string) (*stix.MISPFeed, int64, error) {
	v, err := svc.view(0)
	if err != nil {
		return nil, 0, err
	}
	n, err := v.RecordCount()
	if err != nil {
		return nil, 0, internal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.feeds[base]; f != nil && f.records >= n {
		// The same records (a view that is not newer never replaces it).
		return f.feed, f.height, nil
	}
	in, err := mispFeedInput(r, svc, v, base)
	if err != nil {
		return nil, 0, err
	}
	feed, err := stix.BuildMISPFeed(in)
	if err != nil {
		return nil, 0, internal(err)
	}
	if c.feeds == nil || len(c.feeds) >= mispFeedOrigins && c.feeds[base] == nil {
		c.feeds = map[string]*cachedFeed{}
	}
	c.feeds[base] = &cachedFeed{records: n, height: v.Version(), feed: feed}
	return feed, v.Version(), nil
}

// mispFeedInput reads the records of the kinds the MISP mapping reads,
// in ledger order, with the members and the chain.
func mispFeedInput(r *http.Request, svc *Server, v *store.View, base string) (stix.Input, error) {
	var recs []*pb.StoredRecord
	for _, k := range mispFeedKinds {
		f := store.Filter{Kind: svc.reg.Kind(k).Name, Limit: store.MaxPageSize}
		for {
			page, next, err := v.List(f)
			if err != nil {
				return stix.Input{}, internal(err)
			}
			recs = append(recs, page...)
			if len(recs) > mispFeedMaxRecords {
				return stix.Input{}, apiError(codes.InvalidArgument, ledger.CodeBadFormat,
					fmt.Sprintf("more than %d records make the MISP feed: use normledger export misp with --since", mispFeedMaxRecords))
			}
			if next == 0 {
				break
			}
			f.After = next
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	ms, err := v.Members()
	if err != nil {
		return stix.Input{}, internal(err)
	}
	in := stix.Input{Members: ms, Records: recs, BaseURL: base}
	g, err := svc.chain.Genesis(r.Context())
	if err != nil || g.Genesis == nil {
		return stix.Input{}, apiError(codes.Unavailable, ledger.CodeUnavailable, fmt.Sprintf("the genesis is not readable: %v", err))
	}
	in.ChainID, in.GenesisTime = g.Genesis.ChainID, g.Genesis.GenesisTime
	return in, nil
}
