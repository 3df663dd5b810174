package miroir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/merge"
)

// GetTaskDocuments returns the documents of a cluster task, as
// Meilisearch's GET /tasks/{uid}/documents does for one node: only while
// the task is enqueued or processing (a node drops a task's payload once it
// has processed it), and only with the getTaskDocumentsRoute experimental
// feature on (the nodes judge that). Each document appears once, without
// _miroir_shard; documents come grouped by node, not in the order they
// were sent. dst must be a non-nil pointer to a slice, as in meilisearch-go.
func (c *Cluster) GetTaskDocuments(ctx context.Context, taskUID int64, dst any) (err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getTaskDocuments", "")
		defer func() { cs.end(err) }()
	}
	if v := reflect.ValueOf(dst); v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Slice {
		return fmt.Errorf("GetTaskDocuments: dst must be a non-nil pointer to a slice")
	}
	docs, err := c.taskDocuments(ctx, taskUID)
	if err != nil {
		return err
	}
	arr := append([]byte{'['}, bytes.Join(docs, []byte{','})...)
	return json.Unmarshal(append(arr, ']'), dst)
}

// taskFileNotFound is Meilisearch's answer for a task without a payload.
func taskFileNotFound(uid int64) error {
	return newError(http.StatusNotFound, "task_file_not_found",
		"Task `%d` does not contain any documents. Only `documentAdditionOrUpdate` tasks with the statuses `enqueued` or `processing` contain documents", uid)
}

// taskDocuments gathers the payloads of a cluster task's node tasks. A
// document went to every replica of its shard; it is kept from one of
// them only: the first node, in the task's node order, that holds the
// shard (the shard is read from the document's _miroir_shard).
func (c *Cluster) taskDocuments(ctx context.Context, taskUID int64) ([][]byte, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	t, err := c.tasks.get(ctx, taskUID)
	if err != nil {
		return nil, err
	}
	var nts []NodeTask
	for _, nt := range t.Nodes {
		if !nt.Aux {
			nts = append(nts, nt)
		}
	}
	if t.Local || len(nts) == 0 || t.Type != meilisearch.TaskTypeDocumentAdditionOrUpdate {
		return nil, taskFileNotFound(taskUID)
	}
	p := newTaskPayloads(c, nts)
	bodies, err := p.fetch(ctx, c, taskUID)
	if err != nil {
		return nil, err
	}
	return p.documents(bodies)
}

// taskPayloads are the node tasks of a document write, whose payloads
// hold its documents.
type taskPayloads struct {
	nts   []NodeTask
	nodes []*node // nts[i]'s node; nil when the fleet has no such node
	owner []int   // shard -> idx of the node whose copy is kept, -1 none
}

func newTaskPayloads(c *Cluster, nts []NodeTask) *taskPayloads {
	tp := c.topo()
	p := &taskPayloads{nts: nts, nodes: make([]*node, len(nts)), owner: make([]int, tp.shards)}
	for s := range p.owner {
		p.owner[s] = -1
	}
	for i, nt := range nts {
		n := c.nodeByID(nt.Node)
		if n == nil {
			continue
		}
		p.nodes[i] = n
		for _, s := range tp.shardsOf(n.idx) {
			if p.owner[s] < 0 {
				p.owner[s] = n.idx
			}
		}
	}
	return p
}

// fetch reads every node task's payload (index-aligned with nts); a
// payload a node no longer has fails with task_file_not_found.
func (p *taskPayloads) fetch(ctx context.Context, c *Cluster, taskUID int64) ([][]byte, error) {
	bodies := make([][]byte, len(p.nts))
	targets := make([]*node, 0, len(p.nts))
	pos := map[*node]int{}
	for i, n := range p.nodes {
		if n != nil {
			pos[n] = i
			targets = append(targets, n)
		}
	}
	errs := c.fanout(ctx, targets, func(ctx context.Context, n *node) error {
		nt := p.nts[pos[n]]
		resp, err := n.do(ctx, "getTaskDocuments", http.MethodGet, "/tasks/"+strconv.FormatInt(nt.TaskUID, 10)+"/documents", nil, "", nil)
		if err != nil {
			return err
		}
		bodies[pos[n]] = resp.Body
		return nil
	})
	for _, err := range errs {
		if err == nil {
			continue
		}
		if apiCode(err) == "task_file_not_found" {
			return nil, taskFileNotFound(taskUID)
		}
		return nil, err
	}
	return bodies, nil
}

// documents decodes the payloads (NDJSON-like streams of documents) and
// keeps each document from its shard's owner, without _miroir_shard.
func (p *taskPayloads) documents(bodies [][]byte) ([][]byte, error) {
	var out [][]byte
	for i, body := range bodies {
		n := p.nodes[i]
		if n == nil {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		for {
			var doc json.RawMessage
			if err := dec.Decode(&doc); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("miroir: node %s: reading task %d documents: %w", n.ID, p.nts[i].TaskUID, err)
			}
			shard := -1
			merge.EachMember(doc, &merge.Strip{}, func(key string, val []byte) {
				if key == shardField {
					if v, err := strconv.Atoi(string(val)); err == nil {
						shard = v
					}
				}
			})
			if shard >= 0 && shard < len(p.owner) && p.owner[shard] != n.idx {
				continue // another replica's copy is kept
			}
			out = append(out, merge.AppendObjectWithout(nil, doc, []string{shardField, versionField}))
		}
	}
	return out, nil
}
