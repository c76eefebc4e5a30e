package stix

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/normledger/normledger/ledger"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// A MISP feed (the format MISP's "Add feed" pulls, as PyMISP's feed
// generator writes it: pymisp/tools/feed.py and MISPEvent.to_feed): a
// manifest.json mapping each event's uuid to its summary, one
// <uuid>.json per event ({"Event": ...} with the feed's fields only, no
// distribution or sharing group), and hashes.csv, one line
// "<md5 of an attribute value>,<event uuid>" per attribute value. MISP
// re-fetches an event when its manifest timestamp is newer than its copy.
//
// The events are those of the MISP export (MISP in misp.go) of every
// record. A retracted incident's event stays in the feed with every
// attribute and object marked deleted and the retraction's time as its
// timestamp, so that a MISP instance that pulled it deletes them on its
// next pull (a feed cannot delete an event).

// MISPFeed is a complete feed.
type MISPFeed struct {
	// Manifest is manifest.json.
	Manifest []byte
	// Events maps an event uuid to its file.
	Events map[string][]byte
	// Hashes is hashes.csv.
	Hashes []byte
}

type feedOrg struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
}

type feedTag struct {
	Colour           string `json:"colour"`
	Local            bool   `json:"local"`
	Name             string `json:"name"`
	RelationshipType string `json:"relationship_type"`
}

type feedAttribute struct {
	Category           string    `json:"category"`
	Comment            string    `json:"comment"`
	Deleted            bool      `json:"deleted"`
	DisableCorrelation bool      `json:"disable_correlation"`
	FirstSeen          string    `json:"first_seen,omitempty"`
	ObjectRelation     string    `json:"object_relation,omitempty"`
	Timestamp          string    `json:"timestamp"`
	ToIDs              bool      `json:"to_ids"`
	Type               string    `json:"type"`
	UUID               string    `json:"uuid"`
	Value              string    `json:"value"`
	Tag                []feedTag `json:"Tag,omitempty"`
}

type feedObject struct {
	Comment         string          `json:"comment"`
	Deleted         bool            `json:"deleted"`
	Description     string          `json:"description"`
	MetaCategory    string          `json:"meta-category"`
	Name            string          `json:"name"`
	TemplateUUID    string          `json:"template_uuid"`
	TemplateVersion string          `json:"template_version"`
	Timestamp       string          `json:"timestamp"`
	UUID            string          `json:"uuid"`
	Attribute       []feedAttribute `json:"Attribute"`
}

type feedEvent struct {
	Analysis         string          `json:"analysis"`
	Date             string          `json:"date"`
	ExtendsUUID      string          `json:"extends_uuid"`
	Info             string          `json:"info"`
	Protected        bool            `json:"protected"`
	PublishTimestamp string          `json:"publish_timestamp"`
	Published        bool            `json:"published"`
	ThreatLevelID    string          `json:"threat_level_id"`
	Timestamp        string          `json:"timestamp"`
	UUID             string          `json:"uuid"`
	Orgc             feedOrg         `json:"Orgc"`
	Tag              []feedTag       `json:"Tag"`
	Attribute        []feedAttribute `json:"Attribute,omitempty"`
	Object           []feedObject    `json:"Object,omitempty"`
}

// feedManifestEntry is an event's line in manifest.json.
// Unlike the event files, PyMISP writes its numbers as numbers.
type feedManifestEntry struct {
	Orgc          feedOrg   `json:"Orgc"`
	Tag           []feedTag `json:"Tag"`
	Info          string    `json:"info"`
	Date          string    `json:"date"`
	Analysis      int64     `json:"analysis"`
	ThreatLevelID int64     `json:"threat_level_id"`
	Timestamp     int64     `json:"timestamp"`
}

func feedTags(ts []MISPTag) []feedTag {
	out := []feedTag{}
	for _, t := range ts {
		if !t.Exportable {
			continue
		}
		c := t.Colour
		if c == "" {
			c = "#ffffff"
		}
		out = append(out, feedTag{Colour: c, Name: t.Name})
	}
	return out
}

func feedAttr(a MISPAttribute, deleted bool, ts string) feedAttribute {
	f := feedAttribute{Category: a.Category, Comment: a.Comment, Deleted: a.Deleted || deleted, FirstSeen: a.FirstSeen,
		ObjectRelation: a.ObjectRelation, Timestamp: a.Timestamp, ToIDs: a.ToIDs, Type: a.Type, UUID: a.UUID, Value: a.Value}
	if a.Type == "datetime" {
		f.Value = pyISO(a.Value, 'T')
	}
	if tags := feedTags(a.Tag); len(tags) > 0 {
		f.Tag = tags
	}
	if deleted {
		f.Timestamp = ts
	}
	return f
}

// pyISO writes an RFC 3339 time as Python's datetime.isoformat(sep)
// does (PyMISP reads datetime values into datetimes and writes them back
// so): microseconds only when there are some, the offset as +00:00. A
// value that is not a time is returned as it is.
func pyISO(v string, sep byte) string {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return v
	}
	layout := "2006-01-02" + string(sep) + "15:04:05"
	if t.Nanosecond()/1000 != 0 {
		layout += ".000000"
	}
	return t.Format(layout + "-07:00")
}

