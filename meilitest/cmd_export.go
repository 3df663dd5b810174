package meilitest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// POST /export (routes/export.rs, index-scheduler process_export.rs):
// pushes indexes to another Meilisearch (a meilitest server or a real one).
// The request is checked and an `export` task enqueued; the route answers
// 200 with the task summary, as Meilisearch's handler does. When the task
// runs, for every local index matching a pattern of `indexes` (default
// "*"; the first matching pattern in byte order wins):
//
//  1. GET {url}/indexes/{uid} tells whether the remote index exists;
//  2. a missing index is created with the local primary key (POST
//     /indexes); an existing one gets the primary key (PATCH) only with
//     overrideSettings;
//  3. the whole settings object (secrets revealed; settings behind an
//     experimental feature, such as `chat`, only when this server has the
//     feature enabled) is PATCHed when the index was created or
//     overrideSettings is set;
//  4. the documents matching the pattern's `filter` are POSTed as NDJSON
//     in payloads of at most payloadSize bytes (default 20 MiB), the full
//     payloads gzip-compressed, the last one plain.
//
// Requests carry "Authorization: Bearer <apiKey>" when apiKey is given.
// Transport failures and 408/429/5xx answers are retried with exponential
// backoff; meilitest gives up after ExportRetryTimeout (Meilisearch: 15
// minutes) and fails the task with an `internal` error naming the URL.
// Other error answers fail the task at once with the remote's own error
// (message, code, type, link). meilitest does not wait for the remote's
// tasks, nor does Meilisearch. Deviation: an empty final payload (no
// matching documents left) is not sent.
//
// Task details: url, apiKey (masked), payloadSize (humanized, e.g.
// "10 MB"), indexes {pattern: {filter, overrideSettings}}; once succeeded,
// indexes lists the exported index uids with "matched_documents" (spelt
// so, Meilisearch's DetailsExportIndexSettings has no camelCase rename).

// ExportRetryTimeout bounds how long an export task retries a remote that
// cannot be reached before failing.
var ExportRetryTimeout = 3 * time.Second

const defaultExportPayload = 20 << 20

type exportPattern struct {
	pattern  string
	filter   any
	override bool
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := decodeJSONBody(r, &body); err != nil {
		writeError(w, err)
		return
	}
	if _, e := (vctx{"bad_request", ""}).object(body, []string{"url", "apiKey", "payloadSize", "indexes"}); e != nil {
		writeError(w, e)
		return
	}
	target := ""
	if v, ok := body["url"]; ok && v != nil {
		str, e := (vctx{"invalid_export_url", ".url"}).str(v)
		if e != nil {
			writeError(w, e)
			return
		}
		target = str
	}
	var apiKey *string
	if v, ok := body["apiKey"]; ok && v != nil {
		str, e := (vctx{"invalid_export_api_key", ".apiKey"}).str(v)
		if e != nil {
			writeError(w, e)
			return
		}
		apiKey = &str
	}
	var payloadSize *uint64
	if v, ok := body["payloadSize"]; ok && v != nil {
		n, e := parseByteSize(v)
		if e != nil {
			writeError(w, e)
			return
		}
		payloadSize = &n
	}
	patterns := []exportPattern{{pattern: "*"}}
	if v, ok := body["indexes"]; ok && v != nil {
		c := vctx{"invalid_export_indexes_patterns", ".indexes"}
		m, ok := v.(map[string]any)
		if !ok {
			writeError(w, c.typeErr("an object", v))
			return
		}
		patterns = patterns[:0]
		for _, p := range sortedKeys(m) {
			if !validIndexPattern(p) {
				writeError(w, newError("invalid_export_indexes_patterns", "`%s` is not a valid index pattern. Index patterns can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes, optionally ending with an `*`.", p))
				return
			}
			opts := map[string]any{}
			if m[p] != nil {
				o, e := (vctx{"bad_request", ".indexes." + p}).object(m[p], []string{"filter", "overrideSettings"})
				if e != nil {
					writeError(w, e)
					return
				}
				opts = o
			}
			ep := exportPattern{pattern: p, filter: opts["filter"]}
			if ov, ok := opts["overrideSettings"]; ok && ov != nil {
				b, e := (vctx{"invalid_export_index_override_settings", ".indexes." + p + ".overrideSettings"}).boolean(ov)
				if e != nil {
					writeError(w, e)
					return
				}
				ep.override = b
			}
			if _, err := parseFilter(ep.filter); err != nil {
				writeError(w, newError("invalid_export_index_filter", "%s", err.Error()))
				return
			}
			patterns = append(patterns, ep)
		}
	}
	details := map[string]any{"url": target, "apiKey": nil, "payloadSize": nil}
	if apiKey != nil {
		details["apiKey"] = maskSecret(*apiKey)
	}
	if payloadSize != nil {
		details["payloadSize"] = humanBytes(*payloadSize)
	}
	idx := map[string]any{}
	for _, p := range patterns {
		idx[p.pattern] = map[string]any{"filter": p.filter, "overrideSettings": p.override}
	}
	details["indexes"] = idx
	limit := uint64(defaultExportPayload)
	if payloadSize != nil {
		limit = *payloadSize
	}
	key := ""
	if apiKey != nil {
		key = *apiKey
	}
	sum := s.tasks.enqueue(r, "", "export", details, func(_ int64, d map[string]any) *apiError {
		out, err := s.runExport(strings.TrimSuffix(target, "/"), key, limit, patterns)
		if err != nil {
			return err
		}
		d["indexes"] = out
		return nil
	}, runUnlocked)
	writeJSON(w, http.StatusOK, sum)
}

