package meilitest

// A tiny interpreter for the subset of Rhai that Meilisearch's
// edit-documents-by-function route (POST /indexes/{uid}/documents/edit,
// experimental feature editDocumentsByFunction) is typically given.
//
// Supported:
//   - statements separated by `;` or newlines; blocks `{ ... }`
//   - `let x = expr`, assignments `x = expr`, `doc.field = expr`,
//     `doc.a.b = expr`, `doc["field"] = expr`, compound `+= -= *= /=`
//   - `doc = ()` deletes the document; `doc.field = ()` sets null
//   - `if cond { ... } else if cond { ... } else { ... }`
//   - literals: integers, floats, "strings" with \n \t \" \\ escapes,
//     `template ${expr} strings`, true, false, (), [arrays]
//   - `doc` (a copy of the document) and `context` (the request's context)
//   - member access `a.b`, indexing `a[i]` / `a["k"]`
//   - operators: unary `-` and `!`; `* / %`, `+ -` (a string on either side
//     concatenates), `< <= > >= == !=`, `&&`, `||`
//   - methods: to_upper, to_lower, trim, len, is_empty, contains,
//     starts_with, ends_with, to_string, to_int, to_float, push
//
// Anything else (loops, functions, closures, maps literals...) is a parse
// error, which fails the task as an invalid function would in Meilisearch.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"unicode"
)

type rhaiUnit struct{} // Rhai's (), distinct from a JSON null only while running

type rhaiTok struct {
	kind string // num, str, tmpl, ident, op, eof, nl
	text string
	pos  int
}

func rhaiLex(src string) ([]rhaiTok, error) {
	var out []rhaiTok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			out = append(out, rhaiTok{kind: "nl", pos: i})
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '_' ||
				src[j] == '.' && j+1 < len(src) && src[j+1] >= '0' && src[j+1] <= '9') {
				j++
			}
			out = append(out, rhaiTok{kind: "num", text: strings.ReplaceAll(src[i:j], "_", ""), pos: i})
			i = j
		case c == '"' || c == '`':
			j := i + 1
			var b strings.Builder
			for j < len(src) && src[j] != c {
				if src[j] == '\\' && c == '"' && j+1 < len(src) {
					j++
					switch src[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(src[j])
					}
					j++
					continue
				}
				b.WriteByte(src[j])
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string (line %d, position %d)", lineOf(src, i), i)
			}
			kind := "str"
			if c == '`' {
				kind = "tmpl"
			}
			out = append(out, rhaiTok{kind: kind, text: b.String(), pos: i})
			i = j + 1
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(src) && (src[j] == '_' || unicode.IsLetter(rune(src[j])) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			out = append(out, rhaiTok{kind: "ident", text: src[i:j], pos: i})
			i = j
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "(", ")", "{", "}", "[", "]", ".", ",", ";", "=", "<", ">", "+", "-", "*", "/", "%", "!"} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, fmt.Errorf("unexpected character `%c` (line %d, position %d)", c, lineOf(src, i), i)
			}
			out = append(out, rhaiTok{kind: "op", text: op, pos: i})
			i += len(op)
		}
	}
	return append(out, rhaiTok{kind: "eof", pos: len(src)}), nil
}

func lineOf(src string, pos int) int { return strings.Count(src[:pos], "\n") + 1 }

// AST

type rhaiNode interface{}

type (
	rhaiLit    struct{ v any }
	rhaiVar    struct{ name string }
	rhaiTmpl   struct{ parts []rhaiNode } // strings and expressions
	rhaiArr    struct{ items []rhaiNode }
	rhaiMember struct {
		obj  rhaiNode
		name string
	}
	rhaiIndex struct{ obj, idx rhaiNode }
	rhaiCall  struct {
		obj  rhaiNode
		name string
		args []rhaiNode
	}
	rhaiUnary struct {
		op string
		x  rhaiNode
	}
	rhaiBin struct {
		op   string
		l, r rhaiNode
	}
	rhaiLet struct {
		name string
		x    rhaiNode
	}
	rhaiAssign struct {
		target rhaiNode
		op     string
		x      rhaiNode
	}
	rhaiIf struct {
		cond       rhaiNode
		then, els_ []rhaiNode
	}
	rhaiExprStmt struct{ x rhaiNode }
)

