package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"testing"
	"unicode/utf8"
)

// refCanonical is the reference view of a raw id, built on encoding/json.
func refCanonical(raw []byte) (id string, valid, wellFormed bool) {
	if !json.Valid(raw) {
		return "", false, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false, false
	}
	switch x := v.(type) {
	case string:
		return x, ValidID(x), true
	case json.Number:
		s := x.String()
		if s == "-0" {
			return "", false, true
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return s, true, true
		}
		if _, err := strconv.ParseUint(s, 10, 64); err == nil {
			return s, true, true
		}
		return "", false, true
	}
	return "", false, true
}

func FuzzCanonicalID(f *testing.F) {
	for _, s := range []string{`"abc"`, `42`, `-0`, `1.0`, `"\u0041"`, `"a b"`, `18446744073709551616`, `null`, `{"a":1}`, `"\ud83d\ude00"`, `01`, ` 7 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := CanonicalID(raw)
		want, valid, wf := refCanonical(raw)
		var de *DocError
		switch {
		case !wf:
			if !errors.As(err, &de) || de.Code != CodeMalformedPayload {
				t.Fatalf("%q: malformed per encoding/json, got %q %v", raw, got, err)
			}
		case !valid:
			if !errors.As(err, &de) || de.Code != CodeInvalidDocumentID {
				t.Fatalf("%q: invalid per reference, got %q %v", raw, got, err)
			}
		default:
			if err != nil || got != want {
				t.Fatalf("%q: got %q %v, want %q", raw, got, err, want)
			}
		}
	})
}

// topLevelCount counts the top-level keys equal to pk, with encoding/json.
func topLevelCount(doc []byte, pk string) (n int, raw json.RawMessage) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		var v json.RawMessage
		dec.Decode(&v)
		if k == pk {
			n++
			raw = v
		}
	}
	return n, raw
}

func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, `[{"id":1},{"id":"a"}]`, `[{"id":1.5}]`, `[1,"x",null]`, `[{"id":1,"id":2}]`,
		`[{"_miroir_shard":1,"id":1}]`, `[{"a":{"id":3},"id":"z-9"}]`, `[{"i\u0064":"q"}]`, `[{"id":"x"`, `{"id":1}`, `[{},]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		docs, err := SplitArray(body, nil)
		var ref []json.RawMessage
		refErr := json.Unmarshal(body, &ref)
		if t := bytes.TrimLeft(body, " \t\r\n"); refErr == nil && (len(t) == 0 || t[0] != '[') {
			refErr = errors.New("not an array") // e.g. null decodes into a nil slice
		}
		// Same validity as encoding/json (which accepts invalid UTF-8;
		// the scanner leaves UTF-8 to Route, so compare grammar only).
		if (err == nil) != (refErr == nil) {
			// encoding/json also rejects a non-array top level with a type
			// error, the same outcome.
			t.Fatalf("%q: split err %v, encoding/json err %v", body, err, refErr)
		}
		if err != nil {
			return
		}
		if len(docs) != len(ref) {
			t.Fatalf("%q: %d docs, encoding/json %d", body, len(docs), len(ref))
		}
		// The stream reader must agree with the in-memory one.
		var streamed [][]byte
		rd := NewArrayReader(bytes.NewReader(body))
		for {
			d, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%q: stream %v", body, err)
			}
			streamed = append(streamed, bytes.Clone(d))
		}
		if len(streamed) != len(docs) {
			t.Fatalf("%q: stream %d docs, bytes %d", body, len(streamed), len(docs))
		}
		rt := &Router{PrimaryKey: "id", Shards: 7}
		for i, d := range docs {
			if !bytes.Equal(d, ref[i]) || !bytes.Equal(d, streamed[i]) {
				t.Fatalf("%q: doc %d = %q, encoding/json %q", body, i, d, ref[i])
			}
			r, err := rt.Route(d, i, 0)
			var obj map[string]json.RawMessage
			if d[0] != '{' || json.Unmarshal(d, &obj) != nil {
				if err == nil {
					t.Fatalf("%q: routed a non-object", d)
				}
				continue
			}
			var de *DocError
			if err != nil && !errors.As(err, &de) {
				t.Fatal(err)
			}
			n, raw := topLevelCount(d, "id")
			_, reserved := obj[ShardField]
			switch {
			case !utf8.Valid(d):
				if err == nil || de.Code != CodeMalformedPayload {
					t.Fatalf("%q: invalid UTF-8 accepted: %v", d, err)
				}
			case reserved:
				if err == nil || de.Code != CodeReservedField {
					t.Fatalf("%q: reserved field: %v", d, err)
				}
			case n == 0:
				if err == nil || de.Code != CodeMissingDocumentID {
					t.Fatalf("%q: missing id: %v", d, err)
				}
			case n > 1:
				if err == nil || de.Code != CodeInvalidDocumentID {
					t.Fatalf("%q: duplicate id: %v", d, err)
				}
			default:
				want, valid, _ := refCanonical(raw)
				if !valid {
					if err == nil || de.Code != CodeInvalidDocumentID {
						t.Fatalf("%q: invalid id accepted: %v", d, err)
					}
					continue
				}
				if err != nil || string(r.ID) != want || r.Shard != Shard([]byte(want), 7) {
					t.Fatalf("%q: routed %q/%d %v, want %q", d, r.ID, r.Shard, err, want)
				}
				// Injection keeps the document and adds the shard.
				bt := NewBatcher(1, FormatNDJSON)
				bt.Add(r.Doc, r.Shard, []int{0})
				inj := bytes.TrimSuffix(bt.Body(0), []byte{'\n'})
				var back map[string]json.RawMessage
				if json.Unmarshal(inj, &back) != nil || string(back[ShardField]) != strconv.Itoa(r.Shard) || len(back) != len(obj)+1 {
					t.Fatalf("%q: injected %q", d, inj)
				}
			}
		}
	})
}
