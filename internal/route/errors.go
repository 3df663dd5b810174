// Package route holds the write-path mechanics of miroir: canonical ids,
// a validating scanner over raw JSON, shard injection by byte splicing,
// splitting of JSON arrays, NDJSON and CSV (also as bounded-memory
// streams) and per-node batching. Nothing here decodes documents into
// map[string]any: the write path must cost far less than decode+encode.
package route

import (
	"fmt"
	"strings"
)

// Meilisearch (and miroir) error codes produced by this package. They are
// the codes callers already branch on, so validation failures look like
// the errors one Meilisearch node would have returned.
const (
	CodeInvalidDocumentID = "invalid_document_id"
	CodeMissingDocumentID = "missing_document_id"
	CodeMalformedPayload  = "malformed_payload"
	CodeReservedField     = "miroir_reserved_field"
	// The primary key inference failed: no candidate, or several.
	CodePrimaryKeyNoCandidate = "index_primary_key_no_candidate_found"
	CodePrimaryKeyMultiple    = "index_primary_key_multiple_candidates_found"
	CodeInvalidCSVDelimiter   = "invalid_document_csv_delimiter"
	CodePayloadTooLarge       = "payload_too_large"
)

// ShardField is the reserved attribute miroir injects into every document.
const ShardField = "_miroir_shard"

// VersionField is the reserved attribute holding a document's write
// version, injected next to ShardField when a Batcher has a version (see
// Batcher.SetVersion). Input documents may never carry it.
const VersionField = "_miroir_v"

// DocError reports a document that cannot be routed. Index is the
// document's 0-based position in the payload; Line is the 1-based line
// where it starts for NDJSON and CSV (0 for JSON arrays). Message follows
// Meilisearch's wording and names the position, so it can be shown as is.
type DocError struct {
	Index   int
	Line    int
	Code    string
	Message string
	// Detail is the message without the position: what Meilisearch writes
	// when it fails the task of such a payload ("" when Message has no
	// position).
	Detail string
}

// Error returns the message.
func (e *DocError) Error() string { return e.Message }

// Unpositioned returns the message without the document's position.
func (e *DocError) Unpositioned() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Message
}

// docErr builds a DocError whose message is prefixed with the position.
func docErr(index, line int, code, format string, args ...any) *DocError {
	msg := fmt.Sprintf(format, args...)
	var where string
	switch {
	case index < 0 && line <= 0:
		where = ""
	case line > 0:
		where = fmt.Sprintf("Document at line %d: ", line)
	default:
		where = fmt.Sprintf("Document at index %d: ", index)
	}
	return &DocError{Index: index, Line: line, Code: code, Message: where + msg, Detail: msg}
}

// invalidIDMessage is Meilisearch's invalid_document_id text; value is the
// id as compact JSON (strings keep their quotes, as Meilisearch shows them).
func invalidIDMessage(value string) string {
	return "Document identifier `" + value + "` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes."
}

// excerpt shortens a document for an error message so a 10 MB document
// does not end up in a log line.
func excerpt(doc []byte) string {
	const max = 200
	s := strings.TrimSpace(string(doc[:min(len(doc), max+1)]))
	if len(doc) > max {
		s = s[:min(len(s), max)] + "…"
	}
	return s
}
