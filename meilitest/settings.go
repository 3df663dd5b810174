package meilitest

// settings is an index's settings, in Meilisearch's JSON shape. Every field
// is always set (defaults filled in) so readers never see nil.
type settings struct {
	DisplayedAttributes  []string            `json:"displayedAttributes"`
	SearchableAttributes []string            `json:"searchableAttributes"`
	FilterableAttributes []any               `json:"filterableAttributes"` // strings or attribute-pattern objects
	SortableAttributes   []string            `json:"sortableAttributes"`
	RankingRules         []string            `json:"rankingRules"`
	StopWords            []string            `json:"stopWords"`
	NonSeparatorTokens   []string            `json:"nonSeparatorTokens"`
	SeparatorTokens      []string            `json:"separatorTokens"`
	Dictionary           []string            `json:"dictionary"`
	Synonyms             map[string][]string `json:"synonyms"`
	DistinctAttribute    *string             `json:"distinctAttribute"`
	ProximityPrecision   string              `json:"proximityPrecision"`
	TypoTolerance        typoTolerance       `json:"typoTolerance"`
	Faceting             faceting            `json:"faceting"`
	Pagination           pagination          `json:"pagination"`
	Embedders            map[string]any      `json:"embedders"`
	SearchCutoffMs       *int64              `json:"searchCutoffMs"`
	LocalizedAttributes  []any               `json:"localizedAttributes"` // null by default
	FacetSearch          bool                `json:"facetSearch"`
	PrefixSearch         string              `json:"prefixSearch"`
}

type typoTolerance struct {
	Enabled             bool            `json:"enabled"`
	MinWordSizeForTypos minWordSizeTypo `json:"minWordSizeForTypos"`
	DisableOnWords      []string        `json:"disableOnWords"`
	DisableOnAttributes []string        `json:"disableOnAttributes"`
	DisableOnNumbers    bool            `json:"disableOnNumbers"`
}

type minWordSizeTypo struct {
	OneTypo  int `json:"oneTypo"`
	TwoTypos int `json:"twoTypos"`
}

type faceting struct {
	MaxValuesPerFacet int               `json:"maxValuesPerFacet"`
	SortFacetValuesBy map[string]string `json:"sortFacetValuesBy"` // attribute or "*" -> "alpha"|"count"
}

type pagination struct {
	MaxTotalHits int `json:"maxTotalHits"`
}

// defaultRankingRules is Meilisearch's built-in order.
var defaultRankingRules = []string{"words", "typo", "proximity", "attributeRank", "sort", "wordPosition", "exactness"}

// defaultSettings returns a fresh copy of Meilisearch's defaults.
func defaultSettings() *settings {
	return &settings{
		DisplayedAttributes:  []string{"*"},
		SearchableAttributes: []string{"*"},
		FilterableAttributes: []any{},
		SortableAttributes:   []string{},
		RankingRules:         append([]string(nil), defaultRankingRules...),
		StopWords:            []string{},
		NonSeparatorTokens:   []string{},
		SeparatorTokens:      []string{},
		Dictionary:           []string{},
		Synonyms:             map[string][]string{},
		ProximityPrecision:   "byWord",
		TypoTolerance: typoTolerance{
			Enabled:             true,
			MinWordSizeForTypos: minWordSizeTypo{OneTypo: 5, TwoTypos: 9},
			DisableOnWords:      []string{},
			DisableOnAttributes: []string{},
		},
		Faceting:     faceting{MaxValuesPerFacet: 100, SortFacetValuesBy: map[string]string{"*": "alpha"}},
		Pagination:   pagination{MaxTotalHits: 1000},
		Embedders:    map[string]any{},
		FacetSearch:  true,
		PrefixSearch: "indexingTime",
	}
}
