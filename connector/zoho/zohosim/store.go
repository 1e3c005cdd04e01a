package zohosim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// entry is an admin-made version of a record: a created record, a changed
// generated record or a deleted one. Entries are never changed once built, so
// views can share them.
type entry struct {
	id       int64
	idx      int // generated index it replaces, -1 for a created record
	created  int64
	modified int64          // unix nanoseconds
	fields   map[string]any // internal values (see normalize); nil when deleted
	deleted  bool
}

// deletion is one row of the deleted-records API.
type deletion struct {
	id          int64
	displayName string
	kind        string // recycle or permanent
	at          time.Time
	by          user
}

// key orders records: (Modified_Time, id) or, for id order, (0, id).
type key struct{ t, id int64 }

func (a key) less(b key) bool {
	if a.t != b.t {
		return a.t < b.t
	}
	return a.id < b.id
}

var (
	minKey = key{math.MinInt64, math.MinInt64}
	maxKey = key{math.MaxInt64, math.MaxInt64}
)

type order int

const (
	byModified order = iota // (Modified_Time, id)
	byID
)

// item is a record as a scan meets it; its fields are built only when asked.
type item struct {
	id, mt int64
	idx    int    // generated index, -1 for a created record
	e      *entry // overlay version, nil for a pure generated record
}

func (it item) key(o order) key {
	if o == byID {
		return key{0, it.id}
	}
	return key{it.mt, it.id}
}

// view is an immutable snapshot of one module: scans and downloads read it
// without holding the lock while admin changes build the next one.
type view struct {
	m       *module
	s       *Server
	byIdx   map[int]*entry   // overlay versions of generated records
	byID    map[int64]*entry // every overlay entry
	live    []*entry         // live overlay entries by (modified, id)
	created []*entry         // live created entries by id
}

// snapshot is a consistent set of module views, so lookups resolve against
// the same moment as the records that hold them.
type snapshot struct {
	s     *Server
	views map[*module]*view
}

// snapshot returns views of every module. The caller holds s.mu.
func (s *Server) snapshotLocked() *snapshot {
	sn := &snapshot{s: s, views: map[*module]*view{}}
	for _, m := range s.order {
		sn.views[m] = s.viewLocked(m)
	}
	return sn
}

func (s *Server) snapshot() *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

// pointSnapshotLocked returns views that share the live overlay instead of
// copying it, so admin changes and assertions stay cheap at ten thousand
// changes. They answer point lookups only (no scans) and are valid only
// while s.mu is held.
func (s *Server) pointSnapshotLocked() *snapshot {
	sn := &snapshot{s: s, views: map[*module]*view{}}
	for _, m := range s.order {
		sn.views[m] = &view{m: m, s: s, byID: m.overlay}
	}
	return sn
}

func (s *Server) viewLocked(m *module) *view {
	if m.view != nil {
		return m.view
	}
	v := &view{m: m, s: s, byIdx: map[int]*entry{}, byID: maps.Clone(m.overlay)}
	for _, e := range m.overlay {
		if e.idx >= 0 {
			v.byIdx[e.idx] = e
		}
		if e.deleted {
			continue
		}
		v.live = append(v.live, e)
		if e.idx < 0 {
			v.created = append(v.created, e)
		}
	}
	slices.SortFunc(v.live, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(a.modified, b.modified), cmp.Compare(a.id, b.id))
	})
	slices.SortFunc(v.created, func(a, b *entry) int { return cmp.Compare(a.id, b.id) })
	m.view = v
	return v
}

// Generated Modified_Time: genStride apart, except that some neighbours share
// a timestamp (pairs every fourth record, runs of five every hundred).
const genStride = 10 * time.Second

func genAnchor(i int) int {
	if (i/5)%20 == 7 {
		return i - i%5
	}
	if i%4 == 3 {
		return i - 1
	}
	return i
}

func (s *Server) genModified(i int) int64 {
	return s.opts.Epoch.UnixNano() + int64(genAnchor(i))*int64(genStride)
}

