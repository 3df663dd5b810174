// Command quickstart shows miroir end to end: it shards an index across
// three Meilisearch nodes, loads a few thousand documents through the
// Cluster exactly as it would through meilisearch-go, waits for the write,
// searches, and prints where the documents landed. On its embedded fleet
// it then grows the fleet by a fourth node online (Cluster.ChangeTopology)
// and shows what moved and that the search is unchanged.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -keep   # then keep the embedded fleet up for cmd/miroir
//
// Without MEILI_URLS it starts three in-process meilitest nodes (no Docker,
// no download). With MEILI_URLS=http://a:7700,http://b:7700,... it uses
// those nodes instead (key from MEILI_MASTER_KEY), and changes no topology.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"maps"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

const (
	index     = "books"
	bookCount = 5000 // books the example loads
)

func main() {
	log.SetFlags(0)
	keep := flag.Bool("keep", false, "embedded fleet: instead of growing it, keep it up (and a spare node) until Ctrl-C, for cmd/miroir")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	urls, key, embedded := nodeURLs()
	nodes := make([]miroir.Node, len(urls))
	for i, u := range urls {
		nodes[i] = miroir.Node{ID: fmt.Sprintf("node-%d", i+1), URL: u}
	}

	// The one line that changes: miroir.New instead of meilisearch.New.
	progress := &progressObserver{}
	cluster, err := miroir.New(nodes, miroir.WithAPIKey(key), miroir.WithShards(16), miroir.WithObserver(progress))
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

	docs := generateBooks(bookCount)
	start := time.Now()
	task, err = books.AddDocuments(ctx, docs, nil)
	must(err)
	done := wait(ctx, client, task)
	fmt.Printf("indexed %d documents in %v (cluster task %d: %s)\n\n",
		done.Details.IndexedDocuments, time.Since(start).Round(time.Millisecond), task.TaskUID, done.Status)

	// Search across every shard; the merged answer is what one node holding
	// all documents would return.
	res, top := search(ctx, books)
	fmt.Printf("search \"dragon winter\" (year >= 1990): %d hits, top %d:\n", res.EstimatedTotalHits, len(top))
	for _, b := range top {
		fmt.Printf("  %-5d %-40s %-10s %d  %.1f\n", b.ID, b.Title, b.Genre, b.Year, b.Rating)
	}

	// A document by id comes from one replica of its shard.
	var one book
	must(books.GetDocument(ctx, "42", nil, &one))
	fmt.Printf("\ndocument 42: %q by %s (%d)\n\n", one.Title, one.Author, one.Year)

	// Where did the documents go?
	before := cluster.Topology()
	placement(ctx, before, key)
	stats, err := books.GetStats(ctx, nil)
	must(err)
	fmt.Printf("cluster total: %d documents\n", stats.NumberOfDocuments)

	switch {
	case embedded && *keep:
		// The example's instance leaves: a topology change waits for every
		// live instance to see each phase, and this one would only idle.
		cluster.Close()
		serve(key, before)
	case embedded:
		grow(ctx, cluster, key, progress, before)
	}
}

// serve keeps the embedded fleet up, with a spare node to grow it by,
// and prints the cmd/miroir calls of README's "Growing the fleet".
func serve(key string, topo miroir.Topology) {
	spare, err := meilitest.NewServer(meilitestOptions(key)...)
	must(err)
	var list []string
	for _, n := range topo.Nodes {
		list = append(list, n.ID+"="+n.URL)
	}
	spareID := fmt.Sprintf("node-%d", len(topo.Nodes)+1)
	fmt.Printf("\nthe fleet stays up until Ctrl-C; a spare node waits at %s. In another terminal:\n\n", spare.URL())
	fmt.Printf("  export MIROIR_NODES=%s\n", strings.Join(list, ","))
	fmt.Printf("  go run ./cmd/miroir -shards %d status\n", topo.Shards)
	fmt.Printf("  go run ./cmd/miroir -shards %d nodes > grown.nodes\n", topo.Shards)
	fmt.Printf("  echo %s=%s >> grown.nodes\n", spareID, spare.URL())
	fmt.Printf("  go run ./cmd/miroir -shards %d change-topology -nodes grown.nodes\n\n", topo.Shards)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
}

