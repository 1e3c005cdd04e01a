package zoho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Full sync methods, as checkpoints record them.
const (
	methodBulk    = "bulk"
	methodRecords = "records"
)

// Values of full_sync_method.
const (
	fullSyncAuto    = "auto"
	fullSyncBulk    = "bulk_read"
	fullSyncRecords = "records_api"
)

// chooseMethod picks how a full sync reads the module: Bulk Read costs 50
// credits a job whatever the number of records, the records API 1 credit
// per 200 records and field group, so small modules are read through the
// records API and large ones through Bulk Read. Zoho's record count (1
// credit) decides.
func (r *reader) chooseMethod(ctx context.Context) (string, error) {
	if has, known := r.tk.credentials().hasScope("ZohoCRM.bulk.READ"); known && !has {
		r.log.Info(
			"ZohoCRM.bulk.READ was not granted: reading every record through the records API, which spends more credits on " +
				"large modules")
		return methodRecords, nil
	}
	switch r.cfg.FullSyncMethod {
	case fullSyncBulk:
		return methodBulk, nil
	case fullSyncRecords:
		return methodRecords, nil
	}
	n, err := r.countRecords(ctx)
	var be *budgetError
	if errors.As(err, &be) {
		return "", err
	}
	if err != nil {
		r.log.Warn("could not count the records; the full sync uses Bulk Read", "error", err)
		return methodBulk, nil
	}
	records, bulk := r.fullSyncCredits(n)
	from := r.tune.bulkFrom
	if (from > 0 && n < from) || (from == 0 && records < bulk) {
		r.log.Info("full sync through the records API, cheaper than Bulk Read for this many records",
			"records", n, "credits", records, "bulk_read_credits", bulk)
		return methodRecords, nil
	}
	r.log.Info("full sync through Bulk Read", "records", n, "credits", bulk, "records_api_credits", records)
	return methodBulk, nil
}

// fullSyncCredits estimates what reading n records costs through the
// records API and through Bulk Read.
func (r *reader) fullSyncCredits(n int64) (records, bulk int64) {
	groups := int64(len(r.mod.fieldGroups(r.tune.maxColumns, nil)))
	pages := max((n+recordsPerPage-1)/recordsPerPage, 1)
	jobs := max((n+bulkPageRows-1)/bulkPageRows, 1)
	return pages * groups, jobs * bulkPageEstimate
}

// countRecords asks Zoho how many records the module holds (1 credit).
func (r *reader) countRecords(ctx context.Context) (int64, error) {
	var body struct {
		Count *count `json:"count"`
	}
	req := request{method: "GET", path: "/crm/v8/" + r.mod.module + "/actions/count", cost: 1, idempotent: true}
	if _, err := r.c.getJSON(ctx, req, &body); err != nil {
		return 0, fmt.Errorf("counting %s: %w", r.mod.module, err)
	}
	if body.Count == nil {
		return 0, fmt.Errorf("counting %s: Zoho's answer holds no count", r.mod.module)
	}
	return int64(*body.Count), nil
}

// count is a record count. Zoho's OpenAPI file types it as a string
// ({"count":"55"}); a number is read too, should Zoho send one.
type count int64

func (c *count) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var text string
	switch v := v.(type) {
	case string:
		text = v
	case float64:
		text = string(b)
	default:
		return fmt.Errorf("the count %s is neither a number nor a string", b)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("the count %s is not a whole number of records", b)
	}
	*c = count(n)
	return nil
}
