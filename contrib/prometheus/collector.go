// Package miroirprometheus exports a miroir Cluster's activity as
// Prometheus metrics: a prometheus.Collector fed by miroir's Observer
// events, which the caller registers on a registry of their own.
//
//	col := miroirprometheus.NewCollector(miroirprometheus.WithIndexes("movies", "books"))
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(col)
//	cluster, _ := miroir.New(nodes, miroir.WithObserver(col))
//	col.SetCluster(cluster) // node health read at scrape time
//	handler := cluster.Handler(miroir.WithMetricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
//
// Metric names follow the original miroir proxy: per cluster call
// miroir_request_duration_seconds, miroir_requests_total,
// miroir_requests_in_flight, miroir_degraded_requests_total and
// miroir_no_quorum_requests_total (labels operation, index, outcome), plus
// per node, replica, repair, hedge and settings figures (see NewCollector).
//
// Cardinality is bounded: the operation label comes from miroir's closed
// set, outcome from five values, node from the fleet's node IDs, and index
// from the names given to WithIndexes or else the first WithMaxIndexes
// distinct names seen ("other" beyond). No label ever carries a document
// id, a query or a key.
package miroirprometheus

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/miroirsearch/miroir"
	"github.com/prometheus/client_golang/prometheus"
)

// OtherIndex is the index label of indexes beyond the bounded set.
const OtherIndex = "other"

// DefaultMaxIndexes is how many distinct index names get their own label
// when WithIndexes is not given.
const DefaultMaxIndexes = 32

// Option configures a Collector.
type Option func(*config)

type config struct {
	indexes    map[string]bool // nil: the first maxIndexes seen
	maxIndexes int
	buckets    []float64
	nodeBucket []float64
	namespace  string
}

// WithIndexes makes only these index names labels of their own; every
// other index is counted under "other".
func WithIndexes(names ...string) Option {
	return func(c *config) {
		c.indexes = map[string]bool{}
		for _, n := range names {
			c.indexes[n] = true
		}
	}
}

// WithMaxIndexes bounds the index label to the first n distinct names seen
// (default DefaultMaxIndexes); later ones count as "other". Ignored with
// WithIndexes.
func WithMaxIndexes(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxIndexes = n
		}
	}
}

// WithBuckets sets the histogram buckets of call durations, in seconds
// (default prometheus.DefBuckets).
func WithBuckets(b []float64) Option { return func(c *config) { c.buckets = b } }

// WithNodeBuckets sets the histogram buckets of node request durations
// (default prometheus.DefBuckets).
func WithNodeBuckets(b []float64) Option { return func(c *config) { c.nodeBucket = b } }

// Collector is a prometheus.Collector and a miroir.Observer (with the
// CallObserver, SettingsObserver, HedgeObserver and ReplicaObserver
// extensions). Give it to miroir.New with miroir.WithObserver (or in
// miroir.Observers with other observers) and register it on a registry.
// It is safe for concurrent use.
type Collector struct {
	cfg config

	duration    *prometheus.HistogramVec
	requests    *prometheus.CounterVec
	inFlight    *prometheus.GaugeVec
	degraded    *prometheus.CounterVec
	noQuorum    *prometheus.CounterVec
	nodeReqs    *prometheus.CounterVec
	nodeErrs    *prometheus.CounterVec
	nodeLatency *prometheus.HistogramVec
	nodeHealthy *prometheus.GaugeVec
	nodeChanges *prometheus.CounterVec
	unavailable *prometheus.CounterVec
	degradedWr  *prometheus.CounterVec
	stale       *prometheus.GaugeVec
	repairCopy  *prometheus.CounterVec
	repairDel   *prometheus.CounterVec
	hedgesSent  *prometheus.CounterVec
	hedgesWon   *prometheus.CounterVec
	rollbacks   *prometheus.CounterVec
	// topology change (DESIGN §13): the epoch, and the progress of the
	// change this instance drives
	epoch, moving, moved, copiedDocs, copiedBytes prometheus.Gauge

	mu         sync.Mutex
	seen       map[string]bool     // index names with a label of their own
	staleSet   map[staleKey]string // stale replicas -> their index label
	topology   func() miroir.Topology
	healthSeen map[string]bool // nodes whose health came from an event
}

