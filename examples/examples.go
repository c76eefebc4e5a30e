// Package examples embeds the example records of examples/records (and
// their manifest.json) in the binary, so that `normledger dev` seeds a
// chain from any directory, not only from a checkout.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed records/*.json
var files embed.FS

// Records is examples/records: the record files and manifest.json.
func Records() fs.FS {
	sub, err := fs.Sub(files, "records")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
