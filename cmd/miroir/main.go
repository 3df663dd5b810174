// Command miroir is the operator's tool for a miroir fleet, built on the
// library: it opens a Cluster over the nodes it is given and reports or
// heals what the library sees.
//
//	miroir [flags] status           topology, node health, stale replicas
//	miroir [flags] verify INDEX     compare every replica of every shard
//	miroir [flags] repair INDEX     bring stale and divergent replicas in sync
//
// Nodes come from -nodes (or MIROIR_NODES, or MEILI_URLS): a comma-separated
// list of URL, ID=URL or ID=URL@GROUP; plain URLs are named node-1, node-2,
// ... in group 0, as examples/quickstart names them. The key comes from
// -key (or MEILI_MASTER_KEY). -shards and -rf must match the fleet's: a
// Cluster refuses an index recorded with another shard count.
//
// Exit status: 0 when the command succeeded and (verify) every replica
// holds the same documents, 1 when verify or repair found replicas it
// could not bring in sync, 2 on bad usage or an error.
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
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole command, testable: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("miroir", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodesFlag := fs.String("nodes", "", "nodes: URL, ID=URL or ID=URL@GROUP, comma-separated (default $MIROIR_NODES, then $MEILI_URLS)")
	key := fs.String("key", "", "API key toward the nodes (default $MEILI_MASTER_KEY)")
	shards := fs.Int("shards", 0, "shard count of the fleet's indexes (0: the library's default)")
	rf := fs.Int("rf", 0, "replication factor inside a group (0: the library's default)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: no limit; Ctrl-C stops too)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: miroir [flags] status | verify INDEX | repair INDEX\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()
	if len(rest) > 0 {
		rest = rest[1:]
	}
	want := map[string]int{"status": 0, "verify": 1, "repair": 1}
	n, known := want[cmd]
	if !known || len(rest) != n {
		fs.Usage()
		return 2
	}
	spec := firstNonEmpty(*nodesFlag, getenv("MIROIR_NODES"), getenv("MEILI_URLS"))
	nodes, err := parseNodes(spec)
	if err != nil {
		fmt.Fprintln(stderr, "miroir:", err)
		return 2
	}
	opts := []miroir.Option{miroir.WithAPIKey(firstNonEmpty(*key, getenv("MEILI_MASTER_KEY")))}
	if *shards > 0 {
		opts = append(opts, miroir.WithShards(*shards))
	}
	if *rf > 0 {
		opts = append(opts, miroir.WithReplicationFactor(*rf))
	}
	// The command's own Cluster must not start background repair of its
	// own: it does what it is asked and nothing else.
	opts = append(opts, miroir.WithRepair(0))
	c, err := miroir.New(nodes, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "miroir:", err)
		return 2
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
	case "verify":
		var ok bool
		ok, err = verify(ctx, c, rest[0], stdout)
		if err == nil && !ok {
			return 1
		}
	case "repair":
		var ok bool
		ok, err = repair(ctx, c, rest[0], stdout)
		if err == nil && !ok {
			return 1
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "miroir:", err)
		return 2
	}
	return 0
}

// parseNodes reads the node list.
func parseNodes(spec string) ([]miroir.Node, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("no nodes: give -nodes, or set MIROIR_NODES or MEILI_URLS")
	}
	var out []miroir.Node
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n := miroir.Node{ID: "node-" + strconv.Itoa(i+1), URL: part}
		if id, url, ok := strings.Cut(part, "="); ok && !strings.Contains(id, "/") {
			n.ID, n.URL = id, url
		}
		if at := strings.LastIndex(n.URL, "@"); at > strings.Index(n.URL, "://")+2 && !strings.Contains(n.URL[at:], "/") {
			g, err := strconv.Atoi(n.URL[at+1:])
			if err != nil || g < 0 {
				return nil, fmt.Errorf("node %q: the group after @ must be a number >= 0", part)
			}
			n.URL, n.Group = n.URL[:at], g
		}
		if !strings.HasPrefix(n.URL, "http://") && !strings.HasPrefix(n.URL, "https://") {
			return nil, fmt.Errorf("node %q: the URL must start with http:// or https://", part)
		}
		out = append(out, n)
	}
	return out, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// elapsed formats a duration for a report line.
func elapsed(start time.Time) string { return time.Since(start).Round(time.Millisecond).String() }
