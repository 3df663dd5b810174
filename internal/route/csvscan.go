package route

import (
	"bytes"
	"io"
)

// csvScan is one record found by scanCSV; offsets are relative to the
// scanned slice.
type csvScan struct {
	skipped    int // empty lines before the record
	start, end int // the record's raw span, line terminator excluded
	next       int // offset just after the record and its terminator
	newlines   int // line feeds consumed from start to next
	fields     int
	key        []byte // the key column's unescaped cell
	hasKey     bool
}

// scanCSV finds the record at the start of b, skipping empty lines first,
// with the semantics of encoding/csv.Reader with LazyQuotes (and no
// comments, no leading-space trimming): lines end at "\n" or "\r\n" (a
// final "\r" at the end of input is dropped); a field starting with '"'
// is quoted, in which '""' is a quote and a quote followed by anything but
// a delimiter or a line end is a literal quote; other fields end at the
// delimiter or the line end. The keyCol-th cell is decoded into key
// (aliasing b, or built in kb, returned for reuse); with all non-nil,
// every cell is appended to it. Unless atEOF, a record that may continue
// past b is errIncomplete; at the end of input the error is io.EOF.
func scanCSV(b []byte, atEOF bool, delim byte, keyCol int, kb []byte, all *[]string) (csvScan, []byte, error) {
	var s csvScan
	i := 0
	for { // empty lines
		if i >= len(b) {
			if atEOF {
				return s, kb, io.EOF
			}
			return s, kb, errIncomplete
		}
		if b[i] == '\n' {
			i++
			s.skipped++
			continue
		}
		if b[i] == '\r' {
			if i+1 == len(b) {
				if !atEOF {
					return s, kb, errIncomplete
				}
				i++ // a final "\r" is dropped: an empty last line
				continue
			}
			if b[i+1] == '\n' {
				i += 2
				s.skipped++
				continue
			}
		}
		break
	}
	s.start = i
	lineEnd, contentEnd := -1, -1 // bounds of the line holding i
	field := func(col, from, to int, quoted bool) {
		if col != keyCol && all == nil {
			return
		}
		v := b[from:to]
		if quoted && (bytes.IndexByte(v, '"') >= 0 || bytes.IndexByte(v, '\r') >= 0) {
			kb = unquoteCSV(kb[:0], v)
			v = kb
		}
		if col == keyCol {
			s.key, s.hasKey = v, true
		}
		if all != nil {
			*all = append(*all, string(v))
		}
	}
	for col := 0; ; col++ {
		s.fields++
		if lineEnd < i {
			nl := bytes.IndexByte(b[i:], '\n')
			switch {
			case nl >= 0:
				lineEnd = i + nl
			case !atEOF:
				return s, kb, errIncomplete
			default:
				lineEnd = len(b)
			}
			contentEnd = lineEnd
			if contentEnd > i && b[contentEnd-1] == '\r' {
				contentEnd-- // "\r\n", or a final "\r"
			}
		}
		if i < contentEnd && b[i] == '"' {
			vs := i + 1
			j := vs
			for {
				q := bytes.IndexByte(b[j:], '"')
				if q < 0 {
					if !atEOF {
						return s, kb, errIncomplete
					}
					// Unterminated: the field runs to the end of input.
					s.newlines += bytes.Count(b[j:], newline)
					end := len(b)
					if b[end-1] == '\r' {
						end--
					}
					field(col, vs, end, true)
					s.end = len(bytes.TrimSuffix(bytes.TrimSuffix(b, newline), []byte{'\r'}))
					s.next = len(b)
					return s, kb, nil
				}
				q += j
				s.newlines += bytes.Count(b[j:q], newline)
				a := q + 1
				var c byte
				if a < len(b) {
					c = b[a]
				} else if !atEOF {
					return s, kb, errIncomplete
				}
				switch {
				case a == len(b): // closing quote at the end of input
					field(col, vs, q, true)
					s.end, s.next = a, a
					return s, kb, nil
				case c == '"':
					j = a + 1
					continue
				case c == delim:
					field(col, vs, q, true)
					i = a + 1
				case c == '\n':
					field(col, vs, q, true)
					s.end, s.next = a, a+1
					s.newlines++
					return s, kb, nil
				case c == '\r' && a+1 < len(b) && b[a+1] == '\n':
					field(col, vs, q, true)
					s.end, s.next = a, a+2
					s.newlines++
					return s, kb, nil
				case c == '\r' && a+1 == len(b):
					if !atEOF {
						return s, kb, errIncomplete
					}
					field(col, vs, q, true)
					s.end, s.next = a, a+1
					return s, kb, nil
				default: // a literal quote
					j = a
					continue
				}
				break
			}
			continue
		}
		if k := bytes.IndexByte(b[i:contentEnd], delim); k >= 0 {
			field(col, i, i+k, false)
			i += k + 1
			continue
		}
		field(col, i, contentEnd, false)
		s.end = contentEnd
		if lineEnd < len(b) {
			s.next = lineEnd + 1
			s.newlines++
		} else {
			s.next = len(b)
		}
		return s, kb, nil
	}
}

// unquoteCSV appends the value of a quoted cell's inner text v: '""' is a
// quote, "\r\n" a line feed (encoding/csv normalizes line ends).
func unquoteCSV(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '"' && i+1 < len(v) && v[i+1] == '"':
			dst = append(dst, '"')
			i++
		case v[i] == '\r' && i+1 < len(v) && v[i+1] == '\n':
			dst = append(dst, '\n')
			i++
		default:
			dst = append(dst, v[i])
		}
	}
	return dst
}
