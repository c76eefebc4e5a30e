//go:build ignore

// sbomnormalize makes a CycloneDX JSON SBOM of cyclonedx-gomod
// reproducible (scripts/release.sh runs it): it sets metadata.timestamp to
// SOURCE_DATE_EPOCH and drops the hashes of metadata.tools (the generator's
// own binary, which depends on the host that built it). Everything else is
// kept; the output is indented JSON with its keys in sorted order.
//
//	go run scripts/sbomnormalize.go <in.cdx.json >out.cdx.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sbomnormalize:", err)
		os.Exit(1)
	}
}

func run() error {
	epoch, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
	}
	dec := json.NewDecoder(os.Stdin)
	dec.UseNumber()
	var bom map[string]any
	if err := dec.Decode(&bom); err != nil {
		return err
	}
	if bom["bomFormat"] != "CycloneDX" {
		return fmt.Errorf("not a CycloneDX document (bomFormat %v)", bom["bomFormat"])
	}
	meta, _ := bom["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		bom["metadata"] = meta
	}
	meta["timestamp"] = time.Unix(epoch, 0).UTC().Format(time.RFC3339)
	tools, _ := meta["tools"].([]any)
	for _, t := range tools {
		if tool, ok := t.(map[string]any); ok {
			delete(tool, "hashes")
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(bom)
}
