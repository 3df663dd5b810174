package route

import (
	"strconv"
	"sync/atomic"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

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

// Batcher groups routed documents per node. It does not build the node
// request bodies: it keeps each document once (a reference to the input,
// or one copy for streamed input) with its shard, and a node's body is
// generated when it is read (NewReader), the injected attributes spliced
// in on the fly. Sending a payload to N nodes thus costs no per-node copy
// and no buffer growth, and the exact body sizes are known up front.
// A Batcher is not safe for concurrent use, but the readers of its bodies
// may run concurrently with each other.
type Batcher struct {
	format  Format
	header  []byte // CSV: output header line, newline included
	inHdr   []byte // CSV: input header line
	delim   byte
	version int64
	stamps  [][]byte // per shard, built on first use (see stamp)
	docs    []entry
	nodes   []nodeBatch
	inBatch []bool // by shard: some document of the shard is in the batch
	shards  []int  // the shards of the batch, in order of appearance
	arena   arena
	// open counts the readers not yet closed: while one may still read,
	// Reset leaves the documents and the arena to it and starts afresh.
	open atomic.Int32
}

// entry is one document: for JSON and NDJSON the object's text after its
// '{' and the whitespace that follows (the stamp replaces the brace), for
// CSV the raw record.
type entry struct {
	doc   []byte
	shard int32
}

type nodeBatch struct {
	idx  []int32 // entries sent to this node, in order
	size int     // exact body size
}

// NewBatcher makes a Batcher for node indexes 0..nodes-1 building bodies in
// format. For FormatCSV call SetCSVHeader before adding rows.
func NewBatcher(nodes int, format Format) *Batcher {
	return &Batcher{format: format, nodes: make([]nodeBatch, nodes), delim: ','}
}

// SetCSVHeader sets the input header line (CSVReader.Header, without its
// line terminator) and the delimiter; every CSV body starts with it plus
// the injected columns.
func (b *Batcher) SetCSVHeader(header []byte, delim byte) {
	b.inHdr = append(b.inHdr[:0], header...)
	b.delim = delim
	b.buildHeader()
	b.stamps = b.stamps[:0]
}

// SetVersion makes every document carry "_miroir_v":v (CSV: a _miroir_v
// column) next to its shard: the write's version, a positive integer below
// 2^53 (DESIGN §12, issue 12). 0, the default, injects no version. Call it
// before adding documents.
func (b *Batcher) SetVersion(v int64) {
	b.version = v
	b.stamps = b.stamps[:0]
	if b.format == FormatCSV {
		b.buildHeader()
	}
}

func (b *Batcher) buildHeader() {
	h := append(b.header[:0], b.inHdr...)
	h = append(h, b.delim)
	h = append(h, ShardField+":number"...)
	if b.version != 0 {
		h = append(h, b.delim)
		h = append(h, VersionField+":number"...)
	}
	b.header = append(h, '\n')
}

// stamp returns what a document of shard gets injected: for JSON the
// opening `{"_miroir_shard":7` (then `,"_miroir_v":V`), for CSV the cells
// `,7` (then `,V`) and the record's newline.
func (b *Batcher) stamp(shard int32) []byte {
	if int(shard) < len(b.stamps) && b.stamps[shard] != nil {
		return b.stamps[shard]
	}
	if int(shard) >= len(b.stamps) {
		b.stamps = append(b.stamps, make([][]byte, int(shard)+1-len(b.stamps))...)
	}
	var s []byte
	if b.format == FormatCSV {
		s = append(s, b.delim)
		s = strconv.AppendInt(s, int64(shard), 10)
		if b.version != 0 {
			s = append(s, b.delim)
			s = strconv.AppendInt(s, b.version, 10)
		}
		s = append(s, '\n')
	} else {
		s = appendStamp(s, int(shard), b.version)
	}
	b.stamps[shard] = s
	return s
}

// appendStamp appends the opening of an injected object, without the
// comma before the document's own attributes.
func appendStamp(dst []byte, shard int, version int64) []byte {
	dst = append(dst, `{"`+ShardField+`":`...)
	dst = strconv.AppendInt(dst, int64(shard), 10)
	if version != 0 {
		dst = append(dst, `,"`+VersionField+`":`...)
		dst = strconv.AppendInt(dst, version, 10)
	}
	return dst
}

// Add appends doc, of shard, to the body of every node in targets. doc is
// a JSON object (Routed.Doc) for JSON and NDJSON, or a raw CSV record
// without its line terminator (CSVRecord.Raw) for CSV. The Batcher keeps a
// reference: doc must stay unchanged until the bodies have been read and
// the Batcher Reset (use AddCopy for a buffer that will be reused).
func (b *Batcher) Add(doc []byte, shard int, targets []int) {
	if b.format != FormatCSV {
		doc = doc[jsonscan.SkipSpace(doc, 1):]
	}
	b.add(doc, shard, targets)
}

// AddCopy is Add for a document whose buffer will be reused (streamed
// input): the Batcher keeps one copy, whatever the number of targets.
func (b *Batcher) AddCopy(doc []byte, shard int, targets []int) {
	if b.format != FormatCSV {
		doc = doc[jsonscan.SkipSpace(doc, 1):]
	}
	b.add(b.arena.copy(doc), shard, targets)
}

func (b *Batcher) add(doc []byte, shard int, targets []int) {
	b.noteShard(shard)
	e := entry{doc: doc, shard: int32(shard)}
	k := int32(len(b.docs))
	b.docs = append(b.docs, e)
	n := len(b.stamp(e.shard)) + len(doc)
	if b.format != FormatCSV && doc[0] != '}' {
		n++ // the comma after the stamp
	}
	if b.format == FormatNDJSON {
		n++ // the newline
	}
	for _, t := range targets {
		nb := &b.nodes[t]
		switch {
		case len(nb.idx) == 0:
			nb.size = b.framing()
		case b.format == FormatJSON:
			nb.size++ // the comma between documents
		}
		nb.size += n
		nb.idx = append(nb.idx, k)
	}
}

func (b *Batcher) noteShard(shard int) {
	if shard >= len(b.inBatch) {
		b.inBatch = append(b.inBatch, make([]bool, shard+1-len(b.inBatch))...)
	}
	if !b.inBatch[shard] {
		b.inBatch[shard] = true
		b.shards = append(b.shards, shard)
	}
}

// Shards returns the shards of the documents in the batch (valid until
// Reset): the quorum is decided over them.
func (b *Batcher) Shards() []int { return b.shards }

// Append moves the documents of o, a Batcher with the same nodes, format,
// header and version, after those of b, in every node's body. Parallel
// routing fills one Batcher per part and appends them in order.
func (b *Batcher) Append(o *Batcher) {
	off := int32(len(b.docs))
	b.docs = append(b.docs, o.docs...)
	for s, st := range o.stamps {
		if st != nil {
			b.stamp(int32(s))
		}
	}
	for _, s := range o.shards {
		b.noteShard(s)
	}
	for i := range b.nodes {
		on, nb := &o.nodes[i], &b.nodes[i]
		if len(on.idx) == 0 {
			continue
		}
		if len(nb.idx) == 0 {
			nb.size = on.size
		} else {
			nb.size += on.size - b.framing()
			if b.format == FormatJSON {
				nb.size++ // the comma between the two runs
			}
		}
		for _, k := range on.idx {
			nb.idx = append(nb.idx, k+off)
		}
	}
}

// framing is the size of a body without documents: "[]" or the header.
func (b *Batcher) framing() int {
	switch b.format {
	case FormatJSON:
		return 2
	case FormatCSV:
		return len(b.header)
	}
	return 0
}

// Nodes is the number of nodes the Batcher batches for.
func (b *Batcher) Nodes() int { return len(b.nodes) }

// Docs is the number of documents in node's body.
func (b *Batcher) Docs(node int) int { return len(b.nodes[node].idx) }

// Size is the exact byte size of node's body (0 when it holds no
// document).
func (b *Batcher) Size(node int) int {
	if len(b.nodes[node].idx) == 0 {
		return 0
	}
	return b.nodes[node].size
}

// Full reports whether some node's body reached maxBytes bytes or maxDocs
// documents (a bound <= 0 is ignored): time to send and Reset, so that
// memory stays bounded by the batch size rather than the input size.
func (b *Batcher) Full(maxBytes, maxDocs int) bool {
	for i := range b.nodes {
		nb := &b.nodes[i]
		if (maxBytes > 0 && len(nb.idx) > 0 && nb.size >= maxBytes) || (maxDocs > 0 && len(nb.idx) >= maxDocs) {
			return true
		}
	}
	return false
}

// Empty reports whether no node holds a document.
func (b *Batcher) Empty() bool { return len(b.docs) == 0 }

// Reset empties every body. The memory is kept for the next batch unless
// a reader of this one is still open (an HTTP client may close a request
// body after its response arrived): then that reader keeps it and the
// Batcher starts on fresh memory.
func (b *Batcher) Reset() {
	for _, s := range b.shards {
		b.inBatch[s] = false
	}
	b.shards = b.shards[:0]
	if b.open.Load() != 0 {
		b.docs = nil
		for i := range b.nodes {
			b.nodes[i] = nodeBatch{}
		}
		b.arena = arena{}
		return
	}
	clear(b.docs) // drop references to the input
	b.docs = b.docs[:0]
	for i := range b.nodes {
		b.nodes[i].idx = b.nodes[i].idx[:0]
		b.nodes[i].size = 0
	}
	b.arena.reset()
}

// arenaChunk is the size of the blocks AddCopy copies documents into; a
// larger document gets a block of its own.
const arenaChunk = 1 << 20

// arena holds copies of streamed documents in a few large blocks, so that
// earlier copies never move (entries point into them).
type arena struct {
	blocks [][]byte // full or current blocks, in order
	cur    int      // index of the block being filled
}

func (a *arena) copy(doc []byte) []byte {
	for a.cur < len(a.blocks) && cap(a.blocks[a.cur])-len(a.blocks[a.cur]) < len(doc) {
		a.cur++
	}
	if a.cur == len(a.blocks) {
		a.blocks = append(a.blocks, make([]byte, 0, max(arenaChunk, len(doc))))
	}
	blk := a.blocks[a.cur]
	n := len(blk)
	blk = append(blk, doc...)
	a.blocks[a.cur] = blk
	return blk[n:len(blk):len(blk)]
}

func (a *arena) reset() {
	for i := range a.blocks {
		a.blocks[i] = a.blocks[i][:0]
	}
	a.cur = 0
}
