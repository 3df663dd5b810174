package miroir

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"

	"github.com/meilisearch/meilisearch-go"
	"github.com/miroirsearch/miroir/internal/route"
)

// Payload forms: every add/update method of meilisearch.DocumentManager,
// funnelled into one write operation (documents.go).

// payloadKind says how a payload is framed.
type payloadKind int

const (
	kindJSON payloadKind = iota
	kindNDJSON
	kindCSV
)

// writeBytes writes an in-memory payload in the index's call order
// (sequence.go): deferred, with its task registered at once, when an
// unfinished barrier is ahead. With batch > 0 (several tasks) the call
// waits for its turn instead.
func (i *Index) writeBytes(ctx context.Context, method string, kind payloadKind, body []byte, batch int, p docParams) ([]meilisearch.TaskInfo, error) {
	if body == nil {
		body = []byte{} // an empty payload, not a missing one
	}
	ix := i.c.index(i.uid) // the uid as of the call
	if batch > 0 {
		return inTurn(ctx, i.c, string(meilisearch.TaskTypeDocumentAdditionOrUpdate), ix.uid, func(ctx context.Context) ([]meilisearch.TaskInfo, error) {
			return ix.writeBytesInBatches(ctx, method, kind, body, batch, p)
		})
	}
	placeholder := &ClusterTask{IndexUID: ix.uid, Type: meilisearch.TaskTypeDocumentAdditionOrUpdate, CustomMetadata: p.metadata}
	check := func() error {
		n, err := countDocuments(kind, body, p)
		placeholder.Documents, placeholder.Details.ReceivedDocuments = n, n
		return err
	}
	info, err := i.c.sequencedChecked(ctx, []string{ix.uid}, false, placeholder, check, func(ctx context.Context) (*meilisearch.TaskInfo, error) {
		return one(ix.writeBytesNow(ctx, method, kind, body, p))
	})
	if err != nil {
		return nil, err
	}
	return []meilisearch.TaskInfo{*info}, nil
}

// writeBytesNow routes an in-memory payload; the node bodies refer to
// body, which is never copied. Every document is validated and routed (on
// several cores when the payload is large) before any is sent, and before
// a missing index is created: a payload whose task fails (failsAsTask)
// leaves the fleet as it was.
func (i *Index) writeBytesNow(ctx context.Context, method string, kind payloadKind, body []byte, p docParams) ([]meilisearch.TaskInfo, error) {
	unpin, err := i.c.pinWrites()
	if err != nil {
		return nil, err
	}
	defer unpin()
	w, src, err := i.prepare(ctx, method, kind, nil, body, p, true)
	if err != nil {
		return i.failOrRefuse(ctx, kind, body, p, err)
	}
	if w.missing {
		// Validate first, then create the index and send what was routed.
		return i.writeRouted(ctx, method, kind, body, 0, p, w, src)
	}
	targets := w.targets(ctx)
	parts, err := routeInMemory(src, func() docSink { return &batchSink{b: w.newBatcher(), targets: targets} })
	w.st.addFields(w.fields)
	if err != nil {
		return i.failOrRefuse(ctx, kind, body, p, docError(err))
	}
	head := parts[0].(*batchSink)
	for _, p := range parts[1:] {
		head.b.Append(p.(*batchSink).b)
		head.n += p.(*batchSink).n
	}
	return w.runBatched(ctx, head.b, head.n)
}

// failOrRefuse ends an in-memory write that failed before anything was
// sent: with a failed task when Meilisearch would accept the call and fail
// its task, else with err (the call is refused). A malformed document
// anywhere in the payload is refused even when an earlier one lacked an
// id, as a node reads the whole payload before it enqueues.
func (i *Index) failOrRefuse(ctx context.Context, kind payloadKind, body []byte, p docParams, err error) ([]meilisearch.TaskInfo, error) {
	if !failsAsTask(err) {
		return nil, err
	}
	n, serr := countDocuments(kind, body, p)
	if serr != nil {
		return nil, serr
	}
	info, err := i.c.failedWrite(ctx, i.uid, n, p, err)
	if err != nil {
		return nil, err
	}
	return []meilisearch.TaskInfo{*info}, nil
}

// writeBytesInBatches validates and routes every document before it
// creates a missing index or sends anything, then sends batch documents
// per cluster task.
func (i *Index) writeBytesInBatches(ctx context.Context, method string, kind payloadKind, body []byte, batch int, p docParams) ([]meilisearch.TaskInfo, error) {
	unpin, err := i.c.pinWrites()
	if err != nil {
		return nil, err
	}
	defer unpin()
	w, src, err := i.prepare(ctx, method, kind, nil, body, p, true)
	if err != nil {
		return i.failOrRefuse(ctx, kind, body, p, err)
	}
	return i.writeRouted(ctx, method, kind, body, batch, p, w, src)
}

