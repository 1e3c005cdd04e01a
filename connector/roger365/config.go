package roger365

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	"github.com/replicatorhq/replicator/plugin/contract"
)

// DefaultAPIURL is where the destination sends contacts unless api_url says
// otherwise. ROGER365 publishes no ingest API: this is the modelled contract
// (see package ingest), and api_url points it at the real endpoint once
// there is one.
const DefaultAPIURL = "https://api.roger365.io"

// maxConcurrency bounds the concurrency attribute; batch_size is bounded by
// ingest.MaxBatch.
const maxConcurrency = 16

// config is the destination's HCL block after defaults and checks.
type config struct {
	APIURL           string
	APIKey           string
	ReplicatorID     string
	DefaultRegion    string // ignored; set only to warn that it is
	BatchSize        int
	SkipWithoutPhone bool
	Concurrency      int
	Strict           bool
}

func spec() contract.Spec {
	return contract.Spec{
		Name:        "roger365",
		Version:     Version,
		Description: "Writes canonical contact records into a ROGER365 CRM replicator's phonebook, so incoming calls show the CRM name and a link to the record.",
		Config: []contract.Attribute{
			{Name: "api_url", Type: contract.TypeString, Default: json.RawMessage(`"` + DefaultAPIURL + `"`),
				Description: "Base URL of the ROGER365 ingest API, https (plain http only to a loopback host such as a local simulator). ROGER365 publishes no ingest API; the default follows the contract this connector models."},
			{Name: "api_key", Type: contract.TypeString, Required: true, Sensitive: true,
				Description: "ROGER365 API key, sent as a bearer token."},
			{Name: "replicator_id", Type: contract.TypeString, Required: true,
				Description: "Id of the CRM replicator in ROGER365 that receives the contacts."},
			{Name: "default_region", Type: contract.TypeString,
				Description: "Ignored, accepted so that older configurations load. The destination never reads a number without a country code: the source reads it (with its own region setting), and a number the source could not read is left out."},
			{Name: "batch_size", Type: contract.TypeNumber, Default: json.RawMessage(strconv.Itoa(ingest.MaxBatch)),
				Description: fmt.Sprintf("Contacts per request, 1 to %d.", ingest.MaxBatch)},
			{Name: "skip_without_phone", Type: contract.TypeBool, Default: json.RawMessage(`true`),
				Description: "Leave out contacts without a usable phone number (and remove them if an earlier run stored them)."},
			{Name: "concurrency", Type: contract.TypeNumber, Default: json.RawMessage(`2`),
				Description: "Requests in flight at once, 1 to 16."},
			{Name: "strict", Type: contract.TypeBool, Default: json.RawMessage(`false`),
				Description: "Fail the run when ROGER365 rejects a contact, instead of logging and counting it."},
		},
	}
}

// parseConfig reads the block's JSON, applies defaults and reports every
// problem at once, each naming the attribute and what it accepts.
func parseConfig(raw json.RawMessage) (config, error) {
	cfg := config{APIURL: DefaultAPIURL, BatchSize: ingest.MaxBatch, SkipWithoutPhone: true, Concurrency: 2}
	attrs := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &attrs); err != nil {
			return config{}, fmt.Errorf("roger365 config is not a JSON object: %w", err)
		}
	}
	var errs []error
	known := make([]string, 0, 8)
	for _, a := range spec().Config {
		known = append(known, a.Name)
	}
	for name, v := range attrs {
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("unknown attribute %q; roger365 takes %s", name, strings.Join(known, ", ")))
			continue
		}
		if string(v) == "null" {
			continue
		}
		var err error
		switch name {
		case "api_url":
			err = decodeString(name, v, &cfg.APIURL)
		case "api_key":
			err = decodeString(name, v, &cfg.APIKey)
		case "replicator_id":
			err = decodeString(name, v, &cfg.ReplicatorID)
		case "default_region":
			err = decodeString(name, v, &cfg.DefaultRegion)
		case "batch_size":
			err = decodeInt(name, v, 1, ingest.MaxBatch, &cfg.BatchSize)
		case "concurrency":
			err = decodeInt(name, v, 1, maxConcurrency, &cfg.Concurrency)
		case "skip_without_phone":
			err = decodeBool(name, v, &cfg.SkipWithoutPhone)
		case "strict":
			err = decodeBool(name, v, &cfg.Strict)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	cfg.APIURL = strings.TrimRight(strings.TrimSpace(cfg.APIURL), "/")
	if err := checkAPIURL(cfg.APIURL); err != nil {
		errs = append(errs, err)
	}
	if cfg.APIKey == "" {
		errs = append(errs, errors.New("api_key is required: set it to the ROGER365 API key"))
	}
	if cfg.ReplicatorID == "" {
		errs = append(errs, errors.New("replicator_id is required: set it to the id of the CRM replicator in ROGER365"))
	}
	cfg.DefaultRegion = strings.TrimSpace(cfg.DefaultRegion)
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return config{}, fmt.Errorf("roger365 config: %w", errors.Join(errs...))
	}
	return cfg, nil
}

// checkAPIURL accepts https, and plain http only to a loopback host (a
// simulator or a local proxy): anywhere else a typo would send the api_key
// unencrypted.
func checkAPIURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		shown := s
		if err == nil {
			shown = u.Redacted()
		}
		return fmt.Errorf("api_url must be an https URL such as %s, got %q", DefaultAPIURL, shown)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		https := *u
		https.Scheme = "https"
		return fmt.Errorf("api_url %q uses plain http, which would send the api_key unencrypted: write %q (plain http is accepted only to a loopback host such as 127.0.0.1, [::1] or localhost)", u.Redacted(), https.Redacted())
	}
	return nil
}

// isLoopback reports whether host names this machine: localhost or a
// loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func decodeString(name string, v json.RawMessage, dst *string) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%s must be a string", name)
	}
	return nil
}

func decodeBool(name string, v json.RawMessage, dst *bool) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%s must be true or false", name)
	}
	return nil
}

func decodeInt(name string, v json.RawMessage, lo, hi int, dst *int) error {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f != float64(int(f)) || f < float64(lo) || f > float64(hi) {
		return fmt.Errorf("%s must be a whole number from %d to %d, got %s", name, lo, hi, v)
	}
	*dst = int(f)
	return nil
}

// ignoredRegion is the warning for a configuration that still sets
// default_region, which no longer reads any number.
const ignoredRegion = "default_region is ignored: the destination no longer reads numbers without a country code, as guessing their country can show a stranger's name on a call; remove it, and set the source's region setting (default_region for zoho) instead"