type rhaiParser struct {
	src  string
	toks []rhaiTok
	i    int
}

func (p *rhaiParser) peek() rhaiTok { return p.toks[p.i] }
func (p *rhaiParser) next() rhaiTok { t := p.toks[p.i]; p.i++; return t }
func (p *rhaiParser) skipNL() {
	for p.peek().kind == "nl" {
		p.i++
	}
}
func (p *rhaiParser) is(text string) bool {
	t := p.peek()
	return (t.kind == "op" || t.kind == "ident") && t.text == text
}
func (p *rhaiParser) errf(t rhaiTok, format string, args ...any) error {
	return fmt.Errorf("%s (line %d, position %d)", fmt.Sprintf(format, args...), lineOf(p.src, t.pos), t.pos)
}
func (p *rhaiParser) expect(text string) error {
	p.skipNL()
	if !p.is(text) {
		return p.errf(p.peek(), "expecting `%s`, found `%s`", text, p.peek().text)
	}
	p.i++
	return nil
}

func parseRhai(src string) ([]rhaiNode, error) {
	toks, err := rhaiLex(src)
	if err != nil {
		return nil, err
	}
	p := &rhaiParser{src: src, toks: toks}
	stmts, err := p.block("eof")
	if err != nil {
		return nil, err
	}
	return stmts, nil
}

// block parses statements until the closing token ("}" or "eof").
func (p *rhaiParser) block(end string) ([]rhaiNode, error) {
	var out []rhaiNode
	for {
		for p.peek().kind == "nl" || p.is(";") {
			p.i++
		}
		if (end == "eof" && p.peek().kind == "eof") || (end == "}" && p.is("}")) {
			return out, nil
		}
		if p.peek().kind == "eof" {
			return nil, p.errf(p.peek(), "expecting `}`")
		}
		st, err := p.stmt()
		if err != nil {
			return nil, err
		}
		out = append(out, st)
		if _, isIf := st.(*rhaiIf); isIf {
			continue
		}
		t := p.peek()
		if !(t.kind == "nl" || t.kind == "eof" || p.is(";") || p.is("}")) {
			return nil, p.errf(t, "expecting `;` to terminate this statement, found `%s`", t.text)
		}
	}
}

func (p *rhaiParser) stmt() (rhaiNode, error) {
	switch {
	case p.is("let") || p.is("const"):
		p.i++
		name := p.next()
		if name.kind != "ident" {
			return nil, p.errf(name, "expecting a variable name")
		}
		if err := p.expect("="); err != nil {
			return nil, err
		}
		x, err := p.expr()
		return &rhaiLet{name: name.text, x: x}, err
	case p.is("if"):
		return p.ifStmt()
	case p.is("for") || p.is("while") || p.is("loop") || p.is("fn") || p.is("return"):
		return nil, p.errf(p.peek(), "meilitest's Rhai subset does not support `%s`", p.peek().text)
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"=", "+=", "-=", "*=", "/="} {
		if p.is(op) {
			p.i++
			switch x.(type) {
			case *rhaiVar, *rhaiMember, *rhaiIndex:
			default:
				return nil, p.errf(p.toks[p.i-1], "cannot assign to this expression")
			}
			v, err := p.expr()
			return &rhaiAssign{target: x, op: op, x: v}, err
		}
	}
	return &rhaiExprStmt{x: x}, nil
}

func (p *rhaiParser) ifStmt() (rhaiNode, error) {
	p.i++ // if
	cond, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	then, err := p.block("}")
	if err != nil {
		return nil, err
	}
	p.i++ // }
	n := &rhaiIf{cond: cond, then: then}
	save := p.i
	p.skipNL()
	if !p.is("else") {
		p.i = save
		return n, nil
	}
	p.i++
	p.skipNL()
	if p.is("if") {
		sub, err := p.ifStmt()
		if err != nil {
			return nil, err
		}
		n.els_ = []rhaiNode{sub}
		return n, nil
	}
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	if n.els_, err = p.block("}"); err != nil {
		return nil, err
	}
	p.i++
	return n, nil
}