// writeRouted routes a whole in-memory payload (w and src from a dry
// prepare: nothing created yet), then creates the index if needed and
// sends the documents, batch per cluster task (0: one task).
func (i *Index) writeRouted(ctx context.Context, method string, kind payloadKind, body []byte, batch int, p docParams, w *writeOp, src source) ([]meilisearch.TaskInfo, error) {
	parts, err := routeInMemory(src, func() docSink { return &docList{} })
	w.st.addFields(w.fields)
	if err != nil {
		return i.failOrRefuse(ctx, kind, body, p, docError(err))
	}
	w2, src2, err := i.prepare(ctx, method, kind, nil, body, p, false)
	if err != nil {
		return i.failOrRefuse(ctx, kind, body, p, err)
	}
	w2.batchDocs = batch
	if w2.pk != w.pk || w2.st.shards != w.st.shards {
		return w2.run(ctx, src2) // the index changed meanwhile: route again
	}
	maps.Copy(w2.fields, w.fields) // the index may have just been created
	return w2.run(ctx, &replaySource{parts: parts})
}

// writeReader routes a streamed payload in bounded batches, when its turn
// comes (a reader cannot be deferred without holding it whole).
func (i *Index) writeReader(ctx context.Context, method string, kind payloadKind, r io.Reader, batch int, p docParams) ([]meilisearch.TaskInfo, error) {
	ix := i.c.index(i.uid)
	return inTurn(ctx, i.c, string(meilisearch.TaskTypeDocumentAdditionOrUpdate), ix.uid, func(ctx context.Context) ([]meilisearch.TaskInfo, error) {
		unpin, err := ix.c.pinWrites()
		if err != nil {
			return nil, err
		}
		defer unpin()
		w, src, err := ix.prepare(ctx, method, kind, r, nil, p, false)
		if err != nil {
			if !failsAsTask(err) {
				return nil, err
			}
			return ix.failStream(ctx, src, 0, p, err)
		}
		w.batchDocs = batch
		w.stream = true
		return w.run(ctx, src)
	})
}

// failStream ends a streamed write that failed before anything was sent
// with a failed task, once the rest of the stream is read (n documents
// were read before the failing one, src yields what is left; nil: the
// source was not opened).
func (i *Index) failStream(ctx context.Context, src source, n int64, p docParams, err error) ([]meilisearch.TaskInfo, error) {
	if src != nil {
		rest, serr := remaining(src)
		if serr != nil {
			return nil, serr
		}
		n += rest
	}
	info, ferr := i.c.failedWrite(ctx, i.uid, n, p, err)
	if ferr != nil {
		return nil, ferr
	}
	return []meilisearch.TaskInfo{*info}, nil
}

// prepare resolves the index state and primary key and opens the source:
// body when non-nil (zero-copy readers), else r. dry skips the index
// creation (validation pass).
func (i *Index) prepare(ctx context.Context, method string, kind payloadKind, r io.Reader, body []byte, p docParams, dry bool) (*writeOp, source, error) {
	c := i.c
	if err := c.checkOpen(); err != nil {
		return nil, nil, err
	}
	st, pre, missing, err := i.writeTarget(ctx, p, dry)
	if err != nil {
		return nil, nil, err
	}
	w := &writeOp{ix: i, st: st, method: method, params: p, preTasks: pre, fields: map[string]struct{}{}, missing: missing, tp: i.c.topo()}
	if w.version, err = c.writeVersionFor(ctx); err != nil {
		return nil, nil, err
	}
	var src source
	if kind == kindCSV {
		src, err = w.openCSV(r, body)
	} else {
		src, err = w.openJSON(kind, r, body)
	}
	if err != nil {
		return nil, nil, err
	}
	return w, src, nil
}

// writeTarget returns the index state a write goes to, and the node tasks
// of the index's creation when the write created it. A dry pass creates
// nothing: a missing index (that the caller may create) gets a fresh
// state and missing is true.
func (i *Index) writeTarget(ctx context.Context, p docParams, dry bool) (st *indexState, pre []NodeTask, missing bool, err error) {
	c := i.c
	if !dry {
		st, pre, err = c.writeState(ctx, i.uid, p.primaryKey)
		return st, pre, false, err
	}
	st, err = c.state(ctx, i.uid)
	if apiCode(err) == "index_not_found" {
		if !grantFrom(ctx).AllowIndexCreation(i.uid) {
			return nil, nil, false, indexCreationRefused(i.uid)
		}
		return newIndexState(i.uid, c.opts.shards), nil, true, nil
	}
	return st, nil, false, err
}

