package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/jsonscan"
	"github.com/miroirsearch/miroir/internal/route"
)

// The node requests of repair and verification (DESIGN §12): list a
// shard's (id, _miroir_v) pairs page by page, look versions up by ids,
// fetch whole documents by ids, write them back raw, delete by ids, wait
// for the node task. Nothing here holds more than one page.

// repairPageSize is how many (id, version) pairs one listing page and
// one look-up carry, and repairCopyBatch how many whole documents one
// copy fetches and sends: memory per shard pass is a few pages, whatever
// the shard's size.
const (
	repairPageSize  = 5000
	repairCopyBatch = 500
)

// docVersion is one document of a replica as repair sees it.
type docVersion struct {
	id string // canonical id (an integer id is its decimal text)
	v  int64  // _miroir_v; 0 when the document has none
}

// fetchBody is the body of POST /indexes/{uid}/documents/fetch.
type fetchBody struct {
	Filter          string   `json:"filter,omitempty"`
	Fields          []string `json:"fields,omitempty"`
	IDs             []string `json:"ids,omitempty"`
	Offset          int      `json:"offset"`
	Limit           int      `json:"limit"`
	RetrieveVectors bool     `json:"retrieveVectors,omitempty"`
}

// fetchAnswer is a node's answer to documents fetch, its documents raw.
type fetchAnswer struct {
	Results []json.RawMessage `json:"results"`
	Total   int               `json:"total"`
}

// fetchDocs sends one documents fetch to n.
func fetchDocs(ctx context.Context, n *node, uid string, body fetchBody) (*fetchAnswer, error) {
	var out fetchAnswer
	if err := n.doJSON(ctx, "repairFetch", http.MethodPost, "/indexes/"+uid+"/documents/fetch", nil, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// versionsOf decodes the (id, version) pairs of documents fetched with
// fields [pk, _miroir_v]: a flat object is read in place (listing is the
// bulk of a repair's work), anything else through encoding/json.
func versionsOf(n *node, pk string, docs []json.RawMessage) ([]docVersion, error) {
	out := make([]docVersion, 0, len(docs))
	for _, raw := range docs {
		idRaw, vRaw, ok := flatMembers(raw, pk, versionField)
		if !ok {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, fmt.Errorf("miroir: node %s: decoding a listed document: %w", n.ID, err)
			}
			idRaw, vRaw = m[pk], m[versionField]
		}
		id, err := route.CanonicalID(idRaw)
		if err != nil {
			return nil, fmt.Errorf("miroir: node %s: a document without a valid primary key %q: %w", n.ID, pk, err)
		}
		var v int64
		if vRaw != nil {
			if v, err = strconv.ParseInt(string(vRaw), 10, 64); err != nil {
				return nil, fmt.Errorf("miroir: node %s: document %q: bad %s %s: %w", n.ID, id, versionField, vRaw, err)
			}
		}
		out = append(out, docVersion{id, v})
	}
	return out, nil
}

// flatMembers returns the raw values of members a and b of obj, an
// object whose keys have no escapes and whose values are strings without
// escapes, numbers or literals; ok is false for any other object (the
// caller decodes it in full).
func flatMembers(obj []byte, a, b string) (va, vb []byte, ok bool) {
	i := jsonscan.SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, nil, false
	}
	i = jsonscan.SkipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil, nil, true
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return nil, nil, false
		}
		k := i + 1
		for k < len(obj) && obj[k] != '"' && obj[k] != '\\' {
			k++
		}
		if k >= len(obj) || obj[k] != '"' {
			return nil, nil, false
		}
		key := obj[i+1 : k]
		i = jsonscan.SkipSpace(obj, k+1)
		if i >= len(obj) || obj[i] != ':' {
			return nil, nil, false
		}
		i = jsonscan.SkipSpace(obj, i+1)
		start := i
		if i < len(obj) && obj[i] == '"' {
			i++
			for i < len(obj) && obj[i] != '"' && obj[i] != '\\' {
				i++
			}
			if i >= len(obj) || obj[i] != '"' {
				return nil, nil, false
			}
			i++
		} else {
			for i < len(obj) && !jsonscan.IsSpace(obj[i]) && obj[i] != ',' && obj[i] != '}' {
				if c := obj[i]; c == '{' || c == '[' || c == '"' {
					return nil, nil, false
				}
				i++
			}
		}
		val := obj[start:i]
		if len(val) == 0 {
			return nil, nil, false
		}
		switch string(key) {
		case a:
			va = val
		case b:
			vb = val
		}
		i = jsonscan.SkipSpace(obj, i)
		if i >= len(obj) {
			return nil, nil, false
		}
		if obj[i] == '}' {
			return va, vb, true
		}
		if obj[i] != ',' {
			return nil, nil, false
		}
		i = jsonscan.SkipSpace(obj, i+1)
	}
	return nil, nil, false
}

// listShardPage lists one page of shard's (id, version) pairs on n, in
// the node's document order.
func listShardPage(ctx context.Context, n *node, uid, pk string, shard, offset, limit int) ([]docVersion, error) {
	ans, err := fetchDocs(ctx, n, uid, fetchBody{
		Filter: shardField + " = " + strconv.Itoa(shard),
		Fields: []string{pk, versionField},
		Offset: offset, Limit: limit,
	})
	if err != nil {
		return nil, err
	}
	return versionsOf(n, pk, ans.Results)
}

