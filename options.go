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
	rfSet          bool // WithReplicationFactor was given (ChangeTopology's target RF)
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
	repairInterval time.Duration
	repairRate     int
	fleetRefresh   time.Duration
	fleetTasks     bool          // WithFleetTaskStore
	retention      TaskRetention // WithTaskRetention
	// Tests only: the clock of the task-uid lanes, and the lanes an
	// instance may claim ([lo, hi); zero: all).
	clock     func() time.Time
	laneRange [2]int

	// Tail latency (replica_select.go, hedge.go).
	selectReplicas bool
	hedging        bool
	hedgeFloor     time.Duration
	hedgeCap       time.Duration
	hedgeRatio     float64
	hedgeObserver  HedgeObserver // observer, when it implements HedgeObserver
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
		selectReplicas: true,
		hedging:        true,
		hedgeFloor:     2 * time.Millisecond,
		hedgeCap:       500 * time.Millisecond,
		hedgeRatio:     0.1,
		repairInterval: DefaultRepairInterval,
		repairRate:     DefaultRepairRate,
		fleetRefresh:   defaultFleetRefresh,
	}
}

// WithShards sets the shard count S of indexes this Cluster creates
// (default 64). It is recorded per index on the fleet; a Cluster with
// another count refuses to touch an existing index.
func WithShards(n int) Option { return func(o *options) { o.shards = n } }

// WithReplicationFactor sets RF, the copies of each shard inside every
// replica group (default 1).
func WithReplicationFactor(n int) Option { return func(o *options) { o.rf, o.rfSet = n, true } }

// WithAPIKey sets the key sent to nodes that have no Node.APIKey of their
// own; usually the fleet's shared master key.
func WithAPIKey(key string) Option { return func(o *options) { o.apiKey = key } }

// WithHTTPClient sets the HTTP client used toward nodes (its Transport is
// reused; timeouts come from WithNodeTimeout). Without it, a Cluster uses
// net/http's default transport keeping up to 64 idle connections per node
// instead of 2, so that concurrent calls reuse connections. A client given
// here should size its Transport's MaxIdleConnsPerHost likewise.
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
// The optional extensions (HedgeObserver, ...) are detected here, once.
func WithObserver(obs Observer) Option {
	return func(o *options) {
		o.observer = obs
		o.hedgeObserver, _ = obs.(HedgeObserver)
	}
}

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

// WithReplicaSelection turns adaptive replica selection on or off (default
// on). On, a read whose shard has several healthy replicas in its group
// goes to the one expected to answer first, from this Cluster's measured
// response times and outstanding requests per node; off, replicas take
// turns. Nodes measured alike keep taking turns either way.
func WithReplicaSelection(on bool) Option { return func(o *options) { o.selectReplicas = on } }

// WithHedging turns hedged reads on or off (default on). On, a node's part
// of a search (or a document read) that has not answered after the node's
// usual 95th percentile response time is sent once more to other replicas
// of the same shards; the first answer is used, the other canceled. Writes
// and document listings are never hedged.
func WithHedging(on bool) Option { return func(o *options) { o.hedging = on } }

// WithHedgeDelay bounds the wait before a read is hedged (default 2ms to
// 500ms): the node's estimated 95th percentile is raised to floor and
// lowered to ceiling. A node not measured yet waits as long as its measured
// peers' estimate, and ceiling when no node was measured.
// A zero or negative value keeps that bound's current setting.
func WithHedgeDelay(floor, ceiling time.Duration) Option {
	return func(o *options) {
		if floor > 0 {
			o.hedgeFloor = floor
		}
		if ceiling > 0 {
			o.hedgeCap = ceiling
		}
		if o.hedgeCap < o.hedgeFloor {
			o.hedgeCap = o.hedgeFloor
		}
	}
}

// WithHedgeBudget caps hedges at ratio of node reads (default 0.1: one
// hedge per 10 reads, after a burst of 10), so that a slow fleet is not
// flooded with duplicate reads. Reads past their node's 95th percentile
// are about 5% of reads; the default leaves room above that for the
// hedges that matter, those of a slow node's reads. ratio is clamped to
// [0, 1]; 0 allows only the initial burst.
func WithHedgeBudget(ratio float64) Option {
	return func(o *options) { o.hedgeRatio = min(max(ratio, 0), 1) }
}

// WithRepair sets how often the background repair looks for stale
// replicas and repairs their shards (default DefaultRepairInterval, 30s);
// 0 or less turns the background repair off (Cluster.Repair still works).
func WithRepair(interval time.Duration) Option {
	return func(o *options) { o.repairInterval = max(interval, 0) }
}

// WithRepairRate throttles the background repair to docsPerSecond
// documents copied or deleted per second, listing ten ids counting as one
// document (default DefaultRepairRate, 1000), so that it takes a bounded
// share of the nodes. 0 or less removes the throttle. Cluster.Repair is
// never throttled: its caller asked for it now.
func WithRepairRate(docsPerSecond int) Option {
	return func(o *options) { o.repairRate = docsPerSecond }
}

// WithFleetRefresh sets how often a Cluster re-reads the fleet's stale
// replica marks (DESIGN §12; default 5 s): the longest window in which
// this instance may still read a replica another instance marked stale,
// when it never saw that replica's node fail itself. A node that comes
// back from unhealthy serves no reads until the marks were re-read,
// whatever the interval. It is also how often the fleet's topology record
// is re-read and this instance's heartbeat renewed (DESIGN §13). 0 turns
// the periodic re-reads off: the instance reads the topology once at its
// first call and does not register, so a topology change neither waits
// for it nor reaches it, and its writes keep the placement it started
// with. Close such instances before changing the fleet's topology.
func WithFleetRefresh(d time.Duration) Option {
	return func(o *options) {
		if d >= 0 {
			o.fleetRefresh = d
		}
	}
}
