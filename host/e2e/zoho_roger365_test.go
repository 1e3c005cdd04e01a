//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/replicatorhq/replicator/connector/roger365/rogersim"
	"github.com/replicatorhq/replicator/connector/zoho/zohosim"
)

// zohoLag is how far behind the clock the Zoho source's incremental reads
// stay, so that a change Zoho is still saving is not skipped.
const zohoLag = time.Minute

const (
	crmReplicator = "zoho-crm"
	crmPipeline   = "crm-phonebook"
	rogerKey      = "e2e-roger365-key"
)

var zohoScopes = []string{
	"ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.accounts.READ", "ZohoCRM.bulk.READ",
	"ZohoCRM.coql.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.org.READ",
}

// crmFixture is a simulated Zoho CRM org and a simulated ROGER365 on
// loopback, with a workspace whose pipeline copies one into the other.
type crmFixture struct {
	t        *testing.T
	sim      *zohosim.Server
	roger    *rogersim.Server
	rogerURL string
	zohoURL  string
	w        *workspace
	http     *http.Client
}

func newCRMFixture(t *testing.T, opts zohosim.Options) *crmFixture {
	t.Helper()
	sim, err := zohosim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	zs := httptest.NewServer(sim.Handler())
	t.Cleanup(zs.Close)
	roger, err := rogersim.New(rogersim.Options{
		Keys:        []string{rogerKey},
		Replicators: []rogersim.Replicator{{ID: crmReplicator, Name: "Zoho CRM", SourceType: "crm", Entity: "contacts"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(roger.Handler())
	t.Cleanup(func() {
		rs.Close()
		_ = roger.Close()
	})
	t.Setenv("ZOHO_CLIENT_SECRET", sim.ClientSecret())
	t.Setenv("ROGER365_API_KEY", rogerKey)
	hcl := fmt.Sprintf(`
source "zoho" "crm" {
  domain        = %q
  client_id     = %q
  client_secret = env("ZOHO_CLIENT_SECRET")
  accounts_url  = "%s/accounts/{dc}"
  api_url       = %q
  # Bulk Read, whose pages the test kills a sync between; an org this
  # small would be read through the records API.
  full_sync_method = "bulk_read"
}

destination "roger365" "phonebook" {
  api_url        = %q
  api_key        = env("ROGER365_API_KEY")
  replicator_id  = %q
  default_region = "NL"
}

pipeline %q {
  source      = source.zoho.crm
  destination = destination.roger365.phonebook
  streams     = ["contacts", "accounts"]
}
`, sim.DC(), sim.ClientID(), zs.URL, zs.URL, rs.URL, crmReplicator, crmPipeline)
	w := newWorkspace(t, hcl, "replicator-source-zoho", "replicator-destination-roger365")
	return &crmFixture{t: t, sim: sim, roger: roger, rogerURL: rs.URL, zohoURL: zs.URL, w: w, http: &http.Client{Timeout: 30 * time.Second}}
}

// authorize pastes a fresh grant code at the authorize prompt, as a user
// would.
func (f *crmFixture) authorize() {
	f.t.Helper()
	cmd := f.w.command(f.t.Context(), "authorize", "zoho.crm")
	cmd.Stdin = strings.NewReader(f.sim.IssueGrantCode(zohoScopes...) + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("authorize: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Authorized source.zoho.crm") {
		f.t.Fatalf("authorize output:\n%s", out)
	}
}

// storedContacts counts the phonebook's entries of a stream.
func (f *crmFixture) storedContacts(stream string) int {
	n := 0
	for _, c := range f.roger.Contacts(crmReplicator) {
		if c.Stream == stream {
			n++
		}
	}
	return n
}

// lookupMatches asks ROGER365's lookup API who calls from an E.164 number.
// It is safe to call from several goroutines.
func (f *crmFixture) lookupMatches(number string) ([]rogersim.Match, error) {
	req, err := http.NewRequestWithContext(f.t.Context(), "GET", f.rogerURL+"/v1/lookup?number="+url.QueryEscape(number), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+rogerKey)
	resp, err := f.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", number, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lookup %s: HTTP %d", number, resp.StatusCode)
	}
	var body struct {
		Matches []rogersim.Match `json:"matches"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("lookup %s: %w", number, err)
	}
	return body.Matches, nil
}

// resolvesTo reports whether a lookup of number shows record id, and the
// name it shows.
func (f *crmFixture) resolvesTo(number, id string) (string, bool) {
	f.t.Helper()
	matches, err := f.lookupMatches(number)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, m := range matches {
		if m.SourceID == id {
			return m.DisplayName, true
		}
	}
	return "", false
}

// crmModule describes how a simulated module maps to the phonebook.
type crmModule struct {
	module, stream string
	phones         []string // the module's fields of data type phone
	countries      []string // address country fields, most telling first
	name           func(rec map[string]any) string
}

var crmModules = []crmModule{
	{
		module: "Contacts", stream: "contacts",
		phones:    []string{"Phone", "Mobile", "Home_Phone", "Other_Phone", "Asst_Phone", "Fax", "Direct_Line"},
		countries: []string{"Mailing_Country", "Other_Country"},
		name:      func(rec map[string]any) string { return str(rec["Full_Name"]) },
	},
	{
		module: "Accounts", stream: "accounts",
		phones:    []string{"Phone", "Fax", "Support_Hotline"},
		countries: []string{"Billing_Country", "Shipping_Country"},
		name:      func(rec map[string]any) string { return str(rec["Account_Name"]) },
	},
}

// simCountries are the ways the simulator writes its countries.
var simCountries = map[string]string{
	"netherlands": "NL", "nederland": "NL", "nl": "NL", "the netherlands": "NL",
	"germany": "DE", "deutschland": "DE", "de": "DE",
	"united kingdom": "GB", "uk": "GB", "gb": "GB", "england": "GB",
	"united states": "US", "usa": "US", "us": "US", "united states of america": "US",
	"belgium": "BE", "belgië": "BE", "belgique": "BE", "be": "BE",
	"france": "FR", "fr": "FR",
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

// dialable returns the numbers of a CRM record a caller can ring from, in
// E.164: those valid in the record's own country, or in the Netherlands
// (the org's country) when the record names none. The source must turn
// each into exactly this number, so each must find the record.
func (m crmModule) dialable(rec map[string]any) []string {
	region := "NL"
	for _, f := range m.countries {
		if r, ok := simCountries[strings.ToLower(str(rec[f]))]; ok {
			region = r
			break
		}
	}
	var out []string
	for _, f := range m.phones {
		raw := str(rec[f])
		if raw == "" {
			continue
		}
		n, err := phonenumbers.Parse(raw, region)
		if err != nil || !phonenumbers.IsValidNumber(n) {
			continue
		}
		out = append(out, phonenumbers.Format(n, phonenumbers.E164))
	}
	return out
}

// crmEntry is a live CRM record as the phonebook should hold it.
type crmEntry struct {
	stream, id, name string
	numbers          []string
}

// liveRecords lists the simulator's live records by stream and id.
func (f *crmFixture) liveRecords() map[string]crmEntry {
	live := map[string]crmEntry{}
	for _, m := range crmModules {
		for id, rec := range f.sim.Records(m.module) {
			live[m.stream+"/"+id] = crmEntry{stream: m.stream, id: id, name: m.name(rec), numbers: m.dialable(rec)}
		}
	}
	return live
}

// checkPhonebook compares the phonebook with the CRM: every live record with
// a dialable number is found by a lookup of each such number and shows its
// current name, and the phonebook holds nothing the CRM no longer has.
// gone lists numbers that must no longer find a record (deleted records,
// replaced numbers).
func (f *crmFixture) checkPhonebook(gone map[string]string) {
	f.t.Helper()
	live := f.liveRecords()
	stored := f.roger.Contacts(crmReplicator)
	for _, c := range stored {
		want, ok := live[c.Stream+"/"+c.Contact.SourceID]
		if !ok {
			f.t.Errorf("the phonebook holds %s record %s (%s), which the CRM no longer has", c.Stream, c.Contact.SourceID, c.Contact.DisplayName)
			continue
		}
		if c.Contact.DisplayName != want.name {
			f.t.Errorf("the phonebook shows %s record %s as %q, the CRM calls it %q", c.Stream, want.id, c.Contact.DisplayName, want.name)
		}
	}
	// Lookups run a few at a time; each finding comes back as a message.
	type lookup struct{ number, stream, id, name string }
	jobs := make(chan lookup)
	findings := make(chan string)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range jobs {
				matches, err := f.lookupMatches(l.number)
				if err != nil {
					findings <- err.Error()
					continue
				}
				found := false
				for _, m := range matches {
					if m.SourceID != l.id {
						continue
					}
					found = true
					if m.DisplayName != l.name {
						findings <- fmt.Sprintf("a call from %s shows %q for %s record %s, want %q", l.number, m.DisplayName, l.stream, l.id, l.name)
					}
				}
				if !found {
					findings <- fmt.Sprintf("a call from %s does not find %s record %s (%s)", l.number, l.stream, l.id, l.name)
				}
			}
		}()
	}
	checked := 0
	go func() {
		defer close(jobs)
		for _, e := range live {
			for _, number := range e.numbers {
				jobs <- lookup{number, e.stream, e.id, e.name}
			}
		}
	}()
	for _, e := range live {
		checked += len(e.numbers)
	}
	go func() {
		wg.Wait()
		close(findings)
	}()
	wrong := 0
	for msg := range findings {
		if wrong++; wrong <= 20 {
			f.t.Error(msg)
		}
	}
	if wrong > 20 {
		f.t.Errorf("and %d more wrong lookups", wrong-20)
	}
	if checked < len(live)/2 {
		f.t.Fatalf("only %d dialable numbers among %d CRM records: the check proves little", checked, len(live))
	}
	for number, id := range gone {
		if name, ok := f.resolvesTo(number, id); ok {
			f.t.Errorf("a call from %s still finds record %s (%s)", number, id, name)
		}
	}
	f.t.Logf("checked %d numbers of %d CRM records against %d phonebook entries", checked, len(live), len(stored))
}

// change edits the CRM as people would: renames, new numbers, new
// contacts and deletions. It adds to gone the numbers that must no longer
// find their old record, and to used the records it touched.
func (f *crmFixture) change(round int, gone map[string]string, used map[string]bool) {
	f.t.Helper()
	contacts, accounts := crmModules[0], crmModules[1]
	// Contacts with a dialable number, in id order.
	var ids []string
	numbers := map[string][]string{}
	for id, rec := range f.sim.Records("Contacts") {
		if n := contacts.dialable(rec); len(n) > 0 && !used[id] {
			ids = append(ids, id)
			numbers[id] = n
		}
	}
	// pick takes n contacts from the start of the id order and n from its
	// end, so that some were read before a sync was killed and some after.
	pick := func(n int) []string {
		if len(ids) < 2*n {
			f.t.Fatalf("only %d unused contacts with a dialable number", len(ids))
		}
		picked := append(append([]string{}, ids[:n]...), ids[len(ids)-n:]...)
		ids = ids[n : len(ids)-n]
		for _, id := range picked {
			used[id] = true
		}
		return picked
	}
	for i, id := range pick(2) {
		if err := f.sim.Update("Contacts", id, map[string]any{"Last_Name": fmt.Sprintf("Renamed%d-%d", round, i)}); err != nil {
			f.t.Fatal(err)
		}
	}
	for i, id := range pick(1) {
		fields := map[string]any{"Mailing_Country": "Netherlands", "Other_Country": nil}
		for _, p := range contacts.phones {
			fields[p] = nil
		}
		fields["Mobile"] = fmt.Sprintf("06-4%d%d%05d", round, i, 12345)
		if err := f.sim.Update("Contacts", id, fields); err != nil {
			f.t.Fatal(err)
		}
		for _, n := range numbers[id] {
			gone[n] = id
		}
	}
	for i, id := range pick(2) {
		for _, n := range numbers[id] {
			gone[n] = id
		}
		del := f.sim.Delete
		if i%2 == 1 {
			del = f.sim.DeletePermanently
		}
		if err := del("Contacts", id); err != nil {
			f.t.Fatal(err)
		}
	}
	// One account goes too.
	for id, rec := range f.sim.Records("Accounts") {
		n := accounts.dialable(rec)
		if used[id] || len(n) == 0 {
			continue
		}
		used[id] = true
		for _, number := range n {
			gone[number] = id
		}
		if err := f.sim.Delete("Accounts", id); err != nil {
			f.t.Fatal(err)
		}
		break
	}
	// New contacts, their numbers typed as people do: nationally with a
	// country, internationally, and nationally without a country (read in
	// the org's country).
	for i, fields := range []map[string]any{
		{"First_Name": "Iris", "Last_Name": fmt.Sprintf("Hendriks%d", round), "Phone": fmt.Sprintf("020-76%d4321", round), "Mailing_Country": "Nederland"},
		{"First_Name": "Jonas", "Last_Name": fmt.Sprintf("Weber%d", round), "Mobile": fmt.Sprintf("+49 171 55%d0912", round), "Mailing_Country": "Deutschland"},
		{"Last_Name": fmt.Sprintf("Receptie%d", round), "Phone": fmt.Sprintf("030 29%d 7788", round)},
	} {
		if _, err := f.sim.CreateRecord("Contacts", fields); err != nil {
			f.t.Fatalf("creating contact %d: %v", i, err)
		}
	}
}

// TestZohoToRoger365 runs what `make demo` shows at a smaller size: Zoho CRM
// contacts and accounts into the ROGER365 phonebook, found by callers'
// numbers. The first full sync is killed with SIGKILL part way and resumed;
// changes made meanwhile, and later ones, reach the phonebook through an
// incremental sync and through a full refresh.
func TestZohoToRoger365(t *testing.T) {
	f := newCRMFixture(t, zohosim.Options{
		Contacts: 2000, Accounts: 400, Seed: 7,
		// Three pages of contacts, with a checkpoint after each; few
		// enough that the test stays under Zoho's ten downloads a minute.
		BulkPageSize: 700,
		// The org's clock runs nearly zohoLag behind the host's: a change
		// made now is stamped 58 seconds ago, so three seconds later it
		// is older than the source's lag and an incremental sync reads it,
		// as one would a minute later against Zoho itself. The clock is not
		// a full minute behind, so that a deletion made right after a full
		// sync began still falls inside the window the next sync reads.
		Now: func() time.Time { return time.Now().Add(-(zohoLag - 2*time.Second)) },
	})
	w := f.w
	w.mustRun("init")
	f.authorize()

	// The first full sync, killed once contacts of the second bulk page
	// arrive. The first page's checkpoint went out seconds before (the
	// source waits for each bulk job), and a page of contacts and the
	// accounts remain.
	cmd := w.command(t.Context(), "sync", crmPipeline)
	var firstErr strings.Builder
	cmd.Stderr = &firstErr
	// A group of its own, shared with its plugins, so that those it
	// leaves behind can be ended too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second // should a plugin hold the host's stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	kill := func() {
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := <-exited; err != nil {
			t.Logf("the killed host: %v", err)
		}
		// The plugins outlive a killed host; end them, as a restart of the
		// machine would.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for f.storedContacts("contacts") <= 700 {
		select {
		case err := <-exited:
			t.Fatalf("the first sync ended (%v) before it could be killed; it wrote %d contacts\n%s", err, f.storedContacts("contacts"), firstErr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			kill()
			t.Fatalf("the first sync wrote too little within two minutes\n%s", firstErr.String())
		}
	}
	kill()
	t.Logf("killed the first sync after %d contacts", f.storedContacts("contacts"))

	// People work in the CRM while the host is down.
	gone := map[string]string{}
	used := map[string]bool{}
	f.change(1, gone, used)
	changed := time.Now()

	// The restarted host resumes the full sync from its last checkpoint.
	r := w.mustRun("sync", crmPipeline)
	if !resumedMidway(r.stderr, "contacts") {
		t.Fatalf("the sync after the kill did not resume the contacts from a later bulk page:\n%s", r.stderr)
	}
	// The next sync reads what changed meanwhile, deletions included, once
	// the changes are older than the source's lag (see Now above).
	if d := 3*time.Second - time.Since(changed); d > 0 {
		time.Sleep(d)
	}
	r = w.mustRun("sync", crmPipeline)
	if !strings.Contains(r.stderr, "incremental read done") {
		t.Fatalf("the second sync did not read incrementally:\n%s", r.stderr)
	}
	f.checkPhonebook(gone)
	if t.Failed() {
		t.FailNow()
	}

	// What the demo does next: more changes, then a full refresh that
	// rewrites what differs and removes what the CRM no longer has.
	f.change(2, gone, used)
	w.mustRun("sync", "-full-refresh", crmPipeline)
	f.checkPhonebook(gone)

	st := w.mustRun("status")
	if !strings.Contains(st.stdout, "resumed contacts") {
		t.Errorf("status does not show the resumed run:\n%s", st.stdout)
	}
	// Each side's counters under its own prefix.
	for _, c := range []string{"source.api_credits=", "destination.created="} {
		if !strings.Contains(st.stdout, c) {
			t.Errorf("status does not show the counter %s…:\n%s", c, st.stdout)
		}
	}
}

// resumedMidway reports whether a run's log shows the Zoho source resuming
// a stream's full sync after its first bulk page.
func resumedMidway(log, stream string) bool {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "full sync:") || !strings.Contains(line, " stream="+stream) {
			continue
		}
		if m := resumePage.FindStringSubmatch(line); m != nil && m[1] != "0" {
			return true
		}
	}
	return false
}

var resumePage = regexp.MustCompile(`resume_page=([0-9]+)`)
