// Command demo shows Replicator at work on one machine. It starts the Zoho
// CRM and ROGER365 simulators from ./bin, writes a pipeline file into
// ./.demo, authorizes the Zoho source with a grant code, syncs, changes the
// CRM, syncs again, and then looks up callers' numbers the way a phone
// system would. `make demo` builds the binaries and runs it.
//
// It prints each step in plain words, exits non-zero when a step fails or
// a lookup does not show what it should, and stops every process it
// started, also on Ctrl-C.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	contacts := flag.Int("contacts", 10000, "contacts in the simulated CRM")
	accounts := flag.Int("accounts", 2000, "accounts (companies) in the simulated CRM")
	console := flag.Bool("console", false, "instead of the walk-through, serve the console of `replicator run` for a person to try")
	listen := flag.String("listen", "127.0.0.1:8080", "where -console serves the console")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Stdout, *contacts, *accounts, *console, *listen)
	stop()
	os.Exit(code)
}

// Names the demo gives things.
const (
	pipelineName = "crm-phonebook"
	sourceRef    = "zoho.crm"
	replicatorID = "zoho-crm"
	demoDir      = ".demo"
	configPath   = demoDir + "/replicator.hcl"
)

// scopes are what the grant allows: read both modules, their fields and
// the org's settings, and use Bulk Read and COQL, the cheap ways to read.
var scopes = []string{
	"ZohoCRM.modules.contacts.READ", "ZohoCRM.modules.accounts.READ", "ZohoCRM.bulk.READ",
	"ZohoCRM.coql.READ", "ZohoCRM.settings.fields.READ", "ZohoCRM.org.READ",
}

type demo struct {
	out                io.Writer
	root, bin          string
	contacts, accounts int
	api                *api
	client             zohoClient
	services           []*service
	cast               cast
	changedAt          time.Time // when the last CRM change was made
	console            bool      // serve the console instead of the walk-through
	listen             string    // the console's address
}

// person is a CRM record the demo follows through the steps.
type person struct {
	module, id    string // the CRM record
	name, company string
	number        string // E.164
	field, typed  string // the CRM field holding the number, and how it was typed
}

// cast is who the demo calls, and what it changes.
type cast struct {
	renamed, abroad, company, leaver person
	newName                          string
	companyNumber                    string // the company's new number, E.164
	newcomer                         person
}

func run(ctx context.Context, out io.Writer, contacts, accounts int, console bool, listen string) int {
	start := time.Now()
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(out, "demo: %v\n", err)
		return 1
	}
	d := &demo{out: out, root: root, bin: filepath.Join(root, "bin"), contacts: contacts, accounts: accounts, console: console, listen: listen}
	err = d.run(ctx)
	if len(d.services) > 0 {
		d.say("\nStopping the simulators.")
	}
	for _, s := range d.services {
		s.stop()
	}
	switch {
	case err == nil && console:
		fmt.Fprintf(out, "\nStopped. The pipeline file, the state and run.log are in %s/; `make console` starts over.\n", demoDir)
		return 0
	case err == nil:
		fmt.Fprintf(out, "\nDone in %s. The pipeline file and the state are in %s/; `make demo` starts over.\n",
			time.Since(start).Round(time.Second), demoDir)
		return 0
	case ctx.Err() != nil:
		fmt.Fprintln(out, "\nStopped by an interrupt; everything the demo started has been stopped.")
		return 130
	default:
		fmt.Fprintf(out, "\nThe demo failed: %v\n", err)
		return 1
	}
}

type step struct {
	title string
	run   func(context.Context) error
}

