package miroir

// The task routes through the proxy against one node (meilitest): the same
// raw HTTP sequence sent to both, every answer compared, task uids mapped
// from the proxy's cluster uids to the node's. Filters, `*` values, errors
// and pagination of GET /tasks, POST /tasks/cancel and DELETE /tasks must
// be the node's.

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/meilitest"
)

// tqEnv is a tdEnv (a fleet behind the proxy and one reference node) that
// knows which proxy task is which reference task.
type tqEnv struct {
	*tdEnv
	p2r   map[int64]int64
	names map[string][2]int64 // task name -> proxy uid, reference uid
}

func tqSetup(t *testing.T, rf int, srvOpts ...meilitest.Option) *tqEnv {
	t.Helper()
	if srvOpts == nil {
		srvOpts = []meilitest.Option{meilitest.WithTaskDuration(0)}
	}
	return &tqEnv{tdEnv: tdSetupWith(t, rf, srvOpts), p2r: map[int64]int64{}, names: map[string][2]int64{}}
}

var tqVar = regexp.MustCompile(`\{([a-zA-Z0-9]+)\}`)

// sub replaces each {name} of s by the uid of that task on one side
// (side 0: proxy, 1: reference).
func (e *tqEnv) sub(s string, side int) string {
	return tqVar.ReplaceAllStringFunc(s, func(m string) string {
		p, ok := e.names[m[1:len(m)-1]]
		if !ok {
			e.t.Fatalf("no task named %s", m)
		}
		return strconv.FormatInt(p[side], 10)
	})
}

// send sends one request to both sides and checks that they answer the
// same status (and the same error); a task summary is remembered under
// name. It returns both answers.
func (e *tqEnv) send(name, method, path, body string) (pm, rm map[string]any) {
	t := e.t
	t.Helper()
	ps, pm := tdDo(t, e.proxy, method, e.sub(path, 0), body)
	rs, rm := tdDo(t, e.ref, method, e.sub(path, 1), body)
	label := method + " " + path
	if ps != rs {
		t.Fatalf("%s: proxy %d %v, reference %d %v", label, ps, pm, rs, rm)
	}
	if rs >= 300 {
		tqSameError(t, label, pm, rm)
		return pm, rm
	}
	if _, ok := rm["taskUid"]; ok {
		p, r := tdUID(t, pm), tdUID(t, rm)
		e.p2r[p] = r
		if name != "" {
			e.names[name] = [2]int64{p, r}
		}
	}
	return pm, rm
}

// tqSameError checks two error answers: same message, code, type, link.
func tqSameError(t *testing.T, label string, got, want map[string]any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: error\n  proxy     %s\n  reference %s", label, tdJSON(got), tdJSON(want))
	}
}

// task sends a write to both sides and waits for both tasks.
func (e *tqEnv) task(name, method, path, body string) (pt, rt map[string]any) {
	e.t.Helper()
	pm, rm := e.send(name, method, path, body)
	if _, ok := rm["taskUid"]; !ok {
		e.t.Fatalf("%s %s: no task (%v)", method, path, rm)
	}
	return tdWait(e.t, e.proxy, tdUID(e.t, pm)), tdWait(e.t, e.ref, tdUID(e.t, rm))
}

// mapped turns a proxy uid (a JSON number or null) into the reference uid
// it stands for.
func (e *tqEnv) mapped(label string, v any) any {
	f, ok := v.(float64)
	if !ok {
		return v
	}
	r, ok := e.p2r[int64(f)]
	if !ok {
		e.t.Errorf("%s: proxy uid %v is no task this test made", label, v)
		return v
	}
	return float64(r)
}

