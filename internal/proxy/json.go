package proxy

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Small JSON helpers of the routes: query lists, kinds for error
// messages, objects built member by member.

// splitList splits a comma-separated query parameter.
func splitList(v string) []string {
	parts := strings.Split(v, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// jsonKindOf names the kind of a JSON value for error messages.
func jsonKindOf(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	}
	return "a number"
}

// jsonObject builds a JSON object member by member, in order.
type jsonObject struct{ b []byte }

func (o *jsonObject) addRaw(key string, v []byte) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	k, _ := json.Marshal(key)
	o.b = append(o.b, k...)
	o.b = append(o.b, ':')
	o.b = append(o.b, v...)
}

func (o *jsonObject) add(key string, v any) {
	b, _ := json.Marshal(v)
	o.addRaw(key, b)
}

func (o *jsonObject) bytes() []byte {
	if len(o.b) == 0 {
		return []byte("{}")
	}
	return append(o.b, '}')
}

// addMember adds "key": value at the end of the JSON object obj.
func addMember(obj []byte, key string, value []byte) []byte {
	end := bytes.LastIndexByte(obj, '}')
	if end < 0 {
		return obj
	}
	res := make([]byte, 0, len(obj)+len(key)+len(value)+4)
	res = append(res, obj[:end]...)
	if len(bytes.TrimSpace(obj[:end])) > 1 {
		res = append(res, ',')
	}
	k, _ := json.Marshal(key)
	res = append(res, k...)
	res = append(res, ':')
	res = append(res, value...)
	return append(res, obj[end:]...)
}

// truncate cuts b to n bytes for an error message.
func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
