package miroir

import (
	"log/slog"
	"net/http"
	"time"
)

// Option configures a Cluster in New.
type Option func(*options)

// UnavailableShardPolicy says what a read does when some shard has no
// healthy replica anywhere.
type UnavailableShardPolicy int

const (
	// Partial answers from the shards that are available and reports the
	// missing ones in the Report and to the Observer. It is the default.
	Partial UnavailableShardPolicy = iota
	// FailFast fails the read with ErrShardUnavailable.
	FailFast
)

// SettingsStrategy says how a settings change is rolled out (DESIGN §7).
type SettingsStrategy int

const (
	// Sequential applies the change node by node, verifying each before the
	// next; a failure rolls back only the nodes already changed. Default.
	Sequential SettingsStrategy = iota
	// Parallel applies the change everywhere at once, then verifies, rolling
	// every node back on failure. Faster, larger blast radius.
	Parallel
)

// RetryPolicy configures retries toward nodes (go-retryablehttp). Only
// idempotent requests and connection failures are retried.
type RetryPolicy struct {
	Max     int           // retries after the first attempt; 0 disables
	WaitMin time.Duration // first backoff
	WaitMax time.Duration // backoff cap
}

type options struct {
	shards         int
	rf             int
	apiKey         string
	httpClient     *http.Client
	nodeTimeout    time.Duration
	retry          RetryPolicy
	logger         *slog.Logger
	taskStore      TaskStore
	observer       Observer
	policy         UnavailableShardPolicy
	healthInterval time.Duration
	healthTimeout  time.Duration
	failThreshold  int
	okThreshold    int
	overFetch      float64
	settings       SettingsStrategy
	settingsWait   time.Duration
	batchBytes     int
	fleetTasks     bool          // WithFleetTaskStore
	retention      TaskRetention // WithTaskRetention
	// Tests only: the clock of the task-uid lanes, and the lanes an
	// instance may claim ([lo, hi); zero: all).
	clock     func() time.Time
	laneRange [2]int
}

func defaultOptions() options {
	return options{
		shards:         64,
		rf:             1,
		nodeTimeout:    10 * time.Second,
		retry:          RetryPolicy{Max: 2, WaitMin: 50 * time.Millisecond, WaitMax: 500 * time.Millisecond},
		logger:         slog.New(slog.DiscardHandler),
		healthInterval: time.Second,
		healthTimeout:  time.Second,
		failThreshold:  2,
		okThreshold:    1,
		overFetch:      1,
		batchBytes:     8 << 20,
	}
}

// WithShards sets the shard count S of indexes this Cluster creates
// (default 64). It is recorded per index on the fleet; a Cluster with
// another count refuses to touch an existing index.
func WithShards(n int) Option { return func(o *options) { o.shards = n } }

// WithReplicationFactor sets RF, the copies of each shard inside every
// replica group (default 1).
func WithReplicationFactor(n int) Option { return func(o *options) { o.rf = n } }

// WithAPIKey sets the key sent to nodes that have no Node.APIKey of their
// own; usually the fleet's shared master key.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithHTTPClient sets the HTTP client used toward nodes (its Transport is
// reused; timeouts come from WithNodeTimeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithNodeTimeout bounds each request to one node (default 10s).
func WithNodeTimeout(d time.Duration) Option { return func(o *options) { o.nodeTimeout = d } }

// WithRetries sets retries with exponential backoff toward nodes (default 2
// retries, 50ms..500ms). RetryPolicy{} disables retries.
func WithRetries(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithLogger sets the structured logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTaskStore sets where cluster tasks are kept (default: a bounded
// in-memory store). Share one store between app instances so that any of
// them can answer GetTask for a write another made.
func WithTaskStore(s TaskStore) Option { return func(o *options) { o.taskStore = s } }

// WithFleetTaskStore keeps cluster tasks on the fleet itself, in the
// reserved index miroir_tasks on every node (taskstore_fleet.go), instead
// of in this instance's memory: any instance sharing the fleet answers
// GetTask, GetTasks, WaitForTask, CancelTasks and DeleteTasks for a task
// another instance created, and a restarted instance still knows its
// tasks. Each registration or change of a task costs one more node
// request (and node task) per node, batched across concurrent writes; see
// the README for the measured cost. It excludes WithTaskStore.
func WithFleetTaskStore() Option { return func(o *options) { o.fleetTasks = true } }

// WithTaskRetention bounds the default task store and the fleet task
// store (default: DefaultTaskStoreSize tasks, finished tasks kept
// DefaultTaskMaxAge). A store given with WithTaskStore bounds itself.
func WithTaskRetention(r TaskRetention) Option { return func(o *options) { o.retention = r } }

// withClock sets the clock of the task-uid lanes (tests).
func withClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// withLaneRange restricts the lanes an instance may claim to [lo, hi)
// (tests: make instances compete for few lanes).
func withLaneRange(lo, hi int) Option { return func(o *options) { o.laneRange = [2]int{lo, hi} } }

// WithObserver sets the hook called on degraded writes, unavailable
// shards, node state changes and per-node request outcomes.
func WithObserver(obs Observer) Option { return func(o *options) { o.observer = obs } }

// WithUnavailableShardPolicy sets what reads do when a shard has no healthy
// replica (default Partial).
func WithUnavailableShardPolicy(p UnavailableShardPolicy) Option {
	return func(o *options) { o.policy = p }
}

// WithHealthCheck sets the background health check: every interval each
// node's /health is probed with the given timeout; a node is marked down
// after failThreshold consecutive failures and up again after okThreshold
// successes. interval <= 0 disables the background check (passive marking
// on request failures still works).
func WithHealthCheck(interval, timeout time.Duration, failThreshold, okThreshold int) Option {
	return func(o *options) {
		o.healthInterval, o.healthTimeout = interval, timeout
		if failThreshold > 0 {
			o.failThreshold = failThreshold
		}
		if okThreshold > 0 {
			o.okThreshold = okThreshold
		}
	}
}

// WithOverFetch multiplies the per-node limit of vector and hybrid searches
// to recover recall lost to approximate per-node search (default 1).
func WithOverFetch(factor float64) Option {
	return func(o *options) {
		if factor >= 1 {
			o.overFetch = factor
		}
	}
}

// WithSettingsStrategy chooses how settings changes roll out (default
// Sequential).
func WithSettingsStrategy(s SettingsStrategy) Option { return func(o *options) { o.settings = s } }

// WithSettingsTimeout bounds how long a settings transaction waits for one
// node's settings task (applying or restoring) before it counts as failed
// and the transaction rolls back (default 10 minutes: a settings change
// re-indexes, which takes long on a large index).
func WithSettingsTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.settingsWait = d
		}
	}
}

// WithBatchBytes bounds the bytes buffered per node when streaming a reader
// source (default 8 MiB); memory use of a streamed import is proportional
// to it, not to the input size.
func WithBatchBytes(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.batchBytes = n
		}
	}
}
