// Command meilisuite runs meilisearch-go's own integration suite (the
// integration/ package of the module version in go.mod) against a target
// and prints how many of its tests pass, per file.
//
//	go run ./tools/meilisuite                       # one in-process meilitest node
//	go run ./tools/meilisuite -url http://host:7700  # any running server (master key "masterKey")
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
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/miroirsearch/miroir/meilitest"
)

func main() {
	url := flag.String("url", "", "target URL; empty starts one meilitest node")
	run := flag.String("run", "", "go test -run pattern")
	verbose := flag.Bool("v", false, "print each failing test's output")
	failures := flag.Bool("failures", false, "list failing tests")
	flag.Parse()

	target := *url
	if target == "" {
		srv, err := meilitest.NewServer(meilitest.WithMasterKey("masterKey"))
		if err != nil {
			log.Fatal(err)
		}
		defer srv.Close()
		target = srv.URL()
	}
	dir, err := suiteDir()
	if err != nil {
		log.Fatal(err)
	}
	files, err := testFiles(dir)
	if err != nil {
		log.Fatal(err)
	}
	args := []string{"test", "-json", "-count=1", "-p=1", "-timeout=20m", "./integration"}
	if *run != "" {
		args = append(args, "-run", *run)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MEILISEARCH_URL="+target, "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	_ = cmd.Run() // failing tests make go test exit non-zero

	type result struct{ pass, fail, skip int }
	per := map[string]*result{}
	output := map[string]*strings.Builder{}
	var failed []string
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
			b := output[ev.Test]
			if b == nil {
				b = &strings.Builder{}
				output[ev.Test] = b
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
		r := per[f]
		if r == nil {
			r = &result{}
			per[f] = r
		}
		switch ev.Action {
		case "pass":
			r.pass++
		case "fail":
			r.fail++
			failed = append(failed, ev.Test)
		case "skip":
			r.skip++
		}
	}
	names := make([]string, 0, len(per))
	for f := range per {
		names = append(names, f)
	}
	sort.Strings(names)
	var tp, tf, ts int
	fmt.Printf("%-28s %6s %6s %6s\n", "file", "pass", "fail", "skip")
	for _, f := range names {
		r := per[f]
		tp, tf, ts = tp+r.pass, tf+r.fail, ts+r.skip
		fmt.Printf("%-28s %6d %6d %6d\n", f, r.pass, r.fail, r.skip)
	}
	fmt.Printf("%-28s %6d %6d %6d\n", "total", tp, tf, ts)
	if *failures || *verbose {
		sort.Strings(failed)
		for _, t := range failed {
			fmt.Printf("FAIL %s (%s)\n", t, files[t])
			if *verbose && output[t] != nil {
				fmt.Println(output[t].String())
			}
		}
	}
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
