// Package meilitest is an in-process, Meilisearch-compatible HTTP server for
// tests: what miniredis is to Redis. It speaks Meilisearch's REST API closely
// enough that the official clients work against it unchanged, keeps every
// index in memory, processes writes as asynchronous tasks with real status
// transitions, and offers fault injection (stop/start on the same address,
// latency, failing requests or tasks, pausing the task queue) so code that
// talks to a fleet of Meilisearch nodes can be tested without Docker.
//
//	srv := meilitest.RunT(t)
//	client := meilisearch.New(srv.URL())
//
// A document's ranking score depends only on the query and that document,
// never on the rest of the index, so scores from different servers holding
// different documents are comparable.
package meilitest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	masterKey    string
	addr         string
	taskDuration time.Duration
}

// DefaultTaskDuration is the least time a task takes from enqueueing to its
// end unless WithTaskDuration says otherwise: about the cost of a small
// Meilisearch batch (scheduler wake-up, write transaction, commit), so a
// client that reads a task right after enqueueing it sees it enqueued or
// processing, never already succeeded.
const DefaultTaskDuration = 10 * time.Millisecond

// WithTaskDuration sets the least time between a task's enqueueing and its
// end (default DefaultTaskDuration); 0 lets tasks finish as fast as the
// fake can run them. Tasks enqueued together still finish together.
func WithTaskDuration(d time.Duration) Option { return func(c *config) { c.taskDuration = d } }

// WithMasterKey protects the server with a master key, as Meilisearch's
// --master-key does. Without it every route is open.
func WithMasterKey(key string) Option { return func(c *config) { c.masterKey = key } }

// WithAddr makes the server listen on addr (host:port) instead of a random
// port on 127.0.0.1.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// Server is one in-process Meilisearch node. All methods are safe for
// concurrent use, including the fault-injection ones while traffic flows.
type Server struct {
	cfg config

	mu      sync.RWMutex // guards indexes and the data inside them
	indexes map[string]*index

	tasks *taskQueue
	keys  *keyStore

	faultMu     sync.Mutex
	latency     time.Duration
	failures    []*requestFault
	taskFaults  []*taskFault
	nextFaultID int
	features    map[string]bool // experimental features, guarded by faultMu

	// Instance-level state outside the indexes (cmd_webhooks.go,
	// cmd_network.go, cmd_chats.go, cmd_search_rules.go), guarded by metaMu.
	metaMu   sync.Mutex
	webhooks map[string]*webhook
	network  networkState
	chats    map[string]*chatSettings
	dsrs     map[string]*searchRule
	hookWG   sync.WaitGroup // webhook notifications in flight

	lifeMu  sync.Mutex
	addr    string
	ln      net.Listener
	httpSrv *http.Server
	running bool
	closed  bool
	mux     *http.ServeMux
	started time.Time
}

// NewServer starts a server listening on 127.0.0.1 at a random port (or the
// address given with WithAddr).
func NewServer(opts ...Option) (*Server, error) {
	s := &Server{indexes: map[string]*index{}, started: time.Now()}
	s.cfg.taskDuration = DefaultTaskDuration
	for _, o := range opts {
		o(&s.cfg)
	}
	s.keys = newKeyStore(s.cfg.masterKey)
	s.tasks = newTaskQueue(s)
	s.tasks.minDuration = s.cfg.taskDuration
	s.mux = http.NewServeMux()
	s.routes()
	addr := s.cfg.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	s.tasks.start()
	return s, nil
}

// RunT starts a server and closes it when the test ends. It fails the test
// if the server cannot start.
func RunT(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("meilitest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// RunCluster starts n independent servers (a fleet of nodes) and closes them
// when the test ends.
func RunCluster(t testing.TB, n int, opts ...Option) []*Server {
	t.Helper()
	out := make([]*Server, n)
	for i := range out {
		out[i] = RunT(t, opts...)
	}
	return out
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234. It stays the
// same across Stop and Start.
func (s *Server) URL() string { return "http://" + s.addr }

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// Handler returns the server's HTTP handler, for mounting it elsewhere or
// calling it with httptest without a socket.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	s.lifeMu.Lock()
	s.ln, s.httpSrv, s.running = ln, srv, true
	s.lifeMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop makes the node unreachable: the port refuses connections, open
// connections are cut and task processing halts. Data is kept for Start.
func (s *Server) Stop() {
	s.lifeMu.Lock()
	srv := s.httpSrv
	running := s.running
	s.running = false
	s.httpSrv, s.ln = nil, nil
	s.lifeMu.Unlock()
	if !running {
		return
	}
	_ = srv.Close()
	s.tasks.setStopped(true)
}

// Start serves again on the same address with the same data after Stop.
func (s *Server) Start() error {
	s.lifeMu.Lock()
	if s.running || s.closed {
		s.lifeMu.Unlock()
		if s.closed {
			return errors.New("meilitest: server closed")
		}
		return nil
	}
	s.lifeMu.Unlock()
	var ln net.Listener
	var err error
	// The kernel may hold the port briefly after Close; retry for a moment.
	for i := 0; i < 50; i++ {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	s.serve(ln)
	s.tasks.setStopped(false)
	return nil
}

// Close stops the server for good and ends its goroutines.
func (s *Server) Close() {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return
	}
	s.closed = true
	s.lifeMu.Unlock()
	s.Stop()
	s.tasks.close()
	s.hookWG.Wait()
}

// Running reports whether the server currently accepts connections.
func (s *Server) Running() bool {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.running
}

// serveHTTP applies injected faults, auth, then routes.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if enc := negotiateEncoding(r); enc != "" {
		cw := &compressWriter{ResponseWriter: w, enc: enc}
		defer cw.close()
		w = cw
	}
	if d := s.currentLatency(); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if f := s.matchRequestFault(r); f != nil {
		writeError(w, newError(f.code, "meilitest: injected failure").withStatus(f.status))
		return
	}
	if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.handleRoot(w, r) // routes::running takes no API key
		return
	}
	if err := s.authorize(r); err != nil {
		writeError(w, err)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// waitIdle blocks until no task is enqueued or processing, or ctx ends.
// Tests use it to settle a node without polling task uids.
func (s *Server) WaitIdle(ctx context.Context) error { return s.tasks.waitIdle(ctx) }
