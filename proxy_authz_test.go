package miroir

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miroirsearch/miroir/meilitest"
)

// The permission matrix (issue 10): for every kind of key × every proxy
// route, the status and error code through the proxy in pass-through mode
// equal one meilitest node's, and so does the final state of any task a
// call enqueued. Nothing may happen on the fleet on behalf of a token that
// one node would have refused.

const matrixMaster = "matrix-master-key-0123456789"

// matrixTarget is one server the matrix runs on: one node, or a proxy over
// a fleet.
type matrixTarget struct {
	name string
	url  string
}

func matrixTargets(t *testing.T) []matrixTarget {
	single, _ := startRef(t, meilitest.WithMasterKey(matrixMaster))
	out := []matrixTarget{{"single", single.URL()}}
	for _, f := range []struct {
		name   string
		groups []int
	}{{"1x3", []int{0, 0, 0}}, {"2x2", []int{0, 0, 1, 1}}} {
		p := startFleet(t, fleetSpec{groups: f.groups, nodeKey: matrixMaster,
			hopts: []HandlerOption{WithMasterKey(matrixMaster), WithAuthPassthrough()}, proxy: true})
		out = append(out, matrixTarget{f.name, p.url})
	}
	return out
}

// matrixKey is one kind of caller.
type matrixKey struct {
	name  string
	token string // "" with noAuth: no header
	// create, when set, is the key created with the master key before the
	// matrix runs (same uid on every target, so the same value).
	create map[string]any
	noAuth bool
}

// matrixStep is one request; {task} and {btask} in a path are the uids of
// tasks of "movies" and "books" that the target enqueued while seeding.
type matrixStep struct {
	method, path string
	body         string
	ct           string
}

func matrixSteps() []matrixStep {
	j := func(method, path, body string) matrixStep { return matrixStep{method, path, body, "application/json"} }
	g := func(path string) matrixStep { return matrixStep{"GET", path, "", ""} }
	return []matrixStep{
		g("/version"), g("/stats"), g("/indexes"), g("/indexes/movies"), g("/indexes/nope"),
		g("/indexes/movies/stats"), g("/experimental-features"),
		// documents
		g("/indexes/movies/documents?limit=3"), g("/indexes/movies/documents/1"), g("/indexes/nope/documents/1"),
		j("POST", "/indexes/movies/documents/fetch", `{"limit":2}`),
		j("POST", "/indexes/movies/documents", `[{"id":100,"title":"New","genre":"drama"}]`),
		j("PUT", "/indexes/movies/documents", `[{"id":1,"title":"Renamed"}]`),
		j("POST", "/indexes/nope/documents", `[{"id":1,"title":"x"}]`),
		j("POST", "/indexes/mov-new/documents", `[{"id":1,"title":"x"}]`),
		{"DELETE", "/indexes/movies/documents/2", "", ""},
		j("POST", "/indexes/movies/documents/delete-batch", `[3,4]`),
		j("POST", "/indexes/movies/documents/delete", `{"filter":"genre = horror"}`),
		// search
		g("/indexes/movies/search?q=life"), j("POST", "/indexes/movies/search", `{"q":"","filter":"genre = drama"}`),
		j("POST", "/indexes/books/search", `{"q":""}`), j("POST", "/indexes/nope/search", `{"q":""}`),
		j("POST", "/indexes/movies/facet-search", `{"facetName":"genre","facetQuery":"d"}`),
		j("POST", "/multi-search", `{"queries":[{"indexUid":"movies","q":"life"}]}`),
		j("POST", "/multi-search", `{"queries":[{"indexUid":"movies","q":""},{"indexUid":"books","q":""}]}`),
		j("POST", "/multi-search", `{"federation":{},"queries":[{"indexUid":"movies","q":""}]}`),
		// settings
		g("/indexes/movies/settings"), g("/indexes/nope/settings"), g("/indexes/movies/settings/filterable-attributes"),
		j("PATCH", "/indexes/movies/settings", `{"sortableAttributes":["year"]}`),
		j("PUT", "/indexes/movies/settings/displayed-attributes", `["*"]`),
		j("PATCH", "/indexes/movies/settings/typo-tolerance", `{"enabled":true}`),
		j("PATCH", "/indexes/nope/settings", `{"sortableAttributes":["year"]}`),
		j("PATCH", "/indexes/mov-set/settings", `{"sortableAttributes":["year"]}`),
		{"DELETE", "/indexes/movies/settings/stop-words", "", ""},
		// indexes
		j("POST", "/indexes", `{"uid":"movies2"}`),
		j("POST", "/indexes", `{"uid":"other"}`),
		j("PATCH", "/indexes/movies", `{"primaryKey":"id"}`),
		// tasks
		g("/tasks?limit=5"), g("/tasks/{task}"), g("/tasks/{btask}"), g("/tasks?indexUids=books"),
		{"POST", "/tasks/cancel?uids={task}", "", ""},
		{"DELETE", "/tasks?uids={task}", "", ""},
		// keys
		g("/keys"), g("/keys/11111111-0000-4000-8000-000000000001"),
		// destructive last
		{"DELETE", "/indexes/movies/settings", "", ""},
		j("POST", "/swap-indexes", `[{"indexes":["movies","books"]}]`),
		{"DELETE", "/indexes/movies/documents", "", ""},
		{"DELETE", "/indexes/books", "", ""},
		j("POST", "/dumps", ``),
	}
}

