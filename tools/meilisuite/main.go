// Command meilisuite runs meilisearch-go's own integration suite (the
// integration/ package of the module version in go.mod) against a target
// and prints how many of its tests pass, per file.
//
//	go run ./tools/meilisuite                       # one in-process meilitest node
//	go run ./tools/meilisuite -url http://host:7700  # any running server (master key "masterKey")
//	go run ./tools/meilisuite -fleet 1x1x3           # miroir's proxy handler over 3 meilitest nodes (RG 1, RF 1)
//	go run ./tools/meilisuite -fleet single,1x1x3,2x2 -failures  # several targets, compared
//
// A fleet is RGxRF[xN]: RG replica groups of N meilitest nodes each (N
// defaults to RF), replication factor RF, served in-process by a
// miroir.Cluster and its Handler (master key "masterKey", pass-through auth
// so that the suite's API keys and tenant tokens reach the nodes, brotli
// request bodies decoded). "single" is one meilitest node. With several
// targets, the tests whose outcome differs from the first target are
// listed.
//
// The suite reads MEILISEARCH_URL and uses the master key "masterKey". It is
// a test suite nobody on this project wrote, which makes it a fair check of
// meilitest's (and the proxy handler's) fidelity.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

const masterKey = "masterKey"

func main() {
	url := flag.String("url", "", "target URL; empty starts one meilitest node (or the -fleet targets)")
	fleet := flag.String("fleet", "", "comma-separated targets: single, or RGxRF[xN] (a miroir proxy over meilitest nodes)")
	shards := flag.Int("shards", 0, "shard count of the fleets (0: miroir's default)")
	run := flag.String("run", "", "go test -run pattern")
	verbose := flag.Bool("v", false, "print each failing test's output")
	failures := flag.Bool("failures", false, "list failing tests")
	flag.Parse()

	dir, err := suiteDir()
	if err != nil {
		log.Fatal(err)
	}
	files, err := testFiles(dir)
	if err != nil {
		log.Fatal(err)
	}

	var targets []string
	switch {
	case *url != "":
		targets = []string{"url"}
	case *fleet != "":
		targets = strings.Split(*fleet, ",")
	default:
		targets = []string{"single"}
	}
	var results []*suiteResult
	for _, t := range targets {
		t = strings.TrimSpace(t)
		target, stop, err := start(t, *url, *shards)
		if err != nil {
			log.Fatalf("%s: %v", t, err)
		}
		fmt.Printf("== %s (%s)\n", t, target)
		res := runSuite(dir, target, *run, files)
		stop()
		res.name = t
		res.print(files, *failures, *verbose)
		results = append(results, res)
	}
	if len(results) > 1 {
		compare(results, files)
	}
}

// start brings up target t and returns its URL and a stop function.
func start(t, url string, shards int) (string, func(), error) {
	switch {
	case t == "url":
		return url, func() {}, nil
	case t == "single":
		srv, err := meilitest.NewServer(meilitest.WithMasterKey(masterKey))
		if err != nil {
			return "", nil, err
		}
		return srv.URL(), srv.Close, nil
	}
	rg, rf, per, err := parseFleet(t)
	if err != nil {
		return "", nil, err
	}
	var servers []*meilitest.Server
	stopAll := func() {
		for _, s := range servers {
			s.Close()
		}
	}
	var nodes []miroir.Node
	for g := range rg {
		for i := range per {
			srv, err := meilitest.NewServer(meilitest.WithMasterKey(masterKey))
			if err != nil {
				stopAll()
				return "", nil, err
			}
			servers = append(servers, srv)
			nodes = append(nodes, miroir.Node{ID: fmt.Sprintf("g%dn%d", g, i), URL: srv.URL(), Group: g})
		}
	}
	opts := []miroir.Option{miroir.WithAPIKey(masterKey), miroir.WithReplicationFactor(rf)}
	if shards > 0 {
		opts = append(opts, miroir.WithShards(shards))
	}
	c, err := miroir.New(nodes, opts...)
	if err != nil {
		stopAll()
		return "", nil, err
	}
	h := c.Handler(miroir.WithMasterKey(masterKey), miroir.WithAuthPassthrough(),
		miroir.WithContentCoding("br",
			func(r io.Reader) (io.ReadCloser, error) { return io.NopCloser(brotli.NewReader(r)), nil },
			func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.Close()
		stopAll()
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		_ = srv.Close()
		c.Close()
		stopAll()
	}, nil
}

// parseFleet reads RGxRF[xN].
func parseFleet(s string) (rg, rf, per int, err error) {
	parts := strings.Split(strings.ToLower(s), "x")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, fmt.Errorf("fleet %q: want RGxRF or RGxRFxN", s)
	}
	n := make([]int, len(parts))
	for i, p := range parts {
		if n[i], err = strconv.Atoi(p); err != nil || n[i] < 1 {
			return 0, 0, 0, fmt.Errorf("fleet %q: %q is not a positive number", s, p)
		}
	}
	rg, rf, per = n[0], n[1], n[1]
	if len(n) == 3 {
		per = n[2]
	}
	if per < rf {
		return 0, 0, 0, fmt.Errorf("fleet %q: %d nodes per group is fewer than RF %d", s, per, rf)
	}
	return rg, rf, per, nil
}

