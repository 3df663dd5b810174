package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/meilisearch/meilisearch-go"
)

// Where marks live: records of kind "mark" in miroir_meta on every node
// (DESIGN §12), one per missed write and replica, so that two writes that
// miss the same replica leave two marks and a repair pass clears only the
// ones it saw at its start.
//
// The storage sits behind markStore so that it can move onto issue 13's
// fleet records layer (fleetmeta.go) without touching its callers.

// markKind is the kind of a mark record in miroir_meta.
const markKind = "mark"

// markRecord is a mark as stored in miroir_meta (its primary key is uid,
// like the index records').
type markRecord struct {
	ID      string    `json:"uid"`
	Kind    string    `json:"kind"`
	Index   string    `json:"index"`
	Shard   int       `json:"shard"`
	Node    string    `json:"node"`
	Version int64     `json:"version"`
	At      time.Time `json:"at"`
}

// markID names the mark of one missed write of one replica:
// miroir-mark-<hash(index, shard, node)>-<version>.
func markID(index string, shard int, node string, version int64) string {
	d := xxhash.New()
	_, _ = d.WriteString(index)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(strconv.Itoa(shard))
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(node)
	return "miroir-mark-" + strconv.FormatUint(d.Sum64(), 16) + "-" + strconv.FormatInt(version, 10)
}

func (r markRecord) mark() staleMark {
	return staleMark{Index: r.Index, Shard: r.Shard, Node: r.Node, Version: r.Version, At: r.At}
}

// nodeMarks is what one node answered to a read of marks.
type nodeMarks struct {
	ni       int
	answered bool
	marks    []staleMark
}

// markStore keeps marks on the fleet.
type markStore interface {
	// put writes marks to every reachable node and returns, per node
	// index, the task uid of its 202 (-1: no acknowledgement).
	put(ctx context.Context, marks []staleMark) []int64
	// read returns every node's marks of index uid ("": of every index);
	// it fails when no node answered.
	read(ctx context.Context, uid string) ([]nodeMarks, error)
	// clear deletes the marks of (uid, shard, node) with version <= upTo
	// on every node; it fails when no node acknowledged.
	clear(ctx context.Context, uid string, shard int, node string, upTo int64) error
}

// metaMarks stores marks as fleet records of kind "mark" in miroir_meta
// (fleetmeta.go). It shares the miroir_meta records layer of the task-uid
// lanes (one set of filterable attributes, so that neither undoes the
// other's), and writes and reads the healthy nodes only: a degraded write
// waits for its marks, and must not wait for an unreachable node's
// timeout and retries.
type metaMarks struct {
	c *Cluster
}

// metaFilterable are the attributes records of miroir_meta are filtered
// on: their kind (every kind), and the marks' index, shard, node and
// version.
var metaFilterable = []string{recordKindField, "index", "shard", "node", "version"}

// records is the miroir_meta records layer.
func (s *metaMarks) records() *fleetRecords { return s.c.lanes.records }

// ensure asks for the filterable attributes on n (once) and reports
// whether the node filters on them now.
func (s *metaMarks) ensure(ctx context.Context, n *node, create bool) bool {
	ok, err := s.records().ensure(ctx, n, create)
	return ok && err == nil
}

func (s *metaMarks) put(ctx context.Context, marks []staleMark) []int64 {
	recs := make([]markRecord, len(marks))
	for i, m := range marks {
		recs[i] = markRecord{ID: markID(m.Index, m.Shard, m.Node, m.Version), Kind: markKind, Index: m.Index, Shard: m.Shard, Node: m.Node, Version: m.Version, At: m.At}
	}
	body, _ := json.Marshal(recs)
	// The nodes first, then the size: the registry only grows, and a
	// record followed in between may add a node.
	nodes := s.c.healthyNodes()
	acks := make([]int64, s.c.slots())
	q := map[string][]string{"primaryKey": {"uid"}}
	for i := range acks {
		acks[i] = -1
	}
	s.c.fanout(ctx, nodes, func(ctx context.Context, n *node) error {
		s.ensure(ctx, n, true)
		var info meilisearch.TaskInfo
		if err := n.doJSON(ctx, "writeMarks", http.MethodPost, "/indexes/"+metaIndex+"/documents", q, json.RawMessage(body), &info); err != nil {
			return err
		}
		acks[n.idx] = info.TaskUID
		return nil
	})
	return acks
}

// markFilter is the filter selecting the marks of uid ("": every index).
func markFilter(uid string) string {
	f := `kind = "mark"`
	if uid != "" {
		f += " AND index = " + filterString(uid)
	}
	return f
}

// filterString quotes s for a Meilisearch filter.
func filterString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// markPage is how many records one read request takes.
const markPage = 1000

