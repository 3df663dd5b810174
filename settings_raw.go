package miroir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/meilisearch/meilisearch-go"
)

// ---- raw entry points (also for proxy mode) ----

// updateSettingsRaw submits a settings change as the REST API receives it
// (a missing index is created first, as Meilisearch does):
// route "" is the settings object (PATCH to update, DELETE to reset), any
// other route a sub-route such as "ranking-rules" (PUT or PATCH to update,
// DELETE to reset). The body is checked as Meilisearch checks it before
// enqueuing (settings_validate.go); what only the stored settings can
// decide is judged by the nodes (a value they refuse fails the task).
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
		op.sent = body
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
	if key == "sortableAttributes" {
		return withVersionSortable(body), nil
	}
	if key != "" {
		return body, nil
	}
	var obj rawSettings
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, newError(http.StatusBadRequest, "bad_request", "miroir: the settings payload must be a JSON object")
	}
	_, f := obj["filterableAttributes"]
	_, s := obj["sortableAttributes"]
	if !f && !s {
		return body, nil
	}
	if f {
		obj["filterableAttributes"] = withShardFilterable(obj["filterableAttributes"])
	}
	if s {
		obj["sortableAttributes"] = withVersionSortable(obj["sortableAttributes"])
	}
	return json.Marshal(obj)
}

// withShardFilterable returns a filterableAttributes value with
// _miroir_shard and _miroir_v in it (null: exactly them).
// Attribute-pattern objects are kept intact; a value of another shape is
// left for the nodes to refuse.
func withShardFilterable(v json.RawMessage) json.RawMessage {
	return withAttrs(v, shardField, versionField)
}

// withVersionSortable returns a sortableAttributes value with _miroir_v
// in it (null: exactly it).
func withVersionSortable(v json.RawMessage) json.RawMessage { return withAttrs(v, versionField) }

// withAttrs returns the attribute list v with names added where missing
// (null: exactly names).
func withAttrs(v json.RawMessage, names ...string) json.RawMessage {
	var list []json.RawMessage
	if string(v) == "null" || len(v) == 0 {
		out, _ := json.Marshal(names)
		return out
	}
	if json.Unmarshal(v, &list) != nil {
		return v
	}
	have := map[string]bool{}
	for _, e := range list {
		var s string
		if json.Unmarshal(e, &s) == nil {
			have[s] = true
		}
	}
	added := false
	for _, n := range names {
		if !have[n] {
			list = append(list, json.RawMessage(`"`+n+`"`))
			added = true
		}
	}
	if !added {
		return v
	}
	out, _ := json.Marshal(list)
	return out
}

// hideShardFilterable removes the _miroir_shard and _miroir_v entries
// from a raw filterableAttributes value.
func hideShardFilterable(v json.RawMessage) json.RawMessage { return hideAttrs(v) }

// hideVersionSortable removes _miroir_v from a raw sortableAttributes
// value.
func hideVersionSortable(v json.RawMessage) json.RawMessage { return hideAttrs(v) }

// hideInternal hides miroir's attributes in the filterable and sortable
// attributes of a settings object, in place.
func hideInternal(raw rawSettings) {
	if v, ok := raw["filterableAttributes"]; ok {
		raw["filterableAttributes"] = hideShardFilterable(v)
	}
	if v, ok := raw["sortableAttributes"]; ok {
		raw["sortableAttributes"] = hideVersionSortable(v)
	}
}

// hideAttrs removes miroir's own attributes (isInternalField) from a raw
// attribute list.
func hideAttrs(v json.RawMessage) json.RawMessage {
	var list []json.RawMessage
	if json.Unmarshal(v, &list) != nil {
		return v
	}
	out := list[:0]
	for _, e := range list {
		var s string
		if json.Unmarshal(e, &s) == nil && isInternalField(s) {
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
func (c *Cluster) getSettingsRaw(ctx context.Context, uid, route string) (_ []byte, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getSettings", uid)
		defer func() { cs.end(err) }()
	}
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
	err = c.settingsTx().readOne(ctx, func(ctx context.Context, n *node) error {
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
	switch d.key {
	case "filterableAttributes":
		b = hideShardFilterable(b)
	case "sortableAttributes":
		b = hideVersionSortable(b)
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
	hideInternal(raw)
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
			if !isInternalField(x) {
				out = append(out, x)
			}
		case map[string]any:
			pats, _ := x["attributePatterns"].([]any)
			for _, p := range pats {
				if s, ok := p.(string); ok && !isInternalField(s) {
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
func (c *Cluster) indexSettings(ctx context.Context, uid string) (_ *meilisearch.Settings, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "getSettings", uid)
		defer func() { cs.end(err) }()
	}
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
	hideInternal(hidden)
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
	if st, _ := e.c.states.lookup(uid); st != nil {
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
	if st, _ := e.c.states.lookup(uid); st != nil {
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

// The attribute lists a reset leaves on the nodes: miroir's own fields
// stay filterable (_miroir_shard for shard filters, _miroir_v for repair)
// and _miroir_v sortable (DESIGN §12).
var (
	internalFilterable = json.RawMessage(`["` + shardField + `","` + versionField + `"]`)
	internalSortable   = json.RawMessage(`["` + versionField + `"]`)
)
