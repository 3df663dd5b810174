package miroir

// Reads when some shard has no healthy replica anywhere (covering.go's
// unavailable shards): Partial answers from the rest and reports exactly
// the missing shards; FailFast refuses.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Reads under faults: a stopped node's shards are served by another
// replica (another group's when needed, which the Report says), and a
// shard with no replica left is reported (Partial) or fails the read
// (FailFast).

type unavailObserver struct {
	NopObserver
	mu     sync.Mutex
	shards [][]int
}

func (o *unavailObserver) UnavailableShards(_ string, shards []int) {
	o.mu.Lock()
	o.shards = append(o.shards, shards)
	o.mu.Unlock()
}

// docsOnShards counts the documents of docs whose shard is in keep.
func docsOnShards(docs []testDoc, s int, keep func(int) bool) int64 {
	n := int64(0)
	for _, d := range docs {
		if keep(ShardOf(strconv.Itoa(d["id"].(int)), s)) {
			n++
		}
	}
	return n
}

func auditDocsInShards(docs []map[string]any, shards, inShards []int) int {
	n := 0
	for _, d := range docs {
		if slices.Contains(inShards, ShardOf(fmt.Sprint(d["id"]), shards[0])) {
			n++
		}
	}
	return n
}

func TestFaultUnavailableShards(t *testing.T) {
	docs := genDocs(400, 22)
	obs := &unavailObserver{}
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 7, timing: noProbes, opts: []Option{WithObserver(obs)}})
	f.load(t, "items", testSettings(false), docs)
	// stop two of the three nodes: shards whose two replicas are both
	// stopped have no replica left
	down := map[int]bool{0: true, 1: true}
	var want []int
	for s := 0; s < 7; s++ {
		alive := false
		for _, ni := range f.c.topo().replicas(s, 0) {
			alive = alive || !down[ni]
		}
		if !alive {
			want = append(want, s)
		}
	}
	if len(want) == 0 {
		t.Fatal("fixture: expected some shard to lose every replica")
	}
	for ni := range down {
		f.srv[ni].Stop()
	}
	ctx := context.Background()
	idx := f.c.index("items")
	for i := 0; i < 3; i++ { // the first search finds the nodes down, later ones know
		rep := &Report{}
		resp, err := idx.Search(WithReport(ctx, rep), "", &meilisearch.SearchRequest{Limit: 1})
		if err != nil {
			t.Fatalf("partial search: %v", err)
		}
		if !slices.Equal(rep.UnavailableShards, want) {
			t.Fatalf("search %d: unavailable %v, want %v", i, rep.UnavailableShards, want)
		}
		exp := docsOnShards(docs, 7, func(s int) bool { return !slices.Contains(want, s) })
		if resp.EstimatedTotalHits != exp {
			t.Fatalf("partial: %d hits, want %d (the available shards')", resp.EstimatedTotalHits, exp)
		}
		if !rep.IsDegraded() {
			t.Fatal("report not degraded")
		}
	}
	obs.mu.Lock()
	if len(obs.shards) == 0 || !slices.Equal(obs.shards[0], want) {
		t.Fatalf("observer saw %v, want %v", obs.shards, want)
	}
	obs.mu.Unlock()

	ff := f.newCluster(t, WithShards(7), WithReplicationFactor(2), WithHealthCheck(0, 0, 0, 0), WithRetries(RetryPolicy{}), WithUnavailableShardPolicy(FailFast))
	var err error
	for i := 0; i < 2; i++ {
		_, err = ff.index("items").Search(ctx, "river", &meilisearch.SearchRequest{})
		if !errors.Is(err, ErrShardUnavailable) {
			t.Fatalf("FailFast: got %v", err)
		}
		var me *meilisearch.Error
		if !errors.As(err, &me) || me.APIError.Code != CodeShardUnavailable {
			t.Fatalf("FailFast: not a Meilisearch-shaped %s error: %v", CodeShardUnavailable, err)
		}
		var e *Error
		if !errors.As(err, &e) || !slices.Equal(e.Shards, want) {
			t.Fatalf("FailFast error shards %v, want %v", e.Shards, want)
		}
	}
}

