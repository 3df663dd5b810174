// Package miroir makes a fleet of ordinary Meilisearch nodes behave like
// one big Meilisearch. It shards every index across the nodes, replicates
// each shard, and merges results, behind the meilisearch-go interfaces: an
// application moves to a sharded, replicated fleet by changing the one
// call that builds its client.
//
//	// before: client := meilisearch.New(url, meilisearch.WithAPIKey(key))
//	client, err := miroir.New([]miroir.Node{
//		{ID: "a", URL: "http://10.0.0.1:7700"},
//		{ID: "b", URL: "http://10.0.0.2:7700"},
//		{ID: "c", URL: "http://10.0.0.3:7700"},
//	}, miroir.WithAPIKey(key))
//	var svc meilisearch.ServiceManager = client
//
// Documents are routed in-process by hashing their primary key to one of S
// shards (WithShards); each shard lives on RF nodes (WithReplicationFactor)
// of every replica group (Node.Group). Writes succeed by per-group quorum,
// reads scatter over a covering set of healthy replicas and merge to what
// one node holding every document would have answered. Cluster.Handler
// serves the same fleet over Meilisearch's REST API for other languages.
package miroir

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/meilisearch/meilisearch-go"
)

// Cluster is a fleet of Meilisearch nodes seen as one Meilisearch. It is
// safe for concurrent use. Close stops its background work.
type Cluster struct {
	opts  options
	hooks hooks // the Observer's optional interfaces (observe.go)
	// view is the topology the request path reads (placement.go): one
	// call loads it once. It changes when this instance follows another
	// record of the fleet's topology (topology_record.go).
	view   atomic.Pointer[topology]
	topoMu sync.Mutex // serializes following records
	// reg is the node registry, append-only (index = node index): every
	// node this instance knows, including nodes that left the fleet.
	regMu      sync.Mutex
	reg        []*node
	confNodes  []Node      // the node list New was given
	configured atomic.Bool // the fleet's record is that list
	follow     topoFollow
	hb         struct { // the last heartbeat written (topologyLoop only)
		seen int64
		at   time.Time
	}
	oldTopos []*topology                    // replaced, with writes maybe still pinned (under topoMu)
	driving  atomic.Pointer[TopologyChange] // progress of the change this instance drives
	seq      atomic.Uint64                  // round-robin over replica groups and replicas

	hedges hedgeBudget // hedged reads' token bucket, hedge.go

	tasks *taskManager
	lanes *laneManager // task-uid lanes held on the fleet, see lanes.go

	settingsOnce sync.Once
	settingsEng  *settingsEngine // see settingsTx

	states stateCache // per-index cached state, see index_state.go

	orderMu sync.Mutex
	orders  map[string]*indexOrder // per-index call order, see sequence.go

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup

	// unversioned makes document writes inject no _miroir_v: only the
	// benchmark measuring the field's cost sets it.
	unversioned bool

	marks      markView        // this instance's view of the stale marks, marks.go
	markStore  markStore       // where marks live on the fleet, marks_store.go
	replicaObs ReplicaObserver // the Observer, when it implements ReplicaObserver
	marksKick  chan struct{}   // asks marksLoop for a refresh now
	base       *http.Client    // the HTTP client every node's requests share
}

// The drop-in promise (DESIGN §4): a Cluster is a meilisearch.ServiceManager
// (and its Index a meilisearch.IndexManager, index.go).
var _ meilisearch.ServiceManager = (*Cluster)(nil)

