package miroir

// Deletes and the other index-wide writes (documents_delete.go): by id to
// the shard's replicas only, by filter and all documents to every node,
// and a broadcast with a node down names it.

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// Delete by id goes only to the id's shard targets.
func TestAuditCoreDeleteByIDRoutedToTargets(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0, 1, 1, 1}, rf: 1, shards: 16, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 50), nil))
	spy := f.spy()
	rep := &Report{}
	acWaitOK(t, f.c)(ix.DeleteDocument(WithReport(ctx, rep), "13", nil))
	want := slices.Clone(f.c.Topology().ShardMap()[acShard("13", 16)])
	sort.Strings(want)
	var got []string
	for _, r := range spy.take() {
		if strings.Contains(r, "/documents") && !strings.Contains(r, " GET ") {
			got = append(got, strings.Fields(r)[0])
		}
	}
	sort.Strings(got)
	if !slices.Equal(slices.Compact(got), want) {
		t.Errorf("DeleteDocument(13) wrote to %v, want the shard's targets %v", got, want)
	}
	if !slices.Equal(rep.NodesContacted, want) {
		t.Errorf("Report.NodesContacted %v, want %v", rep.NodesContacted, want)
	}
	for i := range f.srv {
		if f.nodeDocsByID(t, i, "docs")["13"] != nil {
			t.Errorf("node %d still holds 13", i)
		}
	}
}

func TestAuditCoreBroadcastUnreachableNamesNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 30), nil))
	f.stop(t, 2)
	info, err := ix.DeleteDocumentsByFilter(ctx, "n = 1", nil)
	acFailsNaming(t, f.c, "DeleteDocumentsByFilter", "n2", info, err)
	info, err = ix.DeleteAllDocuments(ctx, nil)
	acFailsNaming(t, f.c, "DeleteAllDocuments", "n2", info, err)
	info, err = ix.UpdateIndex(ctx, &meilisearch.UpdateIndexRequestParams{PrimaryKey: "id"})
	acFailsNaming(t, f.c, "UpdateIndex", "n2", info, err)
	info, err = f.c.CreateDump(ctx)
	acFailsNaming(t, f.c, "CreateDump", "n2", info, err)
	info, err = ix.UpdateDocumentsByFunction(ctx, &meilisearch.UpdateDocumentByFunctionRequest{Function: "doc.x = 1"})
	acFailsNaming(t, f.c, "UpdateDocumentsByFunction", "n2", info, err)
	// Retrying after the node returns converges.
	f.start(t, 2)
	acWaitOK(t, f.c)(ix.DeleteAllDocuments(ctx, nil))
	for i := range f.srv {
		if n := len(f.nodeDocsByID(t, i, "docs")); n != 0 {
			t.Errorf("node %d holds %d documents after DeleteAllDocuments", i, n)
		}
	}
}
