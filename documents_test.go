package miroir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// topologies of the "done when": RG×RF with enough nodes that a
// node holds only part of the shards.
var coreTopologies = []struct {
	name   string
	groups []int
	rf     int
}{
	{"1x1", []int{0, 0, 0}, 1},
	{"1x2", []int{0, 0, 0}, 2},
	{"1x3", []int{0, 0, 0, 0}, 3},
	{"2x1", []int{0, 0, 1, 1}, 1},
	{"2x2", []int{0, 0, 0, 1, 1, 1}, 2},
}

// nodeDocs lists every document node i holds for uid, directly.
func (f *testFleet) nodeDocs(t testing.TB, i int, uid string, filter any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for off := int64(0); ; off += 1000 {
		var res meilisearch.DocumentsResult
		err := f.direct(i).Index(uid).GetDocuments(testCtx(t), &meilisearch.DocumentsQuery{Offset: off, Limit: 1000, Filter: filter}, &res)
		if err != nil {
			t.Fatalf("node %d documents: %v", i, err)
		}
		for _, h := range res.Results {
			m := map[string]any{}
			for k, v := range h {
				var x any
				_ = json.Unmarshal(v, &x)
				m[k] = x
			}
			out = append(out, m)
		}
		if int64(len(res.Results)) < 1000 {
			return out
		}
	}
}

