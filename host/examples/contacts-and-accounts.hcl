# Zoho CRM Contacts and Accounts into ROGER365, as two pipelines that share one
# Zoho source. Each pipeline has its own schedule, checkpoints and run
# history, and can be synced on its own:
#
#   replicator sync contacts
#   replicator sync accounts
#
# Environment: ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ROGER365_API_KEY.
#
# The Zoho grant needs the scopes of both streams:
#   ZohoCRM.modules.contacts.READ,ZohoCRM.modules.accounts.READ,ZohoCRM.coql.READ,
#   ZohoCRM.settings.fields.READ,ZohoCRM.bulk.READ
# plus ZohoCRM.org.READ if you leave out crm_url or default_region.
#
# `replicator run` runs the two pipelines side by side, each with its own
# connector processes. Zoho's smallest editions allow 5 concurrent API calls
# per org; if runs report throttling, put both streams into one pipeline
# (streams = ["contacts", "accounts"]), which reads them one after the other.
#
# Each example file is a complete configuration: copy one, do not load the
# examples folder as a whole.

source "zoho" "eu" {
  domain         = "eu"
  client_id      = env("ZOHO_CLIENT_ID")
  client_secret  = env("ZOHO_CLIENT_SECRET")
  crm_url        = "https://crm.zoho.eu/crm/org20001234" # replace with your org's
  default_region = "NL"
}

# One ROGER365 CRM replicator per Zoho module. A single replicator can take
# both streams too: point both pipelines at the same destination block.
destination "roger365" "contacts" {
  api_key       = env("ROGER365_API_KEY")
  replicator_id = "zoho-contacts" # replace with yours
}

destination "roger365" "accounts" {
  api_key       = env("ROGER365_API_KEY")
  replicator_id = "zoho-accounts" # replace with yours
}

pipeline "contacts" {
  source      = source.zoho.eu
  destination = destination.roger365.contacts
  streams     = ["contacts"]
  interval    = "15m"
}

# Companies change less often than people.
pipeline "accounts" {
  source      = source.zoho.eu
  destination = destination.roger365.accounts
  streams     = ["accounts"]
  interval    = "1h"
}
