package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miroirsearch/miroir"
)

// display is how change-topology shows progress.
type display struct {
	tty   bool          // a bar redrawn in place, else plain lines
	width int           // terminal columns
	poll  time.Duration // how often progress is read
	every time.Duration // plain: a line at least this often within a phase
}

// displayFor is the display of a terminal or of plain output: progress
// is read five times a second (an in-memory snapshot: a short change
// still shows its phases); the bar is redrawn each time, plain lines come
// at each phase change and every ten seconds.
func displayFor(tty bool, getenv func(string) string) display {
	if !tty {
		return display{poll: 200 * time.Millisecond, every: 10 * time.Second}
	}
	width := 80
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n >= 20 {
		width = n
	}
	return display{tty: true, width: width, poll: 200 * time.Millisecond}
}

// changeCluster returns the Cluster that drives a change to target: c,
// or, for a target RF (rf > 0), a Cluster configured with it, since
// ChangeTopology takes the target's RF from WithReplicationFactor. That
// one is given the nodes of the fleet and of the target (New refuses an
// RF above a group's size among the nodes it is given, and the current
// groups may be smaller than the target's); it follows the fleet's record,
// which c made sure exists first: on a fleet without one, the first
// Cluster records the nodes it was given. c is then closed, so that the
// driver does not wait for an idle instance to see each phase.
func changeCluster(ctx context.Context, c *miroir.Cluster, target []miroir.Node, rf int, opts []miroir.Option) (*miroir.Cluster, error) {
	if err := readRecord(ctx, c); err != nil {
		return nil, err
	}
	if rf == 0 {
		return c, nil
	}
	topo := c.Topology()
	if topo.Epoch == 0 {
		return nil, errors.New("the fleet's topology is not recorded and could not be: too few of the nodes given answered")
	}
	nodes := slices.Clone(target)
	for _, n := range topo.Nodes {
		if !slices.ContainsFunc(nodes, func(t miroir.Node) bool { return t.ID == n.ID }) {
			nodes = append(nodes, miroir.Node{ID: n.ID, URL: n.URL, Group: n.Group})
		}
	}
	c.Close()
	d, err := miroir.New(nodes, append(slices.Clone(opts), miroir.WithReplicationFactor(rf))...)
	if err != nil {
		return nil, err
	}
	if err := readRecord(ctx, d); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// refused prints an error from before the change started; a target the
// library refuses is said to be refused.
func refused(err error, stderr io.Writer) int {
	var me *miroir.Error
	if errors.As(err, &me) && me.Code == miroir.CodeInvalidTopology {
		fmt.Fprintf(stderr, "miroir: the target was refused, nothing moved: %s\n", strings.TrimPrefix(me.Message, "miroir: "))
	} else {
		fmt.Fprintln(stderr, "miroir:", err)
	}
	return exitError
}

// changer is what change-topology needs of a Cluster.
type changer interface {
	ChangeTopology(ctx context.Context, nodes []miroir.Node) error
	Topology() miroir.Topology
}

// changeTopology drives ChangeTopology to target and shows its progress
// until it ends; it returns the exit status. final, when not nil, returns
// the driver's last report (the figures of a change that ended between
// two reads of the progress).
func changeTopology(ctx context.Context, c changer, target []miroir.Node, stdout, stderr io.Writer, d display, final func() *miroir.TopologyChange) int {
	start := time.Now()
	rep := &reporter{w: stdout, tty: d.tty, width: d.width, every: d.every, start: start}
	fmt.Fprintf(stdout, "moving the fleet to %d nodes (%s)\n", len(target), describeTarget(target))
	if cur := c.Topology(); cur.Change == nil && cur.Epoch > 0 {
		// During a change the fleet's nodes are those of both layouts:
		// only a change about to start has a "from" to compare with.
		var to []miroir.NodeStatus
		for _, n := range target {
			to = append(to, miroir.NodeStatus{ID: n.ID, URL: n.URL, Group: n.Group})
		}
		for _, d := range diffNodes(cur.Nodes, to) {
			fmt.Fprintf(stdout, "  %s\n", d)
		}
	}

	done := make(chan error, 1)
	go func() { done <- c.ChangeTopology(ctx, target) }()
	t := time.NewTicker(d.poll)
	defer t.Stop()
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case now := <-t.C:
			if ch := c.Topology().Change; ch != nil {
				rep.update(*ch, now)
			}
		}
	}
	last := rep.latest
	if ch := c.Topology().Change; ch != nil {
		last = ch
	}
	if final != nil {
		if f := final(); f != nil && (last == nil || f.Epoch >= last.Epoch) {
			last = f
		}
	}
	switch {
	case err == nil:
		topo := c.Topology()
		if last != nil {
			final := *last
			final.Phase, final.ShardsDone, final.DocumentsRemaining = miroir.PhaseDone, final.ShardsMoving, 0
			rep.update(final, time.Now())
			rep.println("done: the fleet is at epoch %d: %d nodes, %d group(s), RF %d; %d shard(s) moved, %d documents (%s) copied in %s",
				topo.Epoch, len(topo.Nodes), topo.Groups, topo.ReplicationFactor, last.ShardsMoving, last.DocumentsCopied, megabytes(last.BytesCopied), elapsed(start))
		} else {
			rep.println("done: the fleet is at epoch %d: %d nodes, %d group(s), RF %d (%s)",
				topo.Epoch, len(topo.Nodes), topo.Groups, topo.ReplicationFactor, elapsed(start))
		}
		return exitOK
	}
	rep.endLine()
	var me *miroir.Error
	switch {
	case errors.Is(err, miroir.ErrTopologyChangeInProgress):
		fmt.Fprintf(stderr, "miroir: another topology change is in progress; it must finish first: %v\n", err)
		if ch := c.Topology().Change; ch != nil {
			fmt.Fprintf(stderr, "its target (epoch %d, RF %d, phase %s), to resume it with change-topology -nodes FILE -rf %d:\n",
				ch.Epoch, ch.ReplicationFactor, ch.Phase, ch.ReplicationFactor)
			formatNodes(stderr, ch.Nodes)
		} else {
			fmt.Fprintln(stderr, "miroir status shows it; miroir nodes -target prints its target to resume it with.")
		}
	case errors.As(err, &me) && me.Code == miroir.CodeInvalidTopology:
		return refused(err, stderr)
	case ctx.Err() != nil:
		// Ctrl-C or -timeout, whatever error the cancelled calls returned.
		why := "interrupted"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			why = "-timeout reached"
		}
		if last != nil {
			fmt.Fprintf(stderr, "miroir: %s in phase %s (%d of %d moving shards done). The change to epoch %d is recorded on the fleet: "+
				"writes, deletes and searches keep working; creating, deleting or reconfiguring an index is refused until it completes. "+
				"Run the same command again, from here or any machine, to resume it.\n",
				why, last.Phase, last.ShardsDone, last.ShardsMoving, last.Epoch)
		} else {
			fmt.Fprintf(stderr, "miroir: %s before the change showed progress. If its target was recorded, creating, deleting or reconfiguring an index "+
				"is refused until it completes: run the same command again to resume it (miroir status shows whether a change is in progress).\n", why)
		}
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "miroir: the change failed: %v\n", err)
		fmt.Fprintln(stderr, "miroir: miroir status shows whether the change was recorded; once the cause is fixed, the same command resumes it.")
	}
	return exitError
}

