// Package config loads Replicator's HCL pipeline files: the replicator
// settings, source and destination connector blocks, and the pipelines that
// join them. Connector blocks stay undecoded until the connector's plugin has
// told the host its schema; see Connector.Decode.
package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// DefaultStateFile is the state file used when the replicator block does not
// name one, relative to the configuration's folder.
const DefaultStateFile = "replicator.db"

// MinInterval is the shortest interval a pipeline may be scheduled at.
const MinInterval = time.Second

// MinFullRefreshEvery is the shortest period of a pipeline's full refresh:
// a full refresh reads every record again.
const MinFullRefreshEvery = time.Minute

// Connector kinds, as written in block types and references.
const (
	KindSource      = "source"
	KindDestination = "destination"
)

// Config is a loaded configuration.
type Config struct {
	// Path is the absolute path of the file or folder that was loaded.
	Path string
	// Dir is the absolute folder relative paths in the configuration resolve
	// against: the folder of a single file, or the loaded folder itself.
	Dir string
	// StateFile is the absolute path of the state store.
	StateFile string
	// Host holds the host block's settings, defaults filled in.
	Host         Host
	State        State // the state block; StateFile is used without one
	Sources      []*Connector
	Destinations []*Connector
	Pipelines    []*Pipeline

	// files holds every parsed file by the name its diagnostics carry, so
	// that WriteDiagnostics can print source snippets.
	files map[string]*hcl.File
}

// Connector is a source or destination block. Its body is decoded by Decode
// once the connector's plugin has reported its configuration schema.
type Connector struct {
	Kind      string // KindSource or KindDestination
	Type      string // the plugin type, e.g. "zoho"
	Name      string // the block's own name, e.g. "eu"
	Body      hcl.Body
	DeclRange hcl.Range

	dir string // where file() paths resolve
}

// Ref returns the reference pipelines use for the connector, such as
// "source.zoho.eu".
func (c *Connector) Ref() string {
	return c.Kind + "." + c.Type + "." + c.Name
}

// Pipeline copies streams from a source to a destination.
type Pipeline struct {
	Name        string
	Source      *Connector
	Destination *Connector
	Streams     []string
	// Interval is how often the scheduler runs the pipeline; zero means the
	// pipeline only runs when asked to.
	Interval time.Duration
	// FullRefreshEvery, when set, reads the streams from scratch once their
	// last full refresh is this old, so that deletions at a source without
	// a deletions API reach the destination; zero means only on request.
	FullRefreshEvery time.Duration
	DeclRange        hcl.Range
}

// Pipeline returns the pipeline called name.
func (c *Config) Pipeline(name string) (*Pipeline, bool) {
	for _, p := range c.Pipelines {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// Source returns the source with reference ref, written "zoho.eu" or
// "source.zoho.eu".
func (c *Config) Source(ref string) (*Connector, bool) {
	return findConnector(c.Sources, KindSource, ref)
}

// Destination returns the destination with reference ref, written
// "roger365.main" or "destination.roger365.main".
func (c *Config) Destination(ref string) (*Connector, bool) {
	return findConnector(c.Destinations, KindDestination, ref)
}

func findConnector(list []*Connector, kind, ref string) (*Connector, bool) {
	ref = strings.TrimPrefix(ref, kind+".")
	for _, c := range list {
		if c.Type+"."+c.Name == ref {
			return c, true
		}
	}
	return nil, false
}

func rootSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "replicator"},
			{Type: "host"},
			{Type: "state"},
			{Type: KindSource, LabelNames: []string{"type", "name"}},
			{Type: KindDestination, LabelNames: []string{"type", "name"}},
			{Type: "pipeline", LabelNames: []string{"name"}},
		},
	}
}

func replicatorSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "state_file"}},
	}
}

func pipelineSchema() *hcl.BodySchema {
	return &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "source", Required: true},
			{Name: "destination", Required: true},
			{Name: "streams", Required: true},
			{Name: "interval"},
			{Name: "full_refresh_every"},
		},
	}
}