func (v *view) genKey(o order, i int) key {
	id := v.m.idBase + int64(i)
	if o == byID {
		return key{0, id}
	}
	return key{v.s.genModified(i), id}
}

// genItem is generated record i as order o sees it; ok is false when the
// order skips it (deleted, or for Modified_Time order replaced by an overlay
// version that sorts elsewhere).
func (v *view) genItem(o order, i int) (item, bool) {
	it := item{id: v.m.idBase + int64(i), mt: v.s.genModified(i), idx: i}
	e := v.byIdx[i]
	if e == nil {
		return it, true
	}
	if e.deleted || o == byModified {
		return item{}, false
	}
	it.mt, it.e = e.modified, e
	return it, true
}

func entryItem(e *entry) item { return item{id: e.id, mt: e.modified, idx: e.idx, e: e} }

// scan calls fn for records in order o whose key is after from (before it
// when desc), until fn returns false.
func (v *view) scan(o order, from key, desc bool, fn func(item) bool) {
	over := v.live
	if o == byID {
		over = v.created
	}
	okey := func(e *entry) key {
		if o == byID {
			return key{0, e.id}
		}
		return key{e.modified, e.id}
	}
	n := v.m.n
	var gi, oi, step int
	if desc {
		step = -1
		gi = sort.Search(n, func(i int) bool { return !v.genKey(o, i).less(from) }) - 1
		oi = sort.Search(len(over), func(j int) bool { return !okey(over[j]).less(from) }) - 1
	} else {
		step = 1
		gi = sort.Search(n, func(i int) bool { return from.less(v.genKey(o, i)) })
		oi = sort.Search(len(over), func(j int) bool { return from.less(okey(over[j])) })
	}
	for {
		var g item
		gok := false
		for gi >= 0 && gi < n {
			if it, ok := v.genItem(o, gi); ok {
				g, gok = it, true
				break
			}
			gi += step
		}
		ook := oi >= 0 && oi < len(over)
		if !gok && !ook {
			return
		}
		takeGen := gok
		if gok && ook {
			ok := okey(over[oi])
			if desc {
				takeGen = ok.less(g.key(o))
			} else {
				takeGen = g.key(o).less(ok)
			}
		}
		var it item
		if takeGen {
			it = g
			gi += step
		} else {
			it = entryItem(over[oi])
			oi += step
		}
		if !fn(it) {
			return
		}
	}
}

// lookupItem finds a live record by id.
func (v *view) lookupItem(id int64) (item, bool) {
	if e, ok := v.byID[id]; ok {
		if e.deleted {
			return item{}, false
		}
		return entryItem(e), true
	}
	i := id - v.m.idBase
	if i < 0 || i >= int64(v.m.n) {
		return item{}, false
	}
	return item{id: id, mt: v.s.genModified(int(i)), idx: int(i)}, true
}

// row is a record's internal values.
type row struct {
	m    *module
	vals []any  // generated record, aligned with m.fields
	e    *entry // overlay version
	id   int64
	ct   int64 // created, unix nanoseconds
	mt   int64 // modified, unix nanoseconds
}

func (v *view) row(it item) row {
	if it.e != nil {
		return row{m: v.m, e: it.e, id: it.id, ct: it.e.created, mt: it.e.modified}
	}
	vals := make([]any, len(v.m.fields))
	v.m.gen(v.s, it.idx, vals)
	r := row{m: v.m, vals: vals, id: it.id, mt: it.mt}
	r.ct, _ = vals[v.m.byName["Created_Time"].pos].(int64)
	return r
}

// value returns the internal value of field f: string, bool, int64,
// float64, []string, timeValue, lookupID or nil.
func (r row) value(f *field) any {
	switch f.sys {
	case sysModified:
		return timeValue(r.mt)
	case sysCreated:
		return timeValue(r.ct)
	}
	if r.e != nil {
		return r.e.fields[f.apiName]
	}
	return r.vals[f.pos]
}

