package zohosim

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// COQL limits.
const (
	coqlMaxLimit     = 2000
	coqlDefaultLimit = 200
	coqlMaxColumns   = 50
	coqlMaxIn        = 50 // values in one "in" criterion
	coqlMaxOrderBy   = 10 // fields in ORDER BY
)

// The COQL shapes the simulator takes are listed in the package doc;
// parseCOQL reads any bracketed criteria and rangeOf decides the shape.

type coqlError struct {
	status  int
	code    string
	message string
	details map[string]any
}

func (e *coqlError) Error() string { return e.code + ": " + e.message }

// invalidColumn is 400 INVALID_QUERY about column.
func invalidColumn(column, message string) *coqlError {
	return &coqlError{
		status:  http.StatusBadRequest,
		code:    "INVALID_QUERY",
		message: message,
		details: map[string]any{"column_name": column},
	}
}

// isNameByte reports whether c may go on a column or module name.
func isNameByte(c byte) bool {
	return c == '_' || c == '$' || c == '.' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c))
}

func syntaxError(clause, format string, args ...any) *coqlError {
	return &coqlError{
		status:  http.StatusBadRequest,
		code:    "SYNTAX_ERROR",
		message: fmt.Sprintf(format, args...),
		details: map[string]any{"clause": clause},
	}
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // identifiers and operators as written; strings unquoted
	pos  int
}

func lex(src string) ([]token, *coqlError) {
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")", i})
			i++
		case c == ',':
			out = append(out, token{tComma, ",", i})
			i++
		case c == '\'':
			// A quote inside a value is written twice.
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, syntaxError("where", "unterminated string starting at column %d", i+1)
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			out = append(out, token{tString, b.String(), i})
			i = j + 1
		case strings.ContainsRune("=!<>", rune(c)):
			j := i + 1
			if j < len(src) && strings.ContainsRune("=>", rune(src[j])) {
				j++
			}
			op := src[i:j]
			switch op {
			case "=", "!=", "<>", "<", "<=", ">", ">=":
			default:
				return nil, syntaxError("where", "unknown operator %q at column %d", op, i+1)
			}
			out = append(out, token{tOp, op, i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			out = append(out, token{tNumber, src[i:j], i})
			i = j
		case c == '_' || c == '$' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(src) && isNameByte(src[j]) {
				j++
			}
			out = append(out, token{tIdent, src[i:j], i})
			i = j
		default:
			return nil, syntaxError("select", "unexpected %q at column %d", c, i+1)
		}
	}
	return append(out, token{tEOF, "", len(src)}), nil
}

// expr is a parsed criterion.
type expr interface{}

type cmpExpr struct {
	field string // Modified_Time or id
	op    string
	value int64 // unix nanoseconds for Modified_Time, the id for id
}

// inExpr is Field in ('id', ...) on a lookup: records whose lookup names
// one of the ids. A deleted target's id still matches, as the link stays
// while the target sits in the recycle bin.
type inExpr struct {
	field  string
	ids    map[int64]bool
	values int    // as written, repeats included
	f      *field // resolved against the module
}

type logicExpr struct {
	op          string // and, or
	left, right expr
}

type orderTerm struct {
	field string
	desc  bool
}

