package wirev1

import (
	"context"
	"errors"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/replicatorhq/replicator/plugin/contract"
)

// oldSource is a plugin built before SDK 1.2: its server is the generated
// one of its day, which answers calls it does not know UNIMPLEMENTED.
type oldSource struct{ UnimplementedSourceServer }

// A host of SDK 1.2 asking an older plugin to connect a source sees
// ErrUnsupported, as it does for an Authorize the plugin does not offer.
func TestOlderPluginsAnswerConnectCallsUnsupported(t *testing.T) {
	conn, server := goplugin.TestGRPCConn(t, func(s *grpc.Server) { RegisterSourceServer(s, oldSource{}) })
	defer server.Stop()
	defer conn.Close()
	src := NewSource(conn)
	ctx := context.Background()
	if _, err := src.(contract.WebAuthorizer).AuthorizeURL(ctx, contract.AuthorizeURLRequest{State: "s"}); !errors.Is(
		err,
		contract.ErrUnsupported,
	) {
		t.Errorf("AuthorizeURL = %v, want ErrUnsupported", err)
	}
	if _, err := src.(contract.Revoker).Revoke(ctx, contract.RevokeRequest{}); !errors.Is(
		err,
		contract.ErrUnsupported,
	) {
		t.Errorf("Revoke = %v, want ErrUnsupported", err)
	}
}