// timeValue and lookupID mark internal values that render specially.
type (
	timeValue int64 // unix nanoseconds
	lookupID  int64 // id of a lookup's target (a record or a user)
)

// fieldMap returns every field's internal value, for copying a record into
// the overlay.
func (r row) fieldMap() map[string]any {
	out := make(map[string]any, len(r.m.fields))
	for _, f := range r.m.fields {
		if f.apiName == "Created_Time" || f.apiName == "Modified_Time" {
			continue
		}
		if v := r.value(f); v != nil {
			out[f.apiName] = v
		}
	}
	return out
}

func (s *Server) formatTime(nanos int64) string {
	return time.Unix(0, nanos).In(s.loc).Format("2006-01-02T15:04:05-07:00")
}

// lookupName returns the name a lookup to record id of module target shows;
// ok is false when the record no longer exists.
func (sn *snapshot) lookupName(target *module, id int64) (string, bool) {
	v := sn.views[target]
	it, ok := v.lookupItem(id)
	if !ok {
		return "", false
	}
	if it.e != nil {
		name, _ := it.e.fields[target.nameField].(string)
		return name, true
	}
	return target.genName(sn.s, it.idx), true
}

// lookup resolves a lookup as {"name","id"}; nil when the target no longer
// exists.
func (sn *snapshot) lookup(target *module, id int64) map[string]any {
	name, ok := sn.lookupName(target, id)
	if !ok {
		return nil
	}
	return map[string]any{"name": name, "id": strconv.FormatInt(id, 10)}
}

func (s *Server) user(id int64) (user, bool) {
	for _, u := range s.users {
		if u.id == id {
			return u, true
		}
	}
	return user{id: id}, false
}

func (s *Server) owner(id int64) map[string]any {
	u, ok := s.user(id)
	if !ok {
		return map[string]any{"name": nil, "id": strconv.FormatInt(id, 10), "email": nil}
	}
	return map[string]any{"name": u.name, "id": strconv.FormatInt(u.id, 10), "email": u.email}
}

