// Command quickstart shows miroir end to end: it shards an index across
// three Meilisearch nodes, loads a few thousand documents through the
// Cluster exactly as it would through meilisearch-go, waits for the write,
// searches, and prints where the documents landed.
//
//	go run ./examples/quickstart
//
// Without MEILI_URLS it starts three in-process meilitest nodes (no Docker,
// no download). With MEILI_URLS=http://a:7700,http://b:7700,... it uses
// those nodes instead (key from MEILI_MASTER_KEY).
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

const index = "books"

func main() {
	log.SetFlags(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	urls, key := nodeURLs()
	nodes := make([]miroir.Node, len(urls))
	for i, u := range urls {
		nodes[i] = miroir.Node{ID: fmt.Sprintf("node-%d", i+1), URL: u}
	}

	// The one line that changes: miroir.New instead of meilisearch.New.
	cluster, err := miroir.New(nodes, miroir.WithAPIKey(key), miroir.WithShards(16))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	var client meilisearch.ServiceManager = cluster

	// Start from a clean index (ignore "not found" on a fresh fleet).
	if t, err := client.DeleteIndex(ctx, index); err == nil {
		_, _ = client.WaitForTask(ctx, t.TaskUID, 0)
	}
	task, err := client.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: index, PrimaryKey: "id"})
	must(err)
	wait(ctx, client, task)

	books := client.Index(index)
	wait(ctx, client, mustT(books.UpdateFilterableAttributes(ctx, &[]any{"genre", "year"})))
	wait(ctx, client, mustT(books.UpdateSortableAttributes(ctx, &[]string{"year", "rating"})))

	docs := generateBooks(5000)
	start := time.Now()
	task, err = books.AddDocuments(ctx, docs, nil)
	must(err)
	done := wait(ctx, client, task)
	fmt.Printf("indexed %d documents in %v (cluster task %d: %s)\n\n",
		done.Details.IndexedDocuments, time.Since(start).Round(time.Millisecond), task.TaskUID, done.Status)

	// Search across every shard; the merged answer is what one node holding
	// all documents would return.
	res, err := books.Search(ctx, "dragon winter", &meilisearch.SearchRequest{
		Filter: "year >= 1990",
		Limit:  5,
	})
	must(err)
	fmt.Printf("search \"dragon winter\" (year >= 1990): %d hits, top %d:\n", res.EstimatedTotalHits, len(res.Hits))
	for _, h := range res.Hits {
		var b book
		must(h.DecodeInto(&b))
		fmt.Printf("  %-5d %-40s %-10s %d  %.1f\n", b.ID, b.Title, b.Genre, b.Year, b.Rating)
	}

	// A document by id comes from one replica of its shard.
	var one book
	must(books.GetDocument(ctx, "42", nil, &one))
	fmt.Printf("\ndocument 42: %q by %s (%d)\n\n", one.Title, one.Author, one.Year)

	// Where did the documents go?
	topo := cluster.Topology()
	fmt.Printf("%d shards over %d nodes (RF %d):\n", topo.Shards, len(topo.Nodes), topo.ReplicationFactor)
	for i, n := range topo.Nodes {
		direct := meilisearch.New(urls[i], meilisearch.WithAPIKey(key))
		st, err := direct.Index(index).GetStats(ctx, nil)
		must(err)
		fmt.Printf("  %-7s healthy=%-5v shards=%v documents=%d\n", n.ID, n.Healthy, n.Shards, st.NumberOfDocuments)
	}
	stats, err := books.GetStats(ctx, nil)
	must(err)
	fmt.Printf("cluster total: %d documents\n", stats.NumberOfDocuments)
}

// nodeURLs returns MEILI_URLS, or three fresh in-process nodes.
func nodeURLs() ([]string, string) {
	key := os.Getenv("MEILI_MASTER_KEY")
	if v := os.Getenv("MEILI_URLS"); v != "" {
		var urls []string
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
		return urls, key
	}
	var opts []meilitest.Option
	if key != "" {
		opts = append(opts, meilitest.WithMasterKey(key))
	}
	var urls []string
	for range 3 {
		srv, err := meilitest.NewServer(opts...)
		must(err)
		urls = append(urls, srv.URL())
	}
	fmt.Printf("started 3 in-process meilitest nodes: %s\n", strings.Join(urls, " "))
	return urls, key
}

type book struct {
	ID     int     `json:"id"`
	Title  string  `json:"title"`
	Author string  `json:"author"`
	Genre  string  `json:"genre"`
	Year   int     `json:"year"`
	Rating float64 `json:"rating"`
	Pages  int     `json:"pages"`
}

// generateBooks makes n plausible books, the same ones on every run.
func generateBooks(n int) []book {
	r := rand.New(rand.NewPCG(1, 2))
	adjectives := []string{"Silent", "Crimson", "Hidden", "Last", "Broken", "Golden", "Winter", "Endless", "Burning", "Forgotten", "Northern", "Quiet", "Wild", "Glass", "Iron"}
	nouns := []string{"Dragon", "River", "Kingdom", "Garden", "Storm", "City", "Orchard", "Lighthouse", "Empire", "Forest", "Letter", "Harbor", "Mountain", "Winter", "Library"}
	tails := []string{"", "", " of Ash", " at Dawn", " Returns", " in Exile", " and the Sea", " Chronicles", " of the North", " Remembered"}
	first := []string{"Ada", "Tomas", "Mei", "Ravi", "Ines", "Yusuf", "Clara", "Kenji", "Amara", "Lukas", "Sofia", "Omar"}
	last := []string{"Okafor", "Lindqvist", "Tanaka", "Moreau", "Haddad", "Novak", "Castillo", "Brennan", "Iyer", "Sato", "Keller", "Mensah"}
	genres := []string{"fantasy", "mystery", "romance", "sci-fi", "history", "thriller", "poetry"}
	out := make([]book, n)
	for i := range out {
		out[i] = book{
			ID:     i,
			Title:  "The " + adjectives[r.IntN(len(adjectives))] + " " + nouns[r.IntN(len(nouns))] + tails[r.IntN(len(tails))],
			Author: first[r.IntN(len(first))] + " " + last[r.IntN(len(last))],
			Genre:  genres[r.IntN(len(genres))],
			Year:   1900 + r.IntN(125),
			Rating: float64(20+r.IntN(31)) / 10,
			Pages:  80 + r.IntN(900),
		}
	}
	return out
}

func wait(ctx context.Context, c meilisearch.ServiceManager, t *meilisearch.TaskInfo) *meilisearch.Task {
	done, err := c.WaitForTask(ctx, t.TaskUID, 0)
	must(err)
	if done.Status != meilisearch.TaskStatusSucceeded {
		log.Fatalf("task %d (%s) %s: %s", t.TaskUID, done.Type, done.Status, done.Error.Message)
	}
	return done
}

func mustT(t *meilisearch.TaskInfo, err error) *meilisearch.TaskInfo {
	must(err)
	return t
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
