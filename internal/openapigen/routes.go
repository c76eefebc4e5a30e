package main

import (
	"maps"
	"slices"
	"strings"

	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/node/api"
)

// The routes the node serves itself, outside the gateway, that clients
// need: the STIX export, the read-only TAXII 2.1 server (node/api/taxii.go)
// and the MISP feed. They are in the document so that both the Swagger 2.0
// and the OpenAPI 3 form (proto.OpenAPI3) describe them and clients
// generated from either can call them.
//
// TAXII and MISP operations carry ownRouteExt: their handlers read their
// own query strings (TAXII's match[type]... ) and answer in their own
// formats, so the strict edge (node/api/strict.go) serves them as its own
// routes and does not check them against this document.

const (
	taxiiMedia = "application/taxii+json;version=2.1"
	stixMedia  = "application/stix+json;version=2.1"
	// ownRouteExt marks an operation the strict edge leaves to its handler.
	ownRouteExt = "x-normledger-own-route"
)

// q is a query parameter.
func q(name, typ, format, desc string) obj {
	o := obj{"name": name, "in": "query", "required": false, "type": typ, "description": desc}
	if format != "" {
		o["format"] = format
	}
	return o
}

// pathParam is a required string path parameter.
func pathParam(name, desc string) obj {
	return obj{"name": name, "in": "path", "required": true, "type": "string", "description": desc}
}

func ref(def string) obj { return obj{"$ref": "#/definitions/" + def} }

// heightHeader is the header the exports name their state height in.
var heightHeader = obj{"X-Normledger-Height": obj{"type": "string", "format": "int64",
	"description": "The state height the answer was read at (an int64, as a decimal string like every 64-bit integer of the API)."}}

// addOwnRoutes adds the own routes' paths, definitions and tags.
func addOwnRoutes(doc obj) {
	paths, defs := doc["paths"].(obj), doc["definitions"].(obj)
	tags, _ := doc["tags"].([]any)
	doc["tags"] = append(tags,
		obj{"name": "TAXII", "description": "A read-only TAXII 2.1 server (OASIS TAXII Version 2.1): discovery, one API root (/taxii2/api/), " +
			"collections by TLP marking (all, tlp-clear, tlp-green, tlp-amber, tlp-amber-strict, tlp-red, unmarked), their objects, " +
			"an object's versions and manifests. Every answer is " + taxiiMedia + "; errors of the TAXII handlers are TAXII error messages. " +
			"Every node of a chain serves the same collection ids, objects and next tokens."},
		obj{"name": "MISP", "description": "A MISP feed of the newest attested state (the format MISP's \"Add feed\" pulls, as PyMISP's " +
			"feed generator writes it): manifest.json, hashes.csv and one event file per event uuid, the events of the MISP export " +
			"(incident disclosures, their amendments, attributions)."})

	paths["/v1/stix/bundle"] = obj{"get": obj{
		"operationId": "LedgerService_StixBundle",
		"summary":     "The records as a STIX 2.1 bundle (or MISP events), for pulling consumers (docs/interop.md).",
		"produces":    []string{stixMedia, "application/json"},
		"parameters": []any{
			q("since", "string", "date-time", "Only records in blocks at or after this time (RFC 3339)."),
			q("member", "string", "", "Only records by this member or naming it (pledgor, affected state, subject)."),
			q("kind", "string", "", "Comma-separated kinds: pledge, incident_disclosure, harm_assessment, finding, challenge, amendment (short or full names)."),
			obj{"name": "format", "in": "query", "required": false, "type": "string", "enum": []string{"stix", "misp"},
				"description": "stix (default): a STIX 2.1 bundle; misp: MISP core-format events of the incident disclosures."},
			q("height", "string", "int64", "State height to export (0 or absent: the latest attested)."),
		},
		"responses": obj{"200": obj{"description": "A STIX 2.1 bundle ({type, id, objects}), or {response: [{Event}]} for format=misp. " +
			"X-Normledger-Height names the height exported.", "schema": obj{"type": "object"}, "headers": heightHeader}},
		"tags": []string{"LedgerService"},
	}}

	addTaxii(paths, defs)
	addMisp(paths, defs)
	addBulkFormat(paths)
}