// jsonValue renders a field of r as the JSON API returns it.
func (sn *snapshot) jsonValue(r row, f *field) any {
	v := r.value(f)
	switch x := v.(type) {
	case nil:
		if f.dataType == "multiselectpicklist" {
			return []string{}
		}
		if f.dataType == "boolean" {
			return false
		}
		return nil
	case timeValue:
		return sn.s.formatTime(int64(x))
	case lookupID:
		if f.isOwner() {
			return sn.s.owner(int64(x))
		}
		if l := sn.lookup(f.target, int64(x)); l != nil {
			return l
		}
		return nil
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

// recordJSON renders the listed fields of r plus its id.
func (sn *snapshot) recordJSON(r row, fields []*field) map[string]any {
	out := make(map[string]any, len(fields)+1)
	for _, f := range fields {
		out[f.apiName] = sn.jsonValue(r, f)
	}
	out["id"] = strconv.FormatInt(r.id, 10)
	return out
}

// column is one output column of COQL or Bulk Read: a field, or a part of a
// lookup ("Account_Name.Account_Name", "Account_Name.id", "Owner.email").
type column struct {
	name string
	f    *field // nil for the record id
	sub  string // "", "name", "id", "email", "first_name" or "last_name"
}

// resolveColumn parses a column name of module m. A lookup's parts are its
// target's name field and id; an owner's are the user's name, first_name,
// last_name, email and id.
func (s *Server) resolveColumn(m *module, name string) (column, error) {
	if name == "id" {
		return column{name: "id"}, nil
	}
	base, sub, dotted := strings.Cut(name, ".")
	f, ok := m.field(base)
	if !ok {
		return column{}, fmt.Errorf("%s has no field %q", m.apiName, base)
	}
	if !dotted {
		return column{name: name, f: f}, nil
	}
	switch {
	case f.isLookup():
		switch sub {
		case f.target.nameField:
			return column{name: name, f: f, sub: "name"}, nil
		case "id":
			return column{name: name, f: f, sub: "id"}, nil
		}
	case f.isOwner():
		switch sub {
		case "name", "full_name":
			return column{name: name, f: f, sub: "name"}, nil
		case "id", "email", "first_name", "last_name":
			return column{name: name, f: f, sub: sub}, nil
		}
	}
	return column{}, fmt.Errorf("%s.%s cannot be selected", base, sub)
}

// bulkColumn is how Bulk Read writes a requested column: a plain lookup or
// owner is the linked record's or user's id; its name comes only with the
// dotted form (Account_Name.Account_Name, Owner.last_name).
func bulkColumn(c column) column {
	if c.f != nil && c.sub == "" && (c.f.isLookup() || c.f.isOwner()) {
		c.sub = "id"
	}
	return c
}

// columnValue renders one column of r as JSON.
func (sn *snapshot) columnValue(r row, c column) any {
	if c.f == nil {
		return strconv.FormatInt(r.id, 10)
	}
	if c.sub == "" {
		return sn.jsonValue(r, c.f)
	}
	if v, ok := sn.subValue(r, c); ok {
		return v
	}
	return nil
}

// subValue renders a part of a lookup; ok is false when it is empty. Parts
// are built directly, without the lookup's object: Bulk Read asks for them
// on every row.
func (sn *snapshot) subValue(r row, c column) (string, bool) {
	id, ok := r.value(c.f).(lookupID)
	if !ok {
		return "", false
	}
	if c.f.isOwner() {
		u, known := sn.s.user(int64(id))
		switch {
		case c.sub == "id":
			return strconv.FormatInt(int64(id), 10), true
		case !known:
			return "", false
		case c.sub == "name":
			return u.name, true
		case c.sub == "first_name" || c.sub == "last_name":
			first, last, _ := strings.Cut(u.name, " ")
			if c.sub == "first_name" {
				return first, true
			}
			return last, true
		default:
			return u.email, true
		}
	}
	name, ok := sn.lookupName(c.f.target, int64(id))
	if !ok {
		return "", false
	}
	if c.sub == "id" {
		return strconv.FormatInt(int64(id), 10), true
	}
	return name, true
}

// csvValue renders one column of r as a CSV cell.
func (sn *snapshot) csvValue(r row, c column) string {
	if c.f == nil {
		return strconv.FormatInt(r.id, 10)
	}
	if c.sub != "" {
		v, _ := sn.subValue(r, c)
		return v
	}
	switch x := r.value(c.f).(type) {
	case nil:
		if c.f.dataType == "boolean" {
			return "false"
		}
		return ""
	case string:
		return x
	case timeValue:
		return sn.s.formatTime(int64(x))
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []string:
		return strings.Join(x, ";")
	case lookupID:
		return strconv.FormatInt(int64(x), 10)
	default:
		return fmt.Sprint(x)
	}
}

// normalize checks an admin-supplied value for field f and turns it into the
// internal form.
func (s *Server) normalize(f *field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("field %s (%s) cannot take %v", f.apiName, f.dataType, v)
	}
	switch f.dataType {
	case "lookup", "ownerlookup", "userlookup":
		raw := v
		if obj, ok := v.(map[string]any); ok {
			raw = obj["id"]
		}
		var id int64
		var err error
		switch x := raw.(type) {
		case string:
			id, err = strconv.ParseInt(x, 10, 64)
		case float64:
			id = int64(x)
		case json.Number:
			id, err = x.Int64()
		case int64:
			id = x
		case int:
			id = int64(x)
		case lookupID:
			id = int64(x)
		default:
			return bad()
		}
		if err != nil {
			return bad()
		}
		return lookupID(id), nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		return b, nil
	case "integer", "bigint":
		switch x := v.(type) {
		case float64:
			return int64(x), nil
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return bad()
			}
			return n, nil
		}
		return bad()
	case "double", "currency", "percent":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case json.Number:
			n, err := x.Float64()
			if err != nil {
				return bad()
			}
			return n, nil
		}
		return bad()
	case "multiselectpicklist":
		switch x := v.(type) {
		case []string:
			return slices.Clone(x), nil
		case []any:
			out := make([]string, 0, len(x))
			for _, e := range x {
				str, ok := e.(string)
				if !ok {
					return bad()
				}
				out = append(out, str)
			}
			return out, nil
		}
		return bad()
	case "date":
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		if str == "" {
			return nil, nil
		}
		if _, err := time.Parse(time.DateOnly, str); err != nil {
			return nil, fmt.Errorf("field %s takes a date like 2024-06-05, not %q", f.apiName, str)
		}
		return str, nil
	default:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		if str == "" {
			return nil, nil
		}
		return str, nil
	}
}

