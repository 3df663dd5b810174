package miroir

// Writes Meilisearch accepts and then fails (documents_failed.go): bad
// documents, ids and parameters become failed tasks, and no node is
// written to.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/meilisearch/meilisearch-go"
)

// acWrites keeps the requests of a spy that change a node (task polling
// reads are not writes).
func acWrites(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if !strings.Contains(r, " GET ") {
			out = append(out, r)
		}
	}
	return out
}

func TestValidationBeforeAnyNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8})
	ix := f.createIndex(t, "v", "id")
	noPK := f.createIndex(t, "nopk", "")
	ctx := testCtx(t)
	countTasks := func() int64 {
		var n int64
		for i := range f.srv {
			r, err := f.direct(i).GetTasks(ctx, &meilisearch.TasksQuery{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			n += r.Total
		}
		return n
	}
	before := countTasks()
	// A payload one node refuses at once (malformed, not an object, a
	// bad delimiter; miroir's reserved attribute) is refused by the call;
	// one a node accepts and then fails (ids, primary key: failsTask) gets
	// a task that has already failed with the node's code and message
	// (which names no position). Either way nothing reaches any node.
	var last *meilisearch.TaskInfo
	for _, c := range []struct {
		name      string
		call      func() error
		code      string
		msg       string
		failsTask bool
	}{
		{"not an object", func() error { info, err := ix.AddDocuments(ctx, []byte(`[{"id":1},2]`), nil); last = info; return err }, "malformed_payload", "index 1", false},
		{"missing id", func() error {
			info, err := ix.AddDocuments(ctx, []any{map[string]any{"id": 1}, map[string]any{"x": 1}}, nil)
			last = info
			return err
		}, "missing_document_id", "", true},
		{"bad id", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":"a b"}]`), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"float id", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":1},{"id":1.5}]`), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"reserved", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":1,"_miroir_shard":3}]`), nil)
			last = info
			return err
		}, "miroir_reserved_field", "index 0", false},
		{"malformed json", func() error {
			info, err := ix.AddDocuments(ctx, []byte(`[{"id":1},{"id":`), nil)
			last = info
			return err
		}, "malformed_payload", "", false},
		{"ndjson line", func() error {
			info, err := ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1}\n{\"id\":[1]}\n"), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"csv reserved", func() error {
			info, err := ix.AddDocumentsCsv(ctx, []byte("id,_miroir_shard\n1,2\n"), nil)
			last = info
			return err
		}, "miroir_reserved_field", "", false},
		{"csv bad id", func() error {
			info, err := ix.AddDocumentsCsv(ctx, []byte("id,t\n1,a\nx y,b\n"), nil)
			last = info
			return err
		}, "invalid_document_id", "", true},
		{"csv delimiter", func() error {
			info, err := ix.AddDocumentsCsv(ctx, []byte("id\n1\n"), &meilisearch.CsvDocumentsQuery{CsvDelimiter: ";;"})
			last = info
			return err
		}, "invalid_document_csv_delimiter", "", false},
		{"no pk candidate", func() error {
			info, err := noPK.AddDocuments(ctx, []byte(`[{"name":"x"}]`), nil)
			last = info
			return err
		}, "index_primary_key_no_candidate_found", "did not find any field", true},
		{"two pk candidates", func() error {
			info, err := noPK.AddDocuments(ctx, []byte(`[{"id":1,"uid":2}]`), nil)
			last = info
			return err
		}, "index_primary_key_multiple_candidates_found", "found 2 fields", true},
		{"batches validate all first", func() error {
			infos, err := ix.AddDocumentsInBatches(ctx, []byte(`[{"id":1},{"id":2},{"id":3},{"nope":4}]`), 1, nil)
			if len(infos) == 1 { // one failed task, not three sent and one failed
				last = &infos[0]
			}
			return err
		}, "missing_document_id", "", true},
		{"delete bad id", func() error {
			info, err := ix.DeleteDocuments(ctx, []string{"ok", "n o"}, nil)
			last = info
			return err
		}, "invalid_document_id", "", false},
	} {
		last = nil
		err := c.call()
		if c.failsTask {
			if err != nil || last == nil {
				t.Errorf("%s: refused (%v), want a task that fails with %s", c.name, err, c.code)
				continue
			}
			task, werr := f.c.WaitForTask(ctx, last.TaskUID, 0)
			if werr != nil || task.Status != meilisearch.TaskStatusFailed || string(task.Error.Code) != c.code ||
				!strings.Contains(task.Error.Message, c.msg) || strings.Contains(task.Error.Message, "Document at") {
				t.Errorf("%s: task %+v (%v), want failed with %s", c.name, task, werr, c.code)
			}
			continue
		}
		var me *meilisearch.Error
		if !errors.As(err, &me) || string(me.APIError.Code) != c.code || !strings.Contains(me.APIError.Message, c.msg) {
			t.Errorf("%s: got %v, want code %s naming %q", c.name, err, c.code, c.msg)
		}
		var e *Error
		if errors.As(err, &e) && e.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d", c.name, e.Status)
		}
	}
	if after := countTasks(); after != before {
		t.Fatalf("validation errors reached the nodes: %d node tasks before, %d after", before, after)
	}
}