// configFiles returns a Config of the configuration at path with its
// folder and default state file, and the .hcl files to read.
func configFiles(path string) (*Config, []string, hcl.Diagnostics) {
	c := &Config{Path: path, files: map[string]*hcl.File{}}
	abs, err := filepath.Abs(path)
	if err != nil {
		return c, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot resolve the configuration path",
			Detail:   fmt.Sprintf("Resolving %s failed: %v. Give the path of an .hcl file or a folder of them.", path, err),
		}}
	}
	c.Path = abs
	info, err := os.Stat(path)
	if err != nil {
		return c, nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the configuration",
			Detail:   fmt.Sprintf("%v. Give the path of an .hcl file or a folder of them.", err),
		}}
	}

	var names []string
	if info.IsDir() {
		c.Dir = abs
		entries, err := os.ReadDir(path)
		if err != nil {
			return c, nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read the configuration folder",
				Detail:   fmt.Sprintf("%v. Check that replicator may read the folder.", err),
			}}
		}
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, filepath.Join(path, e.Name()))
			}
		}
		if len(names) == 0 {
			return c, nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "No configuration files",
				Detail:   fmt.Sprintf("The folder %s holds no .hcl files. Add your pipeline files to it, or give the path of one file.", path),
			}}
		}
	} else {
		c.Dir = filepath.Dir(abs)
		names = []string{path}
	}
	c.StateFile = filepath.Join(c.Dir, DefaultStateFile)
	return c, names, nil
}

// Load reads the configuration at path: one .hcl file, or a folder whose
// .hcl files are read together as one configuration.
//
// Load always returns a Config, even when diags has errors, so that the
// caller can print the diagnostics with WriteDiagnostics; a Config that came
// with errors is good for nothing else.
func Load(path string) (*Config, hcl.Diagnostics) {
	return load(path, nil, nil)
}