func matrixKeys(t *testing.T, searchValue, searchUID string) []matrixKey {
	kuid := func(n int) string { return fmt.Sprintf("11111111-0000-4000-8000-%012d", n) }
	custom := func(n int, actions, indexes []string) map[string]any {
		return map[string]any{"uid": kuid(n), "actions": actions, "indexes": indexes, "expiresAt": nil}
	}
	value := func(n int) string { return deriveTestKey(kuid(n)) }
	keys := []matrixKey{
		{name: "master", token: matrixMaster},
		{name: "no header", noAuth: true},
		{name: "invalid", token: "not-a-key"},
		{name: "default search", token: searchValue},
		{name: "documents on movies", token: value(1), create: custom(1, []string{"documents.*"}, []string{"movies"})},
		{name: "search on mov*", token: value(2), create: custom(2, []string{"search"}, []string{"mov*"})},
		{name: "settings.get", token: value(3), create: custom(3, []string{"settings.get"}, []string{"*"})},
		{name: "settings.update on movies", token: value(4), create: custom(4, []string{"settings.update"}, []string{"movies"})},
		{name: "indexes.* on mov*", token: value(5), create: custom(5, []string{"indexes.*", "documents.add", "settings.update"}, []string{"mov*"})},
		{name: "tasks.get", token: value(6), create: custom(6, []string{"tasks.get"}, []string{"*"})},
		{name: "tasks.* on movies", token: value(7), create: custom(7, []string{"tasks.*"}, []string{"movies"})},
		{name: "read-only *.get", token: value(8), create: custom(8, []string{"*.get", "keys.get"}, []string{"*"})},
		{name: "upper-case admin", token: strings.ToUpper(value(9)), create: custom(9, []string{"*"}, []string{"*"})},
		{name: "tenant token", token: signTestToken(t, searchUID, searchValue, map[string]any{"movies": map[string]any{"filter": "genre = drama"}}, time.Now().Add(time.Hour).Unix())},
		{name: "tenant token on books", token: signTestToken(t, searchUID, searchValue, []string{"books"}, 0)},
		{name: "expired tenant token", token: signTestToken(t, searchUID, searchValue, []string{"*"}, time.Now().Add(-time.Hour).Unix())},
		{name: "badly signed token", token: signTestToken(t, searchUID, "wrong", []string{"*"}, 0)},
	}
	return keys
}

// deriveTestKey is a key's value under matrixMaster (Meilisearch's
// generate_key_as_hexa).
func deriveTestKey(uid string) string {
	m := hmac.New(sha256.New, []byte(matrixMaster))
	m.Write([]byte(uid))
	return fmt.Sprintf("%x", m.Sum(nil))
}

// signTestToken signs an HS256 tenant token by hand (meilisearch-go refuses
// expired ones).
func signTestToken(t *testing.T, keyUID, keyValue string, rules any, exp int64) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	claims := map[string]any{"apiKeyUid": keyUID, "searchRules": rules}
	if exp != 0 {
		claims["exp"] = exp
	}
	s := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
	m := hmac.New(sha256.New, []byte(keyValue))
	m.Write([]byte(s))
	return s + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// matrixCell is what one request gave on one target.
