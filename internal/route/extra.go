package route

import "github.com/miroirsearch/miroir/internal/jsonscan"

// Helpers owned by the cluster core (documents.go); kept apart from the
// router's own files.

// StripField returns the JSON object obj without its top-level attribute
// name (every occurrence), splicing bytes rather than decoding. obj must be
// a valid JSON object, as nodes return it; if it is not, or the attribute
// is absent, obj is returned unchanged (no copy). Used to hide
// _miroir_shard from documents returned to callers.
func StripField(obj []byte, name string) []byte {
	i := jsonscan.SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return obj
	}
	var keyBuf []byte
	var out []byte // nil until something is removed
	last := 0      // obj[last:] not yet copied to out
	j := jsonscan.SkipSpace(obj, i+1)
	if j >= len(obj) || obj[j] == '}' {
		return obj
	}
	prevEnd := i + 1 // end of the previous member (after its value), or just after '{'
	first := true
	for {
		if j >= len(obj) || obj[j] != '"' {
			return obj
		}
		ks := j
		kend, escaped, err := skipString(obj, j, false)
		if err != nil {
			return obj
		}
		k := obj[ks+1 : kend-1]
		if escaped {
			keyBuf, _ = jsonscan.AppendUnescaped(keyBuf[:0], k)
			k = keyBuf
		}
		vs, err := afterColon(obj, kend)
		if err != nil {
			return obj
		}
		ve, err := skipValue(obj, vs, 1, false)
		if err != nil {
			return obj
		}
		next, done, err := afterMember(obj, ve, '}')
		if err != nil {
			return obj
		}
		if string(k) == name {
			// Remove the member with one adjacent comma: the one before it
			// when there is a previous member, else the one after it.
			var cutFrom, cutTo int
			if !first {
				cutFrom, cutTo = prevEnd, ve
				prevEnd = ve // a later match cuts from here: ", key:value"
			} else if !done {
				cutFrom, cutTo = ks, next
			} else {
				cutFrom, cutTo = ks, ve
			}
			out = append(out, obj[last:cutFrom]...)
			last = cutTo
			if done {
				break
			}
			j = next
			continue
		}
		first = false
		prevEnd = ve
		if done {
			break
		}
		j = next
	}
	if out == nil {
		return obj
	}
	return append(out, obj[last:]...)
}
