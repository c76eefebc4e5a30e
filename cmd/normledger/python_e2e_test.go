package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Python client (client/python) against a seeded `normledger dev`
// node: its pytest suite with NORMLEDGER_REQUIRE_NODE=1 (so that its
// integration tests fail rather than skip without the node), then its
// example, which must write a real PNG chart.
//
// It needs python3 with pytest, pandas and matplotlib (Debian:
// python3-pytest python3-pandas python3-matplotlib). Without them the test
// skips, unless NORMLEDGER_REQUIRE_PYTHON=1: then it fails. The interpreter
// is $NORMLEDGER_PYTHON if set, else the first of python3 on PATH and
// /usr/bin/python3 that has the three (a pyenv python3 first on PATH lacks
// Debian's packages).
func TestPythonClient(t *testing.T) {
	py := pythonWithModules(t, "pytest", "pandas", "matplotlib")
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(repo, "client", "python")
	if _, err := os.Stat(filepath.Join(pkg, "tests")); err != nil {
		t.Fatalf("no Python client tests: %v", err)
	}

	wd := t.TempDir()
	rest := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(binary, "dev",
		"--rpc.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), "--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--rest.laddr", "tcp://"+rest, "--grpc.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)))
	text, logs := startDev(t, cmd, wd)
	m := regexp.MustCompile(`(\d+) example records committed`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("dev did not seed the examples:\n%s\nlogs:\n%s", text, logs.String())
	}
	seeded, _ := strconv.Atoi(m[1])
	url := "http://" + rest
	// Committed is not yet attested (the app hash of block H is in header
	// H+1, and reads default to the attested height): wait until the
	// listings show every seeded record and some obligations.
	waitForData(t, url, seeded, 30*time.Second)

	env := append(os.Environ(),
		"NORMLEDGER_URL="+url,
		"NORMLEDGER_BIN="+binary,
		"NORMLEDGER_REQUIRE_NODE=1",
		// The verifier's trust root, from the dev home rather than from the
		// node under test.
		"NORMLEDGER_GENESIS="+filepath.Join(wd, ".normledger-dev", "config", "genesis.json"),
		"PYTHONDONTWRITEBYTECODE=1", // no __pycache__ in the checkout
	)
	t.Run("pytest", func(t *testing.T) {
		res := runPython(t, 5*time.Minute, repo, env, py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "client/python/tests")
		if res.err != nil {
			t.Fatalf("pytest: %v\n%s", res.err, res.out)
		}
		summary := lastLine(res.out)
		t.Logf("pytest (%s): %s", py, summary)
		// Every integration test ran: with the node there, none may skip
		// (the unit tests skip only what needs files outside client/python).
		if !regexp.MustCompile(`^\d+ passed`).MatchString(summary) || strings.Contains(summary, "error") || strings.Contains(summary, "failed") {
			t.Fatalf("pytest summary: %s\n%s", summary, res.out)
		}
		if strings.Contains(summary, "skipped") {
			t.Fatalf("pytest skipped tests although the node and the CLI are there: %s\n%s", summary, res.out)
		}
	})
	t.Run("example", func(t *testing.T) {
		pngPath := filepath.Join(t.TempDir(), "compliance.png")
		res := runPython(t, 2*time.Minute, repo, env, py, filepath.Join(pkg, "examples", "compliance_chart.py"), pngPath, "--node", url)
		if res.err != nil {
			t.Fatalf("compliance_chart.py: %v\n%s", res.err, res.out)
		}
		if !strings.Contains(res.out, "wrote "+pngPath) {
			t.Fatalf("compliance_chart.py did not say it wrote the chart:\n%s", res.out)
		}
		checkPNG(t, pngPath)
		t.Logf("compliance_chart.py:\n%s", res.out)
	})

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dev did not stop cleanly on SIGINT: %v\n%s", err, logs.String())
	}
}

