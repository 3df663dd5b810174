package miroir

import (
	"context"
	"errors"
	"io"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/route"
)

// Document writes Meilisearch accepts and then fails (issue 10): a node
// reads the payload when the call comes (malformed JSON, NDJSON or CSV, a
// document that is not an object: refused at once, 400), and only when it
// processes the task looks for ids and the primary key. So a document
// without a valid id, a primary key that cannot be inferred or differs
// from the index's, or an index the caller's key may not create, gives a
// 202 and a task that fails with Meilisearch's code and message. miroir
// does the same: it registers a cluster task that has already failed, and
// sends nothing to any node (no node could have succeeded).

// failsAsTask reports whether err is one Meilisearch reports as a failed
// task rather than a refused call.
func failsAsTask(err error) bool {
	if errors.Is(err, errIndexCreationRefused) {
		return true
	}
	switch apiCode(err) {
	case route.CodeMissingDocumentID, route.CodeInvalidDocumentID, route.CodePrimaryKeyNoCandidate,
		route.CodePrimaryKeyMultiple, "index_primary_key_already_exists":
		return true
	}
	return false
}

// taskError is the error a failed task shows: Meilisearch's message, which
// does not name the document's position.
func taskError(err error) error {
	var de *route.DocError
	if errors.As(err, &de) {
		e := newError(statusOf(err), de.Code, "%s", de.Unpositioned())
		e.Err = err
		return e
	}
	return err
}

// failedWrite registers the already-failed task of a document write that
// failed with err before anything was sent: n documents were received.
func (c *Cluster) failedWrite(ctx context.Context, uid string, n int64, p docParams, err error) (*meilisearch.TaskInfo, error) {
	t := &ClusterTask{IndexUID: uid, Type: meilisearch.TaskTypeDocumentAdditionOrUpdate, Documents: n,
		CustomMetadata: p.metadata, Details: meilisearch.Details{ReceivedDocuments: n}}
	return c.tasks.registerFailed(ctx, t, taskError(err))
}

// countDocuments reads a whole in-memory payload as a node does when the
// call comes: it counts the documents and refuses a malformed payload
// (bad JSON, NDJSON or CSV, a document that is not an object, a reserved
// miroir attribute), the errors one node answers at once.
func countDocuments(kind payloadKind, body []byte, p docParams) (int64, error) {
	switch kind {
	case kindCSV:
		delim, err := route.CSVDelimiter(p.csvDelimiter)
		if err != nil {
			return 0, docError(err)
		}
		cr, err := route.CSVBytes(body, delim)
		if err != nil {
			return 0, docError(err)
		}
		return countCSV(cr, 0)
	default:
		var rd *route.Reader
		switch {
		case kind == kindNDJSON || firstByte(body) == '{':
			rd = route.NDJSONBytes(body)
		default:
			rd = route.ArrayBytes(body)
		}
		return countJSON(rd, kind == kindNDJSON, 0)
	}
}

// syntaxRouter checks a document's syntax only: every valid object is
// "missing" this key, which no document can hold.
var syntaxKey = "\x00miroir syntax check"

// countJSON counts the documents left in rd (n already read), checking
// each one's syntax.
func countJSON(rd *route.Reader, ndjson bool, n int64) (int64, error) {
	rt := route.Router{PrimaryKey: syntaxKey, Shards: 1}
	for {
		_, err := rt.Next(rd, ndjson)
		if err == io.EOF {
			return n, nil
		}
		if err != nil && apiCode(docError(err)) != route.CodeMissingDocumentID {
			return n, docError(err)
		}
		n++
	}
}

// countCSV counts the records left in cr (n already read).
func countCSV(cr *route.CSVReader, n int64) (int64, error) {
	for {
		_, err := cr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, docError(err)
		}
		n++
	}
}

// remaining counts the documents a source has not yielded yet, checking
// their syntax (a streamed payload whose task fails is still read to its
// end, as a node reads it before it answers).
func remaining(src source) (int64, error) {
	switch s := src.(type) {
	case *jsonSource:
		return countJSON(s.rd, s.ndjson, 0)
	case *csvSource:
		return countCSV(s.cr, 0)
	}
	return 0, nil
}

// stateOrFailedTask returns the state of t's index; when the index does
// not exist it registers t as failed with index_not_found instead (a node
// accepts a write on a missing index and fails its task) and returns that
// task with a nil state.
func (c *Cluster) stateOrFailedTask(ctx context.Context, t *ClusterTask) (*indexState, *meilisearch.TaskInfo, error) {
	st, err := c.state(ctx, t.IndexUID)
	if err == nil {
		return st, nil, nil
	}
	if apiCode(err) != "index_not_found" {
		return nil, nil, err
	}
	info, err := c.tasks.registerFailed(ctx, t, err)
	return nil, info, err
}
