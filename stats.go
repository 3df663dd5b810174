package miroir

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Stats (DESIGN §4, scatter-gather): every node is asked; document counts
// and fieldDistribution come from the most complete replica group (the sum
// over a group's nodes divided by RF: each document sits on RF nodes of
// every group), so a degraded or unreachable node does not skew them; disk
// sizes are summed over every node that answered (what the fleet stores).
// _miroir_shard is removed from fieldDistribution and miroir_meta from the
// global stats.

// nodeIndexStats is one node's GET /indexes/{uid}/stats, sizes as numbers.
type nodeIndexStats struct {
	NumberOfDocuments         int64              `json:"numberOfDocuments"`
	IsIndexing                bool               `json:"isIndexing"`
	FieldDistribution         map[string]int64   `json:"fieldDistribution"`
	IndexSize                 float64            `json:"indexSize"`
	UsedIndexSize             float64            `json:"usedIndexSize"`
	RawDocumentDbSize         float64            `json:"rawDocumentDbSize"`
	AvgDocumentSize           float64            `json:"avgDocumentSize"`
	NumberOfEmbeddedDocuments int64              `json:"numberOfEmbeddedDocuments"`
	NumberOfEmbeddings        int64              `json:"numberOfEmbeddings"`
	InternalDatabaseSizes     map[string]float64 `json:"internalDatabaseSizes"`
}

type nodeStats struct {
	DatabaseSize     float64                   `json:"databaseSize"`
	UsedDatabaseSize float64                   `json:"usedDatabaseSize"`
	LastUpdate       *time.Time                `json:"lastUpdate"`
	Indexes          map[string]nodeIndexStats `json:"indexes"`
}

func statsQuery(p *meilisearch.StatsParams) url.Values {
	q := url.Values{}
	if p != nil && p.ShowInternalDatabaseSizes {
		q.Set("showInternalDatabaseSizes", "true")
	}
	return q
}

// humanSize formats bytes like Meilisearch's sizeFormat=human ("4 KiB").
func humanSize(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	u := 0
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	if u == 0 {
		return strconv.FormatInt(int64(n), 10) + " B"
	}
	return strconv.FormatFloat(math.Round(n*100)/100, 'f', -1, 64) + " " + units[u]
}

func sizeValue(n float64, human bool) any {
	if human {
		return humanSize(n)
	}
	return int64(n)
}

// combineIndexStats merges per-node stats (nil: the node did not answer
// or lacks the index) into the cluster's view, over topology t.
func combineIndexStats(t *topology, per []*nodeIndexStats, p *meilisearch.StatsParams) meilisearch.StatsIndex {
	human := p != nil && p.SizeFormat == "human"
	out := meilisearch.StatsIndex{FieldDistribution: map[string]int64{}}
	members, div := countingNodes(t, per)
	var docs, emb, embs float64
	fields := map[string]float64{}
	for _, ni := range members {
		s := per[ni]
		if s == nil {
			continue
		}
		docs += float64(s.NumberOfDocuments)
		emb += float64(s.NumberOfEmbeddedDocuments)
		embs += float64(s.NumberOfEmbeddings)
		for f, n := range s.FieldDistribution {
			if !isInternalField(f) {
				fields[f] += float64(n)
			}
		}
	}
	out.NumberOfDocuments = int64(math.Round(docs / div))
	out.NumberOfEmbeddedDocuments = int64(math.Round(emb / div))
	out.NumberOfEmbeddings = int64(math.Round(embs / div))
	for f, n := range fields {
		out.FieldDistribution[f] = int64(math.Round(n / div))
	}
	addSizes(&out, per, p, human)
	return out
}

// countingNodes picks the nodes whose document counts make the cluster's,
// and the divisor that counts each document once: the most complete
// replica group (every node answered; the most documents) over RF, else
// every node that answered over RG×RF.
func countingNodes(t *topology, per []*nodeIndexStats) (members []int, div float64) {
	rf := float64(t.rf)
	bestGroup, bestDocs := -1, -1.0
	for g := range t.rg {
		complete, docs := true, 0.0
		for _, ni := range t.byGroup[g] {
			if per[ni] == nil {
				complete = false
				break
			}
			docs += float64(per[ni].NumberOfDocuments)
		}
		if complete && docs/rf > bestDocs {
			bestGroup, bestDocs = g, docs/rf
		}
	}
	if bestGroup >= 0 {
		return t.byGroup[bestGroup], rf
	}
	// No complete group: count what answered, once per copy.
	for ni, s := range per {
		if s != nil {
			members = append(members, ni)
		}
	}
	return members, float64(t.copies())
}