// applyChanges validates fields and merges them into base (a copy is made).
// Modified_Time may be given to place a change at a chosen time; it is
// returned separately.
func (s *Server) applyChanges(m *module, base map[string]any,
	changes map[string]any) (map[string]any, *time.Time, error) {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]any{}
	}
	var modified *time.Time
	for name, v := range changes {
		if name == "id" {
			continue
		}
		f, ok := m.field(name)
		if !ok {
			return nil, nil, fmt.Errorf("%s has no field %q", m.apiName, name)
		}
		if name == "Modified_Time" {
			str, ok := v.(string)
			t, err := time.Parse(time.RFC3339, str)
			if !ok || err != nil {
				return nil, nil, fmt.Errorf("Modified_Time takes an RFC 3339 time, not %v", v)
			}
			modified = &t
			continue
		}
		if f.readOnly {
			return nil, nil, fmt.Errorf("field %s is read-only", name)
		}
		nv, err := s.normalize(f, v)
		if err != nil {
			return nil, nil, err
		}
		if nv == nil {
			delete(out, name)
		} else {
			out[name] = nv
		}
	}
	if m.apiName == "Contacts" {
		first, _ := out["First_Name"].(string)
		last, _ := out["Last_Name"].(string)
		if full := strings.TrimSpace(first + " " + last); full != "" {
			out["Full_Name"] = full
		} else {
			delete(out, "Full_Name")
		}
	}
	for _, f := range m.fields {
		if f.mandatory {
			if str, _ := out[f.apiName].(string); str == "" {
				return nil, nil, fmt.Errorf("field %s is required", f.apiName)
			}
		}
	}
	return out, modified, nil
}

// knownModule is moduleByName for the methods tests call, which say what to
// use instead.
func (s *Server) knownModule(name string) (*module, error) {
	m, ok := s.moduleByName(name)
	if !ok {
		return nil, fmt.Errorf("no module %q: use Contacts or Accounts", name)
	}
	return m, nil
}

func (s *Server) nowNanos() int64 { return s.now().Truncate(time.Second).UnixNano() }

// CreateRecord adds a record to module with the given fields (API names to
// JSON-like values; lookups as an id string or {"id": ...}) and returns its
// id. Created_Time and Modified_Time are Now; Modified_Time may be given as
// an RFC 3339 string to place the record at a chosen time.
func (s *Server) CreateRecord(module string, fields map[string]any) (string, error) {
	m, err := s.knownModule(module)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowNanos()
	f, modified, err := s.applyChanges(m, nil, fields)
	if err != nil {
		return "", err
	}
	id := s.nextID
	s.nextID++
	e := &entry{id: id, idx: -1, created: now, modified: now, fields: f}
	if modified != nil {
		e.modified = modified.UnixNano()
	}
	m.overlay[id] = e
	m.view = nil
	s.changed(m, OpInsert, strconv.FormatInt(id, 10))
	return strconv.FormatInt(id, 10), nil
}

// Create is CreateRecord for tests: it returns "" when the record is refused.
func (s *Server) Create(module string, fields map[string]any) string {
	id, err := s.CreateRecord(module, fields)
	if err != nil {
		return ""
	}
	return id
}