// New builds a Cluster over nodes. It validates the topology (unique node
// IDs, groups numbered 0..RG-1, every group at least RF nodes, S >= 1,
// absolute http(s) URLs) but does not contact the nodes: it starts their
// background health checks and returns.
func New(nodes []Node, opts ...Option) (*Cluster, error) {
	o := defaultOptions()
	for _, fn := range opts {
		if fn != nil {
			fn(&o)
		}
	}
	topo, err := newTopology(nodes, o.shards, o.rf)
	if err != nil {
		e := newError(http.StatusBadRequest, "miroir_invalid_topology", "%s", err.Error())
		e.Err = err
		return nil, e
	}
	if o.taskStore != nil && o.fleetTasks {
		return nil, newError(http.StatusBadRequest, "miroir_invalid_options", "miroir: WithTaskStore and WithFleetTaskStore exclude each other")
	}
	c := &Cluster{opts: o, closed: make(chan struct{}), confNodes: slices.Clone(nodes)}
	c.follow.ready = make(chan struct{})
	c.configured.Store(true)
	if o.observer != nil {
		c.hooks = newHooks(o.observer)
	}
	c.states.indexes, c.states.mismatch = map[string]*indexState{}, map[string]error{}
	base := o.httpClient
	if base == nil {
		base = &http.Client{Transport: nodeTransport()}
	}
	c.base = base
	for i, n := range nodes {
		c.reg = append(c.reg, c.newNode(i, n))
	}
	reg := c.registry()
	ct := composeTopology(topo.nodes, reg, o.shards, layoutSpec{Nodes: publicNodes(nodes), RF: o.rf}, nil)
	c.view.Store(ct)
	c.lanes = newLaneManager(c)
	c.tasks = newTaskManager(c)
	c.markStore = &metaMarks{c: c}
	if ro, ok := o.observer.(ReplicaObserver); ok {
		c.replicaObs = ro
	}
	c.wg.Add(1)
	go c.lanes.loop()
	if o.healthInterval > 0 {
		c.wg.Add(1)
		go c.healthLoop()
	}
	if o.repairInterval > 0 {
		c.wg.Add(1)
		go c.repairLoop()
	}
	c.marksKick = make(chan struct{}, 1)
	c.wg.Add(1)
	go c.marksLoop()
	c.wg.Add(1)
	go c.topologyLoop()
	return c, nil
}

// newNode builds the client of node n at registry index i; a node without
// its own key uses the cluster-wide one.
func (c *Cluster) newNode(i int, n Node) *node {
	key := n.APIKey
	if key == "" {
		key = c.opts.apiKey
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = c.base
	rc.Logger = nil
	rc.RetryMax = c.opts.retry.Max
	rc.RetryWaitMin, rc.RetryWaitMax = c.opts.retry.WaitMin, c.opts.retry.WaitMax
	rc.CheckRetry = checkRetry
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	mopts := []meilisearch.Option{meilisearch.WithCustomClient(c.base)}
	if key != "" {
		mopts = append(mopts, meilisearch.WithAPIKey(key))
	}
	nd := &node{
		idx: i, Node: n, key: key, base: strings.TrimRight(n.URL, "/"),
		client: meilisearch.New(n.URL, mopts...), http: rc, c: c,
	}
	nd.Node.APIKey = "" // keep the key in one place only
	nd.healthy.Store(true)
	return nd
}

// topo returns the topology in force (one load per call: see view).
func (c *Cluster) topo() *topology { return c.view.Load() }

// members returns the nodes of the fleet: the current layout's and,
// during a change, the target's (broadcasts and fleet records reach them).
func (c *Cluster) members() []*node { return c.view.Load().members }

// slots is the size of node-indexed slices: the registry's length. Load
// the topology or members first, then size: the registry only grows.
func (c *Cluster) slots() int { return len(c.view.Load().clients) }

// node returns the node at registry index i.
func (c *Cluster) node(i int) *node { return c.view.Load().clients[i] }

// checkRetry retries only when the node gave no answer or said it is
// temporarily unavailable; every request miroir retries is idempotent
// (document writes are upserts by id).
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return true, nil
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, nil
	}
	return false, nil
}

// Close stops the health checks and other background work, and releases
// the task-uid lane this instance holds on the fleet (lanes.go) so that
// another instance may take it at once. Calls made after Close fail with
// ErrClosed.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.wg.Wait()
		// Releasing is best effort and bounded: a lane not released
		// expires with its windows.
		ctx, cancel := context.WithTimeout(context.Background(), min(c.opts.nodeTimeout, 2*time.Second))
		c.lanes.release(ctx)
		c.unregister(ctx)
		cancel()
		if tr, ok := c.base.Transport.(*http.Transport); ok && c.opts.httpClient == nil {
			tr.CloseIdleConnections()
		}
	})
}

