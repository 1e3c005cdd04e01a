# Zoho CRM (EU data centre) into a ROGER365 CRM replicator: every contact with
# a phone number, so that an incoming call shows the caller's name and a link
# to the contact in Zoho CRM.
#
# Secrets come from the environment, never from this file:
#
#   export ZOHO_CLIENT_ID=1000.XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
#   export ZOHO_CLIENT_SECRET=...
#   export ROGER365_API_KEY=...
#
# Then, with this file saved as replicator.hcl in a folder of its own:
#
#   replicator validate
#   replicator init
#   replicator authorize source.zoho.eu      # paste the grant code
#   replicator check contacts
#   replicator sync contacts
#   replicator run                           # every 15 minutes until stopped
#
# replicator keeps its state (checkpoints, the Zoho refresh token, run
# history) in replicator.db beside this file, and the plugin lock in
# .replicator.lock.hcl beside it. Each example file is a complete
# configuration: copy one, do not load the examples folder as a whole.

source "zoho" "eu" {
  # The data centre: the one whose address you log in at (crm.zoho.eu -> "eu").
  domain = "eu"

  # The Self Client made at https://api-console.zoho.eu.
  client_id     = env("ZOHO_CLIENT_ID")
  client_secret = env("ZOHO_CLIENT_SECRET")

  # The org's address in the CRM web client: the browser's address up to and
  # including the part after /crm/. Replace org20001234 with your org's.
  crm_url = "https://crm.zoho.eu/crm/org20001234"

  # The link ROGER365 shows for a caller. {crm_url} is the value above,
  # {Module} is Contacts or Accounts, {SourceId} the Zoho record id. This is
  # the default, written out so that it is easy to change.
  record_url = "{crm_url}/tab/{Module}/{SourceId}"

  # Country for phone numbers typed without a country code, when the
  # contact's own country does not say. With crm_url and default_region both
  # set, the grant needs no ZohoCRM.org.READ scope.
  default_region = "NL"
}

destination "roger365" "main" {
  api_key = env("ROGER365_API_KEY")

  # The CRM replicator in ROGER365 that receives the contacts. Replace with yours.
  replicator_id = "zoho-contacts"
}

pipeline "contacts" {
  source      = source.zoho.eu
  destination = destination.roger365.main
  streams     = ["contacts"]
  interval    = "15m"
}