var rhaiPrec = map[string]int{"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}

func (p *rhaiParser) expr() (rhaiNode, error) { return p.binary(1) }

func (p *rhaiParser) binary(min int) (rhaiNode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec, ok := rhaiPrec[t.text]
		if t.kind != "op" || !ok || prec < min {
			return l, nil
		}
		p.i++
		p.skipNL()
		r, err := p.binary(prec + 1)
		if err != nil {
			return nil, err
		}
		l = &rhaiBin{op: t.text, l: l, r: r}
	}
}

func (p *rhaiParser) unary() (rhaiNode, error) {
	if p.is("-") || p.is("!") {
		op := p.next().text
		x, err := p.unary()
		return &rhaiUnary{op: op, x: x}, err
	}
	return p.postfix()
}

func (p *rhaiParser) postfix() (rhaiNode, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.is("."):
			p.i++
			name := p.next()
			if name.kind != "ident" {
				return nil, p.errf(name, "expecting a property name")
			}
			if p.is("(") {
				p.i++
				args, err := p.list(")")
				if err != nil {
					return nil, err
				}
				x = &rhaiCall{obj: x, name: name.text, args: args}
			} else {
				x = &rhaiMember{obj: x, name: name.text}
			}
		case p.is("["):
			p.i++
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect("]"); err != nil {
				return nil, err
			}
			x = &rhaiIndex{obj: x, idx: idx}
		default:
			return x, nil
		}
	}
}