type staleKey struct {
	index, node string
	shard       int
}

var (
	_ prometheus.Collector    = (*Collector)(nil)
	_ miroir.Observer         = (*Collector)(nil)
	_ miroir.CallObserver     = (*Collector)(nil)
	_ miroir.SettingsObserver = (*Collector)(nil)
	_ miroir.HedgeObserver    = (*Collector)(nil)
	_ miroir.ReplicaObserver  = (*Collector)(nil)
	_ miroir.TopologyObserver = (*Collector)(nil)
)

// NewCollector returns a Collector with these metrics (all prefixed
// miroir_):
//
//	request_duration_seconds{operation,index,outcome}  histogram, per cluster call
//	requests_total{operation,index,outcome}            counter
//	requests_in_flight{operation,index}                gauge
//	degraded_requests_total{operation,index}           counter (outcome degraded)
//	no_quorum_requests_total{operation,index}          counter (outcome no_quorum)
//	node_requests_total{node,operation}                counter, per node request
//	node_errors_total{node,operation}                  counter, failed node requests
//	node_request_duration_seconds{node}                histogram
//	node_healthy{node}                                 gauge, 1 healthy / 0 down
//	node_state_changes_total{node,healthy}             counter
//	unavailable_shards_total{index}                    counter, shards a read missed
//	degraded_writes_total{index}                       counter, (group, shard) pairs short of quorum
//	stale_replicas{index}                              gauge, replicas marked stale
//	repair_documents_copied_total{index}               counter
//	repair_documents_deleted_total{index}              counter
//	hedges_sent_total{index}                           counter
//	hedges_won_total{index}                            counter
//	settings_rollbacks_total{index}                    counter
//	topology_epoch                                     gauge, the recorded epoch followed (with SetCluster)
//	topology_change_shards_moving                      gauge, shards moving in the change driven here
//	topology_change_shards_done                        gauge, of them cut over
//	topology_change_documents_copied                   gauge, documents backfilled so far
//	topology_change_bytes_copied                       gauge, bytes backfilled so far
func NewCollector(opts ...Option) *Collector {
	cfg := config{maxIndexes: DefaultMaxIndexes, buckets: prometheus.DefBuckets, nodeBucket: prometheus.DefBuckets, namespace: "miroir"}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ns := cfg.namespace
	call := []string{"operation", "index", "outcome"}
	opIdx := []string{"operation", "index"}
	idx := []string{"index"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help})
	}
	return &Collector{
		cfg: cfg,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "request_duration_seconds",
			Help: "Duration of cluster calls (one public Cluster or Index method), by operation, index and outcome.", Buckets: cfg.buckets}, call),
		requests: counter("requests_total", "Cluster calls, by operation, index and outcome (ok, degraded, no_quorum, unavailable, error).", call),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "requests_in_flight",
			Help: "Cluster calls in progress."}, opIdx),
		degraded:    counter("degraded_requests_total", "Cluster calls that succeeded with reduced redundancy or coverage.", opIdx),
		noQuorum:    counter("no_quorum_requests_total", "Writes that failed for lack of quorum.", opIdx),
		nodeReqs:    counter("node_requests_total", "Requests sent to each node, by miroir's request name.", []string{"node", "operation"}),
		nodeErrs:    counter("node_errors_total", "Node requests that failed (no answer or an error answer).", []string{"node", "operation"}),
		nodeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "node_request_duration_seconds", Help: "Duration of node requests.", Buckets: cfg.nodeBucket}, []string{"node"}),
		nodeHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "node_healthy", Help: "1 when the node is marked healthy, 0 when down."}, []string{"node"}),
		nodeChanges: counter("node_state_changes_total", "Health changes of each node.", []string{"node", "healthy"}),
		unavailable: counter("unavailable_shards_total", "Shards reads could not reach (summed over reads).", idx),
		degradedWr:  counter("degraded_writes_total", "(group, shard) pairs of writes that missed their group's quorum.", idx),
		stale:       prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "stale_replicas", Help: "Replicas currently marked stale (missed a write), per index."}, idx),
		repairCopy:  counter("repair_documents_copied_total", "Documents copied by replica repair.", idx),
		repairDel:   counter("repair_documents_deleted_total", "Documents deleted by replica repair.", idx),
		hedgesSent:  counter("hedges_sent_total", "Hedged reads sent to a second replica.", idx),
		hedgesWon:   counter("hedges_won_total", "Hedged reads whose hedge answered first.", idx),
		rollbacks:   counter("settings_rollbacks_total", "Settings transactions rolled back.", idx),
		epoch:       gauge("topology_epoch", "The fleet's recorded topology epoch this instance follows."),
		moving:      gauge("topology_change_shards_moving", "Shards whose replica set changes in the topology change this instance drives (0: none)."),
		moved:       gauge("topology_change_shards_done", "Shards of that change cut over to their new replicas."),
		copiedDocs:  gauge("topology_change_documents_copied", "Documents backfilled to new replicas by that change."),
		copiedBytes: gauge("topology_change_bytes_copied", "Bytes backfilled to new replicas by that change."),
		seen:        map[string]bool{},
		staleSet:    map[staleKey]string{},
		healthSeen:  map[string]bool{},
	}
}