func TestAuditCoreInvalidDocumentIDsRejectedBeforeAnyNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	// warm up: first use of the index (meta read, caches).
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 3), nil))
	spy := f.spy()

	okID := strings.Repeat("a", 511)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, []map[string]any{{"id": okID}}, nil))
	spy.take()

	bad := map[string]string{
		"float":        `1.5`,
		"float2":       `2.0`,
		"bool":         `true`,
		"null":         `null`,
		"object":       `{"a":1}`,
		"array":        `[1]`,
		"empty":        `""`,
		"space":        `"a b"`,
		"slash":        `"a/b"`,
		"dot":          `"a.b"`,
		"unicode":      `"café"`,
		"too long":     `"` + strings.Repeat("a", 512) + `"`,
		"exponent int": `1e3`,
	}
	for name, idJSON := range bad {
		// 30 good documents with the bad one at position 17.
		var b strings.Builder
		b.WriteString("[")
		for i := 0; i < 30; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			if i == 17 {
				fmt.Fprintf(&b, `{"id":%s,"title":"bad"}`, idJSON)
			} else {
				fmt.Fprintf(&b, `{"id":%d,"title":"good"}`, 1000+i)
			}
		}
		b.WriteString("]")
		// One node accepts such a payload and fails its task (issue 10):
		// so does the cluster, without contacting any node.
		info, err := ix.AddDocuments(ctx, []byte(b.String()), nil)
		if msg := acTaskFailsWith(t, f.c, name, info, err, "invalid_document_id"); msg != "" && !strings.Contains(msg, "Document identifier") {
			t.Errorf("%s: message %q is not Meilisearch's", name, msg)
		}
		if reqs := acWrites(spy.take()); len(reqs) != 0 {
			t.Errorf("%s: nodes were written to: %v", name, reqs)
		}
	}
	// The same through UpdateDocuments, NDJSON and CSV.
	info, err := ix.UpdateDocuments(ctx, []map[string]any{{"id": 1}, {"id": true}}, nil)
	acTaskFailsWith(t, f.c, "UpdateDocuments bool id", info, err, "invalid_document_id")
	info, err = ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1}\n{\"id\":\"a b\"}\n"), nil)
	acTaskFailsWith(t, f.c, "NDJSON bad id", info, err, "invalid_document_id")
	info, err = ix.AddDocumentsCsv(ctx, []byte("id,title\n1,a\na b,c\n"), nil)
	acTaskFailsWith(t, f.c, "CSV bad id", info, err, "invalid_document_id")
	if reqs := acWrites(spy.take()); len(reqs) != 0 {
		t.Errorf("nodes were written to: %v", reqs)
	}
}

