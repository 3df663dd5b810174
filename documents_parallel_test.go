package miroir

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/miroirsearch/miroir/internal/route"
)

// routed flattens the parts of routeInMemory.
func routed(parts []docSink) []routedDoc {
	var out []routedDoc
	for _, p := range parts {
		out = append(out, p.(*docList).docs...)
	}
	return out
}

// routeBoth routes body sequentially and split into parts (small parts,
// four workers) through sources made by mk, and fails unless both give
// the same documents, shards, attribute names and error.
func routeBoth(t *testing.T, name string, body []byte, mk func(body []byte) (source, map[string]struct{})) (split bool) {
	t.Helper()
	run := func(minBytes, workers int) ([]routedDoc, []string, string) {
		defer func(m, w int) { minParallelBytes, routeWorkers = m, w }(minParallelBytes, routeWorkers)
		minParallelBytes, routeWorkers = minBytes, workers
		src, fields := mk(body)
		parts, err := routeInMemory(src, func() docSink { return &docList{} })
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		var names []string
		for f := range fields {
			names = append(names, f)
		}
		slices.Sort(names) // nil without a map (CSV)
		split = split || len(parts) > 1
		return routed(parts), names, msg
	}
	seqDocs, seqFields, seqErr := run(1<<40, 1)
	parDocs, parFields, parErr := run(1, 4)
	if parErr != seqErr {
		t.Fatalf("%s: parallel error %q, sequential %q", name, parErr, seqErr)
	}
	if seqErr != "" {
		return split // the documents before the error are not used
	}
	if !slices.EqualFunc(parDocs, seqDocs, func(a, b routedDoc) bool { return a.shard == b.shard && bytes.Equal(a.raw, b.raw) }) {
		t.Fatalf("%s: parallel routed %d documents, sequential %d, or they differ", name, len(parDocs), len(seqDocs))
	}
	if !slices.Equal(parFields, seqFields) {
		t.Fatalf("%s: attribute names %v, sequential %v", name, parFields, seqFields)
	}
	return split
}

func jsonMaker(ndjson bool) func(body []byte) (source, map[string]struct{}) {
	return func(body []byte) (source, map[string]struct{}) {
		f := map[string]struct{}{}
		js := &jsonSource{ndjson: ndjson, body: body, rt: route.Router{PrimaryKey: "id", Shards: 16, Fields: f}}
		if ndjson {
			js.rd = route.NDJSONBytes(body)
		} else {
			js.rd, js.array = route.ArrayBytes(body), true
		}
		return js, f
	}
}

func csvMaker(body []byte) (source, map[string]struct{}) {
	cr, err := route.CSVBytes(body, ',')
	if err != nil {
		panic(err)
	}
	cr.SetKeyColumn(cr.Column("id"))
	return &csvSource{cr: cr, rt: route.Router{PrimaryKey: "id", Shards: 16}, typ: route.CSVString, body: body}, nil
}

// trickyString is text that fools route.DocStart: "},{" inside strings,
// escaped quotes, line feeds in CSV cells.
func trickyString(rng *rand.Rand) string {
	parts := []string{"plain", "},{", "}, {", `\"},{\"id\":9}`, "é", "x\\ny", "{", "}", ","}
	var b strings.Builder
	for range rng.IntN(6) {
		b.WriteString(parts[rng.IntN(len(parts))])
	}
	return b.String()
}

// TestRouteInMemoryParallelMatchesSequential routes random payloads (JSON
// arrays, NDJSON with objects spread over lines, CSV with quoted line
// feeds), valid or with one bad document anywhere, both ways.
func TestRouteInMemoryParallelMatchesSequential(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	splits := map[string]int{}
	for it := range 300 {
		n := 1 + rng.IntN(60)
		bad := -1
		if it%3 == 0 {
			bad = rng.IntN(n)
		}
		var arr, nd, cs bytes.Buffer
		arr.WriteString("[")
		cs.WriteString("id,title,note\n")
		for i := range n {
			s := trickyString(rng)
			id := fmt.Sprintf("%q", fmt.Sprint("d", i))
			if i == bad {
				id = []string{`1.5`, `"a b"`, `null`}[rng.IntN(3)]
			}
			doc := fmt.Sprintf(`{"id":%s,"title":"%s","n":{"k":[1,"%s"]}}`, id, s, s)
			if i == bad && rng.IntN(2) == 0 {
				doc = fmt.Sprintf(`{"id":"d%d","title":"%s",`, i, s) // malformed
			}
			if i > 0 {
				arr.WriteString(",")
				if rng.IntN(3) == 0 {
					arr.WriteString("\n ")
				}
			}
			arr.WriteString(doc)
			if rng.IntN(4) == 0 {
				doc = strings.Replace(doc, `,"n":`, ",\n  \"n\":\n{\"k\":[1,2]},\"m\":", 1) // an object over lines
			}
			nd.WriteString(doc + "\n")
			cell := strings.NewReplacer(`\"`, `""`, `"`, `""`).Replace(s)
			cid := fmt.Sprint("d", i)
			if i == bad {
				cid = "a b"
			}
			fmt.Fprintf(&cs, "%s,\"%s\",\"line\n%s\"\n", cid, cell, cell)
		}
		arr.WriteString("]")
		for _, c := range []struct {
			kind string
			body []byte
			mk   func([]byte) (source, map[string]struct{})
		}{{"array", arr.Bytes(), jsonMaker(false)}, {"ndjson", nd.Bytes(), jsonMaker(true)}, {"csv", cs.Bytes(), csvMaker}} {
			if routeBoth(t, fmt.Sprintf("%s %d", c.kind, it), c.body, c.mk) {
				splits[c.kind]++
			}
		}
	}
	// The split must really happen (and be confirmed) on a good share of
	// the payloads, despite the decoys, not always fall back to one part
	// (about a third hold a bad document).
	for _, kind := range []string{"array", "ndjson", "csv"} {
		if splits[kind] < 50 {
			t.Errorf("%s: routed in parts %d times of 300", kind, splits[kind])
		}
	}
}
