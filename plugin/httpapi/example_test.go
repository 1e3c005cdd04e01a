package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/replicatorhq/replicator/plugin/httpapi"
)

// A client of an API that wants a bearer token, decoding a JSON answer.
func ExampleClient_Get() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_token"}`)
			return
		}
		fmt.Fprint(w, `{"name":"Ada Lovelace"}`)
	}))
	defer api.Close()

	for _, token := range []string{"s3cret", "wrong"} {
		c, err := httpapi.New(httpapi.Options{BaseURL: api.URL, Service: "People API", Tokens: httpapi.Bearer(token)})
		if err != nil {
			fmt.Println(err)
			return
		}
		var person struct {
			Name string `json:"name"`
		}
		err = c.Get(context.Background(), "/v1/people/7", nil, &person)
		var se *httpapi.StatusError
		switch {
		case errors.As(err, &se):
			fmt.Println(se.Status, err)
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println(person.Name)
		}
	}
	// Output:
	// Ada Lovelace
	// 401 GET /v1/people/7: People API answered 401 Unauthorized: {"error":"invalid_token"}
}

// peoplePage is one page of the people list: the people and the cursor
// of the next page.
type peoplePage struct {
	People     []string `json:"people"`
	NextCursor string   `json:"next_cursor"`
}

func (p peoplePage) Next() string { return p.NextCursor }

// Pages follows the cursor of each page until the last.
func ExamplePages() {
	pages := map[string]string{
		"":   `{"people":["Ada","Alan"],"next_cursor":"p2"}`,
		"p2": `{"people":["Grace"]}`,
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, pages[r.URL.Query().Get("cursor")])
	}))
	defer api.Close()
	c, err := httpapi.New(httpapi.Options{BaseURL: api.URL})
	if err != nil {
		fmt.Println(err)
		return
	}

	err = httpapi.Pages(context.Background(), c, "/v1/people", url.Values{"limit": {"2"}}, "cursor",
		func(p peoplePage) (bool, error) {
			fmt.Println(p.People)
			return true, nil
		})
	fmt.Println(err)
	// Output:
	// [Ada Alan]
	// [Grace]
	// <nil>
}

// Plain http goes only to this machine, where a simulator or a local
// proxy listens: anywhere else the token would travel unencrypted.
func ExampleNew() {
	_, err := httpapi.New(httpapi.Options{BaseURL: "http://api.example.com/v1"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, httpapi.ErrPlainHTTP))
	// Output:
	// http://api.example.com/v1: plain http is allowed only to this machine (localhost, 127.0.0.1, ::1): use https
	// true
}
