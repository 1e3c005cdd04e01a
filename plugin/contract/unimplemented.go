package contract

import (
	"context"
	"fmt"
)

// UnimplementedSource answers ErrUnsupported for the optional Source
// methods. Embed it so a connector keeps compiling when the interface grows.
type UnimplementedSource struct{}

// Authorize reports that the source takes no grant.
func (UnimplementedSource) Authorize(context.Context, AuthorizeRequest) (AuthorizeResponse, error) {
	return AuthorizeResponse{}, fmt.Errorf("authorize: %w", ErrUnsupported)
}
