package miroir

// Test data and checks shared by the feature tests: documents of the
// write tests (acDocs, coreMovies) and of the read tests (genDocs,
// auditDocs, loaded with loadNode, testFleet.load, auditLoad), Meilisearch
// error codes, failed-task checks and recording observers.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

func acDocs(from, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		id := from + i
		out[i] = map[string]any{"id": id, "title": fmt.Sprintf("title %d", id), "n": id % 7}
	}
	return out
}

func acIDString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatInt(int64(x), 10)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

type coreMovie struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Year  int    `json:"year"`
}

func coreMovies(n int) []coreMovie {
	out := make([]coreMovie, n)
	for i := range out {
		out[i] = coreMovie{ID: i, Title: fmt.Sprintf("movie %d", i), Year: 1950 + i%70}
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func second[T any](_ T, err error) error { return err }

// apiCode returns the Meilisearch code err reads as via errors.As.
func acAPICode(err error) string {
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return string(me.APIError.Code)
	}
	return ""
}

// acTaskFailsWith checks a write Meilisearch accepts and then fails
// (issue 10): the call is accepted, its task fails with code. It returns
// the task's error message.
func acTaskFailsWith(t testing.TB, c *Cluster, what string, info *meilisearch.TaskInfo, err error, code string) string {
	t.Helper()
	if err != nil || info == nil {
		t.Errorf("%s: refused (%v), want a task failing with %s", what, err, code)
		return ""
	}
	task, werr := c.WaitForTask(context.Background(), info.TaskUID, 0)
	if werr != nil || task.Status != meilisearch.TaskStatusFailed || string(task.Error.Code) != code {
		t.Errorf("%s: task %+v (%v), want failed with %s", what, task, werr, code)
		return ""
	}
	return task.Error.Message
}

// acFailsNaming checks that a broadcast with a node unreachable fails
// (synchronously or through its task) with an error naming the node.
func acFailsNaming(t *testing.T, c *Cluster, what, node string, info *meilisearch.TaskInfo, err error) {
	t.Helper()
	if err != nil {
		if !strings.Contains(err.Error(), node) {
			t.Errorf("%s: error does not name %s: %v", what, node, err)
		}
		return
	}
	task := acWait(t, c)(info, nil)
	if task.Status != meilisearch.TaskStatusFailed {
		t.Errorf("%s with %s down: task %s, want failed", what, node, task.Status)
		return
	}
	if !strings.Contains(task.Error.Message, node) {
		t.Errorf("%s: task error does not name %s: %+v", what, node, task.Error)
	}
}

type acObserver struct {
	NopObserver
	mu       sync.Mutex
	degraded [][]GroupShard
	states   []string
	requests int
	unavail  [][]int
}

func (o *acObserver) DegradedWrite(_ string, pairs []GroupShard) {
	o.mu.Lock()
	o.degraded = append(o.degraded, slices.Clone(pairs))
	o.mu.Unlock()
}

func (o *acObserver) NodeStateChanged(id string, healthy bool) {
	o.mu.Lock()
	o.states = append(o.states, fmt.Sprintf("%s=%v", id, healthy))
	o.mu.Unlock()
}

func (o *acObserver) NodeRequest(string, string, time.Duration, error) {
	o.mu.Lock()
	o.requests++
	o.mu.Unlock()
}

func (o *acObserver) UnavailableShards(_ string, shards []int) {
	o.mu.Lock()
	o.unavail = append(o.unavail, slices.Clone(shards))
	o.mu.Unlock()
}

type auditObserver struct {
	NopObserver
	mu          sync.Mutex
	unavailable map[string][][]int
	states      []string
	requests    map[string]int
}

func newAuditObserver() *auditObserver {
	return &auditObserver{unavailable: map[string][][]int{}, requests: map[string]int{}}
}

func (o *auditObserver) UnavailableShards(index string, shards []int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.unavailable[index] = append(o.unavailable[index], slices.Clone(shards))
}

func (o *auditObserver) NodeStateChanged(id string, healthy bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.states = append(o.states, fmt.Sprintf("%s=%v", id, healthy))
}

func (o *auditObserver) NodeRequest(id, op string, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests[id]++
}

func (o *auditObserver) stateLog() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.states)
}

// auditShardsOnly returns the shards whose replicas (all groups) are all
// among down.
func auditShardsOnly(top Topology, down ...string) []int {
	var out []int
	for s := 0; s < top.Shards; s++ {
		all := true
		for g := 0; g < top.Groups; g++ {
			for _, id := range top.Replicas(s, g) {
				if !slices.Contains(down, id) {
					all = false
				}
			}
		}
		if all {
			out = append(out, s)
		}
	}
	return out
}

