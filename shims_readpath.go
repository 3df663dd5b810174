package miroir

// Temporary stand-ins used by the read path until the owners of
// settings.go and index.go provide the real ones. Delete each piece when
// its replacement lands.

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// readShardField is the attribute holding a document's shard.
const readShardField = "_miroir_shard"

// shimSettings caches GET /indexes/{uid}/settings for a short while.
type shimSettings struct {
	mu sync.Mutex
	m  map[string]shimSettingsEntry
}

type shimSettingsEntry struct {
	s  *meilisearch.Settings
	at time.Time
}

var shimSettingsCache sync.Map // *Cluster -> *shimSettings

// settingsShim reads an index's settings from one healthy node (cached
// for a second). The real indexSettings (settings.go) replaces it.
func (c *Cluster) settingsShim(ctx context.Context, uid string) (*meilisearch.Settings, error) {
	v, _ := shimSettingsCache.LoadOrStore(c, &shimSettings{m: map[string]shimSettingsEntry{}})
	cache := v.(*shimSettings)
	cache.mu.Lock()
	e, ok := cache.m[uid]
	cache.mu.Unlock()
	if ok && time.Since(e.at) < time.Second {
		return e.s, nil
	}
	var lastErr error
	for _, n := range c.nodes {
		if !n.isHealthy() {
			continue
		}
		resp, err := n.do(ctx, "getSettings", http.MethodGet, "/indexes/"+uid+"/settings", nil, "", nil)
		if err != nil {
			lastErr = err
			if isTransportError(err) || errStatus(err) >= 500 {
				continue
			}
			return nil, err
		}
		var raw struct {
			RankingRules         []string                `json:"rankingRules"`
			DistinctAttribute    *string                 `json:"distinctAttribute"`
			SearchableAttributes []string                `json:"searchableAttributes"`
			DisplayedAttributes  []string                `json:"displayedAttributes"`
			Pagination           *meilisearch.Pagination `json:"pagination"`
			Faceting             *meilisearch.Faceting   `json:"faceting"`
		}
		if err := json.Unmarshal(resp.Body, &raw); err != nil {
			return nil, err
		}
		s := &meilisearch.Settings{
			RankingRules: raw.RankingRules, DistinctAttribute: raw.DistinctAttribute,
			SearchableAttributes: raw.SearchableAttributes, DisplayedAttributes: raw.DisplayedAttributes,
			Pagination: raw.Pagination, Faceting: raw.Faceting,
		}
		cache.mu.Lock()
		cache.m[uid] = shimSettingsEntry{s: s, at: time.Now()}
		cache.mu.Unlock()
		return s, nil
	}
	if lastErr == nil {
		lastErr = shardUnavailableError(nil)
	}
	return nil, lastErr
}

// stateFields returns the fields the write path recorded for st.
func stateFields(st *indexState) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]string, 0, len(st.fields))
	for f := range st.fields {
		if f != readShardField {
			out = append(out, f)
		}
	}
	return out
}

// statePrimaryKey returns st's cached primary key.
func statePrimaryKey(st *indexState) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.primaryKey
}