// idleConnsPerNode is how many idle connections the default transport
// keeps per node. net/http keeps 2: a Cluster sends each node one request
// per concurrent call (fan-out), so past two concurrent calls every request
// opened a connection and closed it after, which costs a handshake per
// request and piles up sockets in TIME_WAIT under load.
const idleConnsPerNode = 64

// nodeTransport is the transport of a Cluster built without
// WithHTTPClient: net/http's default, keeping idleConnsPerNode idle
// connections per node and no overall limit (the fleet's size bounds it).
func nodeTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = idleConnsPerNode
	return tr
}

func (c *Cluster) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// checkOpen returns ErrClosed after Close. Before that, it waits for the
// first read of the fleet's recorded topology (bounded by the node
// timeout, as that read is), so that no call uses the configured node
// list of a fleet that moved (DESIGN §13).
func (c *Cluster) checkOpen() error {
	if c.isClosed() {
		return fmt.Errorf("%w", ErrClosed)
	}
	select {
	case <-c.follow.ready:
	default:
		t := time.NewTimer(c.opts.nodeTimeout)
		defer t.Stop()
		select {
		case <-c.follow.ready:
		case <-c.closed:
			return fmt.Errorf("%w", ErrClosed)
		case <-t.C:
		}
	}
	return nil
}

func (c *Cluster) healthLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.opts.healthInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.closed
		cancel()
	}()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
			c.probeAll(ctx)
		}
	}
}

// Topology returns a snapshot of the fleet: nodes, groups, health and the
// shard -> replicas map.
func (c *Cluster) Topology() Topology {
	top := c.topo()
	t := top.snapshot(func(i int) bool { return top.clients[i].isHealthy() })
	t.Stale = c.staleList()
	t.Configured = c.configured.Load()
	t.Change = c.changeProgress(top)
	return t
}

func (c *Cluster) observe(nodeID, op string, d time.Duration, err error) {
	if c.opts.observer != nil {
		c.opts.observer.NodeRequest(nodeID, op, d, err)
	}
}

func (c *Cluster) nodeStateChanged(n *node, healthy bool) {
	c.opts.logger.Info("miroir: node state changed", "node", n.ID, "healthy", healthy)
	if !healthy {
		c.states.forgetNode(n.idx)
	} else {
		c.nodeCameBack(n)
	}
	if c.opts.observer != nil {
		c.opts.observer.NodeStateChanged(n.ID, healthy)
	}
}

// ---- ServiceManager: cluster-wide calls ----

// ServiceReader returns the Cluster as a meilisearch.ServiceReader.
func (c *Cluster) ServiceReader() meilisearch.ServiceReader { return c }

// TaskManager returns the Cluster as a meilisearch.TaskManager.
func (c *Cluster) TaskManager() meilisearch.TaskManager { return c }

// TaskReader returns the Cluster as a meilisearch.TaskReader.
func (c *Cluster) TaskReader() meilisearch.TaskReader { return c }

// KeyManager returns the Cluster as a meilisearch.KeyManager.
func (c *Cluster) KeyManager() meilisearch.KeyManager { return c }

// KeyReader returns the Cluster as a meilisearch.KeyReader.
func (c *Cluster) KeyReader() meilisearch.KeyReader { return c }

// SearchRulesManager returns the Cluster as a
// meilisearch.SearchRulesManager (see unsupported.go).
func (c *Cluster) SearchRulesManager() meilisearch.SearchRulesManager { return c }

// SearchRulesReader returns the Cluster as a meilisearch.SearchRulesReader.
func (c *Cluster) SearchRulesReader() meilisearch.SearchRulesReader { return c }

// ChatManager returns the Cluster as a meilisearch.ChatManager (every
// method unsupported).
func (c *Cluster) ChatManager() meilisearch.ChatManager { return c }

// ChatReader returns the Cluster as a meilisearch.ChatReader.
func (c *Cluster) ChatReader() meilisearch.ChatReader { return c }

// WebhookManager returns the Cluster as a meilisearch.WebhookManager
// (every method unsupported).
func (c *Cluster) WebhookManager() meilisearch.WebhookManager { return c }

