package witness

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"testing"
)

// add-checkpoint bodies come from anyone: parsing never panics, and what
// parses writes back to a body that parses to the same request.
func FuzzParseRequest(f *testing.F) {
	h := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	f.Add([]byte("old 0\n\nnormledger/c\n5\n" + h + "\n\n\u2014 normledger/c AAAA\n"))
	f.Add([]byte("old 3\n" + h + "\n" + h + "\n\nnormledger/c\n9\n" + h + "\n"))
	f.Add([]byte("old 01\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			return
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "old %d\n", r.Old)
		for _, p := range r.Proof {
			b.WriteString(base64.StdEncoding.EncodeToString(p) + "\n")
		}
		b.WriteString("\n")
		b.Write(r.Note)
		r2, err := ParseRequest(b.Bytes())
		if err != nil || r2.Old != r.Old || len(r2.Proof) != len(r.Proof) || !bytes.Equal(r2.Note, r.Note) {
			t.Fatalf("%q parsed, but its re-encoding %q gives %+v, %v", body, b.Bytes(), r2, err)
		}
		for i := range r.Proof {
			if !bytes.Equal(r.Proof[i], r2.Proof[i]) {
				t.Fatalf("proof line %d changed", i)
			}
		}
	})
}
