package miroir

import (
	"fmt"
)

type coreMovie struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	Year  int    `json:"year"`
}

func coreMovies(n int) []coreMovie {
	out := make([]coreMovie, n)
	for i := range out {
		out[i] = coreMovie{ID: i, Title: fmt.Sprintf("movie %d", i), Year: 1950 + i%70}
	}
	return out
}

