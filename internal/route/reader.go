package route

import (
	"bytes"
	"errors"
	"io"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

// DefaultMaxDocSize bounds one document in a stream. The reader's memory
// is about the largest document plus one read chunk, whatever the input
// size.
const DefaultMaxDocSize = 64 << 20

const readChunk = 256 << 10

// Reader yields the documents of a JSON array or an NDJSON stream one at a
// time. Over an io.Reader it holds only the current document and a read
// chunk; over a byte slice it copies nothing. NDJSON follows Meilisearch,
// which reads a stream of whitespace-separated JSON values: one object per
// line is the usual form, blank lines are skipped, an object may span lines.
type Reader struct {
	src   io.Reader
	buf   []byte
	r, w  int
	eof   bool
	array bool
	state int // array: 0 before '[', 1 first element or ']', 2 ',' or ']', 3 done
	line  int // line of buf[r]
	index int
	max   int
	err   error

	docLine int

	atValue bool // toValue done, the value not yet scanned
	stop    int  // see SetStop
	missed  bool
}

// NewArrayReader streams the elements of a JSON array.
func NewArrayReader(r io.Reader) *Reader {
	return &Reader{src: r, array: true, line: 1, max: DefaultMaxDocSize, index: -1}
}

// NewNDJSONReader streams the values of an NDJSON body.
func NewNDJSONReader(r io.Reader) *Reader {
	return &Reader{src: r, line: 1, max: DefaultMaxDocSize, index: -1}
}

// ArrayBytes reads the elements of an in-memory JSON array, zero-copy.
func ArrayBytes(body []byte) *Reader {
	return &Reader{buf: body, w: len(body), eof: true, array: true, line: 1, max: len(body) + 1, index: -1}
}

// ArrayTail reads the elements of an in-memory JSON array from the middle:
// body starts at an element (its opening bracket and the elements before
// it are elsewhere) and runs to the array's end. Parallel routing gives
// each worker such a tail.
func ArrayTail(body []byte) *Reader {
	return &Reader{buf: body, w: len(body), eof: true, array: true, state: 1, line: 1, max: len(body) + 1, index: -1}
}

// NDJSONBytes reads the values of an in-memory NDJSON body, zero-copy.
func NDJSONBytes(body []byte) *Reader {
	return &Reader{buf: body, w: len(body), eof: true, line: 1, max: len(body) + 1, index: -1}
}

// SetMaxDocSize changes the largest document a stream accepts.
func (r *Reader) SetMaxDocSize(n int) { r.max = n }

// Index is the 0-based position of the document last returned.
func (r *Reader) Index() int { return r.index }

// Line is the 1-based line where the document last returned starts.
func (r *Reader) Line() int { return r.docLine }

// errLine is the line to report: NDJSON positions are lines, JSON array
// positions are indexes.
func (r *Reader) errLine() int {
	if r.array {
		return 0
	}
	return r.line
}

// fill reads more input, compacting consumed bytes first. It returns false
// at the end of the input.
func (r *Reader) fill() (bool, error) {
	if r.eof {
		return false, nil
	}
	if r.r > 0 {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.r, r.w = 0, n
	}
	if r.w == len(r.buf) {
		if len(r.buf) >= r.max+readChunk {
			return false, docErr(r.index+1, r.errLine(), CodePayloadTooLarge, "A document is larger than the %d-byte limit for streamed payloads.", r.max)
		}
		nb := make([]byte, max(readChunk, 2*len(r.buf)))
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for {
		n, err := r.src.Read(r.buf[r.w:])
		r.w += n
		if err == io.EOF {
			r.eof = true
			return n > 0, nil
		}
		if err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
}

// skip moves past whitespace, counting lines, reading more as needed.
func (r *Reader) skip() (more bool, err error) {
	for {
		for r.r < r.w && jsonscan.IsSpace(r.buf[r.r]) {
			if r.buf[r.r] == '\n' {
				r.line++
			}
			r.r++
		}
		if r.r < r.w {
			return true, nil
		}
		ok, err := r.fill()
		if err != nil || !ok {
			return false, err
		}
	}
}

// Next returns the next document (the raw value, not yet checked to be an
// object: Router.Route does that), or io.EOF after the last one. The slice
// is valid until the next call. Errors are *DocError (or the source's read
// error) and stick.
func (r *Reader) Next() ([]byte, error) {
	return r.next(nil, nil)
}

// ErrStop is returned by Next when the next document starts at the
// offset given to SetStop; it does not stick: after SetStop(0), Next goes
// on with that document.
var ErrStop = errors.New("route: stop offset reached")

// SetStop makes an in-memory reader return ErrStop when the next document
// starts exactly at offset off of its input (0: no stop). Parallel
// routing uses it to check that another worker started at a true
// document boundary; Missed reports whether the reader went past off
// without a document starting there.
func (r *Reader) SetStop(off int) { r.stop = off }

// Offset is the input offset just after the last document read (for an
// in-memory reader, an offset of its input).
func (r *Reader) Offset() int { return r.r }

// Missed reports whether the reader passed its stop offset inside a
// document (see SetStop).
func (r *Reader) Missed() bool { return r.missed }

// next returns the next document. With rt set, an object is scanned by
// rt.scanObject, which both finds its end and fills sc (offsets relative
// to the document), so the router need not scan it again.
func (r *Reader) next(rt *Router, sc *pkScan) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.atValue {
		if err := r.toValue(); err != nil {
			r.err = err
			return nil, err
		}
		r.atValue = true
	}
	if r.stop > 0 {
		switch {
		case r.r == r.stop:
			return nil, ErrStop
		case r.r > r.stop:
			r.stop, r.missed = 0, true
		}
	}
	r.atValue = false
	doc, err := r.scanValue(rt, sc)
	if err != nil {
		r.err = err
	}
	return doc, err
}

// toValue moves past the framing (brackets, commas, whitespace) to the
// start of the next value; io.EOF at the end.
func (r *Reader) toValue() error {
	if !r.array {
		more, err := r.skip()
		if err != nil {
			return err
		}
		if !more {
			return io.EOF
		}
		return nil
	}
	more, err := r.skip()
	if err != nil {
		return err
	}
	switch r.state {
	case 0:
		if !more {
			return docErr(-1, 0, CodeMalformedPayload, "The payload is empty; expected a JSON array of documents.")
		}
		if r.buf[r.r] != '[' {
			return docErr(-1, 0, CodeMalformedPayload, "The payload must be a JSON array of documents, found %q.", r.buf[r.r])
		}
		r.r++
		r.state = 1
		if more, err = r.skip(); err != nil {
			return err
		}
		if more && r.buf[r.r] == ']' {
			r.r++
			r.state = 3
			return r.trailing()
		}
	case 2:
		if !more {
			return malformed(r.index+1, 0, errIncomplete)
		}
		switch r.buf[r.r] {
		case ']':
			r.r++
			r.state = 3
			return r.trailing()
		case ',':
			r.r++
			if more, err = r.skip(); err != nil {
				return err
			}
		default:
			return malformed(r.index+1, 0, badChar(r.buf[:r.w], r.r, "after array element"))
		}
	case 3:
		return io.EOF
	}
	if !more {
		return malformed(r.index+1, 0, errIncomplete)
	}
	r.state = 2
	return nil
}

// scanValue scans the value at r.r, reading more while it is incomplete.
func (r *Reader) scanValue(rt *Router, sc *pkScan) ([]byte, error) {
	u := true // validate UTF-8 while scanning an object for the router
	for {
		var end int
		var err error
		if rt != nil && r.buf[r.r] == '{' {
			*sc = pkScan{}
			end, err = rt.scanObject(r.buf[:r.w], r.r, sc, u)
			if err == errBadUTF8 {
				u = false // rescan: a syntax error comes first
				continue
			}
		} else {
			end, err = skipValue(r.buf[:r.w], r.r, 0, false)
		}
		open := false
		if err == nil && !r.eof && end == r.w && r.buf[r.r] != '{' && r.buf[r.r] != '[' && r.buf[r.r] != '"' {
			err, open = errIncomplete, true // a bare number or literal may continue
		}
		if err == nil {
			r.index++
			r.docLine = r.line
			doc := r.buf[r.r:end]
			if rt != nil && doc[0] == '{' {
				sc.idStart -= r.r
				sc.idEnd -= r.r
				sc.badUTF8 = !u
			}
			if !r.array {
				r.line += bytes.Count(doc, nl)
			}
			r.r = end
			return doc, nil
		}
		if !errors.Is(err, errIncomplete) {
			return nil, malformed(r.index+1, r.errLine(), shiftErr(err, r))
		}
		ok, ferr := r.fill()
		if ferr != nil {
			return nil, ferr
		}
		if !ok && !open {
			return nil, malformed(r.index+1, r.errLine(), err)
		}
	}
}

var nl = []byte{'\n'}

// shiftErr makes a syntax error's offset relative to the document start.
func shiftErr(err error, r *Reader) error {
	if se, ok := err.(*syntaxError); ok {
		return &syntaxError{off: se.off - r.r, msg: se.msg}
	}
	return err
}

// trailing checks that only whitespace follows the closing bracket.
func (r *Reader) trailing() error {
	more, err := r.skip()
	if err != nil {
		return err
	}
	if more {
		return docErr(-1, 0, CodeMalformedPayload, "The payload has data after the closing bracket of the document array.")
	}
	return io.EOF
}

// SplitArray appends the elements of an in-memory JSON array to dst
// (aliasing body) after validating the whole array.
func SplitArray(body []byte, dst [][]byte) ([][]byte, error) {
	rd := ArrayBytes(body)
	for {
		doc, err := rd.Next()
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		dst = append(dst, doc)
	}
}
