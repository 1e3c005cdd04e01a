package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// deep repeats open n times around the value 1, closed by close.
func deep(open, close string, n int) string {
	return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
}

func TestLoadRefusesDeepNesting(t *testing.T) {
	// The issue's case, 100k brackets, overflowed the parser's stack;
	// the other shapes need not be as large to show the bound.
	const issue, n = 100000, 20 * MaxNesting
	// Load checks the nesting before anything else, so the attribute
	// need not be one replicator knows.
	const prefix, col = "a = ", 5
	tests := []struct {
		name string
		src  string
		// the position of the first opener past MaxNesting
		line, col int
	}{
		{"brackets", prefix + deep("[", "]", issue) + "\n", 1, col + MaxNesting},
		{"parentheses", prefix + deep("(", ")", n) + "\n", 1, col + MaxNesting},
		{"unclosed brackets", prefix + strings.Repeat("[", n), 1, col + MaxNesting},
		// "${ is two levels in three characters.
		{"template interpolations", prefix + deep(`"${`, `}"`, n) + "\n", 1, col + 3*(MaxNesting/2)},
		{"blocks", strings.Repeat("b {\n", n) + strings.Repeat("}\n", n), MaxNesting + 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, diags := loadSource(t, tt.src)
			if len(diags) != 1 || diags[0].Summary != "Configuration nested too deeply" {
				t.Fatalf("want one nesting diagnostic, got %d:\n%s", len(diags), diagsText(c, diags))
			}
			d := diags[0]
			if d.Subject == nil || filepath.Base(d.Subject.Filename) != "main.hcl" {
				t.Fatalf("subject = %v, want a place in main.hcl", d.Subject)
			}
			if got, want := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column), fmt.Sprintf("%d:%d", tt.line, tt.col); got != want {
				t.Errorf("subject at %s, want %s", got, want)
			}
			if !strings.Contains(d.Detail, fmt.Sprint(MaxNesting)) {
				t.Errorf("detail %q does not state the bound", d.Detail)
			}
			out := diagsText(c, diags)
			if !strings.Contains(out, "main.hcl line") || len(out) > 2000 {
				t.Errorf("printed diagnostic lacks its position or is too long (%d bytes):\n%.2000s", len(out), out)
			}
		})
	}
}

func TestNestingBound(t *testing.T) {
	for _, tt := range []struct {
		src  string
		deep bool
	}{
		{"a = " + deep("[", "]", MaxNesting), false},
		{"a = " + deep("[", "]", MaxNesting+1), true},
		{"a = " + deep("{ b = ", "}", MaxNesting), false},
		{"a = " + deep("{ b = ", "}", MaxNesting+1), true},
		// Quotes and interpolations alternate: each pair is two levels.
		{"a = " + deep(`"${`, `}"`, MaxNesting/2), false},
		{"a = " + deep(`"${`, `}"`, MaxNesting/2+1), true},
		{"a = <<EOT\n" + deep(`${"`, `"}`, MaxNesting/2-1) + "\nEOT\n", false},
		{"a = <<EOT\n" + deep(`${"`, `"}`, MaxNesting/2) + "\nEOT\n", true},
		// Siblings do not add up.
		{"a = " + deep("(", ")", MaxNesting) + "\nb = " + deep("(", ")", MaxNesting) + "\n", false},
		// Brackets in strings and comments are text.
		{`a = "` + strings.Repeat("[", 2*MaxNesting) + `"` + "\n# " + strings.Repeat("(", 2*MaxNesting), false},
	} {
		_, diags := checkTokens([]byte(tt.src), "x.hcl", MaxTokens)
		if diags.HasErrors() != tt.deep {
			t.Errorf("checkTokens(%.40q…) = %v, want too deep: %v", tt.src, diags, tt.deep)
		}
		if !tt.deep {
			// What the check lets through, the parser parses.
			if _, d := hclsyntax.ParseConfig([]byte(tt.src), "x.hcl", hcl.InitialPos); d.HasErrors() {
				t.Errorf("parse %.40q…: %v", tt.src, d)
			}
		}
	}
}

func TestFileReadsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	sparse := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		return p
	}
	largest := filepath.Join(dir, "largest")
	if err := os.WriteFile(largest, []byte(strings.Repeat("a", MaxFileFuncSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	tooLarge := sparse("too-large", MaxFileFuncSize+1)
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, summary string
	}{
		{"device", os.DevNull, "Not a regular file"},
		{"endless device", "/dev/zero", "Not a regular file"},
		{"folder", folder, "Not a regular file"},
		{"too large", tooLarge, "File too large"},
		{"as large as allowed", largest, ""},
	}
	if _, err := os.Stat("/dev/zero"); err != nil {
		tests = tests[:1] // no /dev/zero on this system
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fmt.Sprintf("replicator {\n  state_file = file(%q)\n}\n", tt.path)
			c, diags := loadSource(t, src)
			if tt.summary == "" {
				if len(diags) > 0 || len(filepath.Base(c.StateFile)) != MaxFileFuncSize {
					t.Fatalf("want the file read whole, got:\n%s", diagsText(c, diags))
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != tt.summary {
				t.Fatalf("want %q, got:\n%s", tt.summary, diagsText(c, diags))
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Start.Line != 2 || d.Subject.Start.Column != 16 {
				t.Errorf("subject = %v, want main.hcl:2,16", d.Subject)
			}
			if !strings.Contains(d.Detail, tt.path) {
				t.Errorf("detail %q does not name the path", d.Detail)
			}
			if tt.summary == "File too large" && !strings.Contains(d.Detail, "1 MiB") {
				t.Errorf("detail %q does not state the limit", d.Detail)
			}
		})
	}
}

func TestLoadReadsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	large := filepath.Join(dir, "large.hcl")
	f, err := os.Create(large)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxConfigFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	link := filepath.Join(t.TempDir(), "zero.hcl")
	if err := os.Symlink(os.DevNull, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, summary string
	}{
		{os.DevNull, "Configuration file is not a regular file"},
		{filepath.Dir(link), "Configuration file is not a regular file"}, // a folder holding it
		{large, "Configuration file too large"},
	} {
		c, diags := Load(tt.path)
		if len(diags) != 1 || diags[0].Summary != tt.summary {
			t.Errorf("Load(%s): want %q, got:\n%s", tt.path, tt.summary, diagsText(c, diags))
		}
	}
}

// wantDiag checks that diags is one error of summary at file:line:col.
func wantDiag(t *testing.T, c *Config, diags hcl.Diagnostics, summary, file string, line, col int) {
	t.Helper()
	if len(diags) != 1 || diags[0].Summary != summary {
		t.Fatalf("want one %q, got %d:\n%.3000s", summary, len(diags), diagsText(c, diags))
	}
	d := diags[0]
	if d.Severity != hcl.DiagError || d.Subject == nil {
		t.Fatalf("diagnostic %v is no error with a subject", d)
	}
	if got, want := fmt.Sprintf("%s:%d:%d", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column),
		fmt.Sprintf("%s:%d:%d", file, line, col); got != want {
		t.Errorf("subject at %s, want %s", got, want)
	}
}

func TestLoadBoundsConfigurationSize(t *testing.T) {
	// Lines of 100 bytes, one token each: MaxConfigFileSize passes in line 10486, column 77.
	line := "# " + strings.Repeat("x", 97) + "\n"
	lines := func(n int) string { return strings.Repeat(line, n) }
	tests := []struct {
		name    string
		files   map[string]string
		summary string // empty when the configuration loads
		file    string
		line    int
		col     int
	}{
		{
			name:  "one file as large as allowed",
			files: map[string]string{"main.hcl": lines(MaxConfigFileSize/100) + strings.Repeat("#", MaxConfigFileSize%100)},
		},
		{
			name:    "one file too large",
			files:   map[string]string{"main.hcl": lines(MaxConfigFileSize/100 + 1)},
			summary: "Configuration file too large",
			file:    "main.hcl", line: MaxConfigFileSize/100 + 1, col: MaxConfigFileSize%100 + 1,
		},
		{
			// Four files of 1,000,000 bytes, then a fifth that passes
			// MaxConfigSize at its byte 194,304: line 1944, column 5.
			name: "files too large together",
			files: map[string]string{
				"a.hcl": lines(10000), "b.hcl": lines(10000), "c.hcl": lines(10000), "d.hcl": lines(10000),
				"e.hcl": lines(10000),
			},
			summary: "Configuration too large",
			file:    "e.hcl", line: 1944, col: 5,
		},
		{
			// Line breaks are tokens, and each file ends in one more, its
			// end: the third file passes MaxTokens at the token of index
			// MaxTokens - 2·200,001.
			name: "files of too many tokens together",
			files: map[string]string{
				"a.hcl": strings.Repeat("\n", 200_000), "b.hcl": strings.Repeat("\n", 200_000), "c.hcl": strings.Repeat("\n", 200_000),
			},
			summary: "Configuration has too many tokens",
			file:    "c.hcl", line: MaxTokens - 2*200_001 + 1, col: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			path := dir
			if len(tt.files) == 1 {
				path = filepath.Join(dir, "main.hcl")
			}
			c, diags := Load(path)
			if tt.summary == "" {
				if len(diags) > 0 {
					t.Fatalf("unexpected diagnostics:\n%s", diagsText(c, diags))
				}
				return
			}
			wantDiag(t, c, diags, tt.summary, tt.file, tt.line, tt.col)
			if !strings.Contains(diags[0].Detail, "MiB") && !strings.Contains(diags[0].Detail, fmt.Sprint(MaxTokens)) {
				t.Errorf("detail %q does not state the limit", diags[0].Detail)
			}
		})
	}
}

