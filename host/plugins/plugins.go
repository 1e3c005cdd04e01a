// Package plugins finds connector plugin binaries on disk. A plugin is an
// executable named replicator-<kind>-<type>, such as replicator-source-zoho.
package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// PathEnv is the environment variable naming extra plugin folders.
const PathEnv = "REPLICATOR_PLUGIN_PATH"

const prefix = "replicator-"

// exeSuffix is what executables end with on this system.
func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// BinaryName returns the file name of the plugin of kind ("source" or
// "destination") and typ.
func BinaryName(kind, typ string) string {
	return prefix + kind + "-" + typ + exeSuffix()
}

// SearchDirs returns the folders searched for plugins, in order: exeDir
// (the folder of the running replicator binary), the plugins folder in
// workDir, then each folder of pluginPathEnv, a list in the form of
// REPLICATOR_PLUGIN_PATH. Empty entries and repeats are left out; relative
// entries of pluginPathEnv are taken relative to workDir.
func SearchDirs(exeDir, workDir, pluginPathEnv string) []string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		if !filepath.IsAbs(d) && workDir != "" {
			d = filepath.Join(workDir, d)
		}
		d = filepath.Clean(d)
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	add(exeDir)
	if workDir != "" {
		add(filepath.Join(workDir, "plugins"))
	}
	for _, d := range filepath.SplitList(pluginPathEnv) {
		add(d)
	}
	return dirs
}

// Found is a plugin binary.
type Found struct {
	Kind string // "source" or "destination"
	Type string
	Path string
}

// NotFoundError says no folder holds an executable plugin of that name.
type NotFoundError struct {
	Name          string   // the expected file name
	Dirs          []string // the folders searched, in order
	NotExecutable []string // files of that name found without execute permission
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %s not found; searched %s", e.Name, strings.Join(e.Dirs, ", "))
	if len(e.Dirs) == 0 {
		b.WriteString("no folders")
	}
	if len(e.NotExecutable) > 0 {
		fmt.Fprintf(&b, " (%s exists but is not executable: make it executable with chmod +x)",
			strings.Join(e.NotExecutable, ", "))
	}
	fmt.Fprintf(&b, ". Put %s into one of these folders, or add its folder to %s", e.Name, PathEnv)
	return b.String()
}

func checkKind(kind, typ string) error {
	if kind != "source" && kind != "destination" {
		return fmt.Errorf("plugin kind %q is neither \"source\" nor \"destination\"", kind)
	}
	if typ == "" || strings.ContainsAny(typ, `/\`) || typ == "." || typ == ".." {
		return fmt.Errorf("plugin type %q is not a plain name", typ)
	}
	return nil
}

// isExecutable reports whether path is a regular file (after symlinks) that
// may be executed. Windows has no execute bit; there the name decides.
func isExecutable(path string) (exists, executable bool) {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return false, false
	}
	if runtime.GOOS == "windows" {
		return true, true
	}
	return true, info.Mode().Perm()&0o111 != 0
}

// Find returns the path of the first executable plugin of kind and typ in
// dirs. When there is none the error is a *NotFoundError.
func Find(dirs []string, kind, typ string) (string, error) {
	if err := checkKind(kind, typ); err != nil {
		return "", fmt.Errorf("finding plugin: %w", err)
	}
	name := BinaryName(kind, typ)
	nf := &NotFoundError{Name: name, Dirs: dirs}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		exists, exec := isExecutable(p)
		if exec {
			return p, nil
		}
		if exists {
			nf.NotExecutable = append(nf.NotExecutable, p)
		}
	}
	return "", nf
}

// List returns every executable plugin in dirs, sorted by kind and type.
// When two folders hold the same plugin, the earlier folder wins, as with
// Find. Folders that do not exist are skipped.
func List(dirs []string) ([]Found, error) {
	seen := map[string]bool{}
	var out []Found
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing plugins: %w", err)
		}
		for _, e := range entries {
			f, ok := parseName(e.Name())
			if !ok || seen[f.Kind+"/"+f.Type] {
				continue
			}
			f.Path = filepath.Join(d, e.Name())
			if _, exec := isExecutable(f.Path); !exec {
				continue
			}
			seen[f.Kind+"/"+f.Type] = true
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b Found) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Type, b.Type)
	})
	return out, nil
}

// parseName splits a plugin file name into kind and type.
func parseName(name string) (Found, bool) {
	suffix := exeSuffix()
	if suffix != "" {
		if !strings.HasSuffix(strings.ToLower(name), suffix) {
			return Found{}, false
		}
		name = name[:len(name)-len(suffix)]
	}
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return Found{}, false
	}
	for _, kind := range []string{"source", "destination"} {
		if typ, ok := strings.CutPrefix(rest, kind+"-"); ok && typ != "" {
			return Found{Kind: kind, Type: typ}, true
		}
	}
	return Found{}, false
}
