package miroir

import (
	"io"

	"github.com/miroirsearch/miroir/internal/route"
)

// Document sources of the write path: a JSON array or NDJSON (routed by a
// route.Reader), CSV records, or documents routed ahead (the in-memory
// payloads, see documents_parallel.go). Each yields raw documents with
// their shards.

// source yields routed documents: the raw document (a JSON object or a CSV
// record) and its shard; io.EOF at the end.
type source interface {
	next() (raw []byte, shard int, err error)
}

// jsonSource routes a JSON array or NDJSON stream.
type jsonSource struct {
	rd      *route.Reader
	rt      route.Router
	ndjson  bool
	pending []byte // first document, read ahead for primary key inference
	hasPend bool
	body    []byte // the whole payload when in memory (nil: streamed)
	array   bool   // rd reads a JSON array
}

func (s *jsonSource) next() ([]byte, int, error) {
	var r route.Routed
	var err error
	if s.hasPend {
		s.hasPend = false
		line := 0
		if s.ndjson {
			line = s.rd.Line()
		}
		r, err = s.rt.Route(s.pending, s.rd.Index(), line)
	} else {
		r, err = s.rt.Next(s.rd, s.ndjson)
	}
	if err != nil {
		return nil, 0, err
	}
	return r.Doc, r.Shard, nil
}

// peek reads the first document ahead and returns its attribute names
// (nil when there is no document).
func (s *jsonSource) peek() ([]string, error) {
	d, err := s.rd.Next()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.pending, s.hasPend = d, true
	names, err := route.ObjectKeys(d)
	if err != nil {
		// Let Route report it with the document's position.
		_, rerr := s.rt.Route(d, s.rd.Index(), 0)
		if rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	return names, nil
}

// csvSource routes CSV records.
type csvSource struct {
	cr   *route.CSVReader
	rt   route.Router
	typ  route.CSVType // the key column's type
	body []byte        // the whole payload when in memory (nil: streamed)
}

func (s *csvSource) next() ([]byte, int, error) {
	rec, err := s.cr.Next()
	if err != nil {
		return nil, 0, err
	}
	shard, _, err := s.rt.RouteCSV(rec, s.typ)
	if err != nil {
		return nil, 0, err
	}
	return rec.Raw, shard, nil
}

// routedDoc is a document validated and routed ahead of sending.
type routedDoc struct {
	raw   []byte
	shard int
}

// docSink receives the documents of a routing pass over an in-memory
// payload (see routeInMemory): a list to replay (the InBatches forms), or
// a Batcher building the node bodies.
type docSink interface {
	add(raw []byte, shard int)
}

// docList keeps routed documents in order.
type docList struct{ docs []routedDoc }

func (l *docList) add(raw []byte, shard int) { l.docs = append(l.docs, routedDoc{raw, shard}) }

// batchSink adds routed documents to a Batcher for their targets.
type batchSink struct {
	b       *route.Batcher
	targets [][]int
	n       int
}

func (s *batchSink) add(raw []byte, shard int) {
	s.b.Add(raw, shard, s.targets[shard])
	s.n++
}

// replaySource yields documents routed by an earlier pass, in order (the
// parts of a parallel pass one after the other).
type replaySource struct {
	parts []docSink // *docList
	p, i  int
}

func (s *replaySource) next() ([]byte, int, error) {
	for s.p < len(s.parts) && s.i == len(s.parts[s.p].(*docList).docs) {
		s.p, s.i = s.p+1, 0
	}
	if s.p == len(s.parts) {
		return nil, 0, io.EOF
	}
	d := s.parts[s.p].(*docList).docs[s.i]
	s.i++
	return d.raw, d.shard, nil
}
