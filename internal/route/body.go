package route

import (
	"io"
	"sync/atomic"
)

// Constant pieces of the bodies (only ever read).
var (
	openBracket  = []byte{'['}
	closeBracket = []byte{']'}
	commaPiece   = []byte{','}
	newline      = []byte{'\n'}
)

// BodyReader generates one node's request body from a Batcher: framing,
// then each document with its stamp spliced in, copied straight into the
// caller's buffer (an HTTP client's write buffer). Several readers of the
// same Batcher may run concurrently. Close it when done (HTTP clients
// close request bodies), so that the Batcher may reuse its memory.
type BodyReader struct {
	open   *atomic.Int32
	closed atomic.Bool
	format Format
	header []byte
	docs   []entry
	idx    []int32
	stamps [][]byte
	k      int // next position in idx
	segs   [4][]byte
	si, ns int   // current and number of segments of the current piece
	state  uint8 // 0 framing start, 1 documents, 2 framing end, 3 done
	left   int
}

// NewReader returns a reader of node's body (Size(node) bytes; empty when
// the node holds no document). The body stays readable after Reset.
func (b *Batcher) NewReader(node int) *BodyReader {
	b.open.Add(1)
	nb := &b.nodes[node]
	r := &BodyReader{open: &b.open, format: b.format, header: b.header, docs: b.docs, idx: nb.idx, stamps: b.stamps, left: b.Size(node)}
	if len(nb.idx) == 0 {
		r.state = 3
	}
	return r
}

// Body returns node's whole body, or nil when it holds no document. It
// allocates the body; senders use NewReader instead.
func (b *Batcher) Body(node int) []byte {
	if len(b.nodes[node].idx) == 0 {
		return nil
	}
	r := b.NewReader(node)
	defer r.Close()
	out := make([]byte, r.Len())
	n, _ := io.ReadFull(r, out) // a reader yields exactly Len bytes
	return out[:n]
}

// Len is the number of bytes not yet read (retryablehttp takes it as the
// Content-Length).
func (r *BodyReader) Len() int { return r.left }

// Close releases the reader; it does not stop other readers.
func (r *BodyReader) Close() error {
	if r.closed.CompareAndSwap(false, true) {
		r.open.Add(-1)
	}
	return nil
}

// Read copies the next bytes of the body into p.
func (r *BodyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.si == r.ns {
			if r.state == 1 && r.format != FormatCSV {
				n = r.copyDocs(p, n) // whole documents, no bookkeeping
				if n == len(p) {
					break
				}
			}
			if !r.nextPiece() {
				break
			}
		}
		seg := r.segs[r.si]
		c := copy(p[n:], seg)
		n += c
		if c == len(seg) {
			r.si++
		} else {
			r.segs[r.si] = seg[c:]
		}
	}
	r.left -= n
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// copyDocs copies the JSON or NDJSON documents that fit whole into p[n:]
// and returns the new fill; the one that does not fit is left to the
// segments.
func (r *BodyReader) copyDocs(p []byte, n int) int {
	json := r.format == FormatJSON
	for r.k < len(r.idx) {
		e := &r.docs[r.idx[r.k]]
		st := r.stamps[e.shard]
		comma := e.doc[0] != '}'
		sep := json && r.k > 0
		need := len(st) + len(e.doc)
		if comma {
			need++
		}
		if sep || !json {
			need++ // the comma before, or the newline after
		}
		if need > len(p)-n {
			break
		}
		if sep {
			p[n] = ','
			n++
		}
		n += copy(p[n:], st)
		if comma {
			p[n] = ','
			n++
		}
		n += copy(p[n:], e.doc)
		if !json {
			p[n] = '\n'
			n++
		}
		r.k++
	}
	return n
}

// nextPiece loads the segments of the next piece of the body: the
// opening framing, one document, or the closing framing. It returns false
// at the end.
func (r *BodyReader) nextPiece() bool {
	r.si, r.ns = 0, 0
	for r.ns == 0 {
		switch r.state {
		case 0:
			switch r.format {
			case FormatJSON:
				r.push(openBracket)
			case FormatCSV:
				r.push(r.header)
			}
			r.state = 1
		case 1:
			if r.k == len(r.idx) {
				r.state = 2
				continue
			}
			e := r.docs[r.idx[r.k]]
			st := r.stamps[e.shard]
			switch r.format {
			case FormatCSV:
				r.push(e.doc)
				r.push(st)
			default:
				if r.k > 0 && r.format == FormatJSON {
					r.push(commaPiece)
				}
				r.push(st)
				if e.doc[0] != '}' {
					r.push(commaPiece)
				}
				r.push(e.doc)
				if r.format == FormatNDJSON {
					r.push(newline)
				}
			}
			r.k++
		case 2:
			if r.format == FormatJSON {
				r.push(closeBracket)
			}
			r.state = 3
		default:
			return false
		}
	}
	return true
}

// push adds a segment to the current piece: at most four (JSON: comma,
// stamp, comma, document; NDJSON: stamp, comma, document, newline).
func (r *BodyReader) push(seg []byte) {
	r.segs[r.ns] = seg
	r.ns++
}
