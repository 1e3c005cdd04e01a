package rogersim

import (
	"net/http"
	"time"
)

// faultsJSON is Faults on the admin API, with the delay in milliseconds.
type faultsJSON struct {
	RateLimited       int      `json:"rate_limited"`
	RetryAfter        int      `json:"retry_after"`
	ServerErrors      int      `json:"server_errors"`
	ServerErrorStatus int      `json:"server_error_status"`
	DelayMS           int      `json:"delay_ms"`
	DropAfterApply    int      `json:"drop_after_apply"`
	RejectIDs         []string `json:"reject_ids"`
}

func toFaultsJSON(f Faults) faultsJSON {
	return faultsJSON{
		f.RateLimited, f.RetryAfter, f.ServerErrors, f.ServerErrorStatus, int(f.Delay / time.Millisecond), f.DropAfterApply,
		f.RejectIDs,
	}
}

func (j faultsJSON) faults() Faults {
	return Faults{
		j.RateLimited, j.RetryAfter, j.ServerErrors, j.ServerErrorStatus, time.Duration(j.DelayMS) * time.Millisecond,
		j.DropAfterApply, j.RejectIDs,
	}
}

// adminRoutes serves the simulator's own controls, listed in the package doc.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc("PUT /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		var f faultsJSON
		if !decodeBody(w, r, &f) {
			return
		}
		s.SetFault(f.faults())
		writeJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc("DELETE /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		s.SetFault(Faults{})
		writeJSON(w, http.StatusOK, toFaultsJSON(s.Faults()))
	})
	mux.HandleFunc("GET /admin/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Requests())
	})
	mux.HandleFunc("DELETE /admin/requests", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRequests()
		writeJSON(w, http.StatusOK, s.Requests())
	})
	mux.HandleFunc("GET /admin/replicators", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Replicators())
	})
	mux.HandleFunc("POST /admin/replicators", func(w http.ResponseWriter, r *http.Request) {
		var rep Replicator
		if !decodeBody(w, r, &rep) {
			return
		}
		if rep.ID == "" {
			writeError(w, http.StatusBadRequest, "invalid_request", "id is required")
			return
		}
		if err := s.AddReplicator(rep); err != nil {
			writeError(w, http.StatusInternalServerError, "storage", "the replicator was added but could not be persisted")
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("GET /admin/replicators/{id}/contacts", func(w http.ResponseWriter, r *http.Request) {
		contacts := s.Contacts(r.PathValue("id"))
		if contacts == nil {
			contacts = []StoredContact{}
		}
		writeJSON(w, http.StatusOK, contacts)
	})
	mux.HandleFunc("POST /admin/keys", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key string `json:"key"`
		}
		if !decodeBody(w, r, &body) {
			return
		}
		if body.Key == "" {
			writeError(w, http.StatusBadRequest, "invalid_request", "key is required")
			return
		}
		s.AddKey(body.Key)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /admin/flush", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Flush(); err != nil {
			writeError(w, http.StatusInternalServerError, "storage", err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
