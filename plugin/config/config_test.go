package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/replicatorhq/replicator/plugin/contract"
)

type sample struct {
	Path      string            `config:"path,required" description:"CSV file to read."`
	Region    string            `config:"default_region" default:"NL" description:"Country of national numbers."`
	Key       string            `config:"api_key,sensitive"`
	Batch     int               `config:"batch_size" default:"500"`
	Ratio     float64           `config:"ratio" default:"0.5"`
	Strict    bool              `config:"strict" default:"false"`
	Streams   []string          `config:"streams" default:"[\"contacts\"]"`
	Labels    map[string]string `config:"labels"`
	Limit     *int              `config:"limit" description:"Stop after this many records."`
	Small     uint8             `config:"small" default:"7"`
	Unrelated int               // not configuration: no tag
}

func TestAttributes(t *testing.T) {
	got, err := Attributes[sample]()
	if err != nil {
		t.Fatal(err)
	}
	want := []contract.Attribute{
		{Name: "path", Type: contract.TypeString, Required: true, Description: "CSV file to read."},
		{
			Name: "default_region", Type: contract.TypeString, Default: json.RawMessage(`"NL"`),
			Description: "Country of national numbers.",
		},
		{Name: "api_key", Type: contract.TypeString, Sensitive: true},
		{Name: "batch_size", Type: contract.TypeNumber, Default: json.RawMessage(`500`)},
		{Name: "ratio", Type: contract.TypeNumber, Default: json.RawMessage(`0.5`)},
		{Name: "strict", Type: contract.TypeBool, Default: json.RawMessage(`false`)},
		{Name: "streams", Type: contract.TypeStringList, Default: json.RawMessage(`["contacts"]`)},
		{Name: "labels", Type: contract.TypeStringMap},
		{Name: "limit", Type: contract.TypeNumber, Description: "Stop after this many records."},
		{Name: "small", Type: contract.TypeNumber, Default: json.RawMessage(`7`)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes:\n got %+v\nwant %+v", got, want)
	}
}

func TestDecodeDefaults(t *testing.T) {
	c, err := Decode[sample](json.RawMessage(`{"path":"in.csv","batch_size":1e3}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "in.csv" || c.Region != "NL" || c.Batch != 1000 || c.Ratio != 0.5 || c.Strict ||
		!reflect.DeepEqual(c.Streams, []string{"contacts"}) || c.Limit != nil || c.Small != 7 || c.Labels != nil {
		t.Errorf("decoded %+v", c)
	}
	c, err = Decode[sample](json.RawMessage(`{"path":"in.csv","limit":3,"labels":{"a":"b"},"default_region":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limit == nil || *c.Limit != 3 || c.Labels["a"] != "b" || c.Region != "NL" {
		t.Errorf("decoded %+v", c)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`{}`, "path is required: CSV file to read."},
		{`{"path":1}`, "path takes a string, got 1"},
		{`{"path":"x","batch_size":2.5}`, "batch_size takes a whole number, got 2.5"},
		{`{"path":"x","batch_size":"5"}`, `batch_size takes a number, got "5"`},
		{`{"path":"x","small":300}`, "small is too large: 300"},
		{`{"path":"x","small":-1}`, "small takes a whole number of at least 0, got -1"},
		{`{"path":"x","streams":"contacts"}`, `streams takes a list of strings, such as ["a", "b"], got "contacts"`},
		{`{"path":"x","strict":"yes"}`, `strict takes true or false, got "yes"`},
		{`{"path":"x","colour":"red"}`, `unknown attribute "colour": this connector takes path, default_region, api_key`},
		{`[1]`, "the configuration is not a JSON object"},
	} {
		_, err := Decode[sample](json.RawMessage(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%s) = %v, want an error containing %q", tc.raw, err, tc.want)
		}
	}
}

func TestDecodeNeverShowsSecrets(t *testing.T) {
	_, err := Decode[sample](json.RawMessage(`{"path":"x","api_key":["hunter2-secret"]}`))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a sensitive attribute of the wrong type gives %v", err)
	}
}

func TestBadDeclarations(t *testing.T) {
	type noName struct {
		A string `config:",required"`
	}
	type badType struct {
		A []int `config:"a"`
	}
	type badDefault struct {
		A int `config:"a" default:"x"`
	}
	type requiredDefault struct {
		A int `config:"a,required" default:"1"`
	}
	type dup struct {
		A string `config:"a"`
		B string `config:"a"`
	}
	type badOption struct {
		A string `config:"a,secret"`
	}
	for name, f := range map[string]func() error{
		"no name":          func() error { _, err := Attributes[noName](); return err },
		"bad type":         func() error { _, err := Attributes[badType](); return err },
		"bad default":      func() error { _, err := Attributes[badDefault](); return err },
		"required default": func() error { _, err := Attributes[requiredDefault](); return err },
		"duplicate":        func() error { _, err := Attributes[dup](); return err },
		"bad option":       func() error { _, err := Attributes[badOption](); return err },
		"not a struct":     func() error { _, err := Attributes[int](); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LocalHost": true, "localhost.": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"": false, "localhost.example.com": false, "10.0.0.1": false, "0.0.0.0": false, "::": false,
		"crm.zoho.eu": false, "[::1]": false, "localhost..": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
