package deploy_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toml "github.com/pelletier/go-toml/v2"

	"github.com/normledger/normledger/internal/testports"
)

// The repository root, seen from this package's directory (where go test
// runs the test binary).
const repoRoot = ".."

// requireOps makes a missing tool (podman, systemd-analyze) a failure
// instead of a skip: CI sets it where it installs them.
func requireOps() bool { return os.Getenv("NORMLEDGER_REQUIRE_OPS") == "1" }

// need returns the path of tool, or skips the test (fails it with
// NORMLEDGER_REQUIRE_OPS=1) when it is not installed.
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if requireOps() {
			t.Fatalf("%s is not installed (Debian: apt-get install %s) and NORMLEDGER_REQUIRE_OPS=1", tool, pkg)
		}
		t.Skipf("%s is not installed (Debian: apt-get install %s; NORMLEDGER_REQUIRE_OPS=1 makes this a failure)", tool, pkg)
	}
	return p
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds release binaries or runs system tools: not with -short")
	}
}

// shared is what the tests of this package share: a temporary directory
// that outlives each test (removed by TestMain) and the first release build.
var shared struct {
	dir string

	once    sync.Once
	release *releaseBuild
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func sharedDir(t *testing.T) string {
	t.Helper()
	if shared.dir == "" {
		d, err := os.MkdirTemp("", "normledger-deploy-test-")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = d
	}
	return shared.dir
}

// releaseBuild is one `make release` in a copy of the source tree.
type releaseBuild struct {
	src      string // the copy of the tree
	dir      string // its build/release
	version  string // what git describe gave there
	epoch    int64  // its commit time: SOURCE_DATE_EPOCH
	duration time.Duration
}

// firstRelease is `make release` in a copy of the tree, built once per
// test process: TestReleaseReproducible compares a second build with it,
// TestContainerImage puts its binary into an image.
func firstRelease(t *testing.T) *releaseBuild {
	t.Helper()
	shared.once.Do(func() {
		shared.release, shared.err = makeRelease(t, filepath.Join(sharedDir(t), "a"), nil)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.release
}

// makeRelease copies the source tree to dst (as a git repository of one
// commit, the same commit for the same tree) and runs `make release` there
// with the default settings: VERSION from git describe, SOURCE_DATE_EPOCH
// from the commit. A copy, not the work tree: the build must not depend on
// where the tree is, and the work tree may change while the test runs.
func makeRelease(t *testing.T, dst string, extraEnv []string) (*releaseBuild, error) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("git is needed to copy the tree and describe the version: %w", err)
	}
	if _, err := exec.LookPath("make"); err != nil {
		return nil, fmt.Errorf("make is needed for make release: %w", err)
	}
	epoch, err := snapshot(repoRoot, dst)
	if err != nil {
		return nil, err
	}
	env := cleanEnv(extraEnv)
	start := time.Now()
	cmd := exec.Command("make", "release")
	cmd.Dir = dst
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("make release in %s: %v\n%s", dst, err, out)
	}
	t.Logf("make release in %s: %s\n%s", dst, d.Round(time.Millisecond), out)
	version, err := gitOut(dst, env, "describe", "--always", "--dirty")
	if err != nil {
		return nil, err
	}
	return &releaseBuild{src: dst, dir: filepath.Join(dst, "build", "release"), version: version, epoch: epoch, duration: d}, nil
}

// cleanEnv is the environment without the release settings (so that the
// defaults are what is tested) and without git's repository variables.
func cleanEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "VERSION", "SOURCE_DATE_EPOCH", "PLATFORMS", "RELEASE_DIR", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func gitOut(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("git %s in %s: %v: %s", strings.Join(args, " "), dir, err, ee.Stderr)
		}
		return "", fmt.Errorf("git %s in %s: %v", strings.Join(args, " "), dir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// snapshot copies the files of the work tree at src that git would see
// (tracked and untracked, not ignored; those deleted from the tree left
// out) to dst and commits them there, dated at src's HEAD commit, so that
// two snapshots of one tree are the same commit. It returns that date.
func snapshot(src, dst string) (int64, error) {
	env := cleanEnv(nil)
	epoch := int64(0)
	if s, err := gitOut(src, env, "log", "-1", "--format=%ct", "HEAD"); err == nil {
		epoch, _ = strconv.ParseInt(s, 10, 64)
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = src
	cmd.Env = env
	list, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("git ls-files in %s (the test copies the tree git sees): %v", src, err)
	}
	seen := map[string]bool{}
	for _, rel := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		if rel == "" || seen[rel] {
			continue
		}
		seen[rel] = true
		if err := copyEntry(filepath.Join(src, rel), filepath.Join(dst, rel)); err != nil {
			return 0, err
		}
	}
	date := fmt.Sprintf("@%d +0000", epoch)
	genv := append(env, "GIT_AUTHOR_NAME=snapshot", "GIT_AUTHOR_EMAIL=snapshot@localhost", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=snapshot", "GIT_COMMITTER_EMAIL=snapshot@localhost", "GIT_COMMITTER_DATE="+date)
	for _, args := range [][]string{
		{"-c", "init.defaultBranch=main", "init", "-q"},
		{"add", "-A"},
		{"-c", "commit.gpgsign=false", "commit", "-q", "--no-verify", "-m", "snapshot"},
	} {
		if _, err := gitOut(dst, genv, args...); err != nil {
			return 0, err
		}
	}
	return epoch, nil
}

func copyEntry(from, to string) error {
	fi, err := os.Lstat(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // deleted in the work tree, not yet in the index
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		return os.Symlink(target, to)
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, fi.Mode().Perm())
	}
	return nil // a submodule or other non-file: not part of the build
}

