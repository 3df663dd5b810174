package proxy

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/apierr"
	"github.com/miroirsearch/miroir/internal/indexuid"
)

// The query string of GET /tasks, POST /tasks/cancel and DELETE /tasks,
// read as Meilisearch reads it (TasksFilterQuery and
// TaskDeletionOrCancelationQuery through deserr): parameters in the order
// they come, the first error wins, an unknown one is refused with the
// route's parameters in their declared order, and `*` (alone or anywhere
// in a list) is the absence of that filter, which still counts as given.

var (
	taskFilterParams = []string{"uids", "batchUids", "canceledBy", "types", "statuses", "indexUids",
		"afterEnqueuedAt", "beforeEnqueuedAt", "afterStartedAt", "beforeStartedAt", "afterFinishedAt", "beforeFinishedAt"}
	// listTaskParams is TasksFilterQuery's order: paging first, then
	// batchUids before uids.
	listTaskParams = []string{"limit", "from", "reverse", "batchUids", "uids", "canceledBy", "types", "statuses", "indexUids",
		"afterEnqueuedAt", "beforeEnqueuedAt", "afterStartedAt", "beforeStartedAt", "afterFinishedAt", "beforeFinishedAt"}
)

var taskStatuses = []string{"enqueued", "processing", "succeeded", "failed", "canceled"}

var taskTypes = []string{"documentAdditionOrUpdate", "documentEdition", "documentDeletion", "settingsUpdate",
	"indexCreation", "indexDeletion", "indexUpdate", "indexSwap", "taskCancelation", "taskDeletion",
	"dumpCreation", "snapshotCreation", "export", "upgradeDatabase", "indexCompaction", "networkTopologyChange", "dsrUpdate", "dsrClear"}

// queryPair is one parameter of a query string, in order.
type queryPair struct{ key, value string }

// orderedQuery splits a raw query string into its parameters, in order; a
// repeated parameter keeps its first value (as url.Values.Get does).
func orderedQuery(raw string) []queryPair {
	var out []queryPair
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, queryPair{k, v})
	}
	return out
}

// taskQuery reads the query of a task route: list is GET /tasks (paging
// accepted), else POST /tasks/cancel or DELETE /tasks.
func (h *handler) taskQuery(r *http.Request, list bool) (TaskFilter, TaskPaging, error) {
	f, p, batchFilter, err := parseTaskQuery(r.URL.RawQuery, list)
	if err == nil && batchFilter {
		err = h.b.Unsupported("the batchUids task filter", "batches are per node")
	}
	return f, p, err
}

// parseTaskQuery reads a task route's raw query string; batchFilter
// reports a batchUids filter, which the Cluster cannot serve. The
// filter's original is the raw query string.
func parseTaskQuery(rawQuery string, list bool) (f TaskFilter, p TaskPaging, batchFilter bool, err error) {
	p = TaskPaging{Limit: 20}
	accepted := taskFilterParams
	if list {
		accepted = listTaskParams
	}
	for _, kv := range orderedQuery(rawQuery) {
		if !slices.Contains(accepted, kv.key) {
			return f, p, false, apierr.New(http.StatusBadRequest, "bad_request", "Unknown parameter `%s`: %sexpected one of %s",
				kv.key, didYouMean(kv.key, accepted), "`"+strings.Join(accepted, "`, `")+"`")
		}
		switch kv.key {
		case "limit", "from", "reverse":
			err = taskPagingParam(kv, &p)
		case "batchUids":
			var b []int64
			if b, err = listParam(kv, uidItem("invalid_batch_uids")); err == nil {
				batchFilter, f.Given = b != nil, true
			}
		default:
			err = taskFilterParam(kv, &f)
		}
		if err != nil {
			return f, p, false, err
		}
	}
	if rawQuery != "" {
		f.Original = "?" + rawQuery
	}
	return f, p, batchFilter, nil
}

