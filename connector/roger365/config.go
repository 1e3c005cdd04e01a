package roger365

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/replicatorhq/replicator/connector/roger365/ingest"
	pluginconfig "github.com/replicatorhq/replicator/plugin/config"
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

// config is the destination's HCL block, declared once: the Spec's
// attributes and the decoding both come from it (plugin/config). Defaults
// in the tags are DefaultAPIURL and ingest.MaxBatch, which a test holds
// them to.
type config struct {
	APIURL string `config:"api_url" default:"https://api.roger365.io" description:"Base URL of the ROGER365 ingest API, https (plain http only to a loopback host such as a local simulator). ROGER365 publishes no ingest API; the default follows the contract this connector models."`
	APIKey string `config:"api_key,required,sensitive" description:"ROGER365 API key, sent as a bearer token."`
	// ReplicatorID names the CRM replicator in ROGER365 that receives the contacts.
	ReplicatorID string `config:"replicator_id,required" description:"Id of the CRM replicator in ROGER365 that receives the contacts."`
	// DefaultRegion is ignored; it is read only to warn that it is.
	DefaultRegion    string `config:"default_region" description:"Ignored, accepted so that older configurations load. The destination never reads a number without a country code: the source reads it (with its own region setting), and a number the source could not read is left out."`
	BatchSize        int    `config:"batch_size" default:"500" description:"Contacts per request, 1 to 500."`
	SkipWithoutPhone bool   `config:"skip_without_phone" default:"true" description:"Leave out contacts without a usable phone number (and remove them if an earlier run stored them)."`
	Concurrency      int    `config:"concurrency" default:"2" description:"Requests in flight at once, 1 to 16."`
	Strict           bool   `config:"strict" default:"false" description:"Fail the run when ROGER365 rejects a contact, instead of logging and counting it."`
}

func spec() contract.Spec {
	return contract.Spec{
		Name:    "roger365",
		Version: Version,
		Description: "Writes canonical contact records into a ROGER365 CRM replicator's phonebook, " +
			"so incoming calls show the CRM name and a link to the record.",
		Config: pluginconfig.MustAttributes[config](),
	}
}

// parseConfig decodes the block's JSON with its defaults and types checked,
// then reports every problem of its values at once, each naming the
// attribute and what it accepts.
func parseConfig(raw json.RawMessage) (config, error) {
	cfg, err := pluginconfig.Decode[config](raw)
	if err != nil {
		return config{}, fmt.Errorf("roger365 config: %w", err)
	}
	var errs []error
	if cfg.BatchSize < 1 || cfg.BatchSize > ingest.MaxBatch {
		errs = append(errs,
			fmt.Errorf("batch_size must be a whole number from 1 to %d, got %d", ingest.MaxBatch, cfg.BatchSize))
	}
	if cfg.Concurrency < 1 || cfg.Concurrency > maxConcurrency {
		errs = append(errs,
			fmt.Errorf("concurrency must be a whole number from 1 to %d, got %d", maxConcurrency, cfg.Concurrency))
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
	if u.Scheme == "http" && !pluginconfig.IsLoopbackHost(u.Hostname()) {
		https := *u
		https.Scheme = "https"
		return fmt.Errorf(
			"api_url %q uses plain http, which would send the api_key unencrypted: write %q (plain http is accepted only to a "+
				"loopback host such as 127.0.0.1, [::1] or localhost)",
			u.Redacted(), https.Redacted())
	}
	return nil
}

// ignoredRegion is the warning for a configuration that still sets
// default_region, which no longer reads any number.
const ignoredRegion = "default_region is ignored: the destination no longer reads numbers without a country code, " +
	"as guessing their country can show a stranger's name on a call; " +
	"remove it, and set the source's region setting (default_region for zoho) instead"
