// Package lockfile reads and writes the lock file that pins each plugin a
// configuration uses to a version and the sha256 of its binary, so that a
// replaced binary is refused until someone accepts it with
// `replicator init -upgrade`.
package lockfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// FileName is the lock file's name in the configuration's folder.
const FileName = ".replicator.lock.hcl"

const header = "# This file is maintained by \"replicator init\". Commit it with your pipelines.\n"

// Entry pins one plugin.
type Entry struct {
	Kind    string // "source" or "destination"
	Type    string // e.g. "zoho"
	Version string // the version the plugin reported
	SHA256  string // hex sha256 of the plugin binary
}

func (e Entry) validate() error {
	if e.Kind != "source" && e.Kind != "destination" {
		return fmt.Errorf("plugin kind %q is neither \"source\" nor \"destination\"", e.Kind)
	}
	if e.Type == "" {
		return fmt.Errorf("%s plugin has an empty type", e.Kind)
	}
	if e.Version == "" {
		return fmt.Errorf("%s plugin %q has an empty version", e.Kind, e.Type)
	}
	if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size || strings.ToLower(e.SHA256) != e.SHA256 {
		return fmt.Errorf("%s plugin %q has sha256 %q, which is not 64 lowercase hex digits", e.Kind, e.Type, e.SHA256)
	}
	return nil
}

// Lock is the set of pinned plugins.
type Lock struct {
	entries map[string]Entry
}

func key(kind, typ string) string { return kind + "/" + typ }

// Get returns the entry for the plugin of kind and typ.
func (l *Lock) Get(kind, typ string) (Entry, bool) {
	e, ok := l.entries[key(kind, typ)]
	return e, ok
}

// Set records e, replacing any entry for the same plugin.
func (l *Lock) Set(e Entry) {
	if l.entries == nil {
		l.entries = map[string]Entry{}
	}
	l.entries[key(e.Kind, e.Type)] = e
}

// Remove drops the entry for the plugin of kind and typ, if there is one.
func (l *Lock) Remove(kind, typ string) {
	delete(l.entries, key(kind, typ))
}

// Entries returns every entry, ordered by kind and then type.
func (l *Lock) Entries() []Entry {
	out := make([]Entry, 0, len(l.entries))
	for _, e := range l.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		return strings.Compare(key(a.Kind, a.Type), key(b.Kind, b.Type))
	})
	return out
}

type fileSchema struct {
	Plugins []pluginBlock `hcl:"plugin,block"`
}

type pluginBlock struct {
	Kind    string `hcl:"kind,label"`
	Type    string `hcl:"type,label"`
	Version string `hcl:"version"`
	SHA256  string `hcl:"sha256"`
}

// Load reads the lock file at path. A missing file is an empty lock.
func Load(path string) (*Lock, error) {
	l := &Lock{entries: map[string]Entry{}}
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading lock file: %w", err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("reading lock file: %w; fix it or delete it and run `replicator init`", diags)
	}
	var doc fileSchema
	if diags := gohcl.DecodeBody(f.Body, nil, &doc); diags.HasErrors() {
		return nil, fmt.Errorf("reading lock file: %w; fix it or delete it and run `replicator init`", diags)
	}
	for _, p := range doc.Plugins {
		e := Entry(p)
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("reading lock file %s: %w; fix it or delete it and run `replicator init`", path, err)
		}
		if _, dup := l.Get(e.Kind, e.Type); dup {
			return nil, fmt.Errorf("reading lock file %s: %s plugin %q is listed twice; keep one entry or delete the file and run `replicator init`",
				path, e.Kind, e.Type)
		}
		l.Set(e)
	}
	return l, nil
}

// Save writes the lock to path, replacing the old file only once the new
// one is complete, so that a crash never leaves half a lock file.
func (l *Lock) Save(path string) error {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(header)}})
	for _, e := range l.Entries() {
		if err := e.validate(); err != nil {
			return fmt.Errorf("saving lock file: %w", err)
		}
		body.AppendNewline()
		b := body.AppendNewBlock("plugin", []string{e.Kind, e.Type}).Body()
		b.SetAttributeValue("version", cty.StringVal(e.Version))
		b.SetAttributeValue("sha256", cty.StringVal(e.SHA256))
	}
	out := hclwrite.Format(f.Bytes())

	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("saving lock file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("saving lock file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("saving lock file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving lock file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving lock file: %w", err)
	}
	return nil
}

// FileSHA256 returns the hex sha256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing plugin binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing plugin binary %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NotLockedError says a plugin has no entry in the lock file.
type NotLockedError struct {
	Kind, Type string
}

func (e *NotLockedError) Error() string {
	return fmt.Sprintf("the %s plugin %q is not in the lock file; run `replicator init` to record it", e.Kind, e.Type)
}

// MismatchError says a plugin binary is not the one the lock file pins.
type MismatchError struct {
	Kind, Type string
	Path       string // the binary that was checked
	Recorded   string // sha256 in the lock file
	Actual     string // sha256 of the binary
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("the %s plugin %q at %s has sha256 %s…, but the lock file records %s…; "+
		"run `replicator init -upgrade` if you replaced the plugin on purpose",
		e.Kind, e.Type, e.Path, short(e.Actual), short(e.Recorded))
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// Verify checks that the binary at binaryPath is the plugin the lock file
// pins for kind and typ, and returns its entry. The error is a
// *NotLockedError or *MismatchError when the lock says no.
func (l *Lock) Verify(kind, typ, binaryPath string) (Entry, error) {
	if _, ok := l.Get(kind, typ); !ok {
		return Entry{}, &NotLockedError{Kind: kind, Type: typ}
	}
	sum, err := FileSHA256(binaryPath)
	if err != nil {
		return Entry{}, fmt.Errorf("verifying the %s plugin %q: %w", kind, typ, err)
	}
	return l.Check(kind, typ, binaryPath, sum)
}

// Check is Verify for a binary whose sha256 the caller has taken.
func (l *Lock) Check(kind, typ, binaryPath, sum string) (Entry, error) {
	e, ok := l.Get(kind, typ)
	if !ok {
		return Entry{}, &NotLockedError{Kind: kind, Type: typ}
	}
	if !strings.EqualFold(sum, e.SHA256) {
		return Entry{}, &MismatchError{Kind: kind, Type: typ, Path: binaryPath, Recorded: e.SHA256, Actual: sum}
	}
	return e, nil
}