func (d *demo) run(ctx context.Context) error {
	for _, name := range []string{"replicator", "replicator-source-zoho", "replicator-destination-roger365", "zoho-sim", "roger365-sim"} {
		if _, err := os.Stat(filepath.Join(d.bin, name)); err != nil {
			return fmt.Errorf("%s is missing from ./bin: run `make demo` from the repository's top folder (it builds first)", name)
		}
	}
	// Start clean: a state file from an earlier run would point at
	// simulators that are gone.
	if err := os.RemoveAll(filepath.Join(d.root, demoDir)); err != nil {
		return fmt.Errorf("removing the previous demo's files: %w", err)
	}
	if err := os.Mkdir(filepath.Join(d.root, demoDir), 0o755); err != nil {
		return fmt.Errorf("making %s: %w", demoDir, err)
	}
	steps := []step{
		{"Start a simulated Zoho CRM", d.startZoho},
		{"Start a simulated ROGER365", d.startRoger},
		{"Write the pipeline file", d.writeConfig},
		{"Record the connector plugins", d.initPlugins},
		{"Authorize Replicator to read the CRM", d.authorize},
		{"Check both ends", d.check},
		{"First sync: copy everything", d.firstSync},
		{"See what reached the phonebook", d.inspect},
		{"Calls come in", d.callsBefore},
		{"Someone works in the CRM", d.change},
		{"Sync again", d.secondSync},
		{"The same calls again", d.callsAfter},
		{"Look at the run history", d.status},
	}
	if d.console {
		steps = d.consoleSteps()
	}
	for i, s := range steps {
		fmt.Fprintf(d.out, "\n── Step %d of %d: %s\n", i+1, len(steps), s.title)
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("step %d (%s): %w%s", i+1, s.title, err, d.deadServices())
		}
	}
	return nil
}

// deadServices explains a simulator that stopped on its own.
func (d *demo) deadServices() string {
	var b strings.Builder
	for _, s := range d.services {
		if done, err := s.exited(); done {
			fmt.Fprintf(&b, "\n%s stopped unexpectedly (%v)%s", s.name, err, s.stderr.explain())
		}
	}
	return b.String()
}

// say prints the demo's own words, indented under the step's title.
func (d *demo) say(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			fmt.Fprintln(d.out)
			continue
		}
		fmt.Fprintln(d.out, "  "+line)
	}
}

// replicatorCommand is bin/replicator with args, run from the repository's
// folder with the demo's secrets and no configuration or plugin path from
// the user's environment.
func (d *demo) replicatorCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(d.bin, "replicator"), args...)
	cmd.Dir = d.root
	cmd.Env = append(os.Environ(),
		"REPLICATOR_CONFIG=", "REPLICATOR_PLUGIN_PATH=",
		"ZOHO_CLIENT_SECRET="+d.client.ClientSecret,
		"ROGER365_API_KEY="+d.api.rogerKey,
	)
	return cmd
}

// replicator runs bin/replicator from the repository's folder, printing the
// command line and the command's own output.
func (d *demo) replicator(ctx context.Context, stdin, prompt, answer string, args ...string) error {
	full := append([]string{args[0], "-config", configPath}, args[1:]...)
	fmt.Fprintf(d.out, "\n  $ bin/replicator %s\n", strings.Join(full, " "))
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := d.replicatorCommand(full...)
	if err := runCommand(ctx, d.out, cmd, stdin, prompt, answer); err != nil {
		return fmt.Errorf("replicator %s: %w", args[0], err)
	}
	return nil
}

func (d *demo) startZoho(ctx context.Context) error {
	d.say(`Replicator copies the contacts and companies (Zoho calls them accounts) of a
Zoho CRM org into the phonebook of ROGER365, so that a phone shows who is
calling, with a link to the record in the CRM.

This demo needs no accounts anywhere: it starts simulators of Zoho CRM and
ROGER365 on this machine, which answer the same APIs. First the CRM, with
%s contacts and %s accounts from six countries.`, thousands(d.contacts), thousands(d.accounts))
	s, url, err := startService(ctx, "zoho-sim", filepath.Join(d.bin, "zoho-sim"),
		[]string{"-addr", "127.0.0.1:0", "-contacts", fmt.Sprint(d.contacts), "-accounts", fmt.Sprint(d.accounts),
			"-clock-offset", clockOffset.String()}, nil)
	if err != nil {
		return err
	}
	d.services = append(d.services, s)
	d.api = &api{http: &http.Client{Timeout: time.Minute}, zoho: url, repID: replicatorID}
	d.client, err = d.api.zohoClient(ctx)
	if err != nil {
		return err
	}
	d.say("\nzoho-sim listens on %s (data centre %q, org %s).", url, d.client.DC, d.client.OrgDomain)
	return nil
}