// list compares GET /tasks?query on both sides: status, errors, and for a
// page its total, limit, from, next and the tasks listed (uid, status,
// type, canceledBy), uids mapped. It returns both sides' next (-1: none).
func (e *tqEnv) list(query string) (pNext, rNext int64) {
	t := e.t
	t.Helper()
	label := "GET /tasks?" + query
	ps, pm := tdDo(t, e.proxy, "GET", "/tasks?"+e.sub(query, 0), "")
	rs, rm := tdDo(t, e.ref, "GET", "/tasks?"+e.sub(query, 1), "")
	if ps != rs {
		t.Errorf("%s: proxy %d %v, reference %d %v", label, ps, pm, rs, rm)
		return -1, -1
	}
	if rs >= 300 {
		tqSameError(t, label, pm, rm)
		return -1, -1
	}
	page := func(m map[string]any, mapUID func(any) any) string {
		var b strings.Builder
		fmt.Fprintf(&b, "total %v limit %v from %v next %v:", m["total"], m["limit"], mapUID(m["from"]), mapUID(m["next"]))
		res, _ := m["results"].([]any)
		for _, x := range res {
			task, _ := x.(map[string]any)
			fmt.Fprintf(&b, " [%v %v %v", mapUID(task["uid"]), task["type"], task["status"])
			if task["canceledBy"] != nil {
				fmt.Fprintf(&b, " by %v", mapUID(task["canceledBy"]))
			}
			b.WriteString("]")
		}
		return b.String()
	}
	got := page(pm, func(v any) any { return e.mapped(label, v) })
	want := page(rm, func(v any) any { return v })
	if got != want {
		t.Errorf("%s:\n  proxy     %s\n  reference %s", label, got, want)
	}
	num := func(v any) int64 {
		if f, ok := v.(float64); ok {
			return int64(f)
		}
		return -1
	}
	return num(pm["next"]), num(rm["next"])
}

// walk pages through GET /tasks?query with from= and next, as a client
// does, comparing every page.
func (e *tqEnv) walk(query string) {
	e.t.Helper()
	pNext, rNext := e.list(query)
	for i := 0; pNext >= 0 && rNext >= 0; i++ {
		if i > 50 {
			e.t.Fatalf("GET /tasks?%s: no end to the pages", query)
		}
		e.names["next"] = [2]int64{pNext, rNext}
		pNext, rNext = e.list(query + "&from={next}")
	}
	if (pNext < 0) != (rNext < 0) {
		e.t.Errorf("GET /tasks?%s: pagination ends on one side only (proxy next %d, reference next %d)", query, pNext, rNext)
	}
}

// tqHistory makes the same varied task history on both sides: successes,
// failures, a cancelation and its canceled task, on two indexes.
func tqHistory(e *tqEnv) {
	e.task("createMovies", "POST", "/indexes", `{"uid": "movies", "primaryKey": "id"}`)
	e.task("createFails", "POST", "/indexes", `{"uid": "movies"}`)
	e.task("createOther", "POST", "/indexes", `{"uid": "other", "primaryKey": "id"}`)
	e.task("add1", "POST", "/indexes/movies/documents", tdMovies(10))
	e.task("settings", "PUT", "/indexes/movies/settings/filterable-attributes", `["genre", "year"]`)
	e.task("add2", "POST", "/indexes/other/documents", tdMovies(4))
	e.task("badFilter", "POST", "/indexes/movies/documents/delete", `{"filter": "title = x"}`)
	e.task("byFilter", "POST", "/indexes/movies/documents/delete", `{"filter": "genre = drama"}`)
	// A canceled task: held enqueued on every node, then canceled.
	e.pause()
	e.send("held", "POST", "/indexes/other/documents", tdMovies(3))
	e.send("cancel", "POST", "/tasks/cancel?uids={held}", "")
	e.resume()
	e.wait("held")
	e.wait("cancel")
	e.task("add3", "POST", "/indexes/movies/documents", `[{"id": 100, "title": "late", "genre": "drama", "year": 2020}]`)
}

func (e *tqEnv) pause() {
	for _, s := range append(e.nodes, e.refSrv) {
		s.PauseTasks()
	}
}

