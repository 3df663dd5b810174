package merge

// Strip says what leaves a hit on its way to the caller.
type Strip struct {
	// Keys are top-level members removed (the shard field, ranking fields
	// the caller did not ask for, attributes added for merging).
	Keys []string
	// Nested are members removed inside _formatted.
	Nested []string
	// Matches are members removed inside _matchesPosition, which covers
	// every displayed attribute whether retrieved or not: an attribute
	// added to attributesToRetrieve for merging stays there.
	Matches []string
}

// nested returns what leaves the holder member key, and whether key is
// one (_formatted, _matchesPosition).
func (s *Strip) nested(key []byte) ([]string, bool) {
	switch string(key) {
	case "_formatted":
		return s.Nested, true
	case "_matchesPosition":
		return s.Matches, true
	}
	return nil, false
}

func inList(key []byte, list []string) bool {
	for _, k := range list {
		if len(k) == len(key) && k == string(key) {
			return true
		}
	}
	return false
}

// AppendHit appends the hit object without the stripped members, then
// extra (already-encoded members, e.g. `"_federation":{...}`) if any.
func AppendHit(dst, hit []byte, s *Strip, extra []byte) []byte {
	dst = append(dst, '{')
	n := 0
	it := NewObjectIter(hit, 0)
	for {
		key, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		if inList(key, s.Keys) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, it.RawKey()...)
		dst = append(dst, ':')
		if drop, ok := s.nested(key); ok && len(drop) > 0 && hit[vs] == '{' {
			dst = AppendObjectWithout(dst, hit[vs:ve], drop)
			continue
		}
		dst = append(dst, hit[vs:ve]...)
	}
	if len(extra) > 0 {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, extra...)
	}
	return append(dst, '}')
}

// AppendObjectWithout appends obj without the listed top-level members.
func AppendObjectWithout(dst, obj []byte, drop []string) []byte {
	dst = append(dst, '{')
	n := 0
	it := NewObjectIter(obj, 0)
	for {
		key, vs, ve, ok := it.Next()
		if !ok {
			break
		}
		if inList(key, drop) {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, it.RawKey()...)
		dst = append(dst, ':')
		dst = append(dst, obj[vs:ve]...)
	}
	return append(dst, '}')
}

// EachMember calls fn for every member of the hit that survives s, with
// the key unquoted when it has no escapes (the common case) and the raw
// value; _formatted and _matchesPosition are rewritten into scratch space
// when they need stripping.
func EachMember(hit []byte, s *Strip, fn func(key string, val []byte)) {
	it := NewObjectIter(hit, 0)
	for {
		key, vs, ve, ok := it.Next()
		if !ok {
			return
		}
		if inList(key, s.Keys) {
			continue
		}
		k := keyString(it.RawKey(), key)
		if drop, ok := s.nested(key); ok && len(drop) > 0 && hit[vs] == '{' {
			fn(k, AppendObjectWithout(nil, hit[vs:ve], drop))
			continue
		}
		fn(k, hit[vs:ve])
	}
}

func keyString(raw, key []byte) string {
	for _, c := range key {
		if c == '\\' {
			s, _ := Unquote(raw)
			return s
		}
	}
	return string(key)
}
