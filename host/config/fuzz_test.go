package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad loads arbitrary bytes as a configuration file and decodes its
// connector blocks: neither may crash, and what they accept must hold
// together. Seeds: testdata/fuzz/FuzzLoad (the files of host/examples) and
// the configurations of this package's tests.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(example))
	for _, tt := range loadDiagnosticsCases() {
		f.Add([]byte(tt.src))
	}
	f.Add([]byte("a = " + deep("[", "]", MaxNesting+1)))
	// Shapes that once took minutes: a number whose printing writes six
	// million digits, and for expressions nested to make 10^8 values.
	f.Add([]byte(`replicator { state_file = 1e6000000 }`))
	f.Add([]byte("replicator { state_file = " + deep("[for x in [1,2,3,4,5,6,7,8,9,10] : ", "]", 8) + " }"))
	f.Add([]byte(`replicator { state_file = file("secret") }`))
	f.Add([]byte(`source "zoho" "eu" { client_id = "x${file("secret")}" }`))

	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "main.hcl")
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, diags := Load(path)
		if c == nil {
			t.Fatal("Load returned no Config")
		}
		var out bytes.Buffer
		if err := c.WriteDiagnostics(&out, diags); err != nil {
			t.Fatalf("WriteDiagnostics: %v", err)
		}
		if diags.HasErrors() {
			return
		}

		if c.StateFile == "" || !filepath.IsAbs(c.StateFile) {
			t.Errorf("StateFile %q is not an absolute path", c.StateFile)
		}
		if c.Host.MaxConcurrentRuns < 1 || c.Host.CallTimeout <= 0 || c.Host.StallTimeout <= 0 {
			t.Errorf("host settings out of range: %+v", c.Host)
		}
		for _, p := range c.Pipelines {
			if p.Source == nil || p.Destination == nil {
				t.Fatalf("pipeline %q lacks a connector", p.Name)
			}
			if s, ok := c.Source(p.Source.Ref()); !ok || s != p.Source {
				t.Errorf("pipeline %q: source %s is not a declared source", p.Name, p.Source.Ref())
			}
			if d, ok := c.Destination(p.Destination.Ref()); !ok || d != p.Destination {
				t.Errorf("pipeline %q: destination %s is not a declared destination", p.Name, p.Destination.Ref())
			}
			if len(p.Streams) == 0 {
				t.Errorf("pipeline %q has no streams", p.Name)
			}
			if p.Interval != 0 && p.Interval < MinInterval {
				t.Errorf("pipeline %q: interval %v under the minimum", p.Name, p.Interval)
			}
		}
		for _, conn := range append(append([]*Connector{}, c.Sources...), c.Destinations...) {
			raw, diags := conn.Decode(zohoSpec)
			out.Reset()
			if err := c.WriteDiagnostics(&out, diags); err != nil {
				t.Fatalf("WriteDiagnostics: %v", err)
			}
			if diags.HasErrors() {
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(raw, &obj); err != nil {
				t.Fatalf("%s decoded to %q, not a JSON object: %v", conn.Ref(), raw, err)
			}
			if _, ok := obj["client_id"]; !ok {
				t.Errorf("%s decoded without its required client_id: %s", conn.Ref(), raw)
			}
		}
	})
}
