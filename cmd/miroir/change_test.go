package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miroirsearch/miroir"
)

// fakeFleet stands for a Cluster in tests of change-topology's own logic
// (what it prints and returns for each outcome of ChangeTopology); the
// end-to-end tests in topology_test.go run the library itself. Each state
// it publishes is read by the command before it moves on, so the output
// depends on no timing.
type fakeFleet struct {
	mu       sync.Mutex
	cond     *sync.Cond
	topo     miroir.Topology
	version  int
	observed int
	change   func(ctx context.Context, f *fakeFleet) error
}

func newFakeFleet(change func(ctx context.Context, f *fakeFleet) error) *fakeFleet {
	f := &fakeFleet{change: change, topo: miroir.Topology{Epoch: 1, Configured: true, Shards: 8, Groups: 1, ReplicationFactor: 1,
		Nodes: []miroir.NodeStatus{{ID: "node-1", URL: "http://a"}, {ID: "node-2", URL: "http://b"}}}}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fakeFleet) ChangeTopology(ctx context.Context, _ []miroir.Node) error {
	return f.change(ctx, f)
}

func (f *fakeFleet) Topology() miroir.Topology {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observed = f.version
	f.cond.Broadcast()
	return f.topo
}

// publish sets the topology and waits until the command read it.
func (f *fakeFleet) publish(set func(t *miroir.Topology)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set(&f.topo)
	f.version++
	for f.observed < f.version {
		f.cond.Wait()
	}
}

var testTarget = []miroir.Node{{ID: "node-1", URL: "http://a"}, {ID: "node-2", URL: "http://b"}, {ID: "node-3", URL: "http://c"}}

func progressAt(phase string, done int, copied int64) *miroir.TopologyChange {
	return &miroir.TopologyChange{FromEpoch: 1, Epoch: 2, Phase: phase, ShardsMoving: 3, ShardsDone: done,
		DocumentsCopied: copied, BytesCopied: copied * 100, DocumentsRemaining: 300 - copied, ReplicationFactor: 1}
}

// runFake runs change-topology over f with plain or terminal output.
func runFake(ctx context.Context, f *fakeFleet, tty bool) (int, string, string) {
	var out, errb bytes.Buffer
	d := display{tty: tty, width: 100, poll: time.Millisecond, every: time.Hour}
	code := changeTopology(ctx, f, testTarget, &out, &errb, d, nil)
	return code, out.String(), errb.String()
}

