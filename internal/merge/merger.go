package merge

// List is one node's hits, in the node's own order.
type List struct {
	Hits []Hit
	// More says the node may hold further hits after these (it returned
	// as many as it was asked for); a merge that runs out of this list
	// before it is done asks for them (see Merger.Run).
	More bool

	pos int
}

// Ref names one hit of a merge: list index and position in that list.
type Ref struct {
	List, Index int32
}

// Merger merges sorted lists into one order: a k-way merge whose ties go
// to the list with the smaller index, then to the list's own order, so
// equal inputs always give the same output.
type Merger struct {
	Lists []*List
	// Compare orders two hits (negative: a first). CompareByScore when nil.
	Compare func(a, b *Hit) int
	// Distinct, when set, is the dotted path of the distinct attribute: a
	// hit sharing a value with an earlier kept hit is dropped.
	Distinct string
	// Out are the kept hits in merged order.
	Out []Ref
	// Dropped counts hits removed by Distinct.
	Dropped int

	heap    []int32
	started bool
	seen    map[string]struct{}
	scratch []string
}

func (m *Merger) less(i, j int32) bool {
	a, b := m.Lists[i], m.Lists[j]
	ha, hb := &a.Hits[a.pos], &b.Hits[b.pos]
	var c int
	if m.Compare == nil {
		switch {
		case ha.Score > hb.Score:
			return true
		case ha.Score < hb.Score:
			return false
		}
	} else {
		c = m.Compare(ha, hb)
	}
	if c != 0 {
		return c < 0
	}
	return i < j
}

func (m *Merger) up(k int) {
	h := m.heap
	for k > 0 {
		p := (k - 1) / 2
		if !m.less(h[k], h[p]) {
			break
		}
		h[k], h[p] = h[p], h[k]
		k = p
	}
}

func (m *Merger) down(k int) {
	h := m.heap
	n := len(h)
	for {
		l := 2*k + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && m.less(h[r], h[l]) {
			c = r
		}
		if !m.less(h[c], h[k]) {
			return
		}
		h[k], h[c] = h[c], h[k]
		k = c
	}
}

func (m *Merger) push(i int32) {
	m.heap = append(m.heap, i)
	m.up(len(m.heap) - 1)
}

// Run merges until Out holds n hits or every list is exhausted, and
// returns -1. When a list with More runs out first, Run returns its index
// instead: append that node's next hits to the list (set More again as
// appropriate) and call Run again to continue where it stopped.
func (m *Merger) Run(n int) int {
	if !m.started {
		m.started = true
		m.heap = make([]int32, 0, len(m.Lists))
		for i, l := range m.Lists {
			if l.pos < len(l.Hits) {
				m.push(int32(i))
			}
		}
	} else {
		// resuming: re-admit lists refilled since the last return
		for i, l := range m.Lists {
			if l.pos < len(l.Hits) && !m.inHeap(int32(i)) {
				m.push(int32(i))
			}
		}
	}
	for len(m.Out) < n && len(m.heap) > 0 {
		top := m.heap[0]
		l := m.Lists[top]
		idx := l.pos
		keep := true
		if m.Distinct != "" {
			keep = m.admit(&l.Hits[idx])
		}
		if keep {
			m.Out = append(m.Out, Ref{List: top, Index: int32(idx)})
		} else {
			m.Dropped++
		}
		l.pos++
		if l.pos < len(l.Hits) {
			m.down(0)
			continue
		}
		// list exhausted: remove it from the heap
		last := len(m.heap) - 1
		m.heap[0] = m.heap[last]
		m.heap = m.heap[:last]
		if len(m.heap) > 0 {
			m.down(0)
		}
		if l.More && len(m.Out) < n {
			l.More = false // the caller sets it again when refilling
			return int(top)
		}
	}
	return -1
}

func (m *Merger) inHeap(i int32) bool {
	for _, j := range m.heap {
		if j == i {
			return true
		}
	}
	return false
}

// admit applies distinct: it keeps h unless one of its values belongs to
// a hit kept earlier.
func (m *Merger) admit(h *Hit) bool {
	m.scratch = DistinctKeys(m.scratch[:0], h.Raw, m.Distinct)
	if len(m.scratch) == 0 {
		return true
	}
	if m.seen == nil {
		m.seen = make(map[string]struct{})
	}
	for _, k := range m.scratch {
		if _, dup := m.seen[k]; dup {
			return false
		}
	}
	for _, k := range m.scratch {
		m.seen[k] = struct{}{}
	}
	return true
}