// grow adds a fourth node to the embedded fleet online: only the shards
// rendezvous hashing now places on it move (about a quarter), copied
// while reads and writes go on; the search answers the same afterwards.
func grow(ctx context.Context, cluster *miroir.Cluster, key string, progress *progressObserver, before miroir.Topology) {
	books := cluster.Index(index)
	hits0 := everyHit(ctx, books)
	srv, err := meilitest.NewServer(meilitestOptions(key)...)
	must(err)
	target := make([]miroir.Node, 0, len(before.Nodes)+1)
	for _, n := range before.Nodes {
		target = append(target, miroir.Node{ID: n.ID, URL: n.URL, Group: n.Group})
	}
	target = append(target, miroir.Node{ID: fmt.Sprintf("node-%d", len(target)+1), URL: srv.URL()})
	fmt.Printf("\ngrowing the fleet: %s joins at %s\n", target[len(target)-1].ID, srv.URL())

	start := time.Now()
	must(cluster.ChangeTopology(ctx, target))
	after := cluster.Topology()
	p := progress.last()
	moved := 0
	for s := range after.Shards {
		if !slices.Equal(before.Replicas(s, 0), after.Replicas(s, 0)) {
			moved++
		}
	}
	fmt.Printf("epoch %d -> %d in %v: %d of %d shards moved, %d documents (%.1f MB) copied\n",
		before.Epoch, after.Epoch, time.Since(start).Round(time.Millisecond), moved, after.Shards,
		p.DocumentsCopied, float64(p.BytesCopied)/1e6)
	held := map[string][]int{}
	for _, n := range before.Nodes {
		held[n.ID] = n.Shards
	}
	for _, n := range after.Nodes {
		if n.ID == target[len(target)-1].ID {
			continue
		}
		var left []int
		for _, s := range held[n.ID] {
			if !slices.Contains(n.Shards, s) {
				left = append(left, s)
			}
		}
		if len(left) > 0 {
			fmt.Printf("  %s handed shards %v over\n", n.ID, left)
		}
	}
	placement(ctx, after, key)

	stats, err := books.GetStats(ctx, nil)
	must(err)
	hits := everyHit(ctx, books)
	if !maps.Equal(hits, hits0) || stats.NumberOfDocuments != bookCount {
		log.Fatalf("after the move: %d documents, %d hits; before: %d documents, %d hits", stats.NumberOfDocuments, len(hits), bookCount, len(hits0))
	}
	// Documents with exactly the same score may swap places (the merge
	// is exact up to the order of exact ties, DESIGN §5).
	fmt.Printf("cluster total: %d documents; search \"dragon winter\" again: the same %d hits with the same ranking scores\n",
		stats.NumberOfDocuments, len(hits))
}

// everyHit returns every hit of the example's query, with its ranking
// score, by document id.
func everyHit(ctx context.Context, books meilisearch.IndexManager) map[int]float64 {
	res, err := books.Search(ctx, "dragon winter", &meilisearch.SearchRequest{
		Filter: "year >= 1990", Limit: 1000, ShowRankingScore: true,
	})
	must(err)
	out := map[int]float64{}
	for _, h := range res.Hits {
		var hit struct {
			ID    int     `json:"id"`
			Score float64 `json:"_rankingScore"`
		}
		must(h.DecodeInto(&hit))
		out[hit.ID] = hit.Score
	}
	return out
}

// search runs the example's query.
func search(ctx context.Context, books meilisearch.IndexManager) (*meilisearch.SearchResponse, []book) {
	res, err := books.Search(ctx, "dragon winter", &meilisearch.SearchRequest{
		Filter: "year >= 1990",
		Limit:  5,
	})
	must(err)
	top := make([]book, len(res.Hits))
	for i, h := range res.Hits {
		must(h.DecodeInto(&top[i]))
	}
	return res, top
}

// placement prints each node's shards and the documents it holds, asked
// of the node itself.
func placement(ctx context.Context, topo miroir.Topology, key string) {
	fmt.Printf("%d shards over %d nodes (RF %d):\n", topo.Shards, len(topo.Nodes), topo.ReplicationFactor)
	for _, n := range topo.Nodes {
		direct := meilisearch.New(n.URL, meilisearch.WithAPIKey(key))
		st, err := direct.Index(index).GetStats(ctx, nil)
		must(err)
		fmt.Printf("  %-7s healthy=%-5v shards=%v documents=%d\n", n.ID, n.Healthy, n.Shards, st.NumberOfDocuments)
	}
}

// progressObserver keeps the last progress report of a topology change
// this instance drives (miroir.TopologyObserver).
type progressObserver struct {
	miroir.NopObserver
	mu sync.Mutex
	p  miroir.TopologyChange
}

// TopologyProgress implements miroir.TopologyObserver.
func (o *progressObserver) TopologyProgress(p miroir.TopologyChange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.p = p
}

func (o *progressObserver) last() miroir.TopologyChange {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.p
}

// nodeURLs returns MEILI_URLS, or three fresh in-process nodes (embedded).
func nodeURLs() (urls []string, key string, embedded bool) {
	key = os.Getenv("MEILI_MASTER_KEY")
	if v := os.Getenv("MEILI_URLS"); v != "" {
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
		return urls, key, false
	}
	for range 3 {
		srv, err := meilitest.NewServer(meilitestOptions(key)...)
		must(err)
		urls = append(urls, srv.URL())
	}
	fmt.Printf("started 3 in-process meilitest nodes: %s\n", strings.Join(urls, " "))
	return urls, key, true
}

// meilitestOptions gives embedded nodes the master key, if one is set.
func meilitestOptions(key string) []meilitest.Option {
	if key == "" {
		return nil
	}
	return []meilitest.Option{meilitest.WithMasterKey(key)}
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
