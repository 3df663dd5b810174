// Command proxy shows proxy mode: an existing net/http server (its own
// routes: a home page and /app/status) mounts miroir's Handler under
// /meili/, so that applications in any language reach a sharded fleet
// through one URL with the official Meilisearch SDKs, unchanged. It also
// wires both observability adapters: the Prometheus collector
// (contrib/prometheus), scraped at /meili/_miroir/metrics with the admin
// key, and the OpenTelemetry tracer (contrib/otel); every request is
// logged as one JSON line on stderr.
//
//	cd examples/proxy && go run .
//
// It is a module of its own (go.mod beside this file), so that the root
// module keeps its four dependencies while this program uses the
// adapters' (client_golang, OpenTelemetry).
//
// Without MEILI_URLS it starts three in-process meilitest nodes (no
// Docker, no download). With MEILI_URLS=http://a:7700,http://b:7700,... it
// uses those nodes instead (their shared master key in MEILI_MASTER_KEY).
// PROXY_KEY is the key clients of the proxy use (default "proxy-key"),
// PROXY_ADMIN_KEY the key of /meili/_miroir/* (default: PROXY_KEY), ADDR
// the listen address (default 127.0.0.1:7800). TRACE=1 prints each
// finished span on stderr (a real deployment exports them with OTLP). It
// serves until interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/miroirsearch/miroir"
	miroirotel "github.com/miroirsearch/miroir/contrib/otel"
	miroirprometheus "github.com/miroirsearch/miroir/contrib/prometheus"
	"github.com/miroirsearch/miroir/meilitest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	log.SetFlags(0)
	urls, nodeKey, stop := nodeURLs()
	defer stop()
	nodes := make([]miroir.Node, len(urls))
	for i, u := range urls {
		nodes[i] = miroir.Node{ID: fmt.Sprintf("node-%d", i+1), URL: u}
	}
	// Metrics: a collector on the application's own registry.
	metrics := miroirprometheus.NewCollector()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)
	// Traces: a span per cluster call, a child per node request.
	tp := tracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := miroirotel.New(miroirotel.WithTracerProvider(tp))

	cluster, err := miroir.New(nodes, miroir.WithAPIKey(nodeKey), miroir.WithShards(16),
		miroir.WithObserver(miroir.Observers(metrics, tracer)),
		miroir.WithLogger(slog.New(slog.NewJSONHandler(os.Stderr, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	metrics.SetCluster(cluster) // node health read at scrape time

	proxyKey := env("PROXY_KEY", "proxy-key")
	adminKey := env("PROXY_ADMIN_KEY", proxyKey)

	// The application's own server and routes...
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "my application; Meilisearch API under /meili/")
	})
	mux.HandleFunc("GET /app/status", func(w http.ResponseWriter, r *http.Request) {
		t := cluster.Topology()
		healthy := 0
		for _, n := range t.Nodes {
			if n.Healthy {
				healthy++
			}
		}
		fmt.Fprintf(w, "nodes %d/%d healthy, %d shards\n", healthy, len(t.Nodes), t.Shards)
	})
	// ...and the Meilisearch REST API of the whole fleet, under a prefix.
	mux.Handle("/meili/", http.StripPrefix("/meili", cluster.Handler(
		miroir.WithMasterKey(proxyKey),
		miroir.WithAdminKey(adminKey),
		miroir.WithMetricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})),
	)))

	ln, err := net.Listen("tcp", env("ADDR", "127.0.0.1:7800"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	fmt.Printf("serving on %s (Meilisearch API at %s/meili, key %q); Ctrl-C to stop\n", base, base, proxyKey)
	fmt.Printf("  curl -H 'Authorization: Bearer %s' %s/meili/indexes\n", proxyKey, base)
	fmt.Printf("  curl -H 'Authorization: Bearer %s' %s/meili/_miroir/shards\n", adminKey, base)
	fmt.Printf("  curl -H 'Authorization: Bearer %s' %s/meili/_miroir/metrics\n", adminKey, base)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// nodeURLs returns MEILI_URLS and MEILI_MASTER_KEY, or starts three
// in-process meilitest nodes sharing a master key.
func nodeURLs() ([]string, string, func()) {
	if v := os.Getenv("MEILI_URLS"); v != "" {
		var urls []string
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				urls = append(urls, u)
			}
		}
		return urls, os.Getenv("MEILI_MASTER_KEY"), func() {}
	}
	const key = "example-master-key"
	var urls []string
	var servers []*meilitest.Server
	for range 3 {
		s, err := meilitest.NewServer(meilitest.WithMasterKey(key))
		if err != nil {
			log.Fatal(err)
		}
		servers = append(servers, s)
		urls = append(urls, s.URL())
	}
	fmt.Printf("started 3 in-process meilitest nodes: %s\n", strings.Join(urls, ", "))
	return urls, key, func() {
		for _, s := range servers {
			s.Close()
		}
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// tracerProvider returns the provider spans come from: printing them on
// stderr with TRACE=1, else keeping them nowhere (an application registers
// its OTLP exporter here).
func tracerProvider() *sdktrace.TracerProvider {
	if os.Getenv("TRACE") == "" {
		return sdktrace.NewTracerProvider()
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stderr), stdouttrace.WithPrettyPrint())
	if err != nil {
		log.Fatal(err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
}
