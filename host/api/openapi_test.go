package api_test

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/replicatorhq/replicator/host/api"
)

// TestOpenAPIDescribesEveryRoute: every route the API serves is in
// docs/api/openapi.yaml, and every route described there is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../../docs/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Servers []struct{ URL string }    `yaml:"servers"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docs/api/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) == 0 || !strings.HasSuffix(doc.Servers[0].URL, api.Prefix) {
		t.Fatalf("docs/api/openapi.yaml is not OpenAPI 3 with a server URL ending in %s", api.Prefix)
	}
	var described []api.Route
	for path, item := range doc.Paths {
		for method := range item {
			if method == "parameters" {
				continue
			}
			described = append(described, api.Route{Method: strings.ToUpper(method), Path: path})
		}
	}
	served := api.Routes()
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("%s %s is served but not described in docs/api/openapi.yaml", r.Method, r.Path)
		}
	}
	for _, r := range described {
		if !slices.Contains(served, r) {
			t.Errorf("%s %s is described in docs/api/openapi.yaml but not served", r.Method, r.Path)
		}
	}
	if len(served) == 0 || served[0].Method != http.MethodGet {
		t.Fatalf("api.Routes() = %v", served)
	}
}
