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

// UnimplementedDestination is the destination's counterpart of
// UnimplementedSource: embed it, and methods added to Destination in a later
// minor version of the SDK get a default here, so the connector keeps
// compiling and behaves as before. Destination has no optional method yet.
type UnimplementedDestination struct{}