// checkPlacement asserts that every node holds exactly the documents of the
// shards the rendezvous assigns it, each tagged with its shard.
func (f *testFleet) checkPlacement(t testing.TB, uid string, ids []string) {
	t.Helper()
	shards := f.c.opts.shards
	for i := range f.srv {
		held := f.c.topo.shardsOf(i)
		var want []string
		for _, id := range ids {
			if slices.Contains(held, ShardOf(id, shards)) {
				want = append(want, id)
			}
		}
		docs := f.nodeDocs(t, i, uid, nil)
		var got []string
		for _, d := range docs {
			id := fmt.Sprint(d["id"])
			got = append(got, id)
			sh, ok := d["_miroir_shard"].(float64)
			if !ok || int(sh) != ShardOf(id, shards) {
				t.Fatalf("node %d: doc %s has _miroir_shard %v, want %d", i, id, d["_miroir_shard"], ShardOf(id, shards))
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("node %d holds %d docs, want %d (shards %v)", i, len(got), len(want), held)
		}
		// The shard field is filterable: one shard's documents by filter.
		if len(held) > 0 {
			s := held[0]
			byFilter := f.nodeDocs(t, i, uid, fmt.Sprintf("_miroir_shard = %d", s))
			n := 0
			for _, id := range ids {
				if ShardOf(id, shards) == s {
					n++
				}
			}
			if len(byFilter) != n {
				t.Fatalf("node %d: filter _miroir_shard = %d gave %d docs, want %d", i, s, len(byFilter), n)
			}
		}
	}
}

// checkAllRetrievable reads every document by id through the Cluster (a
// few readers in parallel) and compares it with what was written.
func (f *testFleet) checkAllRetrievable(t testing.TB, ix *Index, docs []coreMovie) {
	t.Helper()
	ctx := testCtx(t)
	errs := make(chan error, len(docs))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(docs); i += 8 {
				d := docs[i]
				var got coreMovie
				if err := ix.GetDocument(ctx, fmt.Sprint(d.ID), nil, &got); err != nil {
					errs <- fmt.Errorf("GetDocument(%d): %w", d.ID, err)
					continue
				}
				if got != d {
					errs <- fmt.Errorf("GetDocument(%d) = %+v, want %+v", d.ID, got, d)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestTopologiesWriteAndPlacement(t *testing.T) {
	for _, tp := range coreTopologies {
		t.Run(tp.name, func(t *testing.T) {
			t.Parallel()
			f := startFleet(t, fleetSpec{groups: tp.groups, rf: tp.rf, shards: 16})
			ix := f.createIndex(t, "movies", "id")
			ctx := testCtx(t)
			docs := coreMovies(1000)
			info, err := ix.AddDocuments(ctx, docs, nil)
			if err != nil {
				t.Fatal(err)
			}
			task := f.wait(t, info, meilisearch.TaskStatusSucceeded)
			if task.Details.ReceivedDocuments != 1000 || task.Details.IndexedDocuments != 1000 {
				t.Fatalf("details %+v", task.Details)
			}
			ids := make([]string, len(docs))
			for i, d := range docs {
				ids[i] = fmt.Sprint(d.ID)
			}
			f.checkAllRetrievable(t, ix, docs)
			f.checkPlacement(t, "movies", ids)
			st, err := ix.GetStats(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.NumberOfDocuments != 1000 {
				t.Fatalf("stats: %d documents", st.NumberOfDocuments)
			}
			if _, ok := st.FieldDistribution["_miroir_shard"]; ok || st.FieldDistribution["title"] != 1000 {
				t.Fatalf("fieldDistribution %v", st.FieldDistribution)
			}
		})
	}
}

func TestGetDocumentFieldsAndMissing(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "movies", "id")
	ctx := testCtx(t)
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(10), nil)), meilisearch.TaskStatusSucceeded)
	var m map[string]any
	if err := ix.GetDocument(ctx, "3", &meilisearch.DocumentQuery{Fields: []string{"title", "_miroir_shard"}}, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || m["title"] != "movie 3" {
		t.Fatalf("fields: %v", m)
	}
	err := ix.GetDocument(ctx, "999", nil, &m)
	var me *meilisearch.Error
	if !errors.As(err, &me) || me.APIError.Code != "document_not_found" || me.StatusCode != 404 {
		t.Fatalf("missing document: %v", err)
	}
	err = f.c.index("nope").GetDocument(ctx, "1", nil, &m)
	if apiCode(err) != "index_not_found" {
		t.Fatalf("missing index: %v", err)
	}
}

func TestDocumentForms(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1}, rf: 1, shards: 8})
	ix := f.createIndex(t, "books", "")
	ctx := testCtx(t)
	get := func(id string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := ix.GetDocument(ctx, id, nil, &m); err != nil {
			t.Fatalf("GetDocument(%s): %v", id, err)
		}
		return m
	}
	// Primary key inferred from []byte JSON; passed to every node.
	f.wait(t, must(ix.AddDocuments(ctx, []byte(`[{"book_id":"a1","title":"Dune"},{"book_id":2,"title":"Emma"}]`), nil)), meilisearch.TaskStatusSucceeded)
	if pk, _ := ix.FetchPrimaryKey(ctx); *pk != "book_id" {
		t.Fatalf("primary key %q", *pk)
	}
	for i := range f.srv {
		info, err := f.direct(i).GetIndex(ctx, "books")
		if err != nil || info.PrimaryKey != "book_id" {
			t.Fatalf("node %d primary key %v %v", i, info, err)
		}
	}
	// A single object, json.RawMessage, a pointer to a slice of structs.
	f.wait(t, must(ix.AddDocuments(ctx, json.RawMessage(`{"book_id":"o1","title":"Ulysses"}`), nil)), meilisearch.TaskStatusSucceeded)
	type book struct {
		ID    string `json:"book_id"`
		Title string `json:"title"`
	}
	bs := []book{{"p1", "Persuasion"}, {"p2", "Beloved"}}
	f.wait(t, must(ix.AddDocuments(ctx, &bs, nil)), meilisearch.TaskStatusSucceeded)
	// NDJSON bytes and reader; CSV bytes (delimiter) and reader.
	f.wait(t, must(ix.AddDocumentsNdjson(ctx, []byte("{\"book_id\":\"n1\",\"title\":\"Walden\"}\n\n{\"book_id\":\"n2\",\"title\":\"Ivanhoe\"}\n"), nil)), meilisearch.TaskStatusSucceeded)
	f.wait(t, must(ix.AddDocumentsNdjsonFromReader(ctx, strings.NewReader("{\"book_id\":\"r1\",\"title\":\"Rebecca\"}\n"), nil)), meilisearch.TaskStatusSucceeded)
	f.wait(t, must(ix.AddDocumentsCsv(ctx, []byte("book_id;title;pages:number\nc1;\"Middle; march\";880\nc2;Lolita;336\n"), &meilisearch.CsvDocumentsQuery{CsvDelimiter: ";"})), meilisearch.TaskStatusSucceeded)
	f.wait(t, must(ix.AddDocumentsCsvFromReader(ctx, strings.NewReader("book_id,title\nc3,Kim\n"), nil)), meilisearch.TaskStatusSucceeded)
	// An io.Reader of a JSON array is streamed.
	f.wait(t, must(ix.AddDocuments(ctx, strings.NewReader(`[{"book_id":"s1","title":"Stream"}, {"book_id":"s2","title":"Flow"}]`), nil)), meilisearch.TaskStatusSucceeded)
	for id, title := range map[string]string{"a1": "Dune", "2": "Emma", "o1": "Ulysses", "p2": "Beloved", "n2": "Ivanhoe", "r1": "Rebecca", "c1": "Middle; march", "c3": "Kim", "s2": "Flow"} {
		if m := get(id); m["title"] != title || m["_miroir_shard"] != nil {
			t.Fatalf("%s: %v", id, m)
		}
	}
	if m := get("c1"); m["pages"] != float64(880) {
		t.Fatalf("csv number column: %v", m)
	}
	// Partial update keeps the other fields.
	f.wait(t, must(ix.UpdateDocuments(ctx, []map[string]any{{"book_id": "a1", "year": 1965}}, nil)), meilisearch.TaskStatusSucceeded)
	if m := get("a1"); m["title"] != "Dune" || m["year"] != float64(1965) {
		t.Fatalf("update: %v", m)
	}
	f.wait(t, must(ix.UpdateDocumentsCsv(ctx, []byte("book_id,year:number\nc3,1901\n"), nil)), meilisearch.TaskStatusSucceeded)
	f.wait(t, must(ix.UpdateDocumentsNdjson(ctx, []byte(`{"book_id":"n1","year":1854}`), nil)), meilisearch.TaskStatusSucceeded)
	if get("c3")["year"] != float64(1901) || get("n1")["year"] != float64(1854) || get("n1")["title"] != "Walden" {
		t.Fatal("csv/ndjson updates")
	}
	// In batches: one cluster task per batch.
	many := make([]map[string]any, 25)
	for i := range many {
		many[i] = map[string]any{"book_id": fmt.Sprintf("b%d", i), "title": "t"}
	}
	infos, err := ix.AddDocumentsInBatches(ctx, many, 10, nil)
	if err != nil || len(infos) != 3 {
		t.Fatalf("InBatches: %d tasks, %v", len(infos), err)
	}
	for _, info := range infos {
		f.wait(t, &info, meilisearch.TaskStatusSucceeded)
	}
	task, _ := f.c.GetTask(ctx, infos[2].TaskUID)
	if task.Details.ReceivedDocuments != 5 || task.Details.IndexedDocuments != 5 {
		t.Fatalf("last batch details %+v", task.Details)
	}
	var nd bytes.Buffer
	var csvb bytes.Buffer
	csvb.WriteString("book_id,title\n")
	for i := range 7 {
		fmt.Fprintf(&nd, "{\"book_id\":\"nd%d\",\"title\":\"x\"}\n", i)
		fmt.Fprintf(&csvb, "cv%d,y\n", i)
	}
	for name, call := range map[string]func() ([]meilisearch.TaskInfo, error){
		"ndjson": func() ([]meilisearch.TaskInfo, error) { return ix.AddDocumentsNdjsonInBatches(ctx, nd.Bytes(), 3, nil) },
		"ndjson reader": func() ([]meilisearch.TaskInfo, error) {
			return ix.AddDocumentsNdjsonFromReaderInBatches(ctx, bytes.NewReader(nd.Bytes()), 3, nil)
		},
		"csv": func() ([]meilisearch.TaskInfo, error) { return ix.AddDocumentsCsvInBatches(ctx, csvb.Bytes(), 3, nil) },
		"csv reader": func() ([]meilisearch.TaskInfo, error) {
			return ix.AddDocumentsCsvFromReaderInBatches(ctx, bytes.NewReader(csvb.Bytes()), 3, nil)
		},
		"update ndjson": func() ([]meilisearch.TaskInfo, error) {
			return ix.UpdateDocumentsNdjsonInBatches(ctx, nd.Bytes(), 4, nil)
		},
		"update csv": func() ([]meilisearch.TaskInfo, error) {
			return ix.UpdateDocumentsCsvInBatches(ctx, csvb.Bytes(), 4, nil)
		},
		"update json": func() ([]meilisearch.TaskInfo, error) { return ix.UpdateDocumentsInBatches(ctx, many[:7], 4, nil) },
	} {
		infos, err := call()
		want := 3
		if strings.HasPrefix(name, "update") {
			want = 2
		}
		if err != nil || len(infos) != want {
			t.Fatalf("%s: %d tasks, %v", name, len(infos), err)
		}
		for _, info := range infos {
			f.wait(t, &info, meilisearch.TaskStatusSucceeded)
		}
	}
	for _, id := range []string{"nd6", "cv6", "b24"} {
		get(id)
	}
	// The fields seen on writes are recorded for the read path.
	st, _ := f.c.state(ctx, "books")
	for _, fld := range []string{"book_id", "title", "year", "pages"} {
		if !slices.Contains(st.Fields(), fld) {
			t.Fatalf("fields %v lack %s", st.Fields(), fld)
		}
	}
	if slices.Contains(st.Fields(), "_miroir_shard") {
		t.Fatal("fields hold the shard field")
	}
	// Deletions: by id (routed), by filter and all (broadcast).
	task = f.wait(t, must(ix.DeleteDocuments(ctx, []string{"a1", "2", "zz"}, nil)), meilisearch.TaskStatusSucceeded)
	if task.Details.ProvidedIds != 3 || task.Details.DeletedDocuments != 2 {
		t.Fatalf("delete details %+v", task.Details)
	}
	f.wait(t, must(ix.DeleteDocument(ctx, "o1", nil)), meilisearch.TaskStatusSucceeded)
	for _, id := range []string{"a1", "2", "o1"} {
		var m map[string]any
		if err := ix.GetDocument(ctx, id, nil, &m); apiCode(err) != "document_not_found" {
			t.Fatalf("%s after delete: %v", id, err)
		}
	}
	before, _ := ix.GetStats(ctx, nil)
	task = f.wait(t, must(ix.DeleteAllDocuments(ctx, nil)), meilisearch.TaskStatusSucceeded)
	if task.Details.DeletedDocuments != before.NumberOfDocuments {
		t.Fatalf("delete all: %d deleted, had %d", task.Details.DeletedDocuments, before.NumberOfDocuments)
	}
	if after, _ := ix.GetStats(ctx, nil); after.NumberOfDocuments != 0 {
		t.Fatalf("after delete all: %d", after.NumberOfDocuments)
	}
}

func TestValidationBeforeAnyNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "v", "id")
	noPK := f.createIndex(t, "nopk", "")
	ctx := testCtx(t)
	countTasks := func() int64 {
		var n int64
		for i := range f.srv {
			r, err := f.direct(i).GetTasks(ctx, &meilisearch.TasksQuery{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			n += r.Total
		}
		return n
	}
	before := countTasks()
	// A payload one node refuses at once (malformed, not an object, a
	// bad delimiter; miroir's reserved attribute) is refused by the call;
	// one a node accepts and then fails (ids, primary key: failsTask) gets
	// a task that has already failed with the node's code and message
	// (which names no position). Either way nothing reaches any node.
	var last *meilisearch.TaskInfo
	for _, c := range []struct {
		name      string
		call      func() error
		code      string
		msg       string
		failsTask bool
	}{
		{"not an object", func() error { info, err := ix.AddDocuments(ctx, []byte(`[{"id":1},2]`), nil); last = info; return err }, "malformed_payload", "index 1", false},
		{"missing id", func() error {
			info, err := ix.AddDocuments(ctx, []any{map[string]any{"id": 1}, map[string]any{"x": 1}}, nil)
			last = info
			return err
		}, "missing_document_id", "", true},
		{"bad id", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":"a b"}]`), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"float id", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":1},{"id":1.5}]`), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"reserved", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":1,"_miroir_shard":3}]`), nil)
			last = info
			return err
		}, "miroir_reserved_field", "index 0", false},
		{"malformed json", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":1},{"id":`), nil)
			last = info
			return err
		}, "malformed_payload", "", false},
		{"ndjson line", func() error {
			info, err := ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1}\n{\"id\":[1]}\n"), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"csv reserved", func() error {
			info, err := ix.AddDocumentsCsv(ctx, []byte("id,_miroir_shard\n1,2\n"), nil)
			last = info
			return err
		}, "miroir_reserved_field", "", false},
		{"csv bad id", func() error {
			info, err := ix.AddDocumentsCsv(ctx, []byte("id,t\n1,a\nx y,b\n"), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"csv delimiter", func() error {
			info, err := ix.AddDocumentsCsv(ctx, []byte("id\n1\n"), &meilisearch.CsvDocumentsQuery{CsvDelimiter: ";;"})
			last = info
			return err
		}, "invalid_document_csv_delimiter", "", false},
		{"no pk candidate", func() error {
			info, err := noPK.AddDocuments(ctx, []byte(`[{"name":"x"}]`), nil)
			last = info
			return err
		}, "index_primary_key_no_candidate_found", "did not find any field", true},
		{"two pk candidates", func() error {
			info, err := noPK.AddDocuments(ctx, []byte(`[{"id":1,"uid":2}]`), nil)
			last = info
			return err
		}, "index_primary_key_multiple_candidates_found", "found 2 fields", true},
		{"batches validate all first", func() error {
			infos, err := ix.AddDocumentsInBatches(ctx, []byte(`[{"id":1},{"id":2},{"id":3},{"nope":4}]`), 1, nil)
			if len(infos) == 1 { // one failed task, not three sent and one failed
				last = &infos[0]
			}
			return err
		}, "missing_document_id", "", true},
		{"delete bad id", func() error {
			info, err := ix.DeleteDocuments(ctx, []string{"ok", "n o"}, nil)
			last = info
			return err
		}, "invalid_document_id", "", false},
	} {
		last = nil
		err := c.call()
		if c.failsTask {
			if err != nil || last == nil {
				t.Errorf("%s: refused (%v), want a task that fails with %s", c.name, err, c.code)
				continue
			}
			task, werr := f.c.WaitForTask(ctx, last.TaskUID, 0)
			if werr != nil || task.Status != meilisearch.TaskStatusFailed || string(task.Error.Code) != c.code ||
				!strings.Contains(task.Error.Message, c.msg) || strings.Contains(task.Error.Message, "Document at") {
				t.Errorf("%s: task %+v (%v), want failed with %s", c.name, task, werr, c.code)
			}
			continue
		}
		var me *meilisearch.Error
		if !errors.As(err, &me) || string(me.APIError.Code) != c.code || !strings.Contains(me.APIError.Message, c.msg) {
			t.Errorf("%s: got %v, want code %s naming %q", c.name, err, c.code, c.msg)
		}
		var e *Error
		if errors.As(err, &e) && e.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d", c.name, e.Status)
		}
	}
	if after := countTasks(); after != before {
		t.Fatalf("validation errors reached the nodes: %d node tasks before, %d after", before, after)
	}
}

