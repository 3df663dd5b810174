package meilitest

import (
	"sort"
	"sync"
	"time"
)

// document is one stored document. fields is the document as Meilisearch
// returns it, decoded with json.Decoder.UseNumber so numbers keep their
// original text (1 stays 1, 1.50 stays 1.5 only if the client sent it so).
type document struct {
	id     string         // canonical external id: string ids as is, integer ids in decimal
	seq    uint64         // internal docid: listing order and the tie-break of equal hits
	fields map[string]any // values: nil, bool, json.Number, string, []any, map[string]any
	gone   bool           // removed from its index (dropped from the ordered cache)
}

// index is one index and its documents. All fields are guarded by Server.mu.
type index struct {
	uid        string
	primaryKey string // "" until set or inferred
	createdAt  time.Time
	updatedAt  time.Time
	settings   *settings
	docs       map[string]*document
	nextSeq    uint64

	// ordered caches docs by seq; nil when stale, holding removed
	// documents when compact is set. Readers holding only Server.mu.RLock
	// rebuild it, so it has its own lock.
	orderedMu sync.Mutex
	ordered   []*document
	compact   bool
}

func newIndex(uid, primaryKey string, now time.Time) *index {
	return &index{
		uid:        uid,
		primaryKey: primaryKey,
		createdAt:  now,
		updatedAt:  now,
		settings:   defaultSettings(),
		docs:       map[string]*document{},
	}
}

// put stores fields under id, keeping the internal docid of a replaced
// document as Meilisearch does.
func (ix *index) put(id string, fields map[string]any) {
	if d, ok := ix.docs[id]; ok {
		d.fields = fields
		return
	}
	d := &document{id: id, seq: ix.nextSeq, fields: fields}
	ix.docs[id] = d
	ix.nextSeq++
	// A new document has the highest docid: it goes last, no re-sort
	// (appending never changes what a shared slice shows).
	ix.orderedMu.Lock()
	if ix.ordered != nil {
		ix.ordered = append(ix.ordered, d)
	}
	ix.orderedMu.Unlock()
}

// invalidate drops the ordered cache; the caller holds Server.mu for writing.
func (ix *index) invalidate() {
	ix.orderedMu.Lock()
	ix.ordered, ix.compact = nil, false
	ix.orderedMu.Unlock()
}

func (ix *index) remove(id string) bool {
	d, ok := ix.docs[id]
	if !ok {
		return false
	}
	delete(ix.docs, id)
	d.gone = true
	ix.orderedMu.Lock()
	ix.compact = ix.ordered != nil
	ix.orderedMu.Unlock()
	return true
}

func (ix *index) clear() int {
	n := len(ix.docs)
	ix.docs = map[string]*document{}
	ix.invalidate()
	return n
}

// documents returns every document in internal docid order. The slice is
// shared and must not be modified; it is rebuilt after inserts and deletes.
func (ix *index) documents() []*document {
	ix.orderedMu.Lock()
	defer ix.orderedMu.Unlock()
	if ix.compact {
		// Removals only: drop them, the order stands.
		out := make([]*document, 0, len(ix.docs))
		for _, d := range ix.ordered {
			if !d.gone {
				out = append(out, d)
			}
		}
		ix.ordered, ix.compact = out, false
	}
	if ix.ordered == nil {
		out := make([]*document, 0, len(ix.docs))
		for _, d := range ix.docs {
			out = append(out, d)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
		ix.ordered = out
	}
	return ix.ordered
}
