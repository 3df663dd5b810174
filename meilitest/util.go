package meilitest

import "sort"

func sortStrings(s []string) { sort.Strings(s) }

// pageJSON is Meilisearch's PaginationView, the body of its offset/limit
// lists (indexes, keys, documents, chats, dynamic search rules). It is a
// struct, not a map, so the keys come out in Meilisearch's field order:
// results, offset, limit, total.
type pageJSON[T any, N int | uint64] struct {
	Results []T `json:"results"`
	Offset  N   `json:"offset"`
	Limit   N   `json:"limit"`
	Total   int `json:"total"`
}

// taskPageJSON is Meilisearch's AllTasks / AllBatches, the body of GET
// /tasks and GET /batches: results, total, limit, from, next.
type taskPageJSON[T any] struct {
	Results []T    `json:"results"`
	Total   int    `json:"total"`
	Limit   int    `json:"limit"`
	From    *int64 `json:"from"`
	Next    *int64 `json:"next"`
}