// load is Load with the files named in sources read from there instead,
// and the blocks of the files in leftOut left out: a pipeline naming a
// connector block of theirs is an error that says so.
func load(path string, sources map[string][]byte, leftOut map[string]bool) (*Config, hcl.Diagnostics) {
	c, names, diags := configFiles(path)
	if diags.HasErrors() {
		return c, diags
	}
	c.Host = DefaultHost()

	files, diags := c.parseFiles(names, nil, &fileSet{sources: sources, leftOut: leftOut})
	diags = slices.DeleteFunc(diags, func(d *hcl.Diagnostic) bool { return leftOut[diagFile(d)] })
	if diags.HasErrors() {
		// Syntax errors leave partial bodies whose further errors would
		// only confuse, and the expressions refused are not evaluated.
		return c, diags
	}

	// Every expression of the configuration charges one expansion, the
	// connector blocks' too: Load holds the whole configuration to the
	// bounds, and Decode each block again.
	x := newExpansion()
	ctxOf := func(b *hcl.Block) *hcl.EvalContext { return evalContext(c.Dir, b.DefRange.Filename, x) }
	var (
		replicatorBlock *hcl.Block
		hostBlock       *hcl.Block
		pipelineBlocks  []*hcl.Block
		connectors      = map[string]*Connector{}
		unavailable     = map[string]string{} // connector blocks left out, by reference: their files
	)
	for _, f := range files {
		if name := fileName(f); leftOut[name] {
			for _, b := range connectorBlocks(f) {
				unavailable[b.Type+"."+b.Labels[0]+"."+b.Labels[1]] = name
			}
			continue
		}
		content, d := f.Body.Content(rootSchema())
		diags = append(diags, d...)
		for _, b := range content.Blocks {
			switch b.Type {
			case "replicator":
				if replicatorBlock != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate replicator block",
						Detail:   fmt.Sprintf("A replicator block is already declared at %s. Keep one and merge the settings into it.", replicatorBlock.DefRange),
						Subject:  b.DefRange.Ptr(),
					})
					continue
				}
				replicatorBlock = b
				diags = append(diags, c.decodeReplicator(b, ctxOf(b))...)
			case "host":
				if hostBlock != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Duplicate host block",
						Detail:   fmt.Sprintf("A host block is already declared at %s. Keep one and merge the settings into it.", hostBlock.DefRange),
						Subject:  b.DefRange.Ptr(),
					})
					continue
				}
				hostBlock = b
				diags = append(diags, c.decodeHost(b, ctxOf(b))...)
			case "state":
				diags = append(diags, c.decodeState(b, ctxOf(b))...)
			case KindSource, KindDestination:
				conn, d := c.decodeConnector(b)
				diags = append(diags, d...)
				if conn == nil {
					continue
				}
				if prev, ok := connectors[conn.Ref()]; ok {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  fmt.Sprintf("Duplicate %s block", b.Type),
						Detail: fmt.Sprintf("A %s %q %q block is already declared at %s. Give one of them another name.",
							b.Type, conn.Type, conn.Name, prev.DeclRange),
						Subject: b.DefRange.Ptr(),
					})
					continue
				}
				connectors[conn.Ref()] = conn
				diags = append(diags, chargeConnector(conn, ctxOf(b))...)
				if conn.Kind == KindSource {
					c.Sources = append(c.Sources, conn)
				} else {
					c.Destinations = append(c.Destinations, conn)
				}
			case "pipeline":
				pipelineBlocks = append(pipelineBlocks, b)
			}
		}
	}

	// Pipelines are decoded after every connector is known, since they may
	// refer to connectors declared later or in another file.
	seen := map[string]*Pipeline{}
	for _, b := range pipelineBlocks {
		p, d := c.decodePipeline(b, ctxOf(b), connectors, unavailable)
		diags = append(diags, d...)
		if p == nil {
			continue
		}
		if prev, ok := seen[p.Name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate pipeline block",
				Detail:   fmt.Sprintf("A pipeline %q is already declared at %s. Give one of them another name.", p.Name, prev.DeclRange),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		seen[p.Name] = p
		c.Pipelines = append(c.Pipelines, p)
	}
	return c, explainFuncErrors(diags)
}

// fileSet says how load reads some of the files (see load).
type fileSet struct {
	sources map[string][]byte
	leftOut map[string]bool
}

// parseFiles reads and parses the named files, skipping those whose
// source skip says to when it is set, and reading those of set as it
// says. A file left out does not count towards the configuration's
// bounds: its errors are its own, and the other files load.
func (c *Config) parseFiles(names []string, skip func(src []byte) bool, set *fileSet) ([]*hcl.File, hcl.Diagnostics) {
	if set == nil {
		set = &fileSet{}
	}
	var diags hcl.Diagnostics
	parser := hclparse.NewParser()
	var files []*hcl.File
	var size int64 // of the files read so far
	tokens := 0    // in them
	for _, name := range names {
		if size > MaxConfigSize || tokens > MaxTokens {
			break // reported; each file after would only say it again
		}
		counted := !set.leftOut[name]
		room, tokenRoom := MaxConfigSize-size, MaxTokens-tokens
		if !counted {
			room, tokenRoom = MaxConfigFileSize, MaxTokens
		}
		src, read, d := readConfigFile(name, room)
		if old, ok := set.sources[name]; ok {
			src, read, d = old, int64(len(old)), nil
		}
		if counted {
			size += read
		}
		if d == nil && skip != nil && skip(src) {
			continue
		}
		if d == nil {
			var n int
			n, d = checkTokens(src, name, tokenRoom)
			if counted {
				tokens += n
			}
		}
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		f, d := parser.ParseHCL(src, name)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		files = append(files, f)
		if !d.HasErrors() {
			diags = append(diags, checkExpressions(f.Body)...)
		}
	}
	c.files = parser.Files()
	return files, diags
}

