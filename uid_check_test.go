package miroir

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// TestBadIndexUIDNeverReachesANode: every index-scoped call answers a bad
// uid with invalid_index_uid before any node sees a request with it.
func TestBadIndexUIDNeverReachesANode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: groupsOf(1, 2), rf: 1, shards: 4, timing: noProbes})
	var leaked atomic.Int32
	for _, s := range f.srv {
		clear := s.FailRequests(func(r *http.Request) bool {
			if strings.Contains(r.URL.RawPath+r.URL.Path, "bad uid") || strings.Contains(r.URL.EscapedPath(), "%25") {
				leaked.Add(1)
				return true
			}
			return false
		}, 500, "internal")
		defer clear()
	}
	ctx := context.Background()
	for _, uid := range []string{"%0", "bad uid", "a/b", "", strings.Repeat("x", 401)} {
		idx := f.c.Index(uid)
		calls := map[string]func() error{
			"Search": func() error { _, err := idx.Search(ctx, "x", &meilisearch.SearchRequest{}); return err },
			"GetDocument": func() error {
				var d map[string]any
				return idx.GetDocument(ctx, "1", nil, &d)
			},
			"GetDocuments": func() error {
				var r meilisearch.DocumentsResult
				return idx.GetDocuments(ctx, nil, &r)
			},
			"AddDocuments": func() error {
				_, err := idx.AddDocuments(ctx, []map[string]any{{"id": 1}}, nil)
				return err
			},
			"DeleteDocument": func() error { _, err := idx.DeleteDocument(ctx, "1", nil); return err },
			"GetSettings":    func() error { _, err := idx.GetSettings(ctx); return err },
			"GetStats":       func() error { _, err := idx.GetStats(ctx, nil); return err },
			"FacetSearch": func() error {
				_, err := idx.FacetSearch(ctx, &meilisearch.FacetSearchRequest{FacetName: "g"})
				return err
			},
			"MultiSearch": func() error {
				_, err := f.c.MultiSearch(ctx, &meilisearch.MultiSearchRequest{Queries: []*meilisearch.SearchRequest{{IndexUID: uid, Query: "x"}}})
				return err
			},
			"SwapIndexes": func() error {
				_, err := f.c.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{uid, "other"}}})
				return err
			},
			"CreateIndex": func() error {
				_, err := f.c.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: uid})
				return err
			},
			"DeleteIndex": func() error { _, err := f.c.DeleteIndex(ctx, uid); return err },
		}
		for name, call := range calls {
			err := call()
			want := "invalid_index_uid"
			if name == "MultiSearch" && uid == "" {
				want = "missing_index_uid" // as Meilisearch says of an empty indexUid
			}
			if code := apiCode(err); code != want {
				t.Errorf("%s(%q): code %q, err %v", name, uid, code, err)
			}
		}
	}
	if n := leaked.Load(); n > 0 {
		t.Errorf("%d requests with a bad uid reached a node", n)
	}
}
