package proxy

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

// Backend is everything the proxy needs of the Cluster: the routes are
// translations onto these methods (DESIGN §9). Routes that map one to one
// onto a public call use Service; the others use raw-bytes twins of the
// public calls (bodies go to the Cluster as they came and come back as the
// nodes' JSON, never decoded into Go values on the way), and a few methods
// expose what the proxy must know of the fleet (its layout, readiness,
// how an error is answered).
//
// Every call that does the caller's work receives the request's context,
// carrying the caller's token and grant (internal/caller) in pass-through
// mode and the call's report (Track).
type Backend interface {
	// Service is the Cluster as meilisearch-go's ServiceManager, for the
	// routes that are one public call: health, version, stats, dumps,
	// snapshots, render-template, index creation, deletion and swap, keys,
	// dynamic search rules, and per index (Service().Index(uid)) its
	// update, stats, compaction, document deletions and edits, and one
	// document.
	Service() meilisearch.ServiceManager

	// ListIndexes reads a page of the index list (without miroir's own
	// index) from one node; limit 0 is the default (20).
	ListIndexes(ctx context.Context, offset, limit int64) (*IndexList, error)
	// GetIndex returns the index object as one node shows it (uid,
	// primaryKey, createdAt, updatedAt).
	GetIndex(ctx context.Context, uid string) ([]byte, error)

	// WriteDocuments adds, replaces or updates documents from a raw
	// payload (JSON, NDJSON or CSV), routed to their shards without being
	// decoded; the task is the write's cluster task.
	WriteDocuments(ctx context.Context, uid string, w DocumentWrite) (*meilisearch.TaskInfo, error)
	// FetchDocuments lists documents: body is a /documents/fetch body, the
	// answer is Meilisearch's {results, offset, limit, total}.
	FetchDocuments(ctx context.Context, uid string, body []byte) ([]byte, error)

	// Search runs a search body over the index's shards and answers with
	// the merged result, in Meilisearch's shape.
	Search(ctx context.Context, uid string, body []byte) ([]byte, error)
	// FacetSearch runs a facet-search body and merges the facet hits.
	FacetSearch(ctx context.Context, uid string, body []byte) ([]byte, error)
	// Similar runs a similar-documents body and merges the hits.
	Similar(ctx context.Context, uid string, body []byte) ([]byte, error)
	// MultiSearch runs a multi-search body, federated or not.
	MultiSearch(ctx context.Context, body []byte) ([]byte, error)

	// GetSettings returns the index's settings, or one setting when route
	// names it (its route segment, e.g. "ranking-rules"), with miroir's
	// own field hidden.
	GetSettings(ctx context.Context, uid, route string) ([]byte, error)
	// UpdateSettings updates (method PATCH or PUT, body the JSON) or
	// resets (method DELETE, no body) the settings, or one setting when
	// route names it, through the Cluster's settings transaction.
	UpdateSettings(ctx context.Context, uid, route, method string, body []byte) (*meilisearch.TaskInfo, error)
	// SettingVerb returns the HTTP method that updates the setting whose
	// route segment is route (PUT or PATCH); ok is false for no setting.
	SettingVerb(route string) (verb string, ok bool)

	// ExperimentalFeatures serves /experimental-features (GET reads one
	// node, PATCH with a JSON body updates every node) and returns the
	// answer's status and body, an error included in Meilisearch's shape.
	ExperimentalFeatures(ctx context.Context, method string, body []byte) (status int, answer []byte)

	// ListTasks returns a page of the cluster tasks f selects, visible to
	// the caller's grant.
	ListTasks(ctx context.Context, f TaskFilter, p TaskPaging) (*TaskList, error)
	// GetTask returns one cluster task.
	GetTask(ctx context.Context, uid int64) (*Task, error)
	// TaskDocuments returns the documents a cluster task wrote, one JSON
	// object each.
	TaskDocuments(ctx context.Context, uid int64) ([][]byte, error)
	// CancelTasks cancels the cluster tasks f selects; the task records
	// f.Original as its originalFilter.
	CancelTasks(ctx context.Context, f TaskFilter) (*meilisearch.TaskInfo, error)
	// DeleteTasks deletes the finished cluster tasks f selects; the task
	// records f.Original as its originalFilter.
	DeleteTasks(ctx context.Context, f TaskFilter) (*meilisearch.TaskInfo, error)

	// AuthKey reads the API key identifier names (its value or uid) from
	// the fleet with the node keys, whatever token ctx carries, for the
	// pass-through check of a caller's token.
	AuthKey(ctx context.Context, identifier string) (*meilisearch.Key, error)
	// CheckIndexUID refuses an index uid a node would refuse, with
	// Meilisearch's invalid_index_uid error, before it reaches a node's
	// URL path.
	CheckIndexUID(uid string) error
	// PrimaryKey returns the index's primary key ("" when it has none or
	// the index cannot be read).
	PrimaryKey(ctx context.Context, uid string) string
	// Unsupported is the error of a call with no meaning on a sharded
	// fleet (501 miroir_unsupported): what names the call, why says why.
	Unsupported(what, why string) error

	// Topology returns the fleet's layout as JSON: nodes (never their
	// keys), groups, health, and the shards each node holds.
	Topology() []byte
	// Shards returns where each shard lives and which nodes are healthy,
	// from the current health marks.
	Shards() ShardLayout
	// Ready returns nil when the Cluster is open and every shard has a
	// healthy replica, else the error to answer with (503).
	Ready() error

	// Track returns ctx with a fresh report attached, which the calls made
	// with it fill in, and a function reading what made them degraded.
	Track(ctx context.Context) (context.Context, func() Degradation)
	// RenderError returns how err is answered: the HTTP status (a node's
	// own for a node error, 503 for a node that did not answer), the
	// Meilisearch error code ("" when err has none) and the
	// {message, code, type, link} body.
	RenderError(err error) (status int, code string, body []byte)
	// Logger is where the proxy reports failures of its own and writes
	// its one line per request (at Info; observe.go).
	Logger() *slog.Logger
}