type counts struct{ pass, fail, skip int }

type suiteResult struct {
	name    string
	per     map[string]*counts
	outcome map[string]string // top-level test -> pass/fail/skip
	output  map[string]*strings.Builder
}

func runSuite(dir, target, run string, files map[string]string) *suiteResult {
	args := []string{"test", "-json", "-count=1", "-p=1", "-timeout=20m", "./integration"}
	if run != "" {
		args = append(args, "-run", run)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MEILISEARCH_URL="+target, "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	_ = cmd.Run() // failing tests make go test exit non-zero

	res := &suiteResult{per: map[string]*counts{}, outcome: map[string]string{}, output: map[string]*strings.Builder{}}
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var ev struct {
			Action, Test, Output string
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Test == "" {
			continue
		}
		if ev.Action == "output" {
			top, _, _ := strings.Cut(ev.Test, "/")
			b := res.output[top]
			if b == nil {
				b = &strings.Builder{}
				res.output[top] = b
			}
			b.WriteString(ev.Output)
			continue
		}
		if strings.Contains(ev.Test, "/") { // count top-level tests only
			continue
		}
		f := files[ev.Test]
		if f == "" {
			f = "?"
		}
		r := res.per[f]
		if r == nil {
			r = &counts{}
			res.per[f] = r
		}
		switch ev.Action {
		case "pass":
			r.pass++
		case "fail":
			r.fail++
		case "skip":
			r.skip++
		default:
			continue
		}
		res.outcome[ev.Test] = ev.Action
	}
	return res
}

func (res *suiteResult) print(files map[string]string, failures, verbose bool) {
	names := make([]string, 0, len(res.per))
	for f := range res.per {
		names = append(names, f)
	}
	sort.Strings(names)
	var tp, tf, ts int
	fmt.Printf("%-28s %6s %6s %6s\n", "file", "pass", "fail", "skip")
	for _, f := range names {
		r := res.per[f]
		tp, tf, ts = tp+r.pass, tf+r.fail, ts+r.skip
		fmt.Printf("%-28s %6d %6d %6d\n", f, r.pass, r.fail, r.skip)
	}
	fmt.Printf("%-28s %6d %6d %6d\n", "total", tp, tf, ts)
	if failures || verbose {
		var failed []string
		for t, o := range res.outcome {
			if o == "fail" {
				failed = append(failed, t)
			}
		}
		sort.Strings(failed)
		for _, t := range failed {
			fmt.Printf("FAIL %s (%s)\n", t, files[t])
			if verbose && res.output[t] != nil {
				fmt.Println(res.output[t].String())
			}
		}
	}
}

// compare lists the tests whose outcome differs from the first target's.
func compare(results []*suiteResult, files map[string]string) {
	base := results[0]
	fmt.Printf("== differences from %s\n", base.name)
	same := true
	for _, r := range results[1:] {
		var tests []string
		for t := range files {
			if base.outcome[t] != r.outcome[t] {
				tests = append(tests, t)
			}
		}
		sort.Strings(tests)
		for _, t := range tests {
			same = false
			fmt.Printf("%-10s %-60s %s: %-5s %s: %s\n", r.name, t+" ("+files[t]+")", base.name, or(base.outcome[t], "-"), r.name, or(r.outcome[t], "-"))
		}
	}
	if same {
		fmt.Println("none: every target passes exactly the same tests")
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// suiteDir is meilisearch-go's module directory in the module cache.
func suiteDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/meilisearch/meilisearch-go").Output()
	if err != nil {
		return "", fmt.Errorf("locating meilisearch-go: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

var testFunc = regexp.MustCompile(`(?m)^func (Test\w+)\(`)

// testFiles maps each top-level test name to its file.
func testFiles(dir string) (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "integration", "*_test.go"))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		for _, sm := range testFunc.FindAllSubmatch(b, -1) {
			m[string(sm[1])] = filepath.Base(p)
		}
	}
	return m, nil
}
