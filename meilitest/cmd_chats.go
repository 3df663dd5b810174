package meilitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Chat workspaces (routes/chats/{mod,settings,chat_completions}.rs),
// behind the `chatCompletions` experimental feature.
//
//   - GET /chats lists workspaces (offset/limit, uid order); GET and
//     DELETE /chats/{workspace}; GET/PATCH/DELETE
//     /chats/{workspace}/settings. PATCH creates the workspace and merges
//     the settings; DELETE .../settings resets them to the defaults (the
//     workspace stays); apiKey is masked in every answer.
//   - POST /chats/{workspace}/chat/completions: non-streamed requests are
//     501 unimplemented_non_streaming_chat_completions as in Meilisearch.
//     A streamed request needs the remote LLM, which meilitest never
//     contacts: it answers as Meilisearch does when the provider cannot be
//     reached, 200 text/event-stream carrying one error event of type
//     "transport_error" and then [DONE].

type chatSettings struct {
	source                                                      string
	orgID, projectID, apiVersion, deploymentID, baseURL, apiKey *string
	prompts                                                     chatPrompts
}

type chatPrompts struct {
	system, searchDescription, searchQParam, searchFilterParam, searchIndexUIDParam string
}

const (
	defaultChatSystemPrompt            = "You are a highly capable research assistant with access to powerful search tools. IMPORTANT INSTRUCTIONS:1. When answering questions, you MUST make multiple tool calls (at least 2-3) to gather comprehensive information.2. Use different search queries for each tool call - vary keywords, rephrase questions, and explore different semantic angles to ensure broad coverage.3. Always explicitly announce BEFORE making each tool call by saying: \"I'll search for [specific information] now.\"4. Combine information from ALL tool calls to provide complete, nuanced answers rather than relying on a single source.5. For complex topics, break down your research into multiple targeted queries rather than using a single generic search. Meilisearch doesn't use the colon (:) syntax to filter but rather the equal (=) one. Separate filters from query and keep the q parameter empty if needed. Same for the filter parameter: keep it empty if need be. If you need to find documents that CONTAINS keywords simply put the keywords in the q parameter do no use a filter for this purpose. Whenever you get an error, read the error message and fix your error. "
	defaultChatSearchDescriptionPrompt = "Query: 'best story about Rust before 2018' with year: 2018, 2020, 2021\nlabel: analysis, golang, javascript\ntype: story, link\nvote: 300, 298, 278\n: {\"q\": \"\", \"filter\": \"category = Rust AND type = story AND year < 2018 AND vote > 100\"}\nQuery: 'A black or green car that can go fast with red brakes' with maxspeed_kmh: 200, 150, 130\ncolor: black, grey, red, green\nbrand: Toyota, Renault, Jeep, Ferrari\n: {\"q\": \"red brakes\", \"filter\": \"maxspeed_kmh > 150 AND color IN ['black', green]\"}\nQuery: 'Superman movie released in 2018 or after' with year: 2018, 2020, 2021\ngenres: Drama, Comedy, Adventure, Fiction\n: {\"q\":\"Superman\",\"filter\":\"genres IN [Adventure, Fiction] AND year >= 2018\"}"
	defaultChatSearchQParamPrompt      = "The search query string used to find relevant documents in the index. This should contain keywords or phrases that best represent what the user is looking for. More specific queries will yield more precise results."
	defaultChatSearchFilterParamPrompt = "The search filter string used to find relevant documents in the index. It supports parentheses, `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT EMPTY`, `_geoRadius`, or `_geoBoundingBox`. Here is an example: \"price > 100 AND category = 'electronics'\". The following is a list of fields that can be filtered on: "
	defaultChatSearchIndexUIDPrompt    = "The name of the index to search within. An index is a collection of documents organized for search. Selecting the right index ensures the most relevant results for the user query."
)

func defaultChatPrompts() chatPrompts {
	return chatPrompts{defaultChatSystemPrompt, defaultChatSearchDescriptionPrompt, defaultChatSearchQParamPrompt, defaultChatSearchFilterParamPrompt, defaultChatSearchIndexUIDPrompt}
}

func defaultChatSettings() *chatSettings {
	return &chatSettings{source: "openAi", prompts: defaultChatPrompts()}
}

var chatSources = []string{"openAi", "mistral", "azureOpenAi", "vLlm"}

// view is ChatCompletionSettings serialised, apiKey masked (hide_secrets).
func (c *chatSettings) view() settingsObject {
	var key *string
	if c.apiKey != nil {
		k := maskSecret(*c.apiKey)
		key = &k
	}
	return settingsObject{
		{"source", c.source}, {"orgId", c.orgID}, {"projectId", c.projectID}, {"apiVersion", c.apiVersion},
		{"deploymentId", c.deploymentID}, {"baseUrl", c.baseURL}, {"apiKey", key},
		{"prompts", settingsObject{{"system", c.prompts.system}, {"searchDescription", c.prompts.searchDescription},
			{"searchQParam", c.prompts.searchQParam}, {"searchFilterParam", c.prompts.searchFilterParam},
			{"searchIndexUidParam", c.prompts.searchIndexUIDParam}}},
	}
}