func (s *metaMarks) read(ctx context.Context, uid string) ([]nodeMarks, error) {
	nodes := s.c.healthyNodes() // before sizing (put)
	out := make([]nodeMarks, s.c.slots())
	for i := range out {
		out[i].ni = i
	}
	errs := s.c.fanout(ctx, nodes, func(ctx context.Context, n *node) error {
		ms, err := s.readNode(ctx, n, uid)
		if err != nil {
			return err
		}
		out[n.idx].answered, out[n.idx].marks = true, ms
		return nil
	})
	for _, nm := range out {
		if nm.answered {
			return out, nil
		}
	}
	return nil, fmt.Errorf("miroir: no node answered a read of stale marks: %w", joinOr(errs, "no healthy node"))
}

// readNode reads the marks of uid from n, page by page: filtered by the
// node, or here when the node cannot filter on the mark attributes yet.
func (s *metaMarks) readNode(ctx context.Context, n *node, uid string) ([]staleMark, error) {
	filter := ""
	if s.ensure(ctx, n, false) {
		filter = markFilter(uid)
	}
	var out []staleMark
	for offset := 0; ; offset += markPage {
		body := map[string]any{"offset": offset, "limit": markPage}
		if filter != "" {
			body["filter"] = filter
		}
		var page struct {
			Results []json.RawMessage `json:"results"`
			Total   int               `json:"total"`
		}
		err := n.doJSON(ctx, "readMarks", http.MethodPost, "/indexes/"+metaIndex+"/documents/fetch", nil, body, &page)
		switch code := apiCode(err); {
		case code == "index_not_found":
			return nil, nil // no record at all on this node
		case code == "invalid_document_filter" && filter != "":
			filter, offset, out = "", -markPage, nil // not filterable yet: filter here
			continue
		case err != nil:
			return nil, err
		}
		for _, raw := range page.Results {
			var r markRecord
			if json.Unmarshal(raw, &r) != nil || r.Kind != markKind || (uid != "" && r.Index != uid) {
				continue
			}
			out = append(out, r.mark())
		}
		if len(page.Results) < markPage || offset+markPage >= page.Total {
			return out, nil
		}
	}
}

func (s *metaMarks) clear(ctx context.Context, uid string, shard int, nodeID string, upTo int64) error {
	filter := markFilter(uid) + " AND shard = " + strconv.Itoa(shard) + " AND node = " + filterString(nodeID) + " AND version <= " + strconv.FormatInt(upTo, 10)
	errs := s.c.fanout(ctx, s.c.healthyNodes(), func(ctx context.Context, n *node) error {
		if !s.ensure(ctx, n, false) {
			// Not filterable there yet (or no record at all): by id.
			return s.clearByIDs(ctx, n, uid, shard, nodeID, upTo)
		}
		var info meilisearch.TaskInfo
		err := n.doJSON(ctx, "clearMarks", http.MethodPost, "/indexes/"+metaIndex+"/documents/delete", nil, map[string]any{"filter": filter}, &info)
		if apiCode(err) == "index_not_found" {
			return nil // nothing to clear there
		}
		if apiCode(err) == "invalid_document_filter" {
			return s.clearByIDs(ctx, n, uid, shard, nodeID, upTo)
		}
		return err
	})
	for _, err := range errs {
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("miroir: no node acknowledged clearing the stale marks of index %q shard %d node %s: %w", uid, shard, nodeID, joinOr(errs, "no healthy node"))
}

// joinOr joins errs, or makes an error of msg when there is none.
func joinOr(errs []error, msg string) error {
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return errors.New(msg)
}

// clearByIDs deletes the matching marks of n by id (the node cannot
// filter on the mark attributes yet).
func (s *metaMarks) clearByIDs(ctx context.Context, n *node, uid string, shard int, nodeID string, upTo int64) error {
	ms, err := s.readNode(ctx, n, uid)
	if err != nil {
		return err
	}
	var ids []string
	for _, m := range ms {
		if m.Shard == shard && m.Node == nodeID && m.Version <= upTo {
			ids = append(ids, markID(m.Index, m.Shard, m.Node, m.Version))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var info meilisearch.TaskInfo
	return n.doJSON(ctx, "clearMarks", http.MethodPost, "/indexes/"+metaIndex+"/documents/delete-batch", nil, ids, &info)
}

// dropIndexMarks deletes every mark of index uid on n (the index is being
// deleted: its replicas go with it). Best effort: a mark left behind only
// makes a replica of a re-created index stale until repair clears it.
// Only nodes that filter on the mark attributes are asked (elsewhere the
// deletion could only fail, as a failed node task).
func (n *node) dropIndexMarks(ctx context.Context, uid string) {
	if s, ok := n.c.markStore.(*metaMarks); ok && !s.ensure(ctx, n, false) {
		return
	}
	var info meilisearch.TaskInfo
	_ = n.doJSON(ctx, "clearMarks", http.MethodPost, "/indexes/"+metaIndex+"/documents/delete", nil, map[string]any{"filter": markFilter(uid)}, &info)
}

// healthyNodes lists the nodes currently marked healthy: marks go to and
// come from the reachable nodes only.
func (c *Cluster) healthyNodes() []*node {
	var out []*node
	for _, n := range c.members() {
		if n.isHealthy() {
			out = append(out, n)
		}
	}
	return out
}
