package route

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

// expectBody builds a node body the plain way, document by document.
func expectBody(f Format, header string, docs [][]byte, shards []int, version int64) []byte {
	var out []byte
	switch f {
	case FormatJSON:
		out = append(out, '[')
	case FormatCSV:
		out = append(out, header...)
	}
	for i, d := range docs {
		switch f {
		case FormatCSV:
			out = append(out, d...)
			out = append(out, ',')
			out = strconv.AppendInt(out, int64(shards[i]), 10)
			if version != 0 {
				out = append(out, ',')
				out = strconv.AppendInt(out, version, 10)
			}
			out = append(out, '\n')
			continue
		case FormatJSON:
			if i > 0 {
				out = append(out, ',')
			}
		}
		inj := []byte(`{"_miroir_shard":` + strconv.Itoa(shards[i]))
		if version != 0 {
			inj = append(inj, `,"_miroir_v":`+strconv.FormatInt(version, 10)...)
		}
		rest := d[jsonscan.SkipSpace(d, 1):]
		if rest[0] != '}' {
			inj = append(inj, ',')
		}
		inj = append(inj, rest...)
		out = append(out, inj...)
		if f == FormatNDJSON {
			out = append(out, '\n')
		}
	}
	if f == FormatJSON {
		out = append(out, ']')
	}
	return out
}

// TestBodyReaderMatchesBuiltBody generates node bodies through readers
// with every kind of read size and compares them with bodies built the
// plain way, and their length with Size.
func TestBodyReaderMatchesBuiltBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := []string{`{}`, `{ }`, "{\n}", `{"id":1}`, `{ "id" : "a", "x":[1,{"b":2}] }`, `{"id":2,"s":"` + string(bytes.Repeat([]byte("z"), 300)) + `"}`}
	for it := range 300 {
		f := Format(it % 3)
		version := int64(0)
		if it%2 == 1 {
			version = 1<<52 + int64(it)
		}
		b := NewBatcher(3, f)
		b.SetVersion(version)
		hdr := "id,name\n"
		if f == FormatCSV {
			b.SetCSVHeader([]byte("id,name"), ',')
		}
		var docs [3][][]byte
		var shards [3][]int
		for range rng.IntN(40) {
			var d []byte
			if f == FormatCSV {
				d = []byte(strconv.Itoa(rng.IntN(1000)) + `,"a, ""b"""`)
			} else {
				d = []byte(shapes[rng.IntN(len(shapes))])
			}
			shard := rng.IntN(64)
			var tg []int
			for n := range 3 {
				if rng.IntN(2) == 0 {
					tg = append(tg, n)
					docs[n] = append(docs[n], d)
					shards[n] = append(shards[n], shard)
				}
			}
			if rng.IntN(2) == 0 {
				b.Add(d, shard, tg)
			} else {
				b.AddCopy(d, shard, tg)
			}
		}
		if version != 0 {
			hdr = "id,name,_miroir_shard:number,_miroir_v:number\n"
		} else {
			hdr = "id,name,_miroir_shard:number\n"
		}
		for n := range 3 {
			want := expectBody(f, hdr, docs[n], shards[n], version)
			if len(docs[n]) == 0 {
				want = nil
			}
			if b.Size(n) != len(want) {
				t.Fatalf("format %d node %d: Size %d, body %d: %s", f, n, b.Size(n), len(want), want)
			}
			for _, rd := range []func(io.Reader) io.Reader{
				func(r io.Reader) io.Reader { return r },
				iotest.OneByteReader,
				iotest.HalfReader,
				func(r io.Reader) io.Reader { return io.LimitReader(r, 1<<30) },
			} {
				r := b.NewReader(n)
				if r.Len() != len(want) {
					t.Fatalf("Len %d, want %d", r.Len(), len(want))
				}
				got, err := io.ReadAll(rd(r))
				r.Close()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("format %d node %d:\n got %s\nwant %s", f, n, got, want)
				}
				if r.Len() != 0 {
					t.Fatalf("Len %d after the end", r.Len())
				}
			}
			if f == FormatJSON && len(want) > 0 {
				var v []map[string]any
				if err := json.Unmarshal(want, &v); err != nil {
					t.Fatalf("%s: %v", want, err)
				}
			}
		}
		b.Reset()
	}
}

// TestBatcherAppend fills two Batchers with the two halves of a stream of
// documents and checks that appending the second to the first gives the
// bodies, sizes and shards of one Batcher fed everything.
func TestBatcherAppend(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for it := range 200 {
		f := Format(it % 3)
		mk := func() *Batcher {
			b := NewBatcher(3, f)
			b.SetVersion(int64(it % 2))
			if f == FormatCSV {
				b.SetCSVHeader([]byte("id,x"), ';')
			}
			return b
		}
		all, a, c := mk(), mk(), mk()
		n := rng.IntN(30)
		cut := rng.IntN(n + 1)
		for i := range n {
			d := []byte(fmt.Sprintf(`{"id":%d,"x":"%s"}`, i, strings.Repeat("y", rng.IntN(5))))
			if f == FormatCSV {
				d = []byte(fmt.Sprintf("%d;%d", i, rng.IntN(9)))
			}
			shard := rng.IntN(16)
			var tg []int
			for node := range 3 {
				if rng.IntN(2) == 0 {
					tg = append(tg, node)
				}
			}
			all.Add(d, shard, tg)
			if i < cut {
				a.Add(d, shard, tg)
			} else {
				c.Add(d, shard, tg)
			}
		}
		a.Append(c)
		for node := range 3 {
			if got, want := a.Body(node), all.Body(node); !bytes.Equal(got, want) || a.Size(node) != all.Size(node) || a.Docs(node) != all.Docs(node) {
				t.Fatalf("format %d node %d cut %d/%d:\n got %q (%d)\nwant %q (%d)", f, node, cut, n, got, a.Size(node), want, all.Size(node))
			}
		}
		if !slices.Equal(slices.Sorted(slices.Values(a.Shards())), slices.Sorted(slices.Values(all.Shards()))) {
			t.Fatalf("shards %v, want %v", a.Shards(), all.Shards())
		}
		a.Reset()
		if len(a.Shards()) != 0 || !a.Empty() {
			t.Fatal("Reset kept shards or documents")
		}
	}
}