// genIdx is the generated index a new overlay entry for r replaces: the
// one r's own entry replaced, or r's when r is still as generated.
func (r row) genIdx() int {
	if r.e != nil {
		return r.e.idx
	}
	return int(r.id - r.m.idBase)
}

// current finds the live record id of m. The caller holds s.mu.
func (s *Server) currentLocked(m *module, id string) (row, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return row{}, errNotFound
	}
	v := s.pointSnapshotLocked().views[m]
	if e, ok := v.byID[n]; ok && e.deleted {
		return row{}, errDeleted
	}
	it, ok := v.lookupItem(n)
	if !ok {
		return row{}, errNotFound
	}
	return v.row(it), nil
}

// Update changes fields of a record; its Modified_Time becomes Now unless
// the fields give one.
func (s *Server) Update(module, id string, fields map[string]any) error {
	m, err := s.knownModule(module)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.currentLocked(m, id)
	if err != nil {
		return fmt.Errorf("updating %s %s: %w", m.apiName, id, err)
	}
	f, modified, err := s.applyChanges(m, r.fieldMap(), fields)
	if err != nil {
		return fmt.Errorf("updating %s %s: %w", m.apiName, id, err)
	}
	e := &entry{id: r.id, idx: r.genIdx(), created: r.ct, modified: s.nowNanos(), fields: f}
	if modified != nil {
		e.modified = modified.UnixNano()
	}
	m.overlay[r.id] = e
	m.view = nil
	s.changed(m, OpUpdate, strconv.FormatInt(r.id, 10))
	return nil
}

// Delete moves a record to the recycle bin: it disappears from records,
// COQL and Bulk Read and shows in the deleted-records API as "recycle".
func (s *Server) Delete(module, id string) error { return s.remove(module, id, "recycle") }

// DeletePermanently deletes a record for good; the deleted-records API shows
// it as "permanent".
func (s *Server) DeletePermanently(module, id string) error {
	return s.remove(module, id, "permanent")
}

func (s *Server) remove(module, id, kind string) error {
	m, err := s.knownModule(module)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.currentLocked(m, id)
	if err != nil {
		return fmt.Errorf("deleting %s %s: %w", m.apiName, id, err)
	}
	now := s.now().Truncate(time.Second)
	name, _ := r.value(m.byName[m.nameField]).(string)
	m.overlay[r.id] = &entry{id: r.id, idx: r.genIdx(), created: r.ct, modified: now.UnixNano(), deleted: true}
	m.deletions = append(m.deletions, deletion{id: r.id, displayName: name, kind: kind, at: now, by: s.users[0]})
	m.view = nil
	s.changed(m, OpDelete, strconv.FormatInt(r.id, 10))
	return nil
}

// Record returns a live record with every field as the JSON API renders it,
// plus "id".
func (s *Server) Record(module, id string) (map[string]any, bool) {
	m, ok := s.moduleByName(module)
	if !ok {
		return nil, false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := s.pointSnapshotLocked()
	v := sn.views[m]
	it, ok := v.lookupItem(n)
	if !ok {
		return nil, false
	}
	return sn.recordJSON(v.row(it), m.fields), true
}

// Count returns the number of live records of module.
func (s *Server) Count(module string) int {
	m, ok := s.moduleByName(module)
	if !ok {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := m.n
	for _, e := range m.overlay {
		switch {
		case e.deleted && e.idx >= 0:
			n--
		case !e.deleted && e.idx < 0:
			n++
		}
	}
	return n
}

// Records iterates over the live records of module in id order, yielding
// each id and the record as Record returns it. It reads one snapshot, so
// changes made while iterating are not seen.
func (s *Server) Records(module string) iter.Seq2[string, map[string]any] {
	return func(yield func(string, map[string]any) bool) {
		m, ok := s.moduleByName(module)
		if !ok {
			return
		}
		sn := s.snapshot()
		v := sn.views[m]
		v.scan(byID, minKey, false, func(it item) bool {
			return yield(strconv.FormatInt(it.id, 10), sn.recordJSON(v.row(it), m.fields))
		})
	}
}