// taskPagingParam reads limit, from or reverse into p.
func taskPagingParam(kv queryPair, p *TaskPaging) error {
	switch kv.key {
	case "limit":
		n, err := queryUint(kv, "invalid_task_limit", math.MaxUint32)
		if err != nil {
			return err
		}
		p.Limit = int64(n)
	case "from":
		// A cluster task uid is no u32: any uid up to 2^63.
		n, err := queryUint(kv, "invalid_task_from", math.MaxInt64)
		if err != nil {
			return err
		}
		p.From, p.FromGiven = int64(n), true
	case "reverse":
		if kv.value != "true" && kv.value != "false" {
			return apierr.New(http.StatusBadRequest, "invalid_task_reverse",
				"Invalid value in parameter `reverse`: could not parse `%s` as a boolean, expected either `true` or `false`", kv.value)
		}
		p.Reverse = kv.value == "true"
	}
	return nil
}

// taskFilterParam reads one filter parameter (uids, canceledBy,
// statuses, types, indexUids or a date) into f, which it marks given.
func taskFilterParam(kv queryPair, f *TaskFilter) error {
	var err error
	switch kv.key {
	case "uids":
		f.UIDs, err = listParam(kv, uidItem("invalid_task_uids"))
	case "canceledBy":
		f.CanceledBy, err = listParam(kv, uidItem("invalid_task_canceled_by"))
	case "statuses":
		f.Statuses, err = listParam(kv, func(at, v string) (meilisearch.TaskStatus, error) {
			return meilisearch.TaskStatus(v), enumValue(at, v, "invalid_task_statuses", "status", "statuses", taskStatuses)
		})
	case "types":
		f.Types, err = listParam(kv, func(at, v string) (meilisearch.TaskType, error) {
			return meilisearch.TaskType(v), enumValue(at, v, "invalid_task_types", "type", "types", taskTypes)
		})
	case "indexUids":
		f.IndexUIDs, err = listParam(kv, func(at, v string) (string, error) {
			if !indexuid.Valid(v) {
				return v, apierr.New(http.StatusBadRequest, "invalid_index_uid",
					"Invalid value in parameter `%s`: `%s` is not a valid index uid. Index uid can be an integer or a string containing only alphanumeric characters, hyphens (-) and underscores (_), and can not be more than 400 bytes.", at, v)
			}
			return v, nil
		})
	default: // the dates
		err = taskDate(kv, f)
	}
	if err == nil {
		f.Given = true
	}
	return err
}

// queryUint parses an unsigned integer as Rust's FromStr does (digits after
// at most one '+'), no larger than max.
func queryUint(kv queryPair, code string, max uint64) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(kv.value, "+"), 10, 64)
	if err != nil || n > max {
		return 0, apierr.New(http.StatusBadRequest, code, "Invalid value in parameter `%s`: could not parse `%s` as a positive integer", kv.key, kv.value)
	}
	return n, nil
}

