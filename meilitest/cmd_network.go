package meilitest

import (
	"net/http"
	"sort"
)

// The /network routes as a Community Edition Meilisearch answers them
// (routes/network/{mod,community_edition}.rs), behind the `network`
// experimental feature. The network object is stored and returned:
// {self, remotes, shards, leader, version}; every accepted PATCH gets a
// new version (a UUID v7). The Community Edition refuses to set `leader`
// (451 requires_enterprise_edition) and `previousRemotes`; meilitest never
// contacts the remotes and reports no per-remote status.

type networkRemote struct {
	url                       string
	searchAPIKey, writeAPIKey *string
}

type networkState struct {
	self, leader *string
	remotes      map[string]networkRemote
	shards       map[string][]string
	version      string
}

func (n *networkState) view() settingsObject {
	remotes := map[string]any{}
	for name, r := range n.remotes {
		remotes[name] = map[string]any{"url": r.url, "searchApiKey": r.searchAPIKey, "writeApiKey": r.writeAPIKey}
	}
	shards := map[string]any{}
	for name, rs := range n.shards {
		shards[name] = map[string]any{"remotes": rs}
	}
	version := n.version
	if version == "" {
		version = nilUUID
	}
	return settingsObject{{"self", n.self}, {"remotes", remotes}, {"shards", shards}, {"leader", n.leader}, {"version", version}}
}

func (s *Server) checkNetwork() *apiError {
	if !s.featureEnabled("network") {
		return newError("feature_not_enabled", "Using the /network route requires enabling the `network` experimental feature. See https://github.com/orgs/meilisearch/discussions/805")
	}
	return nil
}

