package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/go-jose/go-jose/v4"
)

// jwksMaxAge is how long verifiers and caches may keep the key set. Short,
// so that a rotation reaches them quickly; verifiers should also refetch
// when a token names a kid they do not know.
const jwksMaxAge = "300"

// serveJWKS serves GET /.well-known/jwks.json: the public keys that verify
// access tokens now (RFC 7517), each with kid, alg and use "sig". keys nil
// (or HS256 signing) publishes an empty set.
func serveJWKS(mux *http.ServeMux, keys func() jose.JSONWebKeySet) {
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
		if keys != nil {
			set = keys()
		}
		body, err := json.Marshal(set)
		if err != nil {
			logger(r.Context()).Error("marshal JWKS", "error", err.Error())
			writeJSONProblem(w, http.StatusInternalServerError, "internal server error")
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age="+jwksMaxAge)
		_, _ = w.Write(body)
	})
}
