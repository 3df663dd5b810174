package meilitest

import (
	"context"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestNetworkCommunityEdition(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	if _, err := c.GetNetwork(ctx); apiCode(err) != "feature_not_enabled" {
		t.Fatalf("without the feature: %v", err)
	}
	if _, err := c.ExperimentalFeatures().SetNetwork(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := c.GetNetwork(ctx)
	if err != nil || n.Version == "" || n.Self != "" || len(n.Remotes) != 0 {
		t.Fatalf("initial %+v %v", n, err)
	}
	v, err := c.UpdateNetwork(ctx, &meilisearch.UpdateNetworkRequest{
		Self: meilisearch.String("ms-0"),
		Remotes: meilisearch.NewOpt(map[string]meilisearch.Opt[meilisearch.UpdateRemote]{
			"ms-0": meilisearch.NewOpt(meilisearch.UpdateRemote{URL: meilisearch.String(srv.URL()), SearchAPIKey: meilisearch.String("s")}),
			"ms-1": meilisearch.NewOpt(meilisearch.UpdateRemote{URL: meilisearch.String("http://127.0.0.1:1")}),
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	upd := v.(*meilisearch.Network)
	got, _ := c.GetNetwork(ctx)
	if upd.Self != "ms-0" || len(got.Remotes) != 2 || got.Remotes["ms-0"].SearchAPIKey != "s" || got.Version == n.Version || got.Version != upd.Version {
		t.Fatalf("updated %+v, got %+v", upd, got)
	}
	// A null remote removes it; other remotes are kept.
	_, err = c.UpdateNetwork(ctx, &meilisearch.UpdateNetworkRequest{Remotes: meilisearch.NewOpt(map[string]meilisearch.Opt[meilisearch.UpdateRemote]{
		"ms-1": meilisearch.Null[meilisearch.UpdateRemote](),
	})})
	if got, _ = c.GetNetwork(ctx); err != nil || len(got.Remotes) != 1 || got.Self != "ms-0" {
		t.Fatalf("after removal %+v %v", got, err)
	}
	// The Community Edition refuses a leader.
	_, err = c.UpdateNetwork(ctx, &meilisearch.UpdateNetworkRequest{Leader: meilisearch.String("ms-0")})
	if apiCode(err) != "requires_enterprise_edition" {
		t.Fatalf("leader: %v", err)
	}
	_, err = c.UpdateNetwork(ctx, &meilisearch.UpdateNetworkRequest{Remotes: meilisearch.NewOpt(map[string]meilisearch.Opt[meilisearch.UpdateRemote]{
		"ms-2": meilisearch.NewOpt(meilisearch.UpdateRemote{SearchAPIKey: meilisearch.String("x")}),
	})})
	if apiCode(err) != "missing_network_url" {
		t.Fatalf("missing url: %v", err)
	}
}
