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
	topo  *topology
	nodes []*node
	seq   atomic.Uint64 // round-robin over replica groups and replicas

	tasks *taskManager

	mu      sync.Mutex
	indexes map[string]*indexState // per-index cached state, see index_state.go

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

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
	c := &Cluster{opts: o, topo: topo, indexes: map[string]*indexState{}, closed: make(chan struct{})}
	base := o.httpClient
	if base == nil {
		base = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	for i, n := range nodes {
		key := n.APIKey
		if key == "" {
			key = o.apiKey
		}
		rc := retryablehttp.NewClient()
		rc.HTTPClient = base
		rc.Logger = nil
		rc.RetryMax = o.retry.Max
		rc.RetryWaitMin, rc.RetryWaitMax = o.retry.WaitMin, o.retry.WaitMax
		rc.CheckRetry = checkRetry
		rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
		mopts := []meilisearch.Option{meilisearch.WithCustomClient(base)}
		if key != "" {
			mopts = append(mopts, meilisearch.WithAPIKey(key))
		}
		nd := &node{
			idx: i, Node: n, key: key, base: strings.TrimRight(n.URL, "/"),
			client: meilisearch.New(n.URL, mopts...), http: rc, c: c,
		}
		nd.Node.APIKey = "" // keep the key in one place only
		nd.healthy.Store(true)
		c.nodes = append(c.nodes, nd)
	}
	c.tasks = newTaskManager(c)
	if o.healthInterval > 0 {
		c.wg.Add(1)
		go c.healthLoop()
	}
	return c, nil
}

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

// Close stops the health checks and other background work. Calls made
// after Close fail with ErrClosed.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.wg.Wait()
		if tr, ok := c.nodes[0].http.HTTPClient.Transport.(*http.Transport); ok && c.opts.httpClient == nil {
			tr.CloseIdleConnections()
		}
	})
}

func (c *Cluster) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// checkOpen returns ErrClosed after Close.
func (c *Cluster) checkOpen() error {
	if c.isClosed() {
		return fmt.Errorf("%w", ErrClosed)
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
			var wg sync.WaitGroup
			for _, n := range c.nodes {
				wg.Add(1)
				go func() { defer wg.Done(); n.probe(ctx) }()
			}
			wg.Wait()
		}
	}
}

// Topology returns a snapshot of the fleet: nodes, groups, health and the
// shard -> replicas map.
func (c *Cluster) Topology() Topology {
	return c.topo.snapshot(func(i int) bool { return c.nodes[i].isHealthy() })
}

func (c *Cluster) observe(nodeID, op string, d time.Duration, err error) {
	if c.opts.observer != nil {
		c.opts.observer.NodeRequest(nodeID, op, d, err)
	}
}

func (c *Cluster) nodeStateChanged(n *node, healthy bool) {
	c.opts.logger.Info("miroir: node state changed", "node", n.ID, "healthy", healthy)
	if !healthy {
		c.forgetVerified(n)
	}
	if c.opts.observer != nil {
		c.opts.observer.NodeStateChanged(n.ID, healthy)
	}
}

// fanout runs fn on every node of targets in parallel and returns the
// per-node errors (index-aligned with targets).
func (c *Cluster) fanout(ctx context.Context, targets []*node, fn func(ctx context.Context, n *node) error) []error {
	errs := make([]error, len(targets))
	if len(targets) == 1 {
		errs[0] = fn(ctx, targets[0])
		return errs
	}
	var wg sync.WaitGroup
	for i, n := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(ctx, n)
		}()
	}
	wg.Wait()
	return errs
}
