package miroir

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"unicode"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/apierr"
)

// Sentinel errors, for errors.Is. Every *Error with the matching code
// reports true for errors.Is(err, ErrX).
var (
	// ErrNoQuorum: some shard of a write met its quorum in no replica group.
	ErrNoQuorum = errors.New("miroir: no quorum")
	// ErrShardUnavailable: a read needed a shard with no healthy replica and
	// the FailFast policy is in force.
	ErrShardUnavailable = errors.New("miroir: shard unavailable")
	// ErrUnsupported: the method has no meaning on a sharded fleet.
	ErrUnsupported = errors.New("miroir: unsupported")
	// ErrShardCountMismatch: the index was created with another shard count.
	ErrShardCountMismatch = errors.New("miroir: shard count mismatch")
	// ErrClosed: the Cluster was closed.
	ErrClosed = errors.New("miroir: cluster closed")
	// ErrTopologyChangeInProgress: a topology change to another target is
	// running, or the call (index creation, a settings change) waits for
	// the running change to end (DESIGN §13).
	ErrTopologyChangeInProgress = errors.New("miroir: topology change in progress")
	// ErrTopologyUnknown: this instance could not read the fleet's recorded
	// topology for several refresh intervals and refuses writes rather
	// than write to a stale placement.
	ErrTopologyUnknown = errors.New("miroir: topology unknown")
)

// Error codes miroir adds to Meilisearch's own.
const (
	CodeNoQuorum         = "miroir_no_quorum"
	CodeShardUnavailable = "miroir_shard_unavailable"
	// CodePrimaryKeyRequired was the synchronous refusal of documents
	// whose primary key could not be inferred. Such writes now fail their
	// task with Meilisearch's own codes, as on one node; the code is kept
	// for code that compares against it.
	CodePrimaryKeyRequired = "miroir_primary_key_required"
	CodeReservedField      = "miroir_reserved_field"
	CodeShardCountMismatch = "miroir_shard_count_mismatch"
	CodeUnsupported        = "miroir_unsupported"
	CodeNodeUnreachable    = "miroir_node_unreachable"
	CodeSettingsRollback   = "miroir_settings_rollback"
	// CodeBroadcastFailed: a call that needs every node failed on some
	// (not only because they were unreachable).
	CodeBroadcastFailed = "miroir_broadcast_failed"
	// CodeIndexNotManaged: the index exists on the fleet but was not
	// created through miroir (no miroir_meta record) and holds documents.
	CodeIndexNotManaged = "miroir_index_not_managed"
	// CodeReservedIndex: the index uid is reserved by miroir (miroir_meta,
	// and every uid starting with miroir- or miroir_).
	CodeReservedIndex = "miroir_reserved_index"
	// CodeTopologyChangeInProgress: see ErrTopologyChangeInProgress.
	CodeTopologyChangeInProgress = "miroir_topology_change_in_progress"
	// CodeTopologyUnknown: see ErrTopologyUnknown.
	CodeTopologyUnknown = "miroir_topology_unknown"
	// CodeInvalidTopology: a node list (New's or ChangeTopology's target)
	// that cannot be a fleet: duplicate IDs, a group below RF, gaps, ...
	CodeInvalidTopology = "miroir_invalid_topology"
)

// Error is a miroir error in Meilisearch's shape ({message, code, type,
// link}) with the HTTP status proxy mode answers with. It also reads as a
// *meilisearch.Error through errors.As, so code written against
// meilisearch-go that inspects APIError.Code keeps working.
type Error struct {
	Code    string // Meilisearch or miroir error code
	Message string
	Type    string // invalid_request, internal, auth, system
	Link    string
	Status  int // HTTP status in proxy mode
	// Shards lists the shards concerned (no quorum, unavailable).
	Shards []int
	// Nodes lists node IDs concerned (unreachable, failed).
	Nodes []string
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		return fmt.Sprintf("%s (%s): %v", e.Message, e.Code, e.Err)
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of e's code.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNoQuorum:
		return e.Code == CodeNoQuorum
	case ErrShardUnavailable:
		return e.Code == CodeShardUnavailable
	case ErrUnsupported:
		return e.Code == CodeUnsupported
	case ErrShardCountMismatch:
		return e.Code == CodeShardCountMismatch
	case ErrTopologyChangeInProgress:
		return e.Code == CodeTopologyChangeInProgress
	case ErrTopologyUnknown:
		return e.Code == CodeTopologyUnknown
	}
	return false
}

// As lets errors.As(err, &meiliErr) with meiliErr *meilisearch.Error
// succeed, filled with e's code, message, type, link and status.
func (e *Error) As(target any) bool {
	t, ok := target.(**meilisearch.Error)
	if ok {
		*t = (&apierr.Error{Status: e.Status, Code: e.Code, Message: e.Message, Type: e.Type, Link: e.Link}).Meili()
	}
	return ok
}

// newError builds an Error; link and type follow Meilisearch's conventions
// (internal/apierr, which the proxy's own errors use too).
func newError(status int, code, format string, args ...any) *Error {
	return &Error{
		Code:    code,
		Message: fmt.Sprintf(format, args...),
		Type:    apierr.TypeOf(status),
		Link:    apierr.Link(code),
		Status:  status,
	}
}

// unsupported returns the error of a method with no sharded meaning.
func unsupported(method, why string) error {
	e := newError(http.StatusNotImplemented, CodeUnsupported, "miroir: %s is not supported on a sharded fleet: %s", method, why)
	e.Err = ErrUnsupported
	return e
}