// Test fixtures shared by the read-path tests: generated documents, a
// single meilitest node holding all of them (the oracle), and clusters of
// meilitest nodes holding them sharded.

type testDoc map[string]any

var words = strings.Fields(`document search engine river mountain apple banana cherry orange
	garden window summer winter autumn spring coffee bread cheese music guitar piano violin
	ocean forest desert island castle bridge tower market street village harbor planet
	galaxy rocket comet silver golden crimson velvet marble copper falcon eagle tiger lion
	seven twenty 7 2024 42 1999 3 12 sharded cluster`)

var tags = strings.Fields(`new sale popular classic limited eco premium vintage handmade rare`)

var categories = strings.Fields(`books music games garden kitchen sports toys travel`)

var colors = strings.Fields(`red blue green black white yellow purple orange`)

// genDocs returns n deterministic documents with text, numbers, arrays, a
// distinct key (brand, shared by three consecutive ids) and a sort field
// of mixed type (sku: number, string or missing).
func genDocs(n int, seed uint64) []testDoc {
	r := rand.New(rand.NewPCG(seed, 7))
	text := func(min, max int) string {
		k := min + r.IntN(max-min+1)
		w := make([]string, k)
		for i := range w {
			w[i] = words[r.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	docs := make([]testDoc, n)
	for i := range docs {
		d := testDoc{
			"id":       i + 1,
			"title":    text(1, 5),
			"desc":     text(4, 14),
			"year":     1990 + r.IntN(35),
			"rating":   1 + r.IntN(5),
			"category": categories[r.IntN(len(categories))],
			"brand":    "brand" + strconv.Itoa(i/3),
			"color":    colors[r.IntN(len(colors))],
		}
		if r.IntN(20) != 0 {
			d["price"] = float64(r.IntN(10000)) / 10
		}
		var tg []string
		for j := r.IntN(4); j > 0; j-- {
			tg = append(tg, tags[r.IntN(len(tags))])
		}
		d["tags"] = tg
		if r.IntN(5) != 0 {
			d["_geo"] = map[string]any{"lat": 45 + r.Float64()*10, "lng": r.Float64() * 10}
		}
		switch r.IntN(4) {
		case 0:
			d["sku"] = r.IntN(500)
		case 1:
			d["sku"] = "sku-" + strconv.Itoa(r.IntN(500))
		case 2:
			d["sku"] = nil
		}
		docs[i] = d
	}
	return docs
}

// testSettings are the index settings of the fixtures.
func testSettings(custom bool) *meilisearch.Settings {
	s := &meilisearch.Settings{
		FilterableAttributes: []string{"id", "category", "brand", "year", "price", "tags", "color", "rating", "sku", "_geo"},
		SortableAttributes:   []string{"price", "year", "rating", "sku", "title", "_geo"},
		Faceting:             &meilisearch.Faceting{MaxValuesPerFacet: 100, SortFacetValuesBy: map[string]meilisearch.SortFacetType{"tags": "count", "*": "alpha"}},
	}
	if custom {
		s.RankingRules = []string{"words", "typo", "rating:desc", "proximity", "attribute", "sort", "exactness", "year:asc"}
	}
	return s
}

func waitIdle(t testing.TB, srvs ...*meilitest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range srvs {
		if err := s.WaitIdle(ctx); err != nil {
			t.Fatalf("wait idle: %v", err)
		}
	}
}

func mustTask(t testing.TB) func(*meilisearch.TaskInfo, error) {
	return func(_ *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// loadNode creates uid on one node with settings and documents.
func loadNode(t testing.TB, url, uid string, settings *meilisearch.Settings, docs []testDoc) {
	t.Helper()
	ctx := context.Background()
	cl := meilisearch.New(url)
	mustTask(t)(cl.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: uid, PrimaryKey: "id"}))
	mustTask(t)(cl.Index(uid).UpdateSettings(ctx, settings))
	if len(docs) > 0 {
		pk := "id"
		mustTask(t)(cl.Index(uid).AddDocuments(ctx, docs, &meilisearch.DocumentOptions{PrimaryKey: &pk}))
	}
}

// load creates uid through the Cluster (its write path and settings
// transaction) and waits until every node holds the documents.
func (f *testFleet) load(t testing.TB, uid string, settings *meilisearch.Settings, docs []testDoc) {
	t.Helper()
	ctx := context.Background()
	wait := func(ti *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		task, err := f.c.WaitForTask(ctx, ti.TaskUID, 5*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("task %d: %s %+v", ti.TaskUID, task.Status, task.Error)
		}
	}
	wait(f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: uid, PrimaryKey: "id"}))
	wait(f.c.index(uid).UpdateSettings(ctx, settings))
	pk := "id"
	wait(f.c.index(uid).AddDocuments(ctx, docs, &meilisearch.DocumentOptions{PrimaryKey: &pk}))
	waitIdle(t, f.srv...)
}

var auditVocab = []string{
	"quick", "brown", "fox", "jumps", "lazy", "dog", "river", "mountain", "ocean", "forest",
	"desert", "city", "night", "summer", "winter", "spring", "autumn", "golden", "silver", "shadow",
	"light", "dark", "storm", "rain", "moon", "star", "galaxy", "planet", "journey", "return",
	"secret", "garden", "house", "castle", "dragon", "knight", "queen", "king", "tiger", "apple",
	"7", "2024", "12", "3", "42", "1999", "5",
}

var (
	auditGenres = []string{"fantasy", "scifi", "drama", "comedy", "horror", "poetry"}
	auditTags   = []string{"new", "sale", "classic", "award", "signed", "rare", "used", "gift"}
	auditColors = []string{"red", "green", "blue", "black", "white"}
)

// auditDocs generates n documents with the same field order in every
// document (optional fields last): text, numbers, arrays, a nested object,
// a distinct key (brand), a geo point and a mixed-type sortable field.
func auditDocs(n int, seed uint64) []map[string]any {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := func(lo, hi int) string {
		k := lo + r.IntN(hi-lo+1)
		ws := make([]string, k)
		for i := range ws {
			ws[i] = auditVocab[r.IntN(len(auditVocab))]
		}
		return strings.Join(ws, " ")
	}
	docs := make([]map[string]any, n)
	for i := range docs {
		nt := 1 + r.IntN(3)
		tags := make([]string, 0, nt)
		for _, j := range r.Perm(len(auditTags))[:nt] {
			tags = append(tags, auditTags[j])
		}
		d := map[string]any{
			"id":          i + 1,
			"title":       words(1, 4),
			"description": words(6, 18),
			"genre":       auditGenres[r.IntN(len(auditGenres))],
			"tags":        tags,
			"year":        1980 + r.IntN(45),
			"rating":      1 + r.IntN(5),
			"brand":       fmt.Sprintf("brand%02d", r.IntN(40)),
			"meta":        map[string]any{"color": auditColors[r.IntN(len(auditColors))], "size": 1 + r.IntN(9)},
			"_geo":        map[string]any{"lat": 40 + r.Float64()*10, "lng": r.Float64() * 10},
		}
		if r.IntN(10) != 0 {
			d["price"] = float64(100+r.IntN(9900)) / 100
		}
		switch r.IntN(3) {
		case 0:
			d["code"] = r.IntN(50)
		case 1:
			d["code"] = fmt.Sprintf("c%02d", r.IntN(50))
		}
		docs[i] = d
	}
	return docs
}

// auditSettingsA: default searchable attributes and ranking rules;
// maxTotalHits 250 so that deep pages cross it.
func auditSettingsA() *meilisearch.Settings {
	return &meilisearch.Settings{
		FilterableAttributes: []string{"id", "genre", "tags", "year", "rating", "brand", "price", "meta.color", "_geo", "code"},
		SortableAttributes:   []string{"id", "year", "price", "title", "rating", "_geo", "code"},
		Pagination:           &meilisearch.Pagination{MaxTotalHits: 250},
	}
}

// auditSettingsB: explicit searchable attributes and custom ranking rules.
func auditSettingsB() *meilisearch.Settings {
	st := auditSettingsA()
	st.SearchableAttributes = []string{"title", "description", "tags", "meta.color"}
	st.RankingRules = []string{"words", "typo", "rating:desc", "proximity", "attribute", "sort", "exactness", "year:asc"}
	return st
}

const auditN = 300

func auditWait(t testing.TB, sm meilisearch.ServiceManager, info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	t.Helper()
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	task, err := sm.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("wait task %d: %v", info.TaskUID, err)
	}
	if task.Status != meilisearch.TaskStatusSucceeded {
		t.Fatalf("task %d (%s) status %s: %+v", info.TaskUID, task.Type, task.Status, task.Error)
	}
	return task
}

// auditLoad creates uid (primary key "id"), applies st and adds docs.
func auditLoad(t testing.TB, sm meilisearch.ServiceManager, uid string, st *meilisearch.Settings, docs []map[string]any) {
	t.Helper()
	ctx := context.Background()
	info, err := sm.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: uid, PrimaryKey: "id"})
	auditWait(t, sm, info, err)
	if st != nil {
		info, err = sm.Index(uid).UpdateSettings(ctx, st)
		auditWait(t, sm, info, err)
	}
	if len(docs) > 0 {
		info, err = sm.Index(uid).AddDocuments(ctx, docs, nil)
		auditWait(t, sm, info, err)
	}
}
