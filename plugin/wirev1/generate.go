// Package wirev1 is version 1 of the wire between host and plugins: the
// protobuf messages and gRPC services generated from replicator.proto, and
// the conversions to and from the plain types of package contract. No other
// package touches the generated types.
package wirev1

// The generated files come from buf generate with the code generators at
// the versions the Makefile pins; `make check` fails when they are stale.
//go:generate make -C ../.. generate