func TestWriteCreatesMissingIndex(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8})
	ctx := testCtx(t)
	ix := f.c.index("auto")
	f.wait(t, must(ix.AddDocuments(ctx, coreMovies(50), nil)), meilisearch.TaskStatusSucceeded)
	for i := range f.srv {
		fa, err := f.direct(i).Index("auto").GetFilterableAttributes(ctx)
		if err != nil || !slices.Contains(*fa, any("_miroir_shard")) {
			t.Fatalf("node %d filterable %v %v", i, fa, err)
		}
		var rec metaRecord
		if err := f.direct(i).Index(metaIndex).GetDocument(ctx, "auto", nil, &rec); err != nil || rec.Shards != 8 {
			t.Fatalf("node %d meta %+v %v", i, rec, err)
		}
	}
	var m coreMovie
	if err := ix.GetDocument(ctx, "42", nil, &m); err != nil || m.ID != 42 {
		t.Fatal(m, err)
	}
}

// TestStreamBoundedMemory streams an NDJSON reader much larger than the
// batch size through fake nodes that discard what they get, and checks the
// heap stays bounded by the batch size, not the input size. The size is 32
// MB by default; MIROIR_STREAM_MB=200 runs the 200 MB check.
func TestStreamBoundedMemory(t *testing.T) {
	mb := 32
	if v := os.Getenv("MIROIR_STREAM_MB"); v != "" {
		mb, _ = strconv.Atoi(v)
	}
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		for {
			p := peak.Load()
			if ms.HeapAlloc <= p || peak.CompareAndSwap(p, ms.HeapAlloc) {
				return
			}
		}
	}
	var received atomic.Int64
	fake := func() *httptest.Server {
		var task atomic.Int64
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/indexes/"+metaIndex+"/documents/"):
				fmt.Fprint(w, `{"uid":"big","shards":8}`)
			case r.Method == http.MethodGet && r.URL.Path == "/indexes/big":
				fmt.Fprint(w, `{"uid":"big","primaryKey":"id"}`)
			case r.Method == http.MethodGet && r.URL.Path == "/indexes/big/settings":
				fmt.Fprint(w, `{"filterableAttributes":["_miroir_shard"]}`)
			case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/filterable-attributes"):
				fmt.Fprint(w, `["_miroir_shard"]`)
			case r.Method == http.MethodGet && r.URL.Path == "/health":
				fmt.Fprint(w, `{"status":"available"}`)
			case r.Method == http.MethodPost && r.URL.Path == "/indexes/big/documents":
				n, _ := io.Copy(io.Discard, r.Body)
				received.Add(n)
				sample()
				w.WriteHeader(http.StatusAccepted)
				fmt.Fprintf(w, `{"taskUid":%d,"status":"enqueued","type":"documentAdditionOrUpdate"}`, task.Add(1))
			default:
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"code":"not_found","message":"not found"}`)
			}
		}))
	}
	s0, s1 := fake(), fake()
	defer s0.Close()
	defer s1.Close()
	c, err := New([]Node{{ID: "a", URL: s0.URL}, {ID: "b", URL: s1.URL}}, WithShards(8), WithBatchBytes(1<<20), WithHealthCheck(0, 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pad := strings.Repeat("x", 480)
	line := func(i int) string { return fmt.Sprintf("{\"id\":%d,\"pad\":%q}\n", i, pad) }
	docs := mb << 20 / len(line(0))
	src := &genReader{n: docs, line: line}
	src.onRead = func() {
		if src.i%4096 == 0 {
			sample()
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	info, err := c.index("big").AddDocumentsNdjsonFromReader(testCtx(t), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.TaskUID == 0 || received.Load() < int64(mb)<<20 {
		t.Fatalf("task %d, %d bytes received", info.TaskUID, received.Load())
	}
	grow := int64(peak.Load()) - int64(base)
	t.Logf("streamed %d MB (%d docs); peak heap growth %.1f MB", mb, docs, float64(grow)/(1<<20))
	if grow > 16<<20 {
		t.Fatalf("heap grew by %d MB while streaming %d MB", grow>>20, mb)
	}
}

// genReader generates lines without holding them.
type genReader struct {
	n, i   int
	line   func(int) string
	buf    []byte
	onRead func()
}

func (g *genReader) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.i < g.n {
		g.buf = append(g.buf, g.line(g.i)...)
		g.i++
		if g.onRead != nil {
			g.onRead()
		}
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}
