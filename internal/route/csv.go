package route

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CSVType is the declared type of a CSV column (Meilisearch header syntax
// name:type).
type CSVType int

// Column types of Meilisearch's CSV header syntax; a header without a known
// ":type" suffix is a string column named by the whole header.
const (
	CSVString CSVType = iota
	CSVNumber
	CSVBoolean
)

// CSVColumn is one parsed header cell.
type CSVColumn struct {
	Name string
	Type CSVType
}

// ParseCSVHeader splits a header cell like Meilisearch: on the last ':',
// when what follows is string, number or boolean.
func ParseCSVHeader(cell string) CSVColumn {
	if i := strings.LastIndexByte(cell, ':'); i >= 0 {
		switch cell[i+1:] {
		case "string":
			return CSVColumn{cell[:i], CSVString}
		case "number":
			return CSVColumn{cell[:i], CSVNumber}
		case "boolean":
			return CSVColumn{cell[:i], CSVBoolean}
		}
	}
	return CSVColumn{cell, CSVString}
}

// CSVDelimiter validates Meilisearch's csvDelimiter option: one ASCII
// character; empty means ','.
func CSVDelimiter(s string) (byte, error) {
	if s == "" {
		return ',', nil
	}
	if len(s) != 1 || s[0] >= utf8.RuneSelf || s[0] == '"' || s[0] == '\n' || s[0] == '\r' {
		return 0, &DocError{Index: -1, Code: CodeInvalidCSVDelimiter, Message: "Invalid value in parameter `csvDelimiter`: expected a string of one character, but found the following string of " + strconv.Itoa(utf8.RuneCountInString(s)) + " characters: `" + s + "`"}
	}
	return s[0], nil
}

// CSVRecord is one data row.
type CSVRecord struct {
	// Raw is the record exactly as in the input, without its line
	// terminator: the Batcher appends the injected cells to it, so quoting
	// and values reach the nodes untouched.
	Raw []byte
	// Key is the key column's cell (see SetKeyColumn), unescaped; HasKey
	// is false when there is no key column.
	Key    []byte
	HasKey bool
	// Index is the 0-based row number, Line the 1-based line it starts on.
	Index, Line int
}

// CSVReader reads a CSV body, header first, then one record at a time,
// with the semantics of encoding/csv (LazyQuotes, as the Rust csv crate
// Meilisearch uses is lenient with quotes; empty lines skipped; every
// record as many cells as the header). Over a byte slice it copies
// nothing; over an io.Reader it holds the current record and a read chunk.
// Only the key column's cell is decoded: the records go to the nodes raw.
type CSVReader struct {
	src    io.Reader
	buf    []byte
	r, w   int
	eof    bool
	delim  byte
	cols   []CSVColumn
	rawHdr []byte
	keyCol int
	keyBuf []byte
	line   int // line number of buf[r]
	index  int
	stop   int // see SetStop
	missed bool
}

// NewCSVReader reads the header of a streamed CSV body. A missing header,
// an unreadable one or a reserved column (_miroir_shard, _miroir_v) is an
// error.
func NewCSVReader(r io.Reader, delim byte) (*CSVReader, error) {
	return newCSVReader(&CSVReader{src: r, delim: delim, keyCol: -1, line: 1})
}

// CSVBytes reads the header of an in-memory CSV body; records alias body.
func CSVBytes(body []byte, delim byte) (*CSVReader, error) {
	return newCSVReader(&CSVReader{buf: body, w: len(body), eof: true, delim: delim, keyCol: -1, line: 1})
}

func newCSVReader(c *CSVReader) (*CSVReader, error) {
	var hdr []string
	s, err := c.scan(-1, &hdr)
	if err == io.EOF {
		return nil, docErr(-1, 0, CodeMalformedPayload, "The CSV payload is empty; it needs a header line.")
	}
	if err != nil {
		return nil, err
	}
	for _, cell := range hdr {
		col := ParseCSVHeader(cell)
		if col.Name == ShardField || col.Name == VersionField {
			return nil, docErr(-1, 1, CodeReservedField, "The CSV column `%s` is reserved by miroir, which stores each document's %s in it; rename the column.", col.Name, reservedWhat(col.Name))
		}
		c.cols = append(c.cols, col)
	}
	c.rawHdr = append([]byte(nil), c.buf[c.r+s.start:c.r+s.end]...)
	c.advance(&s)
	return c, nil
}

// Columns returns the parsed header.
func (c *CSVReader) Columns() []CSVColumn { return c.cols }

// Names returns the column names (for primary key inference).
func (c *CSVReader) Names() []string {
	names := make([]string, len(c.cols))
	for i, col := range c.cols {
		names[i] = col.Name
	}
	return names
}

// Column returns the index of the column named name, or -1.
func (c *CSVReader) Column(name string) int {
	for i, col := range c.cols {
		if col.Name == name {
			return i
		}
	}
	return -1
}

// SetKeyColumn makes Next decode column col's cell into CSVRecord.Key
// (-1: none).
func (c *CSVReader) SetKeyColumn(col int) { c.keyCol = col }

// Tail returns a reader of the records of body, the rest of an in-memory
// CSV payload from a record's start on, with this reader's header, key
// column and delimiter (parallel routing gives each worker a tail).
func (c *CSVReader) Tail(body []byte) *CSVReader {
	return &CSVReader{buf: body, w: len(body), eof: true, delim: c.delim, cols: c.cols, rawHdr: c.rawHdr, keyCol: c.keyCol, line: 1}
}

// SetStop makes an in-memory reader return ErrStop when the next record
// starts exactly at offset off of its input (0: no stop), like
// Reader.SetStop.
func (c *CSVReader) SetStop(off int) { c.stop = off }

// Offset is the input offset just after the last record read (for an
// in-memory reader, an offset of its input).
func (c *CSVReader) Offset() int { return c.r }

// Missed reports whether the reader passed its stop offset inside a
// record.
func (c *CSVReader) Missed() bool { return c.missed }

// Header is the input header line, without its terminator (see
// Batcher.SetCSVHeader).
func (c *CSVReader) Header() []byte { return c.rawHdr }

// Delimiter returns the field delimiter.
func (c *CSVReader) Delimiter() byte { return c.delim }

// Next returns the next record, or io.EOF. The record is valid until the
// next call. Malformed CSV (a row with another number of cells than the
// header, invalid UTF-8) is a malformed_payload *DocError.
func (c *CSVReader) Next() (CSVRecord, error) {
	s, err := c.scan(c.keyCol, nil)
	if err != nil {
		return CSVRecord{}, err
	}
	if c.stop > 0 {
		switch start := c.r + s.start; {
		case start == c.stop:
			return CSVRecord{}, ErrStop
		case start > c.stop:
			c.stop, c.missed = 0, true
		}
	}
	line := c.line + s.skipped
	rec := CSVRecord{Raw: c.buf[c.r+s.start : c.r+s.end], Key: s.key, HasKey: s.hasKey, Index: c.index, Line: line}
	c.advance(&s)
	c.index++
	if s.fields != len(c.cols) {
		pe := &csv.ParseError{StartLine: line, Line: line, Column: 1, Err: csv.ErrFieldCount}
		return rec, csvErr(rec.Index, pe)
	}
	if !validUTF8(rec.Raw) {
		return rec, docErr(rec.Index, line, CodeMalformedPayload, "The CSV record is not valid UTF-8.")
	}
	return rec, nil
}

// scan finds the next record in the window, reading more while it may be
// incomplete.
func (c *CSVReader) scan(keyCol int, all *[]string) (csvScan, error) {
	for {
		s, kb, err := scanCSV(c.buf[c.r:c.w], c.eof, c.delim, keyCol, c.keyBuf, all)
		c.keyBuf = kb
		if err != errIncomplete {
			return s, err
		}
		if err := c.fill(); err != nil {
			return s, err
		}
	}
}

// advance moves past the record s.
func (c *CSVReader) advance(s *csvScan) {
	c.r += s.next
	c.line += s.skipped + s.newlines
}

// fill reads more input, compacting the consumed bytes first.
func (c *CSVReader) fill() error {
	if c.src == nil {
		c.eof = true
		return nil
	}
	if c.r > 0 {
		n := copy(c.buf, c.buf[c.r:c.w])
		c.r, c.w = 0, n
	}
	if c.w == len(c.buf) {
		nb := make([]byte, max(readChunk, 2*len(c.buf)))
		copy(nb, c.buf[:c.w])
		c.buf = nb
	}
	for {
		n, err := c.src.Read(c.buf[c.w:])
		c.w += n
		if err == io.EOF {
			c.eof = true
			return nil
		}
		if err != nil || n > 0 {
			return err
		}
	}
}

func csvErr(index int, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return docErr(index, pe.StartLine, CodeMalformedPayload, "The CSV payload is malformed: %v.", pe)
	}
	return err
}