// exportIndex is what an export sends of one index, taken under s.mu.
type exportIndex struct {
	uid, primaryKey string
	pattern         exportPattern
	settings        settingsObject
	docs            [][]byte // one JSON document each
}

func (s *Server) snapshotExport(patterns []exportPattern) ([]exportIndex, *apiError) {
	visible := s.visibleSettings()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []exportIndex
	for _, uid := range sortedKeys(s.indexes) {
		var p *exportPattern
		for i := range patterns {
			if patternMatches(patterns[i].pattern, uid) {
				p = &patterns[i]
				break
			}
		}
		if p == nil {
			continue
		}
		ix := s.indexes[uid]
		ex := exportIndex{uid: uid, primaryKey: ix.primaryKey, pattern: *p}
		for _, d := range visible {
			switch {
			case d.name == "embedders":
				ex.settings = append(ex.settings, settingsField{d.name, ix.settings.Embedders})
			default:
				ex.settings = append(ex.settings, settingsField{d.name, d.get(ix.settings)})
			}
		}
		expr, _ := parseFilter(p.filter)
		if expr != nil {
			if ferr := checkFilterable(expr, ix.settings); ferr != nil {
				return nil, newError("invalid_document_filter", "Index `%s`: %s", uid, ferr.Error())
			}
		}
		for _, doc := range ix.documents() {
			if expr != nil && !expr.matches(doc.fields) {
				continue
			}
			b, err := json.Marshal(doc.fields)
			if err != nil {
				return nil, newError("internal", "Index `%s`: %v", uid, err)
			}
			ex.docs = append(ex.docs, b)
		}
		out = append(out, ex)
	}
	return out, nil
}

func (s *Server) runExport(base, apiKey string, limit uint64, patterns []exportPattern) (map[string]any, *apiError) {
	indexes, e := s.snapshotExport(patterns)
	if e != nil {
		return nil, e
	}
	x := &exporter{s: s, base: base, apiKey: apiKey}
	out := map[string]any{}
	for _, ix := range indexes {
		status, err := x.send(http.MethodGet, "/indexes/"+ix.uid, "", nil, false)
		exists := status == http.StatusOK
		if err != nil {
			if err.Code != "index_not_found" || status == 0 {
				return nil, err
			}
		}
		pk := any(nil)
		if ix.primaryKey != "" {
			pk = ix.primaryKey
		}
		if !exists {
			b, _ := json.Marshal(map[string]any{"uid": ix.uid, "primaryKey": pk})
			if _, err := x.send(http.MethodPost, "/indexes", "application/json", b, false); err != nil {
				return nil, err
			}
		} else if ix.pattern.override {
			b, _ := json.Marshal(map[string]any{"primaryKey": pk})
			if _, err := x.send(http.MethodPatch, "/indexes/"+ix.uid, "application/json", b, false); err != nil {
				return nil, err
			}
		}
		if !exists || ix.pattern.override {
			b, _ := json.Marshal(ix.settings)
			if _, err := x.send(http.MethodPatch, "/indexes/"+ix.uid+"/settings", "application/json", b, false); err != nil {
				return nil, err
			}
		}
		var buf []byte
		for _, d := range ix.docs {
			if len(buf) > 0 && uint64(len(buf)+len(d)+1) > limit {
				if _, err := x.send(http.MethodPost, "/indexes/"+ix.uid+"/documents", "application/x-ndjson", buf, true); err != nil {
					return nil, err
				}
				buf = buf[:0]
			}
			buf = append(append(buf, d...), '\n')
		}
		if len(buf) > 0 {
			if _, err := x.send(http.MethodPost, "/indexes/"+ix.uid+"/documents", "application/x-ndjson", buf, false); err != nil {
				return nil, err
			}
		}
		out[ix.uid] = map[string]any{"filter": ix.pattern.filter, "overrideSettings": ix.pattern.override, "matched_documents": len(ix.docs)}
	}
	return out, nil
}

