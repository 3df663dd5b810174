package miroir

import (
	"encoding/json"

	"github.com/meilisearch/meilisearch-go"
)

// Task details as the REST API shows them: the object one Meilisearch node
// would show for the task, kept raw (ClusterTask.RawDetails) because
// meilisearch-go's typed Details drops what it lacks and adds zero values.

// enqueueDetails is the details object Meilisearch shows for t when it is
// enqueued (counts not known yet are null), from what t records.
func enqueueDetails(t *ClusterTask) json.RawMessage {
	d := t.Details
	m := map[string]json.RawMessage{}
	switch t.Type {
	case meilisearch.TaskTypeDocumentAdditionOrUpdate:
		m["receivedDocuments"] = rawInt(d.ReceivedDocuments)
		m["indexedDocuments"] = rawNull
	case meilisearch.TaskTypeDocumentDeletion:
		m["providedIds"] = rawInt(d.ProvidedIds)
		m["deletedDocuments"] = rawNull
		if d.OriginalFilter != "" {
			m["originalFilter"] = rawJSON(d.OriginalFilter)
		}
	case taskTypeDocumentEdition:
		m["editedDocuments"], m["deletedDocuments"] = rawNull, rawNull
		m["function"], m["context"], m["originalFilter"] = rawNull, rawNull, rawNull
		if d.OriginalFilter != "" {
			m["originalFilter"] = rawJSON(d.OriginalFilter)
		}
	case meilisearch.TaskTypeIndexCreation, meilisearch.TaskTypeIndexUpdate:
		m["primaryKey"] = rawNull
		if d.PrimaryKey != "" {
			m["primaryKey"] = rawJSON(d.PrimaryKey)
		}
	case meilisearch.TaskTypeIndexDeletion:
		m["deletedDocuments"] = rawNull
	case meilisearch.TaskTypeIndexSwap:
		swaps := make([]meilisearch.SwapIndexesParams, 0, len(d.Swaps))
		for _, p := range d.Swaps {
			if p.Indexes == nil {
				p.Indexes = []string{}
			}
			swaps = append(swaps, p)
		}
		m["swaps"] = rawJSON(swaps)
	case meilisearch.TaskTypeTaskCancelation:
		m["matchedTasks"] = rawInt(d.MatchedTasks)
		m["canceledTasks"] = rawNull
		m["originalFilter"] = rawJSON(d.OriginalFilter)
	case meilisearch.TaskTypeTaskDeletion:
		m["matchedTasks"] = rawInt(d.MatchedTasks)
		m["deletedTasks"] = rawNull
		m["originalFilter"] = rawJSON(d.OriginalFilter)
	case meilisearch.TaskTypeDumpCreation:
		m["dumpUid"] = rawNull
	case meilisearch.TaskTypeSnapshotCreation:
		return rawNull // Meilisearch shows no details
	default:
		// settings (a cluster-local task registered without raw
		// details), compaction, ...: what the typed details hold.
		return rawJSON(d)
	}
	return rawJSON(m)
}

// buildRawDetails computes the details object of a node-backed cluster
// task: a node task's own details (the first non-helper node task that
// answered, a finished one preferably; before any did, the details the
// task was registered with), _miroir_shard hidden, with the counts
// replaced by the cluster's: received/provided as the caller sent them,
// and the counts only the nodes know (indexed, deleted, edited, canceled,
// deleted tasks) aggregated once the task succeeded, 0 when it failed,
// null while it runs.
func buildRawDetails(t *ClusterTask) json.RawMessage {
	var base json.RawMessage
	for _, nt := range t.Nodes {
		if nt.Aux || len(nt.RawDetails) == 0 {
			continue
		}
		if base == nil || isFinal(nt.Status) {
			base = nt.RawDetails
		}
		if isFinal(nt.Status) {
			break
		}
	}
	if base == nil {
		base = t.RawDetails
	}
	if base == nil {
		base = enqueueDetails(t)
	}
	var m map[string]json.RawMessage
	if string(base) == "null" || json.Unmarshal(base, &m) != nil || m == nil {
		return base
	}
	hideInternal(m)
	counts, ok := clusterCounts(t)
	if !ok {
		counts = docCounts{indexed: t.Details.IndexedDocuments, deleted: t.Details.DeletedDocuments}
	}
	done := func(key string, n int64) {
		switch t.Status {
		case meilisearch.TaskStatusSucceeded:
			m[key] = rawInt(n)
		case meilisearch.TaskStatusFailed:
			m[key] = rawInt(0)
		case meilisearch.TaskStatusCanceled:
			if _, ok := m[key]; !ok {
				m[key] = rawNull
			}
		default:
			m[key] = rawNull
		}
	}
	d := t.Details
	switch t.Type {
	case meilisearch.TaskTypeDocumentAdditionOrUpdate:
		m["receivedDocuments"] = rawInt(d.ReceivedDocuments)
		done("indexedDocuments", counts.indexed)
	case meilisearch.TaskTypeDocumentDeletion:
		m["providedIds"] = rawInt(d.ProvidedIds)
		done("deletedDocuments", counts.deleted)
	case taskTypeDocumentEdition:
		done("editedDocuments", counts.edited)
		done("deletedDocuments", counts.deleted)
	case meilisearch.TaskTypeIndexDeletion:
		done("deletedDocuments", counts.deleted)
	case meilisearch.TaskTypeTaskCancelation:
		m["matchedTasks"] = rawInt(d.MatchedTasks)
		m["originalFilter"] = rawJSON(d.OriginalFilter)
		done("canceledTasks", d.CanceledTasks)
	case meilisearch.TaskTypeTaskDeletion:
		m["matchedTasks"] = rawInt(d.MatchedTasks)
		m["originalFilter"] = rawJSON(d.OriginalFilter)
		done("deletedTasks", d.DeletedTasks)
	case meilisearch.TaskTypeDumpCreation:
		if t.Status == meilisearch.TaskStatusSucceeded {
			m["dumpUid"] = rawJSON(d.DumpUid)
		}
	}
	return rawJSON(m)
}

// setRawDetail sets one key of a raw details object (a non-object is
// replaced by {key: v}).
func setRawDetail(raw json.RawMessage, key string, v any) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	m[key] = rawJSON(v)
	return rawJSON(m)
}

// typedDetails is the details meilisearch-go decodes from what the REST
// API shows (RawDetails), so that GetTask and GET /tasks agree; a record
// without raw details keeps its typed ones.
func (t *ClusterTask) typedDetails() meilisearch.Details {
	if len(t.RawDetails) == 0 || string(t.RawDetails) == "null" {
		return t.Details
	}
	var d meilisearch.Details
	if err := json.Unmarshal(t.RawDetails, &d); err != nil && !isTypeError(err) {
		return t.Details
	}
	return d
}