// CSVID canonicalizes a CSV primary key cell like Meilisearch converts
// it: a number column's cell is trimmed and must be an integer (its
// decimal text is the id, so "007" is 7), a string column's cell is the
// id as is. The error is an invalid_document_id *DocError without position.
func CSVID(cell string, typ CSVType) (string, error) {
	id, _, err := csvID([]byte(cell), typ, nil)
	return string(id), err
}

// csvID is CSVID over bytes; a number's decimal text is built in scratch,
// which is returned for reuse.
func csvID(cell []byte, typ CSVType, scratch []byte) (id, scratchOut []byte, err error) {
	id = cell
	if typ == CSVNumber {
		t := bytes.TrimSpace(cell)
		// Meilisearch tries i64 and then f64; an f64 is no valid id.
		n, perr := strconv.ParseInt(string(t), 10, 64)
		if perr != nil {
			return nil, scratch, &DocError{Index: -1, Code: CodeInvalidDocumentID, Message: invalidIDMessage(string(t))}
		}
		scratch = strconv.AppendInt(scratch[:0], n, 10)
		id = scratch
	}
	if typ == CSVBoolean || !validIDBytes(id) {
		return nil, scratch, &DocError{Index: -1, Code: CodeInvalidDocumentID, Message: invalidIDMessage(strconv.Quote(string(cell)))}
	}
	return id, scratch, nil
}

// RouteCSV validates one CSV record and computes its shard; typ is the
// key column's type. The id aliases the record or the Router's scratch
// space. The error is a *DocError naming the record's line.
func (rt *Router) RouteCSV(rec CSVRecord, typ CSVType) (shard int, id []byte, err error) {
	if !rec.HasKey {
		return 0, nil, docErr(rec.Index, rec.Line, CodeMissingDocumentID, "Document doesn't have a `%s` attribute: `%s`.", rt.PrimaryKey, excerpt(rec.Raw))
	}
	id, rt.idBuf, err = csvID(rec.Key, typ, rt.idBuf)
	if err != nil {
		e := err.(*DocError)
		return 0, nil, docErr(rec.Index, rec.Line, e.Code, "%s", e.Message)
	}
	return Shard(id, rt.Shards), id, nil
}
