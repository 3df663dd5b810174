package meilitest

import (
	"net/http"
	"strconv"
	"time"
)

// Stats (GET /stats, GET /indexes/{uid}/stats) as Meilisearch reports them.
//
// Meilisearch's sizes come from LMDB: rawDocumentDbSize is the number of
// pages of the documents database times the page size (4096), and
// avgDocumentSize is that size minus an estimated 8 bytes of key per
// document, divided by the number of documents. meilitest models the pages
// from each document's serialized size (an obkv-like estimate), so a few
// small documents give exactly one page (4096 bytes) as in Meilisearch.
// sizeFormat=human renders sizes like "4 KiB"; showInternalDatabaseSizes
// adds internalDatabaseSizes (per internal database, same page model).

const lmdbPageSize = 4096

// lmdbPages estimates the pages an LMDB B-tree needs for values of the given
// sizes with 4-byte keys: small nodes pack into leaf pages, values bigger
// than a quarter page go to overflow pages, and one branch page indexes up
// to ~200 children.
func lmdbPages(valueSizes []int) int {
	const header, nodeHeader, keySize = 16, 8, 4
	leaves, overflow, used := 0, 0, 0
	for _, v := range valueSizes {
		node := nodeHeader + keySize + v
		if node > (lmdbPageSize-header)/4 {
			overflow += (v + header + lmdbPageSize - 1) / lmdbPageSize
			node = nodeHeader + keySize + 4 // the leaf keeps a page number
		}
		if leaves == 0 || used+node+2 > lmdbPageSize-header {
			leaves++
			used = 0
		}
		used += node + 2
	}
	branches := 0
	for n := leaves; n > 1; n = (n + 199) / 200 {
		branches += (n + 199) / 200
	}
	return leaves + overflow + branches
}

// docStats is the documents database's raw size and average document size.
func docStats(ix *index) (raw, avg int) {
	sizes := make([]int, 0, len(ix.docs))
	for _, d := range ix.docs {
		sizes = append(sizes, obkvSize(d.fields))
	}
	raw = lmdbPages(sizes) * lmdbPageSize
	if n := len(sizes); n > 0 {
		avg = (raw - n*8) / n
		if avg < 0 {
			avg = 0
		}
	}
	return raw, avg
}

// obkvSize estimates a document's stored size: per top-level field a 2-byte
// field id, a 4-byte offset and the field's JSON value.
func obkvSize(doc map[string]any) int {
	n := 0
	for _, v := range doc {
		n += 6 + approxSize(v)
	}
	return n
}

// humanSize formats bytes like Meilisearch's sizeFormat=human ("4 KiB").
func humanSize(n int) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	u := 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return strconv.Itoa(n) + " B"
	}
	return strconv.FormatFloat(float64(int(f*100+0.5))/100, 'f', -1, 64) + " " + units[u]
}

type statsOptions struct {
	human    bool
	internal bool
}

func parseStatsOptions(r *http.Request) (statsOptions, *apiError) {
	q := r.URL.Query()
	var o statsOptions
	switch v := q.Get("sizeFormat"); v {
	case "", "raw":
	case "human":
		o.human = true
	default:
		return o, newError("invalid_stats_size_format", "Unknown value `%s` at `.sizeFormat`: expected one of `raw`, `human`", v)
	}
	switch v := q.Get("showInternalDatabaseSizes"); v {
	case "", "false":
	case "true":
		o.internal = true
	default:
		return o, newError("invalid_stats_show_internal_database_sizes", "Invalid value in parameter `showInternalDatabaseSizes`: could not parse `%s` as a boolean, expected either `true` or `false`", v)
	}
	return o, nil
}

func (o statsOptions) size(n int) any {
	if o.human {
		return humanSize(n)
	}
	return n
}

// indexStats computes one index's stats and its total database size;
// caller holds s.mu.
func (s *Server) indexStats(ix *index, o statsOptions) (map[string]any, int) {
	fd := map[string]int{}
	for _, d := range ix.docs {
		for k := range flattenKeys(d.fields) {
			fd[k]++
		}
	}
	raw, avg := docStats(ix)
	// The other internal databases (word docids, facets, ...) are modelled
	// as proportional to the documents: about as big as the documents.
	internal := map[string]int{
		"documents":            raw,
		"externalDocumentsIds": lmdbPages(make([]int, len(ix.docs))) * lmdbPageSize,
		"wordDocids":           raw,
		"wordPrefixDocids":     raw / 2 / lmdbPageSize * lmdbPageSize,
		"main":                 lmdbPageSize,
	}
	total := 0
	for _, v := range internal {
		total += v
	}
	out := map[string]any{
		"numberOfDocuments":         len(ix.docs),
		"rawDocumentDbSize":         o.size(raw),
		"avgDocumentSize":           o.size(avg),
		"isIndexing":                s.tasks.indexBusy(ix.uid),
		"numberOfEmbeddings":        0,
		"numberOfEmbeddedDocuments": 0,
		"fieldDistribution":         fd,
	}
	if o.internal {
		m := map[string]any{}
		for k, v := range internal {
			if v > 0 {
				m[k] = o.size(v)
			}
		}
		out["internalDatabaseSizes"] = m
	}
	return out, total
}

func (s *Server) handleIndexStats(w http.ResponseWriter, r *http.Request) {
	o, e := parseStatsOptions(r)
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, err := s.readIndex(r.PathValue("uid"))
	if err != nil {
		writeError(w, err)
		return
	}
	st, _ := s.indexStats(ix, o)
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleGlobalStats(w http.ResponseWriter, r *http.Request) {
	o, e := parseStatsOptions(r)
	if e != nil {
		writeError(w, e)
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx := map[string]any{}
	size := 0
	var last *time.Time
	for uid, ix := range s.indexes {
		if !indexAuthorized(r, uid) { // a key sees only its indexes
			continue
		}
		st, total := s.indexStats(ix, o)
		idx[uid] = st
		size += total
		if last == nil || ix.updatedAt.After(*last) {
			t := ix.updatedAt
			last = &t
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"databaseSize": o.size(size), "usedDatabaseSize": o.size(size), "lastUpdate": last, "indexes": idx})
}
