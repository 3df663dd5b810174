package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestNewFollowsMeilisearchConventions(t *testing.T) {
	for _, c := range []struct {
		status int
		typ    string
	}{{400, "invalid_request"}, {404, "invalid_request"}, {401, "auth"}, {403, "auth"}, {500, "internal"}, {503, "internal"}} {
		e := New(c.status, "some_code", "bad %s", "thing")
		if e.Type != c.typ || e.Link != "https://docs.meilisearch.com/errors#some_code" || e.Message != "bad thing" || e.Status != c.status {
			t.Errorf("%d: %+v", c.status, e)
		}
	}
}

func TestErrorReadsAsMeilisearchError(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", New(http.StatusForbidden, "invalid_api_key", "The provided API key is invalid."))
	var me *meilisearch.Error
	if !errors.As(err, &me) {
		t.Fatal("not a *meilisearch.Error")
	}
	if me.StatusCode != 403 || me.APIError.Code != "invalid_api_key" || me.APIError.Type != "auth" || me.APIError.Message != "The provided API key is invalid." {
		t.Fatalf("%+v", me)
	}
	if got := Message(err); got != "The provided API key is invalid." {
		t.Fatalf("Message: %q", got)
	}
	if got := Message(errors.New("plain")); got != "plain" {
		t.Fatalf("Message of a plain error: %q", got)
	}
	if got := New(400, "c", "m").Error(); got != "m (c)" {
		t.Fatalf("Error: %q", got)
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"afterEnqueuedAt": "after_enqueued_at", "uid": "uid", "expiresAt": "expires_at"} {
		if got := Snake(in); got != want {
			t.Errorf("Snake(%q) = %q, want %q", in, got, want)
		}
	}
}
