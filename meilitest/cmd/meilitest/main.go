// Command meilitest serves one in-process Meilisearch-compatible node, so
// clients in other languages and other test suites can use meilitest.
//
//	go run ./meilitest/cmd/meilitest -addr 127.0.0.1:7700 -master-key KEY
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/miroirsearch/miroir/meilitest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7700", "listen address (host:port)")
	key := flag.String("master-key", "", "master key; empty serves without authentication")
	flag.Parse()

	opts := []meilitest.Option{meilitest.WithAddr(*addr)}
	if *key != "" {
		opts = append(opts, meilitest.WithMasterKey(*key))
	}
	srv, err := meilitest.NewServer(opts...)
	if err != nil {
		log.Fatalf("meilitest: %v", err)
	}
	fmt.Fprintf(os.Stderr, "meilitest %s listening on %s\n", meilitest.Version, srv.URL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	srv.Close()
}
