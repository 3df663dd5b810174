package miroir

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/meilisearch/meilisearch-go"
)

// Task history after a swap or a rename. Meilisearch rewrites the tasks
// enqueued before a swap (apply_index_swap): a task of one index of the
// pair now names the other, so that GET /tasks?indexUids= follows the
// data, not the name. A rename (PATCH /indexes/{uid} with a new uid) is a
// swap with a new name. Done once, when the swap's cluster task is seen
// succeeded.

// rewriteHistory applies a succeeded swap or rename t to the tasks before
// it.
func (m *taskManager) rewriteHistory(ctx context.Context, t *ClusterTask) {
	if t.Type != meilisearch.TaskTypeIndexSwap && t.Type != meilisearch.TaskTypeIndexUpdate {
		return
	}
	// Claim it in the store: two readers may see the task finish at once,
	// and a second rewrite would undo the first.
	claimed := false
	m.updateLocal(t.UID, func(x *ClusterTask) {
		if !x.HistoryRewritten {
			x.HistoryRewritten, claimed = true, true
		}
	})
	t.HistoryRewritten = true
	if !claimed {
		return
	}
	var pairs [][2]string
	switch t.Type {
	case meilisearch.TaskTypeIndexSwap:
		for _, sw := range t.Details.Swaps {
			if len(sw.Indexes) == 2 {
				pairs = append(pairs, [2]string{sw.Indexes[0], sw.Indexes[1]})
			}
		}
	case meilisearch.TaskTypeIndexUpdate:
		var d struct {
			Old string `json:"oldIndexUid"`
			New string `json:"newIndexUid"`
		}
		if json.Unmarshal(t.RawDetails, &d) == nil && d.Old != "" && d.New != "" && d.Old != d.New {
			pairs = append(pairs, [2]string{d.Old, d.New})
		}
	}
	for _, p := range pairs {
		other := func(u string) (string, bool) {
			switch u {
			case p[0]:
				return p[1], true
			case p[1]:
				return p[0], true
			}
			return u, false
		}
		var uids []int64
		_ = m.store.List(ctx, func(x *ClusterTask) bool {
			if x.UID < t.UID {
				if _, ok := other(x.IndexUID); ok {
					uids = append(uids, x.UID)
				} else if x.Type == meilisearch.TaskTypeIndexSwap && slices.ContainsFunc(x.Details.Swaps, func(s meilisearch.SwapIndexesParams) bool {
					return slices.Contains(s.Indexes, p[0]) || slices.Contains(s.Indexes, p[1])
				}) {
					uids = append(uids, x.UID)
				}
			}
			return true
		})
		for _, uid := range uids {
			m.updateLocal(uid, func(x *ClusterTask) {
				if u, ok := other(x.IndexUID); ok {
					x.IndexUID = u
				}
				if x.Type != meilisearch.TaskTypeIndexSwap {
					return
				}
				for i := range x.Details.Swaps {
					x.Details.Swaps[i].Indexes = slices.Clone(x.Details.Swaps[i].Indexes)
					for j, u := range x.Details.Swaps[i].Indexes {
						x.Details.Swaps[i].Indexes[j], _ = other(u)
					}
				}
				x.RawDetails = setRawDetail(x.RawDetails, "swaps", x.Details.Swaps)
			})
		}
	}
}
