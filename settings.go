package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/meilisearch/meilisearch-go"
)

// Settings (DESIGN §7). Reads come from one healthy node with
// _miroir_shard hidden; every update and reset, of the whole object or of
// one setting, is a settings transaction (settings_tx.go) that returns a
// cluster-local settingsUpdate task at once.

// ---- reads ----

// GetSettings returns the index's settings as one healthy node holds them,
// without the reserved _miroir_shard in filterableAttributes.
// meilisearch.Settings holds filterable attributes as strings: attribute
// pattern objects ({attributePatterns, features}) appear as their
// patterns; GetFilterableAttributes returns them whole.
func (i *Index) GetSettings(ctx context.Context) (*meilisearch.Settings, error) {
	raw, err := i.c.readSettings(ctx, i.uid)
	if err != nil {
		return nil, err
	}
	return typedSettings(raw)
}

func (i *Index) GetRankingRules(ctx context.Context) (*[]string, error) {
	resp := &[]string{}
	return resp, i.getSetting(ctx, "rankingRules", resp)
}

func (i *Index) GetDistinctAttribute(ctx context.Context) (*string, error) {
	resp := new(string)
	return resp, i.getSetting(ctx, "distinctAttribute", resp)
}

func (i *Index) GetSearchableAttributes(ctx context.Context) (*[]string, error) {
	resp := &[]string{}
	return resp, i.getSetting(ctx, "searchableAttributes", resp)
}

func (i *Index) GetDisplayedAttributes(ctx context.Context) (*[]string, error) {
	resp := &[]string{}
	return resp, i.getSetting(ctx, "displayedAttributes", resp)
}

func (i *Index) GetStopWords(ctx context.Context) (*[]string, error) {
	resp := &[]string{}
	return resp, i.getSetting(ctx, "stopWords", resp)
}

func (i *Index) GetSynonyms(ctx context.Context) (*map[string][]string, error) {
	resp := &map[string][]string{}
	return resp, i.getSetting(ctx, "synonyms", resp)
}

// GetFilterableAttributes returns the filterable attributes (strings and
// attribute-pattern objects), without the reserved _miroir_shard.
func (i *Index) GetFilterableAttributes(ctx context.Context) (*[]interface{}, error) {
	resp := &[]interface{}{}
	return resp, i.getSetting(ctx, "filterableAttributes", resp)
}

func (i *Index) GetSortableAttributes(ctx context.Context) (*[]string, error) {
	resp := &[]string{}
	return resp, i.getSetting(ctx, "sortableAttributes", resp)
}

func (i *Index) GetTypoTolerance(ctx context.Context) (*meilisearch.TypoTolerance, error) {
	resp := new(meilisearch.TypoTolerance)
	return resp, i.getSetting(ctx, "typoTolerance", resp)
}

func (i *Index) GetPagination(ctx context.Context) (*meilisearch.Pagination, error) {
	resp := new(meilisearch.Pagination)
	return resp, i.getSetting(ctx, "pagination", resp)
}

func (i *Index) GetFaceting(ctx context.Context) (*meilisearch.Faceting, error) {
	resp := new(meilisearch.Faceting)
	return resp, i.getSetting(ctx, "faceting", resp)
}

func (i *Index) GetEmbedders(ctx context.Context) (map[string]meilisearch.Embedder, error) {
	resp := map[string]meilisearch.Embedder{}
	return resp, i.getSetting(ctx, "embedders", &resp)
}

func (i *Index) GetSearchCutoffMs(ctx context.Context) (int64, error) {
	var resp int64
	return resp, i.getSetting(ctx, "searchCutoffMs", &resp)
}

func (i *Index) GetSeparatorTokens(ctx context.Context) ([]string, error) {
	resp := []string{}
	return resp, i.getSetting(ctx, "separatorTokens", &resp)
}