func (d *demo) startRoger(ctx context.Context) error {
	key, err := randomKey()
	if err != nil {
		return err
	}
	d.api.rogerKey = key
	d.say(`ROGER365 keeps a phonebook for each "CRM replicator" set up in it. The
simulator gets one called %q and an API key made up for this run.`, replicatorID)
	s, url, err := startService(ctx, "roger365-sim", filepath.Join(d.bin, "roger365-sim"),
		[]string{"-addr", "127.0.0.1:0", "-replicator", replicatorID + ",Zoho CRM"},
		[]string{"ROGER365_SIM_KEY=" + key})
	if err != nil {
		return err
	}
	d.services = append(d.services, s)
	d.api.roger = url
	d.say("\nroger365-sim listens on %s.", url)
	return nil
}

func randomKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making an API key: %w", err)
	}
	return "demo-" + hex.EncodeToString(b), nil
}

func (d *demo) writeConfig(ctx context.Context) error {
	hcl := fmt.Sprintf(`# The demo's pipeline: the simulated Zoho CRM org into the simulated
# ROGER365 phonebook. Secrets are read from the environment by env().

source "zoho" "crm" {
  domain        = %q
  client_id     = %q
  client_secret = env("ZOHO_CLIENT_SECRET")

  # Test overrides: talk to the simulator instead of Zoho.
  accounts_url = %q
  api_url      = %q
}

destination "roger365" "phonebook" {
  api_url       = %q
  api_key       = env("ROGER365_API_KEY")
  replicator_id = %q
}

pipeline %q {
  source      = source.zoho.crm
  destination = destination.roger365.phonebook
  streams     = ["contacts", "accounts"]
  interval    = "15m" # how often "replicator run" syncs it
}
`, d.client.DC, d.client.ClientID, d.client.AccountsURL, d.client.APIURL, d.api.roger, replicatorID, pipelineName)
	if err := os.WriteFile(filepath.Join(d.root, configPath), []byte(hcl), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", configPath, err)
	}
	d.say(`A pipeline file says where to read (a source), where to write (a
destination) and which streams to copy. Here one pipeline copies both
streams, contacts and accounts. Secrets stay out of the file: env() reads
them when Replicator runs, and the demo sets ZOHO_CLIENT_SECRET and
ROGER365_API_KEY for each command. accounts_url and api_url are test
overrides that point the Zoho connector at the simulator.

%s:
`, configPath)
	for _, line := range strings.Split(strings.TrimRight(hcl, "\n"), "\n") {
		fmt.Fprintln(d.out, "    │ "+line)
	}
	return nil
}

func (d *demo) initPlugins(ctx context.Context) error {
	d.say(`Each connector is a program of its own, a plugin. "init" writes down the
version and checksum of every plugin the file uses; later commands refuse
a plugin that has changed since.`)
	return d.replicator(ctx, "", "", "", "init")
}

func (d *demo) authorize(ctx context.Context) error {
	d.say(`Zoho lets a program read a CRM once someone hands it a grant code. In
Zoho's API console you would open your Self Client, enter the scopes below
and copy the code it shows:
  %s
The simulator issues such a code through its admin API instead
(POST /admin/grant-codes). "authorize" asks for it, as it would ask you,
and trades it for a long-lived token that it keeps in the state file
%s/replicator.db, never in the pipeline file.`, strings.Join(scopes, " "), demoDir)
	code, err := d.api.grantCode(ctx, scopes)
	if err != nil {
		return err
	}
	prompt := "Paste the grant code for source." + sourceRef + ": "
	return d.replicator(ctx, code+"\n", prompt, "(the demo pastes the code; it is not shown)", "authorize", sourceRef)
}

func (d *demo) check(ctx context.Context) error {
	d.say(`"check" asks both connectors whether they can reach their service with the
configuration and credentials they have.`)
	return d.replicator(ctx, "", "", "", "check", pipelineName)
}

func (d *demo) firstSync(ctx context.Context) error {
	d.say(`The first sync of a stream reads everything: the Zoho connector asks Zoho's
Bulk Read API for an export of each module, turns every record into a
contact with its phone numbers in international (E.164) form, and the
ROGER365 connector writes them into the phonebook in batches. Contacts
without any number that can be dialled are left out.`)
	return d.replicator(ctx, "", "", "", "sync", pipelineName)
}

