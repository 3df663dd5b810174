package route

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// refCSV reads body with encoding/csv as the CSV reader promises to: lazy
// quotes, any number of fields per record. It returns every record's
// cells and line.
func refCSV(body []byte, delim byte) (recs [][]string, lines []int) {
	cr := csv.NewReader(bytes.NewReader(body))
	cr.Comma = rune(delim)
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if err != nil {
			return recs, lines
		}
		line, _ := cr.FieldPos(0)
		recs = append(recs, rec)
		lines = append(lines, line)
	}
}

// ourCSV reads body with scanCSV, collecting every cell.
func ourCSV(t *testing.T, body []byte, delim byte) (recs [][]string, lines []int) {
	line, off := 1, 0
	for {
		var all []string
		s, _, err := scanCSV(body[off:], true, delim, -1, nil, &all)
		if err == io.EOF {
			return recs, lines
		}
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if s.fields != len(all) {
			t.Fatalf("%q: %d fields, %d cells", body, s.fields, len(all))
		}
		if s.start > s.end || s.end > s.next || off+s.next > len(body) {
			t.Fatalf("%q: bad spans %+v", body, s)
		}
		recs = append(recs, all)
		lines = append(lines, line+s.skipped)
		line += s.skipped + s.newlines
		off += s.next
	}
}

// TestScanCSVMatchesEncodingCSV compares the record splitting, cells and
// line numbers of scanCSV with encoding/csv on random inputs rich in
// quotes, delimiters and line ends.
func TestScanCSVMatchesEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 15))
	alphabet := []string{"a", "b", ",", ";", `"`, `""`, "\n", "\r", "\r\n", " ", "é", "1"}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		var sb strings.Builder
		for range rng.IntN(24) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		body := []byte(sb.String())
		for _, delim := range []byte{',', ';'} {
			wantRecs, wantLines := refCSV(body, delim)
			gotRecs, gotLines := ourCSV(t, body, delim)
			if !slices.EqualFunc(gotRecs, wantRecs, slices.Equal) || !slices.Equal(gotLines, wantLines) {
				t.Fatalf("%q (delim %q):\n got %q lines %v\nwant %q lines %v", body, delim, gotRecs, gotLines, wantRecs, wantLines)
			}
		}
	}
}

// TestCSVReaderStreamMatchesBytes reads the same bodies from a byte slice
// and from a one-byte-at-a-time reader: same records, keys, lines, errors.
func TestCSVReaderStreamMatchesBytes(t *testing.T) {
	bodies := []string{
		"id,name\n1,a\n\n2,\"b\"\"c\"\r\n3,\"multi\nline\"\n",
		"name,id:number\n\"x,y\", 7 \n\"q\",\"8\"\r\n",
		"id,a\n1,2\n3\n4,5\n",
		"id\r\n\"unterminated\nrow",
		"\n\nid;x\n\"a\"\"\";1\n",
	}
	for _, body := range bodies {
		delim := byte(',')
		if strings.Contains(body, ";") {
			delim = ';'
		}
		type got struct {
			raw, key string
			line     int
			err      string
		}
		read := func(c *CSVReader, err error) (out []got) {
			if err != nil {
				t.Fatal(err)
			}
			c.SetKeyColumn(c.Column("id"))
			for {
				rec, err := c.Next()
				if err == io.EOF {
					return out
				}
				g := got{raw: string(rec.Raw), key: string(rec.Key), line: rec.Line}
				if err != nil {
					g.err = err.Error()
				}
				out = append(out, g)
			}
		}
		a := read(CSVBytes([]byte(body), delim))
		b := read(NewCSVReader(iotest.OneByteReader(strings.NewReader(body)), delim))
		if !slices.Equal(a, b) || len(a) == 0 {
			t.Fatalf("%q:\nbytes  %+v\nstream %+v", body, a, b)
		}
	}
	c, _ := CSVBytes([]byte("id,name\n1,\"a\"\n"), ',')
	c.SetKeyColumn(0)
	if rec, err := c.Next(); err != nil || string(rec.Raw) != `1,"a"` || string(rec.Key) != "1" || rec.Line != 2 {
		t.Fatalf("%+v %v", rec, err)
	}
	var de *DocError
	if _, err := CSVBytes([]byte("id,_miroir_v:number\n1,2\n"), ','); !errors.As(err, &de) || de.Code != CodeReservedField || !strings.Contains(de.Message, "`_miroir_v`") {
		t.Fatal(err)
	}
}
