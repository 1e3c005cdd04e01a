// Command v1source is a source written the way SDK 1.0's documentation
// showed: a constructor wrapped in a closure returning contract.Source,
// and every Source method implemented by hand, without embedding
// contract.UnimplementedSource. The compatibility test builds and runs it
// against the current host side, so a change that breaks such connectors
// fails there.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/replicatorhq/replicator/plugin"
	"github.com/replicatorhq/replicator/plugin/contract"
)

type source struct{}

func (source) Spec(context.Context) (contract.Spec, error) {
	return contract.Spec{Name: "v1source", Version: "1.0.0", Config: []contract.Attribute{
		{Name: "count", Type: contract.TypeNumber, Default: json.RawMessage(`3`)},
	}}, nil
}

func (source) Authorize(context.Context, contract.AuthorizeRequest) (contract.AuthorizeResponse, error) {
	return contract.AuthorizeResponse{}, contract.ErrUnsupported
}

func (source) Check(context.Context, contract.CheckRequest) (contract.CheckResponse, error) {
	return contract.CheckResponse{Message: "ok"}, nil
}

func (source) Discover(context.Context, contract.DiscoverRequest) (contract.DiscoverResponse, error) {
	return contract.DiscoverResponse{Catalog: contract.Catalog{Streams: []contract.Stream{{
		Name: "items", Schema: json.RawMessage(`{"type":"object"}`), PrimaryKey: []string{"id"},
		Modes: []contract.SyncMode{contract.FullRefresh},
	}}}}, nil
}

func (source) Read(ctx context.Context, req contract.ReadRequest, out contract.Output) error {
	for i := range 3 {
		rec := contract.Record{Stream: "items", Key: fmt.Sprint(i), Data: json.RawMessage(fmt.Sprintf(`{"id":%d}`, i))}
		if err := out.Emit(ctx, rec); err != nil {
			return err
		}
	}
	if err := out.Checkpoint(ctx, "items", json.RawMessage(`{"done":true}`)); err != nil {
		return err
	}
	return out.FullRefreshComplete(ctx, "items", req.Streams[0].Generation)
}

func main() {
	plugin.ServeSource(func(log hclog.Logger) contract.Source { return source{} })
}
