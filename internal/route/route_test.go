package route

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cespare/xxhash/v2"
)

func TestCanonicalID(t *testing.T) {
	ok := map[string]string{
		`"abc"`: "abc", `"a-B_9"`: "a-B_9", ` "x" `: "x", `42`: "42", `0`: "0", `-7`: "-7",
		`"\u0041b"`: "Ab", `18446744073709551615`: "18446744073709551615",
		`-9223372036854775808`: "-9223372036854775808", `"` + strings.Repeat("a", 511) + `"`: strings.Repeat("a", 511),
	}
	for in, want := range ok {
		got, err := CanonicalID([]byte(in))
		if err != nil || got != want {
			t.Errorf("CanonicalID(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{`1.0`, `1e3`, `1E3`, `-0`, `1.5`, `true`, `false`, `null`, `{}`, `[]`, `""`, `"a b"`, `"a/b"`,
		`"é"`, `"a\n"`, `"\u00e9"`, `18446744073709551616`, `-9223372036854775809`,
		`"` + strings.Repeat("a", 512) + `"`, `" x"`}
	for _, in := range bad {
		_, err := CanonicalID([]byte(in))
		var de *DocError
		if !errors.As(err, &de) || de.Code != CodeInvalidDocumentID {
			t.Errorf("CanonicalID(%s) err = %v, want invalid_document_id", in, err)
		}
	}
	for _, in := range []string{``, `"abc`, `01`, `tru`, `"a" "b"`, `{`} {
		_, err := CanonicalID([]byte(in))
		var de *DocError
		if !errors.As(err, &de) || de.Code != CodeMalformedPayload {
			t.Errorf("CanonicalID(%s) err = %v, want malformed_payload", in, err)
		}
	}
	_, err := CanonicalID([]byte(`"foo & bar"`))
	want := "Document identifier `\"foo & bar\"` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes."
	if err.Error() != want {
		t.Errorf("message %q", err)
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{"a": true, "A-_0": true, "": false, "a b": false, strings.Repeat("z", 511): true, strings.Repeat("z", 512): false, "é": false} {
		if ValidID(s) != want {
			t.Errorf("ValidID(%q) != %v", s, want)
		}
	}
}

func TestShardMatchesDesign(t *testing.T) {
	for _, id := range []string{"1", "abc", "doc-42"} {
		if got, want := Shard([]byte(id), 64), int(xxhash.Sum64String(id)%64); got != want {
			t.Fatal(id, got, want)
		}
	}
}

func route(t *testing.T, pk, doc string) (Routed, *DocError) {
	t.Helper()
	rt := &Router{PrimaryKey: pk, Shards: 64}
	r, err := rt.Route([]byte(doc), 3, 0)
	if err != nil {
		var de *DocError
		if !errors.As(err, &de) {
			t.Fatalf("non-DocError %v", err)
		}
		return r, de
	}
	return r, nil
}

func TestRoute(t *testing.T) {
	r, err := route(t, "id", ` {"title":"x","id":"abc","n":{"id":5}} `)
	if err != nil || string(r.ID) != "abc" || r.Shard != Shard([]byte("abc"), 64) || string(r.Doc) != `{"title":"x","id":"abc","n":{"id":5}}` {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = route(t, "id", `{"id":42}`)
	r2, _ := route(t, "id", `{"id":"42"}`)
	if err != nil || r.Shard != r2.Shard || string(r.ID) != "42" {
		t.Fatal("42 and \"42\" must route alike")
	}
	if r, err = route(t, "id", `{"\u0069d":"k"}`); err != nil || string(r.ID) != "k" {
		t.Fatalf("escaped key: %+v %v", r, err)
	}
	if r, err = route(t, "a.b", `{"a":{"b":"n1"}}`); err != nil || string(r.ID) != "n1" {
		t.Fatalf("nested: %+v %v", r, err)
	}
	if r, err = route(t, "a.b", `{"a.b":"f1"}`); err != nil || string(r.ID) != "f1" {
		t.Fatalf("flat dotted: %+v %v", r, err)
	}
	cases := []struct{ pk, doc, code, msg string }{
		{"id", `{"name":"x"}`, CodeMissingDocumentID, "Document at index 3: Document doesn't have a `id` attribute: `{\"name\":\"x\"}`."},
		{"id", `{"id":1,"id":2}`, CodeInvalidDocumentID, "too many"},
		{"a.b", `{"a.b":1,"a":{"b":2}}`, CodeInvalidDocumentID, "too many"},
		{"id", `{"id":1.5}`, CodeInvalidDocumentID, "Document at index 3: Document identifier `1.5` is invalid."},
		{"id", `{"id":"a b"}`, CodeInvalidDocumentID, "`\"a b\"` is invalid"},
		{"id", `{"id":1,"_miroir_shard":3}`, CodeReservedField, "_miroir_shard"},
		{"id", `{"id":1,"\u005fmiroir_shard":3}`, CodeReservedField, "_miroir_shard"},
		{"id", `[1]`, CodeMalformedPayload, "must be a JSON object"},
		{"id", `"x"`, CodeMalformedPayload, "must be a JSON object"},
		{"id", `{"id":1`, CodeMalformedPayload, "not valid JSON"},
		{"id", `{"id":1} x`, CodeMalformedPayload, "not valid JSON"},
		{"id", `{"id":1,}`, CodeMalformedPayload, "not valid JSON"},
		{"id", "{\"id\":1,\"t\":\"\xff\"}", CodeMalformedPayload, "UTF-8"},
		{"id", ``, CodeMalformedPayload, "empty"},
	}
	for _, c := range cases {
		_, err := route(t, c.pk, c.doc)
		if err == nil || err.Code != c.code || !strings.Contains(err.Message, c.msg) || err.Index != 3 {
			t.Errorf("%s %s: %+v, want %s containing %q", c.pk, c.doc, err, c.code, c.msg)
		}
	}
}

func TestRouteCollectsFields(t *testing.T) {
	rt := &Router{PrimaryKey: "id", Shards: 4, Fields: map[string]struct{}{}}
	for _, d := range []string{`{"id":1,"a":{"x":1},"b":[1]}`, `{"id":2,"c":null,"a":2}`} {
		if _, err := rt.Route([]byte(d), 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := slices.Sorted(maps.Keys(rt.Fields)); !slices.Equal(got, []string{"a", "b", "c", "id"}) {
		t.Fatal(got)
	}
}

func TestRouteAllocFree(t *testing.T) {
	rt := &Router{PrimaryKey: "id", Shards: 64}
	b := NewBatcher(3, FormatJSON)
	doc := []byte(`{"id":"doc-123","title":"Hello wörld","tags":["a","b"],"n":{"x":1.5e3,"y":null,"z":true}}`)
	b.Add(doc, 1, []int{0, 1, 2}) // warm buffers
	allocs := testing.AllocsPerRun(200, func() {
		r, err := rt.Route(doc, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		b.Reset()
		b.Add(r.Doc, r.Shard, []int{0, 2})
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per routed document", allocs)
	}
}

func mapsEqualJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func readAll(t *testing.T, r *Reader) ([]string, error) {
	t.Helper()
	var out []string
	for {
		d, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(d))
	}
}

func TestArrayReader(t *testing.T) {
	body := " [ {\"id\":1} ,{\"id\":\"x\",\"s\":\"a]b,c\"},\n{\"n\":[1,2,{}]} , 5, \"s\", null ] \n"
	want := []string{`{"id":1}`, `{"id":"x","s":"a]b,c"}`, `{"n":[1,2,{}]}`, `5`, `"s"`, `null`}
	got, err := readAll(t, ArrayBytes([]byte(body)))
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%q %v", got, err)
	}
	for _, chunk := range []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader} {
		got, err := readAll(t, NewArrayReader(chunk(strings.NewReader(body))))
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("stream: %q %v", got, err)
		}
	}
	split, err := SplitArray([]byte(body), nil)
	if err != nil || len(split) != len(want) {
		t.Fatal(split, err)
	}
	if got, err := readAll(t, ArrayBytes([]byte(" [ ] "))); err != nil || len(got) != 0 {
		t.Fatal(got, err)
	}
	bad := map[string]int{ // body -> index named in the error
		``: -1, `{}`: -1, `[`: 0, `[{"a":1}`: 1, `[{"a":1},]`: 1, `[{"a":1} {"b":2}]`: 1, `[{"a":1}] x`: -1,
		`[{"a":}]`: 0, `[1,2,{"a":"\x"}]`: 2, `[12`: 1, `[tru]`: 0,
	}
	for body, idx := range bad {
		for _, rd := range []*Reader{ArrayBytes([]byte(body)), NewArrayReader(iotest.OneByteReader(strings.NewReader(body)))} {
			_, err := readAll(t, rd)
			var de *DocError
			if !errors.As(err, &de) || de.Code != CodeMalformedPayload || de.Index != idx {
				t.Errorf("%q: %+v, want malformed at index %d", body, err, idx)
			}
		}
	}
}

func TestNDJSONReader(t *testing.T) {
	body := "{\"id\":1}\n\n  {\"id\":2}\r\n{\"id\":3,\n \"x\":[1,\n2]}\n{\"id\":4}{\"id\":5}\n"
	want := []string{`{"id":1}`, `{"id":2}`, "{\"id\":3,\n \"x\":[1,\n2]}", `{"id":4}`, `{"id":5}`}
	lines := []int{1, 3, 4, 7, 7}
	for _, rd := range []*Reader{NDJSONBytes([]byte(body)), NewNDJSONReader(iotest.OneByteReader(strings.NewReader(body)))} {
		var got []string
		var gotLines []int
		for {
			d, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(d))
			gotLines = append(gotLines, rd.Line())
		}
		if !slices.Equal(got, want) || !slices.Equal(gotLines, lines) {
			t.Fatalf("%q %v", got, gotLines)
		}
	}
	_, err := readAll(t, NDJSONBytes([]byte("{\"id\":1}\n\n{\"id\":2,}\n")))
	var de *DocError
	if !errors.As(err, &de) || de.Line != 3 || de.Index != 1 || !strings.Contains(de.Message, "line 3") {
		t.Fatalf("%+v", err)
	}
	if got, err := readAll(t, NDJSONBytes([]byte("\n \n"))); err != nil || len(got) != 0 {
		t.Fatal(got, err)
	}
	// A stream number at EOF is complete.
	if got, err := readAll(t, NewNDJSONReader(strings.NewReader("12"))); err != nil || !slices.Equal(got, []string{"12"}) {
		t.Fatal(got, err)
	}
}

func TestReaderMaxDocSize(t *testing.T) {
	big := `{"id":1,"s":"` + strings.Repeat("x", 2<<20) + `"}`
	rd := NewNDJSONReader(strings.NewReader(big + "\n"))
	rd.SetMaxDocSize(1 << 20)
	_, err := rd.Next()
	var de *DocError
	if !errors.As(err, &de) || de.Code != CodePayloadTooLarge {
		t.Fatalf("%v", err)
	}
	rd = NewNDJSONReader(strings.NewReader(big + "\n" + big))
	got, err := readAll(t, rd)
	if err != nil || len(got) != 2 || got[1] != big {
		t.Fatal(len(got), err)
	}
}

func TestInferPrimaryKey(t *testing.T) {
	if pk, err := InferPrimaryKey([]string{"title", "ID", "x"}); err != nil || pk != "ID" {
		t.Fatal(pk, err)
	}
	if pk, err := InferPrimaryKey([]string{"title", "productId"}); err != nil || pk != "productId" {
		t.Fatal(pk, err)
	}
	_, err := InferPrimaryKey([]string{"title"})
	var de *DocError
	if !errors.As(err, &de) || de.Code != CodePrimaryKeyNoCandidate || !strings.Contains(de.Message, "did not find any field") {
		t.Fatal(err)
	}
	_, err = InferPrimaryKey([]string{"userid", "id", "kid"})
	if !errors.As(err, &de) || de.Code != CodePrimaryKeyMultiple || !strings.Contains(de.Message, "found 3 fields ending with `id` in their names: 'id' and 'kid'") {
		t.Fatal(err)
	}
	keys, err := ObjectKeys([]byte(` {"b":1, "\u0061":{"id":1}, "c":[]}`))
	if err != nil || !slices.Equal(keys, []string{"b", "a", "c"}) {
		t.Fatal(keys, err)
	}
	if keys, err := ObjectKeys([]byte(`{}`)); err != nil || len(keys) != 0 {
		t.Fatal(keys, err)
	}
}

func TestCSV(t *testing.T) {
	body := "id:number,title,price:number,\"note:string\"\r\n7,\"a, b\",1.5,\"multi\nline\"\r\n\r\n008,plain,2,x\n"
	for _, src := range []io.Reader{strings.NewReader(body), iotest.OneByteReader(strings.NewReader(body))} {
		c, err := NewCSVReader(src, ',')
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Names(), []string{"id", "title", "price", "note"}) || c.Columns()[0].Type != CSVNumber {
			t.Fatal(c.Columns())
		}
		pk := c.Column("id")
		rt := &Router{PrimaryKey: "id", Shards: 64}
		b := NewBatcher(2, FormatCSV)
		b.SetCSVHeader(c.Header(), c.Delimiter())
		c.SetKeyColumn(pk)
		var lines []int
		for {
			rec, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			shard, id, err := rt.RouteCSV(rec, c.Columns()[pk].Type)
			if err != nil {
				t.Fatal(err)
			}
			if shard != Shard([]byte(id), 64) {
				t.Fatal("shard")
			}
			lines = append(lines, rec.Line)
			b.AddCopy(rec.Raw, shard, []int{1})
		}
		if !slices.Equal(lines, []int{2, 5}) {
			t.Fatal(lines)
		}
		if b.Body(0) != nil {
			t.Fatal("node 0 got data")
		}
		out, err := csv.NewReader(bytes.NewReader(b.Body(1))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"id:number", "title", "price:number", "note:string", "_miroir_shard:number"},
			{"7", "a, b", "1.5", "multi\nline", strconv.Itoa(Shard([]byte("7"), 64))},
			{"008", "plain", "2", "x", strconv.Itoa(Shard([]byte("8"), 64))},
		}
		if !slices.EqualFunc(out, want, slices.Equal) {
			t.Fatalf("%q", out)
		}
	}
	// Delimiter, reserved column, ragged rows, bad ids.
	c, err := NewCSVReader(strings.NewReader("id;name\nx;y\n"), ';')
	if err != nil || c.Column("name") != 1 {
		t.Fatal(err)
	}
	var de *DocError
	if _, err := NewCSVReader(strings.NewReader("id,_miroir_shard:number\n1,2\n"), ','); !errors.As(err, &de) || de.Code != CodeReservedField {
		t.Fatal(err)
	}
	if _, err := NewCSVReader(strings.NewReader(""), ','); !errors.As(err, &de) || de.Code != CodeMalformedPayload {
		t.Fatal(err)
	}
	c, _ = NewCSVReader(strings.NewReader("id,a\n1,2\n3\n"), ',')
	c.Next()
	if _, err := c.Next(); !errors.As(err, &de) || de.Code != CodeMalformedPayload || de.Line != 3 {
		t.Fatalf("%+v", err)
	}
	for cell, typ := range map[string]CSVType{"1.5": CSVNumber, "x": CSVNumber, "a b": CSVString, "": CSVString, "true": CSVBoolean, "99999999999999999999": CSVNumber} {
		if _, err := CSVID(cell, typ); !errors.As(err, &de) || de.Code != CodeInvalidDocumentID {
			t.Errorf("CSVID(%q) = %v", cell, err)
		}
	}
	if id, err := CSVID(" +42 ", CSVNumber); err != nil || id != "42" {
		t.Fatal(id, err)
	}
	if d, err := CSVDelimiter(";"); err != nil || d != ';' {
		t.Fatal(err)
	}
	if _, err := CSVDelimiter(";;"); !errors.As(err, &de) || de.Code != CodeInvalidCSVDelimiter {
		t.Fatal(err)
	}
}

func TestBatcher(t *testing.T) {
	docs := []string{`{"id":1}`, `{"id":2,"x":"y"}`, `{}`}
	for _, f := range []Format{FormatJSON, FormatNDJSON} {
		b := NewBatcher(3, f)
		for i, d := range docs {
			b.Add([]byte(d), i, []int{0, i % 3})
		}
		if b.Docs(0) != 4 || b.Docs(1) != 1 || b.Docs(2) != 1 || b.Empty() {
			t.Fatal(b.Docs(0), b.Docs(1), b.Docs(2))
		}
		body := b.Body(0)
		if b.Size(0) != len(body) && f == FormatJSON {
			t.Fatal("size")
		}
		var got []map[string]any
		if f == FormatJSON {
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		} else {
			dec := json.NewDecoder(bytes.NewReader(body))
			for dec.More() {
				var m map[string]any
				if err := dec.Decode(&m); err != nil {
					t.Fatal(err)
				}
				got = append(got, m)
			}
			if bytes.Count(body, []byte{'\n'}) != 4 {
				t.Fatalf("%q", body)
			}
		}
		// Node 0 got all three docs twice (targets 0 and i%3==0 for i=0).
		if len(got) != 4 || got[0][ShardField] != float64(0) || got[3][ShardField] != float64(2) {
			t.Fatalf("%s", body)
		}
		if !b.Full(0, 4) || b.Full(0, 5) || !b.Full(10, 0) || b.Full(0, 0) {
			t.Fatal("Full")
		}
		rd := b.NewReader(1) // a body still being sent survives Reset
		b.Reset()
		if !b.Empty() || b.Body(0) != nil || b.Size(0) != 0 {
			t.Fatal("Reset")
		}
		b.Add([]byte(`{"id":9}`), 5, []int{1, 2})
		if f == FormatJSON && string(b.Body(2)) != `[{"_miroir_shard":5,"id":9}]` {
			t.Fatalf("%s", b.Body(2))
		}
		taken, err := io.ReadAll(rd)
		rd.Close()
		if err != nil || !bytes.Contains(taken, []byte(`"id":2`)) || bytes.Contains(taken, []byte(`"id":9`)) {
			t.Fatalf("an open reader lost its body to Reset: %s", taken)
		}
	}
	if FormatCSV.ContentType() != "text/csv" || FormatNDJSON.ContentType() != "application/x-ndjson" || FormatJSON.ContentType() != "application/json" {
		t.Fatal("content types")
	}
}
