package miroir

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

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
	// CodeReservedIndex: the index uid is reserved by miroir (miroir_meta).
	CodeReservedIndex = "miroir_reserved_index"
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

// hideShardField removes _miroir_shard from a node's error message, which
// lists an index's filterable attributes in some errors ("Available
// filterable attribute patterns are: `_miroir_shard`, `genre`."): reads
// hide the field, so the message reads as one node's would, including
// Meilisearch's wording when no other attribute is filterable.
func hideShardField(msg string) string {
	if !strings.Contains(msg, shardField) {
		return msg
	}
	q := "`" + shardField + "`"
	for _, only := range []struct{ list, kind string }{
		{"Available filterable attribute patterns are: " + q + ".", "filterable"},
		{"Available filterable attributes patterns are: " + q + ".", "filterable"},
		{"Available facet-searchable attributes patterns are: " + q + ".", "facet-searchable"},
	} {
		msg = strings.ReplaceAll(msg, only.list, "This index does not have configured "+only.kind+" attributes.")
	}
	return strings.NewReplacer(
		q+", ", "", ", "+q, "", // `a`, `b` lists
		shardField+", ", "", ", "+shardField, "", // `a, b` lists
	).Replace(msg)
}