// WebhookReader returns the Cluster as a meilisearch.WebhookReader.
func (c *Cluster) WebhookReader() meilisearch.WebhookReader { return c }

// Version returns the version of one healthy node.
func (c *Cluster) Version(ctx context.Context) (_ *meilisearch.Version, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "version", "")
		defer func() { cs.end(err) }()
	}
	var v meilisearch.Version
	err = c.oneNode(ctx, func(n *node) error {
		return n.doJSON(ctx, "version", http.MethodGet, "/version", nil, nil, &v)
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// shardsWithoutHealthyReplica lists the shards with no healthy replica in
// any group, or, for some index, no healthy replica in sync (DESIGN §12).
func (c *Cluster) shardsWithoutHealthyReplica() []int {
	uids := c.indexesWithMarks()
	var out []int
	t := c.topo()
	for s := range t.shards {
		ok := false
		for _, ni := range t.writeTargets(s) {
			if t.clients[ni].isHealthy() {
				ok = true
				break
			}
		}
		for _, uid := range uids {
			if !ok {
				break
			}
			ok = slices.ContainsFunc(t.writeTargets(s), func(ni int) bool {
				return t.clients[ni].isHealthy() && !c.isStale(uid, s, ni)
			})
		}
		if !ok {
			out = append(out, s)
		}
	}
	return out
}

// Health probes every node now and reports the fleet available when every
// shard has a healthy replica somewhere; otherwise it fails with
// miroir_shard_unavailable listing the shards.
func (c *Cluster) Health(ctx context.Context) (*meilisearch.Health, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	c.probeAll(ctx)
	if bad := c.shardsWithoutHealthyReplica(); len(bad) > 0 {
		return nil, shardUnavailableError(bad)
	}
	return &meilisearch.Health{Status: "available"}, nil
}

// IsHealthy reports, from the nodes' current health marks (no request),
// whether every shard has a healthy replica somewhere.
func (c *Cluster) IsHealthy() bool {
	return !c.isClosed() && len(c.shardsWithoutHealthyReplica()) == 0
}

// CreateDump makes every node dump its own data (its shards); one cluster
// task covers them. Restoring means restoring every node from its own dump.
func (c *Cluster) CreateDump(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return c.globalBroadcast(ctx, "createDump", "/dumps", meilisearch.TaskTypeDumpCreation)
}

// CreateSnapshot makes every node snapshot its own data; one cluster task.
func (c *Cluster) CreateSnapshot(ctx context.Context) (*meilisearch.TaskInfo, error) {
	return c.globalBroadcast(ctx, "createSnapshot", "/snapshots", meilisearch.TaskTypeSnapshotCreation)
}

// RenderTemplate renders on one healthy node; a template rendered against
// one document of an index (input kind indexDocument) goes to a replica of
// that document's shard.
func (c *Cluster) RenderTemplate(ctx context.Context, params *meilisearch.RenderTemplateParams) (_ *meilisearch.RenderTemplateResponse, err error) {
	if c.hooks.calls != nil { // a cluster call (observe.go)
		var cs *callState
		ctx, cs = c.beginCall(ctx, "renderTemplate", "")
		defer func() { cs.end(err) }()
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	var out meilisearch.RenderTemplateResponse
	call := func(n *node) error {
		return n.doJSON(ctx, "renderTemplate", http.MethodPost, "/render-template", nil, params, &out)
	}
	if params != nil && params.Input != nil && params.Input.Kind == meilisearch.IndexDocument && params.Input.IndexUID != nil && params.Input.ID != nil {
		st, err := c.state(ctx, *params.Input.IndexUID)
		if err != nil {
			return nil, err
		}
		var last error
		for _, n := range c.readReplicas(*params.Input.IndexUID, ShardOf(*params.Input.ID, st.shards)) {
			if last = call(n); last == nil {
				return &out, nil
			}
			if !isTransportError(last) {
				return nil, last
			}
		}
		return nil, last
	}
	if err := c.oneNode(ctx, call); err != nil {
		return nil, err
	}
	return &out, nil
}
