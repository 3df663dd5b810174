package miroir

import (
	"errors"
	"io"
	"maps"
	"runtime"
	"sync/atomic"

	"github.com/miroirsearch/miroir/internal/route"
)

// Parallel routing of in-memory payloads: validating and routing is the
// write path's main cost (DESIGN §10), and an in-memory payload can be cut
// into parts routed on several cores. A cut is only a guess (route.
// DocStart looks at a few bytes); the worker before it confirms that a
// document really starts there (route's SetStop), else, and whenever a
// later part meets an error, the first worker goes on alone, so results
// and error positions are exactly those of a sequential pass.

// minParallelBytes is the payload size from which routing is split, and
// routeWorkers the number of parts (0: one per CPU, at most 4); variables
// so that tests can exercise the split on small payloads.
var (
	minParallelBytes = 1 << 20
	routeWorkers     = 0
)

// splittable is a source over an in-memory payload that can be cut.
type splittable interface {
	source
	// splitInfo returns the payload, its format for route.DocStart, the
	// offset up to which it has been read, and false when it cannot be cut.
	splitInfo() (body []byte, f route.Format, offset int, ok bool)
	// tail returns a source of the documents from offset off on, with a
	// Router of its own, and the map collecting its attribute names.
	tail(off int) (splittable, map[string]struct{})
	// setStop makes next return route.ErrStop when the next document
	// starts at offset off (0: none).
	setStop(off int)
}

func (s *jsonSource) splitInfo() ([]byte, route.Format, int, bool) {
	switch {
	case s.body == nil:
		return nil, 0, 0, false
	case s.array:
		return s.body, route.FormatJSON, s.rd.Offset(), true
	case s.ndjson:
		return s.body, route.FormatNDJSON, s.rd.Offset(), true
	}
	return nil, 0, 0, false // a single object
}

func (s *jsonSource) tail(off int) (splittable, map[string]struct{}) {
	t := &jsonSource{ndjson: s.ndjson, array: s.array, body: s.body[off:]}
	if s.array {
		t.rd = route.ArrayTail(t.body)
	} else {
		t.rd = route.NDJSONBytes(t.body)
	}
	var fields map[string]struct{}
	if s.rt.Fields != nil {
		fields = map[string]struct{}{}
	}
	t.rt = route.Router{PrimaryKey: s.rt.PrimaryKey, Shards: s.rt.Shards, Fields: fields}
	return t, fields
}

func (s *jsonSource) setStop(off int) { s.rd.SetStop(off) }

func (s *csvSource) splitInfo() ([]byte, route.Format, int, bool) {
	return s.body, route.FormatCSV, s.cr.Offset(), s.body != nil
}

func (s *csvSource) tail(off int) (splittable, map[string]struct{}) {
	return &csvSource{cr: s.cr.Tail(s.body[off:]), rt: route.Router{PrimaryKey: s.rt.PrimaryKey, Shards: s.rt.Shards}, typ: s.typ, body: s.body[off:]}, nil
}

func (s *csvSource) setStop(off int) { s.cr.SetStop(off) }

// routeInMemory validates and routes every document of src, an in-memory
// payload, into sinks made by mk: one per part, in order, the first fed
// by src itself. The first error is returned as a sequential pass would
// return it.
func routeInMemory(src source, mk func() docSink) ([]docSink, error) {
	sp, cuts := cutPayload(src)
	head := mk()
	if len(cuts) == 0 {
		return []docSink{head}, eofIsEnd(drain(src, nil, head))
	}
	// parts[0] is src itself up to the first cut, parts[j] the part
	// from cuts[j-1] on, up to the next cut.
	parts := make([]routedPart, len(cuts)+1)
	var cancel atomic.Bool
	parallel(len(parts), 0, func(j int) error {
		if j > 0 {
			parts[j] = routePart(sp, cuts, j-1, &cancel, mk)
			return nil
		}
		sp.setStop(cuts[0])
		err := drain(sp, nil, head)
		if err != route.ErrStop {
			// An error, or the end without meeting the first cut (it
			// was inside a document): the other parts are of no use.
			cancel.Store(true)
		}
		parts[0] = routedPart{sink: head, err: err}
		return nil
	})
	if parts[0].err != route.ErrStop {
		return []docSink{head}, eofIsEnd(parts[0].err)
	}
	return joinParts(src, sp, head, parts[1:])
}

// cutPayload returns src as a splittable and where its parts after the
// first start (none when src is small, cannot be cut, or one core
// routes).
func cutPayload(src source) (splittable, []int) {
	sp, ok := src.(splittable)
	var body []byte
	var f route.Format
	var from int
	if ok {
		body, f, from, ok = sp.splitInfo()
	}
	k := routeWorkers
	if k == 0 {
		k = min(runtime.GOMAXPROCS(0), 4)
	}
	var cuts []int
	for j := 1; ok && k > 1 && len(body) >= minParallelBytes && j < k; j++ {
		c := route.DocStart(body, max(len(body)*j/k, from+1), f)
		if c < 0 {
			break
		}
		cuts = append(cuts, c)
		from = c
	}
	return sp, cuts
}

// routedPart is what one part's routing produced.
type routedPart struct {
	sink   docSink
	fields map[string]struct{}
	err    error // route.ErrStop: stopped at the next cut; io.EOF: the end
}

// routePart routes the part of sp starting at cuts[j], up to the next cut.
func routePart(sp splittable, cuts []int, j int, cancel *atomic.Bool, mk func() docSink) routedPart {
	c := cuts[j]
	t, fields := sp.tail(c)
	if j+1 < len(cuts) {
		t.setStop(cuts[j+1] - c)
	}
	sink := mk()
	err := drain(t, cancel, sink)
	return routedPart{sink, fields, err}
}

// joinParts keeps the parts after the head while each is good, else lets
// the head's source go on alone; it returns the sinks in order.
func joinParts(src source, sp splittable, head docSink, parts []routedPart) ([]docSink, error) {
	// Part j is good when it stopped at the next cut (confirming that a
	// document starts there) or ran to the end, which it also does when
	// it met no document start at that cut.
	out := []docSink{head}
	for _, p := range parts {
		if p.err != route.ErrStop && p.err != io.EOF {
			// A bad document (or a part no longer needed): the first
			// worker goes on alone, for the exact error and position.
			sp.setStop(0)
			return []docSink{head}, eofIsEnd(drain(sp, nil, head))
		}
		out = append(out, p.sink)
		if p.err == io.EOF {
			break
		}
	}
	if js, ok := src.(*jsonSource); ok && js.rt.Fields != nil {
		for _, p := range parts[:len(out)-1] {
			maps.Copy(js.rt.Fields, p.fields)
		}
	}
	return out, nil
}

// eofIsEnd turns io.EOF, a source's normal end, into nil.
func eofIsEnd(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// drain passes the documents of src to sink until io.EOF, route.ErrStop,
// an error, or cancel (checked now and then), which it returns.
func drain(src source, cancel *atomic.Bool, sink docSink) error {
	for n := 0; ; n++ {
		if cancel != nil && n&255 == 0 && cancel.Load() {
			return errCanceledPart
		}
		raw, shard, err := src.next()
		if err != nil {
			return err
		}
		sink.add(raw, shard)
	}
}

// errCanceledPart ends a part whose work is no longer needed.
var errCanceledPart = errors.New("miroir: routing part canceled")