func (i *Index) GetNonSeparatorTokens(ctx context.Context) ([]string, error) {
	resp := []string{}
	return resp, i.getSetting(ctx, "nonSeparatorTokens", &resp)
}

func (i *Index) GetDictionary(ctx context.Context) ([]string, error) {
	resp := []string{}
	return resp, i.getSetting(ctx, "dictionary", &resp)
}

func (i *Index) GetProximityPrecision(ctx context.Context) (meilisearch.ProximityPrecisionType, error) {
	var resp meilisearch.ProximityPrecisionType
	return resp, i.getSetting(ctx, "proximityPrecision", &resp)
}

func (i *Index) GetLocalizedAttributes(ctx context.Context) ([]*meilisearch.LocalizedAttributes, error) {
	var resp []*meilisearch.LocalizedAttributes
	return resp, i.getSetting(ctx, "localizedAttributes", &resp)
}

func (i *Index) GetPrefixSearch(ctx context.Context) (*string, error) {
	resp := new(string)
	return resp, i.getSetting(ctx, "prefixSearch", resp)
}

func (i *Index) GetFacetSearch(ctx context.Context) (bool, error) {
	var resp bool
	return resp, i.getSetting(ctx, "facetSearch", &resp)
}

func (i *Index) GetForeignKeys(ctx context.Context) ([]meilisearch.ForeignKey, error) {
	var resp []meilisearch.ForeignKey
	return resp, i.getSetting(ctx, "foreignKeys", &resp)
}

// getSetting reads one setting from one healthy node into out.
func (i *Index) getSetting(ctx context.Context, key string, out any) error {
	b, err := i.c.getSettingsRaw(ctx, i.uid, settingByKey(key).route)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("miroir: decoding setting %s of index %q: %w", key, i.uid, err)
	}
	return nil
}

// ---- updates and resets: all through the transaction ----

// UpdateSettings changes the given settings on every node, all or nothing
// (DESIGN §7). It returns a cluster-local settingsUpdate task at once;
// WaitForTask reports the outcome. _miroir_shard stays filterable.
func (i *Index) UpdateSettings(ctx context.Context, request *meilisearch.Settings) (*meilisearch.TaskInfo, error) {
	if request == nil {
		return nil, newError(http.StatusBadRequest, "bad_request", "miroir: UpdateSettings needs a settings object")
	}
	b, err := json.Marshal(request)
	if err != nil {
		return nil, err
	}
	return i.c.updateSettingsRaw(ctx, i.uid, "", http.MethodPatch, b)
}

// ResetSettings resets every setting on every node, all or nothing; only
// _miroir_shard stays filterable.
func (i *Index) ResetSettings(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "")
}

func (i *Index) UpdateRankingRules(ctx context.Context, request *[]string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "rankingRules", request)
}

func (i *Index) ResetRankingRules(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "rankingRules")
}

func (i *Index) UpdateDistinctAttribute(ctx context.Context, request string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "distinctAttribute", request)
}

func (i *Index) ResetDistinctAttribute(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "distinctAttribute")
}

func (i *Index) UpdateSearchableAttributes(ctx context.Context, request *[]string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "searchableAttributes", request)
}

func (i *Index) ResetSearchableAttributes(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "searchableAttributes")
}

func (i *Index) UpdateDisplayedAttributes(ctx context.Context, request *[]string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "displayedAttributes", request)
}

func (i *Index) ResetDisplayedAttributes(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "displayedAttributes")
}

func (i *Index) UpdateStopWords(ctx context.Context, request *[]string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "stopWords", request)
}

func (i *Index) ResetStopWords(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "stopWords")
}

func (i *Index) UpdateSynonyms(ctx context.Context, request *map[string][]string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "synonyms", request)
}

func (i *Index) ResetSynonyms(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "synonyms")
}

// UpdateFilterableAttributes sets the filterable attributes (strings or
// attribute-pattern objects) on every node, with _miroir_shard added.
func (i *Index) UpdateFilterableAttributes(ctx context.Context, request *[]interface{}) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "filterableAttributes", request)
}