// addBulkFormat adds the format parameter (and the media types it
// answers with) to the bulk listings.
func addBulkFormat(paths obj) {
	// The listings the node also writes as JSON lines or CSV (node/api/bulk.go).
	for _, path := range slices.Sorted(maps.Keys(api.BulkListingMessages())) {
		op, _ := paths[path].(obj)["get"].(obj)
		if op == nil {
			continue
		}
		ps, _ := op["parameters"].([]any)
		op["parameters"] = append(ps, obj{"name": "format", "in": "query", "required": false, "type": "string",
			"enum": []string{"json", "jsonl", "csv"},
			"description": "json (default): the listing's page. jsonl: every item of the whole listing at one height, one per line, " +
				"as JSON pages write it (proto3 JSON: 64-bit integers as strings); csv: the items' flat fields with a header row " +
				"(docs/interop.md, \"Bulk export\"). With jsonl or csv, limit bounds the items written, pageToken starts from a " +
				"page, and prove is refused."})
		op["produces"] = []string{"application/json", "application/jsonl", "text/csv"}
	}
}

func addTaxii(paths, defs obj) {
	coll := pathParam("id", "The collection's id (GET /taxii2/api/collections/ lists them) or its alias.")
	object := pathParam("object_id", "The STIX id of the object (type--uuid).")
	filters := map[string]obj{
		"added_after": q("added_after", "string", "date-time", "Only what was added after this time (a date_added; TAXII timestamps are UTC with microseconds)."),
		"limit": {"name": "limit", "in": "query", "required": false, "type": "integer", "minimum": 1,
			"description": "At most this many objects (default 100; above 1000, 1000). A page may hold fewer with more set (the server bounds what one request examines)."},
		"next":                q("next", "string", "", "The next token of the previous page: the page after it."),
		"match[id]":           q("match[id]", "string", "", "Only these object ids (comma-separated)."),
		"match[type]":         q("match[type]", "string", "", "Only objects of these STIX types (comma-separated)."),
		"match[version]":      q("match[version]", "string", "", "Which versions: last (default), first, all, or version timestamps (comma-separated)."),
		"match[spec_version]": q("match[spec_version]", "string", "", "Only objects of these STIX specification versions (comma-separated)."),
	}
	params := func(pathParams []obj, names ...string) []any {
		var out []any
		for _, p := range pathParams {
			out = append(out, p)
		}
		for _, n := range names {
			out = append(out, filters[n])
		}
		return out
	}
	dateHeaders := obj{
		"X-TAXII-Date-Added-First": obj{"type": "string", "format": "date-time", "description": "The date_added of the first object of the page (absent on an empty page)."},
		"X-TAXII-Date-Added-Last":  obj{"type": "string", "format": "date-time", "description": "The date_added of the last object of the page (absent on an empty page)."},
	}
	withHeight := obj{}
	for k, v := range dateHeaders {
		withHeight[k] = v
	}
	for k, v := range heightHeader {
		withHeight[k] = v
	}
	op := func(id, summary, desc string, ps []any, schema string, headers obj) obj {
		ok := obj{"description": summary, "schema": ref(schema)}
		if headers != nil {
			ok["headers"] = headers
		}
		o := obj{
			"operationId": "Taxii_" + id,
			"summary":     summary,
			"description": desc,
			"produces":    []string{taxiiMedia},
			"responses":   obj{"200": ok},
			"tags":        []string{"TAXII"},
			ownRouteExt:   true,
		}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		return obj{"get": o}
	}
	paths["/taxii2/"] = op("GetDiscovery", "The TAXII server's discovery resource.",
		"Its title and description, and its API roots: the one this node serves, /taxii2/api/ (as an absolute URL of the address the client reached).",
		nil, "taxiiDiscovery", nil)
	paths["/taxii2/api/"] = op("GetApiRoot", "The API root: its title, the TAXII versions it serves and its max_content_length.",
		"The title names the chain; versions is ["+taxiiMedia+"].", nil, "taxiiApiRoot", nil)
	paths["/taxii2/api/collections/"] = op("ListCollections", "The collections: every object, one per TLP marking, and the unmarked.",
		"Their ids are derived from the chain id and the alias, so every node of a chain lists the same ids. All are readable, none writable.",
		nil, "taxiiCollections", nil)
	paths["/taxii2/api/collections/{id}/"] = op("GetCollection", "One collection, by id or alias.",
		"The collection resource as listed by GET /taxii2/api/collections/.", params([]obj{coll}), "taxiiCollection", nil)
	paths["/taxii2/api/collections/{id}/objects/"] = op("GetObjects", "A page of a collection's objects, in the order they were added.",
		"The STIX 2.1 objects the ledger's records make, each linking to its signed record and proof; with more, next gives the following page.",
		params([]obj{coll}, "added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"), "taxiiEnvelope", withHeight)
	paths["/taxii2/api/collections/{id}/objects/{object_id}/"] = op("GetObject", "One object of a collection: its last version, or those match[version] names.",
		"An envelope with the object's versions selected by match[version].",
		params([]obj{coll, object}, "added_after", "limit", "next", "match[version]", "match[spec_version]"), "taxiiEnvelope", dateHeaders)
	paths["/taxii2/api/collections/{id}/objects/{object_id}/versions/"] = op("GetObjectVersions", "The versions of one object of a collection.",
		"Each version's modified time (its version), in the order they were added.",
		params([]obj{coll, object}, "added_after", "limit", "next", "match[spec_version]"), "taxiiVersions", dateHeaders)
	paths["/taxii2/api/collections/{id}/manifest/"] = op("GetManifest", "A page of a collection's manifest: each object's id, version and date_added.",
		"The same page as GET .../objects/ with the same filters, with the manifest record of each object in place of the object.",
		params([]obj{coll}, "added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"), "taxiiManifest", withHeight)

	str := func(desc string) obj { return obj{"type": "string", "description": desc} }
	strs := func(desc string) obj {
		return obj{"type": "array", "items": obj{"type": "string"}, "description": desc}
	}
	more := obj{"type": "boolean", "description": "Whether there is more to fetch: the next page starts after next."}
	next := str("Opaque token for the next page (pass it as next); present when more is true.")
	defs["taxiiDiscovery"] = obj{"type": "object", "description": "A TAXII 2.1 discovery resource.", "required": []string{"title"},
		"properties": obj{"title": str("The server's name."), "description": str("What the server offers."),
			"contact": str("Whom to contact."), "default": str("The default API root's URL."), "api_roots": strs("The API roots' URLs.")}}
	defs["taxiiApiRoot"] = obj{"type": "object", "description": "A TAXII 2.1 API root resource.", "required": []string{"title", "versions", "max_content_length"},
		"properties": obj{"title": str("The API root's name."), "description": str("What it holds."),
			"versions":           strs("The TAXII versions (media types) it serves."),
			"max_content_length": obj{"type": "integer", "description": "The largest request body the API root accepts, in bytes (it accepts no objects: read only)."}}}
	defs["taxiiCollection"] = obj{"type": "object", "description": "A TAXII 2.1 collection resource.", "required": []string{"id", "title", "can_read", "can_write"},
		"properties": obj{"id": str("The collection's id (a UUID, the same on every node of a chain)."), "title": str("Its name."),
			"description": str("What it holds."), "alias": str("A short name that may stand for the id in URLs."),
			"can_read": obj{"type": "boolean", "description": "Always true."}, "can_write": obj{"type": "boolean", "description": "Always false: records are signed transactions (docs/signing.md)."},
			"media_types": strs("The media types of its objects.")}}
	defs["taxiiCollections"] = obj{"type": "object", "description": "The TAXII 2.1 collections resource.",
		"properties": obj{"collections": obj{"type": "array", "items": ref("taxiiCollection")}}}
	defs["stixObject"] = obj{"type": "object", "description": "A STIX 2.1 object (docs/interop.md lists what each record kind becomes).",
		"required": []string{"type", "id"}, "additionalProperties": true,
		"properties": obj{"type": str("The STIX type."), "id": str("type--uuid."), "spec_version": str("2.1 (absent on some reference objects)."),
			"created": obj{"type": "string", "format": "date-time"}, "modified": obj{"type": "string", "format": "date-time"}}}
	defs["taxiiEnvelope"] = obj{"type": "object", "description": "A TAXII 2.1 envelope: a page of objects.",
		"properties": obj{"more": more, "next": next, "objects": obj{"type": "array", "items": ref("stixObject")}}}
	defs["taxiiManifestRecord"] = obj{"type": "object", "description": "A TAXII 2.1 manifest record.", "required": []string{"id", "date_added", "version"},
		"properties": obj{"id": str("The object's STIX id."), "date_added": obj{"type": "string", "format": "date-time", "description": "When the ledger added this version (its block time)."},
			"version": str("The version (the object's modified time)."), "media_type": str("The object's media type.")}}
	defs["taxiiManifest"] = obj{"type": "object", "description": "A TAXII 2.1 manifest resource: a page of manifest records.",
		"properties": obj{"more": more, "next": next, "objects": obj{"type": "array", "items": ref("taxiiManifestRecord")}}}
	defs["taxiiVersions"] = obj{"type": "object", "description": "A TAXII 2.1 versions resource.",
		"properties": obj{"more": more, "next": next, "versions": strs("The versions (modified times) of the object.")}}
	defs["taxiiError"] = obj{"type": "object", "description": "A TAXII 2.1 error message: what the TAXII handlers answer a request they refuse.",
		"required": []string{"title"},
		"properties": obj{"title": str("What went wrong, briefly."), "description": str("What went wrong, in a sentence that names the problem."),
			"error_id": str("An identifier of this error."), "error_code": str("A code of the error."),
			"http_status": str("The HTTP status, as a string."), "external_details": str("A URL of more information."),
			"details": obj{"type": "object", "additionalProperties": true, "description": "Further detail."}}}
}