func TestLoadBoundsExpansion(t *testing.T) {
	// big holds exactly MaxFileFuncSize bytes: file() returns them all.
	big := strings.Repeat("s", MaxFileFuncSize)
	t.Setenv("CONFIG_TEST_BIG", big)
	// calls writes a block whose attributes, one a line from line 2 on,
	// are the calls given; each attribute starts at column 3.
	calls := func(block string, call string, n int) string {
		var b strings.Builder
		b.WriteString(block + " {\n")
		for i := range n {
			fmt.Fprintf(&b, "  a%d = %s\n", i, call)
		}
		b.WriteString("}\n")
		return b.String()
	}
	const perFile = MaxExpansionPerFile / MaxFileFuncSize // calls of big that fit in one file
	tests := []struct {
		name    string
		files   map[string]string
		summary string
		file    string
		line    int
		col     int
		detail  string // what the detail names
	}{
		{
			name:  "one file at the bound",
			files: map[string]string{"main.hcl": calls(`source "generator" "g"`, `file("big")`, perFile)},
		},
		{
			name:    "one file past it with file()",
			files:   map[string]string{"main.hcl": calls(`source "generator" "g"`, `file("big")`, perFile+1)},
			summary: "Configuration reads too much through env() and file()",
			file:    "main.hcl", line: perFile + 2, col: 8,
			detail: "main.hcl return to more than 4 MiB",
		},
		{
			name:    "a thousand calls",
			files:   map[string]string{"main.hcl": calls(`source "generator" "g"`, `file("big")`, 1000)},
			summary: "Configuration reads too much through env() and file()",
			file:    "main.hcl", line: perFile + 2, col: 8,
			detail: "main.hcl return to more than 4 MiB",
		},
		{
			name:    "one file past it with env()",
			files:   map[string]string{"main.hcl": calls(`destination "jsonl" "out"`, `"${env("CONFIG_TEST_BIG")}"`, perFile+1)},
			summary: "Configuration reads too much through env() and file()",
			file:    "main.hcl", line: perFile + 2, col: 11,
			detail: `env("CONFIG_TEST_BIG") returns 1 MiB`,
		},
		{
			name:    "the host's own blocks",
			files:   map[string]string{"main.hcl": "replicator {\n  state_file = \"${file(\"big\")}${file(\"big\")}${file(\"big\")}${file(\"big\")}${file(\"big\")}\"\n}\n"},
			summary: "Configuration reads too much through env() and file()",
			file:    "main.hcl", line: 2, col: 75,
		},
		{
			name: "files past it together",
			files: map[string]string{
				"a.hcl": calls(`source "generator" "a"`, `file("big")`, perFile),
				"b.hcl": calls(`source "generator" "b"`, `file("big")`, perFile),
				"c.hcl": calls(`source "generator" "c"`, `file("big")`, perFile),
				"d.hcl": calls(`source "generator" "d"`, `file("big")`, perFile),
				"e.hcl": calls(`source "generator" "e"`, `file("big")`, 1),
			},
			summary: "Configuration reads too much through env() and file()",
			file:    "e.hcl", line: 2, col: 8,
			detail: "together to more than 16 MiB, the most one configuration may read through them; those of a.hcl return the most, 4 MiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := maps.Clone(tt.files)
			files["big"] = big
			c, diags := Load(writeFiles(t, files))
			if tt.summary == "" {
				if len(diags) > 0 {
					t.Fatalf("unexpected diagnostics:\n%s", diagsText(c, diags))
				}
				return
			}
			wantDiag(t, c, diags, tt.summary, tt.file, tt.line, tt.col)
			if !strings.Contains(diags[0].Detail, tt.detail) {
				t.Errorf("detail %q does not say %q", diags[0].Detail, tt.detail)
			}
		})
	}
}