type exporter struct {
	s            *Server
	base, apiKey string
}

var exportClient = &http.Client{Timeout: 5 * time.Second}

// send performs one request with Meilisearch's retry policy. It returns
// the final HTTP status (0 when none was received) and, for anything but
// 2xx, the error the export fails with.
func (x *exporter) send(method, path, contentType string, body []byte, compress bool) (int, *apiError) {
	payload := body
	if compress {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write(body)
		_ = zw.Close()
		payload = zb.Bytes()
	}
	target := x.base + path
	deadline := time.Now().Add(ExportRetryTimeout)
	backoff := 50 * time.Millisecond
	for {
		if x.s.tasks.halted() {
			return 0, newError("internal", "Aborted task")
		}
		var rd io.Reader
		if method != http.MethodGet {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequest(method, target, rd)
		if err != nil {
			return 0, newError("internal", "%s: %v", target, err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if compress {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if x.apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+x.apiKey)
		}
		resp, err := exportClient.Do(req)
		var status int
		var remote *apiError
		if err == nil {
			status = resp.StatusCode
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if status >= 200 && status < 300 {
				return status, nil
			}
			var me apiError
			if json.Unmarshal(raw, &me) == nil && me.Code != "" {
				remote = &me
			} else {
				remote = newError("internal", "%s: status code %d", target, status)
			}
			switch status {
			case 408, 429, 500, 502, 503, 504:
			default:
				return status, remote
			}
		}
		if time.Now().After(deadline) {
			if remote != nil {
				return status, remote
			}
			return 0, newError("internal", "%s: Connection Failed: %v", target, err)
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, time.Second)
	}
}

// parseByteSize reads payloadSize: an integer of bytes or a string such as
// "24MiB", "1MB", "100 kB" (byte_unit's Byte::from_str, units
// case-insensitive, "i" for powers of 1024).
func parseByteSize(v any) (uint64, *apiError) {
	c := vctx{"invalid_export_payload_size", ".payloadSize"}
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseUint(x.String(), 10, 64)
		if err != nil {
			return 0, c.typeErr("a positive integer or a string", v)
		}
		return n, nil
	case string:
		s := strings.TrimSpace(x)
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num, err := strconv.ParseFloat(s[:i], 64)
		if i == 0 || err != nil {
			return 0, c.valueErr("could not parse `%s` as a byte size", x)
		}
		unit := strings.ToLower(strings.TrimSpace(s[i:]))
		unit = strings.TrimSuffix(unit, "b")
		mult := 1.0
		if unit != "" {
			base := 1000.0
			if strings.HasSuffix(unit, "i") {
				base, unit = 1024, strings.TrimSuffix(unit, "i")
			}
			p := strings.Index("kmgtpe", unit)
			if len(unit) != 1 || p < 0 {
				return 0, c.valueErr("the unit of `%s` is not recognized", x)
			}
			mult = math.Pow(base, float64(p+1))
		}
		return uint64(num * mult), nil
	default:
		return 0, c.typeErr("a positive integer or a string", v)
	}
}

// humanBytes is byte_unit's get_appropriate_unit(UnitType::Both) display:
// the largest decimal or binary unit giving an exact value, else the
// largest decimal unit not above the value.
func humanBytes(n uint64) string {
	type unit struct {
		name string
		size uint64
	}
	units := []unit{{"EiB", 1 << 60}, {"EB", 1e18}, {"PiB", 1 << 50}, {"PB", 1e15}, {"TiB", 1 << 40}, {"TB", 1e12},
		{"GiB", 1 << 30}, {"GB", 1e9}, {"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"KB", 1e3}}
	sort.SliceStable(units, func(i, j int) bool { return units[i].size > units[j].size })
	if n == 0 {
		return "0 B"
	}
	for _, u := range units {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	for _, u := range units {
		if !strings.Contains(u.name, "i") && n >= u.size {
			return strconv.FormatFloat(float64(n)/float64(u.size), 'f', -1, 64) + " " + u.name
		}
	}
	return fmt.Sprintf("%d B", n)
}
