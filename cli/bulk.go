package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/normledger/normledger/client"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
)

// bulkListings are the listings export jsonl|csv reads with the node's
// ?format= (node/api/bulk.go); compliance is made here, one line per
// member.
var bulkListings = map[string]string{
	"records": "/v1/records", "obligations": "/v1/obligations", "members": "/v1/members",
	"cases": "/v1/cases", "proposals": "/v1/proposals",
}

// complianceColumns flattens a MemberCompliance for CSV: member, then
// every scalar of its single (not repeated) figure fields as
// figure.field (onTime.numerator, timeToDisclose.medianSeconds...), then
// obligations by status as obligations.<STATUS>.
func complianceColumns() []string {
	cols := []string{"member", "name"}
	md := (&pb.MemberCompliance{}).ProtoReflect().Descriptor()
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() {
			continue
		}
		sub := fd.Message().Fields()
		for j := 0; j < sub.Len(); j++ {
			if sf := sub.Get(j); !sf.IsList() && sf.Kind() != protoreflect.MessageKind {
				cols = append(cols, fd.JSONName()+"."+sf.JSONName())
			}
		}
	}
	ev := pb.ObligationStatus(0).Descriptor().Values()
	for i := 1; i < ev.Len(); i++ {
		cols = append(cols, "obligations."+string(ev.Get(i).Name()))
	}
	return cols
}

// complianceRow is one member's row of complianceColumns, from its JSON.
func complianceRow(cols []string, name string, m map[string]any) []string {
	row := make([]string, len(cols))
	byStatus := map[string]string{}
	if obs, ok := m["obligations"].([]any); ok {
		for _, o := range obs {
			om, _ := o.(map[string]any)
			st, _ := om["status"].(string)
			byStatus[st] = fmt.Sprint(om["count"])
		}
	}
	for i, c := range cols {
		switch {
		case c == "member":
			row[i], _ = m["member"].(string)
		case c == "name":
			row[i] = name
		case strings.HasPrefix(c, "obligations."):
			row[i] = byStatus[strings.TrimPrefix(c, "obligations.")]
			if row[i] == "" {
				row[i] = "0"
			}
		default:
			f, sub, _ := strings.Cut(c, ".")
			if fm, ok := m[f].(map[string]any); ok {
				if v, ok := fm[sub]; ok {
					row[i] = fmt.Sprint(v)
				} else {
					row[i] = "0"
				}
			}
		}
	}
	return row
}

func bulkCmd(e *env, format string) *cobra.Command {
	var where []string
	var height int64
	var out string
	names := "records, obligations, members, cases, proposals or compliance"
	cmd := &cobra.Command{
		Use:   format + " LISTING",
		Short: "Write a listing as " + map[string]string{"jsonl": "JSON lines", "csv": "CSV"}[format] + " (" + names + ")",
		Long: `Writes every item of a listing at one height (the node's newest attested
state, or --height): records, obligations, members, cases or proposals as the
node's ?format=` + format + ` answers them, or compliance (one line per member,
read here from /v1/compliance/{member}). --where passes a listing's own filter
(kind=incident_disclosure, debtor=xaa, status=OBLIGATION_STATUS_OPEN...). JSON
lines are proto3 JSON as the REST API writes it: lowerCamelCase names, enums by
name, 64-bit integers as strings; the CSV columns and their types are in
docs/interop.md ("Bulk export").`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			w := io.Writer(e.out)
			var file *os.File
			if out != "" && out != "-" {
				if file, err = os.Create(out); err != nil {
					return err
				}
				defer file.Close()
				w = file
			}
			ctx := cmd.Context()
			if args[0] == "compliance" {
				if len(where) > 0 {
					return fmt.Errorf("compliance takes no --where")
				}
				err = exportCompliance(ctx, c, w, format, height)
			} else {
				path, ok := bulkListings[args[0]]
				if !ok {
					return fmt.Errorf("no listing %q: %s", args[0], names)
				}
				q := url.Values{"format": {format}}
				if height > 0 {
					q.Set("height", strconv.FormatInt(height, 10))
				}
				for _, kv := range where {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" || k == "format" || k == "height" {
						return fmt.Errorf("--where %q is not NAME=VALUE of a listing filter", kv)
					}
					q.Add(k, v)
				}
				var body io.ReadCloser
				if body, err = c.Stream(ctx, path, q); err == nil {
					_, err = io.Copy(w, body)
					body.Close()
				}
			}
			if err == nil && file != nil {
				err = file.Sync()
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&where, "where", nil, "a filter of the listing, NAME=VALUE (repeatable)")
	f.Int64Var(&height, "height", 0, "the state to read (default: the newest attested)")
	f.StringVarP(&out, "out", "f", "", "output file (default: standard output)")
	return cmd
}

func exportCompliance(ctx context.Context, c *client.Client, w io.Writer, format string, height int64) error {
	if height == 0 {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		height = st.LatestAttestedHeight
	}
	ms, err := c.ListMembers(ctx, height, false)
	if err != nil {
		return err
	}
	cols := complianceColumns()
	var cw *csv.Writer
	if format == "csv" {
		cw = csv.NewWriter(w)
		cw.Write(cols)
	}
	mo := protojson.MarshalOptions{}
	for _, m := range ms.Members {
		res, err := c.MemberCompliance(ctx, m.Id, height)
		if err != nil {
			return fmt.Errorf("compliance of %s: %w", m.Id, err)
		}
		bz, err := mo.Marshal(res.Compliance)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, bz); err != nil {
			return err
		}
		if cw == nil {
			buf.WriteByte('\n')
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			continue
		}
		var obj map[string]any
		dec := json.NewDecoder(&buf)
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return err
		}
		cw.Write(complianceRow(cols, m.Name, obj))
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	return nil
}
