package miroir

// The settings tests' fleet (settingsFleet: a fleet holding index "movies",
// adopted by the Cluster) and their helpers for reading and comparing the
// settings every node holds.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// settingsFleet is a fleet of n nodes (IDs n0..n{n-1}, one group, 4
// shards, no background health checks) holding index "movies", with t
// kept so that its helpers need no t argument.
type settingsFleet struct {
	*testFleet
	t      *testing.T
	direct []meilisearch.ServiceManager
	uid    string
}

func newSettingsFleet(t *testing.T, n int, opts ...Option) *settingsFleet {
	t.Helper()
	base := []Option{WithNodeTimeout(2 * time.Second)}
	f := &settingsFleet{t: t, uid: "movies",
		testFleet: startFleet(t, fleetSpec{groups: make([]int, n), shards: 4, timing: noProbes, opts: append(base, opts...)})}
	for _, s := range f.srv {
		f.direct = append(f.direct, meilisearch.New(s.URL()))
	}
	c := f.c
	// Create the index on every node directly: the Cluster adopts an
	// empty index (miroir_meta record, _miroir_shard filterable).
	ctx := context.Background()
	for i, d := range f.direct {
		info, err := d.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: f.uid, PrimaryKey: "id"})
		if err != nil {
			t.Fatalf("create index on node %d: %v", i, err)
		}
		f.waitNode(i, info.TaskUID)
	}
	if _, err := c.state(ctx, f.uid); err != nil {
		t.Fatalf("state: %v", err)
	}
	return f
}

func (f *settingsFleet) index() *Index { return &Index{c: f.c, uid: f.uid} }

func (f *settingsFleet) id(i int) string { return fmt.Sprintf("n%d", i) }

func (f *settingsFleet) waitNode(i int, uid int64) *meilisearch.Task {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t, err := f.direct[i].WaitForTask(ctx, uid, 5*time.Millisecond)
	if err != nil {
		f.t.Fatalf("node %d task %d: %v", i, uid, err)
	}
	return t
}

// wait waits for a cluster task and returns it.
func (f *settingsFleet) wait(info *meilisearch.TaskInfo, err error) *meilisearch.Task {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("call: %v", err)
	}
	if info.Type != meilisearch.TaskTypeSettingsUpdate || info.IndexUID != f.uid {
		f.t.Fatalf("task info %+v: want a settingsUpdate task of %s", info, f.uid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t, err := f.c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil {
		f.t.Fatalf("wait task %d: %v", info.TaskUID, err)
	}
	return t
}

func (f *settingsFleet) mustSucceed(info *meilisearch.TaskInfo, err error) {
	f.t.Helper()
	if t := f.wait(info, err); t.Status != meilisearch.TaskStatusSucceeded {
		f.t.Fatalf("task %d: status %s, error %+v", t.UID, t.Status, t.Error)
	}
}

// mustSucceedAny waits for a cluster task of any type.
func (f *settingsFleet) mustSucceedAny(info *meilisearch.TaskInfo, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tk, err := f.c.WaitForTask(ctx, info.TaskUID, 5*time.Millisecond)
	if err != nil || tk.Status != meilisearch.TaskStatusSucceeded {
		f.t.Fatalf("task %d: %v %+v", info.TaskUID, err, tk)
	}
}

// nodeSettings reads node i's settings directly.
func (f *settingsFleet) nodeSettings(i int) rawSettings {
	f.t.Helper()
	resp, err := http.Get(f.srv[i].URL() + "/indexes/" + f.uid + "/settings")
	if err != nil {
		f.t.Fatalf("node %d: %v", i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		f.t.Fatalf("node %d: %d %s", i, resp.StatusCode, b)
	}
	var s rawSettings
	if err := json.Unmarshal(b, &s); err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *settingsFleet) allSettings() []rawSettings {
	out := make([]rawSettings, len(f.srv))
	for i := range f.srv {
		out[i] = f.nodeSettings(i)
	}
	return out
}

// sameSettings reports the first difference between two settings objects.
func sameSettings(a, b rawSettings) string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for _, k := range sortedMapKeys(keys) {
		if !settingEqual(k, a[k], b[k]) {
			return fmt.Sprintf("%s: %s vs %s", k, a[k], b[k])
		}
	}
	return ""
}

func (f *settingsFleet) assertSettings(want []rawSettings) {
	f.t.Helper()
	for i := range f.srv {
		if d := sameSettings(f.nodeSettings(i), want[i]); d != "" {
			f.t.Errorf("node %d: settings differ from expected: %s", i, d)
		}
	}
}

func (f *settingsFleet) assertUniform() rawSettings {
	f.t.Helper()
	all := f.allSettings()
	for i := 1; i < len(all); i++ {
		if d := sameSettings(all[0], all[i]); d != "" {
			f.t.Errorf("node %d differs from node 0: %s", i, d)
		}
	}
	return all[0]
}

var strategies = []struct {
	name string
	s    SettingsStrategy
}{{"sequential", Sequential}, {"parallel", Parallel}}

// asCanon re-encodes raw JSON with sorted keys.
func asCanon(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func asDiff(a, b map[string]json.RawMessage) []string {
	var out []string
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		if asCanon(a[k]) != asCanon(b[k]) {
			out = append(out, fmt.Sprintf("%s: %s vs %s", k, asCanon(a[k]), asCanon(b[k])))
		}
	}
	sort.Strings(out)
	return out
}

func asIsSettingsWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && strings.Contains(r.URL.Path, "/settings")
}

func asStrings(raw json.RawMessage) []string {
	var v []any
	_ = json.Unmarshal(raw, &v)
	var out []string
	for _, x := range v {
		if s, ok := x.(string); ok {
			out = append(out, s)
		} else {
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out
}

func (f *testFleet) requireSameEach(t testing.TB, what string, got, want []map[string]json.RawMessage) {
	t.Helper()
	for i := range got {
		if d := asDiff(got[i], want[i]); len(d) > 0 {
			t.Errorf("%s: node %s changed: %v", what, f.nodes[i].ID, d)
		}
	}
}
