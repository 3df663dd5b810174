// Command miroir is the operator's tool for a miroir fleet, built on the
// library: it opens a Cluster over the nodes it is given and reports or
// heals what the library sees.
//
//	miroir [flags] status           topology, node health, stale replicas, change in progress
//	miroir [flags] verify INDEX     compare every replica of every shard
//	miroir [flags] repair INDEX     bring stale and divergent replicas in sync
//	miroir [flags] nodes [-target]  the fleet's node list in the -nodes file format
//	miroir [flags] change-topology -nodes FILE [-rf N]
//	                                move the fleet to the nodes in FILE (resumable)
//
// Nodes come from -nodes (or MIROIR_NODES, or MEILI_URLS): a comma-separated
// list of URL, ID=URL or ID=URL@GROUP; plain URLs are named node-1, node-2,
// ... in group 0, as examples/quickstart names them. Once the fleet has
// recorded its topology these only serve to find it: the command follows
// the record. The key comes from -key (or MEILI_MASTER_KEY). -shards and
// -rf must match the fleet's: a Cluster refuses an index recorded with
// another shard count.
//
// The target of change-topology is a file with one ID=URL or ID=URL@GROUP
// per line (blank lines and lines starting with # are ignored), or a JSON
// array of {"id", "url", "group"}; every node is named, because a node's ID
// is its identity on the fleet. `miroir nodes > fleet.nodes` writes the
// current list to start from.
//
// Exit status: 0 when the command succeeded and (verify) every replica
// holds the same documents, 1 when verify or repair found replicas it
// could not bring in sync, 2 on bad usage or an error, 3 when
// change-topology was interrupted (Ctrl-C or -timeout): the change stays
// recorded and the same command resumes it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/miroirsearch/miroir"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The first Ctrl-C stops the command cleanly; a second one must still
	// kill it, so the default handling comes back once ctx is done.
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK          = 0
	exitDiverged    = 1
	exitError       = 2
	exitInterrupted = 3
)

// run is the whole command, testable: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("miroir", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodesFlag := fs.String("nodes", "", "nodes of the fleet: URL, ID=URL or ID=URL@GROUP, comma-separated (default $MIROIR_NODES, then $MEILI_URLS)")
	key := fs.String("key", "", "API key toward the nodes (default $MEILI_MASTER_KEY)")
	shards := fs.Int("shards", 0, "shard count of the fleet's indexes (0: the library's default)")
	rf := fs.Int("rf", 0, "replication factor inside a group (0: the library's default, or the fleet's recorded one)")
	refresh := fs.Duration("refresh", 0, "how often the command's Cluster re-reads the fleet's records (0: the library's default)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: no limit; Ctrl-C stops too)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: miroir [flags] status | verify INDEX | repair INDEX | nodes [-target]\n"+
			"       miroir [flags] change-topology -nodes FILE [-rf N]\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitError
	}
	cmd, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	var (
		target     []miroir.Node
		targetRF   int
		nodeTarget bool
	)
	switch cmd {
	case "status":
		if len(rest) != 0 {
			fs.Usage()
			return exitError
		}
	case "verify", "repair":
		if len(rest) != 1 {
			fs.Usage()
			return exitError
		}
	case "nodes":
		sub := flag.NewFlagSet("miroir nodes", flag.ContinueOnError)
		sub.SetOutput(stderr)
		sub.BoolVar(&nodeTarget, "target", false, "print the target of the change in progress instead of the current nodes")
		if err := sub.Parse(rest); err != nil || sub.NArg() != 0 {
			sub.Usage()
			return exitError
		}
	case "change-topology":
		var err error
		target, targetRF, err = parseChangeFlags(rest, stderr)
		if err != nil {
			if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
				fmt.Fprintln(stderr, "miroir:", err)
			}
			return exitError
		}
		if targetRF > 0 && *rf > 0 && targetRF != *rf {
			fmt.Fprintf(stderr, "miroir: -rf %d before change-topology and -rf %d after it disagree: give the target's once, after it\n", *rf, targetRF)
			return exitError
		}
		// Either -rf is the target's; the Cluster that drives the change
		// is built with it (changeCluster), the first one without.
		targetRF, *rf = max(targetRF, *rf), 0
	default:
		fs.Usage()
		return exitError
	}
	spec := firstNonEmpty(*nodesFlag, getenv("MIROIR_NODES"), getenv("MEILI_URLS"))
	nodes, err := parseNodes(spec)
	if err != nil {
		fmt.Fprintln(stderr, "miroir:", err)
		return exitError
	}
	opts := []miroir.Option{miroir.WithAPIKey(firstNonEmpty(*key, getenv("MEILI_MASTER_KEY")))}
	if *shards > 0 {
		opts = append(opts, miroir.WithShards(*shards))
	}
	if *rf > 0 {
		opts = append(opts, miroir.WithReplicationFactor(*rf))
	}
	if *refresh > 0 {
		opts = append(opts, miroir.WithFleetRefresh(*refresh))
	}
	// The command's own Cluster must not start background repair of its
	// own: it does what it is asked and nothing else.
	opts = append(opts, miroir.WithRepair(0))
	plog := &progressLog{}
	if cmd == "change-topology" {
		opts = append(opts, miroir.WithObserver(plog))
	}
	c, err := miroir.New(nodes, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "miroir:", err)
		return exitError
	}
	defer c.Close()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	switch cmd {
	case "status":
		err = status(ctx, c, stdout)
	case "nodes":
		err = printNodes(ctx, c, nodeTarget, stdout)
	case "change-topology":
		driver, err := changeCluster(ctx, c, target, targetRF, opts)
		if err != nil {
			return refused(err, stderr)
		}
		defer driver.Close()
		return changeTopology(ctx, driver, target, stdout, stderr, displayFor(terminal(stdout, getenv), getenv), plog.latest)
	case "verify":
		var ok bool
		ok, err = verify(ctx, c, rest[0], stdout)
		if err == nil && !ok {
			return exitDiverged
		}
	case "repair":
		var ok bool
		ok, err = repair(ctx, c, rest[0], stdout)
		if err == nil && !ok {
			return exitDiverged
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "miroir:", err)
		return exitError
	}
	return exitOK
}