func (p *rhaiParser) list(end string) ([]rhaiNode, error) {
	var out []rhaiNode
	for {
		p.skipNL()
		if p.is(end) {
			p.i++
			return out, nil
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
		p.skipNL()
		if p.is(",") {
			p.i++
		} else if !p.is(end) {
			return nil, p.errf(p.peek(), "expecting `,` or `%s`", end)
		}
	}
}

func (p *rhaiParser) primary() (rhaiNode, error) {
	p.skipNL()
	t := p.next()
	switch t.kind {
	case "num":
		return &rhaiLit{v: json.Number(t.text)}, nil
	case "str":
		return &rhaiLit{v: t.text}, nil
	case "tmpl":
		return parseTemplate(t.text)
	case "ident":
		switch t.text {
		case "true":
			return &rhaiLit{v: true}, nil
		case "false":
			return &rhaiLit{v: false}, nil
		}
		return &rhaiVar{name: t.text}, nil
	case "op":
		switch t.text {
		case "(":
			if p.is(")") {
				p.i++
				return &rhaiLit{v: rhaiUnit{}}, nil
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			return x, p.expect(")")
		case "[":
			items, err := p.list("]")
			return &rhaiArr{items: items}, err
		}
	}
	return nil, p.errf(t, "unexpected `%s`", t.text)
}

func parseTemplate(s string) (rhaiNode, error) {
	n := &rhaiTmpl{}
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			n.parts = append(n.parts, &rhaiLit{v: s})
			return n, nil
		}
		n.parts = append(n.parts, &rhaiLit{v: s[:i]})
		depth, j := 1, i+2
		for ; j < len(s) && depth > 0; j++ {
			switch s[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth > 0 {
			return nil, fmt.Errorf("unterminated `${` in template string")
		}
		inner, err := rhaiLex(s[i+2 : j-1])
		if err != nil {
			return nil, err
		}
		ip := &rhaiParser{src: s[i+2 : j-1], toks: inner}
		x, err := ip.expr()
		if err != nil {
			return nil, err
		}
		n.parts = append(n.parts, x)
		s = s[j:]
	}
}

// Evaluation

type rhaiEnv struct {
	vars  map[string]any
	steps int
}

func (e *rhaiEnv) exec(stmts []rhaiNode) error {
	for _, st := range stmts {
		if e.steps++; e.steps > 1_000_000 {
			return fmt.Errorf("too many operations")
		}
		switch s := st.(type) {
		case *rhaiLet:
			v, err := e.eval(s.x)
			if err != nil {
				return err
			}
			e.vars[s.name] = v
		case *rhaiAssign:
			v, err := e.eval(s.x)
			if err != nil {
				return err
			}
			if s.op != "=" {
				old, err := e.eval(s.target)
				if err != nil {
					return err
				}
				if v, err = rhaiBinary(s.op[:1], old, v); err != nil {
					return err
				}
			}
			if err := e.assign(s.target, v); err != nil {
				return err
			}
		case *rhaiIf:
			c, err := e.eval(s.cond)
			if err != nil {
				return err
			}
			b, ok := c.(bool)
			if !ok {
				return fmt.Errorf("if condition must be a boolean, found %s", rhaiType(c))
			}
			if b {
				err = e.exec(s.then)
			} else {
				err = e.exec(s.els_)
			}
			if err != nil {
				return err
			}
		case *rhaiExprStmt:
			if _, err := e.eval(s.x); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *rhaiEnv) assign(target rhaiNode, v any) error {
	if _, ok := v.(rhaiUnit); ok {
		if _, isVar := target.(*rhaiVar); !isVar {
			v = nil // a field set to () becomes null
		}
	}
	switch t := target.(type) {
	case *rhaiVar:
		if t.name == "context" {
			return fmt.Errorf("cannot assign to the constant `context`")
		}
		e.vars[t.name] = v
		return nil
	case *rhaiMember:
		obj, err := e.eval(t.obj)
		if err != nil {
			return err
		}
		m, ok := obj.(map[string]any)
		if !ok {
			return fmt.Errorf("cannot set property `%s` of %s", t.name, rhaiType(obj))
		}
		m[t.name] = v
		return nil
	case *rhaiIndex:
		obj, err := e.eval(t.obj)
		if err != nil {
			return err
		}
		idx, err := e.eval(t.idx)
		if err != nil {
			return err
		}
		switch o := obj.(type) {
		case map[string]any:
			k, ok := idx.(string)
			if !ok {
				return fmt.Errorf("object map keys must be strings")
			}
			o[k] = v
			return nil
		case []any:
			n, ok := rhaiInt(idx)
			if !ok || n < 0 || int(n) >= len(o) {
				return fmt.Errorf("array index out of bounds")
			}
			o[n] = v
			return nil
		}
		return fmt.Errorf("cannot index into %s", rhaiType(obj))
	}
	return fmt.Errorf("cannot assign to this expression")
}

func (e *rhaiEnv) eval(n rhaiNode) (any, error) {
	switch x := n.(type) {
	case *rhaiLit:
		return x.v, nil
	case *rhaiVar:
		v, ok := e.vars[x.name]
		if !ok {
			return nil, fmt.Errorf("variable not found: %s", x.name)
		}
		return v, nil
	case *rhaiTmpl:
		var b strings.Builder
		for _, p := range x.parts {
			v, err := e.eval(p)
			if err != nil {
				return nil, err
			}
			b.WriteString(rhaiString(v))
		}
		return b.String(), nil
	case *rhaiArr:
		out := make([]any, 0, len(x.items))
		for _, it := range x.items {
			v, err := e.eval(it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case *rhaiMember:
		obj, err := e.eval(x.obj)
		if err != nil {
			return nil, err
		}
		m, ok := obj.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("property `%s` not found on %s", x.name, rhaiType(obj))
		}
		v, ok := m[x.name]
		if !ok {
			return rhaiUnit{}, nil
		}
		return v, nil
	case *rhaiIndex:
		obj, err := e.eval(x.obj)
		if err != nil {
			return nil, err
		}
		idx, err := e.eval(x.idx)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case map[string]any:
			k, _ := idx.(string)
			if v, ok := o[k]; ok {
				return v, nil
			}
			return rhaiUnit{}, nil
		case []any:
			n, ok := rhaiInt(idx)
			if ok && n < 0 {
				n += int64(len(o))
			}
			if !ok || n < 0 || int(n) >= len(o) {
				return nil, fmt.Errorf("array index out of bounds")
			}
			return o[n], nil
		case string:
			rs := []rune(o)
			n, ok := rhaiInt(idx)
			if !ok || n < 0 || int(n) >= len(rs) {
				return nil, fmt.Errorf("string index out of bounds")
			}
			return string(rs[n]), nil
		}
		return nil, fmt.Errorf("cannot index into %s", rhaiType(obj))
	case *rhaiCall:
		obj, err := e.eval(x.obj)
		if err != nil {
			return nil, err
		}
		args := make([]any, len(x.args))
		for i, a := range x.args {
			if args[i], err = e.eval(a); err != nil {
				return nil, err
			}
		}
		return rhaiMethod(obj, x.name, args)
	case *rhaiUnary:
		v, err := e.eval(x.x)
		if err != nil {
			return nil, err
		}
		if x.op == "!" {
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("`!` needs a boolean, found %s", rhaiType(v))
			}
			return !b, nil
		}
		return rhaiBinary("-", json.Number("0"), v)
	case *rhaiBin:
		l, err := e.eval(x.l)
		if err != nil {
			return nil, err
		}
		if x.op == "&&" || x.op == "||" {
			lb, ok := l.(bool)
			if !ok {
				return nil, fmt.Errorf("`%s` needs booleans, found %s", x.op, rhaiType(l))
			}
			if (x.op == "&&") != lb {
				return lb, nil
			}
			r, err := e.eval(x.r)
			if err != nil {
				return nil, err
			}
			rb, ok := r.(bool)
			if !ok {
				return nil, fmt.Errorf("`%s` needs booleans, found %s", x.op, rhaiType(r))
			}
			return rb, nil
		}
		r, err := e.eval(x.r)
		if err != nil {
			return nil, err
		}
		return rhaiBinary(x.op, l, r)
	}
	return nil, fmt.Errorf("cannot evaluate expression")
}

func rhaiType(v any) string {
	switch x := v.(type) {
	case rhaiUnit, nil:
		return "()"
	case bool:
		return "bool"
	case string:
		return "string"
	case json.Number:
		if _, ok := rhaiInt(x); ok {
			return "i64"
		}
		return "f64"
	case []any:
		return "array"
	case map[string]any:
		return "map"
	}
	return "?"
}

func rhaiInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	return i, err == nil
}

func rhaiString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case rhaiUnit, nil:
		return ""
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func rhaiNum(f float64, isInt bool) json.Number {
	if isInt && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
		return json.Number(strconv.FormatInt(int64(f), 10))
	}
	return json.Number(strconv.FormatFloat(f, 'f', -1, 64))
}

func rhaiBinary(op string, l, r any) (any, error) {
	ls, lstr := l.(string)
	rs, rstr := r.(string)
	if op == "+" && (lstr || rstr) {
		return rhaiString(l) + rhaiString(r), nil
	}
	ln, lnum := l.(json.Number)
	rn, rnum := r.(json.Number)
	switch op {
	case "==", "!=":
		eq := false
		if lnum && rnum {
			a, _ := ln.Float64()
			b, _ := rn.Float64()
			eq = a == b
		} else {
			eq = rhaiType(l) == rhaiType(r) && rhaiString(l) == rhaiString(r)
		}
		return eq == (op == "=="), nil
	case "<", "<=", ">", ">=":
		c := 0
		switch {
		case lnum && rnum:
			a, _ := ln.Float64()
			b, _ := rn.Float64()
			c = cmpFloat(a, b)
		case lstr && rstr:
			c = strings.Compare(ls, rs)
		default:
			return nil, fmt.Errorf("cannot compare %s with %s", rhaiType(l), rhaiType(r))
		}
		switch op {
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		}
		return c >= 0, nil
	}
	if !lnum || !rnum {
		return nil, fmt.Errorf("function not found: %s (%s, %s)", op, rhaiType(l), rhaiType(r))
	}
	_, li := rhaiInt(ln)
	_, ri := rhaiInt(rn)
	a, _ := ln.Float64()
	b, _ := rn.Float64()
	isInt := li && ri
	switch op {
	case "+":
		return rhaiNum(a+b, isInt), nil
	case "-":
		return rhaiNum(a-b, isInt), nil
	case "*":
		return rhaiNum(a*b, isInt), nil
	case "/":
		if b == 0 && isInt {
			return nil, fmt.Errorf("division by zero")
		}
		if isInt {
			return rhaiNum(math.Trunc(a/b), true), nil
		}
		return rhaiNum(a/b, false), nil
	case "%":
		if b == 0 {
			return nil, fmt.Errorf("division by zero")
		}
		return rhaiNum(math.Mod(a, b), isInt), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func rhaiMethod(obj any, name string, args []any) (any, error) {
	argStr := func(i int) (string, bool) {
		if i >= len(args) {
			return "", false
		}
		s, ok := args[i].(string)
		return s, ok
	}
	switch name {
	case "to_string":
		return rhaiString(obj), nil
	case "len":
		switch o := obj.(type) {
		case string:
			return json.Number(strconv.Itoa(len([]rune(o)))), nil
		case []any:
			return json.Number(strconv.Itoa(len(o))), nil
		case map[string]any:
			return json.Number(strconv.Itoa(len(o))), nil
		}
	case "is_empty":
		v, err := rhaiMethod(obj, "len", nil)
		if err != nil {
			return nil, err
		}
		return v == json.Number("0"), nil
	case "to_int":
		switch o := obj.(type) {
		case json.Number:
			f, _ := o.Float64()
			return rhaiNum(math.Trunc(f), true), nil
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(o), 10, 64); err == nil {
				return json.Number(strconv.FormatInt(n, 10)), nil
			}
			return nil, fmt.Errorf("cannot parse `%s` as an integer", o)
		}
	case "to_float":
		switch o := obj.(type) {
		case json.Number:
			f, _ := o.Float64()
			return rhaiNum(f, false), nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(o), 64); err == nil {
				return rhaiNum(f, false), nil
			}
			return nil, fmt.Errorf("cannot parse `%s` as a float", o)
		}
	case "push":
		if a, ok := obj.([]any); ok && len(args) == 1 {
			_ = a // arrays are values: push needs an assignment target, unsupported
			return nil, fmt.Errorf("`push` is not supported by meilitest's Rhai subset; use `x = x + [v]`")
		}
	}
	if s, ok := obj.(string); ok {
		switch name {
		case "to_upper":
			return strings.ToUpper(s), nil
		case "to_lower":
			return strings.ToLower(s), nil
		case "trim":
			return strings.TrimSpace(s), nil
		case "contains":
			if a, ok := argStr(0); ok {
				return strings.Contains(s, a), nil
			}
		case "starts_with":
			if a, ok := argStr(0); ok {
				return strings.HasPrefix(s, a), nil
			}
		case "ends_with":
			if a, ok := argStr(0); ok {
				return strings.HasSuffix(s, a), nil
			}
		}
	}
	if a, ok := obj.([]any); ok && name == "contains" && len(args) == 1 {
		for _, x := range a {
			if eq, _ := rhaiBinary("==", x, args[0]); eq == true {
				return true, nil
			}
		}
		return false, nil
	}
	return nil, fmt.Errorf("function not found: %s (%s)", name, rhaiType(obj))
}

// rhaiDeepCopy copies a JSON value so the function cannot alias stored data.
func rhaiDeepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = rhaiDeepCopy(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = rhaiDeepCopy(e)
		}
		return out
	}
	return v
}

// runEdition runs a parsed function on one document. It returns the new
// document, or nil when the function set `doc = ()`.
func runEdition(prog []rhaiNode, doc map[string]any, context any) (map[string]any, error) {
	env := &rhaiEnv{vars: map[string]any{"doc": rhaiDeepCopy(doc), "context": rhaiDeepCopy(context)}}
	if context == nil {
		env.vars["context"] = rhaiUnit{}
	}
	if err := env.exec(prog); err != nil {
		return nil, err
	}
	switch d := env.vars["doc"].(type) {
	case rhaiUnit, nil:
		return nil, nil
	case map[string]any:
		return maps.Clone(d), nil
	default:
		return nil, fmt.Errorf("the `doc` variable must be an object map or (), found %s", rhaiType(d))
	}
}
