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
}

func (e *funcError) Error() string { return e.summary + ": " + e.detail }

// evalContext offers the functions configuration expressions may call.
// Paths given to file() resolve against dir.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env":  envFunc(),
			"file": fileFunc(dir),
		},
	}
}

func envFunc() function.Function {
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
			return cty.StringVal(v), nil
		},
	})
}

func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns a regular file's contents, up to MaxFileFuncSize bytes, without trailing newlines; relative paths start at the configuration's folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
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
			return cty.StringVal(strings.TrimRight(string(b), "\r\n")), nil
		},
	})
}

// explainFuncErrors replaces hcl's generic function-call diagnostics for env
// and file with the funcError's own summary and detail.
func explainFuncErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		extra, ok := hcl.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok {
			continue
		}
		var fe *funcError
		if errors.As(extra.FunctionCallError(), &fe) {
			d.Summary = fe.summary
			d.Detail = fe.detail
		}
	}
	return diags
}
