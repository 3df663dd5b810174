package meilitest

import (
	"context"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

func TestChatWorkspaces(t *testing.T) {
	srv, c := newClient(t)
	ctx := context.Background()
	chat := c.ChatManager()
	settings := &meilisearch.ChatWorkspaceSettings{Source: meilisearch.OpenaiChatSource, ApiKey: "sk-0123456789abcdef", Prompts: &meilisearch.ChatWorkspaceSettingsPrompts{System: "be brief"}}
	if _, err := chat.UpdateChatWorkspace(ctx, "ws", settings); apiCode(err) != "feature_not_enabled" {
		t.Fatalf("without the feature: %v", err)
	}
	if _, err := c.ExperimentalFeatures().SetChatCompletions(true).Update(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := chat.UpdateChatWorkspace(ctx, "ws", settings)
	if err != nil || got.ApiKey != "skXXXX..." || got.Prompts.System != "be brief" {
		t.Fatalf("patch %+v %v", got, err)
	}
	again, err := chat.GetChatWorkspaceSettings(ctx, "ws")
	if err != nil || *again.Prompts != *got.Prompts || again.ApiKey != got.ApiKey || again.Source != got.Source {
		t.Fatalf("get %+v %v", again, err)
	}
	if ws, err := chat.GetChatWorkspace(ctx, "ws"); err != nil || ws.UID != "ws" {
		t.Fatalf("workspace %+v %v", ws, err)
	}
	list, err := chat.ListChatWorkspaces(ctx, &meilisearch.ListChatWorkSpaceQuery{Limit: 5})
	if err != nil || list.Total != 1 || list.Limit != 5 || list.Results[0].UID != "ws" {
		t.Fatalf("list %+v %v", list, err)
	}
	if resp, m := rawJSON(t, "PATCH", srv.URL()+"/chats/az/settings", `{"source":"azureOpenAi"}`); resp.StatusCode != 400 || m["code"] != "bad_request" {
		t.Fatalf("azure without baseUrl: %v", m)
	}
	reset, err := chat.ResetChatWorkspace(ctx, "ws")
	if err != nil || reset.ApiKey != "" || reset.Prompts.System != defaultChatSystemPrompt || reset.Prompts.SearchQParam != defaultChatSearchQParamPrompt {
		t.Fatalf("reset %+v %v", reset, err)
	}

	// Streamed completions: the LLM cannot be reached, so the stream carries
	// one transport error event, as Meilisearch sends it.
	stream, err := chat.ChatCompletionStream(ctx, "ws", &meilisearch.ChatCompletionQuery{Model: "gpt-4o-mini",
		Messages: []*meilisearch.ChatCompletionMessage{{Role: meilisearch.ChatRoleUser, Content: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	n := 0
	for stream.Next() {
		n++
	}
	if stream.Err() != nil || n != 1 {
		t.Fatalf("stream: %d chunks, %v", n, stream.Err())
	}
	if resp, m := rawJSON(t, "POST", srv.URL()+"/chats/nope/chat/completions", `{"model":"m","messages":[],"stream":true}`); resp.StatusCode != 404 || m["code"] != "chat_not_found" {
		t.Fatalf("missing workspace: %d %v", resp.StatusCode, m)
	}
	if resp, m := rawJSON(t, "POST", srv.URL()+"/chats/ws/chat/completions", `{"model":"m","messages":[]}`); resp.StatusCode != 501 || m["code"] != "unimplemented_non_streaming_chat_completions" {
		t.Fatalf("non-streamed: %d %v", resp.StatusCode, m)
	}
}

// GET /chats is a PaginationView: results, offset, limit, total.
func TestChatListKeyOrder(t *testing.T) {
	srv, c := newClient(t)
	if _, err := c.ExperimentalFeatures().SetChatCompletions(true).Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	if keys := topKeys(t, srv, "GET", "/chats", "", ""); !keyOrder(keys, "results", "offset", "limit", "total") {
		t.Errorf("keys %v", keys)
	}
}
