package miroir

// The write forms (documents_forms.go, documents_source.go): JSON, NDJSON,
// CSV, typed values, readers and batches, each routed like the others.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

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

func TestAuditCoreWriteForms(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 1, 1}, rf: 1, shards: 8, timing: oneRetry})
	ctx := testCtx(t)
	ix := f.create(t, "docs", "id")
	fleetDoc := func(id string) map[string]any {
		var d map[string]any
		if err := ix.GetDocument(ctx, id, nil, &d); err != nil {
			return nil
		}
		return d
	}
	countDocs := func() int {
		var res meilisearch.DocumentsResult
		if err := ix.GetDocuments(ctx, &meilisearch.DocumentsQuery{Limit: 1000}, &res); err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Results {
			if _, ok := h["_miroir_shard"]; ok {
				t.Fatalf("GetDocuments leaked _miroir_shard")
			}
		}
		return int(res.Total)
	}
	// every replica of every document carries the right _miroir_shard.
	checkPlacement := func(what string) {
		t.Helper()
		groups := f.groupIDs()
		for i, n := range f.nodes {
			for id, d := range f.nodeDocsByID(t, i, "docs") {
				s := acShard(id, 8)
				if sh, _ := d["_miroir_shard"].(float64); int(sh) != s || !slices.Contains(acReplicas(s, groups[n.Group], 1), n.ID) {
					t.Errorf("%s: node %s holds %s with _miroir_shard %v (shard %d)", what, n.ID, id, d["_miroir_shard"], s)
				}
			}
		}
	}

	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 20), nil))
	tasks, err := ix.AddDocumentsInBatches(ctx, acDocs(20, 20), 6, nil)
	if err != nil || len(tasks) != 4 {
		t.Fatalf("AddDocumentsInBatches: %d tasks, %v", len(tasks), err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	acWaitOK(t, f.c)(ix.AddDocumentsNdjson(ctx, []byte("{\"id\":40,\"title\":\"nd\"}\n{\"id\":\"41\",\"title\":\"nd\"}\n"), nil))
	acWaitOK(t, f.c)(ix.AddDocumentsNdjsonFromReader(ctx, strings.NewReader("{\"id\":42,\"title\":\"ndr\"}\n{\"id\":43,\"title\":\"ndr\"}\n"), nil))
	tasks, err = ix.AddDocumentsNdjsonInBatches(ctx, []byte("{\"id\":44}\n{\"id\":45}\n{\"id\":46}\n"), 2, nil)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("AddDocumentsNdjsonInBatches: %d %v", len(tasks), err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	acWaitOK(t, f.c)(ix.AddDocumentsCsv(ctx, []byte("id,title,n:number\n50,csv,1\n51,csv,2\n"), nil))
	acWaitOK(t, f.c)(ix.AddDocumentsCsvFromReader(ctx, strings.NewReader("id;title\n52;csvr\n53;csvr\n"), &meilisearch.CsvDocumentsQuery{CsvDelimiter: ";"}))
	tasks, err = ix.AddDocumentsCsvInBatches(ctx, []byte("id,title\n54,a\n55,b\n56,c\n"), 2, nil)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("AddDocumentsCsvInBatches: %d %v", len(tasks), err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, strings.NewReader(`[{"id":60,"title":"reader"},{"id":61,"title":"reader"}]`), nil))
	tasks, err = ix.AddDocumentsNdjsonFromReaderInBatches(ctx, strings.NewReader("{\"id\":70}\n{\"id\":71}\n{\"id\":72}\n"), 2, nil)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("AddDocumentsNdjsonFromReaderInBatches: %d %v", len(tasks), err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	tasks, err = ix.AddDocumentsCsvFromReaderInBatches(ctx, strings.NewReader("id,title\n73,a\n74,b\n75,c\n"), 2, nil)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("AddDocumentsCsvFromReaderInBatches: %d %v", len(tasks), err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	if n := countDocs(); n != 62 {
		t.Fatalf("after adds: %d documents, want 62", n)
	}
	if d := fleetDoc("51"); d == nil || d["title"] != "csv" || d["n"] != float64(2) {
		t.Errorf("csv doc 51 = %v", d)
	}
	if d := fleetDoc("53"); d == nil || d["title"] != "csvr" {
		t.Errorf("csv reader doc 53 = %v", d)
	}
	checkPlacement("adds")

	// Partial updates keep other fields.
	acWaitOK(t, f.c)(ix.UpdateDocuments(ctx, []map[string]any{{"id": 3, "extra": "x"}}, nil))
	if d := fleetDoc("3"); d == nil || d["title"] != "title 3" || d["extra"] != "x" {
		t.Errorf("partial update: %v", d)
	}
	tasks, err = ix.UpdateDocumentsInBatches(ctx, []map[string]any{{"id": 4, "extra": "y"}, {"id": 5, "extra": "y"}}, 1, nil)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("UpdateDocumentsInBatches: %v", err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	acWaitOK(t, f.c)(ix.UpdateDocumentsNdjson(ctx, []byte("{\"id\":6,\"extra\":\"z\"}\n"), nil))
	acWaitOK(t, f.c)(ix.UpdateDocumentsCsv(ctx, []byte("id,extra\n7,w\n"), nil))
	tasks, err = ix.UpdateDocumentsNdjsonInBatches(ctx, []byte("{\"id\":8,\"extra\":\"v\"}\n{\"id\":9,\"extra\":\"v\"}\n"), 1, nil)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("UpdateDocumentsNdjsonInBatches: %d %v", len(tasks), err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	tasks, err = ix.UpdateDocumentsCsvInBatches(ctx, []byte("id,extra\n10,u\n11,u\n"), 1, nil)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("UpdateDocumentsCsvInBatches: %d %v", len(tasks), err)
	}
	for i := range tasks {
		acWaitOK(t, f.c)(&tasks[i], nil)
	}
	for id, want := range map[string]string{"4": "y", "5": "y", "6": "z", "7": "w", "8": "v", "9": "v", "10": "u", "11": "u"} {
		if d := fleetDoc(id); d == nil || d["extra"] != want || d["title"] == nil {
			t.Errorf("update %s: %v", id, d)
		}
	}
	checkPlacement("updates")

	// Deletes by id.
	task := acWaitOK(t, f.c)(ix.DeleteDocument(ctx, "0", nil))
	if task.Type != meilisearch.TaskTypeDocumentDeletion {
		t.Errorf("DeleteDocument task type %s", task.Type)
	}
	acWaitOK(t, f.c)(ix.DeleteDocuments(ctx, []string{"1", "2", "41"}, nil))
	for _, id := range []string{"0", "1", "2", "41"} {
		if fleetDoc(id) != nil {
			t.Errorf("document %s not deleted", id)
		}
	}
	// Delete by filter (broadcast).
	acWaitOK(t, f.c)(ix.UpdateFilterableAttributes(ctx, &[]any{"title"}))
	acWaitOK(t, f.c)(ix.DeleteDocumentsByFilter(ctx, "title = csv", nil))
	if fleetDoc("50") != nil || fleetDoc("51") != nil {
		t.Errorf("delete by filter left csv documents")
	}
	// Update by function (broadcast).
	if _, err := f.c.ExperimentalFeatures().SetEditDocumentsByFunction(true).Update(ctx); err != nil {
		t.Fatalf("enable editDocumentsByFunction: %v", err)
	}
	acWaitOK(t, f.c)(ix.UpdateDocumentsByFunction(ctx, &meilisearch.UpdateDocumentByFunctionRequest{
		Filter: "title = reader", Function: "doc.title = \"edited\"",
	}))
	if d := fleetDoc("60"); d == nil || d["title"] != "edited" {
		t.Errorf("update by function: %v", d)
	}
	checkPlacement("function")
	// Delete all (broadcast).
	acWaitOK(t, f.c)(ix.DeleteAllDocuments(ctx, nil))
	if n := countDocs(); n != 0 {
		t.Errorf("after DeleteAllDocuments: %d", n)
	}
}

// A reader source is streamed in bounded batches, never read whole.
func TestAuditCoreReaderStreamedInBatches(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry, opts: []Option{WithBatchBytes(4 << 10)}})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	var nd bytes.Buffer
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&nd, "{\"id\":%d,\"body\":%q}\n", i, strings.Repeat("x", 100))
	}
	// A reader that fails after the data: if the whole input were read
	// before the first node request, the library could not tell; instead
	// we count node requests, which must be several per node.
	spy := f.spy()
	acWaitOK(t, f.c)(ix.AddDocumentsNdjsonFromReader(ctx, bytes.NewReader(nd.Bytes()), nil))
	posts := 0
	for _, r := range spy.take() {
		if strings.Contains(r, " POST ") || strings.Contains(r, " PUT ") {
			posts++
		}
	}
	if posts < 4 {
		t.Errorf("a 240 KB reader with 4 KiB batches produced %d document requests; want streaming in several batches", posts)
	}
	total := 0
	for i := range f.srv {
		total += len(f.nodeDocsByID(t, i, "docs"))
	}
	if total != 2000 {
		t.Fatalf("%d documents", total)
	}
}

// TestStreamBoundedMemory streams an NDJSON reader much larger than the
// batch size through fake nodes that discard what they get, and checks the
// heap stays bounded by the batch size, not the input size. The size is 32
// MB by default; MIROIR_STREAM_MB=200 runs the 200 MB check.
func TestStreamBoundedMemory(t *testing.T) {
	heapMeasured(t)
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
			case r.Method == http.MethodPost && r.URL.Path == "/indexes": // task-uid lane claim
				w.WriteHeader(http.StatusAccepted)
				fmt.Fprintf(w, `{"taskUid":%d,"status":"enqueued","type":"indexCreation"}`, task.Add(1))
			case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/tasks/"):
				fmt.Fprint(w, `{"status":"succeeded"}`)
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
