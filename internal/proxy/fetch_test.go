package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

// seed creates the index "docs" with five documents on sm (one node or a
// Cluster: both are meilisearch.ServiceManager).
func seed(t *testing.T, sm meilisearch.ServiceManager) {
	t.Helper()
	ctx := context.Background()
	wait := func(info *meilisearch.TaskInfo, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		task, err := sm.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
		if err != nil || task.Status != meilisearch.TaskStatusSucceeded {
			t.Fatalf("task %d: %v %+v", info.TaskUID, err, task)
		}
	}
	wait(sm.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "docs", PrimaryKey: "id"}))
	docs := make([]map[string]any, 5)
	for i := range docs {
		docs[i] = map[string]any{"id": i, "title": fmt.Sprintf("doc %d", i)}
	}
	wait(sm.Index("docs").AddDocuments(ctx, docs, nil))
}

// fetch posts body to /indexes/docs/documents/fetch of base.
func fetch(t *testing.T, base, body string) (int, []byte) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, base+"/indexes/docs/documents/fetch", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestFetchDocumentsPagingLikeANode sends /documents/fetch bodies with
// bad paging values to one meilitest node and to the proxy over a fleet:
// the proxy refuses what the node refuses, with the same error, and pages
// valid ones alike.
func TestFetchDocumentsPagingLikeANode(t *testing.T) {
	node := meilitest.RunT(t)
	nc := meilisearch.New(node.URL())
	seed(t, nc)

	srv := meilitest.RunCluster(t, 2)
	c, err := miroir.New([]miroir.Node{{ID: "a", URL: srv[0].URL()}, {ID: "b", URL: srv[1].URL()}}, miroir.WithShards(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	seed(t, c)
	hs := httptest.NewServer(c.Handler())
	t.Cleanup(hs.Close)

	for _, body := range []string{
		`{"offset":"abc"}`,
		`{"limit":"x"}`,
		`{"limit":-3}`,
		`{"offset":-1}`,
		`{"limit":2.5}`,
		`{"offset":true}`,
		`{"limit":[1]}`,
		`{"offset":null}`,
		`{"offset":1,"limit":2}`,
		`{"limit":0}`,
		`{}`,
	} {
		t.Run(body, func(t *testing.T) {
			ns, nb := fetch(t, node.URL(), body)
			ps, pb := fetch(t, hs.URL, body)
			if ns != ps {
				t.Fatalf("status: proxy %d %s, node %d %s", ps, pb, ns, nb)
			}
			if ns != http.StatusOK {
				var ne, pe meilisearch.APIErrorDetails
				if err := json.Unmarshal(nb, &ne); err != nil {
					t.Fatalf("node: %v: %s", err, nb)
				}
				if err := json.Unmarshal(pb, &pe); err != nil {
					t.Fatalf("proxy: %v: %s", err, pb)
				}
				if ne != pe {
					t.Fatalf("error:\nproxy %+v\nnode  %+v", pe, ne)
				}
				return
			}
			var np, pp struct {
				Results []map[string]any `json:"results"`
				Offset  int64            `json:"offset"`
				Limit   int64            `json:"limit"`
				Total   int64            `json:"total"`
			}
			if err := json.Unmarshal(nb, &np); err != nil {
				t.Fatalf("node: %v: %s", err, nb)
			}
			if err := json.Unmarshal(pb, &pp); err != nil {
				t.Fatalf("proxy: %v: %s", err, pb)
			}
			if np.Offset != pp.Offset || np.Limit != pp.Limit || np.Total != pp.Total || len(np.Results) != len(pp.Results) {
				t.Fatalf("page: proxy %s, node %s", pb, nb)
			}
		})
	}
}
