package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

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

// ---- raw entry points (also for proxy mode) ----

// updateSettingsRaw submits a settings change as the REST API receives it
// (a missing index is created first, as Meilisearch does):
// route "" is the settings object (PATCH to update, DELETE to reset), any
// other route a sub-route such as "ranking-rules" (PUT or PATCH to update,
// DELETE to reset). The body is validated for shape only; the nodes judge
// the values (a value they refuse fails the task with their code).
func (c *Cluster) updateSettingsRaw(ctx context.Context, uid, route, method string, body []byte) (*meilisearch.TaskInfo, error) {
	op := &settingsOp{reset: method == http.MethodDelete}
	if route != "" {
		d := settingByRoute(route)
		if d == nil {
			return nil, newError(http.StatusNotFound, "not_found", "Route `/indexes/%s/settings/%s` not found.", uid, route)
		}
		op.key = d.key
	}
	if !op.reset {
		if !json.Valid(body) {
			return nil, newError(http.StatusBadRequest, "bad_request", "miroir: the settings payload is not valid JSON")
		}
		var err error
		if op.body, err = prepareSettingsBody(op.key, body); err != nil {
			return nil, err
		}
	}
	return c.submitSettings(ctx, uid, op, true)
}

// prepareSettingsBody adds _miroir_shard to the filterable attributes of
// an update body (of setting key, or of the settings object when key is
// "").
func prepareSettingsBody(key string, body []byte) (json.RawMessage, error) {
	if key == "filterableAttributes" {
		return withShardFilterable(body), nil
	}
	if key != "" {
		return body, nil
	}
	var obj rawSettings
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, newError(http.StatusBadRequest, "bad_request", "miroir: the settings payload must be a JSON object")
	}
	if v, ok := obj["filterableAttributes"]; ok {
		obj["filterableAttributes"] = withShardFilterable(v)
		return json.Marshal(obj)
	}
	return body, nil
}

// withShardFilterable returns a filterableAttributes value with
// _miroir_shard in it (null: exactly it). Attribute-pattern objects are
// kept intact; a value of another shape is left for the nodes to refuse.
func withShardFilterable(v json.RawMessage) json.RawMessage {
	var list []json.RawMessage
	if string(v) == "null" || len(v) == 0 {
		return json.RawMessage(`["` + shardField + `"]`)
	}
	if json.Unmarshal(v, &list) != nil {
		return v
	}
	for _, e := range list {
		var s string
		if json.Unmarshal(e, &s) == nil && s == shardField {
			return v
		}
	}
	list = append(list, json.RawMessage(`"`+shardField+`"`))
	out, _ := json.Marshal(list)
	return out
}

// hideShardFilterable removes the _miroir_shard entry from a raw
// filterableAttributes value.
func hideShardFilterable(v json.RawMessage) json.RawMessage {
	var list []json.RawMessage
	if json.Unmarshal(v, &list) != nil {
		return v
	}
	out := list[:0]
	for _, e := range list {
		var s string
		if json.Unmarshal(e, &s) == nil && s == shardField {
			continue
		}
		out = append(out, e)
	}
	if len(out) == len(list) {
		return v
	}
	b, _ := json.Marshal(out)
	return b
}

