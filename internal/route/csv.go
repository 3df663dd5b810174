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
	// terminator: the Batcher appends the shard cell to it, so quoting and
	// values reach the nodes untouched.
	Raw []byte
	// Fields are the parsed cells (reused between calls).
	Fields []string
	// Index is the 0-based row number, Line the 1-based line it starts on.
	Index, Line int
}

// CSVReader streams a CSV body: the header first, then records, holding
// only the current record and encoding/csv's read-ahead in memory.
type CSVReader struct {
	cr      *csv.Reader
	tee     *teeBuf
	cols    []CSVColumn
	rawHdr  []byte
	delim   byte
	index   int
	prevOff int64
}

// teeBuf keeps the bytes encoding/csv has read since base, so a record's
// raw bytes can be cut out by InputOffset.
type teeBuf struct {
	r    io.Reader
	buf  []byte
	base int64
}

func (t *teeBuf) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// discard drops the bytes before absolute offset off, compacting only
// once they are half the buffer so the copying stays linear overall.
func (t *teeBuf) discard(off int64) {
	k := int(off - t.base)
	if k*2 < len(t.buf) {
		return
	}
	n := copy(t.buf, t.buf[k:])
	t.buf = t.buf[:n]
	t.base = off
}

func (t *teeBuf) slice(from, to int64) []byte {
	return t.buf[from-t.base : to-t.base]
}

// NewCSVReader reads the header of a CSV body. A missing header, an
// unreadable one or a reserved _miroir_shard column is an error.
func NewCSVReader(r io.Reader, delim byte) (*CSVReader, error) {
	t := &teeBuf{r: r}
	cr := csv.NewReader(t)
	cr.Comma = rune(delim)
	cr.LazyQuotes = true // the Rust csv crate Meilisearch uses is lenient with quotes
	cr.ReuseRecord = true
	c := &CSVReader{cr: cr, tee: t, delim: delim}
	hdr, err := cr.Read()
	if err == io.EOF {
		return nil, docErr(-1, 0, CodeMalformedPayload, "The CSV payload is empty; it needs a header line.")
	}
	if err != nil {
		return nil, csvErr(-1, err)
	}
	for _, cell := range hdr {
		col := ParseCSVHeader(cell)
		if col.Name == ShardField {
			return nil, docErr(-1, 1, CodeReservedField, "The CSV column `%s` is reserved by miroir, which stores each document's shard in it; rename the column.", ShardField)
		}
		c.cols = append(c.cols, col)
	}
	off := cr.InputOffset()
	c.rawHdr = append([]byte(nil), trimRecord(t.slice(0, off))...)
	c.prevOff = off
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

// OutputHeader is the header line for node bodies: the input header plus
// a _miroir_shard:number column, newline included.
func (c *CSVReader) OutputHeader() []byte {
	h := append([]byte(nil), c.rawHdr...)
	h = append(h, c.delim)
	h = append(h, ShardField+":number\n"...)
	return h
}

// Delimiter returns the field delimiter.
func (c *CSVReader) Delimiter() byte { return c.delim }

// Next returns the next record, or io.EOF. The record is valid until the
// next call. Malformed CSV (including a row with another number of cells
// than the header) is a malformed_payload *DocError.
func (c *CSVReader) Next() (CSVRecord, error) {
	c.tee.discard(c.prevOff)
	fields, err := c.cr.Read()
	if err == io.EOF {
		return CSVRecord{}, io.EOF
	}
	if err != nil {
		return CSVRecord{}, csvErr(c.index, err)
	}
	line, _ := c.cr.FieldPos(0)
	off := c.cr.InputOffset()
	raw := trimRecord(c.tee.slice(c.prevOff, off))
	c.prevOff = off
	rec := CSVRecord{Raw: raw, Fields: fields, Index: c.index, Line: line}
	c.index++
	if !utf8.Valid(raw) {
		return rec, docErr(rec.Index, line, CodeMalformedPayload, "The CSV record is not valid UTF-8.")
	}
	return rec, nil
}

// trimRecord drops the blank lines encoding/csv skipped before a record
// and the record's line terminator.
func trimRecord(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
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
	id := cell
	if typ == CSVNumber {
		t := strings.TrimSpace(cell)
		// Meilisearch tries i64 and then f64; an f64 is no valid id.
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			id = strconv.FormatInt(n, 10)
		} else {
			return "", &DocError{Index: -1, Code: CodeInvalidDocumentID, Message: invalidIDMessage(t)}
		}
	}
	if typ == CSVBoolean || !ValidID(id) {
		return "", &DocError{Index: -1, Code: CodeInvalidDocumentID, Message: invalidIDMessage(strconv.Quote(cell))}
	}
	return id, nil
}

// RouteCSV validates one CSV record and computes its shard; pkCol is the
// primary key's column (CSVReader.Column). The error is a *DocError naming
// the record's line.
func (rt *Router) RouteCSV(rec CSVRecord, pkCol int, typ CSVType) (shard int, id string, err error) {
	if pkCol < 0 || pkCol >= len(rec.Fields) {
		return 0, "", docErr(rec.Index, rec.Line, CodeMissingDocumentID, "Document doesn't have a `%s` attribute: `%s`.", rt.PrimaryKey, excerpt(rec.Raw))
	}
	id, err = CSVID(rec.Fields[pkCol], typ)
	if err != nil {
		e := err.(*DocError)
		return 0, "", docErr(rec.Index, rec.Line, e.Code, "%s", e.Message)
	}
	return Shard([]byte(id), rt.Shards), id, nil
}
