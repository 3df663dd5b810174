module github.com/miroirsearch/miroir

go 1.26.0

require (
	github.com/andybalholm/brotli v1.1.1
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/meilisearch/meilisearch-go v0.37.0
	golang.org/x/sync v0.25.0
)

require (
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
)
