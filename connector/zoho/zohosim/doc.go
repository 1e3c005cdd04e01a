// Package zohosim simulates Zoho CRM for tests and demos: the OAuth accounts
// servers of every data centre, the CRM v8 API the Zoho source reads
// (organisation, module and field metadata, records, COQL, deleted records,
// Bulk Read) and an admin API that changes data and injects faults, all on
// one http.Handler.
//
// Paths served by Handler:
//
//	GET  /accounts/{dc}/oauth/v2/auth             authorization: the consent page
//	POST /accounts/{dc}/oauth/v2/approve          the consent page's Accept or Reject
//	POST /accounts/{dc}/oauth/v2/token            grant exchange and refresh
//	POST /accounts/{dc}/oauth/v2/token/revoke     revoke a refresh or access token
//	GET  /crm/v8/org
//	GET  /crm/v8/settings/modules
//	GET  /crm/v8/settings/fields?module=M
//	GET  /crm/v8/{Module}?fields=...              records
//	GET  /crm/v8/{Module}/deleted                 deleted records
//	GET  /crm/v8/{Module}/actions/count           {"count":"N"} (a string), 1 credit
//	POST /crm/v8/coql
//	POST /crm/bulk/v8/read                        create a Bulk Read job
//	GET  /crm/bulk/v8/read/{id}                   job status
//	GET  /crm/bulk/v8/read/{id}/result            zip holding {id}.csv
//	POST|GET|PUT|PATCH|DELETE /crm/v8/actions/watch   the Notification API
//	/admin/...                                    see Handler
//
// Generated records are a pure function of (seed, module, index), so a
// million contacts cost no memory; creates, updates and deletes made through
// the admin API live in a small overlay on top of them. Modified_Time of
// generated records never decreases with the index and neighbours share one
// timestamp now and then (pairs, and runs of five), which is what keyset
// pagination on (Modified_Time, id) has to get right. Phone numbers come in
// the formats people type in the Netherlands, Germany, the UK, the US,
// Belgium and France, national and international, with some junk.
//
// Two clocks drive the simulator: Options.Now for everything a client can
// observe in data and limits (token and grant-code lifetimes, rate windows,
// Modified_Time of changes, page-token expiry, the download limit) and the
// real clock for how long a Bulk Read job stays in each state, so jobs finish
// even when a test freezes Options.Now.
//
// # Behaviour a client meets
//
// OAuth: failures of the token endpoint are HTTP 200 with {"error": ...}:
// invalid_code for an unknown, used or expired grant code, a code or refresh
// token of another client, or a revoked refresh token; invalid_client for a
// wrong client id or secret and for the Self Client at another data centre's
// accounts server; invalid_redirect_uri when a code's exchange names another
// redirect_uri than its authorization did (none for a Self Client's code).
// The eleventh access token
// of one refresh token within ten minutes, and the sixth refresh token issued
// within a minute, are HTTP 400 {"error":"Access Denied",...,"status":
// "failure"}. A refresh token keeps at most 30 live access tokens: the 31st
// deletes the oldest, which then gets INVALID_TOKEN. The client keeps at most
// 20 refresh tokens (the oldest is revoked). Success carries api_domain,
// token_type, expires_in 3600 and scope (space separated).
//
// Server-based applications (Options.WebClients, RegisterWebClient, POST
// /admin/web-clients) are registered with Multi-DC: every data centre's
// accounts server knows them, but codes and tokens live only in the org's,
// so elsewhere their exchange is invalid_code. The authorization endpoint
// takes scope (comma or space separated), client_id, response_type=code,
// access_type (online, the default, or offline), redirect_uri, state and
// prompt=consent, at any data centre's accounts server. An unknown client or
// a redirect_uri not registered for it exactly gets an HTML error page and
// no redirect; another fault goes back to redirect_uri with error
// (unsupported_response_type, invalid_scope, invalid_request) and state. Else
// the consent page shows the org's primary user, whose account lives in the
// org's data centre (Options.DC), with a form (id "consent") whose Accept
// and Reject buttons (ids "accept", "reject") post the answer; a page is
// answered once, within ten minutes. Accept sends the browser to
// redirect_uri?state=..&code=..&location=<dc>&accounts-server=<this
// server>/accounts/<dc>, the loopback stand-in for https://accounts.zoho.<tld>;
// Reject sends error=access_denied and state. Consent plays that part for
// tests without a browser. The code lasts Options.GrantCodeTTL and its
// exchange gives a refresh token only for access_type=offline: the first
// time for a client, or every time with prompt=consent.
//
// API calls go to the org's API host (www., sandbox. or
// developer.zohoapis.<tld>), a loopback address, localhost or one of
// Options.APIHosts; any other Host is 400 INVALID_HOST, as Zoho answers a
// call not made to its API domain. They authenticate with
// "Authorization: Zoho-oauthtoken <token>". A
// missing, unknown, expired or revoked token is 401 INVALID_TOKEN; another
// scheme such as Bearer is 401 AUTHENTICATION_FAILURE; a lacking scope is 401
// OAUTH_SCOPE_MISMATCH with the missing scopes in details.scope. Errors are
// {"code","details","message","status":"error"}. Broader scopes count:
// ZohoCRM.modules.ALL covers ZohoCRM.modules.contacts.READ.
//
// Records: fields is required (at most 50; unknown names are left out);
// per_page at most 200; sort_by id (default), Created_Time or Modified_Time,
// sort_order desc (default) or asc; page reaches the first 2,000 records,
// then 400 DISCRETE_PAGINATION_LIMIT_EXCEEDED; info.next_page_token reaches
// 100,000 and lives 24 hours. Rows carry the requested fields, id and a few
// "$" metadata keys. No rows is 204, or 304 with If-Modified-Since.
//
// COQL takes the shapes an incremental reader sends:
//
//	select <up to 50 columns> from <Module>
//	where <criteria>
//	order by Modified_Time asc, id asc
//	[limit N]                                  N up to 2,000, default 200
//
// ORDER BY takes at most 10 fields (else 400 LIMIT_EXCEEDED), none twice
// (400 DUPLICATE_DATA); of those the simulator takes only the one above.
//
// where the criteria are (Modified_Time >= 'T'), (Modified_Time > 'T') or
// ((Modified_Time > 'T') or ((Modified_Time = 'T') and (id > 'ID'))),
// optionally and-ed with an upper bound (Modified_Time <= 'T2') or
// (Modified_Time < 'T2'), at most two conditions per bracket level as Zoho
// wants. A lookup may be filtered by up to 50 values, repeats counted, (Account_Name in ('ID1',
// 'ID2')), alone or and-ed with the above; a deleted account's id still
// matches its contacts, whose lookup shows null. Renaming or deleting an
// account leaves its contacts' Modified_Time alone, as in Zoho. Anything
// else is 400 SYNTAX_ERROR; an unknown column or module is 400
// INVALID_QUERY. Lookups come back as {"name","id"}, owners as
// {"name","id","email"}, and dotted columns such as Account_Name.Account_Name
// or Owner.email as plain values. No rows is 204.
//
// Deleted records list newest first, filtered by type and If-Modified-Since,
// paged by page and per_page only (page_token is 400 INVALID_DATA); none is
// 204.
//
// Bulk Read: a job takes query.module, fields (default every field),
// criteria on Modified_Time (comparators greater_than, greater_equal,
// less_than, less_equal, equal, between; groups with "and"), page, or a
// page_token from a previous job. It reads a snapshot taken when it is
// created. The CSV header is id, then the requested fields in request order.
// As in Zoho, a plain lookup or owner column holds the linked record's or
// user's id only; the name needs the dotted form: Account_Name.Account_Name
// (the target's name field), Owner.first_name, Owner.last_name, Owner.email;
// Options.BulkOwnerNamesRefusal refuses the owners' ones with the code it
// names (FIELD_NOT_SUPPORTED, INVALID_REQUEST, ...). A field the module does
// not have is 400 FIELD_NOT_AVAILABLE. Such refusals name the field in
// details {"api_name","module"}, or, with Options.BulkRefusalsNameNoField,
// leave details empty: Zoho documents both. Criteria it does not take are
// 400 INVALID_CRITERIA, an unknown module 400 MODULE_NOT_AVAILABLE, and
// Notes, Attachments and Emails 400 MODULE_NOT_SUPPORTED. Times are ISO 8601 with
// the org's offset, multi-select values are joined with ";", booleans are
// true or false, empty values are empty cells. The result is 404
// RESOURCE_NOT_FOUND until the job is COMPLETED and 429 TOO_MANY_REQUESTS
// past ten downloads a minute.
//
// Credits: 1 per call, COQL 1, 2 or 3 by LIMIT (up to 200, 1,000, 2,000),
// 50 per Bulk Read job created; failed calls cost nothing. The org has
// Options.DailyCredits per rolling 24 hours; once half are spent, every API
// answer carries X-API-CREDITS-REMAINING with what is left. What Zoho
// answers once none are left is not documented; the simulator goes on
// answering. More than Options.MaxConcurrent calls at once are 429
// TOO_MANY_REQUESTS.
//
// Notifications (actions/watch): POST enables channels, GET lists them
// (channel_id, module, page, per_page up to 200; an entry per channel and
// module; none is 204), PUT replaces them (keys left out are removed),
// PATCH changes the keys given and adds events, or removes them with
// "_delete_events": true (a channel left without events ends), DELETE
// ?channel_ids=1,2 disables them. Each takes {"watch":[...]} items of
// channel_id (a number), events ({Module}.create, .edit, .delete or .all),
// notify_url, token (at most 50 characters, else 400 INVALID_DATA),
// channel_expiry (at most a week ahead; missing or later gives one hour),
// return_affected_field_values and notify_on_related_action. A missing key
// is 400 MANDATORY_NOT_FOUND, a channel that is not subscribed (or has
// expired) 400 NOT_SUBSCRIBED; answers are per item, 202 when only some
// succeed. The scopes are ZohoCRM.notifications.ALL or the finer READ
// (list), CREATE or WRITE (enable), UPDATE or WRITE (replace, update) and
// DELETE (disable); each call costs a credit. When the admin API creates,
// changes or deletes a record, every live channel with a matching event
// gets a POST to its notify_url: {"server_time" (ms),"query_params" (of
// notify_url),"module","resource_uri" (/crm/v2/, as Zoho sends),"ids",
// "affected_fields" (always empty: Zoho does not document its shape),
// "operation":"insert|update|delete","channel_id" (a string),"token"}.
// Delivery is once, without retries; NotifyFaults (or
// /admin/notifications/faults) delays, drops, duplicates and reorders
// callbacks, and a channel sends nothing once its channel_expiry passes.
//
// The org lives in Europe/Amsterdam with country_code "NL"; like Zoho's,
// its iso_code is the home currency ("EUR"), not a country.
package zohosim
