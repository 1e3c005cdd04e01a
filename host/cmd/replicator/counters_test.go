package main

import "testing"

func TestFormatCountersInPipelineOrder(t *testing.T) {
	got := formatCounters(map[string]int64{
		"destination.unparseable_numbers": 2, "source.unparseable_numbers": 1,
		"api_credits": 9, "destination.created": 5, "source.api_credits": 4,
	})
	want := "source.api_credits=4 source.unparseable_numbers=1 destination.created=5 destination.unparseable_numbers=2 api_credits=9"
	if got != want {
		t.Errorf("formatCounters = %q\nwant              %q", got, want)
	}
}