// readConfigFile reads one configuration file, a regular file of at most
// MaxConfigFileSize bytes, and of at most room bytes, what MaxConfigSize
// leaves of the configuration. It returns how many bytes it read, of a
// file too large too.
func readConfigFile(name string, room int64) ([]byte, int64, hcl.Diagnostics) {
	src, err := readRegular(name, min(MaxConfigFileSize, room))
	var notRegular *notRegularError
	var tooLarge *tooLargeError
	switch {
	case err == nil:
		return src, int64(len(src)), nil
	case errors.As(err, &notRegular):
		return nil, 0, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Configuration file is not a regular file",
			Detail:   fmt.Sprintf("%v. Give the path of an .hcl file or a folder of them.", err),
		}}
	case errors.As(err, &tooLarge) && tooLarge.limit == MaxConfigFileSize:
		return nil, int64(len(tooLarge.head)), errorAt(tooLarge.where(), "Configuration file too large", fmt.Sprintf(
			"%v, the most replicator reads from one configuration file, and passes it here. Split it into several .hcl files in one folder and give the folder.", err))
	case errors.As(err, &tooLarge):
		return nil, int64(len(tooLarge.head)), errorAt(tooLarge.where(), "Configuration too large", fmt.Sprintf(
			"The configuration's files hold more than %s together, the most replicator reads for one configuration, and pass it here in %s. "+
				"Shorten the files, or spread the pipelines over several configurations, each run by hosts of its own.",
			sizeText(MaxConfigSize), filepath.Base(name)))
	}
	return nil, 0, hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Cannot read the configuration",
		Detail:   fmt.Sprintf("%v. Check that replicator may read the file.", err),
	}}
}

// chargeConnector evaluates the attributes of a connector block, whose
// schema its plugin has not said yet, for what they read through env() and
// file(), and reports only a passed expansion bound: other faults wait for
// Decode, which knows the schema, so that commands that do not decode the
// block, such as status, do not need its secrets.
func chargeConnector(conn *Connector, ctx *hcl.EvalContext) hcl.Diagnostics {
	attrs, _ := conn.Body.JustAttributes()
	list := slices.SortedFunc(maps.Values(attrs), func(a, b *hcl.Attribute) int {
		return a.Range.Start.Byte - b.Range.Start.Byte
	})
	var diags hcl.Diagnostics
	for _, attr := range list {
		_, d := attr.Expr.Value(ctx)
		for _, diag := range d {
			if fe := funcErrorOf(diag); fe != nil && fe.overBound {
				diags = append(diags, diag)
			}
		}
	}
	return diags
}

func (c *Config) decodeReplicator(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := b.Body.Content(replicatorSchema())
	attr, ok := content.Attributes["state_file"]
	if !ok {
		return diags
	}
	v, d := attr.Expr.Value(ctx)
	diags = append(diags, d...)
	if d.HasErrors() {
		return diags
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() || s.AsString() == "" {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid state_file",
			Detail:   fmt.Sprintf("state_file takes the path of the state file as a string, such as %q; relative paths start at the configuration's folder.", DefaultStateFile),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	p := s.AsString()
	if !filepath.IsAbs(p) {
		p = filepath.Join(c.Dir, p)
	}
	c.StateFile = filepath.Clean(p)
	return diags
}

// checkLabel reports a block label that cannot appear in a reference or a
// plugin's file name.
func checkLabel(b *hcl.Block, i int, what string) hcl.Diagnostics {
	if hclsyntax.ValidIdentifier(b.Labels[i]) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s %s", b.Type, what),
		Detail: fmt.Sprintf("%q is not a valid %s: use letters, digits, underscores and dashes, starting with a letter or underscore.",
			b.Labels[i], what),
		Subject: b.LabelRanges[i].Ptr(),
	}}
}