func (s *Server) checkChats(action string) *apiError {
	if !s.featureEnabled("chatCompletions") {
		return newError("feature_not_enabled", "%s requires enabling the `chat completions` experimental feature. See https://github.com/orgs/meilisearch/discussions/835", action)
	}
	return nil
}

func chatNotFound(uid string) *apiError {
	return newError("chat_not_found", "Chat `%s` not found", uid)
}

func (s *Server) handleListChats(w http.ResponseWriter, r *http.Request) {
	if e := s.checkChats("listing the chats"); e != nil {
		writeError(w, e)
		return
	}
	offset, limit := 0, 20
	for _, p := range []struct {
		name, code string
		dst        *int
	}{{"offset", "invalid_index_offset", &offset}, {"limit", "invalid_index_limit", &limit}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, newError(p.code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", p.name, v))
				return
			}
			*p.dst = n
		}
	}
	for k := range r.URL.Query() {
		if k != "offset" && k != "limit" {
			writeError(w, newError("bad_request", "Unknown parameter `%s`: expected one of `offset`, `limit`", k))
			return
		}
	}
	s.metaMu.Lock()
	uids := sortedKeys(s.chats)
	s.metaMu.Unlock()
	results := []map[string]any{}
	for i := offset; i < len(uids) && len(results) < limit; i++ {
		results = append(results, map[string]any{"uid": uids[i]})
	}
	writeJSON(w, http.StatusOK, pageJSON[map[string]any, int]{Results: results, Offset: offset, Limit: limit, Total: len(uids)})
}

func (s *Server) handleGetChat(w http.ResponseWriter, r *http.Request) {
	if e := s.checkChats("displaying a chat"); e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("workspace")
	if e := checkIndexUID(uid); e != nil {
		writeError(w, e)
		return
	}
	s.metaMu.Lock()
	_, ok := s.chats[uid]
	s.metaMu.Unlock()
	if !ok {
		writeError(w, newError("chat_not_found", "chat %s not found", uid))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"uid": uid})
}

