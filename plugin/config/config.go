// Package config lets a connector declare its configuration once, as a Go
// struct with tags, and derives both the Spec's attributes and the decoding
// of the configuration the host hands the connector:
//
//	type Config struct {
//		Path          string   `config:"path,required" description:"CSV file to read."`
//		DefaultRegion string   `config:"default_region" default:"NL" description:"Country of national numbers."`
//		APIKey        string   `config:"api_key,required,sensitive" description:"Key of the service."`
//		BatchSize     int      `config:"batch_size" default:"500" description:"Records per request."`
//		Streams       []string `config:"streams" default:"[\"contacts\"]" description:"Streams to offer."`
//		Limit         *int     `config:"limit" description:"Stop after this many records; absent means no limit."`
//	}
//
//	spec := contract.Spec{Name: "csv", Version: "1.0.0", Config: config.MustAttributes[Config]()}
//	cfg, err := config.Decode[Config](req.Config)
//
// The tag `config:"name[,required][,sensitive]"` names the attribute as
// written in HCL; `default` is its value when absent (a JSON value, or
// plain text for a string field); `description` documents it. Field types
// map to attribute types: string; bool; int, int64, uint, float64 (number);
// []string (list(string)); map[string]string (map(string)); a pointer to
// one of these is an optional attribute that stays nil when absent.
// Untagged fields are not configuration.
//
// The host applies defaults and checks types before a plugin sees its
// configuration; Decode does both again, so a connector tested without a
// host (by its own unit tests or the conformance kit) behaves the same.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/replicatorhq/replicator/plugin/contract"
)

type field struct {
	index []int
	attr  contract.Attribute
	ptr   bool // an optional attribute without default: nil when absent
	kind  reflect.Kind
}

// Attributes returns the attributes T declares. It fails on a tag it cannot
// use, naming the field.
func Attributes[T any]() ([]contract.Attribute, error) {
	fs, err := fields(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	attrs := make([]contract.Attribute, len(fs))
	for i, f := range fs {
		attrs[i] = f.attr
	}
	return attrs, nil
}

// MustAttributes is Attributes for a declaration known to be right; it
// panics otherwise, which a connector's first test shows.
func MustAttributes[T any]() []contract.Attribute {
	a, err := Attributes[T]()
	if err != nil {
		panic(err)
	}
	return a
}

// Decode decodes a configuration into a T: absent attributes take their
// default, types are checked, numbers for integer fields must be whole and
// in range, and a required attribute must be present. Errors name the
// attribute and say what to write.
func Decode[T any](raw json.RawMessage) (T, error) {
	var out T
	fs, err := fields(reflect.TypeFor[T]())
	if err != nil {
		return out, err
	}
	values := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &values); err != nil {
			return out, fmt.Errorf("the configuration is not a JSON object: %w", err)
		}
	}
	known := make([]string, 0, len(fs))
	v := reflect.ValueOf(&out).Elem()
	for _, f := range fs {
		known = append(known, f.attr.Name)
		val, ok := values[f.attr.Name]
		if ok && bytes.Equal(bytes.TrimSpace(val), []byte("null")) {
			ok = false
		}
		if !ok {
			if f.attr.Required {
				return out, fmt.Errorf("%s is required: %s", f.attr.Name, describe(f.attr))
			}
			if f.attr.Default == nil {
				continue
			}
			val = f.attr.Default
		}
		if err := set(v.FieldByIndex(f.index), f, val); err != nil {
			return out, err
		}
	}
	for name := range values {
		if !slices.Contains(known, name) {
			return out, fmt.Errorf("unknown attribute %q: this connector takes %s", name, strings.Join(known, ", "))
		}
	}
	return out, nil
}

func describe(a contract.Attribute) string {
	if a.Description == "" {
		return "set it in the connector's block"
	}
	return strings.TrimSuffix(a.Description, ".") + "."
}

