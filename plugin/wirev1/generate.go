// Package wirev1 is version 1 of the wire between host and plugins: the
// protobuf messages and gRPC services generated from replicator.proto, and
// the conversions to and from the plain types of package contract. No other
// package touches the generated types.
package wirev1

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative replicator.proto