// grows walks a change through its phases to epoch 2.
func grows(_ context.Context, f *fakeFleet) error {
	for _, p := range []*miroir.TopologyChange{
		progressAt(miroir.PhasePrepare, 0, 0), progressAt(miroir.PhaseCopy, 0, 100),
		progressAt(miroir.PhaseCopy, 0, 300), progressAt(miroir.PhaseCutover, 1, 300), progressAt(miroir.PhaseRetire, 2, 300),
	} {
		f.publish(func(t *miroir.Topology) { t.Change = p })
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topo.Change, f.topo.Epoch, f.topo.Nodes = nil, 2, nil
	for _, n := range testTarget {
		f.topo.Nodes = append(f.topo.Nodes, miroir.NodeStatus{ID: n.ID, URL: n.URL})
	}
	return nil
}

func TestChangeTopologyOutputDone(t *testing.T) {
	code, out, errs := runFake(context.Background(), newFakeFleet(grows), false)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// One plain line per phase, in order, then the summary.
	want := []string{
		"moving the fleet to 3 nodes (group 0: 3)\n",
		"  + node-3 (group 0) http://c\n",
		"phase prepare: 0 of 3 moving shards done, 0 documents (0.0 MB) copied, 300 remaining\n",
		"phase copy: 0 of 3 moving shards done, 100 documents (0.0 MB) copied, 200 remaining\n",
		"phase cutover: 1 of 3 moving shards done, 300 documents (0.0 MB) copied, 0 remaining\n",
		"phase retire: 2 of 3 moving shards done, 300 documents (0.0 MB) copied, 0 remaining\n",
		"phase done: 3 of 3 moving shards done, 300 documents (0.0 MB) copied\n",
		"done: the fleet is at epoch 2: 3 nodes, 1 group(s), RF 1; 3 shard(s) moved, 300 documents (0.0 MB) copied in ",
	}
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("missing, or out of order: %q\nin:\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
	if strings.Count(out, "\n") != len(want) || strings.Contains(out, "\r") {
		t.Fatalf("plain output has other lines:\n%q", out)
	}
}

func TestChangeTopologyOutputTerminal(t *testing.T) {
	code, out, errs := runFake(context.Background(), newFakeFleet(grows), true)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	lines := strings.Split(out, "\n")
	// The header and what changes, the bar's one line (redrawn), the summary.
	if len(lines) != 5 || lines[1] != "  + node-3 (group 0) http://c" || lines[4] != "" || !strings.HasPrefix(lines[3], "done: the fleet is at epoch 2") {
		t.Fatalf("terminal output:\n%q", out)
	}
	bar := lines[2]
	// One draw per distinct state: the five published, and done.
	if strings.Count(bar, "\r") != 6 || !strings.Contains(bar, "\rprepare [") || !strings.Contains(bar, "\rretire  [") ||
		!strings.HasSuffix(bar, "\rdone    [########################] 100%  3/3 shards  300 docs  0.0 MB\x1b[K") {
		t.Fatalf("bar redraws:\n%q", bar)
	}
}

// TestChangeTopologyOutputInterrupted: Ctrl-C during the copy exits 3
// and says the change is recorded and how to resume it.
func TestChangeTopologyOutputInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFakeFleet(func(ctx context.Context, f *fakeFleet) error {
		f.publish(func(t *miroir.Topology) { t.Change = progressAt(miroir.PhaseCopy, 1, 100) })
		cancel() // what Ctrl-C does through signal.NotifyContext
		<-ctx.Done()
		return fmt.Errorf("backfill of shard 3: %w", ctx.Err())
	})
	code, out, errs := runFake(ctx, f, false)
	if code != exitInterrupted {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, w := range []string{"interrupted in phase copy (1 of 3 moving shards done)", "The change to epoch 2 is recorded on the fleet",
		"creating, deleting or reconfiguring an index is refused until it completes", "Run the same command again"} {
		if !strings.Contains(errs, w) {
			t.Errorf("the message lacks %q:\n%s", w, errs)
		}
	}
}

func TestChangeTopologyOutputRefused(t *testing.T) {
	other := progressAt(miroir.PhaseCopy, 0, 10)
	other.ReplicationFactor = 2
	other.Nodes = []miroir.NodeStatus{{ID: "node-1", URL: "http://a"}, {ID: "node-9", URL: "http://z", Group: 1}}
	f := newFakeFleet(func(context.Context, *fakeFleet) error {
		return &miroir.Error{Code: miroir.CodeTopologyChangeInProgress, Message: "a change to epoch 2 is in progress", Status: 409}
	})
	f.topo.Change = other
	code, out, errs := runFake(context.Background(), f, false)
	if code != exitError || !strings.Contains(errs, "another topology change is in progress") ||
		!strings.Contains(errs, "-nodes FILE -rf 2:\nnode-1=http://a@0\nnode-9=http://z@1\n") {
		t.Fatalf("in progress: exit %d\n%s%s", code, out, errs)
	}

	f = newFakeFleet(func(context.Context, *fakeFleet) error {
		return fmt.Errorf("change: %w", &miroir.Error{Code: miroir.CodeInvalidTopology, Message: "group 0 has 1 node, fewer than RF 2", Status: 400})
	})
	code, out, errs = runFake(context.Background(), f, false)
	if code != exitError || !strings.Contains(errs, "the target was refused, nothing moved: group 0 has 1 node, fewer than RF 2\n") {
		t.Fatalf("invalid: exit %d\n%s%s", code, out, errs)
	}

	f = newFakeFleet(func(context.Context, *fakeFleet) error { return fmt.Errorf("node-3: connection refused") })
	code, out, errs = runFake(context.Background(), f, false)
	if code != exitError || !strings.Contains(errs, "the change failed: node-3: connection refused") {
		t.Fatalf("failure: exit %d\n%s%s", code, out, errs)
	}
}

// TestStatusChangeLines: status names the epoch, whether the command
// follows the fleet's record, and the change in progress against the
// current nodes.
func TestStatusChangeLines(t *testing.T) {
	var b bytes.Buffer
	writeEpoch(&b, miroir.Topology{})
	writeEpoch(&b, miroir.Topology{Epoch: 3, Configured: true})
	writeEpoch(&b, miroir.Topology{Epoch: 4})
	want := "topology: not recorded on the fleet yet (the first write records it)\n" +
		"topology: epoch 3, as the nodes given\n" +
		"topology: epoch 4, the fleet's record (it differs from the nodes given, which only served to find the fleet)\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cur := []miroir.NodeStatus{{ID: "node-1", URL: "http://a"}, {ID: "node-2", URL: "http://b"}}
	writeChange(&b, miroir.Topology{Nodes: cur}, now)
	if b.String() != "topology change: none in progress\n" {
		t.Fatalf("no change: %q", b.String())
	}
	b.Reset()
	ch := progressAt(miroir.PhaseCopy, 1, 120)
	ch.Started = now.Add(-90 * time.Second)
	ch.Nodes = append(slices.Clone(cur), miroir.NodeStatus{ID: "node-3", URL: "http://c"})
	// During the change the fleet's nodes are both layouts'.
	both := append(slices.Clone(ch.Nodes), miroir.NodeStatus{ID: "node-0", URL: "http://z"})
	writeChange(&b, miroir.Topology{Nodes: both, Change: ch}, now)
	want = "topology change in progress: epoch 1 -> 2, phase copy, started 2026-01-02T03:02:35Z (1m30s ago)\n" +
		"  target: 3 nodes, RF 1\n" +
		"    node-1       group 0  http://a\n" +
		"    node-2       group 0  http://b\n" +
		"    node-3       group 0  http://c\n" +
		"  leaving: node-0 (group 0) http://z\n" +
		"  progress: 1 of 3 moving shards done, 120 documents (0.0 MB) copied, 180 remaining\n" +
		"  creating, deleting or reconfiguring an index is refused until it completes;\n" +
		"  resume it: miroir [flags] nodes -target > target.nodes; miroir [flags] change-topology -nodes target.nodes -rf 1\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