func (e *tqEnv) resume() {
	for _, s := range append(e.nodes, e.refSrv) {
		s.ResumeTasks()
	}
}

// wait waits for the named task on both sides.
func (e *tqEnv) wait(name string) (pt, rt map[string]any) {
	e.t.Helper()
	u := e.names[name]
	return tdWait(e.t, e.proxy, u[0]), tdWait(e.t, e.ref, u[1])
}

// bulk sends a cancelation or deletion to both sides, waits for both tasks
// and compares them (details included, originalFilter's uids mapped).
func (e *tqEnv) bulk(name, method, path string) {
	e.t.Helper()
	pt, rt := e.task(name, method, path, "")
	if d, ok := pt["details"].(map[string]any); ok {
		if f, ok := d["originalFilter"].(string); ok {
			d["originalFilter"] = "?" + strings.SplitN(e.sub(path, 1), "?", 2)[1]
			if f != "?"+strings.SplitN(e.sub(path, 0), "?", 2)[1] {
				e.t.Errorf("%s %s: originalFilter %q", method, path, f)
			}
		}
	}
	tdCompare(e.t, method+" "+path, pt, rt)
}

// tqUntilStarted waits until the named task has left the enqueued state
// on both sides.
func tqUntilStarted(e *tqEnv, name string) {
	e.t.Helper()
	u := e.names[name]
	for side, base := range []string{e.proxy, e.ref} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, m := tdDo(e.t, base, "GET", "/tasks/"+strconv.FormatInt(u[side], 10), "")
			if m["status"] != "enqueued" {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("task %s never started", name)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// TestTasksQueryPagination: GET /tasks pages (limit, from, next, reverse),
// alone and with the status and other filters, as one node pages them.
func TestTasksQueryPagination(t *testing.T) {
	e := tqSetup(t, 1)
	tqHistory(e)
	for _, q := range []string{
		"", "limit=1", "limit=2", "limit=3&reverse=true", "limit=100",
		"statuses=succeeded&limit=2", "statuses=succeeded,failed&limit=1", "statuses=failed&limit=1&reverse=true",
		"statuses=canceled", "statuses=enqueued,processing", "types=documentAdditionOrUpdate&limit=1",
		"indexUids=movies&limit=2", "indexUids=other&statuses=succeeded&limit=1&reverse=true",
		"uids={add1},{add2},{add3}&limit=1", "canceledBy={cancel}", "canceledBy={cancel}&limit=1&reverse=true",
	} {
		e.walk(q)
	}
	for _, q := range []string{
		"from={add2}", "from={add2}&limit=2", "from={add2}&reverse=true", "from={add2}&limit=1&reverse=true",
		"from={add2}&statuses=succeeded&limit=2", "from={add2}&statuses=failed", "from={createMovies}&limit=0",
		"from={add3}&reverse=true", "from={createMovies}&reverse=true&limit=2", "limit=0", "limit=0&reverse=true",
	} {
		e.list(q)
	}
}

// TestTasksQueryPaginationInFlight: the same with tasks still enqueued.
func TestTasksQueryPaginationInFlight(t *testing.T) {
	e := tqSetup(t, 1)
	tqHistory(e)
	e.pause()
	defer e.resume()
	e.send("q1", "POST", "/indexes/movies/documents", tdMovies(3))
	e.send("q2", "POST", "/indexes/other/documents", tdMovies(3))
	e.send("q3", "DELETE", "/indexes/movies/documents/1", "")
	for _, q := range []string{
		"", "limit=1", "limit=2&reverse=true", "statuses=enqueued&limit=1", "statuses=enqueued&limit=2&reverse=true",
		"statuses=succeeded&limit=3", "statuses=enqueued,failed&limit=2", "indexUids=movies&statuses=enqueued",
	} {
		e.walk(q)
	}
	for _, q := range []string{"from={q2}&statuses=enqueued", "from={q2}&statuses=enqueued&reverse=true", "from={add3}&statuses=enqueued"} {
		e.list(q)
	}
}

// TestTasksQueryStar: `*` is "no filter" for every filter of the three
// routes (dates included), alone or anywhere in a list, and still counts
// as a filter for a cancelation or a deletion.
func TestTasksQueryStar(t *testing.T) {
	e := tqSetup(t, 1)
	tqHistory(e)
	for _, q := range []string{
		"afterEnqueuedAt=*", "beforeEnqueuedAt=*", "afterStartedAt=*", "beforeStartedAt=*", "afterFinishedAt=*", "beforeFinishedAt=*",
		"uids=*", "canceledBy=*", "types=*", "statuses=*", "indexUids=*", "batchUids=*",
		"statuses=failed,*", "uids={add1},*&limit=2", "types=*,indexCreation", "indexUids=movies,*",
		"afterEnqueuedAt=*&beforeFinishedAt=*&limit=3&reverse=true", "beforeEnqueuedAt=*&statuses=succeeded&limit=2",
	} {
		e.walk(q)
	}
	// A cancelation of everything: in flight, then finished, by `*`.
	e.pause()
	e.send("q1", "POST", "/indexes/movies/documents", tdMovies(2))
	e.send("q2", "DELETE", "/indexes/other/documents/1", "")
	e.send("cancelAll", "POST", "/tasks/cancel?afterEnqueuedAt=*", "")
	e.resume()
	e.wait("cancelAll")
	e.wait("q1")
	e.wait("q2")
	e.bulk("cancelStar", "POST", "/tasks/cancel?uids=*&beforeFinishedAt=*")
	e.list("")
	e.list("canceledBy={cancelAll}")
	e.bulk("deleteStar", "DELETE", "/tasks?statuses=*,canceled&afterStartedAt=*")
	e.walk("limit=4")
	e.bulk("deleteAll", "DELETE", "/tasks?beforeEnqueuedAt=*")
	e.list("")
}

// TestTasksQueryDates: date bounds are exclusive, a bare day is midnight
// UTC (the next midnight for an after* bound), a task without the date
// never passes a bound on it.
func TestTasksQueryDates(t *testing.T) {
	// The bare-day filters below name today: start clear of midnight UTC
	// so that both sides' tasks are enqueued on the same day.
	if now := time.Now().UTC(); now.Add(2*time.Minute).Day() != now.Day() {
		time.Sleep(time.Until(now.Truncate(24 * time.Hour).Add(24*time.Hour + time.Second)))
	}
	e := tqSetup(t, 1)
	tqHistory(e)
	e.pause()
	defer e.resume()
	e.send("queued", "POST", "/indexes/movies/documents", tdMovies(2))
	day := time.Now().UTC().Format("2006-01-02")
	next := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	for _, q := range []string{
		"afterEnqueuedAt=2000-01-01", "beforeEnqueuedAt=2000-01-01", "beforeEnqueuedAt=2999-01-01T00:00:00Z&limit=3",
		"afterStartedAt=2000-01-01&limit=4", "beforeStartedAt=2999-12-31", "afterFinishedAt=2000-01-01T10:00:00%2B02:00",
		"beforeFinishedAt=2999-01-01&statuses=enqueued", "afterEnqueuedAt=" + day, "beforeEnqueuedAt=" + next, "beforeEnqueuedAt=" + day,
	} {
		e.walk(q)
	}
}

// TestTasksQueryErrors: every refusal of the three routes is the node's,
// message included.
func TestTasksQueryErrors(t *testing.T) {
	e := tqSetup(t, 1)
	e.task("create", "POST", "/indexes", `{"uid": "movies"}`)
	for _, q := range []string{
		"foo=1", "limt=3", "indexUid=movies", "canceled_by=1", "uids=1,doggo", "uids=doggo", "uids=-1", "uids=1,%202",
		"canceledBy=x", "batchUids=doggo", "statuses=doggo", "statuses=succeeded,doggo", "types=doggo", "types=indexCreation,task",
		"indexUids=the%20good%20doggo", "indexUids=movies,a%20b", "afterEnqueuedAt=doggo", "beforeFinishedAt=2024-13-01",
		"afterStartedAt=", "limit=doggo", "limit=-1", "limit=", "limit=4294967296", "from=doggo", "from=", "reverse=doggo",
		"reverse=1", "reverse=*", "reverse=", "limit=*",
	} {
		e.list(q)
	}
	for _, route := range []string{"POST /tasks/cancel", "DELETE /tasks"} {
		method, path, _ := strings.Cut(route, " ")
		for _, q := range []string{
			"", "limit=1", "from=1", "reverse=true", "foo=bar", "indexUid=movies", "uids=1,doggo", "canceledBy=doggo",
			"statuses=doggo", "types=doggo", "indexUids=a%20b", "afterFinishedAt=doggo", "beforeFinishedAt=",
		} {
			p := path
			if q != "" {
				p += "?" + q
			}
			e.send("", method, p, "")
		}
	}
}

// TestTasksQueryEmptyLists: an empty list (`uids=`) is a filter nothing
// passes, and a filter for a cancelation or a deletion.
func TestTasksQueryEmptyLists(t *testing.T) {
	e := tqSetup(t, 1)
	tqHistory(e)
	for _, q := range []string{"uids=", "statuses=", "types=&limit=1", "indexUids=", "canceledBy=", "uids=,", "statuses=,succeeded"} {
		e.walk(q)
	}
	e.bulk("c", "POST", "/tasks/cancel?uids=")
	e.bulk("d", "DELETE", "/tasks?indexUids=")
	e.bulk("d2", "DELETE", "/tasks?statuses=,failed")
	e.walk("limit=3")
}

// TestTasksQueryCancelDeleteFilters: POST /tasks/cancel and DELETE /tasks
// take canceledBy and the finish dates like the node: a cancelation that
// filters on them matches finished tasks only and cancels nothing; a
// deletion deletes what they match.
func TestTasksQueryCancelDeleteFilters(t *testing.T) {
	e := tqSetup(t, 1)
	tqHistory(e)
	e.bulk("c1", "POST", "/tasks/cancel?canceledBy={cancel}")
	e.bulk("c2", "POST", "/tasks/cancel?afterFinishedAt=2000-01-01")
	e.bulk("c3", "POST", "/tasks/cancel?beforeFinishedAt=2999-01-01&indexUids=movies")
	e.bulk("c4", "POST", "/tasks/cancel?canceledBy={c1}")
	e.walk("limit=5")
	e.bulk("d1", "DELETE", "/tasks?canceledBy={cancel}")
	e.walk("limit=5")
	e.list("canceledBy={cancel}")
	e.list("uids={held}")
	e.bulk("d2", "DELETE", "/tasks?beforeFinishedAt=2999-01-01&types=taskCancelation")
	e.bulk("d3", "DELETE", "/tasks?afterFinishedAt=2000-01-01&statuses=failed")
	e.walk("limit=4")
	e.walk("statuses=failed")
	// Held tasks: a finish-date filter does not match them.
	e.pause()
	e.send("h1", "POST", "/indexes/movies/documents", tdMovies(2))
	e.send("d4", "DELETE", "/tasks?beforeFinishedAt=2999-01-01", "")
	e.send("c5", "POST", "/tasks/cancel?afterFinishedAt=2000-01-01", "")
	e.resume()
	for _, n := range []string{"h1", "c5", "d4"} {
		pt, rt := e.wait(n)
		tdCompare(t, n, pt, rt)
	}
	e.walk("limit=3")
}

// TestTasksQueryDeletedNotListed: tasks DELETE /tasks removed are not
// listed afterwards, those it matched while they were still running
// included (on one node the deletion runs once they are done); tasks still
// enqueued when it runs stay.
func TestTasksQueryDeletedNotListed(t *testing.T) {
	// Tasks take a while, so that a write is still running when the
	// deletion that matches it comes.
	e := tqSetup(t, 1, meilitest.WithTaskDuration(150*time.Millisecond))
	e.task("create", "POST", "/indexes", `{"uid": "movies", "primaryKey": "id"}`)
	e.task("create2", "POST", "/indexes", `{"uid": "other", "primaryKey": "id"}`)
	e.send("add", "POST", "/indexes/movies/documents", tdMovies(5))
	tqUntilStarted(e, "add")
	e.bulk("del", "DELETE", "/tasks?indexUids=movies")
	e.list("")
	e.list("indexUids=movies")
	e.send("add2", "POST", "/indexes/other/documents", tdMovies(5))
	tqUntilStarted(e, "add2")
	// (whether the write is still running or already done when each side
	// gets the deletion, the outcome is the same: deleted)
	e.bulk("del2", "DELETE", "/tasks?types=documentAdditionOrUpdate")
	e.list("")
	// A task still enqueued when the deletion runs is not deleted.
	e.pause()
	e.send("add3", "POST", "/indexes/other/documents", tdMovies(2))
	e.send("del3", "DELETE", "/tasks?indexUids=other", "")
	e.resume()
	for _, n := range []string{"del3", "add3"} {
		pt, rt := e.wait(n)
		tdCompare(t, n, pt, rt)
	}
	e.list("")
}

// TestTasksQueryIndexKinds: a query on indexUids does not return the
// tasks of no single index (a swap names two), though they count in its
// total and take their place in the page before being dropped, as on one
// node; a cancelation or deletion on indexUids leaves them alone.
func TestTasksQueryIndexKinds(t *testing.T) {
	e := tqSetup(t, 1)
	e.task("a", "POST", "/indexes", `{"uid": "a", "primaryKey": "id"}`)
	e.task("b", "POST", "/indexes", `{"uid": "b", "primaryKey": "id"}`)
	e.task("swap", "POST", "/swap-indexes", `[{"indexes": ["a", "b"]}]`)
	for _, q := range []string{"indexUids=a,b", "indexUids=a,b&limit=1", "indexUids=a,b&limit=2", "indexUids=a,b&limit=3",
		"indexUids=a,b&limit=1&reverse=true", "indexUids=a,b&types=indexSwap", "types=indexSwap", "indexUids=*&limit=1"} {
		e.list(q)
	}
	e.bulk("del", "DELETE", "/tasks?indexUids=a,b")
	e.list("")
}

// TestTasksQueryLibrary: the library's GetTasks, CancelTasks and
// DeleteTasks select and page cluster tasks as meilisearch-go's calls do
// on one node.
func TestTasksQueryLibrary(t *testing.T) {
	e := tqSetup(t, 1)
	ctx := context.Background()
	ref := meilisearch.New(e.ref)
	both := func(name string, p func(meilisearch.ServiceManager) (*meilisearch.TaskInfo, error), r func(meilisearch.ServiceManager) (*meilisearch.TaskInfo, error)) (pt, rt *meilisearch.Task) {
		t.Helper()
		pi, err := p(e.c)
		if err != nil {
			t.Fatalf("%s: cluster: %v", name, err)
		}
		ri, err := r(ref)
		if err != nil {
			t.Fatalf("%s: node: %v", name, err)
		}
		e.p2r[pi.TaskUID] = ri.TaskUID
		e.names[name] = [2]int64{pi.TaskUID, ri.TaskUID}
		if pt, err = e.c.WaitForTask(ctx, pi.TaskUID, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if rt, err = ref.WaitForTask(ctx, ri.TaskUID, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		return pt, rt
	}
	same := func(name string, call func(meilisearch.ServiceManager) (*meilisearch.TaskInfo, error)) (pt, rt *meilisearch.Task) {
		t.Helper()
		return both(name, call, call)
	}
	same("a", func(s meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return s.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "a", PrimaryKey: "id"})
	})
	same("b", func(s meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return s.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "b", PrimaryKey: "id"})
	})
	same("add", func(s meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return s.Index("a").AddDocuments(ctx, []map[string]any{{"id": 1}, {"id": 2}}, nil)
	})
	same("fail", func(s meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return s.CreateIndex(ctx, &meilisearch.IndexConfig{Uid: "a"})
	})
	page := func(res *meilisearch.TaskResult, mapUID func(int64) int64) string {
		var b strings.Builder
		fmt.Fprintf(&b, "total %d limit %d from %d next %d:", res.Total, res.Limit, mapUID(res.From), mapUID(res.Next))
		for _, task := range res.Results {
			fmt.Fprintf(&b, " [%d %s %s]", mapUID(task.UID), task.Type, task.Status)
		}
		return b.String()
	}
	list := func(label string, q func(side int) *meilisearch.TasksQuery) {
		t.Helper()
		pr, err := e.c.GetTasks(ctx, q(0))
		if err != nil {
			t.Fatalf("%s: cluster: %v", label, err)
		}
		rr, err := ref.GetTasks(ctx, q(1))
		if err != nil {
			t.Fatalf("%s: node: %v", label, err)
		}
		got := page(pr, func(u int64) int64 {
			if u == 0 {
				return 0 // none (meilisearch-go decodes null as 0)
			}
			return e.p2r[u]
		})
		if want := page(rr, func(u int64) int64 { return u }); got != want {
			t.Errorf("%s:\n  cluster %s\n  node    %s", label, got, want)
		}
	}
	uid := func(name string, side int) int64 { return e.names[name][side] }
	list("index a", func(int) *meilisearch.TasksQuery { return &meilisearch.TasksQuery{IndexUIDS: []string{"a"}} })
	same("swap", func(s meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return s.SwapIndexes(ctx, []*meilisearch.SwapIndexesParams{{Indexes: []string{"a", "b"}}})
	})
	list("all", func(int) *meilisearch.TasksQuery { return &meilisearch.TasksQuery{} })
	list("limit 2", func(int) *meilisearch.TasksQuery { return &meilisearch.TasksQuery{Limit: 2} })
	list("limit 2 from add", func(s int) *meilisearch.TasksQuery { return &meilisearch.TasksQuery{Limit: 2, From: uid("add", s)} })
	// (meilisearch-go v0.37 does not send Reverse: not compared)
	list("from b", func(s int) *meilisearch.TasksQuery { return &meilisearch.TasksQuery{Limit: 2, From: uid("b", s)} })
	list("indexes a, b", func(int) *meilisearch.TasksQuery { return &meilisearch.TasksQuery{IndexUIDS: []string{"a", "b"}} })
	list("indexes a, b limit 1", func(int) *meilisearch.TasksQuery {
		return &meilisearch.TasksQuery{IndexUIDS: []string{"a", "b"}, Limit: 1}
	})
	list("swaps of a", func(int) *meilisearch.TasksQuery {
		return &meilisearch.TasksQuery{IndexUIDS: []string{"a"}, Types: []meilisearch.TaskType{meilisearch.TaskTypeIndexSwap}}
	})
	list("failed", func(int) *meilisearch.TasksQuery {
		return &meilisearch.TasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusFailed}, Limit: 1}
	})
	list("finished after 2000", func(int) *meilisearch.TasksQuery {
		return &meilisearch.TasksQuery{AfterFinishedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 3}
	})
	pt, rt := both("cancel", func(s meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return s.CancelTasks(ctx, &meilisearch.CancelTasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusSucceeded}})
	}, func(s meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return s.CancelTasks(ctx, &meilisearch.CancelTasksQuery{Statuses: []meilisearch.TaskStatus{meilisearch.TaskStatusSucceeded}})
	})
	if pt.Details.MatchedTasks != rt.Details.MatchedTasks || pt.Details.CanceledTasks != rt.Details.CanceledTasks || pt.Details.OriginalFilter != rt.Details.OriginalFilter {
		t.Errorf("cancelation details: cluster %+v, node %+v", pt.Details, rt.Details)
	}
	del := func(s int) func(meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
		return func(m meilisearch.ServiceManager) (*meilisearch.TaskInfo, error) {
			return m.DeleteTasks(ctx, &meilisearch.DeleteTasksQuery{IndexUIDS: []string{"a", "b"}, CanceledBy: nil, UIDS: []int64{uid("a", s), uid("swap", s), uid("fail", s)}})
		}
	}
	pt, rt = both("delete", del(0), del(1))
	if pt.Details.MatchedTasks != rt.Details.MatchedTasks || pt.Details.DeletedTasks != rt.Details.DeletedTasks {
		t.Errorf("deletion details: cluster %+v, node %+v", pt.Details, rt.Details)
	}
	list("after the deletion", func(int) *meilisearch.TasksQuery { return &meilisearch.TasksQuery{} })
	if _, err := e.c.GetTasks(ctx, &meilisearch.TasksQuery{Limit: -1}); err == nil {
		t.Error("limit -1: no error")
	} else if _, rerr := ref.GetTasks(ctx, &meilisearch.TasksQuery{Limit: -1}); rerr == nil || !strings.Contains(rerr.Error(), "invalid_task_limit") || !strings.Contains(err.Error(), "invalid_task_limit") {
		t.Errorf("limit -1: cluster %v, node %v", err, rerr)
	}
}

