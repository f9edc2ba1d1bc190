// Command verifier is what another service needs to trust usersvc's access
// tokens: the JWKS URL, the expected issuer and audience. It fetches the
// public keys from /.well-known/jwks.json, picks the one the token's kid
// names (refetching when the kid is new, as after a rotation), and checks
// the algorithm, signature, iss, aud, exp and nbf.
//
//	go run ./examples/verifier -jwks http://localhost:8080/.well-known/jwks.json "$TOKEN"
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	jwksURL := flag.String("jwks", "http://localhost:8080/.well-known/jwks.json", "usersvc's JWKS URL")
	issuer := flag.String("iss", "usersvc", "expected issuer (USERSVC_JWT_ISSUER)")
	audience := flag.String("aud", "usersvc", "expected audience (USERSVC_JWT_AUDIENCE)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: verifier [-jwks URL] [-iss ISSUER] [-aud AUDIENCE] TOKEN")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	claims, err := New(*jwksURL, *issuer, *audience).Verify(ctx, flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "invalid token:", err)
		os.Exit(1)
	}
	fmt.Printf("valid: user %s, expires %s\n", claims.Subject, claims.ExpiresAt.Format(time.RFC3339))
}