// addSizes fills out's sizes (and isIndexing) from every node that
// answered: what the fleet stores.
func addSizes(out *meilisearch.StatsIndex, per []*nodeIndexStats, p *meilisearch.StatsParams, human bool) {
	var size, used, raw, allDocs float64
	internal := map[string]float64{}
	for _, s := range per {
		if s == nil {
			continue
		}
		out.IsIndexing = out.IsIndexing || s.IsIndexing
		size += s.IndexSize
		used += s.UsedIndexSize
		raw += s.RawDocumentDbSize
		allDocs += float64(s.NumberOfDocuments)
		for k, v := range s.InternalDatabaseSizes {
			internal[k] += v
		}
	}
	avg := 0.0
	if allDocs > 0 {
		// Each node's avg is (raw - 8 bytes of key per document) / docs.
		avg = math.Max(0, (raw-8*allDocs)/allDocs)
	}
	out.IndexSize = sizeValue(size, human)
	out.UsedIndexSize = sizeValue(used, human)
	out.RawDocumentDbSize = sizeValue(raw, human)
	out.AvgDocumentSize = sizeValue(math.Floor(avg), human)
	if p != nil && p.ShowInternalDatabaseSizes {
		out.InternalDatabaseSizes = map[string]any{}
		for k, v := range internal {
			out.InternalDatabaseSizes[k] = sizeValue(v, human)
		}
	}
}

// GetStats returns the index's stats aggregated over the fleet.
func (i *Index) GetStats(ctx context.Context, param *meilisearch.StatsParams) (_ *meilisearch.StatsIndex, err error) {
	if i.c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = i.c.beginCall(ctx, "getStats", i.uid)
		defer func() { cs.end(err) }()
	}
	c := i.c
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	tp := c.topo()
	if isReservedIndex(i.uid) {
		return nil, indexNotFound(i.uid)
	}
	if err := c.checkShards(ctx, i.uid); err != nil {
		return nil, err
	}
	per := make([]*nodeIndexStats, len(tp.clients))
	q := statsQuery(param)
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
		var s nodeIndexStats
		if err := n.doJSON(ctx, "indexStats", http.MethodGet, "/indexes/"+i.uid+"/stats", q, nil, &s); err != nil {
			return err
		}
		per[n.idx] = &s
		return nil
	})
	if err := statsError(c, errs); err != nil {
		return nil, err
	}
	out := combineIndexStats(tp, per, param)
	if tp.change != nil {
		// Mid-change, nodes hold copies the per-group sums would count
		// twice (a new replica filling, an old one not emptied yet):
		// count each shard once, on the replica reads use.
		n, err := c.countDocuments(ctx, i.uid)
		if err != nil {
			return nil, err
		}
		out.NumberOfDocuments = n
	}
	return &out, nil
}

// countDocuments counts the documents of index uid shard by shard, each
// on one in-sync replica of the read layout.
func (c *Cluster) countDocuments(ctx context.Context, uid string) (int64, error) {
	cov := c.cover(uid, nil, c.nextSeq(), nil, false)
	if len(cov.unavailable) > 0 {
		return 0, c.unavailableShards(ctx, uid, cov.unavailable)
	}
	totals := make([]int64, len(cov.nodes))
	errs := parallel(len(cov.nodes), 0, func(i int) error {
		var err error
		totals[i], err = cov.nodes[i].n.countShards(ctx, uid, cov.nodes[i].shards)
		return err
	})
	if err := firstError(errs); err != nil {
		return 0, err
	}
	var n int64
	for _, t := range totals {
		n += t
	}
	return n, nil
}

// statsError fails a scatter when no node answered, or when every node
// gave the same Meilisearch error (index_not_found).
func statsError(c *Cluster, errs []error) error {
	ok := false
	for _, err := range errs {
		ok = ok || err == nil
	}
	if ok {
		return nil
	}
	return c.broadcastError(c.members(), errs)
}

// GetStats returns the fleet's stats: sizes summed over nodes, lastUpdate
// the latest, and per index the aggregated index stats (miroir_meta
// hidden).
func (c *Cluster) GetStats(ctx context.Context, param *meilisearch.StatsParams) (_ *meilisearch.Stats, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getStats", "")
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	tp := c.topo()
	per := make([]*nodeStats, len(tp.clients))
	q := statsQuery(param)
	errs := c.fanout(ctx, tp.members, func(ctx context.Context, n *node) error {
		var s nodeStats
		if err := n.doJSON(ctx, "stats", http.MethodGet, "/stats", q, nil, &s); err != nil {
			return err
		}
		per[n.idx] = &s
		return nil
	})
	if err := statsError(c, errs); err != nil {
		return nil, err
	}
	human := param != nil && param.SizeFormat == "human"
	out := &meilisearch.Stats{Indexes: map[string]meilisearch.StatsIndex{}}
	var size, used float64
	uids := map[string]bool{}
	for _, s := range per {
		if s == nil {
			continue
		}
		size += s.DatabaseSize
		used += s.UsedDatabaseSize
		if s.LastUpdate != nil && s.LastUpdate.After(out.LastUpdate) {
			out.LastUpdate = *s.LastUpdate
		}
		for uid := range s.Indexes {
			if !isReservedIndex(uid) {
				uids[uid] = true
			}
		}
	}
	out.DatabaseSize = sizeValue(size, human)
	out.UsedDatabaseSize = sizeValue(used, human)
	for uid := range uids {
		pi := make([]*nodeIndexStats, len(tp.clients))
		for ni, s := range per {
			if s == nil {
				continue
			}
			if v, ok := s.Indexes[uid]; ok {
				pi[ni] = &v
			} else {
				pi[ni] = &nodeIndexStats{} // answered, lacks the index
			}
		}
		out.Indexes[uid] = combineIndexStats(tp, pi, param)
	}
	return out, nil
}