func (d *demo) inspect(ctx context.Context) error {
	book, err := d.api.phonebook(ctx)
	if err != nil {
		return err
	}
	var people, companies int
	for _, e := range book {
		if e.Contact.Kind == "account" {
			companies++
		} else {
			people++
		}
	}
	crmContacts, err := d.api.zohoCount(ctx, "Contacts")
	if err != nil {
		return err
	}
	crmAccounts, err := d.api.zohoCount(ctx, "Accounts")
	if err != nil {
		return err
	}
	d.say(`The phonebook now holds %s of the CRM's %s contacts and %s of its %s
companies; the others have no number a phone could call from.`, thousands(people), thousands(crmContacts), thousands(companies), thousands(crmAccounts))
	if people == 0 || companies == 0 {
		return errors.New("the first sync left the phonebook without contacts or companies")
	}
	if err := d.pickCast(ctx, book); err != nil {
		return err
	}
	c := &d.cast
	d.say("\nThe demo follows four of them. How they are written in the CRM:")
	for _, p := range []*person{&c.renamed, &c.abroad, &c.company, &c.leaver} {
		company := ""
		if p.company != "" && p.module == "Contacts" {
			company = " of " + p.company
		}
		d.say("  %s%s: %s %q", p.name, company, p.field, p.typed)
	}
	return nil
}

// pickCast chooses the people the demo follows from the phonebook: the
// first, by record id, of each kind it needs, so every run tells the same
// story.
func (d *demo) pickCast(ctx context.Context, book []entry) error {
	used := map[string]bool{}
	find := func(what, kind string, want func(number string) bool, needCompany bool) (person, error) {
		for _, e := range book {
			c := e.Contact
			if c.Kind != kind || used[c.SourceID] || (needCompany && c.Company == "") {
				continue
			}
			for _, ph := range c.Phones {
				if !want(ph.Number) {
					continue
				}
				module := "Contacts"
				if kind == "account" {
					module = "Accounts"
				}
				p := person{module: module, id: c.SourceID, name: c.DisplayName, company: c.Company, number: ph.Number}
				rec, err := d.api.zohoRecord(ctx, module, c.SourceID)
				if err != nil {
					return person{}, err
				}
				if p.field, p.typed = typedAs(rec, ph.Number); p.field == "" {
					continue
				}
				used[c.SourceID] = true
				return p, nil
			}
		}
		return person{}, fmt.Errorf("the phonebook has no %s; run the demo with more contacts", what)
	}
	prefix := func(ps ...string) func(string) bool {
		return func(n string) bool {
			for _, p := range ps {
				if strings.HasPrefix(n, p) {
					return true
				}
			}
			return false
		}
	}
	var err error
	c := &d.cast
	if c.renamed, err = find("contact with an Amsterdam number and a company", "contact", prefix("+3120"), true); err != nil {
		return err
	}
	if c.abroad, err = find("contact with a German number", "contact", prefix("+49"), true); err != nil {
		return err
	}
	if c.company, err = find("company with a Dutch landline", "account", prefix("+3110", "+3120", "+3130", "+3140", "+3150", "+3170"), false); err != nil {
		return err
	}
	if c.leaver, err = find("contact with a Dutch mobile number", "contact", isDutchMobile, false); err != nil {
		return err
	}
	return nil
}

// expect is what a lookup should show.
type expect struct {
	id   string // the record that should, or should no longer, answer
	name string // its display name, when it should answer
	gone bool   // the record should no longer answer
}