// IndexList is a page of the index list, in Meilisearch's shape.
type IndexList struct {
	Results []json.RawMessage `json:"results"`
	Offset  int64             `json:"offset"`
	Limit   int64             `json:"limit"`
	Total   int64             `json:"total"`
}

// DocumentWrite is a documents write as the route received it.
type DocumentWrite struct {
	// Method is POST (add or replace) or PUT (add or update).
	Method string
	// Format is the payload's: "json", "ndjson" or "csv".
	Format string
	Body   []byte
	// The query parameters: primaryKey, skipCreation, csvDelimiter (with
	// HasDelimiter when it was given, even empty) and customMetadata.
	PrimaryKey     string
	SkipCreation   bool
	CSVDelimiter   string
	HasDelimiter   bool
	CustomMetadata string
}

// TaskFilter is a parsed task query (GET /tasks, POST /tasks/cancel,
// DELETE /tasks). A nil list filters nothing; an empty one lets nothing
// through, as in Meilisearch.
type TaskFilter struct {
	UIDs, CanceledBy []int64
	IndexUIDs        []string
	Statuses         []meilisearch.TaskStatus
	Types            []meilisearch.TaskType
	// Exclusive date bounds; zero: none (absent, or `*`).
	BeforeEnqueuedAt, AfterEnqueuedAt time.Time
	BeforeStartedAt, AfterStartedAt   time.Time
	BeforeFinishedAt, AfterFinishedAt time.Time
	// Given: some filter was given, `*` included (a cancelation or a
	// deletion needs one).
	Given bool
	// Original is the query string as Meilisearch records it in a
	// cancelation's or deletion's originalFilter ("?..."; "" for none).
	Original string
}

// TaskPaging is the paging of GET /tasks.
type TaskPaging struct {
	Limit     int64 // as given, or 20
	From      int64
	FromGiven bool
	Reverse   bool
}

// TaskList is one page of cluster tasks.
type TaskList struct {
	Tasks        []*Task
	Limit, Total int64
	// From is the first task's uid, Next the uid the next page starts
	// at; 0 for none (no cluster task has uid 0).
	From, Next int64
}

// Task is a cluster task to render: its fields as meilisearch-go's Task
// (without details), and its details exactly as one node shows them (nil:
// the task has no details member, such as a snapshot).
type Task struct {
	Base    *meilisearch.Task
	Details json.RawMessage
}

// ShardLayout is where each shard lives.
type ShardLayout struct {
	Shards, Groups, ReplicationFactor int
	// Replicas[s][g] lists shard s's nodes in group g, rendezvous order.
	Replicas [][][]string
	// Healthy is the set of nodes currently marked healthy.
	Healthy map[string]bool
	// Stale[s] maps an index to its stale replicas of shard s (node IDs):
	// replicas that missed writes and serve no reads of that index.
	Stale map[int]map[string][]string
}

// Degradation is what made a call degraded: the shards of a write whose
// group missed quorum, and the shards a read could not reach.
type Degradation struct {
	Groups      []GroupShard
	Unavailable []int
}

// GroupShard names one shard inside one replica group.
type GroupShard struct{ Group, Shard int }