// ResetFilterableAttributes leaves exactly _miroir_shard filterable.
func (i *Index) ResetFilterableAttributes(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "filterableAttributes")
}

func (i *Index) UpdateSortableAttributes(ctx context.Context, request *[]string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "sortableAttributes", request)
}

func (i *Index) ResetSortableAttributes(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "sortableAttributes")
}

func (i *Index) UpdateTypoTolerance(ctx context.Context, request *meilisearch.TypoTolerance) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "typoTolerance", request)
}

func (i *Index) ResetTypoTolerance(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "typoTolerance")
}

func (i *Index) UpdatePagination(ctx context.Context, request *meilisearch.Pagination) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "pagination", request)
}

func (i *Index) ResetPagination(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "pagination")
}

func (i *Index) UpdateFaceting(ctx context.Context, request *meilisearch.Faceting) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "faceting", request)
}

func (i *Index) ResetFaceting(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "faceting")
}

func (i *Index) UpdateEmbedders(ctx context.Context, request map[string]meilisearch.Embedder) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "embedders", request)
}

func (i *Index) ResetEmbedders(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "embedders")
}

func (i *Index) UpdateSearchCutoffMs(ctx context.Context, request int64) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "searchCutoffMs", request)
}

func (i *Index) ResetSearchCutoffMs(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "searchCutoffMs")
}

func (i *Index) UpdateSeparatorTokens(ctx context.Context, tokens []string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "separatorTokens", tokens)
}

func (i *Index) ResetSeparatorTokens(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "separatorTokens")
}

func (i *Index) UpdateNonSeparatorTokens(ctx context.Context, tokens []string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "nonSeparatorTokens", tokens)
}

func (i *Index) ResetNonSeparatorTokens(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "nonSeparatorTokens")
}

func (i *Index) UpdateDictionary(ctx context.Context, words []string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "dictionary", words)
}

func (i *Index) ResetDictionary(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "dictionary")
}

func (i *Index) UpdateProximityPrecision(ctx context.Context, proximityType meilisearch.ProximityPrecisionType) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "proximityPrecision", proximityType)
}

func (i *Index) ResetProximityPrecision(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "proximityPrecision")
}

func (i *Index) UpdateLocalizedAttributes(ctx context.Context, request []*meilisearch.LocalizedAttributes) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "localizedAttributes", request)
}

func (i *Index) ResetLocalizedAttributes(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "localizedAttributes")
}

func (i *Index) UpdatePrefixSearch(ctx context.Context, request string) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "prefixSearch", request)
}

func (i *Index) ResetPrefixSearch(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "prefixSearch")
}

func (i *Index) UpdateFacetSearch(ctx context.Context, request bool) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "facetSearch", request)
}

func (i *Index) ResetFacetSearch(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "facetSearch")
}

func (i *Index) UpdateForeignKeys(ctx context.Context, foreignKeys []meilisearch.ForeignKey) (*meilisearch.TaskInfo, error) {
	return i.updateSetting(ctx, "foreignKeys", foreignKeys)
}

func (i *Index) ResetForeignKeys(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return i.resetSetting(ctx, "foreignKeys")
}

// updateSetting submits an update of setting key to value (encoded as
// meilisearch-go encodes it).
func (i *Index) updateSetting(ctx context.Context, key string, value any) (*meilisearch.TaskInfo, error) {
	b, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	d := settingByKey(key)
	return i.c.updateSettingsRaw(ctx, i.uid, d.route, d.update, b)
}

// resetSetting submits a reset of setting key ("" for every setting).
func (i *Index) resetSetting(ctx context.Context, key string) (*meilisearch.TaskInfo, error) {
	route := ""
	if key != "" {
		route = settingByKey(key).route
	}
	return i.c.updateSettingsRaw(ctx, i.uid, route, http.MethodDelete, nil)
}