// TestReleaseReproducible runs `make release` twice, in two copies of the
// tree at different paths, and requires byte-identical artifacts: the
// binaries for linux/amd64 and linux/arm64, their SBOMs and SHA256SUMS.
// The second build shares the Go build cache with the first (so a warm
// run takes seconds); NORMLEDGER_RELEASE_FRESH_CACHE=1 gives it an empty
// cache, so that every package is compiled again (a few minutes).
func TestReleaseReproducible(t *testing.T) {
	skipShort(t)
	a := firstRelease(t)
	var extra []string
	if os.Getenv("NORMLEDGER_RELEASE_FRESH_CACHE") == "1" {
		extra = append(extra, "GOCACHE="+filepath.Join(sharedDir(t), "gocache"))
	}
	b, err := makeRelease(t, filepath.Join(sharedDir(t), "b", "elsewhere"), extra)
	if err != nil {
		t.Fatal(err)
	}
	if a.version != b.version {
		t.Fatalf("the two copies describe themselves differently: %q and %q", a.version, b.version)
	}
	if strings.HasSuffix(a.version, "-dirty") {
		t.Errorf("version %q: a committed snapshot must not be dirty", a.version)
	}
	filesA, filesB := listDir(t, a.dir), listDir(t, b.dir)
	want := []string{"SHA256SUMS"}
	for _, arch := range []string{"amd64", "arm64"} {
		name := "normledger-" + a.version + "-linux-" + arch
		want = append(want, name, name+".cdx.json")
	}
	sort.Strings(want)
	if !slices.Equal(filesA, want) {
		t.Fatalf("build/release holds %v, want %v", filesA, want)
	}
	if !slices.Equal(filesA, filesB) {
		t.Fatalf("the second build holds %v, the first %v", filesB, filesA)
	}
	for _, f := range filesA {
		ba, bb := readFile(t, filepath.Join(a.dir, f)), readFile(t, filepath.Join(b.dir, f))
		if !bytes.Equal(ba, bb) {
			t.Errorf("%s differs between the two builds (sha256 %s and %s)", f, sha256hex(ba), sha256hex(bb))
		}
	}
	checkSums(t, a.dir, filesA)
	for _, arch := range []string{"amd64", "arm64"} {
		bin := filepath.Join(a.dir, "normledger-"+a.version+"-linux-"+arch)
		checkStatic(t, bin, arch)
		checkSBOM(t, a, bin, bin+".cdx.json", arch)
	}
	// The binary reports the version it was released as.
	if runtime.GOOS == "linux" && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") {
		out, err := exec.Command(filepath.Join(a.dir, "normledger-"+a.version+"-linux-"+runtime.GOARCH), "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "normledger "+a.version+" ") {
			t.Errorf("normledger version: %v: %q, want it to start with %q", err, out, "normledger "+a.version+" ")
		}
	}
	t.Logf("first build %s, second %s", a.duration.Round(time.Millisecond), b.duration.Round(time.Millisecond))
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkSums: SHA256SUMS is sha256sum's format and lists every other file
// with its hash.
func checkSums(t *testing.T, dir string, files []string) {
	t.Helper()
	listed := map[string]string{}
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	for _, l := range strings.Split(strings.TrimRight(string(readFile(t, filepath.Join(dir, "SHA256SUMS"))), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("SHA256SUMS: %q is not a sha256sum line", l)
			continue
		}
		listed[m[2]] = m[1]
	}
	for _, f := range files {
		if f == "SHA256SUMS" {
			continue
		}
		sum, ok := listed[f]
		if !ok {
			t.Errorf("SHA256SUMS does not list %s", f)
			continue
		}
		if got := sha256hex(readFile(t, filepath.Join(dir, f))); got != sum {
			t.Errorf("SHA256SUMS: %s has sha256 %s, the file %s", f, sum, got)
		}
		delete(listed, f)
	}
	for f := range listed {
		t.Errorf("SHA256SUMS lists %s, which is not in the release", f)
	}
	if path, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(path, "--check", "--strict", "SHA256SUMS")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum --check: %v\n%s", err, out)
		}
	}
}

// checkStatic: a Linux executable of the right architecture that loads no
// shared library (no interpreter, no DT_NEEDED).
func checkStatic(t *testing.T, path, arch string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != machine {
		t.Errorf("%s: machine %v, want %v", filepath.Base(path), f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: not static", filepath.Base(path))
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v: not static", filepath.Base(path), libs)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s has a symbol table: not stripped (-s)", filepath.Base(path))
	}
}

// goVersionM is what `go version -m` says a Go binary was built from.
type goVersionM struct {
	goVersion string
	settings  map[string]string
	deps      map[string]string // module path -> version (after replacements)
}