// describeTarget summarises a node list: nodes per group.
func describeTarget(nodes []miroir.Node) string {
	per := map[int]int{}
	var groups []int
	for _, n := range nodes {
		if per[n.Group] == 0 {
			groups = append(groups, n.Group)
		}
		per[n.Group]++
	}
	slices.Sort(groups)
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = "group " + strconv.Itoa(g) + ": " + strconv.Itoa(per[g])
	}
	return strings.Join(parts, ", ")
}

// diffNodes lists, by ID, the nodes target adds to cur, removes from it,
// and those whose URL or group differ.
func diffNodes(cur, target []miroir.NodeStatus) []string {
	old := map[string]miroir.NodeStatus{}
	for _, n := range cur {
		old[n.ID] = n
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range target {
		seen[n.ID] = true
		o, ok := old[n.ID]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("+ %s (group %d) %s", n.ID, n.Group, n.URL))
		case o.Group != n.Group:
			out = append(out, fmt.Sprintf("~ %s group %d -> %d", n.ID, o.Group, n.Group))
		case o.URL != n.URL:
			out = append(out, fmt.Sprintf("~ %s %s -> %s", n.ID, o.URL, n.URL))
		}
	}
	for _, n := range cur {
		if !seen[n.ID] {
			out = append(out, fmt.Sprintf("- %s (group %d) %s", n.ID, n.Group, n.URL))
		}
	}
	return out
}

// printNodes prints the node list the fleet follows (or the target of the
// change in progress) in the format change-topology reads.
func printNodes(ctx context.Context, c *miroir.Cluster, target bool, w io.Writer) error {
	if err := readRecord(ctx, c); err != nil {
		return err
	}
	t := c.Topology()
	if !target {
		if t.Epoch == 0 {
			fmt.Fprintf(w, "# not recorded on the fleet yet (as given), RF %d\n", t.ReplicationFactor)
		} else {
			fmt.Fprintf(w, "# epoch %d, RF %d\n", t.Epoch, t.ReplicationFactor)
		}
		formatNodes(w, t.Nodes)
		return nil
	}
	if t.Change == nil {
		return errors.New("no topology change in progress")
	}
	fmt.Fprintf(w, "# target of the change in progress: epoch %d, RF %d (change-topology -rf %d)\n", t.Change.Epoch, t.Change.ReplicationFactor, t.Change.ReplicationFactor)
	formatNodes(w, t.Change.Nodes)
	return nil
}

// progressLog is a TopologyObserver keeping the last progress report of
// the change its Cluster drives.
type progressLog struct {
	miroir.NopObserver
	mu   sync.Mutex
	last *miroir.TopologyChange
}

// TopologyProgress implements miroir.TopologyObserver.
func (l *progressLog) TopologyProgress(p miroir.TopologyChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = &p
}

// latest returns the last report, nil before any.
func (l *progressLog) latest() *miroir.TopologyChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}
