package miroir

import (
	"context"
	"net/http"
	"net/url"

	"github.com/meilisearch/meilisearch-go"
)

// Methods of meilisearch.ServiceManager with no sharded meaning. Each
// returns an error matching ErrUnsupported (code miroir_unsupported, HTTP
// 501) that says why; none panics or silently does nothing. The decisions
// are listed in the README's compatibility table.

// GetBatches is unsupported: batches are how one node groups its own
// tasks; a fleet has one set per node and no cluster-wide meaning.
func (c *Cluster) GetBatches(context.Context, *meilisearch.BatchesQuery) (*meilisearch.BatchesResults, error) {
	return nil, unsupported("GetBatches", "batches are node-local groupings of node tasks; follow cluster tasks with GetTask/GetTasks")
}

// GetBatch is unsupported (see GetBatches).
func (c *Cluster) GetBatch(context.Context, int) (*meilisearch.Batch, error) {
	return nil, unsupported("GetBatch", "batches are node-local groupings of node tasks; follow cluster tasks with GetTask/GetTasks")
}

// GetNetwork is unsupported: the network API configures Meilisearch
// Enterprise's own sharding, which miroir replaces.
func (c *Cluster) GetNetwork(context.Context) (*meilisearch.Network, error) {
	return nil, unsupported("GetNetwork", "the network API configures Meilisearch Enterprise sharding, which miroir replaces")
}

// UpdateNetwork is unsupported (see GetNetwork).
func (c *Cluster) UpdateNetwork(context.Context, *meilisearch.UpdateNetworkRequest) (any, error) {
	return nil, unsupported("UpdateNetwork", "the network API configures Meilisearch Enterprise sharding, which miroir replaces")
}

// Export is unsupported: every node would export its own shards, with the
// internal _miroir_shard attribute and RG×RF copies of each document, into
// the same remote index.
func (c *Cluster) Export(context.Context, *meilisearch.ExportParams) (*meilisearch.TaskInfo, error) {
	return nil, unsupported("Export", "each node would push its own shards (with the _miroir_shard attribute, once per replica) to the remote; read documents through the Cluster and write them to the target instead")
}

const chatWhy = "chat completions run a node's own search, which sees only that node's shards"

// ChatCompletionStream is unsupported: a node's chat agent searches only
// the shards that node holds.
func (c *Cluster) ChatCompletionStream(context.Context, string, *meilisearch.ChatCompletionQuery) (*meilisearch.Stream[*meilisearch.ChatCompletionStreamChunk], error) {
	return nil, unsupported("ChatCompletionStream", chatWhy)
}

// ListChatWorkspaces is unsupported (see ChatCompletionStream).
func (c *Cluster) ListChatWorkspaces(context.Context, *meilisearch.ListChatWorkSpaceQuery) (*meilisearch.ListChatWorkspace, error) {
	return nil, unsupported("ListChatWorkspaces", chatWhy)
}

// GetChatWorkspace is unsupported (see ChatCompletionStream).
func (c *Cluster) GetChatWorkspace(context.Context, string) (*meilisearch.ChatWorkspace, error) {
	return nil, unsupported("GetChatWorkspace", chatWhy)
}

// GetChatWorkspaceSettings is unsupported (see ChatCompletionStream).
func (c *Cluster) GetChatWorkspaceSettings(context.Context, string) (*meilisearch.ChatWorkspaceSettings, error) {
	return nil, unsupported("GetChatWorkspaceSettings", chatWhy)
}

// UpdateChatWorkspace is unsupported (see ChatCompletionStream).
func (c *Cluster) UpdateChatWorkspace(context.Context, string, *meilisearch.ChatWorkspaceSettings) (*meilisearch.ChatWorkspaceSettings, error) {
	return nil, unsupported("UpdateChatWorkspace", chatWhy)
}

// ResetChatWorkspace is unsupported (see ChatCompletionStream).
func (c *Cluster) ResetChatWorkspace(context.Context, string) (*meilisearch.ChatWorkspaceSettings, error) {
	return nil, unsupported("ResetChatWorkspace", chatWhy)
}

const webhookWhy = "nodes would each notify about their own node tasks (node task uids, once per node), not about cluster tasks"

// AddWebhook is unsupported: every node would call the webhook for its own
// node tasks.
func (c *Cluster) AddWebhook(context.Context, *meilisearch.AddWebhookRequest) (*meilisearch.Webhook, error) {
	return nil, unsupported("AddWebhook", webhookWhy)
}

// UpdateWebhook is unsupported (see AddWebhook).
func (c *Cluster) UpdateWebhook(context.Context, string, *meilisearch.UpdateWebhookRequest) (*meilisearch.Webhook, error) {
	return nil, unsupported("UpdateWebhook", webhookWhy)
}

// DeleteWebhook is unsupported (see AddWebhook).
func (c *Cluster) DeleteWebhook(context.Context, string) error {
	return unsupported("DeleteWebhook", webhookWhy)
}

// ListWebhooks is unsupported (see AddWebhook).
func (c *Cluster) ListWebhooks(context.Context) (*meilisearch.WebhookResults, error) {
	return nil, unsupported("ListWebhooks", webhookWhy)
}

// GetWebhook is unsupported (see AddWebhook).
func (c *Cluster) GetWebhook(context.Context, string) (*meilisearch.Webhook, error) {
	return nil, unsupported("GetWebhook", webhookWhy)
}

const searchRuleWhy = "pinned positions apply to each node's partial result list and cannot survive the merge across nodes"

// UpdateSearchRule is unsupported: a node pins documents at positions of
// its own partial results, which the merge reorders.
func (c *Cluster) UpdateSearchRule(context.Context, string, *meilisearch.SearchRulesRequest) (*meilisearch.Task, error) {
	return nil, unsupported("UpdateSearchRule", searchRuleWhy)
}

// DeleteSearchRule is unsupported (see UpdateSearchRule).
func (c *Cluster) DeleteSearchRule(context.Context, *string) (*meilisearch.Task, error) {
	return nil, unsupported("DeleteSearchRule", searchRuleWhy)
}

// ListSearchRules reads the rules of one healthy node (rules cannot be
// written through miroir; this shows what nodes were given directly).
func (c *Cluster) ListSearchRules(ctx context.Context, params *meilisearch.SearchRulesParams) (*meilisearch.SearchRulesResults, error) {
	var out meilisearch.SearchRulesResults
	err := c.oneNode(ctx, func(n *node) error {
		return n.doJSON(ctx, "listSearchRules", http.MethodPost, "/dynamic-search-rules", nil, params, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSearchRule reads one rule from one healthy node.
func (c *Cluster) GetSearchRule(ctx context.Context, uid string) (*meilisearch.SearchRule, error) {
	var out meilisearch.SearchRule
	err := c.oneNode(ctx, func(n *node) error {
		return n.doJSON(ctx, "getSearchRule", http.MethodGet, "/dynamic-search-rules/"+url.PathEscape(uid), nil, nil, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