// errUsage reports bad usage whose explanation was already printed.
var errUsage = errors.New("usage")

// parseChangeFlags reads change-topology's own flags and its target file.
func parseChangeFlags(args []string, stderr io.Writer) (target []miroir.Node, rf int, err error) {
	sub := flag.NewFlagSet("miroir change-topology", flag.ContinueOnError)
	sub.SetOutput(stderr)
	file := sub.String("nodes", "", "file with the target node list: one ID=URL[@GROUP] per line, or a JSON array of {\"id\",\"url\",\"group\"} (- reads stdin)")
	sub.IntVar(&rf, "rf", 0, "the target's replication factor inside a group (0: keep the fleet's)")
	if err := sub.Parse(args); err != nil {
		return nil, 0, err
	}
	if *file == "" || sub.NArg() != 0 {
		sub.Usage()
		return nil, 0, errUsage
	}
	if rf < 0 {
		return nil, 0, fmt.Errorf("-rf %d: the replication factor is at least 1", rf)
	}
	var data []byte
	if *file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(*file)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("target nodes: %w", err)
	}
	target, err = parseNodesFile(data)
	if err != nil {
		return nil, 0, fmt.Errorf("target nodes %s: %w", *file, err)
	}
	return target, rf, nil
}

// parseNodes reads the node list of -nodes and the environment.
func parseNodes(spec string) ([]miroir.Node, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("no nodes: give -nodes, or set MIROIR_NODES or MEILI_URLS")
	}
	var out []miroir.Node
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		// Plain URLs are named by their position among the nodes.
		n, err := parseNode(part, "node-"+strconv.Itoa(len(out)+1))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// parseNode reads one URL, ID=URL or ID=URL@GROUP; a plain URL gets
// defaultID ("" refuses it).
func parseNode(part, defaultID string) (miroir.Node, error) {
	n := miroir.Node{ID: defaultID, URL: part}
	if id, url, ok := strings.Cut(part, "="); ok && !strings.Contains(id, "/") {
		n.ID, n.URL = strings.TrimSpace(id), strings.TrimSpace(url)
		if n.ID == "" {
			return n, fmt.Errorf("node %q: empty ID before =", part)
		}
	} else if defaultID == "" {
		return n, fmt.Errorf("node %q: name it, as ID=URL or ID=URL@GROUP (a node's ID is its identity on the fleet)", part)
	}
	if at := strings.LastIndex(n.URL, "@"); at > strings.Index(n.URL, "://")+2 && !strings.Contains(n.URL[at:], "/") {
		g, err := strconv.Atoi(n.URL[at+1:])
		if err != nil || g < 0 {
			return n, fmt.Errorf("node %q: the group after @ must be a number >= 0", part)
		}
		n.URL, n.Group = n.URL[:at], g
	}
	if !strings.HasPrefix(n.URL, "http://") && !strings.HasPrefix(n.URL, "https://") {
		return n, fmt.Errorf("node %q: the URL must start with http:// or https://", part)
	}
	return n, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// terminal reports whether w is a terminal (a character device), where
// progress is a bar redrawn in place; TERM=dumb asks for plain lines.
func terminal(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(*os.File)
	if !ok || getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// elapsed formats a duration for a report line.
func elapsed(start time.Time) string { return time.Since(start).Round(time.Millisecond).String() }
