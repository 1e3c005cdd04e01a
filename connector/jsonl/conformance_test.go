package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin/contract"
	"github.com/replicatorhq/replicator/plugin/plugintest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	plugintest.DestinationSuite{
		New:       func(log hclog.Logger) contract.Destination { return New(log) },
		Config:    json.RawMessage(fmt.Sprintf(`{"path":%q,"fsync":true}`, out)),
		BadConfig: json.RawMessage(fmt.Sprintf(`{"path":%q}`, filepath.Join(dir, "missing", "out.jsonl"))),
		Stream: contract.Stream{
			Name:       "items",
			Schema:     json.RawMessage(`{"type":"object","required":["id"],"properties":{"id":{"type":"integer"}}}`),
			PrimaryKey: []string{"id"},
			Modes:      []contract.SyncMode{contract.FullRefresh},
		},
		Record: func(i int) contract.Record {
			return contract.Record{Stream: "items", Key: strconv.Itoa(i), Data: json.RawMessage(fmt.Sprintf(`{"id":%d}`, i))}
		},
		Stored: func(t *testing.T) (map[string]bool, error) {
			b, err := os.ReadFile(out)
			if err != nil {
				return nil, err
			}
			// The destination goes on appending while this reads: a last
			// line without its line break is still being written.
			b = b[:bytes.LastIndexByte(b, '\n')+1]
			// The file read as a table, as the package comment says.
			gen := map[string]uint64{}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				var line struct {
					Key, Op    string
					Generation uint64
					FRC        *struct{ Generation uint64 } `json:"full_refresh_complete"`
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					return nil, fmt.Errorf("bad line %q: %w", sc.Text(), err)
				}
				switch {
				case line.FRC != nil:
					for k, g := range gen {
						if g < line.FRC.Generation {
							delete(gen, k)
						}
					}
				case line.Op == "delete":
					delete(gen, line.Key)
				default:
					gen[line.Key] = line.Generation
				}
			}
			keys := map[string]bool{}
			for k := range gen {
				keys[k] = true
			}
			return keys, sc.Err()
		},
	}.Run(t)
}
