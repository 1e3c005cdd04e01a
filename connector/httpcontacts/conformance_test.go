package httpcontacts

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/connector/httpcontacts/apisim"
	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

func TestConformance(t *testing.T) {
	a := newAPI(t)
	// 150 contacts, two pages, stamped in a few seconds so that many
	// share an updated_at and ids such as 10 and 9 tie.
	for i := range 150 {
		a.person(fmt.Sprintf("Person%d", i), "Test", fmt.Sprintf("+31 20 555 %04d", i), "NL")
		if i%40 == 39 {
			a.clock.add(time.Second)
		}
	}
	a.clock.add(2 * time.Minute) // past the source's lag
	plugintest.SourceSuite{
		New:       func(log hclog.Logger) contract.Source { return a.source(log) },
		Config:    a.config(token),
		BadConfig: a.config("wrong token"),
		// A minute after the full read, one contact changes, one is added
		// and one is deleted; the next read follows once the lag has passed.
		Change: func(t *testing.T, _ string, keys []string) plugintest.Changes {
			a.clock.add(time.Minute)
			defer a.clock.add(2 * time.Minute)
			changed := a.sim.Put(apisim.Contact{ID: keys[1], FirstName: "Changed", Company: "Acme"})
			added := a.person("Katherine", "Johnson", "+1 757 864 1000", "US")
			if err := a.sim.Delete(keys[2]); err != nil {
				t.Fatal(err)
			}
			return plugintest.Changes{Upserted: []string{changed.ID, added.ID}, Deleted: []string{keys[2]}}
		},
		Deletes: true,
	}.Run(t)
}