// SetCluster makes the collector read each node's health from the
// Cluster's Topology at scrape time (without it, node_healthy follows the
// NodeStateChanged events only, so a node that never changed is absent).
func (c *Collector) SetCluster(cl *miroir.Cluster) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl == nil {
		c.topology = nil
		return
	}
	c.topology = cl.Topology
}

func (c *Collector) all() []prometheus.Collector {
	return []prometheus.Collector{c.duration, c.requests, c.inFlight, c.degraded, c.noQuorum,
		c.nodeReqs, c.nodeErrs, c.nodeLatency, c.nodeHealthy, c.nodeChanges, c.unavailable, c.degradedWr,
		c.stale, c.repairCopy, c.repairDel, c.hedgesSent, c.hedgesWon, c.rollbacks,
		c.epoch, c.moving, c.moved, c.copiedDocs, c.copiedBytes}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.all() {
		m.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	topo := c.topology
	c.mu.Unlock()
	if topo != nil {
		t := topo()
		c.epoch.Set(float64(t.Epoch))
		for _, n := range t.Nodes {
			c.nodeHealthy.WithLabelValues(n.ID).Set(boolFloat(n.Healthy))
		}
	}
	for _, m := range c.all() {
		m.Collect(ch)
	}
}

// indexLabel bounds the index label (see WithIndexes, WithMaxIndexes).
func (c *Collector) indexLabel(index string) string {
	if c.cfg.indexes != nil {
		if c.cfg.indexes[index] {
			return index
		}
		return OtherIndex
	}
	if index == "" {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[index] {
		return index
	}
	if len(c.seen) < c.cfg.maxIndexes {
		c.seen[index] = true
		return index
	}
	return OtherIndex
}

// CallStarted implements miroir.CallObserver.
func (c *Collector) CallStarted(ctx context.Context, call miroir.CallInfo) context.Context {
	c.inFlight.WithLabelValues(call.Operation, c.indexLabel(call.Index)).Inc()
	return ctx
}

// CallFinished implements miroir.CallObserver.
func (c *Collector) CallFinished(_ context.Context, call miroir.CallInfo, res miroir.CallResult) {
	ix := c.indexLabel(call.Index)
	c.inFlight.WithLabelValues(call.Operation, ix).Dec()
	out := string(res.Outcome)
	c.requests.WithLabelValues(call.Operation, ix, out).Inc()
	c.duration.WithLabelValues(call.Operation, ix, out).Observe(res.Duration.Seconds())
	switch res.Outcome {
	case miroir.OutcomeDegraded:
		c.degraded.WithLabelValues(call.Operation, ix).Inc()
	case miroir.OutcomeNoQuorum:
		c.noQuorum.WithLabelValues(call.Operation, ix).Inc()
	}
}

// NodeRequest implements miroir.Observer.
func (c *Collector) NodeRequest(nodeID, op string, d time.Duration, err error) {
	c.nodeReqs.WithLabelValues(nodeID, op).Inc()
	if err != nil {
		c.nodeErrs.WithLabelValues(nodeID, op).Inc()
	}
	c.nodeLatency.WithLabelValues(nodeID).Observe(d.Seconds())
}

// NodeStateChanged implements miroir.Observer.
func (c *Collector) NodeStateChanged(nodeID string, healthy bool) {
	c.nodeHealthy.WithLabelValues(nodeID).Set(boolFloat(healthy))
	c.nodeChanges.WithLabelValues(nodeID, strconv.FormatBool(healthy)).Inc()
}

// DegradedWrite implements miroir.Observer.
func (c *Collector) DegradedWrite(index string, pairs []miroir.GroupShard) {
	c.degradedWr.WithLabelValues(c.indexLabel(index)).Add(float64(len(pairs)))
}

// UnavailableShards implements miroir.Observer.
func (c *Collector) UnavailableShards(index string, shards []int) {
	c.unavailable.WithLabelValues(c.indexLabel(index)).Add(float64(len(shards)))
}

// SettingsRolledBack implements miroir.SettingsObserver.
func (c *Collector) SettingsRolledBack(index string) {
	c.rollbacks.WithLabelValues(c.indexLabel(index)).Inc()
}

// HedgeSent implements miroir's HedgeObserver.
func (c *Collector) HedgeSent(index, _, _ string) {
	c.hedgesSent.WithLabelValues(c.indexLabel(index)).Inc()
}

// HedgeWon implements miroir's HedgeObserver.
func (c *Collector) HedgeWon(index, _ string) {
	c.hedgesWon.WithLabelValues(c.indexLabel(index)).Inc()
}

// ReplicaStale implements miroir's ReplicaObserver: the replica counts as
// stale until ReplicaInSync (repeated marks count once).
func (c *Collector) ReplicaStale(index string, shard int, nodeID string) {
	ix := c.indexLabel(index)
	c.mu.Lock()
	defer c.mu.Unlock()
	k := staleKey{index, nodeID, shard}
	if _, ok := c.staleSet[k]; ok {
		return
	}
	c.staleSet[k] = ix
	c.stale.WithLabelValues(ix).Inc()
}

// ReplicaInSync implements miroir's ReplicaObserver.
func (c *Collector) ReplicaInSync(index string, shard int, nodeID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := staleKey{index, nodeID, shard}
	ix, ok := c.staleSet[k]
	if !ok {
		return
	}
	delete(c.staleSet, k)
	c.stale.WithLabelValues(ix).Dec()
}

// RepairCopied implements miroir's ReplicaObserver.
func (c *Collector) RepairCopied(index string, _ int, _ string, copied, deleted int) {
	ix := c.indexLabel(index)
	c.repairCopy.WithLabelValues(ix).Add(float64(copied))
	c.repairDel.WithLabelValues(ix).Add(float64(deleted))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TopologyProgress implements miroir's TopologyObserver: the progress of a
// topology change this instance drives (the gauges drop to 0 at its end).
func (c *Collector) TopologyProgress(p miroir.TopologyChange) {
	if p.Phase == miroir.PhaseDone {
		c.epoch.Set(float64(p.Epoch))
		c.moving.Set(0)
		c.moved.Set(0)
		return
	}
	c.moving.Set(float64(p.ShardsMoving))
	c.moved.Set(float64(p.ShardsDone))
	c.copiedDocs.Set(float64(p.DocumentsCopied))
	c.copiedBytes.Set(float64(p.BytesCopied))
}
