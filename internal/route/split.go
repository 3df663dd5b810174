package route

import (
	"bytes"

	"github.com/miroirsearch/miroir/internal/jsonscan"
)

// DocStart returns the first offset at or after from where a document of
// an in-memory payload plausibly starts, or -1: in a JSON array an object
// after "}," , in NDJSON an object at the start of a line, in CSV a
// non-empty line (from must be past the CSV header). It only looks at a
// few bytes, so it can be fooled (by a string holding "},{", an object
// spread over lines, a quoted cell holding a line feed): parallel routing
// has the worker before the split confirm that a document really starts
// there (SetStop) and routes sequentially otherwise.
func DocStart(body []byte, from int, f Format) int {
	for from < len(body) {
		switch f {
		case FormatJSON:
			i := bytes.IndexByte(body[from:], '}')
			if i < 0 {
				return -1
			}
			from += i + 1
			j := jsonscan.SkipSpace(body, from)
			if j < len(body) && body[j] == ',' {
				if k := jsonscan.SkipSpace(body, j+1); k < len(body) && body[k] == '{' {
					return k
				}
			}
		case FormatNDJSON:
			i := bytes.IndexByte(body[from:], '\n')
			if i < 0 {
				return -1
			}
			from += i + 1
			if k := jsonscan.SkipSpace(body, from); k < len(body) && body[k] == '{' {
				return k
			}
		default:
			i := bytes.IndexByte(body[from:], '\n')
			if i < 0 {
				return -1
			}
			from += i + 1
			for from < len(body) && (body[from] == '\n' || body[from] == '\r' && from+1 < len(body) && body[from+1] == '\n') {
				from++
			}
			if from < len(body) && body[from] != '\r' {
				return from
			}
		}
	}
	return -1
}