func (s *Server) handleDeleteChat(w http.ResponseWriter, r *http.Request) {
	if e := s.checkChats("deleting a chat"); e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("workspace")
	s.metaMu.Lock()
	_, ok := s.chats[uid]
	delete(s.chats, uid)
	s.metaMu.Unlock()
	if !ok {
		writeError(w, newError("chat_not_found", "chat %s not found", uid))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleGetChatSettings(w http.ResponseWriter, r *http.Request) {
	if e := s.checkChats("using the /chats/settings route"); e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("workspace")
	s.metaMu.Lock()
	c := s.chats[uid]
	s.metaMu.Unlock()
	if c == nil {
		writeError(w, chatNotFound(uid))
		return
	}
	writeJSON(w, http.StatusOK, c.view())
}

func (s *Server) handleResetChatSettings(w http.ResponseWriter, r *http.Request) {
	if e := s.checkChats("using the /chats/settings route"); e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("workspace")
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if s.chats[uid] == nil {
		writeError(w, chatNotFound(uid))
		return
	}
	c := defaultChatSettings()
	s.chats[uid] = c
	writeJSON(w, http.StatusOK, c.view())
}

var chatSettingsFields = []string{"source", "orgId", "projectId", "apiVersion", "deploymentId", "baseUrl", "apiKey", "prompts"}
var chatPromptFields = []string{"system", "searchDescription", "searchQParam", "searchFilterParam", "searchIndexUidParam"}

func (s *Server) handlePatchChatSettings(w http.ResponseWriter, r *http.Request) {
	if e := s.checkChats("using the /chats/settings route"); e != nil {
		writeError(w, e)
		return
	}
	uid := r.PathValue("workspace")
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if _, e := (vctx{"bad_request", ""}).object(body, chatSettingsFields); e != nil {
		writeError(w, e)
		return
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	old := s.chats[uid]
	if old == nil {
		old = defaultChatSettings()
	}
	c := *old
	if v, ok := body["source"]; ok {
		if v == nil {
			c.source = "openAi"
		} else {
			src, e := (vctx{"invalid_chat_completion_source", ".source"}).enum(v, chatSources)
			if e != nil {
				writeError(w, e)
				return
			}
			c.source = src
		}
	}
	for _, f := range []struct {
		key, code string
		dst       **string
	}{
		{"orgId", "invalid_chat_completion_org_id", &c.orgID},
		{"projectId", "invalid_chat_completion_project_id", &c.projectID},
		{"apiVersion", "invalid_chat_completion_api_version", &c.apiVersion},
		{"deploymentId", "invalid_chat_completion_deployment_id", &c.deploymentID},
		{"baseUrl", "invalid_chat_completion_base_api", &c.baseURL},
		{"apiKey", "invalid_chat_completion_api_key", &c.apiKey},
	} {
		v, ok := body[f.key]
		if !ok {
			continue
		}
		if v == nil {
			*f.dst = nil
			continue
		}
		str, e := (vctx{f.code, "." + f.key}).str(v)
		if e != nil {
			writeError(w, e)
			return
		}
		*f.dst = &str
	}
	if v, ok := body["prompts"]; ok {
		if v == nil {
			c.prompts = defaultChatPrompts()
		} else {
			pm, e := (vctx{"invalid_chat_completion_prompts", ".prompts"}).object(v, chatPromptFields)
			if e != nil {
				writeError(w, e)
				return
			}
			def := defaultChatPrompts()
			for _, f := range []struct {
				key, code string
				dst       *string
				def       string
			}{
				{"system", "invalid_chat_completion_system_prompt", &c.prompts.system, def.system},
				{"searchDescription", "invalid_chat_completion_search_description_prompt", &c.prompts.searchDescription, def.searchDescription},
				{"searchQParam", "invalid_chat_completion_search_query_param_prompt", &c.prompts.searchQParam, def.searchQParam},
				{"searchFilterParam", "invalid_chat_completion_search_filter_param_prompt", &c.prompts.searchFilterParam, def.searchFilterParam},
				{"searchIndexUidParam", "invalid_chat_completion_search_index_uid_param_prompt", &c.prompts.searchIndexUIDParam, def.searchIndexUIDParam},
			} {
				pv, ok := pm[f.key]
				if !ok {
					continue
				}
				if pv == nil {
					*f.dst = f.def
					continue
				}
				str, e := (vctx{f.code, ".prompts." + f.key}).str(pv)
				if e != nil {
					writeError(w, e)
					return
				}
				*f.dst = str
			}
		}
	}
	switch {
	case c.source == "azureOpenAi" && (c.baseURL == nil || c.deploymentID == nil || c.apiVersion == nil):
		writeError(w, newError("bad_request", "azureOpenAi requires setting a valid `baseUrl`, `deploymentId`, and `apiVersion`"))
		return
	case c.source == "vLlm" && c.baseURL == nil:
		writeError(w, newError("bad_request", "vLlm requires setting a valid `baseUrl`"))
		return
	}
	if s.chats == nil {
		s.chats = map[string]*chatSettings{}
	}
	s.chats[uid] = &c
	writeJSON(w, http.StatusOK, c.view())
}

func (s *Server) handleChatCompletions(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("workspace")
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	stream, _ := body["stream"].(bool)
	if e := s.checkChats("using the /chats chat completions route"); e != nil {
		writeError(w, e)
		return
	}
	if n, ok := body["n"].(json.Number); ok && n.String() != "1" {
		writeError(w, newError("unimplemented_multi_choice_chat_completions", "You tried to specify n = %s but only single choices are supported (n = 1).", n))
		return
	}
	if !stream {
		writeError(w, newError("unimplemented_non_streaming_chat_completions", "Non-streamed chat completions is not implemented"))
		return
	}
	s.metaMu.Lock()
	c := s.chats[uid]
	s.metaMu.Unlock()
	if c == nil {
		writeError(w, chatNotFound(uid))
		return
	}
	if tools, ok := body["tools"].([]any); ok {
		for _, t := range tools {
			name, _ := asMap(asMap(t)["function"])["name"].(string)
			switch name {
			case "_meiliSearchProgress", "_meiliSearchSources", "_meiliAppendConversationMessage":
			case "_meiliSearchInIndex":
				writeError(w, newError("bad_request", "_meiliSearchInIndex function is already defined."))
				return
			default:
				writeError(w, newError("unimplemented_external_function_calling", "%s: External functions are not supported yet.", name))
				return
			}
		}
	}
	base := ""
	switch {
	case c.baseURL != nil:
		base = *c.baseURL
	case c.source == "mistral":
		base = "https://api.mistral.ai/v1/"
	default:
		base = "https://api.openai.com/v1/"
	}
	endpoint := strings.TrimSuffix(base, "/") + "/chat/completions"
	event, _ := json.Marshal(map[string]any{
		"event_id": newUUIDv4(),
		"type":     "error",
		"error": map[string]any{
			"type": "transport_error", "code": nil, "param": nil, "event_id": nil,
			"message": fmt.Sprintf("error sending request for url (%s)", endpoint),
		},
	})
	var out bytes.Buffer
	out.WriteString("retry: 10000\n\n")
	out.WriteString("data: ")
	out.Write(event)
	out.WriteString("\n\ndata: [DONE]\n\n")
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}
