package miroir

// Calls miroir does not support (unsupported.go) fail with
// miroir_unsupported, as meilisearch-go errors.

import (
	"errors"
	"fmt"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestAuditCoreUnsupportedMethods(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 4, timing: oneRetry})
	ctx := testCtx(t)
	calls := map[string]func() error{
		"GetNetwork":           func() error { return second(f.c.GetNetwork(ctx)) },
		"UpdateNetwork":        func() error { return second(f.c.UpdateNetwork(ctx, &meilisearch.UpdateNetworkRequest{})) },
		"GetBatches":           func() error { return second(f.c.GetBatches(ctx, nil)) },
		"GetBatch":             func() error { return second(f.c.GetBatch(ctx, 1)) },
		"AddWebhook":           func() error { return second(f.c.AddWebhook(ctx, &meilisearch.AddWebhookRequest{URL: "http://x"})) },
		"ListWebhooks":         func() error { return second(f.c.ListWebhooks(ctx)) },
		"Export":               func() error { return second(f.c.Export(ctx, &meilisearch.ExportParams{URL: "http://x"})) },
		"ChatCompletionStream": func() error { return second(f.c.ChatCompletionStream(ctx, "w", &meilisearch.ChatCompletionQuery{})) },
		"ListChatWorkspaces":   func() error { return second(f.c.ListChatWorkspaces(ctx, nil)) },
	}
	for name, call := range calls {
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			err = call()
		}()
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want an error matching ErrUnsupported", name, err)
			continue
		}
		if acAPICode(err) == "" {
			t.Errorf("%s: the unsupported error does not read as *meilisearch.Error", name)
		}
		if len(err.Error()) < 20 {
			t.Errorf("%s: message not clear: %q", name, err)
		}
	}
}
