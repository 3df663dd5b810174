package route

import (
	"slices"
	"strconv"
	"strings"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

// Router validates documents and computes their shards. It keeps scratch
// space between calls, so one Router serves one goroutine at a time.
type Router struct {
	// PrimaryKey is the attribute holding the document id. A name with
	// dots also matches nested objects ("a.b" finds {"a":{"b":1}}), as in
	// Meilisearch.
	PrimaryKey string
	// Shards is the index's shard count S (>= 1).
	Shards int
	// Fields, when non-nil, collects every top-level attribute name seen
	// (the known fields behind attributesToSearchOn, DESIGN §5). A document
	// whose names come in the same order as the previous one's costs no
	// map lookup; leave nil when not needed.
	Fields map[string]struct{}

	keyBuf []byte
	idBuf  []byte
	// names[i] is an attribute name seen at position i of a document
	// (Fields fast path: documents of a payload share their names).
	names []string
}

// Routed is one validated document. Doc and ID alias the input or the
// Router's scratch space and stay valid until the next call.
type Routed struct {
	// Doc is the document object without surrounding whitespace.
	Doc []byte
	// ID is the canonical id text (what ShardOf hashes).
	ID []byte
	// Shard is xxh64(ID) mod Shards.
	Shard int
}

// pkScan is what one pass over a document found.
type pkScan struct {
	idStart, idEnd int // value span of the primary key
	idCount        int
	reserved       string // first reserved attribute found, if any
	badUTF8        bool   // a string holds invalid UTF-8
}

// reservedWhat says what miroir stores in each reserved attribute, for the
// error refusing it in input.
func reservedWhat(name string) string {
	if name == VersionField {
		return "version"
	}
	return "shard"
}

// Route validates one JSON document and computes its shard. index and line
// only feed the error position (line 0 for JSON arrays). The document must
// be a JSON object in valid UTF-8 with a valid id under PrimaryKey and
// without a reserved attribute (_miroir_shard, _miroir_v); errors are
// *DocError.
func (rt *Router) Route(doc []byte, index, line int) (Routed, error) {
	i := jsonscan.SkipSpace(doc, 0)
	if i >= len(doc) {
		return Routed{}, docErr(index, line, CodeMalformedPayload, "The document is empty; expected a JSON object.")
	}
	if doc[i] != '{' {
		if _, err := skipValue(doc, i, 0, false); err != nil {
			return Routed{}, malformed(index, line, err)
		}
		return Routed{}, docErr(index, line, CodeMalformedPayload, "The document must be a JSON object, found `%s`.", compactJSON(doc[i:]))
	}
	var sc pkScan
	end, err := rt.scanObject(doc, i, &sc, true)
	if err == errBadUTF8 {
		// Rescan without UTF-8 checks: a syntax error is reported first.
		sc = pkScan{}
		if end, err = rt.scanObject(doc, i, &sc, false); err == nil {
			sc.badUTF8 = true
		}
	}
	if err != nil {
		return Routed{}, malformed(index, line, err)
	}
	if j := jsonscan.SkipSpace(doc, end); j != len(doc) {
		return Routed{}, malformed(index, line, errTrailing)
	}
	return rt.finish(doc, i, end, &sc, index, line)
}

// Next reads the next document of rd and routes it, scanning it once (the
// reader's split and the router's validation are the same pass). byLine
// makes errors name the document's line (NDJSON) rather than its index.
// It returns io.EOF after the last document; other errors are *DocError
// or the source's read error, and stick.
func (rt *Router) Next(rd *Reader, byLine bool) (Routed, error) {
	var sc pkScan
	doc, err := rd.next(rt, &sc)
	if err != nil {
		return Routed{}, err
	}
	line := 0
	if byLine {
		line = rd.Line()
	}
	if doc[0] != '{' {
		return rt.Route(doc, rd.Index(), line) // not an object: Route names it
	}
	return rt.finish(doc, 0, len(doc), &sc, rd.Index(), line)
}

// finish checks what scanObject found in the object doc[i:end].
func (rt *Router) finish(doc []byte, i, end int, sc *pkScan, index, line int) (Routed, error) {
	obj := doc[i:end]
	if sc.badUTF8 {
		return Routed{}, docErr(index, line, CodeMalformedPayload, "The document is not valid UTF-8.")
	}
	if sc.reserved != "" {
		return Routed{}, docErr(index, line, CodeReservedField, "The attribute `%s` is reserved by miroir, which stores each document's %s in it; rename the attribute.", sc.reserved, reservedWhat(sc.reserved))
	}
	switch {
	case sc.idCount == 0:
		return Routed{}, docErr(index, line, CodeMissingDocumentID, "Document doesn't have a `%s` attribute: `%s`.", rt.PrimaryKey, compactJSON(obj))
	case sc.idCount > 1:
		return Routed{}, docErr(index, line, CodeInvalidDocumentID, "Document have too many matching `%s` attribute: `%s`.", rt.PrimaryKey, compactJSON(obj))
	}
	raw := doc[sc.idStart:sc.idEnd]
	id, buf, ok := canonicalID(raw, rt.idBuf)
	rt.idBuf = buf
	if !ok {
		return Routed{}, docErr(index, line, CodeInvalidDocumentID, "%s", invalidIDMessage(compactJSON(raw)))
	}
	return Routed{Doc: obj, ID: id, Shard: Shard(id, rt.Shards)}, nil
}

// noteField records the top-level attribute name k, the pos-th of its
// document, in Fields. Documents of one payload usually share their
// attribute names and order, so a name equal to the one last recorded at
// that position is known without a map lookup.
func (rt *Router) noteField(k []byte, pos int) {
	if pos < len(rt.names) && rt.names[pos] == string(k) {
		return
	}
	if _, ok := rt.Fields[string(k)]; !ok {
		name := string(k)
		rt.Fields[name] = struct{}{}
		if pos < len(rt.names) {
			rt.names[pos] = name
		}
	}
	if pos == len(rt.names) {
		rt.names = append(rt.names, string(k))
	}
}

// key returns the unescaped name of the key string b[ks:ke] (quotes
// excluded), aliasing b unless it has escapes.
func (rt *Router) key(b []byte, ks, ke int, escaped bool) []byte {
	if !escaped {
		return b[ks:ke]
	}
	rt.keyBuf, _ = jsonscan.AppendUnescaped(rt.keyBuf[:0], b[ks:ke])
	return rt.keyBuf
}

// scanObject validates the top-level object at b[i] == '{' in one pass,
// noting the primary key's value, the reserved field and (optionally) the
// field names; u validates UTF-8 too (errBadUTF8, see skipString).
func (rt *Router) scanObject(b []byte, i int, sc *pkScan, u bool) (int, error) {
	nested := strings.IndexByte(rt.PrimaryKey, '.') >= 0
	i = jsonscan.SkipSpace(b, i+1)
	if i >= len(b) {
		return 0, errIncomplete
	}
	if b[i] == '}' {
		return i + 1, nil
	}
	for pos := 0; ; pos++ {
		if b[i] != '"' {
			return 0, badChar(b, i, "looking for beginning of object key string")
		}
		ks := i + 1
		kend, escaped, err := skipString(b, i, u)
		if err != nil {
			return 0, err
		}
		k := rt.key(b, ks, kend-1, escaped)
		vs, err := afterColon(b, kend)
		if err != nil {
			return 0, err
		}
		ve, err := skipValue(b, vs, 1, u)
		if err != nil {
			return 0, err
		}
		if string(k) == rt.PrimaryKey {
			sc.idCount++
			sc.idStart, sc.idEnd = vs, ve
		} else if nested && b[vs] == '{' && len(k) < len(rt.PrimaryKey) &&
			rt.PrimaryKey[len(k)] == '.' && rt.PrimaryKey[:len(k)] == string(k) {
			findNested(b, vs, rt.PrimaryKey[len(k)+1:], sc)
		}
		if len(k) > 3 && k[0] == '_' && k[1] == 'm' && sc.reserved == "" {
			switch string(k) {
			case ShardField:
				sc.reserved = ShardField
			case VersionField:
				sc.reserved = VersionField
			}
		}
		if rt.Fields != nil {
			rt.noteField(k, pos)
		}
		var done bool
		if i, done, err = afterMember(b, ve, '}'); err != nil || done {
			return i, err
		}
	}
}

// findNested looks for path inside the validated object at b[i], where a
// key may itself contain dots (Meilisearch flattens "a.b" both ways).
func findNested(b []byte, i int, path string, sc *pkScan) {
	var buf []byte
	i = jsonscan.SkipSpace(b, i+1)
	if b[i] == '}' {
		return
	}
	for {
		ks := i + 1
		kend, escaped, _ := skipString(b, i, false)
		k := b[ks : kend-1]
		if escaped {
			buf, _ = jsonscan.AppendUnescaped(buf[:0], k)
			k = buf
		}
		vs, _ := afterColon(b, kend)
		ve, _ := skipValue(b, vs, 1, false)
		if string(k) == path {
			sc.idCount++
			sc.idStart, sc.idEnd = vs, ve
		} else if b[vs] == '{' && len(k) < len(path) && path[len(k)] == '.' && path[:len(k)] == string(k) {
			findNested(b, vs, path[len(k)+1:], sc)
		}
		var done bool
		if i, done, _ = afterMember(b, ve, '}'); done {
			return
		}
	}
}

// ObjectKeys returns the top-level attribute names of one JSON object, in
// order (for primary key inference on the first document).
func ObjectKeys(doc []byte) ([]string, error) {
	var rt Router
	i := jsonscan.SkipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, docErr(0, 0, CodeMalformedPayload, "The document must be a JSON object.")
	}
	var names []string
	var sc pkScan
	// Walk keys in order: scanObject validates, then collect in order.
	if _, err := rt.scanObject(doc, i, &sc, false); err != nil {
		return nil, malformed(0, 0, err)
	}
	j := jsonscan.SkipSpace(doc, i+1)
	if doc[j] == '}' {
		return names, nil
	}
	for {
		kend, escaped, _ := skipString(doc, j, false)
		names = append(names, string(rt.key(doc, j+1, kend-1, escaped)))
		vs, _ := afterColon(doc, kend)
		ve, _ := skipValue(doc, vs, 1, false)
		var done bool
		if j, done, _ = afterMember(doc, ve, '}'); done {
			return names, nil
		}
	}
}

// InferPrimaryKey picks the primary key like Meilisearch: the single
// attribute whose name ends with "id", case-insensitively. Zero or several
// candidates fail with Meilisearch's codes (the task fails, issue 10), using
// Meilisearch's wording.
func InferPrimaryKey(names []string) (string, error) {
	var cands []string
	for _, n := range names {
		if strings.HasSuffix(strings.ToLower(n), "id") && !slices.Contains(cands, n) {
			cands = append(cands, n)
		}
	}
	// Meilisearch names candidates shortest first, then alphabetically.
	slices.SortFunc(cands, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		return "", &DocError{Index: -1, Code: CodePrimaryKeyNoCandidate, Message: "The primary key inference failed as the engine did not find any field ending with `id` in its name. Please specify the primary key manually using the `primaryKey` query parameter."}
	}
	return "", &DocError{Index: -1, Code: CodePrimaryKeyMultiple, Message: "The primary key inference failed as the engine found " + strconv.Itoa(len(cands)) + " fields ending with `id` in their names: '" + cands[0] + "' and '" + cands[1] + "'. Please specify the primary key manually using the `primaryKey` query parameter."}
}