type coqlQuery struct {
	columns []string
	module  string
	where   expr
	order   []orderTerm
	limit   int
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) keyword(word string) bool {
	t := p.peek()
	if t.kind == tIdent && strings.EqualFold(t.text, word) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectKeyword(clause, word string) *coqlError {
	if !p.keyword(word) {
		return syntaxError(clause, "expected %q near column %d", word, p.peek().pos+1)
	}
	return nil
}

func parseCOQL(src string) (*coqlQuery, *coqlError) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &coqlQuery{limit: coqlDefaultLimit}
	if err := p.expectKeyword("select", "select"); err != nil {
		return nil, err
	}
	for {
		t := p.next()
		if t.kind != tIdent || isKeyword(t.text) {
			return nil, syntaxError("select", "expected a column name near column %d", t.pos+1)
		}
		q.columns = append(q.columns, t.text)
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if err := p.expectKeyword("from", "from"); err != nil {
		return nil, err
	}
	t := p.next()
	if t.kind != tIdent {
		return nil, syntaxError("from", "expected a module name near column %d", t.pos+1)
	}
	q.module = t.text
	if !p.keyword("where") {
		return nil, syntaxError("where", "a where clause is required")
	}
	w, err := p.criteria(0)
	if err != nil {
		return nil, err
	}
	q.where = w
	if p.keyword("order") {
		if err := p.expectKeyword("order by", "by"); err != nil {
			return nil, err
		}
		for {
			t := p.next()
			if t.kind != tIdent || isKeyword(t.text) {
				return nil, syntaxError("order by", "expected a field near column %d", t.pos+1)
			}
			term := orderTerm{field: t.text}
			if p.keyword("desc") {
				term.desc = true
			} else {
				p.keyword("asc")
			}
			q.order = append(q.order, term)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if p.keyword("limit") {
		t := p.next()
		if t.kind != tNumber {
			return nil, syntaxError("limit", "expected a number after limit")
		}
		n, convErr := strconv.Atoi(t.text)
		if convErr != nil {
			return nil, syntaxError("limit", "bad limit %q", t.text)
		}
		q.limit = n
		if p.peek().kind == tComma || p.keyword("offset") {
			return nil, syntaxError("limit", "offset is not accepted here: page with keyset criteria on (Modified_Time, id)")
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, syntaxError("limit", "unexpected %q near column %d", t.text, t.pos+1)
	}
	return q, nil
}

var keywords = map[string]bool{
	"in":     true,
	"select": true,
	"from":   true,
	"where":  true,
	"order":  true,
	"by":     true,
	"limit":  true,
	"offset": true,
	"and":    true,
	"or":     true,
	"asc":    true,
	"desc":   true,
}

func isKeyword(s string) bool { return keywords[strings.ToLower(s)] }

// criteria parses operand [and|or operand]: Zoho wants larger groups
// bracketed in pairs.
func (p *parser) criteria(depth int) (expr, *coqlError) {
	if depth > 25 {
		return nil, syntaxError("where", "criteria nested too deeply")
	}
	left, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	var op string
	switch {
	case p.keyword("and"):
		op = "and"
	case p.keyword("or"):
		op = "or"
	default:
		return left, nil
	}
	right, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tIdent && (strings.EqualFold(t.text, "and") || strings.EqualFold(t.text, "or")) {
		return nil, syntaxError("where", "more than two criteria at one level: group them in pairs, like ((A and B) and C)")
	}
	return &logicExpr{op: op, left: left, right: right}, nil
}

func (p *parser) operand(depth int) (expr, *coqlError) {
	if p.peek().kind == tLParen {
		p.next()
		e, err := p.criteria(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tRParen {
			return nil, syntaxError("where", "expected ) near column %d", t.pos+1)
		}
		return e, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (expr, *coqlError) {
	f := p.next()
	if f.kind != tIdent || isKeyword(f.text) {
		return nil, syntaxError("where", "expected a field near column %d", f.pos+1)
	}
	if p.keyword("in") {
		return p.inList(f.text)
	}
	op := p.next()
	if op.kind != tOp {
		return nil, syntaxError("where", "expected a comparison operator near column %d", op.pos+1)
	}
	val := p.next()
	if val.kind != tString && val.kind != tNumber {
		return nil, syntaxError("where", "expected a value near column %d", val.pos+1)
	}
	c := &cmpExpr{field: f.text, op: op.text}
	switch f.text {
	case "Modified_Time":
		if val.kind != tString {
			return nil, syntaxError("where", "Modified_Time takes a quoted datetime like '2024-06-05T15:12:13+02:00'")
		}
		t, err := time.Parse(time.RFC3339, val.text)
		if err != nil {
			return nil, syntaxError("where", "Modified_Time takes a datetime like '2024-06-05T15:12:13+02:00', not %q", val.text)
		}
		c.value = t.UnixNano()
	case "id":
		n, err := strconv.ParseInt(val.text, 10, 64)
		if err != nil {
			return nil, syntaxError("where", "id takes a record id, not %q", val.text)
		}
		c.value = n
	default:
		return nil, syntaxError("where", "criteria on %s are not accepted: only Modified_Time and id", f.text)
	}
	return c, nil
}

// inList parses the bracketed values of an "in" criterion on field.
func (p *parser) inList(field string) (expr, *coqlError) {
	if t := p.next(); t.kind != tLParen {
		return nil, syntaxError("where", "expected ( after in near column %d", t.pos+1)
	}
	e := &inExpr{field: field, ids: map[int64]bool{}}
	for {
		v := p.next()
		if v.kind != tString && v.kind != tNumber {
			return nil, syntaxError("where", "expected a value near column %d", v.pos+1)
		}
		n, err := strconv.ParseInt(v.text, 10, 64)
		if err != nil {
			return nil, syntaxError("where", "%s in (...) takes record ids, not %q", field, v.text)
		}
		e.ids[n] = true
		e.values++
		t := p.next()
		if t.kind == tRParen {
			break
		}
		if t.kind != tComma {
			return nil, syntaxError("where", "expected , or ) near column %d", t.pos+1)
		}
	}
	return e, nil
}

func (c *cmpExpr) holds(it item) bool {
	v := it.mt
	if c.field == "id" {
		v = it.id
	}
	switch c.op {
	case "=":
		return v == c.value
	case "!=", "<>":
		return v != c.value
	case "<":
		return v < c.value
	case "<=":
		return v <= c.value
	case ">":
		return v > c.value
	case ">=":
		return v >= c.value
	}
	return false
}

// eval reports whether the record it of view v meets e; its values are
// built only when a criterion needs them.
func eval(e expr, it item, v *view) bool {
	switch x := e.(type) {
	case *cmpExpr:
		return x.holds(it)
	case *inExpr:
		id, ok := v.row(it).value(x.f).(lookupID)
		return ok && x.ids[int64(id)]
	case *logicExpr:
		if x.op == "and" {
			return eval(x.left, it, v) && eval(x.right, it, v)
		}
		return eval(x.left, it, v) || eval(x.right, it, v)
	}
	return false
}

// resolveIn checks the "in" criteria of e against module m.
func resolveIn(e expr, m *module) *coqlError {
	switch x := e.(type) {
	case *inExpr:
		f, ok := m.field(x.field)
		if !ok || !f.isLookup() {
			return invalidColumn(x.field, x.field+" is not a lookup field of "+m.apiName+": in takes lookups here")
		}
		if x.values > coqlMaxIn {
			return invalidColumn(x.field, fmt.Sprintf("Only %d values are allowed in \"IN\" criteria", coqlMaxIn))
		}
		x.f = f
	case *logicExpr:
		if err := resolveIn(x.left, m); err != nil {
			return err
		}
		return resolveIn(x.right, m)
	}
	return nil
}

func isCmp(e expr, field, op string) (*cmpExpr, bool) {
	c, ok := e.(*cmpExpr)
	if !ok || c.field != field || c.op != op {
		return nil, false
	}
	return c, true
}

// lowerOf recognises a lower bound and returns the key records must be
// above: Modified_Time >= T, Modified_Time > T, or the keyset form
// (Modified_Time > T) or ((Modified_Time = T) and (id > ID)).
func lowerOf(e expr) (key, bool) {
	if c, ok := isCmp(e, "Modified_Time", ">="); ok {
		return key{c.value, math.MinInt64}, true
	}
	if c, ok := isCmp(e, "Modified_Time", ">"); ok {
		return key{c.value, math.MaxInt64}, true
	}
	or, ok := e.(*logicExpr)
	if !ok || or.op != "or" {
		return key{}, false
	}
	for _, pair := range [][2]expr{{or.left, or.right}, {or.right, or.left}} {
		gt, ok := isCmp(pair[0], "Modified_Time", ">")
		if !ok {
			continue
		}
		and, ok := pair[1].(*logicExpr)
		if !ok || and.op != "and" {
			continue
		}
		for _, tie := range [][2]expr{{and.left, and.right}, {and.right, and.left}} {
			eq, ok1 := isCmp(tie[0], "Modified_Time", "=")
			idGT, ok2 := isCmp(tie[1], "id", ">")
			if ok1 && ok2 && eq.value == gt.value {
				return key{gt.value, idGT.value}, true
			}
		}
	}
	return key{}, false
}

// upperOf recognises Modified_Time <= T or < T and returns the greatest key
// allowed.
func upperOf(e expr) (key, bool) {
	if c, ok := isCmp(e, "Modified_Time", "<="); ok {
		return key{c.value, math.MaxInt64}, true
	}
	if c, ok := isCmp(e, "Modified_Time", "<"); ok {
		return key{c.value, math.MinInt64}, true
	}
	return key{}, false
}

// rangeOf returns the key range (lower, upper] the criteria select, or false
// for a shape the simulator does not take: and-ed terms, each a lower bound
// on (Modified_Time, id), an upper bound on Modified_Time or an "in" on a
// lookup, with at least a lower bound or an "in".
func rangeOf(e expr) (lower, upper key, ok bool) {
	lower, upper = minKey, maxKey
	bounded := false
	var walk func(e expr) bool
	walk = func(e expr) bool {
		if l, ok := lowerOf(e); ok {
			if lower.less(l) {
				lower = l
			}
			bounded = true
			return true
		}
		if u, ok := upperOf(e); ok {
			if u.less(upper) {
				upper = u
			}
			return true
		}
		switch x := e.(type) {
		case *inExpr:
			bounded = true
			return true
		case *logicExpr:
			return x.op == "and" && walk(x.left) && walk(x.right)
		}
		return false
	}
	if !walk(e) || !bounded {
		return key{}, key{}, false
	}
	return lower, upper, true
}

// checkOrder applies Zoho's limits to ORDER BY: at most ten fields, none
// twice (COQL-Limitations.html).
func checkOrder(order []orderTerm) *coqlError {
	if len(order) > coqlMaxOrderBy {
		return &coqlError{
			status:  http.StatusBadRequest,
			code:    "LIMIT_EXCEEDED",
			message: fmt.Sprintf("at most %d fields can be given in order by", coqlMaxOrderBy),
			details: map[string]any{"by": "order by", "limit": coqlMaxOrderBy},
		}
	}
	seen := map[string]bool{}
	for _, o := range order {
		if seen[strings.ToLower(o.field)] {
			return &coqlError{
				status:  http.StatusBadRequest,
				code:    "DUPLICATE_DATA",
				message: "duplicate field in order by: " + o.field,
				details: map[string]any{"clause": "order by", "column_name": o.field},
			}
		}
		seen[strings.ToLower(o.field)] = true
	}
	return nil
}

// coqlCredits is the charge for a COQL call by its LIMIT.
func coqlCredits(limit int) int64 {
	switch {
	case limit <= 200:
		return 1
	case limit <= 1000:
		return 2
	default:
		return 3
	}
}

func (s *Server) handleCOQL(c *apiCall) {
	if !c.need("ZohoCRM.coql.READ") {
		return
	}
	var body struct {
		SelectQuery string `json:"select_query"`
	}
	if err := decodeBody(c.w, c.r, &body); err != nil {
		writeError(c.w, http.StatusBadRequest, "INVALID_DATA", "the request body must be JSON: "+err.Error(), nil)
		return
	}
	if strings.TrimSpace(body.SelectQuery) == "" {
		writeError(c.w, http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "select_query is missing",
			map[string]any{"param_name": "select_query"})
		return
	}
	q, perr := parseCOQL(body.SelectQuery)
	if perr != nil {
		writeError(c.w, perr.status, perr.code, perr.message, perr.details)
		return
	}
	m, ok := s.moduleByName(q.module)
	if !ok {
		writeError(c.w, http.StatusBadRequest, "INVALID_QUERY", "the relation name given seems to be invalid",
			map[string]any{"reason": "invalid module " + q.module})
		return
	}
	if !c.need(m.scope) {
		return
	}
	if len(q.columns) > coqlMaxColumns {
		writeError(c.w, http.StatusBadRequest, "LIMIT_EXCEEDED", "at most 50 columns can be selected",
			map[string]any{"by": "columns", "limit": coqlMaxColumns})
		return
	}
	if q.limit < 1 || q.limit > coqlMaxLimit {
		writeError(c.w, http.StatusBadRequest, "LIMIT_EXCEEDED", "limit must be between 1 and 2000",
			map[string]any{"by": "limit", "limit": coqlMaxLimit})
		return
	}
	cols := make([]column, 0, len(q.columns))
	for _, name := range q.columns {
		col, err := s.resolveColumn(m, name)
		if err != nil {
			writeError(c.w, http.StatusBadRequest, "INVALID_QUERY", err.Error(), map[string]any{"column_name": name})
			return
		}
		cols = append(cols, col)
	}
	if err := checkOrder(q.order); err != nil {
		writeError(c.w, err.status, err.code, err.message, err.details)
		return
	}
	if len(q.order) != 2 || q.order[0].field != "Modified_Time" || q.order[0].desc || q.order[1].field != "id" ||
		q.order[1].desc {
		writeError(c.w, http.StatusBadRequest, "SYNTAX_ERROR", "order by must be Modified_Time asc, id asc",
			map[string]any{"clause": "order by"})
		return
	}
	if err := resolveIn(q.where, m); err != nil {
		writeError(c.w, err.status, err.code, err.message, err.details)
		return
	}
	lower, upper, ok := rangeOf(q.where)
	if !ok {
		writeError(c.w,
			http.StatusBadRequest, "SYNTAX_ERROR",
			"criteria must be a lower bound on (Modified_Time, id) or a lookup in (ids), optionally and-ed with each other "+
				"and an upper bound on Modified_Time",
			map[string]any{"clause": "where"})
		return
	}

	sn := s.snapshot()
	v := sn.views[m]
	var items []item
	more := false
	v.scan(byModified, lower, false, func(it item) bool {
		if upper.less(it.key(byModified)) {
			return false
		}
		if !eval(q.where, it, v) {
			return true
		}
		if len(items) == q.limit {
			more = true
			return false
		}
		items = append(items, it)
		return true
	})
	credits := coqlCredits(q.limit)
	if len(items) == 0 {
		c.empty(http.StatusNoContent, credits)
		return
	}
	data := make([]any, len(items))
	for i, it := range items {
		r := v.row(it)
		rec := make(map[string]any, len(cols)+1)
		for _, col := range cols {
			rec[col.name] = sn.columnValue(r, col)
		}
		rec["id"] = strconv.FormatInt(it.id, 10)
		data[i] = rec
	}
	c.ok(http.StatusOK, map[string]any{"data": data, "info": map[string]any{"count": len(items), "more_records": more}},
		credits)
}