func readBuildInfo(t *testing.T, bin string) goVersionM {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", bin, err)
	}
	bi := goVersionM{settings: map[string]string{}, deps: map[string]string{}}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for first := true; sc.Scan(); first = false {
		if first { // "PATH: go1.N.M"
			fs := strings.Fields(sc.Text())
			bi.goVersion = fs[len(fs)-1]
			continue
		}
		f := strings.Split(strings.TrimPrefix(sc.Text(), "\t"), "\t")
		switch {
		case f[0] == "dep" && len(f) >= 3:
			bi.deps[f[1]] = f[2]
			last = f[1]
		case f[0] == "=>" && len(f) >= 3 && last != "":
			// A replaced module: the binary holds the replacement.
			delete(bi.deps, last)
			bi.deps[f[1]] = f[2]
		case f[0] == "build" && len(f) >= 2:
			k, v, _ := strings.Cut(f[1], "=")
			bi.settings[k] = v
		}
	}
	return bi
}

// cdx is the part of a CycloneDX document the test reads.
type cdx struct {
	BOMFormat    string `json:"bomFormat"`
	SpecVersion  string `json:"specVersion"`
	SerialNumber string `json:"serialNumber"`
	Metadata     struct {
		Timestamp string `json:"timestamp"`
		Component struct {
			Name       string `json:"name"`
			BOMRef     string `json:"bom-ref"`
			Properties []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"properties"`
		} `json:"component"`
	} `json:"metadata"`
	Components []struct {
		BOMRef  string `json:"bom-ref"`
		Name    string `json:"name"`
		Version string `json:"version"`
		PURL    string `json:"purl"`
		Hashes  []struct {
			Alg     string `json:"alg"`
			Content string `json:"content"`
		} `json:"hashes"`
	} `json:"components"`
	Dependencies []struct {
		Ref       string   `json:"ref"`
		DependsOn []string `json:"dependsOn"`
	} `json:"dependencies"`
}

// checkSBOM: the SBOM is CycloneDX JSON whose components are exactly the
// modules the binary embeds (go version -m), each with its version, a
// golang purl and a hash, all of them modules of the build's module graph
// (go list -m all), dated SOURCE_DATE_EPOCH and without a serial number.
func checkSBOM(t *testing.T, rel *releaseBuild, bin, sbomPath, arch string) {
	t.Helper()
	var bom cdx
	if err := json.Unmarshal(readFile(t, sbomPath), &bom); err != nil {
		t.Fatalf("%s: %v", sbomPath, err)
	}
	name := filepath.Base(sbomPath)
	if bom.BOMFormat != "CycloneDX" || !strings.HasPrefix(bom.SpecVersion, "1.") {
		t.Errorf("%s: bomFormat %q specVersion %q", name, bom.BOMFormat, bom.SpecVersion)
	}
	if bom.SerialNumber != "" {
		t.Errorf("%s: a serial number (%s) differs at every build", name, bom.SerialNumber)
	}
	if want := time.Unix(rel.epoch, 0).UTC().Format(time.RFC3339); bom.Metadata.Timestamp != want {
		t.Errorf("%s: timestamp %q, want SOURCE_DATE_EPOCH %q", name, bom.Metadata.Timestamp, want)
	}
	if bom.Metadata.Component.Name != "github.com/normledger/normledger" {
		t.Errorf("%s: the described component is %q", name, bom.Metadata.Component.Name)
	}
	props := map[string]string{}
	for _, p := range bom.Metadata.Component.Properties {
		props[p.Name] = p.Value
	}
	if props["cdx:gomod:build:env:GOARCH"] != arch || props["cdx:gomod:build:env:GOOS"] != "linux" || props["cdx:gomod:build:env:CGO_ENABLED"] != "0" {
		t.Errorf("%s: build properties %v, want linux/%s without cgo", name, props, arch)
	}

	bi := readBuildInfo(t, bin)
	if bi.settings["GOARCH"] != arch || bi.settings["CGO_ENABLED"] != "0" || bi.settings["-trimpath"] != "true" {
		t.Errorf("%s: build settings %v, want GOARCH=%s CGO_ENABLED=0 -trimpath=true", filepath.Base(bin), bi.settings, arch)
	}
	if v := props["cdx:gomod:build:env:GOVERSION"]; v != bi.goVersion {
		t.Errorf("%s: GOVERSION %q, the binary was built by %q", name, v, bi.goVersion)
	}
	inSBOM := map[string]string{}
	for _, c := range bom.Components {
		inSBOM[c.Name] = c.Version
		if !strings.HasPrefix(c.PURL, "pkg:golang/"+c.Name+"@"+c.Version) {
			t.Errorf("%s: %s@%s has purl %q", name, c.Name, c.Version, c.PURL)
		}
		if len(c.Hashes) == 0 {
			t.Errorf("%s: %s@%s has no hash", name, c.Name, c.Version)
		}
	}
	for mod, v := range bi.deps {
		if got, ok := inSBOM[mod]; !ok {
			t.Errorf("%s: the binary embeds %s@%s, the SBOM does not list it", name, mod, v)
		} else if got != v {
			t.Errorf("%s: %s is %s in the binary, %s in the SBOM", name, mod, v, got)
		}
	}
	for mod, v := range inSBOM {
		if _, ok := bi.deps[mod]; !ok {
			t.Errorf("%s: lists %s@%s, which the binary does not embed", name, mod, v)
		}
	}
	graph := moduleGraph(t, rel.src)
	for mod, v := range inSBOM {
		if graph[mod] != v {
			t.Errorf("%s: %s@%s is not in go list -m all (which has %q)", name, mod, v, graph[mod])
		}
	}
	for _, mod := range []string{"github.com/cometbft/cometbft", "github.com/cosmos/iavl", "github.com/grpc-ecosystem/grpc-gateway/v2", "google.golang.org/grpc"} {
		if inSBOM[mod] == "" || inSBOM[mod] != graph[mod] {
			t.Errorf("%s: %s is %q, go list -m all says %q", name, mod, inSBOM[mod], graph[mod])
		}
	}
	// The dependency graph starts at the described application.
	var top []string
	for _, d := range bom.Dependencies {
		if d.Ref == bom.Metadata.Component.BOMRef {
			top = d.DependsOn
		}
	}
	if !slices.ContainsFunc(top, func(ref string) bool { return strings.Contains(ref, "github.com/cometbft/cometbft@") }) {
		t.Errorf("%s: the application's dependsOn %v lacks cometbft", name, top)
	}
	t.Logf("%s: %d modules, as the binary embeds", name, len(bom.Components))
}

var graphs sync.Map // dir -> map[string]string

// moduleGraph is `go list -m all` of the module at dir: path -> version.
func moduleGraph(t *testing.T, dir string) map[string]string {
	t.Helper()
	if g, ok := graphs.Load(dir); ok {
		return g.(map[string]string)
	}
	cmd := exec.Command("go", "list", "-mod=readonly", "-m", "-f", "{{.Path}} {{.Version}}{{with .Replace}} => {{.Path}} {{.Version}}{{end}}", "all")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	g := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && f[2] == "=>":
			g[f[3]] = f[4]
		case len(f) >= 2:
			g[f[0]] = f[1]
		}
	}
	graphs.Store(dir, g)
	return g
}

// podman runs podman with its storage, state and runtime in dir, and with
// what works without systemd, a cgroup v2-only host or a network backend:
// the vfs storage driver, cgroupfs, a file for events and (in the test)
// the host's network.
type podman struct {
	dir     string
	runtime string
}

func (p podman) cmd(args ...string) *exec.Cmd {
	global := []string{"--root", filepath.Join(p.dir, "root"), "--runroot", filepath.Join(p.dir, "run"),
		"--tmpdir", filepath.Join(p.dir, "tmp"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
		"--events-backend", "file", "--runtime", p.runtime}
	cmd := exec.Command("podman", append(global, args...)...)
	cmd.Env = cleanEnv(nil)
	return cmd
}

func (p podman) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.output(args...)
	if err != nil {
		t.Fatalf("podman %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (p podman) output(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := p.cmd(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v: %s%s", err, stderr.Bytes(), stdout.Bytes())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// ociRuntime is the OCI runtime podman is to use: NORMLEDGER_OCI_RUNTIME,
// else runc where installed (crun refuses hosts whose cgroups are in
// hybrid mode, as this sandbox's are), else crun.
func ociRuntime(t *testing.T) string {
	t.Helper()
	if r := os.Getenv("NORMLEDGER_OCI_RUNTIME"); r != "" {
		return r
	}
	for _, r := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(r); err == nil {
			return r
		}
	}
	need(t, "runc", "runc")
	return ""
}

// limits are --ulimit flags within this process's hard limits: podman's
// defaults (1048576 open files, many processes) cannot be set where the
// limits are lower and raising them is not permitted (no CAP_SYS_RESOURCE).
func limits() []string {
	var nofile, nproc syscall.Rlimit
	files, procs := uint64(65536), uint64(4096)
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile) == nil && nofile.Max < files {
		files = nofile.Max
	}
	if syscall.Getrlimit(6 /* RLIMIT_NPROC */, &nproc) == nil && nproc.Max < procs {
		procs = nproc.Max
	}
	return []string{"--ulimit", fmt.Sprintf("nofile=%d:%d", files, files), "--ulimit", fmt.Sprintf("nproc=%d:%d", procs, procs)}
}

// TestContainerImage builds deploy/container/Containerfile.prebuilt around
// the released static binary (FROM scratch: no registry), checks the
// image's configuration and content, initialises a single-validator home in
// the image's volume, runs the node in a container on the host's network
// until /readyz answers 200, stops it with podman stop (the image's
// StopSignal, SIGTERM) and requires exit status 0 within the stop timeout.
func TestContainerImage(t *testing.T) {
	skipShort(t)
	if runtime.GOOS != "linux" {
		t.Skip("containers run on Linux")
	}
	need(t, "podman", "podman")
	if os.Geteuid() != 0 {
		// Rootless podman maps the volume's files to sub-uids, which the
		// test can then neither prepare nor remove.
		t.Skip("the container test runs rootful podman: run it as root (CI does)")
	}
	p := podman{dir: t.TempDir(), runtime: ociRuntime(t)}
	rel := firstRelease(t)

	// The build context (as Containerfile.prebuilt describes it): the
	// binary, the root's /home and /tmp, and the node's home.
	ctx := t.TempDir()
	bin := readFile(t, filepath.Join(rel.dir, "normledger-"+rel.version+"-linux-"+runtime.GOARCH))
	if err := os.WriteFile(filepath.Join(ctx, "normledger"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for dir, mode := range map[string]fs.FileMode{"rootfs/home": 0o755, "rootfs/tmp": 0o777 | fs.ModeSticky, "home/normledger": 0o700} {
		if err := os.MkdirAll(filepath.Join(ctx, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(ctx, dir), mode); err != nil {
			t.Fatal(err)
		}
	}
	image := "localhost/normledger-test:" + rel.version
	containerfile, err := filepath.Abs(filepath.Join("container", "Containerfile.prebuilt"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.run(t, "build", "--pull=never", "-f", containerfile, "-t", image, ctx)
	t.Logf("podman build: %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { p.output("rmi", "-f", image) })

	checkImageConfig(t, p, image)
	checkImageContent(t, p, image)

	// Can this machine run a container at all? If not, say exactly why.
	out, err := p.output(append(append([]string{"run", "--rm", "--network", "host"}, limits()...), image, "version")...)
	if err != nil {
		msg := fmt.Sprintf("podman (runtime %s) cannot run a container here: %v", p.runtime, err)
		if requireOps() {
			t.Fatal(msg)
		}
		t.Skip(msg + " (the image's configuration and content were checked above)")
	}
	if !strings.HasPrefix(out, "normledger "+rel.version+" ") {
		t.Errorf("normledger version in the image: %q", out)
	}

	volume := fmt.Sprintf("normledger-test-%d", os.Getpid())
	p.run(t, "volume", "create", volume)
	t.Cleanup(func() { p.output("volume", "rm", "-f", volume) })
	mount := volume + ":/home/normledger"
	run := append([]string{"run", "--network", "host", "-v", mount}, limits()...)

	// A single-validator development chain, initialised by the image's
	// user in the volume (HOME and NORMLEDGER_HOME come from the image).
	out = p.run(t, append(append([]string{}, run...), "--rm", image, "init", "--dev", "--keyring-backend", "test")...)
	t.Logf("init --dev in the container:\n%s", out)
	mountpoint := p.run(t, "volume", "inspect", "--format", "{{.Mountpoint}}", volume)
	for _, f := range []string{".", "config/genesis.json", "config/priv_validator_key.json", "data/priv_validator_state.json"} {
		fi, err := os.Stat(filepath.Join(mountpoint, f))
		if err != nil {
			t.Fatalf("the home in the volume: %v", err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 10001 || st.Gid != 10001 {
			t.Errorf("%s in the volume is owned by %d:%d, want the image's user 10001:10001", f, st.Uid, st.Gid)
		}
	}

	rest, grpc, rpc, p2p := testports.Pick(t), testports.Pick(t), testports.Pick(t), testports.Pick(t)
	name := fmt.Sprintf("normledger-test-%d", os.Getpid())
	start = time.Now()
	p.run(t, append(append([]string{}, run...), "-d", "--name", name, image,
		"start", "--home", "/home/normledger",
		fmt.Sprintf("--rest.laddr=tcp://127.0.0.1:%d", rest), fmt.Sprintf("--grpc.laddr=tcp://127.0.0.1:%d", grpc),
		fmt.Sprintf("--rpc.laddr=tcp://127.0.0.1:%d", rpc), fmt.Sprintf("--p2p.laddr=tcp://127.0.0.1:%d", p2p))...)
	t.Cleanup(func() { p.output("rm", "-f", "-t", "0", name) })
	logs := func() string { out, _ := p.cmd("logs", name).CombinedOutput(); return string(out) }

	base := fmt.Sprintf("http://127.0.0.1:%d", rest)
	probe := "/readyz"
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if state, _ := p.output("inspect", "--format", "{{.State.Status}}", name); state == "exited" {
			t.Fatalf("the node exited before it was ready:\n%s", logs())
		}
		code := 0
		if resp, err := client.Get(base + probe); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
		}
		if code == http.StatusOK {
			t.Logf("GET %s: 200, %s after podman run", probe, time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never answered 200 (last %d):\n%s", probe, code, logs())
		}
		time.Sleep(250 * time.Millisecond)
	}

	// podman stop sends the image's StopSignal and kills only after the
	// timeout: exit status 0 means the node shut down cleanly on SIGTERM.
	const stopTimeout = 60
	stopped := time.Now()
	p.run(t, "stop", "-t", strconv.Itoa(stopTimeout), name)
	took := time.Since(stopped)
	state := p.run(t, "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name)
	if state != "0 false" || took >= stopTimeout*time.Second {
		t.Fatalf("after podman stop (%s): exit code and OOM %q, want \"0 false\" within %ds:\n%s", took, state, stopTimeout, logs())
	}
	if l := logs(); !strings.Contains(l, "terminated") {
		t.Errorf("the node's log does not show the SIGTERM:\n%s", l)
	}
	t.Logf("podman stop: exit status 0 after %s", took.Round(time.Millisecond))
}

// checkImageConfig: the image's configuration as an operator relies on it.
func checkImageConfig(t *testing.T, p podman, image string) {
	t.Helper()
	var cfg struct {
		User         string
		ExposedPorts map[string]struct{}
		Env          []string
		Entrypoint   []string
		Cmd          []string
		Volumes      map[string]struct{}
		StopSignal   string
	}
	if err := json.Unmarshal([]byte(p.run(t, "image", "inspect", "--format", "{{json .Config}}", image)), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.User != "10001:10001" {
		t.Errorf("User %q, want 10001:10001", cfg.User)
	}
	var ports []string
	for k := range cfg.ExposedPorts {
		ports = append(ports, k)
	}
	sort.Strings(ports)
	if want := []string{"1317/tcp", "26656/tcp", "26657/tcp", "9090/tcp"}; !slices.Equal(ports, want) {
		t.Errorf("ExposedPorts %v, want %v", ports, want)
	}
	if _, ok := cfg.Volumes["/home/normledger"]; !ok || len(cfg.Volumes) != 1 {
		t.Errorf("Volumes %v, want /home/normledger", cfg.Volumes)
	}
	if cfg.StopSignal != "SIGTERM" {
		t.Errorf("StopSignal %q", cfg.StopSignal)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/normledger"}) || !slices.Equal(cfg.Cmd, []string{"start", "--home", "/home/normledger"}) {
		t.Errorf("Entrypoint %q Cmd %q", cfg.Entrypoint, cfg.Cmd)
	}
	// No /etc/passwd: HOME is where os.UserHomeDir looks. The listen
	// addresses are all interfaces, or a published port reaches nothing.
	for _, e := range []string{"HOME=/home/normledger", "NORMLEDGER_HOME=/home/normledger",
		"NORMLEDGER_P2P_LADDR=tcp://0.0.0.0:26656", "NORMLEDGER_RPC_LADDR=tcp://0.0.0.0:26657",
		"NORMLEDGER_API_REST_LADDR=tcp://0.0.0.0:1317", "NORMLEDGER_API_GRPC_LADDR=tcp://0.0.0.0:9090"} {
		if !slices.Contains(cfg.Env, e) {
			t.Errorf("Env %q lacks %s", cfg.Env, e)
		}
	}
}

// checkImageContent: the image's files are the binary, the home (owned by
// the node's user) and /tmp, nothing else.
func checkImageContent(t *testing.T, p podman, image string) {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.tar")
	p.run(t, "save", "--format", "docker-archive", "-o", archive, image)
	entries := readImageLayers(t, archive)
	want := map[string]string{
		"home/":                    "dir 0:0 -rwxr-xr-x",
		"home/normledger/":         "dir 10001:10001 -rwx------",
		"tmp/":                     "dir 0:0 -rwxrwxrwx sticky",
		"usr/":                     "dir 0:0 -rwxr-xr-x",
		"usr/local/":               "dir 0:0 -rwxr-xr-x",
		"usr/local/bin/":           "dir 0:0 -rwxr-xr-x",
		"usr/local/bin/normledger": "file 0:0 -rwxr-xr-x",
	}
	for name, got := range entries {
		w, ok := want[name]
		if !ok {
			t.Errorf("the image holds %s (%s), which it should not", name, got)
			continue
		}
		if got != w {
			t.Errorf("the image's %s is %q, want %q", name, got, w)
		}
	}
	for name := range want {
		if _, ok := entries[name]; !ok {
			t.Errorf("the image lacks %s", name)
		}
	}
}

// readImageLayers lists the files of a docker-archive's layers: name ->
// "dir|file UID:GID PERMISSIONS [sticky]" (of the last layer that has it).
func readImageLayers(t *testing.T, archive string) map[string]string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layers := map[string][]byte{}
	var manifest []struct{ Layers []string }
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatal(err)
			}
		} else {
			layers[h.Name] = b
		}
	}
	if len(manifest) != 1 {
		t.Fatalf("manifest.json lists %d images", len(manifest))
	}
	entries := map[string]string{}
	for _, l := range manifest[0].Layers {
		var r io.Reader = bytes.NewReader(layers[l])
		if bytes.HasPrefix(layers[l], []byte{0x1f, 0x8b}) {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("layer %s: %v", l, err)
			}
			r = zr
		}
		lt := tar.NewReader(r)
		for {
			h, err := lt.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l, err)
			}
			name := strings.TrimPrefix(h.Name, "./")
			kind := "file"
			if h.Typeflag == tar.TypeDir {
				kind = "dir"
				if !strings.HasSuffix(name, "/") {
					name += "/"
				}
			}
			desc := fmt.Sprintf("%s %d:%d %s", kind, h.Uid, h.Gid, fs.FileMode(h.Mode).Perm())
			if h.Mode&01000 != 0 {
				desc += " sticky"
			}
			entries[name] = desc
		}
	}
	return entries
}

// TestContainerfilesAgree: Containerfile's runtime stage (from FROM scratch
// on) is Containerfile.prebuilt's, but for where it copies from; the
// prebuilt one is what TestContainerImage builds and runs, the two-stage
// one needs a Go image from a registry, which the test cannot pull.
func TestContainerfilesAgree(t *testing.T) {
	stage := func(file string, normalize func(string) string) []string {
		var lines []string
		in := false
		for _, l := range strings.Split(strings.ReplaceAll(string(readFile(t, filepath.Join("container", file))), "\\\n", " "), "\n") {
			l = strings.Join(strings.Fields(l), " ")
			if strings.HasPrefix(l, "FROM scratch") {
				in = true
			}
			if in && l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, normalize(l))
			}
		}
		return lines
	}
	twoStage := stage("Containerfile", func(l string) string {
		l = strings.Replace(l, "--from=build ", "", 1)
		return strings.Replace(l, " /out/", " ", 1)
	})
	prebuilt := stage("Containerfile.prebuilt", func(l string) string { return l })
	if len(prebuilt) == 0 || !slices.Equal(twoStage, prebuilt) {
		t.Errorf("the runtime stages differ:\nContainerfile:\n  %s\nContainerfile.prebuilt:\n  %s",
			strings.Join(twoStage, "\n  "), strings.Join(prebuilt, "\n  "))
	}
	// The builder builds as scripts/release.sh does.
	cf := string(readFile(t, filepath.Join("container", "Containerfile")))
	script := string(readFile(t, filepath.Join(repoRoot, "scripts", "release.sh")))
	for _, flag := range []string{"-trimpath", "-buildvcs=false", `-s -w -buildid= -X github.com/normledger/normledger/cli.Version=`, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOAMD64=v1", "GOARM64=v8.0"} {
		if !strings.Contains(script, flag) || !strings.Contains(cf, flag) {
			t.Errorf("%q: in release.sh %v, in Containerfile %v", flag, strings.Contains(script, flag), strings.Contains(cf, flag))
		}
	}
}

// TestSystemdUnits checks both units with systemd-analyze verify (which
// requires ExecStart's binary to exist: the test verifies copies whose
// /usr/local/bin/normledger and /usr/local/bin/cosmovisor point at an
// existing executable) and logs their exposure score from
// systemd-analyze security --offline=yes.
func TestSystemdUnits(t *testing.T) {
	skipShort(t)
	analyze := need(t, "systemd-analyze", "systemd")
	exe, err := os.Executable() // any executable will do for verify
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, unit := range []string{"normledger.service", "normledger-cosmovisor.service"} {
		text := string(readFile(t, filepath.Join("systemd", unit)))
		checkUnit(t, unit, text)
		local := strings.NewReplacer("/usr/local/bin/normledger", exe, "/usr/local/bin/cosmovisor", exe).Replace(text)
		path := filepath.Join(dir, unit)
		if err := os.WriteFile(path, []byte(local), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(analyze, "verify", path)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
		out, err = exec.Command(analyze, "security", "--offline=yes", path).CombinedOutput()
		if err != nil {
			t.Logf("systemd-analyze security --offline=yes %s: %v (this systemd may not support it)", unit, err)
			continue
		}
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindStringSubmatch(string(out))
		if m == nil {
			t.Errorf("systemd-analyze security %s printed no exposure level:\n%s", unit, out)
			continue
		}
		t.Logf("systemd-analyze security --offline=yes %s: exposure %s %s", unit, m[1], m[2])
		// 1.1 with systemd 252 (Debian 12); a later systemd may weigh
		// settings differently, so the bound is loose.
		if score, _ := strconv.ParseFloat(m[1], 64); score > 3.0 {
			t.Errorf("%s: exposure %s: the hardening has been loosened", unit, m[1])
		}
	}
}

// checkUnit: the settings an operator relies on.
func checkUnit(t *testing.T, unit, text string) {
	t.Helper()
	settings := map[string][]string{}
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		settings[k] = append(settings[k], v)
	}
	one := func(k string) string {
		if v := settings[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	for k, want := range map[string]string{
		"User": "normledger", "Restart": "on-failure", "KillSignal": "SIGTERM", "LimitNOFILE": "65536",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
		"LockPersonality": "yes", "ReadWritePaths": "/var/lib/normledger",
	} {
		if got, ok := settings[k]; !ok || one(k) != want {
			t.Errorf("%s: %s=%q, want %q", unit, k, got, want)
		}
	}
	if !slices.Contains(settings["SystemCallFilter"], "@system-service") {
		t.Errorf("%s: SystemCallFilter %q lacks @system-service", unit, settings["SystemCallFilter"])
	}
	stop, err := time.ParseDuration(one("TimeoutStopSec"))
	if err != nil || stop < 30*time.Second {
		t.Errorf("%s: TimeoutStopSec=%q: a clean stop needs at least 30s", unit, one("TimeoutStopSec"))
	}
	env := map[string]string{}
	for _, e := range settings["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	switch unit {
	case "normledger.service":
		if one("ExecStart") != "/usr/local/bin/normledger start --home /var/lib/normledger" {
			t.Errorf("%s: ExecStart=%q", unit, one("ExecStart"))
		}
		if one("RestartPreventExitStatus") != "6" {
			t.Errorf("%s: RestartPreventExitStatus=%q, want 6 (an upgrade is needed: restarting the same binary loops)", unit, one("RestartPreventExitStatus"))
		}
	case "normledger-cosmovisor.service":
		if one("ExecStart") != "/usr/local/bin/cosmovisor run start --home /var/lib/normledger" {
			t.Errorf("%s: ExecStart=%q", unit, one("ExecStart"))
		}
		if env["DAEMON_NAME"] != "normledger" || env["DAEMON_HOME"] != "/var/lib/normledger" || env["DAEMON_RESTART_AFTER_UPGRADE"] != "true" {
			t.Errorf("%s: Environment %v: want DAEMON_NAME=normledger, DAEMON_HOME the node's home, DAEMON_RESTART_AFTER_UPGRADE=true", unit, env)
		}
		if _, ok := settings["RestartPreventExitStatus"]; ok {
			t.Errorf("%s: exit 6 is cosmovisor's to handle, not systemd's", unit)
		}
	}
}

// tmkmsConfig is tmkms's configuration (its src/config), strictly: tmkms
// refuses unknown fields, and so does this parse.
type tmkmsConfig struct {
	Chain []struct {
		ID             string         `toml:"id"`
		KeyFormat      map[string]any `toml:"key_format"`
		StateFile      string         `toml:"state_file"`
		StateHook      map[string]any `toml:"state_hook"`
		SignExtensions bool           `toml:"sign_extensions"`
	} `toml:"chain"`
	Validator []struct {
		Addr            string `toml:"addr"`
		ChainID         string `toml:"chain_id"`
		Reconnect       *bool  `toml:"reconnect"`
		Timeout         *int   `toml:"timeout"`
		SecretKey       string `toml:"secret_key"`
		MaxHeight       string `toml:"max_height"`
		ProtocolVersion string `toml:"protocol_version"`
	} `toml:"validator"`
	Providers struct {
		YubiHSM []struct {
			Adapter map[string]any `toml:"adapter"`
			Auth    map[string]any `toml:"auth"`
			Keys    []struct {
				ChainIDs []string `toml:"chain_ids"`
				Key      int      `toml:"key"`
				Type     string   `toml:"type"`
			} `toml:"keys"`
			SerialNumber    string         `toml:"serial_number"`
			ConnectorServer map[string]any `toml:"connector_server"`
		} `toml:"yubihsm"`
		Softsign []struct {
			ChainIDs  []string `toml:"chain_ids"`
			KeyType   string   `toml:"key_type"`
			KeyFormat string   `toml:"key_format"`
			Path      string   `toml:"path"`
		} `toml:"softsign"`
	} `toml:"providers"`
}

// TestTmkmsConfig parses deploy/tmkms/tmkms.toml as tmkms's configuration,
// once as shipped (YubiHSM) and once with the softsign alternative
// uncommented instead, and checks that the names agree: one chain id
// throughout, the validator address on the port the comments tell the node
// to listen on for its signer, a protocol version tmkms knows.
func TestTmkmsConfig(t *testing.T) {
	text := string(readFile(t, filepath.Join("tmkms", "tmkms.toml")))
	laddr := regexp.MustCompile(`--priv-validator-laddr tcp://[^:\s]+:(\d+)`).FindStringSubmatch(text)
	if laddr == nil {
		t.Fatal("the comments do not show the node's --priv-validator-laddr")
	}
	parse := func(what, text string) tmkmsConfig {
		var cfg tmkmsConfig
		dec := toml.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			var sm *toml.StrictMissingError
			if errors.As(err, &sm) {
				t.Fatalf("%s: %s", what, sm.String())
			}
			t.Fatalf("%s: %v", what, err)
		}
		return cfg
	}
	check := func(what string, cfg tmkmsConfig) {
		if len(cfg.Chain) != 1 || len(cfg.Validator) != 1 {
			t.Fatalf("%s: %d chains, %d validators; want one each", what, len(cfg.Chain), len(cfg.Validator))
		}
		chain, v := cfg.Chain[0], cfg.Validator[0]
		if chain.ID == "" || v.ChainID != chain.ID {
			t.Errorf("%s: chain %q, validator's chain_id %q", what, chain.ID, v.ChainID)
		}
		if chain.KeyFormat["type"] != "hex" {
			t.Errorf("%s: key_format %v: normledger has no bech32 prefixes", what, chain.KeyFormat)
		}
		if chain.StateFile == "" {
			t.Errorf("%s: no state_file: the double-sign protection would not survive a restart", what)
		}
		if !strings.HasPrefix(v.Addr, "tcp://") || !strings.HasSuffix(v.Addr, ":"+laddr[1]) {
			t.Errorf("%s: validator addr %q, want tcp://HOST:%s (the node's --priv-validator-laddr)", what, v.Addr, laddr[1])
		}
		if v.ProtocolVersion != "v0.38" && v.ProtocolVersion != "v0.34" {
			t.Errorf("%s: protocol_version %q: tmkms knows v0.38 and v0.34", what, v.ProtocolVersion)
		}
		if v.SecretKey == "" {
			t.Errorf("%s: no secret_key", what)
		}
		providers := 0
		for _, y := range cfg.Providers.YubiHSM {
			for _, k := range y.Keys {
				providers++
				if !slices.Equal(k.ChainIDs, []string{chain.ID}) || k.Type != "consensus" {
					t.Errorf("%s: yubihsm key %+v: want the consensus key of %s", what, k, chain.ID)
				}
			}
		}
		for _, s := range cfg.Providers.Softsign {
			providers++
			if !slices.Equal(s.ChainIDs, []string{chain.ID}) || s.KeyType != "consensus" || s.Path == "" {
				t.Errorf("%s: softsign %+v: want the consensus key of %s", what, s, chain.ID)
			}
		}
		if providers != 1 {
			t.Errorf("%s: %d signing keys for %s, want exactly one", what, providers, chain.ID)
		}
	}
	shipped := parse("tmkms.toml", text)
	check("tmkms.toml", shipped)
	if len(shipped.Providers.YubiHSM) != 1 {
		t.Errorf("tmkms.toml: %d yubihsm providers, want the HSM as shipped", len(shipped.Providers.YubiHSM))
	}

	// The softsign alternative: comment out the YubiHSM block, uncomment
	// the softsign one.
	var alt []string
	block := ""
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "[[providers.yubihsm]]"):
			block = "yubihsm"
		case strings.HasPrefix(l, "# [[providers.softsign]]"):
			block = "softsign"
		case strings.HasPrefix(l, "[") || strings.HasPrefix(l, "##"):
			block = ""
		}
		switch {
		case block == "yubihsm":
			l = "# " + l
		case block == "softsign" && strings.HasPrefix(l, "# "):
			l = strings.TrimPrefix(l, "# ")
		}
		alt = append(alt, l)
	}
	softsign := parse("tmkms.toml with softsign", strings.Join(alt, "\n"))
	check("tmkms.toml with softsign", softsign)
	if len(softsign.Providers.Softsign) != 1 || len(softsign.Providers.YubiHSM) != 0 {
		t.Errorf("the softsign alternative: %d softsign, %d yubihsm providers", len(softsign.Providers.Softsign), len(softsign.Providers.YubiHSM))
	}
}