func TestAuditCoreWriteValidationBeforeAnyNode(t *testing.T) {
	f := startFleet(t, fleetSpec{groups: []int{0, 0}, rf: 1, shards: 8, timing: oneRetry})
	ix := f.create(t, "docs", "id")
	ctx := testCtx(t)
	acWaitOK(t, f.c)(ix.AddDocuments(ctx, acDocs(0, 3), nil))
	spy := f.spy()

	type call struct {
		name string
		code string // "" = any Meilisearch-shaped error
		run  func() error
	}
	e2 := func(_ any, err error) error { return err }
	calls := []call{
		{"reserved field", CodeReservedField, func() error {
			return e2(ix.AddDocuments(ctx, []map[string]any{{"id": 1}, {"id": 2, "_miroir_shard": 3}}, nil))
		}},
		{"reserved field update", CodeReservedField, func() error {
			return e2(ix.UpdateDocuments(ctx, []map[string]any{{"id": 2, "_miroir_shard": 3}}, nil))
		}},
		{"reserved field ndjson", CodeReservedField, func() error {
			return e2(ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1,\"_miroir_shard\":0}\n"), nil))
		}},
		{"reserved field csv", CodeReservedField, func() error {
			return e2(ix.AddDocumentsCsv(ctx, []byte("id,_miroir_shard\n1,0\n"), nil))
		}},
		{"not an object", "", func() error {
			return e2(ix.AddDocuments(ctx, []byte(`[{"id":1},2]`), nil))
		}},
		{"string element", "", func() error {
			return e2(ix.AddDocuments(ctx, []byte(`[{"id":1},"x"]`), nil))
		}},
		{"malformed json", "malformed_payload", func() error {
			return e2(ix.AddDocuments(ctx, []byte(`[{"id":1},{"id":2`), nil))
		}},
		{"malformed ndjson", "malformed_payload", func() error {
			return e2(ix.AddDocumentsNdjson(ctx, []byte("{\"id\":1}\n{\"id\":2\n"), nil))
		}},
		{"malformed csv", "malformed_payload", func() error {
			return e2(ix.AddDocumentsCsv(ctx, []byte("id,title\n1,a\n2,b,c\n"), nil))
		}},
		{"malformed json reader", "malformed_payload", func() error {
			return e2(ix.AddDocuments(ctx, strings.NewReader(`[{"id":1},{"id":`), nil))
		}},
	}
	for _, c := range calls {
		err := c.run()
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		code := acAPICode(err)
		if code == "" {
			t.Errorf("%s: error does not read as *meilisearch.Error: %v", c.name, err)
		}
		if c.code != "" && code != c.code {
			t.Errorf("%s: code %q, want %q (%v)", c.name, code, c.code, err)
		}
		if reqs := spy.take(); len(reqs) != 0 {
			t.Errorf("%s: nodes were contacted: %v", c.name, reqs)
		}
	}
	// The reserved-field error names the offending document (position 23).
	rdocs := acDocs(500, 30)
	rdocs[23]["_miroir_shard"] = 3
	_, err := ix.AddDocuments(ctx, rdocs, nil)
	if err == nil || !(strings.Contains(err.Error(), "23") || strings.Contains(err.Error(), "24")) {
		t.Errorf("reserved-field error does not name the document's position: %v", err)
	}
	// A document without an id: accepted, and the task fails (issue 10).
	info, err := ix.AddDocuments(ctx, []map[string]any{{"id": 1}, {"title": "no id"}}, nil)
	acTaskFailsWith(t, f.c, "missing id", info, err, "missing_document_id")
	// A bad document in a later batch of an InBatches call: nothing is sent,
	// one task fails.
	docs := acDocs(100, 20)
	docs[15]["id"] = 1.5
	infos, err := ix.AddDocumentsInBatches(ctx, docs, 5, nil)
	if len(infos) != 1 {
		t.Errorf("InBatches: %d tasks (%v), want one failed task", len(infos), err)
	} else {
		acTaskFailsWith(t, f.c, "InBatches", &infos[0], err, "invalid_document_id")
	}
	if reqs := acWrites(spy.take()); len(reqs) != 0 {
		t.Errorf("InBatches: nodes were written to: %v", reqs)
	}
}
