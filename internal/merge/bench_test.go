package merge

import (
	"strconv"
	"testing"
)

// benchResponse is a node's answer with n hits carrying ranking details,
// escaped strings and nested values.
func benchResponse(n, node int) []byte {
	b := []byte(`{"hits":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		id := i*3 + node
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, `,"title":"caf\u00e9 cr\u00e8me \"quoted\" \ud83d\ude80 naïve","brand":{"name":" Red `...)
		b = strconv.AppendInt(b, int64(id%7), 10)
		b = append(b, `","tags":["a","b\\c",3.5,true,null]},"price":`...)
		b = strconv.AppendFloat(b, float64(id%100)+0.99, 'f', 2, 64)
		b = append(b, `,"_rankingScore":`...)
		b = strconv.AppendFloat(b, 1-float64(i)/float64(n+1), 'f', 6, 64)
		b = append(b, `,"_rankingScoreDetails":{"words":{"order":0,"matchingWords":2,"maxMatchingWords":2,"score":1.0},"typo":{"order":1,"typoCount":0,"maxTypoCount":2,"score":1.0},"price":{"order":2,"value":`...)
		b = strconv.AppendFloat(b, float64(id%100)+0.99, 'f', 2, 64)
		b = append(b, `}}}`...)
	}
	b = append(b, `],"query":"x","processingTimeMs":3,"limit":20,"offset":0,"estimatedTotalHits":420,`+
		`"facetDistribution":{"color":{"Red":2,"blue":1,"Green":7},"year":{"2020":1,"2024":3}},`+
		`"facetStats":{"year":{"min":2020,"max":2024}}}`...)
	return b
}

func BenchmarkParseResponse(b *testing.B) {
	body := benchResponse(20, 0)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseResponse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMergeDetailsDistinct(b *testing.B) {
	bodies := [][]byte{benchResponse(20, 0), benchResponse(20, 1), benchResponse(20, 2)}
	for b.Loop() {
		m := &Merger{Compare: CompareByDetails, Distinct: "brand.name"}
		for _, body := range bodies {
			r, err := ParseResponse(body)
			if err != nil {
				b.Fatal(err)
			}
			m.Lists = append(m.Lists, &List{Hits: r.Hits})
		}
		m.Run(20)
	}
}

func BenchmarkUnquote(b *testing.B) {
	v := []byte(`"caf\u00e9 cr\u00e8me \"quoted\" \ud83d\ude80 na\u00efve and a longer plain tail of text"`)
	for b.Loop() {
		if _, ok := Unquote(v); !ok {
			b.Fatal("unquote")
		}
	}
}

func BenchmarkCompareDocs(b *testing.B) {
	r, _ := ParseResponse(benchResponse(20, 0))
	specs := ParseSort([]string{"brand.tags:asc", "price:desc"})
	for b.Loop() {
		for i := 1; i < len(r.Hits); i++ {
			CompareDocs(r.Hits[i-1].Raw, r.Hits[i].Raw, specs)
		}
	}
}

func BenchmarkFacets(b *testing.B) {
	var dists, stats [][]byte
	for n := range 3 {
		r, _ := ParseResponse(benchResponse(1, n))
		dists, stats = append(dists, r.FacetDistribution), append(stats, r.FacetStats)
	}
	var dst []byte
	for b.Loop() {
		var err error
		if dst, err = MergeFacetDistributions(dst[:0], dists, stats, FacetOrder{MaxValuesPerFacet: 100}, "_miroir_shard"); err != nil {
			b.Fatal(err)
		}
		if dst, err = MergeFacetStats(dst[:0], stats, "_miroir_shard"); err != nil {
			b.Fatal(err)
		}
	}
}
