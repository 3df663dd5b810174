package keyauth

import (
	"strings"
)

// routeActions maps Meilisearch's routes to the action their
// ActionPolicy requires (crates/meilisearch/src/routes and the
// AUTHORIZATIONS table of tests/auth/authorization.rs). Path parameters
// are written {} whatever their name. A route missing here is callable
// only with the master key or a "*" key.
var routeActions = map[string]string{
	"GET /version":                 "version",
	"GET /stats":                   "stats.get",
	"POST /dumps":                  "dumps.create",
	"POST /snapshots":              "snapshots.create",
	"GET /experimental-features":   "experimental.get",
	"PATCH /experimental-features": "experimental.update",
	"GET /batches":                 "tasks.get",
	"GET /batches/{}":              "tasks.get",
	"GET /network":                 "network.get",
	"PATCH /network":               "network.update",
	"GET /metrics":                 "metrics.get",
	"POST /export":                 "export",

	"GET /webhooks":          "webhooks.get",
	"POST /webhooks":         "webhooks.create",
	"GET /webhooks/{}":       "webhooks.get",
	"PATCH /webhooks/{}":     "webhooks.update",
	"DELETE /webhooks/{}":    "webhooks.delete",
	"GET /chats":             "chats.get",
	"GET /chats/{}":          "chats.get",
	"DELETE /chats/{}":       "chats.delete",
	"GET /chats/{}/settings": "chatsSettings.get",

	"PATCH /chats/{}/settings":        "chatsSettings.update",
	"DELETE /chats/{}/settings":       "chatsSettings.update",
	"POST /chats/{}/chat/completions": "chatCompletions",
	"POST /dynamic-search-rules":      "dynamicSearchRules.get",
	"DELETE /dynamic-search-rules":    "dynamicSearchRules.delete",
	"GET /dynamic-search-rules/{}":    "dynamicSearchRules.get",
	"PATCH /dynamic-search-rules/{}":  "dynamicSearchRules.update",
	"DELETE /dynamic-search-rules/{}": "dynamicSearchRules.delete",

	"GET /indexes":              "indexes.get",
	"POST /indexes":             "indexes.create",
	"GET /indexes/{}":           "indexes.get",
	"PATCH /indexes/{}":         "indexes.update",
	"DELETE /indexes/{}":        "indexes.delete",
	"GET /indexes/{}/stats":     "stats.get",
	"POST /indexes/{}/compact":  "indexes.compact",
	"POST /swap-indexes":        "indexes.swap",
	"POST /indexes/{}/fields":   "fields.post",
	"GET /indexes/{}/documents": "documents.get",

	"POST /indexes/{}/documents/fetch":        "documents.get",
	"POST /indexes/{}/documents":              "documents.add",
	"PUT /indexes/{}/documents":               "documents.add",
	"DELETE /indexes/{}/documents":            "documents.delete",
	"GET /indexes/{}/documents/{}":            "documents.get",
	"DELETE /indexes/{}/documents/{}":         "documents.delete",
	"POST /indexes/{}/documents/delete-batch": "documents.delete",
	"POST /indexes/{}/documents/delete":       "documents.delete",
	"POST /indexes/{}/documents/edit":         "documents.*",

	"GET /indexes/{}/search":        "search",
	"POST /indexes/{}/search":       "search",
	"POST /indexes/{}/facet-search": "search",
	"GET /indexes/{}/similar":       "search",
	"POST /indexes/{}/similar":      "search",
	"POST /multi-search":            "search",

	"GET /indexes/{}/settings":       "settings.get",
	"PATCH /indexes/{}/settings":     "settings.update",
	"DELETE /indexes/{}/settings":    "settings.update",
	"GET /indexes/{}/settings/{}":    "settings.get",
	"PUT /indexes/{}/settings/{}":    "settings.update",
	"PATCH /indexes/{}/settings/{}":  "settings.update",
	"POST /indexes/{}/settings/{}":   "settings.update",
	"DELETE /indexes/{}/settings/{}": "settings.update",

	"GET /tasks":              "tasks.get",
	"GET /tasks/{}":           "tasks.get",
	"GET /tasks/{}/documents": "tasks.get",
	"POST /tasks/cancel":      "tasks.cancel",
	"DELETE /tasks":           "tasks.delete",
	"POST /tasks/compact":     "tasks.compact",

	"GET /keys":       "keys.get",
	"POST /keys":      "keys.create",
	"GET /keys/{}":    "keys.get",
	"PATCH /keys/{}":  "keys.update",
	"DELETE /keys/{}": "keys.delete",
}

// RouteAction returns the action a route pattern requires ("METHOD
// /path/{name}", as net/http's ServeMux writes it; parameter names do not
// matter). ok is false for a route with no action of its own (only the
// master key or a "*" key may call it).
func RouteAction(pattern string) (action string, ok bool) {
	a, ok := routeActions[canonical(pattern)]
	return a, ok && a != ""
}

// IsKeysAction reports whether action is one of the /keys actions, which
// a server without a master key refuses (missing_master_key).
func IsKeysAction(action string) bool { return strings.HasPrefix(action, "keys.") }

// IndexParam reports whether the route pattern has an {index_uid} path
// parameter (/indexes/{uid}...), the index Meilisearch's extractor checks.
func IndexParam(pattern string) bool { return strings.Contains(canonical(pattern), " /indexes/{}") }

// canonical replaces every {name} of a pattern by {}.
func canonical(pattern string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		b.WriteString(pattern[:i])
		b.WriteString("{}")
		pattern = pattern[i+j+1:]
	}
}
