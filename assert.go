package miroir

import "github.com/meilisearch/meilisearch-go"

// The drop-in promise (DESIGN §4): a Cluster is a meilisearch.ServiceManager
// and its Index a meilisearch.IndexManager.
var (
	_ meilisearch.ServiceManager = (*Cluster)(nil)
	_ meilisearch.IndexManager   = (*Index)(nil)
)

// Index returns the index uid as a meilisearch.IndexManager (a *Index).
// It does not contact the fleet.
func (c *Cluster) Index(uid string) meilisearch.IndexManager { return c.index(uid) }

// ServiceReader returns the Cluster as a meilisearch.ServiceReader.
func (c *Cluster) ServiceReader() meilisearch.ServiceReader { return c }

// GetDocumentManager returns the index as a meilisearch.DocumentManager.
func (i *Index) GetDocumentManager() meilisearch.DocumentManager { return i }

// GetDocumentReader returns the index as a meilisearch.DocumentReader.
func (i *Index) GetDocumentReader() meilisearch.DocumentReader { return i }

// GetSettingsManager returns the index as a meilisearch.SettingsManager.
func (i *Index) GetSettingsManager() meilisearch.SettingsManager { return i }

// GetSettingsReader returns the index as a meilisearch.SettingsReader.
func (i *Index) GetSettingsReader() meilisearch.SettingsReader { return i }

// GetSearch returns the index as a meilisearch.SearchReader.
func (i *Index) GetSearch() meilisearch.SearchReader { return i }

// indexManager is what IndexResult.IndexManager holds.
func (c *Cluster) indexManager(uid string) meilisearch.IndexManager { return c.index(uid) }