func (c *Config) decodeConnector(b *hcl.Block) (*Connector, hcl.Diagnostics) {
	diags := checkLabel(b, 0, "type")
	diags = append(diags, checkLabel(b, 1, "name")...)
	if diags.HasErrors() {
		return nil, diags
	}
	return &Connector{
		Kind:      b.Type,
		Type:      b.Labels[0],
		Name:      b.Labels[1],
		Body:      b.Body,
		DeclRange: b.DefRange,
		dir:       c.Dir,
	}, nil
}

func (c *Config) decodePipeline(b *hcl.Block, ctx *hcl.EvalContext, connectors map[string]*Connector,
	unavailable map[string]string) (*Pipeline, hcl.Diagnostics) {
	diags := checkLabel(b, 0, "name")
	if diags.HasErrors() {
		return nil, diags
	}
	p := &Pipeline{Name: b.Labels[0], DeclRange: b.DefRange}
	content, d := b.Body.Content(pipelineSchema())
	diags = append(diags, d...)

	if attr, ok := content.Attributes["source"]; ok {
		var d hcl.Diagnostics
		p.Source, d = resolveRef(attr, KindSource, connectors, unavailable)
		diags = append(diags, d...)
	}
	if attr, ok := content.Attributes["destination"]; ok {
		var d hcl.Diagnostics
		p.Destination, d = resolveRef(attr, KindDestination, connectors, unavailable)
		diags = append(diags, d...)
	}
	if attr, ok := content.Attributes["streams"]; ok {
		var d hcl.Diagnostics
		p.Streams, d = decodeStreams(attr, ctx)
		diags = append(diags, d...)
	}
	if attr, ok := content.Attributes["interval"]; ok {
		var d hcl.Diagnostics
		p.Interval, d = decodeInterval(attr, ctx)
		diags = append(diags, d...)
	}
	if attr, ok := content.Attributes["full_refresh_every"]; ok {
		var d hcl.Diagnostics
		p.FullRefreshEvery, d = decodeDuration(attr, ctx, MinFullRefreshEvery)
		diags = append(diags, d...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// resolveRef turns a pipeline's source or destination attribute, a bare
// reference like source.zoho.eu, into the connector it names. A connector
// in unavailable is declared in a file left out (see LoadTenants).
func resolveRef(attr *hcl.Attribute, want string, connectors map[string]*Connector,
	unavailable map[string]string) (*Connector, hcl.Diagnostics) {
	invalid := hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s reference", want),
		Detail: fmt.Sprintf("The %s attribute takes a reference to a %s block, written without quotes as %s.<type>.<name>, such as %s.",
			attr.Name, want, want, exampleRef(want)),
		Subject: attr.Expr.Range().Ptr(),
	}}
	trav, d := hcl.AbsTraversalForExpr(attr.Expr)
	if d.HasErrors() || len(trav) != 3 {
		return nil, invalid
	}
	typ, ok1 := trav[1].(hcl.TraverseAttr)
	name, ok2 := trav[2].(hcl.TraverseAttr)
	root := trav.RootName()
	if !ok1 || !ok2 || (root != KindSource && root != KindDestination) {
		return nil, invalid
	}
	ref := root + "." + typ.Name + "." + name.Name
	if root != want {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("A %s is given where a %s is expected", root, want),
			Detail: fmt.Sprintf("%s is a %s block, but the %s attribute takes a %s block, such as %s.",
				ref, root, attr.Name, want, exampleRef(want)),
			Subject: attr.Expr.Range().Ptr(),
		}}
	}
	conn, ok := connectors[ref]
	if file, left := unavailable[ref]; !ok && left {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Reference to a %s in a file with errors", want),
			Detail: fmt.Sprintf("%s is declared in %s, which has errors and is left out until they are fixed; "+
				"this file is left out with it.", ref, filepath.Base(file)),
			Subject: attr.Expr.Range().Ptr(),
		}}
	}
	if !ok {
		var declared []string
		for r, c := range connectors {
			if c.Kind == want {
				declared = append(declared, r)
			}
		}
		slices.Sort(declared)
		hint := fmt.Sprintf("No %s blocks are declared yet.", want)
		if len(declared) > 0 {
			hint = fmt.Sprintf("Declared %ss: %s.", want, strings.Join(declared, ", "))
		}
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Reference to undeclared %s", want),
			Detail: fmt.Sprintf("No %s %q %q block is declared. Declare it, or refer to one that is. %s",
				want, typ.Name, name.Name, hint),
			Subject: attr.Expr.Range().Ptr(),
		}}
	}
	return conn, nil
}

