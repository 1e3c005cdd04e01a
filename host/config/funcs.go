package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// funcError is what env and file fail with. It carries the diagnostic text
// so that the generic "Error in function call" can be replaced by a summary
// that says what is wrong.
type funcError struct {
	summary, detail string
	// overBound marks a call past an expansion bound: every later call
	// fails with the same error, and only the first is reported.
	overBound bool
}

func (e *funcError) Error() string { return e.summary + ": " + e.detail }

// expansion counts what the env() and file() calls of a configuration
// return, per configuration file and in all, and fails the call that
// passes MaxExpansionPerFile or MaxExpansion, and every call after it.
// Each call counts, the same file read twice as twice, since each call's
// value is copied into what the configuration produces.
type expansion struct {
	total  int64
	byFile map[string]int64
	passed *funcError // the bound passed, once one is
}

func newExpansion() *expansion {
	return &expansion{byFile: map[string]int64{}}
}

// charge counts the n bytes call returned in the configuration file file.
func (x *expansion) charge(file, call string, n int) error {
	if x.passed != nil {
		return x.passed
	}
	x.byFile[file] += int64(n)
	x.total += int64(n)
	const summary = "Configuration reads too much through env() and file()"
	const todo = "Each call counts, the same file read twice as twice. env() and file() are meant for secrets and short values: keep large data out of the configuration."
	switch {
	case x.byFile[file] > MaxExpansionPerFile:
		x.passed = &funcError{overBound: true, summary: summary, detail: fmt.Sprintf(
			"%s returns %s, which brings what the env() and file() calls of %s return to more than %s, the most one configuration file may read through them. %s",
			call, sizeText(int64(n)), filepath.Base(file), sizeText(MaxExpansionPerFile), todo)}
	case x.total > MaxExpansion:
		var most string
		for f, used := range x.byFile {
			if used > x.byFile[most] || (used == x.byFile[most] && f < most) {
				most = f
			}
		}
		x.passed = &funcError{overBound: true, summary: summary, detail: fmt.Sprintf(
			"%s returns %s, which brings what the env() and file() calls of the configuration's files return together to more than %s, the most one configuration may read through them; those of %s return the most, %s. %s",
			call, sizeText(int64(n)), sizeText(MaxExpansion), filepath.Base(most), sizeText(x.byFile[most]), todo)}
	}
	if x.passed != nil {
		return x.passed
	}
	return nil
}

// evalContext offers the functions configuration expressions in the
// configuration file file may call, charging what they return to x.
// Paths given to file() resolve against dir.
func evalContext(dir, file string, x *expansion) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunc(file, x),
			"file": fileFunc(dir, file, x),
		},
	}
}

func envFunc(file string, x *expansion) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable; fails if it is not set.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			v, ok := os.LookupEnv(name)
			if !ok {
				return cty.NilVal, &funcError{
					summary: fmt.Sprintf("Environment variable %s is not set", name),
					detail:  fmt.Sprintf("env(%q) needs %s in the environment replicator runs in. Set it, or change the configuration.", name, name),
				}
			}
			if !utf8.ValidString(v) {
				return cty.NilVal, &funcError{
					summary: fmt.Sprintf("Environment variable %s is not valid text", name),
					detail:  fmt.Sprintf("The value of %s is not valid UTF-8. Set it to text.", name),
				}
			}
			if err := x.charge(file, fmt.Sprintf("env(%q)", name), len(v)); err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(v), nil
		},
	})
}

func fileFunc(dir, file string, x *expansion) function.Function {
	return function.New(&function.Spec{
		Description: "Returns a regular file's contents, up to MaxFileFuncSize bytes, without trailing newlines; relative paths start at the configuration's folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if x.passed != nil {
				return cty.NilVal, x.passed // and reads nothing more
			}
			p := args[0].AsString()
			full := p
			if !filepath.IsAbs(full) {
				full = filepath.Join(dir, full)
			}
			b, err := readRegular(full, MaxFileFuncSize)
			var notRegular *notRegularError
			var tooLarge *tooLargeError
			switch {
			case errors.As(err, &notRegular):
				return cty.NilVal, &funcError{
					summary: "Not a regular file",
					detail: fmt.Sprintf("file(%q): %v. file() reads regular files only; store the value in a file and give its path.",
						p, err),
				}
			case errors.As(err, &tooLarge):
				return cty.NilVal, &funcError{
					summary: "File too large",
					detail: fmt.Sprintf("file(%q): %v, the most file() reads. file() is meant for secrets and short values; give the path of a smaller file.",
						p, err),
				}
			case err != nil:
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return cty.NilVal, &funcError{
					summary: "Cannot read file",
					detail: fmt.Sprintf("file(%q) could not read %s: %v. Check that the file exists and replicator may read it; relative paths start at the configuration's folder.",
						p, full, err),
				}
			}
			if !utf8.Valid(b) {
				return cty.NilVal, &funcError{
					summary: "File is not text",
					detail:  fmt.Sprintf("file(%q) read %s, which is not valid UTF-8 text. Store the value as text.", p, full),
				}
			}
			// Editors end files with a newline that is no part of a secret.
			v := strings.TrimRight(string(b), "\r\n")
			if err := x.charge(file, fmt.Sprintf("file(%q)", p), len(v)); err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(v), nil
		},
	})
}

// explainFuncErrors replaces hcl's generic function-call diagnostics for env
// and file with the funcError's own summary and detail, and keeps only the
// first of a passed expansion bound: the calls after it fail the same way.
func explainFuncErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	out := diags[:0]
	passed := false
	for _, d := range diags {
		if fe := funcErrorOf(d); fe != nil {
			if fe.overBound && passed {
				continue
			}
			passed = passed || fe.overBound
			d.Summary = fe.summary
			d.Detail = fe.detail
		}
		out = append(out, d)
	}
	return out
}

// funcErrorOf returns the funcError d reports, or nil.
func funcErrorOf(d *hcl.Diagnostic) *funcError {
	extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
	if !ok {
		return nil
	}
	var fe *funcError
	if errors.As(extra.FunctionCallError(), &fe) {
		return fe
	}
	return nil
}