// taxiiResponses documents a TAXII route's errors: the TAXII handlers'
// own (TAXII error messages) and the edge's (a google.rpc.Status).
func taxiiResponses(path string, rs obj) obj {
	terr := func(desc string) obj { return obj{"description": desc, "schema": ref("taxiiError")} }
	edge := func(desc string, c ledger.Code) obj {
		return obj{"description": desc + " ErrorInfo codes: `" + c.String() + "`.", "schema": ref("googleRpcStatus")}
	}
	rs["405"] = edge("The route does not take this method (the Allow header lists those it does): the collections are read only.", ledger.CodeMethodNotAllowed)
	rs["408"] = edge("The request did not arrive in time.", ledger.CodeRequestTimeout)
	rs["429"] = edge("Over the read rate limit; retry after the Retry-After header's seconds.", ledger.CodeRateLimited)
	rs["406"] = terr("The Accept header admits no " + taxiiMedia + ".")
	if strings.Contains(path, "{id}") {
		rs["404"] = terr("No collection with this id or alias, or (with an object id) the collection holds no such object.")
	}
	if strings.Contains(path, "/objects/") || strings.HasSuffix(path, "/manifest/") {
		rs["400"] = terr("A filter or paging parameter is unknown to this endpoint or malformed; the description names it.")
		rs["500"] = terr("A fault of the node, not of the request.")
		rs["503"] = terr("No attested state to read yet (the node is starting or catching up).")
	}
	return rs
}