// noQuorumError lists the shards that met quorum in no group.
func noQuorumError(shards []int, cause error) *Error {
	sort.Ints(shards)
	e := newError(http.StatusServiceUnavailable, CodeNoQuorum,
		"miroir: write did not reach quorum for shards %v; documents may already be stored on some nodes (Meilisearch has no rollback); retrying the same call is safe", shards)
	e.Type = "system"
	e.Shards = shards
	e.Err = cause
	return e
}

// shardUnavailableError lists the shards with no healthy replica.
func shardUnavailableError(shards []int) *Error {
	sort.Ints(shards)
	e := newError(http.StatusServiceUnavailable, CodeShardUnavailable, "miroir: shards %v have no healthy replica", shards)
	e.Type = "system"
	e.Shards = shards
	return e
}

// hideShardField removes _miroir_shard (and _miroir_v) from a node's error message, which
// lists an index's filterable attributes in some errors ("Available
// filterable attribute patterns are: `_miroir_shard`, `genre`."): reads
// hide the field, so the message reads as one node's would, including
// Meilisearch's wording when no other attribute is filterable.
func hideShardField(msg string) string {
	for _, f := range []string{shardField, versionField} {
		msg = hideField(msg, f)
	}
	return msg
}

// hideField removes attribute f from a node's error message (see
// hideShardField).
func hideField(msg, f string) string {
	if !strings.Contains(msg, f) {
		return msg
	}
	q := "`" + f + "`"
	for _, only := range []struct{ list, kind string }{
		{"Available filterable attribute patterns are: " + q + ".", "filterable"},
		{"Available filterable attributes patterns are: " + q + ".", "filterable"},
		{"Available facet-searchable attributes patterns are: " + q + ".", "facet-searchable"},
	} {
		msg = strings.ReplaceAll(msg, only.list, "This index does not have configured "+only.kind+" attributes.")
	}
	return strings.NewReplacer(
		q+", ", "", ", "+q, "", // `a`, `b` lists
		f+", ", "", ", "+f, "", // `a, b` lists
	).Replace(msg)
}

// ---- errors miroir answers with, as Meilisearch words them ----

// indexNotFound is Meilisearch's answer for a missing index.
func indexNotFound(uid string) error {
	return newError(http.StatusNotFound, "index_not_found", "Index `%s` not found.", uid)
}

// taskNotFound is Meilisearch's answer for a missing task.
func taskNotFound(uid int64) error {
	return newError(http.StatusNotFound, "task_not_found", "Task `%d` not found.", uid)
}

// reservedIndexError refuses a call naming miroir's own index.
func reservedIndexError(uid string) error {
	return newError(http.StatusBadRequest, CodeReservedIndex, "miroir: the index `%s` is reserved: index uids starting with `miroir-` or `miroir_` hold miroir's own records (shard counts, task-uid lanes, the fleet task store)", uid)
}

// badParam is Meilisearch's error for an invalid request parameter.
func badParam(code, format string, args ...any) *Error {
	return newError(http.StatusBadRequest, code, format, args...)
}

// snake turns camelCase into snake_case, for Meilisearch error codes
// named after a parameter (invalid_search_hits_per_page).
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ---- reading an error: what a node or miroir said ----

// apiCode returns the Meilisearch error code of err ("" if none).
func apiCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return string(me.APIError.Code)
	}
	return ""
}

// errStatus returns the HTTP status carried by a node error (0 if none).
func errStatus(err error) int {
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return me.StatusCode
	}
	return 0
}

// statusOf returns the HTTP status of a Meilisearch-shaped error (400 when
// it has none).
func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Status != 0 {
		return e.Status
	}
	return 400
}

// asMeili is errors.As into a *meilisearch.Error (a *Error reads as one
// too), false for nil.
func asMeili(err error, me **meilisearch.Error) bool {
	if err == nil {
		return false
	}
	return errors.As(err, me)
}

// isTransportError reports whether err means the node did not answer.
func isTransportError(err error) bool {
	var me *meilisearch.Error
	return errors.As(err, &me) && me.ErrCode == meilisearch.CommunicationError
}

// isRequestError reports whether err is a node's 4xx answer: the request
// was refused, the node itself is fine.
func isRequestError(err error) bool {
	var me *meilisearch.Error
	return errors.As(err, &me) && me.StatusCode >= 400 && me.StatusCode < 500
}

// isNotFound reports a Meilisearch *_not_found error.
func isNotFound(err error) bool {
	var me *meilisearch.Error
	if errors.As(err, &me) {
		return me.StatusCode == http.StatusNotFound
	}
	return false
}

// cmpErr keeps the first error met: a unless it is nil.
func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// apiErrorDetails turns any error into Meilisearch's error object.
func apiErrorDetails(err error) meilisearch.APIErrorDetails {
	var e *Error
	if errors.As(err, &e) {
		return meilisearch.APIErrorDetails{Message: e.Message, Code: meilisearch.APIErrCode(e.Code), Type: e.Type, Link: e.Link}
	}
	var me *meilisearch.Error
	if errors.As(err, &me) && me.APIError.Code != "" {
		return me.APIError
	}
	return meilisearch.APIErrorDetails{Message: err.Error(), Code: "internal", Type: "internal", Link: "https://docs.meilisearch.com/errors#internal"}
}

// errorBody renders err as Meilisearch's {message, code, type, link} with
// its status.
func errorBody(err error) (int, []byte) {
	status := http.StatusInternalServerError
	var me *meilisearch.Error
	if errors.As(err, &me) && me.StatusCode != 0 {
		status = me.StatusCode
	}
	var e *Error
	if errors.As(err, &e) && e.Status != 0 {
		status = e.Status
	}
	d := apiErrorDetails(err)
	b, _ := json.Marshal(d)
	return status, b
}