// TestTasksDeletedDocumentsCountedOnce: a deletion's deletedDocuments is
// the number of documents deleted, once each, not once per copy, on a
// fleet of two replica groups of two nodes each (four copies of each
// document), as one node counts it.
func TestTasksDeletedDocumentsCountedOnce(t *testing.T) {
	pURL := startFleet(t, fleetSpec{groups: groupsOf(2, 2), rf: 2, shards: 4, ids: "node-", nodeKey: auditNodeKey, instant: true, timing: newDefaults, proxy: true, hopts: []HandlerOption{WithMasterKey(auditProxyKey)}}).url
	ref, _ := startRef(t, meilitest.WithTaskDuration(0), meilitest.WithMasterKey(auditProxyKey))
	p := &auditPair{t: t, proxy: pURL, ref: ref.URL(), pTok: auditProxyKey, rTok: auditProxyKey, pVars: map[string]string{}, rVars: map[string]string{}}
	p.run(
		auditStep{method: "POST", path: "/indexes", body: `{"uid":"movies","primaryKey":"id"}`, wait: true},
		auditStep{method: "PATCH", path: "/indexes/movies/settings", body: `{"filterableAttributes":["genre","year"]}`, wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents", body: auditMust(auditMovies(40)), wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents/delete", body: `{"filter":"genre = drama"}`, wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents/delete", body: `{"filter":["genre = comedy", "year > 2005"]}`, wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents/delete-batch", body: `[2, 3, 4, 999]`, wait: true},
		auditStep{method: "DELETE", path: "/indexes/movies/documents/6", wait: true},
		auditStep{method: "DELETE", path: "/indexes/movies/documents", wait: true},
		auditStep{method: "POST", path: "/indexes/movies/documents", body: auditMust(auditMovies(7)), wait: true},
		auditStep{method: "DELETE", path: "/indexes/movies", wait: true},
	)
	for _, task := range []map[string]any{p.lastPTask, p.lastRT} {
		if d, _ := task["details"].(map[string]any); d["deletedDocuments"] != float64(7) {
			t.Errorf("index deletion details %v", d)
		}
	}
}
