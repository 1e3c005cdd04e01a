package config

import (
	"fmt"
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
		diags := checkNesting([]byte(tt.src), "x.hcl")
		if diags.HasErrors() != tt.deep {
			t.Errorf("checkNesting(%.40q…) = %v, want too deep: %v", tt.src, diags, tt.deep)
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