func addMisp(paths, defs obj) {
	op := func(id, summary, desc, produces string, ps []any, ok obj) obj {
		o := obj{
			"operationId": "Misp_" + id,
			"summary":     summary,
			"description": desc,
			"produces":    []string{produces},
			"responses":   obj{"200": ok},
			"tags":        []string{"MISP"},
			ownRouteExt:   true,
		}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		return obj{"get": o}
	}
	paths["/misp/manifest.json"] = op("GetManifest", "The feed's manifest: each event's uuid with its summary.",
		"A JSON object keyed by event uuid, as MISP's feed fetcher reads it.", "application/json", nil,
		obj{"description": "The manifest.", "schema": ref("mispManifest"), "headers": heightHeader})
	paths["/misp/hashes.csv"] = op("GetHashes", "The feed's hashes.csv: a hash of each attribute value with its event's uuid.",
		"One line per attribute value: its MD5, a comma, the event uuid (as PyMISP's feed generator writes it; MISP looks values up in it).", "text/csv", nil,
		obj{"description": "The hash list.", "schema": obj{"type": "string"}, "headers": heightHeader})
	paths["/misp/{uuid}.json"] = op("GetEvent", "One event of the feed, by uuid.",
		"The event the MISP export (GET /v1/stix/bundle?format=misp) makes of one record, with the fields a feed carries; "+
			"a retracted record's event stays, its attributes and objects marked deleted.", "application/json",
		[]any{obj{"name": "uuid", "in": "path", "required": true, "type": "string", "format": "uuid", "description": "The event's uuid (a key of the manifest)."}},
		obj{"description": "The event.", "schema": ref("mispEventFile"), "headers": heightHeader})

	str := func(desc string) obj { return obj{"type": "string", "description": desc} }
	boolean := func(desc string) obj { return obj{"type": "boolean", "description": desc} }
	unix := "Unix seconds, as a decimal string (MISP writes its event files' numbers so)."
	defs["mispOrg"] = obj{"type": "object", "description": "An event's creator organisation.",
		"properties": obj{"name": str("The organisation's name."), "uuid": str("Its uuid.")}}
	defs["mispTag"] = obj{"type": "object", "description": "A tag of an event or attribute (tlp:..., the exercise tag).",
		"properties": obj{"name": str("The tag."), "colour": str("Its colour (#rrggbb)."), "local": boolean("Always false: the tag travels with the event."),
			"relationship_type": str("Empty.")}}
	defs["mispManifestEntry"] = obj{"type": "object", "description": "An event's entry in the feed's manifest (numbers as numbers, as PyMISP writes it).",
		"properties": obj{"info": str("The event's title."), "date": str("The event's date (YYYY-MM-DD)."),
			"timestamp":       obj{"type": "integer", "format": "int64", "description": "When the event last changed (Unix seconds): MISP fetches it again when this is newer than its copy."},
			"analysis":        obj{"type": "integer", "description": "MISP analysis level (0 initial, 1 ongoing, 2 completed)."},
			"threat_level_id": obj{"type": "integer", "description": "MISP threat level (1 high .. 4 undefined)."},
			"Orgc":            ref("mispOrg"), "Tag": obj{"type": "array", "items": ref("mispTag")}}}
	defs["mispManifest"] = obj{"type": "object", "description": "The feed's manifest: event uuid -> the event's entry.",
		"additionalProperties": ref("mispManifestEntry")}
	defs["mispAttribute"] = obj{"type": "object", "description": "An attribute of an event or of one of its objects.",
		"properties": obj{"uuid": str("The attribute's uuid."), "type": str("MISP attribute type."), "category": str("MISP category."),
			"value": str("The value."), "comment": str("What it is."), "to_ids": boolean("Whether it is an indicator for detection."),
			"deleted": boolean("True once the record it comes from is retracted."), "disable_correlation": boolean("Whether MISP should not correlate it."),
			"first_seen": str("When it was first seen (ISO 8601)."), "object_relation": str("Its relation within its object."),
			"timestamp": str(unix), "Tag": obj{"type": "array", "items": ref("mispTag")}}}
	defs["mispObject"] = obj{"type": "object", "description": "A MISP object of an event (a template's attributes together).",
		"properties": obj{"uuid": str("The object's uuid."), "name": str("The template's name."), "meta-category": str("The template's category."),
			"description": str("The template's description."), "template_uuid": str("The template's uuid."), "template_version": str("The template's version."),
			"comment": str("What it is."), "deleted": boolean("True once the record it comes from is retracted."), "timestamp": str(unix),
			"Attribute": obj{"type": "array", "items": ref("mispAttribute")}}}
	defs["mispEvent"] = obj{"type": "object", "description": "A MISP event as a feed carries it (the MISP export's event of one record, docs/interop.md).",
		"properties": obj{"uuid": str("The event's uuid."), "info": str("Its title."), "date": str("Its date (YYYY-MM-DD)."),
			"threat_level_id": str("MISP threat level."), "analysis": str("MISP analysis level."), "extends_uuid": str("Empty."),
			"protected": boolean("Always false."), "published": boolean("Always true."), "timestamp": str(unix), "publish_timestamp": str(unix),
			"Orgc": ref("mispOrg"), "Tag": obj{"type": "array", "items": ref("mispTag")},
			"Attribute": obj{"type": "array", "items": ref("mispAttribute")}, "Object": obj{"type": "array", "items": ref("mispObject")}}}
	defs["mispEventFile"] = obj{"type": "object", "description": "One event file of the feed.", "required": []string{"Event"},
		"properties": obj{"Event": ref("mispEvent")}}
}