// openCSV opens a CSV payload (body, else r): its header names the
// fields and, with the primary key, the key column.
func (w *writeOp) openCSV(r io.Reader, body []byte) (source, error) {
	p := w.params
	delim, err := route.CSVDelimiter(p.csvDelimiter)
	if err != nil {
		return nil, docError(err)
	}
	var cr *route.CSVReader
	if body != nil {
		cr, err = route.CSVBytes(body, delim)
	} else {
		cr, err = route.NewCSVReader(r, delim)
	}
	if err != nil {
		return nil, docError(err)
	}
	names := cr.Names()
	pk, setPK, err := resolvePK(p.primaryKey, w.st, func() ([]string, error) { return names, nil })
	if err != nil {
		return nil, err
	}
	for _, f := range names {
		w.fields[f] = struct{}{}
	}
	w.pk, w.setPK = pk, setPK
	w.format = route.FormatCSV
	w.csvHeader, w.csvDelim = cr.Header(), delim
	col := cr.Column(pk)
	typ := route.CSVString
	if col >= 0 {
		typ = cr.Columns()[col].Type
	}
	cr.SetKeyColumn(col)
	return &csvSource{cr: cr, rt: route.Router{PrimaryKey: pk, Shards: w.st.shards}, typ: typ, body: body}, nil
}

// openJSON opens a JSON array, a single object or NDJSON payload (body,
// else r); the primary key, when not known, is inferred from the first
// document.
func (w *writeOp) openJSON(kind payloadKind, r io.Reader, body []byte) (source, error) {
	js := &jsonSource{ndjson: kind == kindNDJSON, body: body}
	switch {
	case body != nil && kind == kindNDJSON:
		js.rd = route.NDJSONBytes(body)
	case body != nil && firstByte(body) == '{':
		// Meilisearch also takes a single object as the payload.
		js.rd = route.NDJSONBytes(body)
	case body != nil:
		js.rd = route.ArrayBytes(body)
		js.array = true
	case kind == kindNDJSON:
		js.rd = route.NewNDJSONReader(r)
	default:
		js.rd = route.NewArrayReader(r)
	}
	w.format = route.FormatJSON
	if kind == kindNDJSON {
		w.format = route.FormatNDJSON
	}
	pk, setPK, err := resolvePK(w.params.primaryKey, w.st, js.peek)
	if err != nil {
		return nil, err
	}
	w.pk, w.setPK = pk, setPK
	js.rt = route.Router{PrimaryKey: pk, Shards: w.st.shards, Fields: w.fields}
	return js, nil
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// documentsBytes turns any documents value into JSON bytes: []byte and
// json.RawMessage are taken as they are (raw JSON, as meilisearch-go sends
// them), anything else is marshalled once with encoding/json.
func documentsBytes(v any) ([]byte, io.Reader, error) {
	switch d := v.(type) {
	case nil:
		return nil, nil, newError(http.StatusBadRequest, "malformed_payload", "The documents are nil; expected an array of documents.")
	case []byte:
		return d, nil, nil
	case json.RawMessage:
		return d, nil, nil
	case *json.RawMessage:
		if d == nil {
			return nil, nil, newError(http.StatusBadRequest, "malformed_payload", "The documents are nil; expected an array of documents.")
		}
		return *d, nil, nil
	case io.Reader:
		return nil, d, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		e := newError(http.StatusBadRequest, "malformed_payload", "miroir: cannot encode the documents as JSON: %v", err)
		e.Err = err
		return nil, nil, e
	}
	return b, nil, nil
}

func (i *Index) writeAny(ctx context.Context, method string, docs any, batch int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	b, r, err := documentsBytes(docs)
	if err != nil {
		return nil, err
	}
	if r != nil {
		return i.writeReader(ctx, method, kindJSON, r, batch, fromDocOptions(opts))
	}
	return i.writeBytes(ctx, method, kindJSON, b, batch, fromDocOptions(opts))
}

func one(infos []meilisearch.TaskInfo, err error) (*meilisearch.TaskInfo, error) {
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, errors.New("miroir: internal error: write produced no task")
	}
	return &infos[0], nil
}

func checkBatch(n int) error {
	if n <= 0 {
		return newError(http.StatusBadRequest, "invalid_batch_size", "miroir: batch size must be positive, got %d", n)
	}
	return nil
}

// AddDocuments adds or replaces documents. documentsPtr may be any value
// encoding/json turns into an array of objects ([]map[string]any, []T,
// *[]T, ...), raw JSON ([]byte, json.RawMessage: an array or one object),
// or an io.Reader of a JSON array (streamed in bounded batches).
func (i *Index) AddDocuments(ctx context.Context, documentsPtr any, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeAny(ctx, http.MethodPost, documentsPtr, 0, opts))
}

// AddDocumentsInBatches adds documents in batches of batchSize documents,
// one cluster task per batch. Every document is validated before the first
// batch is sent.
func (i *Index) AddDocumentsInBatches(ctx context.Context, documentsPtr any, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeAny(ctx, http.MethodPost, documentsPtr, batchSize, opts)
}

