package config_test

import (
	"encoding/json"
	"fmt"

	"github.com/replicatorhq/replicator/plugin/config"
)

// A connector declares its configuration once; the Spec's attributes and
// the decoding both come from the declaration.
func Example() {
	type Config struct {
		Path          string `config:"path,required" description:"CSV file to read."`
		DefaultRegion string `config:"default_region" default:"NL" description:"Country of national numbers."`
		BatchSize     int    `config:"batch_size" default:"500" description:"Records per batch."`
	}
	for _, a := range config.MustAttributes[Config]() {
		fmt.Printf("%s %s required=%v default=%s\n", a.Name, a.Type, a.Required, a.Default)
	}
	c, err := config.Decode[Config](json.RawMessage(`{"path": "contacts.csv"}`))
	fmt.Printf("%+v %v\n", c, err)
	_, err = config.Decode[Config](json.RawMessage(`{"path": "contacts.csv", "batch_size": 2.5}`))
	fmt.Println(err)
	// Output:
	// path string required=true default=
	// default_region string required=false default="NL"
	// batch_size number required=false default=500
	// {Path:contacts.csv DefaultRegion:NL BatchSize:500} <nil>
	// batch_size takes a whole number, got 2.5
}