func (s *Server) handleGetNetwork(w http.ResponseWriter, r *http.Request) {
	if e := s.checkNetwork(); e != nil {
		writeError(w, e)
		return
	}
	s.metaMu.Lock()
	v := s.network.view()
	s.metaMu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

var networkFields = []string{"remotes", "self", "leader", "previousRemotes", "shards"}

func (s *Server) handlePatchNetwork(w http.ResponseWriter, r *http.Request) {
	if e := s.checkNetwork(); e != nil {
		writeError(w, e)
		return
	}
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	for _, k := range sortedKeys(body) {
		known := false
		for _, f := range networkFields {
			known = known || f == k
		}
		if !known {
			writeError(w, newError("bad_request", "Unknown field `%s`: expected one of %s", k, quoteList(networkFields)))
			return
		}
	}
	if v, ok := body["leader"]; ok && v != nil {
		if _, e := (vctx{"invalid_network_leader", ".leader"}).str(v); e != nil {
			writeError(w, e)
			return
		}
		writeError(w, newError("requires_enterprise_edition", "Meilisearch Enterprise Edition is required to set `network.leader`"))
		return
	}
	if _, ok := body["previousRemotes"]; ok {
		writeError(w, newError("bad_request", "`previousRemotes` is an internal field that cannot be set by the user"))
		return
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	n, e := mergeNetwork(s.network, body)
	if e != nil {
		writeError(w, e)
		return
	}
	s.network = n
	writeJSON(w, http.StatusOK, n.view())
}

// mergeNetwork is merge_networks: absent keeps, null resets, values set.
func mergeNetwork(old networkState, body map[string]any) (networkState, *apiError) {
	n := networkState{self: old.self, leader: old.leader, remotes: map[string]networkRemote{}, shards: map[string][]string{}}
	if v, ok := body["self"]; ok {
		if v == nil {
			n.self = nil
		} else {
			str, e := (vctx{"invalid_network_self", ".self"}).str(v)
			if e != nil {
				return old, e
			}
			n.self = &str
		}
	}
	if v, ok := body["leader"]; ok && v == nil {
		n.leader = nil
	}
	if n.leader != nil && (n.self == nil || *n.self != *n.leader) {
		return old, newError("not_leader", "Could not perform this operation because this instance is not the leader. Please send the request to the leader `%s`.", *n.leader)
	}
	for k, r := range old.remotes {
		n.remotes[k] = r
	}
	if v, ok := body["remotes"]; ok {
		c := vctx{"invalid_network_remotes", ".remotes"}
		if v == nil {
			n.remotes = map[string]networkRemote{}
		} else {
			m, ok := v.(map[string]any)
			if !ok {
				return old, c.typeErr("an object", v)
			}
			for _, name := range sortedKeys(m) {
				rv := m[name]
				if rv == nil {
					delete(n.remotes, name)
					continue
				}
				rm, ok := rv.(map[string]any)
				if !ok {
					return old, c.field(name).typeErr("an object", rv)
				}
				prev, exists := n.remotes[name]
				nr, e := mergeRemote(name, prev, exists, rm)
				if e != nil {
					return old, e
				}
				n.remotes[name] = nr
			}
		}
	}
	for k, rs := range old.shards {
		n.shards[k] = rs
	}
	if v, ok := body["shards"]; ok {
		if e := mergeShards(&n, v); e != nil {
			return old, e
		}
	}
	n.version = newUUIDv7()
	return n, nil
}

func mergeRemote(name string, prev networkRemote, exists bool, rm map[string]any) (networkRemote, *apiError) {
	allowed := []string{"url", "searchApiKey", "writeApiKey"}
	for _, k := range sortedKeys(rm) {
		if k != "url" && k != "searchApiKey" && k != "writeApiKey" {
			return prev, newError("invalid_network_remotes", "Unknown field `%s` inside `.remotes.%s`: expected one of %s", k, name, quoteList(allowed))
		}
	}
	out := prev
	if !exists {
		out = networkRemote{}
	}
	if v, ok := rm["url"]; ok {
		if v == nil {
			if exists {
				return prev, newError("invalid_network_url", "Field `.remotes.%s.url` cannot be set to `null`", name)
			}
			return prev, newError("missing_network_url", "Missing field `.remotes.%s.url`", name)
		}
		str, ok := v.(string)
		if !ok {
			return prev, newError("invalid_network_url", "Invalid value type at `.remotes.%s.url`: expected a string, but found %s: `%s`", name, describeJSON(v), compactJSON(v))
		}
		if msg := urlParseError(str); msg != "" {
			return prev, newError("invalid_network_url", "Invalid `.remotes.%s.url` (`%s`): %s", name, str, msg)
		}
		out.url = str
	} else if !exists {
		return prev, newError("missing_network_url", "Missing field `.remotes.%s.url`", name)
	}
	for _, f := range []struct {
		key, code string
		dst       **string
	}{{"searchApiKey", "invalid_network_search_api_key", &out.searchAPIKey}, {"writeApiKey", "invalid_network_write_api_key", &out.writeAPIKey}} {
		v, ok := rm[f.key]
		if !ok {
			continue
		}
		if v == nil {
			*f.dst = nil
			continue
		}
		str, ok := v.(string)
		if !ok {
			return prev, newError(f.code, "Invalid value type at `.remotes.%s.%s`: expected a string, but found %s: `%s`", name, f.key, describeJSON(v), compactJSON(v))
		}
		*f.dst = &str
	}
	return out, nil
}

// mergeShards applies {name: {remotes, addRemotes, removeRemotes} | null};
// every remote a shard names must be a known remote.
func mergeShards(n *networkState, v any) *apiError {
	c := vctx{"invalid_network_shards", ".shards"}
	if v == nil {
		n.shards = map[string][]string{}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return c.typeErr("an object", v)
	}
	for _, name := range sortedKeys(m) {
		sv := m[name]
		if sv == nil {
			delete(n.shards, name)
			continue
		}
		sm, ok := sv.(map[string]any)
		if !ok {
			return c.field(name).typeErr("an object", sv)
		}
		set := map[string]bool{}
		for _, r := range n.shards[name] {
			set[r] = true
		}
		for _, k := range []string{"remotes", "addRemotes", "removeRemotes"} {
			lv, ok := sm[k]
			if !ok || lv == nil {
				continue
			}
			list, e := c.field(name).field(k).strList(lv)
			if e != nil {
				return e
			}
			if k == "remotes" {
				set = map[string]bool{}
			}
			for _, r := range list {
				if k == "removeRemotes" {
					delete(set, r)
				} else {
					set[r] = true
				}
			}
		}
		for k := range sm {
			if k != "remotes" && k != "addRemotes" && k != "removeRemotes" {
				return newError("invalid_network_shards", "Unknown field `%s` inside `.shards.%s`: expected one of `remotes`, `addRemotes`, `removeRemotes`", k, name)
			}
		}
		list := make([]string, 0, len(set))
		for r := range set {
			if _, ok := n.remotes[r]; !ok {
				return newError("invalid_network_shards", "Invalid `.shards.%s`: remote `%s` is not part of the network", name, r)
			}
			list = append(list, r)
		}
		sort.Strings(list)
		n.shards[name] = list
	}
	return nil
}
