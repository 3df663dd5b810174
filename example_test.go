package miroir_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

// startNodes starts n in-process nodes for the examples.
func startNodes(n int) (urls []string, stop func()) {
	var srvs []*meilitest.Server
	for range n {
		s, err := meilitest.NewServer()
		if err != nil {
			log.Fatal(err)
		}
		srvs = append(srvs, s)
		urls = append(urls, s.URL())
	}
	return urls, func() {
		for _, s := range srvs {
			s.Close()
		}
	}
}

// A Cluster is used exactly like a meilisearch-go client.
func ExampleNew() {
	urls, stop := startNodes(3)
	defer stop()
	ctx := context.Background()

	cluster, err := miroir.New([]miroir.Node{
		{ID: "a", URL: urls[0]},
		{ID: "b", URL: urls[1]},
		{ID: "c", URL: urls[2]},
	}, miroir.WithShards(8))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	var client meilisearch.ServiceManager = cluster
	task, _ := client.Index("movies").AddDocuments(ctx, []map[string]any{
		{"id": 1, "title": "Carol"},
		{"id": 2, "title": "Wonder Woman"},
		{"id": 3, "title": "Life of Pi"},
	}, nil)
	done, _ := client.WaitForTask(ctx, task.TaskUID, 0)
	fmt.Println(done.Status, done.Details.IndexedDocuments)

	var movie map[string]any
	_ = client.Index("movies").GetDocument(ctx, "2", nil, &movie)
	fmt.Println(movie["title"])
	// Output:
	// succeeded 3
	// Wonder Woman
}

// WithReport tells which nodes a call reached and whether a write was
// degraded (some replica group missed its quorum).
func ExampleWithReport() {
	urls, stop := startNodes(2)
	defer stop()
	ctx := context.Background()
	cluster, _ := miroir.New([]miroir.Node{
		{ID: "a", URL: urls[0], Group: 0},
		{ID: "b", URL: urls[1], Group: 1},
	}, miroir.WithShards(4))
	defer cluster.Close()
	task, _ := cluster.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "movies", PrimaryKey: "id"})
	_, _ = cluster.WaitForTask(ctx, task.TaskUID, 0)

	var rep miroir.Report
	task, err := cluster.Index("movies").AddDocuments(miroir.WithReport(ctx, &rep), []map[string]any{{"id": 1}}, nil)
	fmt.Println(err, rep.NodesContacted, rep.IsDegraded(), rep.TaskUID == task.TaskUID)
	// Output:
	// <nil> [a b] false true
}

// miroir's errors read as meilisearch-go errors, and match sentinels.
func ExampleErrUnsupported() {
	urls, stop := startNodes(1)
	defer stop()
	cluster, _ := miroir.New([]miroir.Node{{ID: "a", URL: urls[0]}})
	defer cluster.Close()

	_, err := cluster.GetBatches(context.Background(), nil)
	var me *meilisearch.Error
	fmt.Println(errors.Is(err, miroir.ErrUnsupported), errors.As(err, &me), me.APIError.Code)
	// Output:
	// true true miroir_unsupported
}

// ShardOf is the routing function; the canonical id of the integer 42 is
// "42", so 42 and "42" land on the same shard.
func ExampleShardOf() {
	fmt.Println(miroir.ShardOf("42", 64) == miroir.ShardOf("42", 64))
	// Output:
	// true
}