// ring looks a caller's number up as a phone system would and checks that
// ROGER365 shows what it should.
func (d *demo) ring(ctx context.Context, caller, note string, want expect) error {
	e164, err := callerE164(caller)
	if err != nil {
		return err
	}
	if note != "" {
		note = " (" + note + ")"
	}
	d.say("\nA call comes in from %s%s.", caller, note)
	if strings.HasPrefix(caller, "+") {
		d.say("  It is already international; the phone system asks ROGER365 about %s.", e164)
	} else {
		d.say("  Read as a Dutch number (the phone system's own country) it is %s.", e164)
	}
	matches, err := d.api.lookup(ctx, e164)
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		d.say("  ROGER365 knows no one with that number: the phone shows just the number.")
	}
	found := false
	for _, m := range matches {
		company := ""
		if m.Company != "" && m.Company != m.DisplayName {
			company = " · " + m.Company
		}
		d.say("  ROGER365 shows: %s%s\n                  %s", m.DisplayName, company, m.URL)
		if m.SourceID == want.id {
			found = true
			if !want.gone && want.name != "" && m.DisplayName != want.name {
				return fmt.Errorf("a call from %s shows %q; it should show %q", caller, m.DisplayName, want.name)
			}
		}
	}
	switch {
	case want.gone && found:
		return fmt.Errorf("a call from %s still shows record %s, which was deleted in the CRM", caller, want.id)
	case !want.gone && !found:
		return fmt.Errorf("a call from %s does not show record %s (%s)", caller, want.id, want.name)
	}
	return nil
}

func (d *demo) callsBefore(ctx context.Context) error {
	c := &d.cast
	d.say(`When a call comes in, the phone system turns the caller's number into
international form and asks ROGER365's lookup API who it is. Dutch phone
systems see domestic callers in national form, like 020-1234567, and
callers from abroad in international form, like +4930123456.`)
	calls := []struct {
		caller string
		want   expect
	}{
		{nationalForm(c.renamed.number), expect{id: c.renamed.id, name: c.renamed.name}},
		{c.abroad.number, expect{id: c.abroad.id, name: c.abroad.name}},
		{nationalForm(c.company.number), expect{id: c.company.id, name: c.company.name}},
		{nationalForm(c.leaver.number), expect{id: c.leaver.id, name: c.leaver.name}},
	}
	for _, call := range calls {
		if err := d.ring(ctx, call.caller, "", call.want); err != nil {
			return err
		}
	}
	return nil
}

// unusedNumber returns the first of candidates (E.164) that nobody in the
// phonebook has yet.
func (d *demo) unusedNumber(ctx context.Context, candidates ...string) (string, error) {
	for _, n := range candidates {
		m, err := d.api.lookup(ctx, n)
		if err != nil {
			return "", err
		}
		if len(m) == 0 {
			return n, nil
		}
	}
	return "", fmt.Errorf("every candidate number is taken: %s", strings.Join(candidates, ", "))
}

func (d *demo) change(ctx context.Context) error {
	c := &d.cast
	d.say(`Meanwhile people edit the CRM. The demo makes the changes through the
simulator's admin API, as if someone had typed them in Zoho:`)

	// A new surname for the first person.
	surname := "Jansen"
	if strings.HasSuffix(c.renamed.name, " "+surname) {
		surname = "Visser"
	}
	path := "/admin/records/Contacts/" + c.renamed.id
	d.say("\n  PATCH %s {\"Last_Name\": %q}", path, surname)
	if err := d.api.zohoUpdate(ctx, "Contacts", c.renamed.id, map[string]any{"Last_Name": surname}); err != nil {
		return err
	}
	rec, err := d.api.zohoRecord(ctx, "Contacts", c.renamed.id)
	if err != nil {
		return err
	}
	c.newName, _ = rec["Full_Name"].(string)
	if c.newName == "" {
		return fmt.Errorf("contact %s has no Full_Name after the change", c.renamed.id)
	}
	d.say("    %s is now called %s.", c.renamed.name, c.newName)

	// A new switchboard number for the company.
	if c.companyNumber, err = d.unusedNumber(ctx, "+31105550142", "+31205550142", "+31305550142"); err != nil {
		return err
	}
	typed := internationalForm(c.companyNumber)
	path = "/admin/records/Accounts/" + c.company.id
	d.say("\n  PATCH %s {%q: %q}", path, c.company.field, typed)
	if err := d.api.zohoUpdate(ctx, "Accounts", c.company.id, map[string]any{c.company.field: typed}); err != nil {
		return err
	}
	d.say("    %s moved its %s from %s to %s.", c.company.name, c.company.field, c.company.typed, typed)

	// A new colleague at the first person's company.
	number, err := d.unusedNumber(ctx, "+31207654321", "+31207654322", "+31207654323")
	if err != nil {
		return err
	}
	account, err := d.accountOf(ctx, c.renamed.id)
	if err != nil {
		return err
	}
	fields := map[string]any{
		"First_Name": "Iris", "Last_Name": "Hendriks", "Title": "Office Manager",
		"Phone": nationalForm(number), "Mailing_Country": "Nederland",
	}
	if account != "" {
		fields["Account_Name"] = account
	}
	d.say("\n  POST /admin/records/Contacts {\"First_Name\": \"Iris\", \"Last_Name\": \"Hendriks\", \"Phone\": %q, \"Mailing_Country\": \"Nederland\", ...}", nationalForm(number))
	id, err := d.api.zohoCreate(ctx, "Contacts", fields)
	if err != nil {
		return err
	}
	c.newcomer = person{module: "Contacts", id: id, name: "Iris Hendriks", company: c.renamed.company, number: number}
	d.say("    Iris Hendriks joins %s; her number is typed the Dutch way, without +31.", orSomewhere(c.renamed.company))

	// Someone leaves.
	path = "/admin/records/Contacts/" + c.leaver.id
	d.say("\n  DELETE %s", path)
	if err := d.api.zohoDelete(ctx, "Contacts", c.leaver.id); err != nil {
		return err
	}
	d.say("    %s is deleted from the CRM.", c.leaver.name)
	d.changedAt = time.Now()
	return nil
}

