// Command server serves miroir's proxy handler over an in-process fleet of
// meilitest nodes, for clients written in other languages (the JavaScript
// scenario in test/js). It prints the URL on its first line of output and
// serves until interrupted.
//
//	go run ./test/js/server -fleet 2x2 -master-key masterKey
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/miroirsearch/miroir"
	"github.com/miroirsearch/miroir/meilitest"
)

func main() {
	fleet := flag.String("fleet", "1x1x3", "RGxRF[xN]: RG replica groups of N nodes (default N = RF), replication factor RF")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	master := flag.String("master-key", "masterKey", "master key of the proxy and of the nodes (empty: no auth)")
	shards := flag.Int("shards", 16, "shard count")
	flag.Parse()

	rg, rf, per, err := parseFleet(*fleet)
	if err != nil {
		log.Fatal(err)
	}
	var nopts []meilitest.Option
	if *master != "" {
		nopts = append(nopts, meilitest.WithMasterKey(*master))
	}
	var nodes []miroir.Node
	for g := range rg {
		for i := range per {
			srv, err := meilitest.NewServer(nopts...)
			if err != nil {
				log.Fatal(err)
			}
			defer srv.Close()
			nodes = append(nodes, miroir.Node{ID: fmt.Sprintf("g%dn%d", g, i), URL: srv.URL(), Group: g})
		}
	}
	c, err := miroir.New(nodes, miroir.WithAPIKey(*master), miroir.WithReplicationFactor(rf), miroir.WithShards(*shards))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	var hopts []miroir.HandlerOption
	if *master != "" {
		hopts = append(hopts, miroir.WithMasterKey(*master), miroir.WithAuthPassthrough())
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: c.Handler(hopts...)}
	fmt.Printf("http://%s\n", ln.Addr())
	os.Stdout.Sync()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Print(err)
	}
}

func parseFleet(s string) (rg, rf, per int, err error) {
	parts := strings.Split(strings.ToLower(s), "x")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, fmt.Errorf("fleet %q: want RGxRF or RGxRFxN", s)
	}
	n := make([]int, len(parts))
	for i, p := range parts {
		if n[i], err = strconv.Atoi(p); err != nil || n[i] < 1 {
			return 0, 0, 0, fmt.Errorf("fleet %q: %q is not a positive number", s, p)
		}
	}
	rg, rf, per = n[0], n[1], n[1]
	if len(n) == 3 {
		per = n[2]
	}
	if per < rf {
		return 0, 0, 0, fmt.Errorf("fleet %q: %d nodes per group is fewer than RF %d", s, per, rf)
	}
	return rg, rf, per, nil
}
