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
	if r.err != nil {
		return nil, r.err
	}
	doc, err := r.next()
	if err != nil {
		r.err = err
	}
	return doc, err
}

func (r *Reader) next() ([]byte, error) {
	if r.array {
		more, err := r.skip()
		if err != nil {
			return nil, err
		}
		switch r.state {
		case 0:
			if !more {
				return nil, docErr(-1, 0, CodeMalformedPayload, "The payload is empty; expected a JSON array of documents.")
			}
			if r.buf[r.r] != '[' {
				return nil, docErr(-1, 0, CodeMalformedPayload, "The payload must be a JSON array of documents, found %q.", r.buf[r.r])
			}
			r.r++
			r.state = 1
			if more, err = r.skip(); err != nil {
				return nil, err
			}
			if more && r.buf[r.r] == ']' {
				r.r++
				r.state = 3
				return nil, r.trailing()
			}
		case 2:
			if !more {
				return nil, malformed(r.index+1, 0, errIncomplete)
			}
			switch r.buf[r.r] {
			case ']':
				r.r++
				r.state = 3
				return nil, r.trailing()
			case ',':
				r.r++
				if more, err = r.skip(); err != nil {
					return nil, err
				}
			default:
				return nil, malformed(r.index+1, 0, badChar(r.buf[:r.w], r.r, "after array element"))
			}
		case 3:
			return nil, io.EOF
		}
		if !more {
			return nil, malformed(r.index+1, 0, errIncomplete)
		}
		r.state = 2
	} else {
		more, err := r.skip()
		if err != nil {
			return nil, err
		}
		if !more {
			return nil, io.EOF
		}
	}
	// Scan one value, reading more while it is incomplete.
	for {
		end, err := skipValue(r.buf[:r.w], r.r, 0)
		open := false
		if err == nil && !r.eof && end == r.w && r.buf[r.r] != '{' && r.buf[r.r] != '[' && r.buf[r.r] != '"' {
			err, open = errIncomplete, true // a bare number or literal may continue
		}
		if err == nil {
			r.index++
			r.docLine = r.line
			doc := r.buf[r.r:end]
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
