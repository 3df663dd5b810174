package miroir

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// A cluster task's status, times and document counts aggregated from its
// node tasks (DESIGN §6).

// aggregate computes the status, error, times and document counts of a
// non-local cluster task from its node tasks (DESIGN §6): failed if any
// failed, else canceled if any was, else succeeded when all succeeded, else
// enqueued when all are enqueued, else processing.
func aggregate(t *ClusterTask) {
	var failed, canceled, succeeded, enqueued int
	var firstFail *NodeTask
	t.StartedAt, t.FinishedAt = time.Time{}, time.Time{}
	enq := time.Time{}
	for i := range t.Nodes {
		nt := &t.Nodes[i]
		status := nt.Status
		if status == meilisearch.TaskStatusFailed && nt.Aux && nt.Error != nil && benignAuxFailure(string(nt.Error.Code)) {
			status = meilisearch.TaskStatusSucceeded
		}
		switch status {
		case meilisearch.TaskStatusFailed:
			failed++
			if firstFail == nil {
				firstFail = nt
			}
		case meilisearch.TaskStatusCanceled:
			canceled++
		case meilisearch.TaskStatusSucceeded:
			succeeded++
		case meilisearch.TaskStatusEnqueued, "":
			enqueued++
		}
		if !nt.EnqueuedAt.IsZero() && (enq.IsZero() || nt.EnqueuedAt.Before(enq)) {
			enq = nt.EnqueuedAt
		}
		if !nt.StartedAt.IsZero() && (t.StartedAt.IsZero() || nt.StartedAt.Before(t.StartedAt)) {
			t.StartedAt = nt.StartedAt
		}
		if nt.FinishedAt.After(t.FinishedAt) {
			t.FinishedAt = nt.FinishedAt
		}
	}
	if !enq.IsZero() && enq.Before(t.EnqueuedAt) {
		t.EnqueuedAt = enq
	}
	n := len(t.Nodes)
	done := failed+canceled+succeeded == n
	switch {
	case failed > 0:
		t.Status = meilisearch.TaskStatusFailed
		d := meilisearch.APIErrorDetails{Code: "internal", Type: "internal"}
		if firstFail.Error != nil {
			d = *firstFail.Error
		}
		d.Message = fmt.Sprintf("node %s: %s", firstFail.Node, d.Message)
		t.Error = &d
	case canceled > 0:
		t.Status = meilisearch.TaskStatusCanceled
	case succeeded == n:
		t.Status = meilisearch.TaskStatusSucceeded
	case enqueued == n:
		t.Status = meilisearch.TaskStatusEnqueued
	default:
		t.Status = meilisearch.TaskStatusProcessing
	}
	if !isFinal(t.Status) || (!done && t.Status != meilisearch.TaskStatusFailed) {
		// a failed task is reported at once; its other node tasks may run on
		t.FinishedAt = time.Time{}
	}
	if t.Status == meilisearch.TaskStatusEnqueued {
		t.StartedAt = time.Time{}
	}
	if t.Status == meilisearch.TaskStatusFailed && t.FinishedAt.IsZero() {
		t.FinishedAt = nowUTC()
	}
	if t.Status == meilisearch.TaskStatusSucceeded {
		aggregateCounts(t)
		aggregateDumpUIDs(t)
	}
	t.RawDetails = buildRawDetails(t)
}

// aggregateDumpUIDs fills a dump task's dumpUid: every node writes its own
// dump (of its own shards), so the cluster's is the list of them,
// "node:dumpUid" comma-separated in node order; each node is restored
// from its own.
func aggregateDumpUIDs(t *ClusterTask) {
	if t.Type != meilisearch.TaskTypeDumpCreation {
		return
	}
	var parts []string
	for _, nt := range t.Nodes {
		if nt.Details.DumpUid != "" {
			parts = append(parts, nt.Node+":"+nt.Details.DumpUid)
		}
	}
	t.Details.DumpUid = strings.Join(parts, ",")
}

// benignAuxFailure: a helper task that lost a race to an equivalent one
// (a concurrent creation, a primary key already set) did no harm.
func benignAuxFailure(code string) bool {
	return code == "index_already_exists" || code == "index_primary_key_already_exists"
}

// aggregateCounts turns node document counts into cluster counts (see
// clusterCounts) in the typed details.
func aggregateCounts(t *ClusterTask) {
	c, ok := clusterCounts(t)
	if !ok {
		return
	}
	switch t.Type {
	case meilisearch.TaskTypeDocumentAdditionOrUpdate:
		t.Details.IndexedDocuments = c.indexed
	case meilisearch.TaskTypeDocumentDeletion, meilisearch.TaskTypeIndexDeletion, taskTypeDocumentEdition:
		t.Details.DeletedDocuments = c.deleted
	}
}

// taskTypeDocumentEdition is Meilisearch's type of an edition by function
// (meilisearch-go has no constant for it).
const taskTypeDocumentEdition meilisearch.TaskType = "documentEdition"

// docCounts are the document counts of a cluster task.
type docCounts struct{ indexed, deleted, edited int64 }

// clusterCounts turns node document counts into cluster counts: a routed
// write scales by Documents/sum(Docs) (each document went to several
// nodes), a broadcast divides by Copies. ok is false when there is no
// scale (no node task counted).
func clusterCounts(t *ClusterTask) (c docCounts, ok bool) {
	var indexed, deleted, edited, docs float64
	for _, nt := range t.Nodes {
		if nt.Aux {
			continue
		}
		indexed += float64(nt.Details.IndexedDocuments)
		deleted += float64(nt.Details.DeletedDocuments)
		edited += float64(rawCount(nt.RawDetails, "editedDocuments"))
		docs += float64(nt.Docs)
	}
	scale := 0.0
	switch {
	case t.Documents > 0 && docs > 0:
		scale = float64(t.Documents) / docs
	case t.Copies > 0:
		scale = 1 / float64(t.Copies)
	}
	if scale == 0 {
		return c, false
	}
	return docCounts{
		indexed: int64(math.Round(indexed * scale)),
		deleted: int64(math.Round(deleted * scale)),
		edited:  int64(math.Round(edited * scale)),
	}, true
}

// rawCount reads a count from a raw details object (0 when absent or null).
func rawCount(raw json.RawMessage, key string) int64 {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return 0
	}
	var n float64
	if v, ok := m[key]; !ok || json.Unmarshal(v, &n) != nil {
		return 0
	}
	return int64(n)
}