// TestDecodeBoundsExpansion: a connector block is held to
// MaxExpansionPerFile when it is decoded too, as what file() reads may
// have grown since Load.
func TestDecodeBoundsExpansion(t *testing.T) {
	// A label a line from line 4 on, each file() at column 9.
	const n = MaxExpansionPerFile/MaxFileFuncSize + 1
	var labels strings.Builder
	for i := range n {
		fmt.Fprintf(&labels, "    l%d = file(\"grows\")\n", i)
	}
	dir := writeFiles(t, map[string]string{
		"main.hcl": "source \"zoho\" \"eu\" {\n  client_id = \"abc\"\n  labels = {\n" + labels.String() + "  }\n}\n",
		"grows":    "small",
	})
	c, diags := Load(dir)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagsText(c, diags))
	}
	if err := os.WriteFile(filepath.Join(dir, "grows"), []byte(strings.Repeat("g", MaxFileFuncSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags = c.Sources[0].Decode(zohoSpec)
	wantDiag(t, c, diags, "Configuration reads too much through env() and file()", "main.hcl", 3+n, 10)
}

// TestLoadLeavesConnectorFaultsToDecode: Load evaluates connector blocks
// for their expansion only; their other faults wait for Decode, so that
// commands that decode no block do not need its secrets.
func TestLoadLeavesConnectorFaultsToDecode(t *testing.T) {
	c, diags := loadSource(t, "source \"zoho\" \"eu\" {\n  client_id = env(\"CONFIG_TEST_SURELY_UNSET\")\n  client_secret = file(\"missing\")\n}\n")
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagsText(c, diags))
	}
	if _, diags = c.Sources[0].Decode(zohoSpec); len(diags.Errs()) != 2 {
		t.Errorf("Decode: want the two faults, got:\n%s", diagsText(c, diags))
	}
}

func TestWriteDiagnosticsBounds(t *testing.T) {
	// Every line is an attribute replicator does not know: one error each.
	var src strings.Builder
	for i := range maxPrinted + 5 {
		fmt.Fprintf(&src, "a%d = 1\n", i)
	}
	c, diags := loadSource(t, src.String())
	if len(diags) != maxPrinted+5 {
		t.Fatalf("want %d errors, got %d", maxPrinted+5, len(diags))
	}
	out := diagsText(c, diags)
	if n := strings.Count(out, "Error: "); n != maxPrinted {
		t.Errorf("printed %d diagnostics, want %d:\n%s", n, maxPrinted, out)
	}
	if !strings.Contains(out, "5 more diagnostics, 5 of them errors, are not shown") {
		t.Errorf("output does not count the rest:\n%s", out)
	}
	// In the order of the file, whatever order hcl found them in.
	if !strings.Contains(out, "   1: a0 = 1\n") || !strings.Contains(out, fmt.Sprintf("  %d: a%d = 1\n", maxPrinted, maxPrinted-1)) {
		t.Errorf("the first %d lines are not the ones printed:\n%s", maxPrinted, out)
	}

	c, diags = loadSource(t, "b = ["+strings.Repeat("1,", maxSnippet)+"]\n")
	out = diagsText(c, diags)
	if strings.Contains(out, "1,1,1") || !strings.Contains(out, "main.hcl line 1:\n  (source not shown: its lines hold 8198 bytes, more than 4 KiB)") {
		t.Errorf("the long line is printed, or its place is not:\n%.3000s", out)
	}
}