// attributeHashes are the md5 digests PyMISP's feed generator lists for
// an attribute: of each part of a composite value ("a|b"), else of the value.
func attributeHashes(a feedAttribute) []string {
	vals := []string{a.Value}
	if a.Type == "datetime" {
		// PyMISP holds the value as a datetime and hashes str() of it.
		vals = []string{pyISO(a.Value, ' ')}
	}
	if strings.Contains(a.Type, "|") || a.Type == "malware-sample" {
		vals = strings.Split(a.Value, "|")
	}
	var out []string
	for _, v := range vals {
		h := md5.Sum([]byte(v))
		out = append(out, hex.EncodeToString(h[:]))
	}
	return out
}

// BuildMISPFeed makes the feed of every record of in (in.Records: the
// whole ledger in order, or at least its incident disclosures,
// amendments, attributions and retractions).
func BuildMISPFeed(in Input) (*MISPFeed, error) {
	// The events of retracted incidents are made too, then marked deleted
	// as of the retraction; retracted attributions ride nowhere.
	retractedAt := map[string]string{}
	for _, r := range in.Records {
		if r.Kind == pb.RecordKind_RECORD_KIND_RETRACTION {
			tx, err := ledger.DecodeTx(r.Tx, 0)
			if err != nil {
				return nil, fmt.Errorf("record %s: %w", r.Id, err)
			}
			retractedAt[mispUUID(tx.Body.Record.GetRetraction().GetTargetId())] = strconv.FormatInt(r.BlockTime.AsTime().Unix(), 10)
		}
	}
	bz, _, err := mispExport(in, Filter{}, true)
	if err != nil {
		return nil, err
	}
	var export struct {
		Response []struct {
			Event MISPEvent `json:"Event"`
		} `json:"response"`
	}
	if err := json.Unmarshal(bz, &export); err != nil {
		return nil, err
	}
	feed := &MISPFeed{Events: map[string][]byte{}}
	manifest := map[string]feedManifestEntry{}
	var hashes bytes.Buffer
	for _, w := range export.Response {
		e := w.Event
		ts, deleted := retractedAt[e.UUID]
		if !deleted {
			ts = e.Timestamp
		}
		fe := feedEvent{Analysis: e.Analysis, Date: e.Date, Info: e.Info, PublishTimestamp: ts, Published: true,
			ThreatLevelID: e.ThreatLevelID, Timestamp: ts, UUID: e.UUID, Orgc: feedOrg(e.Orgc), Tag: feedTags(e.Tag)}
		for _, a := range e.Attribute {
			fe.Attribute = append(fe.Attribute, feedAttr(a, deleted, ts))
		}
		for _, o := range e.Object {
			fo := feedObject{Comment: o.Comment, Deleted: o.Deleted || deleted, Description: o.Description, MetaCategory: o.MetaCategory,
				Name: o.Name, TemplateUUID: o.TemplateUUID, TemplateVersion: o.TemplateVersion, Timestamp: o.Timestamp, UUID: o.UUID,
				Attribute: []feedAttribute{}}
			if deleted {
				fo.Timestamp = ts
			}
			for _, a := range o.Attribute {
				fo.Attribute = append(fo.Attribute, feedAttr(a, deleted, ts))
			}
			fe.Object = append(fe.Object, fo)
		}
		file, err := json.MarshalIndent(map[string]feedEvent{"Event": fe}, "", "  ")
		if err != nil {
			return nil, err
		}
		feed.Events[e.UUID] = append(file, '\n')
		me := feedManifestEntry{Orgc: fe.Orgc, Tag: fe.Tag, Info: fe.Info, Date: fe.Date}
		for _, n := range []struct {
			to   *int64
			from string
		}{{&me.Analysis, fe.Analysis}, {&me.ThreatLevelID, fe.ThreatLevelID}, {&me.Timestamp, fe.Timestamp}} {
			if *n.to, err = strconv.ParseInt(n.from, 10, 64); err != nil {
				return nil, fmt.Errorf("event %s: %q is not a number", e.UUID, n.from)
			}
		}
		manifest[e.UUID] = me
		// hashes.csv as PyMISP's generator writes it: every attribute's
		// value, the event's own first, then its objects'.
		attrs := fe.Attribute
		for _, o := range fe.Object {
			attrs = append(slices.Clone(attrs), o.Attribute...)
		}
		for _, a := range attrs {
			for _, h := range attributeHashes(a) {
				fmt.Fprintf(&hashes, "%s,%s\n", h, e.UUID)
			}
		}
	}
	// encoding/json writes map keys sorted: the manifest is deterministic.
	if feed.Manifest, err = json.MarshalIndent(manifest, "", "  "); err != nil {
		return nil, err
	}
	feed.Manifest = append(feed.Manifest, '\n')
	feed.Hashes = hashes.Bytes()
	return feed, nil
}