// getSettingsRaw returns the settings object (route "") or one setting as
// one healthy node serves it, with _miroir_shard hidden.
func (c *Cluster) getSettingsRaw(ctx context.Context, uid, route string) ([]byte, error) {
	if route == "" {
		raw, err := c.readSettings(ctx, uid)
		if err != nil {
			return nil, err
		}
		return json.Marshal(raw)
	}
	d := settingByRoute(route)
	if d == nil {
		return nil, newError(http.StatusNotFound, "not_found", "Route `/indexes/%s/settings/%s` not found.", uid, route)
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := c.state(ctx, uid); err != nil {
		return nil, err
	}
	var b []byte
	err := c.settingsTx().readOne(ctx, func(ctx context.Context, n *node) error {
		resp, err := n.do(ctx, "getSettings", http.MethodGet, "/indexes/"+uid+"/settings/"+route, nil, "", nil)
		if err != nil {
			return err
		}
		b = resp.Body
		return nil
	})
	if err != nil {
		return nil, err
	}
	if d.key == "filterableAttributes" {
		b = hideShardFilterable(b)
	}
	return b, nil
}

// readSettings returns the settings object of uid from one healthy node,
// _miroir_shard hidden.
func (c *Cluster) readSettings(ctx context.Context, uid string) (rawSettings, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := c.state(ctx, uid); err != nil {
		return nil, err
	}
	e := c.settingsTx()
	var raw rawSettings
	err := e.readOne(ctx, func(ctx context.Context, n *node) error {
		var err error
		raw, err = e.readNode(ctx, n, uid)
		return err
	})
	if err != nil {
		return nil, err
	}
	if v, ok := raw["filterableAttributes"]; ok {
		raw["filterableAttributes"] = hideShardFilterable(v)
	}
	return raw, nil
}

// readOne runs fn on one node: healthy nodes first, rotating, falling back
// to the next node when a node does not answer or lacks the index. It
// returns the first answer's error when every node failed.
func (e *settingsEngine) readOne(ctx context.Context, fn func(ctx context.Context, n *node) error) error {
	nodes := e.c.nodesByPreference()
	healthy := 0
	for _, n := range nodes {
		if n.isHealthy() {
			healthy++
		}
	}
	if healthy > 1 {
		k := int(e.rr.Add(1) % uint64(healthy))
		rot := append(slices.Clone(nodes[k:healthy]), nodes[:k]...)
		nodes = append(rot, nodes[healthy:]...)
	}
	var firstAPI, last error
	for _, n := range nodes {
		err := fn(ctx, n)
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return err
		}
		if !isTransportError(err) {
			if !isNotFound(err) {
				return err
			}
			if firstAPI == nil {
				firstAPI = err
			}
		}
	}
	if firstAPI != nil {
		return firstAPI
	}
	return last
}

// typedSettings decodes raw settings (_miroir_shard already hidden) into
// meilisearch.Settings. Attribute-pattern objects of filterableAttributes
// become their patterns. Every decodable setting is filled; the first
// setting that does not decode is reported.
func typedSettings(raw rawSettings) (*meilisearch.Settings, error) {
	s := &meilisearch.Settings{}
	var firstErr error
	for _, k := range raw.keys() {
		v := raw[k]
		if k == "filterableAttributes" {
			s.FilterableAttributes = filterableNames(v)
			continue
		}
		obj, _ := json.Marshal(map[string]json.RawMessage{k: v})
		if err := json.Unmarshal(obj, s); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("miroir: decoding setting %s: %w", k, err)
		}
	}
	return s, firstErr
}

