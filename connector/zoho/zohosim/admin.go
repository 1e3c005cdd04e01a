package zohosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/grant-codes", s.adminGrantCode)
	mux.HandleFunc("GET /admin/client", s.adminClient)
	mux.HandleFunc("POST /admin/web-clients", s.adminWebClient)
	mux.HandleFunc("POST /admin/records/{module}", s.adminCreate)
	mux.HandleFunc("GET /admin/records/{module}", s.adminCount)
	mux.HandleFunc("GET /admin/records/{module}/{id}", s.adminGet)
	mux.HandleFunc("PATCH /admin/records/{module}/{id}", s.adminUpdate)
	mux.HandleFunc("DELETE /admin/records/{module}/{id}", s.adminDelete)
	mux.HandleFunc("POST /admin/faults", s.adminSetFault)
	mux.HandleFunc("DELETE /admin/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]string{"status": "cleared"})
	})
	mux.HandleFunc("POST /admin/access-tokens/revoke", func(w http.ResponseWriter, r *http.Request) {
		s.RevokeAccessTokens()
		writeJSON(w, http.StatusOK, map[string]string{"status": "revoked"})
	})
	mux.HandleFunc("GET /admin/credits", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"credits": s.Credits(), "calls": s.Calls(), "left_today": s.CreditsLeft()})
	})
	mux.HandleFunc("DELETE /admin/credits", func(w http.ResponseWriter, r *http.Request) {
		s.ResetCredits()
		writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	})
}

func adminError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// decodeBody reads a JSON object body; numbers stay json.Number so integer
// fields keep their precision.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("reading the JSON body: %w", err)
	}
	return nil
}

func (s *Server) adminGrantCode(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Scopes []string `json:"scopes"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if len(body.Scopes) == 0 {
		adminError(w, http.StatusBadRequest, errors.New(`give the scopes, e.g. {"scopes":["ZohoCRM.modules.contacts.READ"]}`))
		return
	}
	code := s.IssueGrantCode(body.Scopes...)
	writeJSON(w, http.StatusOK, map[string]any{"code": code, "expires_in": int(s.opts.GrantCodeTTL / time.Second)})
}

// adminWebClient registers a server-based application with a new id and
// secret, as the API console does.
func (s *Server) adminWebClient(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name         string   `json:"name"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	c := WebClient{
		Name:         body.Name,
		ID:           "1000." + strings.ToUpper(newToken()[5:37]),
		Secret:       newToken()[5:],
		RedirectURIs: body.RedirectURIs,
	}
	if c.Name == "" {
		c.Name = "Web client"
	}
	if err := s.RegisterWebClient(c); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"client_id": c.ID, "client_secret": c.Secret})
}

func (s *Server) adminClient(w http.ResponseWriter, r *http.Request) {
	base := "http://" + r.Host
	writeJSON(w, http.StatusOK, map[string]string{
		"client_id":     s.opts.ClientID,
		"client_secret": s.opts.ClientSecret,
		"dc":            s.opts.DC,
		"accounts_url":  base + "/accounts/{dc}",
		"api_url":       base,
		"api_domain":    s.APIDomain(),
		"org_domain":    s.org.DomainName,
	})
}

func (s *Server) adminCreate(w http.ResponseWriter, r *http.Request) {
	var fields map[string]any
	if err := decodeBody(w, r, &fields); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	id, err := s.CreateRecord(r.PathValue("module"), fields)
	if err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (s *Server) adminCount(w http.ResponseWriter, r *http.Request) {
	m, ok := s.moduleByName(r.PathValue("module"))
	if !ok {
		adminError(w, http.StatusNotFound, fmt.Errorf("no module %q: use Contacts or Accounts", r.PathValue("module")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": s.Count(m.apiName)})
}

func (s *Server) adminGet(w http.ResponseWriter, r *http.Request) {
	rec, ok := s.Record(r.PathValue("module"), r.PathValue("id"))
	if !ok {
		adminError(w, http.StatusNotFound, errNotFound)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func changeStatus(err error) int {
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, errDeleted):
		return http.StatusNotFound
	default:
		return http.StatusBadRequest
	}
}

func (s *Server) adminUpdate(w http.ResponseWriter, r *http.Request) {
	var fields map[string]any
	if err := decodeBody(w, r, &fields); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if err := s.Update(r.PathValue("module"), r.PathValue("id"), fields); err != nil {
		adminError(w, changeStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
}

func (s *Server) adminDelete(w http.ResponseWriter, r *http.Request) {
	del := s.Delete
	if r.URL.Query().Get("permanent") == "true" {
		del = s.DeletePermanently
	}
	if err := del(r.PathValue("module"), r.PathValue("id")); err != nil {
		adminError(w, changeStatus(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
}

func (s *Server) adminSetFault(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Kind       string `json:"kind"`
		Count      int    `json:"count"`
		Delay      string `json:"delay"`
		RetryAfter string `json:"retry_after"`
	}
	if err := decodeBody(w, r, &body); err != nil {
		adminError(w, http.StatusBadRequest, err)
		return
	}
	if !validFaultKind(body.Kind) {
		adminError(w, http.StatusBadRequest,
			fmt.Errorf("unknown fault kind %q: use 429, 500, slow, expire_tokens or bad_api_domain", body.Kind))
		return
	}
	f := Fault{Kind: body.Kind, Count: body.Count}
	for _, d := range []struct {
		text string
		dst  *time.Duration
		name string
	}{{body.Delay, &f.Delay, "delay"}, {body.RetryAfter, &f.RetryAfter, "retry_after"}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("%s takes a duration like \"2s\": %w", d.name, err))
			return
		}
		*d.dst = v
	}
	s.SetFault(f)
	writeJSON(w, http.StatusOK, map[string]any{"kind": f.Kind, "count": f.Count})
}