// listParam reads a comma-separated list parameter (OptionStarOrList
// over serde_cs: empty elements dropped, nothing trimmed): item converts
// and checks each element, named `key[i]` in errors when the list has more
// than one. A `*` anywhere makes it nil (no filter); an empty list is a
// filter that nothing passes.
func listParam[T any](kv queryPair, item func(at, v string) (T, error)) ([]T, error) {
	parts := slices.DeleteFunc(strings.Split(kv.value, ","), func(s string) bool { return s == "" })
	out := []T{}
	star := false
	for i, v := range parts {
		if v == "*" {
			star = true
			continue
		}
		at := kv.key
		if len(parts) > 1 {
			at = fmt.Sprintf("%s[%d]", kv.key, i)
		}
		x, err := item(at, v)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	if star {
		return nil, nil
	}
	return out, nil
}

// uidItem reads a task or batch uid of a list (a cluster task uid is no
// u32: any uid up to 2^63).
func uidItem(code string) func(at, v string) (int64, error) {
	return func(at, v string) (int64, error) {
		n, err := queryUint(queryPair{at, v}, code, math.MaxInt64)
		return int64(n), err
	}
}

// enumValue checks one status or type against the names Meilisearch knows.
func enumValue(at, v, code, what, plural string, allowed []string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return apierr.New(http.StatusBadRequest, code, "Invalid value in parameter `%s`: `%s` is not a valid task %s. Available %s are %s.",
		at, v, what, plural, "`"+strings.Join(allowed, "`, `")+"`")
}

// taskDate reads one date filter (OptionStarOr, deserialize_date): `*` is
// no bound; an RFC 3339 date-time is taken as it is; a bare YYYY-MM-DD is
// midnight UTC, the next midnight for an after* bound (the day itself is
// excluded).
func taskDate(kv queryPair, f *TaskFilter) error {
	dst := map[string]*time.Time{
		"beforeEnqueuedAt": &f.BeforeEnqueuedAt, "afterEnqueuedAt": &f.AfterEnqueuedAt, "beforeStartedAt": &f.BeforeStartedAt,
		"afterStartedAt": &f.AfterStartedAt, "beforeFinishedAt": &f.BeforeFinishedAt, "afterFinishedAt": &f.AfterFinishedAt,
	}[kv.key]
	if kv.value == "*" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, kv.value)
	if err != nil {
		d, derr := time.Parse("2006-01-02", kv.value)
		if derr != nil {
			return apierr.New(http.StatusBadRequest, "invalid_task_"+apierr.Snake(kv.key),
				"Invalid value in parameter `%s`: `%s` is an invalid date-time. It should follow the YYYY-MM-DD or RFC 3339 date-time format.", kv.key, kv.value)
		}
		t = d
		if strings.HasPrefix(kv.key, "after") {
			t = t.AddDate(0, 0, 1)
		}
	}
	*dst = t
	return nil
}

// didYouMean is deserr's hint for an unknown name: the closest accepted
// name by Damerau-Levenshtein distance, within a typo budget set by the
// received name's length in bytes, as "did you mean `x`? ", or "".
func didYouMean(received string, accepted []string) string {
	budget := 0
	switch n := len(received); {
	case n <= 3:
		return ""
	case n <= 7:
		budget = 1
	case n <= 12:
		budget = 2
	case n <= 17:
		budget = 3
	case n <= 24:
		budget = 4
	default:
		budget = 5
	}
	best, bestDist := "", budget+1
	for _, a := range accepted {
		if d := damerauLevenshtein(received, a); d < bestDist {
			best, bestDist = a, d
		}
	}
	if best == "" {
		return ""
	}
	return "did you mean `" + best + "`? "
}

// damerauLevenshtein is the unrestricted Damerau-Levenshtein distance
// over characters.
func damerauLevenshtein(a, b string) int {
	ar, br := []rune(a), []rune(b)
	n, m := len(ar), len(br)
	inf := n + m
	d := make([][]int, n+2)
	for i := range d {
		d[i] = make([]int, m+2)
	}
	d[0][0] = inf
	for i := 0; i <= n; i++ {
		d[i+1][0], d[i+1][1] = inf, i
	}
	for j := 0; j <= m; j++ {
		d[0][j+1], d[1][j+1] = inf, j
	}
	last := map[rune]int{}
	for i := 1; i <= n; i++ {
		lastMatch := 0
		for j := 1; j <= m; j++ {
			k, l := last[br[j-1]], lastMatch
			cost := 1
			if ar[i-1] == br[j-1] {
				cost, lastMatch = 0, j
			}
			d[i+1][j+1] = min(d[i][j]+cost, d[i+1][j]+1, d[i][j+1]+1, d[k][l]+(i-k-1)+1+(j-l-1))
		}
		last[ar[i-1]] = i
	}
	return d[n+1][m+1]
}