// lookupVersions returns the versions n holds of ids (absent: not held).
func lookupVersions(ctx context.Context, n *node, uid, pk string, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	ans, err := fetchDocs(ctx, n, uid, fetchBody{IDs: ids, Fields: []string{pk, versionField}, Limit: len(ids)})
	if err != nil {
		return nil, err
	}
	dv, err := versionsOf(n, pk, ans.Results)
	if err != nil {
		return nil, err
	}
	for _, d := range dv {
		out[d.id] = d.v
	}
	return out, nil
}

// fetchWhole returns the documents ids as n stores them, every field
// (_miroir_shard and _miroir_v included: the documents routes ignore
// displayedAttributes), with their vectors when the index has embedders.
func fetchWhole(ctx context.Context, n *node, uid string, ids []string, vectors bool) ([]json.RawMessage, error) {
	ans, err := fetchDocs(ctx, n, uid, fetchBody{IDs: ids, Limit: len(ids), RetrieveVectors: vectors})
	if err != nil {
		return nil, err
	}
	return ans.Results, nil
}

// hasEmbedders reports whether index uid on n has embedders, so copies
// fetch the documents' vectors too.
func hasEmbedders(ctx context.Context, n *node, uid string) (bool, error) {
	var emb map[string]json.RawMessage
	if err := n.doJSON(ctx, "repairEmbedders", http.MethodGet, "/indexes/"+uid+"/settings/embedders", nil, nil, &emb); err != nil {
		return false, err
	}
	return len(emb) > 0, nil
}

// putRaw replaces documents on n with docs exactly as given (POST: whole
// documents, not merged with what n holds) and waits for the node task.
func putRaw(ctx context.Context, n *node, uid, pk string, docs []json.RawMessage) error {
	body, err := json.Marshal(docs)
	if err != nil {
		return err
	}
	q := map[string][]string{"primaryKey": {pk}}
	resp, err := n.do(ctx, "repairCopy", http.MethodPost, "/indexes/"+uid+"/documents", q, "application/json", body)
	if err != nil {
		return err
	}
	return waitRepairTask(ctx, n, resp.Body)
}

// deleteIDs deletes ids on n and waits for the node task.
func deleteIDs(ctx context.Context, n *node, uid string, ids []string) error {
	body, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	resp, err := n.do(ctx, "repairDelete", http.MethodPost, "/indexes/"+uid+"/documents/delete-batch", nil, "application/json", body)
	if err != nil {
		return err
	}
	return waitRepairTask(ctx, n, resp.Body)
}

// waitRepairTask waits until the node task a 202 answer names succeeded:
// a copy counts only once the node applied it.
func waitRepairTask(ctx context.Context, n *node, accepted []byte) error {
	var info meilisearch.TaskInfo
	if err := json.Unmarshal(accepted, &info); err != nil {
		return fmt.Errorf("miroir: node %s: decoding task: %w", n.ID, err)
	}
	path := "/tasks/" + strconv.FormatInt(info.TaskUID, 10)
	wait := 2 * time.Millisecond
	for {
		var t meilisearch.Task
		if err := n.doJSON(ctx, "getTask", http.MethodGet, path, nil, nil, &t); err != nil {
			return err
		}
		switch t.Status {
		case meilisearch.TaskStatusSucceeded:
			return nil
		case meilisearch.TaskStatusFailed, meilisearch.TaskStatusCanceled:
			msg := t.Error.Message
			if msg == "" {
				msg = string(t.Status)
			}
			return fmt.Errorf("miroir: node %s: repair task %d %s: %s", n.ID, info.TaskUID, t.Status, msg)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// drainTimeout bounds how long a repair waits for the nodes to process
// the tasks they had when it began.
const drainTimeout = time.Minute

// drainNodes waits until every node of nodes processed each task it had
// enqueued when drainNodes was called. A write's marks are stored after
// the write was enqueued on the replicas that acknowledged it, so once
// drained, the replicas a pass reads its truth from show every write
// behind the marks it read: a mark is never cleared against a truth that
// does not include its write yet.
func drainNodes(ctx context.Context, nodes []*node) error {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	type taskPage struct {
		Results []struct {
			UID int64 `json:"uid"`
		} `json:"results"`
	}
	errs := parallel(len(nodes), len(nodes), func(i int) error {
		n := nodes[i]
		var newest taskPage
		if err := n.doJSON(ctx, "repairDrain", http.MethodGet, "/tasks", url.Values{"limit": {"1"}}, nil, &newest); err != nil {
			return fmt.Errorf("node %s: %w", n.ID, err)
		}
		if len(newest.Results) == 0 {
			return nil
		}
		q := url.Values{"limit": {"1"}, "from": {strconv.FormatInt(newest.Results[0].UID, 10)}, "statuses": {"enqueued,processing"}}
		wait := 2 * time.Millisecond
		for {
			var open taskPage
			if err := n.doJSON(ctx, "repairDrain", http.MethodGet, "/tasks", q, nil, &open); err != nil {
				return fmt.Errorf("node %s: %w", n.ID, err)
			}
			if len(open.Results) == 0 {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %s: waiting for its tasks: %w", n.ID, ctx.Err())
			case <-time.After(wait):
			}
			wait = min(wait*2, 100*time.Millisecond)
		}
	})
	return firstError(errs)
}

// errNoSource is the failure of a shard with no healthy in-sync replica
// to repair its stale ones from, and some replica unreachable (with every
// replica reachable, the stale ones are merged by their marks).
var errNoSource = errors.New("no healthy in-sync replica to repair from, and not every replica reachable to merge them")
