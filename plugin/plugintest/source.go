package plugintest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// SourceSuite checks a source connector.
type SourceSuite struct {
	// New builds the connector, as its main passes to plugin.ServeSource.
	New func(hclog.Logger) contract.Source
	// Config is a working configuration (the JSON the host decodes from HCL).
	Config json.RawMessage
	// BadConfig is a configuration Check must reject.
	BadConfig json.RawMessage
	// Credentials returns stored credentials for Config, or nil if the
	// source needs none. It is called once.
	Credentials func(t *testing.T) json.RawMessage
	// Streams to read; nil reads every discovered stream.
	Streams []string
}

// Run runs every check as a subtest of t.
func (s SourceSuite) Run(t *testing.T) {
	ctx := context.Background()
	src := ConnectSource(t, s.New(logger(t)))
	var creds json.RawMessage
	if s.Credentials != nil {
		creds = s.Credentials(t)
	}

	t.Run("spec", func(t *testing.T) {
		spec, err := src.Spec(ctx)
		if err != nil {
			t.Fatalf("Spec: %v", err)
		}
		checkSpec(t, spec)
	})

	t.Run("check rejects a bad config", func(t *testing.T) {
		_, err := src.Check(ctx, contract.CheckRequest{Config: s.BadConfig, Credentials: creds})
		if err == nil {
			t.Fatal("Check accepted the bad config")
		}
		if err.Error() == "" {
			t.Fatal("Check failed without saying why")
		}
	})

	var catalog contract.Catalog
	t.Run("discover", func(t *testing.T) {
		resp, err := src.Discover(ctx, contract.DiscoverRequest{Config: s.Config, Credentials: creds})
		if err != nil {
			t.Fatalf("Discover: %v", err)
		}
		if resp.Credentials != nil {
			creds = resp.Credentials
		}
		catalog = resp.Catalog
		if len(catalog.Streams) == 0 {
			t.Fatal("catalog has no streams")
		}
		for _, st := range catalog.Streams {
			if st.Name == "" || len(st.PrimaryKey) == 0 || len(st.Modes) == 0 {
				t.Errorf("stream %q needs a name, a primary key and modes: %+v", st.Name, st)
			}
			compileSchema(t, st)
		}
	})
	if t.Failed() {
		return
	}
	streams := s.streams(t, catalog)

	t.Run("check accepts the config", func(t *testing.T) {
		resp, err := src.Check(ctx, contract.CheckRequest{Config: s.Config, Credentials: creds, Streams: streams})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if resp.Credentials != nil {
			creds = resp.Credentials
		}
	})

	const generation = 7
	for _, st := range streams {
		t.Run("read "+st.Name, func(t *testing.T) {
			full := s.read(t, src, creds, contract.ReadStream{Name: st.Name, Generation: generation})
			if full.creds != nil {
				creds = full.creds
			}
			sch := compileSchema(t, st)
			for i, r := range full.records {
				if r.Stream != st.Name {
					t.Fatalf("record %d is of stream %q, asked for %q", i, r.Stream, st.Name)
				}
				if r.Key == "" {
					t.Fatalf("record %d has no key", i)
				}
				if r.Op == contract.Upsert {
					if err := validate(sch, r.Data); err != nil {
						t.Fatalf("record %d (key %s) does not match the discovered schema: %v", i, r.Key, err)
					}
				}
			}
			if len(full.checkpoints) == 0 {
				t.Fatal("a full read emitted no checkpoint")
			}
			if len(full.full) != 1 || full.full[0].Generation != generation || full.full[0].Stream != st.Name {
				t.Fatalf("a read without state must end with one full-refresh-complete of generation %d, got %+v", generation, full.full)
			}

			// Resume from the first checkpoint that has records after it.
			var mid *recordedCheckpoint
			for i := range full.checkpoints {
				c := &full.checkpoints[i]
				if c.records > 0 && c.records < len(full.records) {
					mid = c
					break
				}
			}
			if mid != nil {
				resumed := s.read(t, src, creds, contract.ReadStream{Name: st.Name, State: mid.state, Generation: generation + 1})
				have := map[string]bool{}
				for _, r := range resumed.records {
					have[r.Key] = true
				}
				for _, r := range full.records[mid.records:] {
					if !have[r.Key] {
						t.Fatalf("resumed from a checkpoint, the read skipped record %s that came after it", r.Key)
					}
				}
				if len(resumed.records) >= len(full.records) {
					t.Fatalf("resumed from a checkpoint after %d records, the read started over (%d records, full read %d)",
						mid.records, len(resumed.records), len(full.records))
				}
			} else {
				t.Logf("no checkpoint inside the read (%d records); resume checked from the last one only", len(full.records))
			}

			last := full.checkpoints[len(full.checkpoints)-1]
			again := s.read(t, src, creds, contract.ReadStream{Name: st.Name, State: last.state, Generation: generation + 2})
			for _, r := range again.records {
				if r.Op == contract.Upsert {
					t.Fatalf("resumed from the last checkpoint of an unchanged source, the read emitted record %s again", r.Key)
				}
			}
		})
	}
}

func (s SourceSuite) streams(t *testing.T, cat contract.Catalog) []contract.Stream {
	if s.Streams == nil {
		return cat.Streams
	}
	var out []contract.Stream
	for _, name := range s.Streams {
		st, ok := cat.Stream(name)
		if !ok {
			t.Fatalf("the catalog has no stream %q", name)
		}
		out = append(out, st)
	}
	return out
}

func (s SourceSuite) read(t *testing.T, src contract.Source, creds json.RawMessage, rs contract.ReadStream) *recorder {
	t.Helper()
	rec := &recorder{}
	err := src.Read(context.Background(), contract.ReadRequest{Config: s.Config, Credentials: creds, Streams: []contract.ReadStream{rs}}, rec)
	if err != nil {
		t.Fatalf("Read %s: %v", rs.Name, err)
	}
	return rec
}