type matrixCell struct {
	status int
	code   string
	task   string // final status and error code of an enqueued task
	list   string // index uids of a listing (GET /indexes, GET /stats)
}

func (c matrixCell) String() string {
	s := fmt.Sprintf("%d %s", c.status, c.code)
	if c.task != "" {
		s += " task=" + c.task
	}
	if c.list != "" {
		s += " list=" + c.list
	}
	return s
}

type matrixClient struct {
	t    *testing.T
	base string
}

func (m matrixClient) do(method, path, body, ct, token string, noAuth bool) resp {
	q := req{method: method, path: path, ct: ct, token: token, noAuth: noAuth || token == ""}
	if body != "" {
		q.body = body
	}
	return doReq(m.t, m.base, "", q)
}

func (m matrixClient) master(method, path, body string) resp {
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return m.do(method, path, body, ct, matrixMaster, false)
}

// wait polls a task with the master key and returns "status code".
func (m matrixClient) wait(uid any) string {
	deadline := time.Now().Add(30 * time.Second)
	delay := time.Millisecond
	for {
		r := m.master("GET", fmt.Sprintf("/tasks/%v", uid), "")
		if r.status != 200 {
			return fmt.Sprintf("GET task %d", r.status)
		}
		var tk struct {
			Status string `json:"status"`
			Error  *struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(r.body, &tk)
		switch tk.Status {
		case "succeeded", "failed", "canceled":
			if tk.Error != nil {
				return tk.Status + " " + tk.Error.Code
			}
			return tk.Status
		}
		if time.Now().After(deadline) {
			return "never finished"
		}
		// Backing off: each poll is a cluster task refresh over every
		// node, and under -race a tight poll loop costs more CPU than the
		// tasks it waits for.
		time.Sleep(delay)
		delay = min(2*delay, 40*time.Millisecond)
	}
}

// taskOf returns the taskUid of a write's answer (nil if none).
func taskOf(r resp) any {
	var sum struct {
		TaskUID *json.Number `json:"taskUid"`
	}
	_ = json.Unmarshal(r.body, &sum)
	if sum.TaskUID == nil {
		return nil
	}
	return *sum.TaskUID
}

// seed resets the target to the same state before every key's turn: two
// indexes with documents and settings, nothing else. It returns the uid of
// the last seeding tasks of "movies" and "books".
func (m matrixClient) seed() (map[string]any, error) {
	r := m.master("GET", "/indexes?limit=100", "")
	var list struct {
		Results []struct {
			UID string `json:"uid"`
		} `json:"results"`
	}
	_ = json.Unmarshal(r.body, &list)
	for _, ix := range list.Results {
		if err := m.succeed(m.master("DELETE", "/indexes/"+ix.UID, "")); err != nil {
			return nil, err
		}
	}
	last := map[string]any{}
	for _, ix := range []struct{ uid, docs string }{
		{"movies", `[{"id":1,"title":"Life","genre":"drama","year":1990},{"id":2,"title":"Life again","genre":"comedy","year":2000},{"id":3,"title":"Night","genre":"horror","year":1980},{"id":4,"title":"Day","genre":"drama","year":2010},{"id":5,"title":"Dusk","genre":"horror","year":2020}]`},
		{"books", `[{"id":1,"title":"Dune","genre":"scifi"},{"id":2,"title":"Emma","genre":"novel"}]`},
	} {
		for _, r := range []resp{
			m.master("POST", "/indexes", `{"uid":"`+ix.uid+`","primaryKey":"id"}`),
			m.master("PATCH", "/indexes/"+ix.uid+"/settings", `{"filterableAttributes":["genre","year"]}`),
			m.master("POST", "/indexes/"+ix.uid+"/documents", ix.docs),
		} {
			if err := m.succeed(r); err != nil {
				return nil, err
			}
			last[ix.uid] = taskOf(r)
		}
	}
	return last, nil
}

func (m matrixClient) succeed(r resp) error {
	uid := taskOf(r)
	if uid == nil {
		return fmt.Errorf("%s: seeding write answered %d: %s", m.base, r.status, r.body)
	}
	if st := m.wait(uid); st != "succeeded" {
		return fmt.Errorf("%s: seeding task %v: %s", m.base, uid, st)
	}
	return nil
}

// run plays every step with one key and returns the cells.
func (m matrixClient) run(k matrixKey, steps []matrixStep, tasks map[string]any) []matrixCell {
	out := make([]matrixCell, len(steps))
	for i, s := range steps {
		path := strings.ReplaceAll(s.path, "{task}", fmt.Sprint(tasks["movies"]))
		path = strings.ReplaceAll(path, "{btask}", fmt.Sprint(tasks["books"]))
		r := m.do(s.method, path, s.body, s.ct, k.token, k.noAuth)
		c := matrixCell{status: r.status, code: r.code()}
		if (r.status == http.StatusAccepted || r.status == http.StatusOK) && taskOf(r) != nil {
			c.task = m.wait(taskOf(r))
		}
		if r.status == 200 && s.method == "GET" && (strings.HasPrefix(path, "/indexes?") || path == "/indexes" || path == "/stats") {
			c.list = listedIndexes(r.body)
		}
		if r.status == 200 && s.method == "GET" && strings.HasPrefix(path, "/tasks?") {
			c.list = listedTasks(r.body)
		}
		out[i] = c
	}
	return out
}

// listedTasks returns the type and index of each task of a listing, in
// order, and the total.
func listedTasks(body []byte) string {
	var v struct {
		Results []struct {
			Type     string  `json:"type"`
			IndexUID *string `json:"indexUid"`
		} `json:"results"`
		Total int `json:"total"`
	}
	_ = json.Unmarshal(body, &v)
	var parts []string
	for _, r := range v.Results {
		ix := "-"
		if r.IndexUID != nil {
			ix = *r.IndexUID
		}
		parts = append(parts, r.Type+"@"+ix)
	}
	return fmt.Sprintf("%s total=%d", strings.Join(parts, ","), v.Total)
}

// listedIndexes returns the index uids an index listing or global stats
// show, sorted.
func listedIndexes(body []byte) string {
	var v struct {
		Results []struct {
			UID string `json:"uid"`
		} `json:"results"`
		Indexes map[string]json.RawMessage `json:"indexes"`
	}
	_ = json.Unmarshal(body, &v)
	var uids []string
	for _, r := range v.Results {
		uids = append(uids, r.UID)
	}
	for uid := range v.Indexes {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	return strings.Join(uids, ",")
}

func TestProxyPermissionMatrix(t *testing.T) {
	targets := matrixTargets(t)
	clients := make([]matrixClient, len(targets))
	for i, tg := range targets {
		clients[i] = matrixClient{t, tg.url}
	}
	// The default search key: same uid and value on every meilitest node
	// started with one master key.
	r := clients[0].master("GET", "/keys", "")
	var keys struct {
		Results []struct {
			Name, Key, UID string
		} `json:"results"`
	}
	if err := json.Unmarshal(r.body, &keys); err != nil {
		t.Fatal(err)
	}
	var searchValue, searchUID string
	for _, k := range keys.Results {
		if k.Name == "Default Search API Key" {
			searchValue, searchUID = k.Key, k.UID
		}
	}
	if searchValue == "" {
		t.Fatalf("no default search key: %s", r.body)
	}
	mkeys := matrixKeys(t, searchValue, searchUID)
	for _, c := range clients {
		for _, k := range mkeys {
			if k.create != nil {
				b, _ := json.Marshal(k.create)
				if r := c.master("POST", "/keys", string(b)); r.status != http.StatusCreated {
					t.Fatalf("%s: creating key %s: %d %s", c.base, k.name, r.status, r.body)
				}
			}
		}
	}
	steps := matrixSteps()
	differ, total := 0, 0
	for _, k := range mkeys {
		results := make([][]matrixCell, len(clients))
		errs := make([]error, len(clients))
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tasks, err := c.seed()
				if errs[i] = err; err == nil {
					results[i] = c.run(k, steps, tasks)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for si, s := range steps {
			if testing.Verbose() {
				t.Logf("%-26s %-6s %-50s %v", k.name, s.method, s.path, results[0][si])
			}
			total++
			want := results[0][si]
			for ti := 1; ti < len(clients); ti++ {
				if got := results[ti][si]; got != want {
					differ++
					t.Errorf("key %q, %s %s through %s: %v, one node: %v", k.name, s.method, s.path, targets[ti].name, got, want)
				}
			}
		}
	}
	if differ > 0 {
		t.Logf("%d of %d (key, request) cells differ from one node", differ, total*(len(clients)-1))
	}
}
