package miroir

// Meilisearch-shaped errors (errors.go): node errors never name the shard
// field.

import (
	"testing"
)

func TestHideShardField(t *testing.T) {
	for in, want := range map[string]string{
		"Attribute `x` is not filterable. Available filterable attribute patterns are: `_miroir_shard`, `genre`.":                            "Attribute `x` is not filterable. Available filterable attribute patterns are: `genre`.",
		"Attribute `x` is not filterable. Available filterable attribute patterns are: `a`, `_miroir_shard`.":                                "Attribute `x` is not filterable. Available filterable attribute patterns are: `a`.",
		"Attribute `x` is not filterable. Available filterable attribute patterns are: `_miroir_shard`.":                                     "Attribute `x` is not filterable. This index does not have configured filterable attributes.",
		"Invalid facet distribution: Attribute `x` is not filterable. Available filterable attributes patterns are: `_miroir_shard, genre`.": "Invalid facet distribution: Attribute `x` is not filterable. Available filterable attributes patterns are: `genre`.",
		"Attribute `x` is not facet-searchable. Available facet-searchable attributes patterns are: `_miroir_shard`. To make it":             "Attribute `x` is not facet-searchable. This index does not have configured facet-searchable attributes. To make it",
		"Index `movies` not found.": "Index `movies` not found.",
	} {
		if got := hideShardField(in); got != want {
			t.Errorf("hideShardField(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}
