package phone

import (
	"testing"

	"github.com/replicatorhq/replicator/schemas"
)

// A destination makes a Reader for every write.
func BenchmarkNewReader(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewReader(); err != nil {
			b.Fatal(err)
		}
	}
}

// The phones of one contact as a destination reads them, the 00 check
// against every country's international prefix among them.
func BenchmarkReaderNumber(b *testing.B) {
	r, err := NewReader()
	if err != nil {
		b.Fatal(err)
	}
	phones := []schemas.Phone{
		{Number: "+31201234567", Raw: "020-1234567"},
		{Raw: "+49 30 1234567"},
		{Raw: "0044 20 7946 0958"},
		{Raw: "030 1234567"},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range phones {
			r.Number(p)
		}
	}
}