func fields(t reflect.Type) ([]field, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("a configuration is declared as a struct, not %s", t)
	}
	var fs []field
	seen := map[string]string{}
	for _, sf := range reflect.VisibleFields(t) {
		tag, ok := sf.Tag.Lookup("config")
		if !ok || sf.Anonymous {
			continue
		}
		if !sf.IsExported() {
			return nil, fmt.Errorf("field %s.%s has a config tag but is not exported", t.Name(), sf.Name)
		}
		parts := strings.Split(tag, ",")
		f := field{index: sf.Index, attr: contract.Attribute{Name: parts[0], Description: sf.Tag.Get("description")}}
		if f.attr.Name == "" {
			return nil, fmt.Errorf("field %s.%s: the config tag needs the attribute's name first", t.Name(), sf.Name)
		}
		if prev, dup := seen[f.attr.Name]; dup {
			return nil, fmt.Errorf("fields %s and %s both declare attribute %q", prev, sf.Name, f.attr.Name)
		}
		seen[f.attr.Name] = sf.Name
		for _, opt := range parts[1:] {
			switch opt {
			case "required":
				f.attr.Required = true
			case "sensitive":
				f.attr.Sensitive = true
			default:
				return nil, fmt.Errorf("field %s.%s: unknown config tag option %q (use required, sensitive)",
					t.Name(), sf.Name, opt)
			}
		}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			f.ptr = true
			ft = ft.Elem()
		}
		typ, kind, ok := attrType(ft)
		if !ok {
			return nil, fmt.Errorf("field %s.%s: type %s is not a configuration type "+
				"(string, bool, a number, []string, map[string]string)", t.Name(), sf.Name, sf.Type)
		}
		f.attr.Type, f.kind = typ, kind
		if d, ok := sf.Tag.Lookup("default"); ok {
			if f.attr.Required {
				return nil, fmt.Errorf("field %s.%s is required and has a default; drop one", t.Name(), sf.Name)
			}
			def := json.RawMessage(d)
			if kind == reflect.String && !strings.HasPrefix(strings.TrimSpace(d), `"`) {
				def, _ = json.Marshal(d)
			}
			if err := set(reflect.New(sf.Type).Elem(), f, def); err != nil {
				return nil, fmt.Errorf("field %s.%s: its default: %w", t.Name(), sf.Name, err)
			}
			f.attr.Default = def
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func attrType(t reflect.Type) (contract.AttrType, reflect.Kind, bool) {
	switch t.Kind() {
	case reflect.String:
		return contract.TypeString, reflect.String, true
	case reflect.Bool:
		return contract.TypeBool, reflect.Bool, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return contract.TypeNumber, t.Kind(), true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return contract.TypeStringList, reflect.Slice, true
		}
	case reflect.Map:
		if t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.String {
			return contract.TypeStringMap, reflect.Map, true
		}
	}
	return "", 0, false
}

// set decodes val into dst, a field of f's type.
func set(dst reflect.Value, f field, val json.RawMessage) error {
	if f.ptr {
		p := reflect.New(dst.Type().Elem())
		if err := set(p.Elem(), field{attr: f.attr, kind: f.kind}, val); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	name := f.attr.Name
	switch f.kind {
	case reflect.String, reflect.Bool, reflect.Slice, reflect.Map:
		p := reflect.New(dst.Type())
		if err := json.Unmarshal(val, p.Interface()); err != nil {
			return fmt.Errorf("%s takes %s, got %s", name, typeWords(f.attr.Type), got(f.attr, val))
		}
		dst.Set(p.Elem())
		return nil
	}
	var n float64
	if err := json.Unmarshal(val, &n); err != nil {
		return fmt.Errorf("%s takes a number, got %s", name, got(f.attr, val))
	}
	switch {
	case dst.CanFloat():
		dst.SetFloat(n)
	case dst.CanInt():
		if n != math.Trunc(n) {
			return fmt.Errorf("%s takes a whole number, got %s", name, got(f.attr, val))
		}
		bits := dst.Type().Bits()
		lo, hi := -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)
		if n < lo || n >= hi {
			return fmt.Errorf("%s must be between %.0f and %.0f, got %s", name, lo, hi-1, got(f.attr, val))
		}
		dst.SetInt(int64(n))
	case dst.CanUint():
		if n != math.Trunc(n) || n < 0 {
			return fmt.Errorf("%s takes a whole number of at least 0, got %s", name, got(f.attr, val))
		}
		if n >= math.Ldexp(1, dst.Type().Bits()) {
			return fmt.Errorf("%s is too large: %s", name, got(f.attr, val))
		}
		dst.SetUint(uint64(n))
	default:
		return errors.New("unreachable: a number field of no number kind")
	}
	return nil
}

func typeWords(t contract.AttrType) string {
	switch t {
	case contract.TypeString:
		return "a string"
	case contract.TypeBool:
		return "true or false"
	case contract.TypeStringList:
		return `a list of strings, such as ["a", "b"]`
	case contract.TypeStringMap:
		return `a map of strings, such as { key = "value" }`
	}
	return string(t)
}

// got shows a value in an error, unless it is sensitive.
func got(a contract.Attribute, v json.RawMessage) string {
	if a.Sensitive {
		return "a value of another type (not shown: the attribute is sensitive)"
	}
	s := string(bytes.TrimSpace(v))
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}