// UpdateDocuments adds documents or updates them partially (same forms as
// AddDocuments).
func (i *Index) UpdateDocuments(ctx context.Context, documentsPtr any, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeAny(ctx, http.MethodPut, documentsPtr, 0, opts))
}

// UpdateDocumentsInBatches is UpdateDocuments in batches of batchSize.
func (i *Index) UpdateDocumentsInBatches(ctx context.Context, documentsPtr any, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeAny(ctx, http.MethodPut, documentsPtr, batchSize, opts)
}

// AddDocumentsCsv adds documents from a CSV payload (header line first;
// Meilisearch's name:type header syntax; CsvDelimiter honoured).
func (i *Index) AddDocumentsCsv(ctx context.Context, documents []byte, options *meilisearch.CsvDocumentsQuery) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPost, kindCSV, documents, 0, fromCsvOptions(options)))
}

// AddDocumentsCsvInBatches adds a CSV payload in batches of batchSize rows.
func (i *Index) AddDocumentsCsvInBatches(ctx context.Context, documents []byte, batchSize int, options *meilisearch.CsvDocumentsQuery) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPost, kindCSV, documents, batchSize, fromCsvOptions(options))
}

// AddDocumentsCsvFromReaderInBatches streams CSV rows from a reader in
// batches of batchSize rows, one cluster task per batch.
func (i *Index) AddDocumentsCsvFromReaderInBatches(ctx context.Context, documents io.Reader, batchSize int, options *meilisearch.CsvDocumentsQuery) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeReader(ctx, http.MethodPost, kindCSV, documents, batchSize, fromCsvOptions(options))
}

// AddDocumentsCsvFromReader streams a CSV payload in bounded batches (one
// cluster task).
func (i *Index) AddDocumentsCsvFromReader(ctx context.Context, documents io.Reader, options *meilisearch.CsvDocumentsQuery) (*meilisearch.TaskInfo, error) {
	return one(i.writeReader(ctx, http.MethodPost, kindCSV, documents, 0, fromCsvOptions(options)))
}

// AddDocumentsNdjson adds documents from an NDJSON payload.
func (i *Index) AddDocumentsNdjson(ctx context.Context, documents []byte, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPost, kindNDJSON, documents, 0, fromDocOptions(opts)))
}

// AddDocumentsNdjsonInBatches adds an NDJSON payload in batches.
func (i *Index) AddDocumentsNdjsonInBatches(ctx context.Context, documents []byte, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPost, kindNDJSON, documents, batchSize, fromDocOptions(opts))
}

// AddDocumentsNdjsonFromReader streams an NDJSON payload in bounded
// batches (one cluster task).
func (i *Index) AddDocumentsNdjsonFromReader(ctx context.Context, documents io.Reader, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeReader(ctx, http.MethodPost, kindNDJSON, documents, 0, fromDocOptions(opts)))
}

// AddDocumentsNdjsonFromReaderInBatches streams NDJSON in batches of
// batchSize documents, one cluster task per batch.
func (i *Index) AddDocumentsNdjsonFromReaderInBatches(ctx context.Context, documents io.Reader, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeReader(ctx, http.MethodPost, kindNDJSON, documents, batchSize, fromDocOptions(opts))
}

// UpdateDocumentsCsv partially updates documents from a CSV payload.
func (i *Index) UpdateDocumentsCsv(ctx context.Context, documents []byte, options *meilisearch.CsvDocumentsQuery) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPut, kindCSV, documents, 0, fromCsvOptions(options)))
}

// UpdateDocumentsCsvInBatches partially updates from CSV in batches.
func (i *Index) UpdateDocumentsCsvInBatches(ctx context.Context, documents []byte, batchSize int, options *meilisearch.CsvDocumentsQuery) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPut, kindCSV, documents, batchSize, fromCsvOptions(options))
}

// UpdateDocumentsNdjson partially updates documents from NDJSON.
func (i *Index) UpdateDocumentsNdjson(ctx context.Context, documents []byte, opts *meilisearch.DocumentOptions) (*meilisearch.TaskInfo, error) {
	return one(i.writeBytes(ctx, http.MethodPut, kindNDJSON, documents, 0, fromDocOptions(opts)))
}

// UpdateDocumentsNdjsonInBatches partially updates from NDJSON in batches.
func (i *Index) UpdateDocumentsNdjsonInBatches(ctx context.Context, documents []byte, batchSize int, opts *meilisearch.DocumentOptions) ([]meilisearch.TaskInfo, error) {
	if err := checkBatch(batchSize); err != nil {
		return nil, err
	}
	return i.writeBytes(ctx, http.MethodPut, kindNDJSON, documents, batchSize, fromDocOptions(opts))
}
