package meilitest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func mustParseFilter(t testing.TB, v any) filterExpr {
	t.Helper()
	e, err := parseFilter(v)
	if err != nil {
		t.Fatalf("parseFilter(%q): %v", v, err)
	}
	return e
}

func filterDocs(t testing.TB, src string) []map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var docs []map[string]any
	if err := dec.Decode(&docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

// matchingIDs returns the "id" of the documents expr matches.
func matchingIDs(docs []map[string]any, expr filterExpr) []string {
	out := []string{}
	for _, d := range docs {
		if expr == nil || expr.matches(d) {
			out = append(out, fmt.Sprint(d["id"]))
		}
	}
	return out
}

// Tree shapes, in filter-parser's Display format (cases from its test suite).
func TestFilterParseTree(t *testing.T) {
	tests := []struct{ in, want string }{
		{"channel = Ponce", "{channel} = {Ponce}"},
		{"subscribers = 12", "{subscribers} = {12}"},
		{"channel = 'Mister Mv'", "{channel} = {Mister Mv}"},
		{"channel = \"Mister Mv\"", "{channel} = {Mister Mv}"},
		{"'dog race' = Borzoi", "{dog race} = {Borzoi}"},
		{"\"dog race\" = Chusky", "{dog race} = {Chusky}"},
		{"\"dog race\" = 'Bernese Mountain'", "{dog race} = {Bernese Mountain}"},
		{"channel=Ponce", "{channel} = {Ponce}"},
		{"a.b-c_d = x", "{a.b-c_d} = {x}"},
		{"genre = and", "{genre} = {and}"},

		{"colour IN[]", "{colour} IN[]"},
		{"colour IN[green]", "{colour} IN[{green}, ]"},
		{"colour IN[green,]", "{colour} IN[{green}, ]"},
		{"colour NOT IN[green,blue]", "NOT ({colour} IN[{green}, {blue}, ])"},
		{" colour IN [  green , blue , ]", "{colour} IN[{green}, {blue}, ]"},
		{"colour IN [ ]", "{colour} IN[]"},
		{" colour IN [green, blue]  AND color = green ", "AND[{colour} IN[{green}, {blue}, ], {color} = {green}, ]"},
		{"NOT (colour IN [green, blue])  AND color = green ", "AND[NOT ({colour} IN[{green}, {blue}, ]), {color} = {green}, ]"},
		{"x = 1 OR NOT (colour IN [green, blue]  OR color = green) ", "OR[{x} = {1}, NOT (OR[{colour} IN[{green}, {blue}, ], {color} = {green}, ]), ]"},
		{" colour = green ", "{colour} = {green}"},
		{" (colour = green OR colour = red) ", "OR[{colour} = {green}, {colour} = {red}, ]"},
		{" colour NOT  IN [green, blue] ", "NOT ({colour} IN[{green}, {blue}, ])"},

		{"channel != ponce", "{channel} != {ponce}"},
		{"NOT channel = ponce", "NOT ({channel} = {ponce})"},
		{"subscribers < 1000", "{subscribers} < {1000}"},
		{"subscribers > 1000", "{subscribers} > {1000}"},
		{"subscribers <= 1000", "{subscribers} <= {1000}"},
		{"subscribers >= 1000", "{subscribers} >= {1000}"},
		{"subscribers 100 TO 1000", "{subscribers} {100} TO {1000}"},
		{"NOT subscribers < 1000", "NOT ({subscribers} < {1000})"},
		{"NOT subscribers 100 TO 1000", "NOT ({subscribers} {100} TO {1000})"},

		{"subscribers IS NULL", "{subscribers} IS NULL"},
		{"NOT subscribers IS NULL", "NOT ({subscribers} IS NULL)"},
		{"subscribers IS NOT NULL", "NOT ({subscribers} IS NULL)"},
		{"NOT subscribers IS NOT NULL", "{subscribers} IS NULL"},
		{"subscribers  IS   NOT   NULL", "NOT ({subscribers} IS NULL)"},
		{"subscribers IS EMPTY", "{subscribers} IS EMPTY"},
		{"NOT subscribers IS EMPTY", "NOT ({subscribers} IS EMPTY)"},
		{"subscribers IS NOT EMPTY", "NOT ({subscribers} IS EMPTY)"},
		{"NOT subscribers IS NOT EMPTY", "{subscribers} IS EMPTY"},
		{"subscribers EXISTS", "{subscribers} EXISTS"},
		{"NOT subscribers EXISTS", "NOT ({subscribers} EXISTS)"},
		{"subscribers NOT EXISTS", "NOT ({subscribers} EXISTS)"},
		{"NOT subscribers NOT EXISTS", "{subscribers} EXISTS"},
		{"subscribers NOT   EXISTS", "NOT ({subscribers} EXISTS)"},

		{"subscribers CONTAINS 'hello'", "{subscribers} CONTAINS {hello}"},
		{"NOT subscribers CONTAINS 'hello'", "NOT ({subscribers} CONTAINS {hello})"},
		{"subscribers NOT CONTAINS hello", "NOT ({subscribers} CONTAINS {hello})"},
		{"NOT subscribers NOT CONTAINS 'hello'", "{subscribers} CONTAINS {hello}"},
		{"subscribers STARTS WITH 'hel'", "{subscribers} STARTS WITH {hel}"},
		{"subscribers NOT STARTS WITH hel", "NOT ({subscribers} STARTS WITH {hel})"},
		{"NOT subscribers NOT STARTS WITH 'hel'", "{subscribers} STARTS WITH {hel}"},

		{"NOT NOT NOT NOT x = 5", "{x} = {5}"},
		{"NOT NOT (NOT NOT x = 5)", "{x} = {5}"},

		{"_geoRadius(12, 13, 14)", "_geoRadius({12}, {13}, {14})"},
		{"NOT _geoRadius(12, 13, 14)", "NOT (_geoRadius({12}, {13}, {14}))"},
		{"_geoRadius(12,13,14)", "_geoRadius({12}, {13}, {14})"},
		{"_geoRadius( -1.5 , +2. , .5e3 )", "_geoRadius({-1.5}, {+2.}, {.5e3})"},
		{"_geoBoundingBox([12, 13], [14, 15])", "_geoBoundingBox([{12}, {13}], [{14}, {15}])"},
		{"NOT _geoBoundingBox([12, 13], [14, 15])", "NOT (_geoBoundingBox([{12}, {13}], [{14}, {15}]))"},
		{"_geoBoundingBox([12,13],[14,15])", "_geoBoundingBox([{12}, {13}], [{14}, {15}])"},

		{"channel = ponce AND 'dog race' != 'bernese mountain'", "AND[{channel} = {ponce}, {dog race} != {bernese mountain}, ]"},
		{"channel = ponce OR 'dog race' != 'bernese mountain'", "OR[{channel} = {ponce}, {dog race} != {bernese mountain}, ]"},
		{"channel = ponce AND 'dog race' != 'bernese mountain' OR subscribers > 1000", "OR[AND[{channel} = {ponce}, {dog race} != {bernese mountain}, ], {subscribers} > {1000}, ]"},
		{"channel = ponce AND 'dog race' != 'bernese mountain' OR subscribers > 1000 OR colour = red OR colour = blue AND size = 7",
			"OR[AND[{channel} = {ponce}, {dog race} != {bernese mountain}, ], {subscribers} > {1000}, {colour} = {red}, AND[{colour} = {blue}, {size} = {7}, ], ]"},
		{"channel = ponce AND ( 'dog race' != 'bernese mountain' OR subscribers > 1000 )", "AND[{channel} = {ponce}, OR[{dog race} != {bernese mountain}, {subscribers} > {1000}, ], ]"},
		{"(channel = ponce AND 'dog race' != 'bernese mountain' OR subscribers > 1000) AND _geoRadius(12, 13, 14)",
			"AND[OR[AND[{channel} = {ponce}, {dog race} != {bernese mountain}, ], {subscribers} > {1000}, ], _geoRadius({12}, {13}, {14}), ]"},
		{`NOT "OR" EXISTS AND "EXISTS" NOT EXISTS`, "AND[NOT ({OR} EXISTS), NOT ({EXISTS} EXISTS), ]"},

		// Escapes (unescaper crate semantics).
		{`title = 'foo\\'`, `{title} = {foo\}`},
		{`title = 'foo\\\\'`, `{title} = {foo\\}`},
		{`title = 'foo\x20\n\t\"\'"'`, "{title} = {foo \n\t\"'\"}"},
		{`title = "Hello \"world\""`, `{title} = {Hello "world"}`},
		{`title = 'I\'m "super" tamo'`, `{title} = {I'm "super" tamo}`},
		{`title = '\'\''`, `{title} = {''}`},
		{`title = "aa\\aa"`, `{title} = {aa\aa}`},
		{`title = "\u00e9\u{1F43B}\101\7"`, "{title} = {é🐻A\a}"},
		{`title = ''`, `{title} = {}`},

		// Depth: 49 nested parentheses are fine.
		{strings.Repeat("(", 49) + "x = 1" + strings.Repeat(")", 49), "{x} = {1}"},
		{strings.Repeat("NOT ", 197) + "x = 1", "NOT ({x} = {1})"},
	}
	for _, tt := range tests {
		e, err := parseFilter(tt.in)
		if err != nil {
			t.Errorf("parseFilter(%q): %v", tt.in, err)
			continue
		}
		if got := exprString(e); got != tt.want {
			t.Errorf("parseFilter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

const invalidPrimary = "Was expecting an operation `=`, `!=`, `>=`, `>`, `<=`, `<`, `IN`, `NOT IN`, `TO`, `EXISTS`, `NOT EXISTS`, `IS NULL`, `IS NOT NULL`, `IS EMPTY`, `IS NOT EMPTY`, `CONTAINS`, `NOT CONTAINS`, `STARTS WITH`, `NOT STARTS WITH`, `_geoRadius`, or `_geoBoundingBox` "

// Error messages and positions (cases from filter-parser's test suite).
func TestFilterParseErrors(t *testing.T) {
	geoReserved := " is a reserved keyword and thus can't be used as a filter expression. Use the `_geoRadius(latitude, longitude, distance)` or `_geoBoundingBox([latitude, longitude], [latitude, longitude])` built-in rules to filter on `_geo` coordinates."
	geoRadius := "The `_geoRadius` filter expects three arguments: `_geoRadius(latitude, longitude, radius)`."
	geoBox := "The `_geoBoundingBox` filter expects two pairs of arguments: `_geoBoundingBox([latitude, longitude], [latitude, longitude])`."
	depth := "The filter exceeded the maximum depth limit. Try rewriting the filter so that it contains fewer nested conditions."
	parens50 := strings.Repeat("(", 50) + "x = 1" + strings.Repeat(")", 50)
	nots199 := strings.Repeat("NOT ", 199) + "x = 1"
	tests := []struct{ in, msg, pos string }{
		{"channel = Ponce = 12", "Found unexpected characters at the end of the filter: `= 12`. You probably forgot an `OR` or an `AND` rule.", "17:21"},
		{"channel =    ", "Was expecting a value but instead got nothing.", "14:14"},
		{"channel = 🐻", "Was expecting a value but instead got `🐻`.", "11:12"},
		{"channel = 🐻 AND followers < 100", "Was expecting a value but instead got `🐻`.", "11:12"},
		{"'OR'", invalidPrimary + "at `\\'OR\\'`.", "1:5"},
		{"OR", "Was expecting a value but instead got `OR`, which is a reserved keyword. To use `OR` as a field name or a value, surround it by quotes.", "1:3"},
		{"channel Ponce", invalidPrimary + "at `channel Ponce`.", "1:14"},
		{"channel = Ponce OR", invalidPrimary + "but instead got nothing.", "19:19"},
		{"_geoRadius", geoRadius, "1:11"},
		{"_geoRadius = 12", geoRadius, "1:16"},
		{"_geoRadius(1, 2)", geoRadius, "17:17"},
		{"_geoRadius(1, 2,)", geoRadius, "1:18"},
		{"_geoRadius(1, 2, x)", geoRadius, "1:20"},
		{"_geoRadius (1, 2, 3)", geoRadius, "1:21"},
		{"_geoBoundingBox", geoBox, "1:16"},
		{"_geoBoundingBox = 12", geoBox, "1:21"},
		{"_geoBoundingBox(1.0, 1.0)", geoBox, "1:26"},
		{"_geoBoundingBox([1, 2, 3], [4, 5])", geoBox, "35:35"},
		{"_geoBoundingBox([1, 2])", geoBox, "24:24"},
		{"_geoPoint(12, 13, 14)", "`_geoPoint`" + geoReserved, "1:22"},
		{"position <= _geoPoint(12, 13, 14)", "`_geoPoint`" + geoReserved, "13:34"},
		{"_geoDistance(12, 13, 14)", "`_geoDistance`" + geoReserved, "1:25"},
		{"position <= _geoDistance(12, 13, 14)", "`_geoDistance`" + geoReserved, "13:37"},
		{"_geo(12, 13, 14)", "`_geo`" + geoReserved, "1:17"},
		{"position <= _geo(12, 13, 14)", "`_geo`" + geoReserved, "13:29"},
		{"_geo = 12", "`_geo`" + geoReserved, "1:10"},
		{"position <= _geoRadius(12, 13, 14)", "The `_geoRadius` filter is an operation and can't be used as a value.", "13:35"},
		{"position <= _geoBoundingBox([1, 2], [3, 4])", "The `_geoBoundingBox` filter is an operation and can't be used as a value.", "13:44"},
		{"channel = 'ponce", "Expression `\\'ponce` is missing the following closing delimiter: `'`.", "11:17"},
		{"channel = \"ponce", "Expression `\\\"ponce` is missing the following closing delimiter: `\"`.", "11:17"},
		{"channel = mv OR (followers >= 1000", "Expression `(followers >= 1000` is missing the following closing delimiter: `)`.", "17:35"},
		{"channel = mv OR followers >= 1000)", "Found unexpected characters at the end of the filter: `)`. You probably forgot an `OR` or an `AND` rule.", "34:35"},
		{"colour NOT EXIST", invalidPrimary + "at `colour NOT EXIST`.", "1:17"},
		{"subscribers 100 TO1000", invalidPrimary + "at `subscribers 100 TO1000`.", "1:23"},
		{"channel = ponce ORdog != 'bernese mountain'", "Found unexpected characters at the end of the filter: `ORdog != \\'bernese mountain\\'`. You probably forgot an `OR` or an `AND` rule.", "17:44"},
		{"colour IN blue, green]", "Expected `[` after `IN` keyword.", "11:23"},
		{"colour IN [blue, green, 'blue' > 2]", "Expected only comma-separated field names inside `IN[..]` but instead found `> 2]`.", "32:36"},
		{"colour IN [blue, green, AND]", "Expected only comma-separated field names inside `IN[..]` but instead found `AND]`.", "25:29"},
		{"colour IN [blue, green", "Expected matching `]` after the list of field names given to `IN[`", "23:23"},
		{"colour IN ['blue, green", "Expression `\\'blue, green` is missing the following closing delimiter: `'`.", "12:24"},
		{"x = EXISTS", "Was expecting a value but instead got `EXISTS`, which is a reserved keyword. To use `EXISTS` as a field name or a value, surround it by quotes.", "5:11"},
		{"AND = 8", "Was expecting a value but instead got `AND`, which is a reserved keyword. To use `AND` as a field name or a value, surround it by quotes.", "1:4"},
		{parens50, depth, "51:106"},
		{nots199, depth, "797:802"},
		{"NOT OR EXISTS AND EXISTS NOT EXISTS", "Was expecting a value but instead got `OR`, which is a reserved keyword. To use `OR` as a field name or a value, surround it by quotes.", "5:7"},
		{"value NULL", invalidPrimary + "at `value NULL`.", "1:11"},
		{"value NOT NULL", invalidPrimary + "at `value NOT NULL`.", "1:15"},
		{"value EMPTY", invalidPrimary + "at `value EMPTY`.", "1:12"},
		{"value NOT EMPTY", invalidPrimary + "at `value NOT EMPTY`.", "1:16"},
		{"value IS", invalidPrimary + "at `value IS`.", "1:9"},
		{"value IS NOT", invalidPrimary + "at `value IS NOT`.", "1:13"},
		{"value IS EXISTS", invalidPrimary + "at `value IS EXISTS`.", "1:16"},
		{"value IS NOT EXISTS", invalidPrimary + "at `value IS NOT EXISTS`.", "1:20"},
		// Keywords are case-sensitive, as in Meilisearch.
		{"genre = horror and price > 5", "Found unexpected characters at the end of the filter: `and price > 5`. You probably forgot an `OR` or an `AND` rule.", "16:29"},
		{"genre = horror or price > 5", "Found unexpected characters at the end of the filter: `or price > 5`. You probably forgot an `OR` or an `AND` rule.", "16:28"},
		{"genre exists", invalidPrimary + "at `genre exists`.", "1:13"},
		{"title", invalidPrimary + "at `title`.", "1:6"},
		// Missing operands, unbalanced parentheses, trailing garbage.
		{"(genre = horror", "Expression `(genre = horror` is missing the following closing delimiter: `)`.", "1:16"},
		{"genre = horror)", "Found unexpected characters at the end of the filter: `)`. You probably forgot an `OR` or an `AND` rule.", "15:16"},
		{"genre = horror AND", invalidPrimary + "but instead got nothing.", "19:19"},
		{"NOT", invalidPrimary + "but instead got nothing.", "4:4"},
		{"()", invalidPrimary + "at `)`.", "2:3"},
		{"x 1 TO", invalidPrimary + "at `x 1 TO`.", "1:7"},
		{"x 1 TO ", "Was expecting a value but instead got nothing.", "8:8"},
		{"x CONTAINS", "Was expecting a value but instead got nothing.", "11:11"},
		{"genre = horror genre = comedy", "Found unexpected characters at the end of the filter: `genre = comedy`. You probably forgot an `OR` or an `AND` rule.", "16:30"},
		{"x EXISTS ", "Found unexpected characters at the end of the filter: ` `. You probably forgot an `OR` or an `AND` rule.", "9:10"},
		// Escapes.
		{`title = 'a\qb'`, "Malformed value: `a\\\\qb`.", "10:14"},
		{`title = '\xZZ'`, "Found an invalid escaped sequence number: `\\\\xZZ`.", "10:14"},
		{`title = 'abc\`, "Malformed value: `abc\\\\`.", "10:14"},
		{`title = '\u12'`, "Malformed value: `\\\\u12`.", "10:14"},
		// Positions count characters from the start of the line.
		{"a = 1\nAND b", invalidPrimary + "at `b`.", "5:6"},
		{"a = 'x\ny", "Expression `\\'x\\ny` is missing the following closing delimiter: `'`.", "5:9"},
	}
	for _, tt := range tests {
		_, err := parseFilter(tt.in)
		if err == nil {
			t.Errorf("parseFilter(%q): no error", tt.in)
			continue
		}
		want := tt.msg + "\n" + tt.pos + " " + tt.in
		if err.Error() != want {
			t.Errorf("parseFilter(%q):\n got: %q\nwant: %q", tt.in, err.Error(), want)
		}
	}
}

func TestFilterEmpty(t *testing.T) {
	for _, v := range []any{nil, "", "   ", " \n\t", []any{}, []any{"", " "}, []any{[]any{}, []any{""}}} {
		e, err := parseFilter(v)
		if e != nil || err != nil {
			t.Errorf("parseFilter(%#v) = %v, %v; want no filter", v, e, err)
		}
	}
}

func TestFilterArrayForm(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{[]any{"channel = mv"}, "{channel} = {mv}"},
		{[]any{[]any{"channel = mv"}}, "{channel} = {mv}"},
		{[]any{"channel = \"Mister Mv\""}, "{channel} = {Mister Mv}"},
		{[]any{[]any{"(channel = mv)"}}, "{channel} = {mv}"},
		{[]any{"channel = gotaga", []any{"timestamp = 44", "channel != ponce"}},
			"AND[{channel} = {gotaga}, OR[{timestamp} = {44}, {channel} != {ponce}, ], ]"},
		{[]any{"a = 1 OR b = 2", "", []any{"c = 3", ""}}, "AND[OR[{a} = {1}, {b} = {2}, ], {c} = {3}, ]"},
	}
	for _, tt := range tests {
		e := mustParseFilter(t, tt.in)
		if got := exprString(e); got != tt.want {
			t.Errorf("parseFilter(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
	errs := []struct {
		in   any
		want string
	}{
		{json.Number("12"), "Invalid syntax for the filter parameter: `expected String, Array, found: 12`."},
		{true, "Invalid syntax for the filter parameter: `expected String, Array, found: true`."},
		{map[string]any{"a": "<b>"}, "Invalid syntax for the filter parameter: `expected String, Array, found: {\"a\":\"<b>\"}`."},
		{[]any{"a = 1", json.Number("1")}, "Invalid syntax for the filter parameter: `expected String, [String], found: 1`."},
		{[]any{[]any{"a = 1", []any{"b = 2"}}}, "Invalid syntax for the filter parameter: `expected String, found: [\"b = 2\"]`."},
		{[]any{nil}, "Invalid syntax for the filter parameter: `expected String, [String], found: null`."},
		// Type errors win over syntax errors of earlier elements.
		{[]any{"a =", json.Number("1")}, "Invalid syntax for the filter parameter: `expected String, [String], found: 1`."},
		// Syntax errors point into their own element.
		{[]any{"a = 1", []any{"b = 2", "c ="}}, "Was expecting a value but instead got nothing.\n4:4 c ="},
	}
	for _, tt := range errs {
		_, err := parseFilter(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("parseFilter(%#v) error = %v, want %q", tt.in, err, tt.want)
		}
	}
}

const filterTestDocs = `[
 {"id":1,"title":"Hello World","genre":"Horror","price":10,"tags":["a","B","café"],"rating":null,"empty":"",
  "nested":{"a":{"b":1}},"arr":[{"x":1},{"x":2}],"flag":true,"dog race":"Bernese Mountain","kw":"AND"},
 {"id":2,"title":"Second","genre":"comedy","price":20.5,"tags":[],"obj":{},"nested":{"a":{"b":"two"}},
  "arr":[{"x":3}],"flag":false,"date":"2024-11","space":"   "},
 {"id":3,"title":"  Third  ","price":"30","tags":[null,"",[],{}],"dotted.key":5,"nested.a":{"b":3},
  "arr":[[{"x":4}]],"date":"2025-05-12","empties":[[]]},
 {"id":4,"genre":"HORROR","price":-5,"num_str":"10","date":2025,"nested":{"a":[{"b":4},{"b":null}]},"nulls":[null]}
]`

func TestFilterEval(t *testing.T) {
	docs := filterDocs(t, filterTestDocs)
	tests := []struct {
		filter string
		want   string // comma-separated ids
	}{
		// Equality: case-insensitive, trimmed, numbers numerically.
		{"genre = horror", "1,4"},
		{"genre = HORROR", "1,4"},
		{"genre = 'Horror'", "1,4"},
		{"genre != horror", "2,3"},
		{"NOT genre = horror", "2,3"},
		{"genre = horro", ""},
		{"title = 'hello world'", "1"},
		{`title = "HELLO WORLD"`, "1"},
		{"title = third", "3"},
		{"title = '  third'", "3"},
		{"'dog race' = 'bernese mountain'", "1"},
		{"price = 10", "1"},
		{"price = 10.0", "1"},
		{"price = 1e1", "1"},
		{"price = '10'", "1"},
		{"price = 30", "3"},
		{"price = 30.0", ""},
		{"price = -5", "4"},
		{"num_str = 10", "4"},
		{"num_str = 10.0", ""},
		{"flag = true", "1"},
		{"flag = TRUE", "1"},
		{"flag = false", "2"},
		{"kw = 'AND'", "1"},
		{"space = ''", "2"},
		{"empty = ''", ""},
		{"missing = x", ""},
		{"missing != x", "1,2,3,4"},
		// IN / NOT IN.
		{"genre IN [horror, comedy]", "1,2,4"},
		{"genre IN [Comedy]", "2"},
		{"genre NOT IN [horror]", "2,3"},
		{"NOT genre IN [horror]", "2,3"},
		{"id IN []", ""},
		{"id NOT IN []", "1,2,3,4"},
		{"id IN [1, 2, 3, 5, 6, 7, 8, '4']", "1,2,3,4"},
		{"price IN [a, b, c, d, e, 30, 20.5]", "2,3"},
		// Comparisons: numbers numerically, strings lexicographically
		// (Meilisearch >= 1.15), both tried for a numeric literal.
		{"price > 10", "2,3"},
		{"price >= 10", "1,2,3"},
		{"price < 10", "4"},
		{"price <= 10", "1,4"},
		{"price 10 TO 20.5", "1,2"},
		{"price -5 TO 10", "1,4"},
		{"price 20.5 TO 10", ""},
		{"price > -1e300", "1,2,3,4"},
		{"date > 2024", "2,3,4"},
		{"date 2024-11 TO 2025-05", "2"},
		{"date >= 2024-11", "2,3"},
		{"title > s", "2,3"},
		{"title < Second", "1"},
		{"title <= SECOND", "1,2"},
		{"flag > false", "1"},
		{"NOT price > 10", "1,4"},
		// Nulls, empties, existence.
		{"rating IS NULL", "1"},
		{"rating IS NOT NULL", "2,3,4"},
		{"nulls IS NULL", ""},
		{"nested.a.b IS NULL", "4"},
		{"rating EXISTS", "1"},
		{"rating NOT EXISTS", "2,3,4"},
		{"NOT rating EXISTS", "2,3,4"},
		{"empty IS EMPTY", "1"},
		{"tags IS EMPTY", "2"},
		{"obj IS EMPTY", "2"},
		{"empties IS EMPTY", ""},
		{"tags IS NOT EMPTY", "1,3,4"},
		{"tags IS NULL", ""},
		{"tags EXISTS", "1,2,3"},
		{"space IS EMPTY", ""},
		// Arrays match if any element matches.
		{"tags = b", "1"},
		{"tags = a AND tags = b", "1"},
		{"tags != b", "2,3,4"},
		{"tags = café", "1"},
		{"tags = CAFÉ", "1"},
		{"tags = cafe", ""},
		{"tags = ''", ""},
		// Nested objects, arrays of objects, dotted keys.
		{"nested.a.b = 1", "1"},
		{"nested.a.b = two", "2"},
		{"nested.a.b = 3", "3"},
		{"nested.a.b = 4", "4"},
		{"nested.a.b > 1", "2,3,4"},
		{"nested.a EXISTS", "1,2,3,4"},
		{"nested EXISTS", "1,2,4"},
		{"nested = 1", ""},
		{"arr.x = 2", "1"},
		{"arr.x = 4", "3"},
		{"arr.x > 1", "1,2,3"},
		{"arr EXISTS", "1,2,3"},
		{"arr.y EXISTS", ""},
		{"dotted.key = 5", "3"},
		{"dotted EXISTS", ""},
		// CONTAINS / STARTS WITH on normalised strings.
		{"title CONTAINS 'o w'", "1"},
		{"title CONTAINS WORLD", "1"},
		{"title NOT CONTAINS world", "2,3,4"},
		{"tags CONTAINS caf", "1"},
		{"tags CONTAINS cafe", "1"}, // "café" decomposes to "cafe\u0301"
		{"title STARTS WITH hel", "1"},
		{"title STARTS WITH thi", "3"},
		{"title NOT STARTS WITH hel", "2,3,4"},
		{"title STARTS WITH ''", "1,2,3"},
		{"genre CONTAINS ''", "1,2,4"},
		{"flag CONTAINS ru", "1"},
		{"price CONTAINS 1", ""},
		{"price STARTS WITH 3", "3"},
		// Precedence: NOT > AND > OR; parentheses.
		{"genre = horror AND price > 5 OR id = 2", "1,2"},
		{"id = 2 OR genre = horror AND price > 5", "1,2"},
		{"genre = horror AND (price > 5 OR id = 4)", "1,4"},
		{"NOT (genre = horror OR genre = comedy)", "3"},
		{"NOT genre = horror OR genre = comedy", "2,3"},
		{"id = 1 OR id = 2 AND id = 3", "1"},
		{"(id = 1 OR id = 2) AND id = 3", ""},
		{"NOT NOT id = 1", "1"},
		{"NOT (NOT (id = 1) AND NOT (id = 2))", "1,2"},
	}
	for _, tt := range tests {
		e := mustParseFilter(t, tt.filter)
		if got := strings.Join(matchingIDs(docs, e), ","); got != tt.want {
			t.Errorf("%s: got [%s], want [%s]", tt.filter, got, tt.want)
		}
	}

	arrays := []struct {
		in   any
		want string
	}{
		{[]any{[]any{"genre = horror", "genre = comedy"}, "price > 0"}, "1,2"},
		{[]any{"genre = horror", "price > 0"}, "1"},
		{[]any{[]any{"id = 1"}, []any{"id = 1", "id = 3"}}, "1"},
	}
	for _, tt := range arrays {
		e := mustParseFilter(t, tt.in)
		if got := strings.Join(matchingIDs(docs, e), ","); got != tt.want {
			t.Errorf("%#v: got [%s], want [%s]", tt.in, got, tt.want)
		}
	}
}

func TestFilterEvalGoTypes(t *testing.T) {
	// Documents built in Go rather than decoded with UseNumber.
	docs := []map[string]any{
		{"id": 1, "n": 3, "f": 2.5, "s": []string{"ignored"}},
		{"id": 2, "n": int64(7), "f": float32(1.5)},
	}
	for filter, want := range map[string]string{
		"n = 3": "1", "n > 3": "2", "f 1 TO 2": "2", "f = 2.5": "1", "s EXISTS": "1",
	} {
		if got := strings.Join(matchingIDs(docs, mustParseFilter(t, filter)), ","); got != want {
			t.Errorf("%s: got [%s], want [%s]", filter, got, want)
		}
	}
}

func TestFilterGeo(t *testing.T) {
	docs := filterDocs(t, `[
	 {"id":"milan1","_geo":{"lat":45.4777599,"lng":9.1967508}},
	 {"id":"milan2","_geo":{"lat":45.4632046,"lng":9.1719421}},
	 {"id":"strings","_geo":{"lat":"45.4685","lng":"9.1824"}},
	 {"id":"fiji","_geo":{"lat":-17.7,"lng":179.9}},
	 {"id":"samoa","_geo":{"lat":-13.8,"lng":-171.7}},
	 {"id":"none"},
	 {"id":"null","_geo":null}
	]`)
	tests := []struct{ filter, want string }{
		{"_geoRadius(45.4777599, 9.1967508, 0)", "milan1"},
		{"_geoRadius(45.4777599, 9.1967508, 3000)", "milan1,milan2,strings"},
		{"_geoRadius(45.4777599, 9.1967508, 2522.284)", "milan1,milan2,strings"},
		{"_geoRadius(45.4777599, 9.1967508, 2522.283)", "milan1,strings"},
		{"_geoRadius(45.4777599, 9.1967508, 1000)", "milan1"},
		{"NOT _geoRadius(45.4777599, 9.1967508, 3000)", "fiji,samoa,none,null"},
		{"_geoBoundingBox([46, 10], [45, 9])", "milan1,milan2,strings"},
		{"_geoBoundingBox([45.47, 10], [45, 9])", "milan2,strings"},
		// Wrapping around the antimeridian: right (top-right lng) < left.
		{"_geoBoundingBox([0, -170], [-20, 179])", "fiji,samoa"},
		{"_geoBoundingBox([0, 180], [-20, 179])", "fiji"},
		{"_geo.lat > 45.47", "milan1"},
	}
	for _, tt := range tests {
		e := mustParseFilter(t, tt.filter)
		if got := strings.Join(matchingIDs(docs, e), ","); got != tt.want {
			t.Errorf("%s: got [%s], want [%s]", tt.filter, got, tt.want)
		}
	}
	// Rounded to the millimetre, as geoutils does.
	if d := haversineMeters(45.4777599, 9.1967508, 45.4632046, 9.1719421); d != 2522.284 {
		t.Errorf("haversine = %v", d)
	}
}

func filterSettings(attrs ...any) *settings {
	st := defaultSettings()
	st.FilterableAttributes = attrs
	return st
}

func patternRule(patterns []any, equality, comparison any) map[string]any {
	filter := map[string]any{}
	if equality != nil {
		filter["equality"] = equality
	}
	if comparison != nil {
		filter["comparison"] = comparison
	}
	return map[string]any{"attributePatterns": patterns, "features": map[string]any{"facetSearch": false, "filter": filter}}
}

func TestFilterCheckFilterable(t *testing.T) {
	st := filterSettings(
		"genre",
		"nested",
		patternRule([]any{"pri*"}, true, false),
		patternRule([]any{"date"}, false, true),
		patternRule([]any{"off"}, false, false),
		map[string]any{"attributePatterns": []any{"*_at"}},
	)
	avail := "Available filterable attribute patterns are: `*_at`, `date`, `genre`, `nested`, `pri*`."
	opErr := func(op, field string, rule int, allowed, feature string) string {
		n := fmt.Sprint(rule)
		return "Filter operator `" + op + "` is not allowed for the attribute `" + field + "`.\n" +
			"  - Note: allowed operators: " + allowed + ".\n" +
			"  - Note: field `" + field + "` matched rule #" + n + " in `filterableAttributes`\n" +
			"  - Hint: enable " + feature + " in rule #" + n + " by modifying the features.filter object\n" +
			"  - Hint: prepend another rule matching `" + field + "` with appropriate filter features before rule #" + n
	}
	eqOnly := "OR, AND, NOT, =, !=, IN, IS EMPTY, IS NULL, EXISTS"
	cmpOnly := "OR, AND, NOT, <, >, <=, >=, TO, IS EMPTY, IS NULL, EXISTS"
	tests := []struct {
		st     *settings
		filter any
		want   string // "" for no error
	}{
		{st, "genre = x", ""},
		{st, "genre > x AND genre 1 TO 2 AND genre CONTAINS x", ""},
		{st, "nested.a.b = 1 AND nested IS EMPTY", ""},
		{st, "price = 1 AND price != 2 AND price IN [1] AND price EXISTS AND price IS NULL", ""},
		{st, "created_at = 1", ""},
		{st, "price STARTS WITH 1", ""},
		{st, "title = x", "Attribute `title` is not filterable. " + avail + "\n1:6 title = x"},
		{st, "genre = x AND NOT (pri = 1 OR 'my title' = x)", "Attribute `my title` is not filterable. " + avail + "\n32:40 genre = x AND NOT (pri = 1 OR 'my title' = x)"},
		{st, "genres = x", "Attribute `genres` is not filterable. " + avail + "\n1:7 genres = x"},
		{st, "date.x = 1", "Attribute `date.x` is not filterable. " + avail + "\n1:7 date.x = 1"},
		{st, "off = 1", "Attribute `off` is not filterable. " + avail + "\n1:4 off = 1"},
		// Unknown attributes are reported before forbidden operators.
		{st, "price > 1 AND title = x", "Attribute `title` is not filterable. " + avail + "\n15:20 price > 1 AND title = x"},
		{st, "price > 1", opErr(">", "price", 2, eqOnly, "comparison")},
		{st, "NOT price 1 TO 2", opErr("TO", "price", 2, eqOnly, "comparison")},
		{st, "date = 1", opErr("=", "date", 3, cmpOnly, "equality")},
		{st, "date != 1", opErr("!=", "date", 3, cmpOnly, "equality")},
		{st, "date IN [1]", opErr("=", "date", 3, cmpOnly, "equality")},
		{st, "date NOT IN [1]", opErr("=", "date", 3, cmpOnly, "equality")},
		{st, "date > 1 AND date >= 1 AND date < 1 AND date <= 1 AND date IS EMPTY", ""},
		{st, []any{"genre = x", []any{"title = y"}}, "Attribute `title` is not filterable. " + avail + "\n1:6 title = y"},
		{filterSettings(), "genre = x", "Attribute `genre` is not filterable. This index does not have configured filterable attributes.\n1:6 genre = x"},
		{filterSettings(patternRule([]any{"a"}, false, false)), "a = x", "Attribute `a` is not filterable. This index does not have configured filterable attributes.\n1:2 a = x"},
		// Geo.
		{filterSettings(), "_geoRadius(42, 150, 10)", "Attribute `_geo` is not filterable. This index does not have configured filterable attributes.\n12:14 _geoRadius(42, 150, 10)"},
		{filterSettings("title"), "_geoBoundingBox([42, 150], [30, 10])", "Attribute `_geo` is not filterable. Available filterable attribute patterns are: `title`.\n18:20 _geoBoundingBox([42, 150], [30, 10])"},
		{filterSettings(map[string]any{"attributePatterns": []any{"_geo"}}), "_geoRadius(1, 2, 3)", "Attribute `_geo` is not filterable. Available filterable attribute patterns are: `_geo`.\n12:13 _geoRadius(1, 2, 3)"},
		{filterSettings("_geo"), "_geoRadius(42, 150, 10) AND _geoBoundingBox([42, 150], [30, 10]) AND _geo.lat > 1", ""},
		{filterSettings("_geo"), "_geoRadius(-100, 150, 10)", "Bad latitude `-100`. Latitude must be contained between -90 and 90 degrees. \n12:16 _geoRadius(-100, 150, 10)"},
		{filterSettings("_geo"), "_geoRadius(-90.0000001, 150, 10)", "Bad latitude `-90.0000001`. Latitude must be contained between -90 and 90 degrees. \n12:23 _geoRadius(-90.0000001, 150, 10)"},
		{filterSettings("_geo"), "_geoRadius(-10, 250, 10)", "Bad longitude `250`. Longitude must be contained between -180 and 180 degrees. \n17:20 _geoRadius(-10, 250, 10)"},
		{filterSettings("_geo"), "_geoRadius(1e999, 250, 10)", "Non finite floats are not supported\n12:17 _geoRadius(1e999, 250, 10)"},
		{filterSettings("_geo"), "_geoBoundingBox([-90.0000001, 150], [30, 10])", "Bad latitude `-90.0000001`. Latitude must be contained between -90 and 90 degrees. \n18:29 _geoBoundingBox([-90.0000001, 150], [30, 10])"},
		{filterSettings("_geo"), "_geoBoundingBox([30, 10], [42, 150])", "The top latitude `30` is below the bottom latitude `42`.\n32:35 _geoBoundingBox([30, 10], [42, 150])"},
	}
	for _, tt := range tests {
		e := mustParseFilter(t, tt.filter)
		err := checkFilterable(e, tt.st)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("checkFilterable(%q):\n got: %q\nwant: %q", tt.filter, got, tt.want)
		}
	}
	if err := checkFilterable(nil, st); err != nil {
		t.Errorf("checkFilterable(nil) = %v", err)
	}
}

func TestFilterIsFilterableAttr(t *testing.T) {
	tests := []struct {
		st   *settings
		attr string
		want bool
	}{
		{filterSettings("a"), "a", true},
		{filterSettings("a"), "a.b", true},
		{filterSettings("a"), "a.b.c", true},
		{filterSettings("a"), "ab", false},
		{filterSettings("a"), "b", false},
		{filterSettings("a.b"), "a", false},
		{filterSettings("a*"), "ab", false}, // string entries take no wildcards
		{filterSettings(map[string]any{"attributePatterns": []any{"a"}}), "a", true},
		{filterSettings(map[string]any{"attributePatterns": []any{"a"}}), "a.b", false},
		{filterSettings(map[string]any{"attributePatterns": []any{"pri*"}}), "price", true},
		{filterSettings(map[string]any{"attributePatterns": []any{"pri*"}}), "pr", false},
		{filterSettings(map[string]any{"attributePatterns": []any{"*ce"}}), "price", true},
		{filterSettings(map[string]any{"attributePatterns": []any{"*ic*"}}), "price", true},
		{filterSettings(map[string]any{"attributePatterns": []any{"*ic*"}}), "pr", false},
		{filterSettings(map[string]any{"attributePatterns": []any{"*"}}), "any.thing", true},
		{filterSettings(map[string]any{"attributePatterns": []any{"x", "y"}}), "y", true},
		{filterSettings(patternRule([]any{"*"}, false, nil)), "genre", false},
		{filterSettings(patternRule([]any{"*"}, false, true)), "genre", true},
		{filterSettings(patternRule([]any{"*"}, nil, nil)), "genre", true},
		// The first matching rule decides.
		{filterSettings(patternRule([]any{"*"}, false, false), "genre"), "genre", false},
		{filterSettings("genre", patternRule([]any{"*"}, false, false)), "genre", true},
		{filterSettings(), "genre", false},
		{nil, "genre", false},
	}
	for _, tt := range tests {
		var attrs any
		if tt.st != nil {
			attrs = tt.st.FilterableAttributes
		}
		if got := isFilterableAttr(tt.st, tt.attr); got != tt.want {
			t.Errorf("isFilterableAttr(%v, %q) = %v, want %v", attrs, tt.attr, got, tt.want)
		}
	}
}

func TestFilterContainsOperatorError(t *testing.T) {
	if err := containsOperatorError(mustParseFilter(t, "a = 1 AND b IN [x]")); err != nil {
		t.Errorf("unexpected %v", err)
	}
	if err := containsOperatorError(nil); err != nil {
		t.Errorf("unexpected %v", err)
	}
	msg := "Using `CONTAINS` or `STARTS WITH` in a filter requires enabling the `contains filter` experimental feature. See https://github.com/orgs/meilisearch/discussions/763\n"
	for in, pos := range map[string]string{
		"a = 1 OR NOT b CONTAINS x":     "16:24",
		"a NOT STARTS WITH x AND b = 1": "7:18",
	} {
		err := containsOperatorError(mustParseFilter(t, in))
		if err == nil || err.Error() != msg+pos+" "+in {
			t.Errorf("containsOperatorError(%q) = %v", in, err)
		}
	}
}

func TestFilterNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello World", "hello world"},
		{"  Padded\t", "padded"},
		{"CAFÉ", "cafe\u0301"},
		{"café", "cafe\u0301"},
		{"cafe\u0301", "cafe\u0301"},
		{"ﬁne", "fine"},
		{"ＡＢＣ１", "abc1"},
		{"İstanbul", "i\u0307stanbul"},
		{"Ærø", "ærø"},
		{"ΆΘΗΝΑ", "α\u0301θηνα"},
		{"Москва", "москва"},
		{"\u00a0x\u00a0", "x"},
		{"日本", "日本"},
	}
	for _, tt := range tests {
		if got := normalizeFacetValue(tt.in); got != tt.want {
			t.Errorf("normalizeFacetValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("é", 300) // 600 bytes normalised to 900
	if got := truncateFacet(appendFacetNormalized(nil, long)); len(got) > maxFacetValueLength || len(got) < maxFacetValueLength-3 {
		t.Errorf("truncateFacet: %d bytes", len(got))
	}
}

func TestFilterRustFloat(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"1", true}, {"-1.5", true}, {"+2", true}, {".5", true}, {"5.", true}, {"1e3", true}, {"1E-3", true},
		{"inf", true}, {"NaN", true}, {"1e400", true},
		{"0x10", false}, {"1_000", false}, {"", false}, {"--1", false}, {"+-1", false}, {"abc", false}, {" 1", false},
	}
	for _, tt := range tests {
		if _, ok := parseRustFloat(tt.in); ok != tt.ok {
			t.Errorf("parseRustFloat(%q) ok = %v, want %v", tt.in, ok, tt.ok)
		}
	}
	v := newFValue(fspan{}, "inf")
	if v.isNum {
		t.Error("inf must not compare as a number")
	}
}

func TestFilterMatchesNoAllocs(t *testing.T) {
	docs := filterDocs(t, filterTestDocs)
	for _, f := range []string{
		"genre = horror", "genre != Horror", "price > 10", "price 1 TO 100", "tags IN [a, b, c, d, e, f]",
		"nested.a.b = 1", "arr.x > 1", "title CONTAINS world", "title STARTS WITH hel", "rating IS NULL",
		"tags IS EMPTY", "NOT (genre = horror OR genre = comedy) AND id EXISTS", "date > 2024",
	} {
		e := mustParseFilter(t, f)
		allocs := testing.AllocsPerRun(50, func() {
			for _, d := range docs {
				e.matches(d)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per run", f, allocs)
		}
	}
}

func TestFilterStringForms(t *testing.T) {
	// The array form equals the string form.
	a := mustParseFilter(t, []any{"channel = gotaga", []any{"timestamp = 44", "channel != ponce"}})
	s := mustParseFilter(t, "channel = gotaga AND (timestamp = 44 OR channel != ponce)")
	if exprString(a) != exprString(s) {
		t.Errorf("%s != %s", exprString(a), exprString(s))
	}
	// Values are unescaped and pre-normalised once.
	c := mustParseFilter(t, `title = ' Déjà\tVu '`).(*fCond)
	if c.vals[0].raw != " Déjà\tVu " || string(c.vals[0].norm) != "de\u0301ja\u0300\tvu" {
		t.Errorf("value = %q / %q", c.vals[0].raw, c.vals[0].norm)
	}
	if !reflect.DeepEqual(c.fid, fspan{src: `title = ' Déjà\tVu '`, start: 0, end: 5}) {
		t.Errorf("fid span = %+v", c.fid)
	}
}

func BenchmarkFilterMatches(b *testing.B) {
	docs := filterDocs(b, filterTestDocs)
	e := mustParseFilter(b, "(genre = horror OR genre = comedy) AND price 1 TO 100 AND NOT tags IN [x, y] AND nested.a.b EXISTS")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			e.matches(d)
		}
	}
}
