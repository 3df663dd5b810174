package route

import "strconv"

// Format is the body format a Batcher builds for the nodes.
type Format int

// Body formats a Batcher can build. Meilisearch reads all three; JSON
// arrays are the default because every node version accepts them.
const (
	FormatJSON Format = iota
	FormatNDJSON
	FormatCSV
)

// ContentType is the HTTP Content-Type of a body in this format.
func (f Format) ContentType() string {
	switch f {
	case FormatNDJSON:
		return "application/x-ndjson"
	case FormatCSV:
		return "text/csv"
	}
	return "application/json"
}

// Batcher accumulates routed documents into one request body per node.
// Each document is injected once and copied to each of its targets.
// Buffers are kept across Reset, so a long stream reuses its memory.
// A Batcher is not safe for concurrent use.
type Batcher struct {
	format  Format
	header  []byte // CSV: output header line, newline included
	delim   byte
	nodes   []nodeBatch
	scratch []byte
}

type nodeBatch struct {
	buf  []byte
	docs int
}

// NewBatcher makes a Batcher for node indexes 0..nodes-1 building bodies in
// format. For FormatCSV call SetCSVHeader before adding rows.
func NewBatcher(nodes int, format Format) *Batcher {
	return &Batcher{format: format, nodes: make([]nodeBatch, nodes), delim: ','}
}

// SetCSVHeader sets the header line every CSV body starts with (see
// CSVReader.OutputHeader) and the delimiter used before the shard cell.
func (b *Batcher) SetCSVHeader(header []byte, delim byte) {
	b.header = append(b.header[:0], header...)
	b.delim = delim
}

// Add injects the shard into doc and appends the result to the body of
// every node in targets. doc is a JSON object (Routed.Doc) for JSON and
// NDJSON, or a raw CSV record without its line terminator (CSVRecord.Raw)
// for CSV.
func (b *Batcher) Add(doc []byte, shard int, targets []int) {
	s := b.scratch[:0]
	if b.format == FormatCSV {
		s = append(s, doc...)
		s = append(s, b.delim)
		s = strconv.AppendInt(s, int64(shard), 10)
	} else {
		s = AppendInjected(s, doc, shard)
	}
	b.scratch = s
	for _, t := range targets {
		nb := &b.nodes[t]
		switch {
		case nb.docs == 0 && b.format == FormatJSON:
			nb.buf = append(nb.buf[:0], '[')
		case nb.docs == 0 && b.format == FormatCSV:
			nb.buf = append(nb.buf[:0], b.header...)
		case nb.docs == 0:
			nb.buf = nb.buf[:0]
		case b.format == FormatJSON:
			nb.buf = append(nb.buf, ',')
		}
		nb.buf = append(nb.buf, s...)
		if b.format != FormatJSON {
			nb.buf = append(nb.buf, '\n')
		}
		nb.docs++
	}
}

// Body returns node's finished request body, or nil when it holds no
// document. The slice is valid until the next Add or Reset: wait for the
// request reading it to finish first, or use Take.
func (b *Batcher) Body(node int) []byte {
	nb := &b.nodes[node]
	if nb.docs == 0 {
		return nil
	}
	if b.format == FormatJSON {
		body := append(nb.buf, ']')
		nb.buf = body[:len(body)-1]
		return body
	}
	return nb.buf
}

// Take returns node's finished body like Body but hands the buffer over to
// the caller, so requests can stay in flight while the Batcher goes on
// (the node's next body gets a fresh buffer).
func (b *Batcher) Take(node int) []byte {
	body := b.Body(node)
	if body != nil {
		b.nodes[node] = nodeBatch{}
	}
	return body
}

// Docs is the number of documents in node's body.
func (b *Batcher) Docs(node int) int { return b.nodes[node].docs }

// Size is the current byte size of node's body.
func (b *Batcher) Size(node int) int {
	if b.nodes[node].docs == 0 {
		return 0
	}
	return len(b.nodes[node].buf) + 1
}

// Full reports whether some node's body reached maxBytes bytes or maxDocs
// documents (a bound <= 0 is ignored): time to send and Reset, so that
// memory stays bounded by the batch size rather than the input size.
func (b *Batcher) Full(maxBytes, maxDocs int) bool {
	for i := range b.nodes {
		nb := &b.nodes[i]
		if (maxBytes > 0 && len(nb.buf) >= maxBytes) || (maxDocs > 0 && nb.docs >= maxDocs) {
			return true
		}
	}
	return false
}

// Empty reports whether no node holds a document.
func (b *Batcher) Empty() bool {
	for i := range b.nodes {
		if b.nodes[i].docs > 0 {
			return false
		}
	}
	return true
}

// Reset empties every body, keeping the buffers for reuse.
func (b *Batcher) Reset() {
	for i := range b.nodes {
		b.nodes[i].buf = b.nodes[i].buf[:0]
		b.nodes[i].docs = 0
	}
}
