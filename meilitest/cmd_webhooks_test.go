package meilitest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"
)

func TestWebhooksCRUD(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	wh, err := c.AddWebhook(ctx, &meilisearch.AddWebhookRequest{URL: "https://example.com/hook",
		Headers: map[string]string{"Authorization": "Bearer a-very-secret-token-value", "X-Foo": "bar"}})
	if err != nil {
		t.Fatal(err)
	}
	if !wh.IsEditable || len(wh.UUID) != 36 || wh.Headers["Authorization"] != "Bearer a-vXXXXX..." || wh.Headers["X-Foo"] != "bar" {
		t.Fatalf("created %+v", wh)
	}
	got, err := c.GetWebhook(ctx, wh.UUID)
	if err != nil || got.URL != wh.URL {
		t.Fatalf("get %+v %v", got, err)
	}
	// A null header value removes the header; other headers are merged.
	resp, _ := rawJSON(t, http.MethodPatch, srv.URL()+"/webhooks/"+wh.UUID, `{"headers":{"X-Foo":null,"X-Bar":"baz"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("patch status %d", resp.StatusCode)
	}
	got, _ = c.GetWebhook(ctx, wh.UUID)
	if _, ok := got.Headers["X-Foo"]; ok || got.Headers["X-Bar"] != "baz" || got.URL != "https://example.com/hook" {
		t.Fatalf("after patch %+v", got)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list.Result) != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := c.DeleteWebhook(ctx, wh.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWebhook(ctx, wh.UUID); apiCode(err) != "webhook_not_found" {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := c.GetWebhook(ctx, "not-a-uuid"); apiCode(err) != "invalid_webhook_uuid" {
		t.Fatalf("bad uuid: %v", err)
	}
	if _, err := c.AddWebhook(ctx, &meilisearch.AddWebhookRequest{URL: "not a url"}); apiCode(err) != "invalid_webhook_url" {
		t.Fatalf("bad url: %v", err)
	}
	if _, m := rawJSON(t, http.MethodPost, srv.URL()+"/webhooks", `{"url":"https://x.y","uuid":"1"}`); m["code"] != "immutable_webhook_uuid" {
		t.Fatalf("immutable uuid: %v", m)
	}
	for i := 0; i < maxWebhooks; i++ {
		if _, err := c.AddWebhook(ctx, &meilisearch.AddWebhookRequest{URL: "https://example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AddWebhook(ctx, &meilisearch.AddWebhookRequest{URL: "https://example.com"}); apiCode(err) != "invalid_webhooks" {
		t.Fatalf("21st webhook: %v", err)
	}
}

func TestWebhookNotification(t *testing.T) {
	got := make(chan map[string]any, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("X-Token") != "t" {
			t.Errorf("headers %v", r.Header)
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(zr)
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var task map[string]any
			if err := json.Unmarshal(line, &task); err != nil {
				t.Error(err)
			}
			got <- task
		}
	}))
	defer hook.Close()
	_, c := newClient(t)
	if _, err := c.AddWebhook(context.Background(), &meilisearch.AddWebhookRequest{URL: hook.URL, Headers: map[string]string{"X-Token": "t"}}); err != nil {
		t.Fatal(err)
	}
	info, err := c.CreateIndex(context.Background(), &meilisearch.IndexConfig{Uid: "hooked"})
	wait(t, c, info, err)
	select {
	case task := <-got:
		if task["status"] != "succeeded" || task["type"] != "indexCreation" || task["uid"].(float64) != float64(info.TaskUID) {
			t.Fatalf("notified %v", task)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
}

// rawJSON sends a JSON body and returns the response, body read into the
// returned map when it is a JSON object.
func rawJSON(t *testing.T, method, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = decodeResp(resp, &m)
	return resp, m
}