// thousands writes n with thousands separators, as in 10,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func orSomewhere(company string) string {
	if company == "" {
		return "the CRM"
	}
	return company
}

// accountOf returns the id of the account a contact belongs to, if any.
func (d *demo) accountOf(ctx context.Context, contactID string) (string, error) {
	rec, err := d.api.zohoRecord(ctx, "Contacts", contactID)
	if err != nil {
		return "", err
	}
	if acc, ok := rec["Account_Name"].(map[string]any); ok {
		id, _ := acc["id"].(string)
		return id, nil
	}
	return "", nil
}

// clockOffset puts the simulated CRM's clock behind this machine's, so that
// changes made in it already look older than the minute a routine sync
// stays behind.
const clockOffset = -58 * time.Second

func (d *demo) secondSync(ctx context.Context) error {
	d.say(`A routine sync, as "replicator run" starts every interval, reads only
what changed since the last one, through Zoho's COQL and deleted-records
APIs, for a handful of API credits. It stays a minute behind Zoho's clock,
so that a change Zoho is still saving is never skipped. The simulated CRM's
clock was started 58 seconds behind this machine's, so the changes just
made already look a minute old, as they would by the next interval.`)
	// Let the changes age past the lag by this machine's clock too.
	if wait := time.Until(d.changedAt.Add(3 * time.Second)); wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return d.replicator(ctx, "", "", "", "sync", pipelineName)
}

func (d *demo) callsAfter(ctx context.Context) error {
	c := &d.cast
	d.say("The phonebook follows the CRM: new names, new numbers, new people, and no one who left.")
	calls := []struct {
		caller string
		want   expect
		note   string
	}{
		{nationalForm(c.renamed.number), expect{id: c.renamed.id, name: c.newName}, "the new surname"},
		{c.abroad.number, expect{id: c.abroad.id, name: c.abroad.name}, "unchanged"},
		{nationalForm(c.company.number), expect{id: c.company.id, gone: true}, "the company's old number"},
		{c.companyNumber, expect{id: c.company.id, name: c.company.name}, "the company's new number"},
		{nationalForm(c.newcomer.number), expect{id: c.newcomer.id, name: c.newcomer.name}, "the new colleague"},
		{nationalForm(c.leaver.number), expect{id: c.leaver.id, gone: true}, "deleted from the CRM"},
	}
	for _, call := range calls {
		if err := d.ring(ctx, call.caller, call.note, call.want); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) status(ctx context.Context) error {
	d.say(`Replicator keeps a history of its runs in the state file. In real use,
"replicator run" keeps syncing every pipeline on its interval.`)
	return d.replicator(ctx, "", "", "", "status")
}