// pythonWithModules returns a python3 that imports every module, or skips
// (fails with NORMLEDGER_REQUIRE_PYTHON=1) when there is none.
func pythonWithModules(t *testing.T, modules ...string) string {
	t.Helper()
	var cands []string
	if p := os.Getenv("NORMLEDGER_PYTHON"); p != "" {
		cands = append(cands, p) // the one asked for, and no other
	} else {
		if p, err := exec.LookPath("python3"); err == nil {
			cands = append(cands, p)
		}
		cands = append(cands, "/usr/bin/python3")
	}
	var tried []string
	for _, p := range cands {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, p, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
		cancel()
		if err == nil {
			return p
		}
		tried = append(tried, fmt.Sprintf("%s: %v %s", p, err, lastLine(string(out))))
	}
	msg := fmt.Sprintf("no python3 with %s (Debian: apt-get install python3-pytest python3-pandas python3-matplotlib); tried:\n  %s",
		strings.Join(modules, ", "), strings.Join(tried, "\n  "))
	if os.Getenv("NORMLEDGER_REQUIRE_PYTHON") == "1" {
		t.Fatalf("NORMLEDGER_REQUIRE_PYTHON=1 and %s", msg)
	}
	t.Skipf("%s\n(NORMLEDGER_REQUIRE_PYTHON=1 makes this a failure)", msg)
	return ""
}

// waitForData waits until the node lists n records and at least one
// obligation at its attested height.
func waitForData(t *testing.T, url string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		var recs struct {
			Records []json.RawMessage `json:"records"`
		}
		var obs struct {
			Obligations []json.RawMessage `json:"obligations"`
		}
		e1, e2 := getJSON(url+"/v1/records?limit=200", &recs), getJSON(url+"/v1/obligations?limit=1", &obs)
		if e1 == nil && e2 == nil && len(recs.Records) >= n && len(obs.Obligations) > 0 {
			return
		}
		last = fmt.Sprintf("%d of %d records, %d obligations (%v, %v)", len(recs.Records), n, len(obs.Obligations), e1, e2)
		if time.Now().After(deadline) {
			t.Fatalf("the dev node has no data after %s: %s", within, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func getJSON(url string, v any) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

type pyResult struct {
	out string
	err error
}

// runPython runs a Python command in dir, bounded by within; out is its
// combined output.
func runPython(t *testing.T, within time.Duration, dir string, env []string, py string, args ...string) pyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	c := exec.CommandContext(ctx, py, args...)
	c.Dir = dir
	c.Env = env
	c.Stdin = nil
	c.WaitDelay = 10 * time.Second // a child (the verify CLI) holding the pipes does not hang the test
	var buf bytes.Buffer
	c.Stdout, c.Stderr = &buf, &buf
	err := c.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("did not finish in %s: %w", within, err)
	}
	return pyResult{out: buf.String(), err: err}
}

// checkPNG checks that path is a PNG (signature and IHDR) of a real chart:
// at least 300x200 pixels, at least 10 KiB, decodable, and not blank.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	bz, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(bz) < 10<<10 {
		t.Fatalf("%s is %d bytes: too small for a chart", path, len(bz))
	}
	if !bytes.HasPrefix(bz, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s does not start with the PNG signature: % x", path, bz[:8])
	}
	// The first chunk is IHDR: length 13, type, width, height (big-endian).
	if be32(bz[8:12]) != 13 || string(bz[12:16]) != "IHDR" {
		t.Fatalf("%s: the first chunk is not a 13-byte IHDR: % x", path, bz[8:16])
	}
	w, h := be32(bz[16:20]), be32(bz[20:24])
	if w < 300 || h < 200 || w > 10000 || h > 10000 {
		t.Fatalf("%s is %dx%d pixels", path, w, h)
	}
	img, err := png.Decode(bytes.NewReader(bz))
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != int(w) || b.Dy() != int(h) {
		t.Fatalf("%s decodes to %v, IHDR says %dx%d", path, b, w, h)
	}
	if n := colours(img, 16); n < 4 {
		t.Fatalf("%s has %d colours: a blank image, not a chart", path, n)
	}
	t.Logf("%s: PNG %dx%d, %d bytes", path, w, h, len(bz))
}

// colours counts the distinct colours of img, up to max.
func colours(img image.Image, max int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= max {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// be32 reads a big-endian uint32 (encoding/binary's name is taken here by
// the binary under test).
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
