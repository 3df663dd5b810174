package miroir

import (
	_ "github.com/cespare/xxhash/v2"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/meilisearch/meilisearch-go"
	_ "golang.org/x/sync/errgroup"
)