// filterableNames flattens filterableAttributes to strings (patterns of
// attribute-pattern objects included), without _miroir_shard.
func filterableNames(v json.RawMessage) []string {
	var list []any
	if json.Unmarshal(v, &list) != nil {
		return nil
	}
	out := []string{}
	for _, e := range list {
		switch x := e.(type) {
		case string:
			if x != shardField {
				out = append(out, x)
			}
		case map[string]any:
			pats, _ := x["attributePatterns"].([]any)
			for _, p := range pats {
				if s, ok := p.(string); ok && s != shardField {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// ---- cache ----

// indexSettings returns the cached settings of index uid, for merging
// search results (ranking rules, distinct attribute, faceting, searchable
// attributes): read from one healthy node on first use, replaced by every
// settings transaction that succeeds. The value is shared: do not modify
// it. _miroir_shard is not in its filterable attributes.
func (c *Cluster) indexSettings(ctx context.Context, uid string) (*meilisearch.Settings, error) {
	st, err := c.state(ctx, uid)
	if err != nil {
		return nil, err
	}
	st.mu.Lock()
	s := st.settings
	st.mu.Unlock()
	if s != nil {
		return s, nil
	}
	e := c.settingsTx()
	gen := e.generation(uid)
	v, err, _ := e.loads.Do(uid, func() (any, error) {
		var raw rawSettings
		err := e.readOne(context.WithoutCancel(ctx), func(ctx context.Context, n *node) error {
			var err error
			raw, err = e.readNode(ctx, n, uid)
			return err
		})
		if err != nil {
			return nil, err
		}
		typed := e.cacheTyped(uid, raw)
		e.mu.Lock()
		q := e.queue(uid)
		if q.gen == gen {
			q.raw = raw
			st.mu.Lock()
			st.settings = typed
			st.mu.Unlock()
		}
		e.mu.Unlock()
		return typed, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*meilisearch.Settings), nil
}

// cacheTyped decodes raw fleet settings for the cache; settings that do
// not decode are left at their zero value (and logged).
func (e *settingsEngine) cacheTyped(uid string, raw rawSettings) *meilisearch.Settings {
	hidden := make(rawSettings, len(raw))
	for k, v := range raw {
		hidden[k] = v
	}
	if v, ok := hidden["filterableAttributes"]; ok {
		hidden["filterableAttributes"] = hideShardFilterable(v)
	}
	s, err := typedSettings(hidden)
	if err != nil {
		e.c.opts.logger.Warn("miroir: cached settings incomplete", "index", uid, "err", err)
	}
	return s
}

// storeCache makes raw the fleet settings of uid (after a transaction).
func (e *settingsEngine) storeCache(uid string, raw rawSettings) {
	typed := e.cacheTyped(uid, raw)
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queue(uid)
	q.gen++
	q.raw = raw
	e.c.mu.Lock()
	st := e.c.indexes[uid]
	e.c.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		st.settings = typed
		st.mu.Unlock()
	}
}

// invalidateCache drops the cached settings of uid: the next use reads
// them again.
func (e *settingsEngine) invalidateCache(uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.queue(uid)
	q.gen++
	q.raw = nil
	e.c.mu.Lock()
	st := e.c.indexes[uid]
	e.c.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		st.settings = nil
		st.mu.Unlock()
	}
}

// cachedRaw returns the last known fleet settings of uid (nil if none).
func (e *settingsEngine) cachedRaw(uid string) rawSettings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.queue(uid).raw
}

// ---- drift and repair ----

// SettingsDrift reports how the nodes' settings of one index differ.
type SettingsDrift struct {
	// Index is the index compared.
	Index string `json:"index"`
	// Nodes lists the IDs of the nodes whose settings were read, in fleet
	// order.
	Nodes []string `json:"nodes"`
	// Unreadable maps the nodes whose settings could not be read to why.
	Unreadable map[string]string `json:"unreadable,omitempty"`
	// Settings maps each setting on which the nodes disagree
	// (Meilisearch's name, e.g. "rankingRules") to how they disagree.
	Settings map[string]SettingDrift `json:"settings,omitempty"`
}

// SettingDrift is the disagreement on one setting.
type SettingDrift struct {
	// Majority is the value most nodes hold (ties: the value this Cluster
	// last wrote, else the first node's in fleet order).
	Majority json.RawMessage `json:"majority"`
	// Nodes lists the IDs of the nodes that differ from the majority.
	Nodes []string `json:"nodes"`
	// Values maps each of those nodes to its own value.
	Values map[string]json.RawMessage `json:"values"`
}

// Drifted reports whether some node's settings differ from the others'.
func (d *SettingsDrift) Drifted() bool { return d != nil && len(d.Settings) > 0 }

// DriftedNodes lists the nodes that differ from the majority on some
// setting, sorted.
func (d *SettingsDrift) DriftedNodes() []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, s := range d.Settings {
		for _, n := range s.Nodes {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// String summarises the drift, one setting per line.
func (d *SettingsDrift) String() string {
	if d == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "index %s: ", d.Index)
	if !d.Drifted() {
		b.WriteString("no drift")
	} else {
		fmt.Fprintf(&b, "%d setting(s) drifted", len(d.Settings))
	}
	for _, id := range sortedMapKeys(d.Unreadable) {
		fmt.Fprintf(&b, "\n  node %s unreadable: %s", id, d.Unreadable[id])
	}
	for _, k := range sortedMapKeys(d.Settings) {
		s := d.Settings[k]
		fmt.Fprintf(&b, "\n  %s: majority %s", k, s.Majority)
		for _, id := range s.Nodes {
			fmt.Fprintf(&b, "; node %s has %s", id, s.Values[id])
		}
	}
	return b.String()
}

func sortedMapKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// SettingsDrift reads the settings of index on every node and reports,
// per setting, which nodes differ from the majority. Values are shown as
// the nodes hold them (with _miroir_shard; embedder API keys, which nodes
// mask, are not compared). Unreachable nodes are listed, not compared; the
// call fails only when no node could be read.
func (c *Cluster) SettingsDrift(ctx context.Context, index string) (*SettingsDrift, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if _, err := c.state(ctx, index); err != nil {
		return nil, err
	}
	e := c.settingsTx()
	snaps := make([]rawSettings, len(c.nodes))
	errs := c.fanout(ctx, c.nodes, func(ctx context.Context, n *node) error {
		s, err := e.readNode(ctx, n, index)
		snaps[n.idx] = s
		return err
	})
	d := &SettingsDrift{Index: index}
	var firstErr error
	for i, n := range c.nodes {
		if errs[i] != nil {
			if d.Unreadable == nil {
				d.Unreadable = map[string]string{}
			}
			d.Unreadable[n.ID] = errText(errs[i])
			firstErr = cmpErr(firstErr, errs[i])
			continue
		}
		d.Nodes = append(d.Nodes, n.ID)
	}
	if len(d.Nodes) == 0 {
		return nil, fmt.Errorf("miroir: no node's settings of index %q could be read: %w", index, firstErr)
	}
	keys := map[string]bool{}
	for _, s := range snaps {
		for k := range s {
			keys[k] = true
		}
	}
	cached := e.cachedRaw(index)
	for _, k := range sortedMapKeys(keys) {
		m := majorityValue(k, snaps, cached)
		var sd *SettingDrift
		for i, s := range snaps {
			if s == nil {
				continue
			}
			v, ok := s[k]
			if !ok {
				v = json.RawMessage("null")
			}
			if canonSetting(k, v) == m.canon {
				continue
			}
			if sd == nil {
				sd = &SettingDrift{Majority: m.value, Values: map[string]json.RawMessage{}}
			}
			id := c.nodes[i].ID
			sd.Nodes = append(sd.Nodes, id)
			sd.Values[id] = v
		}
		if sd != nil {
			if d.Settings == nil {
				d.Settings = map[string]SettingDrift{}
			}
			d.Settings[k] = *sd
		}
	}
	return d, nil
}

// RepairSettings brings every node of index to the same settings through
// a settings transaction (snapshot, apply node by node, roll back on
// failure): to want where want sets a value (_miroir_shard is kept
// filterable), to the majority's value for every other setting (want nil:
// the majority for all). Only the nodes that differ are changed. It
// returns a cluster-local settingsUpdate task at once.
func (c *Cluster) RepairSettings(ctx context.Context, index string, want *meilisearch.Settings) (*meilisearch.TaskInfo, error) {
	op := &settingsOp{repair: true}
	if want != nil {
		b, err := json.Marshal(want)
		if err != nil {
			return nil, err
		}
		body, err := prepareSettingsBody("", b)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(body, &op.want); err != nil {
			return nil, err
		}
	}
	return c.submitSettings(ctx, index, op, false)
}

// verifyNodeSettings checks, before node n receives writes for st again
// (it came back from being unhealthy, or was never verified), that its
// settings equal the fleet's: the majority of the other nodes that can be
// read (or, when none can, the settings this Cluster last saw). When they
// differ, n alone is repaired through a settings transaction (recorded as
// a settingsUpdate cluster task) and the call waits for it; an error means
// n must not receive writes yet.
func (c *Cluster) verifyNodeSettings(ctx context.Context, st *indexState, n *node) error {
	e := c.settingsTx()
	mine, err := e.readNode(ctx, n, st.uid)
	if err != nil {
		return err
	}
	var peers []*node
	for _, p := range c.nodes {
		if p != n && p.isHealthy() {
			peers = append(peers, p)
		}
	}
	snaps := make([]rawSettings, len(c.nodes))
	c.fanout(ctx, peers, func(ctx context.Context, p *node) error {
		s, err := e.readNode(ctx, p, st.uid)
		snaps[p.idx] = s
		return err
	})
	cached := e.cachedRaw(st.uid)
	if !slices.ContainsFunc(snaps, func(s rawSettings) bool { return s != nil }) {
		if cached == nil {
			return nil // nothing to compare with: n is the fleet's only voice
		}
		snaps = []rawSettings{cached}
	}
	ref := majoritySettings(snaps, cached)
	same := true
	for k, v := range ref {
		if !settingEqual(k, mine[k], v) {
			same = false
			break
		}
	}
	if same {
		return nil
	}
	c.opts.logger.Warn("miroir: node settings differ from the fleet's, repairing", "node", n.ID, "index", st.uid)
	op := &settingsOp{repair: true, only: n, done: make(chan error, 1)}
	lt, err := c.tasks.newLocal(ctx, st.uid, meilisearch.TaskTypeSettingsUpdate, meilisearch.Details{})
	if err != nil {
		return err
	}
	e.enqueue(&settingsJob{uid: st.uid, op: op, task: lt, tok: authTokenFrom(ctx)})
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