func exampleRef(kind string) string {
	if kind == KindSource {
		return "source.zoho.eu"
	}
	return "destination.roger365.main"
}

func decodeStreams(attr *hcl.Attribute, ctx *hcl.EvalContext) ([]string, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	invalid := func(summary, detail string) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	list, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || list.IsNull() || !list.IsWhollyKnown() {
		return nil, invalid("Invalid streams value",
			`streams takes a list of stream names, such as ["contacts"].`)
	}
	if list.LengthInt() == 0 {
		return nil, invalid("Empty streams list",
			`List at least one stream for the pipeline to copy, such as streams = ["contacts"].`)
	}
	var streams []string
	for _, e := range list.AsValueSlice() {
		if e.IsNull() || e.AsString() == "" {
			return nil, invalid("Invalid stream name",
				`Every entry of streams is a stream name, such as "contacts"; remove empty or null entries.`)
		}
		s := e.AsString()
		if slices.Contains(streams, s) {
			return nil, invalid("Duplicate stream",
				fmt.Sprintf("The stream %q is listed twice. List each stream once.", s))
		}
		streams = append(streams, s)
	}
	return streams, diags
}

func decodeInterval(attr *hcl.Attribute, ctx *hcl.EvalContext) (time.Duration, hcl.Diagnostics) {
	return decodeDuration(attr, ctx, MinInterval)
}

// decodeDuration decodes a duration written as a string, such as "15m", of
// at least least; a null value is zero.
func decodeDuration(attr *hcl.Attribute, ctx *hcl.EvalContext, least time.Duration) (time.Duration, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(ctx)
	if diags.HasErrors() {
		return 0, diags
	}
	if v.IsNull() {
		return 0, diags
	}
	subject := attr.Expr.Range().Ptr()
	s, err := convert.Convert(v, cty.String)
	if err != nil || !s.IsKnown() {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   fmt.Sprintf(`%s takes a duration as a string, such as "15m" or "1h30m".`, attr.Name),
			Subject:  subject,
		})
	}
	d, err := time.ParseDuration(s.AsString())
	if err != nil {
		detail := fmt.Sprintf(`%q is not a duration. Write it with a unit, such as "30s", "15m" or "1h30m".`, s.AsString())
		if strings.HasSuffix(s.AsString(), "d") {
			detail += ` There is no unit of days: write "24h" for a day, "168h" for a week.`
		}
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   detail,
			Subject:  subject,
		})
	}
	if d < least {
		detail := fmt.Sprintf(`%s must be at least "%s".`, attr.Name, least)
		switch attr.Name {
		case "interval":
			detail = fmt.Sprintf(`A pipeline runs at most once every %s; use an interval of at least "%s", or leave interval out to run the pipeline only when asked.`,
				least, least)
		case "full_refresh_every":
			detail = fmt.Sprintf(`A full refresh reads every record again; use a period of at least "%s", such as "24h", or leave full_refresh_every out to refresh fully only with replicator sync -full-refresh.`,
				least)
		}
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  strings.ToUpper(attr.Name[:1]) + attr.Name[1:] + " too short",
			Detail:   detail,
			Subject:  subject,
		})
	}
	return d, diags
}