func TestAuditCoreUnavailableShardPolicy(t *testing.T) {
	for _, policy := range []UnavailableShardPolicy{Partial, FailFast} {
		obs := &acObserver{}
		f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry, opts: []Option{WithUnavailableShardPolicy(policy), WithObserver(obs)}, proxy: true})
		ix := f.create(t, "docs", "id")
		ctx := testCtx(t)
		docs := acDocs(0, 40)
		acWaitOK(t, f.c)(ix.AddDocuments(ctx, docs, nil))
		f.stop(t, 1)
		var lost []int
		for _, ns := range f.c.Topology().Nodes {
			if ns.ID == "n1" {
				lost = ns.Shards
			}
		}
		onN0 := 0
		for _, d := range docs {
			if !slices.Contains(lost, acShard(acIDString(d["id"]), 8)) {
				onN0++
			}
		}
		rep := &Report{}
		res, err := ix.Search(WithReport(ctx, rep), "title", &meilisearch.SearchRequest{Limit: 100})
		if policy == Partial {
			if err != nil {
				t.Fatalf("Partial: %v", err)
			}
			if len(res.Hits) != onN0 {
				t.Errorf("Partial: %d hits, want %d from the available shards", len(res.Hits), onN0)
			}
			got := slices.Clone(rep.UnavailableShards)
			sort.Ints(got)
			if !slices.Equal(got, lost) {
				t.Errorf("Report.UnavailableShards %v, want %v", got, lost)
			}
			obs.mu.Lock()
			n := len(obs.unavail)
			obs.mu.Unlock()
			if n == 0 {
				t.Errorf("Observer.UnavailableShards not called")
			}
			req, _ := http.NewRequest("POST", f.url+"/indexes/docs/search", strings.NewReader(`{"q":"title"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Miroir-Degraded") == "" {
				t.Errorf("Partial read in proxy mode: status %d, X-Miroir-Degraded %q", resp.StatusCode, resp.Header.Get("X-Miroir-Degraded"))
			}
		} else {
			if !errors.Is(err, ErrShardUnavailable) || acAPICode(err) != CodeShardUnavailable {
				t.Errorf("FailFast: %v", err)
			}
			st, body := acHTTP(t, f.url, "POST", "/indexes/docs/search", map[string]any{"q": "title"}, "")
			if st != 503 || !strings.Contains(string(body), CodeShardUnavailable) {
				t.Errorf("FailFast proxy: %d %s", st, body)
			}
		}
	}
}

// TestAuditReadPartialReportsExactlyMissingShards: issue 4 "with every
// replica of a shard stopped, Partial reports exactly that shard";
// DESIGN §5 "Policy Partial (default): answer from the shards that are
// available and report the missing ones (§8)", in the Report and to the
// Observer.
func TestAuditReadPartialReportsExactlyMissingShards(t *testing.T) {
	t.Parallel()
	docs := auditDocs(auditN, 8)
	obs := newAuditObserver()
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 2, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithObserver(obs), WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	auditLoad(t, c, "p", auditSettingsA(), docs)
	top := c.Topology()
	srvs[0].Stop()
	srvs[1].Stop()
	missing := auditShardsOnly(top, "node-0", "node-1")
	if len(missing) == 0 || len(missing) == 7 {
		t.Fatalf("bad fixture: shards only on node-0/node-1: %v", missing)
	}
	var avail []int
	for s := 0; s < 7; s++ {
		if !slices.Contains(missing, s) {
			avail = append(avail, s)
		}
	}
	want := auditDocsInShards(docs, []int{7}, avail)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		var rep Report
		res, err := c.Index("p").Search(WithReport(ctx, &rep), "", &meilisearch.SearchRequest{Limit: 1000})
		if err != nil {
			t.Fatalf("search %d under Partial: %v", i, err)
		}
		got := slices.Clone(rep.UnavailableShards)
		sort.Ints(got)
		if !slices.Equal(got, missing) {
			t.Errorf("search %d: Report.UnavailableShards %v, want exactly %v", i, got, missing)
		}
		if !rep.IsDegraded() {
			t.Errorf("search %d: report not degraded", i)
		}
		if int(res.EstimatedTotalHits) != want || len(res.Hits) != want {
			t.Errorf("search %d: %d hits (total %d), want the %d documents of shards %v", i, len(res.Hits), res.EstimatedTotalHits, want, avail)
		}
		for _, h := range res.Hits {
			var id int
			_ = json.Unmarshal(h["id"], &id)
			if sh := ShardOf(fmt.Sprint(id), 7); slices.Contains(missing, sh) {
				t.Errorf("hit %d of unavailable shard %d", id, sh)
			}
		}
	}
	obs.mu.Lock()
	calls := obs.unavailable["p"]
	obs.mu.Unlock()
	if len(calls) == 0 {
		t.Errorf("Observer.UnavailableShards never called for index p (calls: %v)", obs.unavailable)
	}
	for _, sh := range calls {
		sort.Ints(sh)
		if !slices.Equal(sh, missing) {
			t.Errorf("Observer.UnavailableShards(%v), want %v", sh, missing)
		}
	}
	// the other reads answer too, and report
	var rep Report
	rctx := WithReport(ctx, &rep)
	if _, err := c.MultiSearch(rctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: "p", Query: "river"}}}); err != nil {
		t.Errorf("multi-search under Partial: %v", err)
	}
	if _, err := c.Index("p").FacetSearch(rctx, &meilisearch.FacetSearchRequest{FacetName: "genre"}); err != nil {
		t.Errorf("facet search under Partial: %v", err)
	}
	var list meilisearch.DocumentsResult
	if err := c.Index("p").GetDocuments(rctx, &meilisearch.DocumentsQuery{Limit: 1000}, &list); err != nil {
		t.Errorf("GetDocuments under Partial: %v", err)
	} else if int(list.Total) != want {
		t.Errorf("GetDocuments under Partial: total %d, want %d", list.Total, want)
	}
	got := slices.Clone(rep.UnavailableShards)
	sort.Ints(got)
	got = slices.Compact(got)
	if !slices.Equal(got, missing) {
		t.Errorf("multi/facet/documents Report.UnavailableShards %v, want %v", got, missing)
	}
}

// TestAuditReadFailFast: issue 4 "miroir.FailFast returns
// ErrShardUnavailable (miroir_shard_unavailable)"; DESIGN §5 "fail with
// miroir_shard_unavailable (HTTP 503)".
func TestAuditReadFailFast(t *testing.T) {
	t.Parallel()
	docs := auditDocs(100, 8)
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 3), rf: 1, shards: 7, ids: "node-", instant: true, timing: newDefaults, opts: []Option{WithUnavailableShardPolicy(FailFast), WithRetries(RetryPolicy{})}})
	c, srvs := f.c, f.srv
	auditLoad(t, c, "p", auditSettingsA(), docs)
	missing := auditShardsOnly(c.Topology(), "node-2")
	srvs[2].Stop()
	ctx := context.Background()
	checkErr := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s under FailFast with node-2 stopped: no error", what)
			return
		}
		if !errors.Is(err, ErrShardUnavailable) {
			t.Errorf("%s: error %v does not match ErrShardUnavailable", what, err)
		}
		var me *Error
		if !errors.As(err, &me) {
			t.Errorf("%s: error %T is not a *miroir.Error", what, err)
		} else {
			if me.Code != "miroir_shard_unavailable" {
				t.Errorf("%s: code %q", what, me.Code)
			}
			if me.Status != 503 {
				t.Errorf("%s: status %d, want 503", what, me.Status)
			}
			sh := slices.Clone(me.Shards)
			sort.Ints(sh)
			if !slices.Equal(sh, missing) {
				t.Errorf("%s: error shards %v, want %v", what, sh, missing)
			}
		}
		var mg *meilisearch.Error
		if !errors.As(err, &mg) || string(mg.APIError.Code) != "miroir_shard_unavailable" {
			t.Errorf("%s: not readable as *meilisearch.Error with code miroir_shard_unavailable: %#v", what, mg)
		}
	}
	_, err := c.Index("p").Search(ctx, "river", &meilisearch.SearchRequest{})
	checkErr("Search", err)
	_, err = c.Index("p").SearchRaw(ctx, "", &meilisearch.SearchRequest{})
	checkErr("SearchRaw", err)
	_, err = c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: "p", Query: "x"}}})
	checkErr("MultiSearch", err)
	_, err = c.Index("p").FacetSearch(ctx, &meilisearch.FacetSearchRequest{FacetName: "genre"})
	checkErr("FacetSearch", err)
	var list meilisearch.DocumentsResult
	checkErr("GetDocuments", c.Index("p").GetDocuments(ctx, &meilisearch.DocumentsQuery{}, &list))
	// Health says the same
	_, err = c.Health(ctx)
	checkErr("Health", err)
	if c.IsHealthy() {
		t.Errorf("IsHealthy with every replica of shards %v down", missing)
	}
	// back up: reads succeed again
	if err := srvs[2].Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = c.Index("p").Search(ctx, "river", &meilisearch.SearchRequest{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("search after the node came back: %v", err)
	}
}
